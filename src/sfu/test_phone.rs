//! A phone for tests and tools, sans-IO: a str0m session that offers what a
//! page or a WHIP/WHEP client offers, takes the box's answer, keeps the
//! `room` data channel and answers the box's renegotiation offers on it as
//! the join page does. The SFU's tests drive it on an in-memory network in
//! simulated time, the end-to-end tests over real UDP from a thread, and
//! `confcam-load` over sockets or in memory; each keeps what it measures.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, MediaKind, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::{Candidate, Event, Output, Rtc, RtcError};

/// What the phone offers.
#[derive(Debug, Clone, Default)]
pub struct Offer<'a> {
    /// Its audio track and which way it goes.
    pub audio: Option<Direction>,
    /// Its video track, in simulcast layers when `layers` names them.
    pub video: Option<Direction>,
    pub layers: Option<&'a [&'a str]>,
    /// The `room` data channel (pages have it; WHIP and WHEP clients not).
    pub channel: bool,
    /// RTP mode (packets in and out as they are, what the SFU itself
    /// runs), or str0m's frame mode (media depacketized: Opus, H.264).
    pub rtp_mode: bool,
}

impl Offer<'_> {
    /// A phone: sends audio and video, the data channel, RTP mode.
    pub fn phone() -> Self {
        Offer {
            audio: Some(Direction::SendOnly),
            video: Some(Direction::SendOnly),
            channel: true,
            rtp_mode: true,
            ..Default::default()
        }
    }
}

pub struct TestPhone {
    pub rtc: Rtc,
    pub audio: Option<Mid>,
    pub video: Option<Mid>,
    channel: Option<ChannelId>,
    pending: Option<SdpPendingOffer>,
    /// ICE and DTLS are up.
    pub connected: bool,
}

impl TestPhone {
    /// A phone at `local` and its SDP offer.
    pub fn offer(offer: &Offer, local: SocketAddr, now: Instant) -> Result<(TestPhone, String), String> {
        let mut rtc = session(offer.rtp_mode, local, now)?;
        let mut change = rtc.sdp_api();
        let audio = offer.audio.map(|d| change.add_media(MediaKind::Audio, d, None, None, None));
        let simulcast = offer.layers.map(|rids| {
            let mut s = Simulcast::new();
            for rid in rids {
                s.add_send_layer(SimulcastLayer::new(rid));
            }
            s
        });
        let video = offer.video.map(|d| change.add_media(MediaKind::Video, d, None, None, simulcast));
        if offer.channel {
            change.add_channel("room".into());
        }
        let (sdp, pending) = change.apply().ok_or("an offer with nothing in it")?;
        let phone = TestPhone { rtc, audio, video, channel: None, pending: Some(pending), connected: false };
        Ok((phone, sdp.to_sdp_string()))
    }

    /// A receive-only phone answering an SFU that offers first (Janus).
    pub fn answer(offer: &str, local: SocketAddr, now: Instant) -> Result<(TestPhone, String), String> {
        let mut rtc = session(true, local, now)?;
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| e.to_string())?;
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| e.to_string())?;
        let phone = TestPhone { rtc, audio: None, video: None, channel: None, pending: None, connected: false };
        Ok((phone, answer.to_sdp_string()))
    }

    /// Takes the box's answer to [`Self::offer`].
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), String> {
        let pending = self.pending.take().ok_or("no offer outstanding")?;
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| e.to_string())?;
        self.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| e.to_string())
    }

    /// str0m's next output. The phone's own business (the channel opening,
    /// the connection, answering the box's offers) is done here first;
    /// every event is still handed on, so the caller can record it.
    pub fn poll_output(&mut self) -> Result<Output, RtcError> {
        let output = self.rtc.poll_output()?;
        match &output {
            Output::Event(Event::Connected) => self.connected = true,
            Output::Event(Event::ChannelOpen(id, _)) => self.channel = Some(*id),
            Output::Event(Event::ChannelData(d)) => self.answer_offer(&d.data),
            _ => {}
        }
        Ok(output)
    }

    /// A renegotiation offer from the box gets its answer, as the page
    /// gives it.
    fn answer_offer(&mut self, data: &[u8]) {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(data) else { return };
        let Some(sdp) = message["sdp"].as_str().filter(|_| message["type"] == "offer") else { return };
        let Ok(offer) = SdpOffer::from_sdp_string(sdp) else { return };
        let Ok(answer) = self.rtc.sdp_api().accept_offer(offer) else { return };
        self.say(&serde_json::json!({ "type": "answer", "sdp": answer.to_sdp_string() }).to_string());
    }

    pub fn channel_open(&self) -> bool {
        self.channel.is_some()
    }

    /// Sends a message on the data channel; false before it is open.
    pub fn say(&mut self, text: &str) -> bool {
        let Some(mut channel) = self.channel.and_then(|id| self.rtc.channel(id)) else { return false };
        channel.write(false, text.as_bytes()).is_ok()
    }

    /// Leaves the meeting as the join page does.
    pub fn leave(&mut self) -> bool {
        self.say(r#"{"type":"leave"}"#)
    }

    /// Writes one RTP packet on `mid` (simulcast layer `rid`), RTP mode;
    /// false when the track cannot send yet. Resent when the box asks.
    #[allow(clippy::too_many_arguments)]
    pub fn write_rtp(
        &mut self,
        mid: Mid,
        rid: Option<Rid>,
        seq: u64,
        time: u32,
        now: Instant,
        payload: Vec<u8>,
        marker: bool,
        ext: ExtensionValues,
    ) -> bool {
        let Some(pt) = self.rtc.media(mid).and_then(|m| m.remote_pts().first().copied()) else { return false };
        let mut api = self.rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, rid) else { return false };
        tx.write_rtp(RtpWrite::new(pt, seq.into(), time, now, payload).marker(marker).ext_vals(ext).nackable(true));
        true
    }
}

/// A str0m session with one host candidate at `local`.
fn session(rtp_mode: bool, local: SocketAddr, now: Instant) -> Result<Rtc, String> {
    let mut rtc = Rtc::builder().set_rtp_mode(rtp_mode).build(now);
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| e.to_string())?);
    Ok(rtc)
}
