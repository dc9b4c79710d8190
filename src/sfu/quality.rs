//! A peer's link as the admin page shows it: bitrate each way, round trip,
//! packet loss and jitter, from str0m's once-a-second statistics.

use std::time::{Duration, Instant};

use serde::Serialize;

/// One participant's link, as last measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LinkQuality {
    /// From the participant to the box.
    pub receive_kbps: f64,
    /// From the box to the participant.
    pub send_kbps: f64,
    pub rtt_ms: Option<f64>,
    /// Packets lost on the way in, percent.
    pub loss_percent: Option<f64>,
    /// Of the participant's audio, as the box receives it.
    pub jitter_ms: Option<f64>,
}

/// Turns cumulative byte counts into rates.
#[derive(Debug, Default)]
pub struct QualityMeter {
    last: Option<(Instant, u64, u64)>,
    pub now: LinkQuality,
}

impl QualityMeter {
    /// A peer-wide sample: total bytes in and out so far.
    pub fn peer(&mut self, at: Instant, bytes_in: u64, bytes_out: u64, rtt: Option<Duration>, loss_in: Option<f32>) {
        if let Some((then, last_in, last_out)) = self.last {
            let secs = at.saturating_duration_since(then).as_secs_f64();
            if secs > 0.0 {
                let kbps = |now: u64, before: u64| now.saturating_sub(before) as f64 * 8.0 / secs / 1000.0;
                self.now.receive_kbps = kbps(bytes_in, last_in);
                self.now.send_kbps = kbps(bytes_out, last_out);
            }
        }
        self.last = Some((at, bytes_in, bytes_out));
        if let Some(rtt) = rtt {
            self.now.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
        }
        if let Some(loss) = loss_in {
            self.now.loss_percent = Some(f64::from(loss) * 100.0);
        }
    }

    /// The interarrival jitter of an incoming audio stream (Opus' 48 kHz
    /// RTP clock).
    pub fn audio_jitter(&mut self, rtp_units: u32) {
        self.now.jitter_ms = Some(f64::from(rtp_units) / 48.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_the_bytes_between_samples() {
        let t0 = Instant::now();
        let mut m = QualityMeter::default();
        m.peer(t0, 1000, 5000, None, None);
        assert_eq!(m.now.receive_kbps, 0.0, "one sample is no rate");
        m.peer(t0 + Duration::from_secs(2), 1000 + 250_000, 5000 + 50_000, Some(Duration::from_millis(12)), Some(0.02));
        assert_eq!(m.now.receive_kbps, 1000.0);
        assert_eq!(m.now.send_kbps, 200.0);
        assert_eq!(m.now.rtt_ms, Some(12.0));
        assert!((m.now.loss_percent.unwrap() - 2.0).abs() < 1e-4);
        // A sample without an RTT keeps the last one.
        m.peer(t0 + Duration::from_secs(3), 251_000, 55_000, None, None);
        assert_eq!(m.now.rtt_ms, Some(12.0));
        assert_eq!(m.now.receive_kbps, 0.0);
        m.audio_jitter(960);
        assert_eq!(m.now.jitter_ms, Some(20.0));
    }
}
