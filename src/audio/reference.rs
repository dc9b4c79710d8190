//! The echo canceller's reference: what the loudspeaker played, brought to
//! the microphones' rate and clock, sample for sample beside the capture.
//!
//! Playback and capture run on their own clocks (two cards: an HDMI or USB
//! speaker beside a HAT), and even one card's two directions reach the box
//! with their own delays. Each side says when its samples sound or were
//! heard (from the PCMs' delay reports); this keeps the reference's position
//! on the playback's timeline within a fraction of a millisecond of the
//! capture's, by nudging a resampler's ratio (`rubato`), so a meeting of
//! hours stays well inside AEC3's delay window. A jump (an underrun, a
//! device reopened) is followed by starting over at the right place.
//!
//! Sans-IO: timestamps come with the samples.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Adjustable, Async, FixedAsync, Resampler, SincInterpolationParameters, WindowFunction};

/// The reference runs this far ahead of the capture. AEC3 cannot cancel an
/// echo that reaches the microphones with its reference or sooner: in the
/// simulated room with the reference exactly in line it removed 4 dB of
/// the phone's echo, with 10, 15 or 20 ms of lead all of it
/// (`e2e::echo`). Nor should the lead be long: with 20 ms or more between
/// reference and echo and the loudspeaker 0.1 m away, AEC3's own estimate
/// of its enhancement collapses and a room talker over the far end lost
/// 9-15 dB instead of 4 (`tools/bench-aec`, leads 0-24 ms). Converters give
/// a millisecond or two at best; 15 ms sits between on every board. The
/// loudspeaker is written further ahead than this plus a block (its
/// buffer), so the reference is always there to take.
pub const LEAD: Duration = Duration::from_millis(15);
/// Further apart than this, the reference starts over at the right place
/// instead of being nudged there.
const RESYNC: Duration = Duration::from_millis(20);
/// How fast the ratio pulls the reference to its place: the error decays
/// with a time constant of about 4 s.
const PULL_PER_SECOND: f64 = 0.25;
/// How fast the clocks' difference is learnt (critically damped with the
/// pull).
const LEARN_PER_SECOND2: f64 = PULL_PER_SECOND * PULL_PER_SECOND / 4.0;
/// The ratio never moves further than this from nominal (crystals are
/// within 100 ppm; 2000 ppm leaves room for poor ones).
const MAX_ADJUST: f64 = 0.002;
/// Played audio kept for the capture side to catch up with, seconds.
const KEEP_S: f64 = 2.0;

/// The loudspeaker's sound, aligned to the microphones.
pub struct Reference {
    rate: u32,
    played_rate: u32,
    /// Played samples not yet taken, and the playback index of the first.
    queue: VecDeque<f32>,
    queue_start: u64,
    /// The latest anchor: playback index `.0` sounds at `.1`.
    anchor: Option<(u64, Instant)>,
    resampler: Async<f32>,
    /// The playback index of the next sample fed to the resampler.
    fed: u64,
    /// The playback index the next reference sample stands for; none
    /// before the first, or after the chunk size changed.
    position: Option<f64>,
    /// Smoothed error of the reference's position, playback samples
    /// (positive: ahead of the capture).
    error: f64,
    /// The clocks' learnt difference, as a relative ratio adjustment.
    drift: f64,
    scratch_in: Vec<f32>,
    scratch_out: Vec<f32>,
    /// Times it started over (jumps larger than [`RESYNC`]).
    resyncs: u64,
}

impl Reference {
    /// A reference at the microphones' `rate` for sound played at
    /// `played_rate`, handed out in pieces of `chunk` samples.
    pub fn new(rate: u32, played_rate: u32, chunk: usize) -> Self {
        Reference {
            rate,
            played_rate,
            queue: VecDeque::new(),
            queue_start: 0,
            anchor: None,
            resampler: Self::resampler(rate, played_rate, chunk),
            fed: 0,
            position: None,
            error: 0.0,
            drift: 0.0,
            scratch_in: Vec::new(),
            scratch_out: vec![0.0; chunk],
            resyncs: 0,
        }
    }

    fn resampler(rate: u32, played_rate: u32, chunk: usize) -> Async<f32> {
        let ratio = f64::from(rate) / f64::from(played_rate.max(1));
        // A windowed sinc: a 48 kHz far end must lose what lies above the
        // microphones' Nyquist (or it folds into the reference, where AEC3
        // hunts for an echo that never reaches the microphones), and a
        // polynomial's error near Nyquist would cap the cancellation.
        let sinc = SincInterpolationParameters::new(64, WindowFunction::BlackmanHarris2);
        Async::new_sinc(ratio, 1.0 + 2.0 * MAX_ADJUST, &sinc, chunk.max(1), 1, FixedAsync::Output)
            .expect("a positive ratio and chunk") // rates are positive, chunk at least 1
    }

    pub fn resyncs(&self) -> u64 {
        self.resyncs
    }

    /// The loudspeaker was given `samples` (mono, at the playback rate);
    /// the first of them sounds at `sounds_at`.
    pub fn played(&mut self, sounds_at: Instant, samples: &[f32]) {
        let end = self.queue_start + self.queue.len() as u64;
        self.anchor = Some((end, sounds_at));
        self.queue.extend(samples);
        let keep = (KEEP_S * f64::from(self.played_rate)) as usize;
        if self.queue.len() > keep {
            let drop = self.queue.len() - keep;
            self.queue.drain(..drop);
            self.queue_start += drop as u64;
        }
    }

    /// The playback index that sounds at `at`, from the latest anchor.
    fn index_at(&self, at: Instant) -> Option<f64> {
        let (index, time) = self.anchor?;
        let seconds =
            if at >= time { at.duration_since(time).as_secs_f64() } else { -time.duration_since(at).as_secs_f64() };
        Some(index as f64 + seconds * f64::from(self.played_rate))
    }

    /// The reference for the `out.len()` capture samples whose first was
    /// heard at `heard_at` ([`LEAD`] ahead of them). Silence where nothing
    /// was played.
    pub fn take(&mut self, heard_at: Instant, out: &mut [f32]) {
        out.fill(0.0);
        // Nothing was played yet at that time (capture catching up at
        // start): silence, and the reference starts when the sound does.
        let Some(wanted) = self.index_at(heard_at + LEAD).filter(|&w| w >= 0.0) else { return };
        if self.scratch_out.len() != out.len() {
            self.scratch_out = vec![0.0; out.len()];
            self.resampler = Self::resampler(self.rate, self.played_rate, out.len());
            self.position = None;
        }
        let nominal = f64::from(self.rate) / f64::from(self.played_rate);
        let resync = RESYNC.as_secs_f64() * f64::from(self.played_rate);
        let mut adjust = 0.0;
        match self.position {
            Some(position) if (position - wanted).abs() <= resync => {
                // Smoothed over about half a second: the timestamps jitter
                // by a millisecond or so from scheduling.
                let chunk_s = out.len() as f64 / f64::from(self.rate);
                self.error += (chunk_s / 0.5).min(1.0) * (position - wanted - self.error);
                // Ahead (positive error): more output per input, slower. The
                // integral learns the clocks' difference, so no error stays.
                let error_s = self.error / f64::from(self.played_rate);
                self.drift = (self.drift + LEARN_PER_SECOND2 * error_s * chunk_s).clamp(-MAX_ADJUST, MAX_ADJUST);
                adjust = (self.drift + PULL_PER_SECOND * error_s).clamp(-MAX_ADJUST, MAX_ADJUST);
            }
            Some(_) | None => {
                self.resyncs += u64::from(self.position.is_some());
                self.resampler.reset();
                // A fresh resampler's output lags its input by its delay.
                let delay = self.resampler.output_delay() as f64 / nominal;
                self.fed = (wanted + delay).max(0.0).round() as u64;
                self.position = Some(self.fed as f64 - delay);
                self.error = 0.0;
            }
        }
        // Applied from this chunk on, so the position below is exact.
        let _ = self.resampler.set_resample_ratio_relative(1.0 + adjust, false);
        let need = self.resampler.input_frames_next();
        self.scratch_in.clear();
        for i in self.fed..self.fed + need as u64 {
            let sample = i.checked_sub(self.queue_start).and_then(|k| self.queue.get(k as usize)).copied();
            self.scratch_in.push(sample.unwrap_or(0.0));
        }
        self.fed += need as u64;
        let input = InterleavedSlice::new(&self.scratch_in[..], 1, need).expect("sized to need");
        let mut output = InterleavedSlice::new_mut(&mut self.scratch_out[..], 1, out.len()).expect("sized to out");
        if let Ok((_, produced)) = self.resampler.process_into_buffer(&input, &mut output, None) {
            out[..produced].copy_from_slice(&self.scratch_out[..produced]);
            self.position = self.position.map(|p| p + produced as f64 / (nominal * (1.0 + adjust)));
        }
        // Played audio before what the resampler still reads is done with.
        let done = self.fed.saturating_sub(self.queue_start + 2 * need as u64).min(self.queue.len() as u64) as usize;
        self.queue.drain(..done);
        self.queue_start += done as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: u64, rate: f64) -> f32 {
        (std::f64::consts::TAU * 440.0 * n as f64 / rate).sin() as f32 * 0.5
    }

    /// Plays a 440 Hz tone on a clock `ppm` fast for `seconds`, captures on
    /// the nominal clock; returns the lag (samples) between the reference
    /// and the tone as it sounded, measured in the last second.
    fn run(played_rate: u32, ppm: f64, seconds: u64, offset: Duration) -> (f64, u64) {
        let start = Instant::now();
        let true_played = f64::from(played_rate) * (1.0 + ppm * 1e-6);
        let mut reference = Reference::new(16_000, played_rate, 320);
        let mut played = 0u64;
        let mut lags = Vec::new();
        for block in 0..seconds * 50 {
            let heard_at = start + offset + Duration::from_micros(block * 20_000);
            // The speaker runs 40 ms ahead of the capture, in 10 ms writes.
            while (played as f64 / true_played) < (block as f64 + 2.0) * 0.02 {
                let sounds_at = start + offset + Duration::from_secs_f64(played as f64 / true_played);
                let chunk: Vec<f32> =
                    (played..played + u64::from(played_rate / 100)).map(|n| tone(n, true_played)).collect();
                reference.played(sounds_at, &chunk);
                played += chunk.len() as u64;
            }
            let mut out = vec![0.0; 320];
            reference.take(heard_at, &mut out);
            if block >= (seconds - 1) * 50 {
                // Against the tone as it sounds a lead after each captured
                // sample.
                let t0 = (block * 20_000) as f64 / 1e6 + LEAD.as_secs_f64();
                let expect: Vec<f32> = (0..320)
                    .map(|k| ((std::f64::consts::TAU * 440.0 * (t0 + k as f64 / 16_000.0)).sin() * 0.5) as f32)
                    .collect();
                let phase = |x: &[f32]| -> f64 {
                    let (mut re, mut im) = (0.0, 0.0);
                    for (k, s) in x.iter().enumerate() {
                        let w = std::f64::consts::TAU * 440.0 * k as f64 / 16_000.0;
                        re += f64::from(*s) * w.cos();
                        im -= f64::from(*s) * w.sin();
                    }
                    im.atan2(re)
                };
                let d = (phase(&expect) - phase(&out) + 3.0 * std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
                    - std::f64::consts::PI;
                lags.push(d / std::f64::consts::TAU * 16_000.0 / 440.0);
            }
        }
        (lags.iter().sum::<f64>() / lags.len() as f64, reference.resyncs())
    }

    #[test]
    fn the_reference_lines_up_with_the_capture() {
        let (lag, resyncs) = run(16_000, 0.0, 5, Duration::ZERO);
        assert!(lag.abs() < 1.5, "lag {lag:.2} samples");
        assert_eq!(resyncs, 0);
    }

    #[test]
    fn a_speaker_at_another_rate_is_brought_to_the_microphones_rate() {
        let (lag, _) = run(48_000, 0.0, 5, Duration::ZERO);
        assert!(lag.abs() < 1.0, "lag {lag:.2} samples");
    }

    #[test]
    fn a_speaker_clock_300_ppm_fast_stays_lined_up_for_a_long_meeting() {
        // Unmatched, 300 ppm is 54 ms off after ten minutes.
        let (lag, resyncs) = run(48_000, 300.0, 600, Duration::from_millis(5));
        assert!(lag.abs() < 2.0, "lag {lag:.2} samples after ten minutes");
        assert_eq!(resyncs, 0, "followed, not jumped");
    }

    #[test]
    fn nothing_played_is_silence() {
        let mut reference = Reference::new(16_000, 48_000, 160);
        let mut out = vec![1.0; 160];
        reference.take(Instant::now(), &mut out);
        assert!(out.iter().all(|&s| s == 0.0));
    }
}
