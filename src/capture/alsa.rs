//! The microphone array through ALSA: interleaved capture of every device
//! channel, the microphones picked out by the channel map, blocks of a fixed
//! length with the time their first sample was captured.
//!
//! The device is opened lazily and reopened after it goes away, so the
//! capture pump's retry loop is all the hot-plug handling there is: an
//! unplugged array reads as `Gone` until it is back.

// A device shell: it stamps blocks with the clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use alsa::pcm::{Access, Format, HwParams, PCM, State};
use alsa::{Direction, ValueOr};
use nix::errno::Errno;

use super::{AudioBlock, AudioSource, CaptureError, REOPEN_SILENT_AFTER, SampleFormat, SourceInfo};

/// How the array is captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlsaSettings {
    /// ALSA PCM name (`hw:CARD=seeed8micvoicec`, `plughw:1`, a name from an
    /// asoundrc).
    pub device: String,
    /// Channels the device delivers.
    pub channels: u16,
    pub format: SampleFormat,
    pub rate: u32,
    /// Device channel of each microphone, in the order of the geometry.
    pub channel_map: Vec<u16>,
    /// Frames per hardware period and in the whole ring buffer.
    pub period_frames: u32,
    pub buffer_frames: u32,
    /// Frames per block handed on.
    pub block_frames: u32,
}

impl AlsaSettings {
    /// The settings make sense on their own (the device may still refuse).
    pub fn check(&self) -> Result<(), String> {
        if let Some(bad) = self.channel_map.iter().find(|&&c| c >= self.channels) {
            return Err(format!("channel map names channel {bad}, but the device has {} (0-based)", self.channels));
        }
        if self.channel_map.is_empty() {
            return Err("the channel map is empty".into());
        }
        if self.buffer_frames < self.period_frames * 2 {
            return Err("the buffer must hold at least two periods".into());
        }
        Ok(())
    }
}

/// An ALSA capture device as the box's microphone array.
pub struct AlsaMicArray {
    settings: AlsaSettings,
    pcm: Option<PCM>,
    /// What the device delivers, interleaved; reused block to block.
    raw16: Vec<i16>,
    raw32: Vec<i32>,
    seq: u64,
    xruns: u64,
    /// The last data (or the opening): a device that stays silent is closed
    /// and opened again.
    heard_at: Instant,
}

/// How long a read waits for the device before reporting a stall.
const WAIT: Duration = Duration::from_millis(500);

impl AlsaMicArray {
    /// The array on `settings.device`, opened on its first block (and
    /// reopened after it comes back).
    pub fn new(settings: AlsaSettings) -> Self {
        AlsaMicArray {
            settings,
            pcm: None,
            raw16: Vec::new(),
            raw32: Vec::new(),
            seq: 0,
            xruns: 0,
            heard_at: Instant::now(),
        }
    }

    /// Opens the device now, so a wrong name or format is reported at once
    /// with the device's own words.
    pub fn open(settings: AlsaSettings) -> Result<Self, CaptureError> {
        settings.check().map_err(|reason| CaptureError::Device { device: settings.device.clone(), reason })?;
        let mut mic = Self::new(settings);
        mic.pcm = Some(mic.connect()?);
        Ok(mic)
    }

    /// Overruns recovered from so far (each loses the samples that did not
    /// fit in the ring buffer).
    pub fn xruns(&self) -> u64 {
        self.xruns
    }

    fn connect(&self) -> Result<PCM, CaptureError> {
        let s = &self.settings;
        let device = s.device.clone();
        let fail = |what: &str, e: alsa::Error| classify(&device, what, e);
        let pcm = PCM::new(&s.device, Direction::Capture, false).map_err(|e| fail("open", e))?;
        let frames = (s.period_frames, s.buffer_frames);
        set_hw_params(&pcm, &s.device, s.format, s.channels, s.rate, frames)?;
        pcm.start().map_err(|e| fail("start", e))?;
        tracing::info!(device = %s.device, channels = s.channels, rate = s.rate, format = ?s.format, "microphone array open");
        Ok(pcm)
    }

    /// Fills the raw buffer with one block; returns when its first frame was
    /// captured.
    fn read_block(&mut self) -> Result<Instant, CaptureError> {
        let (format, block_frames, rate) = (self.settings.format, self.settings.block_frames, self.settings.rate);
        let channels = usize::from(self.settings.channels);
        let samples = block_frames as usize * channels;
        match format {
            SampleFormat::S16Le => self.raw16.resize(samples, 0),
            SampleFormat::S32Le => self.raw32.resize(samples, 0),
        }
        let mut filled = 0;
        while filled < samples {
            let Some(pcm) = &self.pcm else { return Err(self.gone("closed")) };
            match pcm.wait(Some(WAIT.as_millis() as u32)) {
                Ok(true) => self.heard_at = Instant::now(),
                Ok(false) => {
                    if self.heard_at.elapsed() >= REOPEN_SILENT_AFTER {
                        // As for cameras: back off with the device closed.
                        self.pcm = None;
                        let reason = format!("no audio for {} s; reopening", REOPEN_SILENT_AFTER.as_secs());
                        return Err(CaptureError::Device { device: self.settings.device.clone(), reason });
                    }
                    return Err(CaptureError::Timeout);
                }
                Err(e) => {
                    self.recover(e)?;
                    continue;
                }
            }
            let read = match format {
                SampleFormat::S16Le => pcm.io_i16().and_then(|io| io.readi(&mut self.raw16[filled..])),
                SampleFormat::S32Le => pcm.io_i32().and_then(|io| io.readi(&mut self.raw32[filled..])),
            };
            match read {
                Ok(frames) => filled += frames * channels,
                Err(e) => self.recover(e)?,
            }
        }
        // Frames still in the ring were captured after this block.
        let queued = self.pcm.as_ref().and_then(|p| p.delay().ok()).unwrap_or(0).max(0) as u64;
        let behind = Duration::from_micros((queued + u64::from(block_frames)) * 1_000_000 / u64::from(rate));
        let now = Instant::now();
        Ok(now.checked_sub(behind).unwrap_or(now))
    }

    /// Overruns and suspends are recovered here; anything else closes the
    /// device (reopened on the next read).
    fn recover(&mut self, e: alsa::Error) -> Result<(), CaptureError> {
        let Some(pcm) = &self.pcm else { return Err(self.gone("closed")) };
        match Errno::from_raw(e.errno()) {
            Errno::EPIPE => {
                // Overrun: the ring filled before we read. Samples were lost;
                // the blocks go on.
                self.xruns += 1;
                if self.xruns.is_power_of_two() {
                    tracing::warn!(device = %self.settings.device, xruns = self.xruns, "microphone overrun");
                }
                pcm.prepare().and_then(|()| pcm.start()).map_err(|e| classify(&self.settings.device, "restart", e))
            }
            Errno::ESTRPIPE => {
                // Suspended (system sleep): resume, or start over when the
                // hardware cannot.
                let deadline = Instant::now() + Duration::from_secs(2);
                loop {
                    match pcm.resume() {
                        Err(e) if Errno::from_raw(e.errno()) == Errno::EAGAIN && Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Ok(()) => return Ok(()),
                        Err(_) => {
                            return pcm
                                .prepare()
                                .and_then(|()| pcm.start())
                                .map_err(|e| classify(&self.settings.device, "restart after suspend", e));
                        }
                    }
                }
            }
            Errno::EAGAIN | Errno::EINTR => Ok(()),
            _ => {
                let error = classify(&self.settings.device, "read", e);
                self.pcm = None;
                Err(error)
            }
        }
    }

    fn gone(&self, reason: &str) -> CaptureError {
        CaptureError::Gone { device: self.settings.device.clone(), reason: reason.into() }
    }
}

impl AudioSource for AlsaMicArray {
    fn info(&self) -> SourceInfo {
        let s = &self.settings;
        SourceInfo {
            backend: "alsa",
            device: s.device.clone(),
            description: format!(
                "{} of {} channels, {:?}, {} Hz, {} ms blocks",
                s.channel_map.len(),
                s.channels,
                s.format,
                s.rate,
                u64::from(s.block_frames) * 1000 / u64::from(s.rate)
            ),
        }
    }

    fn next_block(&mut self) -> Result<AudioBlock, CaptureError> {
        if self.pcm.is_none() {
            self.pcm = Some(self.connect()?);
            self.heard_at = Instant::now();
        }
        let captured_at = self.read_block()?;
        let s = &self.settings;
        let channels = usize::from(s.channels);
        let mics = s.channel_map.len();
        let mut samples = Vec::with_capacity(s.block_frames as usize * mics);
        // Only the microphones go on, in geometry order.
        match s.format {
            SampleFormat::S16Le => {
                for frame in self.raw16.chunks_exact(channels) {
                    samples.extend(s.channel_map.iter().map(|&c| i32::from(frame[usize::from(c)])));
                }
            }
            SampleFormat::S32Le => {
                for frame in self.raw32.chunks_exact(channels) {
                    samples.extend(s.channel_map.iter().map(|&c| frame[usize::from(c)]));
                }
            }
        }
        let block =
            AudioBlock { seq: self.seq, captured_at, rate: s.rate, channels: mics as u16, format: s.format, samples };
        self.seq += 1;
        Ok(block)
    }
}

impl Drop for AlsaMicArray {
    fn drop(&mut self) {
        if let Some(pcm) = &self.pcm
            && pcm.state() == State::Running
        {
            let _ = pcm.drop();
        }
    }
}

/// Sets a PCM's hardware parameters as the box uses them: interleaved
/// `format` on `channels` at exactly `rate`, the period and ring buffer
/// near `(period, buffer)` frames. Each refusal names what was asked.
pub(crate) fn set_hw_params(
    pcm: &PCM,
    device: &str,
    format: SampleFormat,
    channels: u16,
    rate: u32,
    (period, buffer): (u32, u32),
) -> Result<(), CaptureError> {
    let fail = |what: &str, e: alsa::Error| classify(device, what, e);
    let hw = HwParams::any(pcm).map_err(|e| fail("read the hardware parameters", e))?;
    hw.set_access(Access::RWInterleaved).map_err(|e| fail("set interleaved access", e))?;
    let format = match format {
        SampleFormat::S16Le => Format::S16LE,
        SampleFormat::S32Le => Format::S32LE,
    };
    hw.set_format(format).map_err(|e| fail(&format!("set format {format}"), e))?;
    hw.set_channels(u32::from(channels)).map_err(|e| fail(&format!("set {channels} channels"), e))?;
    hw.set_rate(rate, ValueOr::Nearest).map_err(|e| fail(&format!("set rate {rate} Hz"), e))?;
    let offered = hw.get_rate().map_err(|e| fail("read the rate", e))?;
    if offered != rate {
        let reason = format!("asked for {rate} Hz, the device offers {offered} Hz");
        return Err(CaptureError::Device { device: device.into(), reason });
    }
    // Frames is a C long, 32 bits on a 32-bit Pi OS; the sizes asked are a
    // few thousand frames.
    let frames = |n: u32| n as alsa::pcm::Frames;
    hw.set_period_size_near(frames(period), ValueOr::Nearest).map_err(|e| fail("set the period size", e))?;
    hw.set_buffer_size_near(frames(buffer)).map_err(|e| fail("set the buffer size", e))?;
    pcm.hw_params(&hw).map_err(|e| fail("apply the hardware parameters", e))
}

/// A device that disappeared (unplugged, driver gone) versus one that
/// refuses what was asked.
pub(crate) fn classify(device: &str, what: &str, e: alsa::Error) -> CaptureError {
    CaptureError::from_errno(device.into(), format!("cannot {what}: {e}"), Some(Errno::from_raw(e.errno())))
}

/// What a capture device offers, as ALSA reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceCaps {
    pub channels: (u32, u32),
    pub rates: (u32, u32),
    /// Of the formats the box captures in.
    pub formats: Vec<SampleFormat>,
}

/// Asks ALSA what `device` can capture, without capturing. A device in use
/// (by a running confcamd) answers at once with an error rather than
/// waiting.
pub fn probe(device: &str) -> Result<DeviceCaps, CaptureError> {
    let fail = |what: &str, e: alsa::Error| classify(device, what, e);
    let pcm = PCM::new(device, Direction::Capture, true).map_err(|e| fail("open", e))?;
    let hw = HwParams::any(&pcm).map_err(|e| fail("read the hardware parameters", e))?;
    let range = |min: alsa::Result<u32>, max: alsa::Result<u32>| -> Result<(u32, u32), CaptureError> {
        Ok((min.map_err(|e| fail("read a range", e))?, max.map_err(|e| fail("read a range", e))?))
    };
    let formats = [(SampleFormat::S16Le, Format::S16LE), (SampleFormat::S32Le, Format::S32LE)]
        .into_iter()
        .filter(|(_, f)| hw.test_format(*f).is_ok())
        .map(|(ours, _)| ours)
        .collect();
    Ok(DeviceCaps {
        channels: range(hw.get_channels_min(), hw.get_channels_max())?,
        rates: range(hw.get_rate_min(), hw.get_rate_max())?,
        formats,
    })
}
