//! Garbage on the media port: anyone on the room's network can send the
//! box's UDP port whatever they like. A phone in the meeting keeps getting
//! the room's audio and video while thousands of datagrams a second that
//! look like STUN, DTLS, RTP, RTCP or nothing at all arrive beside it.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{client, small_config, start_box};
use crate::phone::{Phone, Seen};

const CODE: &str = "246802";
/// Datagrams a second the flood aims at.
const RATE: u64 = 3000;

/// One datagram of the flood: each kind the box's demultiplexer tells
/// apart by its first bytes, filled with noise.
fn garbage(rng: &mut fastrand::Rng, n: u64) -> Vec<u8> {
    let mut d: Vec<u8> = (0..rng.usize(20..1200)).map(|_| rng.u8(..)).collect();
    match n % 5 {
        // A STUN binding request with the magic cookie and a random user.
        0 => {
            d[..4].copy_from_slice(&[0x00, 0x01, 0x00, 0x00]);
            d[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
        }
        // A DTLS handshake record.
        1 => d[..3].copy_from_slice(&[22, 0xfe, 0xfd]),
        // RTP, version 2, a random SSRC.
        2 => d[0] = 0x80,
        // RTCP (a sender report).
        3 => d[..2].copy_from_slice(&[0x80, 200]),
        // Noise.
        _ => {}
    }
    d
}

/// Sends garbage to `to` at [`RATE`] from a handful of sockets until told
/// to stop; returns how many went.
fn flood(to: SocketAddr, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let sockets: Vec<UdpSocket> = (0..8).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        let mut rng = fastrand::Rng::with_seed(7);
        let start = Instant::now();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            // Paced in bursts of 1 ms.
            let due = (start.elapsed().as_secs_f64() * RATE as f64) as u64;
            while n < due {
                let _ = sockets[(n % 8) as usize].send_to(&garbage(&mut rng, n), to);
                n += 1;
            }
            sent.store(n, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(1));
        }
    })
}

/// The room's audio packets and video frames a phone received in `window`.
fn received(seen: &Seen, from: Instant, to: Instant) -> (usize, usize) {
    let within = |at: &Instant| *at >= from && *at < to;
    (
        seen.room_audio.iter().filter(|(at, _)| within(at)).count(),
        seen.pictures.iter().filter(|p| within(&p.at)).count(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_keeps_its_media_while_garbage_floods_the_media_port() {
    let mut config = small_config();
    config.meeting.join_code = Some(CODE.into());
    let b = start_box(config).await;
    let http = client();
    let phone = Phone::join(&http, b.https, CODE).await;
    let flowing = phone.wait_for(Duration::from_secs(30), |s| (s.room_audio.len() >= 100).then_some(())).await;
    assert!(flowing.is_some(), "the room's audio reached the phone");

    let window = Duration::from_secs(4);
    let quiet_from = Instant::now();
    tokio::time::sleep(window).await;
    let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let media = SocketAddr::from(([127, 0, 0, 1], b.running.media_port));
    let flooding = flood(media, stop.clone(), sent.clone());
    // A second for the flood to build up, then the same window under it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flood_from = Instant::now();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    flooding.join().unwrap();
    let flooded_for = flood_from.elapsed() + Duration::from_secs(1);

    let (before, during) = {
        let seen = phone.seen.lock().unwrap();
        (received(&seen, quiet_from, quiet_from + window), received(&seen, flood_from, flood_from + window))
    };
    let per_s = |n: usize| n as f64 / window.as_secs_f64();
    let sent = sent.load(Ordering::Relaxed);
    eprintln!(
        "the phone got {:.1} audio packets/s and {:.1} video frames/s before the flood, {:.1} and {:.1} during it \
         ({sent} garbage datagrams, {:.0}/s)",
        per_s(before.0),
        per_s(before.1),
        per_s(during.0),
        per_s(during.1),
        sent as f64 / flooded_for.as_secs_f64()
    );
    assert!(sent as f64 >= RATE as f64 * 3.0, "the flood ran: {sent} datagrams");
    assert!(before.0 >= 150 && before.1 >= 20, "media flowed before the flood: {before:?}");
    assert!(during.0 * 10 >= before.0 * 9, "audio under the flood: {during:?} against {before:?}");
    assert!(during.1 * 10 >= before.1 * 8, "video under the flood: {during:?} against {before:?}");

    // The box still serves, and someone new can still join.
    let health = http.get(format!("https://{}/healthz", b.https)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let late = Phone::join(&http, b.https, CODE).await;
    let joined = late.wait_for(Duration::from_secs(30), |s| (!s.room_audio.is_empty()).then_some(())).await;
    assert!(joined.is_some(), "a phone joined after the flood");
    b.running.shutdown().await;
}
