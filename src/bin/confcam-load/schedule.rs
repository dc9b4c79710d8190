//! What publishers send, and when: 720p simulcast at 30 fps (a keyframe
//! every 2 s) and Opus every 20 ms. Each publisher runs on its own phase, as
//! phones with their own clocks do, rather than all at once. The schedule
//! only says what is due; whoever drives it sends it (a WebRTC session, or
//! a plain socket for `relay`).

use std::time::{Duration, Instant};

use crate::media;
use crate::session::Packet;

/// One packet due from a publisher.
pub enum Due {
    /// A packet of a video frame in simulcast layer `rid` ([`TOP`] is the
    /// whole picture: what a publisher without simulcast sends).
    Video {
        rid: &'static str,
        packet: Packet,
    },
    Audio(Packet),
}

/// The audio levels (RFC 6464, -dBov) publishers send: the first one talks
/// and the others listen in a quiet room, so the box has an active speaker
/// to show large (Janus is told the same speaker).
const SPEAKING: i8 = -25;
const QUIET: i8 = -80;

/// The top simulcast layer (720p).
pub const TOP: &str = "h";

pub struct Publishing {
    start: Instant,
    /// The top layer's bitrate.
    video_kbps: u32,
    /// Per publisher: next frame, next audio packet, frame count.
    next: Vec<(Instant, Instant, u64)>,
}

impl Publishing {
    const FRAME: Duration = Duration::from_nanos(1_000_000_000 / 30);
    const AUDIO: Duration = Duration::from_millis(20);

    pub fn new(publishers: usize, video_kbps: u32, start: Instant) -> Self {
        let n = publishers.max(1) as u32;
        let next = (0..publishers as u32)
            .map(|i| (start + Self::FRAME * i / n, start + Self::AUDIO * i / n, u64::from(i) * 60 / u64::from(n)))
            .collect();
        Publishing { start, video_kbps, next }
    }

    /// Hands what is due by `now` to `send` (with the publisher's index);
    /// returns when the next packet is due.
    pub fn poll(&mut self, now: Instant, mut send: impl FnMut(usize, Due)) -> Instant {
        let layer_bytes = |share: u32| (self.video_kbps * share / 100) as usize * 1000 / 8 / 30;
        for (i, (next_video, next_audio, frame)) in self.next.iter_mut().enumerate() {
            if now >= *next_video {
                let keyframe = frame.is_multiple_of(60);
                let time = (*frame * 3000) as u32;
                for &(rid, share) in &media::SIMULCAST {
                    let bytes = layer_bytes(share) * if keyframe { 4 } else { 1 };
                    for (payload, marker) in media::video_frame(bytes, keyframe) {
                        send(i, Due::Video { rid, packet: Packet { payload, time, marker, level: None } });
                    }
                }
                *frame += 1;
                *next_video += Self::FRAME;
            }
            if now >= *next_audio {
                let time = (now - self.start).as_millis() as u32 * 48;
                // Speech pauses: a level that never drops is a noise floor.
                let pause = (now - self.start).as_millis() % 1000 >= 800;
                let level = Some(if i == 0 && !pause { SPEAKING } else { QUIET });
                send(i, Due::Audio(Packet { payload: media::audio_packet(), time, marker: false, level }));
                *next_audio += Self::AUDIO;
            }
        }
        self.next.iter().map(|(v, a, _)| *v.min(a)).min().unwrap_or(now + Duration::from_secs(1))
    }
}
