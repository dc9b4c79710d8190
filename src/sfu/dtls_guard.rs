//! A guard in front of str0m for the DTLS records that arrive from a
//! participant's address, sans-IO.
//!
//! OpenSSL 3.0 (str0m's DTLS) ends a connection for good when a protected
//! record (epoch 1 on) is too short to hold its AEAD's explicit nonce and
//! tag: setting up the record's additional data fails, and it raises an
//! internal error where DTLS should drop the record (RFC 6347 §4.1.2.7).
//! str0m-openssl never learns of it: from then on OpenSSL reads nothing,
//! the participant's data channel is dead, and str0m-openssl's input
//! buffer fills until its assertion (30 kB) panics the SFU thread and so
//! ends every call. One forged 15-byte datagram from a phone's address did
//! it (tools/fuzz, media-datagram). Anyone on the room's network can send
//! that: it needs no key.
//!
//! Every protected record the negotiated suites make holds at least
//! [`SHORTEST_PROTECTED`] bytes (AES-GCM's 8-byte nonce and 16-byte tag
//! around an empty plaintext; CBC suites need more), so a datagram with a
//! shorter one is forged or broken, and is dropped whole.

/// The fewest bytes after the header of a record protected by any suite
/// str0m offers: the AES-GCM explicit nonce (8) and tag (16).
pub const SHORTEST_PROTECTED: usize = 24;

/// A DTLS record header: type, version, epoch, sequence number, length.
const HEADER: usize = 13;
/// DTLS 1.2, the one version str0m's OpenSSL speaks (it turns 1.0 off).
const DTLS_1_2: u16 = 0xfefd;
const ALERT: u8 = 21;
/// The shortest length OpenSSL skips a header over as too long (its
/// SSL3_RT_MAX_ENCRYPTED_LENGTH without compression; builds with it skip
/// from a little more).
const LONGEST_RECORD: usize = 16_704;

/// False for a datagram str0m's DTLS must not see. Only DTLS datagrams
/// (first byte 20 to 63, RFC 7983) are read; anything else passes.
///
/// It reads the datagram as OpenSSL 3's record layer does
/// (`dtls1_get_record`): a record is read whole, and one cut short ends
/// the datagram; but a header OpenSSL will not read (another version, a
/// length over its limit) costs only its 13 bytes, and the next header is
/// read right behind it, whatever its type byte says. Where OpenSSL's
/// choice depends on its state or build (a DTLS 1.0 header before the
/// handshake, a length between the limits of builds), both ways are
/// followed. Every record OpenSSL could try to decrypt is checked.
/// Genuine datagrams have no such choices: they are read once, record by
/// record.
pub fn admits(datagram: &[u8]) -> bool {
    if !matches!(datagram.first(), Some(20..=63)) {
        return true;
    }
    let mut seen = vec![false; datagram.len()];
    let mut headers = vec![0];
    while let Some(at) = headers.pop() {
        let Some(header) = datagram.get(at..at + HEADER) else { continue };
        if std::mem::replace(&mut seen[at], true) {
            continue;
        }
        let version = u16::from_be_bytes([header[1], header[2]]);
        let epoch = u16::from_be_bytes([header[3], header[4]]);
        let length = usize::from(u16::from_be_bytes([header[11], header[12]]));
        let dtls = version >> 8 == DTLS_1_2 >> 8;
        // Established, OpenSSL reads DTLS 1.2, and alerts of any DTLS.
        let always_read = (version == DTLS_1_2 || (dtls && header[0] == ALERT)) && length <= LONGEST_RECORD;
        if !always_read {
            headers.push(at + HEADER);
        }
        let body = at + HEADER..at + HEADER + length;
        if dtls && body.end <= datagram.len() {
            if epoch != 0 && length < SHORTEST_PROTECTED {
                return false;
            }
            headers.push(body.end);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, epoch: u16, body: usize) -> Vec<u8> {
        let mut r = vec![kind, 0xfe, 0xfd];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0, 0, 7]);
        r.extend_from_slice(&(body as u16).to_be_bytes());
        r.extend(std::iter::repeat_n(0xab, body));
        r
    }

    #[test]
    fn a_protected_record_too_short_for_its_nonce_and_tag_is_refused() {
        // The fuzzer's datagram: application data, epoch 1, 2 bytes.
        let found = [0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0xff, 0xd8, 0, 0, 0, 2, 0, 0x48];
        assert!(!admits(&found));
        for kind in 20..=23 {
            // An empty one OpenSSL drops by itself, but none is genuine.
            for body in 0..SHORTEST_PROTECTED {
                assert!(!admits(&record(kind, 1, body)), "type {kind}, {body} bytes");
            }
            assert!(admits(&record(kind, 1, SHORTEST_PROTECTED)), "type {kind}");
        }
    }

    #[test]
    fn a_short_record_behind_a_good_one_is_found() {
        let mut datagram = record(22, 1, 60);
        datagram.extend(record(23, 2, 3));
        assert!(!admits(&datagram));
        let mut good = record(22, 1, 60);
        good.extend(record(23, 1, 100));
        assert!(admits(&good));
    }

    #[test]
    fn a_short_record_found_where_openssl_reads_after_a_header_it_skips_is_refused() {
        // The fuzzer's second find: a header of another version is skipped
        // by its 13 bytes alone, and OpenSSL reads the next one from there.
        let mut datagram = record(22, 0, 10);
        datagram.extend([0x02, 0, 0, 0, 0, 0, 0x21, 0x20, 0xb2, 0x8a, 0xd3, 0x18, 0x2e]);
        datagram.extend(record(22, 1, 1));
        assert!(!admits(&datagram));
        // The same behind a header that announces too long a record (the
        // fuzzer's third find: 17,969 bytes, which this OpenSSL skips).
        for too_long in [17_969, 60_000] {
            let mut datagram = record(22, 0, 0);
            datagram[11..13].copy_from_slice(&u16::to_be_bytes(too_long));
            datagram.extend(record(23, 1, 5));
            assert!(!admits(&datagram), "behind {too_long}");
        }
        // A DTLS 1.0 header OpenSSL reads as a record only before the
        // handshake, and skips after it: each way finds its short record.
        let mut before = record(22, 0, 20);
        before[2] = 0xff;
        before.extend(record(23, 1, 5));
        assert!(!admits(&before));
        let mut after = record(22, 0, 0);
        after[2] = 0xff;
        after[11..13].copy_from_slice(&18u16.to_be_bytes());
        after.extend(record(23, 1, 5));
        assert!(!admits(&after));
    }

    #[test]
    fn the_handshake_in_the_clear_and_other_traffic_pass() {
        // Epoch 0 is the handshake in the clear (a ChangeCipherSpec is 1 byte).
        assert!(admits(&record(20, 0, 1)));
        assert!(admits(&record(22, 0, 12)));
        // STUN, RTP, a cut header, nothing at all.
        assert!(admits(&[0, 1, 0, 0]));
        assert!(admits(&[0x80, 111, 0, 1]));
        assert!(admits(&[0x17, 0xfe, 0xfd, 0, 1]));
        assert!(admits(&[]));
        // A length past the end: OpenSSL drops the datagram by itself.
        let mut cut = record(23, 1, 40);
        cut.truncate(20);
        assert!(admits(&cut));
    }
}
