//! A phone in the meeting, as the end-to-end tests need one: a str0m session
//! with the `room` data channel that joins over HTTPS like the join page,
//! answers the box's renegotiation offers, and records what it is told and
//! the room's video pictures it receives, each with its arrival time.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use confcam::capture::h264::{NAL_IDR, nal_type, nal_units};
use confcam::codec::{OPUS_FRAME, OpusDecoder, OpusEncoder};
use confcam::sfu::test_phone::{Offer, TestPhone};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Event, Input, Output};

/// One picture of the room's video, as it arrived.
pub struct Picture {
    pub at: Instant,
    pub keyframe: bool,
    /// The decoded picture's luma rows (width, height, plane).
    pub luma: Option<(usize, usize, Vec<u8>)>,
}

/// What the phone saw, shared with its thread.
#[derive(Default)]
pub struct Seen {
    pub messages: Vec<(Instant, serde_json::Value)>,
    pub pictures: Vec<Picture>,
    /// The room's audio: each packet's RFC 6464 level (dBov, −127 silence).
    pub audio_levels: Vec<(Instant, i8)>,
    /// The room's audio decoded (48 kHz), one 20 ms packet each (the audio
    /// track of the stream the welcome names as the room's; other phones'
    /// voices can arrive first).
    pub room_audio: Vec<(Instant, Vec<f32>)>,
    /// When this phone's voice started going out, if it talks.
    pub talking_since: Option<Instant>,
}

impl Seen {
    /// Messages of one `type`.
    pub fn of_type(&self, kind: &str) -> Vec<(Instant, serde_json::Value)> {
        self.messages.iter().filter(|(_, m)| m["type"] == kind).cloned().collect()
    }
}

pub struct Phone {
    pub seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Phone {
    /// Joins the box at `https` with `code` and runs the session until dropped.
    pub async fn join(http: &reqwest::Client, https: SocketAddr, code: &str) -> Phone {
        Self::join_talking(http, https, code, Vec::new()).await
    }

    /// Like [`Self::join`], and once connected the phone says `voice` (48 kHz
    /// mono, full scale ±1) into the meeting as Opus, then stays quiet.
    pub async fn join_talking(http: &reqwest::Client, https: SocketAddr, code: &str, voice: Vec<f32>) -> Phone {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let local = socket.local_addr().unwrap();
        let talks = !voice.is_empty();
        let offer = Offer { audio: talks.then_some(Direction::SendOnly), channel: true, ..Default::default() };
        let (mut phone, offer) = TestPhone::offer(&offer, local, Instant::now()).unwrap();
        let talk = talks.then(|| Talk {
            mid: phone.audio.unwrap(),
            voice,
            sent: 0,
            encoder: OpusEncoder::new(32_000).unwrap(),
            started: None,
        });
        let body = serde_json::json!({ "code": code, "name": "Phone", "sdp": offer });
        let r = http.post(format!("https://{https}/api/join")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200, "joined");
        let joined: serde_json::Value = r.json().await.unwrap();
        phone.accept_answer(joined["sdp"].as_str().unwrap()).unwrap();

        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            let session = Session { phone, socket, local, seen, decoder: None, talk, room: None, listen: None };
            std::thread::spawn(move || session.run(&stop))
        };
        Phone { seen, stop, thread: Some(thread) }
    }

    /// Waits up to `limit` for `probe` to find something in what was seen.
    pub async fn wait_for<T>(&self, limit: Duration, probe: impl Fn(&Seen) -> Option<T>) -> Option<T> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(found) = probe(&self.seen.lock().unwrap()) {
                return Some(found);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Session {
    phone: TestPhone,
    socket: UdpSocket,
    local: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    decoder: Option<openh264::decoder::Decoder>,
    talk: Option<Talk>,
    /// The room's stream id (its participant id), from the welcome.
    room: Option<String>,
    /// The room's audio decoder.
    listen: Option<OpusDecoder>,
}

/// What a talking phone says, 20 ms at a time, in real time.
struct Talk {
    mid: Mid,
    voice: Vec<f32>,
    /// Frames sent so far.
    sent: usize,
    encoder: OpusEncoder,
    started: Option<Instant>,
}

impl Session {
    fn run(mut self, stop: &AtomicBool) {
        let mut buf = vec![0u8; 2000];
        while !stop.load(Ordering::Relaxed) && self.phone.rtc.is_alive() {
            let deadline = self.poll();
            let now = Instant::now();
            let wait =
                deadline.saturating_duration_since(now).clamp(Duration::from_millis(1), Duration::from_millis(5));
            self.socket.set_read_timeout(Some(wait)).unwrap();
            let input = match self.socket.recv_from(&mut buf) {
                Ok((n, source)) => match buf[..n].try_into() {
                    Ok(contents) => Input::Receive(
                        Instant::now(),
                        Receive { proto: Protocol::Udp, source, destination: self.local, contents },
                    ),
                    Err(_) => continue,
                },
                Err(_) => Input::Timeout(Instant::now()),
            };
            let _ = self.phone.rtc.handle_input(input);
            self.speak();
        }
    }

    /// Sends the voice's frames that are due (once the session is up).
    fn speak(&mut self) {
        let Some(talk) = self.talk.as_mut() else { return };
        if !self.phone.connected {
            return;
        }
        let now = Instant::now();
        let started = *talk.started.get_or_insert_with(|| {
            self.seen.lock().unwrap().talking_since = Some(now);
            now
        });
        while started + Duration::from_millis(20) * talk.sent as u32 <= now {
            let from = talk.sent * OPUS_FRAME;
            let frame: Vec<i16> = (from..from + OPUS_FRAME)
                .map(|i| (talk.voice.get(i).copied().unwrap_or(0.0).clamp(-1.0, 1.0) * 32767.0) as i16)
                .collect();
            let Ok(payload) = talk.encoder.encode(&frame) else { return };
            let Some(writer) = self.phone.rtc.writer(talk.mid) else { return };
            let Some(pt) = writer.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()) else {
                return;
            };
            let time = MediaTime::new((talk.sent * OPUS_FRAME) as u64, Frequency::FORTY_EIGHT_KHZ);
            let _ = writer.write(pt, now, time, payload);
            talk.sent += 1;
        }
    }

    /// Takes str0m's output until it next needs time.
    fn poll(&mut self) -> Instant {
        loop {
            match self.phone.poll_output() {
                Ok(Output::Timeout(t)) => return t,
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => self.on_event(e),
                Err(_) => return Instant::now() + Duration::from_millis(5),
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            // Offers are answered by the phone itself.
            Event::ChannelData(d) => {
                let Ok(message) = serde_json::from_slice::<serde_json::Value>(&d.data) else { return };
                if message["type"] == "welcome" {
                    let participants = message["participants"].as_array().into_iter().flatten();
                    self.room = participants
                        .filter(|p| p["kind"] == "room")
                        .find_map(|p| p["id"].as_i64())
                        .map(|id| id.to_string());
                }
                self.seen.lock().unwrap().messages.push((Instant::now(), message));
            }
            Event::MediaData(m) if self.phone.rtc.media(m.mid).is_some_and(|x| x.kind() == MediaKind::Audio) => {
                if let Some(level) = m.ext_vals.audio_level {
                    self.seen.lock().unwrap().audio_levels.push((Instant::now(), level));
                }
                let from_room = self
                    .room
                    .as_deref()
                    .is_some_and(|room| self.phone.rtc.media(m.mid).is_some_and(|media| media.stream_id() == room));
                if !from_room {
                    return;
                }
                let decoder = self.listen.get_or_insert_with(|| OpusDecoder::new().unwrap());
                let mut pcm = Vec::new();
                if decoder.decode(&m.data, &mut pcm).is_ok() {
                    self.seen.lock().unwrap().room_audio.push((Instant::now(), pcm));
                }
            }
            Event::MediaData(m) if self.phone.rtc.media(m.mid).is_some_and(|x| x.kind() == MediaKind::Video) => {
                let keyframe = nal_units(&m.data).any(|n| nal_type(n) == NAL_IDR);
                let luma = self.decode(&m.data);
                self.seen.lock().unwrap().pictures.push(Picture { at: Instant::now(), keyframe, luma });
            }
            _ => {}
        }
    }

    fn decode(&mut self, annex_b: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
        use openh264::formats::YUVSource;
        let decoder = match &mut self.decoder {
            Some(d) => d,
            None => self.decoder.insert(openh264::decoder::Decoder::new().ok()?),
        };
        let yuv = decoder.decode(annex_b).ok()??;
        let (width, height) = yuv.dimensions();
        let stride = yuv.strides().0;
        let luma = (0..height).flat_map(|row| yuv.y()[row * stride..][..width].to_vec()).collect();
        Some((width, height, luma))
    }
}
