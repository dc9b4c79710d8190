//! The simulated room's air: what the simulated loudspeaker sounds, on a
//! timeline the simulated microphones read back, so a box with no hardware
//! hears its own playback as a real one does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Sound kept for the microphones to read, seconds (they read it within a
/// block; more is only a late reader's loss).
const KEEP_S: u64 = 2;

/// Shared between the simulated loudspeaker (writes) and the simulated
/// microphone array (reads); cheap to clone.
#[derive(Clone)]
pub struct Air {
    inner: Arc<Mutex<Timeline>>,
}

struct Timeline {
    rate: u32,
    origin: Instant,
    /// Sample index (from `origin`) of `samples[0]`.
    start: u64,
    samples: VecDeque<f32>,
}

impl Air {
    /// Sound at `rate` samples a second.
    pub fn new(rate: u32) -> Self {
        let timeline = Timeline { rate, origin: Instant::now(), start: 0, samples: VecDeque::new() };
        Air { inner: Arc::new(Mutex::new(timeline)) }
    }

    pub fn rate(&self) -> u32 {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timeline> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The loudspeaker sounds `samples` from `at`, one every `1/true_rate`
    /// seconds (its own clock, which may differ from the air's rate).
    pub fn sound(&self, at: Instant, samples: &[f32], true_rate: f64) {
        let mut t = self.lock();
        let Some(first) = t.index(at) else { return };
        for (k, &s) in samples.iter().enumerate() {
            let index = first as f64 + k as f64 * f64::from(t.rate) / true_rate;
            let index = index.round() as u64;
            let Some(offset) = index.checked_sub(t.start) else { continue };
            let offset = offset as usize;
            if t.samples.len() <= offset {
                t.samples.resize(offset + 1, 0.0);
            }
            t.samples[offset] = s;
        }
        let keep = (KEEP_S * u64::from(t.rate)) as usize;
        if t.samples.len() > keep {
            let drop = t.samples.len() - keep;
            t.samples.drain(..drop);
            t.start += drop as u64;
        }
    }

    /// What sounds during the `out.len()` samples from `from` (silence
    /// where nothing did).
    pub fn hear(&self, from: Instant, out: &mut [f32]) {
        out.fill(0.0);
        let t = self.lock();
        let Some(first) = t.index(from) else { return };
        for (k, o) in out.iter_mut().enumerate() {
            if let Some(s) = (first + k as u64).checked_sub(t.start).and_then(|i| t.samples.get(i as usize)) {
                *o = *s;
            }
        }
    }
}

impl Timeline {
    fn index(&self, at: Instant) -> Option<u64> {
        let since = at.checked_duration_since(self.origin)?;
        Some((since.as_secs_f64() * f64::from(self.rate)).round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn what_sounds_is_heard_at_its_time() {
        let air = Air::new(16_000);
        let at = Instant::now() + Duration::from_millis(100);
        let ramp: Vec<f32> = (0..320).map(|i| i as f32).collect();
        air.sound(at, &ramp, 16_000.0);
        let mut heard = vec![0.0; 640];
        air.hear(at - Duration::from_millis(10), &mut heard);
        assert!(heard[..160].iter().all(|&s| s == 0.0), "nothing before it sounds");
        assert_eq!(heard[160..480], ramp[..]);
        assert!(heard[480..].iter().all(|&s| s == 0.0));
    }

    #[test]
    fn a_fast_loudspeaker_clock_fits_more_samples_in_the_same_time() {
        let air = Air::new(16_000);
        let at = Instant::now() + Duration::from_millis(10);
        air.sound(at, &vec![1.0; 16_000], 16_000.0 * (1.0 + 1e-3));
        let mut heard = vec![0.0; 16_000];
        air.hear(at, &mut heard);
        let last = heard.iter().rposition(|&s| s == 1.0).unwrap();
        assert!((15_982..=15_986).contains(&last), "{last}: a second of samples in 0.999 s");
    }
}
