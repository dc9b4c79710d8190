use std::time::Duration;

use crate::capture::sim::{RoomScene, SimControl, SimulatedCamera, SimulatedMicArray};
use crate::capture::{AudioSource, VideoSource};
use crate::config::{Config, DeviceChoice, GpioChoice};

use crate::hw::{Button, ButtonPress, LedView, Leds, simulated_gpio};
use crate::system::devices::FoundDevices;

/// A configured camera and the device behind it.
pub struct Camera {
    /// The `name` from its `[[camera]]` entry.
    pub name: String,
    pub source: Box<dyn VideoSource>,
}

/// Everything the box captures from and drives, injected into [`super::run`]
/// so tests (and laptops) run the whole daemon on simulated parts.
pub struct Hardware {
    pub cameras: Vec<Camera>,
    pub microphone: Box<dyn AudioSource>,
    pub button: Box<dyn Button>,
    pub leds: Box<dyn Leds>,
}

/// Handles to drive simulated hardware: inject faults, press the button,
/// look at the LEDs.
pub struct SimHandles {
    pub cameras: Vec<SimControl>,
    pub microphone: SimControl,
    pub button: ButtonPress,
    pub leds: LedView,
}

impl Hardware {
    /// Simulated camera(s), microphone array, button and LED ring, as the
    /// configuration describes them.
    pub fn simulated(config: &Config) -> (Hardware, SimHandles) {
        let mut controls = Vec::new();
        let cameras = config
            .camera
            .iter()
            .map(|c| {
                let cam = SimulatedCamera::new(&c.name, c.width.as_u32(), c.height.as_u32(), c.fps.as_u32());
                controls.push(cam.control());
                Camera { name: c.name.clone(), source: Box::new(cam) as Box<dyn VideoSource> }
            })
            .collect();
        let mic = simulated_microphone(config);
        let mic_control = mic.control();
        let (button, press, leds, view) = simulated_gpio(config.gpio.led_count.get() as usize);
        let hardware = Hardware { cameras, microphone: Box::new(mic), button: Box::new(button), leds: Box::new(leds) };
        (hardware, SimHandles { cameras: controls, microphone: mic_control, button: press, leds: view })
    }

    /// Picks a device for each part: the real one when configured and present,
    /// else the simulated one. Every choice is logged with its reason.
    pub fn for_config(config: &Config, found: &FoundDevices) -> Hardware {
        let (mut hardware, _) = Hardware::simulated(config);
        for (camera, cfg) in hardware.cameras.iter_mut().zip(&config.camera) {
            let present: Vec<String> = found.cameras.iter().map(|c| c.device.display().to_string()).collect();
            let reason = choose(&cfg.device, &present, "V4L2 capture");
            tracing::info!(camera = %camera.name, "simulated camera: {reason}");
        }
        let present: Vec<String> = found.microphones.iter().map(|m| m.device.clone()).collect();
        let reason = choose(&config.microphone.device, &present, "ALSA capture");
        tracing::info!(profile = config.microphone.profile.name(), "simulated microphone array: {reason}");
        let reason = match config.gpio.device {
            GpioChoice::Simulated => "configured",
            GpioChoice::Auto => "this build has no GPIO support yet",
        };
        tracing::info!("simulated mute button and LED ring: {reason}");
        hardware
    }
}

/// Why a simulated part stands in for `choice`, given the devices present.
fn choose(choice: &DeviceChoice, present: &[String], backend: &str) -> String {
    match choice {
        DeviceChoice::Simulated => "configured".into(),
        DeviceChoice::Auto if present.is_empty() => "no device found".into(),
        DeviceChoice::Auto => format!("found {} but this build has no {backend} yet", present.join(", ")),
        DeviceChoice::Named(name) if present.iter().any(|p| p == name) => {
            format!("{name} is present but this build has no {backend} yet")
        }
        DeviceChoice::Named(name) => format!("{name} is not present"),
    }
}

fn simulated_microphone(config: &Config) -> SimulatedMicArray {
    let profile = config.microphone.profile;
    SimulatedMicArray::new(
        &profile.geometry(),
        profile.rate(),
        profile.sample_format(),
        Duration::from_millis(config.microphone.block_ms.get() as u64),
        RoomScene::from_config(&config.simulation),
    )
}
