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
    let mut in_use = Value::Null;
    for _ in 0..50 {
        let status: Value = admin.get(format!("{base}/api/status")).send().await.unwrap().json().await.unwrap();
        in_use = status["director_in_use"]["reaction_ms"].clone();
        if in_use == 1200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(in_use, 1200, "the running director took the new reaction time");
    let (store, _) = confcam::store::Store::open(the_box.dir.path()).unwrap();
    let stored = store.settings().unwrap();
    assert!(stored.contains(&("director.reaction_ms".to_string(), json!(1200))), "{stored:?}");

    // The join code: a fresh one on demand, or fixed (then not on demand).
    let old = shown["code"].as_str().unwrap().to_string();
    let fresh: Value = admin.post(format!("{base}/api/meeting/code")).send().await.unwrap().json().await.unwrap();
    assert_ne!(fresh["code"], json!(old));
    assert_eq!(put(json!({ "meeting.join_code": "135790" })).await.unwrap().status(), 200);
    let shown: Value = admin.get(format!("{base}/api/display")).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["code"], "135790");
    assert_eq!(admin.post(format!("{base}/api/meeting/code")).send().await.unwrap().status(), 409);
}
