use std::time::{Duration, Instant};

use confcam::capture::SourceState;
use confcam::events::BoxEvent;
use confcam::web::{Health, Overall};
use rusqlite::Connection;

use crate::common::{client, small_config, start_box};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_box_serves_captures_and_stops_cleanly() {
    let b = start_box(small_config()).await;
    let base = format!("https://{}", b.https);
    let http = client();

    // Health over HTTPS.
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let health: Health = r.json().await.unwrap();
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(health.subsystems.store.state, Overall::Ok);
    assert_eq!(health.subsystems.store.schema_version, Some(4));
    assert_eq!(health.subsystems.meeting.state, Overall::Ok);
    assert_eq!(health.subsystems.meeting.participants, 0);
    assert_eq!(health.subsystems.meeting.media_port, b.running.media_port);
    assert_eq!(health.subsystems.cameras[0].backend, "simulated");
    assert_eq!(health.subsystems.web.certificate_sha256.len(), 95);

    // The simulated camera delivers the configured rate (15 fps ± 10 %),
    // counted by sequence number so a slow test machine lagging behind the
    // ring does not skew it.
    let mut frames = b.running.camera_frames("main").unwrap();
    let first = frames.recv().await.unwrap();
    let start = Instant::now();
    let mut last = first.seq;
    while start.elapsed() < Duration::from_secs(2) {
        match frames.recv().await {
            Ok(f) => {
                assert_eq!((f.width, f.height, f.data.len()), (320, 180, 320 * 180 * 3 / 2));
                last = f.seq;
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(e) => panic!("{e}"),
        }
    }
    let fps = (last - first.seq) as f64 / start.elapsed().as_secs_f64();
    assert!((13.5..=16.5).contains(&fps), "camera at {fps:.1} fps, want 15 ± 10 %");

    // The simulated array delivers 6-channel, 20 ms blocks at 16 kHz.
    let mut blocks = b.running.microphone_blocks();
    let mut last_seq = None;
    for _ in 0..10 {
        let block = blocks.recv().await.unwrap();
        assert_eq!((block.channels, block.rate, block.frames()), (6, 16_000, 320));
        if let Some(prev) = last_seq {
            assert_eq!(block.seq, prev + 1, "no block lost");
        }
        last_seq = Some(block.seq);
    }

    // The mute button toggles mute, and the ring turns red.
    b.sim.button.press();
    let muted = wait_for(|| async { health_of(&http, &base).await.muted }).await;
    assert!(muted, "pressing the button mutes");
    // The ring follows on its own thread.
    let red = wait_for(|| async { b.sim.leds.colors().iter().all(|c| c.0 > 0 && c.1 == 0) }).await;
    assert!(red, "the ring turns red: {:?}", b.sim.leds.colors());

    // Pages: the status page works, unknown paths are 404.
    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.headers()["content-type"], "text/html");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert!(page.text().await.unwrap().contains("/status.js"));
    let script = http.get(format!("{base}/status.js")).send().await.unwrap();
    assert!(script.headers()["content-type"].to_str().unwrap().contains("javascript"));
    let etag = script.headers()["etag"].clone();
    let again = http.get(format!("{base}/status.js")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(http.get(format!("{base}/nope")).send().await.unwrap().status(), 404);
    assert_eq!(http.post(format!("{base}/")).send().await.unwrap().status(), 405);

    // Plain HTTP only redirects, to the same path on HTTPS.
    let r = http.get(format!("http://{}/healthz?x=1", b.http)).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], format!("https://127.0.0.1:{}/healthz?x=1", b.https.port()));

    // Shutdown is quick and leaves the database consistent, the run recorded
    // as a clean stop.
    let db = b.dir.path().join("confcam.db");
    let started = Instant::now();
    b.running.shutdown().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert!(http.get(format!("{base}/healthz")).send().await.is_err(), "no longer serving");
    let conn = Connection::open(db).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let stopped: Option<i64> =
        conn.query_row("SELECT stopped_at FROM runs ORDER BY id DESC", [], |r| r.get(0)).unwrap();
    assert!(stopped.is_some(), "the run is recorded as stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_camera_shows_in_health_and_recovers() {
    let mut config = small_config();
    config.system.stall_timeout_ms = confcam::config::InRange::new(400).unwrap();
    let b = start_box(config).await;
    let (http, base) = (client(), format!("https://{}", b.https));
    assert_eq!(health_of(&http, &base).await.status, Overall::Ok);

    b.sim.cameras[0].stall();
    let h = wait_for(|| async {
        let h = health_of(&http, &base).await;
        (h.status == Overall::Degraded).then_some(h)
    })
    .await;
    assert_eq!(h.subsystems.cameras[0].state, SourceState::Stalled);
    assert_eq!(h.subsystems.microphone.state, SourceState::Running);

    b.sim.cameras[0].restore();
    wait_for(|| async { health_of(&http, &base).await.status == Overall::Ok }).await;
    b.running.shutdown().await;
}

pub async fn health_of(http: &reqwest::Client, base: &str) -> Health {
    http.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap()
}

/// Polls `probe` until it yields a truthy answer (5 s at most).
pub async fn wait_for<T: Truthy, F: std::future::Future<Output = T>>(mut probe: impl FnMut() -> F) -> T::Inner {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = probe().await.get() {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not reached in 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub trait Truthy {
    type Inner;
    fn get(self) -> Option<Self::Inner>;
}

impl Truthy for bool {
    type Inner = bool;
    fn get(self) -> Option<bool> {
        self.then_some(true)
    }
}

impl<T> Truthy for Option<T> {
    type Inner = T;
    fn get(self) -> Option<T> {
        self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_camera_is_offline_on_the_event_bus_and_in_health_until_it_returns() {
    let b = start_box(small_config()).await;
    let (http, base) = (client(), format!("https://{}", b.https));
    let mut events = b.running.events.subscribe();
    assert_eq!(health_of(&http, &base).await.status, Overall::Ok);

    b.sim.cameras[0].unplug();
    let h = wait_for(|| async {
        let h = health_of(&http, &base).await;
        (h.subsystems.cameras[0].state == SourceState::Offline).then_some(h)
    })
    .await;
    assert_eq!(h.status, Overall::Degraded);
    let (source, state, error) = next_device_event(&mut events).await;
    assert_eq!((source.as_str(), state), ("camera:main", SourceState::Offline));
    assert!(error.is_some_and(|e| e.contains("unplugged")));
    // The rest of the box goes on serving.
    assert_eq!(h.subsystems.microphone.state, SourceState::Running);

    // Plugged back in: picked up again within the retry back-off.
    let back = Instant::now();
    b.sim.cameras[0].restore();
    wait_for(|| async { health_of(&http, &base).await.status == Overall::Ok }).await;
    assert!(back.elapsed() < Duration::from_secs(2), "resumed in {:?}", back.elapsed());
    let (_, state, _) = next_device_event(&mut events).await;
    assert_eq!(state, SourceState::Running);
    b.running.shutdown().await;
}

/// The next device event on the bus (the director's go by meanwhile).
async fn next_device_event(
    events: &mut tokio::sync::broadcast::Receiver<BoxEvent>,
) -> (String, SourceState, Option<String>) {
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(until, events.recv()).await.expect("a device event within 5 s") {
            Ok(BoxEvent::Device { source, state, error }) => return (source, state, error),
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(e) => panic!("{e}"),
        }
    }
}
