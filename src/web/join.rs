//! `POST /api/join`: a phone or display joins the meeting with the join code
//! and its SDP offer, and gets the SDP answer. Everything after that (other
//! participants' tracks, mute, active speaker) goes over the data channel.

// A handler: it gives the admission throttle the time.
#![allow(clippy::disallowed_methods)]

use crate::events::ParticipantId;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::WebState;
use super::throttle::{Pace, Throttle, ThrottleConfig, retry_after_secs};
use crate::sfu::messages::ParticipantKind;
use crate::sfu::{JoinCode, JoinError, SfuError};

/// Largest join request accepted (an SDP offer with simulcast is ~10 KB).
pub const MAX_JOIN_BODY: usize = 64 * 1024;

/// Who may join: the current code, and the throttle on guessing it.
pub struct Admission {
    code: Mutex<JoinCode>,
    throttle: Mutex<(Throttle, Pace)>,
}

/// A client blocked for wrong guesses may still try once per this, all
/// blocked clients together: a right code then gets in (one guesser
/// behind an office's NAT must not lock the office out), and a guesser
/// learns one answer per period, a million codes taking weeks.
const BLOCKED_PACE: Duration = Duration::from_secs(2);

impl Admission {
    pub fn new(code: JoinCode) -> Self {
        let throttle = (Throttle::new(ThrottleConfig::default()), Pace::new(BLOCKED_PACE));
        Admission { code: Mutex::new(code), throttle: Mutex::new(throttle) }
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
        let mut guard = self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        let (throttle, pace) = &mut *guard;
        let right = self.code().matches(attempt);
        if let Err(wait) = throttle.check(ip, now) {
            // Blocked: an attempt is judged only at the slow shared pace,
            // and a right code does not lift the block (the guesser may
            // share the address).
            if pace.take(now) {
                if right {
                    return Ok(());
                }
                throttle.failed(ip, now);
            }
            return Err(Refusal::Throttled(retry_after_secs(wait)));
        }
        if !right {
            throttle.failed(ip, now);
            return Err(Refusal::WrongCode);
        }
        // A right code does not wipe the address's record: a guesser may
        // share it.
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
            let live: Vec<_> = state.sfu.participants().await.unwrap_or_default().iter().map(|p| p.id).collect();
            let session = state.sessions.insert(participant, &live);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guesser_behind_the_offices_address_does_not_lock_the_office_out() {
        let admission = Admission::new(JoinCode::parse("135790").unwrap());
        let office: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // The guesser's wrong codes: six judged, then a second's wait; the
        // next ones wait longer.
        for n in 0..6 {
            assert!(matches!(admission.admit(office, &format!("{n:06}"), at(n)), Err(Refusal::WrongCode)));
        }
        assert!(matches!(admission.admit(office, "000007", at(1010)), Err(Refusal::WrongCode)));
        // Blocked, the guesser keeps trying; one attempt per 2 s is judged.
        assert!(matches!(admission.admit(office, "000008", at(1020)), Err(Refusal::Throttled(_))));
        assert!(matches!(admission.admit(office, "135790", at(1500)), Err(Refusal::Throttled(_))), "not its turn");
        // A colleague with the right code at the next turn gets in...
        assert!(admission.admit(office, "135790", at(3100)).is_ok());
        // ...and the block on guessing stays.
        assert!(matches!(admission.admit(office, "000009", at(3200)), Err(Refusal::Throttled(_))));
    }
}
