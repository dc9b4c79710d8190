//! What a meeting is, in one place: it is on while anyone takes part,
//! people in the room (faces the camera sees) and phones alike. It begins
//! when the first of them arrives and ends once no phone is connected and
//! no face has been seen for the idle time, so a room of people whose
//! phones all dropped is still the same meeting, and so is a phone call
//! from an empty room. Without check-in the box sees no faces and the
//! meeting is its phones.
//!
//! Sans-IO: the app's `follow-meeting` task feeds it faces and phones as
//! they change and publishes its changes on the event bus, where the join
//! code's rotation, attendance and the display's welcomes follow them.

use std::time::{Duration, Instant};

/// A meeting began or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Began,
    Ended { lasted: Duration },
}

#[derive(Debug)]
pub struct Meeting {
    /// How long the room may show no face (and have no phone) before the
    /// meeting is over.
    idle: Duration,
    phones: usize,
    last_face: Option<Instant>,
    /// When the meeting on now began.
    began: Option<Instant>,
}

impl Meeting {
    pub fn new(idle: Duration) -> Self {
        Meeting { idle, phones: 0, last_face: None, began: None }
    }

    /// The camera sees `count` faces now.
    pub fn faces(&mut self, now: Instant, count: usize) {
        if count > 0 {
            self.last_face = Some(now);
        }
    }

    /// `count` phones are in the meeting now.
    pub fn phones(&mut self, count: usize) {
        self.phones = count;
    }

    pub fn is_on(&self) -> bool {
        self.began.is_some()
    }

    /// Whether anyone takes part at `now`.
    fn anyone(&self, now: Instant) -> bool {
        self.phones > 0 || self.last_face.is_some_and(|t| now.saturating_duration_since(t) < self.idle)
    }

    /// The change at `now`, if there is one.
    pub fn poll(&mut self, now: Instant) -> Option<Change> {
        match (self.began, self.anyone(now)) {
            (None, true) => {
                self.began = Some(now);
                Some(Change::Began)
            }
            (Some(began), false) => {
                self.began = None;
                // A face seen long ago must not start the next one.
                self.last_face = None;
                Some(Change::Ended { lasted: now.saturating_duration_since(began) })
            }
            _ => None,
        }
    }

    /// When the meeting would end if nothing changes (none while a phone is
    /// connected, or no meeting is on).
    pub fn deadline(&self) -> Option<Instant> {
        let began = self.began?;
        if self.phones > 0 {
            return None;
        }
        Some(self.last_face.map_or(began, |t| t + self.idle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(15 * 60);

    fn at(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn a_phone_call_from_an_empty_room_begins_and_ends_with_its_phones() {
        let t0 = Instant::now();
        let mut m = Meeting::new(IDLE);
        assert_eq!(m.poll(t0), None);
        m.phones(1);
        assert_eq!(m.poll(at(t0, 1)), Some(Change::Began));
        m.phones(2);
        assert_eq!(m.poll(at(t0, 2)), None);
        assert_eq!(m.deadline(), None, "phones are there: no end in sight");
        m.phones(0);
        assert_eq!(m.deadline(), Some(at(t0, 1)), "nobody is left: it is over");
        assert_eq!(m.poll(at(t0, 61)), Some(Change::Ended { lasted: Duration::from_secs(60) }));
        assert_eq!(m.poll(at(t0, 62)), None);
        assert!(!m.is_on());
    }

    #[test]
    fn people_in_the_room_keep_the_meeting_on_after_the_last_phone_leaves() {
        let t0 = Instant::now();
        let mut m = Meeting::new(IDLE);
        m.faces(t0, 3);
        assert_eq!(m.poll(t0), Some(Change::Began), "the first face begins it");
        m.phones(1);
        m.phones(0);
        m.faces(at(t0, 600), 2);
        assert_eq!(m.poll(at(t0, 600)), None, "the same meeting: the room is still there");
        m.faces(at(t0, 601), 0);
        assert_eq!(m.deadline(), Some(at(t0, 600) + IDLE));
        assert_eq!(m.poll(at(t0, 600) + IDLE - Duration::from_secs(1)), None);
        assert!(matches!(m.poll(at(t0, 600) + IDLE), Some(Change::Ended { .. })), "the room emptied");
    }

    #[test]
    fn a_phone_keeps_it_on_after_the_room_empties_and_a_new_face_begins_the_next() {
        let t0 = Instant::now();
        let mut m = Meeting::new(IDLE);
        m.faces(t0, 1);
        m.phones(1);
        assert_eq!(m.poll(t0), Some(Change::Began));
        assert_eq!(m.poll(t0 + 2 * IDLE), None, "a phone still takes part");
        m.phones(0);
        assert!(matches!(m.poll(t0 + 2 * IDLE), Some(Change::Ended { .. })));
        // Someone comes in later: a new meeting.
        let later = t0 + 3 * IDLE;
        assert_eq!(m.poll(later), None, "the old face does not count");
        m.faces(later, 1);
        assert_eq!(m.poll(later), Some(Change::Began));
    }

    #[test]
    fn faces_that_come_and_go_within_the_idle_time_are_one_meeting() {
        let t0 = Instant::now();
        let mut m = Meeting::new(Duration::from_secs(60));
        let mut changes = Vec::new();
        // Someone looks away for 50 s at a time, for ten minutes.
        for s in (0..600).step_by(10) {
            m.faces(at(t0, s), usize::from(s % 60 == 0));
            changes.extend(m.poll(at(t0, s)));
        }
        assert_eq!(changes, vec![Change::Began]);
    }
}
