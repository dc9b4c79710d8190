//! What every admin route passes first: a live session cookie (else 401)
//! and that session's CSRF token in `X-CSRF-Token` (else 403), on reads too,
//! so no route depends on remembering which methods change state.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::super::WebState;
use super::super::join::error;
use super::super::secret::same_secret;

/// The session cookie's name.
pub const COOKIE: &str = "confcam_admin";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session token in the request's cookies.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// The cookie that carries a new session (or, with `None`, ends it).
pub fn cookie(token: Option<&str>, max_age_secs: i64) -> String {
    let (value, age) = token.map_or(("", 0), |t| (t, max_age_secs));
    format!("{COOKIE}={value}; Path=/; Max-Age={age}; Secure; HttpOnly; SameSite=Strict")
}

pub async fn require_admin(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let Some(token) = session_token(request.headers()).map(str::to_owned) else {
        return error(StatusCode::UNAUTHORIZED, "log in as the admin first");
    };
    let session = match state.admin.session(&token).await {
        Ok(Some(session)) => session,
        Ok(None) => return error(StatusCode::UNAUTHORIZED, "your admin session has ended; log in again"),
        Err(refused) => return refused.into_response(),
    };
    let csrf = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !same_secret(csrf, &session.csrf) {
        return error(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token header (reload the admin page)");
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn finds_our_cookie_among_others() {
        let mut h = HeaderMap::new();
        assert_eq!(session_token(&h), None);
        h.append(header::COOKIE, HeaderValue::from_static("a=1; confcam_admin_x=2"));
        h.append(header::COOKIE, HeaderValue::from_static("b=3;confcam_admin=abc ; c=4"));
        assert_eq!(session_token(&h), Some("abc"));
        let mut empty = HeaderMap::new();
        empty.append(header::COOKIE, HeaderValue::from_static("confcam_admin="));
        assert_eq!(session_token(&empty), None);
    }

    #[test]
    fn cookie_is_locked_down_and_can_be_cleared() {
        let c = cookie(Some("t"), 60);
        assert_eq!(c, "confcam_admin=t; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Strict");
        assert!(cookie(None, 60).starts_with("confcam_admin=; Path=/; Max-Age=0;"));
    }
}
