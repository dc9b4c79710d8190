//! The floor under the daemon's figure: the meeting of `bench` through the
//! daemon's own media socket and receive loop, with the engine replaced by
//! a plain copy (no sessions, no SRTP, no pacing). Each subscriber gets what
//! the daemon would send it: the first publisher's top layer, the others'
//! middle layer, and everyone's audio. Its CPU per forwarded packet is what
//! receiving, copying and sending a datagram costs on this machine's network
//! stack, with its wake-ups: the daemon's figure is this plus its engine.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use confcam::sfu::{Datagram, MediaSocket};

use crate::bench::{Meeting, report_part};
use crate::media::SIMULCAST;
use crate::schedule::{Due, Publishing, TOP};
use crate::thread_cpu;

/// The first byte of each datagram: audio, or the video layer's place in
/// [`SIMULCAST`] plus one.
const AUDIO: u8 = 0;

pub fn run(seconds: u64, args: Meeting) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let socket = MediaSocket::bind(0).map_err(io)?;
    let relay_addr = SocketAddr::from(([127, 0, 0, 1], socket.port()));
    let bind = || UdpSocket::bind("127.0.0.1:0");
    let publishers: Vec<UdpSocket> = (0..args.publishers).map(|_| bind()).collect::<Result<_, _>>().map_err(io)?;
    let subscribers: Vec<UdpSocket> = (0..args.subscribers).map(|_| bind()).collect::<Result<_, _>>().map_err(io)?;
    let from: Vec<SocketAddr> = publishers.iter().map(UdpSocket::local_addr).collect::<Result<_, _>>().map_err(io)?;
    let to: Vec<SocketAddr> = subscribers.iter().map(UdpSocket::local_addr).collect::<Result<_, _>>().map_err(io)?;

    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(seconds);
    let relay = std::thread::spawn(move || relay(socket, from, to, measure_from, end));
    let done = Arc::new(AtomicBool::new(false));
    let receiving = {
        let done = done.clone();
        std::thread::spawn(move || receive(&subscribers, measure_from, end, &done))
    };

    let mut schedule = Publishing::new(args.publishers, args.video_kbps, start);
    while Instant::now() < end {
        let wake = schedule.poll(Instant::now(), |i, due| {
            let (tag, packet) = match due {
                Due::Video { rid, packet } => (layer_tag(rid), packet),
                Due::Audio(packet) => (AUDIO, packet),
            };
            let mut datagram = vec![tag];
            datagram.extend_from_slice(&packet.payload);
            let _ = publishers[i].send_to(&datagram, relay_addr);
        });
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    let cpu = relay.join().map_err(|_| "the relay failed")??;
    done.store(true, Ordering::Relaxed);
    let forwarded = receiving.join().map_err(|_| "the subscribers failed")?;
    if forwarded == 0 {
        return Err("nothing was relayed".into());
    }

    report_part(
        "Relay floor (the daemon's socket loop, a copy for an engine)",
        &args,
        seconds,
        forwarded,
        cpu,
        "sockets, kernel and wake-ups alone",
        "sfu_relay_cpu_us_per_forwarded_packet",
    );
    Ok(())
}

fn layer_tag(rid: &str) -> u8 {
    1 + SIMULCAST.iter().position(|(r, _)| *r == rid).unwrap_or(0) as u8
}

/// Whether the subscribers are sent a publisher's datagram (see the module).
fn forwarded(publisher: usize, tag: u8) -> bool {
    let [_, (middle, _), _] = SIMULCAST;
    tag == AUDIO || tag == layer_tag(if publisher == 0 { TOP } else { middle })
}

/// The daemon's receive loop (`sfu::task`) around a copy instead of the
/// engine: a wake-up takes the rest of a burst too, and each subscriber's
/// datagrams go out together (as a session's drained output does, so runs
/// of equal size go as one GSO send). Returns its CPU time while measuring.
fn relay(
    socket: MediaSocket,
    publishers: Vec<SocketAddr>,
    subscribers: Vec<SocketAddr>,
    measure_from: Instant,
    end: Instant,
) -> Result<Duration, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let socket = socket.activate().map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 2048];
        let (mut inbound, mut outgoing) = (Vec::new(), Vec::new());
        let mut cpu_from = None;
        loop {
            tokio::select! {
                received = socket.recv(&mut buf) => {
                    let Ok((n, source, local)) = received else { continue };
                    // What the subscribers are sent of each datagram in the burst.
                    let wanted = |source: SocketAddr, data: &[u8]| {
                        let publisher = publishers.iter().position(|a| *a == source);
                        publisher.is_some_and(|p| data.first().is_some_and(|&tag| forwarded(p, tag)))
                    };
                    if wanted(source, &buf[..n]) {
                        inbound.push(buf[..n].to_vec());
                    }
                    for _ in 0..64 {
                        let Ok((n, source, _)) = socket.try_recv(&mut buf) else { break };
                        if wanted(source, &buf[..n]) {
                            inbound.push(buf[..n].to_vec());
                        }
                    }
                    for &subscriber in &subscribers {
                        for data in &inbound {
                            outgoing.push(Datagram { source: local, destination: subscriber, data: data.clone() });
                        }
                    }
                    inbound.clear();
                }
                () = tokio::time::sleep_until(end.into()) => break,
            }
            if let Err(e) = socket.send_batch(&outgoing).await {
                return Err(format!("relay send: {} ({} datagrams lost)", e.0, e.1));
            }
            outgoing.clear();
            if cpu_from.is_none() && Instant::now() >= measure_from {
                cpu_from = Some(thread_cpu());
            }
        }
        Ok(thread_cpu().saturating_sub(cpu_from.unwrap_or_default()))
    })
}

/// Counts the datagrams that reach the subscribers while measuring.
fn receive(subscribers: &[UdpSocket], measure_from: Instant, end: Instant, done: &AtomicBool) -> u64 {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut count = 0;
    let mut buf = vec![0u8; 2048];
    for s in subscribers {
        let _ = s.set_nonblocking(true);
    }
    while !done.load(Ordering::Relaxed) {
        let mut fds: Vec<PollFd<'_>> = subscribers.iter().map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN)).collect();
        let _ = poll(&mut fds, PollTimeout::from(5u16));
        for s in subscribers {
            while s.recv(&mut buf).is_ok() {
                let now = Instant::now();
                if now >= measure_from && now < end {
                    count += 1;
                }
            }
        }
    }
    count
}
