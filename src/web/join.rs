//! `POST /api/join`: a phone or display joins the meeting with the join code
//! and its SDP offer, and gets the SDP answer. Everything after that (other
//! participants' tracks, mute, active speaker) goes over the data channel.

// A handler: it gives the admission throttle the time.
#![allow(clippy::disallowed_methods)]

use crate::events::ParticipantId;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::WebState;
use super::throttle::{Throttle, ThrottleConfig};
use crate::sfu::messages::ParticipantKind;
use crate::sfu::{JoinCode, JoinError, SfuError};

/// Largest join request accepted (an SDP offer with simulcast is ~10 KB).
pub const MAX_JOIN_BODY: usize = 64 * 1024;

/// Who may join: the current code, and the throttle on guessing it.
pub struct Admission {
    code: Mutex<JoinCode>,
    throttle: Mutex<Throttle>,
}

impl Admission {
    pub fn new(code: JoinCode) -> Self {
        Admission { code: Mutex::new(code), throttle: Mutex::new(Throttle::new(ThrottleConfig::default())) }
    }

    pub fn code(&self) -> JoinCode {
        self.code.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// From now on phones join with `code`; those in the meeting stay.
    pub fn set_code(&self, code: JoinCode) {
        *self.code.lock().unwrap_or_else(|p| p.into_inner()) = code;
    }

    /// Checks `attempt` from `ip`.
    pub(super) fn admit(&self, ip: std::net::IpAddr, attempt: &str, now: Instant) -> Result<(), Refusal> {
        let mut throttle = self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(wait) = throttle.check(ip, now) {
            return Err(Refusal::Throttled(wait.as_secs().max(1)));
        }
        if !self.code().matches(attempt) {
            throttle.failed(ip, now);
            return Err(Refusal::WrongCode);
        }
        throttle.succeeded(ip);
        Ok(())
    }
}

pub(super) enum Refusal {
    WrongCode,
    /// Seconds to wait.
    Throttled(u64),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::WrongCode => error(StatusCode::FORBIDDEN, "wrong join code"),
            Refusal::Throttled(secs) => {
                let mut r =
                    error(StatusCode::TOO_MANY_REQUESTS, &format!("too many wrong codes; try again in {secs} s"));
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                r
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub code: String,
    pub name: String,
    /// The page's SDP offer.
    pub sdp: String,
    #[serde(default = "phone")]
    pub kind: ParticipantKind,
}

fn phone() -> ParticipantKind {
    ParticipantKind::Phone
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JoinResponse {
    pub participant: ParticipantId,
    /// The box's SDP answer.
    pub sdp: String,
    /// Shown back to `POST /api/session/{session}` to renegotiate (an ICE
    /// restart after a network change).
    pub session: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionOffer {
    pub sdp: String,
}

pub async fn join(
    State(state): State<WebState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Result<Json<JoinRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(b) => b,
        Err(rejection) => return error(rejection.status(), &rejection.body_text()),
    };
    if let Err(refused) = state.admission.admit(client.ip(), &request.code, Instant::now()) {
        return refused.into_response();
    }

    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 40 || name.chars().any(char::is_control) {
        return error(StatusCode::BAD_REQUEST, "name: 1 to 40 characters, please");
    }
    match state.sfu.join(name.to_string(), request.kind, request.sdp).await {
        Ok((participant, sdp)) => {
            let session = state.sessions.insert(participant);
            Json(JoinResponse { participant, sdp, session }).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// What the media server's refusals mean to an HTTP client.
impl IntoResponse for SfuError {
    fn into_response(self) -> Response {
        let status = match &self {
            SfuError::Join(JoinError::MalformedOffer(_) | JoinError::UnacceptableOffer(_)) => StatusCode::BAD_REQUEST,
            SfuError::Join(JoinError::Unknown(_)) => StatusCode::NOT_FOUND,
            SfuError::Join(JoinError::Full(_)) | SfuError::Stopped => StatusCode::SERVICE_UNAVAILABLE,
        };
        error(status, &self.to_string())
    }
}

/// `{"error": "..."}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// `POST /api/session/{session}`: a joined page renegotiates over HTTPS when
/// its data channel is down (an ICE restart after a network change).
pub async fn renegotiate(
    State(state): State<WebState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    body: Result<Json<SessionOffer>, JsonRejection>,
) -> Response {
    let Json(offer) = match body {
        Ok(b) => b,
        Err(rejection) => return error(rejection.status(), &rejection.body_text()),
    };
    let Some(id) = state.sessions.get(&token) else {
        return error(StatusCode::NOT_FOUND, "no such session; join again");
    };
    match state.sfu.renegotiate(id, offer.sdp).await {
        Ok(sdp) => Json(serde_json::json!({ "sdp": sdp })).into_response(),
        Err(SfuError::Join(JoinError::Unknown(_))) => {
            state.sessions.remove(&token);
            error(StatusCode::NOT_FOUND, "no longer in the meeting; join again")
        }
        Err(e) => e.into_response(),
    }
}
