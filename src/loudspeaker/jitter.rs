//! One far-end talker's packets, put back in order and handed out at a
//! steady pace: Wi-Fi delivers a phone's audio in clumps, late and now and
//! then not at all.
//!
//! Playout starts once [`JitterBuffer::target`] packets wait (or the first
//! has waited that long); every 20 ms the next packet is taken. A missing
//! one is rebuilt from the next packet's in-band FEC when that one is here,
//! else concealed. A packet that arrives after its turn was concealed
//! counts as late and makes the buffer one packet deeper (up to
//! [`MAX_TARGET`]); a quiet ten seconds makes it one shallower. When the
//! talker stops sending, playout stops and starts afresh with their next
//! packet.
//!
//! Sans-IO: sequence numbers and times in, what to decode out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Packets waited for before playout starts, at first.
const START_TARGET: usize = 3;
pub const MAX_TARGET: usize = 10;
const MIN_TARGET: usize = 2;
/// Nothing to play for this many turns: the talker stopped sending.
const GIVE_UP: u32 = 10;
/// A steady stretch this long makes the buffer shallower.
const SHRINK_AFTER: Duration = Duration::from_secs(10);

/// What to play for the next packet's turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// The packet.
    Packet(Vec<u8>),
    /// It is lost; the next packet is here and may carry its FEC.
    Recover { next: Vec<u8> },
    /// It is lost (or late): conceal it.
    Conceal,
    /// Nothing is playing.
    Idle,
}

#[derive(Debug)]
pub struct JitterBuffer {
    waiting: BTreeMap<u64, Vec<u8>>,
    /// The sequence number whose turn is next, once playing.
    next: Option<u64>,
    /// When the first waiting packet arrived, while not playing.
    first_arrival: Option<Instant>,
    target: usize,
    misses: u32,
    steady_since: Instant,
    /// Packets that came after their turn.
    pub late: u64,
    /// Turns concealed or rebuilt.
    pub lost: u64,
}

impl JitterBuffer {
    pub fn new(now: Instant) -> Self {
        JitterBuffer {
            waiting: BTreeMap::new(),
            next: None,
            first_arrival: None,
            target: START_TARGET,
            misses: 0,
            steady_since: now,
            late: 0,
            lost: 0,
        }
    }

    /// Packets waited for before playout (the depth, in 20 ms packets).
    pub fn target(&self) -> usize {
        self.target
    }

    /// A packet arrived (`seq`: the RTP sequence number, extended).
    pub fn push(&mut self, seq: u64, payload: Vec<u8>, now: Instant) {
        if self.next.is_some_and(|next| seq < next) {
            self.late += 1;
            self.target = (self.target + 1).min(MAX_TARGET);
            self.steady_since = now;
            return;
        }
        self.first_arrival.get_or_insert(now);
        self.waiting.insert(seq, payload);
        // A burst far beyond the depth (the phone's clock runs fast, or a
        // backlog arrived at once): the oldest are dropped to catch up.
        while self.waiting.len() > MAX_TARGET * 2 {
            self.waiting.pop_first();
            if self.next.is_some() {
                self.next = self.waiting.keys().next().copied();
            }
        }
    }

    /// The next packet's turn, every 20 ms.
    pub fn pop(&mut self, now: Instant) -> Turn {
        let Some(next) = self.next else {
            let ready = self.waiting.len() >= self.target
                || self
                    .first_arrival
                    .is_some_and(|t| now.duration_since(t) >= Duration::from_millis(20) * self.target as u32);
            let Some((&first, _)) = self.waiting.first_key_value().filter(|_| ready) else { return Turn::Idle };
            self.next = Some(first);
            self.misses = 0;
            return self.pop(now);
        };
        self.next = Some(next + 1);
        if let Some(packet) = self.waiting.remove(&next) {
            self.misses = 0;
            if now.duration_since(self.steady_since) >= SHRINK_AFTER {
                self.target = (self.target - 1).max(MIN_TARGET);
                self.steady_since = now;
            }
            return Turn::Packet(packet);
        }
        self.misses += 1;
        if self.misses >= GIVE_UP || (self.waiting.is_empty() && self.misses > 1) {
            // The talker stopped (or left): start afresh with their next
            // packet, with nothing concealed in between.
            self.next = None;
            self.first_arrival = None;
            self.waiting.clear();
            return Turn::Idle;
        }
        self.lost += 1;
        match self.waiting.get(&(next + 1)) {
            Some(packet) => Turn::Recover { next: packet.clone() },
            None => Turn::Conceal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TURN: Duration = Duration::from_millis(20);

    fn packet(seq: u64) -> Vec<u8> {
        vec![seq as u8]
    }

    #[test]
    fn packets_in_a_clump_play_in_order_at_a_steady_pace() {
        let start = Instant::now();
        let mut jb = JitterBuffer::new(start);
        // Four packets arrive at once, out of order.
        for seq in [11, 10, 13, 12] {
            jb.push(seq, packet(seq), start);
        }
        let played: Vec<Turn> = (0..4).map(|i| jb.pop(start + TURN * i)).collect();
        assert_eq!(played, (10..14).map(|s| Turn::Packet(packet(s))).collect::<Vec<_>>());
    }

    #[test]
    fn a_loss_is_rebuilt_from_the_next_packet_or_concealed() {
        let start = Instant::now();
        let mut jb = JitterBuffer::new(start);
        for seq in [1, 2, 4, 5, 8, 9] {
            jb.push(seq, packet(seq), start);
        }
        let turns: Vec<Turn> = (0..9).map(|i| jb.pop(start + TURN * i)).collect();
        assert_eq!(turns[2], Turn::Recover { next: packet(4) }, "3 lost, 4 is here");
        assert_eq!(turns[3], Turn::Packet(packet(4)));
        assert_eq!(turns[5], Turn::Conceal, "6 lost, 7 too");
        assert_eq!(turns[6], Turn::Recover { next: packet(8) });
        assert_eq!(turns[8], Turn::Packet(packet(9)));
        assert_eq!(jb.lost, 3);
    }

    #[test]
    fn late_packets_deepen_the_buffer_and_a_steady_stretch_makes_it_shallow_again() {
        let start = Instant::now();
        let mut jb = JitterBuffer::new(start);
        let mut now = start;
        for seq in 0..3 {
            jb.push(seq, packet(seq), now);
        }
        for _ in 0..3 {
            jb.pop(now);
            now += TURN;
        }
        jb.push(4, packet(4), now);
        assert_eq!(jb.pop(now), Turn::Recover { next: packet(4) });
        jb.push(3, packet(3), now);
        assert_eq!((jb.late, jb.target()), (1, START_TARGET + 1));
        // Eleven steady seconds later, one shallower.
        for seq in 5..600 {
            jb.push(seq, packet(seq), now);
            jb.pop(now);
            now += TURN;
        }
        assert_eq!(jb.target(), START_TARGET);
    }

    #[test]
    fn a_talker_who_stops_goes_idle_and_starts_afresh() {
        let start = Instant::now();
        let mut jb = JitterBuffer::new(start);
        for seq in 0..3 {
            jb.push(seq, packet(seq), start);
        }
        let turns: Vec<Turn> = (0..6).map(|i| jb.pop(start + TURN * i)).collect();
        assert_eq!(turns[3..], [Turn::Conceal, Turn::Idle, Turn::Idle]);
        // Back after a pause (a new sequence far ahead): waits for the depth.
        let later = start + Duration::from_secs(5);
        jb.push(500, packet(500), later);
        assert_eq!(jb.pop(later), Turn::Idle);
        assert_eq!(jb.pop(later + TURN * 3), Turn::Packet(packet(500)));
    }

    #[test]
    fn a_flood_is_trimmed_to_a_bounded_depth() {
        let start = Instant::now();
        let mut jb = JitterBuffer::new(start);
        for seq in 0..1000 {
            jb.push(seq, packet(seq), start);
        }
        assert!(jb.waiting.len() <= MAX_TARGET * 2);
        assert_eq!(jb.pop(start), Turn::Packet(packet(1000 - MAX_TARGET as u64 * 2)));
    }
}
