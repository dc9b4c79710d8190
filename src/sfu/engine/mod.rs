//! The SFU: every participant's session, and what flows between them.
//!
//! Shaped like str0m itself: datagrams and timeouts go in with the time,
//! datagrams to send come out of [`Sfu::poll_transmit`]; no sockets, threads
//! or clocks inside, so tests drive it on their own schedule.

use crate::events::ParticipantId;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, MediaKind, Rid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket};
use str0m::{Candidate, Input};

mod page;
mod room;
mod session;
mod simulcast;

use room::FAR_VOICE_DBOV;
pub use room::{FarAudio, LocalPacket, ROOM_ID, RoomVoice, Talker};

use super::counters::Incident;
use super::dtls_guard;
use super::forward::{VideoCodec, starts_keyframe};
use super::layers::{View, choose_layer};
use super::messages::{ParticipantInfo, ParticipantKind, ServerMessage};
use super::peer::{Peer, TrackId};
use crate::speaker::{DominantSpeaker, SpeakerConfig};
pub use session::IMMEDIATE;
use session::new_rtc;
use simulcast::{Layer, view_of};

/// A keyframe is asked of a publisher at most this often per track; a
/// subscriber's decoder may ask many times a second.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);
/// How often simulcast layers are re-ranked and viewers retargeted.
const RESELECT_INTERVAL: Duration = Duration::from_millis(500);
/// A participant whose connection (ICE and DTLS) is not up this long after
/// joining is dropped (a page that went away mid-join; a join made just to
/// fill seats; a handshake that stalled): the page then joins afresh.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Far-end packets held for the loudspeaker between two runs of the SFU's
/// loop, at most.
const FAR_AUDIO_QUEUE: usize = 1024;
/// The largest RTP payload forwarded: what one datagram on a 1500-byte
/// Ethernet or Wi-Fi MTU can carry. Browsers send at most about 1200; a
/// larger one came over loopback, jumbo frames or IP fragments, and with
/// the box's own header (and RTX's two bytes when resent) it might not fit
/// str0m's 2000-byte datagram.
pub const MAX_FORWARDED_PAYLOAD: usize = 1460;

#[derive(Debug, Clone)]
pub struct SfuConfig {
    pub room: String,
    /// Participants at most (phones and displays).
    pub max_participants: usize,
    /// Estimate each peer's bandwidth from TWCC feedback (and pace to it).
    pub bandwidth_estimation: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoinError {
    #[error("malformed SDP offer: {0}")]
    MalformedOffer(String),
    #[error("the SDP offer cannot be accepted: {0}")]
    UnacceptableOffer(String),
    #[error("the meeting is full ({0} participants)")]
    Full(usize),
    #[error("participant {0} is not in the meeting")]
    Unknown(ParticipantId),
}

/// How to find the payload type a subscriber uses for a packet.
#[derive(Clone, Copy)]
enum Format {
    /// As the publisher negotiated it.
    Params(str0m::format::PayloadParams),
    /// Our own encoders' codec.
    Codec(Codec),
}

/// One packet of a track, on its way to the track's subscribers.
struct Outgoing<'a> {
    track: TrackId,
    kind: MediaKind,
    format: Format,
    seq: u64,
    time: u32,
    marker: bool,
    keyframe: bool,
    /// For simulcast: the packet's layer, and which layers fit a large and a
    /// small view.
    layer: Option<Layer>,
    level: Option<u8>,
    voice: Option<bool>,
    wallclock: Instant,
    payload: &'a std::sync::Arc<[u8]>,
}

/// A datagram to send.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub data: Vec<u8>,
}

/// Something one peer's output asks of others, done once that peer is
/// drained (no two peers are borrowed at once).
enum Work {
    Published(TrackId, MediaKind),
    Rtp(ParticipantId, Box<RtpPacket>),
    Keyframe(TrackId),
    Message(ParticipantId, Vec<u8>),
}

pub struct Sfu {
    config: SfuConfig,
    peers: Vec<Peer>,
    next_id: u64,
    candidates: Vec<Candidate>,
    speaker: DominantSpeaker<Talker>,
    /// When a remote participant's voice last came through.
    far_voice: Option<Instant>,
    /// The far end's audio for the loudspeaker, while the box plays it.
    far_audio: Option<VecDeque<FarAudio>>,
    transmits: VecDeque<Datagram>,
    work: VecDeque<Work>,
    /// When a keyframe was last asked for, per track (and layer).
    keyframe_asked: HashMap<(TrackId, Option<Rid>), Instant>,
    next_reselect: Option<Instant>,
    /// The box's own participant, once added.
    room: Option<ParticipantInfo>,
    room_keyframe: bool,
    counters: std::sync::Arc<super::Counters>,
}

impl Sfu {
    pub fn new(config: SfuConfig) -> Self {
        Sfu {
            config,
            peers: Vec::new(),
            next_id: 1,
            candidates: Vec::new(),
            speaker: DominantSpeaker::new(SpeakerConfig::default()),
            far_voice: None,
            far_audio: None,
            transmits: VecDeque::new(),
            work: VecDeque::new(),
            keyframe_asked: HashMap::new(),
            next_reselect: None,
            room: None,
            room_keyframe: false,
            counters: Default::default(),
        }
    }

    /// What has been forwarded, readable from other threads.
    pub fn counters(&self) -> std::sync::Arc<super::Counters> {
        self.counters.clone()
    }

    /// The addresses phones can reach the SFU's UDP socket at (used for
    /// participants who join from now on).
    pub fn set_local_addresses(&mut self, addrs: &[SocketAddr]) {
        self.candidates = addrs.iter().filter_map(|a| Candidate::host(*a, "udp").ok()).collect();
    }

    /// A participant joins with its SDP offer; returns its id and the answer.
    pub fn join(
        &mut self,
        name: &str,
        kind: ParticipantKind,
        offer: &str,
        now: Instant,
    ) -> Result<(ParticipantId, String), JoinError> {
        if self.peers.len() >= self.config.max_participants {
            return Err(JoinError::Full(self.config.max_participants));
        }
        let offer = crate::sfu::sdp_error::parse_offer(offer).map_err(JoinError::MalformedOffer)?;
        let mut rtc = new_rtc(self.config.bandwidth_estimation, now);
        for c in &self.candidates {
            rtc.add_local_candidate(c.clone());
        }
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| JoinError::UnacceptableOffer(e.to_string()))?;
        let id = ParticipantId(self.next_id);
        self.next_id += 1;
        let info = ParticipantInfo { id, name: name.to_string(), kind, audio_muted: false, video_muted: false };
        let mut peer = Peer::new(info.clone(), rtc, now);
        if kind.receives_everyone() {
            if self.room.is_some() {
                room::subscribe_to_room(&mut peer);
            }
            for other in &self.peers {
                for p in &other.published {
                    peer.subscribe(TrackId { owner: other.id(), mid: p.mid }, p.kind);
                }
            }
        }
        for other in &mut self.peers {
            other.send(ServerMessage::ParticipantJoined { participant: info.clone() });
        }
        tracing::info!(participant = %id, name, ?kind, "joined");
        self.peers.push(peer);
        self.drain(id, now);
        self.settle(now);
        Ok((id, answer.to_sdp_string()))
    }

    /// A participant's page renegotiates outside the data channel (an ICE
    /// restart after a network change, when the channel is down too).
    pub fn renegotiate(&mut self, id: ParticipantId, offer: &str, now: Instant) -> Result<String, JoinError> {
        let peer = self.peer_mut(id).ok_or(JoinError::Unknown(id))?;
        let answer = peer.accept_offer(offer).map_err(JoinError::UnacceptableOffer)?;
        self.drain(id, now);
        self.settle(now);
        Ok(answer)
    }

    /// A participant leaves (its page said so, or its session ended).
    pub fn leave(&mut self, id: ParticipantId, now: Instant) {
        if let Some(p) = self.peer_mut(id) {
            p.rtc.disconnect();
        }
        self.settle(now);
    }

    /// A datagram arrived on the SFU's socket. Returns false when no
    /// participant claims it (stray or garbage traffic, dropped).
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: &[u8]) -> bool {
        let accepted = self.receive(now, source, destination, data);
        self.flush(now);
        accepted
    }

    /// Like [`Self::handle_datagram`], but what the datagram causes is only
    /// done at the next [`Self::flush`]: a burst of datagrams (one video frame
    /// is several) costs each session one run, not one per packet.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: &[u8]) -> bool {
        let Ok(contents) = data.try_into() else { return false };
        let input = Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });
        let Some(peer) = self.peers.iter_mut().find(|p| p.rtc.accepts(&input)) else {
            tracing::debug!(%source, %destination, first = data.first(), len = data.len(), "datagram for no session");
            return false;
        };
        let id = peer.id();
        if !peer.twcc.admits(data) {
            self.counters.count(Incident::TwccNumber);
            return true;
        }
        if !dtls_guard::admits(data) {
            self.counters.count(Incident::DtlsRecord);
            return true;
        }
        session::run(peer, |rtc| rtc.handle_input(input));
        self.drain(id, now);
        true
    }

    /// Tests: str0m panics in `id`'s session, as a bug reached by what the
    /// participant sent would.
    #[cfg(test)]
    pub(crate) fn panic_in_session(&mut self, id: ParticipantId, now: Instant) {
        if let Some(p) = self.peer_mut(id) {
            session::run(p, |_| -> Result<(), str0m::RtcError> { panic!("a str0m bug") });
        }
        self.settle(now);
    }

    /// Does what the datagrams since the last flush caused.
    pub fn flush(&mut self, now: Instant) {
        self.settle(now);
    }

    /// Time passed: run what is due (timers, retransmissions, decisions).
    pub fn handle_timeout(&mut self, now: Instant) {
        for p in self.peers.iter_mut().filter(|p| !p.connected && now - p.joined_at >= CONNECT_TIMEOUT) {
            tracing::info!(participant = %p.info.id, "never connected; dropped");
            p.rtc.disconnect();
        }
        let due: Vec<ParticipantId> = self.peers.iter().filter(|p| p.next_timeout <= now).map(Peer::id).collect();
        for id in due {
            self.kick(id, now);
        }
        // Video that still waits for its first keyframe asks again.
        let waiting: Vec<TrackId> = self.peers.iter().flat_map(Peer::awaiting_keyframes).collect();
        for track in waiting {
            self.ask_keyframe(track, None, now);
        }
        self.speaker.handle_timeout(now);
        if self.next_reselect.is_none_or(|at| now >= at) {
            self.reselect_layers(now);
            self.next_reselect = Some(now + RESELECT_INTERVAL);
        }
        if let Some(active) = self.speaker.poll_change() {
            tracing::info!(?active, "active speaker");
            let seat = active.and_then(Talker::seat);
            self.broadcast(ServerMessage::ActiveSpeaker { id: active.map(Talker::participant), seat });
        }
        self.settle(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.transmits.pop_front()
    }

    /// When [`Self::handle_timeout`] should next run.
    pub fn poll_timeout(&self, now: Instant) -> Instant {
        let peers = self.peers.iter().map(|p| p.next_timeout).min();
        let speaker = self.speaker.poll_timeout();
        // Keyframe retries run at least twice a second.
        [peers, speaker, Some(now + KEYFRAME_INTERVAL)].into_iter().flatten().min().unwrap_or(now + KEYFRAME_INTERVAL)
    }

    pub fn participants(&self) -> Vec<ParticipantInfo> {
        self.room.iter().cloned().chain(self.peers.iter().map(|p| p.info.clone())).collect()
    }

    /// How many phones are in the meeting (what makes it a meeting, with the
    /// people in the room).
    pub fn phones(&self) -> usize {
        self.peers.iter().filter(|p| p.info.kind == ParticipantKind::Phone).count()
    }

    /// Each peer's link, as last measured.
    pub fn links(&self) -> Vec<(ParticipantId, crate::sfu::quality::LinkQuality)> {
        self.peers.iter().map(|p| (p.id(), p.quality.now)).collect()
    }

    /// The participant who holds the floor (the room, for any of its seats).
    pub fn active_speaker(&self) -> Option<ParticipantId> {
        self.speaker.dominant().map(|t| t.participant())
    }

    fn peer_mut(&mut self, id: ParticipantId) -> Option<&mut Peer> {
        self.peers.iter_mut().find(|p| p.id() == id)
    }

    /// Lets a peer's session run (it was written to, or a timer is due).
    fn kick(&mut self, id: ParticipantId, now: Instant) {
        if let Some(p) = self.peer_mut(id)
            && p.rtc.is_alive()
        {
            session::run(p, |rtc| rtc.handle_input(Input::Timeout(now)));
        }
        self.drain(id, now);
    }

    /// Takes everything a peer's session has to say (see [`session::drain`]).
    fn drain(&mut self, id: ParticipantId, now: Instant) {
        let Some(peer) = self.peers.iter_mut().find(|p| p.id() == id) else { return };
        session::drain(peer, now, &mut self.transmits, &mut self.work);
    }

    /// Does queued work until none is left, then removes departed peers.
    fn settle(&mut self, now: Instant) {
        self.settle_after(Vec::new(), now);
    }

    /// Like [`Self::settle`], also running the sessions in `touched`. Every
    /// session that work wrote to runs once per round, however many packets
    /// went into it.
    fn settle_after(&mut self, mut touched: Vec<ParticipantId>, now: Instant) {
        loop {
            while let Some(work) = self.work.pop_front() {
                touched.extend(match work {
                    Work::Published(track, kind) => self.published(track, kind, now),
                    Work::Rtp(from, packet) => self.forward(from, &packet, now),
                    Work::Keyframe(track) => self.ask_keyframe(track, None, now),
                    Work::Message(from, data) => self.message(from, &data, now),
                });
            }
            touched.extend(self.welcome_new_channels());
            if touched.is_empty() {
                break;
            }
            touched.sort_unstable();
            touched.dedup();
            for id in std::mem::take(&mut touched) {
                self.kick(id, now);
            }
        }
        self.remove_departed(now);
    }

    /// The first message on a page's data channel: who it is, who is here.
    fn welcome_new_channels(&mut self) -> Vec<ParticipantId> {
        // Runs on every settle: only build the list when someone needs it.
        if !self.peers.iter().any(|p| p.channel.is_some() && !p.welcomed) {
            return Vec::new();
        }
        let participants = self.participants();
        let active_speaker = self.active_speaker();
        let mut touched = Vec::new();
        for p in self.peers.iter_mut().filter(|p| p.channel.is_some() && !p.welcomed) {
            p.welcomed = true;
            let room = self.config.room.clone();
            p.send_first(ServerMessage::Welcome {
                you: p.id(),
                room,
                participants: participants.clone(),
                active_speaker,
            });
            p.negotiate();
            touched.push(p.id());
        }
        touched
    }

    fn published(&mut self, track: TrackId, kind: MediaKind, now: Instant) -> Vec<ParticipantId> {
        tracing::debug!(owner = %track.owner, mid = %track.mid, ?kind, "track published");
        if kind == MediaKind::Audio {
            self.speaker.add(Talker::Participant(track.owner), now);
        }
        let mut touched = Vec::new();
        for p in self.peers.iter_mut().filter(|p| p.id() != track.owner && p.info.kind.receives_everyone()) {
            p.subscribe(track, kind);
            p.negotiate();
            touched.push(p.id());
        }
        touched
    }

    /// Sends a publisher's packet to everyone who receives that track.
    fn forward(&mut self, from: ParticipantId, packet: &RtpPacket, now: Instant) -> Vec<ParticipantId> {
        if packet.payload.len() > MAX_FORWARDED_PAYLOAD {
            self.counters.count(Incident::OversizedPacket);
            return Vec::new();
        }
        let Some(source) = self.peer_mut(from) else { return Vec::new() };
        let mut api = source.rtc.direct_api();
        let Some((mid, rid)) = api.stream_rx(&packet.header.ssrc).map(|rx| (rx.mid(), rx.rid())) else {
            return Vec::new();
        };
        let Some(params) = source.rtc.codec_config().find(|p| p.pt() == packet.header.payload_type).copied() else {
            return Vec::new();
        };
        let Some(published) = source.published.iter_mut().find(|p| p.mid == mid) else { return Vec::new() };
        let kind = published.kind;
        if let Some(rid) = rid {
            published.rates.record(rid, packet.payload.len(), now);
        }
        let large = choose_layer(&published.ranked, View::Large);
        let small = choose_layer(&published.ranked, View::Small);
        let codec = match params.spec().codec {
            Codec::H264 => Some(VideoCodec::H264),
            Codec::Vp8 => Some(VideoCodec::Vp8),
            _ => None,
        };
        let ext = &packet.header.ext_vals;
        let level = ext.audio_level.map(|l| l.unsigned_abs().min(127));
        self.fan_out(
            Outgoing {
                track: TrackId { owner: from, mid },
                kind,
                format: Format::Params(params),
                seq: *packet.seq_no,
                time: packet.header.timestamp,
                marker: packet.header.marker,
                keyframe: codec.is_some_and(|c| starts_keyframe(c, &packet.payload)),
                layer: rid.map(|rid| Layer { rid, large, small }),
                level,
                voice: ext.voice_activity,
                wallclock: packet.timestamp,
                payload: &packet.payload,
            },
            now,
        )
    }

    /// Sends one packet of a track to every peer that receives the track.
    fn fan_out(&mut self, p: Outgoing, now: Instant) -> Vec<ParticipantId> {
        // The room's levels go to its seats (see `handle_local`).
        if let Some(level) = p.level
            && p.track.owner != ROOM_ID
        {
            self.speaker.handle_level(&Talker::Participant(p.track.owner), level, now);
            if p.voice == Some(true) || level <= FAR_VOICE_DBOV {
                self.far_voice = Some(now);
            }
        }
        if let Some(queue) = self.far_audio.as_mut()
            && p.kind == MediaKind::Audio
            && p.track.owner != ROOM_ID
            && matches!(p.format, Format::Params(params) if params.spec().codec == Codec::Opus)
        {
            // Bounded: a loudspeaker thread that stopped taking loses the
            // oldest, the SFU never grows.
            if queue.len() >= FAR_AUDIO_QUEUE {
                queue.pop_front();
            }
            queue.push_back(FarAudio::Packet { participant: p.track.owner, seq: p.seq, payload: p.payload.clone() });
        }
        let mut ext = ExtensionValues::default();
        if p.kind == MediaKind::Audio {
            ext.audio_level = p.level.map(|l| -(l as i8));
            ext.voice_activity = Some(p.voice.unwrap_or(false));
        }
        let mut touched = Vec::new();
        let mut want_keyframe = false;
        let mut want_layers: Vec<Rid> = Vec::new();
        let speaker = self.active_speaker();
        for peer in self.peers.iter_mut().filter(|peer| peer.id() != p.track.owner) {
            // Only simulcast needs to know how busy the viewer's screen is.
            let videos = match p.layer {
                Some(_) => peer.subscriptions.iter().filter(|s| s.kind == MediaKind::Video).count(),
                None => 0,
            };
            let large = peer.large.as_deref();
            let Some(s) = peer.subscriptions.iter_mut().find(|s| s.source == p.track) else { continue };
            let Some(out_mid) = s.open_mid() else { continue };
            if s.paused {
                continue;
            }
            if let Some(layer) = p.layer {
                // One layer per viewer; a new one starts at its keyframe.
                if s.layer.is_none() && s.target.is_none() {
                    let view = view_of(p.track.owner, speaker, videos, large);
                    s.target = layer.pick(view).or(Some(layer.rid));
                }
                if s.layer != Some(layer.rid) {
                    if s.target == Some(layer.rid) && p.keyframe {
                        s.stream.restart();
                        s.layer = s.target.take();
                    } else {
                        want_layers.extend(s.target);
                        continue;
                    }
                }
            }
            // The payload type this peer knows the codec by, if it negotiated
            // it on that m-line (one that cannot decode it gets nothing).
            let pt = match p.format {
                Format::Params(params) => peer.rtc.codec_config().match_params(params).map(|c| c.pt()),
                Format::Codec(codec) => peer.rtc.codec_config().find(|c| c.spec().codec == codec).map(|c| c.pt()),
            };
            let Some(pt) = pt.filter(|pt| peer.rtc.media(out_mid).is_some_and(|m| m.remote_pts().contains(pt))) else {
                continue;
            };
            let Some(out) = s.stream.rewrite(p.seq, p.time, p.keyframe) else {
                want_keyframe |= s.stream.waiting_for_keyframe();
                continue;
            };
            let mut api = peer.rtc.direct_api();
            let Some(tx) = api.stream_tx_by_mid(out_mid, None) else { continue };
            if s.sending_on != Some(out_mid) {
                session::set_up_forwarding(tx, p.kind);
                s.sending_on = Some(out_mid);
            }
            let write = str0m::rtp::RtpWrite::new(pt, out.seq.into(), out.time, p.wallclock, p.payload.clone())
                .marker(p.marker)
                .ext_vals(ext.clone())
                .nackable(p.kind == MediaKind::Video);
            tx.write_rtp(write);
            touched.push(peer.info.id);
        }
        self.counters.forwarded(touched.len() as u64, (touched.len() * p.payload.len()) as u64);
        if want_keyframe {
            touched.extend(self.ask_keyframe(p.track, None, now));
        }
        want_layers.sort_by_key(|r| r.to_string());
        want_layers.dedup();
        for rid in want_layers {
            touched.extend(self.ask_keyframe(p.track, Some(rid), now));
        }
        touched
    }

    /// Asks a publisher for a keyframe on `track` (on one simulcast layer
    /// when `rid` says, as a viewer switching to it needs), at most every
    /// 500 ms for each.
    fn ask_keyframe(&mut self, track: TrackId, rid: Option<Rid>, now: Instant) -> Vec<ParticipantId> {
        let key = (track, rid);
        if self.keyframe_asked.get(&key).is_some_and(|&at| now.saturating_duration_since(at) < KEYFRAME_INTERVAL) {
            return Vec::new();
        }
        self.keyframe_asked.insert(key, now);
        if track.owner == ROOM_ID {
            self.room_keyframe = true;
            return Vec::new();
        }
        let Some(owner) = self.peer_mut(track.owner) else { return Vec::new() };
        let mut api = owner.rtc.direct_api();
        let Some(rx) = api.stream_rx_by_mid(track.mid, rid) else { return Vec::new() };
        rx.request_keyframe(KeyframeRequestKind::Pli);
        vec![track.owner]
    }

    pub(super) fn broadcast(&mut self, message: ServerMessage) {
        for p in &mut self.peers {
            p.send(message.clone());
        }
    }

    /// Drops sessions that ended and tells everyone else.
    fn remove_departed(&mut self, now: Instant) {
        while let Some(i) = self.peers.iter().position(|p| !p.rtc.is_alive()) {
            let gone = self.peers.remove(i);
            let id = gone.id();
            if gone.panicked {
                self.counters.count(Incident::SessionPanic);
            }
            tracing::info!(participant = %id, name = %gone.info.name, "removed");
            self.speaker.remove(&Talker::Participant(id), now);
            self.keyframe_asked.retain(|(t, _), _| t.owner != id);
            if let Some(queue) = self.far_audio.as_mut() {
                queue.push_back(FarAudio::Left(id));
            }
            for p in &mut self.peers {
                p.unsubscribe_owner(id);
                p.send(ServerMessage::ParticipantLeft { id });
                p.negotiate();
            }
            let others: Vec<ParticipantId> = self.peers.iter().map(Peer::id).collect();
            for other in others {
                self.kick(other, now);
            }
        }
    }
}
