use std::path::PathBuf;
use std::time::Duration;

use crate::audio::BoardProfile;
use crate::capture::alsa::AlsaMicArray;
use crate::capture::h264::KeyframeWanted;
use crate::capture::sim::{Air, EchoRoom, SimControl, SimulatedCamera, SimulatedMicArray};
use crate::capture::v4l2::V4l2Camera;
use crate::capture::{AudioSource, VideoSource};
use crate::config::{Config, DeviceChoice, GpioChoice};

use crate::hw::{Button, ButtonPress, LedView, Leds, PrivacySwitch, SimulatedPrivacySwitch, pi, simulated_gpio};
use crate::loudspeaker::Speaker;
use crate::loudspeaker::alsa::AlsaSpeaker;
use crate::loudspeaker::sim::SimulatedSpeaker;
use crate::system::devices::FoundDevices;

/// A configured camera and the device behind it.
pub struct Camera {
    /// The `name` from its `[[camera]]` entry.
    pub name: String,
    pub source: Box<dyn VideoSource>,
    /// Viewers' keyframe requests, for a camera whose own H.264 goes out.
    pub keyframes: KeyframeWanted,
}

/// Everything the box captures from and drives, injected into [`super::run`]
/// so tests (and laptops) run the whole daemon on simulated parts.
pub struct Hardware {
    pub cameras: Vec<Camera>,
    pub microphone: Box<dyn AudioSource>,
    /// The room's loudspeaker; none when the box leaves the far end to the
    /// display page.
    pub speaker: Option<Box<dyn Speaker>>,
    pub button: Box<dyn Button>,
    pub leds: Box<dyn Leds>,
    pub privacy: Box<dyn PrivacySwitch>,
}

/// Handles to drive simulated hardware: inject faults, press the button,
/// look at the LEDs.
pub struct SimHandles {
    pub cameras: Vec<SimControl>,
    pub microphone: SimControl,
    /// The simulated loudspeaker, when the box plays the far end.
    pub speaker: Option<SimControl>,
    pub button: ButtonPress,
    pub leds: LedView,
    /// Slides the privacy switch.
    pub privacy: SimulatedPrivacySwitch,
}

impl Hardware {
    /// Simulated camera(s), microphone array, button and LED ring, as the
    /// configuration describes them.
    pub fn simulated(config: &Config) -> (Hardware, SimHandles) {
        let mut controls = Vec::new();
        let cameras = config
            .camera
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let cam = SimulatedCamera::new(&c.name, c.width.as_u32(), c.height.as_u32(), c.fps.as_u32());
                // Every other camera mirrored, so viewers tell them apart.
                let cam = if i % 2 == 1 { cam.mirrored() } else { cam };
                controls.push(cam.control());
                Camera {
                    name: c.name.clone(),
                    source: Box::new(cam) as Box<dyn VideoSource>,
                    keyframes: KeyframeWanted::default(),
                }
            })
            .collect();
        if let (Some(path), Some(main)) = (&config.simulation.person_photo, controls.first()) {
            match portrait(path, config.camera[0].height.as_u32()) {
                Ok(person) => main.show(Some(person)),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot show the simulated person"),
            }
        }
        // The simulated loudspeaker sounds into the simulated room, where
        // the simulated array hears it.
        let mut mic = simulated_microphone(config);
        let (mut speaker, mut speaker_control): (Option<Box<dyn Speaker>>, _) = (None, None);
        if config.speaker.enabled {
            let profile = config.microphone.profile;
            let air = Air::new(profile.rate());
            let sim = &config.simulation;
            let room = EchoRoom {
                loudspeaker_m: profile.spec().speaker.position_m,
                rt60_s: sim.echo_rt60_ms.as_f32() / 1000.0,
                gain_db: sim.echo_db.as_f32(),
                delay_ms: sim.echo_delay_ms.as_f32(),
                length_s: (sim.echo_rt60_ms.as_f32() / 1000.0).clamp(0.1, 0.5),
            };
            mic = mic.hearing(air.clone(), room, &profile.geometry());
            let buffer = Duration::from_millis(config.speaker.buffer_ms.get() as u64);
            let simulated = SimulatedSpeaker::new(air, buffer, sim.echo_drift_ppm.get() as f64);
            speaker_control = Some(simulated.control());
            speaker = Some(Box::new(simulated));
        }
        let mic_control = mic.control();
        let (button, press, leds, view) = simulated_gpio(config.gpio.led_count.get() as usize);
        let privacy = SimulatedPrivacySwitch::default();
        let hardware = Hardware {
            cameras,
            microphone: Box::new(mic),
            speaker,
            button: Box::new(button),
            leds: Box::new(leds),
            privacy: Box::new(privacy.clone()),
        };
        (
            hardware,
            SimHandles {
                cameras: controls,
                microphone: mic_control,
                speaker: speaker_control,
                button: press,
                leds: view,
                privacy,
            },
        )
    }

    /// Picks a device for each part: a named device always (it is waited
    /// for while absent, so plugging it in later works); for `auto`, the one
    /// found, else the simulated part. Every choice is logged with its
    /// reason.
    pub fn for_config(config: &Config, found: &FoundDevices) -> Hardware {
        let (mut hardware, _) = Hardware::simulated(config);
        for (index, (camera, cfg)) in hardware.cameras.iter_mut().zip(&config.camera).enumerate() {
            let path = match &cfg.device {
                DeviceChoice::Simulated => None,
                DeviceChoice::Named(name) => Some(PathBuf::from(name)),
                // Cameras are handed out in order, one each.
                DeviceChoice::Auto => found.cameras.get(index).map(|c| c.device.clone()),
            };
            match path {
                Some(path) => {
                    tracing::info!(camera = %camera.name, device = %path.display(), "V4L2 camera");
                    let (w, h, fps) = (cfg.width.as_u32(), cfg.height.as_u32(), cfg.fps.as_u32());
                    let v4l2 = V4l2Camera::new(&path, w, h, fps);
                    camera.source = if cfg.passthrough {
                        Box::new(v4l2.with_passthrough(camera.keyframes.clone()))
                    } else {
                        Box::new(v4l2)
                    };
                }
                None => tracing::info!(camera = %camera.name, "simulated camera: {}", why_simulated(&cfg.device)),
            }
        }

        let mic = &config.microphone;
        let device = match &mic.device {
            DeviceChoice::Simulated => None,
            DeviceChoice::Named(name) => Some(name.clone()),
            // The array the profile names, or any microphone for the generic
            // profile.
            DeviceChoice::Auto => found
                .microphones
                .iter()
                .find(|m| m.profile == Some(mic.profile) || mic.profile == BoardProfile::GenericUsbMic)
                .map(|m| m.device.clone()),
        };
        let real_array = device.is_some();
        match device {
            Some(device) => {
                tracing::info!(profile = mic.profile.name(), %device, "ALSA microphone array");
                hardware.microphone = Box::new(AlsaMicArray::new(mic.alsa(&device)));
            }
            None => tracing::info!(
                profile = mic.profile.name(),
                "simulated microphone array: {}",
                why_simulated(&mic.device)
            ),
        }
        let speaker = &config.speaker;
        let device = match &speaker.device {
            _ if !speaker.enabled => None,
            DeviceChoice::Simulated => None,
            DeviceChoice::Named(name) => Some(name.clone()),
            // The board's own loudspeaker goes with a real array; the
            // simulated room's with the simulated one.
            DeviceChoice::Auto => real_array.then(|| mic.profile.spec().speaker.device.clone()),
        };
        match device {
            Some(device) => {
                tracing::info!(%device, "ALSA loudspeaker: the box plays the far end");
                hardware.speaker = Some(Box::new(AlsaSpeaker::new(speaker.alsa(&device, mic.profile))));
            }
            None if !speaker.enabled => {
                tracing::info!("no loudspeaker: the display page plays the far end (no echo cancellation)")
            }
            None => tracing::info!("simulated loudspeaker: {}", why_simulated(&speaker.device)),
        }
        match config.gpio.device {
            GpioChoice::Simulated => tracing::info!("simulated mute button and LED ring: configured"),
            GpioChoice::Auto if !pi::is_raspberry_pi() => {
                tracing::info!("simulated mute button and LED ring: not a Raspberry Pi")
            }
            GpioChoice::Auto => {
                match pi::PiButton::open() {
                    Ok(button) => {
                        tracing::info!("mute button on GPIO17");
                        hardware.button = Box::new(button);
                    }
                    Err(e) => tracing::warn!(error = %e, "no mute button; simulated"),
                }
                let count = config.gpio.led_count.get() as usize;
                // With no ring fitted, its power pin and SPI stay untouched.
                match (count > 0).then(|| pi::PiLeds::open(count)) {
                    None => tracing::info!("no LED ring fitted"),
                    Some(Ok(leds)) => {
                        tracing::info!(count, "LED ring on SPI0.1");
                        hardware.leds = Box::new(leds);
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "no LED ring; simulated"),
                }
                if let Some(pin) = config.gpio.privacy_pin {
                    match pi::PiPrivacySwitch::open(pin.get() as u8) {
                        Ok(switch) => {
                            tracing::info!(pin = pin.get(), "privacy switch");
                            hardware.privacy = Box::new(switch);
                        }
                        Err(e) => tracing::warn!(error = %e, "no privacy switch"),
                    }
                }
            }
        }
        hardware
    }
}

/// The photo at 60 % of the picture's height, as someone across the table.
fn portrait(path: &std::path::Path, picture_height: u32) -> Result<crate::capture::sim::Portrait, String> {
    use crate::vision::{PhotoLimits, Picture};
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let picture = Picture::decode(&bytes, PhotoLimits::default()).map_err(|e| e.to_string())?;
    let scale = picture_height as f32 * 0.6 / picture.height as f32;
    let (width, height, i420) = picture.scaled(scale).to_i420();
    Ok(crate::capture::sim::Portrait { width, height, i420 })
}

fn why_simulated(choice: &DeviceChoice) -> &'static str {
    match choice {
        DeviceChoice::Simulated => "configured",
        _ => "no matching device found",
    }
}

fn simulated_microphone(config: &Config) -> SimulatedMicArray {
    let profile = config.microphone.profile;
    SimulatedMicArray::new(
        &profile.geometry(),
        profile.rate(),
        profile.sample_format(),
        Duration::from_millis(config.microphone.block_ms.get() as u64),
        config.simulation.scene(),
    )
}
