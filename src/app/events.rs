//! The app's tasks on the event bus ([`crate::events`]): device states
//! published as they change, check-ins handed to the display's welcome
//! for the meeting they belong to.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::capture::SourceState;
use crate::events::{BoxEvent, EventBus};
use crate::status::BoxStatus;

/// How often device states are looked at.
const DEVICE_CHECK: Duration = Duration::from_millis(250);

/// Hands each check-in to the display's "Welcome"; the end of a meeting
/// takes them down.
pub async fn welcome_check_ins(mut bus: broadcast::Receiver<BoxEvent>, welcomes: Arc<crate::web::display::Welcomes>) {
    loop {
        match bus.recv().await {
            Ok(BoxEvent::CheckIn { name, .. }) => welcomes.checked_in(name, Instant::now()),
            Ok(BoxEvent::MeetingEnded { .. }) => welcomes.clear(),
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Publishes every change of a capture source's state, and logs it.
pub async fn watch_devices(status: Arc<BoxStatus>, bus: EventBus) {
    let mut known: Vec<(String, SourceState)> = Vec::new();
    let mut tick = tokio::time::interval(DEVICE_CHECK);
    loop {
        tick.tick().await;
        let now = Instant::now();
        for source in status.sources() {
            let current = source.status(now, status.stall_timeout);
            let before = known.iter_mut().find(|(name, _)| *name == current.name);
            let changed = match before {
                Some((_, state)) if *state == current.state => false,
                Some((_, state)) => {
                    *state = current.state;
                    true
                }
                None => {
                    known.push((current.name.clone(), current.state));
                    // The first look only sets the baseline, unless the
                    // device is already missing.
                    current.state == SourceState::Offline
                }
            };
            if changed {
                tracing::info!(source = %current.name, state = ?current.state, "device state");
                let _ = bus.send(BoxEvent::Device {
                    source: current.name,
                    state: current.state,
                    error: current.last_error,
                });
            }
        }
    }
}
