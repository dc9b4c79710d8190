//! Synthetic media at realistic rates: H.264 video (a keyframe every 2 s,
//! 1100-byte packets) and Opus audio (one 20 ms packet). Every payload
//! carries the time it was made, so a receiver in the same process measures
//! how long the trip through the box took.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the send time sits in each payload (after the NAL/FU header bytes).
const STAMP_AT: usize = 2;
pub const PACKET: usize = 1100;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn stamped(mut payload: Vec<u8>, now: Instant) -> Vec<u8> {
    let nanos = now.duration_since(epoch()).as_nanos() as u64;
    payload[STAMP_AT..STAMP_AT + 8].copy_from_slice(&nanos.to_be_bytes());
    payload
}

/// The send time in a payload made by this process, if it has one.
pub fn read_stamp(payload: &[u8]) -> Option<Instant> {
    let bytes: [u8; 8] = payload.get(STAMP_AT..STAMP_AT + 8)?.try_into().ok()?;
    let nanos = u64::from_be_bytes(bytes);
    let at = epoch() + Duration::from_nanos(nanos);
    (at <= Instant::now() && nanos > 0).then_some(at)
}

/// One video frame's RTP payloads (`(payload, marker)`): `bytes` in
/// 1100-byte packets, the first of a keyframe an SPS (what the box starts
/// viewers on).
pub fn video_frame(bytes: usize, keyframe: bool, now: Instant) -> Vec<(Vec<u8>, bool)> {
    let count = bytes.div_ceil(PACKET).max(1);
    (0..count)
        .map(|i| {
            let mut p = vec![0x5a; PACKET];
            p[0] = if keyframe && i == 0 { 0x67 } else { 0x41 };
            (stamped(p, now), i + 1 == count)
        })
        .collect()
}

/// One 20 ms Opus-sized packet.
pub fn audio_packet(now: Instant) -> Vec<u8> {
    let mut p = vec![0x5a; 60];
    p[0] = 0xfc;
    stamped(p, now)
}

/// What a session received.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub video_packets: u64,
    pub audio_packets: u64,
    pub bytes: u64,
    /// Trip times in microseconds (send in this process → receive here).
    pub latencies_us: Vec<u64>,
}

impl Received {
    pub fn record(&mut self, video: bool, len: usize, sent: Option<Instant>, now: Instant) {
        if video {
            self.video_packets += 1;
        } else {
            self.audio_packets += 1;
        }
        self.bytes += len as u64;
        if let Some(sent) = sent {
            self.latencies_us.push(now.saturating_duration_since(sent).as_micros() as u64);
        }
    }

    pub fn packets(&self) -> u64 {
        self.video_packets + self.audio_packets
    }
}
