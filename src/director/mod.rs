//! The director: which shot the room's video shows, from where the room
//! hears speech. Speaker view (a crop of one camera onto the talker) or group
//! view (the widest camera, whole). Sans-IO: evidence with timestamps in,
//! shots out; tests drive it on simulated time.
//!
//! Rules, as commercial conference cameras behave:
//! - a new talker needs [`DirectorConfig::reaction`] of consistent evidence
//!   (so a cough, a door or a "mm-hm" never moves the picture);
//! - a shot is held at least [`DirectorConfig::hold`];
//! - after [`DirectorConfig::group_after_silence`] without speech, group view;
//! - two people trading short turns (ping-pong) get group view until one of
//!   them speaks on for [`DirectorConfig::settle`];
//! - moves within a camera pan smoothly (or cut); a change of camera cuts.
//!
//! The admin may pin the framing instead ([`Mode`]): always the whole room,
//! or always the last talker (no group view for silence or ping-pong).

mod framing;
pub mod on_air;
mod program;
mod reframe;
mod seats;

pub use framing::{CameraView, Crop};
pub use on_air::OnAir;
pub use program::Program;
pub use reframe::Reframer;
pub use seats::Seats;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What the director may frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Speaker view for a talker, group view for silence and ping-pong.
    #[default]
    Auto,
    /// Always the whole room: for a workshop, or a room that prefers it.
    Group,
    /// Always a talker: the last one stays framed through silence.
    Speaker,
}

/// How the director behaves; all times configurable.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectorConfig {
    pub mode: Mode,
    pub reaction: Duration,
    pub hold: Duration,
    pub group_after_silence: Duration,
    /// Speaker changes within `pingpong_window` that count as ping-pong.
    pub pingpong_switches: usize,
    pub pingpong_window: Duration,
    /// How long one talker must speak on to leave ping-pong's group view.
    pub settle: Duration,
    /// Gaps in a talker's evidence shorter than this do not end their turn
    /// (pauses between words).
    pub pause: Duration,
    /// Pan time for a move within one camera; zero cuts.
    pub pan: Duration,
    /// Width of the speaker view, as a share of the camera's picture.
    pub zoom: f32,
    /// How much audio one piece of evidence covers: a talker's turn starts
    /// that long before their first evidence, since they were heard from
    /// then on.
    pub evidence_span: Duration,
}

impl Default for DirectorConfig {
    fn default() -> Self {
        DirectorConfig {
            mode: Mode::Auto,
            reaction: Duration::from_millis(500),
            hold: Duration::from_secs(2),
            group_after_silence: Duration::from_secs(3),
            pingpong_switches: 4,
            pingpong_window: Duration::from_secs(10),
            settle: Duration::from_secs(4),
            pause: Duration::from_millis(400),
            pan: Duration::from_millis(600),
            zoom: 0.5,
            evidence_span: Duration::from_millis(u64::from(crate::audio::EVIDENCE_MS)),
        }
    }
}

/// What the room's video shows.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shot {
    Group,
    /// Framing the talker at this seat (its azimuth, degrees).
    Speaker {
        seat: usize,
        azimuth_deg: f32,
    },
}

/// A shot on a camera, with the crop to show.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Framing {
    pub shot: Shot,
    /// Index into the cameras the director was given.
    pub camera: usize,
    pub crop: Crop,
}

/// A talker's current turn: who, and since when.
#[derive(Debug, Clone, Copy)]
struct Turn {
    seat: usize,
    since: Instant,
    last_heard: Instant,
}

pub struct Director {
    config: DirectorConfig,
    cameras: Vec<CameraView>,
    seats: Seats,
    turn: Option<Turn>,
    last_speech: Option<Instant>,
    program: Program,
    /// When speaker shots changed, for ping-pong.
    switches: VecDeque<Instant>,
    pingpong: bool,
}

impl Director {
    /// `cameras` must not be empty; the widest one takes group view.
    pub fn new(config: DirectorConfig, cameras: Vec<CameraView>, now: Instant) -> Self {
        assert!(!cameras.is_empty(), "a director needs a camera");
        let widest = framing::widest(&cameras);
        Director {
            cameras,
            seats: Seats::default(),
            turn: None,
            last_speech: None,
            // The opening group view needs no holding.
            program: Program::cut(
                Framing { shot: Shot::Group, camera: widest, crop: Crop::FULL },
                now.checked_sub(config.hold).unwrap_or(now),
            ),
            switches: VecDeque::new(),
            pingpong: false,
            config,
        }
    }

    /// New timings (the admin changed them); the shot on air and what the
    /// director knows of the room stay.
    pub fn set_config(&mut self, config: DirectorConfig) {
        if config.mode != self.config.mode {
            // Ping-pong is auto mode's call; a new mode starts it afresh.
            self.pingpong = false;
            self.switches.clear();
        }
        self.config = config;
    }

    /// One piece of evidence: at `now`, speech from `azimuth_deg`, or no
    /// speech (`None`). Returns the new framing when the shot changes.
    pub fn hear(&mut self, now: Instant, azimuth_deg: Option<f32>) -> Option<Framing> {
        if let Some(azimuth) = azimuth_deg {
            let seat = self.seats.place(azimuth, now);
            self.last_speech = Some(now);
            self.turn = match self.turn {
                Some(t) if t.seat == seat && now.duration_since(t.last_heard) <= self.config.pause => {
                    Some(Turn { last_heard: now, ..t })
                }
                _ => {
                    let since = now.checked_sub(self.config.evidence_span).unwrap_or(now);
                    Some(Turn { seat, since, last_heard: now })
                }
            };
        }
        self.decide(now)
    }

    fn decide(&mut self, now: Instant) -> Option<Framing> {
        let on_group = self.program.framing.shot == Shot::Group;
        if self.config.mode == Mode::Group {
            // The admin asked for it: no hold to wait out.
            return (!on_group).then(|| self.cut_to_group(now));
        }
        let held = now.duration_since(self.program.since) >= self.config.hold;
        let silent = self.last_speech.is_none_or(|t| now.duration_since(t) >= self.config.group_after_silence);
        if silent && self.config.mode == Mode::Auto {
            self.pingpong = false;
            return (!on_group && held).then(|| self.cut_to_group(now));
        }
        let turn = self.turn?;
        let speaking_for = turn.last_heard.duration_since(turn.since);
        if now.duration_since(turn.last_heard) > self.config.pause || speaking_for < self.config.reaction {
            return None;
        }
        if self.pingpong {
            if speaking_for < self.config.settle {
                return None;
            }
            self.pingpong = false;
            self.switches.clear();
        }
        let on_this_seat = matches!(self.program.framing.shot, Shot::Speaker { seat, .. } if seat == turn.seat);
        if on_this_seat || !held {
            return None;
        }
        if !on_group && self.config.mode == Mode::Auto {
            self.switches.push_back(now);
            while self.switches.front().is_some_and(|&t| now.duration_since(t) > self.config.pingpong_window) {
                self.switches.pop_front();
            }
            if self.switches.len() >= self.config.pingpong_switches {
                self.pingpong = true;
                return Some(self.cut_to_group(now));
            }
        }
        let azimuth_deg = self.seats.azimuth(turn.seat);
        let camera = framing::best_camera(&self.cameras, azimuth_deg);
        let crop = self.cameras[camera].speaker_crop(azimuth_deg, self.config.zoom);
        Some(self.put_on_air(Framing { shot: Shot::Speaker { seat: turn.seat, azimuth_deg }, camera, crop }, now))
    }

    fn cut_to_group(&mut self, now: Instant) -> Framing {
        let camera = framing::widest(&self.cameras);
        self.put_on_air(Framing { shot: Shot::Group, camera, crop: Crop::FULL }, now)
    }

    /// Takes `next` on air at `now`.
    fn put_on_air(&mut self, next: Framing, now: Instant) -> Framing {
        self.program = self.program.then(next, now, self.config.pan);
        next
    }

    /// The shot on air (its final crop, whatever the pan's progress).
    pub fn on_air(&self) -> Framing {
        self.program.framing
    }

    /// The shot on air with its pan.
    pub fn program(&self) -> Program {
        self.program
    }

    /// The crop to show at `now`: along the pan while one is under way.
    pub fn crop_at(&self, now: Instant) -> Crop {
        self.program.crop_at(now)
    }

    /// Who is talking at `now` (their seat and its azimuth), if anyone: the
    /// talker of the current turn, until a pause longer than
    /// [`DirectorConfig::pause`].
    pub fn talker(&self, now: Instant) -> Option<(usize, f32)> {
        let turn = self.turn.filter(|t| now.duration_since(t.last_heard) <= self.config.pause)?;
        Some((turn.seat, self.seats.azimuth(turn.seat)))
    }

    /// Where the room's talkers sit, as heard so far.
    pub fn seats(&self) -> &Seats {
        &self.seats
    }
}

#[cfg(test)]
mod tests;
