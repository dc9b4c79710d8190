use std::f32::consts::PI;

/// (F1, F2, F3) in Hz of five vowels (adult speaker averages).
const VOWELS: [[f32; 3]; 5] = [
    [730.0, 1090.0, 2440.0], // a
    [530.0, 1840.0, 2480.0], // e
    [270.0, 2290.0, 3010.0], // i
    [570.0, 840.0, 2410.0],  // o
    [300.0, 870.0, 2240.0],  // u
];
const BANDWIDTHS: [f32; 3] = [90.0, 110.0, 170.0];

/// A synthetic talker: a source-filter speech model (glottal pulses through
/// three formant resonators, noise for fricatives) with syllable, word and
/// phrase timing and a moving pitch. Deterministic for a seed. It is speech to
/// a VAD and a direction finder: harmonic, formant-shaped, syllabic at about
/// 4 Hz, with gaps, unlike stationary noise.
///
/// Output has an RMS of about 1.0 while the voice is sounding.
#[derive(Debug, Clone)]
pub struct Voice {
    rate: f32,
    rng: fastrand::Rng,
    pitch: f32,
    /// Samples since start, for the slow intonation contour.
    t: u64,
    glottal_phase: f32,
    glottal_lowpass: f32,
    syllable_pitch: f32,
    formants: [Resonator; 3],
    formant_now: [f32; 3],
    formant_target: [f32; 3],
    hiss: Resonator,
    segment: Segment,
    remaining: u32,
    syllables_left: u32,
    words_left: u32,
    envelope: f32,
    gain: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Gap,
    Fricative,
    Vowel,
}

impl Voice {
    pub fn new(pitch_hz: f32, rate: u32, seed: u64) -> Self {
        let rate = rate as f32;
        let mut voice = Voice {
            rate,
            rng: fastrand::Rng::with_seed(seed),
            pitch: pitch_hz,
            t: 0,
            glottal_phase: 0.0,
            glottal_lowpass: 0.0,
            syllable_pitch: pitch_hz,
            formants: [Resonator::default(); 3],
            formant_now: VOWELS[0],
            formant_target: VOWELS[0],
            hiss: Resonator::new((0.42 * rate).min(4500.0), 2500.0, rate),
            segment: Segment::Gap,
            remaining: (0.05 * rate) as u32,
            syllables_left: 0,
            words_left: 0,
            envelope: 0.0,
            gain: 1.0,
        };
        voice.gain = 1.0 / voice.clone().sounding_rms();
        voice
    }

    /// True while the voice is sounding (not in a pause between words).
    pub fn is_sounding(&self) -> bool {
        self.segment != Segment::Gap
    }

    pub fn next_sample(&mut self) -> f32 {
        if self.remaining == 0 {
            self.next_segment();
        }
        self.remaining -= 1;
        self.t += 1;

        // Formants glide toward the current vowel (~10 ms).
        let glide = 1.0 - (-1.0 / (0.010 * self.rate)).exp();
        for (((now, target), resonator), bandwidth) in
            self.formant_now.iter_mut().zip(self.formant_target).zip(&mut self.formants).zip(BANDWIDTHS)
        {
            *now += (target - *now) * glide;
            resonator.tune(*now, bandwidth, self.rate);
        }

        let noise = self.rng.f32() - 0.5;
        let (excitation, level) = match self.segment {
            Segment::Vowel => (self.glottal_pulse() + 0.02 * noise, 1.0),
            Segment::Fricative => (self.hiss.process(noise), 0.35),
            Segment::Gap => (0.0, 0.0),
        };
        let attack = 1.0 - (-1.0 / (0.008 * self.rate)).exp();
        self.envelope += (level - self.envelope) * attack;

        let mut s = excitation;
        if self.segment != Segment::Fricative {
            for r in &mut self.formants {
                s = r.process(s);
            }
        }
        s * self.envelope * self.gain
    }

    /// One glottal pulse per pitch period, low-passed for the usual spectral tilt.
    fn glottal_pulse(&mut self) -> f32 {
        let seconds = self.t as f32 / self.rate;
        let f0 = self.syllable_pitch * (1.0 + 0.06 * (2.0 * PI * 0.7 * seconds).sin());
        self.glottal_phase += f0 / self.rate;
        let pulse = if self.glottal_phase >= 1.0 {
            self.glottal_phase -= 1.0;
            1.0
        } else {
            0.0
        };
        self.glottal_lowpass = 0.75 * self.glottal_lowpass + pulse;
        self.glottal_lowpass
    }

    fn next_segment(&mut self) {
        match self.segment {
            Segment::Fricative => self.start_vowel(),
            Segment::Vowel if self.syllables_left == 0 => self.end_word(),
            // A brief closure between syllables of a word, as before a plosive.
            Segment::Vowel => {
                self.segment = Segment::Gap;
                self.remaining = self.ms(25..70);
            }
            Segment::Gap => self.start_syllable(),
        }
    }

    fn start_syllable(&mut self) {
        if self.syllables_left == 0 {
            self.syllables_left = self.rng.u32(1..4);
        }
        self.syllables_left -= 1;
        self.syllable_pitch = self.pitch * (0.92 + 0.16 * self.rng.f32());
        if self.rng.f32() < 0.35 {
            self.segment = Segment::Fricative;
            self.remaining = self.ms(40..100);
        } else {
            self.start_vowel();
        }
    }

    /// A short gap after a word, a longer one at the end of a phrase.
    fn end_word(&mut self) {
        self.segment = Segment::Gap;
        self.remaining = if self.words_left == 0 {
            self.words_left = self.rng.u32(3..8);
            self.ms(250..450)
        } else {
            self.words_left -= 1;
            self.ms(40..160)
        };
    }

    /// A random length within `range` milliseconds, in samples.
    fn ms(&mut self, range: std::ops::Range<u32>) -> u32 {
        (self.rng.u32(range) as f32 * self.rate / 1000.0) as u32
    }

    fn start_vowel(&mut self) {
        self.segment = Segment::Vowel;
        self.formant_target = VOWELS[self.rng.usize(..VOWELS.len())];
        self.remaining = self.ms(90..230);
    }

    /// RMS over 4 s of sounding samples, to normalise the output level.
    fn sounding_rms(mut self) -> f32 {
        let (mut sum, mut n) = (0.0f64, 0u64);
        for _ in 0..(4.0 * self.rate) as usize {
            let s = self.next_sample();
            if self.is_sounding() {
                sum += (s as f64).powi(2);
                n += 1;
            }
        }
        ((sum / n.max(1) as f64).sqrt() as f32).max(1e-9)
    }
}

/// A two-pole resonator (one formant), as in Klatt's synthesiser.
#[derive(Debug, Clone, Copy, Default)]
struct Resonator {
    a0: f32,
    b1: f32,
    b2: f32,
    y1: f32,
    y2: f32,
}

impl Resonator {
    fn new(freq: f32, bandwidth: f32, rate: f32) -> Self {
        let mut r = Resonator::default();
        r.tune(freq, bandwidth, rate);
        r
    }

    fn tune(&mut self, freq: f32, bandwidth: f32, rate: f32) {
        let r = (-PI * bandwidth / rate).exp();
        self.b1 = 2.0 * r * (2.0 * PI * freq / rate).cos();
        self.b2 = -r * r;
        // Unity gain at DC (Klatt), so every vowel comes out at a similar level.
        self.a0 = 1.0 - self.b1 - self.b2;
    }

    fn process(&mut self, x: f32) -> f32 {
        let y = self.a0 * x + self.b1 * self.y1 + self.b2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(voice: &mut Voice, seconds: f32) -> Vec<(f32, bool)> {
        (0..(seconds * voice.rate) as usize).map(|_| (voice.next_sample(), voice.is_sounding())).collect()
    }

    #[test]
    fn sounding_level_is_unit_rms_and_gaps_are_silent() {
        let mut v = Voice::new(120.0, 16_000, 7);
        let out = render(&mut v, 6.0);
        let sounding: Vec<f32> = out.iter().filter(|s| s.1).map(|s| s.0).collect();
        let rms = (sounding.iter().map(|s| s * s).sum::<f32>() / sounding.len() as f32).sqrt();
        assert!((0.7..1.4).contains(&rms), "rms {rms}");
        let share = sounding.len() as f32 / out.len() as f32;
        assert!((0.55..0.9).contains(&share), "speech has pauses: sounding {share}");
    }

    #[test]
    fn syllables_come_at_speech_rate() {
        // Count rises of the 10 ms energy envelope: syllables, roughly 3–6 per second.
        let mut v = Voice::new(180.0, 16_000, 3);
        let out = render(&mut v, 10.0);
        let energy: Vec<f32> = out.chunks(160).map(|c| c.iter().map(|s| s.0 * s.0).sum::<f32>() / 160.0).collect();
        let onsets = energy.windows(2).filter(|w| w[0] < 0.05 && w[1] >= 0.05).count();
        assert!((20..70).contains(&onsets), "onsets in 10 s: {onsets}");
    }

    #[test]
    fn same_seed_same_voice() {
        let a = render(&mut Voice::new(150.0, 16_000, 9), 0.5);
        let b = render(&mut Voice::new(150.0, 16_000, 9), 0.5);
        assert_eq!(a, b);
    }
}
