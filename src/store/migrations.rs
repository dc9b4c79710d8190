//! The schema, as an append-only list of migrations. Never edit a shipped
//! migration: add a new one. `user_version` holds how many have run.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use super::Damage;

pub(super) const MIGRATIONS: &[M<'static>] = &[
    // v1: runtime settings (dotted config keys, JSON values) that overlay the
    // config file.
    M::up(
        "CREATE TABLE settings (
            key        TEXT PRIMARY KEY NOT NULL,
            value      TEXT NOT NULL CHECK (json_valid(value)),
            updated_at INTEGER NOT NULL
        ) STRICT;",
    ),
    // v2: one row per daemon run, so a start after a crash or power cut knows
    // the last run did not stop cleanly.
    M::up(
        "CREATE TABLE runs (
            id         INTEGER PRIMARY KEY,
            version    TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            stopped_at INTEGER
        ) STRICT;",
    ),
    // v3: face check-in. People enrolled by the admin, their embeddings (and
    // photos only when the admin keeps them), meetings and who checked in.
    // Deleting a person deletes everything of theirs (ON DELETE CASCADE).
    M::up(
        "CREATE TABLE people (
            id         INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            email      TEXT,
            created_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE embeddings (
            id        INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            vector    BLOB NOT NULL
        ) STRICT;
        CREATE TABLE photos (
            id        INTEGER PRIMARY KEY,
            person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            jpeg      BLOB NOT NULL
        ) STRICT;
        CREATE TABLE meetings (
            id         INTEGER PRIMARY KEY,
            started_at INTEGER NOT NULL,
            ended_at   INTEGER
        ) STRICT;
        CREATE TABLE checkins (
            meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
            person_id  INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            first_seen INTEGER NOT NULL,
            last_seen  INTEGER NOT NULL,
            PRIMARY KEY (meeting_id, person_id)
        ) STRICT;
        CREATE INDEX embeddings_person ON embeddings(person_id);
        CREATE INDEX photos_person ON photos(person_id);
        CREATE INDEX checkins_person ON checkins(person_id);",
    ),
    // v4: the admin's password (Argon2id, PHC string) and login sessions,
    // kept as the SHA-256 of their cookie so the file alone logs nobody in.
    M::up(
        "CREATE TABLE admin (
            id            INTEGER PRIMARY KEY CHECK (id = 1),
            password_hash TEXT NOT NULL,
            changed_at    INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE admin_sessions (
            token_sha256 TEXT PRIMARY KEY NOT NULL,
            csrf         TEXT NOT NULL,
            created_at   INTEGER NOT NULL,
            expires_at   INTEGER NOT NULL
        ) STRICT;",
    ),
];

/// Schema version this release writes.
pub const LATEST: usize = MIGRATIONS.len();

/// Refuses a database from a newer release before anything touches the file
/// (an A/B rollback must not damage the newer release's data).
pub(super) fn refuse_newer(conn: &Connection) -> Result<(), Damage> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(Damage::classify)?;
    match usize::try_from(found) {
        Ok(found) if found <= LATEST => Ok(()),
        _ => Err(Damage::TooNew { found: found as usize, known: LATEST }),
    }
}

/// Brings the schema up to [`LATEST`]; returns the version it started from.
pub(super) fn migrate(conn: &mut Connection) -> Result<usize, Damage> {
    let from: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(Damage::classify)?;
    Migrations::from_slice(MIGRATIONS).to_latest(conn).map_err(|e| Damage::Migration(e.to_string()))?;
    Ok(from as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
    }
}
