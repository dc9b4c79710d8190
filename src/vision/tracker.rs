//! Follows faces from frame to frame, so a face is recognised once per
//! track instead of once per frame. Boxes are matched by overlap (IoU), and
//! by centre distance when a face moved too far between frames to overlap.

use std::time::{Duration, Instant};

use super::Rect;

pub type TrackId = u64;

#[derive(Debug, Clone)]
pub struct Track {
    pub id: TrackId,
    pub rect: Rect,
    pub last_seen: Instant,
}

#[derive(Debug)]
pub struct Tracker {
    tracks: Vec<Track>,
    next: TrackId,
    /// A track not seen for this long is gone (the person left or turned away).
    max_age: Duration,
    lost: Vec<TrackId>,
}

const MIN_IOU: f32 = 0.3;
/// Centres closer than a face width are the same face (at 5 fps a walking
/// person moves about that far between frames).
const MAX_SHIFT: f32 = 1.0;

impl Tracker {
    pub fn new(max_age: Duration) -> Tracker {
        Tracker { tracks: Vec::new(), next: 1, max_age, lost: Vec::new() }
    }

    /// The track of each of `rects` (seen at `now`), in the same order: an
    /// existing one it continues, or a new one.
    pub fn update(&mut self, now: Instant, rects: &[Rect]) -> Vec<TrackId> {
        // Candidate pairs, best first: overlap, then closeness of centres.
        let mut pairs = Vec::new();
        for (f, rect) in rects.iter().enumerate() {
            for (t, track) in self.tracks.iter().enumerate() {
                let iou = rect.iou(&track.rect);
                let (cx, cy) = rect.centre();
                let (tx, ty) = track.rect.centre();
                let shift = (cx - tx).hypot(cy - ty) / rect.w.max(track.rect.w).max(1.0);
                if iou >= MIN_IOU || shift <= MAX_SHIFT {
                    pairs.push((iou, -shift, f, t));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
        let mut face_track: Vec<Option<usize>> = vec![None; rects.len()];
        let mut taken = vec![false; self.tracks.len()];
        for (_, _, f, t) in pairs {
            if face_track[f].is_none() && !taken[t] {
                face_track[f] = Some(t);
                taken[t] = true;
            }
        }
        let ids = rects
            .iter()
            .zip(face_track)
            .map(|(rect, t)| match t {
                Some(t) => {
                    let track = &mut self.tracks[t];
                    track.rect = *rect;
                    track.last_seen = now;
                    track.id
                }
                None => {
                    let id = self.next;
                    self.next += 1;
                    self.tracks.push(Track { id, rect: *rect, last_seen: now });
                    id
                }
            })
            .collect();
        let max_age = self.max_age;
        let lost = &mut self.lost;
        self.tracks.retain(|t| {
            let keep = now.duration_since(t.last_seen) < max_age;
            if !keep {
                lost.push(t.id);
            }
            keep
        });
        ids
    }

    /// Tracks that ended since the last call.
    pub fn take_lost(&mut self) -> Vec<TrackId> {
        std::mem::take(&mut self.lost)
    }

    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x: f32) -> Rect {
        Rect { x, y: 100.0, w: 40.0, h: 50.0 }
    }

    #[test]
    fn a_moving_face_keeps_its_track_and_a_new_face_gets_one() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(Duration::from_secs(1));
        let first = tracker.update(t0, &[rect(0.0), rect(300.0)]);
        assert_eq!(first, vec![1, 2]);
        // Both move; the first jumps 20 px (overlapping), the second 20 px too.
        let step = Duration::from_millis(200);
        assert_eq!(tracker.update(t0 + step, &[rect(320.0), rect(20.0)]), vec![2, 1]);
        // A fast move with no overlap still continues the nearest track.
        assert_eq!(tracker.update(t0 + step * 2, &[rect(56.0)]), vec![1]);
        assert_eq!(tracker.update(t0 + step * 3, &[rect(56.0), rect(600.0)]), vec![1, 3]);
    }

    #[test]
    fn a_track_unseen_for_its_max_age_is_lost() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(Duration::from_secs(1));
        tracker.update(t0, &[rect(0.0), rect(300.0)]);
        tracker.update(t0 + Duration::from_millis(600), &[rect(0.0)]);
        assert!(tracker.take_lost().is_empty());
        tracker.update(t0 + Duration::from_millis(1200), &[rect(0.0)]);
        assert_eq!(tracker.take_lost(), vec![2]);
        assert_eq!(tracker.tracks().len(), 1);
        // The same place later is a new person.
        assert_eq!(tracker.update(t0 + Duration::from_millis(1400), &[rect(0.0), rect(300.0)]), vec![1, 3]);
    }
}
