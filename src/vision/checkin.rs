//! Who checked in: the decision, sans-IO.
//!
//! Each frame's faces go to [`Attendance::observe`], which follows them
//! ([`Tracker`]) and says which faces need an embedding now. The shell embeds
//! those and reports who each one is with [`Attendance::identified`]. A
//! person checks in after `matches` consistent recognitions within `window`;
//! until then a new face is embedded on every processed frame, afterwards
//! only every `refresh` (to notice a track that jumped to someone else), and
//! an unknown face ever more rarely. Nothing about an unknown face outlives
//! its track.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::Rect;
use super::gallery::{Match, PersonId};
use super::tracker::{TrackId, Tracker};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckInRules {
    /// Recognitions of the same person a check-in needs...
    pub matches: usize,
    /// ...within this long.
    pub window: Duration,
    /// How often a recognised face is embedded again.
    pub refresh: Duration,
    /// First wait before an unknown face is tried again (doubles each try).
    pub retry_unknown: Duration,
    /// How often a present, checked-in person is reported as still here.
    pub seen_every: Duration,
    /// A face unseen this long has left.
    pub track_age: Duration,
}

impl Default for CheckInRules {
    fn default() -> Self {
        CheckInRules {
            matches: 3,
            window: Duration::from_secs(5),
            refresh: Duration::from_secs(30),
            retry_unknown: Duration::from_secs(2),
            seen_every: Duration::from_secs(60),
            track_age: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttendanceEvent {
    /// `person` checked in (first time in this meeting).
    CheckedIn { person: PersonId, similarity: f32, at: Instant },
    /// A checked-in person is still in the room.
    StillHere { person: PersonId, at: Instant },
}

/// A face in the current frame, for the director and the admin page.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedFace {
    pub track: TrackId,
    pub rect: Rect,
    pub person: Option<PersonId>,
}

#[derive(Debug, Default)]
struct TrackState {
    last_embedded: Option<Instant>,
    /// Who the latest recognitions say it is, and when.
    matches: VecDeque<(Instant, Match)>,
    unknown_tries: u32,
    /// The person this track checked in (or was seen) as.
    confirmed: Option<PersonId>,
}

#[derive(Debug)]
pub struct Attendance {
    rules: CheckInRules,
    tracker: Tracker,
    tracks: HashMap<TrackId, TrackState>,
    checked_in: HashSet<PersonId>,
    last_reported: HashMap<PersonId, Instant>,
    events: VecDeque<AttendanceEvent>,
}

impl Attendance {
    pub fn new(rules: CheckInRules) -> Attendance {
        Attendance {
            rules,
            tracker: Tracker::new(rules.track_age),
            tracks: HashMap::new(),
            checked_in: HashSet::new(),
            last_reported: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// A new meeting: everyone checks in afresh.
    pub fn new_meeting(&mut self) {
        self.checked_in.clear();
        self.last_reported.clear();
        for state in self.tracks.values_mut() {
            state.confirmed = None;
            state.matches.clear();
            state.last_embedded = None;
        }
    }

    /// Takes the faces of a frame seen at `now`; returns the indices (into
    /// `faces`) of those to embed now, each with its track.
    pub fn observe(&mut self, now: Instant, faces: &[Rect]) -> Vec<(usize, TrackId)> {
        let ids = self.tracker.update(now, faces);
        for gone in self.tracker.take_lost() {
            self.tracks.remove(&gone);
        }
        let mut due = Vec::new();
        for (index, &id) in ids.iter().enumerate() {
            let state = self.tracks.entry(id).or_default();
            let wait = if state.confirmed.is_some() {
                self.rules.refresh
            } else if state.matches.is_empty() && state.unknown_tries > 0 {
                self.rules.retry_unknown * 2u32.pow(state.unknown_tries.min(4) - 1)
            } else {
                Duration::ZERO
            };
            if state.last_embedded.is_none_or(|t| now.duration_since(t) >= wait) {
                due.push((index, id));
            }
            if let Some(person) = state.confirmed {
                self.report_still_here(person, now);
            }
        }
        due
    }

    /// Who the face of `track` embedded at `now` is (`None`: nobody enrolled).
    pub fn identified(&mut self, now: Instant, track: TrackId, result: Option<Match>) {
        let Some(state) = self.tracks.get_mut(&track) else { return };
        state.last_embedded = Some(now);
        let Some(found) = result else {
            // Someone else now, or never anyone: start over.
            state.matches.clear();
            state.confirmed = None;
            state.unknown_tries += 1;
            return;
        };
        state.unknown_tries = 0;
        if state.matches.back().is_some_and(|(_, m)| m.person != found.person) {
            state.matches.clear();
            state.confirmed = None;
        }
        state.matches.push_back((now, found));
        while state.matches.front().is_some_and(|(t, _)| now.duration_since(*t) > self.rules.window) {
            state.matches.pop_front();
        }
        if state.confirmed.is_none() && state.matches.len() >= self.rules.matches {
            state.confirmed = Some(found.person);
            if self.checked_in.insert(found.person) {
                let similarity = state.matches.iter().map(|(_, m)| m.similarity).fold(f32::MAX, f32::min);
                self.events.push_back(AttendanceEvent::CheckedIn { person: found.person, similarity, at: now });
                self.last_reported.insert(found.person, now);
            }
        }
    }

    fn report_still_here(&mut self, person: PersonId, now: Instant) {
        let due = self.last_reported.get(&person).is_none_or(|t| now.duration_since(*t) >= self.rules.seen_every);
        if due {
            self.last_reported.insert(person, now);
            self.events.push_back(AttendanceEvent::StillHere { person, at: now });
        }
    }

    pub fn poll_event(&mut self) -> Option<AttendanceEvent> {
        self.events.pop_front()
    }

    /// The faces of the latest frame, with whoever each has been confirmed as.
    pub fn faces(&self, now: Instant) -> Vec<TrackedFace> {
        self.tracker
            .tracks()
            .iter()
            .filter(|t| t.last_seen == now)
            .map(|t| TrackedFace {
                track: t.id,
                rect: t.rect,
                person: self.tracks.get(&t.id).and_then(|s| s.confirmed),
            })
            .collect()
    }

    /// Forgets `person` (deleted by the admin).
    pub fn forget(&mut self, person: PersonId) {
        self.checked_in.remove(&person);
        self.last_reported.remove(&person);
        for state in self.tracks.values_mut() {
            if state.confirmed == Some(person) || state.matches.iter().any(|(_, m)| m.person == person) {
                *state = TrackState::default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(200);

    fn at(x: f32) -> Rect {
        Rect { x, y: 50.0, w: 60.0, h: 70.0 }
    }

    fn matched(person: i64) -> Option<Match> {
        Some(Match { person: PersonId(person), similarity: 0.6 })
    }

    /// Runs `frames` frames of one face at x = 0 answering `who` to every
    /// embedding; returns how many embeddings were asked for and the events.
    fn run(a: &mut Attendance, t0: Instant, frames: u32, who: Option<Match>) -> (usize, Vec<AttendanceEvent>) {
        let mut asked = 0;
        for n in 0..frames {
            let now = t0 + FRAME * n;
            for (_, track) in a.observe(now, &[at(0.0)]) {
                asked += 1;
                a.identified(now, track, who);
            }
        }
        (asked, std::iter::from_fn(|| a.poll_event()).collect())
    }

    #[test]
    fn three_consistent_matches_check_a_person_in_once() {
        let t0 = Instant::now();
        let mut a = Attendance::new(CheckInRules::default());
        let (asked, events) = run(&mut a, t0, 3, matched(7));
        assert_eq!(asked, 3);
        assert_eq!(
            events,
            vec![AttendanceEvent::CheckedIn { person: PersonId(7), similarity: 0.6, at: t0 + FRAME * 2 }]
        );
        assert_eq!(a.faces(t0 + FRAME * 2)[0].person, Some(PersonId(7)));
        // Then the face is embedded again only every 30 s, and reported
        // still here every minute.
        let (asked, events) = run(&mut a, t0 + FRAME * 3, 5 * 65, matched(7));
        assert_eq!(asked, 2, "refreshes at 30 s and 60 s");
        assert_eq!(events, vec![AttendanceEvent::StillHere { person: PersonId(7), at: t0 + FRAME * 302 }]);
    }

    #[test]
    fn matches_must_agree_and_fall_within_the_window() {
        let t0 = Instant::now();
        let mut a = Attendance::new(CheckInRules::default());
        let id = a.observe(t0, &[at(0.0)])[0].1;
        a.identified(t0, id, matched(1));
        a.observe(t0 + FRAME, &[at(0.0)]);
        a.identified(t0 + FRAME, id, matched(2));
        a.observe(t0 + FRAME * 2, &[at(0.0)]);
        a.identified(t0 + FRAME * 2, id, matched(1));
        assert_eq!(a.poll_event(), None, "1, 2, 1 is not three of anyone");
        // Three of person 3, but spread over more than 5 s.
        let mut a = Attendance::new(CheckInRules { retry_unknown: Duration::ZERO, ..CheckInRules::default() });
        for n in [0u32, 3, 6] {
            let now = t0 + Duration::from_secs(n as u64);
            for (_, track) in a.observe(now, &[at(0.0)]) {
                a.identified(now, track, matched(3));
            }
            // Frames between, where the face is not looked at.
            let _ = a.observe(now + Duration::from_millis(1500), &[at(0.0)]);
        }
        assert_eq!(a.poll_event(), None);
    }

    #[test]
    fn unknown_faces_are_retried_ever_more_rarely_and_forgotten_with_their_track() {
        let t0 = Instant::now();
        let mut a = Attendance::new(CheckInRules::default());
        // 60 s of an unknown face at 5 fps: tries at 0, 2, 6, 14, 30, 46 s.
        let (asked, events) = run(&mut a, t0, 300, None);
        assert_eq!(asked, 6);
        assert!(events.is_empty());
        // The face leaves; its track and what was learnt go with it.
        a.observe(t0 + Duration::from_secs(63), &[]);
        assert!(a.tracks.is_empty());
    }

    #[test]
    fn a_new_meeting_checks_people_in_again_and_a_deleted_person_is_forgotten() {
        let t0 = Instant::now();
        let mut a = Attendance::new(CheckInRules::default());
        run(&mut a, t0, 3, matched(7));
        assert!(a.poll_event().is_none());
        a.new_meeting();
        let (_, events) = run(&mut a, t0 + FRAME * 3, 3, matched(7));
        assert!(matches!(events.as_slice(), [AttendanceEvent::CheckedIn { person: PersonId(7), .. }]), "{events:?}");
        a.forget(PersonId(7));
        assert_eq!(a.faces(t0 + FRAME * 5)[0].person, None);
    }
}
