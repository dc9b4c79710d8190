//! The meeting of `bench` through a Janus VideoRoom: the peer the box's SFU
//! is measured against, with the same str0m sessions, publishing schedule,
//! /proc accounting and table. Signalling is Janus's HTTP API, one Janus
//! session per participant. Publishers offer; Janus offers each subscriber
//! every feed in one PeerConnection, and the subscriber picks the layers
//! the box would send it: the first publisher's top layer (the speaker,
//! shown large), the others' middle one (thumbnails).

use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use str0m::Candidate;

use crate::bench::{FIRST_CALL, Figures, FiguresFile, Meeting, Rss, rss_kb};
use crate::session::{Role, Session};
use crate::{run_sessions, run_sessions_while};

#[derive(clap::Args)]
pub struct JanusArgs {
    /// Janus's process id (for its CPU time and memory).
    #[arg(long)]
    pid: u32,
    /// The VideoRoom room, as janus.plugin.videoroom.jcfg configures it
    /// (H.264 42e01f, audio level and transport-wide CC extensions, room
    /// for every publisher).
    #[arg(long, default_value_t = 1234)]
    room: u64,
    /// What sets this Janus apart, for the table's heading (e.g.
    /// "event_loops = 1").
    #[arg(long, default_value = "")]
    label: String,
    #[command(flatten)]
    meeting: Meeting,
    #[command(flatten)]
    figures: FiguresFile,
}

/// Feed ids are ours to choose: the publishers' are this plus their index.
const FIRST_FEED: u64 = 1000;
/// How long Janus gets for each step of the signalling.
const PATIENCE: Duration = Duration::from_secs(20);

/// The first call's publisher (see `bench::warm_up`): a feed none of the
/// meeting's publishers has.
const FIRST_CALL_PUBLISHER: usize = 900;

pub async fn run(base: &str, seconds: u64, args: JanusArgs) -> Result<(), String> {
    let JanusArgs { pid, room, label, meeting, figures: file } = args;
    // Janus sits on a link only this machine has: no proxy in between.
    let http = reqwest::Client::builder().no_proxy().build().map_err(|e| e.to_string())?;
    let ip = address_toward(base)?;
    let place = Place { http: &http, base, room, ip, video_kbps: meeting.video_kbps };

    // The same first call as the box gets, then everyone in it leaves.
    let start_kb = rss_kb(pid)?;
    let first = FIRST_CALL_PUBLISHER..FIRST_CALL_PUBLISHER + 1;
    let ((), everyone) = meet(&place, first, 1, |viewer| {
        run_sessions(viewer, 0, 0, Instant::now() + FIRST_CALL);
        viewer.iter().all(|s| s.connected).then_some(()).ok_or_else(|| "the first call never connected".to_string())
    })
    .await?;
    for mut p in everyone {
        p.leave().await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = Rss { start_kb, first_call_kb: rss_kb(pid)? };

    let (figures, _) = meet(&place, 0..meeting.publishers, meeting.subscribers, |subscribers| {
        let warm_until = Instant::now() + Duration::from_secs(meeting.warmup);
        Figures::measure(pid, rss_before, subscribers, &meeting, warm_until, Duration::from_secs(seconds))
    })
    .await?;
    let heading = if label.is_empty() { "Janus VideoRoom".to_string() } else { format!("Janus VideoRoom ({label})") };
    figures.print(&heading, &meeting);
    file.write(&figures)
}

/// Where the meetings take place.
struct Place<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    room: u64,
    ip: IpAddr,
    video_kbps: u32,
}

/// A meeting: the publishers numbered `publishers` send from a thread of
/// their own, as in `bench`, and `subscribers` receive every one of them,
/// driven by `attend`. Returns what `attend` did and everyone's Janus
/// participant (to leave by).
async fn meet<T>(
    place: &Place<'_>,
    publishers: std::ops::Range<usize>,
    subscribers: usize,
    attend: impl FnOnce(&mut [Session]) -> Result<T, String>,
) -> Result<(T, Vec<Participant>), String> {
    let Place { http, base, room, ip, video_kbps } = *place;
    let feeds: Vec<u64> = publishers.clone().map(|i| FIRST_FEED + i as u64).collect();
    let mut sessions = Vec::new();
    let mut everyone = Vec::new();
    for i in publishers {
        let (session, handle) = publish(http, base, room, i, ip).await?;
        sessions.push(session);
        everyone.push(handle);
    }
    // They start before the subscribers exist (Janus offers a feed once it
    // is up), so they run until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let publishing = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let n = sessions.len();
            let never = Instant::now() + Duration::from_secs(24 * 3600);
            run_sessions_while(&mut sessions, n, video_kbps, never, || !stop.load(Ordering::Relaxed));
            sessions
        })
    };
    let attended = async {
        for handle in &mut everyone {
            handle.until("the publisher's webrtcup", |h| h.up.then_some(())).await?;
        }
        let mut receiving = Vec::new();
        for _ in 0..subscribers {
            let (session, handle) = subscribe(http, base, room, &feeds, ip).await?;
            receiving.push(session);
            everyone.push(handle);
        }
        attend(&mut receiving)
    }
    .await;
    stop.store(true, Ordering::Relaxed);
    let sessions = publishing.join().map_err(|_| "the publishers' thread failed".to_string())?;
    let attended = attended?;
    if sessions.iter().any(|p| !p.connected) {
        return Err("a publisher never connected".into());
    }
    Ok((attended, everyone))
}

/// A simulcast publisher joined to `room` as feed `FIRST_FEED + i`.
async fn publish(
    http: &reqwest::Client,
    base: &str,
    room: u64,
    i: usize,
    ip: IpAddr,
) -> Result<(Session, Participant), String> {
    let (mut session, offer) = Session::offer(&Role::SimulcastPublisher, ip).map_err(|e| e.to_string())?;
    let mut janus = Participant::attach(http, base).await?;
    let join = json!({
        "request": "joinandconfigure", "ptype": "publisher", "room": room,
        "id": FIRST_FEED + i as u64, "display": format!("Publisher {i}"),
    });
    // str0m lists its rids low to high; Janus reads them high to low
    // unless told, and would send a subscriber the wrong layer.
    janus.message(join, Some(json!({ "type": "offer", "sdp": offer, "rid_order": "lmh" }))).await?;
    let answer = janus.until("the publisher's answer", |h| h.take_jsep("answer")).await?;
    session.accept_answer(answer["jsep"]["sdp"].as_str().unwrap_or_default())?;
    janus.end_of_candidates().await?;
    janus.until("Janus's candidates", |h| h.gathered.then_some(())).await?;
    janus.give_candidates(&mut session);
    Ok((session, janus))
}

/// A subscriber to every feed in one PeerConnection, each feed's video on
/// the layer the box would send.
async fn subscribe(
    http: &reqwest::Client,
    base: &str,
    room: u64,
    feeds: &[u64],
    ip: IpAddr,
) -> Result<(Session, Participant), String> {
    let mut janus = Participant::attach(http, base).await?;
    let streams: Vec<Value> = feeds.iter().map(|f| json!({ "feed": f })).collect();
    janus.message(json!({ "request": "join", "ptype": "subscriber", "room": room, "streams": streams }), None).await?;
    let attached = janus.until("the subscriber's offer", |h| h.take_jsep("offer")).await?;
    let (mut session, answer) = Session::answer(attached["jsep"]["sdp"].as_str().unwrap_or_default(), ip)?;
    janus.message(json!({ "request": "start" }), Some(json!({ "type": "answer", "sdp": answer }))).await?;
    janus.end_of_candidates().await?;

    let speaker = feeds.first().copied();
    let layers: Vec<Value> = attached["plugindata"]["data"]["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["type"] == "video")
        .map(|s| {
            // Janus numbers the layers from the lowest: 2 is the top.
            let substream = if s["feed_id"].as_u64() == speaker { 2 } else { 1 };
            json!({ "mid": s["mid"], "substream": substream })
        })
        .collect();
    janus.message(json!({ "request": "configure", "streams": layers }), None).await?;
    janus.until("Janus's candidates", |h| h.gathered.then_some(())).await?;
    janus.give_candidates(&mut session);
    Ok((session, janus))
}

/// One participant's Janus session with its VideoRoom handle, and what its
/// events said so far.
struct Participant {
    http: reqwest::Client,
    session_url: String,
    handle_url: String,
    transactions: u64,
    /// Janus's trickled candidates not yet given to the str0m session.
    candidates: Vec<String>,
    /// Janus has trickled its last candidate.
    gathered: bool,
    /// Janus's PeerConnection with this participant is up (`webrtcup`).
    up: bool,
    /// VideoRoom events not yet looked at.
    events: Vec<Value>,
}

impl Participant {
    async fn attach(http: &reqwest::Client, base: &str) -> Result<Participant, String> {
        let mut janus = Participant {
            http: http.clone(),
            session_url: base.to_string(),
            handle_url: String::new(),
            transactions: 0,
            candidates: Vec::new(),
            gathered: false,
            up: false,
            events: Vec::new(),
        };
        let session = janus.post(&janus.session_url.clone(), json!({ "janus": "create" })).await?;
        janus.session_url = format!("{base}/{}", session["data"]["id"]);
        let handle = janus
            .post(&janus.session_url.clone(), json!({ "janus": "attach", "plugin": "janus.plugin.videoroom" }))
            .await?;
        janus.handle_url = format!("{}/{}", janus.session_url, handle["data"]["id"]);
        Ok(janus)
    }

    /// Sends a request to Janus (with a transaction id); returns its reply.
    async fn post(&mut self, url: &str, mut request: Value) -> Result<Value, String> {
        self.transactions += 1;
        request["transaction"] = json!(format!("t{}", self.transactions));
        let what = request["janus"].as_str().unwrap_or_default().to_string();
        let r = self.http.post(url).json(&request).send().await.map_err(|e| format!("janus {what}: {e}"))?;
        let reply: Value = r.json().await.map_err(|e| format!("janus {what}: {e}"))?;
        if reply["janus"] == "error" {
            return Err(format!("janus {what}: {}", reply["error"]));
        }
        Ok(reply)
    }

    /// A VideoRoom request; what it leads to arrives as an event.
    async fn message(&mut self, body: Value, jsep: Option<Value>) -> Result<(), String> {
        let mut request = json!({ "janus": "message", "body": body });
        if let Some(jsep) = jsep {
            request["jsep"] = jsep;
        }
        self.post(&self.handle_url.clone(), request).await.map(|_| ())
    }

    /// Ends the participant's Janus session (its handle and PeerConnection
    /// with it).
    async fn leave(&mut self) -> Result<(), String> {
        self.post(&self.session_url.clone(), json!({ "janus": "destroy" })).await.map(|_| ())
    }

    /// Our candidate is in our SDP: tell Janus there are no more.
    async fn end_of_candidates(&mut self) -> Result<(), String> {
        let request = json!({ "janus": "trickle", "candidate": { "completed": true } });
        self.post(&self.handle_url.clone(), request).await.map(|_| ())
    }

    /// Polls Janus's events until `ready` finds what it wants in them.
    async fn until<T>(&mut self, what: &str, mut ready: impl FnMut(&mut Self) -> Option<T>) -> Result<T, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = ready(self) {
                return Ok(found);
            }
            if Instant::now() > deadline {
                return Err(format!("janus: no {what} within {} s", PATIENCE.as_secs()));
            }
            self.poll().await?;
        }
    }

    /// One long poll of the session's events (Janus answers when it has
    /// some, or after 30 s with a keepalive).
    async fn poll(&mut self) -> Result<(), String> {
        let url = format!("{}?maxev=16", self.session_url);
        let r = self.http.get(&url).send().await.map_err(|e| format!("janus events: {e}"))?;
        let events: Value = r.json().await.map_err(|e| format!("janus events: {e}"))?;
        for event in events.as_array().into_iter().flatten() {
            match event["janus"].as_str().unwrap_or_default() {
                "trickle" if event["candidate"]["completed"] == true => self.gathered = true,
                "trickle" => {
                    if let Some(c) = event["candidate"]["candidate"].as_str()
                        && !self.candidates.iter().any(|known| known == c)
                    {
                        self.candidates.push(c.to_string());
                    }
                }
                "webrtcup" => self.up = true,
                "hangup" => return Err(format!("janus hung up: {}", event["reason"])),
                "event" => {
                    let data = &event["plugindata"]["data"];
                    if !data["error"].is_null() {
                        return Err(format!("janus videoroom: {}", data["error"]));
                    }
                    self.events.push(event.clone());
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The first VideoRoom event carrying an SDP of `kind` (offer, answer).
    fn take_jsep(&mut self, kind: &str) -> Option<Value> {
        let i = self.events.iter().position(|e| e["jsep"]["type"] == kind)?;
        Some(self.events.remove(i))
    }

    fn give_candidates(&mut self, session: &mut Session) {
        for c in self.candidates.drain(..) {
            if let Ok(candidate) = Candidate::from_sdp_string(&c) {
                session.rtc.add_remote_candidate(candidate);
            }
        }
    }
}

/// This machine's address on the route to `url`'s host: where our sessions
/// bind, so their candidates are on Janus's link.
fn address_toward(url: &str) -> Result<IpAddr, String> {
    let url = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let host = url.host_str().ok_or("the Janus URL has no host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    // Connecting a UDP socket sends nothing; it only picks the route.
    let probe = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    probe.connect((host, port)).map_err(|e| format!("no route to {host}: {e}"))?;
    probe.local_addr().map(|a| a.ip()).map_err(|e| e.to_string())
}
