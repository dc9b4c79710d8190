// A device shell: it stamps frames with the clock.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use super::{CaptureError, SourceHealth};
use crate::supervisor::{Part, Progress, Supervisor};

/// The receiving end of a source: subscribe to get every new item; a slow
/// subscriber gets `Lagged(n)` and skips the oldest `n`.
pub type Feed<T> = broadcast::Sender<Arc<T>>;

/// Runs `next` on a dedicated OS thread under `supervisor` until the box
/// stops (within one device timeout), broadcasting what it yields and
/// recording progress in `health` (the watchdog's view of a stalled
/// device). Errors are counted and retried with back-off; the thread never
/// ends on its own.
pub fn spawn_pump<T, F>(
    supervisor: &Supervisor,
    name: String,
    mut next: F,
    feed: Feed<T>,
    health: Arc<SourceHealth>,
) -> std::io::Result<()>
where
    T: Send + Sync + 'static,
    F: FnMut() -> Result<T, CaptureError> + Send + 'static,
{
    supervisor.thread(&format!("capture-{name}"), Progress::NotWatched, move |part| {
        let mut backoff = Backoff::default();
        let mut failure = FailureLog::default();
        while !part.stopping() {
            part.alive();
            match next() {
                Ok(item) => {
                    health.record_delivery(Instant::now());
                    // No subscriber is fine: the item is simply dropped.
                    let _ = feed.send(Arc::new(item));
                    if failure.recovered() {
                        tracing::info!(source = %name, "capture resumed");
                    }
                    backoff.reset();
                }
                Err(CaptureError::Timeout) => {}
                Err(e) => {
                    let reason = e.to_string();
                    if failure.is_news(&reason) {
                        tracing::warn!(source = %name, error = %reason, "capture failed; retrying");
                    }
                    health.record_error(reason, matches!(e, CaptureError::Gone { .. }));
                    sleep_unless_stopped(backoff.next_delay(), part);
                }
            }
        }
        Ok(())
    })
}

fn sleep_unless_stopped(total: Duration, part: &Part) {
    let until = Instant::now() + total;
    while !part.stopping() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
    }
}

/// Which failures are worth a log line: each reason once while a source
/// keeps failing, so a camera that was unplugged and then refuses its format
/// says why, while the same failures retried every second (even taking
/// turns) do not fill the journal.
#[derive(Debug, Default)]
struct FailureLog {
    seen: Vec<String>,
}

impl FailureLog {
    /// Distinct reasons logged in one stretch of failures, at most.
    const MAX: usize = 8;

    fn is_news(&mut self, reason: &str) -> bool {
        let news = self.seen.len() < Self::MAX && !self.seen.iter().any(|r| r == reason);
        if news {
            self.seen.push(reason.to_owned());
        }
        news
    }

    /// Delivery again; true if it had been failing.
    fn recovered(&mut self) -> bool {
        let was_failing = !self.seen.is_empty();
        self.seen.clear();
        was_failing
    }
}

/// Retry delays: 100 ms doubling to 1 s, so a returning device is picked up
/// within about a second.
#[derive(Debug, Default)]
struct Backoff {
    attempts: u32,
}

impl Backoff {
    fn next_delay(&mut self) -> Duration {
        let d = Duration::from_millis(100 << self.attempts.min(4)).min(Duration::from_secs(1));
        self.attempts += 1;
        d
    }

    fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_new_failure_reason_is_logged_once() {
        let mut log = FailureLog::default();
        assert!(log.is_news("camera gone"));
        assert!(!log.is_news("camera gone"), "the same failure retried is not news");
        assert!(log.is_news("format refused"), "a different reason after the first is");
        assert!(!log.is_news("format refused"));
        assert!(!log.is_news("camera gone"), "reasons taking turns are not news either");
        assert!(log.recovered());
        assert!(!log.recovered(), "resumed is said once");
        assert!(log.is_news("format refused"), "after a recovery the old reason is news again");
        for i in 0..20 {
            log.is_news(&format!("error {i}"));
        }
        assert_eq!(log.seen.len(), FailureLog::MAX, "a reason that changes every time is not logged forever");
    }

    #[test]
    fn backoff_doubles_up_to_a_second() {
        let mut b = Backoff::default();
        let ms: Vec<_> = (0..6).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
