//! The update API: the admin page uploads a RAUC bundle (the request body
//! as it is, streamed to the data partition, never held in memory), RAUC
//! installs it into the slot not running while `GET /api/update` shows the
//! steps, and a restart tries the new slot (kept once healthy, see
//! `update::commit`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::WebState;
use super::join::error;
use crate::update::{Refusal, UpdateState};

/// The largest bundle taken. It waits on the data partition while RAUC
/// installs it; the image's root, compressed, is a few hundred MiB.
pub const MAX_BUNDLE: usize = 768 << 20;

#[derive(Debug, Serialize)]
pub struct UpdateStatus {
    /// The box can update itself (RAUC is installed).
    pub supported: bool,
    /// The version running now.
    pub version: &'static str,
    #[serde(flatten)]
    pub update: UpdateState,
}

fn status(state: &WebState) -> UpdateStatus {
    UpdateStatus {
        supported: state.updates.supported(),
        version: env!("CARGO_PKG_VERSION"),
        update: state.updates.state(),
    }
}

fn refusal(refusal: Refusal) -> Response {
    let code = match refusal {
        Refusal::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::CONFLICT,
    };
    error(code, &refusal.message())
}

/// `GET /api/update`.
pub async fn get(State(state): State<WebState>) -> Json<UpdateStatus> {
    Json(status(&state))
}

/// `POST /api/update` with a bundle: 202 once it is whole and RAUC starts.
pub async fn upload(State(state): State<WebState>, body: Body) -> Response {
    let updates = state.updates.clone();
    let upload = match updates.begin() {
        Ok(upload) => upload,
        Err(r) => return refusal(r),
    };
    let received = async {
        tokio::fs::create_dir_all(updates.dir()).await.map_err(|e| io_error("making the update folder", e))?;
        let mut file = tokio::fs::File::create(upload.path()).await.map_err(|e| io_error("writing the bundle", e))?;
        let (mut stream, mut bytes) = (body.into_data_stream(), 0u64);
        let mut reported = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| (StatusCode::BAD_REQUEST, "the upload broke off".to_string()))?;
            bytes += chunk.len() as u64;
            if bytes > MAX_BUNDLE as u64 {
                let limit = MAX_BUNDLE >> 20;
                return Err((StatusCode::PAYLOAD_TOO_LARGE, format!("a bundle is at most {limit} MiB")));
            }
            file.write_all(&chunk).await.map_err(|e| io_error("writing the bundle", e))?;
            if bytes - reported >= 1 << 20 {
                upload.received(bytes);
                reported = bytes;
            }
        }
        if bytes == 0 {
            return Err((StatusCode::BAD_REQUEST, "the body is empty: send the bundle file".to_string()));
        }
        file.sync_all().await.map_err(|e| io_error("writing the bundle", e))?;
        upload.received(bytes);
        Ok(())
    };
    if let Err((code, message)) = received.await {
        upload.abandon(&message);
        return error(code, &message);
    }
    if let Err(e) = upload.install() {
        return error(StatusCode::INTERNAL_SERVER_ERROR, &e);
    }
    (StatusCode::ACCEPTED, Json(status(&state))).into_response()
}

/// `POST /api/update/restart`: the box restarts into the slot just
/// installed (tried once; kept when healthy there).
pub async fn restart(State(state): State<WebState>) -> Response {
    match state.updates.restart() {
        Ok(()) => {
            tracing::info!("restarting into the update");
            (StatusCode::ACCEPTED, Json(status(&state))).into_response()
        }
        Err(r) => refusal(r),
    }
}

fn io_error(what: &str, e: std::io::Error) -> (StatusCode, String) {
    tracing::error!(error = %e, "{what}");
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {e}"))
}
