//! One peer's str0m session as the engine sets it up and runs it, and what
//! its events mean: those that concern only the peer are handled here,
//! those that concern others are queued as work for the engine.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};
use str0m::media::MediaKind;
use str0m::rtp::{Extension, StreamTx};
use str0m::{Event, IceConnectionState, Input, Output, Rtc, RtcError};

use super::room::{ROOM_AUDIO, ROOM_VIDEO};
use super::{Datagram, Work};
use crate::sfu::messages::ParticipantKind;
use crate::sfu::peer::{Peer, Published, TrackId};

/// Where a peer's bandwidth estimate starts (a phone on the room's Wi-Fi),
/// before TWCC feedback moves it.
const INITIAL_ESTIMATE_KBPS: u64 = 1500;

/// Resends come from a buffer per video stream; on a room network a NACK
/// arrives within tens of milliseconds, so 128 packets (0.8 s of a
/// 1.5 Mbit/s layer) is plenty. str0m keeps 1000 per stream by default;
/// bench-sfu 8 × 8: 300 took 1.42 MB per participant, 128 1.16.
const SEND_BUFFER_VIDEO: usize = 128;
/// How long a forwarded packet can be resent: a NACK comes within a round
/// trip or two (Janus keeps RTT + 100 ms, at least 200 ms). Not less:
/// str0m probes by resending cached packets, and at 300 ms a viewer whose
/// cap lifted got the top layer back in 12.5 s instead of 4.8 (the
/// bad_network test). bench-sfu 8 × 8: 0.48 MB per participant, 0.59 at 1 s.
const RESEND_WINDOW: Duration = Duration::from_millis(500);
/// At most this share of a stream's bytes are resends (str0m's default).
const RESEND_SHARE_CAP: f32 = 0.15;

/// str0m's pacer asks to run again a microsecond after each packet it
/// releases (so time moves on between packets); a timeout this close is due.
pub const IMMEDIATE: Duration = Duration::from_micros(50);

/// Runs `step` on a peer's str0m session. An error ends that session
/// (str0m's verdict on what the peer sent). So does a panic inside str0m,
/// caught here: a str0m bug that something the peer sent reached must cost
/// that peer its session, not the SFU thread and every call with it. The
/// session is never run again (only dropped); the panic is logged, and
/// counted when the peer is removed. `None` when the session ended.
pub(super) fn run<T>(peer: &mut Peer, step: impl FnOnce(&mut Rtc) -> Result<T, RtcError>) -> Option<T> {
    let id = peer.id();
    match catch_unwind(AssertUnwindSafe(|| step(&mut peer.rtc))) {
        Ok(Ok(value)) => return Some(value),
        Ok(Err(e)) => tracing::info!(participant = %id, error = %e, "session failed"),
        Err(panic) => {
            let why = crate::supervisor::panic_message(&*panic);
            tracing::error!(participant = %id, panic = why, "str0m panicked in this participant's session; it is ended, the others go on");
            peer.panicked = true;
        }
    }
    peer.rtc.disconnect();
    None
}

/// Handles what concerns only `peer`; queues what concerns others.
pub(super) fn on_event(peer: &mut Peer, event: Event, work: &mut VecDeque<Work>) {
    let id = peer.id();
    if let Event::MediaAdded(added) = &event
        && let Some(twcc) =
            peer.rtc.media(added.mid).and_then(|m| m.remote_extmap().id_of(Extension::TransportSequenceNumber))
    {
        peer.twcc.learn_id(twcc);
    }
    match event {
        Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
            tracing::info!(participant = %id, "connection lost");
            peer.rtc.disconnect();
        }
        // Up once DTLS is: ICE alone can succeed while the handshake stalls.
        Event::Connected => {
            tracing::info!(participant = %id, "connected");
            peer.connected = true;
        }

        Event::MediaAdded(added) if added.direction.is_receiving() => {
            peer.published.push(Published::new(added.mid, added.kind));
            work.push_back(Work::Published(TrackId { owner: id, mid: added.mid }, added.kind));
        }
        // A WHEP player's m-lines carry the room, with no renegotiation.
        Event::MediaAdded(added) if added.direction.is_sending() && peer.info.kind == ParticipantKind::Viewer => {
            let source = if added.kind == MediaKind::Audio { ROOM_AUDIO } else { ROOM_VIDEO };
            peer.bind(source, added.kind, added.mid);
            work.push_back(Work::Keyframe(ROOM_VIDEO));
        }

        Event::RtpPacket(packet) => {
            if let Some(seq) = packet.header.ext_vals.transport_cc {
                peer.twcc.registered(seq);
            }
            work.push_back(Work::Rtp(id, Box::new(packet)))
        }
        Event::KeyframeRequest(request) => {
            if let Some(s) = peer.subscriptions.iter().find(|s| s.open_mid() == Some(request.mid)) {
                work.push_back(Work::Keyframe(s.source));
            }
        }
        Event::ChannelOpen(channel, label) => {
            tracing::debug!(participant = %id, label, "data channel open");
            peer.channel = Some(channel);
        }
        Event::ChannelData(data) => work.push_back(Work::Message(id, data.data)),
        // TWCC feedback drives our own estimate; a receiver that only sends
        // REMB tells us its own. An estimate that can no longer probe has
        // stopped learning: the layers go back to what the views ask for.
        Event::EgressBitrateEstimate(BweKind::Twcc { estimate, can_probe }) => {
            peer.estimate = can_probe.then(|| estimate.as_u64());
        }
        Event::EgressBitrateEstimate(BweKind::Remb { estimate, .. }) => peer.estimate = Some(estimate.as_u64()),
        Event::PeerStats(s) => {
            peer.quality.peer(s.timestamp, s.peer_bytes_rx, s.peer_bytes_tx, s.rtt, s.ingress_loss_fraction)
        }
        Event::MediaIngressStats(s) if peer.published.iter().any(|p| p.mid == s.mid && p.kind == MediaKind::Audio) => {
            peer.quality.audio_jitter(s.jitter);
        }
        _ => {}
    }
}

/// A session configured for the box: RTP mode (packets are forwarded, not
/// re-assembled), H.264 constrained baseline first (every phone decodes it),
/// then VP8, and Opus; a bandwidth estimate per peer from TWCC feedback,
/// starting where a room network usually is and probing up from there.
pub(super) fn new_rtc(bandwidth_estimation: bool, now: Instant) -> Rtc {
    let mut config = Rtc::builder()
        .set_rtp_mode(true)
        .set_send_buffer_video(SEND_BUFFER_VIDEO)
        // Each peer's link quality, for the admin page.
        .set_stats_interval(Some(Duration::from_secs(1)))
        .enable_bwe(bandwidth_estimation.then(|| Bitrate::kbps(INITIAL_ESTIMATE_KBPS)))
        .clear_codecs();
    config.codec_config().add_h264(102.into(), Some(103.into()), true, 0x42e01f);
    config.enable_vp8(true).enable_opus(true, false).build(now)
}

/// Sets up a viewer's send stream for forwarded packets, once (str0m drops
/// the resend buffer when it is set). Forwarded as they come, as SFUs do:
/// the publisher paced them, and pacing again only makes a keyframe wait
/// behind itself; the estimate still comes from the viewer's feedback.
/// Resends are kept for half a second, not str0m's three: a NACK comes
/// within a round trip or two, and a buffer bounded by packets alone holds
/// a thumbnail's for ten seconds.
pub(super) fn set_up_forwarding(tx: &mut StreamTx, kind: MediaKind) {
    tx.set_unpaced(true);
    if kind == MediaKind::Video {
        tx.set_rtx_cache(SEND_BUFFER_VIDEO, RESEND_WINDOW, Some(RESEND_SHARE_CAP));
    }
}

/// Takes everything a peer's session has to say. str0m releases one
/// queued packet per round and asks for the next round a microsecond
/// later, so a session is run again at once after each packet it sends
/// (cheaper than polling it for that timeout): a frame goes out now, not
/// one packet per timer tick.
pub(super) fn drain(peer: &mut Peer, now: Instant, transmits: &mut VecDeque<Datagram>, work: &mut VecDeque<Work>) {
    let mut rounds = 0;
    let mut clock = now;
    loop {
        if !peer.rtc.is_alive() {
            return;
        }
        let Some(output) = run(peer, Rtc::poll_output) else { return };
        let run_at = match output {
            Output::Timeout(t) if t <= clock + IMMEDIATE && rounds < 64 => t.max(clock),
            Output::Timeout(t) => {
                peer.next_timeout = t;
                break;
            }
            Output::Transmit(t) => {
                transmits.push_back(Datagram { source: t.source, destination: t.destination, data: t.contents.into() });
                if rounds >= 64 {
                    continue;
                }
                clock + Duration::from_micros(1)
            }
            Output::Event(event) => {
                on_event(peer, event, work);
                continue;
            }
        };
        rounds += 1;
        clock = run_at;
        if run(peer, |rtc| rtc.handle_input(Input::Timeout(run_at))).is_none() {
            return;
        }
    }
    peer.flush_outbox();
    peer.negotiate();
}
