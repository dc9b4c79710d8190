//! Scripted room scenarios on simulated time.

use super::*;
use crate::audio::doa::angle_between;

const TICK: Duration = Duration::from_millis(50);

/// Who is heard when: (from s, to s, azimuth), silence elsewhere. Talkers
/// pause 150 ms every 1.2 s, as between phrases, and the evidence wobbles a
/// few degrees, as a live room's does.
struct Script(Vec<(f32, f32, f32)>);

/// Evidence as the listener gives it: at `t`, about the last 128 ms of
/// audio, speech when at least 48 ms of it was voiced.
const SPAN: f32 = 0.128;
const STEP: f32 = 0.016;
const VOICED: usize = 3;

impl Script {
    /// Who talks at `t`.
    fn voice(&self, t: f32) -> Option<f32> {
        let &(from, _, azimuth) = self.0.iter().find(|&&(from, to, _)| t >= from && t < to)?;
        if (t - from) % 1.2 > 1.05 {
            return None;
        }
        let wobble = ((t * 7.3).sin() * 3.0).round();
        Some(azimuth + wobble)
    }

    /// The evidence at `t`: the latest voice of the window, if enough of it
    /// was voiced.
    fn heard(&self, t: f32) -> Option<f32> {
        let voices: Vec<f32> = (0..=(SPAN / STEP) as usize).filter_map(|i| self.voice(t - i as f32 * STEP)).collect();
        (voices.len() >= VOICED).then(|| voices[0])
    }

    /// Runs the director over the script until `end` s; returns the shot
    /// changes as (time s, framing).
    fn run(&self, director: &mut Director, start: Instant, end: f32) -> Vec<(f32, Framing)> {
        let mut changes = Vec::new();
        let mut t = 0.0;
        while t < end {
            let now = start + Duration::from_secs_f32(t);
            if let Some(f) = director.hear(now, self.heard(t)) {
                changes.push((t, f));
            }
            t += TICK.as_secs_f32();
        }
        changes
    }
}

fn one_camera() -> Vec<CameraView> {
    vec![CameraView { azimuth_deg: 0.0, hfov_deg: 120.0 }]
}

fn speaker_at(f: &Framing) -> Option<f32> {
    match f.shot {
        Shot::Speaker { azimuth_deg, .. } => Some(azimuth_deg),
        Shot::Group => None,
    }
}

#[test]
fn a_new_talker_is_framed_after_the_reaction_time_and_the_answer_too() {
    let start = Instant::now();
    let mut director = Director::new(DirectorConfig::default(), one_camera(), start);
    let script = Script(vec![(1.0, 5.0, 40.0), (5.5, 9.0, 320.0)]);
    let changes = script.run(&mut director, start, 9.0);
    let to_a = changes.iter().find(|(_, f)| speaker_at(f).is_some_and(|a| angle_between(a, 40.0) < 5.0));
    let to_b = changes.iter().find(|(_, f)| speaker_at(f).is_some_and(|a| angle_between(a, 320.0) < 5.0));
    let (ta, tb) = (to_a.expect("A framed").0, to_b.expect("B framed").0);
    assert!((1.4..=1.6).contains(&ta), "A framed {:.2} s after starting", ta - 1.0);
    assert!((5.9..=6.1).contains(&tb), "B framed {:.2} s after answering", tb - 5.5);
    assert_eq!(changes.len(), 2, "nothing else moved: {changes:?}");
    // A at 40° is left of the camera's centre, B at 320° right of it.
    assert!(to_a.unwrap().1.crop.centre_x() < 0.4 && to_b.unwrap().1.crop.centre_x() > 0.6);
}

#[test]
fn bursts_up_to_300_ms_never_move_the_picture() {
    let start = Instant::now();
    let mut director = Director::new(DirectorConfig::default(), one_camera(), start);
    // A talks; a cough from elsewhere in a pause and one over A's talk; a
    // door at the end, after A stopped (within the silence before group).
    let script =
        Script(vec![(0.0, 3.0, 40.0), (3.1, 3.4, 200.0), (3.5, 6.0, 40.0), (4.2, 4.45, 250.0), (6.5, 6.8, 120.0)]);
    let changes = script.run(&mut director, start, 8.0);
    assert_eq!(changes.len(), 1, "only A is framed: {changes:?}");
    assert!(speaker_at(&changes[0].1).is_some_and(|a| angle_between(a, 40.0) < 5.0));
}

#[test]
fn a_new_talker_waits_for_the_hold() {
    let start = Instant::now();
    let mut director = Director::new(DirectorConfig::default(), one_camera(), start);
    // B cuts in 0.4 s after A is framed: the picture stays on A for 2 s.
    let script = Script(vec![(0.0, 0.9, 40.0), (0.9, 5.0, 180.0)]);
    let changes = script.run(&mut director, start, 5.0);
    assert_eq!(changes.len(), 2, "{changes:?}");
    let (framed_a, framed_b) = (changes[0].0, changes[1].0);
    assert!(framed_b - framed_a >= 2.0 - 1e-3, "B after {:.2} s on A", framed_b - framed_a);
}

#[test]
fn silence_brings_group_view() {
    let start = Instant::now();
    let mut director = Director::new(DirectorConfig::default(), one_camera(), start);
    let script = Script(vec![(0.0, 4.0, 90.0)]);
    let changes = script.run(&mut director, start, 9.0);
    let group = changes.iter().find(|(_, f)| f.shot == Shot::Group).expect("group view after silence");
    // A's last words at ~3.95 s (a pause at 3.6–3.75 s does not count).
    assert!((6.9..=7.1).contains(&group.0), "group view at {:.2} s", group.0);
    assert_eq!(group.1.crop, Crop::FULL);
}

#[test]
fn ping_pong_falls_back_to_group_view_until_one_talker_holds_the_floor() {
    let start = Instant::now();
    let mut director = Director::new(DirectorConfig::default(), one_camera(), start);
    // Quick exchange: 2.6 s turns, then A speaks on.
    let mut turns: Vec<(f32, f32, f32)> =
        (0..6).map(|i| (i as f32 * 2.6, (i + 1) as f32 * 2.6, if i % 2 == 0 { 30.0 } else { 330.0 })).collect();
    turns.push((15.6, 24.0, 30.0));
    let changes = Script(turns).run(&mut director, start, 24.0);
    let group = changes.iter().position(|(_, f)| f.shot == Shot::Group).expect("ping-pong gives group view");
    assert!(changes[..group].len() >= 3, "a few switches first: {changes:?}");
    let back = &changes[group + 1..];
    assert!(!back.is_empty(), "A framed again once speaking on");
    let (t, f) = back[0];
    assert!(speaker_at(&f).is_some_and(|a| angle_between(a, 30.0) < 5.0));
    assert!(t >= 15.6 + 4.0 - SPAN - 0.1, "only after settling: {t:.2} s");
}

#[test]
fn two_cameras_the_talker_moves_from_one_to_the_other() {
    let start = Instant::now();
    // A wide camera facing the front, a second one facing the back half.
    let cameras =
        vec![CameraView { azimuth_deg: 0.0, hfov_deg: 120.0 }, CameraView { azimuth_deg: 180.0, hfov_deg: 100.0 }];
    let mut director = Director::new(DirectorConfig::default(), cameras, start);
    assert_eq!(director.on_air().camera, 0, "group view on the widest");
    let script = Script(vec![(0.0, 4.0, 20.0), (4.0, 9.0, 200.0)]);
    let changes = script.run(&mut director, start, 9.0);
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0].1.camera, 0);
    assert_eq!(changes[1].1.camera, 1, "the back camera sees the talker at 200°");
    assert!((4.4..=4.6).contains(&changes[1].0), "switched {:.2} s after the move", changes[1].0 - 4.0);
    // 200° is 20° left of the back camera's centre.
    assert!(changes[1].1.crop.centre_x() < 0.45);
    // A change of camera cuts; no pan from the other camera's crop.
    assert_eq!(director.crop_at(start + Duration::from_secs_f32(changes[1].0 + 0.1)), changes[1].1.crop);
}

#[test]
fn a_narrower_camera_takes_a_talker_it_sees_well() {
    let cameras = [CameraView { azimuth_deg: 0.0, hfov_deg: 120.0 }, CameraView { azimuth_deg: 10.0, hfov_deg: 50.0 }];
    assert_eq!(framing::best_camera(&cameras, 15.0), 1, "well inside the tele camera");
    assert_eq!(framing::best_camera(&cameras, 40.0), 0, "at the tele's edge: the wide one");
    assert_eq!(framing::best_camera(&cameras, 180.0), 0, "seen by none: nearest to a centre");
    assert_eq!(framing::widest(&cameras), 0);
}

#[test]
fn moves_within_a_camera_pan_smoothly_or_cut() {
    let start = Instant::now();
    let mut director = Director::new(DirectorConfig::default(), one_camera(), start);
    let script = Script(vec![(0.0, 3.0, 40.0), (3.0, 6.0, 320.0)]);
    let changes = script.run(&mut director, start, 6.0);
    let (t, to_b) = changes[1];
    let at = |dt: f32| director.crop_at(start + Duration::from_secs_f32(t + dt)).centre_x();
    let (from_x, to_x) = (changes[0].1.crop.centre_x(), to_b.crop.centre_x());
    assert!((at(0.0) - from_x).abs() < 1e-3, "the pan starts where the last shot was");
    assert!(at(0.3) > from_x + 0.05 && at(0.3) < to_x - 0.05, "half way at 0.3 s: {:.2}", at(0.3));
    assert!((at(0.6) - to_x).abs() < 1e-3, "there after 0.6 s");

    let config = DirectorConfig { pan: Duration::ZERO, ..DirectorConfig::default() };
    let mut director = Director::new(config, one_camera(), start);
    let changes = script.run(&mut director, start, 6.0);
    let t = changes[1].0;
    assert_eq!(director.crop_at(start + Duration::from_secs_f32(t)), changes[1].1.crop, "a cut");
}

#[test]
fn seats_gather_nearby_evidence_and_keep_apart_the_rest() {
    let now = Instant::now();
    let mut seats = Seats::default();
    let a = seats.place(358.0, now);
    assert_eq!(seats.place(4.0, now), a, "across 0°");
    let b = seats.place(40.0, now);
    assert_ne!(a, b);
    assert!(angle_between(seats.azimuth(a), 0.0) < 2.0, "{}", seats.azimuth(a));
    assert_eq!(seats.known().count(), 2);
}

#[test]
fn group_mode_keeps_the_whole_room_and_takes_it_at_once() {
    let start = Instant::now();
    let mut director = Director::new(DirectorConfig::default(), one_camera(), start);
    let script = Script(vec![(0.0, 6.0, 40.0), (6.0, 12.0, 320.0)]);
    let changes = script.run(&mut director, start, 3.0);
    assert!(speaker_at(&changes[0].1).is_some(), "auto: A framed");

    // The admin pins group view at 3 s, inside A's hold: it is taken on the
    // next evidence, and no talker is framed after.
    director.set_config(DirectorConfig { mode: Mode::Group, ..DirectorConfig::default() });
    let later = Script(script.0.iter().map(|&(from, to, a)| (from - 3.0, to - 3.0, a)).collect());
    let changes = later.run(&mut director, start + Duration::from_secs(3), 9.0);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0].0, changes[0].1.shot), (0.0, Shot::Group));
    assert!(director.talker(start + Duration::from_secs(8)).is_some(), "the talker is still known");
}

#[test]
fn speaker_mode_stays_on_the_last_talker_through_silence_and_ping_pong() {
    let start = Instant::now();
    let config = DirectorConfig { mode: Mode::Speaker, ..DirectorConfig::default() };
    let mut director = Director::new(config, one_camera(), start);
    // A speaks, then a long silence, then a quick exchange of six turns.
    let mut turns = vec![(0.0, 3.0, 40.0)];
    turns.extend(
        (0..6).map(|i| (12.0 + i as f32 * 2.6, 12.0 + (i + 1) as f32 * 2.6, if i % 2 == 0 { 40.0 } else { 330.0 })),
    );
    let changes = Script(turns).run(&mut director, start, 28.0);
    assert!(changes.iter().all(|(_, f)| f.shot != Shot::Group), "never group view: {changes:?}");
    // A framed once; the 9 s silence keeps A; then every turn of the
    // exchange but the first (A again) is followed.
    assert_eq!(changes.len(), 6, "{changes:?}");
    assert!(speaker_at(&director.on_air()).is_some_and(|a| angle_between(a, 330.0) < 5.0));
}

#[test]
fn leaving_a_pinned_mode_brings_back_auto_framing() {
    let start = Instant::now();
    let config = DirectorConfig { mode: Mode::Group, ..DirectorConfig::default() };
    let mut director = Director::new(config, one_camera(), start);
    let script = Script(vec![(0.0, 8.0, 40.0)]);
    assert!(script.run(&mut director, start, 3.0).is_empty(), "group mode: nothing moves");
    director.set_config(DirectorConfig::default());
    let later = Script(vec![(0.0, 5.0, 40.0)]);
    let changes = later.run(&mut director, start + Duration::from_secs(3), 5.0);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(speaker_at(&changes[0].1).is_some() && changes[0].0 <= 0.6, "A framed within the reaction: {changes:?}");
}
