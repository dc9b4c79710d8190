//! Direction-of-arrival benchmark (`tools/bench-doa`): scores the box's
//! SRP-PHAT + voice-activity evidence on microphone-array fixtures with
//! ground truth, window by window, and times it on a minute of audio.
//!
//!   cargo bench --bench doa -- FIXTURE_DIR [--reference RESULTS.jsonl]
//!
//! Fixtures: one multichannel WAV per scene (the array's microphones only)
//! and a JSON sidecar (`sample_rate`, `mic_positions_m`, `talkers` with
//! `azimuth_deg`/`start_s`/`end_s`, `rt60_s`; `geometry` and `purpose`
//! optional), as `tools/doa/fixtures.py` writes them.
//!
//! Windows (the same as `tools/doa/reference.py` scores pyroomacoustics on):
//! 256 ms, every 128 ms from each talker's start, while inside the talker's
//! span; every 32 ms analysis frame (hop 16 ms) of the window adds to the
//! evidence. Voice activity decides whether a window is speech at all (the
//! live pipeline only reports a direction then), not which frames count:
//! gating frame by frame threw away good frames and doubled the error.
//! Windows where it found no speech are counted.
//!
//! Timing: the box's live pipeline (`audio::listener`: mixdown, voice
//! activity, SRP-PHAT frames, evidence every 64 ms over 128 ms) over each
//! `purpose: "cpu"` scene, in 20 ms blocks, thread CPU time per second of
//! audio.
//!
//! Switching: the same live pipeline feeds the director (default rules:
//! 0.5 s reaction, 2 s hold) on every headline-geometry scene; a talker's
//! reaction is the time from the start of their turn to the director
//! framing them (turns it never framed are counted as missed).
//!
//! Output: a table, then METRIC lines (the last lines of the output).

// A benchmark: it reads the clock.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use confcam::audio::doa::{SrpPhat, angle_between};
use confcam::audio::listener::{Heard, Listener};
use confcam::audio::vad::{SPEECH, VAD_RATE, VoiceActivity};
use confcam::audio::{Cleanup, EchoCanceller};
use confcam::director::{CameraView, Director, DirectorConfig, Shot};

#[path = "cpu.rs"]
mod cpu;
#[path = "wav.rs"]
mod wav;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const WINDOW_S: f64 = 0.256;
const HOP_S: f64 = 0.128;
/// The headline geometry for the METRIC lines.
const HEADLINE: &str = "respeaker-6mic-hat";

#[derive(serde::Deserialize)]
struct Sidecar {
    sample_rate: u32,
    mic_positions_m: Vec<[f32; 3]>,
    talkers: Vec<Talker>,
    rt60_s: f64,
    #[serde(default)]
    geometry: Option<String>,
    #[serde(default)]
    purpose: Option<String>,
    /// Coughs, doors and claps (≤ 300 ms) the director must not frame.
    #[serde(default)]
    bursts: Vec<Talker>,
}

#[derive(serde::Deserialize)]
struct Talker {
    azimuth_deg: f32,
    start_s: f64,
    end_s: f64,
}

struct Scene {
    name: String,
    facts: Sidecar,
    /// One vector per microphone, full scale ±1.
    channels: Vec<Vec<f32>>,
}

/// Errors of one (geometry, RT60) group.
#[derive(Default)]
struct Errors {
    degrees: Vec<f32>,
    no_speech: usize,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let dir = PathBuf::from(args.first().ok_or("usage: doa FIXTURE_DIR [--reference RESULTS.jsonl]")?);
    let reference = args.iter().position(|a| a == "--reference").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    // As the box hears them with its echo canceller, noise suppression and
    // gain control in front (no loudspeaker playing), to show direction
    // finding does not lose by them.
    let clean = args.iter().any(|a| a == "--clean");

    let mut scored: BTreeMap<(String, String), Errors> = BTreeMap::new();
    let mut cpu: BTreeMap<String, f64> = BTreeMap::new();
    let (mut reactions, mut missed, mut bursts, mut burst_framed) = (Vec::new(), 0, 0, 0);
    for path in scene_files(&dir)? {
        let mut scene = load(&path)?;
        if clean {
            clean_up(&mut scene);
        }
        let geometry = scene.facts.geometry.clone().unwrap_or_else(|| scene.name.clone());
        if scene.facts.purpose.as_deref() == Some("cpu") {
            cpu.insert(geometry, time_live(&scene)?);
            continue;
        }
        if geometry == HEADLINE {
            let directed = react(&scene)?;
            bursts += scene.facts.bursts.len();
            burst_framed += directed.burst_framed;
            for reaction in directed.reactions {
                match reaction {
                    Some(r) => reactions.push(r as f32),
                    None => missed += 1,
                }
            }
        }
        let group = scored.entry((geometry, format!("{:.1}", scene.facts.rt60_s))).or_default();
        score(&scene, group)?;
    }
    if scored.is_empty() {
        return Err(format!("no fixtures in {}", dir.display()).into());
    }
    let peers = match &reference {
        Some(path) => read_reference(path)?,
        None => BTreeMap::new(),
    };

    println!(
        "DOA benchmark: {} ({} ms windows every {} ms within talker spans)",
        dir.display(),
        WINDOW_S * 1e3,
        HOP_S * 1e3
    );
    println!();
    println!(
        "{:<22} {:>5} {:>6} | {:>26} | {:>26} | {:>26}",
        "geometry", "RT60", "windows", "ours: mean / p95 / ±10°", "pra SRP", "pra NormMUSIC"
    );
    for ((geometry, rt60), errors) in &scored {
        let cell = |e: &[f32]| match summary(e) {
            Some((mean, p95, within)) => format!("{mean:>6.2}° {p95:>7.2}° {:>6.1} %", within * 100.0),
            None => "—".to_string(),
        };
        let peer = |algo: &str| peers.get(&(geometry.clone(), rt60.clone(), algo.to_string())).map(Vec::as_slice);
        println!(
            "{geometry:<22} {rt60:>5} {:>6} | {:>26} | {:>26} | {:>26}",
            errors.degrees.len(),
            cell(&errors.degrees),
            peer("SRP").map_or("—".into(), cell),
            peer("NormMUSIC").map_or("—".into(), cell),
        );
        if errors.no_speech > 0 {
            println!("{:<36}   ({} windows where voice activity found no speech)", "", errors.no_speech);
        }
    }
    println!();
    for (geometry, ms) in &cpu {
        println!("live pipeline, {geometry}: {ms:.2} ms CPU per second of audio ({:.3} % of one core)", ms / 10.0);
    }

    reactions.sort_by(f32::total_cmp);
    let median_reaction = reactions.get(reactions.len() / 2).copied();
    if let Some(m) = median_reaction {
        println!(
            "director on {HEADLINE} scenes: {} talker turns framed, median reaction {m:.2} s (min {:.2}, max {:.2}), {missed} turns never framed",
            reactions.len(),
            reactions[0],
            reactions[reactions.len() - 1]
        );
        println!("  bursts (coughs, doors, ≤ 300 ms): {burst_framed} of {bursts} framed");
    }

    let mean = |rt60: &str| scored.get(&(HEADLINE.to_string(), rt60.to_string())).and_then(|e| summary(&e.degrees));
    println!();
    if let Some((m, _, _)) = mean("0.3") {
        println!("METRIC doa_mean_error_deg_rt60_0.3={m:.3}");
    }
    if let Some((m, _, _)) = mean("0.6") {
        println!("METRIC doa_mean_error_deg_rt60_0.6={m:.3}");
    }
    if let Some((m, _, _)) =
        peers.get(&(HEADLINE.to_string(), "0.6".to_string(), "SRP".to_string())).and_then(|e| summary(e))
    {
        println!("METRIC doa_pyroomacoustics_srp_mean_error_deg_rt60_0.6={m:.3}");
    }
    if let Some(ms) = cpu.get(HEADLINE) {
        println!("METRIC doa_cpu_ms_per_audio_second={ms:.3}");
    }
    if let Some(m) = median_reaction {
        println!("METRIC switch_reaction_median_s={m:.3}");
    }
    Ok(())
}

/// The scene's microphones through the box's cleaning, in its 20 ms blocks.
fn clean_up(scene: &mut Scene) {
    let rate = scene.facts.sample_rate;
    let mut cleaner = EchoCanceller::new(rate, scene.channels.len(), Cleanup::ALL);
    let block = rate as usize / 50;
    let len = scene.channels[0].len();
    for at in (0..len).step_by(block) {
        let end = (at + block).min(len);
        let mut blocks: Vec<Vec<f32>> = scene.channels.iter().map(|c| c[at..end].to_vec()).collect();
        cleaner.process(&mut blocks, &[]);
        for (c, b) in scene.channels.iter_mut().zip(blocks) {
            c[at..end].copy_from_slice(&b);
        }
    }
}

fn scene_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav") && p.with_extension("json").exists())
        .collect();
    files.sort();
    Ok(files)
}

fn load(wav: &Path) -> Result<Scene> {
    let facts: Sidecar = serde_json::from_str(&std::fs::read_to_string(wav.with_extension("json"))?)
        .map_err(|e| format!("{}: {e}", wav.with_extension("json").display()))?;
    let (channels, rate) = wav::read(wav)?;
    if channels.len() != facts.mic_positions_m.len() || rate != facts.sample_rate {
        return Err(format!("{}: {} ch {rate} Hz, the sidecar says otherwise", wav.display(), channels.len()).into());
    }
    let name = wav.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Scene { name, facts, channels })
}

/// Voice activity over the whole scene as it runs live: one score per VAD
/// frame, from the mean of the microphones.
fn voice_scores(scene: &Scene) -> Result<(Vec<f32>, usize)> {
    let rate = scene.facts.sample_rate;
    let mut vad = VoiceActivity::new(rate)?;
    let count = scene.channels.len() as f32;
    let mono: Vec<f32> =
        (0..scene.channels[0].len()).map(|i| scene.channels.iter().map(|c| c[i]).sum::<f32>() / count).collect();
    let mut scores = Vec::new();
    vad.push(&mono, &mut scores);
    Ok((scores, (rate / VAD_RATE) as usize * confcam::audio::vad::VAD_FRAME))
}

fn score(scene: &Scene, errors: &mut Errors) -> Result<()> {
    let rate = f64::from(scene.facts.sample_rate);
    let (scores, vad_len) = voice_scores(scene)?;
    let mut srp = SrpPhat::new(&scene.facts.mic_positions_m, scene.facts.sample_rate);
    let (frame, hop) = (srp.frame_len(), srp.frame_len() / 2);
    let window = (WINDOW_S * rate).round() as usize;
    let len = scene.channels[0].len();
    // The VAD score of the frame that ends where an analysis frame ends.
    let speech_at = |end: usize| end.checked_div(vad_len).and_then(|i| scores.get(i.checked_sub(1)?)).copied();

    for talker in &scene.facts.talkers {
        let mut t0 = talker.start_s;
        while t0 + WINDOW_S <= talker.end_s + 1e-9 {
            let start = (t0 * rate).round() as usize;
            let end = (start + window).min(len);
            let frames: Vec<usize> = (start..).step_by(hop).take_while(|s| s + frame <= end).collect();
            srp.clear();
            let mut voiced = 0;
            for &s in &frames {
                voiced += usize::from(speech_at(s + frame).unwrap_or(0.0) >= SPEECH);
                let channels: Vec<&[f32]> = scene.channels.iter().map(|c| &c[s..s + frame]).collect();
                srp.add_frame(&channels, 1.0);
            }
            errors.no_speech += usize::from(voiced == 0);
            let found = srp.estimate().ok_or("no estimate from a whole window")?;
            errors.degrees.push(angle_between(found.azimuth_deg, talker.azimuth_deg));
            t0 += HOP_S;
        }
    }
    Ok(())
}

/// Hands a scene to a [`Listener`] in 20 ms blocks, as the capture thread
/// would; all its evidence.
fn listen(scene: &Scene) -> Result<Vec<Heard>> {
    let mut listener = Listener::new(&scene.facts.mic_positions_m, scene.facts.sample_rate)?;
    let block = scene.facts.sample_rate as usize / 50;
    let mut heard = Vec::new();
    for at in (0..scene.channels[0].len()).step_by(block) {
        let samples: Vec<&[f32]> = scene.channels.iter().map(|c| &c[at..(at + block).min(c.len())]).collect();
        listener.push(&samples, &mut heard);
    }
    Ok(heard)
}

/// The live pipeline over a scene, as the box runs it; thread CPU ms per
/// second of audio.
fn time_live(scene: &Scene) -> Result<f64> {
    let cpu_start = cpu::thread_cpu_ns()?;
    std::hint::black_box(listen(scene)?);
    let cpu_ms = (cpu::thread_cpu_ns()? - cpu_start) as f64 / 1e6;
    Ok(cpu_ms / (scene.channels[0].len() as f64 / f64::from(scene.facts.sample_rate)))
}

/// What the director did on a scene.
struct Directed {
    /// Per talker turn, seconds from its start until the director framed
    /// that talker (`None`: never, within the turn).
    reactions: Vec<Option<f64>>,
    /// Bursts the director framed (a switch toward one, not toward a talker).
    burst_framed: usize,
}

/// Runs the live pipeline into the director.
fn react(scene: &Scene) -> Result<Directed> {
    let rate = f64::from(scene.facts.sample_rate);
    let start = Instant::now();
    let cameras = vec![CameraView { azimuth_deg: 0.0, hfov_deg: 120.0 }];
    let mut director = Director::new(DirectorConfig::default(), cameras, start);
    let mut framed: Vec<(f64, f32)> = Vec::new();
    for heard in listen(scene)? {
        let t = heard.end_sample as f64 / rate;
        if let Some(f) = director.hear(start + Duration::from_secs_f64(t), heard.azimuth_deg)
            && let Shot::Speaker { azimuth_deg, .. } = f.shot
        {
            framed.push((t, azimuth_deg));
        }
    }
    let reaction = |t: &Talker| {
        framed
            .iter()
            .find(|(when, az)| *when >= t.start_s && *when <= t.end_s && angle_between(*az, t.azimuth_deg) <= 15.0)
            .map(|(when, _)| when - t.start_s)
    };
    // Turns where the same talker was already on air are no switch.
    let mut reactions = Vec::new();
    let mut previous: Option<f32> = None;
    for t in &scene.facts.talkers {
        if previous.is_none_or(|p| angle_between(p, t.azimuth_deg) > 15.0) && t.end_s - t.start_s >= 1.0 {
            reactions.push(reaction(t));
        }
        previous = Some(t.azimuth_deg);
    }
    let talker_near = |az: f32| scene.facts.talkers.iter().any(|t| angle_between(az, t.azimuth_deg) <= 15.0);
    let burst_framed = scene
        .facts
        .bursts
        .iter()
        .filter(|b| {
            framed.iter().any(|(when, az)| {
                *when >= b.start_s
                    && *when <= b.end_s + 1.0
                    && angle_between(*az, b.azimuth_deg) <= 15.0
                    && !talker_near(*az)
            })
        })
        .count();
    Ok(Directed { reactions, burst_framed })
}

/// pyroomacoustics' per-window errors from `tools/doa/reference.py`, by
/// (geometry, RT60, algorithm).
fn read_reference(path: &Path) -> Result<BTreeMap<(String, String, String), Vec<f32>>> {
    let mut out: BTreeMap<(String, String, String), Vec<f32>> = BTreeMap::new();
    for line in std::fs::read_to_string(path)?.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let geometry = v["geometry"].as_str().ok_or("reference line without geometry")?.to_string();
        let rt60 = format!("{:.1}", v["rt60_s"].as_f64().ok_or("reference line without rt60_s")?);
        let errors = v["error_deg"].as_object().ok_or("reference line without error_deg")?;
        for (algo, e) in errors {
            let e = e.as_f64().ok_or("a non-numeric error")? as f32;
            out.entry((geometry.clone(), rt60.clone(), algo.clone())).or_default().push(e);
        }
    }
    Ok(out)
}

/// Mean, 95th percentile and the share within 10°.
fn summary(errors: &[f32]) -> Option<(f32, f32, f32)> {
    if errors.is_empty() {
        return None;
    }
    let mut sorted = errors.to_vec();
    sorted.sort_by(f32::total_cmp);
    let p95 = sorted[((sorted.len() as f32 * 0.95).ceil() as usize).clamp(1, sorted.len()) - 1];
    let mean = sorted.iter().sum::<f32>() / sorted.len() as f32;
    let within = sorted.iter().filter(|&&e| e <= 10.0).count() as f32 / sorted.len() as f32;
    Some((mean, p95, within))
}
