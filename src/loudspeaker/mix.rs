//! The far end as the room hears it: every remote talker's Opus through a
//! jitter buffer of their own, decoded (loss rebuilt from FEC or
//! concealed), mixed, at the loudspeaker's volume.
//!
//! Sans-IO: packets and times in, 48 kHz samples out.

use crate::events::ParticipantId;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::jitter::{JitterBuffer, Turn};
use crate::codec::{OPUS_FRAME, OPUS_RATE, OpusDecoder};

/// A talker silent this long is forgotten (their decoder and buffer go).
const FORGET_AFTER: Duration = Duration::from_secs(30);
/// The admin page's test tone: long enough to walk to the speaker.
const TONE: Duration = Duration::from_secs(2);
const TONE_HZ: f32 = 440.0;
/// −20 dBFS peak: clearly audible, nowhere near clipping.
const TONE_LEVEL: f32 = 0.1;

struct Talker {
    jitter: JitterBuffer,
    decoder: OpusDecoder,
    /// Decoded samples not yet played.
    pcm: VecDeque<f32>,
    heard_at: Instant,
}

/// Counts for `/metrics` and the admin page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MixCounts {
    /// Talkers whose audio the box holds now.
    pub talkers: usize,
    /// Packets rebuilt or concealed.
    pub lost: u64,
    /// Packets that came after their turn.
    pub late: u64,
    /// Packets that failed to decode (concealed instead).
    pub undecodable: u64,
}

pub struct FarEndMix {
    talkers: HashMap<ParticipantId, Talker>,
    /// Linear gain of the mix.
    gain: f32,
    muted: bool,
    /// Where the test tone is, while it plays (samples).
    tone: Option<usize>,
    counts: MixCounts,
    /// Scratch for one packet's samples.
    decoded: Vec<f32>,
}

impl Default for FarEndMix {
    fn default() -> Self {
        FarEndMix {
            talkers: HashMap::new(),
            gain: 1.0,
            muted: false,
            tone: None,
            counts: MixCounts::default(),
            decoded: Vec::with_capacity(OPUS_FRAME * 6),
        }
    }
}

impl FarEndMix {
    /// Volume 0–100 %: 100 plays the far end as it came, 50 is 12 dB
    /// quieter (a squared law, as volume knobs feel even).
    pub fn set_volume(&mut self, percent: u8) {
        self.gain = (f32::from(percent.min(100)) / 100.0).powi(2);
    }

    /// Mutes the far end (the room still hears the test tone).
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    pub fn play_tone(&mut self) {
        self.tone = Some(0);
    }

    pub fn counts(&self) -> MixCounts {
        MixCounts { talkers: self.talkers.len(), ..self.counts }
    }

    /// A remote participant's Opus packet arrived (`seq` extended).
    pub fn push(&mut self, participant: ParticipantId, seq: u64, payload: &[u8], now: Instant) {
        let talker = match self.talkers.entry(participant) {
            std::collections::hash_map::Entry::Occupied(t) => t.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => match OpusDecoder::new() {
                Ok(decoder) => {
                    slot.insert(Talker { jitter: JitterBuffer::new(now), decoder, pcm: VecDeque::new(), heard_at: now })
                }
                Err(e) => {
                    tracing::warn!(%participant, error = %e, "no Opus decoder; their voice is not played");
                    return;
                }
            },
        };
        talker.heard_at = now;
        talker.jitter.push(seq, payload.to_vec(), now);
    }

    /// A participant left: their audio goes at once.
    pub fn leave(&mut self, participant: ParticipantId) {
        if let Some(t) = self.talkers.remove(&participant) {
            self.counts.lost += t.jitter.lost;
            self.counts.late += t.jitter.late;
        }
    }

    /// The next `out.len()` samples of the mix (48 kHz, full scale ±1).
    pub fn pull(&mut self, now: Instant, out: &mut [f32]) {
        out.fill(0.0);
        let mut forgotten = Vec::new();
        for (&id, talker) in &mut self.talkers {
            while talker.pcm.len() < out.len() {
                self.decoded.clear();
                let result = match talker.jitter.pop(now) {
                    Turn::Packet(packet) => talker.decoder.decode(&packet, &mut self.decoded),
                    Turn::Recover { next } => talker.decoder.recover(&next, OPUS_FRAME, &mut self.decoded),
                    Turn::Conceal => talker.decoder.conceal(OPUS_FRAME, &mut self.decoded),
                    Turn::Idle => break,
                };
                if let Err(e) = result {
                    self.counts.undecodable += 1;
                    if self.counts.undecodable.is_power_of_two() {
                        tracing::warn!(participant = %id, error = %e, count = self.counts.undecodable, "undecodable far-end audio; concealed");
                    }
                    self.decoded.clear();
                    let _ = talker.decoder.conceal(OPUS_FRAME, &mut self.decoded);
                    if self.decoded.is_empty() {
                        // Keep time moving even if concealment fails too.
                        self.decoded.resize(OPUS_FRAME, 0.0);
                    }
                }
                talker.pcm.extend(&self.decoded);
            }
            if !self.muted {
                for (o, s) in out.iter_mut().zip(talker.pcm.iter()) {
                    *o += s * self.gain;
                }
            }
            let played = out.len().min(talker.pcm.len());
            talker.pcm.drain(..played);
            if now.duration_since(talker.heard_at) > FORGET_AFTER {
                forgotten.push(id);
            }
        }
        for id in forgotten {
            self.leave(id);
        }
        if let Some(at) = self.tone {
            let end = (TONE.as_secs_f32() * OPUS_RATE as f32) as usize;
            for (k, o) in out.iter_mut().enumerate().take(end.saturating_sub(at)) {
                let t = (at + k) as f32 / OPUS_RATE as f32;
                *o += TONE_LEVEL * (std::f32::consts::TAU * TONE_HZ * t).sin();
            }
            self.tone = Some(at + out.len()).filter(|&a| a < end);
        }
        out.iter_mut().for_each(|s| *s = s.clamp(-1.0, 1.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::OpusEncoder;

    fn packets(freq: f32, count: usize) -> Vec<Vec<u8>> {
        let mut enc = OpusEncoder::new(32_000).unwrap();
        let pcm: Vec<i16> = (0..OPUS_FRAME * count)
            .map(|i| ((std::f32::consts::TAU * freq * i as f32 / 48_000.0).sin() * 6000.0) as i16)
            .collect();
        pcm.chunks(OPUS_FRAME).map(|f| enc.encode(f).unwrap()).collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    /// Plays `seconds` in 10 ms pulls, pushing each talker's packets on time.
    fn play(mix: &mut FarEndMix, talkers: &[(ParticipantId, Vec<Vec<u8>>)], seconds: u32, start: Instant) -> Vec<f32> {
        let mut out = Vec::new();
        for tick in 0..seconds * 100 {
            let now = start + Duration::from_millis(u64::from(tick) * 10);
            if tick % 2 == 0 {
                for (id, packets) in talkers {
                    if let Some(p) = packets.get(tick as usize / 2) {
                        mix.push(*id, tick as u64 / 2, p, now);
                    }
                }
            }
            let mut frame = [0.0; 480];
            mix.pull(now, &mut frame);
            out.extend(frame);
        }
        out
    }

    #[test]
    fn two_talkers_are_mixed_after_a_short_buffer() {
        let mut mix = FarEndMix::default();
        let out = play(
            &mut mix,
            &[(ParticipantId(1), packets(300.0, 100)), (ParticipantId(2), packets(700.0, 100))],
            2,
            Instant::now(),
        );
        // Silence while the first packets wait, then both voices.
        assert!(rms(&out[..1920]) < 1e-3);
        let single = 6000.0 / 32768.0 / 2f32.sqrt();
        let both = rms(&out[9600..48_000]);
        assert!((both / single - 2f32.sqrt()).abs() < 0.3, "two uncorrelated tones: {both} vs {single}");
        assert_eq!(mix.counts().talkers, 2);
    }

    #[test]
    fn volume_mute_and_the_test_tone() {
        let start = Instant::now();
        let voice = [(ParticipantId(1), packets(300.0, 100))];
        let mut mix = FarEndMix::default();
        mix.set_volume(50);
        let half = rms(&play(&mut mix, &voice, 2, start)[9600..48_000]);
        let mut mix = FarEndMix::default();
        let full = rms(&play(&mut mix, &voice, 2, start)[9600..48_000]);
        assert!((20.0 * (full / half).log10() - 12.0).abs() < 0.5, "50 % is 12 dB down");
        let mut mix = FarEndMix::default();
        mix.set_muted(true);
        mix.play_tone();
        let out = play(&mut mix, &voice, 3, start);
        assert!((rms(&out[..48_000]) - TONE_LEVEL / 2f32.sqrt()).abs() < 0.005, "the tone plays over the mute");
        assert!(rms(&out[100_000..]) < 1e-4, "then the muted far end is silence");
    }

    #[test]
    fn garbage_is_concealed_and_counted_and_a_leaver_is_dropped() {
        let mut mix = FarEndMix::default();
        let mut talk = packets(300.0, 100);
        talk[20] = vec![0xff; 3];
        let out = play(&mut mix, &[(ParticipantId(7), talk)], 2, Instant::now());
        assert_eq!(mix.counts().undecodable, 1);
        assert!(rms(&out[9600..48_000]) > 0.05, "the voice goes on around it");
        mix.leave(ParticipantId(7));
        assert_eq!(mix.counts().talkers, 0);
    }
}
