//! How the simulated room carries the loudspeaker to each microphone: a
//! room impulse response per microphone from the image-source method
//! (Allen & Berkley) in a shoebox room, walls absorbing as Sabine's formula
//! gives for the wanted RT60, applied by FFT convolution block by block.
//!
//! The benchmark's fixtures come from pyroomacoustics (`tools/aec`); this
//! small model only has to give the echo canceller a realistic job (a
//! direct path, early reflections, a decaying tail, different at every
//! microphone) in real time on the box's simulated array.

use std::f32::consts::PI;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::capture::{MicArray, SPEED_OF_SOUND};

/// The room the simulated box stands in (the DOA fixtures' room).
const ROOM_M: [f32; 3] = [6.0, 5.0, 3.0];
/// Where the array's centre is in it.
const ARRAY_M: [f32; 3] = [3.1, 2.4, 1.0];
/// Image-source order in each direction.
const ORDER: i32 = 8;
/// Taps of the fractional-delay kernel placing each image.
const KERNEL: usize = 16;

/// The loudspeaker-to-microphones paths of the simulated room.
pub struct EchoPath {
    block: usize,
    /// Spectra of the impulse responses, one per microphone.
    spectra: Vec<Vec<Complex<f32>>>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// Convolution tails carried into the next blocks, per microphone.
    tails: Vec<Vec<f32>>,
    time: Vec<f32>,
    freq: Vec<Complex<f32>>,
}

/// What shapes the echo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoRoom {
    /// The loudspeaker, metres in the array's frame.
    pub loudspeaker_m: [f32; 3],
    pub rt60_s: f32,
    /// Gain of the direct path to the array's centre, dB.
    pub gain_db: f32,
    /// Extra delay before the loudspeaker sounds (a TV's own buffer).
    pub delay_ms: f32,
    /// Length of the impulse responses, seconds.
    pub length_s: f32,
}

impl EchoPath {
    /// Paths for the microphones of `array`, at `rate`, for blocks of
    /// `block` samples.
    pub fn new(array: &MicArray, room: EchoRoom, rate: u32, block: usize) -> Self {
        let rirs = impulse_responses(array, room, rate);
        let len = rirs.first().map_or(1, Vec::len);
        let size = (block + len).next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(size);
        let inverse = planner.plan_fft_inverse(size);
        let spectra = rirs
            .iter()
            .map(|rir| {
                // The 1/size of the inverse transform is folded in here.
                let mut time: Vec<f32> = rir.iter().map(|h| h / size as f32).collect();
                time.resize(size, 0.0);
                let mut freq = forward.make_output_vec();
                forward.process(&mut time, &mut freq).expect("sized by the plan");
                freq
            })
            .collect();
        EchoPath {
            block,
            spectra,
            tails: vec![vec![0.0; size]; rirs.len()],
            time: forward.make_input_vec(),
            freq: forward.make_output_vec(),
            forward,
            inverse,
        }
    }

    /// Adds to each microphone's `frame` what it hears of `played` (one
    /// block of what sounded, at the microphones' rate). `out[m]` has the
    /// block's samples for microphone `m`.
    pub fn render(&mut self, played: &[f32], out: &mut [Vec<f32>]) {
        let block = self.block.min(played.len());
        self.time.fill(0.0);
        self.time[..block].copy_from_slice(&played[..block]);
        self.forward.process(&mut self.time, &mut self.freq).expect("sized by the plan");
        let mut product = self.freq.clone();
        let mut echo = self.inverse.make_output_vec();
        for ((spectrum, tail), out) in self.spectra.iter().zip(&mut self.tails).zip(out.iter_mut()) {
            for ((p, x), h) in product.iter_mut().zip(&self.freq).zip(spectrum) {
                *p = x * h;
            }
            self.inverse.process(&mut product, &mut echo).expect("sized by the plan");
            for (t, e) in tail.iter_mut().zip(&echo) {
                *t += e;
            }
            out.clear();
            out.extend_from_slice(&tail[..block]);
            tail.copy_within(block.., 0);
            let len = tail.len();
            tail[len - block..].fill(0.0);
        }
    }
}

/// One impulse response per microphone, from the image sources of the
/// loudspeaker in the shoebox room.
fn impulse_responses(array: &MicArray, room: EchoRoom, rate: u32) -> Vec<Vec<f32>> {
    let volume = ROOM_M[0] * ROOM_M[1] * ROOM_M[2];
    let surface = 2.0 * (ROOM_M[0] * ROOM_M[1] + ROOM_M[1] * ROOM_M[2] + ROOM_M[0] * ROOM_M[2]);
    // Sabine: RT60 = 0.161 V / (S α); each reflection keeps sqrt(1 − α) of
    // the pressure.
    let absorption = (0.161 * volume / (surface * room.rt60_s.max(0.05))).min(0.99);
    let reflection = (1.0 - absorption).sqrt();
    let source = add(ARRAY_M, room.loudspeaker_m);
    let delay = room.delay_ms / 1000.0 * rate as f32;
    let len = (room.length_s * rate as f32) as usize + KERNEL;
    let direct = distance(source, ARRAY_M).max(0.01);
    let gain = 10f32.powf(room.gain_db / 20.0) * direct;
    array
        .positions
        .iter()
        .map(|mic| {
            let mic = add(ARRAY_M, *mic);
            let mut rir = vec![0.0f32; len];
            for image in images(source) {
                let (position, reflections) = image;
                let d = distance(position, mic).max(0.01);
                let at = delay + d / SPEED_OF_SOUND * rate as f32;
                if at as usize + KERNEL / 2 >= len {
                    continue;
                }
                place(&mut rir, at, gain * reflection.powi(reflections) / d);
            }
            rir
        })
        .collect()
}

/// Every image of `source` up to [`ORDER`], with how often it reflected.
fn images(source: [f32; 3]) -> impl Iterator<Item = ([f32; 3], i32)> {
    let range = -ORDER..=ORDER;
    range.clone().flat_map(move |l| {
        let range = range.clone();
        range.clone().flat_map(move |m| {
            range.clone().flat_map(move |n| {
                (0..8).map(move |uvw: i32| {
                    let (u, v, w) = (uvw & 1, (uvw >> 1) & 1, (uvw >> 2) & 1);
                    let axis = |s: f32, i: i32, flip: i32, size: f32| (1 - 2 * flip) as f32 * s + 2.0 * i as f32 * size;
                    let position = [
                        axis(source[0], l, u, ROOM_M[0]),
                        axis(source[1], m, v, ROOM_M[1]),
                        axis(source[2], n, w, ROOM_M[2]),
                    ];
                    let reflections = (l - u).abs() + l.abs() + (m - v).abs() + m.abs() + (n - w).abs() + n.abs();
                    (position, reflections)
                })
            })
        })
    })
}

/// Adds `gain` at fractional sample `at` through a Hann-windowed sinc.
fn place(rir: &mut [f32], at: f32, gain: f32) {
    let first = at.floor() as isize - KERNEL as isize / 2 + 1;
    for k in 0..KERNEL as isize {
        let n = first + k;
        let Some(tap) = usize::try_from(n).ok().and_then(|n| rir.get_mut(n)) else { continue };
        let x = n as f32 - at;
        let sinc = if x.abs() < 1e-6 { 1.0 } else { (PI * x).sin() / (PI * x) };
        let window = 0.5 + 0.5 * (PI * x / (KERNEL as f32 / 2.0)).cos();
        *tap += gain * sinc * window;
    }
}

fn add(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::BoardProfile;

    fn room() -> EchoRoom {
        EchoRoom { loudspeaker_m: [0.0, -0.6, 0.0], rt60_s: 0.3, gain_db: -6.0, delay_ms: 0.0, length_s: 0.3 }
    }

    #[test]
    fn the_direct_sound_arrives_first_and_the_tail_decays_as_the_rt60_says() {
        let array = BoardProfile::Respeaker6MicHat.geometry();
        let rirs = impulse_responses(&array, room(), 16_000);
        let rir = &rirs[0];
        let peak = rir.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap().0;
        let expected = 0.6 / SPEED_OF_SOUND * 16_000.0;
        assert!((peak as f32 - expected).abs() < 3.0, "direct path at {peak}, expected ~{expected}");
        // Energy decay: 60 dB in 0.3 s is 20 dB over 0.1 s.
        let energy = |from: usize, to: usize| rir[from..to].iter().map(|h| h * h).sum::<f32>();
        let early = energy(800, 1600);
        let late = energy(2400, 3200);
        let drop = 10.0 * (early / late).log10();
        // Sabine and a capped image order give about that (RT60 0.2–0.5 s).
        assert!((12.0..30.0).contains(&drop), "{drop} dB over 100 ms");
        assert_ne!(rirs[0], rirs[3], "every microphone hears its own path");
    }

    #[test]
    fn block_convolution_equals_the_direct_sum() {
        let array = BoardProfile::Respeaker4MicHat.geometry();
        let rate = 16_000;
        let room = EchoRoom { length_s: 0.05, ..room() };
        let rir = impulse_responses(&array, room, rate).remove(0);
        let mut path = EchoPath::new(&array, room, rate, 320);
        let input: Vec<f32> = (0..3200).map(|i| ((i * 7919) % 113) as f32 / 113.0 - 0.5).collect();
        let mut got = Vec::new();
        let mut out = vec![Vec::new(); 4];
        for block in input.chunks(320) {
            path.render(block, &mut out);
            got.extend_from_slice(&out[0]);
        }
        for n in [0, 100, 900, 2000, 3199] {
            let direct: f32 = (0..=n).filter(|&k| n - k < rir.len()).map(|k| input[k] * rir[n - k]).sum();
            assert!((got[n] - direct).abs() < 1e-4, "sample {n}: {} vs {direct}", got[n]);
        }
    }
}
