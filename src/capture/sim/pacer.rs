use std::time::{Duration, Instant};

/// Releases ticks on an absolute schedule (`start + n × period`), so small
/// delays do not add up into a slower rate.
#[derive(Debug)]
pub struct Pacer {
    start: Instant,
    period: Duration,
    next: u64,
}

impl Pacer {
    pub fn new(start: Instant, period: Duration) -> Self {
        Pacer { start, period, next: 0 }
    }

    /// When tick `n` is due.
    pub fn due(&self, n: u64) -> Instant {
        self.start + self.period.mul_f64(n as f64)
    }

    /// Sleeps until the next tick is due and returns its index and due time.
    /// After a long hold-up (over a second behind) the schedule restarts from
    /// now instead of bursting to catch up.
    pub fn wait(&mut self) -> (u64, Instant) {
        let now = Instant::now();
        let mut due = self.due(self.next);
        if now.saturating_duration_since(due) > Duration::from_secs(1) {
            self.start = now - self.period.mul_f64(self.next as f64);
            due = now;
        }
        if due > now {
            std::thread::sleep(due - now);
        }
        let n = self.next;
        self.next += 1;
        (n, due)
    }
}
