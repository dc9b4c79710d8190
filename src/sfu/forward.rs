//! Rewrites one publisher track into one subscriber's outgoing stream.
//!
//! The subscriber sees one continuous stream (sequence numbers without
//! jumps, timestamps that only move forward) although what feeds it may start
//! late, skip, or (with simulcast) switch layers. Video starts on a keyframe:
//! a decoder can do nothing with the middle of a picture group.

/// Codecs whose keyframes we can spot in an RTP payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    Vp8,
}

/// Whether an RTP payload begins a keyframe: for H.264 the SPS that precedes
/// an IDR picture (a decoder needs it) or the IDR itself; for VP8 a key frame.
pub fn starts_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::Vp8 => str0m::format::detect_vp8_keyframe(payload),
        VideoCodec::H264 => {
            use crate::capture::h264::{NAL_IDR as IDR, NAL_SPS as SPS};
            let Some(&first) = payload.first() else { return false };
            match first & 0x1f {
                t @ 1..=23 => t == SPS || t == IDR,
                // STAP-A: 16-bit size, then a NAL unit, repeated.
                24 => {
                    let mut at = 1;
                    while let (Some(&hi), Some(&lo)) = (payload.get(at), payload.get(at + 1)) {
                        let size = usize::from(hi) << 8 | usize::from(lo);
                        if let Some(&nal) = payload.get(at + 2)
                            && matches!(nal & 0x1f, SPS | IDR)
                        {
                            return true;
                        }
                        at += 2 + size;
                    }
                    false
                }
                // FU-A: the start fragment names the NAL unit type.
                28 => payload.get(1).is_some_and(|&fu| fu & 0x80 != 0 && fu & 0x1f == IDR),
                _ => false,
            }
        }
    }
}

/// One outgoing stream's rewriting state.
#[derive(Debug, Clone)]
pub struct OutStream {
    /// Video waits for a keyframe to start; audio starts anywhere.
    video: bool,
    mapping: Option<Mapping>,
    /// The next sequence number to send.
    next_seq: u64,
    /// RTP time of the last packet sent, to continue from after a switch.
    last_time: Option<u32>,
}

/// How the current source maps onto the outgoing numbering.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    /// Added to an incoming extended sequence number.
    seq_delta: i64,
    /// Added (wrapping) to an incoming RTP timestamp.
    time_delta: u32,
    /// First outgoing sequence number of this mapping; older packets are stale.
    first_out: u64,
}

/// What to send for an incoming packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub seq: u64,
    pub time: u32,
}

impl OutStream {
    pub fn audio() -> Self {
        OutStream { video: false, mapping: None, next_seq: 1, last_time: None }
    }

    pub fn video() -> Self {
        OutStream { video: true, mapping: None, next_seq: 1, last_time: None }
    }

    /// True while video waits for a keyframe (the caller asks the publisher
    /// for one).
    pub fn waiting_for_keyframe(&self) -> bool {
        self.video && self.mapping.is_none()
    }

    /// Starts over from the next keyframe, e.g. when the source layer
    /// changes; numbering continues where it left off.
    pub fn restart(&mut self) {
        self.mapping = None;
    }

    /// Maps an incoming packet (extended sequence number, RTP time, whether
    /// it starts a keyframe) to what to send, or `None` to drop it.
    pub fn rewrite(&mut self, seq: u64, time: u32, keyframe: bool) -> Option<Rewritten> {
        let mapping = match self.mapping {
            Some(m) => m,
            None => {
                if self.video && !keyframe {
                    return None;
                }
                // Continue the outgoing timeline one tick after what was sent.
                let time_delta = self.last_time.map_or(0, |last| last.wrapping_add(1).wrapping_sub(time));
                let m = Mapping { seq_delta: self.next_seq as i64 - seq as i64, time_delta, first_out: self.next_seq };
                self.mapping = Some(m);
                m
            }
        };
        let out = seq as i64 + mapping.seq_delta;
        if out < mapping.first_out as i64 {
            return None; // from before the start (a late retransmission)
        }
        let out = out as u64;
        let time = time.wrapping_add(mapping.time_delta);
        if out >= self.next_seq {
            self.next_seq = out + 1;
            self.last_time = Some(time);
        }
        Some(Rewritten { seq: out, time })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS_STAP: [u8; 9] = [24, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce];
    const IDR_START: [u8; 3] = [28, 0x85, 0xb8];
    const IDR_MIDDLE: [u8; 3] = [28, 0x05, 0x00];
    const P_SLICE: [u8; 2] = [0x41, 0x9a];

    fn kf(payload: &[u8]) -> bool {
        starts_keyframe(VideoCodec::H264, payload)
    }

    #[test]
    fn spots_h264_keyframe_starts() {
        assert!(starts_keyframe(VideoCodec::H264, &SPS_STAP));
        assert!(starts_keyframe(VideoCodec::H264, &IDR_START));
        assert!(starts_keyframe(VideoCodec::H264, &[0x67, 0x42]), "a lone SPS");
        assert!(!starts_keyframe(VideoCodec::H264, &IDR_MIDDLE));
        assert!(!starts_keyframe(VideoCodec::H264, &P_SLICE));
        assert!(!starts_keyframe(VideoCodec::H264, &[]));
        assert!(!starts_keyframe(VideoCodec::H264, &[24, 0xff]), "truncated STAP-A");
    }

    #[test]
    fn video_starts_on_a_keyframe_with_continuous_numbers() {
        let mut out = OutStream::video();
        assert_eq!(out.rewrite(500, 9000, kf(&P_SLICE)), None);
        assert!(out.waiting_for_keyframe());
        assert_eq!(out.rewrite(501, 12000, kf(&SPS_STAP)), Some(Rewritten { seq: 1, time: 12000 }));
        assert_eq!(out.rewrite(502, 12000, kf(&IDR_START)), Some(Rewritten { seq: 2, time: 12000 }));
        assert_eq!(out.rewrite(503, 12000, kf(&IDR_MIDDLE)), Some(Rewritten { seq: 3, time: 12000 }));
        assert_eq!(out.rewrite(505, 15000, kf(&P_SLICE)), Some(Rewritten { seq: 5, time: 15000 }), "gaps stay gaps");
        assert_eq!(out.rewrite(504, 15000, kf(&P_SLICE)), Some(Rewritten { seq: 4, time: 15000 }), "late packets pass");
        assert_eq!(out.rewrite(500, 9000, kf(&P_SLICE)), None, "from before the start");
    }

    #[test]
    fn a_restart_continues_the_numbering_and_the_clock() {
        let mut out = OutStream::video();
        out.rewrite(100, 1000, kf(&SPS_STAP));
        out.rewrite(101, 4000, kf(&P_SLICE));
        out.restart();
        // A different source (another layer): other numbers, another clock.
        assert_eq!(out.rewrite(7000, 555_000, kf(&P_SLICE)), None);
        let r = out.rewrite(7001, 558_000, kf(&SPS_STAP)).unwrap();
        assert_eq!(r.seq, 3);
        assert_eq!(r.time, 4001);
        assert_eq!(out.rewrite(7002, 561_000, kf(&P_SLICE)).unwrap(), Rewritten { seq: 4, time: 7001 });
    }

    #[test]
    fn audio_starts_at_once_and_timestamps_wrap() {
        let mut out = OutStream::audio();
        assert_eq!(out.rewrite(10, u32::MAX - 100, false), Some(Rewritten { seq: 1, time: u32::MAX - 100 }));
        assert_eq!(out.rewrite(11, 860, false), Some(Rewritten { seq: 2, time: 860 }));
    }
}
