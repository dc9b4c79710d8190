//! Dominant speaker identification after Volfin & Cohen, "Dominant Speaker
//! Identification for Multipoint Videoconferencing" (2013), the method behind
//! Jitsi's and mediasoup's active-speaker detection.
//!
//! Each speaker's audio levels (RFC 6464, one per 20 ms packet) are turned
//! into speech activity scores over three time spans: immediate (one packet),
//! medium (100 ms) and long (1 s). A challenger replaces the dominant speaker
//! only when it beats it on all three spans, so a cough or a door slam (loud
//! but short) does not steal the floor, and two people talking at once do not
//! flip it back and forth.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Loudness runs from 0 (silence) to 127 (0 dBov).
const MAX_LOUDNESS: u8 = 127;
/// Sub-bands the immediate loudness is quantised into.
const N1: u32 = 13;
/// Immediates per medium window (5 × 20 ms).
const N2: u32 = 5;
/// Mediums per long window (10 × 100 ms).
const N3: u32 = 10;
const SUBBAND: u8 = MAX_LOUDNESS.div_ceil(N1 as u8);
/// An immediate above this counts as active in the medium window (~ -47 dBov).
const MEDIUM_THRESHOLD: u8 = 7;
/// A medium window with more active immediates than this is active for the long one.
const LONG_THRESHOLD: u8 = 4;
/// How far a challenger's score must exceed the dominant's (log ratio) on
/// each time span.
const C1: f64 = 3.0;
const C2: f64 = 2.0;
const C3: f64 = 0.0;
const MIN_SCORE: f64 = 1e-10;
/// Levels kept per speaker: one second of 20 ms packets, and the 80 ms a
/// shifted medium grid reaches further back (see `Speaker::scores`).
const HISTORY: usize = (N2 * N3 + N2 - 1) as usize;
/// The noise floor may rise after this many consecutive quieter-floor packets
/// (15 s).
const FLOOR_WINDOW: u32 = 750;

/// Tuning; the defaults are the published ones.
#[derive(Debug, Clone)]
pub struct SpeakerConfig {
    /// How often the dominant speaker is reconsidered.
    pub decision_interval: Duration,
    /// Packet spacing levels are expected at; a gap longer than two counts as
    /// silence (a muted phone sends nothing).
    pub level_interval: Duration,
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        SpeakerConfig { decision_interval: Duration::from_millis(300), level_interval: Duration::from_millis(20) }
    }
}

/// The detector. `K` names a speaker (a participant id, or the room).
#[derive(Debug)]
pub struct DominantSpeaker<K> {
    config: SpeakerConfig,
    speakers: HashMap<K, Speaker>,
    dominant: Option<K>,
    next_decision: Option<Instant>,
    changed: Option<Option<K>>,
}

impl<K: Clone + Eq + Hash> DominantSpeaker<K> {
    pub fn new(config: SpeakerConfig) -> Self {
        DominantSpeaker { config, speakers: HashMap::new(), dominant: None, next_decision: None, changed: None }
    }

    /// Starts following `key` (a participant with audio joined).
    pub fn add(&mut self, key: K, now: Instant) {
        self.speakers.entry(key).or_insert_with(|| Speaker::new(now));
        self.next_decision.get_or_insert(now);
    }

    /// Stops following `key`; if it was dominant, a new decision follows at once.
    pub fn remove(&mut self, key: &K, now: Instant) {
        self.speakers.remove(key);
        if self.dominant.as_ref() == Some(key) {
            self.next_decision = Some(now);
        }
    }

    /// An audio level from `key`: RFC 6464 `-dBov`, 0 (loudest) to 127 (silence).
    pub fn handle_level(&mut self, key: &K, dbov: u8, now: Instant) {
        let interval = self.config.level_interval;
        if let Some(s) = self.speakers.get_mut(key) {
            s.fill_silence_until(now, interval);
            s.push(MAX_LOUDNESS - dbov.min(MAX_LOUDNESS), now);
        }
    }

    /// `key` unmuted: its floor is learnt afresh. (A muted browser sends
    /// digital silence, which would otherwise leave the floor at nothing
    /// and count the room's steady noise as speech for 15 s.)
    pub fn unmuted(&mut self, key: &K) {
        if let Some(s) = self.speakers.get_mut(key) {
            s.floor = None;
        }
    }

    /// When [`Self::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_decision
    }

    /// Runs a decision when one is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(due) = self.next_decision else { return };
        if now < due {
            return;
        }
        self.next_decision = Some(due.max(now - self.config.decision_interval) + self.config.decision_interval);
        let interval = self.config.level_interval;
        for s in self.speakers.values_mut() {
            s.fill_silence_until(now, interval);
        }
        let decided = self.decide();
        if decided != self.dominant {
            self.dominant = decided.clone();
            self.changed = Some(decided);
        }
    }

    /// A change of dominant speaker since the last call (`Some(None)`: nobody
    /// is left).
    pub fn poll_change(&mut self) -> Option<Option<K>> {
        self.changed.take()
    }

    pub fn dominant(&self) -> Option<&K> {
        self.dominant.as_ref()
    }

    fn decide(&mut self) -> Option<K> {
        let current = self.dominant.clone().filter(|k| self.speakers.contains_key(k));
        let Some(current) = current else {
            // Nobody holds the floor: whoever was most active over the last
            // second takes it, if anyone spoke at all.
            let silent = activity_score(0, N3, 0.5, 47.0);
            return self
                .speakers
                .iter_mut()
                .map(|(k, s)| (k.clone(), s.scores()))
                .filter(|(_, s)| s.long > silent || s.medium > activity_score(0, N2, 0.5, 24.0))
                .max_by(|a, b| a.1.long.total_cmp(&b.1.long).then(a.1.medium.total_cmp(&b.1.medium)))
                .map(|(k, _)| k);
        };

        let dominant = self.speakers.get_mut(&current).map(Speaker::scores)?;
        let mut best: Option<(K, f64)> = None;
        for (key, speaker) in self.speakers.iter_mut() {
            if *key == current {
                continue;
            }
            let s = speaker.scores();
            let c1 = (s.immediate / dominant.immediate).ln();
            let c2 = (s.medium / dominant.medium).ln();
            let c3 = (s.long / dominant.long).ln();
            if c1 > C1 && c2 > C2 && c3 > C3 && best.as_ref().is_none_or(|b| c2 > b.1) {
                best = Some((key.clone(), c2));
            }
        }
        Some(best.map_or(current, |(k, _)| k))
    }
}

#[derive(Debug, Clone, Copy)]
struct Scores {
    immediate: f64,
    medium: f64,
    long: f64,
}

#[derive(Debug)]
struct Speaker {
    /// Loudness of recent packets, newest first.
    levels: [u8; HISTORY],
    last_level: Instant,
    /// Estimated noise floor (loudness), from the first packet on.
    floor: Option<u8>,
    /// Quietest level seen since the floor was last set, and how long ago.
    next_floor: u8,
    next_floor_count: u32,
}

impl Speaker {
    fn new(now: Instant) -> Self {
        Speaker { levels: [0; HISTORY], last_level: now, floor: None, next_floor: u8::MAX, next_floor_count: 0 }
    }

    fn push(&mut self, loudness: u8, now: Instant) {
        self.levels.copy_within(..HISTORY - 1, 1);
        self.levels[0] = loudness;
        self.last_level = now;
        self.track_floor(loudness);
    }

    /// Packets that did not come (muted, lost) count as silence.
    fn fill_silence_until(&mut self, now: Instant, interval: Duration) {
        let gap = now.saturating_duration_since(self.last_level);
        if gap > interval * 2 {
            let missing = ((gap.as_nanos() / interval.as_nanos()) as usize).saturating_sub(1).min(HISTORY);
            for _ in 0..missing {
                self.levels.copy_within(..HISTORY - 1, 1);
                self.levels[0] = 0;
            }
            self.last_level = now - interval;
        }
    }

    /// Follows the noise floor: down at once, up slowly (geometric mean with
    /// the quietest level of the last 15 s), so steady background noise
    /// stops counting as speech. Digital silence (a clean source pausing,
    /// as aiortc, file players and encoders do) is a floor too: without it
    /// such a sender's own voice would become its floor and never count.
    fn track_floor(&mut self, loudness: u8) {
        match self.floor {
            Some(floor) if loudness >= floor => {
                self.next_floor = self.next_floor.min(loudness);
                self.next_floor_count += 1;
                if self.next_floor_count >= FLOOR_WINDOW {
                    // From silence a mean would stay at 0: the quietest
                    // sound of the window is the first real floor.
                    let next = self.next_floor as f64;
                    self.floor =
                        Some(if floor == 0 { self.next_floor } else { (floor as f64 * next).sqrt().round() as u8 });
                    self.next_floor = u8::MAX;
                    self.next_floor_count = 0;
                }
            }
            _ => {
                self.floor = Some(loudness);
                self.next_floor = u8::MAX;
                self.next_floor_count = 0;
            }
        }
    }

    fn scores(&mut self) -> Scores {
        // Immediates: loudness above the floor, in N1 sub-bands.
        let mut immediates = [0u8; HISTORY];
        let gate = self.floor.unwrap_or(0).saturating_add(SUBBAND);
        for (imm, &level) in immediates.iter_mut().zip(&self.levels) {
            *imm = if level < gate { 0 } else { level / SUBBAND };
        }
        // Mediums: active immediates per 100 ms; long: active mediums per
        // second, on whichever 100 ms grid fits the talker best. On one
        // fixed grid, someone whose syllables beat against the decision
        // clock could have every syllable split between two mediums, and
        // never count as talking for long (one in five alignments of 160 ms
        // syllables with 40 ms gaps).
        let n2 = N2 as usize;
        let active = |c: &[u8]| c.iter().filter(|&&i| i > MEDIUM_THRESHOLD).count() as u32;
        let medium = active(&immediates[..n2]);
        let long = (0..n2)
            .map(|phase| {
                immediates[phase..]
                    .chunks_exact(n2)
                    .take(N3 as usize)
                    .filter(|c| active(c) > LONG_THRESHOLD as u32)
                    .count()
            })
            .max()
            .unwrap_or(0) as u32;
        Scores {
            immediate: activity_score(immediates[0] as u32, N1, 0.5, 0.78),
            medium: activity_score(medium, N2, 0.5, 24.0),
            long: activity_score(long, N3, 0.5, 47.0),
        }
    }
}

/// Log-likelihood ratio of speech over silence for `active` of `n` sub-units:
/// binomial for speech, exponential for silence (the paper's eq. 7).
fn activity_score(active: u32, n: u32, p: f64, lambda: f64) -> f64 {
    let v = active.min(n) as f64;
    let score = ln_binomial(n, active.min(n)) + v * p.ln() + (n as f64 - v) * (1.0 - p).ln() - lambda.ln() + lambda * v;
    score.max(MIN_SCORE)
}

fn ln_binomial(n: u32, k: u32) -> f64 {
    (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SILENCE: u8 = 82; // -82 dBov: a browser's quiet microphone
    const TICK: Duration = Duration::from_millis(20);

    /// Speech as a phone sends it: phrases at about -25 dBov with syllable
    /// dips and short pauses between phrases.
    fn speech(t: Duration) -> u8 {
        let ms = t.as_millis() as u64;
        match (ms % 1700, ms % 180) {
            (1400.., _) => SILENCE,
            (_, 140..) => 40,
            _ => 22 + (ms / 20 % 7) as u8,
        }
    }

    /// A meeting on simulated time: every 20 ms each speaker sends a level.
    struct Sim {
        det: DominantSpeaker<&'static str>,
        now: Instant,
        changes: Vec<(Duration, Option<&'static str>)>,
        start: Instant,
    }

    impl Sim {
        /// Everyone joins and is quiet for a second first, as in a real call.
        fn new(speakers: &[&'static str]) -> Self {
            let now = Instant::now();
            let mut det = DominantSpeaker::new(SpeakerConfig::default());
            for s in speakers {
                det.add(*s, now);
            }
            let mut sim = Sim { det, now, changes: Vec::new(), start: now };
            sim.run(Duration::from_secs(1), |_, _| Some(SILENCE));
            sim
        }

        fn elapsed(&self) -> Duration {
            self.now - self.start
        }

        /// Runs `duration` with each speaker's level given by `level`.
        fn run(&mut self, duration: Duration, level: impl Fn(&str, Duration) -> Option<u8>) {
            let end = self.now + duration;
            while self.now < end {
                self.now += TICK;
                let t = self.elapsed();
                let keys: Vec<_> = self.det.speakers.keys().copied().collect();
                for k in keys {
                    if let Some(l) = level(k, t) {
                        self.det.handle_level(&k, l, self.now);
                    }
                }
                self.det.handle_timeout(self.now);
                if let Some(c) = self.det.poll_change() {
                    self.changes.push((t, c));
                }
            }
        }
    }

    #[test]
    fn nobody_is_dominant_until_someone_speaks() {
        let mut sim = Sim::new(&["a", "b"]);
        sim.run(Duration::from_secs(2), |_, _| Some(SILENCE));
        assert_eq!(sim.det.dominant(), None);
        assert!(sim.changes.is_empty());
    }

    #[test]
    fn the_one_speaking_becomes_dominant_quickly() {
        let mut sim = Sim::new(&["a", "b"]);
        let start = sim.elapsed();
        sim.run(Duration::from_secs(3), |k, t| Some(if k == "b" { speech(t) } else { SILENCE }));
        assert_eq!(sim.det.dominant(), Some(&"b"));
        assert!(sim.changes[0].0 - start <= Duration::from_millis(700), "{:?}", sim.changes);
    }

    #[test]
    fn a_new_talker_takes_over_within_two_seconds() {
        let mut sim = Sim::new(&["a", "b", "room"]);
        sim.run(Duration::from_secs(5), |k, t| Some(if k == "a" { speech(t) } else { SILENCE }));
        assert_eq!(sim.det.dominant(), Some(&"a"));
        let switch_at = sim.elapsed();
        sim.run(Duration::from_secs(5), |k, t| Some(if k == "b" { speech(t) } else { SILENCE }));
        assert_eq!(sim.det.dominant(), Some(&"b"));
        let (at, who) = *sim.changes.last().unwrap();
        assert_eq!(who, Some("b"));
        assert!(at - switch_at <= Duration::from_secs(2), "took {:?}", at - switch_at);
    }

    #[test]
    fn a_short_loud_burst_does_not_take_the_floor() {
        let mut sim = Sim::new(&["a", "b"]);
        sim.run(Duration::from_secs(5), |k, t| Some(if k == "a" { speech(t) } else { SILENCE }));
        // While a keeps talking, b makes a 250 ms noise, louder than speech.
        for _ in 0..5 {
            let burst = sim.elapsed();
            sim.run(Duration::from_secs(3), |k, t| {
                Some(match k {
                    "a" => speech(t),
                    _ if t >= burst && t < burst + Duration::from_millis(250) => 5,
                    _ => SILENCE,
                })
            });
        }
        assert_eq!(sim.det.dominant(), Some(&"a"));
        assert_eq!(sim.changes.len(), 1, "{:?}", sim.changes);
    }

    #[test]
    fn a_short_burst_in_a_quiet_room_does_not_take_the_floor_either() {
        let mut sim = Sim::new(&["a", "b"]);
        sim.run(Duration::from_secs(4), |k, t| Some(if k == "a" { speech(t) } else { SILENCE }));
        // a pauses to think; b's door slams for 250 ms.
        let burst = sim.elapsed();
        sim.run(Duration::from_secs(2), |k, t| {
            Some(if k == "b" && t >= burst && t < burst + Duration::from_millis(250) { 5 } else { SILENCE })
        });
        assert_eq!(sim.det.dominant(), Some(&"a"), "{:?}", sim.changes);
    }

    #[test]
    fn back_channel_over_the_top_does_not_flip_the_floor() {
        let mut sim = Sim::new(&["a", "b"]);
        // b says "mm-hm" (300 ms) every 2 s while a talks.
        sim.run(Duration::from_secs(12), |k, t| {
            let ms = t.as_millis() as u64;
            Some(match k {
                "a" => speech(t),
                _ if ms % 2000 < 300 && ms > 3000 => 25,
                _ => SILENCE,
            })
        });
        assert_eq!(sim.det.dominant(), Some(&"a"));
        assert_eq!(sim.changes.len(), 1, "{:?}", sim.changes);
    }

    #[test]
    fn a_muted_phone_sends_nothing_and_counts_as_silent() {
        let mut sim = Sim::new(&["a", "b"]);
        sim.run(Duration::from_secs(4), |k, t| Some(if k == "a" { speech(t) } else { SILENCE }));
        // a mutes (no packets), b starts talking.
        sim.run(Duration::from_secs(3), |k, t| (k == "b").then(|| speech(t)));
        assert_eq!(sim.det.dominant(), Some(&"b"));
    }

    #[test]
    fn a_phone_next_to_a_fan_does_not_take_the_floor() {
        let mut sim = Sim::new(&["fan", "talker"]);
        // A steady -55 dBov hum on one phone is not speech...
        sim.run(Duration::from_secs(5), |k, _| Some(if k == "fan" { 55 } else { SILENCE }));
        assert_eq!(sim.det.dominant(), None);
        // ...and whoever talks gets the floor over it.
        sim.run(Duration::from_secs(3), |k, t| Some(if k == "fan" { 55 } else { speech(t) }));
        assert_eq!(sim.det.dominant(), Some(&"talker"), "{:?}", sim.changes);
    }

    #[test]
    fn a_clean_sender_pausing_in_digital_silence_takes_the_floor() {
        // aiortc or a file player: syllables at a steady -23 dBov, the
        // pauses exact silence (127), no background noise at all.
        let mut sim = Sim::new(&["a", "clean"]);
        let start = sim.elapsed();
        sim.run(Duration::from_secs(3), |k, t| {
            Some(match k {
                "clean" if t.as_millis() % 200 < 160 => 23,
                "clean" => 127,
                _ => SILENCE,
            })
        });
        assert_eq!(sim.det.dominant(), Some(&"clean"), "{:?}", sim.changes);
        assert!(sim.changes[0].0 - start <= Duration::from_millis(700), "{:?}", sim.changes);
    }

    #[test]
    fn a_phone_unmuting_next_to_a_fan_does_not_take_the_floor() {
        let mut sim = Sim::new(&["fan", "talker"]);
        // Muted, the browser sends digital silence; unmuted, the fan hums.
        sim.run(Duration::from_secs(3), |k, _| Some(if k == "fan" { 127 } else { SILENCE }));
        sim.det.unmuted(&"fan");
        sim.run(Duration::from_secs(5), |k, _| Some(if k == "fan" { 55 } else { SILENCE }));
        assert_eq!(sim.det.dominant(), None, "{:?}", sim.changes);
    }

    #[test]
    fn leaving_hands_the_floor_on() {
        let mut sim = Sim::new(&["a", "b"]);
        sim.run(Duration::from_secs(3), |_, t| Some(speech(t)));
        let first = *sim.det.dominant().unwrap();
        let other = if first == "a" { "b" } else { "a" };
        sim.det.remove(&first, sim.now);
        sim.run(Duration::from_millis(400), |_, t| Some(speech(t)));
        assert_eq!(sim.det.dominant(), Some(&other));
        sim.det.remove(&other, sim.now);
        sim.run(Duration::from_millis(400), |_, _| Some(SILENCE));
        assert_eq!(sim.det.dominant(), None);
        assert_eq!(sim.changes.last().unwrap().1, None);
    }

    #[test]
    fn a_talker_takes_the_floor_however_their_syllables_line_up_with_the_decisions() {
        // 160 ms syllables, 40 ms of digital silence between (aiortc's test
        // voice), shifted by each 20 ms step against the decision clock;
        // the room's seat had the floor and has paused.
        for shift in 0..10u64 {
            let mut sim = Sim::new(&["seat", "clean"]);
            sim.run(Duration::from_secs(3), |k, t| Some(if k == "seat" { speech(t) } else { 127 }));
            assert_eq!(sim.det.dominant(), Some(&"seat"));
            sim.run(Duration::from_secs(3), |k, t| {
                let ms = t.as_millis() as u64 + shift * 20;
                Some(match k {
                    "clean" if ms % 1400 < 1000 && ms % 200 < 160 => 23,
                    "clean" => 127,
                    _ => SILENCE,
                })
            });
            assert_eq!(sim.det.dominant(), Some(&"clean"), "shifted {} ms: {:?}", shift * 20, sim.changes);
        }
    }

    #[test]
    fn scores_grow_with_activity() {
        let s = |a| activity_score(a, N1, 0.5, 0.78);
        assert!(s(0) < s(5) && s(5) < s(12));
        assert!(activity_score(10, N3, 0.5, 47.0) > activity_score(2, N3, 0.5, 47.0));
    }
}
