//! Face check-in through the whole daemon: people enrolled over HTTPS with
//! real photos, the simulated camera showing them, check-ins on the event
//! bus and in SQLite. Needs tools/fetch-models and tools/fetch-photos (which
//! tools/test runs first).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use confcam::capture::sim::Portrait;
use confcam::config::{Config, InRange};
use confcam::events::BoxEvent;
use confcam::vision::{PhotoLimits, Picture};
use tokio::sync::broadcast;

use crate::common::{TestBox, admin_client, small_config, start_box};

pub fn repo(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(default))
}

pub fn photo(name: &str) -> Vec<u8> {
    let path = repo("CONFCAM_PHOTOS", "target/face-photos").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run tools/fetch-photos)", path.display()))
}

/// `name` as a person standing in the room: shrunk to `height` pixels.
fn portrait(name: &str, height: u32) -> Portrait {
    let picture = Picture::decode(&photo(name), PhotoLimits::default()).unwrap();
    let (width, height, i420) = picture.scaled(height as f32 / picture.height as f32).to_i420();
    Portrait { width, height, i420 }
}

/// A box that checks people in (the face models from tools/fetch-models).
pub fn config() -> Config {
    let mut c = small_config();
    c.camera[0].width = InRange::new(640).unwrap();
    c.camera[0].height = InRange::new(360).unwrap();
    c.camera[0].fps = InRange::new(10).unwrap();
    c.checkin.enabled = true;
    c.checkin.models_dir = repo("CONFCAM_MODELS", "target/models");
    c
}

/// The next check-in within `limit`, if any.
async fn next_check_in(events: &mut broadcast::Receiver<BoxEvent>, limit: Duration) -> Option<(i64, String)> {
    let until = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(until, events.recv()).await {
            Err(_) => return None,
            Ok(Ok(BoxEvent::CheckIn { person, name, .. })) => return Some((person.0, name)),
            Ok(Ok(_) | Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("{e}"),
        }
    }
}

async fn enroll(http: &reqwest::Client, base: &str, query: &str, body: Vec<u8>) -> reqwest::Response {
    http.post(format!("{base}/api/people?{query}")).body(body).send().await.unwrap()
}

async fn json(http: &reqwest::Client, url: String) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// The check-in state once its faces are (or are not) empty, within 3 s (a
/// frame being analysed when the change comes still finishes).
async fn once_faces(http: &reqwest::Client, base: &str, empty: bool) -> serde_json::Value {
    let since = Instant::now();
    loop {
        let status = json(http, format!("{base}/api/checkin")).await;
        if (status["faces"] == serde_json::json!([])) == empty {
            return status;
        }
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "faces still {}: {status}",
            if empty { "seen" } else { "gone" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_face_checks_in_within_3_s_and_a_stranger_leaves_no_trace() {
    let TestBox { running, sim, https, .. } = start_box(config()).await;
    let base = format!("https://{https}");
    let http = admin_client(&base).await;
    let mut events = running.events.subscribe();

    let enrolled = enroll(&http, &base, "name=Barack%20Obama&email=potus44%40example.org", photo("obama.jpg")).await;
    assert_eq!(enrolled.status(), 201, "{}", enrolled.text().await.unwrap());
    let id = enrolled.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();

    // A stranger stands before the camera: no check-in, nothing stored.
    sim.cameras[0].show(Some(portrait("biden.jpg", 300)));
    assert_eq!(next_check_in(&mut events, Duration::from_secs(4)).await, None);
    let status = json(&http, format!("{base}/api/checkin")).await;
    assert_eq!(status["faces"].as_array().unwrap().len(), 1, "the face was seen: {status}");
    assert_eq!(status["faces"][0]["person"], serde_json::Value::Null);
    assert_eq!(json(&http, format!("{base}/api/meetings")).await, serde_json::json!([]));
    let people = json(&http, format!("{base}/api/people")).await;
    assert_eq!(people.as_array().unwrap().len(), 1, "{people}");
    assert_eq!(people[0]["embeddings"], 1);
    assert_eq!(people[0]["photos"], 0, "photos are not kept unless the admin says so");

    // The stranger leaves; the enrolled person, from another photo, comes in
    // and checks in within 3 s.
    sim.cameras[0].show(None);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let shown = Instant::now();
    sim.cameras[0].show(Some(portrait("obama2.jpg", 300)));
    let checked_in = next_check_in(&mut events, Duration::from_secs(3)).await;
    assert_eq!(checked_in, Some((id, "Barack Obama".to_string())), "after {:?}", shown.elapsed());
    eprintln!("checked in {:?} after the face appeared", shown.elapsed());
    // The face, with who it is, is what the director frames speakers by.
    let faces = json(&http, format!("{base}/api/checkin")).await["faces"].clone();
    assert_eq!(faces[0]["person"], id, "{faces}");
    let x = faces[0]["x"].as_f64().unwrap();
    assert!((0.3..0.6).contains(&x), "the portrait is in the middle of the picture: {faces}");

    let meetings = json(&http, format!("{base}/api/meetings")).await;
    let meeting = meetings[0]["id"].as_i64().unwrap();
    let attendance = json(&http, format!("{base}/api/meetings/{meeting}/attendance")).await;
    assert_eq!(attendance[0]["name"], "Barack Obama");
    let csv = http.get(format!("{base}/api/meetings/{meeting}/attendance.csv")).send().await.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("name,email,first_seen,last_seen\r\nBarack Obama,potus44@example.org,"), "{csv}");

    // The privacy switch: while engaged no frame reaches the models, and
    // once released check-in goes on as the admin set it.
    sim.privacy.set(true);
    let status = once_faces(&http, &base, true).await;
    assert_eq!(status["privacy_switch"], true);
    assert_eq!(status["enabled"], true, "the admin's setting is untouched");
    sim.privacy.set(false);
    once_faces(&http, &base, false).await;

    // Check-in off: the face stays in view, and no frame reaches the models.
    let off = http.put(format!("{base}/api/checkin")).json(&serde_json::json!({ "enabled": false })).send().await;
    assert_eq!(off.unwrap().status(), 200);
    once_faces(&http, &base, true).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(json(&http, format!("{base}/api/checkin")).await["faces"], serde_json::json!([]), "and stay gone");
    let settings = running.status.store.settings().unwrap();
    assert!(settings.contains(&("checkin.enabled".into(), serde_json::json!(false))), "kept for the next start");

    // Deleting the person deletes their check-ins too.
    let deleted = http.delete(format!("{base}/api/people/{id}")).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(json(&http, format!("{base}/api/meetings/{meeting}/attendance")).await, serde_json::json!([]));
    assert_eq!(http.delete(format!("{base}/api/people/{id}")).send().await.unwrap().status(), 404);
    running.shutdown().await;
}

/// A JPEG whose header says 10000x10000 (100 megapixels): what a crafted or
/// giant upload looks like before its pixels are decoded.
fn hundred_megapixels() -> Vec<u8> {
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 80)
        .encode(&[128; 16 * 16 * 3], 16, 16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    // SOF0: marker, length (2), precision (1), height (2), width (2).
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0x27, 0x10, 0x27, 0x10]);
    jpeg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_photos_are_refused_with_a_reason_and_nothing_is_stored() {
    let mut config = config();
    config.checkin.keep_photos = true;
    let TestBox { running, https, sim, .. } = start_box(config).await;
    let base = format!("https://{https}");
    let http = admin_client(&base).await;
    let mut grey = Vec::new();
    jpeg_encoder::Encoder::new(&mut grey, 80)
        .encode(&[120; 320 * 240 * 3], 320, 240, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let mut corrupt = photo("obama.jpg");
    corrupt.truncate(corrupt.len() / 3);
    corrupt.extend_from_slice(&[0x42; 5000]);
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><circle r="40"/></svg>"#.to_vec();
    let cases: [(&str, Vec<u8>, u16, &str); 6] = [
        ("corrupt", corrupt, 400, "cannot be decoded"),
        ("100 MP", hundred_megapixels(), 413, "100 megapixels"),
        ("no face", grey, 422, "no face"),
        ("two or more faces", photo("t1.jpg"), 422, "6 faces"),
        ("svg", svg, 415, "SVG"),
        ("text", b"hello".to_vec(), 415, "not a JPEG or PNG"),
    ];
    for (what, body, status, reason) in cases {
        let response = enroll(&http, &base, "name=Someone", body).await;
        assert_eq!(response.status(), status, "{what}");
        let error = response.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().to_string();
        assert!(error.contains(reason), "{what}: {error}");
    }
    let no_name = http.post(format!("{base}/api/people")).body(photo("obama.jpg")).send().await.unwrap();
    assert_eq!(no_name.status(), 400);
    let unknown = http.post(format!("{base}/api/people/999/photos")).body(photo("obama.jpg")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let garbage = http.put(format!("{base}/api/checkin")).body("{\"enabled\": \"yes\"}").send().await.unwrap();
    assert_eq!(garbage.status(), 400);

    assert_eq!(json(&http, format!("{base}/api/people")).await, serde_json::json!([]), "nothing stored");
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200, "still serving");
    // And a good photo still enrolls after all that.
    assert_eq!(enroll(&http, &base, "name=Barack%20Obama", photo("obama3.jpg")).await.status(), 201);

    // Enrolling with the box camera: nobody in view, then someone.
    let capture = |query: &'static str| http.post(format!("{base}/api/people/capture?{query}")).send();
    let empty = capture("name=Eileen").await.unwrap();
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("no face"));
    sim.cameras[0].show(Some(portrait("obama.jpg", 340)));
    let captured = capture("name=Obama%20by%20camera").await.unwrap();
    assert_eq!(captured.status(), 201, "{}", captured.text().await.unwrap());
    let people = json(&http, format!("{base}/api/people")).await;
    let names: Vec<&str> = people.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Barack Obama", "Obama by camera"]);
    // Kept as the admin asked: the uploaded photo (a camera frame is not a photo anyone gave).
    let photos: Vec<i64> = people.as_array().unwrap().iter().map(|p| p["photos"].as_i64().unwrap()).collect();
    assert_eq!(photos, [1, 0]);
    running.shutdown().await;
}
