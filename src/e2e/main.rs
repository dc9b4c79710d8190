//! End-to-end tests: the whole daemon in-process on simulated hardware,
//! talking real HTTPS, real SQLite and real datagrams; and the `confcamd`
//! binary itself for the command line.

// Tests read the clock.
#![allow(clippy::disallowed_methods)]

mod admin;
mod alsa;
mod bounds;
mod checkin;
mod cli;
mod common;
mod crash;
mod daemon;
mod echo;
mod flood;
mod hearing;
mod mdns;
mod meeting;
mod metrics;
mod notify;
mod phone;
mod settings;
mod store;
#[cfg(feature = "faults")]
mod supervision;
mod tls;
mod update;
