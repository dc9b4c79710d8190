//! The room's video: the camera the director has on air, cropped to its
//! shot and encoded (or a camera's own H.264 passed through), as one
//! continuous track: a change of camera starts with a keyframe, and nobody
//! renegotiates.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use str0m::media::MediaKind;
use tokio::sync::broadcast::Receiver;
use tokio::sync::{mpsc, watch};

use super::room_media::next_within;
use crate::capture::convert::PictureSize;
use crate::capture::h264::KeyframeWanted;
use crate::capture::slate::slate;
use crate::capture::{BufferPool, Frame, PixelFormat};
use crate::codec::{H264Encoder, Passthrough, packetize_h264};
use crate::director::on_air::Change;
use crate::director::{Crop, OnAir, Program, Reframer, Shot};
use crate::sfu::{LocalPacket, RoomControl, RoomVoice, VideoCodec, starts_keyframe};
use crate::supervisor::Part;
use crate::vision::pipeline::FaceBox;

/// RTP payload size the box keeps under (leaves room for headers, SRTP and
/// a VPN or PPPoE link on the way).
const MTU: usize = 1100;

/// A camera as the room's video takes it.
pub struct RoomCamera {
    pub frames: Receiver<Arc<Frame>>,
    /// Viewers' keyframe requests, for a camera whose own H.264 goes out.
    pub keyframes: KeyframeWanted,
    /// Faces check-in sees in this camera's picture (none while it is off).
    pub faces: watch::Receiver<Vec<FaceBox>>,
}

/// Target bitrate for a picture size: about 0.07 bit per pixel per frame,
/// within 150 kbit/s..2.5 Mbit/s.
fn bitrate(frame: &Frame, fps: u32) -> u32 {
    let bps = frame.width as f64 * frame.height as f64 * fps as f64 * 0.07;
    bps.clamp(150_000.0, 2_500_000.0) as u32
}

/// The room-video thread: ends when the box stops, the camera's feed closes
/// or the SFU is gone; `Err` when no encoder can be made.
pub(super) fn encode_video(
    part: &Part,
    mut cameras: Vec<RoomCamera>,
    (width, height, fps): (u32, u32, u32),
    program: watch::Receiver<Program>,
    control: &RoomControl,
    out: &mpsc::Sender<LocalPacket>,
) -> Result<(), String> {
    if cameras.is_empty() {
        return Err("no camera".into());
    }
    let start = Instant::now();
    let picture = PictureSize::new(width, height);
    let mut encoder: Option<H264Encoder> = None;
    let mut passthrough = Passthrough::default();
    let mut reframer = Reframer::default();
    // Reframed pictures come back here once encoded and sent.
    let pictures = BufferPool::default();
    let mut seq = 0u64;
    let mut on_air = OnAir::new(program.borrow().framing.camera.min(cameras.len() - 1));
    while !part.stopping() {
        part.alive();
        if let Some(Change::Cut { from, to }) = on_air.follow(program.borrow().framing.camera.min(cameras.len() - 1)) {
            tracing::debug!(from, to, "room video changes camera");
            // From the new camera's next frame, which starts a keyframe.
            cameras[to].frames = cameras[to].frames.resubscribe();
        }
        let camera = on_air.camera();
        let frame = match next_within(&mut cameras[camera].frames, on_air.wait()) {
            Ok(Some(frame)) => {
                if on_air.frame() == Some(Change::Back) {
                    tracing::info!("room camera back");
                }
                frame
            }
            Ok(None) => {
                if on_air.no_frame() == Some(Change::Away) {
                    tracing::warn!("room camera away; sending the slate");
                }
                // The slate matches the encoder, so viewers' decoders go on.
                let (w, h) = encoder.as_ref().map_or((width, height), H264Encoder::size);
                Arc::new(slate(w, h, "CAMERA OFFLINE", Instant::now()))
            }
            Err(()) => return Ok(()),
        };
        let watched = control.viewers.load(Ordering::Relaxed);
        if frame.format == PixelFormat::H264 {
            // The camera's own stream: no encoder, no framing, and keyframes
            // are the camera's to make. Its parameter sets are learnt even
            // while nobody watches: it may send them only once.
            encoder = None;
            if !watched || on_air.take_fresh() {
                passthrough.restart();
            }
            let nals = passthrough.access_unit(&frame.data);
            if !watched {
                continue;
            }
            if control.keyframe.swap(false, Ordering::Relaxed) || passthrough.waiting() {
                cameras[camera].keyframes.ask();
            }
            if send_picture(&nals, &frame, start, &mut seq, out).is_err() {
                return Ok(());
            }
            continue;
        }
        if !watched {
            on_air.restart();
            continue;
        }
        // The slate is shown whole, whatever the shot.
        let frame = if on_air.away() {
            frame
        } else {
            let crop = shot_crop(&program.borrow(), frame.captured_at, &cameras[camera].faces.borrow());
            framed(&frame, crop, picture, &mut reframer, &pictures)
        };
        // A camera that came back in another size needs a new encoder.
        if encoder.as_ref().is_some_and(|e| e.size() != (frame.width, frame.height)) {
            encoder = None;
            on_air.restart();
        }
        let enc = match &mut encoder {
            Some(e) => e,
            None => match H264Encoder::new(frame.width, frame.height, fps, bitrate(&frame, fps)) {
                Ok(e) => encoder.insert(e),
                Err(e) => return Err(format!("no room video: {e}")),
            },
        };
        let keyframe = on_air.keyframe(control.keyframe.swap(false, Ordering::Relaxed));
        let nals = match enc.encode(&frame, keyframe) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "room video frame not encoded");
                continue;
            }
        };
        if send_picture(&nals, &frame, start, &mut seq, out).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The crop of the program at `at`: a speaker shot, once its pan is done,
/// is moved onto the face it aims at.
fn shot_crop(program: &Program, at: Instant, faces: &[FaceBox]) -> Crop {
    let crop = program.crop_at(at);
    if !matches!(program.framing.shot, Shot::Speaker { .. }) || crop != program.framing.crop || faces.is_empty() {
        return crop;
    }
    let faces: Vec<Crop> = faces.iter().map(|f| Crop { x: f.x, y: f.y, width: f.w, height: f.h }).collect();
    crop.on_face(&faces)
}

/// The frame as the shot shows it: `crop` of it at the outgoing size, in a
/// buffer from `pool` (the frame itself when that is all of it already).
fn framed(
    frame: &Arc<Frame>,
    crop: Crop,
    picture: PictureSize,
    reframer: &mut Reframer,
    pool: &BufferPool,
) -> Arc<Frame> {
    let size = PictureSize::new(frame.width, frame.height);
    if (crop == Crop::FULL && size == picture) || frame.format != PixelFormat::I420 {
        return frame.clone();
    }
    let mut data = pool.take();
    reframer.reframe(&frame.data, size, crop, picture, &mut data);
    Arc::new(Frame {
        seq: frame.seq,
        captured_at: frame.captured_at,
        width: picture.width,
        height: picture.height,
        format: PixelFormat::I420,
        data,
    })
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
            voice: RoomVoice::Nobody,
            captured: frame.captured_at,
        };
        // A full queue means the SFU is behind: drop rather than block capture.
        if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(packet) {
            return Err(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::room_media::drain;
    use crate::capture::h264::{NAL_PPS, NAL_SPS, annex_b, nal_type};
    use crate::capture::sim::TestScene;
    use crate::codec::H264Encoder;
    use crate::director::{Framing, Shot};
    use std::time::Duration;
    use tokio::sync::broadcast;

    /// A camera in which check-in sees nobody.
    fn camera(frames: Receiver<Arc<Frame>>, keyframes: KeyframeWanted) -> RoomCamera {
        RoomCamera { frames, keyframes, faces: watch::channel(Vec::new()).1 }
    }

    fn one_camera(frames: Receiver<Arc<Frame>>, keyframes: KeyframeWanted) -> Vec<RoomCamera> {
        vec![camera(frames, keyframes)]
    }

    /// A program that stays on group view of camera 0 (its sender gone:
    /// the value stays readable).
    fn group() -> watch::Receiver<Program> {
        let framing = Framing { shot: Shot::Group, camera: 0, crop: Crop::FULL };
        watch::channel(Program::cut(framing, Instant::now())).1
    }

    /// A 64×64 frame captured now.
    fn frame(seq: u64, format: PixelFormat, data: Vec<u8>) -> Arc<Frame> {
        Arc::new(Frame { seq, captured_at: Instant::now(), width: 64, height: 64, format, data: data.into() })
    }

    /// Frame `seq` of the test scene, 64×64 I420.
    fn scene_frame(scene: &TestScene, seq: u64) -> Arc<Frame> {
        let mut data = Vec::new();
        scene.render(seq, std::time::SystemTime::now(), &mut data);
        frame(seq, PixelFormat::I420, data)
    }

    #[test]
    fn while_the_camera_is_away_the_slate_goes_out_and_starts_with_a_keyframe() {
        let (frames_tx, frames) = broadcast::channel(8);
        let (out, mut packets) = mpsc::channel(4096);
        let control = Arc::new(RoomControl::default());
        control.viewers.store(true, Ordering::Relaxed);
        let thread = {
            let control = control.clone();
            std::thread::spawn(move || {
                encode_video(
                    &Part::detached("room-video"),
                    one_camera(frames, KeyframeWanted::default()),
                    (64, 64, 10),
                    group(),
                    &control,
                    &out,
                )
            })
        };
        let scene = TestScene::new(64, 64);
        for seq in 0..5 {
            frames_tx.send(scene_frame(&scene, seq)).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!drain(&mut packets, Duration::from_millis(200)).is_empty(), "the camera's frames go out");

        // Unplugged: nothing arrives, yet the room's video goes on.
        let slate = drain(&mut packets, Duration::from_millis(2000));
        assert!(slate.len() >= 3, "slate frames go out: {}", slate.len());
        assert!(slate.iter().any(|p| p.keyframe), "viewers can start on the slate");

        drop(frames_tx);
        assert_eq!(thread.join().unwrap(), Ok(()));
    }

    /// Access units as an encoding camera sends them: Annex B, parameter
    /// sets with the first picture only.
    fn camera_h264(count: u64) -> Vec<Vec<u8>> {
        let scene = TestScene::new(64, 64);
        let mut encoder = H264Encoder::new(64, 64, 10, 200_000).unwrap();
        (0..count)
            .map(|seq| {
                let nals = encoder.encode(&scene_frame(&scene, seq), seq == 4).unwrap();
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
            std::thread::spawn(move || {
                encode_video(
                    &Part::detached("room-video"),
                    one_camera(frames, camera),
                    (64, 64, 10),
                    group(),
                    &control,
                    &out,
                )
            })
        };
        let units = camera_h264(8);
        let send = |from: usize, to: usize| {
            for (seq, au) in units.iter().enumerate().take(to).skip(from) {
                frames_tx.send(frame(seq as u64, PixelFormat::H264, au.clone())).unwrap();
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
        assert_eq!(thread.join().unwrap(), Ok(()));
    }

    #[test]
    fn a_change_of_camera_starts_with_a_keyframe_on_the_same_track() {
        let (tx_a, frames_a) = broadcast::channel(8);
        let (tx_b, frames_b) = broadcast::channel(8);
        let (out, mut packets) = mpsc::channel(4096);
        let control = Arc::new(RoomControl::default());
        control.viewers.store(true, Ordering::Relaxed);
        let wide = Framing { shot: Shot::Group, camera: 0, crop: Crop::FULL };
        let (program, program_rx) = watch::channel(Program::cut(wide, Instant::now()));
        let cameras = vec![camera(frames_a, KeyframeWanted::default()), camera(frames_b, KeyframeWanted::default())];
        let thread = {
            let control = control.clone();
            std::thread::spawn(move || {
                encode_video(&Part::detached("room-video"), cameras, (64, 64, 10), program_rx, &control, &out)
            })
        };
        let scene = TestScene::new(64, 64);
        let send = |tx: &broadcast::Sender<Arc<Frame>>, seq: u64| {
            let _ = tx.send(scene_frame(&scene, seq));
        };
        for seq in 0..6 {
            send(&tx_a, seq);
            send(&tx_b, seq);
            std::thread::sleep(Duration::from_millis(50));
        }
        let before = drain(&mut packets, Duration::from_millis(100));
        assert_eq!(before.iter().filter(|p| p.keyframe).count(), 1, "one keyframe at the start only");

        // The director cuts to camera 1 (a speaker shot in its left half).
        let crop = Crop { x: 0.0, y: 0.2, width: 0.5, height: 0.5 };
        program.send_replace(Program::cut(Framing { shot: Shot::Group, camera: 1, crop }, Instant::now()));
        for seq in 6..12 {
            send(&tx_a, seq);
            send(&tx_b, seq);
            std::thread::sleep(Duration::from_millis(50));
        }
        let after = drain(&mut packets, Duration::from_millis(200));
        // (A picture of camera 0 already waited for may still go out first.)
        assert_eq!(after.iter().filter(|p| p.keyframe).count(), 1, "the new camera starts with a keyframe");
        let seqs: Vec<u64> = before.iter().chain(&after).map(|p| p.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "the same track, its sequence unbroken");
        drop((tx_a, tx_b));
        assert_eq!(thread.join().unwrap(), Ok(()));
    }
}
