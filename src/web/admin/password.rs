//! Admin passwords: Argon2id with the crate's (OWASP) defaults, stored as a
//! PHC string, and the policy a new one must meet.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::http::StatusCode;
use tokio::sync::Semaphore;

use crate::web::refused::{Refused, refused, store_error};

/// One Argon2 at a time: each takes ~19 MiB and a core for a while, and a
/// burst of logins must not take the box's memory and threads with it.
static HASHING: Semaphore = Semaphore::const_new(1);
/// A login waits this long for its turn, then is told to come back.
const TURN_WAIT: Duration = Duration::from_secs(10);

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

/// Why a new password is refused, in words for the form.
pub fn check_policy(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(format!("password: at least {MIN_LEN} characters, please"));
    }
    if chars > MAX_LEN {
        return Err(format!("password: at most {MAX_LEN} characters, please"));
    }
    if password.chars().any(char::is_control) {
        return Err("password: no control characters, please".into());
    }
    Ok(())
}

/// Hashes with a fresh random salt, one at a time, off the async threads.
pub async fn hash(password: String) -> Result<String, Refused> {
    bounded(move || hash_now(&password)).await
}

/// Whether `password` matches `stored`, checked one at a time, off the
/// async threads.
pub async fn verify(password: String, stored: String) -> Result<bool, Refused> {
    bounded(move || verify_now(&password, &stored)).await
}

async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Refused> {
    let busy = || refused(StatusCode::SERVICE_UNAVAILABLE, "busy checking other passwords; try again in a moment");
    let _turn = tokio::time::timeout(TURN_WAIT, HASHING.acquire()).await.map_err(|_| busy())?.map_err(|_| busy())?;
    tokio::task::spawn_blocking(work).await.map_err(store_error)
}

/// Hashes with a fresh random salt (slow on purpose).
fn hash_now(password: &str) -> String {
    let salt = SaltString::encode_b64(&super::super::secret::random_bytes::<16>()).expect("16 bytes is a valid salt");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("Argon2 with default parameters").to_string()
}

/// True when `password` matches `stored`; a damaged hash matches nothing.
fn verify_now(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "the stored admin password hash is damaged");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ_by_salt() {
        let a = hash_now("correct horse");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, hash_now("correct horse"), "salted");
        assert!(verify_now("correct horse", &a));
        assert!(!verify_now("correct horsE", &a));
        assert!(!verify_now("correct horse", "not a hash"));
    }

    #[test]
    fn policy_names_the_problem() {
        assert!(check_policy("short").unwrap_err().contains("at least 8"));
        assert!(check_policy(&"x".repeat(129)).unwrap_err().contains("at most 128"));
        assert!(check_policy("tab\there!").unwrap_err().contains("control"));
        assert_eq!(check_policy("room-42 projector"), Ok(()));
    }
}
