//! The shell around RAUC's command-line client, which asks RAUC's service
//! (over D-Bus) to install a bundle or to mark the booted slot good.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use super::install::{InstallProgress, UpdateState};

/// Most of RAUC's stderr kept for an error message.
const MAX_STDERR: u64 = 64 << 10;

/// Where RAUC looks for its configuration; a box set up for it has one
/// (the image: /usr/lib/rauc, from meta-rauc's rauc-conf).
pub const SYSTEM_CONFS: [&str; 3] = ["/etc/rauc/system.conf", "/run/rauc/system.conf", "/usr/lib/rauc/system.conf"];

#[derive(Debug, Clone)]
pub struct Rauc {
    program: PathBuf,
    /// The D-Bus system bus RAUC's service is on, when not the usual one
    /// (tests run their own).
    bus: Option<String>,
}

impl Rauc {
    /// RAUC's client on the PATH, on a box set up for it (the image); a
    /// development machine is not, even with the client installed.
    pub fn find() -> Option<Rauc> {
        if !SYSTEM_CONFS.iter().any(|c| Path::new(c).is_file()) {
            return None;
        }
        let path = std::env::var_os("PATH")?;
        let program = std::env::split_paths(&path).map(|dir| dir.join("rauc")).find(|p| p.is_file())?;
        Some(Rauc { program, bus: None })
    }

    /// `program`, talking to the service on the bus at `address`.
    pub fn on_bus(program: PathBuf, address: String) -> Rauc {
        Rauc { program, bus: Some(address) }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        if let Some(bus) = &self.bus {
            command.env("DBUS_SYSTEM_BUS_ADDRESS", bus);
        }
        command.stdin(Stdio::null()).kill_on_drop(true);
        command
    }

    /// Installs `bundle` into the slot not running, telling `state` each
    /// step; returns how it ended.
    pub async fn install(&self, bundle: &Path, state: &watch::Sender<UpdateState>) -> UpdateState {
        let mut progress = InstallProgress::default();
        state.send_replace(progress.state().clone());
        let child = self.command().arg("install").arg(bundle).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => return progress.exited(false, &format!("cannot run {}: {e}", self.program.display())).clone(),
        };
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let read_stderr = async {
            let mut text = String::new();
            if let Some(stderr) = stderr {
                let _ = stderr.take(MAX_STDERR).read_to_string(&mut text).await;
            }
            text
        };
        let follow = async {
            let Some(stdout) = stdout else { return };
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(line, "rauc install");
                if progress.line(&line) {
                    state.send_replace(progress.state().clone());
                }
            }
        };
        let ((), stderr) = tokio::join!(follow, read_stderr);
        let success = child.wait().await.is_ok_and(|s| s.success());
        progress.exited(success, &stderr).clone()
    }

    /// Marks the booted slot good (RAUC calls the bootloader backend,
    /// which commits it); what RAUC said, or why it refused.
    pub async fn mark_good(&self) -> Result<String, String> {
        let output = self
            .command()
            .args(["status", "mark-good", "booted"])
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_string();
        if output.status.success() { Ok(said(&output.stdout)) } else { Err(said(&output.stderr)) }
    }
}
