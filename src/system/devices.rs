//! What capture hardware is plugged in, read from sysfs and procfs (no device
//! is opened, so listing never disturbs a running capture).

use std::fs;
use std::path::{Path, PathBuf};

use crate::audio::BoardProfile;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FoundCamera {
    /// `/dev/videoN`.
    pub device: PathBuf,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FoundMicrophone {
    /// ALSA name, `hw:CARD=<id>,DEV=<n>`.
    pub device: String,
    pub name: String,
    /// The board profile this device is, when the box knows it.
    pub profile: Option<BoardProfile>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FoundSpeaker {
    /// ALSA name, `plughw:CARD=<id>,DEV=<n>` (converting rate and format
    /// to what the card takes).
    pub device: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FoundDevices {
    pub cameras: Vec<FoundCamera>,
    pub microphones: Vec<FoundMicrophone>,
    pub speakers: Vec<FoundSpeaker>,
}

/// Video nodes on a Pi that are codecs or ISPs, not cameras.
const NOT_CAMERAS: [&str; 5] = ["codec", "isp", "hevc", "pispbe", "rpivid"];

/// Looks under `root` (`/` on the box; a fake tree in tests).
pub fn discover(root: &Path) -> FoundDevices {
    let microphones = pcms(root, "capture")
        .map(|p| FoundMicrophone {
            device: format!("hw:CARD={},DEV={}", p.card, p.device),
            name: p.name,
            profile: p.profile,
        })
        .collect();
    let speakers = pcms(root, "playback")
        .map(|p| FoundSpeaker { device: format!("plughw:CARD={},DEV={}", p.card, p.device), name: p.name })
        .collect();
    FoundDevices { cameras: cameras(root), microphones, speakers }
}

fn cameras(root: &Path) -> Vec<FoundCamera> {
    let Ok(entries) = fs::read_dir(root.join("sys/class/video4linux")) else {
        return Vec::new();
    };
    let mut found: Vec<FoundCamera> = entries
        .flatten()
        .filter_map(|e| {
            let node = e.file_name().to_string_lossy().into_owned();
            let read = |f: &str| fs::read_to_string(e.path().join(f)).map(|s| s.trim().to_string());
            let name = read("name").ok()?;
            // A UVC camera has a second node (index 1) for metadata.
            if read("index").is_ok_and(|i| i != "0") || NOT_CAMERAS.iter().any(|n| name.contains(n)) {
                return None;
            }
            Some(FoundCamera { device: Path::new("/dev").join(node), name })
        })
        .collect();
    found.sort_by_key(|c| natural(&c.device));
    found
}

fn natural(p: &Path) -> (usize, String) {
    let s = p.to_string_lossy();
    let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits.parse().unwrap_or(0), s.into_owned())
}

/// One PCM of a sound card.
struct Pcm {
    /// The card's ALSA id.
    card: String,
    device: u32,
    name: String,
    profile: Option<BoardProfile>,
}

/// Capture or playback PCMs from `/proc/asound/pcm`: lines such as
/// `01-00: USB Audio : USB Audio : playback 1 : capture 1`.
fn pcms(root: &Path, direction: &'static str) -> impl Iterator<Item = Pcm> {
    let asound = root.join("proc/asound");
    let pcm = fs::read_to_string(asound.join("pcm")).unwrap_or_default();
    let lines: Vec<String> = pcm.lines().filter(|line| line.contains(direction)).map(str::to_string).collect();
    lines.into_iter().filter_map(move |line| {
        let (ids, rest) = line.split_once(':')?;
        let (card, dev) = ids.trim().split_once('-')?;
        let (card, device): (u32, u32) = (card.parse().ok()?, dev.parse().ok()?);
        let read = |f: &str| fs::read_to_string(asound.join(format!("card{card}/{f}"))).map(|s| s.trim().to_string());
        let id = read("id").unwrap_or_else(|_| card.to_string());
        let profile = BoardProfile::recognise(&id, read("usbid").ok().as_deref());
        let name = rest.split(':').next().unwrap_or_default().trim().to_string();
        Some(Pcm { card: id, device, name, profile })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn finds_cameras_and_capture_pcms() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(r, "sys/class/video4linux/video0/name", "HD Pro Webcam C920\n");
        write(r, "sys/class/video4linux/video0/index", "0\n");
        write(r, "sys/class/video4linux/video1/name", "HD Pro Webcam C920\n");
        write(r, "sys/class/video4linux/video1/index", "1\n");
        write(r, "sys/class/video4linux/video10/name", "bcm2835-codec-decode\n");
        write(r, "sys/class/video4linux/video2/name", "vivid\n");
        write(
            r,
            "proc/asound/pcm",
            "00-00: bcm2835 Headphones : bcm2835 Headphones : playback 8\n01-00: USB Audio : USB Audio : playback 1 : capture 1\n",
        );
        write(r, "proc/asound/card1/id", "ArrayUAC10\n");
        write(r, "proc/asound/card1/usbid", "2886:0018\n");
        let found = discover(r);
        let cams: Vec<_> =
            found.cameras.iter().map(|c| (c.device.to_string_lossy().into_owned(), c.name.as_str())).collect();
        assert_eq!(cams, [("/dev/video0".into(), "HD Pro Webcam C920"), ("/dev/video2".to_string(), "vivid")]);
        assert_eq!(
            found.microphones,
            [FoundMicrophone {
                device: "hw:CARD=ArrayUAC10,DEV=0".into(),
                name: "USB Audio".into(),
                profile: Some(BoardProfile::RespeakerUsb4Mic)
            }]
        );
        let speakers: Vec<_> = found.speakers.iter().map(|s| s.device.as_str()).collect();
        assert_eq!(speakers, ["plughw:CARD=0,DEV=0", "plughw:CARD=ArrayUAC10,DEV=0"]);
    }

    #[test]
    fn an_empty_machine_has_nothing() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(discover(root.path()), FoundDevices::default());
    }
}
