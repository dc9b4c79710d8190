//! A loudspeaker for a box with no sound card: paced in real time like a
//! device with a small buffer, it sounds into the simulated room's
//! [`Air`], where the simulated microphones hear it through the room.

// A simulated device: it keeps real time.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use super::Speaker;
use crate::capture::sim::{Air, SimControl};
use crate::capture::{CaptureError, SourceInfo};

pub struct SimulatedSpeaker {
    air: Air,
    rate: u32,
    /// How far ahead of the room the far end is written (`speaker.buffer_ms`,
    /// as an ALSA ring would hold it).
    buffer: Duration,
    /// The rate its clock really runs at (a simulated crystal's error).
    true_rate: f64,
    /// When sample 0 sounds; moved on after an underrun.
    start: Option<Instant>,
    written: u64,
    underruns: u64,
    control: SimControl,
}

impl SimulatedSpeaker {
    /// Plays at the air's rate, `buffer` ahead, its clock `drift_ppm` fast.
    pub fn new(air: Air, buffer: Duration, drift_ppm: f64) -> Self {
        let rate = air.rate();
        SimulatedSpeaker {
            air,
            rate,
            buffer,
            true_rate: f64::from(rate) * (1.0 + drift_ppm * 1e-6),
            start: None,
            written: 0,
            underruns: 0,
            control: SimControl::default(),
        }
    }

    /// Unplugs or stalls it, as a USB speakerphone can be.
    pub fn control(&self) -> SimControl {
        self.control.clone()
    }
}

impl Speaker for SimulatedSpeaker {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            backend: "simulated",
            device: "sim:loudspeaker".into(),
            description: format!("mono, {} Hz, into the simulated room", self.rate),
        }
    }

    fn rate(&self) -> u32 {
        self.rate
    }

    fn underruns(&self) -> u64 {
        self.underruns
    }

    fn play(&mut self, samples: &[f32]) -> Result<Instant, CaptureError> {
        self.control.check("sim:loudspeaker", Duration::from_millis(100))?;
        let now = Instant::now();
        let start = *self.start.get_or_insert(now + self.buffer);
        let mut sounds_at = start + Duration::from_secs_f64(self.written as f64 / self.true_rate);
        if sounds_at < now {
            // Ran dry: the device starts again a buffer from now.
            self.underruns += 1;
            self.start = Some(now + self.buffer - Duration::from_secs_f64(self.written as f64 / self.true_rate));
            sounds_at = now + self.buffer;
        } else if sounds_at > now + self.buffer {
            // The buffer is full: wait for room, as a blocking write does.
            std::thread::sleep(sounds_at - now - self.buffer);
        }
        self.air.sound(sounds_at, samples, self.true_rate);
        self.written += samples.len() as u64;
        // A device reports its queue in its own frames, read at the
        // nominal rate.
        let now = Instant::now();
        let queued = sounds_at.saturating_duration_since(now).as_secs_f64() * self.true_rate;
        Ok(now + Duration::from_secs_f64(queued / f64::from(self.rate)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_plays_in_real_time_into_the_air() {
        let air = Air::new(16_000);
        let mut speaker = SimulatedSpeaker::new(air.clone(), Duration::from_millis(40), 0.0);
        let started = Instant::now();
        let mut first = None;
        for _ in 0..20 {
            let at = speaker.play(&[0.5; 160]).unwrap();
            first.get_or_insert(at);
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(150), "20 × 10 ms less the buffer: {elapsed:?}");
        let mut heard = vec![0.0; 3200];
        air.hear(first.unwrap(), &mut heard);
        assert!(heard.iter().all(|&s| s == 0.5), "all of it sounds from the reported time");
        assert_eq!(speaker.underruns(), 0);
        std::thread::sleep(Duration::from_millis(100));
        speaker.play(&[0.5; 160]).unwrap();
        assert_eq!(speaker.underruns(), 1, "a writer that stalls makes it run dry");
    }
}
