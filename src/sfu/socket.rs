//! The SFU's one UDP socket, for every participant.
//!
//! It listens on all addresses (`[::]`, which takes IPv4 too), so a new
//! address from DHCP needs no new socket. str0m must know which of the box's
//! addresses each datagram was sent to (it matches them to its ICE
//! candidates), so the socket asks the kernel for that with IP_PKTINFO.
//! Each datagram also leaves from the address str0m sent it from, not one
//! the kernel picks: a phone knows the box by its candidates and drops
//! anything from another address of the box (ICE would succeed on one
//! pair and DTLS never finish on it).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmsg, sendmmsg, sendmsg,
    setsockopt, sockopt,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::engine::Datagram;

/// The bound socket, before a runtime takes it (the SFU's own thread does).
pub struct MediaSocket {
    socket: std::net::UdpSocket,
    port: u16,
    v6: bool,
}

/// The socket in use by a runtime.
pub struct ActiveSocket {
    inner: UdpSocket,
    port: u16,
    /// Dual-stack: IPv4 peers are addressed as IPv4-mapped IPv6.
    v6: bool,
    /// UDP GSO works here (until a send says otherwise).
    gso: AtomicBool,
}

impl MediaSocket {
    /// Binds `[::]:port` (or `0.0.0.0:port` without IPv6); port 0 picks one.
    pub fn bind(port: u16) -> io::Result<Self> {
        use socket2::{Domain, Protocol, Socket, Type};
        let v6 = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).and_then(|s| {
            s.set_only_v6(false)?;
            s.bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port).into())?;
            setsockopt(&s.as_fd(), sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
            Ok(s)
        });
        let socket = match v6 {
            Ok(s) => s,
            Err(_) => {
                let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
                s.bind(&SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).into())?;
                s
            }
        };
        // IPv4 datagrams (also those on the dual-stack socket) report their
        // destination through IP_PKTINFO.
        let _ = setsockopt(&socket.as_fd(), sockopt::Ipv4PacketInfo, &true);
        // Phones send bursts of video; a deeper buffer rides them out.
        let _ = socket.set_recv_buffer_size(4 << 20);
        let _ = socket.set_send_buffer_size(4 << 20);
        socket.set_nonblocking(true)?;
        let socket: std::net::UdpSocket = socket.into();
        let local = socket.local_addr()?;
        Ok(MediaSocket { socket, port: local.port(), v6: local.is_ipv6() })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Hands the socket to the current runtime.
    pub fn activate(self) -> io::Result<ActiveSocket> {
        let gso = AtomicBool::new(true);
        Ok(ActiveSocket { inner: UdpSocket::from_std(self.socket)?, port: self.port, v6: self.v6, gso })
    }
}

impl ActiveSocket {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for a datagram: its length, sender and the local address it was
    /// sent to (IPv4-mapped addresses unmapped).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, SocketAddr)> {
        self.inner.async_io(Interest::READABLE, || self.try_recv(buf)).await
    }

    /// A datagram if one is waiting; `WouldBlock` if none.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, SocketAddr)> {
        let mut control = nix::cmsg_space!(nix::libc::in_pktinfo, nix::libc::in6_pktinfo);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrStorage>(
            std::os::fd::AsRawFd::as_raw_fd(&self.inner),
            &mut iov,
            Some(&mut control),
            MsgFlags::empty(),
        )
        .map_err(io::Error::from)?;
        let source = msg.address.as_ref().and_then(to_socket_addr).ok_or_else(|| io::Error::other("no sender"))?;
        let mut destination = None;
        for cmsg in msg.cmsgs().map_err(io::Error::from)? {
            match cmsg {
                ControlMessageOwned::Ipv4PacketInfo(info) => {
                    destination = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr))));
                }
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    destination = Some(unmap(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr))));
                }
                _ => {}
            }
        }
        let destination = destination.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok((msg.bytes, source, SocketAddr::new(destination, self.port)))
    }

    /// One datagram, from `source` (one of the box's addresses; unspecified:
    /// the kernel's choice).
    pub async fn send_to(&self, data: &[u8], source: SocketAddr, destination: SocketAddr) -> io::Result<usize> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.inner);
        let target = SockaddrStorage::from(self.target(destination));
        let from = self.origin(source);
        self.inner
            .async_io(Interest::WRITABLE, || {
                let cmsgs: Vec<ControlMessage<'_>> = from.cmsg().into_iter().collect();
                sendmsg(fd, &[IoSlice::new(data)], &cmsgs, MsgFlags::empty(), Some(&target)).map_err(io::Error::from)
            })
            .await
    }

    /// Sends many datagrams with few system calls: runs of equal-sized
    /// datagrams to one peer (a video frame, as a viewer's session releases
    /// it) go as one UDP GSO send, which crosses the network stack once; the
    /// rest go in `sendmmsg` batches. Order towards each peer is kept. A
    /// send that fails loses only its own datagrams, never the rest of the
    /// batch (other peers'); the first error is returned, with how many
    /// datagrams it cost.
    pub async fn send_batch(&self, datagrams: &[Datagram]) -> Result<(), (io::Error, usize)> {
        let mut lost = Lost::default();
        let mut singles = 0..0;
        for run in gso_runs(datagrams) {
            if run.len() > 1 && self.gso.load(Ordering::Relaxed) {
                self.send_each(&datagrams[singles.clone()], &mut lost).await;
                singles = run.end..run.end;
                match self.send_segments(&datagrams[run.clone()]).await {
                    Ok(()) => {}
                    // A kernel or device without UDP GSO: never again. Any
                    // other error is the send's, as for `sendmmsg`.
                    Err(e) if gso_unsupported(&e) => {
                        tracing::info!(error = %e, "UDP segmentation offload unavailable; sending one by one");
                        self.gso.store(false, Ordering::Relaxed);
                        singles = run;
                    }
                    Err(e) => lost.add(e, run.len()),
                }
            } else {
                singles.end = run.end;
            }
        }
        self.send_each(&datagrams[singles], &mut lost).await;
        lost.into_result()
    }

    /// Datagrams of one size (the last may be shorter) to one peer, in one
    /// system call that the kernel cuts into them.
    async fn send_segments(&self, run: &[Datagram]) -> io::Result<()> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.inner);
        let size = run[0].data.len() as u16;
        let target = SockaddrStorage::from(self.target(run[0].destination));
        let from = self.origin(run[0].source);
        let iovs: Vec<IoSlice<'_>> = run.iter().map(|d| IoSlice::new(&d.data)).collect();
        self.inner
            .async_io(Interest::WRITABLE, || {
                let mut cmsgs = vec![ControlMessage::UdpGsoSegments(&size)];
                cmsgs.extend(from.cmsg());
                sendmsg(fd, &iovs, &cmsgs, MsgFlags::empty(), Some(&target)).map_err(io::Error::from)
            })
            .await
            .map(drop)
    }

    /// Datagrams in `sendmmsg` batches (one source address each: the
    /// batch shares its control messages); a failing one is skipped and
    /// counted in `lost`.
    async fn send_each(&self, datagrams: &[Datagram], lost: &mut Lost) {
        const MAX: usize = 64;
        let mut rest = datagrams;
        while !rest.is_empty() {
            let source = rest[0].source;
            let same = rest.iter().take(MAX).take_while(|d| d.source == source).count();
            let chunk = &rest[..same];
            let from = self.origin(source);
            let fd = std::os::fd::AsRawFd::as_raw_fd(&self.inner);
            let sent = self
                .inner
                .async_io(Interest::WRITABLE, || {
                    let addrs: Vec<Option<SockaddrStorage>> =
                        chunk.iter().map(|d| Some(SockaddrStorage::from(self.target(d.destination)))).collect();
                    let iovs: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|d| [IoSlice::new(&d.data)]).collect();
                    let space = nix::cmsg_space!(nix::libc::in6_pktinfo);
                    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(chunk.len(), Some(space));
                    let cmsgs: Vec<ControlMessage<'_>> = from.cmsg().into_iter().collect();
                    sendmmsg(fd, &mut headers, &iovs, &addrs, &cmsgs, MsgFlags::empty())
                        .map(|results| results.count())
                        .map_err(io::Error::from)
                })
                .await;
            // `sendmmsg` stops at the first datagram that fails (or takes
            // fewer than offered): that one is tried alone, the rest go on.
            rest = &rest[sent.map_or(0, |n| n.min(chunk.len()))..];
            if let Some(d) = rest.first() {
                if let Err(e) = self.send_to(&d.data, d.source, d.destination).await {
                    lost.add(e, 1);
                }
                rest = &rest[1..];
            }
        }
    }

    /// IPv4 peers on the dual-stack socket are addressed IPv4-mapped.
    fn target(&self, destination: SocketAddr) -> SocketAddr {
        match (destination, self.v6) {
            (SocketAddr::V4(v4), true) => SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()),
            (other, _) => other,
        }
    }

    /// The packet info that makes a datagram leave from `source` (on the
    /// dual-stack socket IPV6_PKTINFO, IPv4-mapped for IPv4, which Linux
    /// takes for IPv4 destinations too).
    fn origin(&self, source: SocketAddr) -> Origin {
        use nix::libc::{in_addr, in_pktinfo, in6_addr, in6_pktinfo};
        match (source.ip(), self.v6) {
            (ip, _) if ip.is_unspecified() => Origin::Any,
            (IpAddr::V4(v4), false) => Origin::V4(in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: in_addr { s_addr: u32::from(v4).to_be() },
                ipi_addr: in_addr { s_addr: 0 },
            }),
            (IpAddr::V6(_), false) => Origin::Any,
            (ip, true) => {
                let v6 = match ip {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                    IpAddr::V6(v6) => v6,
                };
                Origin::V6(in6_pktinfo { ipi6_addr: in6_addr { s6_addr: v6.octets() }, ipi6_ifindex: 0 })
            }
        }
    }
}

/// Which of the box's addresses a datagram leaves from.
enum Origin {
    V4(nix::libc::in_pktinfo),
    V6(nix::libc::in6_pktinfo),
    /// The kernel's choice.
    Any,
}

impl Origin {
    fn cmsg(&self) -> Option<ControlMessage<'_>> {
        match self {
            Origin::V4(info) => Some(ControlMessage::Ipv4PacketInfo(info)),
            Origin::V6(info) => Some(ControlMessage::Ipv6PacketInfo(info)),
            Origin::Any => None,
        }
    }
}

/// What a batch's failed sends cost: datagrams lost, and the first error.
#[derive(Debug, Default)]
struct Lost {
    datagrams: usize,
    first_error: Option<io::Error>,
}

impl Lost {
    fn add(&mut self, error: io::Error, datagrams: usize) {
        self.datagrams += datagrams;
        self.first_error.get_or_insert(error);
    }

    fn into_result(self) -> Result<(), (io::Error, usize)> {
        self.first_error.map_or(Ok(()), |e| Err((e, self.datagrams)))
    }
}

/// The most segments one GSO send may carry (the kernel's UDP_MAX_SEGMENTS)
/// and the most bytes (one IP datagram).
const GSO_SEGMENTS: usize = 64;
const GSO_BYTES: usize = 65_000;

/// What a kernel without UDP GSO (EINVAL, ENOPROTOOPT: the option is
/// unknown) or a device that cannot checksum for it (EIO) answers.
fn gso_unsupported(e: &io::Error) -> bool {
    use nix::libc::{EINVAL, EIO, ENOPROTOOPT, EOPNOTSUPP};
    matches!(e.raw_os_error(), Some(EINVAL | EIO | ENOPROTOOPT | EOPNOTSUPP))
}

/// Splits `datagrams` into runs that can go as one GSO send: consecutive,
/// to one peer, all of the first one's size but the last, which may be
/// shorter (that ends the run). Every datagram is in exactly one run.
fn gso_runs(datagrams: &[Datagram]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < datagrams.len() {
        let first = &datagrams[start];
        let size = first.data.len();
        let mut end = start + 1;
        while end < datagrams.len() && end - start < GSO_SEGMENTS && (end - start + 1) * size <= GSO_BYTES {
            let next = &datagrams[end];
            if next.destination != first.destination
                || next.source != first.source
                || next.data.len() > size
                || next.data.is_empty()
            {
                break;
            }
            end += 1;
            if next.data.len() < size {
                break;
            }
        }
        runs.push(start..end);
        start = end;
    }
    runs
}

fn to_socket_addr(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::new(IpAddr::V4(v4.ip()), v4.port()));
    }
    let v6 = addr.as_sockaddr_in6()?;
    Some(SocketAddr::new(unmap(IpAddr::V6(v6.ip())), v6.port()))
}

/// `::ffff:192.0.2.1` → `192.0.2.1`.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn learns_which_local_address_a_datagram_was_sent_to() {
        let socket = MediaSocket::bind(0).unwrap().activate().unwrap();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"hello", ("127.0.0.1", socket.port())).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from, to) = socket.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, peer.local_addr().unwrap());
        assert_eq!(to, SocketAddr::from(([127, 0, 0, 1], socket.port())));
        socket.send_to(b"back", to, from).await.unwrap();
        let n = peer.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"back");
        let batch: Vec<Datagram> =
            (0..100u8).map(|i| Datagram { source: to, destination: from, data: vec![i; 10 + i as usize] }).collect();
        socket.send_batch(&batch).await.unwrap();
        for i in 0..100u8 {
            let n = peer.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &vec![i; 10 + i as usize][..], "in order, whole");
        }

        // A frame's worth of equal packets (one GSO send) between others.
        let sizes = [1200, 1200, 1200, 700, 1200, 90, 1200, 1200];
        let batch: Vec<Datagram> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Datagram { source: to, destination: from, data: vec![i as u8; n] })
            .collect();
        socket.send_batch(&batch).await.unwrap();
        for (i, &size) in sizes.iter().enumerate() {
            let n = peer.recv(&mut buf).unwrap_or_else(|e| panic!("datagram {i}: {e}"));
            assert_eq!(&buf[..n], &vec![i as u8; size][..], "datagram {i} whole and in order");
        }
        assert!(socket.gso.load(Ordering::Relaxed), "loopback takes GSO sends");
    }

    #[tokio::test]
    async fn a_send_that_fails_loses_only_its_own_datagrams() {
        let socket = MediaSocket::bind(0).unwrap().activate().unwrap();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        let good = peer.local_addr().unwrap();
        // Port 0 is no destination: the kernel refuses that one send.
        let bad = SocketAddr::from(([127, 0, 0, 1], 0));
        let source = SocketAddr::from(([127, 0, 0, 1], socket.port()));
        let batch: Vec<Datagram> = [(good, 1u8), (bad, 2), (good, 3), (good, 4), (good, 5)]
            .into_iter()
            .map(|(destination, i)| Datagram { source, destination, data: vec![i; 100] })
            .collect();
        let (_, lost) = socket.send_batch(&batch).await.expect_err("the send to port 0 fails");
        assert_eq!(lost, 1);
        let mut buf = [0u8; 2048];
        for i in [1u8, 3, 4, 5] {
            let n = peer.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i; 100][..], "the others still go, in order");
        }
    }

    #[tokio::test]
    async fn each_datagram_leaves_from_the_address_it_was_sent_from() {
        // 127.0.0.2 is the box's too (all of 127/8 is), but the kernel
        // would answer 127.0.0.1 from 127.0.0.1.
        let socket = MediaSocket::bind(0).unwrap().activate().unwrap();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        let destination = peer.local_addr().unwrap();
        let (one, two) =
            (SocketAddr::from(([127, 0, 0, 1], socket.port())), SocketAddr::from(([127, 0, 0, 2], socket.port())));
        // Singles, a GSO run, then singles again, alternating sources.
        let sources = [two, one, two, two, two, two, one, two];
        let sizes = [100, 100, 1200, 1200, 1200, 1200, 100, 100];
        let batch: Vec<Datagram> = sources
            .iter()
            .zip(sizes)
            .enumerate()
            .map(|(i, (&source, n))| Datagram { source, destination, data: vec![i as u8; n] })
            .collect();
        socket.send_batch(&batch).await.unwrap();
        let mut buf = [0u8; 2048];
        for (i, source) in sources.iter().enumerate() {
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            assert_eq!((buf[0], n, from), (i as u8, sizes[i], *source), "datagram {i}");
        }
        socket.send_to(b"alone", two, destination).await.unwrap();
        assert_eq!(peer.recv_from(&mut buf).unwrap().1, two);
    }

    fn to(port: u16, sizes: &[usize]) -> Vec<Datagram> {
        let (source, destination) = (SocketAddr::from(([127, 0, 0, 1], 1)), SocketAddr::from(([127, 0, 0, 1], port)));
        sizes.iter().map(|&n| Datagram { source, destination, data: vec![0; n] }).collect()
    }

    #[test]
    fn runs_for_gso_are_one_peer_one_size_with_a_shorter_last() {
        let mut batch = to(5000, &[1200, 1200, 1200, 800, 1200, 1300, 1300]);
        batch.extend(to(5001, &[1300, 1300]));
        batch.extend(to(5000, &[50]));
        assert_eq!(gso_runs(&batch), vec![0..4, 4..5, 5..7, 7..9, 9..10]);
        assert!(gso_runs(&[]).is_empty());
        let long = to(5000, &[1000; 100]);
        let runs = gso_runs(&long);
        assert!(runs.iter().all(|r| r.len() * 1000 <= GSO_BYTES && r.len() <= GSO_SEGMENTS), "{runs:?}");
        assert_eq!(runs.iter().map(|r| r.len()).sum::<usize>(), 100);
    }
}
