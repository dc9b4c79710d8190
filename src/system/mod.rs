//! The box's place in its OS: systemd notification and watchdog, logging,
//! host name and addresses, and what devices are plugged in.

pub mod devices;
pub mod logging;
mod net;
mod notify;
mod watchdog;
mod worker;

pub use net::{HostIdentity, to_label};
pub use notify::{Notifier, NotifyState};
pub use watchdog::{Watchdog, stalled_sources};
pub use worker::Worker;
