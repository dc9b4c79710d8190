//! When to probe a viewer's link again. str0m's estimator probes on its own
//! at the start, while the estimate keeps growing, and otherwise only every
//! 15 s (or in the application-limited region, which a viewer held to a
//! small layer is not in). A phone whose Wi-Fi got better would wait that
//! long for its picture to sharpen. So when the estimate falls short of
//! what the viewer's videos ask for and stops moving, the box starts
//! estimation over from the current estimate, whose first move is to probe
//! at 3× and 6× of it; failures back off (2 s, then every 4 s), so a link
//! that really is small sees a short padding burst now and then, no more.

use std::time::{Duration, Instant};

const FIRST_WAIT: Duration = Duration::from_secs(2);
/// Short: the Wi-Fi may come back any time, and a probe is a few packets.
const MAX_WAIT: Duration = Duration::from_secs(4);

/// One viewer's reprobe schedule.
#[derive(Debug, Clone)]
pub struct Reprobe {
    /// The estimate the link has stalled at, and since when.
    stalled_at: u64,
    since: Option<Instant>,
    wait: Duration,
}

impl Default for Reprobe {
    fn default() -> Self {
        Reprobe { stalled_at: 0, since: None, wait: FIRST_WAIT }
    }
}

impl Reprobe {
    /// The viewer's `estimate` and what its views ask for (`desired`), bit/s:
    /// true when the box should probe now.
    pub fn due(&mut self, now: Instant, estimate: u64, desired: u64) -> bool {
        if estimate >= desired - desired / 20 {
            *self = Reprobe::default(); // nothing missing
            return false;
        }
        let Some(since) = self.since else {
            self.stalled_at = estimate;
            self.since = Some(now);
            return false;
        };
        if estimate > self.stalled_at + self.stalled_at / 20 {
            // Growing: str0m is finding room on its own (or the last probe did).
            *self = Reprobe { stalled_at: estimate, since: Some(now), wait: FIRST_WAIT };
            return false;
        }
        // A falling estimate is no reason to wait: after a spell of loss it
        // can sink for seconds below what the link now carries.
        self.stalled_at = self.stalled_at.min(estimate);
        if now - since < self.wait {
            return false;
        }
        self.since = Some(now);
        self.wait = (self.wait * 2).min(MAX_WAIT);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `seconds` of half-second checks; the instants a probe was due.
    fn run(r: &mut Reprobe, start: Instant, seconds: u64, estimate: impl Fn(u64) -> u64, desired: u64) -> Vec<u64> {
        (0..seconds * 2)
            .map(|half| (half, start + Duration::from_millis(500 * half)))
            .filter(|&(half, at)| r.due(at, estimate(half), desired))
            .map(|(half, _)| half / 2)
            .collect()
    }

    #[test]
    fn enough_bandwidth_never_probes() {
        let mut r = Reprobe::default();
        assert!(run(&mut r, Instant::now(), 60, |_| 2_000_000, 1_500_000).is_empty());
    }

    #[test]
    fn a_stalled_short_estimate_probes_after_2_s_then_every_4_s() {
        let mut r = Reprobe::default();
        let probes = run(&mut r, Instant::now(), 20, |_| 250_000, 1_500_000);
        assert_eq!(probes, [2, 6, 10, 14, 18]);
    }

    #[test]
    fn a_growing_estimate_is_left_to_grow_and_a_probe_that_found_room_resets_the_wait() {
        let mut r = Reprobe::default();
        let start = Instant::now();
        // Growing 10 % a second: str0m is finding room on its own.
        assert!(run(&mut r, start, 10, |half| 200_000 + 20_000 * half, 1_500_000).is_empty());
        // It falls and stalls: probed 2 s after it last grew (1 s into the
        // fall), then every 4 s; one finds room, and the next stall is
        // probed 2 s after that.
        let later = start + Duration::from_secs(10);
        let estimate = |half| if half < 22 { 400_000 } else { 800_000 };
        assert_eq!(run(&mut r, later, 20, estimate, 1_500_000), [1, 5, 9, 13, 17]);
    }
}
