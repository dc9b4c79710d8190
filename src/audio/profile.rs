use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::capture::SampleFormat;

/// A microphone array the box supports, chosen by name in the config
/// (`[microphone] profile = "respeaker-6mic-hat"`).
///
/// Geometry and channel layout follow the boards' published layouts (the ODAS
/// configurations); channel maps are 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoardProfile {
    /// Seeed ReSpeaker 4-Mic Array HAT (AC108), square, 4 ch S32_LE 16 kHz.
    #[serde(rename = "respeaker-4mic-hat")]
    Respeaker4MicHat,
    /// Seeed ReSpeaker 6-Mic Circular Array HAT, R = 46.3 mm, 8 ch S32_LE 16 kHz.
    #[serde(rename = "respeaker-6mic-hat")]
    Respeaker6MicHat,
    /// Seeed ReSpeaker USB Mic Array v2.0 (6-channel firmware), square R = 32 mm.
    #[serde(rename = "respeaker-usb-4mic")]
    RespeakerUsb4Mic,
    /// miniDSP UMA-8: a centre mic and 6 on a circle of R = 43 mm, 8 ch S32_LE 48 kHz.
    #[serde(rename = "minidsp-uma8")]
    MinidspUma8,
    /// Any single USB microphone: no direction finding.
    #[serde(rename = "generic-usb-mic")]
    GenericUsbMic,
}

pub use crate::capture::MicArray;

/// A board's facts, from `board/<name>/profile.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    pub description: String,
    /// Channels the device delivers (microphones plus any processed or
    /// loop-back channels).
    pub channels: u16,
    pub format: SampleFormat,
    pub rate: u32,
    /// Which device channel carries each microphone of `mics`.
    pub channel_map: Vec<u16>,
    mics: Vec<[f32; 3]>,
    pub speaker: SpeakerSpec,
    #[serde(rename = "match")]
    pub recognise: Recognise,
}

/// The loudspeaker that goes with the board.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeakerSpec {
    /// ALSA PCM to play to.
    pub device: String,
    pub channels: u16,
    pub rate: u32,
    /// Where it usually stands, metres in the array's frame (the simulated
    /// room puts it there).
    pub position_m: [f32; 3],
    /// Capture channels that carry what it plays (boards that loop their
    /// playback back on the capture clock); empty when none do.
    pub loopback_channels: Vec<u16>,
}

/// How to tell the board is plugged in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recognise {
    /// ALSA card ids (`/proc/asound/cardN/id`).
    #[serde(default)]
    pub alsa_card: Vec<String>,
    /// USB `vendor:product` (`/proc/asound/cardN/usbid`).
    #[serde(default)]
    pub usb: Vec<String>,
}

impl BoardProfile {
    pub const ALL: [BoardProfile; 5] = [
        BoardProfile::Respeaker4MicHat,
        BoardProfile::Respeaker6MicHat,
        BoardProfile::RespeakerUsb4Mic,
        BoardProfile::MinidspUma8,
        BoardProfile::GenericUsbMic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BoardProfile::Respeaker4MicHat => "respeaker-4mic-hat",
            BoardProfile::Respeaker6MicHat => "respeaker-6mic-hat",
            BoardProfile::RespeakerUsb4Mic => "respeaker-usb-4mic",
            BoardProfile::MinidspUma8 => "minidsp-uma8",
            BoardProfile::GenericUsbMic => "generic-usb-mic",
        }
    }

    /// The board's facts, as `board/<name>/profile.toml` gives them.
    pub fn spec(self) -> &'static ProfileSpec {
        static SPECS: OnceLock<Vec<ProfileSpec>> = OnceLock::new();
        let specs = SPECS.get_or_init(|| {
            let texts = [
                include_str!("../../board/respeaker-4mic-hat/profile.toml"),
                include_str!("../../board/respeaker-6mic-hat/profile.toml"),
                include_str!("../../board/respeaker-usb-4mic/profile.toml"),
                include_str!("../../board/minidsp-uma8/profile.toml"),
                include_str!("../../board/generic-usb-mic/profile.toml"),
            ];
            // Built in and checked by the tests below: a bad file cannot ship.
            texts.iter().map(|t| toml::from_str(t).expect("a board profile that parses")).collect()
        });
        &specs[self as usize]
    }

    pub fn geometry(self) -> MicArray {
        MicArray { positions: self.spec().mics.clone() }
    }

    pub fn device_channels(self) -> u16 {
        self.spec().channels
    }

    pub fn channel_map(self) -> Vec<u16> {
        self.spec().channel_map.clone()
    }

    pub fn sample_format(self) -> SampleFormat {
        self.spec().format
    }

    pub fn rate(self) -> u32 {
        self.spec().rate
    }

    /// The profile for a plugged-in card, by its ALSA id and (USB cards) its
    /// `vendor:product`.
    pub fn recognise(card_id: &str, usb_id: Option<&str>) -> Option<BoardProfile> {
        Self::ALL.into_iter().find(|p| {
            let r = &p.spec().recognise;
            r.alsa_card.iter().any(|c| c == card_id) || usb_id.is_some_and(|u| r.usb.iter().any(|id| id == u))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [BoardProfile; 5] = BoardProfile::ALL;

    #[test]
    fn every_mic_has_a_channel_on_the_device() {
        for p in ALL {
            let map = p.channel_map();
            assert_eq!(map.len(), p.geometry().positions.len(), "{}", p.name());
            assert!(map.iter().all(|&c| c < p.device_channels()), "{}", p.name());
            let loopback = &p.spec().speaker.loopback_channels;
            assert!(loopback.iter().all(|c| c < &p.device_channels() && !map.contains(c)), "{}", p.name());
        }
    }

    #[test]
    fn six_mic_hat_matches_its_published_layout() {
        let g = BoardProfile::Respeaker6MicHat.geometry();
        let close = |a: [f32; 3], b: [f32; 2]| (a[0] - b[0]).abs() < 2e-4 && (a[1] - b[1]).abs() < 2e-4;
        assert!(close(g.positions[0], [-0.0232, 0.0401]));
        assert!(close(g.positions[1], [-0.0463, 0.0]));
        assert!(close(g.positions[4], [0.0463, 0.0]));
    }

    #[test]
    fn names_round_trip_through_serde() {
        for p in ALL {
            let text = serde_json::to_string(&p).unwrap();
            assert_eq!(text, format!("\"{}\"", p.name()));
            assert_eq!(serde_json::from_str::<BoardProfile>(&text).unwrap(), p);
        }
    }

    #[test]
    fn every_profile_file_parses_and_the_order_matches_the_names() {
        for (i, p) in ALL.into_iter().enumerate() {
            assert_eq!(p as usize, i, "spec() indexes by discriminant");
            let spec = p.spec();
            assert!(!spec.description.is_empty(), "{}", p.name());
            let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("board").join(p.name());
            assert!(folder.join("asound.conf").exists(), "{} has an ALSA name", p.name());
        }
    }

    #[test]
    fn plugged_in_boards_are_recognised() {
        assert_eq!(BoardProfile::recognise("seeed8micvoicec", None), Some(BoardProfile::Respeaker6MicHat));
        assert_eq!(BoardProfile::recognise("Array", Some("2886:0018")), Some(BoardProfile::RespeakerUsb4Mic));
        assert_eq!(BoardProfile::recognise("Headphones", None), None);
    }
}
