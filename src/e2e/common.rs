use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use confcam::app::{self, Boot, Hardware, Listeners, RunningBox, SimHandles};
use confcam::config::{Config, InRange};

/// A box running in this process on simulated hardware, on 127.0.0.1.
pub struct TestBox {
    pub running: RunningBox,
    pub sim: SimHandles,
    pub https: SocketAddr,
    pub http: SocketAddr,
    pub dir: tempfile::TempDir,
}

/// Small pictures so tests stay light; everything else as shipped.
pub fn small_config() -> Config {
    let mut c = Config::default();
    // Tests send nothing beyond this machine (the mDNS test turns it on, on loopback).
    c.server.mdns = false;
    c.camera[0].width = InRange::new(320).unwrap();
    c.camera[0].height = InRange::new(180).unwrap();
    c.camera[0].fps = InRange::new(15).unwrap();
    c
}

pub fn listeners() -> Listeners {
    Listeners {
        https: TcpListener::bind("127.0.0.1:0").unwrap(),
        http: Some(TcpListener::bind("127.0.0.1:0").unwrap()),
        media: confcam::sfu::MediaSocket::bind(0).unwrap(),
    }
}

/// Opens the data dir and store (blocking work, off the runtime).
pub async fn boot(config: Config, dir: &Path) -> Boot {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || Boot::open(config, &dir)).await.unwrap().unwrap()
}

pub async fn start_box(config: Config) -> TestBox {
    start_with(config, |_| {}).await
}

/// Like [`start_box`], letting the test adjust the boot (notifier, watchdog).
pub async fn start_with(config: Config, adjust: impl FnOnce(&mut Boot)) -> TestBox {
    let dir = tempfile::tempdir().unwrap();
    let mut boot = boot(config, dir.path()).await;
    adjust(&mut boot);
    let (hardware, sim) = Hardware::simulated(&boot.config);
    let running = app::start(boot, listeners(), hardware).await.unwrap();
    let https = running.web.https_addr;
    let http = running.web.http_addr.unwrap();
    TestBox { running, sim, https, http, dir }
}

/// An HTTPS client that accepts the box's self-signed certificate, as a user
/// does after the browser's warning.
pub fn client() -> reqwest::Client {
    client_with(reqwest::header::HeaderMap::new())
}

/// Like [`client`], over HTTP/2 (as browsers talk to the box).
pub fn client_h2() -> reqwest::Client {
    reqwest::Client::builder().danger_accept_invalid_certs(true).http2_prior_knowledge().build().unwrap()
}

/// Like [`client`], sending `headers` with every request.
fn client_with(headers: reqwest::header::HeaderMap) -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The admin's password in tests.
pub const ADMIN_PASSWORD: &str = "projector-42";

/// Claims the box with the setup code the room display shows, and returns a
/// client carrying the session cookie and CSRF token, as the admin page does.
pub async fn admin_client(base: &str) -> reqwest::Client {
    let display: serde_json::Value =
        client().get(format!("{base}/api/display")).send().await.unwrap().json().await.unwrap();
    let code = display["setup_code"].as_str().expect("a new box shows its setup code").to_string();
    let setup = serde_json::json!({ "code": code, "password": ADMIN_PASSWORD });
    let response = client().post(format!("{base}/api/admin/setup")).json(&setup).send().await.unwrap();
    assert_eq!(response.status(), 200, "setup");
    session_client(response).await
}

/// A client for the session a login or setup response started.
pub async fn session_client(response: reqwest::Response) -> reqwest::Client {
    let cookie =
        response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let body: serde_json::Value = response.json().await.unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
    headers.insert("x-csrf-token", body["csrf"].as_str().unwrap().parse().unwrap());
    client_with(headers)
}
