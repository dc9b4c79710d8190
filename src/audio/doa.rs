//! Direction of arrival by SRP-PHAT: the steered response power of the
//! array, with every microphone pair's cross-spectrum whitened (PHAT) so
//! that timing, not loudness, decides, which is what holds up in a
//! reverberant room.
//!
//! Sans-IO: frames of samples in, an azimuth out. Evidence is the sum of the
//! frames' whitened cross-spectra (weighted, e.g. by voice activity), so
//! steering is evaluated once per decision, not once per frame.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};

use super::SPEED_OF_SOUND;

/// Band searched: above the room's rumble, below spatial aliasing for
/// microphones ~4–5 cm apart (c / 2d ≈ 3.7–4.3 kHz).
pub const LOW_HZ: f32 = 300.0;
pub const HIGH_HZ: f32 = 3500.0;
/// Azimuths steered to, one per degree.
pub const AZIMUTHS: usize = 360;

/// A direction found, counter-clockwise from the array's x axis (the front
/// of the box).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Direction {
    pub azimuth_deg: f32,
    /// How much the peak stands out of the mean response (0 when the
    /// response is flat; about 1 for a single clear talker): a confidence.
    pub peak: f32,
}

/// The analysis frame for a sample rate: ~32 ms (512 at 16 kHz), a power of
/// two for the FFT; frames overlap by half.
pub fn frame_len(rate: u32) -> usize {
    ((rate as f32 * 0.032) as usize).next_power_of_two()
}

/// SRP-PHAT for one array geometry and sample rate.
pub struct SrpPhat {
    fft: Arc<dyn RealToComplex<f32>>,
    frame: usize,
    window: Vec<f32>,
    pairs: Vec<(usize, usize)>,
    /// First bin of the band and how many.
    first_bin: usize,
    bins: usize,
    /// For each azimuth, pair and bin: (cos, sin) of the phase its delay
    /// difference makes, as a flat row per azimuth.
    steering: Vec<f32>,
    /// Weighted sum of whitened cross-spectra, [Re, −Im] per pair and bin
    /// (so steering is one dot product per azimuth).
    evidence: Vec<f32>,
    weight: f32,
    // Scratch, kept between frames.
    input: Vec<f32>,
    spectra: Vec<Vec<Complex32>>,
    fft_scratch: Vec<Complex32>,
}

impl SrpPhat {
    /// `mics`: positions in metres, in the order channels come.
    pub fn new(mics: &[[f32; 3]], rate: u32) -> Self {
        let frame = frame_len(rate);
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(frame);
        let bin_hz = rate as f32 / frame as f32;
        let first_bin = (LOW_HZ / bin_hz).ceil() as usize;
        let last_bin = ((HIGH_HZ / bin_hz).floor() as usize).min(frame / 2);
        let bins = last_bin + 1 - first_bin;
        let pairs: Vec<(usize, usize)> =
            (0..mics.len()).flat_map(|i| (i + 1..mics.len()).map(move |j| (i, j))).collect();

        // A plane wave from azimuth θ reaches mic m at τ_m = −(p_m·u)/c; a
        // pair's cross-spectrum then turns by −ω(τ_i − τ_j), which steering
        // turns back.
        let mut steering = Vec::with_capacity(AZIMUTHS * pairs.len() * bins * 2);
        for a in 0..AZIMUTHS {
            let theta = (a as f32).to_radians();
            let (ux, uy) = (theta.cos(), theta.sin());
            let tau = |m: usize| -(mics[m][0] * ux + mics[m][1] * uy) / SPEED_OF_SOUND;
            for &(i, j) in &pairs {
                let dt = f64::from(tau(i) - tau(j));
                for k in first_bin..first_bin + bins {
                    let phase = 2.0 * std::f64::consts::PI * k as f64 * f64::from(bin_hz) * dt;
                    steering.push(phase.cos() as f32);
                    steering.push(phase.sin() as f32);
                }
            }
        }
        // Hann, periodic.
        let window =
            (0..frame).map(|n| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / frame as f32).cos()).collect();
        let spectra = vec![fft.make_output_vec(); mics.len()];
        SrpPhat {
            fft_scratch: fft.make_scratch_vec(),
            input: vec![0.0; frame],
            evidence: vec![0.0; pairs.len() * bins * 2],
            weight: 0.0,
            fft,
            frame,
            window,
            pairs,
            first_bin,
            bins,
            steering,
            spectra,
        }
    }

    /// Samples per analysis frame.
    pub fn frame_len(&self) -> usize {
        self.frame
    }

    /// Adds one frame (`frame_len` samples of every channel) to the
    /// evidence with `weight` (0 adds nothing).
    pub fn add_frame(&mut self, channels: &[&[f32]], weight: f32) {
        if weight <= 0.0 {
            return;
        }
        for (spectrum, samples) in self.spectra.iter_mut().zip(channels) {
            for ((x, &s), &w) in self.input.iter_mut().zip(*samples).zip(&self.window) {
                *x = s * w;
            }
            // Only fails on wrong lengths, which `new` fixed.
            let _ = self.fft.process_with_scratch(&mut self.input, spectrum, &mut self.fft_scratch);
        }
        let band = self.first_bin..self.first_bin + self.bins;
        for (p, &(i, j)) in self.pairs.iter().enumerate() {
            let row = &mut self.evidence[p * self.bins * 2..][..self.bins * 2];
            for ((e, xi), xj) in
                row.chunks_exact_mut(2).zip(&self.spectra[i][band.clone()]).zip(&self.spectra[j][band.clone()])
            {
                let cross = xi * xj.conj();
                let norm = cross.norm();
                if norm > 1e-20 {
                    e[0] += weight * cross.re / norm;
                    e[1] -= weight * cross.im / norm;
                }
            }
        }
        self.weight += weight;
    }

    /// Total weight of the evidence so far.
    pub fn weight(&self) -> f32 {
        self.weight
    }

    pub fn clear(&mut self) {
        self.evidence.fill(0.0);
        self.weight = 0.0;
    }

    /// The steered response at every azimuth (1° apart), normalised so a
    /// perfectly coherent single source peaks at 1.
    pub fn response(&self) -> Vec<f32> {
        let row = self.evidence.len();
        let scale = 1.0 / (self.weight.max(1e-9) * (self.pairs.len() * self.bins) as f32);
        self.steering.chunks_exact(row).map(|steer| dot(steer, &self.evidence) * scale).collect()
    }

    /// The direction with the most evidence, refined between grid points;
    /// `None` without evidence.
    pub fn estimate(&self) -> Option<Direction> {
        if self.weight <= 0.0 {
            return None;
        }
        let power = self.response();
        let (best, &top) = power.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        let at = |d: isize| power[(best as isize + d).rem_euclid(AZIMUTHS as isize) as usize];
        let (left, right) = (at(-1), at(1));
        let curve = left - 2.0 * top + right;
        let offset = if curve < 0.0 { (0.5 * (left - right) / curve).clamp(-0.5, 0.5) } else { 0.0 };
        let mean = power.iter().sum::<f32>() / power.len() as f32;
        Some(Direction { azimuth_deg: (best as f32 + offset).rem_euclid(360.0), peak: (top - mean).max(0.0) })
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight lanes, so the compiler keeps it in vector registers.
    let mut sums = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for l in 0..8 {
            sums[l] += x[l] * y[l];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// The smallest angle between two azimuths, in degrees.
pub fn angle_between(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::BoardProfile;

    /// A far-field source at `azimuth` playing noise-like speech-band
    /// signal, each mic delayed exactly (fractional delay by phase in the
    /// frequency domain), plus independent noise at `snr_db`.
    fn plane_wave(mics: &[[f32; 3]], rate: u32, azimuth: f32, len: usize, snr_db: f32, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let n = len.next_power_of_two() * 2;
        let mut planner = RealFftPlanner::<f32>::new();
        let (fwd, inv) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
        let mut source: Vec<f32> = (0..n).map(|_| rng.f32() * 2.0 - 1.0).collect();
        let mut spectrum = fwd.make_output_vec();
        fwd.process(&mut source, &mut spectrum).unwrap();
        let theta = azimuth.to_radians();
        let noise = 10f32.powf(-snr_db / 20.0) * 0.577;
        mics.iter()
            .map(|p| {
                let tau = -(p[0] * theta.cos() + p[1] * theta.sin()) / SPEED_OF_SOUND;
                let mut shifted: Vec<Complex32> = spectrum
                    .iter()
                    .enumerate()
                    .map(|(k, x)| {
                        let f = k as f32 * rate as f32 / n as f32;
                        let band = if (200.0..4000.0).contains(&f) { 1.0 } else { 0.0 };
                        x * band * Complex32::from_polar(1.0, -2.0 * std::f32::consts::PI * f * tau)
                    })
                    .collect();
                shifted[0].im = 0.0;
                shifted[n / 2].im = 0.0;
                let mut out = inv.make_output_vec();
                inv.process(&mut shifted, &mut out).unwrap();
                let peak = out.iter().fold(0f32, |m, x| m.max(x.abs()));
                out.iter().take(len).map(|x| x / peak * 0.5 + noise * (rng.f32() * 2.0 - 1.0)).collect()
            })
            .collect()
    }

    fn locate(mics: &[[f32; 3]], rate: u32, signal: &[Vec<f32>]) -> Direction {
        let mut srp = SrpPhat::new(mics, rate);
        let (frame, hop) = (srp.frame_len(), srp.frame_len() / 2);
        let mut at = 0;
        while at + frame <= signal[0].len() {
            let channels: Vec<&[f32]> = signal.iter().map(|c| &c[at..at + frame]).collect();
            srp.add_frame(&channels, 1.0);
            at += hop;
        }
        srp.estimate().unwrap()
    }

    #[test]
    fn finds_a_plane_wave_within_a_degree_on_every_board() {
        for profile in BoardProfile::ALL {
            let spec = profile.spec();
            let mics = &profile.geometry().positions;
            if mics.len() < 2 {
                continue;
            }
            for azimuth in [0.0, 37.0, 90.0, 151.5, 222.0, 300.0, 359.0] {
                let signal = plane_wave(mics, spec.rate, azimuth, spec.rate as usize / 4, 20.0, 7);
                let found = locate(mics, spec.rate, &signal);
                let error = angle_between(found.azimuth_deg, azimuth);
                assert!(error < 1.0, "{}: {azimuth}° found at {:.1}° ", profile.name(), found.azimuth_deg);
                assert!(found.peak > 0.3, "{}: a clear peak ({:.2})", profile.name(), found.peak);
            }
        }
    }

    #[test]
    fn noise_alone_has_no_clear_peak_and_no_evidence_no_answer() {
        let mics = &BoardProfile::Respeaker6MicHat.geometry().positions;
        let mut rng = fastrand::Rng::with_seed(3);
        let noise: Vec<Vec<f32>> = (0..6).map(|_| (0..4096).map(|_| rng.f32() - 0.5).collect()).collect();
        assert!(locate(mics, 16_000, &noise).peak < 0.1);
        assert_eq!(SrpPhat::new(mics, 16_000).estimate(), None);
    }

    #[test]
    fn angles_wrap() {
        assert_eq!(angle_between(359.0, 1.0), 2.0);
        assert_eq!(angle_between(90.0, 270.0), 180.0);
    }
}
