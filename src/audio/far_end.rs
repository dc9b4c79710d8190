//! Far-end awareness: a loudspeaker in the room (the box's own, or the
//! display's) plays the phones' voices, which the array hears like a
//! talker. Echo cancellation removes them before direction finding; this
//! gate is the fallback for when it is off:
//!
//! - While the loudspeaker plays (the box's own output is loud enough, or a
//!   remote participant's voice is flagged by their RFC 6464 level, as the
//!   SFU forwards it) and for [`FarEnd::tail`] after it (a jitter buffer
//!   plus the room's reverberation), evidence is held back.
//! - The direction heard during far-end speech is learnt as the
//!   loudspeaker's; once it is sure, evidence from elsewhere passes even
//!   while the far end speaks (someone in the room talks over them), and
//!   evidence from the loudspeaker's direction never does.
//!
//! Sans-IO: timestamps in, decisions out.

use std::time::{Duration, Instant};

use super::doa::angle_between;
use super::echo::dbfs;

/// The box's own loudspeaker output counts as the far end talking above
/// this level (speech plays at −20 to −35 dBFS; comfort noise and silence
/// far below).
const SOUNDING_DBFS: f32 = -50.0;

/// Evidence this close to the loudspeaker's direction is the loudspeaker.
const NEAR_DEG: f32 = 25.0;
/// Agreeing pieces of evidence before the loudspeaker's direction is sure.
const SURE: u32 = 6;

#[derive(Debug, Clone)]
pub struct FarEnd {
    pub tail: Duration,
    voice_until: Option<Instant>,
    /// The loudspeaker's direction as learnt so far, and how sure (pieces
    /// of evidence that agreed, less those that did not).
    loudspeaker: Option<(f32, u32)>,
}

impl Default for FarEnd {
    fn default() -> Self {
        FarEnd { tail: Duration::from_millis(600), voice_until: None, loudspeaker: None }
    }
}

impl FarEnd {
    /// A remote participant's voice reached the box at `at`.
    pub fn far_voice(&mut self, at: Instant) {
        let until = at + self.tail;
        self.voice_until = Some(self.voice_until.map_or(until, |u| u.max(until)));
    }

    /// The box's loudspeaker sounds `samples` from `sounds_at`.
    pub fn played(&mut self, sounds_at: Instant, samples: &[f32]) {
        if dbfs(samples) > SOUNDING_DBFS {
            self.far_voice(sounds_at);
        }
    }

    /// Whether the loudspeaker may be playing at `now`.
    pub fn playing(&self, now: Instant) -> bool {
        self.voice_until.is_some_and(|u| now <= u)
    }

    /// The loudspeaker's direction, once learnt.
    pub fn loudspeaker(&self) -> Option<f32> {
        self.loudspeaker.filter(|&(_, n)| n >= SURE).map(|(az, _)| az)
    }

    /// Passes the room's evidence at `now` (speech from `azimuth_deg`, or
    /// none) through the gate.
    pub fn admit(&mut self, now: Instant, azimuth_deg: Option<f32>) -> Option<f32> {
        let azimuth = azimuth_deg?;
        if !self.playing(now) {
            return Some(azimuth);
        }
        match &mut self.loudspeaker {
            Some((at, n)) if angle_between(*at, azimuth) <= NEAR_DEG => {
                // Follow it slowly (the display may be moved).
                *at = (*at + 0.1 * signed_offset(*at, azimuth)).rem_euclid(360.0);
                *n = (*n + 1).min(4 * SURE);
                None
            }
            Some((_, n)) if *n >= SURE => Some(azimuth),
            Some((at, n)) => {
                // Not sure yet, and this disagrees: it loses ground, and is
                // replaced once it has none left.
                *n = n.saturating_sub(1);
                if *n == 0 {
                    *at = azimuth;
                    *n = 1;
                }
                None
            }
            None => {
                self.loudspeaker = Some((azimuth, 1));
                None
            }
        }
    }
}

/// `to − from`, −180..180 degrees.
fn signed_offset(from: f32, to: f32) -> f32 {
    (to - from + 540.0).rem_euclid(360.0) - 180.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(64);

    #[test]
    fn the_loudspeakers_speech_holds_the_room_back_and_its_hiss_does_not() {
        let mut gate = FarEnd::default();
        let now = Instant::now();
        gate.played(now, &[0.0001; 160]);
        assert!(!gate.playing(now), "-80 dBFS is not the far end talking");
        gate.played(now, &[0.05; 160]);
        assert!(gate.playing(now + gate.tail), "-26 dBFS is, for a tail after it");
        assert!(!gate.playing(now + gate.tail + TICK));
    }

    #[test]
    fn the_room_is_heard_while_the_far_end_is_quiet() {
        let mut gate = FarEnd::default();
        let now = Instant::now();
        assert_eq!(gate.admit(now, Some(40.0)), Some(40.0));
        assert_eq!(gate.admit(now, None), None);
        gate.far_voice(now);
        assert_eq!(gate.admit(now + Duration::from_millis(300), Some(40.0)), None, "held back while it plays");
        assert_eq!(gate.admit(now + Duration::from_millis(700), Some(40.0)), Some(40.0), "and after the tail");
    }

    #[test]
    fn the_loudspeaker_is_learnt_and_a_room_talker_passes_over_it() {
        let mut gate = FarEnd::default();
        let start = Instant::now();
        let mut t = start;
        // The far end talks; the display's loudspeaker is heard at ~150°.
        for i in 0..20 {
            gate.far_voice(t);
            let wobble = (i % 3) as f32 * 2.0 - 2.0;
            assert_eq!(gate.admit(t, Some(150.0 + wobble)), None, "the loudspeaker is never a talker");
            t += TICK;
        }
        let learnt = gate.loudspeaker().expect("learnt");
        assert!(angle_between(learnt, 150.0) < 3.0, "{learnt}");
        // Someone in the room talks over the far end from 40°: heard.
        gate.far_voice(t);
        assert_eq!(gate.admit(t, Some(40.0)), Some(40.0));
        assert_eq!(gate.admit(t, Some(155.0)), None);
    }

    #[test]
    fn a_room_talker_first_heard_during_far_end_speech_is_not_taken_for_the_loudspeaker() {
        let mut gate = FarEnd::default();
        let mut t = Instant::now();
        // A room talker at 40° gets one piece in first, then the loudspeaker
        // at 150° dominates: the guess moves to 150°.
        gate.far_voice(t);
        gate.admit(t, Some(40.0));
        for _ in 0..10 {
            gate.far_voice(t);
            gate.admit(t, Some(150.0));
            t += TICK;
        }
        assert!(gate.loudspeaker().is_some_and(|az| angle_between(az, 150.0) < 3.0));
    }
}
