//! The box's state on disk: one SQLite database in the data dir.
//!
//! WAL journal, full sync (settings are rare and must survive a power cut),
//! schema migrations on open, every write in a transaction. A file that is not
//! a healthy database is moved aside (never overwritten) and a fresh one made.

mod admin;
mod embedding;
mod migrations;
mod people;
mod runs;
mod settings;

pub use admin::AdminSession;
pub use embedding::{EMBEDDING_DIMENSIONS, Embedding};
pub use people::{Attendee, Meeting, Person};
pub use runs::RunRecord;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, ErrorCode, OpenFlags};

pub const DB_FILE: &str = "confcam.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error(
        "database {path} has schema version {found}, newer than this release knows ({known}); refusing to touch it"
    )]
    TooNew { path: PathBuf, found: usize, known: usize },
    #[error("database {path}: migration failed: {message}")]
    Migration { path: PathBuf, message: String },
    #[error("database {path} is damaged: {problem}")]
    Damaged { path: PathBuf, problem: String },
    #[error("cannot move the damaged database {path} aside: {source}")]
    MoveAside { path: PathBuf, source: std::io::Error },
    #[error("invalid stored value for `{key}`: {message}")]
    Value { key: String, message: String },
}

/// What [`Store::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The existing database (possibly migrated forward from `from_version`).
    Existing { from_version: usize },
    /// No database yet: a new one was created.
    Created,
    /// The file was damaged; it now lives at `moved_to` and a fresh database
    /// was created.
    Recovered { moved_to: PathBuf, problem: String },
    /// The database had been migrated by a newer release that did not stay
    /// (an update rolled back): it now lives at `moved_to`, and the copy
    /// taken before that migration is back in place.
    RolledBack { found: usize, moved_to: PathBuf },
}

/// The copy of the database taken before migrating it from `version`: what
/// this release goes back to if the newer one is rolled back.
pub fn snapshot_path(path: &Path, version: usize) -> PathBuf {
    path.with_file_name(format!("{DB_FILE}.v{version}"))
}

/// A handle on the database; cheap to clone. Calls block briefly, so async
/// code calls them through `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating, migrating or recovering) `confcam.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<(Store, Opened), StoreError> {
        let path = data_dir.join(DB_FILE);
        let existed = path.exists();
        match Self::open_checked(&path) {
            Ok((store, from_version)) if existed => Ok((store, Opened::Existing { from_version })),
            Ok((store, _)) => Ok((store, Opened::Created)),
            Err(Damage::Damaged(problem)) => {
                let moved_to = move_aside(&path, "corrupt")?;
                tracing::error!(path = %path.display(), moved_to = %moved_to.display(), %problem,
                    "database is damaged; moved it aside and starting with a fresh one");
                let (store, _) = Self::open_checked(&path).map_err(|d| d.into_error(&path))?;
                Ok((store, Opened::Recovered { moved_to, problem }))
            }
            // An update that migrated the database and was then rolled
            // back: this release's last copy is the data it knows.
            Err(Damage::TooNew { found, known }) if snapshot_path(&path, known).exists() => {
                let moved_to = move_aside(&path, &format!("v{found}"))?;
                let restored = std::fs::copy(snapshot_path(&path, known), &path);
                restored.map_err(|source| StoreError::MoveAside { path: path.clone(), source })?;
                tracing::warn!(found, known, moved_to = %moved_to.display(),
                    "the database was migrated by a newer release that was rolled back; back to the copy taken before");
                let (store, _) = Self::open_checked(&path).map_err(|d| d.into_error(&path))?;
                Ok((store, Opened::RolledBack { found, moved_to }))
            }
            Err(other) => Err(other.into_error(&path)),
        }
    }

    fn open_checked(path: &Path) -> Result<(Store, usize), Damage> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(Damage::classify)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(Damage::classify)?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(Damage::classify)?;
        if check != "ok" {
            return Err(Damage::Damaged(format!("integrity check: {check}")));
        }
        migrations::refuse_newer(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(Damage::classify)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(Damage::classify)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(Damage::classify)?;
        // Before a migration, a copy at the old version: if the release
        // that migrates is rolled back (an update never kept), the old one
        // starts from it (see `open`). A migration that fails changes
        // nothing (each runs in a transaction) and the start fails.
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(Damage::classify)?;
        if found > 0 && (found as usize) < migrations::LATEST {
            let snapshot = snapshot_path(path, found as usize);
            let _ = std::fs::remove_file(&snapshot);
            conn.execute("VACUUM INTO ?1", [snapshot.to_string_lossy()]).map_err(Damage::classify)?;
        }
        let from_version = migrations::migrate(&mut conn)?;
        Ok((Store { conn: Arc::new(Mutex::new(conn)), path: path.into() }, from_version))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Schema version of the open database.
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        let conn = self.lock();
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map(|v| v as usize).map_err(|e| self.err(e))
    }

    /// Runs SQLite's integrity check; `Ok(())` when the database is sound.
    pub fn check(&self) -> Result<(), String> {
        let conn = self.lock();
        match conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)) {
            Ok(s) if s == "ok" => Ok(()),
            Ok(s) => Err(s),
            Err(e) => Err(e.to_string()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written: an
        // unfinished transaction is rolled back when its guard drops.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }
}

/// Why opening failed: damage we recover from, or a problem to report.
enum Damage {
    Damaged(String),
    Other(rusqlite::Error),
    TooNew { found: usize, known: usize },
    Migration(String),
}

impl Damage {
    fn classify(e: rusqlite::Error) -> Damage {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Damage::Damaged(e.to_string()),
            _ => Damage::Other(e),
        }
    }

    fn into_error(self, path: &Path) -> StoreError {
        let path = path.to_path_buf();
        match self {
            Damage::Damaged(problem) => StoreError::Damaged { path, problem },
            Damage::Migration(message) => StoreError::Migration { path, message },
            Damage::Other(source) => StoreError::Sqlite { path, source },
            Damage::TooNew { found, known } => StoreError::TooNew { path, found, known },
        }
    }
}

/// Renames the database and its WAL/SHM files to `<name>.corrupt-<time>`.
/// Renames the database (and its WAL) to `confcam.db.WHY-TIME`.
fn move_aside(path: &Path, why: &str) -> Result<PathBuf, StoreError> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_else(|_| "unknown-time".into());
    let mut target = path.with_file_name(format!("{DB_FILE}.{why}-{stamp}"));
    let mut n = 1;
    while target.exists() {
        target = path.with_file_name(format!("{DB_FILE}.{why}-{stamp}-{n}"));
        n += 1;
    }
    let err = |source| StoreError::MoveAside { path: path.into(), source };
    std::fs::rename(path, &target).map_err(err)?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        if side.exists() {
            std::fs::rename(&side, format!("{}{suffix}", target.display())).map_err(err)?;
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_created_at_the_latest_schema() {
        let dir = tempfile::tempdir().unwrap();
        let (store, opened) = Store::open(dir.path()).unwrap();
        assert_eq!(opened, Opened::Created);
        assert_eq!(store.schema_version().unwrap(), migrations::LATEST);
        let journal: String = store.lock().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(journal, "wal");
        drop(store);
        let (_, opened) = Store::open(dir.path()).unwrap();
        assert_eq!(opened, Opened::Existing { from_version: migrations::LATEST });
    }

    #[test]
    fn a_file_that_is_not_a_database_is_moved_aside_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = b"this is not sqlite, just bytes that must not be lost".repeat(100);
        std::fs::write(dir.path().join(DB_FILE), &garbage).unwrap();
        let (store, opened) = Store::open(dir.path()).unwrap();
        let Opened::Recovered { moved_to, problem } = opened else { panic!("expected recovery, got {opened:?}") };
        assert!(problem.contains("not a database"), "{problem}");
        assert_eq!(std::fs::read(&moved_to).unwrap(), garbage, "the damaged file is kept as it was");
        assert!(moved_to.file_name().unwrap().to_string_lossy().starts_with("confcam.db.corrupt-"));
        store.set_setting("room.name", &serde_json::json!("x")).unwrap();
        assert_eq!(store.check(), Ok(()));
    }

    #[test]
    fn a_database_with_damaged_pages_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, _) = Store::open(dir.path()).unwrap();
            for i in 0..200 {
                store.set_setting(&format!("k{i}"), &serde_json::json!("v".repeat(200))).unwrap();
            }
            let conn = store.lock();
            conn.pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
        }
        // Scribble over the middle of the file, past the header page.
        let path = dir.path().join(DB_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid..mid + 4096].fill(0xA5);
        std::fs::write(&path, &bytes).unwrap();
        let (_, opened) = Store::open(dir.path()).unwrap();
        assert!(matches!(opened, Opened::Recovered { .. }), "{opened:?}");
    }

    #[test]
    fn a_migration_keeps_a_copy_that_a_rolled_back_release_returns_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        // A database an older release left, with a setting.
        let old = migrations::LATEST - 1;
        let mut conn = Connection::open(&path).unwrap();
        rusqlite_migration::Migrations::from_slice(&migrations::MIGRATIONS[..old]).to_latest(&mut conn).unwrap();
        drop(conn);
        // This release migrates it, keeping the copy at the old version.
        let (store, opened) = Store::open(dir.path()).unwrap();
        assert_eq!(opened, Opened::Existing { from_version: old });
        store.set_setting("room.name", &serde_json::json!("Before the update")).unwrap();
        drop(store);
        let copy = Connection::open(snapshot_path(&path, old)).unwrap();
        assert_eq!(copy.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), old as i64);
        // A newer release copies this one's database and migrates it, the
        // admin changes a setting, and that release is rolled back.
        let _ = Store::open(dir.path()).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(&format!("VACUUM INTO '{}'", snapshot_path(&path, migrations::LATEST).display()), [])
            .unwrap();
        let newer = Connection::open(&path).unwrap();
        newer.pragma_update(None, "user_version", (migrations::LATEST + 1) as i64).unwrap();
        drop(newer);
        let (store, opened) = Store::open(dir.path()).unwrap();
        let Opened::RolledBack { found, moved_to } = opened else { panic!("{opened:?}") };
        assert_eq!(found, migrations::LATEST + 1);
        assert!(moved_to.exists(), "the newer release's database is kept aside");
        assert_eq!(store.schema_version().unwrap(), migrations::LATEST);
        let room = store.settings().unwrap().into_iter().find(|(k, _)| k == "room.name").map(|(_, v)| v);
        assert_eq!(room, Some(serde_json::json!("Before the update")));
    }

    #[test]
    fn a_database_from_a_newer_release_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = Store::open(dir.path()).err().expect("must refuse");
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
