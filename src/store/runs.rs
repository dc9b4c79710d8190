use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// This daemon run, as recorded at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: i64,
    /// The previous run never recorded a clean stop (crash, kill, power cut).
    pub previous_unclean: bool,
}

impl Store {
    /// Records the start of a run (`now` in Unix seconds).
    pub fn begin_run(&self, version: &str, now: i64) -> Result<RunRecord, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let previous_unclean = tx
            .query_row("SELECT stopped_at IS NULL FROM runs ORDER BY id DESC LIMIT 1", [], |r| r.get::<_, bool>(0))
            .optional()
            .map_err(|e| self.err(e))?
            .unwrap_or(false);
        tx.execute("INSERT INTO runs (version, started_at) VALUES (?1, ?2)", params![version, now])
            .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        // Keep the last 100 runs; an appliance restarts for years.
        tx.execute("DELETE FROM runs WHERE id <= ?1 - 100", [id]).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(RunRecord { id, previous_unclean })
    }

    /// Records that run `id` stopped cleanly.
    pub fn end_run(&self, id: i64, now: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute("UPDATE runs SET stopped_at = ?2 WHERE id = ?1", params![id, now]).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_without_a_clean_stop_is_noticed_next_time() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path()).unwrap();
        let first = store.begin_run("0.1.0", 100).unwrap();
        assert!(!first.previous_unclean);
        store.end_run(first.id, 200).unwrap();
        let second = store.begin_run("0.1.0", 300).unwrap();
        assert!(!second.previous_unclean);
        let third = store.begin_run("0.1.0", 400).unwrap();
        assert!(third.previous_unclean, "the second run never stopped");
    }
}
