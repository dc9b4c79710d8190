//! The box's event bus: what changed, for whoever listens (the admin and
//! display pages, logs, tests). A tokio broadcast: a slow listener
//! loses the oldest events, never holds anyone up. Check-in (vision), the
//! room's listening and the meeting publish here; the app's tasks, check-in
//! and the web pages listen.

use tokio::sync::broadcast;

use crate::capture::SourceState;
use crate::director::{Crop, Shot};

/// An enrolled person (the store's row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PersonId(pub i64);

/// A meeting's attendance (the store's row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MeetingId(pub i64);

/// A participant in the meeting: a phone, a display, a WHIP or WHEP client,
/// or the room itself (`0`); unique for the box's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ParticipantId(pub u64);

impl std::fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for PersonId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for MeetingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

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
    CheckIn { person: PersonId, name: String, meeting: MeetingId, similarity: f32 },
    /// Someone arrived in an empty room, or the first phone joined: a
    /// meeting began (`crate::meeting`).
    MeetingBegan,
    /// Nobody is left: the meeting is over. Its attendance is closed, its
    /// welcomes leave the display and a rotating join code changes.
    MeetingEnded { lasted_s: u64 },
}

pub type EventBus = broadcast::Sender<BoxEvent>;

/// Events kept for a listener that falls behind.
pub const EVENT_RING: usize = 64;
