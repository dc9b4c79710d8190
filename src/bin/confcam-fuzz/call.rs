//! A call for the media targets, in memory and simulated time: the box's
//! SFU (playing the far end), a phone that has finished ICE, DTLS and the
//! data channel, and a viewer that receives what the phone sends. Fuzzed
//! datagrams then reach a live session, not a stranger's check; what the
//! phone itself said on the way is kept (the recorded seeds).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use confcam::loudspeaker::FarEndMix;
use confcam::sfu::messages::ParticipantKind;
use confcam::sfu::test_phone::{Offer, TestPhone};
use confcam::sfu::{FarAudio, Sfu, SfuConfig};
use str0m::media::Direction;
use str0m::net::{Protocol, Receive};
use str0m::rtp::ExtensionValues;
use str0m::{Input, Output};

pub const BOX: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);
pub const PHONE: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 6000);
const VIEWER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 6001);
/// The most payload the phone writes: str0m panics when a written packet
/// does not fit its 2000-byte datagram with its header (a writer's
/// mistake; the box's own packets are at most 1200). Above the box's
/// [`confcam::sfu::MAX_FORWARDED_PAYLOAD`], so that limit is fuzzed too.
const PHONE_MAX_PAYLOAD: usize = 1900;
/// 10 ms of far-end audio at 48 kHz, as the loudspeaker pulls it.
const CHUNK: usize = 480;

pub struct Call {
    sfu: Sfu,
    now: Instant,
    phone: TestPhone,
    viewer: TestPhone,
    mix: FarEndMix,
    chunk: Vec<f32>,
    pulled_at: Instant,
    /// Each track's RTP sequence number and time (audio, video).
    seq: [u64; 2],
    time: [u32; 2],
    /// Every datagram the phone sent the box, in order, when recording
    /// (the seeds); a fuzzing run keeps none.
    pub said: Option<Vec<Vec<u8>>>,
}

impl Call {
    /// A call with both phones connected and their channels open; `None`
    /// if that takes longer than 10 simulated seconds (a bug to report).
    /// `record`: keep what the phone sends ([`Self::said`]).
    pub fn start(record: bool) -> Option<Call> {
        let now = Instant::now();
        let mut sfu = Sfu::new(SfuConfig { room: "fuzz".into(), max_participants: 4, bandwidth_estimation: true });
        sfu.set_local_addresses(&[BOX]);
        sfu.play_far_end(true);
        let mut join = |offer: &Offer, addr| {
            let (mut phone, sdp) = TestPhone::offer(offer, addr, now).ok()?;
            let (_, answer) = sfu.join("fuzz", ParticipantKind::Phone, &sdp, now).ok()?;
            phone.accept_answer(&answer).ok()?;
            Some(phone)
        };
        let phone = join(&Offer::phone(), PHONE)?;
        let viewing = Offer {
            audio: Some(Direction::RecvOnly),
            video: Some(Direction::RecvOnly),
            channel: true,
            rtp_mode: true,
            ..Default::default()
        };
        let viewer = join(&viewing, VIEWER)?;
        let mut call = Call {
            sfu,
            now,
            phone,
            viewer,
            mix: FarEndMix::default(),
            chunk: vec![0.0; CHUNK],
            pulled_at: now,
            seq: [1000; 2],
            time: [90_000; 2],
            said: record.then(Vec::new),
        };
        for _ in 0..10_000 {
            call.step(Duration::from_millis(1));
            if call.alive() && call.phone.channel_open() && call.viewer.channel_open() {
                return Some(call);
            }
        }
        None
    }

    /// The call's simulated time has run so far ahead of the wall clock
    /// that str0m-openssl would be due at every step: with nothing to do,
    /// it asks to run an hour after `Instant::now()`, the wall clock, not
    /// the caller's time. A fuzzing run goes 1 ms a datagram, a few hundred
    /// times faster than real time, and after an hour's start on the wall
    /// clock every session ran on every step (each input 100 times
    /// slower). The box runs on the wall clock, so only a harness meets it.
    pub fn outran_the_wall_clock(&self) -> bool {
        self.now > Instant::now() + Duration::from_secs(50 * 60)
    }

    /// Both phones are still in the meeting.
    pub fn alive(&self) -> bool {
        self.phone.rtc.is_alive() && self.viewer.rtc.is_alive() && self.sfu.participants().len() == 2
    }

    /// The box caught a panic in a session (and ended only that session):
    /// a finding all the same, which the targets turn back into a crash.
    pub fn panicked(&self) -> bool {
        self.sfu.counters().incidents(confcam::sfu::Incident::SessionPanic) > 0
    }

    /// RTP packets the box has forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.sfu.counters().totals().0
    }

    /// A datagram on the media port from `source`, a millisecond later;
    /// true when the box took it for a session of its own.
    pub fn datagram(&mut self, source: SocketAddr, data: &[u8]) -> bool {
        self.now += Duration::from_millis(1);
        let taken = self.sfu.receive(self.now, source, BOX, data);
        self.sfu.flush(self.now);
        self.step(Duration::ZERO);
        taken
    }

    /// The phone sends one RTP packet (through its SRTP, so the box
    /// decrypts and reads it): audio goes to the loudspeaker's mix and the
    /// viewer, video to the viewer. False when the track cannot send.
    pub fn phone_rtp(&mut self, video: bool, marker: bool, seq_step: i64, time_step: u32, payload: &[u8]) -> bool {
        let track = usize::from(video);
        self.seq[track] = self.seq[track].saturating_add_signed(seq_step);
        self.time[track] = self.time[track].wrapping_add(time_step);
        let Some(mid) = (if video { self.phone.video } else { self.phone.audio }) else { return false };
        let mut ext = ExtensionValues::default();
        if !video {
            ext.audio_level = Some(-(payload.first().copied().unwrap_or(0) as i8 & 0x7f));
            ext.voice_activity = Some(marker);
        }
        let (now, payload) = (self.now, &payload[..payload.len().min(PHONE_MAX_PAYLOAD)]);
        let written =
            self.phone.write_rtp(mid, None, self.seq[track], self.time[track], now, payload.to_vec(), marker, ext);
        self.step(Duration::from_millis(1));
        written
    }

    /// Time passes by `by`; everyone says what they have to say, until
    /// nobody has anything left; the loudspeaker plays what came.
    pub fn step(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        if self.sfu.poll_timeout(now) <= now {
            self.sfu.handle_timeout(now);
        }
        for _ in 0..64 {
            let mut moved = false;
            while let Some(d) = self.sfu.poll_transmit() {
                let to = if d.destination == PHONE { &mut self.phone } else { &mut self.viewer };
                if let Ok(contents) = d.data.as_slice().try_into() {
                    let receive = Receive { proto: Protocol::Udp, source: BOX, destination: d.destination, contents };
                    let _ = to.rtc.handle_input(Input::Receive(now, receive));
                }
            }
            for (addr, phone) in [(PHONE, &mut self.phone), (VIEWER, &mut self.viewer)] {
                for data in drain(phone, now) {
                    moved = true;
                    self.sfu.receive(now, addr, BOX, &data);
                    if let Some(said) = self.said.as_mut().filter(|_| addr == PHONE) {
                        said.push(data);
                    }
                }
            }
            self.sfu.flush(now);
            if !moved {
                break;
            }
        }
        while let Some(audio) = self.sfu.poll_far_audio() {
            match audio {
                FarAudio::Packet { participant, seq, payload } => self.mix.push(participant, seq, &payload, now),
                FarAudio::Left(participant) => self.mix.leave(participant),
            }
        }
        while now - self.pulled_at >= Duration::from_millis(10) {
            self.pulled_at += Duration::from_millis(10);
            self.mix.pull(self.pulled_at, &mut self.chunk);
        }
    }
}

/// What a phone wants sent, once its due timers have run.
fn drain(phone: &mut TestPhone, now: Instant) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    let _ = phone.rtc.handle_input(Input::Timeout(now));
    for _ in 0..256 {
        match phone.poll_output() {
            Ok(Output::Transmit(t)) => sent.push(t.contents.to_vec()),
            Ok(Output::Timeout(t)) if t <= now + confcam::sfu::IMMEDIATE => {
                let _ = phone.rtc.handle_input(Input::Timeout(t.max(now)));
            }
            Ok(Output::Timeout(_)) | Err(_) => break,
            Ok(Output::Event(_)) => {}
        }
    }
    sent
}
