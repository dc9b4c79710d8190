//! Where an update is, as the admin page shows it, and how `rauc install`'s
//! output moves it on, sans-IO.
//!
//! `rauc install BUNDLE` (the client of RAUC's service) prints each step
//! with its percentage (` 40% Verifying signature done.`), `LastError: …`
//! when a step fails, and ends with ``Installing `…` succeeded`` or
//! ``… failed``; its exit status says the same.

use serde::Serialize;

/// One update's progress. Serialised for `GET /api/update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateState {
    /// Nothing under way.
    Idle,
    /// The bundle is being uploaded.
    Receiving { bytes: u64 },
    /// RAUC checks the bundle and writes the other slot.
    Installing { percent: u8, step: String },
    /// Written; the box tries it at the next restart into it.
    Installed,
    /// Refused or failed; nothing changed on the running slot.
    Failed { error: String },
}

impl UpdateState {
    /// An upload or install is under way: another must wait.
    pub fn busy(&self) -> bool {
        matches!(self, UpdateState::Receiving { .. } | UpdateState::Installing { .. })
    }
}

/// Follows one `rauc install` run line by line.
#[derive(Debug)]
pub struct InstallProgress {
    state: UpdateState,
    last_error: Option<String>,
}

impl Default for InstallProgress {
    fn default() -> Self {
        InstallProgress { state: UpdateState::Installing { percent: 0, step: "starting".into() }, last_error: None }
    }
}

impl InstallProgress {
    pub fn state(&self) -> &UpdateState {
        &self.state
    }

    /// A line of output; true when it changed the state.
    pub fn line(&mut self, line: &str) -> bool {
        let line = line.trim();
        if let Some(error) = line.strip_prefix("LastError:") {
            self.last_error = Some(error.trim().to_string());
            return false;
        }
        let next = if line.starts_with("Installing `") && line.ends_with("` succeeded") {
            UpdateState::Installed
        } else if line.starts_with("Installing `") && line.ends_with("` failed") {
            UpdateState::Failed { error: self.error() }
        } else if let Some((percent, step)) = line.split_once("% ") {
            let Ok(percent) = percent.trim().parse::<u8>() else { return false };
            UpdateState::Installing { percent: percent.min(100), step: step.trim_end_matches('.').to_string() }
        } else {
            return false;
        };
        // The last word stands: nothing after it moves the state back.
        if matches!(self.state, UpdateState::Installed | UpdateState::Failed { .. }) || next == self.state {
            return false;
        }
        self.state = next;
        true
    }

    /// The run ended with `success` (its exit status) and `stderr`.
    pub fn exited(&mut self, success: bool, stderr: &str) -> &UpdateState {
        match (&self.state, success) {
            (UpdateState::Installed | UpdateState::Failed { .. }, _) => {}
            (_, true) => self.state = UpdateState::Installed,
            (_, false) => {
                if self.last_error.is_none() {
                    let said = stderr.lines().map(str::trim).rfind(|l| !l.is_empty());
                    self.last_error = said.map(str::to_string);
                }
                self.state = UpdateState::Failed { error: self.error() };
            }
        }
        &self.state
    }

    fn error(&self) -> String {
        self.last_error.clone().unwrap_or_else(|| "RAUC could not install the bundle".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(output: &str) -> InstallProgress {
        let mut progress = InstallProgress::default();
        for line in output.lines() {
            progress.line(line);
        }
        progress
    }

    /// What rauc 1.8 printed installing a bundle here.
    const GOOD: &str = "installing
  0% Installing
 20% Determining slot states done.
 40% Verifying signature done.
 90% Copying image to rootfs.1
 99% Copying image to rootfs.1 done.
100% Installing done.
idle
Installing `/var/lib/confcam/update/bundle.raucb` succeeded
";

    #[test]
    fn each_step_shows_and_a_success_is_installed() {
        let mut progress = InstallProgress::default();
        let mut seen = Vec::new();
        for line in GOOD.lines() {
            if progress.line(line) {
                seen.push(progress.state().clone());
            }
        }
        assert_eq!(seen[1], UpdateState::Installing { percent: 20, step: "Determining slot states done".into() });
        assert_eq!(seen[3], UpdateState::Installing { percent: 90, step: "Copying image to rootfs.1".into() });
        assert_eq!(*progress.exited(true, ""), UpdateState::Installed);
    }

    #[test]
    fn a_refusal_carries_raucs_reason() {
        let progress = run("installing
 20% Verifying signature
100% Installing failed.
LastError: signature verification failed: certificate verify failed: unable to get local issuer certificate
idle
Installing `/x/bundle.raucb` failed
");
        let UpdateState::Failed { error } = progress.state() else { panic!("{:?}", progress.state()) };
        assert!(error.contains("signature verification failed"), "{error}");
    }

    #[test]
    fn an_exit_without_the_last_line_still_ends_the_update() {
        let mut progress = run(" 20% Checking bundle\n");
        assert!(progress.state().busy());
        let failed = progress.exited(false, "rauc-Message: x\nFailed to connect to the service\n").clone();
        assert_eq!(failed, UpdateState::Failed { error: "Failed to connect to the service".into() });
        // Nothing moves a finished update.
        assert!(!progress.line(" 50% Checking bundle"));
        assert_eq!(*progress.exited(true, ""), failed);
    }
}
