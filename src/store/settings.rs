use rusqlite::params;
use serde_json::Value;

use super::{Store, StoreError};

impl Store {
    /// Every runtime setting, oldest change first (so later changes win when
    /// applied in order).
    pub fn settings(&self) -> Result<Vec<(String, Value)>, StoreError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT key, value FROM settings ORDER BY updated_at, rowid").map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(key, text)| match serde_json::from_str(&text) {
                Ok(value) => Ok((key, value)),
                Err(e) => Err(StoreError::Value { key, message: e.to_string() }),
            })
            .collect()
    }

    pub fn set_setting(&self, key: &str, value: &Value) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, unixepoch())
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![key, value.to_string()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Forgets a runtime setting: the file's value applies again.
    pub fn clear_setting(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM settings WHERE key = ?1", [key]).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_round_trip_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path()).unwrap();
        store.set_setting("room.name", &json!("Blue")).unwrap();
        store.set_setting("camera[0].fps", &json!(15)).unwrap();
        store.set_setting("room.name", &json!("Green")).unwrap();
        let got = store.settings().unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.contains(&("room.name".into(), json!("Green"))));
        store.clear_setting("room.name").unwrap();
        assert_eq!(store.settings().unwrap(), vec![("camera[0].fps".to_string(), json!(15))]);
    }
}
