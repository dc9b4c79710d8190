//! Who is speaking: one decision across the phones and the room.
//!
//! Sans-IO: levels go in with their timestamps, decisions come out; the caller
//! owns the clock.

mod dominant;

pub use dominant::{DominantSpeaker, SpeakerConfig};
