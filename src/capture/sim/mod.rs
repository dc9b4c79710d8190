//! Simulated devices that stand in for the camera and the microphone array
//! when none is fitted (a laptop, CI): real-time paced, deterministic, and
//! with known ground truth (what is shown, who speaks from where) so the rest
//! of the system can be driven and checked.

// Simulated devices keep real time.
#![allow(clippy::disallowed_methods)]

mod air;
mod camera;
mod control;
mod mic_array;
mod pacer;
mod room_echo;
mod scene;
mod voice;

pub use air::Air;
pub use camera::SimulatedCamera;
pub use control::{Portrait, SimControl};
pub use mic_array::{RoomScene, SimulatedMicArray};
pub use pacer::Pacer;
pub use room_echo::{EchoPath, EchoRoom};
pub use scene::TestScene;
pub use voice::Voice;
