//! Test builds only (`--features faults`): kill or stall a supervised part
//! on request ([`super::Supervisor::inject`]), to show that the supervisor
//! and the watchdog notice. A fault strikes the next time the part goes
//! round its loop ([`Part::alive`]); a task is killed within 50 ms.

use std::sync::Mutex;
use std::time::Duration;

use super::Part;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// The part panics.
    Die,
    /// The part stops making progress (until the box stops).
    Stall,
}

/// Faults armed and not yet struck, by part name (one supervisor's).
#[derive(Default)]
pub struct Pending(Mutex<Vec<(String, Fault)>>);

impl Pending {
    pub fn arm(&self, part: &str, fault: Fault) {
        tracing::warn!(part, ?fault, "injecting a fault (test build)");
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((part.to_string(), fault));
    }

    fn take(&self, part: &str, wanted: &[Fault]) -> Option<Fault> {
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let i = pending.iter().position(|(name, f)| name == part && wanted.contains(f))?;
        Some(pending.remove(i).1)
    }

    /// In a part's loop: dies or stalls there if so armed.
    pub(super) fn strike(&self, part: &Part) {
        match self.take(part.name(), &[Fault::Die, Fault::Stall]) {
            Some(Fault::Die) => panic!("injected fault"),
            Some(Fault::Stall) => {
                while !part.stopping() {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            None => {}
        }
    }

    /// Resolves when the task `part` is to die.
    pub(super) async fn killed(&self, part: &Part) {
        while self.take(part.name(), &[Fault::Die]).is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
