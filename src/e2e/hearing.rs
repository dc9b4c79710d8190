//! The box hears who speaks and frames them: the whole daemon with the
//! simulated array playing scripted talkers, a phone in the meeting.

use std::time::{Duration, Instant};

use confcam::config::{Config, InRange, TalkerConfig};
use confcam::director::{Crop, Shot};
use confcam::events::BoxEvent;
use tokio::sync::broadcast;

use crate::common::{client, small_config, start_box};
use crate::phone::{Phone, Seen};

const CODE: &str = "246810";
const TURN_MS: u32 = 5000;
const PAUSE_MS: u32 = 600;
/// Not before the reaction time, and not long after. Loose: a machine busy
/// with other tests makes the simulated array skip blocks, which moves its
/// talkers' turns later than their timestamps say (the reaction itself is
/// measured on simulated time and by `tools/bench-doa`).
const REACTION_LIMIT_MS: u64 = 1600;

/// Talkers at `azimuths` taking 5 s turns with 0.6 s between them.
fn room_with_talkers(azimuths: &[u32]) -> Config {
    let mut c = small_config();
    c.meeting.join_code = Some(CODE.into());
    c.simulation.talkers = azimuths
        .iter()
        .enumerate()
        .map(|(i, &a)| TalkerConfig {
            azimuth_deg: InRange::new(i64::from(a)).unwrap(),
            pitch_hz: InRange::new(110 + 60 * i as i64).unwrap(),
        })
        .collect();
    c.simulation.turn_ms = InRange::new(i64::from(TURN_MS)).unwrap();
    c.simulation.pause_ms = InRange::new(i64::from(PAUSE_MS)).unwrap();
    c
}

/// Speaker shots from the bus until `done` says enough (or 20 s pass).
async fn speaker_shots(
    events: &mut broadcast::Receiver<BoxEvent>,
    done: impl Fn(&[(String, f32, Crop, u64)]) -> bool,
) -> Vec<(String, f32, Crop, u64)> {
    let mut shots = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&shots) {
        match tokio::time::timeout_at(until, events.recv()).await.expect("the director framed the talkers") {
            Ok(BoxEvent::Framing { camera, shot: Shot::Speaker { azimuth_deg, .. }, crop, uptime_ms }) => {
                shots.push((camera, azimuth_deg, crop, uptime_ms))
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    shots
}

fn near(a: f32, b: f32) -> bool {
    confcam::audio::doa::angle_between(a, b) < 10.0
}

/// How far into their turn the second talker was framed, ms (the scene
/// repeats every two turns and pauses).
fn into_second_turn(uptime_ms: u64) -> u64 {
    let cycle = 2 * u64::from(TURN_MS + PAUSE_MS);
    (uptime_ms + cycle - u64::from(TURN_MS + PAUSE_MS)) % cycle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_picture_follows_the_talker_and_the_phones_hear_that_the_room_speaks() {
    let mut config = room_with_talkers(&[40, 220]);
    // A wide camera looking at 130°: 40° is to its right, 220° to its left.
    config.camera[0].azimuth_deg = InRange::new(130).unwrap();
    config.camera[0].hfov_deg = InRange::new(170).unwrap();
    let b = start_box(config).await;
    let mut events = b.running.events.subscribe();
    let phone = Phone::join(&client(), b.https, CODE).await;

    let shots = speaker_shots(&mut events, |s| {
        s.iter().position(|x| near(x.1, 40.0)).is_some_and(|i| s[i..].iter().any(|x| near(x.1, 220.0)))
    })
    .await;
    let a = shots.iter().find(|x| near(x.1, 40.0)).unwrap();
    let then_b = shots.iter().skip_while(|x| !near(x.1, 40.0)).find(|x| near(x.1, 220.0)).unwrap();
    assert!(a.2.centre_x() > 0.6, "the talker at 40° is on the right: {:?}", a.2);
    assert!(then_b.2.centre_x() < 0.4, "the talker at 220° is on the left: {:?}", then_b.2);
    let reaction = into_second_turn(then_b.3);
    assert!((300..=REACTION_LIMIT_MS).contains(&reaction), "framed {reaction} ms into the turn: {shots:?}");

    // The phone is told the room holds the floor.
    let told = phone
        .wait_for(Duration::from_secs(3), |seen: &Seen| {
            seen.of_type("active_speaker").into_iter().find(|(_, m)| m["id"] == 0)
        })
        .await;
    assert!(told.is_some(), "active speaker: the room");

    // The same meeting as Prometheus sees it.
    let m = crate::metrics::scrape(b.https).await;
    assert_eq!(m["confcam_participants{kind=\"phone\"}"], 1.0, "{m:?}");
    assert_eq!(m["confcam_participants{kind=\"room\"}"], 1.0);
    assert!(m["confcam_forwarded_packets_total"] > 10.0, "{m:?}");
    assert!(m["confcam_forwarded_bytes_total"] > m["confcam_forwarded_packets_total"]);
    assert!(m["confcam_source_delivered_total{source=\"camera:main\"}"] > 0.0, "{m:?}");
    assert_eq!(m["confcam_source_running{source=\"microphone\"}"], 1.0);
    assert!(m.contains_key("confcam_dropped_frames_total{source=\"camera:main\"}"), "{m:?}");
    assert!(m.contains_key("confcam_voice_active") && m.contains_key("confcam_checked_in"));
    assert!(m["confcam_process_cpu_seconds_total"] > 0.0 && m["confcam_process_resident_memory_bytes"] > 1e6);
    b.running.shutdown().await;
}

/// Which simulated camera a decoded picture shows: the first has its
/// colour bars getting darker to the right, the second (mirrored) lighter.
/// `None` when it cannot tell.
fn camera_of(width: usize, height: usize, luma: &[u8]) -> Option<usize> {
    let row = &luma[height * 2 / 5 * width..][..width];
    let (mut darker, mut lighter) = (0, 0);
    for pair in row.windows(4) {
        // Steps between neighbouring bars are 18–31; black to white (the
        // bars wrapping round) and the white square's edges are larger.
        match i32::from(pair[3]) - i32::from(pair[0]) {
            -45..=-12 => darker += 1,
            12..=45 => lighter += 1,
            _ => {}
        }
    }
    match darker.cmp(&lighter) {
        _ if darker + lighter < 4 => None,
        std::cmp::Ordering::Greater if darker > 2 * lighter => Some(0),
        std::cmp::Ordering::Less if lighter > 2 * darker => Some(1),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_talker_moving_to_another_cameras_view_switches_the_track_on_a_keyframe() {
    let mut config = room_with_talkers(&[20, 200]);
    let mut back = config.camera[0].clone();
    back.name = "back".into();
    back.azimuth_deg = InRange::new(180).unwrap();
    back.hfov_deg = InRange::new(100).unwrap();
    config.camera[0].hfov_deg = InRange::new(120).unwrap();
    config.camera.push(back);
    let b = start_box(config).await;
    let mut events = b.running.events.subscribe();
    let phone = Phone::join(&client(), b.https, CODE).await;

    let shots = speaker_shots(&mut events, |s| {
        s.iter().position(|x| x.0 == "main").is_some_and(|i| s[i..].iter().any(|x| x.0 == "back"))
    })
    .await;
    let to_back = shots.iter().skip_while(|x| x.0 != "main").find(|x| x.0 == "back").unwrap();
    assert!(near(to_back.1, 200.0), "the back camera frames the talker at 200°: {to_back:?}");
    let reaction = into_second_turn(to_back.3);
    assert!((300..=REACTION_LIMIT_MS).contains(&reaction), "switched {reaction} ms into the turn: {shots:?}");

    // On the phone: pictures of the front camera, then of the back one,
    // the first of which is a keyframe; the track was never renegotiated.
    tokio::time::sleep(Duration::from_millis(800)).await;
    {
        let seen = phone.seen.lock().unwrap();
        let cameras: Vec<(Option<usize>, bool)> = seen
            .pictures
            .iter()
            .filter_map(|p| p.luma.as_ref().map(|(w, h, y)| (camera_of(*w, *h, y), p.keyframe)))
            .collect();
        let first_back = cameras.iter().position(|c| c.0 == Some(1)).expect("the back camera reached the phone");
        assert!(cameras[..first_back].iter().any(|c| c.0 == Some(0)), "after the front camera: {cameras:?}");
        assert!(cameras[first_back].1, "the switch lands on a keyframe");
        assert!(cameras[first_back..].iter().all(|c| c.0 != Some(0)), "and stays: {cameras:?}");
        let offers = seen.of_type("offer");
        let first_picture = seen.pictures[0].at;
        assert!(offers.iter().all(|(at, _)| *at < first_picture), "no renegotiation once the video flowed");
    }
    b.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ring_points_at_the_talker_and_the_button_mutes_within_100_ms() {
    let mut config = room_with_talkers(&[40]);
    config.simulation.pause_ms = InRange::new(0).unwrap();
    let b = start_box(config).await;
    let phone = Phone::join(&client(), b.https, CODE).await;

    // 12 LEDs, 30° apart: the talker at 40° lights LED 1 the most.
    let brightest = |colors: &[confcam::hw::Rgb]| {
        (0..colors.len()).max_by_key(|&i| u32::from(colors[i].1) + u32::from(colors[i].2))
    };
    let until = Instant::now() + Duration::from_secs(5);
    while brightest(&b.sim.leds.colors()) != Some(1) || b.sim.leds.colors()[0] == b.sim.leds.colors()[6] {
        assert!(Instant::now() < until, "the ring points at 40°: {:?}", b.sim.leds.colors());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The room's audio is live on the phone.
    let live = phone.wait_for(Duration::from_secs(5), |s| s.audio_levels.iter().any(|(_, l)| *l > -60).then_some(()));
    assert!(live.await.is_some(), "the phone hears the room");

    let pressed = Instant::now();
    b.sim.button.press();
    let muted = phone
        .wait_for(Duration::from_secs(2), |seen| {
            seen.of_type("muted").into_iter().find(|(_, m)| m["id"] == 0 && m["audio"] == true)
        })
        .await
        .expect("the phone is told the room is muted");
    let told = muted.0.duration_since(pressed);
    assert!(told <= Duration::from_millis(100), "told after {told:?}");
    // Its audio goes silent: every packet that left 100 ms after the press.
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let seen = phone.seen.lock().unwrap();
        let after: Vec<i8> = seen
            .audio_levels
            .iter()
            .filter(|(at, _)| *at >= pressed + Duration::from_millis(150))
            .map(|x| x.1)
            .collect();
        assert!(after.len() >= 10, "audio goes on: {} packets", after.len());
        assert!(after.iter().all(|&l| l == -127), "silence: {after:?}");
    }
    assert!(b.sim.leds.colors().iter().all(|c| c.0 > 0 && c.1 == 0 && c.2 == 0), "the ring is red");
    b.running.shutdown().await;
}
