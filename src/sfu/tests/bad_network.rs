//! The SFU on bad networks (`sfu::testnet` links): loss repaired by
//! resends, a capped viewer's layers following its link, a keyframe-request
//! storm held back.

use std::time::Duration;

use super::*;
use crate::sfu::Incident;

#[test]
fn resends_repair_five_percent_loss_on_both_legs() {
    let mut net = two_phones();
    for (i, link) in [(0, "up"), (1, "down")] {
        let p = &mut net.phones[i];
        let l = if link == "up" { &mut p.up } else { &mut p.down };
        l.loss = 0.05;
        l.delay = Duration::from_millis(20);
        l.jitter = Duration::from_millis(5);
    }
    // Ten seconds of 30 fps video, three packets a frame.
    for frame in 0..300 {
        net.send_frame(0, 3, frame % 60 == 0, Duration::from_millis(33));
    }
    net.run(Duration::from_secs(1));
    let sent = 900;
    let mut got: Vec<u64> = net.phones[1].video_received().iter().map(|p| *p.seq_no).collect();
    got.sort_unstable();
    got.dedup();
    let lost = net.phones[0].up.dropped + net.phones[1].down.dropped;
    // Without resends a tenth would be missing (5 % on each leg).
    assert!(lost > 60, "the links lost {lost} datagrams");
    assert!(got.len() * 1000 >= sent * 995, "{} of {sent} packets after repair", got.len());
}

#[test]
fn a_viewer_capped_at_300_kbps_gets_the_lowest_layer_and_the_top_one_back_when_the_cap_lifts() {
    let mut net = Net::with_estimation(true);
    net.join_with("Ada", Some(&["l", "m", "h"]));
    net.join("Bob");
    for p in &mut net.phones {
        p.up.delay = Duration::from_millis(10);
        p.down.delay = Duration::from_millis(10);
    }
    net.run(Duration::from_secs(3));
    // About 120 kbit/s, 430 kbit/s and 1.3 Mbit/s.
    let layers = [("l", 1, 500), ("m", 2, 900), ("h", 5, 1100)];
    let mut frame = 0;
    let mut asked = 0;
    let mut frames_until = |net: &mut Net, limit: Duration, want: u8| -> Option<Duration> {
        let start = net.now;
        while net.now - start < limit {
            // A keyframe every second, and at once when the box asks.
            let requests = net.phones[0].keyframe_requests;
            net.send_simulcast_frame(&layers, frame % 30 == 0 || requests > asked);
            asked = requests;
            frame += 1;
            // Settled: the last half second all in the wanted layer.
            let recent: Vec<u8> = net.phones[1]
                .received
                .iter()
                .rev()
                .take(20)
                .filter(|p| p.payload.len() >= 500)
                .map(|p| p.payload[2])
                .collect();
            if recent.len() >= 10 && recent.iter().all(|&l| l == want) {
                return Some(net.now - start);
            }
        }
        None
    };
    let to_top = frames_until(&mut net, Duration::from_secs(20), b'h');
    assert!(to_top.is_some(), "an open link ramps up to the top layer");

    net.phones[1].down.rate_bps = Some(300_000);
    let down = frames_until(&mut net, Duration::from_secs(10), b'l');
    assert!(down.is_some_and(|d| d <= Duration::from_secs(3)), "lowest layer after {down:?}");

    net.phones[1].down.rate_bps = None;
    let up = frames_until(&mut net, Duration::from_secs(20), b'h');
    assert!(up.is_some_and(|d| d <= Duration::from_secs(10)), "top layer back after {up:?}");
    eprintln!("top layer after {to_top:?} from the start; capped: lowest after {down:?}; lifted: top after {up:?}");
}

#[test]
fn a_keyframe_request_storm_from_one_viewer_is_held_back_and_the_others_see_nothing_of_it() {
    let mut net = Net::new();
    for name in ["Ada", "Bob", "Cy"] {
        net.join(name);
    }
    net.run(Duration::from_secs(3));
    net.send_frame(0, 2, true, Duration::from_millis(50));
    let before = net.phones[0].keyframe_requests;
    let cy_before = net.phones[2].video_received().len();
    let ssrc = net.phones[1].video_received()[0].header.ssrc;
    // Bob's broken decoder asks for a keyframe with every frame for 3 s.
    for _ in 0..90 {
        let bob = &mut net.phones[1];
        bob.phone.rtc.direct_api().stream_rx(&ssrc).unwrap().request_keyframe(str0m::media::KeyframeRequestKind::Pli);
        net.send_frame(0, 2, false, Duration::from_millis(33));
    }
    let relayed = net.phones[0].keyframe_requests - before;
    assert!((1..=7).contains(&relayed), "{relayed} requests reached Ada in 3 s");
    // Cy got every packet, as before.
    assert_eq!(net.phones[2].video_received().len() - cy_before, 180);
}

#[test]
fn a_packet_too_big_to_forward_is_dropped_and_the_box_keeps_forwarding() {
    // A phone may send RTP larger than any room network carries in one
    // frame (loopback, jumbo frames, IP fragments); with the box's own
    // header, or RTX's two bytes more when resent, it may not fit str0m's
    // 2000-byte datagram (str0m panics where a writer's packet does not).
    let mut net = two_phones();
    net.phones[1].down.loss = 0.2;
    for frame in 0..30 {
        let mut payloads = vec![if frame == 0 { SPS_STAP.to_vec() } else { P_SLICE.to_vec() }];
        payloads.push(vec![0x41; 1960]);
        payloads.push(P_SLICE.to_vec());
        net.write_frame(0, payloads);
        let _ = net.phones[0].phone.rtc.handle_input(Input::Timeout(net.now));
        net.exchange();
        net.run(Duration::from_millis(33));
    }
    net.run(Duration::from_secs(1));
    assert_eq!(
        net.sfu.counters().incidents(Incident::OversizedPacket),
        30,
        "the box got each oversized packet and dropped it"
    );
    let largest = net.phones[1].received.iter().map(|p| p.payload.len()).max();
    assert!(largest < Some(1000), "only the small packets were forwarded: largest {largest:?}");
    let video = net.phones[1].video_received();
    assert!(video.len() >= 50, "{} of 60 forwardable packets arrived", video.len());
}

#[test]
fn a_transport_wide_number_str0m_would_put_before_zero_is_dropped_and_the_call_goes_on() {
    // str0m 0.24 would extend this number to just under 2^64 and then
    // build congestion feedback for every number in between (see
    // sfu::twcc_guard). Early in a call, from the phone's own address.
    let mut net = two_phones();
    net.talk(0, 30, 10);
    let heard = net.phones[1].audio_received();
    assert!(heard >= 5, "{heard} audio packets before");
    // RTP with transport-cc (the test phone's id 3) at 65,412: "149 before 0".
    let mut rtp = vec![0x90, 111, 0, 9, 0, 0, 0, 0, 0, 0, 0, 7, 0xbe, 0xde, 0, 1, 0x31, 0xff, 0x84, 0];
    rtp.extend_from_slice(&[0xfc; 40]);
    let (phone, sfu) = (net.phones[0].addr, SFU_ADDR.parse().unwrap());
    assert!(net.sfu.handle_datagram(net.now, phone, sfu, &rtp), "the phone's session takes it");
    assert_eq!(net.sfu.counters().incidents(Incident::TwccNumber), 1);
    // A number that extends fine goes on to str0m (which refuses its
    // integrity, as for any forged packet).
    rtp[17..19].copy_from_slice(&100u16.to_be_bytes());
    net.sfu.handle_datagram(net.now, phone, sfu, &rtp);
    assert_eq!(net.sfu.counters().incidents(Incident::TwccNumber), 1);
    net.talk(0, 30, 10);
    assert!(net.phones[1].audio_received() >= heard + 5, "the call goes on");
}

#[test]
fn a_phone_whose_packets_the_box_ignores_for_half_the_count_cannot_exhaust_its_memory() {
    // What tools/fuzz found: a phone resends one packet over and over (a
    // broken client, or a hostile one). The box drops each as a repeat
    // before it reads the transport-wide number, which the phone counts up
    // all the same. Once that is 32,768 past the last the box registered,
    // str0m 0.24 would read the next new packet's number as just under
    // 2^64 and build feedback for every number in between.
    let mut net = two_phones();
    net.talk(0, 30, 5);
    for _ in 0..33_000 {
        let (now, p) = (net.now, &mut net.phones[0]);
        let pt = p.phone.rtc.media(p.audio).unwrap().remote_pts()[0];
        let repeat = RtpWrite::new(pt, p.seq.into(), (p.seq * 960) as u32, now, vec![0xfc; 20]);
        p.phone.rtc.direct_api().stream_tx_by_mid(p.audio, None).unwrap().write_rtp(repeat);
        let _ = p.phone.rtc.handle_input(Input::Timeout(now));
        net.exchange();
    }
    let refused = net.sfu.counters().incidents(Incident::TwccNumber);
    assert!(refused > 0, "the guard held back the repeats past half the count");
    // The next new packets carry numbers str0m would misread: held back too.
    net.talk(0, 30, 5);
    assert!(net.sfu.counters().incidents(Incident::TwccNumber) >= refused + 5);
    // The box is well and serves the others.
    let heard = net.phones[0].audio_received();
    net.talk(1, 30, 10);
    assert!(net.phones[0].audio_received() >= heard + 5, "Bob is still heard");
}

#[test]
fn a_forged_dtls_record_too_short_to_decrypt_ends_neither_the_data_channel_nor_the_box() {
    // What tools/fuzz found: one application-data record of 2 bytes in
    // epoch 1, from the phone's address. OpenSSL 3.0 would end the phone's
    // DTLS for good (see sfu::dtls_guard); its data channel would go
    // silent and, 30 kB of DTLS later, str0m-openssl's assertion would
    // panic the SFU. Nobody needs a key to send it.
    let mut net = two_phones();
    let (ada, sfu) = (net.phones[0].addr, SFU_ADDR.parse().unwrap());
    let forged = [0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0xff, 0xd8, 0, 0, 0, 2, 0, 0x48];
    assert!(net.sfu.handle_datagram(net.now, ada, sfu, &forged), "Ada's session takes it");
    assert_eq!(net.sfu.counters().incidents(Incident::DtlsRecord), 1);
    // Records that are long enough but forged reach OpenSSL, which drops
    // each (40 kB of them: more than str0m-openssl's buffer would hold).
    for n in 0..40u8 {
        let mut record = vec![0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0x10, n, 0x03, 0xe8];
        record.extend_from_slice(&[0xab; 1000]);
        net.sfu.handle_datagram(net.now, ada, sfu, &record);
    }
    assert_eq!(net.sfu.counters().incidents(Incident::DtlsRecord), 1);
    // Ada's data channel still carries her messages to the box.
    net.say(0, &ClientMessage::Mute { audio: true, video: false });
    net.run(Duration::from_millis(200));
    let id = net.phones[0].id;
    let told = net.phones[1].messages.contains(&ServerMessage::Muted { id, audio: true, video: false });
    assert!(told, "Bob learns that Ada muted: {:?}", net.phones[1].messages);
}

#[test]
fn a_panic_in_one_participants_session_ends_that_session_and_the_meeting_goes_on() {
    // str0m asserts on states it does not expect (the DTLS one above was
    // reachable from outside). Such a panic costs its participant only.
    let mut net = two_phones();
    net.join("Cy");
    net.run(Duration::from_secs(3));
    let ada = net.phones[0].id;
    net.sfu.panic_in_session(ada, net.now);
    assert_eq!(net.sfu.counters().incidents(Incident::SessionPanic), 1);
    let left: Vec<_> = net.sfu.participants().iter().map(|p| p.id).collect();
    assert!(!left.contains(&ada), "Ada's session is gone: {left:?}");
    assert_eq!(left.len(), 2, "Bob and Cy stay: {left:?}");
    net.run(Duration::from_millis(200));
    assert!(net.phones[1].messages.contains(&ServerMessage::ParticipantLeft { id: ada }), "Bob is told Ada left");
    let heard = net.phones[2].audio_received();
    net.talk(1, 30, 10);
    assert!(net.phones[2].audio_received() >= heard + 5, "Cy still hears Bob");
}
