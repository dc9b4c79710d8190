//! The loudspeaker through ALSA: interleaved 16-bit playback, the mono mix
//! on every channel, blocking writes (the device paces the far end), the
//! time each write will sound from the PCM's delay report.
//!
//! Opened lazily and again after it goes away (a USB speakerphone
//! unplugged), like the microphone array; an underrun is recovered and
//! counted.

// A device shell: it reads the clock for the PCM's delay.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use alsa::Direction;
use alsa::pcm::{PCM, State};
use nix::errno::Errno;

use super::Speaker;
use crate::capture::alsa::{classify, set_hw_params};
use crate::capture::{CaptureError, SampleFormat, SourceInfo};

/// How the loudspeaker is driven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerSettings {
    /// ALSA PCM name (`plughw:CARD=seeed8micvoicec`, `hdmi:0`, a name from
    /// an asoundrc).
    pub device: String,
    pub channels: u16,
    pub rate: u32,
    /// Frames per period and in the ring buffer: the ring is how far ahead
    /// of the room the far end is written (latency against underruns).
    pub period_frames: u32,
    pub buffer_frames: u32,
}

pub struct AlsaSpeaker {
    settings: SpeakerSettings,
    pcm: Option<PCM>,
    interleaved: Vec<i16>,
    underruns: u64,
}

impl AlsaSpeaker {
    /// The loudspeaker on `settings.device`, opened on its first write.
    pub fn new(settings: SpeakerSettings) -> Self {
        AlsaSpeaker { settings, pcm: None, interleaved: Vec::new(), underruns: 0 }
    }

    fn connect(&self) -> Result<PCM, CaptureError> {
        let s = &self.settings;
        let device = s.device.clone();
        let fail = |what: &str, e: alsa::Error| classify(&device, what, e);
        let pcm = PCM::new(&s.device, Direction::Playback, false).map_err(|e| fail("open for playback", e))?;
        let frames = (s.period_frames, s.buffer_frames);
        set_hw_params(&pcm, &s.device, SampleFormat::S16Le, s.channels, s.rate, frames)?;
        pcm.prepare().map_err(|e| fail("prepare", e))?;
        tracing::info!(device = %s.device, channels = s.channels, rate = s.rate, "loudspeaker open");
        Ok(pcm)
    }

    /// Underruns and suspends are recovered here; anything else closes the
    /// device (opened again on the next write).
    fn recover(&mut self, e: alsa::Error) -> Result<(), CaptureError> {
        let device = self.settings.device.clone();
        let Some(pcm) = &self.pcm else { return Err(CaptureError::Gone { device, reason: "closed".into() }) };
        match Errno::from_raw(e.errno()) {
            Errno::EPIPE => {
                self.underruns += 1;
                if self.underruns.is_power_of_two() {
                    tracing::warn!(%device, underruns = self.underruns, "loudspeaker underrun");
                }
                pcm.prepare().map_err(|e| classify(&device, "restart after an underrun", e))
            }
            Errno::ESTRPIPE => {
                let deadline = Instant::now() + Duration::from_secs(2);
                while let Err(e) = pcm.resume() {
                    if Errno::from_raw(e.errno()) != Errno::EAGAIN || Instant::now() >= deadline {
                        return pcm.prepare().map_err(|e| classify(&device, "restart after suspend", e));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(())
            }
            Errno::EAGAIN | Errno::EINTR => Ok(()),
            _ => {
                self.pcm = None;
                Err(classify(&device, "write", e))
            }
        }
    }
}

impl Speaker for AlsaSpeaker {
    fn info(&self) -> SourceInfo {
        let s = &self.settings;
        SourceInfo {
            backend: "alsa",
            device: s.device.clone(),
            description: format!(
                "{} channels, S16_LE, {} Hz, {} ms buffer",
                s.channels,
                s.rate,
                u64::from(s.buffer_frames) * 1000 / u64::from(s.rate.max(1))
            ),
        }
    }

    fn rate(&self) -> u32 {
        self.settings.rate
    }

    fn underruns(&self) -> u64 {
        self.underruns
    }

    fn play(&mut self, samples: &[f32]) -> Result<Instant, CaptureError> {
        if self.pcm.is_none() {
            self.pcm = Some(self.connect()?);
        }
        let channels = usize::from(self.settings.channels.max(1));
        self.interleaved.clear();
        for &s in samples {
            let v = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16;
            self.interleaved.extend(std::iter::repeat_n(v, channels));
        }
        let mut written = 0;
        while written < samples.len() {
            let Some(pcm) = &self.pcm else { unreachable!("opened above; closed only with an error return") };
            let result = pcm.io_i16().and_then(|io| io.writei(&self.interleaved[written * channels..]));
            match result {
                Ok(frames) => written += frames,
                Err(e) => self.recover(e)?,
            }
        }
        // What is queued now ends with these samples: the first of them
        // sounds after the rest of the queue.
        let pcm = self.pcm.as_ref().expect("open: the writes above succeeded");
        let queued = pcm.delay().unwrap_or(0).max(0) as u64;
        let ahead = queued.saturating_sub(samples.len() as u64);
        Ok(Instant::now() + Duration::from_micros(ahead * 1_000_000 / u64::from(self.settings.rate.max(1))))
    }
}

impl Drop for AlsaSpeaker {
    fn drop(&mut self) {
        if let Some(pcm) = &self.pcm
            && pcm.state() == State::Running
        {
            let _ = pcm.drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Playing through alsa-lib's file plugin is tested end to end
    // (`confcamd speaker-test` in the e2e suite): alsa-lib reads its
    // configuration once per process.

    #[test]
    fn a_missing_device_is_an_error_that_names_it() {
        let settings = SpeakerSettings {
            device: "hw:CARD=NoSuchCard".into(),
            channels: 1,
            rate: 48_000,
            period_frames: 480,
            buffer_frames: 1920,
        };
        let mut missing = AlsaSpeaker::new(settings);
        let error = missing.play(&[0.0; 480]).unwrap_err();
        assert!(error.to_string().contains("NoSuchCard"), "{error}");
        assert_eq!(missing.underruns(), 0);
    }
}
