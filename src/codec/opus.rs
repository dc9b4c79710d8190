use opus::{Application, Bitrate, Channels, Decoder, Encoder};

use super::CodecError;

/// Opus in WebRTC runs at 48 kHz.
pub const OPUS_RATE: u32 = 48_000;
/// Samples in one 20 ms frame.
pub const OPUS_FRAME: usize = 960;

/// libwebrtc's setting on phones: on a Pi-class CPU the default (10) costs
/// about twice as much for a difference in speech few can hear.
const COMPLEXITY: i32 = 5;

/// Mono Opus for speech, 20 ms frames, with in-band FEC for lossy Wi-Fi.
pub struct OpusEncoder {
    encoder: Encoder,
    out: Vec<u8>,
}

impl OpusEncoder {
    pub fn new(bitrate_bps: i32) -> Result<Self, CodecError> {
        let err = |e: opus::Error| CodecError::Opus(e.to_string());
        let mut encoder = Encoder::new(OPUS_RATE, Channels::Mono, Application::Voip).map_err(err)?;
        encoder.set_bitrate(Bitrate::Bits(bitrate_bps)).map_err(err)?;
        encoder.set_complexity(COMPLEXITY).map_err(err)?;
        encoder.set_inband_fec(true).map_err(err)?;
        encoder.set_packet_loss_perc(5).map_err(err)?;
        Ok(OpusEncoder { encoder, out: vec![0; 1500] })
    }

    /// Encodes one 20 ms frame ([`OPUS_FRAME`] samples at 48 kHz).
    pub fn encode(&mut self, frame: &[i16]) -> Result<Vec<u8>, CodecError> {
        let n = self.encoder.encode(frame, &mut self.out).map_err(|e| CodecError::Opus(e.to_string()))?;
        Ok(self.out[..n].to_vec())
    }
}

/// Opus from a phone, decoded to mono 48 kHz: a packet, the packet before a
/// loss rebuilt from the next one's in-band FEC, or a loss concealed.
pub struct OpusDecoder {
    decoder: Decoder,
}

/// The longest Opus packet: 120 ms.
const MAX_FRAME: usize = OPUS_RATE as usize * 120 / 1000;

impl OpusDecoder {
    pub fn new() -> Result<Self, CodecError> {
        let decoder = Decoder::new(OPUS_RATE, Channels::Mono).map_err(|e| CodecError::Opus(e.to_string()))?;
        Ok(OpusDecoder { decoder })
    }

    /// Appends the samples of `packet` (full scale ±1) to `out`.
    pub fn decode(&mut self, packet: &[u8], out: &mut Vec<f32>) -> Result<(), CodecError> {
        self.run(packet, MAX_FRAME, false, out)
    }

    /// Appends `samples` rebuilt from the FEC in `next` (the packet after a
    /// lost one), or concealed when `next` carries none.
    pub fn recover(&mut self, next: &[u8], samples: usize, out: &mut Vec<f32>) -> Result<(), CodecError> {
        self.run(next, samples, true, out)
    }

    /// Appends `samples` of concealment (the decoder's best guess at what
    /// was lost).
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<f32>) -> Result<(), CodecError> {
        self.run(&[], samples, false, out)
    }

    fn run(&mut self, packet: &[u8], samples: usize, fec: bool, out: &mut Vec<f32>) -> Result<(), CodecError> {
        let start = out.len();
        out.resize(start + samples.min(MAX_FRAME), 0.0);
        match self.decoder.decode_float(packet, &mut out[start..], fec) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(CodecError::Opus(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_speech_sized_frames() {
        let mut enc = OpusEncoder::new(32_000).unwrap();
        let tone: Vec<i16> = (0..OPUS_FRAME).map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16).collect();
        let packet = enc.encode(&tone).unwrap();
        assert!((10..200).contains(&packet.len()), "{} bytes", packet.len());
        assert!(enc.encode(&tone[..100]).is_err(), "a short frame is refused");
    }

    #[test]
    fn decodes_what_was_encoded_and_conceals_a_loss() {
        let mut enc = OpusEncoder::new(32_000).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let tone: Vec<i16> = (0..OPUS_FRAME * 10).map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16).collect();
        let packets: Vec<Vec<u8>> = tone.chunks(OPUS_FRAME).map(|f| enc.encode(f).unwrap()).collect();
        let mut out = Vec::new();
        for p in &packets[..5] {
            dec.decode(p, &mut out).unwrap();
        }
        dec.recover(&packets[6], OPUS_FRAME, &mut out).unwrap();
        dec.decode(&packets[6], &mut out).unwrap();
        dec.conceal(OPUS_FRAME, &mut out).unwrap();
        assert_eq!(out.len(), OPUS_FRAME * 8);
        let rms = |x: &[f32]| (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt();
        let expected = 8000.0 / 32768.0 / 2f32.sqrt();
        for (i, frame) in out.chunks(OPUS_FRAME).enumerate().skip(1) {
            // Packets decode at their level; what stands in for a loss
            // (and the packet after it) keeps sounding.
            let bound = if i < 5 { 0.3 } else { 0.7 };
            assert!((rms(frame) / expected - 1.0).abs() < bound, "frame {i}: {} vs {expected}", rms(frame));
        }
        assert!(dec.decode(&[0xff, 0xff, 0xff], &mut out).is_err(), "garbage is an error, not a panic");
        assert_eq!(out.len(), OPUS_FRAME * 8, "and adds nothing");
    }
}
