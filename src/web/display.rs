//! What the room display shows, for anyone in the room: nothing an
//! attendee could not read off the TV.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::WebState;

#[derive(Debug, Serialize)]
pub struct Display {
    room: String,
    /// While the box has no admin password: the code that claims it, shown
    /// only to the room.
    #[serde(skip_serializing_if = "Option::is_none")]
    setup_code: Option<String>,
}

/// `GET /api/display`.
pub async fn display(State(state): State<WebState>) -> Json<Display> {
    Json(Display { room: state.status.room_name.clone(), setup_code: state.admin.setup_code() })
}
