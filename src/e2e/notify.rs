use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use confcam::config::InRange;
use confcam::system::{Notifier, Watchdog};

use crate::common::{small_config, start_with};

/// Collects every message that arrives within `window`.
fn messages(socket: &UnixDatagram, window: Duration) -> Vec<String> {
    messages_until(socket, window, |_| false)
}

/// Collects messages until `enough` says so or `window` ends.
fn messages_until(socket: &UnixDatagram, window: Duration, enough: impl Fn(&[String]) -> bool) -> Vec<String> {
    let until = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if enough(&out) {
            break;
        }
        socket.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
        match socket.recv(&mut buf) {
            Ok(n) => out.extend(String::from_utf8_lossy(&buf[..n]).lines().map(String::from)),
            Err(_) => break,
        }
    }
    out
}

fn count(msgs: &[String], what: &str) -> usize {
    msgs.iter().filter(|m| *m == what).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_sees_ready_watchdog_until_a_stall_then_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut config = small_config();
    config.system.stall_timeout_ms = InRange::new(500).unwrap();
    let b = start_with(config, |boot| {
        boot.notifier = Notifier::to_socket(&path);
        boot.watchdog = Some(Watchdog { interval: Duration::from_millis(400) });
    })
    .await;

    let socket = tokio::task::spawn_blocking(move || {
        let first = messages(&socket, Duration::from_millis(100));
        assert_eq!(first.first().map(String::as_str), Some("READY=1"), "{first:?}");
        let running = messages(&socket, Duration::from_millis(1200));
        assert!(count(&running, "WATCHDOG=1") >= 4, "pings every 200 ms while capturing: {running:?}");
        socket
    })
    .await
    .unwrap();

    b.sim.cameras[0].stall();
    let socket = tokio::task::spawn_blocking(move || {
        // Within the stall timeout (500 ms) plus one ping interval the pings stop...
        messages(&socket, Duration::from_millis(800));
        let stalled = messages(&socket, Duration::from_millis(1200));
        assert_eq!(count(&stalled, "WATCHDOG=1"), 0, "no pings while the camera is stalled: {stalled:?}");
        socket
    })
    .await
    .unwrap();

    // The camera comes back: so do the pings.
    b.sim.cameras[0].restore();
    let socket = tokio::task::spawn_blocking(move || {
        let back = messages(&socket, Duration::from_millis(1000));
        assert!(count(&back, "WATCHDOG=1") >= 2, "pings resume: {back:?}");
        socket
    })
    .await
    .unwrap();

    b.running.shutdown().await;
    let last = messages(&socket, Duration::from_millis(200));

    assert!(last.contains(&"STOPPING=1".to_string()), "{last:?}");
}

/// The real binary under a service manager's environment: it finds the
/// socket and watchdog interval itself, and stops cleanly on SIGTERM.
#[test]
fn the_daemon_binary_talks_to_systemd_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let config = dir.path().join("confcam.toml");
    std::fs::write(
        &config,
        "[server]\nbind = \"127.0.0.1\"\nhttps_port = 0\nhttp_port = 0\nmedia_port = 0\n[[camera]]\nwidth = 320\nheight = 180\nfps = 10\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_confcamd"))
        .args(["run", "--log-to", "stderr", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "400000")
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let ready = |m: &[String]| m.iter().any(|s| s == "READY=1") && count(m, "WATCHDOG=1") >= 5;
    let started = messages_until(&socket, Duration::from_secs(20), ready);
    let stop = || {
        let _ = std::process::Command::new("kill").args(["-KILL", &child.id().to_string()]).status();
    };
    if !ready(&started) {
        stop();
        panic!("want READY=1 and pings every 200 ms, got {started:?}");
    }
    let asked = Instant::now();
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    let took = asked.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(2), "stopped in {took:?}");
    let last = messages(&socket, Duration::from_millis(100));
    assert!(last.contains(&"STOPPING=1".to_string()), "{last:?}");
}
