use std::io::IsTerminal;
use std::path::Path;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

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

/// Installs the global subscriber. `RUST_LOG`, when set, replaces `filter`.
/// Returns where logs go.
pub fn init(filter: &str, target: LogTarget) -> &'static str {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let journald = match target {
        LogTarget::Journald => true,
        LogTarget::Stderr => false,
        LogTarget::Auto => Path::new(JOURNAL_SOCKET).exists() && !std::io::stderr().is_terminal(),
    };
    if journald && let Ok(layer) = tracing_journald::layer() {
        tracing_subscriber::registry().with(filter).with(layer.with_syslog_identifier("confcamd".into())).init();
        return "journald";
    }
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    "stderr"
}
