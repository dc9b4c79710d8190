//! One WebRTC session of the load client: a str0m `Rtc` (RTP mode) with its
//! own UDP socket, driven without blocking by the client's loop, or on an
//! in-memory network (`confcam-load engine`).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use confcam::sfu::test_phone::{Offer, TestPhone};
use str0m::media::{Direction, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::ExtensionValues;
use str0m::{Event, Input, Output};

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

/// A [`TestPhone`] with its link and what it received.
pub struct Session {
    phone: TestPhone,
    link: Link,
    local: SocketAddr,
    /// The video goes out in the layers `media::SIMULCAST`.
    pub simulcast: bool,
    pub received: Received,
    /// Sequence numbers this session sends on, per m-line.
    seq: HashMap<(Mid, Option<Rid>), u64>,
    /// Kernel arrival time (wall-clock ns) of the datagram being handled.
    arrived: u64,
}

// The session is its phone, plus a link: `session.connected`, `.audio`,
// `.rtc` read through.
impl std::ops::Deref for Session {
    type Target = TestPhone;
    fn deref(&self) -> &TestPhone {
        &self.phone
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut TestPhone {
        &mut self.phone
    }
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
        let (phone, answer) = TestPhone::answer(offer, local, Instant::now())?;
        Ok((Session::new(phone, link, local, false), answer))
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
        let simulcast = crate::media::SIMULCAST.map(|(rid, _)| rid);
        let offer = match role {
            Role::Publisher | Role::SimulcastPublisher => Offer {
                layers: matches!(role, Role::SimulcastPublisher).then_some(&simulcast[..]),
                channel: false,
                ..Offer::phone()
            },
            Role::Phone => Offer::phone(),
            Role::Viewer => Offer {
                audio: Some(Direction::RecvOnly),
                video: Some(Direction::RecvOnly),
                rtp_mode: true,
                ..Default::default()
            },
            Role::Subscriber => Offer { channel: true, rtp_mode: true, ..Default::default() },
        };
        let (phone, sdp) = TestPhone::offer(&offer, local, now).map_err(std::io::Error::other)?;
        Ok((Session::new(phone, link, local, matches!(role, Role::SimulcastPublisher)), sdp))
    }

    fn new(phone: TestPhone, link: Link, local: SocketAddr, simulcast: bool) -> Session {
        Session { phone, link, local, simulcast, received: Received::default(), seq: HashMap::new(), arrived: 0 }
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
            match self.phone.poll_output() {
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
        if let Event::RtpPacket(p) = event {
            let mid = self.rtc.direct_api().stream_rx(&p.header.ssrc).map(|s| s.mid());
            let kind = mid.and_then(|m| self.rtc.media(m)).map(|m| m.kind());
            self.received.record(kind == Some(MediaKind::Video), p.payload.len(), read_stamp(&p.payload), self.arrived);
        }
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
        let seq = self.seq.entry((mid, rid)).or_insert(1000);
        *seq += 1;
        let seq = *seq;
        let mut ext = ExtensionValues::default();
        if level.is_some() {
            ext.audio_level = level;
            ext.voice_activity = Some(true);
        }
        self.phone.write_rtp(mid, rid, seq, time, now, payload, marker, ext);
    }
}
