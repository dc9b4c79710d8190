//! The admin's login: first-boot setup with a one-time code (printed in the
//! log and shown on the room display, so only someone in the room can claim
//! the box), Argon2id passwords, sessions in SQLite behind a
//! `Secure; HttpOnly; SameSite=Strict` cookie, a CSRF token per session,
//! and guessing slowed down per client.

// A handler: it gives the throttle the time.
#![allow(clippy::disallowed_methods)]

pub mod guard;
pub mod password;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::refused::{Refused, on_store, refused, throttled};
use super::throttle::{Throttle, ThrottleConfig, retry_after_secs};
use super::{WebState, secret};
use crate::store::{AdminSession, Store};

/// How long a login lasts.
pub const SESSION_SECS: i64 = 12 * 60 * 60;

/// The admin's side of the box: its store, the setup code while there is
/// no password, and the throttle on guessing either.
pub struct AdminAuth {
    store: Store,
    setup_code: Mutex<Option<String>>,
    throttle: Mutex<Throttle>,
}

impl AdminAuth {
    /// Reads whether a password exists; without one, makes the setup code
    /// and logs it.
    pub fn new(store: Store) -> Result<Arc<AdminAuth>, crate::store::StoreError> {
        let setup_code = match store.admin_password()? {
            Some(_) => None,
            None => {
                let code = setup_code();
                tracing::warn!(setup_code = %code, "no admin password yet: open /admin and enter this setup code (also shown on /display)");
                Some(code)
            }
        };
        Ok(Arc::new(AdminAuth {
            store,
            setup_code: Mutex::new(setup_code),
            // Five tries; the sixth in a row waits, and each after it longer.
            throttle: Mutex::new(Throttle::new(ThrottleConfig { free_failures: 4, ..ThrottleConfig::default() })),
        }))
    }

    /// The code that claims the box, until someone has.
    pub fn setup_code(&self) -> Option<String> {
        self.setup_code.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The live session behind a cookie's token.
    pub async fn session(&self, token: &str) -> Result<Option<AdminSession>, Refused> {
        let key = token_key(token);
        self.on_store(move |store| store.admin_session(&key, now())).await
    }

    async fn on_store<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, Refused> {
        on_store(&self.store, query).await
    }

    /// Counts an attempt from `ip` before it is judged (so a burst sent at
    /// once is throttled too), or refuses it while `ip` must wait.
    fn attempt(&self, ip: IpAddr) -> Result<(), Refused> {
        let mut throttle = self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        throttle.attempt(ip, Instant::now()).map_err(|wait| throttled(retry_after_secs(wait)))
    }

    /// A right answer takes the attempt's count back.
    fn succeeded(&self, ip: IpAddr) {
        self.throttle.lock().unwrap_or_else(|p| p.into_inner()).succeeded(ip);
    }

    /// Checks `password` against the stored hash (slow: Argon2), counting a
    /// wrong one against the client.
    async fn verify(&self, ip: IpAddr, password: String) -> Result<(), Refused> {
        let Some(stored) = self.on_store(|store| store.admin_password()).await? else {
            return Err(refused(StatusCode::CONFLICT, "the box has no admin password yet: set it up first"));
        };
        self.attempt(ip)?;
        let right = password::verify(password, stored).await?;
        if right {
            self.succeeded(ip);
            Ok(())
        } else {
            self.throttle.lock().unwrap_or_else(|p| p.into_inner()).judged_wrong(ip, Instant::now());
            Err(refused(StatusCode::UNAUTHORIZED, "wrong password"))
        }
    }

    /// Starts a session: the cookie to set and the CSRF token for the page.
    async fn start_session(&self) -> Result<(String, String), Refused> {
        let (token, csrf) = (secret::token::<32>(), secret::token::<16>());
        let session = AdminSession { csrf: csrf.clone(), expires_at: now() + SESSION_SECS };
        let key = token_key(&token);
        self.on_store(move |store| store.add_admin_session(&key, &session, now())).await?;
        Ok((guard::cookie(Some(&token), SESSION_SECS), csrf))
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Eight digits: easy to read off a TV and type on a phone; guessing is
/// throttled.
fn setup_code() -> String {
    format!("{:08}", u64::from_le_bytes(secret::random_bytes()) % 100_000_000)
}

/// Sessions are stored by the SHA-256 of their token.
fn token_key(token: &str) -> String {
    secret::hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

fn body<T>(body: Result<Json<T>, JsonRejection>, expected: &str) -> Result<T, Refused> {
    body.map(|Json(b)| b)
        .map_err(|e| refused(StatusCode::BAD_REQUEST, format!("expected {expected}: {}", e.body_text())))
}

fn logged_in(cookie: String, csrf: String) -> Response {
    let response = Json(SessionState { setup_needed: false, logged_in: true, csrf: Some(csrf) }).into_response();
    with_cookie(response, &cookie)
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Serialize)]
pub struct SessionState {
    setup_needed: bool,
    logged_in: bool,
    /// For the page to send back in `X-CSRF-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<String>,
}

/// `GET /api/admin/session`: set up yet? logged in? (and the CSRF token).
pub async fn session(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let setup_needed = state.admin.setup_code().is_some();
    let session = match guard::session_token(&headers) {
        Some(token) => state.admin.session(token).await,
        None => Ok(None),
    };
    match session {
        Ok(s) => Json(SessionState { setup_needed, logged_in: s.is_some(), csrf: s.map(|s| s.csrf) }).into_response(),
        Err(refused) => refused.into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    code: String,
    password: String,
}

/// `POST /api/admin/setup`: the first password, with the setup code.
pub async fn setup(
    State(state): State<WebState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Result<Json<Setup>, JsonRejection>,
) -> Result<Response, Refused> {
    let Setup { code, password } = body(request, r#"{"code": "...", "password": "..."}"#)?;
    let auth = &state.admin;
    let Some(expected) = auth.setup_code() else {
        return Err(refused(StatusCode::CONFLICT, "the box is already set up: log in instead"));
    };
    auth.attempt(client.ip())?;
    if !secret::same_secret(code.trim().replace(' ', "").as_str(), &expected) {
        return Err(refused(StatusCode::FORBIDDEN, "wrong setup code (it is in the log and on the room display)"));
    }
    auth.succeeded(client.ip());
    password::check_policy(&password).map_err(|why| refused(StatusCode::UNPROCESSABLE_ENTITY, why))?;
    let hash = password::hash(password).await?;
    // Only one claim wins, even if two arrive together.
    if auth.setup_code.lock().unwrap_or_else(|p| p.into_inner()).take().is_none() {
        return Err(refused(StatusCode::CONFLICT, "the box is already set up: log in instead"));
    }
    auth.on_store(move |store| store.set_admin_password(&hash, None, now())).await?;
    tracing::info!(client = %client.ip(), "admin password set up");
    let (cookie, csrf) = auth.start_session().await?;
    Ok(logged_in(cookie, csrf))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    password: String,
}

/// `POST /api/admin/login`.
pub async fn login(
    State(state): State<WebState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Result<Json<Login>, JsonRejection>,
) -> Result<Response, Refused> {
    let Login { password } = body(request, r#"{"password": "..."}"#)?;
    state.admin.verify(client.ip(), password).await?;
    let (cookie, csrf) = state.admin.start_session().await?;
    Ok(logged_in(cookie, csrf))
}

/// `POST /api/admin/logout`.
pub async fn logout(State(state): State<WebState>, headers: HeaderMap) -> Result<Response, Refused> {
    if let Some(key) = guard::session_token(&headers).map(token_key) {
        state.admin.on_store(move |store| store.end_admin_session(&key)).await?;
    }
    Ok(with_cookie(StatusCode::NO_CONTENT.into_response(), &guard::cookie(None, 0)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    current: String,
    new: String,
}

/// `PUT /api/admin/password`: needs the current one; ends every other session.
pub async fn change_password(
    State(state): State<WebState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<Json<NewPassword>, JsonRejection>,
) -> Result<Response, Refused> {
    let NewPassword { current, new } = body(request, r#"{"current": "...", "new": "..."}"#)?;
    password::check_policy(&new).map_err(|why| refused(StatusCode::UNPROCESSABLE_ENTITY, why))?;
    state.admin.verify(client.ip(), current).await?;
    let hash = password::hash(new).await?;
    let keep = guard::session_token(&headers).map(token_key);
    state.admin.on_store(move |store| store.set_admin_password(&hash, keep.as_deref(), now())).await?;
    tracing::info!(client = %client.ip(), "admin password changed; other sessions ended");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_tokens_look_right() {
        let code = setup_code();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(token_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
