//! The box's event bus: what changed, for whoever listens (the admin and
//! display pages, logs, tests). A tokio broadcast: a slow listener
//! loses the oldest events, never holds anyone up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use crate::capture::SourceState;
use crate::director::{Crop, Shot};
use crate::web::BoxStatus;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BoxEvent {
    /// A camera or the microphone array changed state (unplugged, back,
    /// stalled).
    Device { source: String, state: SourceState, error: Option<String> },
    /// The director changed the room's shot: which camera, what it frames,
    /// and when (ms since the box started, on the audio's clock).
    Framing { camera: String, shot: Shot, crop: Crop, uptime_ms: u64 },
    /// An enrolled person was recognised in the room: their check-in to the
    /// current meeting.
    CheckIn { person: i64, name: String, meeting: i64, similarity: f32 },
}

pub type EventBus = broadcast::Sender<BoxEvent>;

/// Events kept for a listener that falls behind.
pub const EVENT_RING: usize = 64;
/// How often device states are looked at.
const DEVICE_CHECK: Duration = Duration::from_millis(250);

/// Hands each check-in to the display's "Welcome".
pub async fn welcome_check_ins(mut bus: broadcast::Receiver<BoxEvent>, welcomes: Arc<crate::web::display::Welcomes>) {
    loop {
        match bus.recv().await {
            Ok(BoxEvent::CheckIn { name, .. }) => welcomes.checked_in(name, Instant::now()),
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
