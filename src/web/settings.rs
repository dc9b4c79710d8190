//! The admin page's settings: read them with what the box found plugged in,
//! change them (checked server-side, each bad field named, kept in SQLite,
//! applied at once where the box can), and a fresh join code on demand.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::WebState;
use super::refused::{on_store, refused};
use crate::config::live::{self, EDITABLE};
use crate::sfu::JoinCode;

/// `GET /api/settings`.
pub async fn get(State(state): State<WebState>) -> Response {
    let found = tokio::task::spawn_blocking(|| crate::system::devices::discover(std::path::Path::new("/")))
        .await
        .unwrap_or_default();
    let config = state.config.borrow().clone();
    let takes: Map<String, Value> = EDITABLE.iter().map(|(k, t)| (k.to_string(), json!(t))).collect();
    Json(json!({
        "values": live::values(&config),
        "takes": takes,
        "restart_pending": live::waiting_for_restart(&state.booted, &config),
        "devices": found,
        "join_code": state.admission.code().as_str(),
    }))
    .into_response()
}

/// `PUT /api/settings {"key": value, …}`: all or nothing. 422 with
/// `fields: {key: message}` when any key does not fit.
pub async fn put(State(state): State<WebState>, body: Result<Json<Map<String, Value>>, JsonRejection>) -> Response {
    let changes = match body {
        Ok(Json(changes)) => changes,
        Err(e) => {
            return refused(StatusCode::BAD_REQUEST, format!("expected {{\"setting\": value, …}}: {}", e.body_text()))
                .into_response();
        }
    };
    let current = state.config.borrow().clone();
    let next = match live::change(&current, &changes) {
        Ok(changed) => changed,
        Err(errors) => return unfit(errors.into_iter().map(|e| (e.key, e.message))),
    };
    if next.checkin.enabled
        && !current.checkin.enabled
        && let Some(why) = state.checkin.unavailable()
    {
        return unfit([("checkin.enabled".to_string(), format!("face check-in is unavailable: {why}"))]);
    }
    let keys: Vec<String> = changes.keys().cloned().collect();
    let saved = on_store(&state.status.store, move |store| {
        for (key, value) in &changes {
            store.set_setting(key, value)?;
        }
        Ok(())
    });
    if let Err(refusal) = saved.await {
        return refusal.into_response();
    }
    tracing::info!(?keys, "settings changed");
    let pending = live::waiting_for_restart(&state.booted, &next);
    let values = live::values(&next);
    state.config.send_replace(next);
    Json(json!({ "values": values, "restart_pending": pending })).into_response()
}

fn unfit(fields: impl IntoIterator<Item = (String, String)>) -> Response {
    let fields: Map<String, Value> = fields.into_iter().map(|(k, m)| (k, Value::String(m))).collect();
    let body = json!({ "error": "some settings do not fit; nothing was changed", "fields": fields });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// `POST /api/meeting/code`: a fresh join code now (phones in the meeting
/// stay; new ones need the new code). Refused while the code is fixed.
pub async fn new_code(State(state): State<WebState>) -> Response {
    if state.config.borrow().meeting.join_code.is_some() {
        return refused(StatusCode::CONFLICT, "the join code is fixed in the settings").into_response();
    }
    let code = JoinCode::generate();
    state.admission.set_code(code.clone());
    tracing::info!(join_code = code.as_str(), "new join code");
    Json(json!({ "code": code.as_str() })).into_response()
}

/// `POST /api/speaker/tone`: the loudspeaker plays a test tone (two
/// seconds, even while the far end is muted). 409 when the box has none.
pub async fn test_tone(State(state): State<WebState>) -> Response {
    let Some(speaker) = &state.status.speaker else {
        return refused(StatusCode::CONFLICT, "the box has no loudspeaker; the display page plays the far end")
            .into_response();
    };
    speaker.counters.tone.store(true, std::sync::atomic::Ordering::Relaxed);
    Json(json!({ "playing": true, "device": speaker.health.info.device })).into_response()
}
