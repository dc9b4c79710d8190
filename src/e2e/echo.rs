//! The box as a speakerphone: a phone's voice plays through the box's
//! (simulated) loudspeaker into the simulated room, the array hears it back
//! through the room, and the echo canceller keeps it out of what the phone
//! hears from the room.
//!
//! Each test plays and hears tens of seconds of sound in real time; beside
//! the rest of the suite on a two-core machine the simulated devices skip
//! blocks and the measures mean little, so `tools/test` runs them on their
//! own, one at a time (`cargo test --test e2e -- --ignored --test-threads=1`).

use std::time::{Duration, Instant};

use confcam::config::InRange;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Async, FixedAsync, Resampler, SincInterpolationParameters, WindowFunction};

use crate::common::{client, small_config, start_box};
use crate::phone::Phone;

const CODE: &str = "135791";
/// The echo canceller gets this long to learn the room before the echo
/// is measured.
const LEARN: Duration = Duration::from_secs(4);

/// The box as these tests run it: a join code, and a loudspeaker buffer of
/// 120 ms, not 40. The tests measure the echo canceller; on a busy two-core
/// machine the loudspeaker thread is now and then late by more than 40 ms,
/// and each underrun restarts the reference (measured with one core kept
/// busy: double talk 36-87 % of the talker's frames with 40 ms, 83-86 %
/// with 120 ms).
fn speakerphone_config() -> confcam::config::Config {
    let mut config = small_config();
    config.meeting.join_code = Some(CODE.into());
    config.speaker.buffer_ms = InRange::new(120).unwrap();
    config
}

/// Speech from espeak-ng, 48 kHz, at about −24 dBFS RMS.
fn speech() -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("voice.wav");
    let text = "Good morning everyone, can you all hear me at the back of the room? \
                Let us look at the numbers for the third quarter, and then the plan for next year. \
                I think we should move the launch to next month.";
    let status = std::process::Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng is installed (tools/deps aec)");
    assert!(status.success());
    let mut reader = hound::WavReader::open(&wav).unwrap();
    let rate = reader.spec().sample_rate;
    let input: Vec<f32> = reader.samples::<i16>().map(|s| f32::from(s.unwrap()) / 32768.0).collect();
    let sinc = SincInterpolationParameters::new(64, WindowFunction::BlackmanHarris2);
    let ratio = 48_000.0 / f64::from(rate);
    let mut resampler = Async::<f32>::new_sinc(ratio, 1.0, &sinc, 1024, 1, FixedAsync::Input).unwrap();
    let mut out = vec![0.0; resampler.process_all_needed_output_len(input.len())];
    let frames = out.len();
    let (_, produced) = resampler
        .process_all_into_buffer(
            &InterleavedSlice::new(&input[..], 1, input.len()).unwrap(),
            &mut InterleavedSlice::new_mut(&mut out[..], 1, frames).unwrap(),
            input.len(),
            None,
        )
        .unwrap();
    out.truncate(produced);
    let rms = (out.iter().map(|s| s * s).sum::<f32>() / out.len() as f32).sqrt();
    out.iter_mut().for_each(|s| *s *= 0.063 / rms);
    out
}

/// How loud the room sounds to a talking phone while its own voice plays
/// in the room (dBFS of the decoded room audio, after [`LEARN`]).
async fn room_heard_by_talker(echo_cancellation: bool, voice: &[f32]) -> f32 {
    let mut config = speakerphone_config();
    // Nobody talks in the room: all it sends back is the phone's echo and
    // the room's noise.
    config.simulation.talkers.clear();
    config.simulation.echo_db = InRange::new(-6).unwrap();
    config.microphone.echo_cancellation = echo_cancellation;
    let b = start_box(config).await;
    let phone = Phone::join_talking(&client(), b.https, CODE, voice.to_vec()).await;
    let talking = phone.wait_for(Duration::from_secs(30), |s| s.talking_since).await.expect("the phone connected");
    let speech = Duration::from_secs_f64(voice.len() as f64 / 48_000.0);
    // Generous: a busy machine delays the room's audio, never the measure.
    let end = talking + speech;
    phone
        .wait_for(Duration::from_secs(60), |s| {
            s.room_audio.last().filter(|(at, _)| *at > end + Duration::from_secs(1)).map(|_| ())
        })
        .await;
    let heard: Vec<f32> = phone
        .seen
        .lock()
        .unwrap()
        .room_audio
        .iter()
        .filter(|(at, _)| *at >= talking + LEARN && *at <= end)
        .flat_map(|(_, pcm)| pcm.iter().copied())
        .collect();
    assert!(heard.len() > 48_000 * 3, "the phone heard the room for seconds: {} samples", heard.len());
    let power = heard.iter().map(|s| s * s).sum::<f32>() / heard.len() as f32;
    b.running.shutdown().await;
    10.0 * power.max(1e-12).log10()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "real-time sound for half a minute: tools/test runs these alone (--ignored --test-threads=1)"]
async fn a_phone_does_not_hear_itself_back_from_the_room() {
    let voice = speech();
    let started = Instant::now();
    let without = room_heard_by_talker(false, &voice).await;
    let with = room_heard_by_talker(true, &voice).await;
    eprintln!(
        "the phone's echo: {without:.1} dBFS without echo cancellation, {with:.1} dBFS with ({:.1?})",
        started.elapsed()
    );
    assert!(without > -45.0, "the room really carries the loudspeaker to the microphones: {without:.1} dBFS");
    assert!(without - with >= 30.0, "{:.1} dB less of the phone's own voice", without - with);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "real-time sound for half a minute: tools/test runs these alone (--ignored --test-threads=1)"]
async fn a_loudspeaker_unplugged_mid_meeting_is_reported_and_the_meeting_goes_on_until_it_is_back() {
    use confcam::capture::SourceState;
    use confcam::web::Overall;

    use crate::daemon::{health_of, wait_for};

    let config = speakerphone_config();
    let b = start_box(config).await;
    let (http, base) = (client(), format!("https://{}", b.https));
    let phone = Phone::join_talking(&http, b.https, CODE, vec![0.05; 48_000 * 30]).await;
    let speaker = |h: &confcam::web::Health| h.subsystems.loudspeaker.as_ref().map(|s| s.device.state);
    wait_for(|| async { speaker(&health_of(&http, &base).await) == Some(SourceState::Running) }).await;

    b.sim.speaker.as_ref().expect("a simulated loudspeaker").unplug();
    let h = wait_for(|| async {
        let h = health_of(&http, &base).await;
        (speaker(&h) == Some(SourceState::Offline)).then_some(h)
    })
    .await;
    assert_eq!(h.status, Overall::Degraded);
    let report = h.subsystems.loudspeaker.unwrap();
    assert!(report.device.last_error.is_some_and(|e| e.contains("unplugged")), "the reason is kept");
    // The meeting goes on: the phone still hears the room.
    let heard = phone.seen.lock().unwrap().room_audio.len();
    let more = phone.wait_for(Duration::from_secs(10), |s| (s.room_audio.len() > heard + 25).then_some(())).await;
    assert!(more.is_some(), "the room's audio went on without the loudspeaker");

    b.sim.speaker.as_ref().unwrap().restore();
    wait_for(|| async { health_of(&http, &base).await.status == Overall::Ok }).await;
    b.running.shutdown().await;
}

/// The director's speaker shots while only the far end talks (its voice
/// playing in the room, nobody in the room talking).
async fn shots_while_the_far_end_talks(echo_cancellation: bool) -> Vec<f32> {
    use confcam::director::Shot;
    use confcam::events::BoxEvent;

    let mut config = speakerphone_config();
    config.simulation.talkers.clear();
    config.microphone.echo_cancellation = echo_cancellation;
    let b = start_box(config).await;
    let mut events = b.running.events.subscribe();
    let voice = speech();
    let seconds = voice.len() as f64 / 48_000.0;
    let phone = Phone::join_talking(&client(), b.https, CODE, voice).await;
    let talking = phone.wait_for(Duration::from_secs(30), |s| s.talking_since).await.expect("the phone connected");
    let end = talking + Duration::from_secs_f64(seconds);
    let mut shots = Vec::new();
    while Instant::now() < end {
        match tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            Ok(Ok(BoxEvent::Framing { shot: Shot::Speaker { azimuth_deg, .. }, .. })) => shots.push(azimuth_deg),
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
            _ => {}
        }
    }
    let played = phone.seen.lock().unwrap().room_audio.len();
    assert!(played > 100, "the meeting ran: {played} room packets");
    b.running.shutdown().await;
    shots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "real-time sound for half a minute: tools/test runs these alone (--ignored --test-threads=1)"]
async fn the_far_end_playing_in_the_room_does_not_pull_the_picture_to_the_loudspeaker() {
    // With echo cancellation the loudspeaker's voice is gone before
    // direction finding; without it, the far-end gate (which hears the
    // loudspeaker play, whether or not the phone flags its voice) holds it
    // back. This phone sends no RFC 6464 levels.
    for cancel in [true, false] {
        let shots = shots_while_the_far_end_talks(cancel).await;
        assert!(shots.is_empty(), "echo cancellation {cancel}: the loudspeaker was framed as a talker at {shots:?}");
    }
}

/// Levels (dBFS) of the room's 20 ms packets as a listening phone hears
/// them while a room talker speaks on, from `from` to `to` after the box
/// started or, with `voice`, after another phone began talking over them.
async fn listener_hears(voice: Option<Vec<f32>>, from: Duration, to: Duration) -> Vec<f32> {
    use confcam::config::TalkerConfig;

    // The box's warnings (a microphone away, a loudspeaker run dry) show
    // beside a failed measure.
    let _ = tracing_subscriber::fmt().with_test_writer().with_max_level(tracing::Level::WARN).try_init();
    let mut config = speakerphone_config();
    config.simulation.talkers =
        vec![TalkerConfig { azimuth_deg: InRange::new(60).unwrap(), pitch_hz: InRange::new(140).unwrap() }];
    config.simulation.turn_ms = InRange::new(600_000).unwrap();
    config.simulation.pause_ms = InRange::new(0).unwrap();
    let started = Instant::now();
    let b = start_box(config).await;
    let http = client();
    let listener = Phone::join(&http, b.https, CODE).await;
    // A slow machine starts the box and the far end late: the window
    // follows the far end's voice, so the echo canceller has had the same
    // time to learn the room on every machine.
    let talks = voice.is_some();
    let far_end = match voice {
        Some(voice) => Phone::join_talking(&http, b.https, CODE, voice).await,
        None => Phone::join(&http, b.https, CODE).await,
    };
    let since = if talks {
        let talking =
            far_end.wait_for(Duration::from_secs(30), |s| s.talking_since).await.expect("the far end connected");
        eprintln!("the far end talks from {:.1?} after the box started", talking - started);
        talking
    } else {
        started
    };
    let (from, to) = (since + from, since + to);
    listener.wait_for(Duration::from_secs(60), |s| s.room_audio.last().filter(|(at, _)| *at > to).map(|_| ())).await;
    let levels: Vec<f32> = listener
        .seen
        .lock()
        .unwrap()
        .room_audio
        .iter()
        .filter(|(at, _)| *at >= from && *at <= to)
        .map(|(_, pcm)| confcam::audio::echo::dbfs(pcm).max(-90.0))
        .collect();
    let health = crate::daemon::health_of(&http, &format!("https://{}", b.https)).await;
    let underruns = health.subsystems.loudspeaker.map_or(0, |s| s.underruns);
    eprintln!("the listener heard {} room packets; the loudspeaker ran dry {underruns} times", levels.len());
    b.running.shutdown().await;
    levels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "real-time sound for half a minute: tools/test runs these alone (--ignored --test-threads=1)"]
async fn a_room_talker_is_still_heard_while_the_far_end_talks_over_them() {
    // The same room talker (the simulated voice is a function of the
    // array's sample clock) heard alone, then with a phone talking over
    // them at the same time through the loudspeaker.
    let alone = listener_hears(None, Duration::from_secs(2), Duration::from_secs(22)).await;
    let voice = speech();
    let speech = Duration::from_secs_f64(voice.len() as f64 / 48_000.0);
    assert!(speech > LEARN + Duration::from_secs(6), "the far end talks for {speech:.1?}");
    let over = listener_hears(Some(voice), LEARN, LEARN + Duration::from_secs(6)).await;
    assert!(alone.len() > 700 && over.len() > 200, "{} and {} packets", alone.len(), over.len());
    // Line the second run's packets up with the first's on the talker's
    // level contour (the boxes started their sound at different times):
    // all of them first, then each second within half a second of that (a
    // busy machine can make either run skip a block).
    let score = |piece: &[f32], lag: usize| -> f32 {
        piece.iter().zip(&alone[lag..]).map(|(a, b)| -(a - b).abs().min(20.0)).sum()
    };
    let best = |piece: &[f32], lags: std::ops::Range<usize>| {
        lags.max_by(|&a, &b| score(piece, a).total_cmp(&score(piece, b))).unwrap_or(0)
    };
    let whole = best(&over, 0..alone.len() - over.len());
    let loudest = alone.iter().copied().fold(f32::MIN, f32::max);
    let (mut talking, mut kept, mut quieter, mut louder) = (0, 0, 0, 0);
    for (i, piece) in over.chunks_exact(50).enumerate() {
        let near = whole + i * 50;
        let lag = best(piece, near.saturating_sub(25)..(near + 25).min(alone.len() - piece.len()));
        for (heard, talker) in piece.iter().zip(&alone[lag..]) {
            if *talker > loudest - 30.0 {
                talking += 1;
                kept += usize::from((heard - talker).abs() <= 6.0);
                quieter += usize::from(heard - talker < -6.0);
                louder += usize::from(heard - talker > 6.0);
            }
        }
    }
    let share = kept as f32 / talking.max(1) as f32 * 100.0;
    eprintln!(
        "double talk: {kept} of {talking} talker frames within 6 dB ({share:.0} %); {quieter} quieter, {louder} louder"
    );
    assert!(talking > 100, "the talker spoke: {talking} frames");
    assert!(share >= 45.0, "{share:.0} % of the talker's frames within 6 dB of their level");
}
