//! Slows down guessing (join codes, later admin passwords), per client.
//!
//! Sans-IO: the caller passes the time. Clients are keyed by IPv4 address or
//! IPv6 /64 (one household or phone gets one /64, so rotating addresses
//! within it does not help an attacker).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Failures that cost nothing (typos).
    pub free_failures: u32,
    /// Wait after the first failure beyond the free ones; doubles each time.
    pub base_wait: Duration,
    pub max_wait: Duration,
    /// A client with no failure for this long starts afresh.
    pub forget_after: Duration,
    /// Clients tracked at most; the stalest is dropped, so a flood from many
    /// addresses cannot grow memory.
    pub capacity: usize,
}

impl ThrottleConfig {
    /// The wait after `failures` failures in a row, once past the free ones:
    /// doubling from `base_wait`.
    fn wait_after(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.free_failures + 1)?;
        Some(self.base_wait.saturating_mul(1 << over.min(20)).min(self.max_wait))
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            free_failures: 5,
            base_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(60 * 60),
            capacity: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Client {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl From<IpAddr> for Client {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Client::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(v4.octets()),
                None => Client::V6Prefix(v6.octets()[..8].try_into().unwrap_or_default()),
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    blocked_until: Instant,
}

/// Failed attempts per client, and how long each must wait.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    clients: HashMap<Client, Record>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle { config, clients: HashMap::new() }
    }

    /// `Err(wait)` while `ip` must wait before its next attempt.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.clients.get(&Client::from(ip)) {
            Some(r) if r.blocked_until > now => Err(r.blocked_until - now),
            _ => Ok(()),
        }
    }

    /// Counts an attempt by `ip` as failed before it is judged (a success
    /// takes it back with [`Self::succeeded`]), so attempts sent at once
    /// cannot all pass the check before the first is judged wrong.
    /// `Err(wait)` while `ip` must wait.
    pub fn attempt(&mut self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        self.check(ip, now)?;
        self.failed(ip, now);
        Ok(())
    }

    /// Records a failed attempt by `ip`.
    pub fn failed(&mut self, ip: IpAddr, now: Instant) {
        let config = &self.config;
        let record = self.clients.entry(Client::from(ip)).or_insert(Record {
            failures: 0,
            last_failure: now,
            blocked_until: now,
        });
        if now.saturating_duration_since(record.last_failure) > config.forget_after {
            record.failures = 0;
        }
        record.failures += 1;
        record.last_failure = now;
        if let Some(wait) = config.wait_after(record.failures) {
            record.blocked_until = now + wait;
        }
        if self.clients.len() > self.config.capacity {
            self.forget_stalest();
        }
    }

    /// An attempt counted by [`Self::attempt`] was judged wrong at `now`
    /// (after a slow check): the wait it earned runs from the answer, not
    /// from when it arrived, so a slow hash does not use the wait up.
    pub fn judged_wrong(&mut self, ip: IpAddr, now: Instant) {
        let config = &self.config;
        if let Some(record) = self.clients.get_mut(&Client::from(ip))
            && let Some(wait) = config.wait_after(record.failures)
        {
            record.blocked_until = record.blocked_until.max(now + wait);
        }
    }

    /// A success clears the client's record.
    pub fn succeeded(&mut self, ip: IpAddr) {
        self.clients.remove(&Client::from(ip));
    }

    fn forget_stalest(&mut self) {
        if let Some(stalest) = self.clients.iter().min_by_key(|(_, r)| r.last_failure).map(|(k, _)| *k) {
            self.clients.remove(&stalest);
        }
    }
}

/// A wait as the `Retry-After` seconds that cover it (rounded up: a client
/// that waits what it is told is let in).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// One attempt per `every` at most, for everyone together: how a blocked
/// client may still try, so a guesser behind an office's NAT cannot lock
/// the office out, yet learns at most one answer per `every`.
#[derive(Debug)]
pub struct Pace {
    every: Duration,
    next: Option<Instant>,
}

impl Pace {
    pub fn new(every: Duration) -> Self {
        Pace { every, next: None }
    }

    /// Whether an attempt may go ahead at `now` (it then takes the turn).
    pub fn take(&mut self, now: Instant) -> bool {
        if self.next.is_some_and(|next| now < next) {
            return false;
        }
        self.next = Some(now + self.every);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn typos_are_free_then_waits_double() {
        let mut t = Throttle::new(ThrottleConfig::default());
        let now = Instant::now();
        let a = ip("192.0.2.7");
        for _ in 0..5 {
            assert!(t.check(a, now).is_ok());
            t.failed(a, now);
        }
        assert!(t.check(a, now).is_ok(), "five typos cost nothing");
        let waits: Vec<u64> = (0..4)
            .map(|_| {
                t.failed(a, now);
                t.check(a, now).unwrap_err().as_secs()
            })
            .collect();
        assert_eq!(waits, [1, 2, 4, 8]);
        assert!(t.check(a, now + Duration::from_secs(9)).is_ok());
        assert!(t.check(ip("192.0.2.8"), now).is_ok(), "other clients are not affected");
    }

    #[test]
    fn waits_are_capped_and_records_forgotten() {
        let mut t = Throttle::new(ThrottleConfig::default());
        let now = Instant::now();
        let a = ip("192.0.2.7");
        for _ in 0..40 {
            t.failed(a, now);
        }
        assert_eq!(t.check(a, now).unwrap_err(), Duration::from_secs(900));
        let later = now + Duration::from_secs(2 * 3600);
        t.failed(a, later);
        assert!(t.check(a, later).is_ok(), "an hour without failures starts afresh");
    }

    #[test]
    fn a_success_clears_the_record() {
        let mut t = Throttle::new(ThrottleConfig::default());
        let now = Instant::now();
        let a = ip("192.0.2.7");
        for _ in 0..7 {
            t.failed(a, now);
        }
        t.succeeded(a);
        assert!(t.check(a, now).is_ok());
    }

    #[test]
    fn an_ipv6_64_is_one_client() {
        let mut t = Throttle::new(ThrottleConfig::default());
        let now = Instant::now();
        for i in 0..7 {
            t.failed(ip(&format!("2001:db8:1:2::{i:x}")), now);
        }
        assert!(t.check(ip("2001:db8:1:2::99"), now).is_err());
        assert!(t.check(ip("2001:db8:1:3::1"), now).is_ok());
        t.failed(ip("::ffff:192.0.2.9"), now);
        assert_eq!(Client::from(ip("::ffff:192.0.2.9")), Client::from(ip("192.0.2.9")));
    }

    #[test]
    fn attempts_at_once_are_counted_before_they_are_judged() {
        let mut t = Throttle::new(ThrottleConfig::default());
        let (now, a) = (Instant::now(), ip("192.0.2.7"));
        // Forty at once: the five free ones and one more get judged.
        let judged = (0..40).filter(|_| t.attempt(a, now).is_ok()).count();
        assert_eq!(judged, 6);
        t.succeeded(a);
        assert!(t.attempt(a, now).is_ok(), "a right one takes the count back");
    }

    #[test]
    fn a_wait_runs_from_the_answer_when_the_judging_is_slow() {
        let config = ThrottleConfig { free_failures: 0, ..Default::default() };
        let mut t = Throttle::new(config);
        let (now, a) = (Instant::now(), ip("192.0.2.8"));
        assert!(t.attempt(a, now).is_ok());
        // The check took 3 s: the 1 s wait starts when it answered.
        t.judged_wrong(a, now + Duration::from_secs(3));
        assert_eq!(t.check(a, now + Duration::from_millis(3500)), Err(Duration::from_millis(500)));
        assert!(t.check(a, now + Duration::from_secs(4)).is_ok());
    }

    #[test]
    fn a_pace_lets_one_attempt_through_per_period() {
        let mut p = Pace::new(Duration::from_secs(2));
        let now = Instant::now();
        assert!(p.take(now));
        assert!(!p.take(now + Duration::from_secs(1)));
        assert!(p.take(now + Duration::from_secs(2)));
    }

    #[test]
    fn memory_is_bounded_under_a_flood() {
        let config = ThrottleConfig { capacity: 100, ..Default::default() };
        let mut t = Throttle::new(config);
        let now = Instant::now();
        for i in 0..1000u32 {
            t.failed(IpAddr::from(i.to_be_bytes()), now + Duration::from_millis(i as u64));
        }
        assert!(t.clients.len() <= 101);
    }
}
