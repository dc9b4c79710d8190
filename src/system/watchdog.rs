use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capture::{SourceHealth, SourceState};

/// When to ping systemd's watchdog: every half interval, and only while every
/// capture source makes progress. A hung camera or microphone then stops the
/// pings and systemd restarts the daemon.
#[derive(Debug, Clone, Copy)]
pub struct Watchdog {
    /// `WatchdogSec` as systemd passed it (`WATCHDOG_USEC`).
    pub interval: Duration,
}

impl Watchdog {
    pub fn from_env() -> Option<Self> {
        // WatchdogSec=0 means off, not "ping constantly".
        sd_notify::watchdog_enabled().filter(|d| !d.is_zero()).map(|interval| Watchdog { interval })
    }

    pub fn ping_every(&self) -> Duration {
        self.interval / 2
    }
}

/// Names of the sources that are stalled at `now`; empty means all progress.
pub fn stalled_sources(sources: &[Arc<SourceHealth>], now: Instant, stall_timeout: Duration) -> Vec<String> {
    sources.iter().filter(|s| s.state(now, stall_timeout) == SourceState::Stalled).map(|s| s.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SourceInfo;

    #[test]
    fn a_single_stalled_source_withholds_the_ping() {
        let t0 = Instant::now();
        let info = SourceInfo { backend: "simulated", device: "x".into(), description: String::new() };
        let camera = Arc::new(SourceHealth::new("camera", info.clone(), t0));
        let mic = Arc::new(SourceHealth::new("microphone", info, t0));
        let both = [camera.clone(), mic.clone()];
        let stall = Duration::from_secs(2);
        for ms in (0..5000).step_by(20) {
            mic.record_delivery(t0 + Duration::from_millis(ms));
        }
        camera.record_delivery(t0 + Duration::from_millis(1000));
        assert!(stalled_sources(&both, t0 + Duration::from_millis(2900), stall).is_empty());
        assert_eq!(stalled_sources(&both, t0 + Duration::from_millis(3100), stall), ["camera"]);
    }
}
