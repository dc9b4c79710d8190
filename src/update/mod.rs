//! Updates: the box runs one of two slots (boot and root partitions) and
//! installs a signed RAUC bundle into the other; the new slot is tried once
//! and kept only when confcamd is healthy on it.
//!
//! - [`autoboot`] (sans-IO): the Raspberry Pi firmware's A/B boot switching
//!   (`autoboot.txt` with `tryboot_a_b=1`) as RAUC's custom bootloader
//!   backend sees it: which slot boots, which is tried once, which is good.
//! - [`backend`]: that backend as `confcamd boot-slot VERB…` runs it on the
//!   firmware's `autoboot.txt`.
//! - [`install`] (sans-IO): an update's state, moved on by `rauc install`'s
//!   output; [`rauc`]: the shell that runs RAUC's client.
//! - [`service`]: one update at a time for the web API (`/api/update`):
//!   the bundle received into the data partition, installed, and the
//!   restart into it.
//! - [`commit`]: marks the booted slot good once the box has been healthy.

pub mod autoboot;
pub mod backend;
pub mod commit;
pub mod install;
pub mod rauc;
pub mod service;

pub use autoboot::{Autoboot, Slot};
pub use install::UpdateState;
pub use rauc::Rauc;
pub use service::{Refusal, Updates, Upload};
