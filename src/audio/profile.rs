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

/// Where each microphone sits, in metres, in the array's own frame (x to the
/// front of the box, y to its left, z up).
#[derive(Debug, Clone, PartialEq)]
pub struct MicArray {
    pub positions: Vec<[f32; 3]>,
}

impl BoardProfile {
    pub fn name(self) -> &'static str {
        match self {
            BoardProfile::Respeaker4MicHat => "respeaker-4mic-hat",
            BoardProfile::Respeaker6MicHat => "respeaker-6mic-hat",
            BoardProfile::RespeakerUsb4Mic => "respeaker-usb-4mic",
            BoardProfile::MinidspUma8 => "minidsp-uma8",
            BoardProfile::GenericUsbMic => "generic-usb-mic",
        }
    }

    pub fn geometry(self) -> MicArray {
        let positions = match self {
            BoardProfile::Respeaker4MicHat => {
                vec![[-0.0405, 0.0, 0.0], [0.0, 0.0405, 0.0], [0.0405, 0.0, 0.0], [0.0, -0.0405, 0.0]]
            }
            BoardProfile::Respeaker6MicHat => circle(0.0463, 6, 120.0),
            BoardProfile::RespeakerUsb4Mic => circle(0.032, 4, 180.0),
            BoardProfile::MinidspUma8 => {
                let mut p = vec![[0.0, 0.0, 0.0]];
                p.extend(circle(0.043, 6, 0.0));
                p
            }
            BoardProfile::GenericUsbMic => vec![[0.0, 0.0, 0.0]],
        };
        MicArray { positions }
    }

    /// Channels the device delivers (microphones plus any processed or
    /// loop-back channels).
    pub fn device_channels(self) -> u16 {
        match self {
            BoardProfile::Respeaker4MicHat => 4,
            BoardProfile::Respeaker6MicHat | BoardProfile::MinidspUma8 => 8,
            BoardProfile::RespeakerUsb4Mic => 6,
            BoardProfile::GenericUsbMic => 1,
        }
    }

    /// Which device channel carries each microphone of [`Self::geometry`].
    pub fn channel_map(self) -> Vec<u16> {
        match self {
            BoardProfile::Respeaker4MicHat => vec![0, 1, 2, 3],
            BoardProfile::Respeaker6MicHat => (0..6).collect(),
            BoardProfile::RespeakerUsb4Mic => (1..5).collect(),
            BoardProfile::MinidspUma8 => (0..7).collect(),
            BoardProfile::GenericUsbMic => vec![0],
        }
    }

    pub fn sample_format(self) -> SampleFormat {
        match self {
            BoardProfile::RespeakerUsb4Mic | BoardProfile::GenericUsbMic => SampleFormat::S16Le,
            _ => SampleFormat::S32Le,
        }
    }

    pub fn rate(self) -> u32 {
        match self {
            BoardProfile::MinidspUma8 | BoardProfile::GenericUsbMic => 48_000,
            _ => 16_000,
        }
    }
}

/// `n` mics on a circle of radius `r`, the first at `start_deg`, counter-clockwise.
fn circle(r: f32, n: usize, start_deg: f32) -> Vec<[f32; 3]> {
    (0..n)
        .map(|i| {
            let a = (start_deg + 360.0 * i as f32 / n as f32).to_radians();
            [r * a.cos(), r * a.sin(), 0.0]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [BoardProfile; 5] = [
        BoardProfile::Respeaker4MicHat,
        BoardProfile::Respeaker6MicHat,
        BoardProfile::RespeakerUsb4Mic,
        BoardProfile::MinidspUma8,
        BoardProfile::GenericUsbMic,
    ];

    #[test]
    fn every_mic_has_a_channel_on_the_device() {
        for p in ALL {
            let map = p.channel_map();
            assert_eq!(map.len(), p.geometry().positions.len(), "{}", p.name());
            assert!(map.iter().all(|&c| c < p.device_channels()), "{}", p.name());
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
}
