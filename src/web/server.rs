use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::certificate::{self, Certificate};
use super::connections::{Bounded, ConnectionLimits, Connections};

use crate::system::HostIdentity;

/// The running HTTPS server and its HTTP redirector.
pub struct WebServer {
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    handles: Vec<Handle<SocketAddr>>,
    tasks: JoinSet<io::Result<()>>,
}

/// A client gets this long for its TLS handshake, then for its request's
/// headers: a slow one must not hold its connection for long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const HEADERS_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts serving `router` over TLS on `https` within `limits` (counted in
/// `connections`), and
/// redirects on `http` to a name the served certificate carries.
pub fn spawn_web(
    https: TcpListener,
    http: Option<TcpListener>,
    router: Router,
    tls: RustlsConfig,
    served: watch::Receiver<Certificate>,
    limits: ConnectionLimits,
    connections: Arc<Connections>,
) -> io::Result<WebServer> {
    let https_addr = https.local_addr()?;
    let http_addr = http.as_ref().map(|l| l.local_addr()).transpose()?;
    let mut tasks = JoinSet::new();
    let mut handles = Vec::new();

    https.set_nonblocking(true)?;
    let handle = Handle::new();
    handles.push(handle.clone());
    let bounded = Bounded { limits, connections };
    let acceptor =
        axum_server::tls_rustls::RustlsAcceptor::new(tls).handshake_timeout(HANDSHAKE_TIMEOUT).acceptor(bounded);
    let mut server = axum_server::from_tcp(https)?.acceptor(acceptor).handle(handle);
    server.http_builder().http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADERS_TIMEOUT);
    tasks.spawn(server.serve(router.into_make_service_with_connect_info::<SocketAddr>()));

    if let Some(http) = http {
        http.set_nonblocking(true)?;
        let handle = Handle::new();
        handles.push(handle.clone());
        let server = axum_server::from_tcp(http)?.handle(handle);
        tasks.spawn(server.serve(super::redirect::router(https_addr.port(), served).into_make_service()));
    }
    Ok(WebServer { https_addr, http_addr, handles, tasks })
}

impl WebServer {
    /// Resolves only if a server stops on its own (which is a fault).
    pub async fn failed(&mut self) -> io::Error {
        match self.tasks.join_next().await {
            Some(Ok(Ok(()))) => io::Error::other("a web server stopped"),
            Some(Ok(Err(e))) => e,
            Some(Err(e)) => io::Error::other(e),
            None => std::future::pending().await,
        }
    }

    /// Stops accepting, lets requests in flight finish for up to `grace`.
    pub async fn shutdown(mut self, grace: Duration) {
        for h in &self.handles {
            h.graceful_shutdown(Some(grace));
        }
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Checks the box's names and addresses every `every` and swaps in a new
/// certificate when they change (DHCP gave a new address, the box was renamed).
pub async fn renew_certificate(
    dir: PathBuf,
    tls: RustlsConfig,
    served: watch::Sender<Certificate>,
    every: Duration,
    identity: impl Fn() -> io::Result<HostIdentity> + Send + 'static,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        // Unreadable addresses are no reason for a new certificate.
        let Ok(id) = identity() else { continue };
        let dir = dir.clone();
        let result =
            tokio::task::spawn_blocking(move || certificate::ensure(&dir, &id, time::OffsetDateTime::now_utc())).await;
        match result {
            Ok(Ok((cert, certificate::Renewal::Created(reason)))) => match certificate::server_config(&cert) {
                Ok(config) => {
                    tls.reload_from_config(config);
                    tracing::info!(sha256 = %cert.sha256, reason, "new HTTPS certificate in use");
                    served.send_replace(cert);
                }
                Err(e) => {
                    tracing::error!(error = %e, "new certificate is unusable; keeping the old one")
                }
            },
            Ok(Ok((_, certificate::Renewal::Reused))) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "cannot renew the HTTPS certificate"),
            Err(e) => tracing::error!(error = %e, "certificate renewal task failed"),
        }
    }
}
