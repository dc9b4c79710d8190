//! The far end through the room's loudspeaker, 10 ms at a time: the SFU's
//! far-end packets go into the [`FarEndMix`], the mix (at the admin's
//! volume) goes to the [`Speaker`], and what was played, with when it
//! sounds, goes on to the room's listening as the echo canceller's
//! reference. It runs as a capture pump does (the device paces it; a device
//! that fails is retried with back-off and reported in `/healthz`), so the
//! reference is a feed like the microphones'.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Async, FixedAsync, Resampler, SincInterpolationParameters, WindowFunction};
use tokio::sync::watch;

use crate::capture::CaptureError;
use crate::codec::OPUS_RATE;
use crate::config::Config;
use crate::loudspeaker::{FarEndMix, Speaker, SpeakerCounters};
use crate::sfu::FarAudio;

/// The mix is made and played this many samples (10 ms at 48 kHz) at a time.
const CHUNK: usize = OPUS_RATE as usize / 100;

/// What the loudspeaker played: the echo canceller's reference.
#[derive(Debug, Clone)]
pub struct Played {
    /// When the first sample sounds.
    pub sounds_at: Instant,
    /// The device's rate.
    pub rate: u32,
    pub samples: Vec<f32>,
}

pub struct Playing {
    speaker: Box<dyn Speaker>,
    mix: FarEndMix,
    far_audio: Receiver<FarAudio>,
    config: watch::Receiver<Config>,
    counters: Arc<SpeakerCounters>,
    /// 48 kHz to the device's rate, when it is another.
    resampler: Option<Async<f32>>,
    chunk: Vec<f32>,
    out: Vec<f32>,
}

impl Playing {
    pub fn new(
        speaker: Box<dyn Speaker>,
        far_audio: Receiver<FarAudio>,
        config: watch::Receiver<Config>,
        counters: Arc<SpeakerCounters>,
    ) -> Self {
        let rate = speaker.rate();
        let resampler = (rate != OPUS_RATE).then(|| {
            let sinc = SincInterpolationParameters::new(64, WindowFunction::BlackmanHarris2);
            let ratio = f64::from(rate) / f64::from(OPUS_RATE);
            Async::new_sinc(ratio, 1.0, &sinc, CHUNK, 1, FixedAsync::Input).expect("positive rates, a chunk")
        });
        let mut playing = Playing {
            speaker,
            mix: FarEndMix::default(),
            far_audio,
            config,
            counters,
            resampler,
            chunk: vec![0.0; CHUNK],
            out: Vec::new(),
        };
        playing.follow_settings(true);
        playing
    }

    fn follow_settings(&mut self, force: bool) {
        if force || self.config.has_changed().unwrap_or(false) {
            let speaker = self.config.borrow_and_update().speaker.clone();
            self.mix.set_volume(speaker.volume_percent.get() as u8);
            self.mix.set_muted(speaker.far_end_muted);
        }
    }

    /// Plays the next 10 ms; returns what was played and when it sounds.
    pub fn play_next(&mut self) -> Result<Played, CaptureError> {
        self.follow_settings(false);
        if self.counters.tone.swap(false, Ordering::Relaxed) {
            self.mix.play_tone();
        }
        let now = Instant::now();
        for audio in self.far_audio.try_iter() {
            match audio {
                FarAudio::Packet { participant, seq, payload } => self.mix.push(participant, seq, &payload, now),
                FarAudio::Left(participant) => self.mix.leave(participant),
            }
        }
        self.mix.pull(now, &mut self.chunk);
        self.counters.set_mix(self.mix.counts());
        match &mut self.resampler {
            None => {
                self.out.clear();
                self.out.extend_from_slice(&self.chunk);
            }
            Some(resampler) => {
                self.out.resize(resampler.output_frames_max(), 0.0);
                let input = InterleavedSlice::new(&self.chunk[..], 1, CHUNK).expect("one chunk");
                let frames = self.out.len();
                let mut output = InterleavedSlice::new_mut(&mut self.out[..], 1, frames).expect("sized to the most");
                let produced = resampler.process_into_buffer(&input, &mut output, None).map_or(0, |(_, n)| n);
                self.out.truncate(produced);
            }
        }
        let sounds_at = self.speaker.play(&self.out)?;
        self.counters.underruns.store(self.speaker.underruns(), Ordering::Relaxed);
        Ok(Played { sounds_at, rate: self.speaker.rate(), samples: self.out.clone() })
    }
}
