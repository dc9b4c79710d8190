//! The SFU with str0m "phones" on an in-memory network and simulated time:
//! the whole protocol path (ICE, DTLS, SCTP, SRTP, renegotiation over the
//! data channel, RTP forwarding) without sockets or a browser.

use crate::events::ParticipantId;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::media::{MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};
use str0m::{Candidate, Event, Input, Output};

use super::engine::{CONNECT_TIMEOUT, Sfu, SfuConfig};
use super::messages::{ClientMessage, ParticipantKind, ServerMessage};
use super::test_phone::{Offer, TestPhone};
use super::testnet::Link;

mod bad_network;
mod room;

const SFU_ADDR: &str = "10.0.0.1:5000";
const SPS_STAP: [u8; 9] = [24, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce];
const P_SLICE: [u8; 4] = [0x41, 0x9a, 0x00, 0x01];

struct Phone {
    addr: SocketAddr,
    phone: TestPhone,
    id: ParticipantId,
    audio: Mid,
    video: Mid,
    seq: u64,
    messages: Vec<ServerMessage>,
    received: Vec<RtpPacket>,
    keyframe_requests: usize,
    /// The phone's path to the box and back (perfect unless a test says).
    up: Link,
    down: Link,
    layer_seq: std::collections::HashMap<String, u64>,
}

struct Net {
    sfu: Sfu,
    phones: Vec<Phone>,
    now: Instant,
}

impl Net {
    fn new() -> Self {
        // str0m's estimator does not settle on this instant network in
        // stepped time (it reads the steps as loss); tests set estimates.
        Self::with_estimation(false)
    }

    fn with_estimation(bandwidth_estimation: bool) -> Self {
        let mut sfu = Sfu::new(SfuConfig { room: "Test room".into(), max_participants: 8, bandwidth_estimation });
        sfu.set_local_addresses(&[SFU_ADDR.parse().unwrap()]);
        Net { sfu, phones: Vec::new(), now: Instant::now() }
    }

    /// A phone offers audio + video + the data channel and joins.
    fn join(&mut self, name: &str) -> usize {
        self.join_with(name, None)
    }

    /// Like [`Self::join`], the video in simulcast layers `rids`.
    fn join_with(&mut self, name: &str, rids: Option<&[&str]>) -> usize {
        let addr: SocketAddr = format!("10.0.0.{}:4000", 10 + self.phones.len()).parse().unwrap();
        let offer = Offer { layers: rids, ..Offer::phone() };
        let (mut phone, offer) = TestPhone::offer(&offer, addr, self.now).unwrap();
        let (id, answer) = self.sfu.join(name, ParticipantKind::Phone, &offer, self.now).unwrap();
        phone.accept_answer(&answer).unwrap();
        let (audio, video) = (phone.audio.unwrap(), phone.video.unwrap());
        self.phones.push(Phone {
            addr,
            phone,
            id,
            audio,
            video,
            seq: 1000,
            messages: Vec::new(),
            received: Vec::new(),
            keyframe_requests: 0,
            up: Link::perfect(2 * self.phones.len() as u64),
            down: Link::perfect(2 * self.phones.len() as u64 + 1),
            layer_seq: Default::default(),
        });
        self.phones.len() - 1
    }

    /// Runs the network for `duration`: in 5 ms steps, or sooner when the
    /// box asks to run (its pacer spaces packets finer than that).
    fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            let next = (self.now + Duration::from_millis(5)).min(self.sfu.poll_timeout(self.now)).min(end);
            self.now = next.max(self.now + Duration::from_micros(200));
            let now = self.now;
            for i in 0..self.phones.len() {
                let _ = self.phones[i].phone.rtc.handle_input(Input::Timeout(now));
            }
            self.sfu.handle_timeout(now);
            self.exchange();
        }
    }

    /// Moves the datagrams that have arrived by now, until nobody has
    /// anything more to say.
    fn exchange(&mut self) {
        let sfu_addr: SocketAddr = SFU_ADDR.parse().unwrap();
        let now = self.now;
        for _ in 0..100 {
            let mut moved = false;
            for phone in &mut self.phones {
                phone.drain(now);
                while let Some(data) = phone.up.receive(now) {
                    self.sfu.handle_datagram(now, phone.addr, sfu_addr, &data);
                    moved = true;
                }
            }
            while let Some(d) = self.sfu.poll_transmit() {
                if let Some(p) = self.phones.iter_mut().find(|p| p.addr == d.destination) {
                    p.down.send(now, d.data);
                }
                moved = true;
            }
            for phone in &mut self.phones {
                while let Some(data) = phone.down.receive(now) {
                    let input = Input::Receive(
                        now,
                        Receive {
                            proto: Protocol::Udp,
                            source: sfu_addr,
                            destination: phone.addr,
                            contents: (&data[..]).try_into().unwrap(),
                        },
                    );
                    let _ = phone.phone.rtc.handle_input(input);
                    // str0m holds one received packet (RTP mode) until polled.
                    phone.drain(now);
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn send_video(&mut self, i: usize, keyframe: bool) {
        let now = self.now;
        let p = &mut self.phones[i];
        let pt = p.phone.rtc.media(p.video).unwrap().remote_pts()[0];
        p.seq += 1;
        let time = (p.seq * 3000) as u32;
        let payload: &[u8] = if keyframe { &SPS_STAP } else { &P_SLICE };
        let mut api = p.phone.rtc.direct_api();
        api.stream_tx_by_mid(p.video, None)
            .unwrap()
            .write_rtp(RtpWrite::new(pt, p.seq.into(), time, now, payload.to_vec()).marker(true));
        let _ = p.phone.rtc.handle_input(Input::Timeout(now));
        self.exchange();
    }

    /// One packet of one simulcast layer; its third byte names the layer.
    fn send_layer(&mut self, i: usize, rid: &str, keyframe: bool, size: usize) {
        let now = self.now;
        let p = &mut self.phones[i];
        let pt = p.phone.rtc.media(p.video).unwrap().remote_pts()[0];
        // Each layer is its own RTP stream with its own numbering.
        let seq = p.layer_seq.entry(rid.to_string()).or_insert(5000);
        *seq += 1;
        let seq = *seq;
        let mut payload = vec![if keyframe { 0x67 } else { 0x41 }; size];
        payload[2] = rid.as_bytes()[0];
        let mut api = p.phone.rtc.direct_api();
        let tx = api.stream_tx_by_mid(p.video, Some(rid.into())).unwrap();
        tx.write_rtp(RtpWrite::new(pt, seq.into(), (seq * 3000) as u32, now, payload).marker(true).nackable(true));
        let _ = p.phone.rtc.handle_input(Input::Timeout(now));
        self.exchange();
    }

    /// A frame of `packets` packets from phone `i` (a keyframe when asked),
    /// then `gap` of network time.
    fn send_frame(&mut self, i: usize, packets: usize, keyframe: bool, gap: Duration) {
        let payloads = (0..packets).map(|n| if keyframe && n == 0 { SPS_STAP.to_vec() } else { P_SLICE.to_vec() });
        self.write_frame(i, payloads.collect());
        let _ = self.phones[i].phone.rtc.handle_input(Input::Timeout(self.now));
        self.exchange();
        self.run(gap);
    }

    /// One frame of phone `i`'s video into its session: a packet per
    /// payload, one timestamp, the marker on the last.
    fn write_frame(&mut self, i: usize, payloads: Vec<Vec<u8>>) {
        let now = self.now;
        let p = &mut self.phones[i];
        let pt = p.phone.rtc.media(p.video).unwrap().remote_pts()[0];
        let time = ((p.seq + 1) * 3000) as u32;
        let last = payloads.len().saturating_sub(1);
        for (n, payload) in payloads.into_iter().enumerate() {
            p.seq += 1;
            // Resent when the box asks, as a browser does.
            let write = RtpWrite::new(pt, p.seq.into(), time, now, payload).marker(n == last).nackable(true);
            p.phone.rtc.direct_api().stream_tx_by_mid(p.video, None).unwrap().write_rtp(write);
        }
    }

    /// One frame from phone 0 in each simulcast layer: `(rid, packets, size)`.
    fn send_simulcast_frame(&mut self, layers: &[(&str, usize, usize)], keyframe: bool) {
        for &(rid, packets, size) in layers {
            for _ in 0..packets {
                self.send_layer(0, rid, keyframe, size);
            }
        }
        self.run(Duration::from_millis(33));
    }

    /// `frames` frames from phone 0 in three layers (a keyframe every 10th).
    fn send_simulcast(&mut self, frames: usize) {
        for frame in 0..frames {
            for (rid, size) in [("l", 200), ("m", 500), ("h", 1000)] {
                self.send_layer(0, rid, frame % 10 == 0, size);
            }
            self.run(Duration::from_millis(33));
        }
    }

    /// A video frame of `packets` packets from phone `i`, all arriving
    /// before the SFU runs (as the task takes a burst off the socket).
    /// Returns how many datagrams the SFU sends right away, to each address.
    fn burst(&mut self, i: usize, packets: usize) -> std::collections::HashMap<SocketAddr, usize> {
        let now = self.now;
        self.write_frame(i, vec![vec![0x41; 1000]; packets]);
        let p = &mut self.phones[i];
        let _ = p.phone.rtc.handle_input(Input::Timeout(now));
        p.drain(now);
        let sfu_addr: SocketAddr = SFU_ADDR.parse().unwrap();
        while let Some(data) = p.up.receive(now) {
            self.sfu.receive(now, p.addr, sfu_addr, &data);
        }
        self.sfu.flush(now);
        let mut sent = std::collections::HashMap::new();
        while let Some(d) = self.sfu.poll_transmit() {
            *sent.entry(d.destination).or_insert(0) += 1;
        }
        sent
    }

    fn send_audio(&mut self, i: usize, dbov: i8) {
        let now = self.now;
        let p = &mut self.phones[i];
        let pt = p.phone.rtc.media(p.audio).unwrap().remote_pts()[0];
        p.seq += 1;
        let ext = ExtensionValues { audio_level: Some(-dbov), voice_activity: Some(dbov < 60), ..Default::default() };
        let mut api = p.phone.rtc.direct_api();
        api.stream_tx_by_mid(p.audio, None)
            .unwrap()
            .write_rtp(RtpWrite::new(pt, p.seq.into(), (p.seq * 960) as u32, now, vec![0xfc; 40]).ext_vals(ext));
        let _ = p.phone.rtc.handle_input(Input::Timeout(now));
        self.exchange();
    }

    /// Phone `i` talks at `dbov`: `packets` audio packets, 20 ms apart.
    fn talk(&mut self, i: usize, dbov: i8, packets: usize) {
        for _ in 0..packets {
            self.send_audio(i, dbov);
            self.run(Duration::from_millis(20));
        }
    }

    fn say(&mut self, i: usize, message: &ClientMessage) {
        let p = &mut self.phones[i];
        assert!(p.phone.say(&serde_json::to_string(message).unwrap()), "the channel is open");
        let _ = p.phone.rtc.handle_input(Input::Timeout(self.now));
        self.exchange();
    }
}

impl Phone {
    /// The video packets received, from the `from`th packet on (audio
    /// packets are the small ones).
    fn video_since(&self, from: usize) -> impl DoubleEndedIterator<Item = &RtpPacket> {
        self.received[from..].iter().filter(|p| p.payload.len() >= 200)
    }

    /// The simulcast layer of each video packet received from `from` on.
    fn layers_since(&self, from: usize) -> Vec<u8> {
        self.video_since(from).map(|p| p.payload[2]).collect()
    }

    /// The simulcast layer of the last video packet received.
    fn last_layer(&self) -> Option<u8> {
        self.video_since(0).next_back().map(|p| p.payload[2])
    }

    /// Takes what the phone's session has to say; datagrams go on its uplink.
    fn drain(&mut self, now: Instant) {
        while let Ok(output) = self.phone.poll_output() {
            match output {
                Output::Timeout(_) => break,
                Output::Transmit(t) => self.up.send(now, t.contents.to_vec()),
                // The box's offers are answered by the phone itself.
                Output::Event(Event::ChannelData(d)) => self.messages.push(serde_json::from_slice(&d.data).unwrap()),
                Output::Event(Event::RtpPacket(p)) => self.received.push(p),
                Output::Event(Event::KeyframeRequest(_)) => self.keyframe_requests += 1,
                Output::Event(_) => {}
            }
        }
    }

    fn video_received(&self) -> Vec<&RtpPacket> {
        self.received.iter().filter(|p| p.payload[..] == SPS_STAP || p.payload[..] == P_SLICE).collect()
    }

    fn audio_received(&self) -> usize {
        self.received.iter().filter(|p| p.payload.len() == 40).count()
    }
}

/// Two phones joined and connected, each receiving the other's tracks.
fn two_phones() -> Net {
    let mut net = Net::new();
    net.join("Ada");
    net.join("Bob");
    net.run(Duration::from_secs(3));
    net
}

#[test]
fn phones_connect_get_welcomed_and_learn_of_each_other() {
    let net = two_phones();
    let ada = &net.phones[0];
    let bob = &net.phones[1];
    assert!(ada.phone.channel_open() && bob.phone.channel_open());
    assert!(
        matches!(&ada.messages[0], ServerMessage::Welcome { you, room, .. } if *you == ada.id && room == "Test room")
    );
    assert!(
        ada.messages
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantJoined { participant } if participant.id == bob.id))
    );
    let ServerMessage::Welcome { participants, .. } = &bob.messages[0] else { panic!("{:?}", bob.messages) };
    assert_eq!(participants.len(), 2);
    assert!(ada.messages.iter().any(|m| matches!(m, ServerMessage::Offer { .. })), "tracks added by renegotiation");
}

#[test]
fn video_starts_on_a_keyframe_and_flows_with_continuous_numbers() {
    let mut net = two_phones();
    let before = net.phones[0].keyframe_requests;
    for _ in 0..5 {
        net.send_video(0, false);
    }
    assert!(net.phones[1].video_received().is_empty(), "nothing before a keyframe");
    net.run(Duration::from_millis(600));
    assert!(net.phones[0].keyframe_requests > before, "the publisher was asked for a keyframe");
    net.send_video(0, true);
    for _ in 0..20 {
        net.send_video(0, false);
        net.run(Duration::from_millis(20));
    }
    let video = net.phones[1].video_received();
    assert_eq!(video.len(), 21);
    assert_eq!(video[0].payload[..], SPS_STAP);
    let seqs: Vec<u64> = video.iter().map(|p| *p.seq_no).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
}

#[test]
fn a_frame_goes_to_the_viewer_at_once_not_a_packet_per_timer_tick() {
    // With estimation on, str0m's pacer releases one packet per run and
    // asks for the next run a microsecond later.
    let mut net = Net::with_estimation(true);
    net.join("Ada");
    net.join("Bob");
    net.run(Duration::from_secs(3));
    net.send_video(0, true);
    net.run(Duration::from_millis(100));
    let bob = net.phones[1].addr;
    let sent = net.burst(0, 8);
    assert!(sent.get(&bob).copied().unwrap_or(0) >= 8, "the whole frame, before any timer: {sent:?}");
}

#[test]
fn audio_flows_at_once_and_the_loud_phone_is_the_active_speaker() {
    let mut net = two_phones();
    for i in 0..150 {
        // Speech: loud with short dips; the other phone hears a quiet room.
        net.send_audio(0, if i % 10 < 7 { 20 } else { 70 });
        net.send_audio(1, 90);

        net.run(Duration::from_millis(20));
    }
    assert!(net.phones[1].audio_received() >= 140);
    assert!(net.phones[0].audio_received() >= 140);
    let ada = net.phones[0].id;
    for phone in &net.phones {
        let last = phone.messages.iter().rev().find_map(|m| match m {
            ServerMessage::ActiveSpeaker { id, .. } => Some(*id),
            _ => None,
        });
        assert_eq!(last, Some(Some(ada)));
    }
}

#[test]
fn a_keyframe_request_from_a_viewer_reaches_the_publisher_rate_limited() {
    let mut net = two_phones();
    net.send_video(0, true);
    net.run(Duration::from_millis(50));
    let before = net.phones[0].keyframe_requests;
    // Bob's decoder asks for a keyframe ten times in 100 ms.
    let ssrc = net.phones[1].video_received()[0].header.ssrc;
    for _ in 0..10 {
        let bob = &mut net.phones[1];
        bob.phone.rtc.direct_api().stream_rx(&ssrc).unwrap().request_keyframe(str0m::media::KeyframeRequestKind::Pli);
        net.run(Duration::from_millis(10));
    }
    let relayed = net.phones[0].keyframe_requests - before;
    assert_eq!(relayed, 1, "relayed once per 500 ms, not ten times");
}

#[test]
fn leaving_removes_the_participant_and_tells_the_others() {
    let mut net = two_phones();
    let ada = net.phones[0].id;
    net.say(0, &ClientMessage::Leave);
    net.run(Duration::from_millis(100));
    assert_eq!(net.sfu.participants().len(), 1);
    assert!(net.phones[1].messages.contains(&ServerMessage::ParticipantLeft { id: ada }));
}

#[test]
fn nonsense_on_the_data_channel_gets_an_error_and_changes_nothing() {
    let mut net = two_phones();
    let p = &mut net.phones[0];
    assert!(p.phone.say("{\"type\":\"explode\"}"));
    net.run(Duration::from_millis(100));
    assert!(matches!(net.phones[0].messages.last(), Some(ServerMessage::Error { .. })));
    assert_eq!(net.sfu.participants().len(), 2);
}

#[test]
fn a_participant_that_never_connects_is_dropped() {
    let mut net = Net::new();
    net.join("Ghost");
    net.phones.clear(); // its packets never arrive
    net.sfu.handle_timeout(net.now + Duration::from_secs(1));
    assert_eq!(net.sfu.participants().len(), 1);
    net.sfu.handle_timeout(net.now + CONNECT_TIMEOUT + Duration::from_secs(1));
    assert!(net.sfu.participants().is_empty());
}

#[test]
fn a_viewer_gets_one_simulcast_layer_the_largest_in_a_small_call() {
    let mut net = Net::new();
    net.join_with("Ada", Some(&["l", "m", "h"]));
    net.join("Bob");
    net.run(Duration::from_secs(3));
    net.send_simulcast(60);
    let bob = &net.phones[1];
    let layers = bob.layers_since(0);
    assert!(layers.len() > 30, "{} packets", layers.len());
    let switches = layers.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(switches <= 1, "one layer at a time, at most one switch: {layers:?}");
    assert_eq!(*layers.last().unwrap(), b'h', "the largest layer in a two-person call");
    let seqs: Vec<u64> = bob.video_since(0).map(|p| *p.seq_no).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "continuous across the switch: {seqs:?}");
}

#[test]
fn a_page_can_ask_for_a_video_small() {
    let mut net = Net::new();
    net.join_with("Ada", Some(&["l", "m", "h"]));
    net.join("Bob");
    net.run(Duration::from_secs(3));
    net.send_simulcast(30);
    // Bob's page shows nobody large: Ada's video becomes a thumbnail.
    net.say(1, &ClientMessage::Layout { large: Some(vec![]) });
    let before = net.phones[1].received.len();
    net.send_simulcast(40);
    let later = net.phones[1].layers_since(before);
    assert_eq!(*later.last().unwrap(), b'm', "the middle layer for a thumbnail: {later:?}");
}

#[test]
fn after_a_network_change_an_ice_restart_brings_the_media_back() {
    let mut net = two_phones();
    net.send_video(0, true);
    net.run(Duration::from_millis(100));
    assert_eq!(net.phones[1].video_received().len(), 1);

    // Bob's phone moves to another network: new address, old path dead.
    let new_addr: SocketAddr = "10.0.1.77:4100".parse().unwrap();
    let now = net.now;
    let bob = &mut net.phones[1];
    bob.addr = new_addr;
    let mut change = bob.phone.rtc.sdp_api();
    change.ice_restart(false);
    let (offer, pending) = change.apply().unwrap();
    let answer = net.sfu.renegotiate(bob.id, &offer.to_sdp_string(), now).unwrap();
    let bob = &mut net.phones[1];
    bob.phone.rtc.sdp_api().accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap()).unwrap();
    // The restart cleared Bob's old candidates; his new address is the one.
    bob.phone.rtc.add_local_candidate(Candidate::host(new_addr, "udp").unwrap());
    net.run(Duration::from_secs(2));

    net.send_video(0, true);
    for _ in 0..5 {
        net.send_video(0, false);
        net.run(Duration::from_millis(30));
    }
    assert!(net.phones[1].video_received().len() >= 6, "media reaches Bob at his new address");
    assert_eq!(net.sfu.participants().len(), 2);
    assert!(net.sfu.renegotiate(ParticipantId(99), &offer.to_sdp_string(), net.now).is_err(), "unknown participant");
}

#[test]
fn a_viewer_with_little_bandwidth_gets_a_smaller_layer_and_the_large_one_back_when_it_grows() {
    let mut net = Net::new();
    net.join_with("Ada", Some(&["l", "m", "h"]));
    net.join("Bob");
    net.run(Duration::from_secs(3));
    net.send_simulcast(60);
    assert_eq!(net.phones[1].last_layer(), Some(b'h'), "room to spare: the largest layer");

    // Bob's Wi-Fi gets slow: the estimate falls below what Ada's top layer
    // (240 kbit/s here) needs, with his audio set aside.
    let bob = net.phones[1].id;
    net.sfu.set_estimate(bob, 250_000);
    net.send_simulcast(40);
    assert_eq!(net.phones[1].last_layer(), Some(b'm'), "the layer that fits");
    net.sfu.set_estimate(bob, 100_000);
    net.send_simulcast(40);
    assert_eq!(net.phones[1].last_layer(), Some(b'l'), "the smallest, never nothing");

    net.sfu.set_estimate(bob, 5_000_000);
    net.send_simulcast(40);
    assert_eq!(net.phones[1].last_layer(), Some(b'h'), "the large layer again");
}
