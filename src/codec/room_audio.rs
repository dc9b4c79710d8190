use std::f32::consts::PI;

use super::{CodecError, OPUS_FRAME, OPUS_RATE, OpusEncoder};

/// One 20 ms Opus packet of the room's sound.
#[derive(Debug, Clone)]
pub struct RoomAudioPacket {
    pub payload: Vec<u8>,
    /// RFC 6464 level: `-dBov`, 0 (loudest) to 127 (silence).
    pub dbov: u8,
}

/// The room's sound as one outgoing Opus track: the array's mixdown
/// ([`crate::audio::Mixdown`]) brought to 48 kHz, cut into 20 ms frames and
/// encoded, each with its level.
pub struct RoomAudio {
    upsampler: Upsampler,
    frame: Vec<i16>,
    encoder: OpusEncoder,
}

impl RoomAudio {
    pub fn new(input_rate: u32) -> Result<Self, CodecError> {
        Ok(RoomAudio {
            upsampler: Upsampler::new(input_rate)?,
            frame: Vec::with_capacity(OPUS_FRAME),
            encoder: OpusEncoder::new(32_000)?,
        })
    }

    /// Takes one block of the mixdown (full scale ±1, at the input rate);
    /// returns the packets it completed. While `muted`, silence is sent (the
    /// track stays, the room is not heard).
    pub fn push(&mut self, mono: &[f32], muted: bool) -> Result<Vec<RoomAudioPacket>, CodecError> {
        let mut packets = Vec::new();
        for &sample in mono {
            let sample = if muted { 0.0 } else { sample };
            for s in self.upsampler.push(sample) {
                self.frame.push((s.clamp(-1.0, 1.0) * i16::MAX as f32) as i16);
                if self.frame.len() == OPUS_FRAME {
                    let dbov = dbov(&self.frame);
                    packets.push(RoomAudioPacket { payload: self.encoder.encode(&self.frame)?, dbov });
                    self.frame.clear();
                }
            }
        }
        Ok(packets)
    }
}

/// RFC 6464 level of a frame: its RMS in `-dBov`, 0..=127.
pub fn dbov(frame: &[i16]) -> u8 {
    let mean_square = frame.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum::<f64>() / frame.len().max(1) as f64;
    if mean_square <= 0.0 {
        return 127;
    }
    (-10.0 * mean_square.log10()).round().clamp(0.0, 127.0) as u8
}

/// Raises a sample rate that divides 48 kHz to 48 kHz with a polyphase
/// windowed-sinc filter (8 taps per phase: clean enough for speech, cheap
/// enough for a Pi).
struct Upsampler {
    factor: usize,
    /// `phases[p][k]` weighs the input `k` samples back for output phase `p`.
    phases: Vec<[f32; TAPS]>,
    history: [f32; TAPS],
}

const TAPS: usize = 8;

impl Upsampler {
    fn new(input_rate: u32) -> Result<Self, CodecError> {
        if input_rate == 0 || !OPUS_RATE.is_multiple_of(input_rate) {
            return Err(CodecError::Opus(format!("{input_rate} Hz does not divide 48 kHz")));
        }
        let factor = (OPUS_RATE / input_rate) as usize;
        let len = factor * TAPS;
        let centre = (len - 1) as f32 / 2.0;
        let prototype: Vec<f32> = (0..len)
            .map(|n| {
                let x = (n as f32 - centre) / factor as f32;
                let sinc = if x.abs() < 1e-6 { 1.0 } else { (PI * x).sin() / (PI * x) };
                let w = 0.42 - 0.5 * (2.0 * PI * n as f32 / (len - 1) as f32).cos()
                    + 0.08 * (4.0 * PI * n as f32 / (len - 1) as f32).cos();
                sinc * w
            })
            .collect();
        let phases = (0..factor)
            .map(|p| {
                let mut taps = [0.0; TAPS];
                for (k, tap) in taps.iter_mut().enumerate() {
                    *tap = prototype[p + k * factor];
                }
                // Each phase passes DC at unit gain.
                let sum: f32 = taps.iter().sum();
                taps.iter_mut().for_each(|t| *t /= sum);
                taps
            })
            .collect();
        Ok(Upsampler { factor, phases, history: [0.0; TAPS] })
    }

    fn push(&mut self, sample: f32) -> impl Iterator<Item = f32> + '_ {
        self.history.copy_within(1.., 0);
        self.history[TAPS - 1] = sample;
        let history = self.history;
        self.phases
            .iter()
            .take(self.factor)
            .map(move |taps| taps.iter().zip(history.iter().rev()).map(|(t, x)| t * x).sum::<f32>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{BoardProfile, Mixdown};
    use crate::capture::sim::{RoomScene, SimulatedMicArray};
    use crate::capture::{AudioBlock, SampleFormat};
    use std::time::{Duration, Instant};

    #[test]
    fn levels_follow_the_room() {
        assert_eq!(dbov(&[0; 960]), 127);
        assert_eq!(dbov(&[i16::MAX; 960]), 0);
        let tone: Vec<i16> = (0..960).map(|i| ((i as f32 * 0.1).sin() * 3277.0) as i16).collect();
        assert_eq!(dbov(&tone), 23, "a sine at -20 dBFS peak is -23 dBov RMS");
    }

    #[test]
    fn upsampling_keeps_a_tone_and_its_level() {
        let mut up = Upsampler::new(16_000).unwrap();
        let out: Vec<f32> = (0..1600)
            .flat_map(|n| up.push((2.0 * PI * 440.0 * n as f32 / 16_000.0).sin()).collect::<Vec<_>>())
            .collect();
        assert_eq!(out.len(), 4800);
        let rms = (out[480..].iter().map(|x| x * x).sum::<f32>() / (out.len() - 480) as f32).sqrt();
        assert!((rms - std::f32::consts::FRAC_1_SQRT_2).abs() < 0.02, "rms {rms}");
        assert!(Upsampler::new(44_100).is_err());
    }

    #[test]
    fn the_simulated_room_becomes_20_ms_opus_packets_with_levels() {
        let scene = RoomScene {
            talkers: vec![(30.0, 120.0)],
            turn: Duration::from_secs(2),
            pause: Duration::from_secs(2),
            speech_dbfs: -26.0,
            noise_dbfs: -70.0,
            seed: 3,
        };
        let profile = BoardProfile::Respeaker4MicHat;
        let mut mic =
            SimulatedMicArray::new(&profile.geometry(), 16_000, SampleFormat::S32Le, Duration::from_millis(20), scene);
        let mut room = RoomAudio::new(16_000).unwrap();
        let mut mixdown = Mixdown::new(&profile.geometry().positions, 16_000);
        let (mut channels, mut mono) = (Vec::new(), Vec::new());
        let mut packets = Vec::new();
        for seq in 0..200 {
            let samples = mic.render_block();
            let block = AudioBlock {
                seq,
                captured_at: Instant::now(),
                rate: 16_000,
                channels: 4,
                format: SampleFormat::S32Le,
                samples,
            };
            block.split_channels(&mut channels);
            let refs: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
            mixdown.mix(&refs, None, &mut mono);
            packets.extend(room.push(&mono, false).unwrap());
        }
        assert_eq!(packets.len(), 200, "one packet per 20 ms");
        let talking: Vec<u8> = packets[10..90].iter().map(|p| p.dbov).collect();
        let quiet: Vec<u8> = packets[110..190].iter().map(|p| p.dbov).collect();
        let median = |v: &[u8]| {
            let mut v = v.to_vec();
            v.sort();
            v[v.len() / 2]
        };
        assert!((20..40).contains(&median(&talking)), "talking {}", median(&talking));
        assert!(median(&quiet) > 60, "quiet {}", median(&quiet));
        let mut muted = RoomAudio::new(16_000).unwrap();
        assert!(muted.push(&mono, true).unwrap().iter().all(|p| p.dbov == 127));
    }
}
