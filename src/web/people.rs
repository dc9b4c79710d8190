//! The check-in API: enrolled people (photos uploaded or taken with the box
//! camera), meetings and their attendance (JSON and CSV), and check-in on/off.
//!
//! Photos are the request body as they are (`image/jpeg` or `image/png`), so
//! a page uploads a file with one `fetch`; name and email go in the query.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::WebState;
use super::join::error;
use super::refused::{Refused, on_store, refused, store_error};
use crate::events::MeetingId;
use crate::store::Store;
use crate::vision::service::{CheckInService, Enrollee, PictureSource};
use crate::vision::{EnrollError, PersonId, PhotoError};

/// Bodies above this are cut off by the server before any handler runs; up
/// to it, the photo limits give the clear error.
pub const MAX_PHOTO_BODY: usize = 26 << 20;

#[derive(Debug, Deserialize)]
pub struct NewPerson {
    name: String,
    email: Option<String>,
}

impl NewPerson {
    fn validate(&self) -> Result<(String, Option<String>), Refused> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(refused(StatusCode::BAD_REQUEST, "name: 1 to 80 characters, please"));
        }
        let email = self.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
        if let Some(e) = email
            && (e.len() > 254 || !e.contains('@') || e.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(refused(StatusCode::BAD_REQUEST, "email: not an email address"));
        }
        Ok((name.to_string(), email.map(str::to_string)))
    }
}

fn enroll_error(e: EnrollError) -> Refused {
    let status = match &e {
        EnrollError::Store(_) => return store_error(e),
        EnrollError::Unavailable(_) | EnrollError::NoCamera(_) => StatusCode::SERVICE_UNAVAILABLE,
        EnrollError::NoSuchPerson => StatusCode::NOT_FOUND,
        EnrollError::Photo(PhotoError::TooLarge { .. } | PhotoError::TooManyPixels { .. }) => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        EnrollError::Photo(PhotoError::UnsupportedType(_)) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        EnrollError::Photo(PhotoError::Corrupt(_)) => StatusCode::BAD_REQUEST,
        EnrollError::NoFace | EnrollError::SeveralFaces(_) | EnrollError::TooSmall { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        EnrollError::Model(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    refused(status, e.to_string())
}

static ENROLLING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
/// How long an enrollment waits for the one before it.
const ENROLL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

async fn enroll(state: WebState, person: Option<PersonId>, who: Option<NewPerson>, source: PictureSource) -> Response {
    let who = match (person, who.as_ref().map(NewPerson::validate)) {
        (_, Some(Err(refused))) => return refused.into_response(),
        (Some(id), _) => Enrollee::Existing(id),
        (None, Some(Ok((name, email)))) => Enrollee::New { name, email },
        (None, None) => return error(StatusCode::BAD_REQUEST, "name is required"),
    };
    // One enrollment at a time: decoding and the models take memory and a
    // core each, and six large photos at once once took 2.2 GB.
    let Ok(Ok(_turn)) = tokio::time::timeout(ENROLL_WAIT, ENROLLING.acquire()).await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "busy enrolling another photo; try again in a moment");
    };
    let service = state.checkin.clone();
    let done = tokio::task::spawn_blocking(move || service.enroll(who, source, crate::system::unix_now())).await;
    match done {
        Ok(Ok(id)) => (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response(),
        Ok(Err(e)) => enroll_error(e).into_response(),
        Err(e) => store_error(e).into_response(),
    }
}

/// `POST /api/people?name=…&email=…` with a photo: enrolls a new person.
pub async fn create(
    State(state): State<WebState>,
    query: Result<Query<NewPerson>, QueryRejection>,
    body: Bytes,
) -> Response {
    let Ok(Query(who)) = query else { return error(StatusCode::BAD_REQUEST, "name is required (?name=…)") };
    enroll(state, None, Some(who), PictureSource::Upload(body.to_vec())).await
}

/// `POST /api/people/capture?name=…`: enrolls a new person from the camera.
pub async fn create_from_camera(
    State(state): State<WebState>,
    query: Result<Query<NewPerson>, QueryRejection>,
) -> Response {
    let Ok(Query(who)) = query else { return error(StatusCode::BAD_REQUEST, "name is required (?name=…)") };
    enroll(state, None, Some(who), PictureSource::Camera).await
}

/// `POST /api/people/{id}/photos` with a photo: another photo of someone.
pub async fn add_photo(State(state): State<WebState>, Path(id): Path<PersonId>, body: Bytes) -> Response {
    enroll(state, Some(id), None, PictureSource::Upload(body.to_vec())).await
}

/// `POST /api/people/{id}/capture`: another picture of someone, from the camera.
pub async fn add_capture(State(state): State<WebState>, Path(id): Path<PersonId>) -> Response {
    enroll(state, Some(id), None, PictureSource::Camera).await
}

pub async fn list(State(state): State<WebState>) -> Response {
    match on_store(&state.status.store, Store::people).await {
        Ok(people) => Json(people).into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// `DELETE /api/people/{id}`: the person, their embeddings, photos and
/// check-ins.
pub async fn delete(State(state): State<WebState>, Path(id): Path<PersonId>) -> Response {
    let service = state.checkin.clone();
    match tokio::task::spawn_blocking(move || service.delete_person(id)).await {
        Ok(Ok(true)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(false)) => error(StatusCode::NOT_FOUND, "no such person"),
        Ok(Err(e)) => store_error(e).into_response(),
        Err(e) => store_error(e).into_response(),
    }
}

pub async fn meetings(State(state): State<WebState>) -> Response {
    match on_store(&state.status.store, Store::meetings).await {
        Ok(rows) => Json(rows).into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// `GET /api/meetings/{id}/attendance` (JSON) or `…/attendance.csv`.
pub async fn attendance(State(state): State<WebState>, Path((id, format)): Path<(MeetingId, String)>) -> Response {
    let rows = match on_store(&state.status.store, move |store| store.attendance(id)).await {
        Ok(rows) => rows,
        Err(refused) => return refused.into_response(),
    };
    match format.as_str() {
        "attendance" => Json(rows).into_response(),
        "attendance.csv" => {
            let mut csv = String::from("name,email,first_seen,last_seen\r\n");
            for a in rows {
                let iso = |t: i64| {
                    time::OffsetDateTime::from_unix_timestamp(t)
                        .ok()
                        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                        .unwrap_or_default()
                };
                let fields = [a.name, a.email.unwrap_or_default(), iso(a.first_seen), iso(a.last_seen)];
                csv.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
                csv.push_str("\r\n");
            }
            let disposition = format!("attachment; filename=\"meeting-{id}-attendance.csv\"");
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                csv,
            )
                .into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "no such page"),
    }
}

/// A CSV field, quoted when needed; a leading =, +, - or @ is defused so a
/// spreadsheet does not run a name as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_string() };
    if value.contains([',', '"', '\r', '\n']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

pub async fn status(State(state): State<WebState>) -> Response {
    let s = &state.checkin;
    let config = s.config();
    Json(serde_json::json!({
        "enabled": s.enabled(),
        "privacy_switch": s.privacy(),
        "available": s.unavailable().is_none(),
        "unavailable_because": s.unavailable(),
        "threshold": config.threshold(),
        "fps": config.fps.get(),
        "retention_days": config.retention_days.get(),
        "keep_photos": config.keep_photos,
        "faces": s.faces(),
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    enabled: bool,
}

/// `PUT /api/checkin {"enabled": bool}`: applies at once and is kept.
pub async fn switch(
    State(state): State<WebState>,
    body: Result<Json<Switch>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(Switch { enabled }) = match body {
        Ok(json) => json,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, &format!("expected {{\"enabled\": true|false}}: {}", e.body_text()));
        }
    };
    let service: Arc<CheckInService> = state.checkin.clone();
    if !service.set_enabled(enabled) {
        let why = service.unavailable().unwrap_or_else(|| "the check-in thread is not running".into());
        return error(StatusCode::SERVICE_UNAVAILABLE, &format!("face check-in is unavailable: {why}"));
    }
    let saved =
        on_store(&state.status.store, move |store| store.set_setting("checkin.enabled", &serde_json::json!(enabled)));
    match saved.await {
        Ok(()) => {
            state.config.send_modify(|c| c.checkin.enabled = enabled);
            status(State(state)).await
        }
        Err(refused) => refused.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Ada"), "Ada");
        assert_eq!(csv_field("Lovelace, Ada"), "\"Lovelace, Ada\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn names_and_emails_are_checked() {
        let who = |name: &str, email: Option<&str>| NewPerson { name: name.into(), email: email.map(Into::into) };
        assert_eq!(who(" Ada ", None).validate().unwrap(), ("Ada".to_string(), None));
        assert!(who("", None).validate().is_err());
        assert!(who(&"x".repeat(81), None).validate().is_err());
        assert!(who("Ada", Some("not an email")).validate().is_err());
        assert_eq!(who("Ada", Some("")).validate().unwrap().1, None);
    }
}
