use std::ffi::OsString;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

pub use sd_notify::NotifyState;

/// Sends `sd_notify` messages (READY, WATCHDOG, STOPPING, STATUS) to the
/// service manager's socket.
///
/// The socket is taken from `NOTIFY_SOCKET` once, in `main`; everything else
/// gets it passed in, so tests can listen on a socket of their own.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<OsString>,
}

impl Notifier {
    /// The socket systemd gave us, if any (not running under systemd: none).
    pub fn from_env() -> Self {
        Notifier { socket: std::env::var_os("NOTIFY_SOCKET") }
    }

    /// A path, or `@name` for an abstract socket.
    pub fn to_socket(socket: impl Into<OsString>) -> Self {
        Notifier { socket: Some(socket.into()) }
    }

    pub fn is_enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends `states` as one datagram; a no-op without a socket.
    pub fn notify(&self, states: &[NotifyState]) -> io::Result<()> {
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        let bytes = socket.as_bytes();
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => SocketAddr::from_abstract_name(name)?,
            None => SocketAddr::from_pathname(socket)?,
        };
        let message: String = states.iter().map(|s| format!("{s}\n")).collect();
        UnixDatagram::unbound()?.send_to_addr(message.as_bytes(), &addr)?;
        Ok(())
    }

    /// Like [`Self::notify`], logging instead of failing: a lost notification
    /// must not stop the box.
    pub fn send(&self, states: &[NotifyState]) {
        if let Err(e) = self.notify(states) {
            tracing::warn!(error = %e, "cannot notify the service manager");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_a_path_socket_and_an_abstract_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        Notifier::to_socket(&path).notify(&[NotifyState::Ready, NotifyState::Status("up")]).unwrap();
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=up\n");

        let name = format!("confcam-test-{}", std::process::id());
        let listener = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        Notifier::to_socket(format!("@{name}")).notify(&[NotifyState::Watchdog]).unwrap();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1\n");
    }

    #[test]
    fn without_a_socket_nothing_is_sent() {
        Notifier::default().notify(&[NotifyState::Ready]).unwrap();
        assert!(!Notifier::default().is_enabled());
    }
}
