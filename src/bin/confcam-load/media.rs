//! Synthetic media at realistic rates: H.264 video (a keyframe every 2 s,
//! 1100-byte packets) and Opus audio (one 20 ms packet). Every payload
//! carries the time it was made, so a receiver in the same process measures
//! how long the trip through the box took.

use std::time::{SystemTime, UNIX_EPOCH};

/// A phone's 720p simulcast: each layer's name and its share (in percent)
/// of the top layer's bitrate (Chrome's ladder: 1280×720, 640×360, 320×180).
pub const SIMULCAST: [(&str, u32); 3] = [("l", 10), ("m", 30), ("h", 100)];

/// Where the send time sits in each payload (after the NAL/FU header bytes).
const STAMP_AT: usize = 2;
pub const PACKET: usize = 1100;

/// Wall-clock nanoseconds: the clock the kernel stamps arrivals with.
pub fn wall_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64
}

fn stamped(mut payload: Vec<u8>) -> Vec<u8> {
    payload[STAMP_AT..STAMP_AT + 8].copy_from_slice(&wall_nanos().to_be_bytes());
    payload
}

/// The send time (wall-clock nanoseconds) in a payload made by this
/// process, if it has one.
pub fn read_stamp(payload: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = payload.get(STAMP_AT..STAMP_AT + 8)?.try_into().ok()?;
    let nanos = u64::from_be_bytes(bytes);
    // Synthetic payloads only: anything far from now is not a stamp.
    (nanos > 0 && wall_nanos().abs_diff(nanos) < 60_000_000_000).then_some(nanos)
}

/// One video frame's RTP payloads (`(payload, marker)`): `bytes` in
/// 1100-byte packets, the first of a keyframe an SPS (what the box starts
/// viewers on).
pub fn video_frame(bytes: usize, keyframe: bool) -> Vec<(Vec<u8>, bool)> {
    let count = bytes.div_ceil(PACKET).max(1);
    (0..count)
        .map(|i| {
            let mut p = vec![0x5a; PACKET];
            p[0] = if keyframe && i == 0 { 0x67 } else { 0x41 };
            (stamped(p), i + 1 == count)
        })
        .collect()
}

/// One 20 ms Opus-sized packet.
pub fn audio_packet() -> Vec<u8> {
    let mut p = vec![0x5a; 60];
    p[0] = 0xfc;
    stamped(p)
}

/// What a session received.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub video_packets: u64,
    pub audio_packets: u64,
    pub bytes: u64,
    /// Trip times in microseconds: from the sender's stamp to the kernel's
    /// arrival time at this socket (the client's own processing excluded).
    pub latencies_us: Vec<u64>,
}

impl Received {
    pub fn record(&mut self, video: bool, len: usize, sent: Option<u64>, arrived: u64) {
        if video {
            self.video_packets += 1;
        } else {
            self.audio_packets += 1;
        }
        self.bytes += len as u64;
        if let Some(sent) = sent {
            self.latencies_us.push(arrived.saturating_sub(sent) / 1000);
        }
    }

    pub fn packets(&self) -> u64 {
        self.video_packets + self.audio_packets
    }
}
