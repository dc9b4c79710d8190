//! One participant's WebRTC session: the str0m `Rtc`, what it publishes,
//! what it receives, and the renegotiation that adds or removes tracks over
//! its data channel.

use crate::events::ParticipantId;
use std::collections::VecDeque;
use std::time::Instant;

use str0m::Rtc;
use str0m::change::SdpPendingOffer;
use str0m::channel::ChannelId;
use str0m::media::{Direction, MediaKind, Mid, Rid};

use super::forward::OutStream;
use super::layers::LayerRates;
use super::messages::{ParticipantInfo, ServerMessage};

/// A published track: which participant, which m-line of its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackId {
    pub owner: ParticipantId,
    pub mid: Mid,
}

/// A track this peer publishes.
#[derive(Debug)]
pub struct Published {
    pub mid: Mid,
    pub kind: MediaKind,
    /// Simulcast layers seen, by what they carry.
    pub rates: LayerRates,
    /// Layers smallest first with their bitrates, as of the last
    /// reselection.
    pub ranked: Vec<(Rid, u64)>,
}

impl Published {
    pub fn new(mid: Mid, kind: MediaKind) -> Self {
        Published { mid, kind, rates: LayerRates::default(), ranked: Vec::new() }
    }
}

/// A track this peer receives, and where its m-line is in negotiation.
#[derive(Debug)]
pub struct Subscription {
    pub source: TrackId,
    pub kind: MediaKind,
    pub state: Negotiation,
    pub stream: OutStream,
    /// The simulcast layer forwarded now, and one to switch to at its next
    /// keyframe.
    pub layer: Option<Rid>,
    pub target: Option<Rid>,
    /// Held back: the viewer's link cannot carry even its smallest layer.
    pub paused: bool,
    /// The m-line whose str0m send stream is set up for forwarding.
    pub sending_on: Option<Mid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negotiation {
    /// Needs an m-line in the next offer.
    ToOpen,
    Offered(Mid),
    Open(Mid),
    /// The source went away; the m-line must be stopped.
    ToStop(Mid),
    Stopping(Mid),
}

impl Subscription {
    fn new(source: TrackId, kind: MediaKind, state: Negotiation) -> Self {
        let stream = if kind == MediaKind::Video { OutStream::video() } else { OutStream::audio() };
        Subscription { source, kind, state, stream, layer: None, target: None, paused: false, sending_on: None }
    }

    pub fn open_mid(&self) -> Option<Mid> {
        match self.state {
            Negotiation::Open(m) => Some(m),
            _ => None,
        }
    }
}

pub struct Peer {
    pub info: ParticipantInfo,
    pub rtc: Rtc,
    pub channel: Option<ChannelId>,
    /// The welcome went out (first message on the channel).
    pub welcomed: bool,
    pending: Option<SdpPendingOffer>,
    pub published: Vec<Published>,
    pub subscriptions: Vec<Subscription>,
    /// Messages waiting for the data channel to open.
    outbox: VecDeque<ServerMessage>,
    /// When str0m next wants `handle_input(Timeout)`.
    pub next_timeout: Instant,
    pub joined_at: Instant,
    /// Connected at least once: ICE and the DTLS handshake done.
    pub connected: bool,
    /// Participants the page shows large, if it said (else the box decides).
    pub large: Option<Vec<ParticipantId>>,
    /// What the link towards this peer carries, in bits per second, as the
    /// bandwidth estimate (TWCC, or the peer's REMB) last said.
    pub estimate: Option<u64>,
    /// The bitrate the estimate was last told to probe towards.
    pub desired: u64,
    /// When to probe again while the estimate falls short.
    pub reprobe: crate::sfu::probe::Reprobe,
    /// The link's bitrate, round trip, loss and jitter, for the admin page.
    pub quality: crate::sfu::quality::QualityMeter,
    /// Keeps transport-wide numbers str0m would mis-extend away from it.
    pub twcc: crate::sfu::twcc_guard::TwccGuard,
    /// str0m panicked in this session (see `engine::session::run`).
    pub panicked: bool,
}

impl Peer {
    pub fn new(info: ParticipantInfo, rtc: Rtc, now: Instant) -> Self {
        Peer {
            info,
            rtc,
            channel: None,
            welcomed: false,
            pending: None,
            published: Vec::new(),
            subscriptions: Vec::new(),
            outbox: VecDeque::new(),
            next_timeout: now,
            joined_at: now,
            connected: false,
            large: None,
            estimate: None,
            desired: 0,
            reprobe: Default::default(),
            quality: Default::default(),
            twcc: Default::default(),
            panicked: false,
        }
    }

    pub fn id(&self) -> ParticipantId {
        self.info.id
    }

    /// Queues a message; it goes out once the data channel is open.
    pub fn send(&mut self, message: ServerMessage) {
        self.outbox.push_back(message);
        self.flush_outbox();
    }

    /// Puts a message before everything queued (the welcome).
    pub fn send_first(&mut self, message: ServerMessage) {
        self.outbox.push_front(message);
        self.flush_outbox();
    }

    /// Writes queued messages to the data channel while it takes them;
    /// nothing before the welcome, so a page always learns who it is first.
    pub fn flush_outbox(&mut self) {
        if !self.welcomed {
            return;
        }

        let Some(mut channel) = self.channel.and_then(|id| self.rtc.channel(id)) else { return };
        while let Some(message) = self.outbox.front() {
            // Serialising our own message types cannot fail.
            let text = serde_json::to_string(message).expect("messages serialise");
            match channel.write(false, text.as_bytes()) {
                Ok(true) => {
                    self.outbox.pop_front();
                }
                // Buffer full: try again after the next poll.
                Ok(false) => return,
                Err(e) => {
                    tracing::debug!(peer = %self.info.id, error = %e, "data channel write failed");
                    return;
                }
            }
        }
    }

    /// Starts receiving `source`.
    pub fn subscribe(&mut self, source: TrackId, kind: MediaKind) {
        if self.subscriptions.iter().any(|s| s.source == source) {
            return;
        }
        self.subscriptions.push(Subscription::new(source, kind, Negotiation::ToOpen));
    }

    /// Receives `source` on an m-line the peer offered itself (a WHEP
    /// player), so nothing needs negotiating.
    pub fn bind(&mut self, source: TrackId, kind: MediaKind, mid: Mid) {
        self.subscriptions.push(Subscription::new(source, kind, Negotiation::Open(mid)));
    }

    /// Tracks this peer receives whose video still waits for its first
    /// keyframe (their publishers are asked for one).
    pub fn awaiting_keyframes(&self) -> impl Iterator<Item = TrackId> + '_ {
        self.subscriptions
            .iter()
            .filter(|s| s.open_mid().is_some() && s.stream.waiting_for_keyframe())
            .map(|s| s.source)
    }

    /// Stops receiving every track `owner` published.
    pub fn unsubscribe_owner(&mut self, owner: ParticipantId) {
        self.subscriptions.retain_mut(|s| {
            if s.source.owner != owner {
                return true;
            }
            match s.state {
                Negotiation::ToOpen => false,
                Negotiation::Offered(m) | Negotiation::Open(m) => {
                    s.state = Negotiation::ToStop(m);
                    true
                }
                Negotiation::ToStop(_) | Negotiation::Stopping(_) => true,
            }
        });
    }

    /// Sends an offer for added or removed tracks, if any and if none is
    /// outstanding. Needs the data channel (that is where the offer goes).
    pub fn negotiate(&mut self) {
        if self.channel.is_none() || self.pending.is_some() {
            return;
        }
        let mut change = self.rtc.sdp_api();
        for s in &mut self.subscriptions {
            match s.state {
                Negotiation::ToOpen => {
                    // The stream id tells the page whose track this is.
                    let mid =
                        change.add_media(s.kind, Direction::SendOnly, Some(s.source.owner.to_string()), None, None);
                    s.state = Negotiation::Offered(mid);
                }
                Negotiation::ToStop(mid) => {
                    change.stop_media(mid);
                    s.state = Negotiation::Stopping(mid);
                }
                _ => {}
            }
        }
        if !change.has_changes() {
            return;
        }
        let Some((offer, pending)) = change.apply() else { return };
        self.pending = Some(pending);
        self.send(ServerMessage::Offer { sdp: offer.to_sdp_string() });
    }

    /// The page answered our offer.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), String> {
        let Some(pending) = self.pending.take() else { return Err("no offer is outstanding".into()) };
        let answer = super::sdp_error::parse_answer(sdp).map_err(|e| format!("malformed SDP answer: {e}"))?;
        self.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| format!("answer not accepted: {e}"))?;
        for s in &mut self.subscriptions {
            if let Negotiation::Offered(m) = s.state {
                s.state = Negotiation::Open(m);
            }
        }
        self.subscriptions.retain(|s| !matches!(s.state, Negotiation::Stopping(_)));
        Ok(())
    }

    /// The page renegotiates (e.g. an ICE restart); an offer of ours that
    /// crossed it is dropped and redone afterwards.
    pub fn accept_offer(&mut self, sdp: &str) -> Result<String, String> {
        let offer = super::sdp_error::parse_offer(sdp).map_err(|e| format!("malformed SDP offer: {e}"))?;
        let answer = self.rtc.sdp_api().accept_offer(offer).map_err(|e| format!("offer not accepted: {e}"))?;
        self.pending = None;
        for s in &mut self.subscriptions {
            match s.state {
                Negotiation::Offered(_) => s.state = Negotiation::ToOpen,
                Negotiation::Stopping(m) => s.state = Negotiation::ToStop(m),
                _ => {}
            }
        }
        Ok(answer.to_sdp_string())
    }
}
