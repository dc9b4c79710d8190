//! A camera's own H.264 as the room's video track: no encoding, but the
//! stream must still start where viewers can decode it.

use crate::capture::h264::{NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, nal_type, nal_units};

/// Turns a camera's access units into the NAL units the room sends. Sans-IO.
///
/// Viewers get nothing until an IDR picture (after a start, or after the
/// slate went out in between), and every IDR goes with the parameter sets
/// it needs: many cameras send SPS and PPS once, at stream start, and a
/// phone that joins later would never see them.
#[derive(Debug)]
pub struct Passthrough {
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    waiting_for_idr: bool,
}

impl Default for Passthrough {
    fn default() -> Self {
        Passthrough { sps: None, pps: None, waiting_for_idr: true }
    }
}

impl Passthrough {
    /// The next NAL units sent must start a picture viewers can decode.
    pub fn restart(&mut self) {
        self.waiting_for_idr = true;
    }

    /// Whether access units are being held back until the next IDR.
    pub fn waiting(&self) -> bool {
        self.waiting_for_idr
    }

    /// The NAL units to send for one access unit (empty while waiting).
    /// Access unit delimiters are left out: RTP marks picture ends itself.
    pub fn access_unit(&mut self, au: &[u8]) -> Vec<Vec<u8>> {
        let nals: Vec<&[u8]> = nal_units(au).filter(|n| nal_type(n) != NAL_AUD).collect();
        let has = |kind: u8| nals.iter().any(|n| nal_type(n) == kind);
        for nal in &nals {
            match nal_type(nal) {
                NAL_SPS => self.sps = Some(nal.to_vec()),
                NAL_PPS => self.pps = Some(nal.to_vec()),
                _ => {}
            }
        }
        let idr = has(NAL_IDR);
        // An IDR without parameter sets ever seen cannot be decoded either.
        let decodable = idr && self.sps.is_some() && self.pps.is_some();
        if self.waiting_for_idr && !decodable {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(nals.len() + 2);
        if idr {
            self.waiting_for_idr = false;
            for (kind, set) in [(NAL_SPS, &self.sps), (NAL_PPS, &self.pps)] {
                if !has(kind)
                    && let Some(set) = set
                {
                    out.push(set.clone());
                }
            }
        }
        out.extend(nals.iter().map(|n| n.to_vec()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::h264::annex_b;

    const SPS: &[u8] = &[0x67, 66, 0xe0, 31, 0xda];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    fn au(nals: &[&[u8]]) -> Vec<u8> {
        annex_b(nals.iter().copied())
    }

    #[test]
    fn waits_for_an_idr_and_sends_its_parameter_sets_with_every_one() {
        let mut pass = Passthrough::default();
        let idr: &[u8] = &[0x65, 0x88, 1];
        let p_frame: &[u8] = &[0x41, 0x9a, 2];
        assert!(pass.access_unit(&au(&[p_frame])).is_empty(), "nothing decodable yet");
        assert_eq!(pass.access_unit(&au(&[&[0x09, 0xf0], SPS, PPS, idr])), [SPS, PPS, idr], "no delimiter");
        assert_eq!(pass.access_unit(&au(&[p_frame])), [p_frame]);

        // A later IDR without its own parameter sets (a camera that sent
        // them once) gets the remembered ones, in front.
        pass.restart();
        assert!(pass.access_unit(&au(&[p_frame])).is_empty());
        assert_eq!(pass.access_unit(&au(&[idr])), [SPS, PPS, idr]);
        assert!(!pass.waiting());
    }

    #[test]
    fn an_idr_before_any_parameter_set_is_held_back() {
        let mut pass = Passthrough::default();
        assert!(pass.access_unit(&au(&[&[0x65, 1]])).is_empty());
        assert!(pass.waiting());
        assert!(pass.access_unit(&[]).is_empty(), "an empty buffer is nothing");
    }
}
