//! The SFU: every participant's session, and what flows between them.
//!
//! Shaped like str0m itself: datagrams and timeouts go in with the time,
//! datagrams to send come out of [`Sfu::poll_transmit`]; no sockets, threads
//! or clocks inside, so tests drive it on their own schedule.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use super::forward::{VideoCodec, starts_keyframe};
use super::layers::{View, choose_layer};
use super::messages::{ClientMessage, ParticipantInfo, ParticipantKind, ServerMessage};
use super::peer::{Peer, Published, TrackId};
use crate::speaker::{DominantSpeaker, SpeakerConfig};

/// A keyframe is asked of a publisher at most this often per track; a
/// subscriber's decoder may ask many times a second.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);
/// How often simulcast layers are re-ranked and viewers retargeted.
const RESELECT_INTERVAL: Duration = Duration::from_millis(500);
/// A participant whose connection is not up this long after joining is
/// dropped (a page that went away mid-join; a join made just to fill seats).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct SfuConfig {
    pub room: String,
    /// Participants at most (phones and displays).
    pub max_participants: usize,
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
    Unknown(u64),
}

/// The box itself, as a participant (its camera and microphone).
pub const ROOM_ID: u64 = 0;
const ROOM_AUDIO: TrackId = TrackId { owner: ROOM_ID, mid: Mid::from_array(*b"room-audio      ") };
const ROOM_VIDEO: TrackId = TrackId { owner: ROOM_ID, mid: Mid::from_array(*b"room-video      ") };

/// A packet of the room's own media, made by the box's encoders.
#[derive(Debug, Clone)]
pub struct LocalPacket {
    pub kind: MediaKind,
    /// RTP payload (an H.264 NAL unit or fragment, an Opus frame).
    pub payload: Vec<u8>,
    pub seq: u64,
    /// RTP time (90 kHz video, 48 kHz audio).
    pub time: u32,
    pub marker: bool,
    /// The first packet of an H.264 IDR picture (with its SPS).
    pub keyframe: bool,
    /// RFC 6464 level of audio, `-dBov`.
    pub dbov: Option<u8>,
    pub captured: Instant,
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

/// A simulcast packet's layer and the layers a viewer should get.
#[derive(Clone, Copy)]
struct Layer {
    rid: Rid,
    large: Option<Rid>,
    small: Option<Rid>,
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
    Rtp(u64, Box<RtpPacket>),
    Keyframe(TrackId),
    Message(u64, Vec<u8>),
}

pub struct Sfu {
    config: SfuConfig,
    peers: Vec<Peer>,
    next_id: u64,
    candidates: Vec<Candidate>,
    speaker: DominantSpeaker<u64>,
    transmits: VecDeque<Datagram>,
    work: VecDeque<Work>,
    keyframe_asked: HashMap<TrackId, Instant>,
    layer_keyframe_asked: HashMap<(TrackId, Rid), Instant>,
    next_reselect: Instant,
    /// While receiving a burst: sessions written to, to run at the flush.
    deferring: bool,
    dirty: Vec<u64>,
    /// The box's own participant, once added.
    room: Option<ParticipantInfo>,
    room_keyframe: bool,
}

impl Sfu {
    pub fn new(config: SfuConfig) -> Self {
        Sfu {
            config,
            peers: Vec::new(),
            next_id: 1,
            candidates: Vec::new(),
            speaker: DominantSpeaker::new(SpeakerConfig::default()),
            transmits: VecDeque::new(),
            work: VecDeque::new(),
            keyframe_asked: HashMap::new(),
            layer_keyframe_asked: HashMap::new(),
            next_reselect: Instant::now(),
            deferring: false,
            dirty: Vec::new(),
            room: None,
            room_keyframe: false,
        }
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
    ) -> Result<(u64, String), JoinError> {
        if self.peers.len() >= self.config.max_participants {
            return Err(JoinError::Full(self.config.max_participants));
        }
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| JoinError::MalformedOffer(e.to_string()))?;
        let mut rtc = new_rtc(now);
        for c in &self.candidates {
            rtc.add_local_candidate(c.clone());
        }
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| JoinError::UnacceptableOffer(e.to_string()))?;
        let id = self.next_id;
        self.next_id += 1;
        let info = ParticipantInfo { id, name: name.to_string(), kind, audio_muted: false, video_muted: false };
        let mut peer = Peer::new(info.clone(), rtc, now);
        if kind.receives_everyone() {
            if self.room.is_some() {
                peer.subscribe(ROOM_AUDIO, MediaKind::Audio);
                peer.subscribe(ROOM_VIDEO, MediaKind::Video);
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
        tracing::info!(participant = id, name, ?kind, "joined");
        self.peers.push(peer);
        self.drain(id, now);
        self.settle(now);
        Ok((id, answer.to_sdp_string()))
    }

    /// A participant's page renegotiates outside the data channel (an ICE
    /// restart after a network change, when the channel is down too).
    pub fn renegotiate(&mut self, id: u64, offer: &str, now: Instant) -> Result<String, JoinError> {
        let peer = self.peer_mut(id).ok_or(JoinError::Unknown(id))?;
        let answer = peer.accept_offer(offer).map_err(JoinError::UnacceptableOffer)?;
        self.drain(id, now);
        self.settle(now);
        Ok(answer)
    }

    /// A participant leaves (its page said so, or its session ended).
    pub fn leave(&mut self, id: u64, now: Instant) {
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

    /// Like [`Self::handle_datagram`], but the sessions that forwarded
    /// packets only run at the next [`Self::flush`]: a burst of datagrams
    /// (one video frame is several) costs each session one run, not one per
    /// packet.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: &[u8]) -> bool {
        let Ok(contents) = data.try_into() else { return false };
        let input = Input::Receive(now, Receive { proto: Protocol::Udp, source, destination, contents });
        let Some(peer) = self.peers.iter_mut().find(|p| p.rtc.accepts(&input)) else { return false };
        let id = peer.id();
        if let Err(e) = peer.rtc.handle_input(input) {
            tracing::info!(participant = id, error = %e, "session failed");
            peer.rtc.disconnect();
        }
        self.drain(id, now);
        self.deferring = true;
        self.settle(now);
        self.deferring = false;
        true
    }

    /// Runs the sessions that packets were written to since the last flush.
    pub fn flush(&mut self, now: Instant) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for id in dirty {
            self.kick(id, now);
        }
        self.settle(now);
    }

    /// Time passed: run what is due (timers, retransmissions, decisions).
    pub fn handle_timeout(&mut self, now: Instant) {
        for p in self.peers.iter_mut().filter(|p| !p.connected && now - p.joined_at >= CONNECT_TIMEOUT) {
            tracing::info!(participant = p.info.id, "never connected; dropped");
            p.rtc.disconnect();
        }
        let due: Vec<u64> = self.peers.iter().filter(|p| p.next_timeout <= now).map(Peer::id).collect();
        for id in due {
            self.kick(id, now);
        }
        // Video that still waits for its first keyframe asks again.
        let waiting: Vec<TrackId> = self
            .peers
            .iter()
            .flat_map(|p| &p.subscriptions)
            .filter(|s| s.open_mid().is_some() && s.stream.waiting_for_keyframe())
            .map(|s| s.source)
            .collect();
        for track in waiting {
            self.ask_keyframe(track, now);
        }
        self.speaker.handle_timeout(now);
        if now >= self.next_reselect {
            self.reselect_layers(now);
            self.next_reselect = now + RESELECT_INTERVAL;
        }
        if let Some(active) = self.speaker.poll_change() {
            tracing::debug!(?active, "active speaker");
            self.broadcast(ServerMessage::ActiveSpeaker { id: active });
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

    pub fn active_speaker(&self) -> Option<u64> {
        self.speaker.dominant().copied()
    }

    fn peer_mut(&mut self, id: u64) -> Option<&mut Peer> {
        self.peers.iter_mut().find(|p| p.id() == id)
    }

    /// Lets a peer's session run (it was written to, or a timer is due).
    fn kick(&mut self, id: u64, now: Instant) {
        if let Some(p) = self.peer_mut(id)
            && p.rtc.is_alive()
            && let Err(e) = p.rtc.handle_input(Input::Timeout(now))
        {
            tracing::info!(participant = id, error = %e, "session failed");
            p.rtc.disconnect();
        }
        self.drain(id, now);
    }

    /// Takes everything a peer's session has to say. str0m releases one
    /// queued packet per round when not pacing, so a session whose next
    /// timeout is already due is run again at once (a burst goes out now,
    /// not one packet per turn of the event loop).
    fn drain(&mut self, id: u64, now: Instant) {
        let Some(peer) = self.peers.iter_mut().find(|p| p.id() == id) else { return };
        let mut rounds = 0;
        loop {
            if !peer.rtc.is_alive() {
                return;
            }
            match peer.rtc.poll_output() {
                Ok(Output::Timeout(t)) if t <= now && rounds < 64 => {
                    rounds += 1;
                    if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
                        tracing::info!(participant = id, error = %e, "session failed");
                        peer.rtc.disconnect();
                        return;
                    }
                }
                Ok(Output::Timeout(t)) => {
                    peer.next_timeout = t;
                    break;
                }
                Ok(Output::Transmit(t)) => self.transmits.push_back(Datagram {
                    source: t.source,
                    destination: t.destination,
                    data: t.contents.into(),
                }),
                Ok(Output::Event(event)) => on_event(peer, event, &mut self.work),
                Err(e) => {
                    tracing::info!(participant = id, error = %e, "session failed");
                    peer.rtc.disconnect();
                    return;
                }
            }
        }
        peer.flush_outbox();
        peer.negotiate();
    }

    /// Does queued work until none is left, then removes departed peers.
    fn settle(&mut self, now: Instant) {
        loop {
            let touched = match self.work.pop_front() {
                Some(Work::Published(track, kind)) => self.published(track, kind, now),
                Some(Work::Rtp(from, packet)) if self.deferring => {
                    let touched = self.forward(from, &packet, now);
                    self.dirty.extend(touched);
                    continue;
                }
                Some(Work::Rtp(from, packet)) => self.forward(from, &packet, now),
                Some(Work::Keyframe(track)) => self.ask_keyframe(track, now),
                Some(Work::Message(from, data)) => self.message(from, &data, now),
                None => match self.welcome_new_channels() {
                    touched if touched.is_empty() => break,
                    touched => touched,
                },
            };
            for id in touched {
                self.kick(id, now);
            }
        }
        self.remove_departed(now);
    }

    /// The first message on a page's data channel: who it is, who is here.
    fn welcome_new_channels(&mut self) -> Vec<u64> {
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

    fn published(&mut self, track: TrackId, kind: MediaKind, now: Instant) -> Vec<u64> {
        tracing::debug!(owner = track.owner, mid = %track.mid, ?kind, "track published");
        if kind == MediaKind::Audio {
            self.speaker.add(track.owner, now);
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
    fn forward(&mut self, from: u64, packet: &RtpPacket, now: Instant) -> Vec<u64> {
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
    fn fan_out(&mut self, p: Outgoing, now: Instant) -> Vec<u64> {
        if let Some(level) = p.level {
            self.speaker.handle_level(&p.track.owner, level, now);
        }
        let mut ext = ExtensionValues::default();
        if p.kind == MediaKind::Audio {
            ext.audio_level = p.level.map(|l| -(l as i8));
            ext.voice_activity = Some(p.voice.unwrap_or(false));
        }
        let mut touched = Vec::new();
        let mut want_keyframe = false;
        let mut want_layers: Vec<Rid> = Vec::new();
        let speaker = self.speaker.dominant().copied();
        for peer in self.peers.iter_mut().filter(|peer| peer.id() != p.track.owner) {
            // Only simulcast needs to know how busy the viewer's screen is.
            let videos = match p.layer {
                Some(_) => peer.subscriptions.iter().filter(|s| s.kind == MediaKind::Video).count(),
                None => 0,
            };
            let large = peer.large.as_deref();
            let Some(s) = peer.subscriptions.iter_mut().find(|s| s.source == p.track) else { continue };
            let Some(out_mid) = s.open_mid() else { continue };
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
            let write = str0m::rtp::RtpWrite::new(pt, out.seq.into(), out.time, p.wallclock, p.payload.clone())
                .marker(p.marker)
                .ext_vals(ext.clone())
                .nackable(p.kind == MediaKind::Video);
            tx.write_rtp(write);
            touched.push(peer.info.id);
        }
        if want_keyframe {
            touched.extend(self.ask_keyframe(p.track, now));
        }
        want_layers.sort_by_key(|r| r.to_string());
        want_layers.dedup();
        for rid in want_layers {
            touched.extend(self.ask_layer_keyframe(p.track, rid, now));
        }
        touched
    }

    /// Asks for a keyframe on one simulcast layer (a viewer switches to it).
    fn ask_layer_keyframe(&mut self, track: TrackId, rid: Rid, now: Instant) -> Vec<u64> {
        let key = (track, rid);
        if self.layer_keyframe_asked.get(&key).is_some_and(|&at| now.saturating_duration_since(at) < KEYFRAME_INTERVAL)
        {
            return Vec::new();
        }
        self.layer_keyframe_asked.insert(key, now);
        let Some(owner) = self.peer_mut(track.owner) else { return Vec::new() };
        let mut api = owner.rtc.direct_api();
        let Some(rx) = api.stream_rx_by_mid(track.mid, Some(rid)) else { return Vec::new() };
        rx.request_keyframe(KeyframeRequestKind::Pli);
        vec![track.owner]
    }

    /// Re-ranks every simulcast track's layers and retargets viewers whose
    /// layer no longer fits (the active speaker changed; a layer stopped).
    fn reselect_layers(&mut self, now: Instant) {
        let speaker = self.speaker.dominant().copied();
        let mut ranks: Vec<(TrackId, Vec<Rid>)> = Vec::new();
        for peer in &mut self.peers {
            for p in peer.published.iter_mut().filter(|p| p.kind == MediaKind::Video) {
                p.ranked = p.rates.ranked(now);
                if !p.ranked.is_empty() {
                    ranks.push((TrackId { owner: peer.info.id, mid: p.mid }, p.ranked.clone()));
                }
            }
        }
        for peer in &mut self.peers {
            let videos = peer.subscriptions.iter().filter(|s| s.kind == MediaKind::Video).count();
            let large = peer.large.as_deref();
            for s in &mut peer.subscriptions {
                let Some((_, ranked)) = ranks.iter().find(|(t, _)| *t == s.source) else { continue };
                let want = choose_layer(ranked, view_of(s.source.owner, speaker, videos, large));
                if want.is_some() && want != s.layer {
                    s.target = want;
                } else if want == s.layer {
                    s.target = None;
                }
            }
        }
    }

    /// The box's own participant (the room's camera and microphone) joins
    /// the meeting; its media comes in through [`Self::handle_local`].
    pub fn add_room(&mut self, name: &str, now: Instant) {
        let info = ParticipantInfo {
            id: ROOM_ID,
            name: name.to_string(),
            kind: ParticipantKind::Room,
            audio_muted: false,
            video_muted: false,
        };
        for p in self.peers.iter_mut().filter(|p| p.info.kind.receives_everyone()) {
            p.send(ServerMessage::ParticipantJoined { participant: info.clone() });
            p.subscribe(ROOM_AUDIO, MediaKind::Audio);
            p.subscribe(ROOM_VIDEO, MediaKind::Video);
            p.negotiate();
        }
        self.speaker.add(ROOM_ID, now);
        self.room = Some(info);
        self.settle(now);
    }

    /// A packet of the room's own media.
    pub fn handle_local(&mut self, packet: LocalPacket, now: Instant) {
        if self.room.is_none() {
            return;
        }
        let (track, format) = match packet.kind {
            MediaKind::Audio => (ROOM_AUDIO, Format::Codec(Codec::Opus)),
            MediaKind::Video => (ROOM_VIDEO, Format::Codec(Codec::H264)),
        };
        let payload: std::sync::Arc<[u8]> = packet.payload.into();
        let touched = self.fan_out(
            Outgoing {
                track,
                kind: packet.kind,
                format,
                seq: packet.seq,
                time: packet.time,
                marker: packet.marker,
                keyframe: packet.keyframe,
                layer: None,
                level: packet.dbov,
                voice: packet.dbov.map(|l| l < 50),
                wallclock: packet.captured,
                payload: &payload,
            },
            now,
        );
        for id in touched {
            self.kick(id, now);
        }
        self.settle(now);
    }

    /// Whether someone receives the room's video (no viewer: no need to
    /// spend a CPU core encoding it).
    pub fn room_has_viewers(&self) -> bool {
        self.peers.iter().flat_map(|p| &p.subscriptions).any(|s| s.source == ROOM_VIDEO && s.open_mid().is_some())
    }

    /// True once after a viewer asked for a keyframe of the room's video.
    pub fn take_room_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.room_keyframe)
    }

    /// Asks a publisher for a keyframe on `track`, at most every 500 ms.
    fn ask_keyframe(&mut self, track: TrackId, now: Instant) -> Vec<u64> {
        if self.keyframe_asked.get(&track).is_some_and(|&at| now.saturating_duration_since(at) < KEYFRAME_INTERVAL) {
            return Vec::new();
        }
        self.keyframe_asked.insert(track, now);
        if track.owner == ROOM_ID {
            self.room_keyframe = true;
            return Vec::new();
        }
        let Some(owner) = self.peer_mut(track.owner) else { return Vec::new() };
        let mut api = owner.rtc.direct_api();
        let Some(rx) = api.stream_rx_by_mid(track.mid, None) else { return Vec::new() };
        rx.request_keyframe(KeyframeRequestKind::Pli);
        vec![track.owner]
    }

    /// A data-channel message from a page.
    fn message(&mut self, from: u64, data: &[u8], now: Instant) -> Vec<u64> {
        let Some(peer) = self.peer_mut(from) else { return Vec::new() };
        let message: ClientMessage = match serde_json::from_slice(data) {
            Ok(m) => m,
            Err(e) => {
                peer.send(ServerMessage::Error { message: format!("message not understood: {e}") });
                return vec![from];
            }
        };
        match message {
            ClientMessage::Answer { sdp } => {
                if let Err(e) = peer.accept_answer(&sdp) {
                    peer.send(ServerMessage::Error { message: e });
                }
                peer.negotiate();
                // Newly opened video asks its publisher for a picture at once.
                let waiting: Vec<TrackId> = peer
                    .subscriptions
                    .iter()
                    .filter(|s| s.open_mid().is_some() && s.stream.waiting_for_keyframe())
                    .map(|s| s.source)
                    .collect();
                let mut touched = vec![from];
                for track in waiting {
                    touched.extend(self.ask_keyframe(track, now));
                }
                touched
            }
            ClientMessage::Offer { sdp } => {
                match peer.accept_offer(&sdp) {
                    Ok(answer) => peer.send(ServerMessage::Answer { sdp: answer }),
                    Err(e) => peer.send(ServerMessage::Error { message: e }),
                }
                vec![from]
            }
            ClientMessage::Mute { audio, video } => {
                peer.info.audio_muted = audio;
                peer.info.video_muted = video;
                self.broadcast(ServerMessage::Muted { id: from, audio, video });
                self.peers.iter().map(Peer::id).collect()
            }
            ClientMessage::Layout { large } => {
                // A page shows a handful of videos large; more is nonsense.
                peer.large = large.map(|mut l| {
                    l.truncate(16);
                    l
                });
                self.reselect_layers(now);
                vec![from]
            }
            ClientMessage::Leave => {
                tracing::info!(participant = from, "left");
                peer.rtc.disconnect();
                Vec::new()
            }
        }
    }

    fn broadcast(&mut self, message: ServerMessage) {
        for p in &mut self.peers {
            p.send(message.clone());
        }
    }

    /// Drops sessions that ended and tells everyone else.
    fn remove_departed(&mut self, now: Instant) {
        while let Some(i) = self.peers.iter().position(|p| !p.rtc.is_alive()) {
            let gone = self.peers.remove(i);
            let id = gone.id();
            tracing::info!(participant = id, name = %gone.info.name, "removed");
            self.speaker.remove(&id, now);
            self.keyframe_asked.retain(|t, _| t.owner != id);
            self.layer_keyframe_asked.retain(|(t, _), _| t.owner != id);
            for p in &mut self.peers {
                p.unsubscribe_owner(id);
                p.send(ServerMessage::ParticipantLeft { id });
                p.negotiate();
            }
            let others: Vec<u64> = self.peers.iter().map(Peer::id).collect();
            for other in others {
                self.kick(other, now);
            }
        }
    }
}

/// What the page asked for; else large for the active speaker and for
/// everyone in a small call (a phone showing one or two others).
fn view_of(owner: u64, speaker: Option<u64>, videos: usize, large: Option<&[u64]>) -> View {
    let is_large = match large {
        Some(large) => large.contains(&owner),
        None => Some(owner) == speaker || videos <= 2,
    };
    if is_large { View::Large } else { View::Small }
}

impl Layer {
    fn pick(&self, view: View) -> Option<Rid> {
        match view {
            View::Large => self.large,
            View::Small => self.small,
        }
    }
}

/// Handles what concerns only `peer`; queues what concerns others.
fn on_event(peer: &mut Peer, event: Event, work: &mut VecDeque<Work>) {
    let id = peer.id();
    match event {
        Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
            tracing::info!(participant = id, "connection lost");
            peer.rtc.disconnect();
        }
        Event::IceConnectionStateChange(IceConnectionState::Connected | IceConnectionState::Completed) => {
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

        Event::RtpPacket(packet) => work.push_back(Work::Rtp(id, Box::new(packet))),
        Event::KeyframeRequest(request) => {
            if let Some(s) = peer.subscriptions.iter().find(|s| s.open_mid() == Some(request.mid)) {
                work.push_back(Work::Keyframe(s.source));
            }
        }
        Event::ChannelOpen(channel, label) => {
            tracing::debug!(participant = id, label, "data channel open");
            peer.channel = Some(channel);
        }
        Event::ChannelData(data) => work.push_back(Work::Message(id, data.data)),
        _ => {}
    }
}

/// A session configured for the box: RTP mode (packets are forwarded, not
/// re-assembled), H.264 constrained baseline first (every phone decodes it),
/// then VP8, and Opus.
fn new_rtc(now: Instant) -> Rtc {
    // Resends come from this buffer; on a room network a NACK arrives within
    // tens of milliseconds, so ~1.5 s of video is plenty (str0m keeps 1000
    // packets per stream by default, which adds up over many viewers).
    let mut config = Rtc::builder().set_rtp_mode(true).set_send_buffer_video(300).clear_codecs();
    config.codec_config().add_h264(102.into(), Some(103.into()), true, 0x42e01f);
    config.enable_vp8(true).enable_opus(true, false).build(now)
}
