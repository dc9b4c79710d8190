//! One WebRTC session of the load client: a str0m `Rtc` (RTP mode) with its
//! own UDP socket, driven without blocking by the client's loop, or on an
//! in-memory network (`confcam-load engine`).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, MediaKind, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::{Candidate, Event, Input, Output, Rtc};

use crate::media::{Received, read_stamp, wall_nanos};
use crate::schedule::{Due, TOP};

/// Reads a datagram with the kernel's arrival time (wall-clock ns).
fn recv_stamped(socket: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr, u64)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
    use std::os::fd::AsRawFd;
    let mut control = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut control), MsgFlags::empty()).ok()?;
    let mut arrived = wall_nanos();
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(t) = c {
                arrived = t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64;
            }
        }
    }
    let source = msg.address.and_then(|a| {
        a.as_sockaddr_in()
            .map(|v4| SocketAddr::from((v4.ip(), v4.port())))
            .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::from((v6.ip(), v6.port()))))
    })?;
    Some((msg.bytes, source, arrived))
}

/// Where a session's datagrams go.
enum Link {
    Socket(UdpSocket),
    /// Datagrams (destination, bytes) for the caller to deliver.
    Memory(Vec<(SocketAddr, Vec<u8>)>),
}

pub struct Session {
    pub rtc: Rtc,
    link: Link,
    local: SocketAddr,
    pub audio: Option<Mid>,
    pub video: Option<Mid>,
    /// The video goes out in the layers `media::SIMULCAST`.
    pub simulcast: bool,
    channel: Option<ChannelId>,
    pending: Option<SdpPendingOffer>,
    pub connected: bool,
    pub received: Received,
    /// Sequence numbers this session sends on, per m-line.
    seq: HashMap<(Mid, Option<Rid>), u64>,
    /// Kernel arrival time (wall-clock ns) of the datagram being handled.
    arrived: u64,
}

/// One RTP packet to send: its payload, RTP time, marker bit and (audio)
/// level in -dBov.
pub struct Packet {
    pub payload: Vec<u8>,
    pub time: u32,
    pub marker: bool,
    pub level: Option<i8>,
}

/// What a session sends and receives.
pub enum Role {
    /// Publishes audio and video (WHIP), the video in one layer.
    Publisher,
    /// Publishes audio and video in the simulcast layers `SIMULCAST` (WHIP).
    SimulcastPublisher,
    /// Receives the room's audio and video (WHEP).
    Viewer,
    /// Joins like a display page: a data channel, and every track by
    /// renegotiation.
    Subscriber,
    /// Joins like a phone: publishes audio and video in one layer, with the
    /// data channel that brings everyone else's tracks.
    Phone,
}

impl Session {
    /// A session with its SDP offer, sockets bound on `ip`.
    pub fn offer(role: &Role, ip: std::net::IpAddr) -> std::io::Result<(Session, String)> {
        let (link, local) = Self::bind(ip)?;
        Self::offer_on(role, link, local, Instant::now())
    }

    /// A receive-only session answering `offer`, for an SFU that offers to
    /// its subscribers (Janus); returns it with its SDP answer.
    pub fn answer(offer: &str, ip: std::net::IpAddr) -> Result<(Session, String), String> {
        let (link, local) = Self::bind(ip).map_err(|e| e.to_string())?;
        let mut rtc = Rtc::builder().set_rtp_mode(true).build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| e.to_string())?);
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| e.to_string())?;
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| e.to_string())?;
        Ok((Session::new(rtc, link, local, None, None, false, None), answer.to_sdp_string()))
    }

    /// A UDP socket on `ip` that stamps arrivals.
    fn bind(ip: std::net::IpAddr) -> std::io::Result<(Link, SocketAddr)> {
        let socket = UdpSocket::bind((ip, 0))?;
        socket.set_nonblocking(true)?;
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
            .map_err(std::io::Error::from)?;
        let local = socket.local_addr()?;
        Ok((Link::Socket(socket), local))
    }

    /// A session at `local` on an in-memory network, at simulated time `now`:
    /// what it sends waits in [`Self::take_sent`], what arrives for it is
    /// given to [`Self::receive`].
    pub fn offer_in_memory(role: &Role, local: SocketAddr, now: Instant) -> std::io::Result<(Session, String)> {
        Self::offer_on(role, Link::Memory(Vec::new()), local, now)
    }

    fn offer_on(role: &Role, link: Link, local: SocketAddr, now: Instant) -> std::io::Result<(Session, String)> {
        let mut rtc = Rtc::builder().set_rtp_mode(true).build(now);
        rtc.add_local_candidate(Candidate::host(local, "udp").map_err(std::io::Error::other)?);
        let mut change = rtc.sdp_api();
        let (audio, video) = match role {
            Role::Publisher | Role::SimulcastPublisher | Role::Phone => {
                if matches!(role, Role::Phone) {
                    change.add_channel("room".into());
                }
                let simulcast = matches!(role, Role::SimulcastPublisher).then(|| {
                    let mut s = Simulcast::new();
                    for (rid, _) in crate::media::SIMULCAST {
                        s.add_send_layer(SimulcastLayer::new(rid));
                    }
                    s
                });
                (
                    Some(change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None)),
                    Some(change.add_media(MediaKind::Video, Direction::SendOnly, None, None, simulcast)),
                )
            }
            Role::Viewer => (
                Some(change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None)),
                Some(change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None)),
            ),
            Role::Subscriber => {
                change.add_channel("room".into());
                (None, None)
            }
        };
        // An offer always results from a change made just above.
        let (offer, pending) = change.apply().expect("the offer has changes");
        let simulcast = matches!(role, Role::SimulcastPublisher);
        Ok((Session::new(rtc, link, local, audio, video, simulcast, Some(pending)), offer.to_sdp_string()))
    }

    fn new(
        rtc: Rtc,
        link: Link,
        local: SocketAddr,
        audio: Option<Mid>,
        video: Option<Mid>,
        simulcast: bool,
        pending: Option<SdpPendingOffer>,
    ) -> Session {
        Session {
            rtc,
            link,
            local,
            audio,
            video,
            simulcast,
            channel: None,
            pending,
            connected: false,
            received: Received::default(),
            seq: HashMap::new(),
            arrived: 0,
        }
    }

    /// The socket, unless the session is on an in-memory network.
    pub fn socket(&self) -> Option<&UdpSocket> {
        match &self.link {
            Link::Socket(socket) => Some(socket),
            Link::Memory(_) => None,
        }
    }

    /// What the session sent on its in-memory network since last asked.
    pub fn take_sent(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        match &mut self.link {
            Link::Memory(sent) => std::mem::take(sent),
            Link::Socket(_) => Vec::new(),
        }
    }

    /// A datagram from `source` arrived on the in-memory network.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else { return };
        let input = Input::Receive(now, Receive { proto: Protocol::Udp, source, destination: self.local, contents });
        let _ = self.rtc.handle_input(input);
        self.poll(now);
    }

    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), String> {
        let pending = self.pending.take().ok_or("no offer outstanding")?;
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| e.to_string())?;
        self.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| e.to_string())
    }

    /// Reads what arrived, lets str0m run, sends what it wants sent.
    /// Returns when str0m next needs attention.
    pub fn drive(&mut self, now: Instant) -> Instant {
        let mut buf = [0u8; 2000];
        while let Link::Socket(socket) = &self.link
            && let Some((n, source, arrived)) = recv_stamped(socket, &mut buf)
        {
            self.arrived = arrived;
            let Ok(contents) = (&buf[..n]).try_into() else { continue };
            let input =
                Input::Receive(now, Receive { proto: Protocol::Udp, source, destination: self.local, contents });
            let _ = self.rtc.handle_input(input);
            self.poll(now);
        }
        let _ = self.rtc.handle_input(Input::Timeout(now));
        self.poll(now)
    }

    /// Takes str0m's output; runs it again while its timeout is due (it
    /// releases one queued packet per round, and asks for the next round a
    /// microsecond later: that is due too, or a frame would leave one
    /// packet per turn of the caller's loop).
    fn poll(&mut self, now: Instant) -> Instant {
        let mut rounds = 0;
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) if t <= now + confcam::sfu::IMMEDIATE && rounds < 64 => {
                    rounds += 1;
                    let _ = self.rtc.handle_input(Input::Timeout(t.max(now)));
                }
                Ok(Output::Timeout(t)) => return t,
                Ok(Output::Transmit(t)) => match &mut self.link {
                    Link::Socket(socket) => {
                        let _ = socket.send_to(&t.contents, t.destination);
                    }
                    Link::Memory(sent) => sent.push((t.destination, t.contents.to_vec())),
                },
                Ok(Output::Event(e)) => self.on_event(e, now),
                Err(_) => return now + Duration::from_millis(50),
            }
        }
    }

    fn on_event(&mut self, event: Event, _now: Instant) {
        match event {
            Event::Connected => self.connected = true,
            Event::ChannelOpen(id, _) => self.channel = Some(id),
            Event::ChannelData(d) => self.on_message(&d.data),
            Event::RtpPacket(p) => {
                let mid = self.rtc.direct_api().stream_rx(&p.header.ssrc).map(|s| s.mid());
                let kind = mid.and_then(|m| self.rtc.media(m)).map(|m| m.kind());
                self.received.record(
                    kind == Some(MediaKind::Video),
                    p.payload.len(),
                    read_stamp(&p.payload),
                    self.arrived,
                );
            }

            _ => {}
        }
    }

    /// The box's messages to a subscriber: answer its renegotiation offers.
    fn on_message(&mut self, data: &[u8]) {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(data) else { return };
        if message["type"] != "offer" {
            return;
        }
        let Some(sdp) = message["sdp"].as_str() else { return };
        let Ok(offer) = SdpOffer::from_sdp_string(sdp) else { return };
        let Ok(answer) = self.rtc.sdp_api().accept_offer(offer) else { return };
        let reply = serde_json::json!({ "type": "answer", "sdp": answer.to_sdp_string() }).to_string();
        if let Some(mut channel) = self.channel.and_then(|id| self.rtc.channel(id)) {
            let _ = channel.write(false, reply.as_bytes());
        }
    }

    /// Leaves the meeting as the join page does (a `leave` message on the
    /// data channel); false before the channel is open.
    pub fn leave(&mut self) -> bool {
        let Some(mut channel) = self.channel.and_then(|id| self.rtc.channel(id)) else { return false };
        channel.write(false, br#"{"type":"leave"}"#).is_ok()
    }

    /// Sends what a publishing schedule says is due, once connected: every
    /// layer with simulcast, else the top one alone.
    pub fn publish(&mut self, due: Due, now: Instant) {
        match (due, self.connected) {
            (Due::Video { rid, packet }, true) => match (self.video, self.simulcast) {
                (Some(mid), true) => self.send(mid, Some(rid.into()), packet, now),
                (Some(mid), false) if rid == TOP => self.send(mid, None, packet, now),
                _ => {}
            },
            (Due::Audio(packet), true) => {
                if let Some(mid) = self.audio {
                    self.send(mid, None, packet, now);
                }
            }
            (_, false) => {}
        }
    }

    /// Sends one RTP packet on `mid` (in simulcast layer `rid`).
    pub fn send(&mut self, mid: Mid, rid: Option<Rid>, packet: Packet, now: Instant) {
        let Packet { payload, time, marker, level } = packet;
        let Some(pt) = self.rtc.media(mid).and_then(|m| m.remote_pts().first().copied()) else { return };
        let seq = self.seq.entry((mid, rid)).or_insert(1000);
        *seq += 1;
        let mut ext = ExtensionValues::default();
        if level.is_some() {
            ext.audio_level = level;
            ext.voice_activity = Some(true);
        }
        let mut api = self.rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, rid) else { return };

        tx.write_rtp(RtpWrite::new(pt, (*seq).into(), time, now, payload).marker(marker).ext_vals(ext).nackable(true));
    }
}
