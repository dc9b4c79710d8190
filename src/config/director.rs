//! `[director]`: how the room's video follows its talkers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::InRange;
use crate::director::{DirectorConfig, Mode};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectorSettings {
    /// `auto` follows talkers; `group` and `speaker` pin the framing.
    pub mode: Mode,
    /// Speech a new talker needs before the picture goes to them.
    pub reaction_ms: InRange<100, 5000>,
    /// The least time a shot stays on air.
    pub hold_ms: InRange<0, 30_000>,
    /// Silence before group view.
    pub group_after_silence_ms: InRange<500, 60_000>,
    /// Speaker changes within `pingpong_window_ms` that bring group view.
    pub pingpong_switches: InRange<2, 20>,
    pub pingpong_window_ms: InRange<1000, 120_000>,
    /// How long one talker must speak on to leave that group view.
    pub settle_ms: InRange<0, 60_000>,
    /// Pan time for a move within one camera; 0 cuts.
    pub pan_ms: InRange<0, 5000>,
    /// Width of the speaker view, percent of the camera's picture.
    pub zoom_percent: InRange<10, 100>,
}

impl Default for DirectorSettings {
    fn default() -> Self {
        // As `DirectorConfig::default()` (a test keeps them the same).
        DirectorSettings {
            mode: Mode::Auto,
            reaction_ms: InRange::new_const(500),
            hold_ms: InRange::new_const(2000),
            group_after_silence_ms: InRange::new_const(3000),
            pingpong_switches: InRange::new_const(4),
            pingpong_window_ms: InRange::new_const(10_000),
            settle_ms: InRange::new_const(4000),
            pan_ms: InRange::new_const(600),
            zoom_percent: InRange::new_const(50),
        }
    }
}

impl DirectorSettings {
    pub fn director(&self) -> DirectorConfig {
        let ms = |v: i64| Duration::from_millis(v as u64);
        DirectorConfig {
            mode: self.mode,
            reaction: ms(self.reaction_ms.get()),
            hold: ms(self.hold_ms.get()),
            group_after_silence: ms(self.group_after_silence_ms.get()),
            pingpong_switches: self.pingpong_switches.get() as usize,
            pingpong_window: ms(self.pingpong_window_ms.get()),
            settle: ms(self.settle_ms.get()),
            pan: ms(self.pan_ms.get()),
            zoom: self.zoom_percent.as_f32() / 100.0,
            ..DirectorConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_directors() {
        assert_eq!(DirectorSettings::default().director(), DirectorConfig::default());
        let cut: DirectorSettings = toml::from_str("pan_ms = 0\nreaction_ms = 800").unwrap();
        assert!(cut.director().pan.is_zero());
        assert_eq!(cut.director().reaction, Duration::from_millis(800));
        assert!(toml::from_str::<DirectorSettings>("reaction_ms = 50").is_err());
        assert!(toml::from_str::<DirectorSettings>("zoom = 2").is_err());
        let pinned: DirectorSettings = toml::from_str("mode = \"speaker\"").unwrap();
        assert_eq!(pinned.director().mode, Mode::Speaker);
        assert!(toml::from_str::<DirectorSettings>("mode = \"close-up\"").is_err());
    }
}
