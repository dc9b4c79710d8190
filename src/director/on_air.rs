//! What the room's video sends, picture by picture: the camera the
//! director has on air, the slate while that camera is away, and when a
//! picture must start afresh (a keyframe, or a camera's own H.264 picked up
//! from its next keyframe). Sans-IO: the room-video thread reports what
//! happened (a frame came, none came within [`OnAir::wait`], nobody
//! watches) and does what this says.

use std::time::Duration;

/// Without a frame this long, the camera counts as away and the slate goes
/// out instead.
pub const CAMERA_AWAY: Duration = Duration::from_secs(1);
/// The slate's rate: it does not move.
pub const SLATE_INTERVAL: Duration = Duration::from_millis(200);

/// A change worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Another camera is on air: take its frames from its next one.
    Cut { from: usize, to: usize },
    /// The camera on air stopped sending: the slate goes out.
    Away,
    /// It sends again.
    Back,
}

#[derive(Debug)]
pub struct OnAir {
    camera: usize,
    away: bool,
    /// The next picture starts afresh.
    fresh: bool,
}

impl OnAir {
    /// Starting with `camera` on air; the first picture starts afresh.
    pub fn new(camera: usize) -> OnAir {
        OnAir { camera, away: false, fresh: true }
    }

    pub fn camera(&self) -> usize {
        self.camera
    }

    pub fn away(&self) -> bool {
        self.away
    }

    /// The director's program has `camera` on air.
    pub fn follow(&mut self, camera: usize) -> Option<Change> {
        if camera == self.camera {
            return None;
        }
        let from = std::mem::replace(&mut self.camera, camera);
        self.fresh = true;
        Some(Change::Cut { from, to: camera })
    }

    /// How long to wait for the camera's next frame before the slate.
    pub fn wait(&self) -> Duration {
        if self.away { SLATE_INTERVAL } else { CAMERA_AWAY }
    }

    /// A frame came from the camera on air.
    pub fn frame(&mut self) -> Option<Change> {
        std::mem::take(&mut self.away).then(|| {
            self.fresh = true;
            Change::Back
        })
    }

    /// None came within [`Self::wait`]: the slate goes out.
    pub fn no_frame(&mut self) -> Option<Change> {
        (!std::mem::replace(&mut self.away, true)).then(|| {
            self.fresh = true;
            Change::Away
        })
    }

    /// Nobody watches (nothing is sent); or the encoder was made anew:
    /// the next picture starts afresh either way.
    pub fn restart(&mut self) {
        self.fresh = true;
    }

    /// Whether this picture starts afresh (and so the next does not).
    pub fn take_fresh(&mut self) -> bool {
        std::mem::take(&mut self.fresh)
    }

    /// Whether this picture is encoded as a keyframe: a viewer `asked`, or
    /// it starts afresh.
    pub fn keyframe(&mut self, asked: bool) -> bool {
        asked || self.take_fresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_picture_and_the_first_after_a_cut_are_keyframes() {
        let mut on_air = OnAir::new(0);
        assert!(on_air.keyframe(false));
        assert!(!on_air.keyframe(false));
        assert!(on_air.keyframe(true), "a viewer asked");
        assert_eq!(on_air.follow(0), None, "the same camera: no cut");
        assert_eq!(on_air.follow(1), Some(Change::Cut { from: 0, to: 1 }));
        assert_eq!(on_air.camera(), 1);
        assert!(on_air.keyframe(false));
        assert!(!on_air.keyframe(false));
    }

    #[test]
    fn a_camera_silent_for_a_second_is_away_until_its_next_frame() {
        let mut on_air = OnAir::new(0);
        on_air.take_fresh();
        assert_eq!(on_air.wait(), CAMERA_AWAY);
        assert_eq!(on_air.frame(), None);
        assert_eq!(on_air.no_frame(), Some(Change::Away));
        assert!(on_air.away());
        // The slate starts with a keyframe, then goes out at its own rate.
        assert!(on_air.keyframe(false));
        assert_eq!(on_air.wait(), SLATE_INTERVAL);
        assert_eq!(on_air.no_frame(), None, "still away: said once");
        assert!(!on_air.keyframe(false));
        assert_eq!(on_air.frame(), Some(Change::Back));
        assert!(!on_air.away());
        assert!(on_air.keyframe(false), "the camera's picture starts afresh");
        assert_eq!(on_air.wait(), CAMERA_AWAY);
    }

    #[test]
    fn unwatched_pictures_leave_the_next_watched_one_fresh() {
        let mut on_air = OnAir::new(0);
        on_air.take_fresh();
        on_air.restart();
        assert!(on_air.take_fresh());
        // A viewer's request does not use up a pending fresh start.
        on_air.restart();
        assert!(on_air.keyframe(true));
        assert!(on_air.keyframe(false));
    }
}
