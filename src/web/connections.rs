//! Bounds on what a client can hold open on the HTTPS port: connections per
//! client and in all, and how long a connection may sit silent. Without
//! them a client that opened connections and sent part of a request held
//! each forever (only the TLS handshake timed out), and a thousand of them
//! took every file descriptor the box had.
//!
//! A connection over a bound is closed as soon as it is accepted; one that
//! neither sends nor takes a byte for [`ConnectionLimits::idle`] is closed
//! (hyper's header timeout catches a client that trickles its headers).

// A shell: connections are timed on the clock.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::throttle::Client;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections from one client (an IPv4 address or an IPv6 /64).
    /// A browser opens a handful; phones on the room's network each have
    /// their own address.
    pub per_client: usize,
    /// Open connections in all (the box's file descriptors are raised well
    /// above this at start).
    pub total: usize,
    /// A connection with no byte in either direction for this long is
    /// closed. No page of the box holds a request open (signaling goes over
    /// the data channel), so a browser only loses a keep-alive it reopens.
    pub idle: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits { per_client: 128, total: 4096, idle: Duration::from_secs(30) }
    }
}

/// The open connections, by client; shared by every accepted connection.
#[derive(Debug, Default)]
pub struct Connections {
    open: Mutex<(HashMap<Client, usize>, usize)>,
    /// Connections closed at once for being over a bound.
    pub refused: AtomicU64,
}

impl Connections {
    /// Open connections in all.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    fn take(self: &Arc<Self>, ip: IpAddr, limits: &ConnectionLimits) -> Option<Slot> {
        let client = Client::from(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (by_client, total) = &mut *open;
        if by_client.get(&client).is_some_and(|&mine| mine >= limits.per_client) || *total >= limits.total {
            return None;
        }
        *by_client.entry(client).or_default() += 1;
        *total += 1;
        Some(Slot { connections: self.clone(), client })
    }
}

/// One connection's place in the count, given back when it closes.
#[derive(Debug)]
struct Slot {
    connections: Arc<Connections>,
    client: Client,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap_or_else(|p| p.into_inner());
        let (by_client, total) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(mine) = by_client.get_mut(&self.client) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                by_client.remove(&self.client);
            }
        }
    }
}

/// The acceptor under TLS: counts each connection against the bounds and
/// times its silences.
#[derive(Debug, Clone)]
pub struct Bounded {
    pub limits: ConnectionLimits,
    pub connections: Arc<Connections>,
}

impl<S: Send + 'static> Accept<TcpStream, S> for Bounded {
    type Stream = Guarded;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Guarded, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let ip = match stream.peer_addr() {
            Ok(address) => address.ip(),
            Err(e) => return std::future::ready(Err(e)),
        };
        let Some(slot) = self.connections.take(ip, &self.limits) else {
            let refused = self.connections.refused.fetch_add(1, Ordering::Relaxed) + 1;
            if refused.is_power_of_two() {
                tracing::warn!(client = %ip, refused, "too many HTTPS connections; closing new ones");
            }
            return std::future::ready(Err(io::Error::other("over the connection bounds")));
        };
        let idle = Box::pin(tokio::time::sleep(self.limits.idle));
        std::future::ready(Ok((Guarded { stream, idle, limit: self.limits.idle, _slot: slot }, service)))
    }
}

/// A counted connection that closes itself after a silence.
#[derive(Debug)]
pub struct Guarded {
    stream: TcpStream,
    idle: Pin<Box<Sleep>>,
    limit: Duration,
    _slot: Slot,
}

impl Guarded {
    fn touched(&mut self) {
        self.idle.as_mut().reset(tokio::time::Instant::now() + self.limit);
    }

    /// A read's or write's outcome: progress resets the silence; while
    /// waiting on the client, an error once it has been silent too long.
    fn timed<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.touched();
                Poll::Ready(result)
            }
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client went silent"))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.timed(cx, polled)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, data);
        this.timed(cx, polled)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.timed(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Raises this process's open-file limit to its hard limit (systemd gives
/// services 1024 unless told otherwise), so the connection bounds, not the
/// descriptors, are what a flood meets.
pub fn raise_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => tracing::debug!(from = soft, to = hard, "open-file limit raised"),
            Err(e) => tracing::warn!(error = %e, soft, "cannot raise the open-file limit"),
        },
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the open-file limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A connection from the client's side and its accepted end.
    async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        (client, listener.accept().await.unwrap().0)
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_after_the_idle_time_and_gives_its_place_back() {
        use tokio::io::AsyncWriteExt as _;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let limits = ConnectionLimits { idle: Duration::from_millis(300), ..ConnectionLimits::default() };
        let bounded = Bounded { limits, connections: Arc::default() };
        let (mut client, server) = pair(&listener).await;
        let (mut guarded, ()) = bounded.accept(server, ()).await.unwrap();
        assert_eq!(bounded.connections.open(), 1);
        // A byte keeps it alive; then silence ends it.
        let started = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 1);
        let err = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(500), "{:?}", started.elapsed());
        drop(guarded);
        assert_eq!(bounded.connections.open(), 0);
    }

    #[tokio::test]
    async fn a_client_over_its_share_or_the_total_is_refused() {
        use tokio::io::AsyncWriteExt as _;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let limits = ConnectionLimits { per_client: 2, total: 3, ..ConnectionLimits::default() };
        let bounded = Bounded { limits, connections: Arc::default() };
        let mut kept = Vec::new();
        for _ in 0..2 {
            let (client, server) = pair(&listener).await;
            kept.push((client, bounded.accept(server, ()).await.unwrap()));
        }
        let (_client, server) = pair(&listener).await;
        assert!(bounded.accept(server, ()).await.is_err(), "a third from one address");
        assert_eq!(bounded.connections.refused.load(Ordering::Relaxed), 1);
        // One closes: its place is free again.
        let (mut client, _) = kept.pop().unwrap();
        client.shutdown().await.unwrap();
        drop(kept.pop());
        let (_client, server) = pair(&listener).await;
        assert!(bounded.accept(server, ()).await.is_ok());
    }
}
