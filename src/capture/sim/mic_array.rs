use std::f32::consts::PI;
use std::time::{Duration, Instant};

use super::{Air, EchoPath, EchoRoom, Pacer, SimControl, Voice};
use crate::capture::{AudioBlock, AudioSource, CaptureError, MicArray, SPEED_OF_SOUND, SampleFormat, SourceInfo};

/// Taps of the fractional-delay filters; their centre is the bulk delay that
/// keeps every microphone's delay positive.
const TAPS: usize = 32;

/// Who speaks, from where, and when: talkers take turns (`turn` each, then
/// `pause` of silence) in a fixed cycle. This is the ground truth tests
/// compare direction finding and speaker detection against.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomScene {
    /// (azimuth in degrees, pitch in Hz) of each talker.
    pub talkers: Vec<(f32, f32)>,
    pub turn: Duration,
    pub pause: Duration,
    /// Speech level while sounding, dBFS RMS.
    pub speech_dbfs: f32,
    /// Uncorrelated noise on every microphone, dBFS RMS.
    pub noise_dbfs: f32,
    pub seed: u64,
}

impl RoomScene {
    /// The talker whose turn it is at `t` after the start, if any.
    pub fn active_talker(&self, t: Duration) -> Option<usize> {
        let slot = self.turn + self.pause;
        if self.talkers.is_empty() || slot.is_zero() {
            return None;
        }
        let cycle = slot.as_nanos() * self.talkers.len() as u128;
        let pos = t.as_nanos() % cycle;
        let talker = (pos / slot.as_nanos()) as usize;
        (pos % slot.as_nanos() < self.turn.as_nanos()).then_some(talker)
    }
}

/// A microphone array in a simulated room: each talker's voice reaches every
/// microphone with the far-field delay of its direction, τ = −(p·u)/c, applied
/// as a windowed-sinc fractional delay; every microphone adds its own noise.
/// Blocks are paced in real time.
pub struct SimulatedMicArray {
    scene: RoomScene,
    rate: u32,
    format: SampleFormat,
    block_frames: usize,
    mics: usize,
    voices: Vec<Voice>,
    /// `delays[talker][mic]`: the FIR that delays the talker's voice to that mic.
    delays: Vec<Vec<[f32; TAPS]>>,
    /// Recent samples of each talker's voice, newest last.
    history: Vec<[f32; TAPS]>,
    noise: fastrand::Rng,
    sample_index: u64,
    pacer: Pacer,
    seq: u64,
    control: SimControl,
    /// The room's loudspeaker, when the box plays into this room: what it
    /// sounds and how each microphone hears it.
    echo: Option<(Air, EchoPath)>,
    /// Scratch: one block of the air, and its echo per microphone.
    played: Vec<f32>,
    echoes: Vec<Vec<f32>>,
}

impl SimulatedMicArray {
    pub fn new(geometry: &MicArray, rate: u32, format: SampleFormat, block: Duration, scene: RoomScene) -> Self {
        let voices = scene
            .talkers
            .iter()
            .enumerate()
            .map(|(i, &(_, pitch))| Voice::new(pitch, rate, scene.seed.wrapping_add(i as u64 * 7919)))
            .collect();
        let delays = scene.talkers.iter().map(|&(azimuth, _)| delay_filters(geometry, azimuth, rate)).collect();
        let block_frames = ((rate as f64 * block.as_secs_f64()).round() as usize).max(1);
        SimulatedMicArray {
            history: vec![[0.0; TAPS]; scene.talkers.len()],
            noise: fastrand::Rng::with_seed(scene.seed ^ 0x5eed),
            rate,
            format,
            block_frames,
            mics: geometry.positions.len(),
            voices,
            delays,
            sample_index: 0,
            pacer: Pacer::new(Instant::now(), Duration::from_secs_f64(block_frames as f64 / rate as f64)),
            seq: 0,
            control: SimControl::default(),
            echo: None,
            played: Vec::new(),
            echoes: Vec::new(),
            scene,
        }
    }

    /// The microphones also hear what sounds in `air`, through `room`.
    pub fn hearing(mut self, air: Air, room: EchoRoom, geometry: &MicArray) -> Self {
        let path = EchoPath::new(geometry, room, self.rate, self.block_frames);
        self.echo = Some((air, path));
        self
    }

    pub fn control(&self) -> SimControl {
        self.control.clone()
    }

    pub fn scene(&self) -> &RoomScene {
        &self.scene
    }

    /// Renders the next block without waiting (tests and benchmarks use this
    /// to get audio faster than real time); the loudspeaker is not heard.
    pub fn render_block(&mut self) -> Vec<i32> {
        self.render(false)
    }

    /// The next block; with `echo`, what the air carried during it (the
    /// block heard from `captured_at`) too.
    fn render(&mut self, echo: bool) -> Vec<i32> {
        let speech_gain = db_to_gain(self.scene.speech_dbfs);
        // Sum of four uniforms has variance 1/3; scale to unit variance.
        let noise_gain = db_to_gain(self.scene.noise_dbfs) * 3f32.sqrt();
        let full_scale = self.format.full_scale();
        let mut out = Vec::with_capacity(self.block_frames * self.mics);
        let mut frame = vec![0.0f32; self.mics];
        for _ in 0..self.block_frames {
            let t = Duration::from_secs_f64(self.sample_index as f64 / self.rate as f64);
            let active = self.scene.active_talker(t);
            frame.iter_mut().for_each(|s| *s = 0.0);
            for talker in 0..self.voices.len() {
                let s = if active == Some(talker) { self.voices[talker].next_sample() * speech_gain } else { 0.0 };
                let h = &mut self.history[talker];
                h.copy_within(1.., 0);
                h[TAPS - 1] = s;
                if h.iter().all(|&x| x == 0.0) {
                    continue;
                }
                for (mic, out) in frame.iter_mut().enumerate() {
                    let taps = &self.delays[talker][mic];
                    // taps[k] weighs the sample k steps back.
                    *out += taps.iter().zip(h.iter().rev()).map(|(a, b)| a * b).sum::<f32>();
                }
            }
            if echo {
                let i = out.len() / self.mics;
                frame.iter_mut().zip(&self.echoes).for_each(|(s, e)| *s += e.get(i).copied().unwrap_or(0.0));
            }
            for s in &frame {
                let n: f32 = (0..4).map(|_| self.noise.f32() - 0.5).sum();
                let v = (s + n * noise_gain).clamp(-1.0, 1.0);
                out.push((v * full_scale) as i32);
            }
            self.sample_index += 1;
        }
        out
    }
}

impl AudioSource for SimulatedMicArray {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            backend: "simulated",
            device: "sim:mic-array".into(),
            description: format!(
                "{} mics, {:?} {} Hz, {} talkers",
                self.mics,
                self.format,
                self.rate,
                self.scene.talkers.len()
            ),
        }
    }

    fn next_block(&mut self) -> Result<AudioBlock, CaptureError> {
        self.control.check("sim:mic-array", Duration::from_millis(100))?;
        let (seq, due) = self.pacer.wait();
        self.seq = seq;
        // A block is captured once its last sample has arrived.
        let block = Duration::from_secs_f64(self.block_frames as f64 / self.rate as f64);
        let captured_at = due.checked_sub(block).unwrap_or(due);
        if let Some((air, path)) = &mut self.echo {
            self.played.resize(self.block_frames, 0.0);
            air.hear(captured_at, &mut self.played);
            self.echoes.resize_with(self.mics, Vec::new);
            path.render(&self.played, &mut self.echoes);
        }
        let samples = self.render(self.echo.is_some());
        Ok(AudioBlock { seq, captured_at, rate: self.rate, channels: self.mics as u16, format: self.format, samples })
    }
}

fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// One fractional-delay FIR per microphone for a far-field source at
/// `azimuth_deg` (in the array's horizontal plane).
fn delay_filters(geometry: &MicArray, azimuth_deg: f32, rate: u32) -> Vec<[f32; TAPS]> {
    let a = azimuth_deg.to_radians();
    let u = [a.cos(), a.sin(), 0.0];
    let bulk = (TAPS / 2) as f32;
    geometry
        .positions
        .iter()
        .map(|p| {
            let tau = -(p[0] * u[0] + p[1] * u[1] + p[2] * u[2]) / SPEED_OF_SOUND;
            let delay = bulk + tau * rate as f32;
            let mut taps = [0.0f32; TAPS];
            for (k, tap) in taps.iter_mut().enumerate() {
                let x = k as f32 - delay;
                let sinc = if x.abs() < 1e-6 { 1.0 } else { (PI * x).sin() / (PI * x) };
                // Blackman window centred on the delay, spanning the filter.
                let w = (x / TAPS as f32 + 0.5).clamp(0.0, 1.0);
                let window = 0.42 - 0.5 * (2.0 * PI * w).cos() + 0.08 * (4.0 * PI * w).cos();
                *tap = sinc * window;
            }
            taps
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::BoardProfile;

    fn scene(talkers: Vec<(f32, f32)>) -> RoomScene {
        RoomScene {
            talkers,
            turn: Duration::from_secs(2),
            pause: Duration::from_secs(1),
            speech_dbfs: -20.0,
            noise_dbfs: -90.0,
            seed: 5,
        }
    }

    #[test]
    fn talkers_take_turns_with_pauses() {
        let s = scene(vec![(0.0, 100.0), (90.0, 200.0)]);
        let at = |ms| s.active_talker(Duration::from_millis(ms));
        assert_eq!(
            [at(0), at(1999), at(2000), at(3000), at(4999), at(5500), at(6000)],
            [Some(0), Some(0), None, Some(1), Some(1), None, Some(0)]
        );
    }

    /// Cross-correlation peak between two channels, in samples (positive when
    /// `b` lags `a`), refined by a parabola through the peak.
    fn lag(a: &[f32], b: &[f32], max: i32) -> f32 {
        let corr = |l: i32| -> f32 {
            (0..a.len()).filter_map(|i| Some(a[i] * *b.get(usize::try_from(i as i32 + l).ok()?)?)).sum()
        };
        let (best, _) = (-max..=max).map(|l| (l, corr(l))).fold((0, f32::MIN), |m, x| if x.1 > m.1 { x } else { m });
        let (y0, y1, y2) = (corr(best - 1), corr(best), corr(best + 1));
        best as f32 + 0.5 * (y0 - y2) / (y0 - 2.0 * y1 + y2)
    }

    #[test]
    fn each_mic_hears_the_far_field_delay_of_the_talker() {
        let geometry = BoardProfile::Respeaker4MicHat.geometry();
        let rate = 16_000;
        let mut sim = SimulatedMicArray::new(
            &geometry,
            rate,
            SampleFormat::S32Le,
            Duration::from_millis(20),
            scene(vec![(0.0, 130.0)]),
        );
        let mut samples = Vec::new();
        for _ in 0..75 {
            samples.extend(sim.render_block());
        }
        let channel =
            |m: usize| -> Vec<f32> { samples.iter().skip(m).step_by(4).map(|&s| s as f32 / i32::MAX as f32).collect() };
        // Talker at 0° (on +x): mic 2 at +x hears it first, mic 0 at −x last,
        // 2·40.5 mm / 343 m/s = 3.78 samples later.
        let expected = 2.0 * 0.0405 / SPEED_OF_SOUND * rate as f32;
        let got = lag(&channel(2), &channel(0), 8);
        assert!((got - expected).abs() < 0.25, "lag {got} expected {expected}");
        // Mics 1 and 3 sit on the y axis: equal distance, no lag.
        assert!(lag(&channel(1), &channel(3), 8).abs() < 0.25);
    }

    #[test]
    fn speech_level_matches_the_scene_and_silence_is_noise() {
        let geometry = BoardProfile::Respeaker6MicHat.geometry();
        let mut s = scene(vec![(45.0, 120.0)]);
        s.noise_dbfs = -60.0;
        let mut sim = SimulatedMicArray::new(&geometry, 16_000, SampleFormat::S16Le, Duration::from_millis(20), s);
        let blocks: Vec<Vec<i32>> = (0..150).map(|_| sim.render_block()).collect();
        let dbfs = |b: &[Vec<i32>]| {
            let all: Vec<f32> = b.iter().flatten().map(|&s| s as f32 / i16::MAX as f32).collect();
            10.0 * (all.iter().map(|x| x * x).sum::<f32>() / all.len() as f32).log10()
        };
        let speech = dbfs(&blocks[..100]); // 0–2 s: talking (with its own pauses)
        let silence = dbfs(&blocks[101..]); // 2.02–3 s: the pause, after the filters' 2 ms tail
        assert!((-26.0..-19.0).contains(&speech), "speech {speech} dBFS");
        assert!((silence + 60.0).abs() < 1.0, "silence {silence} dBFS");
        assert!(blocks[0].len() == 320 * 6);
    }
}
