//! What the box knows about sound: the microphone arrays it supports and
//! the sans-IO signal processing on their blocks (direction of arrival,
//! voice activity, the mixdown, far-end gating, echo cancellation and its
//! reference).

pub mod aec3;
pub mod doa;
pub mod echo;
pub mod far_end;
pub mod listener;
pub mod mixdown;
mod profile;
pub mod reference;
pub mod vad;
pub mod wav;

pub use echo::{Cleanup, EchoCanceller, EchoStats};
pub use far_end::FarEnd;
pub use listener::{EVIDENCE_MS, Heard, Listener};
pub use mixdown::Mixdown;
pub use profile::{BoardProfile, MicArray, ProfileSpec, SpeakerSpec};
pub use reference::Reference;

pub use crate::capture::SPEED_OF_SOUND;
