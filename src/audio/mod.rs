//! What the box knows about sound: the microphone arrays it supports and
//! the sans-IO signal processing on their blocks (direction of arrival,
//! voice activity).

pub mod doa;
pub mod listener;
mod profile;
pub mod vad;
pub mod wav;

pub use listener::{EVIDENCE_MS, Heard, Listener};
pub use profile::{BoardProfile, MicArray, ProfileSpec};

/// Speed of sound at room temperature, m/s.
pub const SPEED_OF_SOUND: f32 = 343.0;
