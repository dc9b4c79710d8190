//! Capture benchmark (`tools/bench-capture`); the audio half is in
//! `audio.rs`. Video half: how fast the box
//! turns a webcam's 720p MJPEG into the I420 frame for the encoder and the
//! 640×360 I420 frame for the face pipeline and the SFU's small layer,
//! against libjpeg-turbo decoding the same JPEG files on the same machine in
//! the same run.
//!
//! Pictures: frames of the simulated camera's `TestScene` with a little
//! sensor grain, turned into RGB and encoded by Debian's `cjpeg` as baseline
//! JPEG 4:2:2, quality 85, standard Huffman tables: what a UVC camera sends.
//!
//! Ours: `MjpegDecoder` (libjpeg-turbo through the turbojpeg crate, to the
//! frame's own planes; then 4:2:2 → 4:2:0, full → limited range) then
//! `Downscaler` to 640×360, one thread, all frames in memory, several passes.
//!
//! libjpeg-turbo, two ways, both from Debian's libjpeg-turbo-progs:
//! - `tjbench FILE` (libjpeg-turbo's own benchmark) on every frame: the
//!   library decoding the JPEG from memory to BGR, in-process, timed by
//!   itself. This is the figure METRIC `mjpeg_ratio_vs_libjpeg_turbo` divides
//!   by: decode, upsample and convert to packed pixels, the work of a webcam
//!   viewer, and nothing else. Also shown: its decode to planar YUV 4:2:2,
//!   the least libjpeg-turbo can do for a frame.
//! - `djpeg -outfile /dev/null FILE` per frame, timed around the process from
//!   here, less the time djpeg takes on a 16×16 JPEG (run alternately with
//!   the real frames, so both see the same machine). Shown for reference
//!   only: the subtraction removes start-up but not djpeg writing 2.7 MB of
//!   PPM through stdio (a profile shows ~12 % of djpeg in memmove), so it
//!   read 0.8–1 ms a frame slower than the library decodes when this was
//!   written, and a ratio against it would flatter us.
//!
//! Both sides are libjpeg-turbo at heart (ours is the version the turbojpeg
//! crate builds, Debian's tjbench its own), so the ratio shows what our
//! plane handling and scaling add to the library's decode.
//!
//! Output: a table, then METRIC lines (the last lines of the output).

// A benchmark: it reads the clock.
#![allow(clippy::disallowed_methods)]

#[path = "audio.rs"]
mod audio;
#[path = "cpu.rs"]
mod cpu;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use confcam::capture::convert::PictureSize;
use confcam::capture::mjpeg::MjpegDecoder;
use confcam::capture::scale::Downscaler;
use confcam::capture::sim::TestScene;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const CAMERA: PictureSize = PictureSize::new(1280, 720);
const SMALL: PictureSize = PictureSize::new(640, 360);
const FRAMES: usize = 30;
/// Timed passes over all frames; the median pass is reported.
const PASSES: usize = 7;
/// Like a webcam's MJPEG (`-sample 2x1` is 4:2:2).
const CJPEG_ARGS: [&str; 4] = ["-quality", "85", "-sample", "2x1"];
/// Standard deviation of the luma grain, in levels. Without it the flat bars
/// compress to a fraction of a webcam frame's size and the entropy decoding,
/// a large part of real decoding, would hardly be timed.
const GRAIN: f32 = 2.5;

/// One `METRIC name=value` line.
struct Metric {
    name: &'static str,
    value: f64,
}

fn main() -> Result<()> {
    let mut metrics = Vec::new();
    // The audio half re-runs this program as a child for its measurement;
    // it must go first so the child does not redo the video half.
    let audio = audio::audio_capture()?;
    metrics.extend(video()?);
    metrics.push(Metric { name: "audio_capture_cpu_ms_per_10ms_block", value: audio });
    for Metric { name, value } in metrics {
        println!("METRIC {name}={value:.4}");
    }
    Ok(())
}

fn video() -> Result<Vec<Metric>> {
    for tool in ["cjpeg", "djpeg", "tjbench"] {
        if Command::new(tool).arg("-version").stderr(Stdio::null()).stdout(Stdio::null()).status().is_err() {
            return Err(format!("{tool} not found: run `tools/deps bench` (libjpeg-turbo-progs)").into());
        }
    }
    let dir = tempfile::tempdir()?;
    let frames = make_frames(dir.path())?;
    let tiny = dir.path().join("tiny.jpg");
    encode_jpeg(&vec![128; 16 * 16 * 3], PictureSize::new(16, 16), dir.path(), &tiny)?;
    let jpeg_kb = frames.iter().map(|f| f.jpeg.len()).sum::<usize>() as f64 / FRAMES as f64 / 1024.0;

    let ours = time_ours(&frames)?;
    let tj_rgb = time_tjbench(&frames, false)?;
    let tj_yuv = time_tjbench(&frames, true)?;
    let djpeg = time_djpeg(&frames, &tiny)?;

    println!(
        "capture benchmark: {FRAMES} frames {}×{}, MJPEG 4:2:2 quality 85 (cjpeg {}), {jpeg_kb:.0} KB a frame; \
         median of {PASSES} passes, one thread",
        CAMERA.width,
        CAMERA.height,
        CJPEG_ARGS.join(" ")
    );
    println!();
    println!("{:<64} {:>9} {:>9} {:>12}", "", "ms/frame", "frames/s", "CPU ms/frame");
    let row = |what: &str, ms: f64, cpu: Option<f64>| {
        let cpu = cpu.map_or(String::new(), |c| format!("{c:.3}"));
        println!("{what:<64} {ms:>9.3} {:>9.1} {cpu:>12}", 1000.0 / ms);
    };
    row("ours: decode to I420 720p (4:2:2→4:2:0, TV range)", ours.decode_ms, None);
    row("ours: downscale I420 1280×720 → 640×360", ours.scale_ms, None);
    row("ours: decode + I420 + downscale (total)", ours.total_ms, Some(ours.cpu_ms));
    row("libjpeg-turbo: decode → BGR (tjbench, in-process)", tj_rgb, None);
    row("libjpeg-turbo: decode → planar YUV 4:2:2 (tjbench, in-process)", tj_yuv, None);
    row(
        &format!("libjpeg-turbo: djpeg → PPM, less {:.2} ms start-up (reference)", djpeg.startup_ms),
        djpeg.net_ms,
        None,
    );
    println!();
    let [y, u, v] = ours.psnr;
    println!("our 1280×720 I420 against the rendered source frames: PSNR Y {y:.1} dB, U {u:.1} dB, V {v:.1} dB");
    let ratio = ours.total_ms / tj_rgb;
    println!(
        "ratio ours / libjpeg-turbo = {ratio:.2}: ours is decode + I420 (4:2:0, TV range) + 640×360 downscale; \
         libjpeg-turbo is its decode → BGR (tjbench)"
    );
    println!("(against djpeg less start-up it would be {:.2})", ours.total_ms / djpeg.net_ms);
    // Wall time well above CPU time means something else ran on our core:
    // every wall-clock figure above, the peer's included, is then suspect.
    if ours.total_ms > 1.1 * ours.cpu_ms {
        println!(
            "WARNING: the machine was busy (our wall time {:.2} ms against {:.2} ms of CPU a frame): rerun when idle",
            ours.total_ms, ours.cpu_ms
        );
    }

    Ok(vec![
        Metric { name: "mjpeg_720p_ms_per_frame", value: ours.total_ms },
        Metric { name: "mjpeg_ratio_vs_libjpeg_turbo", value: ratio },
    ])
}

/// One test picture: its I420 source (to check our output against) and its
/// JPEG file.
struct TestFrame {
    i420: Vec<u8>,
    path: PathBuf,
    jpeg: Vec<u8>,
}

/// Renders the scene, adds grain, and encodes each frame with cjpeg.
fn make_frames(dir: &Path) -> Result<Vec<TestFrame>> {
    let scene = TestScene::new(CAMERA.width, CAMERA.height);
    let mut rng = fastrand::Rng::with_seed(720);
    let mut frames = Vec::with_capacity(FRAMES);
    for seq in 0..FRAMES {
        let mut i420 = Vec::new();
        // A fixed clock, so every run encodes the same pictures.
        let wall = UNIX_EPOCH + Duration::from_millis(33 * seq as u64);
        scene.render(seq as u64, wall, &mut i420);
        for y in &mut i420[..CAMERA.pixels()] {
            // Sum of uniforms: roughly Gaussian, standard deviation GRAIN.
            let noise = (rng.f32() + rng.f32() + rng.f32() - 1.5) * 2.0 * GRAIN;
            *y = (f32::from(*y) + noise).round().clamp(16.0, 235.0) as u8;
        }
        let path = dir.join(format!("frame{seq:02}.jpg"));
        encode_jpeg(&i420_to_rgb(&i420, CAMERA), CAMERA, dir, &path)?;
        let jpeg = std::fs::read(&path)?;
        frames.push(TestFrame { i420, path, jpeg });
    }
    Ok(frames)
}

/// Writes `rgb` as PPM and encodes it to `out` with cjpeg.
fn encode_jpeg(rgb: &[u8], size: PictureSize, dir: &Path, out: &Path) -> Result<()> {
    let ppm = dir.join("source.ppm");
    let mut file = format!("P6\n{} {}\n255\n", size.width, size.height).into_bytes();
    file.extend_from_slice(rgb);
    std::fs::write(&ppm, file)?;
    let status = Command::new("cjpeg").args(CJPEG_ARGS).arg("-outfile").arg(out).arg(&ppm).status()?;
    if !status.success() {
        return Err(format!("cjpeg failed: {status}").into());
    }
    Ok(())
}

/// BT.601 limited-range I420 to full-range RGB (what a camera's sensor
/// pipeline would have had before its JPEG encoder).
fn i420_to_rgb(i420: &[u8], size: PictureSize) -> Vec<u8> {
    let (w, h) = (size.width as usize, size.height as usize);
    let cw = size.chroma().width as usize;
    let (y_plane, chroma) = i420.split_at(w * h);
    let (u_plane, v_plane) = chroma.split_at(size.chroma().pixels());
    let mut rgb = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        for col in 0..w {
            let c = row / 2 * cw + col / 2;
            let y = 1.164 * (f32::from(y_plane[row * w + col]) - 16.0);
            let (u, v) = (f32::from(u_plane[c]) - 128.0, f32::from(v_plane[c]) - 128.0);
            let px = [y + 1.596 * v, y - 0.392 * u - 0.813 * v, y + 2.017 * u];
            rgb.extend(px.map(|x| x.round().clamp(0.0, 255.0) as u8));
        }
    }
    rgb
}

struct OurTimes {
    decode_ms: f64,
    scale_ms: f64,
    total_ms: f64,
    cpu_ms: f64,
    /// Of our full-size I420 against the rendered source.
    psnr: [f64; 3],
}

fn time_ours(frames: &[TestFrame]) -> Result<OurTimes> {
    let mut decoder = MjpegDecoder::new();
    let mut scaler = Downscaler::new();
    let (mut frame, mut small) = (Vec::new(), Vec::new());

    // Warm-up pass, which also checks the output.
    let mut psnr = [0.0; 3];
    for f in frames {
        let size = decoder.decode(&f.jpeg, &mut frame)?;
        if size != CAMERA {
            return Err(format!("decoded {size:?}, expected {CAMERA:?}").into());
        }
        scaler.scale(&frame, CAMERA, &mut small, SMALL)?;
        for (sum, db) in psnr.iter_mut().zip(plane_psnr(&frame, &f.i420, CAMERA)) {
            *sum += db / frames.len() as f64;
        }
    }

    let (mut decode, mut scale, mut total, mut cpu) = (vec![], vec![], vec![], vec![]);
    for _ in 0..PASSES {
        let (mut decode_time, mut scale_time) = (Duration::ZERO, Duration::ZERO);
        let cpu_start = cpu::thread_cpu_ns()?;
        let start = Instant::now();
        for f in frames {
            let t0 = Instant::now();
            decoder.decode(&f.jpeg, &mut frame)?;
            let t1 = Instant::now();
            scaler.scale(&frame, CAMERA, &mut small, SMALL)?;
            scale_time += t1.elapsed();
            decode_time += t1 - t0;
        }
        let per_frame = |d: Duration| d.as_secs_f64() * 1000.0 / frames.len() as f64;
        total.push(per_frame(start.elapsed()));
        cpu.push((cpu::thread_cpu_ns()? - cpu_start) as f64 / 1e6 / frames.len() as f64);
        decode.push(per_frame(decode_time));
        scale.push(per_frame(scale_time));
    }
    Ok(OurTimes {
        decode_ms: median(decode),
        scale_ms: median(scale),
        total_ms: median(total),
        cpu_ms: median(cpu),
        psnr,
    })
}

struct DjpegTimes {
    startup_ms: f64,
    net_ms: f64,
}

/// Times `djpeg -outfile /dev/null` on every frame and on a 16×16 JPEG,
/// alternately (so both see the same machine state); per pass, the frame
/// time is the mean over frames less the mean over tiny runs.
fn time_djpeg(frames: &[TestFrame], tiny: &Path) -> Result<DjpegTimes> {
    let run = |path: &Path| -> Result<Duration> {
        let start = Instant::now();
        let status = Command::new("djpeg").arg("-outfile").arg("/dev/null").arg(path).status()?;
        let took = start.elapsed();
        if !status.success() {
            return Err(format!("djpeg failed on {}: {status}", path.display()).into());
        }
        Ok(took)
    };
    // Warm-up: page cache, the dynamic loader's cache.
    for f in frames {
        run(tiny)?;
        run(&f.path)?;
    }
    let (mut startup, mut net) = (vec![], vec![]);
    for _ in 0..PASSES {
        let (mut tiny_total, mut frames_total) = (Duration::ZERO, Duration::ZERO);
        for f in frames {
            tiny_total += run(tiny)?;
            frames_total += run(&f.path)?;
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0 / frames.len() as f64;
        startup.push(ms(tiny_total));
        net.push(ms(frames_total) - ms(tiny_total));
    }
    Ok(DjpegTimes { startup_ms: median(startup), net_ms: median(net) })
}

/// Mean over frames of tjbench's in-process decode time (to BGR, or to
/// planar YUV with `yuv`), from the frame rate it reports.
fn time_tjbench(frames: &[TestFrame], yuv: bool) -> Result<f64> {
    let label = if yuv { "Decomp to YUV" } else { "Decompress" };
    let mut total_ms = 0.0;
    for f in frames {
        let mut cmd = Command::new("tjbench");
        cmd.arg(&f.path).args(["-benchtime", "0.2", "-warmup", "0.05", "-nowrite"]);
        if yuv {
            cmd.arg("-yuv");
        }
        let out = cmd.output()?;
        if !out.status.success() {
            return Err(format!("tjbench failed: {}", out.status).into());
        }
        // "Decompress    --> Frame rate:         622.114706 fps"
        let text = String::from_utf8_lossy(&out.stdout);
        let fps = text
            .lines()
            .filter_map(|l| l.split_once("-->"))
            .filter(|(what, _)| what.trim() == label)
            .find_map(|(_, rest)| {
                rest.trim().strip_prefix("Frame rate:")?.trim().strip_suffix("fps")?.trim().parse::<f64>().ok()
            })
            .ok_or("no frame rate in tjbench's output")?;
        total_ms += 1000.0 / fps;
    }
    Ok(total_ms / frames.len() as f64)
}

/// PSNR in dB of the Y, U and V planes of `got` against `want`.
fn plane_psnr(got: &[u8], want: &[u8], size: PictureSize) -> [f64; 3] {
    let (y, c) = (size.pixels(), size.chroma().pixels());
    [(0, y), (y, y + c), (y + c, y + 2 * c)].map(|(from, to)| {
        let mse = got[from..to]
            .iter()
            .zip(&want[from..to])
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
            / (to - from) as f64;
        10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
