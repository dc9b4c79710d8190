//! What the room display shows, for anyone in the room: nothing an
//! attendee could not read off the TV (the room's name, the join code and
//! its QR code, who just checked in, whether the camera or microphone is
//! off).

// A handler: it reads the clock for the welcomes.
#![allow(clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::WebState;
use crate::capture::SourceState;

/// How long a "Welcome" stays on the display.
const WELCOME_FOR: Duration = Duration::from_secs(8);

#[derive(Debug, Serialize)]
pub struct Display {
    room: String,
    /// The code phones join with, and the address the QR code holds.
    code: String,
    join_url: String,
    /// People who checked in during the last few seconds.
    welcome: Vec<String>,
    camera_offline: bool,
    microphone_offline: bool,
    muted: bool,
    /// The box plays the far end through its own loudspeaker (and cancels
    /// its echo): the display must play no audio, or the room hears it
    /// twice and the echo canceller cannot remove the second.
    box_plays_far_end: bool,
    /// While the box has no admin password: the code that claims it, shown
    /// only to the room.
    #[serde(skip_serializing_if = "Option::is_none")]
    setup_code: Option<String>,
}

/// `GET /api/display`.
pub async fn display(State(state): State<WebState>, uri: Uri, headers: HeaderMap) -> Json<Display> {
    let code = state.admission.code().as_str().to_string();
    let now = Instant::now();
    let offline = |s: &std::sync::Arc<crate::capture::SourceHealth>| {
        matches!(s.status(now, state.status.stall_timeout).state, SourceState::Offline | SourceState::Stalled)
    };
    Json(Display {
        room: state.status.room_name(),
        join_url: join_url(&state, &uri, &headers, &code),
        code,
        welcome: state.welcomes.recent(now),
        camera_offline: state.status.cameras.first().is_some_and(offline),
        microphone_offline: offline(&state.status.microphone),
        muted: *state.status.muted.borrow(),
        box_plays_far_end: state.status.plays_far_end(),
        setup_code: state.admin.setup_code(),
    })
}

/// `GET /api/display/qr.svg`: the join address with the code, as a QR code.
pub async fn qr(State(state): State<WebState>, uri: Uri, headers: HeaderMap) -> Response {
    let url = join_url(&state, &uri, &headers, state.admission.code().as_str());
    match qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => {
            let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(256, 256).quiet_zone(true).build();
            ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response()
        }
        Err(e) => super::join::error(axum::http::StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `https://<the box's address>[:port]/join/?code=…`: the address a phone
/// on the room's network reaches (the display itself may be the box's own
/// screen, on localhost), on the port this page came in on.
fn join_url(state: &WebState, uri: &Uri, headers: &HeaderMap, code: &str) -> String {
    // HTTP/2 names the host in the URI (`:authority`), HTTP/1.1 in `Host`.
    let authority: Option<Authority> =
        uri.authority().cloned().or_else(|| headers.get(header::HOST)?.to_str().ok()?.parse().ok());
    let host = authority.as_ref().map_or("localhost", Authority::host);
    let port = authority.as_ref().and_then(Authority::port_u16);
    // A box bound to one address is reached there only.
    let bind = state.config.borrow().server.bind;
    let ips = if bind.is_unspecified() { state.certificate.borrow().identity.ips.clone() } else { vec![bind] };
    let address = lan_address(&ips)
        .or(bind.is_loopback().then_some(bind))
        .map_or_else(|| host.to_string(), |ip| if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() });
    match port {
        Some(p) if p != 443 => format!("https://{address}:{p}/join/?code={code}"),
        _ => format!("https://{address}/join/?code={code}"),
    }
}

/// The address phones reach: IPv4 first (every phone has it).
fn lan_address(ips: &[IpAddr]) -> Option<IpAddr> {
    let reachable = ips.iter().filter(|ip| !ip.is_loopback());
    reachable.clone().find(|ip| ip.is_ipv4()).or_else(|| reachable.clone().next()).copied()
}

/// Check-ins of the last few seconds, for the display's "Welcome".
#[derive(Debug, Default)]
pub struct Welcomes(Mutex<VecDeque<(String, Instant)>>);

impl Welcomes {
    pub fn checked_in(&self, name: String, at: Instant) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|(n, t)| *n != name && at.saturating_duration_since(*t) < WELCOME_FOR);
        list.push_back((name, at));
    }

    /// The meeting is over: its welcomes go.
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn recent(&self, now: Instant) -> Vec<String> {
        let list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        list.iter().filter(|(_, t)| now.saturating_duration_since(*t) < WELCOME_FOR).map(|(n, _)| n.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_get_the_lan_address_ipv4_first() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(lan_address(&[ip("127.0.0.1"), ip("fd00::5"), ip("192.168.1.20")]), Some(ip("192.168.1.20")));
        assert_eq!(lan_address(&[ip("127.0.0.1"), ip("fd00::5")]), Some(ip("fd00::5")));
        assert_eq!(lan_address(&[ip("127.0.0.1")]), None);
    }

    #[test]
    fn a_welcome_lasts_a_few_seconds_and_names_someone_once() {
        let w = Welcomes::default();
        let t0 = Instant::now();
        w.checked_in("Ada".into(), t0);
        w.checked_in("Bob".into(), t0 + Duration::from_secs(2));
        w.checked_in("Ada".into(), t0 + Duration::from_secs(3));
        assert_eq!(w.recent(t0 + Duration::from_secs(4)), ["Bob", "Ada"]);
        assert_eq!(w.recent(t0 + Duration::from_secs(10)), ["Ada"]);
        assert!(w.recent(t0 + Duration::from_secs(12)).is_empty());
    }
}
