//! H.264 from cameras that encode it themselves (UVC H.264 cameras, the
//! Pi's ISP): what the box needs to know about their stream to forward it
//! untouched. A V4L2 H.264 buffer is one access unit in Annex B form (NAL
//! units after `00 00 01` or `00 00 00 01` start codes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// NAL unit types the box looks at (ITU-T H.264 table 7-1).
pub const NAL_IDR: u8 = 5;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;

/// The type of a NAL unit (its header byte's low five bits).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// The NAL units of an Annex B access unit, start codes removed (and the
/// zero bytes before a four-byte start code with them).
pub fn nal_units(au: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = au;
    std::iter::from_fn(move || {
        let start = find_start_code(rest)?;
        let body = &rest[start.1..];
        let (nal, next) = match find_start_code(body) {
            Some((zeros_at, _)) => (&body[..zeros_at], &body[zeros_at..]),
            None => (body, &body[body.len()..]),
        };
        rest = next;
        // Trailing zero bytes belong to the next start code or are padding.
        let end = nal.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
        Some(&nal[..end])
    })
    .filter(|nal| !nal.is_empty())
}

/// An Annex B access unit made of NAL units (four-byte start codes).
pub fn annex_b<'a>(nals: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    nals.into_iter().flat_map(|nal| [&[0, 0, 0, 1][..], nal].concat()).collect()
}

/// Where the next start code begins (counting zero bytes before it) and
/// where the NAL unit after it begins.
fn find_start_code(data: &[u8]) -> Option<(usize, usize)> {
    let at = data.windows(3).position(|w| w == [0, 0, 1])?;
    let zeros = data[..at].iter().rev().take_while(|&&b| b == 0).count();
    Some((at - zeros, at + 3))
}

/// The profile and level a sequence parameter set declares: its first three
/// bytes after the NAL header, no Exp-Golomb decoding needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub profile_idc: u8,
    /// constraint_set0..5 flags, set0 in the top bit.
    pub constraints: u8,
    pub level_idc: u8,
}

impl Profile {
    pub fn of_sps(sps: &[u8]) -> Option<Profile> {
        match sps {
            [header, profile_idc, constraints, level_idc, ..] if header & 0x1f == NAL_SPS => {
                Some(Profile { profile_idc: *profile_idc, constraints: *constraints, level_idc: *level_idc })
            }
            _ => None,
        }
    }

    /// What every phone was offered (`profile-level-id=42e01f`): Constrained
    /// Baseline (Baseline with constraint_set1, or a stream that says it
    /// obeys both Baseline and Main), at level 3.1 or below. Anything else
    /// is what the camera must not forward; the reason says why.
    pub fn forwardable(self) -> Result<(), String> {
        let (set0, set1) = (self.constraints & 0x80 != 0, self.constraints & 0x40 != 0);
        let constrained_baseline = set1 && (self.profile_idc == 66 || set0);
        if !constrained_baseline {
            return Err(format!(
                "profile {} (constraints {:#04x}) is not Constrained Baseline",
                self.profile_idc, self.constraints
            ));
        }
        // Level 1b is 11 with constraint_set3 in Baseline: below 3.1 either way.
        if self.level_idc > 31 {
            return Err(format!("level {}.{} is above 3.1", self.level_idc / 10, self.level_idc % 10));
        }
        Ok(())
    }
}

/// A viewer's wish for a fresh keyframe, carried from the room's encoder
/// thread to a camera that encodes by itself.
#[derive(Debug, Clone, Default)]
pub struct KeyframeWanted(Arc<AtomicBool>);

impl KeyframeWanted {
    pub fn ask(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether one was asked for since the last call.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_three_and_four_byte_start_codes() {
        let au = [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 0, 1, 0x65, 1, 2, 0, 0];
        let nals: Vec<&[u8]> = nal_units(&au).collect();
        assert_eq!(nals, [&[0x09, 0xf0][..], &[0x67, 0x42], &[0x65, 1, 2]]);
        assert_eq!(nal_units(&annex_b(nals.clone())).collect::<Vec<_>>(), nals, "and back");
        assert_eq!(nals.iter().map(|n| nal_type(n)).collect::<Vec<_>>(), [NAL_AUD, NAL_SPS, NAL_IDR]);
    }

    #[test]
    fn garbage_has_no_nal_units() {
        assert_eq!(nal_units(&[1, 2, 3, 4]).count(), 0);
        assert_eq!(nal_units(&[]).count(), 0);
        assert_eq!(nal_units(&[0, 0, 1]).count(), 0, "a start code with nothing after it");
    }

    #[test]
    fn only_constrained_baseline_up_to_level_3_1_is_forwarded() {
        let sps = |profile, constraints, level| Profile::of_sps(&[0x67, profile, constraints, level, 0xff]).unwrap();
        assert_eq!(sps(66, 0xe0, 31).forwardable(), Ok(()), "42e01f, what phones are offered");
        assert_eq!(sps(66, 0x40, 30).forwardable(), Ok(()));
        assert_eq!(sps(77, 0xc0, 31).forwardable(), Ok(()), "Main that also obeys Baseline");
        assert!(sps(66, 0x00, 31).forwardable().unwrap_err().contains("not Constrained Baseline"));
        assert!(sps(100, 0x00, 31).forwardable().is_err(), "High");
        assert!(sps(66, 0xe0, 40).forwardable().unwrap_err().contains("level 4.0"));
        assert_eq!(Profile::of_sps(&[0x68, 66, 0xe0, 31]), None, "a PPS is no SPS");
    }

    #[test]
    fn a_keyframe_wish_is_taken_once() {
        let wanted = KeyframeWanted::default();
        let camera = wanted.clone();
        assert!(!camera.take());
        wanted.ask();
        assert!(camera.take());
        assert!(!camera.take());
    }
}
