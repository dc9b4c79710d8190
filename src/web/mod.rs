//! The box's web server: HTTPS (self-signed, see [`certificate`]) serving the
//! JSON API and the pages embedded from `web/`, and a plain-HTTP port that
//! only redirects to HTTPS (phones need a secure origin for their camera).

pub mod admin;
pub mod api;
mod assets;
pub mod certificate;
pub mod connections;
pub mod display;
mod errors;
#[cfg(feature = "faults")]
pub mod faults;
pub(crate) mod health;
pub mod join;
mod metrics;
mod people;
mod redirect;
mod refused;
pub mod secret;
mod server;
pub mod sessions;
mod settings;
mod status;
pub mod throttle;
mod update;
pub mod whip;

pub use health::{Health, Overall};
pub use server::{WebServer, renew_certificate, spawn_web};

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

/// What handlers can reach.
#[derive(Clone)]
pub struct WebState {
    pub status: Arc<crate::status::BoxStatus>,
    /// The certificate being served.
    pub certificate: tokio::sync::watch::Receiver<certificate::Certificate>,
    pub admission: Arc<join::Admission>,
    pub sfu: crate::sfu::SfuHandle,
    pub sessions: Arc<sessions::Sessions>,
    pub checkin: Arc<crate::vision::service::CheckInService>,
    pub admin: Arc<admin::AdminAuth>,
    /// What the media server forwarded, for /metrics.
    pub forwarded: Arc<crate::sfu::Counters>,
    /// The talker's direction while someone speaks, for /metrics.
    pub talker: tokio::sync::watch::Receiver<Option<f32>>,
    /// The room's sound level (dBFS), for the admin page.
    pub level: tokio::sync::watch::Receiver<f32>,
    /// The running configuration; the admin's changes are sent here and
    /// the box follows them.
    pub config: Arc<tokio::sync::watch::Sender<crate::config::Config>>,
    /// The director's timings as the listening thread uses them.
    pub director: tokio::sync::watch::Receiver<crate::config::DirectorSettings>,
    /// Who just checked in, for the display's "Welcome".
    pub welcomes: Arc<display::Welcomes>,
    /// The HTTPS connections open and refused, for /metrics.
    pub connections: Arc<connections::Connections>,
    /// Updates of the box (RAUC bundles).
    pub updates: Arc<crate::update::Updates>,
    /// The configuration the box started with (its devices stay opened so
    /// until the next start).
    pub booted: Arc<crate::config::Config>,
}

/// The HTTPS router.
pub fn router(state: WebState) -> Router {
    let headers: [(HeaderName, &str); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'",
        ),
        (HeaderName::from_static("permissions-policy"), "camera=(self), microphone=(self), display-capture=()"),
    ];
    let api = api::api();
    let guard = axum::middleware::from_fn_with_state(state.clone(), admin::guard::require_admin);
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/whip", errors::body_limit(axum::routing::post(whip::whip).options(whip::options), join::MAX_JOIN_BODY))
        .route("/whep", errors::body_limit(axum::routing::post(whip::whep).options(whip::options), join::MAX_JOIN_BODY))
        .route("/whip/{token}", axum::routing::delete(whip::stop).patch(whip::no_patch))
        .route("/whep/{token}", axum::routing::delete(whip::stop).patch(whip::no_patch))
        .merge(api.public)
        .merge(api.admin.route_layer(guard))
        .fallback(assets::serve)
        .layer(axum::middleware::from_fn(errors::as_json))
        .with_state(state);

    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    router
}
