//! The room's ears: voice activity and direction of arrival on the array's
//! samples, one piece of evidence every [`TICK_MS`]. Sans-IO: samples in,
//! evidence out, timed by sample count.
//!
//! Every analysis frame goes into the direction evidence; voice activity
//! only decides whether a tick's evidence is speech (gating frame by frame
//! threw away good frames and doubled the error on the benchmark's rooms).

use super::doa::SrpPhat;
use super::vad::{SPEECH, UnsupportedRate, VoiceActivity};

/// How often evidence comes out; each covers the last two ticks (128 ms),
/// so the director hears of a new talker soon after they start.
pub const TICK_MS: u32 = 64;
const TICKS_PER_EVIDENCE: usize = 2;
/// The audio one piece of evidence covers.
pub const EVIDENCE_MS: u32 = TICK_MS * TICKS_PER_EVIDENCE as u32;
/// Frames of speech an evidence needs (about 48 ms at 16 kHz).
const VOICED_FRAMES: usize = 3;

/// One tick's evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heard {
    /// Samples since the listener started, at the end of the audio heard.
    pub end_sample: u64,
    /// Where speech came from, or `None` when there was no speech.
    pub azimuth_deg: Option<f32>,
}

pub struct Listener {
    srp: SrpPhat,
    vad: VoiceActivity,
    frame: usize,
    hop: usize,
    /// Samples not yet consumed, per channel; the first `frame` of them are
    /// the next analysis frame.
    pending: Vec<Vec<f32>>,
    /// Of `pending`, how many the VAD has had.
    heard_by_vad: usize,
    /// Samples dropped from the front of `pending` so far.
    consumed: u64,
    mono: Vec<f32>,
    scores: Vec<f32>,
    voiced: usize,
    tick: u64,
    next_tick: u64,
    ticks: usize,
}

impl Listener {
    /// `mics`: positions in metres, in channel order.
    pub fn new(mics: &[[f32; 3]], rate: u32) -> Result<Self, UnsupportedRate> {
        let srp = SrpPhat::new(mics, rate);
        let (frame, hop) = (srp.frame_len(), srp.frame_len() / 2);
        let tick = u64::from(rate * TICK_MS / 1000);
        Ok(Listener {
            vad: VoiceActivity::new(rate)?,
            srp,
            frame,
            hop,
            pending: vec![Vec::with_capacity(2 * frame); mics.len()],
            heard_by_vad: 0,
            consumed: 0,
            mono: Vec::with_capacity(frame),
            scores: Vec::new(),
            voiced: 0,
            tick,
            next_tick: tick,
            ticks: 0,
        })
    }

    /// Feeds samples, one slice per microphone (all the same length, full
    /// scale ±1); appends the evidence of every tick they complete.
    pub fn push(&mut self, channels: &[&[f32]], heard: &mut Vec<Heard>) {
        for (buffer, samples) in self.pending.iter_mut().zip(channels) {
            buffer.extend_from_slice(samples);
        }
        while self.pending[0].len() >= self.frame {
            self.analyse_frame(heard);
            for buffer in &mut self.pending {
                buffer.drain(..self.hop);
            }
            self.heard_by_vad -= self.hop;
            self.consumed += self.hop as u64;
        }
    }

    fn analyse_frame(&mut self, heard: &mut Vec<Heard>) {
        // The frame's samples the VAD has not had yet, mixed down.
        let count = self.pending.len() as f32;
        self.mono.clear();
        self.mono
            .extend((self.heard_by_vad..self.frame).map(|i| self.pending.iter().map(|c| c[i]).sum::<f32>() / count));
        self.heard_by_vad = self.frame;
        self.scores.clear();
        self.vad.push(&self.mono, &mut self.scores);
        self.voiced += usize::from(self.vad.last() >= SPEECH);

        let frame: Vec<&[f32]> = self.pending.iter().map(|c| &c[..self.frame]).collect();
        self.srp.add_frame(&frame, 1.0);

        let end = self.consumed + self.frame as u64;
        if end < self.next_tick {
            return;
        }
        let azimuth_deg = (self.voiced >= VOICED_FRAMES).then(|| self.srp.estimate()).flatten().map(|d| d.azimuth_deg);
        heard.push(Heard { end_sample: end, azimuth_deg });
        self.ticks += 1;
        if self.ticks.is_multiple_of(TICKS_PER_EVIDENCE) {
            self.srp.clear();
            self.voiced = 0;
        }
        self.next_tick += self.tick;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::BoardProfile;
    use crate::audio::SPEED_OF_SOUND;
    use crate::audio::doa::angle_between;
    use crate::capture::sim::Voice;

    /// A synthetic talker at `azimuth` (whole-sample delays, far field) from
    /// `from` s, silence before.
    fn talker(mics: &[[f32; 3]], rate: u32, azimuth: f32, from: f32, seconds: f32) -> Vec<Vec<f32>> {
        let mut voice = Voice::new(130.0, rate, 4);
        let len = (seconds * rate as f32) as usize;
        let start = (from * rate as f32) as usize;
        let source: Vec<f32> = (0..len).map(|i| if i >= start { 0.1 * voice.next_sample() } else { 0.0 }).collect();
        let theta = azimuth.to_radians();
        mics.iter()
            .map(|p| {
                // Delays relative to the array's centre, made positive.
                let tau = -(p[0] * theta.cos() + p[1] * theta.sin()) / SPEED_OF_SOUND;
                let shift = (tau * rate as f32).round() as isize + 8;
                (0..len).map(|i| source.get((i as isize - shift).max(0) as usize).copied().unwrap_or(0.0)).collect()
            })
            .collect()
    }

    #[test]
    fn evidence_every_tick_speech_with_its_direction_and_silence_without() {
        let mics = BoardProfile::MinidspUma8.geometry().positions;
        let rate = 48_000;
        let signal = talker(&mics, rate, 120.0, 1.0, 3.0);
        let mut listener = Listener::new(&mics, rate).unwrap();
        let mut heard = Vec::new();
        // In 20 ms blocks, as the capture thread hands them on.
        for at in (0..signal[0].len()).step_by(960) {
            let block: Vec<&[f32]> = signal.iter().map(|c| &c[at..(at + 960).min(c.len())]).collect();
            listener.push(&block, &mut heard);
        }
        let tick = u64::from(rate * TICK_MS / 1000);
        assert!(heard.windows(2).all(|w| w[1].end_sample - w[0].end_sample <= tick + 1024), "a tick apart");
        assert!(heard.len() >= 45, "3 s is 46 ticks: {}", heard.len());
        let silent = heard.iter().filter(|h| h.end_sample < u64::from(rate) - 1);
        assert!(
            silent.clone().count() >= 14 && silent.clone().all(|h| h.azimuth_deg.is_none()),
            "silence is no speech"
        );
        let late: Vec<&Heard> = heard.iter().filter(|h| h.end_sample > u64::from(rate) * 3 / 2).collect();
        let after: Vec<f32> = late.iter().filter_map(|h| h.azimuth_deg).collect();
        assert!(after.len() * 3 >= late.len(), "the talker is heard: {} of {} ticks", after.len(), late.len());
        let off = after.iter().filter(|&&a| angle_between(a, 120.0) > 10.0).count();
        assert!(off * 10 <= after.len(), "from 120°: {after:?}");
    }
}
