//! Updates: the box runs one of two root slots and installs a signed RAUC
//! bundle into the other; the new slot is tried once and kept only when
//! confcamd is healthy on it.
//!
//! - [`autoboot`] (sans-IO): the Raspberry Pi firmware's A/B boot switching
//!   (`autoboot.txt` with `tryboot_a_b=1`) as RAUC's custom bootloader
//!   backend sees it: which slot boots, which is tried once, which is good.
//! - [`backend`]: that backend as `confcamd boot-slot VERB…` runs it on the
//!   firmware's `autoboot.txt`.

pub mod autoboot;
pub mod backend;

pub use autoboot::{Autoboot, Slot};
