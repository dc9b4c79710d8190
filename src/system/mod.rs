//! The box's place in its OS: systemd notification and watchdog, logging,
//! host name and addresses, what devices are plugged in, the wall clock,
//! files a power cut leaves whole.

pub mod devices;
pub mod durable;
pub mod logging;
mod net;
mod notify;
mod watchdog;

pub use net::{HostIdentity, local_name, to_label};
pub use notify::{Notifier, NotifyState};
pub use watchdog::{Watchdog, stalled_sources};

/// The wall clock, in Unix seconds (what the store records). Read by the
/// shells (threads, handlers), handed to the cores.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
