//! `GET /metrics`: the box in Prometheus' text format (OpenMetrics), read
//! fresh at each scrape: participants, forwarded media, capture sources,
//! the talker (DOA and voice activity), check-ins, the daemon's CPU and
//! memory.

// A handler: it reads the clock for device health.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::WebState;

type Labels = Vec<(&'static str, String)>;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub async fn metrics(State(state): State<WebState>) -> Response {
    let mut registry = Registry::with_prefix("confcam");

    let participants = Family::<Labels, Gauge>::default();
    for kind in ["phone", "display", "room", "ingest", "viewer"] {
        participants.get_or_create(&vec![("kind", kind.to_string())]).set(0);
    }
    for p in state.sfu.participants().await.unwrap_or_default() {
        // The kind as the API names it.
        let kind = serde_json::to_value(p.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        participants.get_or_create(&vec![("kind", kind)]).inc();
    }
    registry.register("participants", "Participants in the meeting, by kind", participants);

    let (packets, bytes) = state.forwarded.totals();
    registry.register("forwarded_packets", "RTP packets forwarded to participants", counter(packets));
    registry.register("forwarded_bytes", "RTP payload bytes forwarded to participants", counter(bytes));
    let failures = state.forwarded.send_failures();
    registry.register(
        "media_send_failures",
        "Datagrams the media socket failed to send (each lost alone)",
        counter(failures),
    );
    for incident in crate::sfu::Incident::ALL {
        let (name, help) = incident.metric();
        registry.register(name, help, counter(state.forwarded.incidents(incident)));
    }

    let open = Gauge::<i64>::default();
    open.set(state.connections.open() as i64);
    registry.register("https_connections", "HTTPS connections open", open);
    let refused = state.connections.refused.load(std::sync::atomic::Ordering::Relaxed);
    registry.register(
        "https_connections_refused",
        "HTTPS connections closed at once for being over the bounds (per client, in all)",
        counter(refused),
    );

    let (delivered, errors, up, dropped) = (
        Family::<Labels, Counter>::default(),
        Family::<Labels, Counter>::default(),
        Family::<Labels, Gauge>::default(),
        Family::<Labels, Counter>::default(),
    );
    let now = Instant::now();
    for source in state.status.sources() {
        let s = source.status(now, state.status.stall_timeout);
        let labels = vec![("source", s.name.clone())];
        delivered.get_or_create(&labels).inc_by(s.delivered);
        errors.get_or_create(&labels).inc_by(s.errors);
        up.get_or_create(&labels).set(i64::from(s.state == crate::capture::SourceState::Running));
        if s.name.starts_with("camera:") {
            dropped.get_or_create(&labels).inc_by(s.dropped);
        }
    }
    registry.register("source_delivered", "Frames or audio blocks a capture source delivered", delivered);
    registry.register("source_errors", "Failed reads of a capture source (unplugged, stalled)", errors);
    registry.register("source_running", "1 while a capture source delivers", up);
    registry.register("dropped_frames", "Camera frames lost between the sensor and the box (sequence gaps)", dropped);

    let talker = *state.talker.borrow();
    registry.register("voice_active", "1 while someone in the room talks (VAD)", gauge(i64::from(talker.is_some())));
    if let Some(degrees) = talker {
        let direction = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        direction.set(f64::from(degrees));
        registry.register("talker_direction_degrees", "Direction of the talker (DOA), 0-360", direction);
    }
    registry.register("muted", "1 while the room microphone is muted", gauge(i64::from(*state.status.muted.borrow())));

    if let Some(speaker) = &state.status.speaker {
        let echo = *speaker.echo.borrow();
        if let Some(erle) = echo.erle_db {
            let g = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
            g.set(f64::from(erle));
            registry.register("aec_erle_db", "Echo return loss enhancement of the echo canceller, dB", g);
        }
        let underruns = speaker.counters.underruns.load(std::sync::atomic::Ordering::Relaxed);
        registry.register("speaker_underruns", "Times the loudspeaker ran dry and was restarted", counter(underruns));
        let mix = speaker.counters.mix();
        registry.register("far_end_talkers", "Remote talkers the loudspeaker plays", gauge(mix.talkers as i64));
        registry.register("far_end_lost_packets", "Far-end packets rebuilt or concealed", counter(mix.lost));
        registry.register(
            "far_end_undecodable_packets",
            "Far-end packets that failed to decode",
            counter(mix.undecodable),
        );
    }

    let store = state.status.store.clone();
    if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || store.checked_in_now()).await {
        registry.register("checked_in", "People checked in to the open meeting", gauge(n as i64));
    }

    let (cpu, rss) = process_usage();
    registry.register("process_cpu_seconds", "CPU time the daemon used (user + system)", float_counter(cpu));
    registry.register("process_resident_memory_bytes", "The daemon's resident memory", gauge(rss as i64));
    registry.register(
        "uptime_seconds",
        "Seconds since the daemon started",
        gauge(state.status.started.elapsed().as_secs() as i64),
    );

    let mut text = String::new();
    match encode(&mut text, &registry) {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn counter(value: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(value);
    c
}

fn float_counter(value: f64) -> Counter<f64, std::sync::atomic::AtomicU64> {
    let c = Counter::<f64, std::sync::atomic::AtomicU64>::default();
    c.inc_by(value);
    c
}

fn gauge(value: i64) -> Gauge {
    let g = Gauge::default();
    g.set(value);
    g
}

/// CPU seconds (getrusage) and resident bytes (/proc/self/statm).
pub(super) fn process_usage() -> (f64, u64) {
    use nix::sys::resource::{UsageWho, getrusage};
    let cpu = getrusage(UsageWho::RUSAGE_SELF)
        .map(|u| {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            secs(u.user_time()) + secs(u.system_time())
        })
        .unwrap_or(0.0);
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().unwrap_or(4096) as u64;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page);
    (cpu, rss)
}
