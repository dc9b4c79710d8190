use opus::{Application, Bitrate, Channels, Encoder};

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
}
