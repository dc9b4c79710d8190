use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::SourceInfo;

/// Live counters of one capture source, written by its pump thread and read by
/// `/healthz` and the watchdog. Times are kept as nanoseconds since `epoch` so
/// they fit in atomics.
#[derive(Debug)]
pub struct SourceHealth {
    pub name: String,
    pub info: SourceInfo,
    epoch: Instant,
    delivered: AtomicU64,
    errors: AtomicU64,
    /// Nanoseconds after `epoch` of the last delivery, plus one (0 = never).
    last_delivery: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The device went away and has not delivered since.
    gone: AtomicBool,
    /// Frames the camera numbered but never delivered (sequence gaps).
    dropped: AtomicU64,
    /// The last frame's sequence number, plus one (0 = none yet).
    last_seq: AtomicU64,
}

/// What a source is doing, as of a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceState {
    /// Opened, nothing delivered yet, still within the stall timeout.
    Starting,
    Running,
    /// Nothing delivered for longer than the stall timeout.
    Stalled,
    /// The device went away (unplugged); it is retried until it is back.
    Offline,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceStatus {
    pub name: String,
    pub state: SourceState,
    #[serde(flatten)]
    pub info: SourceInfo,
    pub delivered: u64,
    pub errors: u64,
    /// Frames lost between the sensor and the box (cameras only).
    pub dropped: u64,
    pub last_error: Option<String>,
}

impl SourceHealth {
    pub fn new(name: impl Into<String>, info: SourceInfo, epoch: Instant) -> Self {
        SourceHealth {
            name: name.into(),
            info,
            epoch,
            delivered: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_delivery: AtomicU64::new(0),
            last_error: Mutex::new(None),
            gone: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            last_seq: AtomicU64::new(0),
        }
    }

    /// A delivered frame's sequence number: a gap since the last one is
    /// frames dropped on the way (by the driver, or as corrupt).
    pub fn record_sequence(&self, seq: u64) {
        let last = self.last_seq.swap(seq + 1, Ordering::Relaxed).checked_sub(1);
        self.dropped.fetch_add(missed(last, seq), Ordering::Relaxed);
    }

    pub fn record_delivery(&self, at: Instant) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let nanos = at.saturating_duration_since(self.epoch).as_nanos() as u64 + 1;
        self.last_delivery.fetch_max(nanos, Ordering::Relaxed);
        self.gone.store(false, Ordering::Relaxed);
    }

    /// A failed attempt; `gone` when the device is not there at all.
    pub fn record_error(&self, error: String, gone: bool) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.gone.store(gone, Ordering::Relaxed);
        // A poisoned lock only means a reader panicked; the value is still usable.
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// The state at `now`, given how long silence may last.
    pub fn state(&self, now: Instant, stall_timeout: Duration) -> SourceState {
        if self.gone.load(Ordering::Relaxed) {
            return SourceState::Offline;
        }
        let last = self.last_delivery.load(Ordering::Relaxed);
        let since = if last == 0 { self.epoch } else { self.epoch + Duration::from_nanos(last - 1) };
        match (last, now.saturating_duration_since(since) > stall_timeout) {
            (_, true) => SourceState::Stalled,
            (0, false) => SourceState::Starting,
            _ => SourceState::Running,
        }
    }

    pub fn status(&self, now: Instant, stall_timeout: Duration) -> SourceStatus {
        SourceStatus {
            name: self.name.clone(),
            state: self.state(now, stall_timeout),
            info: self.info.clone(),
            delivered: self.delivered(),
            errors: self.errors.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

/// Frames missing between `last` and `seq`; a count that starts again
/// (the device was reopened) misses nothing.
fn missed(last: Option<u64>, seq: u64) -> u64 {
    match last {
        Some(last) if seq > last => seq - last - 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_gaps_are_dropped_frames_and_a_restart_is_not() {
        let info = SourceInfo { backend: "simulated", device: "sim0".into(), description: String::new() };
        let h = SourceHealth::new("camera:main", info, Instant::now());
        for seq in [0, 1, 2, 5, 6, 9, 0, 1, 3] {
            h.record_sequence(seq);
        }
        assert_eq!(h.status(Instant::now(), Duration::from_secs(3)).dropped, 2 + 2 + 1);
        assert_eq!(missed(None, 7), 0);
    }

    fn health(epoch: Instant) -> SourceHealth {
        let info = SourceInfo { backend: "simulated", device: "sim0".into(), description: String::new() };
        SourceHealth::new("main", info, epoch)
    }

    #[test]
    fn starting_then_running_then_stalled_on_simulated_time() {
        let t0 = Instant::now();
        let stall = Duration::from_secs(3);
        let h = health(t0);
        assert_eq!(h.state(t0 + Duration::from_secs(1), stall), SourceState::Starting);
        assert_eq!(h.state(t0 + Duration::from_secs(4), stall), SourceState::Stalled, "never delivered");
        h.record_delivery(t0 + Duration::from_secs(4));
        assert_eq!(h.state(t0 + Duration::from_secs(6), stall), SourceState::Running);
        assert_eq!(h.state(t0 + Duration::from_millis(7001), stall), SourceState::Stalled);
        h.record_delivery(t0 + Duration::from_secs(8));
        assert_eq!(h.state(t0 + Duration::from_secs(8), stall), SourceState::Running);
        assert_eq!(h.delivered(), 2);
    }
}
