//! The admin's login: first-boot setup with the display's code, cookies,
//! throttled guessing, logout, a new password, and every admin route behind
//! the session and its CSRF token.

use confcam::web::api::{Access, routes};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{ADMIN_PASSWORD, admin_client, client, client_h2, session_client, small_config, start_box};

async fn display(base: &str) -> serde_json::Value {
    client().get(format!("{base}/api/display")).send().await.unwrap().json().await.unwrap()
}

async fn post(base: &str, path: &str, body: serde_json::Value) -> reqwest::Response {
    client().post(format!("{base}{path}")).json(&body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_box_is_claimed_once_with_the_code_from_the_room() {
    let the_box = start_box(small_config()).await;
    let base = format!("https://{}", the_box.https);
    let state: serde_json::Value =
        client().get(format!("{base}/api/admin/session")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state, json!({ "setup_needed": true, "logged_in": false }));
    let code = display(&base).await["setup_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 8);

    let wrong = post(&base, "/api/admin/setup", json!({ "code": "00000000x", "password": ADMIN_PASSWORD })).await;
    assert_eq!(wrong.status(), 403);
    assert!(wrong.text().await.unwrap().contains("wrong setup code"));
    let short = post(&base, "/api/admin/setup", json!({ "code": code, "password": "short" })).await;
    assert_eq!(short.status(), 422);
    assert!(short.text().await.unwrap().contains("at least 8 characters"));
    let garbage = client().post(format!("{base}/api/admin/setup")).body("{\"code\": 1").send().await.unwrap();
    assert_eq!(garbage.status(), 400);

    let claimed = post(&base, "/api/admin/setup", json!({ "code": code, "password": ADMIN_PASSWORD })).await;
    assert_eq!(claimed.status(), 200);
    let cookie = claimed.headers()["set-cookie"].to_str().unwrap().to_string();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.split("; ").any(|f| f == flag), "{flag} in {cookie}");
    }
    let admin = session_client(claimed).await;
    assert_eq!(admin.get(format!("{base}/api/checkin")).send().await.unwrap().status(), 200);

    let shown = display(&base).await;
    assert_eq!(shown["room"], "Meeting room");
    assert!(shown.get("setup_code").is_none(), "the code is gone once used: {shown}");
    let again = post(&base, "/api/admin/setup", json!({ "code": code, "password": "someone-else" })).await;
    assert_eq!(again.status(), 409, "claimed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_wrong_passwords_sent_at_once_are_throttled_like_forty_in_a_row() {
    let the_box = start_box(small_config()).await;
    let base = format!("https://{}", the_box.https);
    let _admin = admin_client(&base).await;
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let base = base.clone();
        attempts
            .spawn(async move { post(&base, "/api/admin/login", json!({ "password": "guess-guess" })).await.status() });
    }
    let statuses = attempts.join_all().await;
    // Let past the throttle: judged (401), or, on a busy machine, refused
    // because the one hashing turn did not come in time (503).
    let let_past =
        statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED || **s == StatusCode::SERVICE_UNAVAILABLE).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    // Counted before the (slow) hash runs: the four free tries and the one
    // that starts the wait get past, the rest wait.
    assert_eq!((let_past, throttled), (5, 35), "{statuses:?}");
    the_box.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_refused_and_the_sixth_in_a_row_waits() {
    let the_box = start_box(small_config()).await;
    let base = format!("https://{}", the_box.https);
    let first = admin_client(&base).await;

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(post(&base, "/api/admin/login", json!({ "password": "guess-guess" })).await.status());
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    let throttled = post(&base, "/api/admin/login", json!({ "password": ADMIN_PASSWORD })).await;
    assert_eq!(throttled.status(), 429, "even the right password waits");
    let wait: u64 = throttled.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;

    let login = post(&base, "/api/admin/login", json!({ "password": ADMIN_PASSWORD })).await;
    assert_eq!(login.status(), 200);
    let second = session_client(login).await;
    assert_eq!(second.get(format!("{base}/api/people")).send().await.unwrap().status(), 200);

    // A new password: the current one is needed, the other session ends.
    let change = |current: &str, new: &str| {
        second.put(format!("{base}/api/admin/password")).json(&json!({ "current": current, "new": new })).send()
    };
    assert_eq!(change("not-it-at-all", "brand-new-pass").await.unwrap().status(), 401);
    assert_eq!(change(ADMIN_PASSWORD, "short").await.unwrap().status(), 422);
    assert_eq!(change(ADMIN_PASSWORD, "brand-new-pass").await.unwrap().status(), 204);
    assert_eq!(first.get(format!("{base}/api/people")).send().await.unwrap().status(), 401, "other session ended");
    assert_eq!(second.get(format!("{base}/api/people")).send().await.unwrap().status(), 200, "this one stays");
    assert_eq!(post(&base, "/api/admin/login", json!({ "password": ADMIN_PASSWORD })).await.status(), 401);

    // Logging out ends the session on the box, not just in the browser.
    let logout = second.post(format!("{base}/api/admin/logout")).send().await.unwrap();
    assert_eq!(logout.status(), 204);
    assert!(logout.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(second.get(format!("{base}/api/people")).send().await.unwrap().status(), 401);
}

/// Walks the API's own table, so a route added later is covered too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_route_needs_a_session_and_its_csrf_token() {
    let the_box = start_box(small_config()).await;
    let base = format!("https://{}", the_box.https);
    let admin = admin_client(&base).await;
    let cookie_only = {
        let login = post(&base, "/api/admin/login", json!({ "password": ADMIN_PASSWORD })).await;
        let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        move |method: Method, url: String| client().request(method, url).header("cookie", cookie.clone())
    };

    let table = routes();
    let public: Vec<String> =
        table.iter().filter(|r| r.access == Access::Public).map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        public,
        [
            "POST /api/join",
            "POST /api/session/{token}",
            "GET /api/display",
            "GET /api/display/qr.svg",
            "GET /api/admin/session",
            "POST /api/admin/setup",
            "POST /api/admin/login",
        ],
        "making a route public is a decision: list it here too"
    );
    let admin_routes: Vec<_> = table.iter().filter(|r| r.access == Access::Admin).collect();
    assert!(admin_routes.len() >= 12, "{admin_routes:?}");
    for route in admin_routes {
        let url = format!("{base}{}", route.path.replace("{id}", "1").replace("{format}", "attendance"));
        let anonymous = client().request(route.method.clone(), &url).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{} {} without a session", route.method, route.path);
        let forged = cookie_only(route.method.clone(), url.clone()).send().await.unwrap();
        assert_eq!(forged.status(), 403, "{} {} without the CSRF token", route.method, route.path);
        let wrong = cookie_only(route.method.clone(), url.clone()).header("x-csrf-token", "0".repeat(32));
        assert_eq!(wrong.send().await.unwrap().status(), 403, "{} {} with a wrong token", route.method, route.path);
    }
    // Refused with a status and a JSON reason over HTTP/2 as over HTTP/1.1,
    // with a body of any size (HTTP/2 once closed the stream unanswered).
    for route in table.iter().filter(|r| r.access == Access::Admin) {
        let url = format!("{base}{}", route.path.replace("{id}", "1").replace("{format}", "attendance"));
        for (http, version) in [(client(), reqwest::Version::HTTP_11), (client_h2(), reqwest::Version::HTTP_2)] {
            for size in [10, 200_000, 3_000_000] {
                let sent = http.request(route.method.clone(), &url).body(vec![b'x'; size]).send().await;
                let what = format!("{} {} {version:?} with {size} B", route.method, route.path);
                let r = sent.unwrap_or_else(|e| panic!("{what}: no answer: {e:?}"));
                assert_eq!(r.version(), version, "{what}");
                let status = r.status();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                assert!(status == 401 && body["error"].is_string(), "{what}: {status} {body}");
            }
        }
    }
    // The real session with its token passes the guard.
    assert_eq!(admin.get(format!("{base}/api/meetings")).send().await.unwrap().status(), 200);
}
