//! A part of the box that dies or stalls never goes unnoticed: the test
//! build's fault hook (`--features faults`) strikes each supervised part in
//! turn. A death ends the daemon with the part's name (systemd restarts
//! it); a stall stops the watchdog's pings (systemd restarts it too).

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use confcam::app::{self, AppError, Hardware};
use confcam::supervisor::Ended;
use confcam::supervisor::faults::Fault;
use confcam::system::{Notifier, Watchdog};

use crate::common::{boot, listeners, small_config, start_with};

/// The threads of a box that checks people in; the SFU last, as the room's
/// media threads end with it.
const THREADS: [&str; 7] =
    ["checkin", "room-audio", "room-video", "capture-microphone", "capture-camera-main", "gpio", "sfu"];
/// The tasks every box runs (the watchdog's only under systemd).
const TASKS: [&str; 7] = [
    "follow-addresses",
    "renew-certificate",
    "follow-settings",
    "follow-meeting",
    "watch-devices",
    "welcome-check-ins",
    "follow-privacy",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_ends_naming_the_part_that_died() {
    let dir = tempfile::tempdir().unwrap();
    let boot = boot(small_config(), dir.path()).await;
    let (hardware, _sim): (Hardware, _) = Hardware::simulated(&boot.config);
    let running = app::start(boot, listeners(), hardware).await.unwrap();
    let supervisor = running.supervisor.clone();
    // As confcamd runs it: until a signal that never comes.
    let daemon = tokio::spawn(running.run_until(std::future::pending()));
    tokio::time::sleep(Duration::from_millis(300)).await;

    supervisor.inject("sfu", Fault::Die);
    let struck = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(2), daemon).await;
    let result = ended.expect("the daemon ends within 2 s of the SFU thread dying").unwrap();
    match result {
        Err(AppError::PartEnded(Ended { part, reason })) => {
            assert_eq!((part.as_str(), reason.as_str()), ("sfu", "panicked: injected fault"));
        }
        other => panic!("the daemon must end naming the part: {other:?}"),
    }
    assert!(struck.elapsed() < Duration::from_secs(2), "ended and stopped in {:?}", struck.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_thread_and_task_is_watched() {
    let b = start_with(crate::checkin::config(), |_| {}).await;
    assert!(b.running.checkin.enabled(), "check-in runs (tools/fetch-models)");
    let supervisor = b.running.supervisor.clone();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for part in TASKS.iter().chain(&THREADS) {
        supervisor.inject(part, Fault::Die);
        // Others may end because of it (the privacy follower when `gpio`,
        // which feeds it, is gone): each is reported too.
        let reported = async {
            loop {
                let ended = supervisor.failed().await;
                if ended.part == *part {
                    return ended;
                }
            }
        };
        let ended = tokio::time::timeout(Duration::from_secs(2), reported).await;
        let ended = ended.unwrap_or_else(|_| panic!("{part} died unnoticed"));
        assert_eq!(ended.reason, "panicked: injected fault", "{part}");
    }
    b.running.shutdown().await;
}

/// How many watchdog pings arrive within `window`.
fn pings(socket: &UnixDatagram, window: Duration) -> usize {
    let until = Instant::now() + window;
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        socket.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
        match socket.recv(&mut buf) {
            Ok(len) => n += String::from_utf8_lossy(&buf[..len]).lines().filter(|l| *l == "WATCHDOG=1").count(),
            Err(_) => break,
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_thread_stops_the_watchdog_pings() {
    for part in ["sfu", "room-audio", "room-video"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        let b = start_with(small_config(), |boot| {
            boot.notifier = Notifier::to_socket(&path);
            boot.watchdog = Some(Watchdog { interval: Duration::from_millis(400) });
        })
        .await;
        let socket = tokio::task::spawn_blocking(move || {
            assert!(pings(&socket, Duration::from_millis(1000)) >= 3, "{part}: pings while all is well");
            socket
        })
        .await
        .unwrap();
        b.running.supervisor.inject(part, Fault::Stall);
        let socket = tokio::task::spawn_blocking(move || {
            // A part may be quiet 5 s; then one ping interval (200 ms).
            let until = Instant::now() + Duration::from_secs(20);
            while pings(&socket, Duration::from_millis(1000)) > 0 {
                assert!(Instant::now() < until, "{part} stalled and the watchdog is still fed");
            }
            assert_eq!(pings(&socket, Duration::from_millis(1500)), 0, "{part}: no pings while stalled");
            socket
        })
        .await
        .unwrap();
        drop(socket);
        // A stalled part still stops with the box.
        let stopping = Instant::now();
        b.running.shutdown().await;
        assert!(stopping.elapsed() < Duration::from_secs(3), "{part}: stopped in {:?}", stopping.elapsed());
    }
}
