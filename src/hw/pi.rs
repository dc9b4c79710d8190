//! The board's own button and LED ring on a Raspberry Pi, through rppal:
//! the ReSpeaker HATs' button on GPIO17 (to ground, so pulled up: pressed is
//! low) and their APA102 ring on SPI0, chip select 1, whose power is
//! switched by GPIO5.

use std::time::Duration;

use rppal::gpio::{Gpio, InputPin, Level, OutputPin, Trigger};
use rppal::spi::{Bus, Mode, SlaveSelect, Spi};

use super::{Button, ButtonEvent, GpioError, Leds, PrivacySwitch, Rgb, apa102};

const BUTTON_PIN: u8 = 17;
const LED_POWER_PIN: u8 = 5;
/// The ring's SPI clock: well within what APA102 takes over a HAT's traces.
const SPI_HZ: u32 = 8_000_000;
/// Contacts bounce for a few milliseconds.
const DEBOUNCE: Duration = Duration::from_millis(20);
/// Global brightness (of 31): the ring sits in people's eye line.
const BRIGHTNESS: u8 = 8;

fn gpio_error(e: impl std::fmt::Display) -> GpioError {
    GpioError(e.to_string())
}

pub struct PiButton {
    pin: InputPin,
}

impl PiButton {
    pub fn open() -> Result<Self, GpioError> {
        let mut pin = Gpio::new().map_err(gpio_error)?.get(BUTTON_PIN).map_err(gpio_error)?.into_input_pullup();
        pin.set_interrupt(Trigger::Both, Some(DEBOUNCE)).map_err(gpio_error)?;
        Ok(PiButton { pin })
    }
}

impl Button for PiButton {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<ButtonEvent>, GpioError> {
        let event = self.pin.poll_interrupt(false, Some(timeout)).map_err(gpio_error)?;
        Ok(event.map(|_| match self.pin.read() {
            Level::Low => ButtonEvent::Pressed,
            Level::High => ButtonEvent::Released,
        }))
    }
}

/// A privacy switch to ground on `pin` (pulled up): engaged when low.
pub struct PiPrivacySwitch {
    pin: InputPin,
}

impl PiPrivacySwitch {
    pub fn open(pin: u8) -> Result<Self, GpioError> {
        Ok(PiPrivacySwitch { pin: Gpio::new().map_err(gpio_error)?.get(pin).map_err(gpio_error)?.into_input_pullup() })
    }
}

impl PrivacySwitch for PiPrivacySwitch {
    fn engaged(&mut self) -> Result<bool, GpioError> {
        Ok(self.pin.is_low())
    }
}

pub struct PiLeds {
    spi: Spi,
    count: usize,
    /// Held high while the ring is in use.
    _power: OutputPin,
}

impl PiLeds {
    pub fn open(count: usize) -> Result<Self, GpioError> {
        let mut power = Gpio::new().map_err(gpio_error)?.get(LED_POWER_PIN).map_err(gpio_error)?.into_output();
        power.set_high();
        let spi = Spi::new(Bus::Spi0, SlaveSelect::Ss1, SPI_HZ, Mode::Mode0).map_err(gpio_error)?;
        Ok(PiLeds { spi, count, _power: power })
    }
}

impl Leds for PiLeds {
    fn count(&self) -> usize {
        self.count
    }

    fn show(&mut self, colors: &[Rgb]) -> Result<(), GpioError> {
        if colors.len() != self.count {
            return Err(GpioError(format!("{} colours for {} LEDs", colors.len(), self.count)));
        }
        self.spi.write(&apa102::frame(colors, BRIGHTNESS)).map_err(gpio_error)?;
        Ok(())
    }
}

/// Whether this is a Raspberry Pi rppal can drive.
pub fn is_raspberry_pi() -> bool {
    rppal::system::DeviceInfo::new().is_ok()
}
