// A handler: it reads the clock for device health.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::WebState;
use crate::capture::{SourceHealth, SourceState, SourceStatus};
use crate::sfu::messages::ParticipantKind;

/// The body of `GET /healthz`.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Health {
    pub status: Overall,
    pub version: String,
    pub uptime_s: f64,
    pub room: String,
    pub muted: bool,
    pub subsystems: Subsystems,
}

/// The box as a whole, or one subsystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overall {
    Ok,
    /// Serving, but a subsystem is not working.
    Degraded,
    /// (A subsystem) not working.
    Error,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Subsystems {
    pub store: StoreHealth,
    pub meeting: MeetingHealth,
    pub cameras: Vec<SourceReport>,
    pub microphone: SourceReport,
    /// The room's loudspeaker; absent when the display plays the far end.
    #[serde(default)]
    pub loudspeaker: Option<SpeakerReport>,
    pub web: WebHealth,
}

/// The loudspeaker as `/healthz` shows it.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct SpeakerReport {
    #[serde(flatten)]
    pub device: SourceReport,
    /// Times it ran dry and was restarted.
    pub underruns: u64,
    /// Echo return loss enhancement, dB, once the canceller has a figure.
    pub echo_erle_db: Option<f32>,
}

/// The media server: running, and who is in the meeting.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct MeetingHealth {
    pub state: Overall,
    /// People and clients in the meeting (the room itself not counted).
    pub participants: usize,
    pub media_port: u16,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct StoreHealth {
    pub state: Overall,
    pub schema_version: Option<usize>,
    pub error: Option<String>,
}

/// A capture source as `/healthz` shows it.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct SourceReport {
    pub name: String,
    pub state: SourceState,
    pub backend: String,
    pub device: String,
    pub description: String,
    pub delivered: u64,
    pub errors: u64,
    /// Camera frames lost on the way (sequence gaps).
    #[serde(default)]
    pub dropped: u64,
    pub last_error: Option<String>,
}

impl From<SourceStatus> for SourceReport {
    fn from(s: SourceStatus) -> Self {
        SourceReport {
            name: s.name,
            state: s.state,
            backend: s.info.backend.into(),
            device: s.info.device,
            description: s.info.description,
            delivered: s.delivered,
            errors: s.errors,
            dropped: s.dropped,
            last_error: s.last_error,
        }
    }
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct WebHealth {
    pub state: Overall,
    pub certificate_sha256: String,
}

pub async fn healthz(State(state): State<WebState>) -> Json<Health> {
    let status = state.status.clone();
    let store = status.store.clone();
    let schema = tokio::task::spawn_blocking(move || store.schema_version()).await;
    let store = match schema {
        Ok(Ok(v)) => StoreHealth { state: Overall::Ok, schema_version: Some(v), error: None },
        Ok(Err(e)) => StoreHealth { state: Overall::Error, schema_version: None, error: Some(e.to_string()) },
        Err(e) => StoreHealth { state: Overall::Error, schema_version: None, error: Some(e.to_string()) },
    };
    let meeting = match state.sfu.participants().await {
        Ok(list) => MeetingHealth {
            state: Overall::Ok,
            participants: list.iter().filter(|p| p.kind != ParticipantKind::Room).count(),
            media_port: status.media_port,
        },
        Err(_) => MeetingHealth { state: Overall::Error, participants: 0, media_port: status.media_port },
    };
    let now = Instant::now();
    let report = |h: &Arc<SourceHealth>| SourceReport::from(h.status(now, status.stall_timeout));
    let cameras: Vec<SourceReport> = status.cameras.iter().map(report).collect();
    let microphone = report(&status.microphone);
    let loudspeaker = status.speaker.as_ref().map(|s| SpeakerReport {
        device: report(&s.health),
        underruns: s.counters.underruns.load(std::sync::atomic::Ordering::Relaxed),
        echo_erle_db: s.echo.borrow().erle_db,
    });
    let healthy = store.state == Overall::Ok
        && meeting.state == Overall::Ok
        && cameras
            .iter()
            .chain([&microphone])
            .chain(loudspeaker.as_ref().map(|s| &s.device))
            .all(|s| !matches!(s.state, SourceState::Stalled | SourceState::Offline));
    Json(Health {
        status: if healthy { Overall::Ok } else { Overall::Degraded },
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_s: status.started.elapsed().as_secs_f64(),
        room: status.room_name(),
        muted: *status.muted.borrow(),
        subsystems: Subsystems {
            store,
            meeting,
            cameras,
            microphone,
            loudspeaker,
            web: WebHealth { state: Overall::Ok, certificate_sha256: state.certificate.borrow().sha256.clone() },
        },
    })
}

/// The box is healthy as `/healthz` says, and its HTTPS port (`https`, as
/// bound) takes connections: what keeping an updated slot asks for.
pub async fn serving(state: WebState, https: std::net::SocketAddr) -> bool {
    let health = healthz(State(state)).await;
    let local = match https.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    health.status == Overall::Ok && tokio::net::TcpStream::connect((local, https.port())).await.is_ok()
}
