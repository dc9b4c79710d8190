//! Updates as the web API drives them: one at a time, the bundle received
//! into the data partition, RAUC installing it, and the restart into it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use super::install::UpdateState;
use super::rauc::Rauc;

/// A bundle's file while it is received, and once whole.
const PARTIAL: &str = "bundle.raucb.part";
const BUNDLE: &str = "bundle.raucb";
/// The file whose appearance has the image's confcam-tryboot.path reboot
/// the box into the slot just written (`reboot "0 tryboot"`): confcamd
/// itself may not reboot.
pub const RESTART_FLAG: &str = "restart-tryboot";

/// Why an update cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The box has no RAUC (a development machine).
    Unsupported,
    /// Another upload or install is under way.
    Busy,
    /// Restart asked before an update was installed.
    NothingInstalled,
    /// The data partition refused a write.
    Io(String),
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Unsupported => "this box cannot update itself: RAUC is not installed".into(),
            Refusal::Busy => "an update is already under way".into(),
            Refusal::NothingInstalled => "no update is installed to restart into".into(),
            Refusal::Io(e) => e.clone(),
        }
    }
}

pub struct Updates {
    /// `update/` on the data partition: the bundle waits here.
    dir: PathBuf,
    rauc: Option<Rauc>,
    state: watch::Sender<UpdateState>,
}

impl Updates {
    pub fn new(dir: PathBuf, rauc: Option<Rauc>) -> Self {
        Updates { dir, rauc, state: watch::Sender::new(UpdateState::Idle) }
    }

    pub fn supported(&self) -> bool {
        self.rauc.is_some()
    }

    pub fn state(&self) -> UpdateState {
        self.state.borrow().clone()
    }

    /// Starts receiving a bundle: the upload, which ends the update as
    /// failed if it is dropped before [`Upload::install`] (the client went
    /// away mid-body and the handler was cancelled).
    pub fn begin(self: &Arc<Self>) -> Result<Upload, Refusal> {
        let rauc = self.rauc.clone().ok_or(Refusal::Unsupported)?;
        let started = self.state.send_if_modified(|s| {
            let free = !s.busy();
            if free {
                *s = UpdateState::Receiving { bytes: 0 };
            }
            free
        });
        if !started {
            return Err(Refusal::Busy);
        }
        Ok(Upload { updates: self.clone(), rauc, path: self.dir.join(PARTIAL), done: false })
    }

    /// The upload failed: its file goes, the reason stays on show.
    fn abandon(&self, error: &str) {
        let _ = std::fs::remove_file(self.dir.join(PARTIAL));
        self.state.send_replace(UpdateState::Failed { error: error.to_string() });
    }

    /// The bundle is whole: `rauc` installs it in the background. The
    /// bundle is removed once RAUC is done with it (the data partition is
    /// small).
    fn install(self: &Arc<Self>, rauc: Rauc) -> Result<(), String> {
        let bundle = self.dir.join(BUNDLE);
        std::fs::rename(self.dir.join(PARTIAL), &bundle).map_err(|e| format!("keeping the bundle: {e}"))?;
        let updates = self.clone();
        let install = tokio::spawn(async move {
            let ended = rauc.install(&bundle, &updates.state).await;
            let _ = std::fs::remove_file(&bundle);
            match &ended {
                UpdateState::Failed { error } => tracing::warn!(error, "update refused"),
                _ => tracing::info!("update installed; it runs after a restart into it"),
            }
            updates.state.send_replace(ended);
        });
        // An install that panicked must not look under way for ever.
        let updates = self.clone();
        tokio::spawn(async move {
            if let Err(e) = install.await {
                tracing::error!(error = %e, "the update's install task failed");
                updates.state.send_replace(UpdateState::Failed { error: format!("install task failed: {e}") });
            }
        });
        Ok(())
    }

    /// Asks for the restart into the slot just written.
    pub fn restart(&self) -> Result<(), Refusal> {
        if self.state() != UpdateState::Installed {
            return Err(Refusal::NothingInstalled);
        }
        std::fs::write(self.dir.join(RESTART_FLAG), b"0 tryboot\n")
            .map_err(|e| Refusal::Io(format!("asking for the restart: {e}")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A bundle being received.
pub struct Upload {
    updates: Arc<Updates>,
    rauc: Rauc,
    path: PathBuf,
    done: bool,
}

impl Upload {
    /// Where the bundle is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn received(&self, bytes: u64) {
        self.updates.state.send_replace(UpdateState::Receiving { bytes });
    }

    /// Refused or broken off: the update failed for `error`.
    pub fn abandon(mut self, error: &str) {
        self.done = true;
        self.updates.abandon(error);
    }

    /// Whole: RAUC installs it.
    pub fn install(mut self) -> Result<(), String> {
        self.done = true;
        let installed = self.updates.install(self.rauc.clone());
        if let Err(e) = &installed {
            self.updates.abandon(e);
        }
        installed
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.done {
            self.updates.abandon("the upload broke off");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upload_dropped_midway_ends_the_update_and_frees_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let updates = Arc::new(Updates::new(dir.path().to_path_buf(), Some(Rauc::on_bus("rauc".into(), "x".into()))));
        let upload = updates.begin().unwrap();
        std::fs::write(upload.path(), b"half a bundle").unwrap();
        assert_eq!(updates.begin().err(), Some(Refusal::Busy), "one at a time");
        drop(upload);
        assert_eq!(updates.state(), UpdateState::Failed { error: "the upload broke off".into() });
        assert!(!dir.path().join(PARTIAL).exists(), "its file is gone");
        assert!(updates.begin().is_ok(), "the next may start");
        let none = Updates::new(dir.path().to_path_buf(), None);
        assert_eq!(Arc::new(none).begin().err(), Some(Refusal::Unsupported));
    }
}
