//! A simulated network link for the SFU tests, in simulated time: delay,
//! jitter (and so reordering), random loss and a bandwidth cap with a
//! drop-tail queue, as a Wi-Fi or a congested uplink behaves. Seeded, so a
//! failing run replays exactly. A default link is perfect: what is sent
//! arrives at the same instant.

use std::time::{Duration, Instant};

/// One direction of one participant's path to the box.
#[derive(Debug)]
pub struct Link {
    pub delay: Duration,
    /// Extra delay, uniform in `0..jitter`, per packet; packets overtake.
    pub jitter: Duration,
    /// Share of packets lost at random, 0.0–1.0.
    pub loss: f64,
    /// The link's rate; `None` is unlimited.
    pub rate_bps: Option<u64>,
    /// The longest a packet may wait for the rate before it is dropped.
    pub max_queue: Duration,
    rng: fastrand::Rng,
    /// When the link finishes sending what it holds.
    busy_until: Option<Instant>,
    /// In flight: when each arrives, in order of arrival.
    flight: Vec<(Instant, u64, Vec<u8>)>,
    sent: u64,
    pub dropped: u64,
    pub delivered: u64,
}

impl Link {
    pub fn perfect(seed: u64) -> Self {
        Link {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            rate_bps: None,
            max_queue: Duration::from_millis(300),
            rng: fastrand::Rng::with_seed(seed),
            busy_until: None,
            flight: Vec::new(),
            sent: 0,
            dropped: 0,
            delivered: 0,
        }
    }

    /// Sends `data` at `now`.
    pub fn send(&mut self, now: Instant, data: Vec<u8>) {
        self.sent += 1;
        if self.loss > 0.0 && self.rng.f64() < self.loss {
            self.dropped += 1;
            return;
        }
        let mut leaves = now;
        if let Some(rate) = self.rate_bps {
            let start = self.busy_until.map_or(now, |b| b.max(now));
            if start - now > self.max_queue {
                self.dropped += 1;
                return;
            }
            let on_the_wire = Duration::from_secs_f64(((data.len() + 28) * 8) as f64 / rate as f64);
            self.busy_until = Some(start + on_the_wire);
            leaves = start + on_the_wire;
        }
        let jitter = self.jitter.mul_f64(self.rng.f64());
        let arrives = leaves + self.delay + jitter;
        // Ties keep their order (the sequence number breaks them).
        let at = self.flight.partition_point(|(t, n, _)| (*t, *n) <= (arrives, self.sent));
        self.flight.insert(at, (arrives, self.sent, data));
    }

    /// The next datagram that has arrived by `now`.
    pub fn receive(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.flight.first().is_some_and(|(t, _, _)| *t <= now) {
            self.delivered += 1;
            return Some(self.flight.remove(0).2);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(link: &mut Link, until: Instant) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| link.receive(until)).collect()
    }

    #[test]
    fn a_perfect_link_delivers_at_once_in_order() {
        let now = Instant::now();
        let mut link = Link::perfect(1);
        for i in 0..5u8 {
            link.send(now, vec![i]);
        }
        assert_eq!(drain(&mut link, now), (0..5u8).map(|i| vec![i]).collect::<Vec<_>>());
    }

    #[test]
    fn loss_delay_and_rate_are_what_was_set() {
        let now = Instant::now();
        let mut link = Link::perfect(2);
        link.loss = 0.05;
        for _ in 0..10_000 {
            link.send(now, vec![0; 100]);
        }
        assert!((400..600).contains(&link.dropped), "{} of 10000 lost", link.dropped);

        let mut link = Link::perfect(3);
        link.delay = Duration::from_millis(40);
        link.send(now, vec![1]);
        assert!(drain(&mut link, now + Duration::from_millis(39)).is_empty());
        assert_eq!(drain(&mut link, now + Duration::from_millis(40)).len(), 1);

        // 300 kbit/s: one second carries ~300 kbit, the queue drops the rest.
        let mut link = Link::perfect(4);
        link.rate_bps = Some(300_000);
        for ms in 0..1000u64 {
            link.send(now + Duration::from_millis(ms), vec![0; 972]); // 1000 B on the wire, 8 Mbit/s
        }
        let bits = drain(&mut link, now + Duration::from_secs(1)).len() as u64 * 8000;
        assert!((280_000..=300_000).contains(&bits), "{bits} bit in a second");
    }

    #[test]
    fn jitter_reorders() {
        let now = Instant::now();
        let mut link = Link::perfect(5);
        link.jitter = Duration::from_millis(30);
        for i in 0..100u8 {
            link.send(now + Duration::from_millis(i as u64), vec![i]);
        }
        let got: Vec<u8> = drain(&mut link, now + Duration::from_secs(1)).into_iter().map(|d| d[0]).collect();
        assert_eq!(got.len(), 100);
        assert!(got.windows(2).any(|w| w[0] > w[1]), "some packets overtake others");
    }
}
