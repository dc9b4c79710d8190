//! The room's one outgoing voice from the array: delay-and-sum toward the
//! talker (their voice adds up in phase on every microphone, the room's
//! noise and reverberation do not), or the plain average while nobody
//! speaks. Sans-IO: channels in, mono out.
//!
//! Each microphone is delayed by a fixed latency less its lead for the
//! steered direction, so the output's latency never changes. Fractional
//! delays interpolate linearly; a change of direction cross-fades over one
//! block, so it never clicks.

use super::SPEED_OF_SOUND;

pub struct Mixdown {
    mics: Vec<[f32; 3]>,
    rate: f32,
    /// The common latency, samples: the array's radius in sound travel, so
    /// every microphone's delay is non-negative.
    latency: f32,
    /// Per microphone, its last `history` samples before the current block.
    history: Vec<Vec<f32>>,
    /// Delays in use (samples), per microphone.
    delays: Vec<f32>,
    next: Vec<f32>,
    scratch: Vec<f32>,
}

impl Mixdown {
    /// `mics`: positions in metres, in channel order.
    pub fn new(mics: &[[f32; 3]], rate: u32) -> Self {
        let radius = mics.iter().map(|p| (p[0] * p[0] + p[1] * p[1]).sqrt()).fold(0.0f32, f32::max);
        let latency = (radius / SPEED_OF_SOUND * rate as f32).ceil();
        let keep = latency as usize * 2 + 2;
        Mixdown {
            mics: mics.to_vec(),
            rate: rate as f32,
            latency,
            history: vec![vec![0.0; keep]; mics.len()],
            delays: vec![latency; mics.len()],
            next: vec![latency; mics.len()],
            scratch: Vec::new(),
        }
    }

    /// Mixes one block (a slice per microphone, all the same length) into
    /// `out`, steered toward `toward` (degrees) or averaged (`None`).
    pub fn mix(&mut self, channels: &[&[f32]], toward: Option<f32>, out: &mut Vec<f32>) {
        let len = channels.first().map_or(0, |c| c.len());
        out.clear();
        out.resize(len, 0.0);
        if self.mics.is_empty() || len == 0 {
            return;
        }
        self.steer(toward);
        let gain = 1.0 / self.mics.len() as f32;
        let keep = self.history[0].len();
        for (m, samples) in channels.iter().enumerate().take(self.mics.len()) {
            // History then this block: sample `i` of the block is at `keep + i`.
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.history[m]);
            self.scratch.extend_from_slice(samples);
            let (from, to) = (self.delays[m], self.next[m]);
            for (i, o) in out.iter_mut().enumerate() {
                let fade = (i + 1) as f32 / len as f32;
                let at = (keep + i) as f32 - (from + (to - from) * fade);
                let base = at.floor();
                let frac = at - base;
                let k = base as usize;
                // A delay of zero reads the block's last sample alone.
                let after = self.scratch.get(k + 1).copied().unwrap_or(0.0);
                *o += gain * (self.scratch[k] * (1.0 - frac) + after * frac);
            }
            let tail = self.scratch.len() - keep;
            self.history[m].copy_from_slice(&self.scratch[tail..]);
        }
        self.delays.copy_from_slice(&self.next);
    }

    /// Sets the delays the next block fades to.
    fn steer(&mut self, toward: Option<f32>) {
        for (delay, p) in self.next.iter_mut().zip(&self.mics) {
            // A plane wave from `toward` reaches a microphone `lead` samples
            // before the array's centre.
            let lead = toward.map_or(0.0, |az| {
                let (s, c) = az.to_radians().sin_cos();
                (p[0] * c + p[1] * s) / SPEED_OF_SOUND * self.rate
            });
            *delay = self.latency + lead;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::BoardProfile;
    use std::f32::consts::PI;

    /// A tone from `azimuth` as each microphone hears it.
    fn plane_wave(mics: &[[f32; 3]], rate: u32, hz: f32, azimuth: f32, len: usize, start: usize) -> Vec<Vec<f32>> {
        let (s, c) = azimuth.to_radians().sin_cos();
        mics.iter()
            .map(|p| {
                let lead = (p[0] * c + p[1] * s) / SPEED_OF_SOUND;
                (start..start + len).map(|n| (2.0 * PI * hz * (n as f32 / rate as f32 + lead)).sin()).collect()
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    /// Output RMS for a 3 kHz tone from 90°, steered as asked, after a
    /// block to settle.
    fn level(toward: Option<f32>) -> f32 {
        let mics = BoardProfile::Respeaker6MicHat.geometry().positions;
        let mut mixdown = Mixdown::new(&mics, 16_000);
        let mut out = Vec::new();
        for block in 0..3 {
            let wave = plane_wave(&mics, 16_000, 3000.0, 90.0, 320, block * 320);
            let refs: Vec<&[f32]> = wave.iter().map(Vec::as_slice).collect();
            mixdown.mix(&refs, toward, &mut out);
        }
        rms(&out)
    }

    #[test]
    fn steering_toward_the_talker_keeps_their_voice_whole() {
        let tone = 1.0 / 2f32.sqrt();
        let steered = level(Some(90.0));
        let averaged = level(None);
        let away = level(Some(270.0));
        assert!((steered / tone - 1.0).abs() < 0.05, "steered: {steered:.3} of {tone:.3}");
        assert!(averaged < 0.6 * steered, "averaging smears a high voice: {averaged:.3}");
        assert!(away < 0.6 * steered, "steered away: {away:.3}");
    }

    #[test]
    fn a_change_of_direction_does_not_click() {
        let mics = BoardProfile::Respeaker6MicHat.geometry().positions;
        let mut mixdown = Mixdown::new(&mics, 16_000);
        let (mut out, mut all) = (Vec::new(), Vec::new());
        for (block, toward) in [None, None, Some(90.0), Some(90.0), Some(200.0), None].into_iter().enumerate() {
            // A low tone: in phase everywhere, whatever the steering.
            let wave = plane_wave(&mics, 16_000, 200.0, 90.0, 320, block * 320);
            let refs: Vec<&[f32]> = wave.iter().map(Vec::as_slice).collect();
            mixdown.mix(&refs, toward, &mut out);
            all.extend_from_slice(&out);
        }
        // The largest step between samples stays that of the tone itself.
        let step = all[320..].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
        let tone_step = 2.0 * PI * 200.0 / 16_000.0;
        assert!(step < tone_step * 1.1, "a step of {step:.4} (tone {tone_step:.4})");
    }
}
