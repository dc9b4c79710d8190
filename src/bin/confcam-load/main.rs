//! `confcam-load`: WebRTC clients for testing and measuring the box, built on
//! str0m like the box itself.
//!
//! - `whip`: publish synthetic audio and video into the meeting (WHIP).
//! - `whep`: pull the room's camera and microphone (WHEP) and report.
//! - `bench`: N WHIP publishers × M subscribers through the SFU, measuring
//!   the daemon's CPU per forwarded packet, memory per participant and the
//!   added latency; ends with `METRIC name=value` lines.
//! - `engine`: the same meeting through the SFU engine in this process, on
//!   an in-memory network in simulated time: the engine's own CPU per
//!   forwarded packet, without the network stack.
//! - `relay`: the same meeting through the daemon's socket loop with a copy
//!   for an engine: the network stack's share, without the engine.
//! - `janus`: the meeting of `bench` through a Janus VideoRoom, measured
//!   the same way: the peer the box's SFU is compared with.
//! - `soak`: join/leave cycles against the daemon (every way people come
//!   and go), with its memory, open files and threads from /proc.

// A tool: it reads the clock.
#![allow(clippy::disallowed_methods)]

mod bench;
mod engine;
mod janus;
mod media;
mod relay;
mod schedule;
mod session;
mod soak;

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use schedule::Publishing;
use session::{Packet, Role, Session};

#[derive(Parser)]
#[command(name = "confcam-load", about = "WebRTC load and test client for confcam")]
struct Cli {
    /// The box's HTTPS address, e.g. https://127.0.0.1:8443.
    #[arg(long, global = true, default_value = "https://127.0.0.1:8443")]
    url: String,
    /// The meeting's join code.
    #[arg(long, global = true, default_value = "")]
    code: String,
    /// How long to run.
    #[arg(long, global = true, default_value_t = 10)]
    seconds: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publish the test scene (H.264) and a tone (Opus) by WHIP.
    Whip {
        /// Video bitrate.
        #[arg(long, default_value_t = 300)]
        video_kbps: u32,
    },
    /// Pull the room by WHEP; fails unless audio and video arrive.
    Whep,
    /// Publishers × subscribers through the SFU, with figures.
    Bench(bench::BenchArgs),
    /// The same meeting through the SFU engine in this process (no daemon,
    /// no sockets), with its CPU per forwarded packet.
    Engine(bench::Meeting),
    /// The same meeting through the daemon's socket loop with a plain copy
    /// for an engine: what moving the datagrams alone costs.
    Relay(bench::Meeting),
    /// The meeting of `bench` through a Janus VideoRoom (`--url` is its
    /// HTTP API, e.g. http://10.237.0.2:18088/janus).
    Janus(janus::JanusArgs),
    /// Join/leave cycles against the daemon, with its growth in memory,
    /// open files and threads.
    Soak(soak::SoakArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let result = match cli.command {
        Command::Whip { video_kbps } => runtime.block_on(whip(&cli.url, &cli.code, cli.seconds, video_kbps)),
        Command::Whep => runtime.block_on(whep(&cli.url, &cli.code, cli.seconds)),
        Command::Bench(args) => runtime.block_on(bench::run(&cli.url, &cli.code, cli.seconds, args)),
        Command::Engine(args) => engine::run(cli.seconds, args),
        Command::Relay(args) => relay::run(cli.seconds, args),
        Command::Janus(args) => runtime.block_on(janus::run(&cli.url, cli.seconds, args)),
        Command::Soak(args) => runtime.block_on(soak::run(&cli.url, &cli.code, args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("confcam-load: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn http() -> reqwest::Client {
    // The box's certificate is self-signed; this is a test tool on the LAN.
    reqwest::Client::builder().danger_accept_invalid_certs(true).build().expect("an HTTP client")
}

/// The IP to bind sessions on: the box's host if it is an address, else any.
pub fn local_ip(url: &str) -> IpAddr {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or_default();
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => ip,
        _ => IpAddr::from([0, 0, 0, 0]),
    }
}

/// Starts a WHIP or WHEP session; returns it with its resource URL.
pub async fn whip_session(url: &str, code: &str, role: Role) -> Result<(Session, String), String> {
    let endpoint = if matches!(role, Role::Viewer) { "whep" } else { "whip" };
    let (mut session, offer) = Session::offer(&role, local_ip(url)).map_err(|e| e.to_string())?;
    let r = http()
        .post(format!("{url}/{endpoint}"))
        .header("content-type", "application/sdp")
        .bearer_auth(code)
        .body(offer)
        .send()
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    if r.status() != 201 {
        return Err(format!("{endpoint}: {} {}", r.status(), r.text().await.unwrap_or_default()));
    }
    let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string();
    let answer = r.text().await.map_err(|e| e.to_string())?;
    session.accept_answer(&answer)?;
    Ok((session, format!("{url}{location}")))
}

/// Joins over `/api/join` as a page does (`kind`: phone or display).
pub async fn join_page(url: &str, code: &str, role: Role, name: &str, kind: &str) -> Result<Session, String> {
    let (mut session, offer) = Session::offer(&role, local_ip(url)).map_err(|e| e.to_string())?;
    let body = serde_json::json!({ "code": code, "name": name, "sdp": offer, "kind": kind });
    let r = http().post(format!("{url}/api/join")).json(&body).send().await.map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("join: {} {}", r.status(), r.text().await.unwrap_or_default()));
    }
    let answer: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    session.accept_answer(answer["sdp"].as_str().unwrap_or_default())?;
    Ok(session)
}

/// Drives `sessions` until `until`, the first `publishing` of them
/// publishing (see [`Publishing`]).
pub fn run_sessions(sessions: &mut [Session], publishing: usize, video_kbps: u32, until: Instant) {
    run_sessions_while(sessions, publishing, video_kbps, until, || true);
}

/// [`run_sessions`], ending early once `going` says so (when the end is
/// not known at the start).
pub fn run_sessions_while(
    sessions: &mut [Session],
    publishing: usize,
    video_kbps: u32,
    until: Instant,
    going: impl Fn() -> bool,
) {
    let mut schedule = Publishing::new(publishing, video_kbps, Instant::now());
    while Instant::now() < until && going() {
        let now = Instant::now();
        let mut wake = schedule.poll(now, |i, due| sessions[i].publish(due, now)).min(until);
        for s in sessions.iter_mut() {
            wake = wake.min(s.drive(now));
        }
        wait_readable(sessions, wake.saturating_duration_since(Instant::now()));
    }
}

/// Publishes real media: the test scene encoded as H.264 and a 440 Hz tone
/// as Opus, so a phone can show and play it.
async fn whip(url: &str, code: &str, seconds: u64, video_kbps: u32) -> Result<(), String> {
    use confcam::capture::sim::TestScene;
    use confcam::capture::{Frame, PixelFormat};
    use confcam::codec::{H264Encoder, OPUS_FRAME, OpusEncoder, packetize_h264};

    let (mut session, resource) = whip_session(url, code, Role::Publisher).await?;
    let (w, h, fps) = (320u32, 180u32, 15u32);
    let scene = TestScene::new(w, h);
    let mut encoder = H264Encoder::new(w, h, fps, video_kbps * 1000).map_err(|e| e.to_string())?;
    let mut opus = OpusEncoder::new(32_000).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut frame =
        Frame { seq: 0, captured_at: start, width: w, height: h, format: PixelFormat::I420, data: Vec::new().into() };
    let (mut next_video, mut next_audio, mut n, mut samples) = (start, start, 0u64, 0u64);
    let until = start + Duration::from_secs(seconds);
    while Instant::now() < until {
        let now = Instant::now();
        if now >= next_video && session.connected {
            scene.render(n, std::time::SystemTime::now(), &mut frame.data);
            let nals = encoder.encode(&frame, n.is_multiple_of(u64::from(fps) * 2)).map_err(|e| e.to_string())?;
            let time = ((now - start).as_micros() * 9 / 100) as u32;
            if let Some(mid) = session.video {
                for (payload, marker) in packetize_h264(&nals, 1100) {
                    session.send(mid, None, Packet { payload, time, marker, level: None }, now);
                }
            }
            n += 1;
            next_video += Duration::from_secs(1) / fps;
        }
        if now >= next_audio && session.connected {
            let tone: Vec<i16> = (0..OPUS_FRAME as u64)
                .map(|i| ((2.0 * std::f32::consts::PI * 440.0 * (samples + i) as f32 / 48_000.0).sin() * 6000.0) as i16)
                .collect();
            samples += OPUS_FRAME as u64;
            if let (Some(mid), Ok(packet)) = (session.audio, opus.encode(&tone)) {
                session.send(
                    mid,
                    None,
                    Packet { payload: packet, time: samples as u32, marker: false, level: Some(-25) },
                    now,
                );
            }
            next_audio += Duration::from_millis(20);
        }
        let wake = session.drive(now).min(next_video).min(next_audio);
        std::thread::sleep(
            wake.saturating_duration_since(Instant::now()).clamp(Duration::from_micros(200), Duration::from_millis(5)),
        );
    }
    let _ = http().delete(&resource).bearer_auth(code).send().await;
    if !session.connected {
        return Err("never connected".into());
    }
    println!("published {n} frames in {seconds} s");
    Ok(())
}

/// This thread's CPU time so far.
pub fn thread_cpu() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map(Duration::from).unwrap_or_default()
}

/// Sleeps until a datagram arrives for any session, or `timeout` (so receive
/// times, and the latencies measured from them, are not rounded up).
fn wait_readable(sessions: &[Session], timeout: Duration) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut fds: Vec<PollFd<'_>> =
        sessions.iter().filter_map(|s| s.socket()).map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN)).collect();
    let ms = PollTimeout::from(timeout.as_millis().min(5) as u16);
    let _ = poll(&mut fds, ms);
}

async fn whep(url: &str, code: &str, seconds: u64) -> Result<(), String> {
    let (session, resource) = whip_session(url, code, Role::Viewer).await?;
    let mut sessions = [session];
    let until = Instant::now() + Duration::from_secs(seconds);
    run_sessions(&mut sessions, 0, 0, until);
    let _ = http().delete(&resource).bearer_auth(code).send().await;
    let r = &sessions[0].received;
    println!("received {} video and {} audio packets ({} bytes)", r.video_packets, r.audio_packets, r.bytes);
    if r.video_packets == 0 || r.audio_packets == 0 {
        return Err("no room media arrived".into());
    }
    Ok(())
}
