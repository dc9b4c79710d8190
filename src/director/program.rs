//! What the room's video shows over time: the shot on air and the pan that
//! leads to it. A small `Copy` value, so the director's thread can hand it
//! to the encoder's, which asks it for the crop of each frame.

use std::time::{Duration, Instant};

use super::{Crop, Framing};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Program {
    /// The shot on air (its final crop, whatever the pan's progress).
    pub framing: Framing,
    /// When it went on air.
    pub since: Instant,
    /// The crop a pan started from (none: a cut).
    from: Option<Crop>,
    pan: Duration,
}

impl Program {
    /// `framing` on air from `since`, without a pan.
    pub fn cut(framing: Framing, since: Instant) -> Self {
        Program { framing, since, from: None, pan: Duration::ZERO }
    }

    /// `next` on air at `now`: panning over `pan` from where the picture is
    /// when it stays on the same camera, else a cut.
    pub fn then(&self, next: Framing, now: Instant, pan: Duration) -> Self {
        let pans = next.camera == self.framing.camera && !pan.is_zero();
        Program { framing: next, since: now, from: pans.then(|| self.crop_at(now)), pan }
    }

    /// The crop to show at `now`: along the pan while one is under way.
    pub fn crop_at(&self, now: Instant) -> Crop {
        match self.from {
            Some(from) => {
                let t = now.saturating_duration_since(self.since).as_secs_f32() / self.pan.as_secs_f32();
                from.towards(self.framing.crop, t)
            }
            None => self.framing.crop,
        }
    }
}
