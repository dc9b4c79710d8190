use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::capture::CaptureError;

/// A handle on a simulated device to inject the faults real devices have: a
/// stall (the device stops delivering) and an unplug (it disappears); and,
/// for a camera, a person to put in front of it.
#[derive(Debug, Clone, Default)]
pub struct SimControl {
    inner: Arc<Faults>,
}

#[derive(Debug, Default)]
struct Faults {
    stalled: AtomicBool,
    unplugged: AtomicBool,
    person: Mutex<Option<Arc<Portrait>>>,
}

/// A picture of a person (I420, even sizes) a simulated camera shows in the
/// middle of its scene.
#[derive(Debug, Clone, PartialEq)]
pub struct Portrait {
    pub width: u32,
    pub height: u32,
    pub i420: Vec<u8>,
}

impl SimControl {
    pub fn stall(&self) {
        self.inner.stalled.store(true, Ordering::Relaxed);
    }

    pub fn unplug(&self) {
        self.inner.unplugged.store(true, Ordering::Relaxed);
    }

    /// Puts `person` in front of the camera (`None`: nobody).
    pub fn show(&self, person: Option<Portrait>) {
        *self.inner.person.lock().unwrap_or_else(|p| p.into_inner()) = person.map(Arc::new);
    }

    pub(super) fn person(&self) -> Option<Arc<Portrait>> {
        self.inner.person.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Ends a stall or an unplug.
    pub fn restore(&self) {
        self.inner.stalled.store(false, Ordering::Relaxed);
        self.inner.unplugged.store(false, Ordering::Relaxed);
    }

    /// Called by the device before each delivery: waits out a stall like a
    /// real device's poll timeout, or reports the device gone.
    pub(crate) fn check(&self, device: &str, poll_timeout: Duration) -> Result<(), CaptureError> {
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
