//! The meeting's media: who is in it, who receives what, and the WebRTC
//! sessions (str0m, RTP mode) that carry it.

mod counters;
mod dtls_guard;
mod engine;
mod forward;
mod join_code;
mod layers;
pub mod messages;
mod peer;
mod probe;
pub mod quality;
mod sdp_error;
mod socket;
mod task;
pub mod test_phone;
#[cfg(test)]
mod testnet;
#[cfg(test)]
mod tests;
mod twcc_guard;

pub use counters::{Counters, Incident};
pub use engine::{
    Datagram, FarAudio, IMMEDIATE, JoinError, LocalPacket, MAX_FORWARDED_PAYLOAD, ROOM_ID, RoomVoice, Sfu, SfuConfig,
};
pub use forward::{OutStream, Rewritten, VideoCodec, starts_keyframe};
pub use join_code::{JOIN_CODE_DIGITS, JoinCode};
pub use socket::MediaSocket;
pub use task::{RoomControl, SfuError, SfuHandle, spawn_sfu};
