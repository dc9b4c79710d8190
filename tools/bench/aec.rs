//! Echo-cancellation benchmark, the box's side (`tools/bench-aec` runs it
//! beside Google's AEC3 and scores both with `tools/aec/score.py`):
//!
//!   cargo bench --bench aec -- FIXTURE_DIR OUT_DIR [--only TEXT]
//!
//! For every fixture (`tools/aec/README.md`: `NAME.json`, the loudspeaker's
//! `NAME.far.wav` on its own clock, and per microphone `NAME.echo.wav`,
//! `NAME.near.wav`, `NAME.noise.wav` on the microphones' clock) it runs the
//! capture twice, echo + near + noise and echo − near + noise
//! (Hagerman–Olofsson), through the box's own path: the loudspeaker's
//! samples are handed to [`Reference`] with the times they sound, as the
//! playback thread does, and the capture in 20 ms blocks with the times
//! they were heard; [`EchoCanceller`] runs with echo cancellation alone
//! (as the reference AEC3 is set up). Writes `OUT_DIR/NAME.plus.wav` and
//! `NAME.minus.wav` (16-bit, one channel per microphone).
//!
//! CPU: the whole microphone path of the box (echo cancellation, noise
//! suppression and gain control on every microphone, direction finding,
//! the mixdown, Opus) over the headline fixture, thread CPU per second of
//! audio, and the same path without the echo canceller, into
//! `OUT_DIR/cpu.json`.

// A benchmark: it reads the clock.
#![allow(clippy::disallowed_methods)]

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use confcam::audio::listener::{Heard, Listener};
use confcam::audio::{Cleanup, EchoCanceller, Mixdown, Reference};
use confcam::codec::RoomAudio;

#[path = "cpu.rs"]
mod cpu;
#[path = "wav.rs"]
mod wav;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Capture blocks, as the box's microphone thread hands them on.
const BLOCK_S: f64 = 0.020;
/// The playback thread writes 10 ms at a time, this far ahead of what
/// sounds (its ALSA buffer).
const PLAY_CHUNK_S: f64 = 0.010;
const PLAY_AHEAD_S: f64 = 0.040;

#[derive(serde::Deserialize)]
struct Sidecar {
    sample_rate: u32,
    mic_positions_m: Vec<[f32; 3]>,
    #[serde(default)]
    drift_ppm: f64,
    #[serde(default)]
    headline: bool,
    kind: String,
}

struct Fixture {
    name: String,
    facts: Sidecar,
    far: Vec<f32>,
    echo: Vec<Vec<f32>>,
    near: Vec<Vec<f32>>,
    noise: Vec<Vec<f32>>,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let (Some(dir), Some(out)) = (args.first(), args.get(1)) else {
        return Err("usage: aec FIXTURE_DIR OUT_DIR [--only TEXT]".into());
    };
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1));
    let (dir, out) = (PathBuf::from(dir), PathBuf::from(out));
    std::fs::create_dir_all(&out)?;
    let mut names = fixtures(&dir)?;
    names.retain(|n| only.is_none_or(|o| n.contains(o.as_str())));
    let mut cpu = None;
    for name in &names {
        let fixture = load(&dir, name)?;
        let started = Instant::now();
        for (sign, suffix) in [(1.0, "plus"), (-1.0, "minus")] {
            let cleaned = cancel(&fixture, sign);
            write(&out.join(format!("{name}.{suffix}.wav")), &cleaned, fixture.facts.sample_rate)?;
        }
        eprintln!("aec: {name} in {:.1} s", started.elapsed().as_secs_f64());
        if fixture.facts.headline && fixture.facts.kind == "far" && cpu.is_none() {
            cpu = Some(path_cpu(&fixture)?);
        }
    }
    if let Some((with, without)) = cpu {
        let json = serde_json::json!({ "ms_per_audio_second": with, "ms_per_audio_second_without_aec": without });
        std::fs::write(out.join("cpu.json"), json.to_string())?;
        println!("microphone path CPU: {with:.1} ms per audio second with AEC+NS+AGC, {without:.1} ms without");
    }
    Ok(())
}

fn fixtures(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".json").map(str::to_owned))
        .filter(|n| dir.join(format!("{n}.echo.wav")).exists() || dir.join(format!("{n}.near.wav")).exists())
        .collect();
    names.sort();
    Ok(names)
}

fn load(dir: &Path, name: &str) -> Result<Fixture> {
    let sidecar = dir.join(format!("{name}.json"));
    let facts: Sidecar =
        serde_json::from_str(&std::fs::read_to_string(&sidecar)?).map_err(|e| format!("{}: {e}", sidecar.display()))?;
    let part = |what: &str| -> Result<Option<Vec<Vec<f32>>>> {
        let path = dir.join(format!("{name}.{what}.wav"));
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(wav::read(&path)?.0))
    };
    let echo = part("echo")?;
    let near = part("near")?;
    let channels = echo.as_ref().or(near.as_ref()).map_or(0, Vec::len);
    let len = echo.as_ref().or(near.as_ref()).and_then(|c| c.first()).map_or(0, Vec::len);
    let silent = || vec![vec![0.0; len]; channels];
    let far = part("far")?.and_then(|mut c| (!c.is_empty()).then(|| c.swap_remove(0))).unwrap_or_default();
    Ok(Fixture {
        name: name.to_owned(),
        echo: echo.unwrap_or_else(silent),
        near: near.unwrap_or_else(silent),
        noise: part("noise")?.unwrap_or_else(silent),
        far,
        facts,
    })
}

/// The box's path on one Hagerman–Olofsson half: capture = echo + sign ·
/// near + noise.
fn cancel(fixture: &Fixture, sign: f32) -> Vec<Vec<f32>> {
    let rate = fixture.facts.sample_rate;
    let channels = fixture.echo.len();
    let mut aec = EchoCanceller::new(rate, channels, Cleanup::ECHO_ONLY);
    let mut out = vec![Vec::new(); channels];
    let mut feed = Feed::new(fixture);
    let block = (BLOCK_S * f64::from(rate)) as usize;
    let mut reference = vec![0.0; block];
    let len = fixture.echo.first().map_or(0, Vec::len);
    for start in (0..len.saturating_sub(block - 1)).step_by(block) {
        let mut mics: Vec<Vec<f32>> = (0..channels)
            .map(|c| {
                let (e, n, z) = (&fixture.echo[c], &fixture.near[c], &fixture.noise[c]);
                (start..start + block).map(|i| e[i] + sign * n[i] + z[i]).collect()
            })
            .collect();
        feed.reference_for(start, &mut reference);
        aec.process(&mut mics, &reference);
        out.iter_mut().zip(mics).for_each(|(o, m)| o.extend(m));
    }
    out
}

/// The loudspeaker's side as the playback thread gives it: 10 ms writes a
/// little ahead of the capture, each with the time it sounds, on the
/// loudspeaker's own clock (`drift_ppm` fast).
struct Feed<'a> {
    far: &'a [f32],
    rate: u32,
    played_rate: f64,
    start: Instant,
    played: usize,
    reference: Reference,
}

impl<'a> Feed<'a> {
    fn new(fixture: &'a Fixture) -> Self {
        let rate = fixture.facts.sample_rate;
        Feed {
            far: &fixture.far,
            rate,
            played_rate: f64::from(rate) * (1.0 + fixture.facts.drift_ppm * 1e-6),
            start: Instant::now(),
            played: 0,
            reference: Reference::new(rate, rate, (BLOCK_S * f64::from(rate)) as usize),
        }
    }

    fn at(&self, seconds: f64) -> Instant {
        self.start + Duration::from_secs_f64(seconds)
    }

    /// The reference for the block of capture samples from `start`.
    fn reference_for(&mut self, start: usize, out: &mut [f32]) {
        let heard_s = start as f64 / f64::from(self.rate);
        let chunk = (PLAY_CHUNK_S * f64::from(self.rate)) as usize;
        while self.played < self.far.len() && (self.played as f64 / self.played_rate) < heard_s + PLAY_AHEAD_S {
            let end = (self.played + chunk).min(self.far.len());
            let sounds_at = self.at(self.played as f64 / self.played_rate);
            self.reference.played(sounds_at, &self.far[self.played..end]);
            self.played = end;
        }
        let heard_at = self.at(heard_s);
        self.reference.take(heard_at, out);
    }
}

/// The box's whole microphone path over `fixture` (capture = echo + noise),
/// with and without the echo canceller: thread CPU ms per audio second.
fn path_cpu(fixture: &Fixture) -> Result<(f64, f64)> {
    let rate = fixture.facts.sample_rate;
    let mics = &fixture.facts.mic_positions_m;
    let block = (BLOCK_S * f64::from(rate)) as usize;
    let len = fixture.echo.first().map_or(0, Vec::len);
    let run = |cancel: bool| -> Result<f64> {
        let mut aec = EchoCanceller::new(rate, mics.len(), Cleanup::ALL);
        let mut feed = Feed::new(fixture);
        let mut listener = Listener::new(mics, rate)?;
        let mut mixdown = Mixdown::new(mics, rate);
        let mut opus = RoomAudio::new(rate)?;
        let (mut heard, mut mono, mut reference) = (Vec::<Heard>::new(), Vec::new(), vec![0.0; block]);
        let mut blocks: Vec<Vec<Vec<f32>>> = Vec::new();
        for start in (0..len.saturating_sub(block - 1)).step_by(block) {
            blocks.push(
                fixture
                    .echo
                    .iter()
                    .zip(&fixture.noise)
                    .map(|(e, n)| (start..start + block).map(|i| e[i] + n[i]).collect())
                    .collect(),
            );
        }
        let before = cpu::thread_cpu_ns()?;
        for (k, mut channels) in blocks.into_iter().enumerate() {
            if cancel {
                feed.reference_for(k * block, &mut reference);
                aec.process(&mut channels, &reference);
            }
            let refs: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
            heard.clear();
            listener.push(&refs, &mut heard);
            mixdown.mix(&refs, heard.last().and_then(|h| h.azimuth_deg), &mut mono);
            opus.push(&mono, false)?;
        }
        let spent = (cpu::thread_cpu_ns()? - before) as f64 / 1e6;
        Ok(spent / (len as f64 / f64::from(rate)))
    };
    let with = run(true)?;
    let without = run(false)?;
    eprintln!("aec: CPU measured on {}", fixture.name);
    Ok((with, without))
}

fn write(path: &Path, channels: &[Vec<f32>], rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    let len = channels.first().map_or(0, Vec::len);
    for i in 0..len {
        for c in channels {
            writer.write_sample((c[i] * 32768.0).round().clamp(-32768.0, 32767.0) as i16)?;
        }
    }
    writer.finalize()?;
    Ok(())
}
