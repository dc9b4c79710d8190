//! The box's configuration.
//!
//! Three layers, later ones win: built-in defaults, the TOML file
//! (`/etc/confcam/confcam.toml` on the device, read-only in the image), and
//! runtime settings stored in SQLite (changed on the admin page). Every field
//! has a default, unknown keys are refused, and every error names the key (and,
//! for the file, the line).

mod checkin;
mod director;
mod file;
pub mod live;
mod located;
mod overlay;
mod ranged;

pub use checkin::{CheckInConfig, DEFAULT_MODELS_DIR};
pub use director::DirectorSettings;
pub use file::{ConfigError, load_file, parse};
pub use overlay::{OverlayError, apply_settings};
pub use ranged::InRange;

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv6Addr};

use crate::audio::BoardProfile;
use crate::capture::SampleFormat;

/// Everything the daemon reads from its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub room: RoomConfig,
    pub server: ServerConfig,
    pub meeting: MeetingConfig,
    /// One entry per camera (`[[camera]]`); the first is the main (wide) one.
    pub camera: Vec<CameraConfig>,
    pub microphone: MicrophoneConfig,
    pub speaker: SpeakerConfig,
    pub gpio: GpioConfig,
    pub director: DirectorSettings,
    pub checkin: CheckInConfig,
    /// What the simulated devices show and play when no hardware is found.
    pub simulation: SimulationConfig,
    pub system: SystemConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            room: RoomConfig::default(),
            server: ServerConfig::default(),
            meeting: MeetingConfig::default(),
            camera: vec![CameraConfig::default()],
            microphone: MicrophoneConfig::default(),
            speaker: SpeakerConfig::default(),
            gpio: GpioConfig::default(),
            director: DirectorSettings::default(),
            checkin: CheckInConfig::default(),
            simulation: SimulationConfig::default(),
            system: SystemConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomConfig {
    /// Shown on the display page and in the page titles.
    pub name: String,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig { name: "Meeting room".into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the web server listens on; `::` also accepts IPv4.
    pub bind: IpAddr,
    /// HTTPS port (0 lets the OS pick one, for tests).
    pub https_port: u16,
    /// Plain-HTTP port that only redirects to HTTPS; 0 turns it off.
    pub http_port: u16,
    /// UDP port all WebRTC media uses (0 lets the OS pick one, for tests).
    pub media_port: u16,
    /// Advertise the box by mDNS as `<room>.local` and as a DNS-SD
    /// `_https._tcp` service (on loopback only when bound to loopback).
    pub mdns: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            https_port: 443,
            http_port: 80,
            media_port: 50000,
            mdns: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeetingConfig {
    /// A fixed six-digit join code; when unset, a fresh random code is made
    /// each time the box starts.
    pub join_code: Option<String>,
    /// Phones and displays in the meeting at most.
    pub max_participants: InRange<1, 64>,
}

impl Default for MeetingConfig {
    fn default() -> Self {
        MeetingConfig { join_code: None, max_participants: InRange::new_const(16) }
    }
}

/// Which device backs a camera or the microphone array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum DeviceChoice {
    /// The real device when one is present, else the simulated one.
    Auto,
    /// Always the simulated device.
    Simulated,
    /// A named device (`/dev/video0`, `hw:CARD=seeed4micvoicec`); simulated
    /// while it is absent.
    Named(String),
}

impl From<String> for DeviceChoice {
    fn from(s: String) -> Self {
        match s.as_str() {
            "auto" => DeviceChoice::Auto,
            "simulated" => DeviceChoice::Simulated,
            _ => DeviceChoice::Named(s),
        }
    }
}

impl From<DeviceChoice> for String {
    fn from(d: DeviceChoice) -> Self {
        match d {
            DeviceChoice::Auto => "auto".into(),
            DeviceChoice::Simulated => "simulated".into(),
            DeviceChoice::Named(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CameraConfig {
    /// Short name used in logs, `/healthz` and the admin page.
    pub name: String,
    pub device: DeviceChoice,
    pub width: InRange<64, 3840>,
    pub height: InRange<64, 2160>,
    pub fps: InRange<1, 60>,
    /// Where the camera looks, in degrees counter-clockwise from the front
    /// of the box (the microphone array's x axis), so sound directions map
    /// to pictures.
    pub azimuth_deg: InRange<-180, 180>,
    /// Its calibrated horizontal field of view.
    pub hfov_deg: InRange<10, 180>,
    /// Send the camera's own H.264 to the meeting when it offers it (and it
    /// is Constrained Baseline up to level 3.1, what phones are offered):
    /// no encoding on the box, which a Pi 4 cannot do at 720p30 in software,
    /// at the price of digital framing and face check-in on this camera.
    pub passthrough: bool,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            name: "main".into(),
            device: DeviceChoice::Auto,
            width: InRange::new_const(1280),
            height: InRange::new_const(720),
            fps: InRange::new_const(30),
            azimuth_deg: InRange::new_const(0),
            hfov_deg: InRange::new_const(90),
            passthrough: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MicrophoneConfig {
    pub device: DeviceChoice,
    /// The microphone array fitted: gives geometry, channels, format and rate.
    pub profile: BoardProfile,
    /// Length of one captured block.
    pub block_ms: InRange<5, 100>,
    /// What the device delivers, when it differs from the profile's
    /// (firmware variants, a custom array).
    pub channels: Option<InRange<1, 32>>,
    pub format: Option<SampleFormat>,
    pub rate: Option<InRange<8000, 192_000>>,
    /// Device channel (0-based) of each microphone, in the profile's
    /// geometry order.
    pub channel_map: Option<Vec<u16>>,
    /// ALSA period and ring-buffer lengths [default: half a block; eight
    /// periods].
    pub period_frames: Option<InRange<16, 65_536>>,
    pub buffer_frames: Option<InRange<64, 1_048_576>>,
    /// Cancel the loudspeaker's echo on every microphone (while the box
    /// plays the far end).
    pub echo_cancellation: bool,
    /// Suppress steady noise (fans, air conditioning).
    pub noise_suppression: bool,
    /// Bring speech to a steady level.
    pub gain_control: bool,
}

impl Default for MicrophoneConfig {
    fn default() -> Self {
        MicrophoneConfig {
            device: DeviceChoice::Auto,
            profile: BoardProfile::Respeaker6MicHat,
            block_ms: InRange::new_const(20),
            channels: None,
            format: None,
            rate: None,
            channel_map: None,
            period_frames: None,
            buffer_frames: None,
            echo_cancellation: true,
            noise_suppression: true,
            gain_control: true,
        }
    }
}

impl MicrophoneConfig {
    pub fn channels(&self) -> u16 {
        self.channels.map_or(self.profile.device_channels(), |c| c.get() as u16)
    }

    pub fn format(&self) -> SampleFormat {
        self.format.unwrap_or(self.profile.sample_format())
    }

    pub fn rate(&self) -> u32 {
        self.rate.map_or(self.profile.rate(), InRange::as_u32)
    }

    pub fn channel_map(&self) -> Vec<u16> {
        self.channel_map.clone().unwrap_or_else(|| self.profile.channel_map())
    }

    pub fn block_frames(&self) -> u32 {
        self.rate() * self.block_ms.as_u32() / 1000
    }

    /// Which cleaning steps the microphones' sound goes through.
    pub fn cleanup(&self) -> crate::audio::Cleanup {
        crate::audio::Cleanup { echo: self.echo_cancellation, noise: self.noise_suppression, gain: self.gain_control }
    }

    /// How to capture from ALSA device `device`.
    pub fn alsa(&self, device: &str) -> crate::capture::alsa::AlsaSettings {
        let block_frames = self.block_frames();
        let period_frames = self.period_frames.map_or((block_frames / 2).max(16), InRange::as_u32);
        crate::capture::alsa::AlsaSettings {
            device: device.into(),
            channels: self.channels(),
            format: self.format(),
            rate: self.rate(),
            channel_map: self.channel_map(),
            period_frames,
            buffer_frames: self.buffer_frames.map_or(period_frames * 8, InRange::as_u32),
            block_frames,
        }
    }
}

/// The room's loudspeaker: the box plays the far end itself (and cancels
/// its echo), or leaves it to the display page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeakerConfig {
    /// Play the far end through the box's loudspeaker. Off: the room
    /// display's page plays it (with no echo cancellation).
    pub enabled: bool,
    /// `auto` (the board profile's loudspeaker when the array is found,
    /// the simulated room's when it is simulated), `simulated`, or an ALSA
    /// PCM name.
    pub device: DeviceChoice,
    pub volume_percent: InRange<0, 100>,
    /// Silence the far end (the meeting goes on; the room hears nothing).
    pub far_end_muted: bool,
    /// What the device takes, when it differs from the profile's.
    pub rate: Option<InRange<8000, 192_000>>,
    pub channels: Option<InRange<1, 8>>,
    /// How far ahead of the room the far end is written: more survives a
    /// busy board, less is heard sooner.
    pub buffer_ms: InRange<10, 500>,
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        SpeakerConfig {
            enabled: true,
            device: DeviceChoice::Auto,
            volume_percent: InRange::new_const(80),
            far_end_muted: false,
            rate: None,
            channels: None,
            buffer_ms: InRange::new_const(40),
        }
    }
}

impl SpeakerConfig {
    /// How to play to ALSA device `device`, for the board `profile`.
    pub fn alsa(&self, device: &str, profile: BoardProfile) -> crate::loudspeaker::alsa::SpeakerSettings {
        let facts = &profile.spec().speaker;
        let rate = self.rate.map_or(facts.rate, InRange::as_u32);
        let buffer_frames = (rate * self.buffer_ms.as_u32() / 1000).max(64);
        crate::loudspeaker::alsa::SpeakerSettings {
            device: device.into(),
            channels: self.channels.map_or(facts.channels, |c| c.get() as u16),
            rate,
            period_frames: (buffer_frames / 4).max(16),
            buffer_frames,
        }
    }
}

/// Whether to drive the board's GPIO (button, LED ring) or simulated parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpioChoice {
    /// The board's GPIO on a Raspberry Pi, simulated parts elsewhere.
    Auto,
    Simulated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpioConfig {
    pub device: GpioChoice,
    /// LEDs on the ring (0 when none is fitted).
    pub led_count: InRange<0, 64>,
    /// BCM number of a privacy switch to ground, when one is fitted.
    pub privacy_pin: Option<InRange<0, 27>>,
}

impl Default for GpioConfig {
    fn default() -> Self {
        GpioConfig { device: GpioChoice::Auto, led_count: InRange::new_const(12), privacy_pin: None }
    }
}

/// A simulated person in the room: where they sit and how they sound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TalkerConfig {
    /// Direction seen from the array, degrees counter-clockwise from its x axis.
    pub azimuth_deg: InRange<0, 359>,
    /// Voice pitch.
    pub pitch_hz: InRange<60, 400>,
}

impl Default for TalkerConfig {
    fn default() -> Self {
        TalkerConfig { azimuth_deg: InRange::new_const(60), pitch_hz: InRange::new_const(120) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationConfig {
    /// People who take turns speaking, in order.
    pub talkers: Vec<TalkerConfig>,
    /// How long each talker speaks before the next one starts.
    pub turn_ms: InRange<100, 600_000>,
    /// Silence between turns.
    pub pause_ms: InRange<0, 600_000>,
    /// Speech level while talking (dBFS RMS, negative).
    pub speech_dbfs: InRange<-90, 0>,
    /// Diffuse room noise on every microphone (dBFS RMS, negative).
    pub noise_dbfs: InRange<-120, 0>,
    /// Seed of the generated speech and noise.
    pub seed: u64,
    /// The simulated room's echo: how loud the loudspeaker reaches the
    /// array (dB at its centre), how long the room rings (RT60, ms), an
    /// extra delay before it sounds (a TV's own buffer) and how fast its
    /// clock runs against the microphones' (ppm).
    pub echo_db: InRange<-60, 20>,
    pub echo_rt60_ms: InRange<50, 1500>,
    pub echo_delay_ms: InRange<0, 1000>,
    pub echo_drift_ppm: InRange<-1000, 1000>,
    /// A photo (JPEG or PNG) of someone the simulated main camera shows
    /// standing in the room: check-in and framing on a desk.
    pub person_photo: Option<std::path::PathBuf>,
}

impl SimulationConfig {
    /// The simulated room's talkers as the simulated array hears them.
    pub fn scene(&self) -> crate::capture::sim::RoomScene {
        crate::capture::sim::RoomScene {
            talkers: self.talkers.iter().map(|t| (t.azimuth_deg.as_f32(), t.pitch_hz.as_f32())).collect(),
            turn: std::time::Duration::from_millis(self.turn_ms.get() as u64),
            pause: std::time::Duration::from_millis(self.pause_ms.get() as u64),
            speech_dbfs: self.speech_dbfs.as_f32(),
            noise_dbfs: self.noise_dbfs.as_f32(),
            seed: self.seed,
        }
    }
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            talkers: vec![
                TalkerConfig { azimuth_deg: InRange::new_const(60), pitch_hz: InRange::new_const(115) },
                TalkerConfig { azimuth_deg: InRange::new_const(200), pitch_hz: InRange::new_const(210) },
            ],
            turn_ms: InRange::new_const(4000),
            pause_ms: InRange::new_const(1500),
            speech_dbfs: InRange::new_const(-26),
            noise_dbfs: InRange::new_const(-65),
            seed: 1,
            echo_db: InRange::new_const(-6),
            echo_rt60_ms: InRange::new_const(300),
            echo_delay_ms: InRange::new_const(0),
            echo_drift_ppm: InRange::new_const(0),
            person_photo: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemConfig {
    /// A capture source silent for this long counts as stalled: `/healthz`
    /// reports it and the systemd watchdog is no longer fed.
    pub stall_timeout_ms: InRange<100, 60_000>,
    /// `tracing` filter, e.g. `info` or `confcam=debug,info`.
    pub log: String,
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig { stall_timeout_ms: InRange::new_const(3000), log: "info".into() }
    }
}

/// A rule that spans several keys, checked after the file has parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Dotted path of the offending key, e.g. `camera[1].name`.
    pub key: String,
    pub message: String,
}

impl Config {
    /// Checks rules no single field can check by itself.
    pub fn validate(&self) -> Result<(), Invalid> {
        let invalid = |key: String, message: &str| Err(Invalid { key, message: message.into() });
        if self.room.name.trim().is_empty() {
            return invalid("room.name".into(), "must not be empty");
        }
        if self.room.name.chars().count() > 64 {
            return invalid("room.name".into(), "must be at most 64 characters");
        }
        let s = &self.server;
        if s.http_port != 0 && s.http_port == s.https_port {
            return invalid("server.http_port".into(), "must differ from server.https_port");
        }
        if let Some(code) = &self.meeting.join_code
            && crate::sfu::JoinCode::parse(code).is_none()
        {
            return invalid("meeting.join_code".into(), "must be six digits");
        }

        // The echo canceller's reference is taken a lead ahead of each
        // block: the loudspeaker must be written at least that far ahead.
        let ahead = self.microphone.block_ms.get() + crate::audio::reference::LEAD.as_millis() as i64;
        if self.speaker.buffer_ms.get() < ahead {
            return invalid(
                "speaker.buffer_ms".into(),
                &format!("must be at least {ahead} ms (a microphone block and the echo canceller's lead)"),
            );
        }
        if self.camera.is_empty() {
            return invalid("camera".into(), "at least one [[camera]] is needed");
        }
        for (i, cam) in self.camera.iter().enumerate() {
            let key = |field: &str| format!("camera[{i}].{field}");
            if cam.name.is_empty() || !cam.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return invalid(key("name"), "must be letters, digits, '-' or '_'");
            }
            if self.camera[..i].iter().any(|other| other.name == cam.name) {
                return invalid(key("name"), "is used by another camera");
            }
            if cam.width.get() % 2 != 0 {
                return invalid(key("width"), "must be even (4:2:0 video)");
            }
            if cam.height.get() % 2 != 0 {
                return invalid(key("height"), "must be even (4:2:0 video)");
            }
        }
        let mic = &self.microphone;
        let channels = mic.channels();
        if mic.channel_map.is_some() || mic.channels.is_some() {
            let map = mic.channel_map();
            if let Some(c) = map.iter().find(|&&c| c >= channels) {
                return invalid(
                    "microphone.channel_map".into(),
                    &format!("names channel {c}, but the device has {channels} (channels count from 0)"),
                );
            }
            if map.len() != mic.profile.geometry().positions.len() {
                return invalid(
                    "microphone.channel_map".into(),
                    &format!(
                        "must name one channel per microphone of {} ({})",
                        mic.profile.name(),
                        mic.profile.geometry().positions.len()
                    ),
                );
            }
        }
        if let (Some(period), Some(buffer)) = (mic.period_frames, mic.buffer_frames)
            && buffer.get() < 2 * period.get()
        {
            return invalid("microphone.buffer_frames".into(), "must hold at least two periods");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.system.log).is_err() {
            return invalid("system.log".into(), "is not a valid log filter (e.g. `info`, `confcam=debug`)");
        }
        Ok(())
    }
}
