//! What the box knows about sound: the microphone arrays it supports and
//! (later) the sans-IO signal processing on their blocks.

mod profile;
pub mod wav;

pub use profile::{BoardProfile, MicArray, ProfileSpec};

/// Speed of sound at room temperature, m/s.
pub const SPEED_OF_SOUND: f32 = 343.0;
