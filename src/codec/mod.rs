//! Encoding the box's own camera and microphone for the meeting, and the
//! RTP packetization that goes with it (str0m in RTP mode sends payloads we
//! make).

mod h264;
mod opus;
mod passthrough;
mod room_audio;

pub use self::opus::{OPUS_FRAME, OPUS_RATE, OpusDecoder, OpusEncoder};
pub use h264::{H264Encoder, packetize_h264};
pub use passthrough::Passthrough;
pub use room_audio::{RoomAudio, RoomAudioPacket, dbov};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("H.264 encoder: {0}")]
    H264(String),
    #[error("Opus encoder: {0}")]
    Opus(String),
}
