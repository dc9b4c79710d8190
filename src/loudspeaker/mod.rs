//! The room's loudspeaker: the box plays the far end itself, so it knows
//! exactly what the microphones will hear back and can cancel it
//! ([`crate::audio::EchoCanceller`]).
//!
//! - [`FarEndMix`] (sans-IO): every remote talker's Opus, through a jitter
//!   buffer of their own ([`jitter`]), decoded and mixed at 48 kHz.
//! - [`Speaker`]: the playback device, ALSA ([`alsa`]) or simulated
//!   ([`sim`], which sounds into the simulated room's air so the simulated
//!   microphones hear the echo).

pub mod alsa;
pub mod jitter;
mod mix;
pub mod sim;

pub use mix::{FarEndMix, MixCounts};

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use crate::capture::{CaptureError, SourceInfo};

/// A playback device. Mono samples (full scale ±1) at [`Speaker::rate`] go
/// in; a device with more channels plays them on each.
pub trait Speaker: Send + 'static {
    fn info(&self) -> SourceInfo;
    fn rate(&self) -> u32;
    /// Plays `samples`, waiting while the device's buffer is full; returns
    /// when the first of them will sound. Errors are those of capture: a
    /// device that went away is `Gone` and is opened again with back-off.
    fn play(&mut self, samples: &[f32]) -> Result<Instant, CaptureError>;
    /// Underruns recovered from so far (the device ran dry; a click, then
    /// the sound goes on).
    fn underruns(&self) -> u64;
}

/// The loudspeaker's figures, written by its thread, read by `/metrics`
/// and the admin page.
#[derive(Debug, Default)]
pub struct SpeakerCounters {
    pub underruns: AtomicU64,
    mix: Mutex<MixCounts>,
    /// Set by the admin page's test button; the loudspeaker plays the tone.
    pub tone: AtomicBool,
}

impl SpeakerCounters {
    pub fn mix(&self) -> MixCounts {
        *self.mix.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_mix(&self, counts: MixCounts) {
        *self.mix.lock().unwrap_or_else(|p| p.into_inner()) = counts;
    }
}
