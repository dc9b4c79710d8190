//! The box's own camera and microphone as a meeting participant: encoder
//! threads that turn captured frames and blocks into RTP payloads for the
//! SFU.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use str0m::media::MediaKind;
use tokio::runtime::Runtime;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};

use crate::capture::h264::KeyframeWanted;
use crate::capture::slate::slate;
use crate::capture::{AudioBlock, Frame, PixelFormat};
use crate::codec::{H264Encoder, Passthrough, RoomAudio, packetize_h264};
use crate::sfu::{LocalPacket, RoomControl, VideoCodec, starts_keyframe};

/// RTP payload size the box keeps under (leaves room for headers, SRTP and
/// a VPN or PPPoE link on the way).
const MTU: usize = 1100;

/// The running encoder threads; they end when capture stops.
pub struct RoomMedia {
    threads: Vec<JoinHandle<()>>,
}

impl RoomMedia {
    /// `picture` is the main camera's configured size and rate: the slate
    /// takes it while the camera is away. `camera_keyframes` reaches a
    /// camera whose own H.264 is passed through.
    pub fn spawn(
        frames: Receiver<Arc<Frame>>,
        picture: (u32, u32, u32),
        camera_keyframes: KeyframeWanted,
        blocks: Receiver<Arc<AudioBlock>>,
        muted: watch::Receiver<bool>,
        control: Arc<RoomControl>,
        out: mpsc::Sender<LocalPacket>,
    ) -> std::io::Result<Self> {
        let video_out = out.clone();
        let video = std::thread::Builder::new()
            .name("room-video".into())
            .spawn(move || encode_video(frames, picture, &camera_keyframes, &control, &video_out))?;
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

/// Without a frame this long, the camera counts as away and the slate goes
/// out instead (at a low rate: it does not move).
const CAMERA_AWAY: Duration = Duration::from_secs(1);
const SLATE_INTERVAL: Duration = Duration::from_millis(200);
/// Without a block this long, the microphone counts as away and silence goes
/// out (phones keep a live audio track rather than a stalled one).
const MIC_AWAY: Duration = Duration::from_millis(200);

/// Waits up to `wait` for the next item of a feed: `Ok(None)` on time out,
/// `Err(())` once the feed has closed.
fn next_within<T: Clone>(runtime: &Runtime, feed: &mut Receiver<T>, wait: Duration) -> Result<Option<T>, ()> {
    loop {
        match runtime.block_on(async { tokio::time::timeout(wait, feed.recv()).await }) {
            Err(_) => return Ok(None),
            Ok(Ok(item)) => return Ok(Some(item)),
            Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Err(RecvError::Closed)) => return Err(()),
        }
    }
}

fn timer() -> Option<Runtime> {
    match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "no timer for the room's media");
            None
        }
    }
}

fn encode_video(
    mut frames: Receiver<Arc<Frame>>,
    (width, height, fps): (u32, u32, u32),
    camera_keyframes: &KeyframeWanted,
    control: &RoomControl,
    out: &mpsc::Sender<LocalPacket>,
) {
    let Some(runtime) = timer() else { return };
    let start = Instant::now();
    let mut encoder: Option<H264Encoder> = None;
    let mut passthrough = Passthrough::default();
    let mut seq = 0u64;
    let mut resume_with_keyframe = true;
    let mut away = false;
    loop {
        let wait = if away { SLATE_INTERVAL } else { CAMERA_AWAY };
        let frame = match next_within(&runtime, &mut frames, wait) {
            Ok(Some(frame)) => {
                if std::mem::take(&mut away) {
                    tracing::info!("room camera back");
                    resume_with_keyframe = true;
                }
                frame
            }
            Ok(None) => {
                if !away {
                    tracing::warn!("room camera away; sending the slate");
                    away = true;
                    resume_with_keyframe = true;
                }
                // The slate matches the encoder, so viewers' decoders go on.
                let (w, h) = encoder.as_ref().map_or((width, height), H264Encoder::size);
                Arc::new(slate(w, h, "CAMERA OFFLINE"))
            }
            Err(()) => return,
        };
        let watched = control.viewers.load(Ordering::Relaxed);
        if frame.format == PixelFormat::H264 {
            // The camera's own stream: no encoder, and keyframes are the
            // camera's to make. Its parameter sets are learnt even while
            // nobody watches: it may send them only once.
            encoder = None;
            if !watched || std::mem::take(&mut resume_with_keyframe) {
                passthrough.restart();
            }
            let nals = passthrough.access_unit(&frame.data);
            if !watched {
                continue;
            }
            if control.keyframe.swap(false, Ordering::Relaxed) || passthrough.waiting() {
                camera_keyframes.ask();
            }
            if send_picture(&nals, &frame, start, &mut seq, out).is_err() {
                return;
            }
            continue;
        }
        if !watched {
            resume_with_keyframe = true;
            continue;
        }
        // A camera that came back in another size needs a new encoder.
        if encoder.as_ref().is_some_and(|e| e.size() != (frame.width, frame.height)) {
            encoder = None;
            resume_with_keyframe = true;
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
        if send_picture(&nals, &frame, start, &mut seq, out).is_err() {
            return;
        }
    }
}

/// Packetizes one picture's NAL units for the SFU; `Err` once the SFU is
/// gone.
fn send_picture(
    nals: &[Vec<u8>],
    frame: &Frame,
    start: Instant,
    seq: &mut u64,
    out: &mpsc::Sender<LocalPacket>,
) -> Result<(), ()> {
    // 90 kHz RTP clock from the capture time.
    let time = (frame.captured_at.saturating_duration_since(start).as_micros() * 9 / 100) as u32;
    for (i, (payload, marker)) in packetize_h264(nals, MTU).into_iter().enumerate() {
        *seq += 1;
        let keyframe = i == 0 && starts_keyframe(VideoCodec::H264, &payload);
        let packet = LocalPacket {
            kind: MediaKind::Video,
            payload,
            seq: *seq,
            time,
            marker,
            keyframe,
            dbov: None,
            captured: frame.captured_at,
        };
        // A full queue means the SFU is behind: drop rather than block capture.
        if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(packet) {
            return Err(());
        }
    }
    Ok(())
}

fn encode_audio(mut blocks: Receiver<Arc<AudioBlock>>, muted: watch::Receiver<bool>, out: &mpsc::Sender<LocalPacket>) {
    let Some(runtime) = timer() else { return };
    let mut room: Option<RoomAudio> = None;
    let (mut seq, mut time) = (0u64, 0u32);
    // The shape of the last block: silence takes it while the array is away.
    let mut silence: Option<Arc<AudioBlock>> = None;
    let mut away = false;
    loop {
        let incoming: Vec<Arc<AudioBlock>> = match next_within(&runtime, &mut blocks, MIC_AWAY) {
            Ok(Some(block)) => {
                if std::mem::take(&mut away) {
                    tracing::info!("room microphone back");
                }
                if silence.as_ref().is_none_or(|s| s.samples.len() != block.samples.len()) {
                    silence = Some(Arc::new(AudioBlock { samples: vec![0; block.samples.len()], ..(*block).clone() }));
                }
                vec![block]
            }
            Ok(None) => {
                let Some(quiet) = &silence else { continue };
                if !away {
                    tracing::warn!("room microphone away; sending silence");
                    away = true;
                }
                // As many blocks of silence as the wait lasted.
                let count =
                    (MIC_AWAY.as_micros() as u64 * u64::from(quiet.rate) / 1_000_000 / quiet.frames().max(1) as u64)
                        .max(1);
                let now = Instant::now();
                (0..count).map(|_| Arc::new(AudioBlock { captured_at: now, ..(**quiet).clone() })).collect()
            }
            Err(()) => return,
        };
        for block in incoming {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SampleFormat;
    use crate::capture::h264::{NAL_PPS, NAL_SPS, annex_b, nal_type};
    use crate::capture::sim::TestScene;
    use crate::codec::H264Encoder;
    use tokio::sync::broadcast;

    /// Packets that arrive within `wait`.
    fn drain(rx: &mut mpsc::Receiver<LocalPacket>, wait: Duration) -> Vec<LocalPacket> {
        let until = Instant::now() + wait;
        let mut got = Vec::new();
        while Instant::now() < until {
            match rx.try_recv() {
                Ok(p) => got.push(p),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        got
    }

    #[test]
    fn while_the_camera_is_away_the_slate_goes_out_and_starts_with_a_keyframe() {
        let (frames_tx, frames) = broadcast::channel(8);
        let (out, mut packets) = mpsc::channel(4096);
        let control = Arc::new(RoomControl::default());
        control.viewers.store(true, Ordering::Relaxed);
        let thread = {
            let control = control.clone();
            std::thread::spawn(move || encode_video(frames, (64, 64, 10), &KeyframeWanted::default(), &control, &out))
        };
        let scene = TestScene::new(64, 64);
        for seq in 0..5 {
            let mut data = Vec::new();
            scene.render(seq, std::time::SystemTime::now(), &mut data);
            let frame = Frame {
                seq,
                captured_at: Instant::now(),
                width: 64,
                height: 64,
                format: PixelFormat::I420,
                data: data.into(),
            };
            frames_tx.send(Arc::new(frame)).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!drain(&mut packets, Duration::from_millis(200)).is_empty(), "the camera's frames go out");

        // Unplugged: nothing arrives, yet the room's video goes on.
        let slate = drain(&mut packets, Duration::from_millis(2000));
        assert!(slate.len() >= 3, "slate frames go out: {}", slate.len());
        assert!(slate.iter().any(|p| p.keyframe), "viewers can start on the slate");

        drop(frames_tx);
        thread.join().unwrap();
    }

    /// Access units as an encoding camera sends them: Annex B, parameter
    /// sets with the first picture only.
    fn camera_h264(count: u64) -> Vec<Vec<u8>> {
        let scene = TestScene::new(64, 64);
        let mut encoder = H264Encoder::new(64, 64, 10, 200_000).unwrap();
        let mut frame = Frame {
            seq: 0,
            captured_at: Instant::now(),
            width: 64,
            height: 64,
            format: PixelFormat::I420,
            data: Vec::new().into(),
        };
        (0..count)
            .map(|seq| {
                scene.render(seq, std::time::SystemTime::now(), &mut frame.data);
                let nals = encoder.encode(&frame, seq == 4).unwrap();
                let sent_once = |n: &&Vec<u8>| seq == 0 || !matches!(nal_type(n), NAL_SPS | NAL_PPS);
                annex_b(nals.iter().filter(sent_once).map(Vec::as_slice))
            })
            .collect()
    }

    #[test]
    fn a_cameras_own_h264_goes_out_untouched_from_a_keyframe_on() {
        let (frames_tx, frames) = broadcast::channel(16);
        let (out, mut packets) = mpsc::channel(4096);
        let control = Arc::new(RoomControl::default());
        let camera = KeyframeWanted::default();
        let thread = {
            let (control, camera) = (control.clone(), camera.clone());
            std::thread::spawn(move || encode_video(frames, (64, 64, 10), &camera, &control, &out))
        };
        let units = camera_h264(8);
        let send = |from: usize, to: usize| {
            for (seq, au) in units.iter().enumerate().take(to).skip(from) {
                let frame = Frame {
                    seq: seq as u64,
                    captured_at: Instant::now(),
                    width: 64,
                    height: 64,
                    format: PixelFormat::H264,
                    data: au.clone().into(),
                };
                frames_tx.send(Arc::new(frame)).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        // The camera starts (parameter sets and IDR) with nobody watching;
        // a viewer joins between keyframes: nothing goes out until the next
        // IDR (AU 4), and the camera is asked for one.
        send(0, 2);
        assert!(drain(&mut packets, Duration::from_millis(100)).is_empty(), "nobody watches");
        control.viewers.store(true, Ordering::Relaxed);
        send(2, 8);
        let got = drain(&mut packets, Duration::from_millis(300));
        assert!(camera.take(), "the camera was asked for a keyframe");
        let first = got.first().expect("the stream went out");
        assert!(first.keyframe, "and starts on a keyframe");
        assert_eq!(first.payload[0] & 0x1f, 7, "with the SPS the camera sent only once, at its start");
        // Untouched: the pictures' NAL units are the camera's bytes.
        let sent: Vec<u8> = got.iter().flat_map(|p| p.payload.clone()).collect();
        for au in &units[5..] {
            let body = &au[4..];
            assert!(sent.windows(body.len()).any(|w| w == body), "a P picture went out as the camera made it");
        }
        drop(frames_tx);
        thread.join().unwrap();
    }

    #[test]
    fn while_the_microphone_is_away_silence_goes_out() {
        let (blocks_tx, blocks) = broadcast::channel(8);
        let (out, mut packets) = mpsc::channel(4096);
        let (_muted_tx, muted) = watch::channel(false);
        let thread = std::thread::spawn(move || encode_audio(blocks, muted, &out));
        let block = |seq| AudioBlock {
            seq,
            captured_at: Instant::now(),
            rate: 16_000,
            channels: 1,
            format: SampleFormat::S16Le,
            samples: (0..320).map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i32).collect(),
        };
        for seq in 0..10 {
            blocks_tx.send(Arc::new(block(seq))).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!drain(&mut packets, Duration::from_millis(100)).is_empty());

        let quiet = drain(&mut packets, Duration::from_millis(1000));
        // 50 packets a second when live; most of that while away.
        let silent = quiet.iter().filter(|p| p.dbov.is_some_and(|d| d >= 100)).count();
        assert!(silent >= 30, "silence keeps the track going: {silent} of {} packets", quiet.len());

        drop(blocks_tx);
        thread.join().unwrap();
    }
}
