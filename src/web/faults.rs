//! Test builds only (`--features faults`): `POST /api/faults` with
//! `{"part": "sfu", "fault": "die"}` (or `"stall"`) strikes a supervised
//! part, so tests under real systemd can show the box restarting. A shipped
//! build has no such route.

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Json};
use serde::Deserialize;

use crate::supervisor::Supervisor;
use crate::supervisor::faults::Fault;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Strike {
    part: String,
    fault: Fault,
}

/// The route, striking the parts of `supervisor`'s box.
pub fn routes(supervisor: Supervisor) -> axum::Router {
    axum::Router::new().route("/api/faults", post(strike)).layer(Extension(supervisor))
}

async fn strike(
    Extension(supervisor): Extension<Supervisor>,
    Json(strike): Json<Strike>,
) -> (StatusCode, Json<serde_json::Value>) {
    supervisor.inject(&strike.part, strike.fault);
    (StatusCode::ACCEPTED, Json(serde_json::json!({ "part": strike.part, "fault": strike.fault })))
}
