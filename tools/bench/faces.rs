//! The face benchmark (tools/bench-faces): tract against the reference
//! runtimes on the same model files and the same inputs, in one run; the
//! outputs compared; the check-in pipeline's CPU share at 5 fps with six
//! faces in view; and, with `--photos DIR`, any labelled photo set scored.
//!
//! `faces --models DIR --photos-std DIR --work DIR --python PY [--photos DIR] [--repeats N]`

// A benchmark: it reads the clock.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use confcam::capture::{BufferPool, Frame, PixelFormat};
use confcam::store::Store;
use confcam::vision::checkin::CheckInRules;
use confcam::vision::pipeline::{Pipeline, PipelineSettings};
use confcam::vision::{Embedder, Models, PhotoLimits, Picture, align, detect, gallery};
use nix::time::{ClockId, clock_gettime};

/// Turns tract and the references take (see the timing loop).
const ROUNDS: usize = 3;
use tract_tflite::prelude::Tensor;

struct Args {
    models: PathBuf,
    standard: PathBuf,
    work: PathBuf,
    python: PathBuf,
    photos: Option<PathBuf>,
    repeats: usize,
}

fn args() -> Args {
    let mut a = Args {
        models: "target/models".into(),
        standard: "target/face-photos".into(),
        work: "target/faces-bench".into(),
        python: "python3".into(),
        photos: None,
        repeats: 30,
    };
    let mut it = std::env::args().skip(1).filter(|s| s != "--bench");
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--models" => a.models = value().into(),
            "--photos-std" => a.standard = value().into(),
            "--work" => a.work = value().into(),
            "--python" => a.python = value().into(),
            "--photos" => a.photos = Some(value().into()),
            "--repeats" => a.repeats = value().parse().expect("--repeats N"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn picture(path: &Path) -> Picture {
    Picture::decode(&std::fs::read(path).unwrap(), PhotoLimits::default()).unwrap()
}

fn tensor_data(t: &Tensor) -> Vec<f32> {
    t.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec()
}

/// Median and 90th percentile.
fn stats(times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

struct Input {
    model: &'static str,
    tensor: Tensor,
}

fn main() {
    let args = args();
    let models = Arc::new(Models::load(&args.models).expect("models (run tools/fetch-models)"));
    std::fs::create_dir_all(&args.work).unwrap();

    // The same inputs for every runtime: each standard photo for the
    // detector, each aligned face of them for the embedder.
    let names = ["astronaut.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "t1.jpg"];
    let mut inputs = Vec::new();
    for name in names {
        let photo = picture(&args.standard.join(name));
        let (tensor, _) = models.detector.input(&photo);
        inputs.push(Input { model: "detector", tensor });
        for face in models.detector.detect(&photo, detect::MIN_SCORE).unwrap() {
            let aligned = align::aligned(&photo, &face.landmarks);
            inputs.push(Input { model: "embedder", tensor: Embedder::input(&aligned) });
        }
    }
    let manifest: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(n, input)| {
            let file = format!("in-{n}.f32");
            let bytes: Vec<u8> = tensor_data(&input.tensor).iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(args.work.join(&file), bytes).unwrap();
            serde_json::json!({ "model": input.model, "input": file, "shape": input.tensor.shape() })
        })
        .collect();
    std::fs::write(args.work.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();

    // tract and the references take turns, a few rounds each, so a slow
    // spell of this shared machine does not land on one runtime only.
    let mut tract: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut reference: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut outputs = Vec::new();
    let per_round = args.repeats.div_ceil(ROUNDS);
    for round in 0..ROUNDS {
        for input in &inputs {
            let model = match input.model {
                "detector" => models.detector.model(),
                _ => models.embedder.model(),
            };
            let first = model.run(input.tensor.clone()).unwrap(); // also the warm-up
            if round == 0 {
                outputs.push(first);
            }
            for _ in 0..per_round {
                let start = Instant::now();
                model.run(input.tensor.clone()).unwrap();
                tract.entry(input.model).or_default().push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        let status = std::process::Command::new(&args.python)
            .arg("tools/faces/reference.py")
            .arg(&args.work)
            .arg(&args.models)
            .arg(per_round.to_string())
            .status()
            .expect("run the reference runtimes");
        assert!(status.success(), "tools/faces/reference.py failed");
        let times: BTreeMap<String, Vec<f64>> =
            serde_json::from_slice(&std::fs::read(args.work.join("reference.json")).unwrap()).unwrap();
        for (runtime, times) in times {
            reference.entry(runtime).or_default().extend(times);
        }
    }

    // Outputs: the largest difference relative to the reference output's
    // largest magnitude, over every output of every input.
    let mut worst: BTreeMap<&str, f64> = BTreeMap::new();
    let mut by_output: BTreeMap<String, f64> = BTreeMap::new();
    for (n, (input, ours)) in inputs.iter().zip(&outputs).enumerate() {
        let model = if input.model == "detector" { models.detector.model() } else { models.embedder.model() };
        for (name, values) in model.output_names().iter().zip(ours) {
            for runtime in ["litert", "onnxruntime"] {
                let path = args.work.join(format!("out-{n}.{runtime}.{name}.f32"));
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let theirs: Vec<f32> =
                    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
                assert_eq!(theirs.len(), values.len(), "{name} from {runtime}");
                // Scores are probabilities, compared with a threshold on a 0..1
                // scale: relative to 1, not to a tiny maximum where a frame
                // has no face at that size. Others: to their largest value.
                let largest = theirs.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
                let scale = if name.starts_with("cls") || name.starts_with("obj") { 1.0 } else { largest };
                let diff = values.iter().zip(&theirs).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                let slot = worst.entry(runtime).or_default();
                *slot = slot.max((diff / scale) as f64);
                let slot = by_output.entry(format!("{runtime} {} {name}", input.model)).or_default();
                *slot = slot.max(diff as f64);
            }
        }
    }

    println!(
        "\nPer inference, one thread, {} repeats of each input in {ROUNDS} turns (ms, median / p90):",
        per_round * ROUNDS
    );
    println!("{:<10} {:>16} {:>16} {:>16}", "model", "tract", "LiteRT", "onnxruntime");
    let mut ratios = BTreeMap::new();
    for model in ["detector", "embedder"] {
        let (tm, tp) = stats(tract.get_mut(model).unwrap());
        let (lm, lp) = stats(&mut reference[&format!("litert.{model}")].clone());
        let (om, op) = stats(&mut reference[&format!("onnxruntime.{model}")].clone());
        println!("{model:<10} {tm:>7.2} / {tp:>6.2} {lm:>7.2} / {lp:>6.2} {om:>7.2} / {op:>6.2}");
        ratios.insert(model, (tm / lm, tm / om));
    }
    println!("(tract / LiteRT on the same .tflite; tract / onnxruntime on the fp32 ONNX it was made from)");
    for (model, (vs_litert, vs_ort)) in &ratios {
        println!("{model}: tract is {vs_litert:.2}x LiteRT, {vs_ort:.2}x onnxruntime");
    }
    println!("largest absolute difference of each output:");
    for (output, error) in &by_output {
        println!("  {output}: {error:.2e}");
    }
    for (runtime, error) in &worst {
        println!("outputs vs {runtime}: largest relative difference {error:.2e} (limit 1e-4)");
    }
    let cpu = pipeline_cpu(&models, &args.standard.join("t1.jpg"));
    println!("check-in pipeline at 5 fps, six faces in view: {cpu:.1} % of one core (steady state)");

    if let Some(dir) = &args.photos {
        score_photos(&models, dir);
    }

    println!("METRIC face_detect_ratio_vs_reference={:.3}", ratios["detector"].0);
    println!("METRIC face_embed_ratio_vs_reference={:.3}", ratios["embedder"].0);
    println!("METRIC face_detect_ratio_vs_onnxruntime={:.3}", ratios["detector"].1);
    println!("METRIC face_embed_ratio_vs_onnxruntime={:.3}", ratios["embedder"].1);
    println!("METRIC face_output_max_rel_diff_litert={:.3e}", worst["litert"]);
    println!("METRIC face_output_max_rel_diff_onnxruntime={:.3e}", worst["onnxruntime"]);
    println!("METRIC face_pipeline_cpu_pct={cpu:.2}");
    let failed = worst.values().any(|e| *e > 1e-4);
    assert!(!failed, "tract's outputs differ from a reference runtime by more than 1e-4 relative");
}

fn thread_cpu() -> Duration {
    Duration::from(clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap())
}

/// CPU time of the check-in analysis per second of camera time, at 5 fps
/// on a 1280x720 frame showing the six people of t1.jpg, all enrolled:
/// the first 10 s (check-ins) left out, then 60 s measured.
fn pipeline_cpu(models: &Arc<Models>, group: &Path) -> f64 {
    let (w, h) = (1280u32, 720u32);
    let photo = picture(group);
    let fitted = photo.scaled(h as f32 / photo.height as f32);
    let mut canvas = Picture { width: w, height: h, rgb: vec![40; (w * h * 3) as usize] };
    let x0 = ((w - fitted.width.min(w)) / 2) as usize;
    for y in 0..fitted.height.min(h) as usize {
        let row = &fitted.rgb[y * fitted.width as usize * 3..][..fitted.width.min(w) as usize * 3];
        canvas.rgb[(y * w as usize + x0) * 3..][..row.len()].copy_from_slice(row);
    }
    let (_, _, i420) = canvas.to_i420();
    let mut data = BufferPool::default().take();
    data.clear();
    data.extend_from_slice(&i420);
    let frame = Frame { seq: 0, captured_at: Instant::now(), width: w, height: h, format: PixelFormat::I420, data };

    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path()).unwrap();
    let seen = Picture::from_i420(&frame.data, w, h);
    let faces = models.detector.detect(&seen, detect::MIN_SCORE).unwrap();
    assert_eq!(faces.len(), 6, "six faces in the benchmark's frame");
    for (i, face) in faces.iter().enumerate() {
        let embedding = models.embedder.embed(&seen, face).unwrap();
        store.add_person(&format!("person {i}"), None, &[embedding], &[], 0).unwrap();
    }
    let settings = PipelineSettings {
        fps: 5,
        analysis_width: 640,
        threshold: gallery::DEFAULT_THRESHOLD,
        retention: Duration::from_secs(86_400),
        rules: CheckInRules::default(),
    };
    let (events, mut heard) = tokio::sync::broadcast::channel(64);
    let (faces, _) = tokio::sync::watch::channel(Vec::new());
    let mut pipeline = Pipeline::new(models.clone(), settings, store, events, faces);
    let t0 = Instant::now();
    let period = Duration::from_millis(200);
    let (mut busy, mut frames) = (Duration::ZERO, 0u32);
    for n in 0..350u32 {
        let before = thread_cpu();
        pipeline.analyse(&frame, t0 + period * n, confcam::system::unix_now()).unwrap();
        if n >= 50 {
            busy += thread_cpu() - before;
            frames += 1;
        }
    }
    let mut check_ins = 0;
    while heard.try_recv().is_ok() {
        check_ins += 1;
    }
    println!(
        "pipeline: {check_ins} check-ins; {:.1} ms of CPU per analysed frame",
        busy.as_secs_f64() * 1e3 / frames as f64
    );
    busy.as_secs_f64() / (period * frames).as_secs_f64() * 100.0
}

/// Scores a directory of photos with a labels.json: faces found per photo,
/// and same/different for every pair of single-person photos.
fn score_photos(models: &Models, dir: &Path) {
    let labels: BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&std::fs::read(dir.join("labels.json")).expect("labels.json")).expect("labels.json");
    let (mut expected, mut found) = (0usize, 0usize);
    let mut singles = Vec::new();
    println!("\nPhotos in {}:", dir.display());
    for (file, people) in &labels {
        let photo = picture(&dir.join(file));
        let faces = models.detector.detect(&photo, detect::MIN_SCORE).unwrap();
        println!("  {file}: {} of {} faces", faces.len().min(people.len()), people.len());
        expected += people.len();
        found += faces.len().min(people.len());
        if let ([person], Some(best)) = (people.as_slice(), faces.first()) {
            singles.push((file.clone(), person.clone(), models.embedder.embed(&photo, best).unwrap()));
        }
    }
    let (mut right, mut pairs) = (0usize, 0usize);
    for (i, (fa, pa, ea)) in singles.iter().enumerate() {
        for (fb, pb, eb) in &singles[i + 1..] {
            let similarity = ea.cosine(eb);
            let same = similarity >= gallery::DEFAULT_THRESHOLD;
            let ok = same == (pa == pb);
            println!(
                "  {fa} ~ {fb}: {similarity:.3} -> {} ({})",
                if same { "same" } else { "different" },
                if ok { "right" } else { "WRONG" }
            );
            pairs += 1;
            right += ok as usize;
        }
    }
    println!("  faces found {found} of {expected}; pairs right {right} of {pairs}");
    println!("METRIC face_photos_found_pct={:.1}", found as f64 * 100.0 / expected.max(1) as f64);
    println!("METRIC face_photos_pairs_right_pct={:.1}", right as f64 * 100.0 / pairs.max(1) as f64);
}
