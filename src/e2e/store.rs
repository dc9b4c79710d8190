use std::sync::{Arc, Mutex};

use confcam::app::Boot;
use confcam::config::Config;
use confcam::store::DB_FILE;
use rusqlite::Connection;

/// Log lines written while `f` runs.
fn logs_of<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

#[test]
fn a_v1_database_migrates_forward_keeping_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch(include_str!("fixtures/store-v1.sql")).unwrap();
    drop(conn);

    let (boot, logs) = logs_of(|| Boot::open(Config::default(), dir.path()).unwrap());
    assert_eq!(boot.store.schema_version().unwrap(), 4);
    assert_eq!(boot.config.room.name, "Aquarium", "v1 settings overlay the file");
    assert_eq!(boot.config.camera[0].fps.get(), 25);
    assert!(logs.contains("database migrated"), "{logs}");
    assert!(logs.contains("camera[0].shutter"), "a stale setting is named in the log: {logs}");
    let run = boot.store.begin_run("test", 1).unwrap();
    assert!(!run.previous_unclean);
}

#[test]
fn a_corrupt_database_is_moved_aside_with_an_error_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = vec![0x42u8; 64 * 1024];
    std::fs::write(dir.path().join(DB_FILE), &garbage).unwrap();

    let (boot, logs) = logs_of(|| Boot::open(Config::default(), dir.path()).unwrap());
    assert!(logs.contains("ERROR") && logs.contains("database is damaged"), "{logs}");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("confcam.db.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(std::fs::read(aside[0].path()).unwrap(), garbage, "kept byte for byte");
    assert_eq!(boot.store.check(), Ok(()));
    assert_eq!(boot.store.schema_version().unwrap(), 4);
}

#[test]
fn the_data_dir_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state/confcam");
    Boot::open(Config::default(), &dir).unwrap();
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
}
