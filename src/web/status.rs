//! `GET /api/status`: the admin page's live view, polled once a second:
//! each participant's link, the room's sound and the talker's direction,
//! the director's timings in use, the box's CPU, memory and temperature,
//! its devices and how the network reaches it.

// A handler: it reads the clock for device health.
#![allow(clippy::disallowed_methods)]

use std::sync::Mutex;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::WebState;
use super::health::SourceReport;
use crate::system::local_name;

pub async fn status(State(state): State<WebState>) -> Json<Value> {
    let participants = state.sfu.participants().await.unwrap_or_default();
    let links = state.sfu.links().await.unwrap_or_default();
    let participants: Vec<Value> = participants
        .into_iter()
        .map(|p| {
            let link = links.iter().find(|(id, _)| *id == p.id).map(|(_, q)| *q);
            json!({ "id": p.id, "name": p.name, "kind": p.kind, "audio_muted": p.audio_muted,
                    "video_muted": p.video_muted, "link": link })
        })
        .collect();
    let now = Instant::now();
    let devices: Vec<SourceReport> =
        state.status.sources().iter().map(|s| SourceReport::from(s.status(now, state.status.stall_timeout))).collect();
    let config = state.config.borrow().clone();
    let director = state.director.borrow().clone();
    let certificate = state.certificate.borrow().clone();
    let talker = *state.talker.borrow();
    let speaker = state.status.speaker.as_ref().map(|s| {
        let echo = *s.echo.borrow();
        json!({
            "state": SourceReport::from(s.health.status(now, state.status.stall_timeout)),
            "far_dbfs": echo.far_dbfs,
            "erle_db": echo.erle_db,
            "erl_db": echo.erl_db,
            "residual_echo": echo.residual_echo,
            "delay_ms": echo.delay_ms,
            "underruns": s.counters.underruns.load(std::sync::atomic::Ordering::Relaxed),
            "far_end": s.counters.mix(),
            "volume_percent": config.speaker.volume_percent.get(),
            "far_end_muted": config.speaker.far_end_muted,
        })
    });
    Json(json!({
        "room": config.room.name,
        "uptime_s": state.status.started.elapsed().as_secs(),
        "participants": participants,
        "audio": {
            "level_dbfs": *state.level.borrow(),
            "voice": talker.is_some(),
            "talker_deg": talker,
            "muted": *state.status.muted.borrow(),
        },
        // None: no loudspeaker, the display page plays the far end.
        "speaker": speaker,
        "director_in_use": director,
        "system": system(),
        "devices": devices,
        "network": {
            "ips": certificate.identity.ips,
            "local_name": config.server.mdns.then(|| local_name(&config.room.name)),
            "certificate_sha256": certificate.sha256,
            "media_port": state.status.media_port,
        },
    }))
}

/// CPU since the last look (the daemon's and the whole board's), memory,
/// and the SoC's temperature where the board reports one.
fn system() -> Value {
    /// When, the daemon's CPU seconds, the board's busy and total jiffies.
    type Sample = (Instant, f64, Option<(u64, u64)>);
    static LAST: Mutex<Option<Sample>> = Mutex::new(None);
    let now = Instant::now();
    let (cpu_secs, rss) = super::metrics::process_usage();
    let board = board_cpu();
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let (mut daemon_pct, mut board_pct) = (None, None);
    if let Some((then, cpu_then, board_then)) = *last {
        let wall = now.saturating_duration_since(then).as_secs_f64();
        if wall > 0.05 {
            daemon_pct = Some((cpu_secs - cpu_then) / wall * 100.0);
        }
        if let (Some((busy, total)), Some((busy0, total0))) = (board, board_then)
            && total > total0
        {
            board_pct = Some(busy.saturating_sub(busy0) as f64 / (total - total0) as f64 * 100.0);
        }
    }
    *last = Some((now, cpu_secs, board));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = |field: &str| {
        meminfo.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    };
    json!({
        "daemon_cpu_percent": daemon_pct,
        "board_cpu_percent": board_pct,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "daemon_memory_bytes": rss,
        "memory_total_bytes": kib("MemTotal:").map(|k| k * 1024),
        "memory_available_bytes": kib("MemAvailable:").map(|k| k * 1024),
        "temperature_c": temperature(),
    })
}

/// Busy and total jiffies of all cores (`/proc/stat`).
fn board_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// The first thermal zone's reading (the SoC on a Pi); none in a VM.
fn temperature() -> Option<f64> {
    let milli: i64 = std::fs::read_to_string("/sys/class/thermal/thermal_zone0/temp").ok()?.trim().parse().ok()?;
    Some(milli as f64 / 1000.0)
}
