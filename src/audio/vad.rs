//! Voice activity: is someone speaking in the room right now?
//!
//! `earshot` (a small neural VAD in pure Rust) scores 16 ms frames of 16 kHz
//! mono. On its own it takes loud stationary noise (a fan near the box,
//! pink noise near full scale) for speech, so a frame also has to stand
//! [`ABOVE_FLOOR_DB`] above the room's noise floor, tracked as the quietest
//! frame of the last `FLOOR_SPAN` frames (minimum statistics): speech
//! comes and goes between syllables, a fan does not. Arrays at rates that
//! are a multiple of 16 kHz are brought down by averaging (the VAD only
//! needs the speech band). Sans-IO: samples in, scores out.

use earshot::Detector;

/// The VAD's rate and frame.
pub const VAD_RATE: u32 = 16_000;
pub const VAD_FRAME: usize = 256;
/// A frame scoring at least this counts as speech.
pub const SPEECH: f32 = 0.5;
/// How far above the noise floor speech must be.
pub const ABOVE_FLOOR_DB: f32 = 9.0;
/// Frames the floor is the minimum of (1.5 s): longer than a syllable.
const FLOOR_SPAN: usize = 96;

pub struct VoiceActivity {
    detector: Box<Detector>,
    /// Input samples per VAD sample.
    step: usize,
    /// Input samples summed towards the next VAD sample.
    sum: f32,
    summed: usize,
    frame: Vec<f32>,
    last: f32,
    /// Energy (dB) of the last `FLOOR_SPAN` frames, a ring.
    energies: Vec<f32>,
    next: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("voice activity needs a rate that is a multiple of 16 kHz, not {0} Hz")]
pub struct UnsupportedRate(pub u32);

impl VoiceActivity {
    pub fn new(rate: u32) -> Result<Self, UnsupportedRate> {
        if rate == 0 || !rate.is_multiple_of(VAD_RATE) {
            return Err(UnsupportedRate(rate));
        }
        Ok(VoiceActivity {
            detector: Detector::default_boxed(),
            step: (rate / VAD_RATE) as usize,
            sum: 0.0,
            summed: 0,
            frame: Vec::with_capacity(VAD_FRAME),
            last: 0.0,
            energies: Vec::with_capacity(FLOOR_SPAN),
            next: 0,
        })
    }

    /// Feeds mono samples (full scale ±1); returns the score of every VAD
    /// frame completed by them, in order (0 for a frame too close to the
    /// noise floor).
    pub fn push(&mut self, samples: &[f32], scores: &mut Vec<f32>) {
        for &s in samples {
            self.sum += s;
            self.summed += 1;
            if self.summed < self.step {
                continue;
            }
            self.frame.push((self.sum / self.step as f32).clamp(-1.0, 1.0));
            (self.sum, self.summed) = (0.0, 0);
            if self.frame.len() == VAD_FRAME {
                let score = self.detector.predict_f32(&self.frame);
                let clear = self.above_floor();
                self.last = if clear { score } else { 0.0 };
                self.frame.clear();
                scores.push(self.last);
            }
        }
    }

    /// Records the frame's energy; whether it stands clear of the floor.
    fn above_floor(&mut self) -> bool {
        let power = self.frame.iter().map(|s| s * s).sum::<f32>() / VAD_FRAME as f32;
        let db = 10.0 * (power + 1e-10).log10();
        if self.energies.len() < FLOOR_SPAN {
            self.energies.push(db);
        } else {
            self.energies[self.next] = db;
            self.next = (self.next + 1) % FLOOR_SPAN;
        }
        let floor = self.energies.iter().copied().fold(f32::INFINITY, f32::min);
        db >= floor + ABOVE_FLOOR_DB
    }

    /// The score of the latest complete frame.
    pub fn last(&self) -> f32 {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::sim::Voice;

    fn scores(rate: u32, signal: &[f32]) -> Vec<f32> {
        let mut vad = VoiceActivity::new(rate).unwrap();
        let mut out = Vec::new();
        for block in signal.chunks(320) {
            vad.push(block, &mut out);
        }
        out
    }

    /// Pink noise (Paul Kellet's filter over white noise) at `level` RMS-ish.
    fn pink(seconds: usize, level: f32, seed: u64) -> Vec<f32> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut b = [0f32; 3];
        (0..16_000 * seconds)
            .map(|_| {
                let w = rng.f32() * 2.0 - 1.0;
                b[0] = 0.99765 * b[0] + w * 0.0990460;
                b[1] = 0.96300 * b[1] + w * 0.2965164;
                b[2] = 0.57000 * b[2] + w * 1.0526913;
                (b[0] + b[1] + b[2] + w * 0.1848) * level
            })
            .collect()
    }

    #[test]
    fn stationary_noise_is_not_speech() {
        let mut white = fastrand::Rng::with_seed(3);
        for (name, noise) in [
            ("pink", pink(3, 0.05, 1)),
            ("pink near full scale", pink(3, 0.2, 2)),
            ("white", (0..48_000).map(|_| (white.f32() - 0.5) * 0.1).collect()),
            (
                "hum",
                (0..48_000).map(|n| 0.1 * (n as f32 * 2.0 * std::f32::consts::PI * 100.0 / 16_000.0).sin()).collect(),
            ),
        ] {
            let s = scores(16_000, &noise);
            let speechy = s.iter().filter(|&&x| x >= SPEECH).count();
            assert!(speechy * 20 < s.len(), "{name}: {speechy} of {} frames taken for speech", s.len());
        }
    }

    #[test]
    fn a_voice_over_a_fan_is_speech() {
        let mut voice = Voice::new(140.0, 16_000, 5);
        let fan = pink(4, 0.02, 9);
        let mixed: Vec<f32> = fan.iter().map(|n| n + 0.1 * voice.next_sample()).collect();
        let s = scores(16_000, &mixed);
        let speechy = s.iter().filter(|&&x| x >= SPEECH).count();
        assert!(speechy * 4 > s.len(), "{speechy} of {} frames of talking taken for speech", s.len());
    }

    #[test]
    fn rates_other_than_multiples_of_16k_are_refused() {
        assert!(VoiceActivity::new(44_100).is_err());
        assert!(VoiceActivity::new(48_000).is_ok());
        let s = scores(48_000, &vec![0.0; 48_000]);
        assert_eq!(s.len(), 16_000 / VAD_FRAME, "48 kHz is brought down to 16 kHz frames");
    }
}
