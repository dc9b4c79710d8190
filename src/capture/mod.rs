//! Where pictures and sound enter the box.
//!
//! A [`VideoSource`] or [`AudioSource`] is a blocking device (V4L2, ALSA, or a
//! simulated one) driven by its own OS thread (`pump`). Each frame or block
//! is handed on as an `Arc` through a bounded broadcast ring: a consumer that
//! falls behind loses the oldest items and learns how many, and capture never
//! blocks or grows memory.

pub mod alsa;
mod buffer;
pub mod convert;
mod font;
pub mod h264;
mod health;
pub mod mjpeg;
mod pump;
pub mod scale;
pub mod sim;
pub mod slate;
pub mod v4l2;

pub use buffer::{BufferPool, FrameBuf};
pub use health::{SourceHealth, SourceState, SourceStatus};
pub use pump::{Feed, spawn_pump};

/// Where each microphone of the array sits, in metres, in the array's own
/// frame (x to the front of the box, y to its left, z up).
#[derive(Debug, Clone, PartialEq)]
pub struct MicArray {
    pub positions: Vec<[f32; 3]>,
}

/// Speed of sound at room temperature, m/s.
pub const SPEED_OF_SOUND: f32 = 343.0;

use std::time::Instant;

/// Pixel layouts frames are handed on in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// Planar Y, then U and V at half width and half height (what H.264
    /// encoders take).
    I420,
    /// One H.264 access unit in Annex B form, from a camera that encodes
    /// (passthrough): forwarded as it is, never looked into for pixels.
    H264,
}

/// One captured picture.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Counts every frame the source produced, so gaps show drops.
    pub seq: u64,
    pub captured_at: Instant,
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    /// Goes back to the source's pool when the last holder drops the frame.
    pub data: FrameBuf,
}

impl Frame {
    /// The Y (luma) plane of an I420 frame (empty for H.264).
    pub fn luma(&self) -> &[u8] {
        if self.format != PixelFormat::I420 {
            return &[];
        }
        &self.data[..(self.width * self.height) as usize]
    }
}

/// How samples are laid out on the wire from the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SampleFormat {
    #[serde(rename = "S16_LE")]
    S16Le,
    #[serde(rename = "S32_LE")]
    S32Le,
}

impl SampleFormat {
    /// Largest sample value, to turn samples into full-scale fractions.
    pub fn full_scale(self) -> f32 {
        match self {
            SampleFormat::S16Le => i16::MAX as f32,
            SampleFormat::S32Le => i32::MAX as f32,
        }
    }
}

/// A block of interleaved samples from every microphone of the array (device
/// channels that are not microphones have already been dropped).
#[derive(Debug, Clone)]
pub struct AudioBlock {
    pub seq: u64,
    /// When the first sample of the block was captured.
    pub captured_at: Instant,
    pub rate: u32,
    /// Microphones in the block, in the order of the array geometry.
    pub channels: u16,
    pub format: SampleFormat,
    /// `frames × channels` samples as captured (S16 values stay in i16 range),
    /// so nothing is lost before processing.
    pub samples: Vec<i32>,
}

impl AudioBlock {
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1) as usize
    }

    /// The samples one vector per microphone, full scale ±1 (into vectors
    /// the caller keeps from block to block).
    pub fn split_channels(&self, out: &mut Vec<Vec<f32>>) {
        let channels = usize::from(self.channels.max(1));
        let scale = 1.0 / self.format.full_scale();
        out.resize_with(channels, Vec::new);
        for (c, channel) in out.iter_mut().enumerate() {
            channel.clear();
            channel.extend(self.samples.iter().skip(c).step_by(channels).map(|&s| s as f32 * scale));
        }
    }
}

/// What backs a source, for logs, `/healthz` and the admin page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceInfo {
    /// `simulated`, `v4l2`, `alsa`.
    pub backend: &'static str,
    /// Device path or name.
    pub device: String,
    /// Human description: format, size, rate.
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Nothing arrived in time; the caller retries (a stalled device keeps
    /// answering this).
    #[error("no data from the device in time")]
    Timeout,
    /// The device went away (unplugged); the caller reopens it with back-off.
    #[error("device {device} is gone: {reason}")]
    Gone { device: String, reason: String },
    #[error("device {device}: {reason}")]
    Device { device: String, reason: String },
}

impl CaptureError {
    /// A device call that failed with `errno`: gone when the device itself
    /// is missing (unplugged, driver unloaded), else refusing what was asked.
    pub fn from_errno(device: String, reason: String, errno: Option<nix::errno::Errno>) -> Self {
        use nix::errno::Errno;
        match errno {
            Some(Errno::ENOENT | Errno::ENODEV | Errno::ENXIO | Errno::EBADFD | Errno::EIO) => {
                CaptureError::Gone { device, reason }
            }
            _ => CaptureError::Device { device, reason },
        }
    }
}

/// A device that delivers nothing this long is closed and opened again (a
/// hung USB camera or array often comes back so; and a closed device can be
/// unloaded).
pub const REOPEN_SILENT_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// A camera: blocks until it has the next frame.
pub trait VideoSource: Send + 'static {
    fn info(&self) -> SourceInfo;
    fn next_frame(&mut self) -> Result<Frame, CaptureError>;
}

/// A microphone array: blocks until it has the next block.
pub trait AudioSource: Send + 'static {
    fn info(&self) -> SourceInfo;
    fn next_block(&mut self) -> Result<AudioBlock, CaptureError>;
}
