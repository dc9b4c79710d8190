use std::io::IsTerminal;
use std::path::Path;

use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, Registry, reload};

const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogTarget {
    /// journald when its socket exists and stderr is not a terminal (running
    /// as a service), else stderr.
    Auto,
    Journald,
    Stderr,
}

/// Changes the log filter after start (a stored `system.log` setting is only
/// known once the database is open).
pub struct LogFilter {
    handle: reload::Handle<EnvFilter, Registry>,
    from_env: bool,
}

impl LogFilter {
    /// Uses `filter` from now on, unless `RUST_LOG` set one (it always wins).
    pub fn set(&self, filter: &str) {
        if self.from_env {
            return;
        }
        if let Err(e) = self.handle.reload(EnvFilter::new(filter)) {
            tracing::warn!(error = %e, "cannot change the log filter");
        }
    }
}

/// Events the filter never lets through: str0m's SCTP logs ERROR for every
/// association a peer aborts, and aiortc aborts its data channel on each
/// normal leave. A peer's SCTP trouble is not the box's error; the leave
/// itself is logged by the SFU.
fn wanted(event: &tracing::Metadata<'_>) -> bool {
    !(event.target() == "sctp_proto::association" && *event.level() == tracing::Level::ERROR)
}

/// Installs the global subscriber. `RUST_LOG`, when set, replaces `filter`.
/// Returns where logs go, and a handle to change the filter.
pub fn init(filter: &str, target: LogTarget) -> (&'static str, LogFilter) {
    let from_env = std::env::var_os(EnvFilter::DEFAULT_ENV).is_some();
    let env_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let (filter_layer, handle) = reload::Layer::new(env_filter);
    let journald = match target {
        LogTarget::Journald => true,
        LogTarget::Stderr => false,
        LogTarget::Auto => Path::new(JOURNAL_SOCKET).exists() && !std::io::stderr().is_terminal(),
    };
    let registry =
        tracing_subscriber::registry().with(filter_layer).with(tracing_subscriber::filter::filter_fn(wanted));
    let target = match tracing_journald::layer() {
        Ok(layer) if journald => {
            registry.with(layer.with_syslog_identifier("confcamd".into())).init();
            "journald"
        }
        _ => {
            // Colours only for a person at a terminal, not in a file or a pipe.
            let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
            registry.with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(colour)).init();
            "stderr"
        }
    };
    (target, LogFilter { handle, from_env })
}
