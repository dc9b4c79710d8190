//! The running box's status: its configuration, devices and their health,
//! the loudspeaker, the store, the mute state. The app builds it; the web
//! pages, device events and the watchdog read it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::capture::SourceHealth;
use crate::store::Store;

/// Live facts about the running box, shared by its pages, `/healthz`,
/// `/metrics`, device events and the watchdog.
pub struct BoxStatus {
    /// The running configuration, with the admin's changes.
    pub config: watch::Receiver<crate::config::Config>,
    pub started: Instant,
    pub cameras: Vec<Arc<SourceHealth>>,
    pub microphone: Arc<SourceHealth>,
    /// The room's loudspeaker, when the box plays the far end.
    pub speaker: Option<SpeakerStatus>,
    pub stall_timeout: Duration,
    pub store: Store,
    pub muted: watch::Receiver<bool>,
    /// The UDP port WebRTC media uses.
    pub media_port: u16,
}

/// The loudspeaker's side of the box's status.
pub struct SpeakerStatus {
    pub health: Arc<SourceHealth>,
    pub counters: Arc<crate::loudspeaker::SpeakerCounters>,
    /// The echo canceller's figures.
    pub echo: watch::Receiver<crate::audio::EchoStats>,
}

impl BoxStatus {
    pub fn room_name(&self) -> String {
        self.config.borrow().room.name.clone()
    }

    /// Every device the box streams from or to, cameras first, the
    /// loudspeaker last.
    pub fn sources(&self) -> Vec<Arc<SourceHealth>> {
        let speaker = self.speaker.as_ref().map(|s| s.health.clone());
        self.cameras.iter().cloned().chain([self.microphone.clone()]).chain(speaker).collect()
    }

    /// Whether the box plays the far end itself (so the display must not).
    pub fn plays_far_end(&self) -> bool {
        self.speaker.is_some()
    }
}
