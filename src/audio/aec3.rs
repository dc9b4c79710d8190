//! WebRTC's AEC3 (`sonora-aec3`) driven directly, with a speakerphone's
//! tuning: `sonora`'s `AudioProcessing` builds AEC3 with the default
//! config only, and one default holds the room talker down while the far
//! end plays (`tools/bench-aec`, double talk).
//!
//! It does what the audio processing module does around AEC3: 10 ms
//! frames, split into 16 kHz bands at 48 kHz, the 80 Hz high-pass in
//! front, int16-scaled samples, 80-sample sub-frames into 64-sample blocks.
//! Sans-IO: one frame of every microphone and of the reference in, the
//! same frame without the echo out.

use sonora::high_pass_filter::HighPassFilter;
use sonora::three_band_filter_bank::{FULL_BAND_SIZE, NUM_BANDS, SPLIT_BAND_SIZE, ThreeBandFilterBank};
use sonora_aec3::block::Block;
use sonora_aec3::block_framer::BlockFramer;
use sonora_aec3::block_processor::BlockProcessor;
use sonora_aec3::config::EchoCanceller3Config;
use sonora_aec3::frame_blocker::FrameBlocker;

/// Samples of one band in an 80-sample half of a 10 ms frame.
const SUB_FRAME: usize = SPLIT_BAND_SIZE / 2;
/// AEC3 works on 16-bit-scaled samples (its noise gates and saturation
/// check are in those units).
const SCALE: f32 = 32768.0;
/// A capture sample this close to full scale counts as clipped.
const SATURATED: f32 = 32700.0;

/// The box's AEC3 config: the defaults with four changes, chosen on
/// `tools/bench-aec`'s sixteen rooms (both arrays, the loudspeaker 0.1 and
/// 0.6 m away, RT60 0.3 and 0.6 s) beside Google's AEC3:
/// - a linear filter of 20 blocks (80 ms), not 13 (52 ms): a meeting room
///   rings longer than a laptop's surroundings, and what the filter
///   cancels the suppressor need not hold down. In the RT60 0.6 s room the
///   echo cut while both talk rose from 14.8-15.1 dB to 15.9-16.3;
/// - ERLE estimated in two sections of the filter, not one, and up to
///   9 dB in the low bands, not 6: AEC3 then trusts a well-converged linear
///   filter. With the loudspeaker 0.1 m away it removed 42-43 dB of echo
///   with the defaults (Google's 52), 51 dB with these;
/// - while AEC3 finds the room talker dominant it assumes an echo tail of
///   0.5, not 0.83: it holds the talker down less.
///
/// Double talk at equal levels then costs the room talker 2.3-3.5 dB
/// (defaults: 3.5-5.3 dB; Google's: 2.4-4.5 dB), with 46-70 % of their
/// frames within 6 dB, and the echo is still cut by 15.9-20.3 dB. The longer
/// filter costs 2 ms of CPU per audio second on six microphones.
pub fn config() -> EchoCanceller3Config {
    let mut config = EchoCanceller3Config::default();
    config.filter.refined.length_blocks = 20;
    config.filter.coarse.length_blocks = 20;
    config.erle.num_sections = 2;
    config.erle.max_l = 8.0;
    config.ep_strength.nearend_len = 0.5;
    config
}

/// AEC3 for one microphone array at a rate it splits into 16 kHz bands.
pub struct Aec3 {
    processor: BlockProcessor,
    /// The high-pass the audio processing module puts in front of AEC3, on
    /// the lowest band.
    high_pass: HighPassFilter,
    /// At 48 kHz: a filter bank per microphone, and one for the reference.
    capture_split: Vec<ThreeBandFilterBank>,
    render_split: Option<ThreeBandFilterBank>,
    render_blocker: FrameBlocker,
    capture_blocker: FrameBlocker,
    framer: BlockFramer,
    render_block: Block,
    capture_block: Block,
    /// One frame, `[band][channel][sample]`.
    capture: Vec<Vec<Vec<f32>>>,
    render: Vec<Vec<Vec<f32>>>,
    /// One sub-frame of the output, `[band][channel][sample]`.
    out: Vec<Vec<Vec<f32>>>,
}

impl Aec3 {
    /// For `mics` microphones at `rate`, or None at a rate other than 16 or
    /// 48 kHz (32 kHz needs a two-band splitting filter `sonora` keeps to
    /// itself).
    pub fn new(rate: u32, mics: usize) -> Option<Aec3> {
        let bands = match rate {
            16_000 => 1,
            48_000 => NUM_BANDS,
            _ => return None,
        };
        let frame = (rate / 100) as usize / bands;
        let split = bands > 1;
        Some(Aec3 {
            processor: BlockProcessor::new(&config(), rate as usize, 1, mics),
            high_pass: HighPassFilter::new(16_000, mics),
            capture_split: if split { (0..mics).map(|_| ThreeBandFilterBank::new()).collect() } else { Vec::new() },
            render_split: split.then(ThreeBandFilterBank::new),
            render_blocker: FrameBlocker::new(bands, 1),
            capture_blocker: FrameBlocker::new(bands, mics),
            framer: BlockFramer::new(bands, mics),
            render_block: Block::new(bands, 1),
            capture_block: Block::new(bands, mics),
            capture: vec![vec![vec![0.0; frame]; mics]; bands],
            render: vec![vec![vec![0.0; frame]; 1]; bands],
            out: vec![vec![vec![0.0; frame / 2]; mics]; bands],
        })
    }

    /// Removes the echo of `reference` from one 10 ms frame of every
    /// microphone (full scale ±1), in place.
    pub fn process(&mut self, mics: &mut [Vec<f32>], reference: &[f32]) {
        split(reference, self.render_split.as_mut(), &mut self.render, 0);
        for half in 0..2 {
            let sub: Vec<Vec<&[f32]>> =
                self.render.iter().map(|band| vec![&band[0][half * SUB_FRAME..(half + 1) * SUB_FRAME]]).collect();
            self.render_blocker.insert_sub_frame_and_extract_block(&sub, &mut self.render_block);
            self.processor.buffer_render(&self.render_block);
        }
        if self.render_blocker.is_block_available() {
            self.render_blocker.extract_block(&mut self.render_block);
            self.processor.buffer_render(&self.render_block);
        }

        let saturated = mics.iter().flatten().any(|s| (s * SCALE).abs() >= SATURATED);
        for (m, mic) in mics.iter().enumerate() {
            split(mic, self.capture_split.get_mut(m), &mut self.capture, m);
        }
        self.high_pass.process_channels(&mut self.capture[0]);
        for half in 0..2 {
            let range = half * SUB_FRAME..(half + 1) * SUB_FRAME;
            let sub: Vec<Vec<&[f32]>> =
                self.capture.iter().map(|band| band.iter().map(|c| &c[range.clone()]).collect()).collect();
            self.capture_blocker.insert_sub_frame_and_extract_block(&sub, &mut self.capture_block);
            self.processor.process_capture(false, saturated, None, &mut self.capture_block);
            self.framer.insert_block_and_extract_sub_frame(&self.capture_block, &mut self.out);
            for (band, out) in self.capture.iter_mut().zip(&self.out) {
                for (channel, out) in band.iter_mut().zip(out) {
                    channel[range.clone()].copy_from_slice(out);
                }
            }
        }
        if self.capture_blocker.is_block_available() {
            self.capture_blocker.extract_block(&mut self.capture_block);
            self.processor.process_capture(false, saturated, None, &mut self.capture_block);
            self.framer.insert_block(&self.capture_block);
        }
        for (m, mic) in mics.iter_mut().enumerate() {
            merge(&self.capture, self.capture_split.get_mut(m), m, mic);
        }
    }

    /// (ERLE dB, ERL dB, delay ms) as AEC3 estimates them.
    pub fn metrics(&self) -> (f64, f64, i32) {
        let m = self.processor.get_metrics();
        (m.echo_return_loss_enhancement, m.echo_return_loss, m.delay_ms)
    }
}

/// One full-band frame (±1) into `bands[band][channel]`, int16-scaled.
fn split(frame: &[f32], bank: Option<&mut ThreeBandFilterBank>, bands: &mut [Vec<Vec<f32>>], channel: usize) {
    match bank {
        None => {
            let out = &mut bands[0][channel];
            for (o, s) in out.iter_mut().zip(frame.iter().chain(std::iter::repeat(&0.0))) {
                *o = s * SCALE;
            }
        }
        Some(bank) => {
            let mut full = [0.0f32; FULL_BAND_SIZE];
            for (o, s) in full.iter_mut().zip(frame) {
                *o = s * SCALE;
            }
            let mut split = [[0.0f32; SPLIT_BAND_SIZE]; NUM_BANDS];
            bank.analysis(&full, &mut split);
            for (band, samples) in bands.iter_mut().zip(&split) {
                band[channel].copy_from_slice(samples);
            }
        }
    }
}

/// `bands[band][channel]` back into one full-band frame (±1).
fn merge(bands: &[Vec<Vec<f32>>], bank: Option<&mut ThreeBandFilterBank>, channel: usize, frame: &mut [f32]) {
    match bank {
        None => {
            for (o, s) in frame.iter_mut().zip(&bands[0][channel]) {
                *o = s / SCALE;
            }
        }
        Some(bank) => {
            let mut split = [[0.0f32; SPLIT_BAND_SIZE]; NUM_BANDS];
            for (samples, band) in split.iter_mut().zip(bands) {
                samples.copy_from_slice(&band[channel]);
            }
            let mut full = [0.0f32; FULL_BAND_SIZE];
            bank.synthesis(&split, &mut full);
            for (o, s) in frame.iter_mut().zip(&full) {
                *o = s / SCALE;
            }
        }
    }
}
