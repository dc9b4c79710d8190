//! The box's buttons and lights: small traits with a board implementation
//! (rppal, on a Pi) and a simulated one (everywhere else, and in tests).

mod apa102;
pub mod pi;
mod ring;
mod simulated;

pub use ring::ring_colors;
pub use simulated::{ButtonPress, LedView, SimulatedButton, SimulatedLeds, SimulatedPrivacySwitch, simulated_gpio};

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonEvent {
    Pressed,
    Released,
}

#[derive(Debug, thiserror::Error)]
#[error("gpio: {0}")]
pub struct GpioError(pub String);

/// The mute button.
pub trait Button: Send + 'static {
    /// Waits up to `timeout` for the next edge.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<ButtonEvent>, GpioError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// A privacy switch (a slide switch on the case): while engaged, face
/// check-in sees no frame, whatever the admin set.
pub trait PrivacySwitch: Send + 'static {
    fn engaged(&mut self) -> Result<bool, GpioError>;
}

/// The LED ring (APA102 on the ReSpeaker HATs).
pub trait Leds: Send + 'static {
    fn count(&self) -> usize;
    /// Shows one colour per LED; `colors.len() == count()`.
    fn show(&mut self, colors: &[Rgb]) -> Result<(), GpioError>;
}
