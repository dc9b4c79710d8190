//! People enrolled for check-in, meetings, and who attended which meeting.
//! Times are Unix seconds.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Embedding;
use super::{Store, StoreError};
use crate::events::{MeetingId, PersonId};

// The ids are the tables' row ids.
impl rusqlite::ToSql for PersonId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl rusqlite::types::FromSql for PersonId {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(PersonId)
    }
}

impl rusqlite::ToSql for MeetingId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl rusqlite::types::FromSql for MeetingId {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(MeetingId)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub embeddings: usize,
    pub photos: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meeting {
    pub id: MeetingId,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub attendees: usize,
}

/// One person's check-in to a meeting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attendee {
    pub person: PersonId,
    pub name: String,
    pub email: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl Store {
    /// Enrolls a person with the embeddings of their photos (and the photos
    /// themselves only when `photos` is not empty), in one transaction.
    pub fn add_person(
        &self,
        name: &str,
        email: Option<&str>,
        embeddings: &[Embedding],
        photos: &[Vec<u8>],
        now: i64,
    ) -> Result<PersonId, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute("INSERT INTO people (name, email, created_at) VALUES (?1, ?2, ?3)", params![name, email, now])
            .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        insert_faces(&tx, PersonId(id), embeddings, photos).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(PersonId(id))
    }

    /// Adds more embeddings (and photos) to a person; false if unknown.
    pub fn add_faces(
        &self,
        person: PersonId,
        embeddings: &[Embedding],
        photos: &[Vec<u8>],
    ) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let exists = tx
            .query_row("SELECT 1 FROM people WHERE id = ?1", [person], |_| Ok(()))
            .optional()
            .map_err(|e| self.err(e))?
            .is_some();
        if exists {
            insert_faces(&tx, person, embeddings, photos).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(exists)
    }

    pub fn people(&self) -> Result<Vec<Person>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT p.id, p.name, p.email, p.created_at,
                    (SELECT COUNT(*) FROM embeddings e WHERE e.person_id = p.id),
                    (SELECT COUNT(*) FROM photos f WHERE f.person_id = p.id)
                 FROM people p ORDER BY p.name COLLATE NOCASE, p.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Person {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get(2)?,
                    created_at: r.get(3)?,
                    embeddings: r.get::<_, i64>(4)? as usize,
                    photos: r.get::<_, i64>(5)? as usize,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Every stored embedding with its person, for the matcher.
    pub fn embeddings(&self) -> Result<Vec<(PersonId, Embedding)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT person_id, vector FROM embeddings").map_err(|e| self.err(e))?;
        let rows =
            stmt.query_map([], |r| Ok((r.get::<_, PersonId>(0)?, r.get::<_, Vec<u8>>(1)?))).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (person, bytes) = row.map_err(|e| self.err(e))?;
            let embedding = Embedding::from_bytes(&bytes).ok_or_else(|| StoreError::Value {
                key: format!("embedding of person {person}"),
                message: "wrong length".into(),
            })?;
            out.push((person, embedding));
        }
        Ok(out)
    }

    /// Deletes a person with their embeddings, photos and check-ins; false
    /// if there was no such person.
    pub fn delete_person(&self, person: PersonId) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let n = tx.execute("DELETE FROM people WHERE id = ?1", [person]).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// People checked in to the open meeting (0 when none is open).
    pub fn checked_in_now(&self) -> Result<u64, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT COUNT(*) FROM checkins JOIN meetings ON meetings.id = checkins.meeting_id
             WHERE meetings.ended_at IS NULL",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(|e| self.err(e))
    }

    /// The open meeting, or a new one started at `now`.
    pub fn current_meeting(&self, now: i64) -> Result<MeetingId, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let open = tx
            .query_row("SELECT id FROM meetings WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        let id = match open {
            Some(id) => id,
            None => {
                tx.execute("INSERT INTO meetings (started_at) VALUES (?1)", [now]).map_err(|e| self.err(e))?;
                MeetingId(tx.last_insert_rowid())
            }
        };
        tx.commit().map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// Ends the open meeting, if any.
    pub fn end_meeting(&self, now: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute("UPDATE meetings SET ended_at = ?1 WHERE ended_at IS NULL", [now]).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Meetings, newest first.
    pub fn meetings(&self) -> Result<Vec<Meeting>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT m.id, m.started_at, m.ended_at, (SELECT COUNT(*) FROM checkins c WHERE c.meeting_id = m.id)
                 FROM meetings m ORDER BY m.id DESC LIMIT 200",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Meeting {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    ended_at: r.get(2)?,
                    attendees: r.get::<_, i64>(3)? as usize,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Records that `person` was seen in `meeting` at `now`: the first time
    /// is their check-in, later ones move `last_seen`. Returns true for a
    /// first time.
    pub fn check_in(&self, meeting: MeetingId, person: PersonId, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let updated = tx
            .execute(
                "UPDATE checkins SET last_seen = max(last_seen, ?3) WHERE meeting_id = ?1 AND person_id = ?2",
                params![meeting, person, now],
            )
            .map_err(|e| self.err(e))?;
        if updated == 0 {
            tx.execute(
                "INSERT INTO checkins (meeting_id, person_id, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)",
                params![meeting, person, now],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(updated == 0)
    }

    pub fn attendance(&self, meeting: MeetingId) -> Result<Vec<Attendee>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT p.id, p.name, p.email, c.first_seen, c.last_seen FROM checkins c
                 JOIN people p ON p.id = c.person_id WHERE c.meeting_id = ?1 ORDER BY c.first_seen, p.name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([meeting], |r| {
                Ok(Attendee {
                    person: r.get(0)?,
                    name: r.get(1)?,
                    email: r.get(2)?,
                    first_seen: r.get(3)?,
                    last_seen: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Deletes check-ins last seen before `before`; returns how many.
    pub fn expire_checkins(&self, before: i64) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let n = tx.execute("DELETE FROM checkins WHERE last_seen < ?1", [before]).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n)
    }
}

fn insert_faces(
    tx: &rusqlite::Transaction<'_>,
    person: PersonId,
    embeddings: &[Embedding],
    photos: &[Vec<u8>],
) -> rusqlite::Result<()> {
    for e in embeddings {
        tx.execute("INSERT INTO embeddings (person_id, vector) VALUES (?1, ?2)", params![person, e.to_bytes()])?;
    }
    for p in photos {
        tx.execute("INSERT INTO photos (person_id, jpeg) VALUES (?1, ?2)", params![person, p])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedding(seed: f32) -> Embedding {
        Embedding::new((0..super::super::EMBEDDING_DIMENSIONS).map(|i| (i as f32 * seed).sin()).collect())
    }

    #[test]
    fn people_check_in_to_the_current_meeting_and_deleting_a_person_removes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path()).unwrap();
        let ada = store.add_person("Ada", Some("ada@example.org"), &[embedding(1.0)], &[vec![0xFF, 0xD8]], 10).unwrap();
        let bob = store.add_person("Bob", None, &[embedding(2.0), embedding(3.0)], &[], 11).unwrap();
        assert_eq!(store.embeddings().unwrap().len(), 3);
        assert_eq!(store.embeddings().unwrap()[0], (ada, embedding(1.0)));

        let meeting = store.current_meeting(100).unwrap();
        assert_eq!(store.current_meeting(150).unwrap(), meeting, "still the same meeting");
        assert!(store.check_in(meeting, ada, 120).unwrap());
        assert!(!store.check_in(meeting, ada, 180).unwrap(), "a second sighting only moves last_seen");
        assert!(store.check_in(meeting, bob, 130).unwrap());
        let attendance = store.attendance(meeting).unwrap();
        assert_eq!((attendance[0].first_seen, attendance[0].last_seen), (120, 180));
        assert_eq!(attendance.len(), 2);

        assert!(store.delete_person(ada).unwrap());
        assert!(!store.delete_person(ada).unwrap());
        assert_eq!(store.attendance(meeting).unwrap().len(), 1);
        assert_eq!(store.embeddings().unwrap().iter().filter(|(p, _)| *p == ada).count(), 0);
        let photos: i64 = store.lock().query_row("SELECT COUNT(*) FROM photos", [], |r| r.get(0)).unwrap();
        assert_eq!(photos, 0);

        store.end_meeting(200).unwrap();
        assert_ne!(store.current_meeting(300).unwrap(), meeting, "a new meeting after the end");
        assert_eq!(
            store.meetings().unwrap()[1],
            Meeting { id: meeting, started_at: 100, ended_at: Some(200), attendees: 1 }
        );
    }

    #[test]
    fn check_ins_expire_after_the_retention_period() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path()).unwrap();
        let ada = store.add_person("Ada", None, &[embedding(1.0)], &[], 10).unwrap();
        let old = store.current_meeting(100).unwrap();
        store.check_in(old, ada, 100).unwrap();
        store.end_meeting(150).unwrap();
        let new = store.current_meeting(1000).unwrap();
        store.check_in(new, ada, 1000).unwrap();
        assert_eq!(store.expire_checkins(500).unwrap(), 1);
        assert!(store.attendance(old).unwrap().is_empty());
        assert_eq!(store.attendance(new).unwrap().len(), 1);
        assert!(store.add_faces(ada, &[embedding(4.0)], &[]).unwrap());
        assert!(!store.add_faces(PersonId(999), &[embedding(4.0)], &[]).unwrap());
    }
}
