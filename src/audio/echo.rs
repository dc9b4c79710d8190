//! Echo cancellation, noise suppression and gain control on every
//! microphone, before direction finding and the mixdown: WebRTC's audio
//! processing module (AEC3, NS, AGC2, high-pass) as `sonora` ports it.
//!
//! AEC3 takes the loudspeaker's sound (the reference, already in the
//! microphones' clock: [`super::Reference`]) and each 10 ms of every
//! microphone. It applies one suppression gain per frequency bin to all
//! channels alike, so the phase between microphones, which direction
//! finding reads, survives. At 16 and 48 kHz it runs with the box's own
//! tuning ([`super::aec3`]), then noise suppression and gain control; at
//! other rates the module's stock AEC3 does.
//!
//! Sans-IO: samples in, samples out.

use sonora::config::{AdaptiveDigital, EchoCanceller as StockAec3, GainController2, HighPassFilter, NoiseSuppression};
use sonora::{AudioProcessing, Config, StreamConfig};

use super::aec3::Aec3;

/// Which of the cleaning steps run. Each is a setting of its own: a room
/// with a headset-only far end needs no echo cancellation, a studio no
/// noise suppression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleanup {
    /// Cancel the loudspeaker's echo (AEC3).
    pub echo: bool,
    /// Suppress stationary noise (fans, air conditioning).
    pub noise: bool,
    /// Bring speech to a steady level (AGC2, adaptive digital).
    pub gain: bool,
}

impl Cleanup {
    /// What the box runs by default.
    pub const ALL: Cleanup = Cleanup { echo: true, noise: true, gain: true };
    /// Echo cancellation alone (with the high-pass filter it needs): what
    /// the benchmark compares with Google's AEC3 set up the same way.
    pub const ECHO_ONLY: Cleanup = Cleanup { echo: true, noise: false, gain: false };

    fn any(self) -> bool {
        self.echo || self.noise || self.gain
    }
}

/// What the echo canceller reports, for the admin page and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct EchoStats {
    /// Echo return loss enhancement (how much of the loudspeaker's echo is
    /// removed), dB, once AEC3 has an estimate.
    pub erle_db: Option<f32>,
    /// Echo return loss (how much quieter the echo is than the reference
    /// at the microphones), dB.
    pub erl_db: Option<f32>,
    /// The loudspeaker's level, dBFS of the reference.
    pub far_dbfs: f32,
    /// Likelihood (0..1) that echo is left in the output.
    pub residual_echo: Option<f32>,
    /// The loudspeaker-to-microphone delay AEC3 found, ms.
    pub delay_ms: Option<i32>,
}

/// What a level reads with no sound at all.
pub const SILENT_DBFS: f32 = -120.0;

/// The level of `samples` (full scale ±1), dBFS RMS.
pub fn dbfs(samples: &[f32]) -> f32 {
    let power = samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32;
    if power > 0.0 { (10.0 * power.log10()).max(SILENT_DBFS) } else { SILENT_DBFS }
}

/// The cleaning of one microphone array's sound. Blocks of any length go
/// in; when they are not whole 10 ms frames, the output lags by one frame.
pub struct EchoCanceller {
    /// The tuned echo canceller in front, where the rate allows.
    aec3: Option<Aec3>,
    /// The rest of the cleaning (and, without `aec3`, all of it); with
    /// echo cancellation on it also judges how much echo is left.
    apm: AudioProcessing,
    cleanup: Cleanup,
    /// Samples in 10 ms.
    frame: usize,
    /// Input not yet a whole frame, per microphone, and the reference.
    pending: Vec<Vec<f32>>,
    pending_reference: Vec<f32>,
    /// Processed samples not yet handed out, per microphone.
    ready: Vec<Vec<f32>>,
    /// Scratch for one frame after `aec3`, and for the frame's output.
    cancelled: Vec<Vec<f32>>,
    out: Vec<Vec<f32>>,
    /// Whether the lag for blocks that are not whole frames is in place.
    primed: bool,
    far_power: f32,
}

impl EchoCanceller {
    /// For `mics` microphones at `rate` (16 or 48 kHz; AEC3 takes 8–48 kHz).
    pub fn new(rate: u32, mics: usize, cleanup: Cleanup) -> Self {
        let mics = mics.max(1);
        let aec3 = cleanup.echo.then(|| Aec3::new(rate, mics)).flatten();
        let stock = aec3.is_none();
        let config = Config {
            high_pass_filter: (cleanup.any() && stock).then(HighPassFilter::default),
            echo_canceller: (cleanup.echo && stock).then(StockAec3::default),
            noise_suppression: cleanup.noise.then(NoiseSuppression::default),
            gain_controller2: cleanup
                .gain
                .then(|| GainController2 { adaptive_digital: Some(AdaptiveDigital::default()), ..Default::default() }),
            ..Default::default()
        };
        let apm = AudioProcessing::builder()
            .config(config)
            .capture_config(StreamConfig::new(rate, mics as u16))
            .render_config(StreamConfig::new(rate, 1))
            .echo_detector(cleanup.echo)
            .build();
        let frame = (rate / 100) as usize;
        EchoCanceller {
            aec3,
            apm,
            cleanup,
            frame,
            pending: vec![Vec::new(); mics],
            pending_reference: Vec::new(),
            ready: vec![Vec::new(); mics],
            cancelled: vec![vec![0.0; frame]; mics],
            out: vec![vec![0.0; frame]; mics],
            primed: false,
            far_power: 0.0,
        }
    }

    pub fn cleanup(&self) -> Cleanup {
        self.cleanup
    }

    /// Cleans one block in place: `mics` holds one vector per microphone
    /// (full scale ±1), `reference` what the loudspeaker played over the
    /// same samples (empty: it played nothing).
    pub fn process(&mut self, mics: &mut [Vec<f32>], reference: &[f32]) {
        let len = mics.first().map_or(0, Vec::len);
        if mics.len() != self.pending.len() || len == 0 {
            return;
        }
        if !std::mem::replace(&mut self.primed, true) && !len.is_multiple_of(self.frame) {
            self.ready.iter_mut().for_each(|r| r.resize(self.frame, 0.0));
        }
        for (pending, mic) in self.pending.iter_mut().zip(mics.iter()) {
            pending.extend_from_slice(mic);
        }
        self.pending_reference.extend_from_slice(&reference[..reference.len().min(len)]);
        self.pending_reference.resize(self.pending[0].len(), 0.0);
        let mut at = 0;
        while self.pending[0].len() - at >= self.frame {
            self.process_frame(at);
            at += self.frame;
        }
        self.pending.iter_mut().for_each(|p| drop(p.drain(..at)));
        self.pending_reference.drain(..at);
        for (ready, mic) in self.ready.iter_mut().zip(mics.iter_mut()) {
            let n = len.min(ready.len());
            mic[..n].copy_from_slice(&ready[..n]);
            mic[n..].fill(0.0);
            ready.drain(..n);
        }
    }

    fn process_frame(&mut self, at: usize) {
        let frame = at..at + self.frame;
        let reference = &self.pending_reference[frame.clone()];
        let power = reference.iter().map(|s| s * s).sum::<f32>() / self.frame as f32;
        // The far level is smoothed over about 200 ms, as a meter shows it.
        self.far_power += 0.05 * (power - self.far_power);
        if self.cleanup.echo {
            let mut unused = [0.0f32; 0];
            let _ = self.apm.process_render_f32(&[reference], &mut [&mut unused[..]]);
        }
        let input: Vec<&[f32]> = match &mut self.aec3 {
            Some(aec3) => {
                for (c, p) in self.cancelled.iter_mut().zip(&self.pending) {
                    c.copy_from_slice(&p[frame.clone()]);
                }
                aec3.process(&mut self.cancelled, reference);
                self.cancelled.iter().map(Vec::as_slice).collect()
            }
            None => self.pending.iter().map(|p| &p[frame.clone()]).collect(),
        };
        let mut output: Vec<&mut [f32]> = self.out.iter_mut().map(Vec::as_mut_slice).collect();
        if self.apm.process_capture_f32(&input, &mut output).is_err() {
            // A format AEC3 refuses cannot happen with the config above;
            // pass the sound on untouched rather than lose it.
            for (o, i) in self.out.iter_mut().zip(&input) {
                o.copy_from_slice(i);
            }
        }
        for (ready, out) in self.ready.iter_mut().zip(&self.out) {
            ready.extend_from_slice(out);
        }
    }

    pub fn stats(&self) -> EchoStats {
        let s = self.apm.statistics();
        let (erle, erl, delay) = match &self.aec3 {
            Some(aec3) if self.primed => {
                let (erle, erl, delay) = aec3.metrics();
                (Some(erle), Some(erl), Some(delay))
            }
            _ => (s.echo_return_loss_enhancement, s.echo_return_loss, s.delay_ms),
        };
        EchoStats {
            erle_db: erle.map(|v| v as f32),
            erl_db: erl.map(|v| v as f32),
            far_dbfs: if self.far_power > 0.0 { (10.0 * self.far_power.log10()).max(SILENT_DBFS) } else { SILENT_DBFS },
            residual_echo: s.residual_echo_likelihood.map(|v| v as f32),
            delay_ms: delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic speech-like signal: a buzz at `pitch` whose loudness
    /// comes and goes like syllables.
    fn voice(len: usize, rate: u32, pitch: f32, seed: u64) -> Vec<f32> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut phase = 0.0f32;
        (0..len)
            .map(|n| {
                let t = n as f32 / rate as f32;
                let syllable = (std::f32::consts::PI * t * 4.0).sin().abs();
                phase += pitch * (1.0 + 0.1 * (t * 1.3).sin()) / rate as f32;
                let buzz: f32 = (1..12).map(|h| (std::f32::consts::TAU * phase * h as f32).sin() / h as f32).sum();
                0.1 * syllable * (buzz + 0.3 * (rng.f32() - 0.5))
            })
            .collect()
    }

    /// The loudspeaker heard at each microphone: a delay, a gain and a
    /// short reverberant tail, a little different per microphone.
    fn room(far: &[f32], mics: usize, delay: usize) -> Vec<Vec<f32>> {
        (0..mics)
            .map(|m| {
                let taps: Vec<(usize, f32)> =
                    vec![(delay + m, 0.5), (delay + m + 37, -0.2), (delay + 2 * m + 90, 0.1), (delay + 211, 0.05)];
                (0..far.len())
                    .map(|n| taps.iter().filter(|(d, _)| n >= *d).map(|(d, g)| g * far[n - d]).sum())
                    .collect()
            })
            .collect()
    }

    fn power(x: &[f32]) -> f32 {
        x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32
    }

    /// Runs `capture` (per microphone) with `reference` through a canceller
    /// in 20 ms blocks; returns the output per microphone.
    fn run(cleanup: Cleanup, capture: &[Vec<f32>], reference: &[f32]) -> (Vec<Vec<f32>>, EchoStats) {
        run_at(16_000, cleanup, capture, reference)
    }

    fn run_at(rate: u32, cleanup: Cleanup, capture: &[Vec<f32>], reference: &[f32]) -> (Vec<Vec<f32>>, EchoStats) {
        let mut aec = EchoCanceller::new(rate, capture.len(), cleanup);
        let mut out = vec![Vec::new(); capture.len()];
        let len = capture[0].len();
        let block = rate as usize / 50;
        for start in (0..len).step_by(block) {
            let end = (start + block).min(len);
            let mut block: Vec<Vec<f32>> = capture.iter().map(|c| c[start..end].to_vec()).collect();
            aec.process(&mut block, reference.get(start..end).unwrap_or_default());
            out.iter_mut().zip(block).for_each(|(o, b)| o.extend(b));
        }
        (out, aec.stats())
    }

    #[test]
    fn the_loudspeakers_echo_is_removed_from_every_microphone() {
        let far = voice(16_000 * 8, 16_000, 140.0, 1);
        let echo = room(&far, 4, 40);
        let (out, stats) = run(Cleanup::ECHO_ONLY, &echo, &far);
        let tail = 16_000 * 4..;
        for (m, (o, e)) in out.iter().zip(&echo).enumerate() {
            let erle = 10.0 * (power(&e[tail.clone()]) / power(&o[tail.clone()])).log10();
            assert!(erle > 25.0, "mic {m}: {erle:.1} dB of echo removed");
        }
        assert!(stats.erle_db.is_some_and(|e| e > 10.0), "AEC3 reports its enhancement: {stats:?}");
        assert!(stats.far_dbfs > -40.0, "{stats:?}");
    }

    #[test]
    fn at_48_khz_the_echo_is_removed_in_every_band() {
        let far = voice(48_000 * 8, 48_000, 140.0, 3);
        let echo = room(&far, 2, 120);
        let (out, stats) = run_at(48_000, Cleanup::ECHO_ONLY, &echo, &far);
        let tail = 48_000 * 4..;
        let erle = 10.0 * (power(&echo[0][tail.clone()]) / power(&out[0][tail])).log10();
        assert!(erle > 25.0, "{erle:.1} dB of echo removed");
        assert!(stats.residual_echo.is_some(), "the residual echo is judged: {stats:?}");
    }

    #[test]
    fn a_room_talker_passes_and_keeps_the_phase_between_microphones() {
        let talker = voice(16_000 * 4, 16_000, 210.0, 2);
        // The talker reaches mic 1 three samples after mic 0.
        let capture = vec![talker.clone(), [vec![0.0; 3], talker[..talker.len() - 3].to_vec()].concat()];
        let (out, _) = run(Cleanup::ECHO_ONLY, &capture, &[]);
        let tail = 16_000..;
        let level = 10.0 * (power(&out[0][tail.clone()]) / power(&talker[tail.clone()])).log10();
        assert!(level.abs() < 1.0, "the talker's level is kept: {level:.2} dB");
        let lag = (0..8)
            .max_by(|&a, &b| {
                let c = |l: usize| {
                    out[0][16_000..40_000].iter().zip(&out[1][16_000 + l..]).map(|(x, y)| x * y).sum::<f32>()
                };
                c(a).total_cmp(&c(b))
            })
            .unwrap();
        assert_eq!(lag, 3, "the delay between the microphones survives");
    }

    #[test]
    fn blocks_that_are_not_whole_frames_come_out_one_frame_late() {
        let mut aec = EchoCanceller::new(16_000, 1, Cleanup { echo: false, noise: false, gain: false });
        let ramp: Vec<f32> = (0..1000).map(|n| n as f32 / 1000.0).collect();
        let mut out = Vec::new();
        for chunk in ramp.chunks(250) {
            let mut block = vec![chunk.to_vec()];
            aec.process(&mut block, &[]);
            out.extend(block.remove(0));
        }
        assert_eq!(out.len(), 1000);
        assert!(out[..160].iter().all(|&s| s == 0.0));
        assert!((out[500] - ramp[340]).abs() < 1e-6, "nothing on: the sound passes, 160 samples late");
    }
}
