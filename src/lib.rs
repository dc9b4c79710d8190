//! confcam: the firmware of a conference camera box.
//!
//! The daemon `confcamd` captures the room (camera, microphone array), serves
//! its web pages over HTTPS, and keeps its state in SQLite. Decisions live in
//! sans-IO cores tested on simulated time; thin threads and tokio tasks move
//! data between devices, sockets and those cores. Every such thread and task
//! runs under one [`supervisor::Supervisor`]: a part that ends or stalls ends the
//! daemon (systemd restarts it), and one token stops them all. See
//! `ARCHITECTURE.md` in the design folder and the README for the map.

pub mod app;
pub mod audio;
pub mod capture;
pub mod codec;
pub mod config;
pub mod director;
pub mod events;
pub mod hw;
pub mod loudspeaker;
pub mod sfu;
pub mod speaker;
pub mod store;
pub mod supervisor;
pub mod system;
pub mod vision;
pub mod web;

#[cfg(test)]
mod layering;
