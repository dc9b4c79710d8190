//! A camera through V4L2: format negotiation, MMAP streaming, and every
//! frame turned into I420 (MJPEG decoded, YUYV and NV12 converted), or, for
//! H.264 passthrough, the camera's own access units handed on as they are.
//!
//! Like the ALSA source, the device is opened lazily and reopened after it
//! goes away; the capture pump's retry loop does the rest of hot-plug.

// A device shell: it stamps frames with the clock.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use v4l::buffer::Type;
use v4l::control::{Control, Value};
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::video::capture::Parameters;
use v4l::{Device, FourCC};

use super::convert::{PictureSize, RawLayout, nv12_to_i420, yuyv_to_i420};
use super::h264::{KeyframeWanted, NAL_SPS, Profile, nal_type, nal_units};
use super::mjpeg::MjpegDecoder;
use super::{BufferPool, CaptureError, Frame, PixelFormat, REOPEN_SILENT_AFTER, SourceInfo, VideoSource};

/// Formats the box takes from a camera, most wanted first: its own H.264
/// when passthrough is on (no decode, no encode); MJPEG, which carries 720p30
/// over USB 2 where raw YUYV manages 10 fps; NV12, what CSI cameras (through
/// the ISP) and vivid give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Pixels {
    H264,
    Mjpeg,
    Yuyv,
    Nv12,
}

impl Pixels {
    const PREFERENCE: [Pixels; 4] = [Pixels::H264, Pixels::Mjpeg, Pixels::Yuyv, Pixels::Nv12];

    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Pixels::H264 => *b"H264",
            Pixels::Mjpeg => *b"MJPG",
            Pixels::Yuyv => *b"YUYV",
            Pixels::Nv12 => *b"NV12",
        }
    }

    fn from_fourcc(code: [u8; 4]) -> Option<Pixels> {
        Self::PREFERENCE.into_iter().find(|p| p.fourcc() == code)
    }
}

/// Asks an encoding camera for a keyframe now (a button control; the Pi's
/// encoders have it, most UVC cameras do not).
const FORCE_KEY_FRAME: u32 = 0x0099_0900 + 229;

/// What a camera offers in one pixel format.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Offer {
    /// The FourCC as text (`MJPG`, `YUYV`, `H264`…).
    pub fourcc: String,
    pub description: String,
    /// Discrete sizes (for a stepwise range, its corners).
    pub sizes: Vec<(u32, u32)>,
    /// Frame rates offered at each size, by position in `sizes` (empty when
    /// the driver does not say).
    pub rates: Vec<Vec<f32>>,
}

/// The format to ask for: the wanted size in the most wanted pixel format
/// that has it; else the smallest size that covers the wanted one (the
/// encoder scales down), else the largest there is. H.264 only with
/// `passthrough`, and then before anything else the camera offers.
pub fn negotiate(offers: &[Offer], width: u32, height: u32, passthrough: bool) -> Option<(Pixels, u32, u32)> {
    if passthrough && let Some(found) = pick(offers, width, height, |p| p == Pixels::H264) {
        return Some(found);
    }
    pick(offers, width, height, |p| p != Pixels::H264)
}

fn pick(offers: &[Offer], width: u32, height: u32, wanted: impl Fn(Pixels) -> bool) -> Option<(Pixels, u32, u32)> {
    let usable: Vec<(Pixels, (u32, u32))> = offers
        .iter()
        .filter_map(|o| Pixels::from_fourcc(o.fourcc.as_bytes().try_into().ok()?).map(|p| (p, &o.sizes)))
        .filter(|(p, _)| wanted(*p))
        .flat_map(|(p, sizes)| sizes.iter().map(move |&s| (p, s)))
        .collect();
    let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    let covers = |(w, h): (u32, u32)| w >= width && h >= height;
    usable
        .iter()
        .filter(|(_, s)| *s == (width, height))
        .min_by_key(|(p, _)| *p)
        .or_else(|| usable.iter().filter(|(_, s)| covers(*s)).min_by_key(|(p, s)| (area(*s), *p)))
        .or_else(|| usable.iter().max_by_key(|(p, s)| (area(*s), std::cmp::Reverse(*p))))
        .map(|&(p, (w, h))| (p, w, h))
}

/// Everything a camera offers, for `confcamd devices` and negotiation.
pub fn offers(device: &Device) -> std::io::Result<Vec<Offer>> {
    let mut out = Vec::new();
    for format in device.enum_formats()? {
        let sizes = device
            .enum_framesizes(format.fourcc)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|s| match s.size {
                FrameSizeEnum::Discrete(d) => vec![(d.width, d.height)],
                FrameSizeEnum::Stepwise(s) => vec![(s.min_width, s.min_height), (s.max_width, s.max_height)],
            })
            .collect::<Vec<(u32, u32)>>();
        let rates = sizes
            .iter()
            .map(|&(w, h)| {
                let intervals = device.enum_frameintervals(format.fourcc, w, h).unwrap_or_default();
                intervals
                    .into_iter()
                    .flat_map(|i| match i.interval {
                        FrameIntervalEnum::Discrete(f) => vec![f],
                        FrameIntervalEnum::Stepwise(s) => vec![s.min, s.max],
                    })
                    .filter(|f| f.numerator > 0)
                    .map(|f| f.denominator as f32 / f.numerator as f32)
                    .collect()
            })
            .collect();
        out.push(Offer {
            fourcc: String::from_utf8_lossy(&format.fourcc.repr).into_owned(),
            description: format.description,
            sizes,
            rates,
        });
    }
    Ok(out)
}

/// A camera's name and offers, read without streaming.
pub fn describe(path: &Path) -> Result<(String, Vec<Offer>), CaptureError> {
    let device = Device::with_path(path).map_err(|e| classify(path, "open", e))?;
    let caps = device.query_caps().map_err(|e| classify(path, "query", e))?;
    let offers = offers(&device).map_err(|e| classify(path, "list formats", e))?;
    Ok((caps.card, offers))
}

/// A V4L2 camera as the box's camera.
pub struct V4l2Camera {
    path: PathBuf,
    width: u32,
    height: u32,
    fps: u32,
    open: Option<Open>,
    mjpeg: MjpegDecoder,
    buffers: BufferPool,
    /// Frames counted across reopenings, so gaps show as drops.
    seq: u64,
    /// Frames the driver skipped (sequence gaps) and frames that could not
    /// be decoded.
    pub dropped: u64,
    /// Set for H.264 passthrough: viewers' keyframe requests.
    passthrough: Option<KeyframeWanted>,
}

struct Open {
    // Field order: the stream stops before the device closes.
    stream: Stream<'static>,
    device: Device,
    pixels: Pixels,
    layout: RawLayout,
    last_sequence: Option<u32>,
    /// The last frame (or the opening), to give up on a hung device.
    last_frame_at: Instant,
}

/// How long a dequeue waits before reporting a stall.
const WAIT: Duration = Duration::from_millis(1000);

impl V4l2Camera {
    /// A camera at `path`, opened on its first frame (and reopened after it
    /// comes back).
    pub fn new(path: &Path, width: u32, height: u32, fps: u32) -> Self {
        V4l2Camera {
            path: path.to_path_buf(),
            width,
            height,
            fps,
            open: None,
            mjpeg: MjpegDecoder::new(),
            buffers: BufferPool::default(),
            seq: 0,
            dropped: 0,
            passthrough: None,
        }
    }

    /// Takes the camera's own H.264 when it offers it (and it is what phones
    /// decode), handing on access units instead of I420; `keyframes` brings
    /// the viewers' requests.
    pub fn with_passthrough(mut self, keyframes: KeyframeWanted) -> Self {
        self.passthrough = Some(keyframes);
        self
    }

    fn connect(&self) -> Result<Open, CaptureError> {
        let path = &self.path;
        let device = Device::with_path(path).map_err(|e| classify(path, "open", e))?;
        let offered = offers(&device).map_err(|e| classify(path, "list formats", e))?;
        let Some((pixels, w, h)) = negotiate(&offered, self.width, self.height, self.passthrough.is_some()) else {
            let had: Vec<&str> = offered.iter().map(|o| o.fourcc.as_str()).collect();
            let reason = if had.is_empty() {
                "offers no formats (yet)".to_string()
            } else {
                format!("offers none of MJPG, YUYV, NV12 (has {})", had.join(", "))
            };
            return Err(CaptureError::Device { device: path.display().to_string(), reason });
        };
        let mut format = device.format().map_err(|e| classify(path, "read the format", e))?;
        format.width = w;
        format.height = h;
        format.fourcc = FourCC::new(&pixels.fourcc());
        let format = device.set_format(&format).map_err(|e| classify(path, "set the format", e))?;
        if format.fourcc.repr != pixels.fourcc() {
            return Err(CaptureError::Device {
                device: path.display().to_string(),
                reason: format!("asked for {pixels:?}, the driver chose {}", format.fourcc),
            });
        }
        // Not every driver takes a frame rate; the one it keeps is fine.
        let _ = device.set_params(&Parameters::with_fps(self.fps));
        let layout =
            RawLayout { size: PictureSize::new(format.width, format.height), bytes_per_line: format.stride as usize };
        let mut stream =
            Stream::with_buffers(&device, Type::VideoCapture, 4).map_err(|e| classify(path, "map buffers", e))?;
        stream.set_timeout(WAIT);
        tracing::info!(camera = %path.display(), ?pixels, width = format.width, height = format.height, "camera open");
        Ok(Open { stream, device, pixels, layout, last_sequence: None, last_frame_at: Instant::now() })
    }
}

/// Why an H.264 buffer was not handed on.
#[derive(Debug)]
enum NotPassed {
    /// The stream is not what phones were offered.
    Refused(String),
    /// No NAL units in the buffer (a stale or empty one).
    Empty,
}

/// Checks one H.264 access unit and copies it into `data`.
fn pass_through(
    device: &Device,
    keyframes: Option<&KeyframeWanted>,
    au: &[u8],
    data: &mut Vec<u8>,
) -> Result<(), NotPassed> {
    if nal_units(au).next().is_none() {
        return Err(NotPassed::Empty);
    }
    if let Some(reason) = nal_units(au)
        .filter(|nal| nal_type(nal) == NAL_SPS)
        .find_map(|sps| Profile::of_sps(sps).map_or(Err("unreadable SPS".to_string()), Profile::forwardable).err())
    {
        return Err(NotPassed::Refused(reason));
    }
    if keyframes.is_some_and(KeyframeWanted::take)
        && let Err(e) = device.set_control(Control { id: FORCE_KEY_FRAME, value: Value::None })
    {
        tracing::debug!(error = %e, "keyframe not forced; viewers wait for the camera's next");
    }
    data.clear();
    data.extend_from_slice(au);
    Ok(())
}

impl VideoSource for V4l2Camera {
    fn info(&self) -> SourceInfo {
        let description = match &self.open {
            Some(o) if o.pixels == Pixels::H264 => {
                format!("H.264 {}×{} passed through", o.layout.size.width, o.layout.size.height)
            }
            Some(o) => format!("{:?} {}×{} → I420", o.pixels, o.layout.size.width, o.layout.size.height),
            None => format!("{}×{} at {} fps (not open)", self.width, self.height, self.fps),
        };
        SourceInfo { backend: "v4l2", device: self.path.display().to_string(), description }
    }

    fn next_frame(&mut self) -> Result<Frame, CaptureError> {
        if self.open.is_none() {
            self.open = Some(self.connect()?);
        }
        let Some(open) = self.open.as_mut() else { unreachable!("opened just above") };
        let (buf, meta) = match open.stream.next() {
            Ok(next) => next,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                if open.last_frame_at.elapsed() >= REOPEN_SILENT_AFTER {
                    // An error, not a timeout: the pump backs off with the
                    // device closed, which is when a driver can be unloaded.
                    self.open = None;
                    let reason = format!("no frames for {} s; reopening", REOPEN_SILENT_AFTER.as_secs());
                    return Err(CaptureError::Device { device: self.path.display().to_string(), reason });
                }
                return Err(CaptureError::Timeout);
            }
            Err(e) => {
                let error = classify(&self.path, "dequeue", e);
                self.open = None;
                return Err(error);
            }
        };
        let captured_at = Instant::now();
        open.last_frame_at = captured_at;
        if let Some(last) = open.last_sequence {
            let skipped = meta.sequence.wrapping_sub(last).saturating_sub(1);
            self.dropped += u64::from(skipped);
            self.seq += u64::from(skipped);
        }
        open.last_sequence = Some(meta.sequence);
        let used = &buf[..(meta.bytesused as usize).min(buf.len())];
        let mut data = self.buffers.take();
        let format = if open.pixels == Pixels::H264 { PixelFormat::H264 } else { PixelFormat::I420 };
        let size = match open.pixels {
            Pixels::H264 => match pass_through(&open.device, self.passthrough.as_ref(), used, &mut data) {
                Ok(()) => Ok(open.layout.size),
                Err(NotPassed::Empty) => Err("an H.264 buffer without NAL units".to_string()),
                Err(NotPassed::Refused(reason)) => {
                    // Off for good: the camera reopens in a format the box encodes.
                    tracing::warn!(camera = %self.path.display(), %reason, "the camera's H.264 cannot go to phones as it is; encoding another of its formats instead");
                    self.passthrough = None;
                    self.open = None;
                    return Err(CaptureError::Timeout);
                }
            },
            Pixels::Mjpeg => self.mjpeg.decode(used, &mut data).map_err(|e| e.to_string()),
            Pixels::Yuyv => {
                yuyv_to_i420(used, open.layout, &mut data).map(|()| open.layout.size).map_err(|e| e.to_string())
            }
            Pixels::Nv12 => {
                nv12_to_i420(used, open.layout, &mut data).map(|()| open.layout.size).map_err(|e| e.to_string())
            }
        };
        let seq = self.seq;
        self.seq += 1;
        match size {
            Ok(size) => Ok(Frame { seq, captured_at, width: size.width, height: size.height, format, data }),
            Err(reason) => {
                // A partial or stale buffer (the first one of some cameras):
                // dropped, the stream goes on.
                self.dropped += 1;
                tracing::debug!(camera = %self.path.display(), %reason, "frame dropped");
                Err(CaptureError::Timeout)
            }
        }
    }
}

/// A camera that went away versus one that refuses what was asked.
fn classify(path: &Path, what: &str, e: std::io::Error) -> CaptureError {
    let errno = e.raw_os_error().map(nix::errno::Errno::from_raw);
    CaptureError::from_errno(path.display().to_string(), format!("cannot {what}: {e}"), errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(fourcc: &str, sizes: &[(u32, u32)]) -> Offer {
        Offer { fourcc: fourcc.into(), description: String::new(), sizes: sizes.to_vec(), rates: Vec::new() }
    }

    #[test]
    fn mjpeg_is_preferred_at_the_wanted_size() {
        let offers = [offer("YUYV", &[(640, 480), (1280, 720)]), offer("MJPG", &[(640, 480), (1280, 720)])];
        assert_eq!(negotiate(&offers, 1280, 720, false), Some((Pixels::Mjpeg, 1280, 720)));
    }

    #[test]
    fn a_raw_format_that_has_the_size_beats_mjpeg_that_does_not() {
        let offers = [offer("MJPG", &[(1920, 1080)]), offer("YUYV", &[(1280, 720)])];
        assert_eq!(negotiate(&offers, 1280, 720, false), Some((Pixels::Yuyv, 1280, 720)));
    }

    #[test]
    fn without_the_size_the_smallest_that_covers_it_then_the_largest() {
        let offers = [offer("NV12", &[(640, 360), (1920, 1080), (3840, 2160)])];
        assert_eq!(negotiate(&offers, 1280, 720, false), Some((Pixels::Nv12, 1920, 1080)));
        let small = [offer("YUYV", &[(320, 240), (640, 480)])];
        assert_eq!(negotiate(&small, 1280, 720, false), Some((Pixels::Yuyv, 640, 480)));
    }

    #[test]
    fn formats_the_box_cannot_take_are_ignored() {
        let offers = [offer("H264", &[(1280, 720)]), offer("RGB3", &[(1280, 720)])];
        assert_eq!(negotiate(&offers, 1280, 720, false), None, "H.264 only for passthrough");
    }

    #[test]
    fn passthrough_takes_the_cameras_h264_first_and_falls_back_without_it() {
        let offers = [offer("MJPG", &[(1280, 720)]), offer("H264", &[(640, 480), (1920, 1080)])];
        assert_eq!(negotiate(&offers, 1280, 720, true), Some((Pixels::H264, 1920, 1080)));
        assert_eq!(negotiate(&offers, 1280, 720, false), Some((Pixels::Mjpeg, 1280, 720)));
        assert_eq!(negotiate(&offers[..1], 1280, 720, true), Some((Pixels::Mjpeg, 1280, 720)));
    }

    #[test]
    fn a_missing_camera_is_gone_and_named() {
        let e = describe(Path::new("/dev/video-that-is-not-there")).unwrap_err();
        assert!(matches!(e, CaptureError::Gone { .. }), "{e:?}");
        assert!(e.to_string().contains("/dev/video-that-is-not-there"), "{e}");
    }
}
