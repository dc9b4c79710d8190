//! What the media server has forwarded, and what it held off or contained,
//! since the box started, for `/metrics` (read without asking the SFU's
//! task).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    packets: AtomicU64,
    bytes: AtomicU64,
    send_failures: AtomicU64,
    incidents: [AtomicU64; Incident::ALL.len()],
}

/// What the SFU held off or contained, each counted for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incident {
    /// An RTP packet too large to forward on a 1500-byte network, dropped.
    OversizedPacket,
    /// RTP with a transport-wide number str0m would mis-extend, dropped
    /// (see `twcc_guard`).
    TwccNumber,
    /// A datagram with a DTLS record OpenSSL would end the session over,
    /// dropped (see `dtls_guard`).
    DtlsRecord,
    /// str0m panicked in a participant's session, which was ended (see
    /// `engine::session::run`).
    SessionPanic,
}

impl Incident {
    pub const ALL: [Incident; 4] =
        [Incident::OversizedPacket, Incident::TwccNumber, Incident::DtlsRecord, Incident::SessionPanic];

    /// The metric's name and help.
    pub fn metric(self) -> (&'static str, &'static str) {
        match self {
            Incident::OversizedPacket => (
                "media_oversized_dropped",
                "RTP packets from participants too large to forward on a 1500-byte network, dropped",
            ),
            Incident::TwccNumber => (
                "media_twcc_refused",
                "RTP packets from participants whose transport-wide number would break congestion feedback, dropped",
            ),
            Incident::DtlsRecord => (
                "media_dtls_refused",
                "Datagrams from participants with a DTLS record too short to be genuine (it would end the session), dropped",
            ),
            Incident::SessionPanic => (
                "media_session_panics",
                "Participants' sessions ended because str0m panicked in them (the others went on)",
            ),
        }
    }
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

    /// Counts one `incident`.
    pub fn count(&self, incident: Incident) {
        self.incidents[incident as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many of `incident` since the box started.
    pub fn incidents(&self, incident: Incident) -> u64 {
        self.incidents[incident as usize].load(Ordering::Relaxed)
    }

    /// RTP packets and payload bytes sent on to participants.
    pub fn totals(&self) -> (u64, u64) {
        (self.packets.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed))
    }
}
