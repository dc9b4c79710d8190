//! The meeting's media: who is in it, who receives what, and the WebRTC
//! peers (str0m) that carry it.

mod join_code;

pub use join_code::{JOIN_CODE_DIGITS, JoinCode};
