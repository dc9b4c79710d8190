use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use super::{Button, ButtonEvent, GpioError, Leds, PrivacySwitch, Rgb};

/// A privacy switch slid from code (tests); its handle is a clone.
#[derive(Debug, Clone, Default)]
pub struct SimulatedPrivacySwitch(Arc<AtomicBool>);

impl SimulatedPrivacySwitch {
    pub fn set(&self, engaged: bool) {
        self.0.store(engaged, Ordering::Relaxed);
    }
}

impl PrivacySwitch for SimulatedPrivacySwitch {
    fn engaged(&mut self) -> Result<bool, GpioError> {
        Ok(self.0.load(Ordering::Relaxed))
    }
}

/// A button pressed from code (tests, the dev run).
pub struct SimulatedButton {
    events: Receiver<ButtonEvent>,
}

/// Presses the [`SimulatedButton`] it was made with.
#[derive(Debug, Clone)]
pub struct ButtonPress(Sender<ButtonEvent>);

impl ButtonPress {
    /// A full press: down, then up.
    pub fn press(&self) {
        let _ = self.0.send(ButtonEvent::Pressed);
        let _ = self.0.send(ButtonEvent::Released);
    }
}

impl Button for SimulatedButton {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<ButtonEvent>, GpioError> {
        match self.events.recv_timeout(timeout) {
            Ok(e) => Ok(Some(e)),
            // With every sender gone the button can never be pressed again:
            // behave like an idle pin.
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(timeout);
                Ok(None)
            }
        }
    }
}

/// LEDs that remember what they last showed.
pub struct SimulatedLeds {
    shown: Arc<Mutex<Vec<Rgb>>>,
}

impl Leds for SimulatedLeds {
    fn count(&self) -> usize {
        self.shown.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn show(&mut self, colors: &[Rgb]) -> Result<(), GpioError> {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        if colors.len() != shown.len() {
            return Err(GpioError(format!("{} colours for {} LEDs", colors.len(), shown.len())));
        }
        shown.copy_from_slice(colors);
        Ok(())
    }
}

/// What the simulated LEDs show now.
#[derive(Debug, Clone)]
pub struct LedView(Arc<Mutex<Vec<Rgb>>>);

impl LedView {
    pub fn colors(&self) -> Vec<Rgb> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A simulated button and LED ring, with the handles that drive and watch them.
pub fn simulated_gpio(led_count: usize) -> (SimulatedButton, ButtonPress, SimulatedLeds, LedView) {
    let (tx, rx) = channel();
    let shown = Arc::new(Mutex::new(vec![Rgb::default(); led_count]));
    (SimulatedButton { events: rx }, ButtonPress(tx), SimulatedLeds { shown: shown.clone() }, LedView(shown))
}
