//! Admin passwords: Argon2id with the crate's (OWASP) defaults, stored as a
//! PHC string, and the policy a new one must meet.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

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

/// Hashes with a fresh random salt (slow on purpose: call off the async threads).
pub fn hash(password: &str) -> String {
    let salt = SaltString::encode_b64(&super::super::secret::random_bytes::<16>()).expect("16 bytes is a valid salt");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("Argon2 with default parameters").to_string()
}

/// True when `password` matches `stored`; a damaged hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
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
        let a = hash("correct horse");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, hash("correct horse"), "salted");
        assert!(verify("correct horse", &a));
        assert!(!verify("correct horsE", &a));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn policy_names_the_problem() {
        assert!(check_policy("short").unwrap_err().contains("at least 8"));
        assert!(check_policy(&"x".repeat(129)).unwrap_err().contains("at most 128"));
        assert!(check_policy("tab\there!").unwrap_err().contains("control"));
        assert_eq!(check_policy("room-42 projector"), Ok(()));
    }
}
