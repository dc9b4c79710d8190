//! Keeping a new slot: confcamd marks the booted slot good once the box has
//! been healthy on it for a while (capture, the SFU and the web up, as
//! `/healthz` says, and the HTTPS port taking connections). Until then the
//! firmware's next boot is into the old slot, so an update that never
//! becomes healthy is left at the next restart (the image restarts a box
//! still on trial after a deadline: confcam-trial.timer).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::rauc::Rauc;

/// How long the box must stay healthy before its slot is kept.
pub const HEALTHY_FOR: Duration = Duration::from_secs(30);
/// How often health is looked at meanwhile.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// Healthy without a break for long enough, sans-IO.
#[derive(Debug)]
pub struct Settle {
    needed: Duration,
    since: Option<Instant>,
}

impl Settle {
    pub fn new(needed: Duration) -> Self {
        Settle { needed, since: None }
    }

    /// One look at the box; true once it has been healthy for `needed`.
    pub fn observe(&mut self, now: Instant, healthy: bool) -> bool {
        if !healthy {
            self.since = None;
            return false;
        }
        now - *self.since.get_or_insert(now) >= self.needed
    }
}

/// Waits for the box to be healthy for [`HEALTHY_FOR`], then marks the
/// booted slot good, once. A part of the box: it never ends (the
/// supervisor takes an ending for a failure), it just has nothing left to
/// do.
// The shell around `Settle`: it reads the clock.
#[allow(clippy::disallowed_methods)]
pub async fn keep_slot_when_healthy<F, H>(rauc: Rauc, mut healthy: H)
where
    H: FnMut() -> F,
    F: Future<Output = bool>,
{
    let mut settle = Settle::new(HEALTHY_FOR);
    let mut look = tokio::time::interval(LOOK_EVERY);
    loop {
        look.tick().await;
        if settle.observe(Instant::now(), healthy().await) {
            break;
        }
    }
    match rauc.mark_good().await {
        Ok(_) => tracing::info!("healthy on this slot: marked good (kept at the next boot)"),
        Err(e) => tracing::error!(error = %e, "healthy, but RAUC did not mark the slot good"),
    }
    std::future::pending::<()>().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_kept_only_after_an_unbroken_healthy_spell() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut settle = Settle::new(Duration::from_secs(30));
        assert!(!settle.observe(at(0), true));
        assert!(!settle.observe(at(20), true));
        assert!(!settle.observe(at(25), false), "a lapse starts the spell again");
        assert!(!settle.observe(at(30), true));
        assert!(!settle.observe(at(55), true));
        assert!(settle.observe(at(60), true));
    }
}
