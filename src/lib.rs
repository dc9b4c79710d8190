//! confcam: the firmware of a conference camera box.
//!
//! The daemon `confcamd` captures the room (cameras, a microphone array),
//! frames whoever speaks, plays the far end and cancels its echo, checks
//! known faces in, hosts the meeting's WebRTC SFU for the phones in the room,
//! serves its pages over HTTPS and keeps its state in SQLite. This page is
//! the map (`cargo doc --open` renders it); the README says how to run,
//! test and ship it.
//!
//! # Floors
//!
//! A module uses the ones below it, never one above (`src/layering.rs`
//! tests it), top to bottom:
//!
//! | floor | what it holds |
//! |---|---|
//! | [`app`] | wiring: builds the box from its parts, runs it, stops it; the room's media threads |
//! | [`web`] | the axum router: pages, the API, WHIP/WHEP, health and metrics |
//! | [`status`] | the running box's status: configuration, devices and their health, the store |
//! | [`vision`] | face check-in: models, tracking, the check-in rule, enrollment |
//! | [`store`] | SQLite: settings, people and their faces, meetings, runs |
//! | [`config`] | the TOML file and the stored settings laid over it |
//! | [`loudspeaker`] | the far end in the room: jitter buffers, decoding, mixing, ALSA playback |
//! | [`codec`] | H.264 and Opus for the room's own media |
//! | [`sfu`] | the meeting: str0m sessions, forwarding, simulcast layers, the media socket |
//! | [`speaker`] | who holds the floor among the participants |
//! | [`events`] | the event bus: devices, framing, check-ins, meetings |
//! | [`meeting`] | what a meeting is: on while faces are in the room or phones connected |
//! | [`director`] | which camera and shot, from where the talker is; what goes on air |
//! | [`update`] | signed A/B updates with RAUC: the Pi firmware's tryboot as its bootloader backend, `/api/update`'s installs, keeping a slot once healthy |
//! | [`system`] | systemd, logging, the host's names, device discovery, the wall clock, files a power cut leaves whole |
//! | [`audio`] | microphone-array signal processing: echo cancellation, direction, voice, mixdown |
//! | [`capture`] | cameras and microphones (V4L2, ALSA, simulated), their threads and health |
//! | [`hw`] | the button and the LED ring (GPIO/SPI, or simulated) |
//! | [`supervisor`] | every thread and task: started, watched, stopped |
//!
//! # Where decisions live
//!
//! Decisions are sans-IO cores: plain state and functions of their inputs
//! and a timestamp, tested on simulated time. The SFU engine
//! ([`sfu::Sfu`]: sessions, forwarding, layer choice in `sfu::layers`,
//! re-probing in `sfu::probe`), the dominant speaker
//! ([`speaker::DominantSpeaker`]), the director (shots, seats and the
//! program), what the room's video sends ([`director::OnAir`]), the
//! check-in rule and tracker (`vision::checkin`, `vision::tracker`), the
//! meeting's beginning and end ([`meeting::Meeting`]),
//! capture health and stalls ([`capture::SourceHealth`]), certificate
//! renewal, the join-code throttle. The threads and tasks around them only
//! move data and read clocks: `.clippy.toml` forbids `Instant::now` and
//! `SystemTime::now`, and each shell module says it is one with an explicit
//! `#![allow(clippy::disallowed_methods)]`.
//!
//! # Threads and what watches them
//!
//! Every long-running thread and tokio task starts under one
//! [`supervisor::Supervisor`]. A part that returns, fails or panics while
//! the box is not stopping ends the daemon with its name and reason (exit
//! 1: systemd restarts it). The parts that must keep going round (`sfu`,
//! `room-audio`, `room-video`, `checkin`; capture through its health) report
//! it, and `WATCHDOG=1` goes to systemd only while all of them do. One
//! cancellation token stops everything, waited for with a deadline. A
//! panic inside one participant's str0m session costs that participant
//! only: the SFU engine catches it, ends the session and counts it.
//!
//! | thread | what it does |
//! |---|---|
//! | `capture-camera-<name>`, `capture-microphone` | read a device, broadcast frames or 10–20 ms blocks |
//! | `capture-loudspeaker` | plays the far end's mix and broadcasts what it played (the echo reference) |
//! | `room-audio` | cleans the array (AEC3, noise, gain), hears directions, directs, mixes, encodes Opus |
//! | `room-video` | the camera on air, cropped to the shot, encoded H.264 (or a camera's own H.264) |
//! | `sfu` | the media socket and the SFU engine, on a runtime of its own |
//! | `checkin` | looks at the main camera a few times a second, checks people in |
//! | `gpio` | the mute button, the privacy switch, the LED ring |
//! | tokio tasks | HTTPS, certificate renewal, settings followers, the meeting, device events, the watchdog |
//!
//! # How things flow
//!
//! - **A packet from a phone:** UDP on the media socket → the `sfu` thread
//!   reads a burst → [`sfu::Sfu::receive`] hands each datagram to its
//!   participant's str0m session (past two guards for str0m's and
//!   OpenSSL's weak spots, `sfu::twcc_guard`, `sfu::dtls_guard`) → each
//!   RTP packet is forwarded to every viewer's session (its layer chosen,
//!   sequence rewritten) → each touched session runs once → encrypted
//!   datagrams go out in one `sendmmsg`. Its Opus also goes to the
//!   loudspeaker thread when the box plays the far end.
//! - **A frame from a camera:** the capture thread broadcasts it → the
//!   `room-video` thread takes the on-air camera's frames, crops them to the
//!   director's shot, encodes and packetizes them → the SFU sends them to
//!   the phones as the room's video. The `checkin` thread samples the main
//!   camera's frames for faces; the director uses those faces to aim its
//!   speaker shots.
//! - **An audio block from the array:** the capture thread broadcasts it →
//!   `room-audio` cancels the loudspeaker's echo with what was played as the
//!   reference, finds the talker's direction and voice, tells the director
//!   (the camera follows) and the LED ring, mixes toward the talker and
//!   encodes Opus → the SFU sends it as the room's voice.
//! - **A change:** devices, framing, check-ins and meetings go on the event
//!   bus ([`events::BoxEvent`]) for the pages and the tests.
//! - **A meeting:** the `follow-meeting` task feeds [`meeting::Meeting`]
//!   the faces check-in sees and the phones the SFU counts; when it ends,
//!   `checkin` closes its attendance, a rotating join code changes and the
//!   display's welcomes go.

// Cores are given the time (.clippy.toml); tests drive them from a clock.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod app;
pub mod audio;
pub mod capture;
pub mod codec;
pub mod config;
pub mod director;
pub mod events;
pub mod hw;
pub mod loudspeaker;
pub mod meeting;
pub mod sfu;
pub mod speaker;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod system;
pub mod update;
pub mod vision;
pub mod web;

#[cfg(test)]
mod layering;
