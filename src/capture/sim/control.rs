use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::capture::CaptureError;

/// A handle on a simulated device to inject the faults real devices have: a
/// stall (the device stops delivering) and an unplug (it disappears).
#[derive(Debug, Clone, Default)]
pub struct SimControl {
    inner: Arc<Faults>,
}

#[derive(Debug, Default)]
struct Faults {
    stalled: AtomicBool,
    unplugged: AtomicBool,
}

impl SimControl {
    pub fn stall(&self) {
        self.inner.stalled.store(true, Ordering::Relaxed);
    }

    pub fn unplug(&self) {
        self.inner.unplugged.store(true, Ordering::Relaxed);
    }

    /// Ends a stall or an unplug.
    pub fn restore(&self) {
        self.inner.stalled.store(false, Ordering::Relaxed);
        self.inner.unplugged.store(false, Ordering::Relaxed);
    }

    /// Called by the device before each delivery: waits out a stall like a
    /// real device's poll timeout, or reports the device gone.
    pub(super) fn check(&self, device: &str, poll_timeout: Duration) -> Result<(), CaptureError> {
        if self.inner.unplugged.load(Ordering::Relaxed) {
            return Err(CaptureError::Gone { device: device.into(), reason: "unplugged".into() });
        }
        if self.inner.stalled.load(Ordering::Relaxed) {
            std::thread::sleep(poll_timeout);
            return Err(CaptureError::Timeout);
        }
        Ok(())
    }
}
