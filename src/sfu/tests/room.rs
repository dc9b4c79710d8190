//! The room in the SFU: its seats and the phones in one dominant-speaker
//! decision, its mute told to every page, the far end's voices handed to
//! the loudspeaker.

use super::*;
use crate::sfu::{FarAudio, LocalPacket, ROOM_ID, RoomVoice};

/// A packet of the room's audio at `dbov`, carrying `voice`.
fn room_audio(seq: u64, dbov: u8, voice: RoomVoice, now: Instant) -> LocalPacket {
    LocalPacket {
        kind: MediaKind::Audio,
        payload: vec![0xf8, 0xff, 0xfe],
        seq,
        time: seq as u32 * 960,
        marker: false,
        keyframe: false,
        dbov: Some(dbov),
        voice,
        captured: now,
    }
}

/// 20 ms steps in which the room sends `room(i)` (its level, and whom it
/// carries) and Ada talks at `ada(i)`.
fn room_and_ada(
    net: &mut Net,
    steps: std::ops::Range<u64>,
    room: impl Fn(u64) -> (u8, RoomVoice),
    ada: impl Fn(u64) -> i8,
) {
    for i in steps {
        let now = net.now;
        let (dbov, voice) = room(i);
        net.sfu.handle_local(room_audio(i, dbov, voice, now), now);
        net.send_audio(0, ada(i));
        net.run(Duration::from_millis(20));
    }
}

/// The active speaker Bob was last told of: participant and seat.
fn last_speaker(net: &Net) -> Option<(Option<ParticipantId>, Option<usize>)> {
    net.phones[1].messages.iter().rev().find_map(|m| match m {
        ServerMessage::ActiveSpeaker { id, seat } => Some((*id, *seat)),
        _ => None,
    })
}

/// Speech-like levels: 140 ms at `loud`, 60 ms at `quiet`.
fn talking(i: u64, loud: u8, quiet: u8) -> u8 {
    if i % 10 < 7 { loud } else { quiet }
}

#[test]
fn one_decision_across_the_rooms_seats_and_the_phones() {
    let mut net = two_phones();
    net.sfu.add_room("Room", net.now);
    net.run(Duration::from_millis(500));
    // Someone at the room's seat 2 talks; the phones are quiet.
    room_and_ada(&mut net, 0..100, |i| (talking(i, 25, 60), RoomVoice::Seat(2)), |_| 100);
    assert_eq!(last_speaker(&net), Some((Some(ROOM_ID), Some(2))), "the room, at seat 2");
    assert_eq!(net.sfu.take_far_voice(), None, "no far-end voice yet");

    // Ada answers from her phone; the room goes quiet.
    room_and_ada(&mut net, 100..200, |_| (90, RoomVoice::Nobody), |i| talking(i, 20, 70) as i8);
    let ada = net.phones[0].id;
    assert_eq!(last_speaker(&net), Some((Some(ada), None)), "the display shows Ada large");
    assert!(net.sfu.take_far_voice().is_some(), "the room's listening learns the far end speaks");
}

#[test]
fn a_sound_the_room_cannot_place_does_not_take_the_floor() {
    // Ada talks, then pauses; the room hears speech-like sound it places at
    // no seat (the canceller's leftover echo of her, a radio by the
    // loudspeaker). Only a room that cannot place talkers lets it compete.
    for (voice, taken) in [(RoomVoice::Nobody, false), (RoomVoice::Whole, true)] {
        let mut net = two_phones();
        net.sfu.add_room("Room", net.now);
        net.run(Duration::from_millis(500));
        room_and_ada(&mut net, 0..100, |_| (90, RoomVoice::Nobody), |i| talking(i, 20, 70) as i8);
        let ada = net.phones[0].id;
        assert_eq!(last_speaker(&net), Some((Some(ada), None)));
        room_and_ada(&mut net, 100..250, |i| (talking(i, 25, 60), voice), |_| 90);
        let speaker = last_speaker(&net).map(|(id, _)| id);
        assert_eq!(speaker == Some(Some(ROOM_ID)), taken, "{voice:?}: {speaker:?}");
    }
}

#[test]
fn the_rooms_mute_reaches_every_page() {
    let mut net = two_phones();
    net.sfu.add_room("Room", net.now);
    net.run(Duration::from_millis(300));
    net.sfu.set_room_muted(true, net.now);
    net.run(Duration::from_millis(100));
    let told = ServerMessage::Muted { id: ROOM_ID, audio: true, video: false };
    assert!(net.phones.iter().all(|p| p.messages.contains(&told)));
    assert!(net.sfu.participants()[0].audio_muted);
    // Saying it again says nothing new.
    let count = net.phones[0].messages.len();
    net.sfu.set_room_muted(true, net.now);
    net.run(Duration::from_millis(100));
    assert_eq!(net.phones[0].messages.iter().skip(count).filter(|m| **m == told).count(), 0);
}

#[test]
fn the_far_ends_voices_go_to_the_loudspeaker_while_the_box_plays_them() {
    let mut net = two_phones();
    // Not playing: nothing is kept.
    net.send_audio(0, 20);
    net.run(Duration::from_millis(20));
    assert!(net.sfu.poll_far_audio().is_none());

    net.sfu.play_far_end(true);
    net.talk(0, 20, 10);
    let ada = net.phones[0].id;
    let mut heard = Vec::new();
    while let Some(a) = net.sfu.poll_far_audio() {
        match a {
            FarAudio::Packet { participant, seq, payload } => heard.push((participant, seq, payload.len())),
            FarAudio::Left(id) => panic!("{id} did not leave"),
        }
    }
    assert_eq!(heard.len(), 10, "every packet, once");
    assert!(heard.iter().all(|&(p, _, len)| p == ada && len == 40));
    assert!(heard.windows(2).all(|w| w[1].1 == w[0].1 + 1), "in order, sequence numbers kept");

    net.sfu.leave(ada, net.now);
    net.run(Duration::from_millis(100));
    let left: Vec<_> = std::iter::from_fn(|| net.sfu.poll_far_audio()).collect();
    assert!(matches!(left.as_slice(), [FarAudio::Left(id)] if *id == ada), "{left:?}");
}
