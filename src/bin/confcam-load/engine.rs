//! The SFU engine alone: the meeting of `bench`, with the box's [`Sfu`] in
//! this process and every session on an in-memory network, in simulated
//! time. Only the CPU time spent inside the engine is counted (its str0m
//! sessions and forwarding; no sockets, kernel or tokio): what the daemon's
//! figure would be if moving a datagram cost nothing. Being free of the
//! machine's network stack and scheduler, it is also far steadier from run
//! to run than the daemon's figure.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use confcam::sfu::messages::ParticipantKind;
use confcam::sfu::{Sfu, SfuConfig};

use crate::bench::{Meeting, report_part};
use crate::schedule::Publishing;
use crate::session::{Role, Session};
use crate::thread_cpu;

/// The simulated clock's step: a publisher's burst is delivered within it.
const STEP: Duration = Duration::from_millis(1);

pub fn run(seconds: u64, args: Meeting) -> Result<(), String> {
    let sfu_addr = SocketAddr::from(([10, 0, 0, 1], 5000));
    let mut now = Instant::now();
    let mut sfu = Sfu::new(SfuConfig { room: "Bench".into(), max_participants: 255, bandwidth_estimation: true });
    sfu.set_local_addresses(&[sfu_addr]);
    let (mut addrs, mut sessions) = (Vec::new(), Vec::new());
    for i in 0..args.publishers + args.subscribers {
        let publisher = i < args.publishers;
        let (role, kind) = match publisher {
            true => (Role::SimulcastPublisher, ParticipantKind::Ingest),
            false => (Role::Subscriber, ParticipantKind::Display),
        };
        let addr = SocketAddr::from(([10, 0, 1 + (i / 200) as u8, 10 + (i % 200) as u8], 4000));
        let (mut session, offer) = Session::offer_in_memory(&role, addr, now).map_err(|e| e.to_string())?;
        let (_, answer) = sfu.join(&format!("Bench {i}"), kind, &offer, now).map_err(|e| e.to_string())?;
        session.accept_answer(&answer)?;
        addrs.push(addr);
        sessions.push(session);
    }

    let mut schedule = Publishing::new(args.publishers, args.video_kbps, now);
    let measure_from = now + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(seconds);
    let mut engine = Duration::ZERO;
    let mut measuring = false;
    while now < end {
        now += STEP;
        if !measuring && now >= measure_from {
            measuring = true;
            engine = Duration::ZERO;
            for s in &mut sessions {
                s.received = Default::default();
            }
        }
        schedule.poll(now, |i, due| sessions[i].publish(due, now));
        for s in &mut sessions {
            s.drive(now);
        }
        let started = thread_cpu();
        if sfu.poll_timeout(now) <= now {
            sfu.handle_timeout(now);
        }
        engine += thread_cpu().saturating_sub(started);
        engine += exchange(&mut sfu, sfu_addr, &addrs, &mut sessions, now);
    }

    let subscribers = &sessions[args.publishers..];
    if let Some(i) = sessions.iter().position(|s| !s.connected) {
        return Err(format!("session {i} never connected"));
    }
    let forwarded: u64 = subscribers.iter().map(|s| s.received.packets()).sum();
    if forwarded == 0 {
        return Err("nothing was forwarded".into());
    }
    report_part(
        "SFU engine alone (simulated time, an in-memory network)",
        &args,
        seconds,
        forwarded,
        engine,
        "str0m sessions and forwarding; no sockets or kernel",
        "sfu_engine_cpu_us_per_forwarded_packet",
    );
    Ok(())
}

/// Delivers datagrams until nobody has anything to say: what the engine
/// sent reaches the sessions, and each session's burst reaches the engine
/// as one batch, as the daemon reads a burst. Returns the engine's CPU time.
fn exchange(
    sfu: &mut Sfu,
    sfu_addr: SocketAddr,
    addrs: &[SocketAddr],
    sessions: &mut [Session],
    now: Instant,
) -> Duration {
    let mut engine = Duration::ZERO;
    loop {
        let mut moved = false;
        while let Some(d) = sfu.poll_transmit() {
            if let Some(i) = addrs.iter().position(|a| *a == d.destination) {
                sessions[i].receive(now, sfu_addr, &d.data);
            }
        }
        for (from, session) in addrs.iter().zip(sessions.iter_mut()) {
            let sent = session.take_sent();
            if sent.is_empty() {
                continue;
            }
            moved = true;
            let started = thread_cpu();
            for (_, data) in sent {
                sfu.receive(now, *from, sfu_addr, &data);
            }
            sfu.flush(now);
            engine += thread_cpu().saturating_sub(started);
        }
        if !moved {
            return engine;
        }
    }
}
