//! The admin's settings over the API: checked field by field, all or
//! nothing, kept in SQLite, applied while the box runs.

use serde_json::{Value, json};

use crate::common::{admin_client, small_config, start_box};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_checked_kept_and_applied_without_a_restart() {
    let the_box = start_box(small_config()).await;
    let base = format!("https://{}", the_box.https);
    let admin = admin_client(&base).await;
    let put = |body: Value| admin.put(format!("{base}/api/settings")).json(&body).send();

    // Every bad field is named; nothing changes.
    let refused =
        put(json!({ "director.reaction_ms": 50, "server.https_port": 1, "room.name": "Blue" })).await.unwrap();
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert!(body["fields"]["director.reaction_ms"].as_str().unwrap().contains("5000"), "{body}");
    assert!(body["fields"]["server.https_port"].is_string(), "{body}");
    let malformed =
        admin.put(format!("{base}/api/settings")).header("content-type", "application/json").body("{").send();
    assert_eq!(malformed.await.unwrap().status(), 400);
    let settings: Value = admin.get(format!("{base}/api/settings")).send().await.unwrap().json().await.unwrap();
    assert_eq!(settings["values"]["room.name"], "Meeting room");

    // A good change: applied at once where it can be, the rest waits.
    let saved = put(json!({ "director.reaction_ms": 1200, "room.name": "Blue", "camera[0].fps": 5 })).await.unwrap();
    assert_eq!(saved.status(), 200);
    assert_eq!(saved.json::<Value>().await.unwrap()["restart_pending"], json!(["camera[0].fps"]));
    let shown: Value = admin.get(format!("{base}/api/display")).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["room"], "Blue");
    let status_of = async || admin.get(format!("{base}/api/status")).send().await.unwrap().json().await.unwrap();
    let status = within_5_s(status_of, |s| s["director_in_use"]["reaction_ms"] == 1200).await;
    assert_eq!(status["director_in_use"]["reaction_ms"], 1200, "the running director took the new reaction time");
    let (store, _) = confcam::store::Store::open(the_box.dir.path()).unwrap();
    let stored = store.settings().unwrap();
    assert!(stored.contains(&("director.reaction_ms".to_string(), json!(1200))), "{stored:?}");

    // The join code: a fresh one on demand, or fixed (then not on demand).
    let old = shown["code"].as_str().unwrap().to_string();
    let fresh: Value = admin.post(format!("{base}/api/meeting/code")).send().await.unwrap().json().await.unwrap();
    assert_ne!(fresh["code"], json!(old));
    assert_eq!(put(json!({ "meeting.join_code": "135790" })).await.unwrap().status(), 200);
    let display_of = async || admin.get(format!("{base}/api/display")).send().await.unwrap().json().await.unwrap();
    let shown = within_5_s(display_of, |d| d["code"] == "135790").await;
    assert_eq!(shown["code"], "135790");
    assert_eq!(admin.post(format!("{base}/api/meeting/code")).send().await.unwrap().status(), 409);
}

/// Reads `read` until `done` holds (or 5 s pass) and returns the last
/// reading: the live-config follower applies a saved setting a moment after
/// the save answers, and a busy machine may answer a read first.
async fn within_5_s(mut read: impl AsyncFnMut() -> Value, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = read().await;
    for _ in 0..50 {
        if done(&last) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        last = read().await;
    }
    last
}

/// The framing mode set on the admin API reaches the running director: a
/// room with a talker is held in group view once the admin asks for it.
/// (The room is heard while someone is in the meeting: a phone joins. The
/// talker takes turns, so each turn is framed anew and a busy machine that
/// logs in slowly cannot make the test miss the only speaker shot.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_mode_set_by_the_admin_holds_the_whole_room() {
    use confcam::config::{InRange, TalkerConfig};
    use confcam::director::Shot;
    use confcam::events::BoxEvent;
    use std::time::Duration;

    let mut config = small_config();
    config.simulation.talkers =
        vec![TalkerConfig { azimuth_deg: InRange::new(40).unwrap(), pitch_hz: InRange::new(120).unwrap() }];
    config.simulation.turn_ms = InRange::new(4000).unwrap();
    config.simulation.pause_ms = InRange::new(1000).unwrap();
    config.director.group_after_silence_ms = InRange::new(500).unwrap();
    config.meeting.join_code = Some("246810".into());
    let the_box = start_box(config).await;
    let mut events = the_box.running.events.subscribe();
    let base = format!("https://{}", the_box.https);
    let admin = admin_client(&base).await;
    let _phone = crate::phone::Phone::join(&crate::common::client(), the_box.https, "246810").await;
    let shot = async |events: &mut tokio::sync::broadcast::Receiver<BoxEvent>, want: fn(&Shot) -> bool| loop {
        if let Ok(BoxEvent::Framing { shot, .. }) = events.recv().await
            && want(&shot)
        {
            return shot;
        }
    };
    let talker =
        tokio::time::timeout(Duration::from_secs(20), shot(&mut events, |s| matches!(s, Shot::Speaker { .. })));
    talker.await.expect("auto mode frames the talker");

    let saved = admin.put(format!("{base}/api/settings")).json(&json!({ "director.mode": "group" })).send().await;
    assert_eq!(saved.unwrap().status(), 200);
    let group = tokio::time::timeout(Duration::from_secs(2), shot(&mut events, |s| *s == Shot::Group));
    group.await.expect("group view at once, though the talker speaks on");
    let status: Value = admin.get(format!("{base}/api/status")).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["director_in_use"]["mode"], "group");
    // A whole turn and pause more: auto mode would frame the next turn.
    let speaker = tokio::time::timeout(Duration::from_secs(6), shot(&mut events, |s| *s != Shot::Group));
    assert!(speaker.await.is_err(), "no speaker shot while the mode is group");

    let bad = admin.put(format!("{base}/api/settings")).json(&json!({ "director.mode": "close-up" })).send().await;
    let bad = bad.unwrap();
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert!(body["fields"]["director.mode"].as_str().unwrap().contains("auto"), "{body}");
    the_box.running.shutdown().await;
}
