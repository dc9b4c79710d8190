//! The admin's password hash and login sessions. Times are Unix seconds.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// A live login: what a request must also show (the CSRF token) and when it
/// ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub csrf: String,
    pub expires_at: i64,
}

impl Store {
    /// The admin's password hash; `None` until the box is set up.
    pub fn admin_password(&self) -> Result<Option<String>, StoreError> {
        let conn = self.lock();
        conn.query_row("SELECT password_hash FROM admin WHERE id = 1", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets the password and ends every session except `keep` (the one that
    /// changed it), in one transaction.
    pub fn set_admin_password(&self, hash: &str, keep: Option<&str>, now: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO admin (id, password_hash, changed_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET password_hash = ?1, changed_at = ?2",
            params![hash, now],
        )
        .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM admin_sessions WHERE token_sha256 IS NOT ?1", params![keep])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Records a new session (and drops the expired ones).
    pub fn add_admin_session(&self, token_sha256: &str, session: &AdminSession, now: i64) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute("DELETE FROM admin_sessions WHERE expires_at <= ?1", params![now]).map_err(|e| self.err(e))?;
        conn.execute(
            "INSERT INTO admin_sessions (token_sha256, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_sha256, session.csrf, now, session.expires_at],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The session with this token hash, unless it has expired.
    pub fn admin_session(&self, token_sha256: &str, now: i64) -> Result<Option<AdminSession>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT csrf, expires_at FROM admin_sessions WHERE token_sha256 = ?1 AND expires_at > ?2",
            params![token_sha256, now],
            |r| Ok(AdminSession { csrf: r.get(0)?, expires_at: r.get(1)? }),
        )
        .optional()
        .map_err(|e| self.err(e))
    }

    pub fn end_admin_session(&self, token_sha256: &str) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute("DELETE FROM admin_sessions WHERE token_sha256 = ?1", params![token_sha256])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    fn session(csrf: &str, expires_at: i64) -> AdminSession {
        AdminSession { csrf: csrf.into(), expires_at }
    }

    #[test]
    fn sessions_expire_and_a_new_password_ends_all_but_the_changer() {
        let (_dir, store) = store();
        assert_eq!(store.admin_password().unwrap(), None);
        store.set_admin_password("hash-1", None, 100).unwrap();
        assert_eq!(store.admin_password().unwrap().as_deref(), Some("hash-1"));

        store.add_admin_session("a", &session("ca", 200), 100).unwrap();
        store.add_admin_session("b", &session("cb", 200), 100).unwrap();
        assert_eq!(store.admin_session("a", 150).unwrap(), Some(session("ca", 200)));
        assert_eq!(store.admin_session("a", 200).unwrap(), None, "expired");

        store.set_admin_password("hash-2", Some("b"), 160).unwrap();
        assert_eq!(store.admin_password().unwrap().as_deref(), Some("hash-2"));
        assert_eq!(store.admin_session("a", 170).unwrap(), None, "other sessions end");
        assert_eq!(store.admin_session("b", 170).unwrap(), Some(session("cb", 200)), "the changer stays");

        store.end_admin_session("b").unwrap();
        assert_eq!(store.admin_session("b", 170).unwrap(), None);
    }
}
