//! A guard in front of str0m for the transport-wide sequence numbers a
//! participant puts on its RTP (the transport-cc header extension), sans-IO.
//!
//! str0m 0.24/0.25 extends each 16-bit number from the highest it has
//! registered. While that highest is below 32,768, a number more than half
//! the range above it is taken as the cycle before the first: it extends to
//! just under 2^64, and the feedback builder then walks the 2^64 numbers
//! "missing" in between until the box runs out of memory. tools/fuzz found
//! it (phone-rtp): a phone that repeats packets, which str0m drops before
//! it reads their numbers, while its count moves on by half the range;
//! any joined phone could also do it with one forged number.
//!
//! The guard never learns str0m's highest exactly (str0m registers padding
//! and probes it never hands on), but it keeps a floor below it, and a
//! number that would underflow from str0m's highest underflows from any
//! floor below it too (extension is monotonic in the highest). So a
//! datagram is dropped when one of its numbers would underflow from the
//! floor. The floor is the lowest number let through until str0m hands on
//! a packet (str0m's first number is one of those), then rises with each
//! packet str0m hands on, extended as str0m did. A sender whose count
//! starts low and moves one by one never meets the guard.
//! SRTP leaves the RTP header and its extensions in the clear.

/// Half the 16-bit range: how far behind its highest str0m looks back.
const HALF: u64 = 1 << 15;

/// The header extension id str0m reads transport-cc under when the
/// participant's offer did not name one (its standard map).
const DEFAULT_ID: u8 = 3;

/// One participant's floor under str0m's highest transport-wide number.
#[derive(Debug, Default)]
pub struct TwccGuard {
    /// The ids the participant's SDP gave transport-cc (empty: str0m's
    /// default).
    ids: Vec<u8>,
    /// At or below str0m's highest registered number; `None` until a
    /// numbered datagram has been let through.
    floor: Option<u64>,
    /// str0m has handed on a numbered packet: its register is not empty.
    registered: bool,
}

impl TwccGuard {
    /// The participant's SDP maps transport-cc to `id` (ids only add up:
    /// str0m keeps the first mapping it negotiated).
    pub fn learn_id(&mut self, id: u8) {
        if !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }

    /// False for a datagram str0m must not see.
    pub fn admits(&mut self, datagram: &[u8]) -> bool {
        let ids: &[u8] = if self.ids.is_empty() { &[DEFAULT_ID] } else { &self.ids };
        let mut lowest = None::<u16>;
        let mut safe = true;
        for_each_number(datagram, ids, |seq| {
            safe &= self.floor.is_none_or(|floor| extend(floor, seq).is_some());
            lowest = Some(lowest.map_or(seq, |l| l.min(seq)));
        });
        if !safe {
            return false;
        }
        if let Some(seq) = lowest
            && !self.registered
        {
            self.floor = Some(self.floor.map_or(u64::from(seq), |f| f.min(u64::from(seq))));
        }
        true
    }

    /// str0m handed on a packet that carried `seq`: it registered it.
    pub fn registered(&mut self, seq: u16) {
        let floor = self.floor.unwrap_or(u64::from(seq));
        // A number let through above a floor that has since been lowered
        // may not extend from the lower one: it tells nothing then.
        self.floor = Some(extend(floor, seq).map_or(floor, |seq| floor.max(seq)));
        self.registered = true;
    }
}

/// `seq` extended as str0m does from `highest`: the number of that value
/// nearest to `highest`; `None` where str0m's would underflow (it would
/// take `seq` as the cycle before the first).
fn extend(highest: u64, seq: u16) -> Option<u64> {
    let (cycle, low) = (highest >> 16, highest & 0xffff);
    let seq = u64::from(seq);
    let cycle = if low < HALF && seq > HALF + low {
        cycle.checked_sub(1)?
    } else if low > seq + HALF {
        cycle + 1
    } else {
        cycle
    };
    Some(cycle << 16 | seq)
}

/// Calls `f` with every transport-wide number of an RTP datagram, read as
/// str0m reads header extensions (it keeps the last; the guard checks all).
fn for_each_number(d: &[u8], ids: &[u8], mut f: impl FnMut(u16)) {
    // RTP version 2 with the extension bit; RTCP (payload types 192-223
    // in the second byte) has no such header.
    if d.len() < 12 || d[0] >> 6 != 2 || d[0] & 0x10 == 0 || (192..=223).contains(&d[1]) {
        return;
    }
    let at = 12 + 4 * usize::from(d[0] & 0x0f);
    let Some(head) = d.get(at..at + 4) else { return };
    let one_byte = match u16::from_be_bytes([head[0], head[1]]) {
        0xbede => true,
        p if p & 0xfff0 == 0x1000 => false,
        _ => return,
    };
    let words = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let Some(mut ext) = d.get(at + 4..at + 4 + 4 * words) else { return };
    while let Some(&first) = ext.first() {
        if first == 0 {
            ext = &ext[1..];
            continue;
        }
        let (id, len, rest) = if one_byte {
            if first >> 4 == 15 {
                return;
            }
            (first >> 4, usize::from(first & 0x0f) + 1, &ext[1..])
        } else {
            let Some(&len) = ext.get(1) else { return };
            (first, usize::from(len), &ext[2..])
        };
        let Some(value) = rest.get(..len) else { return };
        if ids.contains(&id) && len >= 2 {
            f(u16::from_be_bytes([value[0], value[1]]));
        }
        ext = &rest[len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTP packet with one-byte extensions: transport-cc under id 3
    /// carrying `seq`, after an audio level under id 1.
    fn packet(seq: u16) -> Vec<u8> {
        let mut p = vec![0x90, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0xbe, 0xde, 0, 2];
        p.extend_from_slice(&[0x10, 0x7f, 0x31]);
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0]);
        p.extend_from_slice(b"opus");
        p
    }

    /// Lets `seq` through and has str0m register it.
    fn send(guard: &mut TwccGuard, seq: u16) -> bool {
        let admitted = guard.admits(&packet(seq));
        if admitted {
            guard.registered(seq);
        }
        admitted
    }

    #[test]
    fn a_number_str0m_would_put_before_the_first_cycle_is_dropped() {
        let mut guard = TwccGuard::default();
        for seq in 0..=25 {
            assert!(send(&mut guard, seq));
        }
        // The fuzzer's packet: 65,412 is "149 before 0" from a highest of 25.
        assert!(!guard.admits(&packet(65_412)));
        assert!(!guard.admits(&packet(40_000)));
        assert!(guard.admits(&packet(20)), "late, after the first");
        assert!(guard.admits(&packet(32_793)), "exactly half the range ahead");
        assert!(send(&mut guard, 26), "the call goes on");
    }

    #[test]
    fn a_count_that_starts_anywhere_wraps_forward_freely() {
        for start in [0, 1, 32_767, 40_000, 65_000] {
            let mut guard = TwccGuard::default();
            let mut seq: u16 = start;
            for _ in 0..140_000 {
                assert!(send(&mut guard, seq), "start {start}, at {seq}");
                seq = seq.wrapping_add(1);
            }
            // Past the first half cycle nothing can underflow.
            assert!(guard.admits(&packet(seq.wrapping_sub(30_000))));
        }
    }

    #[test]
    fn until_str0m_hands_a_packet_on_the_floor_is_the_lowest_let_through() {
        // str0m may have registered any of these (padding it never hands
        // on), and then 50,000 would underflow from 10.
        let mut guard = TwccGuard::default();
        assert!(guard.admits(&packet(30_000)));
        assert!(guard.admits(&packet(10)));
        assert!(!guard.admits(&packet(50_000)));
        // Once str0m hands on 30,000, its highest is at least that.
        guard.registered(30_000);
        assert!(guard.admits(&packet(50_000)));
    }

    #[test]
    fn a_number_let_through_above_a_floor_lowered_since_tells_nothing() {
        let mut guard = TwccGuard::default();
        for seq in [30_000, 40_000, 10] {
            assert!(guard.admits(&packet(seq)));
        }
        // 40,000 is "before 0" from the floor, 10: the floor stays.
        guard.registered(40_000);
        assert!(!guard.admits(&packet(50_000)));
        guard.registered(10);
        assert!(guard.admits(&packet(20)));
    }

    #[test]
    fn every_number_in_a_datagram_is_checked() {
        let mut guard = TwccGuard::default();
        assert!(send(&mut guard, 5));
        // Two transport-cc elements: str0m keeps the second.
        let mut p = vec![0x90, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0xbe, 0xde, 0, 2];
        p.extend_from_slice(&[0x31, 0, 6, 0x31, 0xff, 0x84, 0, 0]);
        assert!(!guard.admits(&p));
    }

    #[test]
    fn numbers_are_read_where_str0m_reads_them() {
        let numbers = |d: &[u8], ids: &[u8]| {
            let mut all = Vec::new();
            for_each_number(d, ids, |s| all.push(s));
            all
        };
        assert_eq!(numbers(&packet(513), &[3]), [513]);
        assert!(numbers(&packet(513), &[5]).is_empty(), "another id");
        let mut rtcp = packet(513);
        rtcp[1] = 200;
        assert!(numbers(&rtcp, &[3]).is_empty());
        let mut short = packet(513);
        short.truncate(18);
        assert!(numbers(&short, &[3]).is_empty(), "cut inside the extensions");
        // Two-byte header extensions (profile 0x100x).
        let mut two = vec![0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0x10, 0x00, 0, 1, 4, 2, 0x12, 0x34];
        two.extend_from_slice(b"vp8!");
        assert_eq!(numbers(&two, &[4]), [0x1234]);
        let mut guard = TwccGuard::default();
        guard.learn_id(4);
        assert!(guard.admits(&two));
        assert!(guard.admits(b"\x16\xfe\xfd dtls"), "not RTP: not the guard's to judge");
    }

    #[test]
    fn extension_matches_str0m() {
        assert_eq!(extend(0, 1), Some(1));
        assert_eq!(extend(65_535, 0), Some(65_536));
        assert_eq!(extend(65_500, 2), Some(65_538));
        assert_eq!(extend(2, 1), Some(1));
        assert_eq!(extend(65_538, 1), Some(65_537));
        assert_eq!(extend(65_538, 65_535), Some(65_535));
        assert_eq!(extend(131_072 + 40_000, 1), Some(196_609));
        assert_eq!(extend(25, 40_000), None, "str0m's goes to 2^64 - 25,536");
    }
}
