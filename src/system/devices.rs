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

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FoundDevices {
    pub cameras: Vec<FoundCamera>,
    pub microphones: Vec<FoundMicrophone>,
}

/// Video nodes on a Pi that are codecs or ISPs, not cameras.
const NOT_CAMERAS: [&str; 5] = ["codec", "isp", "hevc", "pispbe", "rpivid"];

/// Looks under `root` (`/` on the box; a fake tree in tests).
pub fn discover(root: &Path) -> FoundDevices {
    FoundDevices { cameras: cameras(root), microphones: microphones(root) }
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

/// Capture PCMs from `/proc/asound/pcm`: lines such as
/// `01-00: USB Audio : USB Audio : playback 1 : capture 1`.
fn microphones(root: &Path) -> Vec<FoundMicrophone> {
    let asound = root.join("proc/asound");
    let Ok(pcm) = fs::read_to_string(asound.join("pcm")) else {
        return Vec::new();
    };
    pcm.lines()
        .filter(|line| line.contains("capture"))
        .filter_map(|line| {
            let (ids, rest) = line.split_once(':')?;
            let (card, dev) = ids.trim().split_once('-')?;
            let (card, dev): (u32, u32) = (card.parse().ok()?, dev.parse().ok()?);
            let read =
                |f: &str| fs::read_to_string(asound.join(format!("card{card}/{f}"))).map(|s| s.trim().to_string());
            let id = read("id").unwrap_or_else(|_| card.to_string());
            let profile = BoardProfile::recognise(&id, read("usbid").ok().as_deref());
            let name = rest.split(':').next().unwrap_or_default().trim().to_string();
            Some(FoundMicrophone { device: format!("hw:CARD={id},DEV={dev}"), name, profile })
        })
        .collect()
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
    }

    #[test]
    fn an_empty_machine_has_nothing() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(discover(root.path()), FoundDevices::default());
    }
}
