//! Power cuts: the real daemon killed (SIGKILL) again and again while it
//! writes settings and enrollments, then started on the same data: every
//! write it acknowledged is there, nothing half-written shows, and the
//! database is never moved aside.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{ADMIN_PASSWORD, client, session_client};

const ROUNDS: usize = 12;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The daemon, killed if the test ends first (a failing test must not
/// leave it running).
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(config: &Path, data: &Path) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_confcamd"))
        .args(["run", "--log-to", "stderr", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Daemon(child)
}

/// Waits (a minute at most: a busy machine) for the daemon to serve.
async fn serving(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while client().get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the daemon did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An admin session: the box claimed on the first start, logged in after.
async fn admin(base: &str) -> reqwest::Client {
    let display: Value = client().get(format!("{base}/api/display")).send().await.unwrap().json().await.unwrap();
    let response = match display["setup_code"].as_str() {
        Some(code) => {
            let setup = json!({ "code": code, "password": ADMIN_PASSWORD });
            client().post(format!("{base}/api/admin/setup")).json(&setup).send().await.unwrap()
        }
        None => {
            let login = json!({ "password": ADMIN_PASSWORD });
            client().post(format!("{base}/api/admin/login")).json(&login).send().await.unwrap()
        }
    };
    assert_eq!(response.status(), 200, "admin session");
    session_client(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_while_writing_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let (config, data) = (dir.path().join("confcam.toml"), dir.path().join("data"));
    let port = free_port();
    let models = crate::checkin::repo("CONFCAM_MODELS", "target/models");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1\"\nhttps_port = {port}\nhttp_port = 0\nmedia_port = 0\n\
             [[camera]]\nwidth = 320\nheight = 180\nfps = 10\n[checkin]\nmodels_dir = {models:?}\n"
        ),
    )
    .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    let photo = crate::checkin::photo("obama.jpg");
    let mut rng = fastrand::Rng::with_seed(11);
    let (mut named, mut enrolled) = (0u32, Vec::<i64>::new());
    for round in 0..ROUNDS {
        let daemon = start(&config, &data);
        serving(&base).await;
        let admin = admin(&base).await;
        // Every write acknowledged before is there, whole.
        let settings: Value = admin.get(format!("{base}/api/settings")).send().await.unwrap().json().await.unwrap();
        let room = settings["values"]["room.name"].as_str().map(str::to_string).unwrap_or_default();
        let stored: u32 = room.strip_prefix("Room ").and_then(|n| n.parse().ok()).unwrap_or(0);
        assert!(stored >= named, "round {round}: room {room:?}, but \"Room {named}\" was acknowledged");
        let people: Value = admin.get(format!("{base}/api/people")).send().await.unwrap().json().await.unwrap();
        for id in &enrolled {
            let person = people.as_array().unwrap().iter().find(|p| p["id"] == *id);
            let person = person.unwrap_or_else(|| panic!("round {round}: person {id} was acknowledged: {people}"));
            assert!(person["embeddings"].as_u64() >= Some(1), "round {round}: {person} lost its face");
        }
        for p in people.as_array().unwrap() {
            assert!(p["embeddings"].as_u64() >= Some(1), "round {round}: half an enrollment shows: {p}");
        }
        // Writes, until the power is cut at a random moment.
        let cut = Instant::now() + Duration::from_millis(rng.u64(200..1500));
        let mut n = named;
        while Instant::now() < cut {
            n += 1;
            let put = admin.put(format!("{base}/api/settings")).json(&json!({ "room.name": format!("Room {n}") }));
            if let Ok(r) = tokio::time::timeout(cut.saturating_duration_since(Instant::now()), put.send()).await
                && r.as_ref().is_ok_and(|r| r.status() == 200)
            {
                named = n;
            }
            if n % 4 == 0 {
                let url = format!("{base}/api/people?name=Person%20{n}");
                let post = admin.post(url).body(photo.clone()).send();
                if let Ok(Ok(r)) = tokio::time::timeout(cut.saturating_duration_since(Instant::now()), post).await
                    && r.status() == 201
                {
                    enrolled.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
                }
            }
        }
        drop(daemon);
    }
    let aside: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|name| name.contains(".corrupt-"))
        .collect();
    assert!(aside.is_empty(), "the database was moved aside: {aside:?}");
    eprintln!("{ROUNDS} kills: room name written {named} times, {} people enrolled, all kept", enrolled.len());
}
