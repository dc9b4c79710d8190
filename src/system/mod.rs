//! The box's place in its OS: systemd notification and watchdog, logging,
//! host name and addresses, what devices are plugged in, and the supervisor
//! every long-running thread and task starts under.

pub mod devices;
#[cfg(feature = "faults")]
pub mod faults;
pub mod logging;
mod net;
mod notify;
mod supervisor;
mod watchdog;

pub use net::{HostIdentity, to_label};
pub use notify::{Notifier, NotifyState};
pub use supervisor::{Ended, Part, Progress, Supervisor};
pub use watchdog::{Watchdog, stalled_sources};
