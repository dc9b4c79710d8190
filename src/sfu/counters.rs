//! What the media server has forwarded since the box started, for
//! `/metrics` (read without asking the SFU's task).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
    send_failures: AtomicU64,
    oversized: AtomicU64,
    twcc_refused: AtomicU64,
    dtls_refused: AtomicU64,
    session_panics: AtomicU64,
}

impl Counters {
    pub fn forwarded(&self, packets: u64, bytes: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Datagrams the socket refused to send (each lost, none of the others).
    pub fn send_failed(&self, datagrams: u64) {
        self.send_failures.fetch_add(datagrams, Ordering::Relaxed);
    }

    pub fn send_failures(&self) -> u64 {
        self.send_failures.load(Ordering::Relaxed)
    }

    /// An RTP packet too large to forward arrived, and was dropped.
    pub fn dropped_oversized(&self) {
        self.oversized.fetch_add(1, Ordering::Relaxed);
    }

    pub fn oversized(&self) -> u64 {
        self.oversized.load(Ordering::Relaxed)
    }

    /// A datagram with a transport-wide number str0m would mis-extend
    /// arrived, and was dropped (see `twcc_guard`).
    pub fn refused_twcc(&self) {
        self.twcc_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn twcc_refused(&self) -> u64 {
        self.twcc_refused.load(Ordering::Relaxed)
    }

    /// A datagram with a DTLS record OpenSSL would end the session over
    /// arrived, and was dropped (see `dtls_guard`).
    pub fn refused_dtls(&self) {
        self.dtls_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dtls_refused(&self) -> u64 {
        self.dtls_refused.load(Ordering::Relaxed)
    }

    /// str0m panicked in a participant's session, which was ended (see
    /// `engine::session::run`).
    pub fn session_panicked(&self) {
        self.session_panics.fetch_add(1, Ordering::Relaxed);
    }

    pub fn session_panics(&self) -> u64 {
        self.session_panics.load(Ordering::Relaxed)
    }

    /// RTP packets and payload bytes sent on to participants.
    pub fn totals(&self) -> (u64, u64) {
        (self.packets.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed))
    }
}
