//! WHIP (RFC 9725) and WHEP: standard WebRTC ingest and playback over plain
//! HTTPS, so OBS, hardware encoders, players and other SFUs can publish into
//! the meeting (`POST /whip`) or pull the room's camera and microphone
//! (`POST /whep`). The bearer token is the join code.

// A handler: it gives the admission throttle the time.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::WebState;
use super::join::error;
use crate::sfu::messages::ParticipantKind;

pub async fn whip(
    state: State<WebState>,
    client: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    start(state, client, headers, body, ParticipantKind::Ingest, "whip").await
}

pub async fn whep(
    state: State<WebState>,
    client: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    start(state, client, headers, body, ParticipantKind::Viewer, "whep").await
}

async fn start(
    State(state): State<WebState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
    kind: ParticipantKind,
    path: &str,
) -> Response {
    if !headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/sdp")) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the body must be an SDP offer (application/sdp)");
    }
    let token =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if let Err(refused) = state.admission.admit(client.ip(), token.unwrap_or_default(), Instant::now()) {
        let mut r = refused.into_response();
        if r.status() == StatusCode::FORBIDDEN {
            // RFC 9725: a missing or wrong token is 401 with a challenge.
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        return r;
    }
    let Ok(offer) = String::from_utf8(body.to_vec()) else {
        return error(StatusCode::BAD_REQUEST, "the SDP offer is not UTF-8");
    };
    let name = if kind == ParticipantKind::Ingest { "WHIP stream" } else { "WHEP player" };
    match state.sfu.join(name.to_string(), kind, offer).await {
        Ok((id, answer)) => {
            let live: Vec<_> = state.sfu.participants().await.unwrap_or_default().iter().map(|p| p.id).collect();
            let token = state.sessions.insert(id, &live);
            let location = format!("/{path}/{token}");
            let mut r = (StatusCode::CREATED, answer).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/sdp"));
            if let Ok(v) = HeaderValue::from_str(&location) {
                h.insert(header::LOCATION, v);
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

/// `DELETE /whip/{token}` (or `/whep/…`): the client ends its session.
pub async fn stop(State(state): State<WebState>, Path(token): Path<String>) -> Response {
    match state.sessions.remove(&token) {
        Some(id) => match state.sfu.leave(id).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(e) => e.into_response(),
        },
        None => error(StatusCode::NOT_FOUND, "no such session"),
    }
}

/// Trickle ICE and ICE restarts are not offered (RFC 9725 §4.3: 405).
pub async fn no_patch() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "DELETE")]).into_response()
}

/// `OPTIONS /whip`: what a client may post.
pub async fn options() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::ALLOW, "POST, OPTIONS"), (HeaderName::from_static("accept-post"), "application/sdp")],
    )
        .into_response()
}
