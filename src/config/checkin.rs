//! `[checkin]`: room check-in by face. Off until the admin turns it on.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::InRange;

/// Where the daemon looks for the face models when the config does not say.
pub const DEFAULT_MODELS_DIR: &str = "/usr/share/confcam/models";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckInConfig {
    /// While off, no camera frame reaches the face models.
    pub enabled: bool,
    /// Where `tools/fetch-models` installed the models.
    pub models_dir: PathBuf,
    /// Frames a second the faces are looked for in.
    pub fps: InRange<1, 15>,
    /// Width the frame is shrunk to before detection.
    pub analysis_width: InRange<160, 1920>,
    /// Cosine similarity, in hundredths, a face needs to be someone enrolled.
    pub threshold_percent: InRange<10, 95>,
    /// Days check-ins are kept.
    pub retention_days: InRange<1, 3650>,
    /// Keep enrollment photos (only the embeddings are needed).
    pub keep_photos: bool,
    /// The meeting ends once no face has been seen for this long.
    pub meeting_idle_minutes: InRange<1, 1440>,
}

impl Default for CheckInConfig {
    fn default() -> Self {
        CheckInConfig {
            enabled: false,
            models_dir: DEFAULT_MODELS_DIR.into(),
            fps: InRange::new_const(5),
            analysis_width: InRange::new_const(640),
            // SFace's 0.363, rounded up a little: a stranger checked in as
            // someone is worse than a second look at someone enrolled.
            threshold_percent: InRange::new_const(37),
            retention_days: InRange::new_const(90),
            keep_photos: false,
            meeting_idle_minutes: InRange::new_const(15),
        }
    }
}

impl CheckInConfig {
    pub fn threshold(&self) -> f32 {
        self.threshold_percent.get() as f32 / 100.0
    }

    pub fn retention(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.retention_days.get() as u64 * 86_400)
    }
}
