//! The SFU's one UDP socket, for every participant.
//!
//! It listens on all addresses (`[::]`, which takes IPv4 too), so a new
//! address from DHCP needs no new socket. str0m must know which of the box's
//! addresses each datagram was sent to (it matches them to its ICE
//! candidates), so the socket asks the kernel for that with IP_PKTINFO.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmsg, sendmmsg, setsockopt,
    sockopt,
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
        Ok(ActiveSocket { inner: UdpSocket::from_std(self.socket)?, port: self.port, v6: self.v6 })
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

    pub async fn send_to(&self, data: &[u8], destination: SocketAddr) -> io::Result<usize> {
        self.inner.send_to(data, self.target(destination)).await
    }

    /// Sends many datagrams with few system calls (`sendmmsg`): forwarding
    /// one packet to every subscriber makes a burst of them.
    pub async fn send_batch(&self, datagrams: &[Datagram]) -> io::Result<()> {
        const MAX: usize = 64;
        for chunk in datagrams.chunks(MAX) {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&self.inner);
            let sent = self
                .inner
                .async_io(Interest::WRITABLE, || {
                    let addrs: Vec<Option<SockaddrStorage>> =
                        chunk.iter().map(|d| Some(SockaddrStorage::from(self.target(d.destination)))).collect();
                    let iovs: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|d| [IoSlice::new(&d.data)]).collect();
                    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(chunk.len(), None);
                    let no_cmsgs: [ControlMessage<'_>; 0] = [];
                    sendmmsg(fd, &mut headers, &iovs, &addrs, no_cmsgs, MsgFlags::empty())
                        .map(|results| results.count())
                        .map_err(io::Error::from)
                })
                .await?;
            // The kernel may take fewer than offered; send the rest one by one.
            for d in &chunk[sent.min(chunk.len())..] {
                self.send_to(&d.data, d.destination).await?;
            }
        }
        Ok(())
    }

    /// IPv4 peers on the dual-stack socket are addressed IPv4-mapped.
    fn target(&self, destination: SocketAddr) -> SocketAddr {
        match (destination, self.v6) {
            (SocketAddr::V4(v4), true) => SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()),
            (other, _) => other,
        }
    }
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
        let mut buf = [0u8; 256];
        let (n, from, to) = socket.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, peer.local_addr().unwrap());
        assert_eq!(to, SocketAddr::from(([127, 0, 0, 1], socket.port())));
        socket.send_to(b"back", from).await.unwrap();
        let n = peer.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"back");
        let batch: Vec<Datagram> =
            (0..100u8).map(|i| Datagram { source: to, destination: from, data: vec![i; 10 + i as usize] }).collect();
        socket.send_batch(&batch).await.unwrap();
        for i in 0..100u8 {
            let n = peer.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &vec![i; 10 + i as usize][..], "in order, whole");
        }
    }
}
