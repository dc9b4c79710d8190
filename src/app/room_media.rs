//! The box's own camera and microphone as a meeting participant: encoder
//! threads that turn captured frames and blocks into RTP payloads for the
//! SFU.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Instant;

use str0m::media::MediaKind;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};

use crate::capture::{AudioBlock, Frame};
use crate::codec::{H264Encoder, RoomAudio, packetize_h264};
use crate::sfu::{LocalPacket, RoomControl, VideoCodec, starts_keyframe};

/// RTP payload size the box keeps under (leaves room for headers, SRTP and
/// a VPN or PPPoE link on the way).
const MTU: usize = 1100;

/// The running encoder threads; they end when capture stops.
pub struct RoomMedia {
    threads: Vec<JoinHandle<()>>,
}

impl RoomMedia {
    pub fn spawn(
        frames: Receiver<Arc<Frame>>,
        fps: u32,
        blocks: Receiver<Arc<AudioBlock>>,
        muted: watch::Receiver<bool>,
        control: Arc<RoomControl>,
        out: mpsc::Sender<LocalPacket>,
    ) -> std::io::Result<Self> {
        let video_out = out.clone();
        let video = std::thread::Builder::new()
            .name("room-video".into())
            .spawn(move || encode_video(frames, fps, &control, &video_out))?;
        let audio =
            std::thread::Builder::new().name("room-audio".into()).spawn(move || encode_audio(blocks, muted, &out))?;
        Ok(RoomMedia { threads: vec![video, audio] })
    }

    /// Waits for the threads (they end once the capture feeds close).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Target bitrate for a picture size: about 0.07 bit per pixel per frame,
/// within 150 kbit/s..2.5 Mbit/s.
fn bitrate(frame: &Frame, fps: u32) -> u32 {
    let bps = frame.width as f64 * frame.height as f64 * fps as f64 * 0.07;
    bps.clamp(150_000.0, 2_500_000.0) as u32
}

fn encode_video(mut frames: Receiver<Arc<Frame>>, fps: u32, control: &RoomControl, out: &mpsc::Sender<LocalPacket>) {
    let start = Instant::now();
    let mut encoder: Option<H264Encoder> = None;
    let mut seq = 0u64;
    let mut resume_with_keyframe = true;
    loop {
        let frame = match frames.blocking_recv() {
            Ok(f) => f,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        if !control.viewers.load(Ordering::Relaxed) {
            resume_with_keyframe = true;
            continue;
        }
        let enc = match &mut encoder {
            Some(e) => e,
            None => match H264Encoder::new(frame.width, frame.height, fps, bitrate(&frame, fps)) {
                Ok(e) => encoder.insert(e),
                Err(e) => {
                    tracing::error!(error = %e, "no room video");
                    return;
                }
            },
        };
        let keyframe = control.keyframe.swap(false, Ordering::Relaxed) || std::mem::take(&mut resume_with_keyframe);
        let nals = match enc.encode(&frame, keyframe) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "room video frame not encoded");
                continue;
            }
        };
        // 90 kHz RTP clock from the capture time.
        let time = (frame.captured_at.saturating_duration_since(start).as_micros() * 9 / 100) as u32;
        for (i, (payload, marker)) in packetize_h264(&nals, MTU).into_iter().enumerate() {
            seq += 1;
            let keyframe = i == 0 && starts_keyframe(VideoCodec::H264, &payload);
            let packet = LocalPacket {
                kind: MediaKind::Video,
                payload,
                seq,
                time,
                marker,
                keyframe,
                dbov: None,
                captured: frame.captured_at,
            };
            // A full queue means the SFU is behind: drop rather than block capture.
            if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(packet) {
                return;
            }
        }
    }
}

fn encode_audio(mut blocks: Receiver<Arc<AudioBlock>>, muted: watch::Receiver<bool>, out: &mpsc::Sender<LocalPacket>) {
    let mut room: Option<RoomAudio> = None;
    let (mut seq, mut time) = (0u64, 0u32);
    loop {
        let block = match blocks.blocking_recv() {
            Ok(b) => b,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let encoder = match &mut room {
            Some(r) => r,
            None => match RoomAudio::new(block.rate) {
                Ok(r) => room.insert(r),
                Err(e) => {
                    tracing::error!(error = %e, "no room audio");
                    return;
                }
            },
        };
        let packets = match encoder.push(&block, *muted.borrow()) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "room audio not encoded");
                continue;
            }
        };
        for p in packets {
            seq += 1;
            time = time.wrapping_add(crate::codec::OPUS_FRAME as u32);
            let packet = LocalPacket {
                kind: MediaKind::Audio,
                payload: p.payload,
                seq,
                time,
                marker: false,
                keyframe: false,
                dbov: Some(p.dbov),
                captured: block.captured_at,
            };
            if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(packet) {
                return;
            }
        }
    }
}
