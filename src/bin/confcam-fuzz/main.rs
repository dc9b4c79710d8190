//! `confcam-fuzz`: feeds every parser that takes bytes from outside the box
//! mutated inputs, for `tools/fuzz`.
//!
//! Why this fuzzer: there is no nightly toolchain here, and cargo-fuzz's
//! libFuzzer wants one for its sanitizers; cargo-afl needs AFL++ built
//! from outside the registries. This is a mutation fuzzer on stable Rust:
//! each target starts from a committed seed corpus (`tools/fuzz-corpus/`),
//! mutates a seed (bit flips, random and "interesting" bytes, inserted,
//! deleted, repeated and spliced runs), calls the parser in the same
//! process and counts a panic as a crash (the input is kept under
//! `target/fuzz-crashes/` to become a regression test). Inputs that parse
//! join the corpus, so the search climbs past the first checks. It has no
//! coverage feedback: it finds what breaks near valid inputs, fast (no
//! process per input).
//!
//! The media targets run against a live call (`call.rs`). `media-datagram`
//! sends datagrams from the connected phone's address, so they reach its
//! session's STUN, DTLS and SRTP demultiplexing rather than stopping at
//! "whose is this?"; its seeds were recorded from a real call, so their
//! framing is real, but each new call has its own ICE credentials, DTLS
//! keys and SRTP keys: they (and their mutations) stop at those checks.
//! What lies behind the checks is `phone-rtp`'s: the phone's own SRTP
//! carries the fuzzed RTP to the box, which decrypts, forwards and decodes.
//!
//!   confcam-fuzz [SECONDS-PER-TARGET] [TARGET...]
//!   confcam-fuzz seeds      (re-makes the made seeds in tools/fuzz-corpus/)
//!   FUZZ_JOBS=N             N threads a target (default 1), each its own
//!                           seed and corpus: a long run on every core
//!   FUZZ_EXECS=N            a target stops after N executions, or SECONDS

// A tool: it reads the clock.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use confcam::sfu::messages::{ClientMessage, ParticipantKind};
use confcam::sfu::{Sfu, SfuConfig};
use confcam::vision::{PhotoLimits, Picture};

mod call;
use call::Call;

/// A parser under test: it may refuse anything, never panic.
struct Target {
    name: &'static str,
    run: fn(&mut State, &[u8]) -> bool,
}

/// What a target keeps between inputs.
#[derive(Default)]
struct State {
    /// An SFU with a participant, for offers.
    sfu: Option<(Sfu, Instant)>,
    /// A live call, for datagrams and the phone's RTP.
    call: Option<Call>,
    /// Calls that ended under the fuzzer's inputs and were started again.
    restarts: u64,
    /// Calls started in all (an input that starts one is not timed).
    calls: u64,
    frame: Vec<u8>,
    /// The targets' own choices (a datagram's source).
    rng: fastrand::Rng,
}

impl State {
    /// The live call, started again if the last input ended it (or its
    /// simulated time ran too far ahead, see `Call::outran_the_wall_clock`).
    fn call(&mut self) -> &mut Call {
        if self.call.as_ref().is_some_and(|c| !c.alive()) {
            self.restarts += 1;
            self.call = None;
        }
        if self.call.as_ref().is_some_and(Call::outran_the_wall_clock) {
            self.call = None;
        }
        if self.call.is_none() {
            self.calls += 1;
        }
        self.call.get_or_insert_with(|| Call::start(false).expect("a call connects in memory"))
    }
}

const TARGETS: &[Target] = &[
    Target { name: "join-json", run: join_json },
    Target { name: "settings-json", run: settings_json },
    Target { name: "config-toml", run: config_toml },
    Target { name: "data-channel", run: data_channel },
    Target { name: "sdp-offer", run: sdp_offer },
    Target { name: "photo", run: photo },
    Target { name: "mjpeg-frame", run: mjpeg_frame },
    Target { name: "h264-access-unit", run: h264_access_unit },
    Target { name: "media-datagram", run: media_datagram },
    Target { name: "phone-rtp", run: phone_rtp },
];

/// `POST /api/join`'s body, then its code against the box's.
fn join_json(_: &mut State, input: &[u8]) -> bool {
    let Ok(request) = serde_json::from_slice::<confcam::web::join::JoinRequest>(input) else { return false };
    let code = confcam::sfu::JoinCode::parse("135790").expect("a code");
    let _ = code.matches(&request.code);
    true
}

/// `PUT /api/settings`' body laid over the configuration.
fn settings_json(_: &mut State, input: &[u8]) -> bool {
    let Ok(map) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(input) else { return false };
    let settings: Vec<(String, serde_json::Value)> = map.into_iter().collect();
    let (config, refused) = confcam::config::apply_settings(confcam::config::Config::default(), &settings);
    config.validate().is_ok() && refused.is_empty()
}

/// The configuration file.
fn config_toml(_: &mut State, input: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(input) else { return false };
    confcam::config::parse(text, Path::new("fuzz.toml")).is_ok()
}

/// A page's message on the data channel.
fn data_channel(_: &mut State, input: &[u8]) -> bool {
    serde_json::from_slice::<ClientMessage>(input).is_ok()
}

/// An SDP offer as a phone or WHIP client sends it, taken by the SFU.
fn sdp_offer(state: &mut State, input: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(input) else { return false };
    let (sfu, now) = state.sfu.get_or_insert_with(new_sfu);
    let joined = sfu.join("fuzz", ParticipantKind::Phone, text, *now);
    if let Ok((id, _)) = joined {
        sfu.leave(id, *now);
    }
    joined.is_ok()
}

/// An uploaded photo (JPEG or PNG).
fn photo(_: &mut State, input: &[u8]) -> bool {
    Picture::decode(input, PhotoLimits::default()).is_ok()
}

/// A frame from a misbehaving MJPEG camera.
fn mjpeg_frame(state: &mut State, input: &[u8]) -> bool {
    confcam::capture::mjpeg::MjpegDecoder::new().decode(input, &mut state.frame).is_ok()
}

/// An access unit from an H.264 camera: its NAL units, and its SPS.
fn h264_access_unit(_: &mut State, input: &[u8]) -> bool {
    let mut any = false;
    for nal in confcam::capture::h264::nal_units(input) {
        any = true;
        if confcam::capture::h264::nal_type(nal) == 7
            && let Some(profile) = confcam::capture::h264::Profile::of_sps(nal)
        {
            let _ = profile.forwardable();
        }
    }
    any
}

/// A datagram on the media port, mostly from a connected phone's address
/// (its session reads it), sometimes from a stranger's; simulated time.
fn media_datagram(state: &mut State, input: &[u8]) -> bool {
    let stranger = state.rng.u8(..16) == 0;
    let source = if stranger { SocketAddr::from(([127, 0, 0, 1], 7000)) } else { call::PHONE };
    let call = state.call();
    call.datagram(source, input);
    assert!(!call.panicked(), "a session panicked and the box ended it");
    // Every datagram from the phone's address is "taken": no signal here
    // worth growing the corpus by; mutations stay near the seeds.
    false
}

/// What a connected phone sends inside SRTP, which the box decrypts and
/// reads: the first 4 bytes choose the track, marker, sequence and time
/// steps (reordered, repeated, jumping; the sequence steps -15 to 16, so
/// that it moves on as a phone's does and the box keeps taking packets as
/// new), the rest is the payload (Opus to
/// the loudspeaker's jitter buffer and decoder, H.264 or VP8 to the
/// keyframe check and the viewer).
fn phone_rtp(state: &mut State, input: &[u8]) -> bool {
    let [flags, seq, time_hi, time_lo, payload @ ..] = input else { return false };
    let time_step = u32::from(u16::from_be_bytes([*time_hi, *time_lo])) * 8;
    let call = state.call();
    let before = call.forwarded();
    let seq_step = i64::from(*seq as i8 / 8) + 1;
    call.phone_rtp(flags & 1 == 1, flags & 2 == 2, seq_step, time_step, payload);
    assert!(!call.panicked(), "a session panicked and the box ended it");
    // Kept when it passed the box's checks and was forwarded.
    call.forwarded() != before
}

/// An SFU with one phone joined, for offers to meet.
fn new_sfu() -> (Sfu, Instant) {
    use str0m::media::{Direction, MediaKind};
    let now = Instant::now();
    let mut sfu = Sfu::new(SfuConfig { room: "fuzz".into(), max_participants: 4, bandwidth_estimation: true });
    sfu.set_local_addresses(&[SocketAddr::from(([127, 0, 0, 1], 5000))]);
    let mut phone = str0m::Rtc::builder().build(now);
    let mut change = phone.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    change.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
    change.add_channel("room".into());
    let (offer, _) = change.apply().expect("an offer");
    sfu.join("phone", ParticipantKind::Phone, &offer.to_sdp_string(), now).expect("the phone joins");
    (sfu, now)
}

/// Bytes that often sit on a parser's edges.
const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"-1",
    b"0",
    b"4294967296",
    b"18446744073709551616",
    b"1e999",
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\r\n",
    b"=",
    b"a=",
    b"\xef\xbf\xbd",
    b"\xff\xd8",
    b"\xff\xd9",
    b"\x00\x00\x00\x01",
];

fn mutate(rng: &mut fastrand::Rng, seed: &[u8], corpus: &[Vec<u8>], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(seed);
    for _ in 0..rng.usize(1..=4) {
        let len = out.len();
        match rng.u8(0..8) {
            0 if len > 0 => {
                let i = rng.usize(..len);
                out[i] ^= 1 << rng.u8(0..8);
            }
            1 if len > 0 => {
                let i = rng.usize(..len);
                out[i] = rng.u8(..);
            }
            2 => {
                let at = rng.usize(..=len);
                let bytes: Vec<u8> = (0..rng.usize(1..=8)).map(|_| rng.u8(..)).collect();
                out.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let from = rng.usize(..len);
                let to = (from + rng.usize(1..=64)).min(len);
                out.drain(from..to);
            }
            4 if len > 0 => {
                // A run repeated: long lines, deep nesting, many fields.
                let from = rng.usize(..len);
                let to = (from + rng.usize(1..=32)).min(len);
                let run = out[from..to].to_vec();
                for _ in 0..rng.usize(1..=64) {
                    out.splice(to..to, run.iter().copied());
                }
            }
            5 => {
                let at = rng.usize(..=len);
                let bytes = INTERESTING[rng.usize(..INTERESTING.len())];
                out.splice(at..at, bytes.iter().copied());
            }
            6 if !corpus.is_empty() => {
                let other = &corpus[rng.usize(..corpus.len())];
                let at = rng.usize(..=len);
                let from = rng.usize(..=other.len());
                let to = (from + rng.usize(0..=256)).min(other.len());
                out.truncate(at);
                out.extend_from_slice(&other[from..to]);
            }
            _ if len > 1 => out.truncate(rng.usize(..len)),
            _ => out.push(rng.u8(..)),
        }
    }
    // Inputs stay the size an outside client could send in one piece.
    out.truncate(1 << 20);
}

fn read_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

/// Writes the seeds that are made, not typed: pictures, access units and
/// offers from the box's own encoders and str0m (`confcam-fuzz seeds`).
fn write_seeds(root: &Path) {
    let dir = |target: &str| {
        let d = root.join("tools/fuzz-corpus").join(target);
        std::fs::create_dir_all(&d).expect("the corpus folder");
        d
    };
    let slate = confcam::capture::slate::slate(64, 48, "FUZZ", Instant::now());
    let rgb = Picture::from_i420(&slate.data, 64, 48).rgb;
    for (name, subsamp) in [("420", turbojpeg::Subsamp::Sub2x2), ("422", turbojpeg::Subsamp::Sub2x1)] {
        let image = turbojpeg::Image {
            pixels: &rgb[..],
            width: 64,
            pitch: 64 * 3,
            height: 48,
            format: turbojpeg::PixelFormat::RGB,
        };
        let jpeg = turbojpeg::compress(image, 80, subsamp).expect("a JPEG");
        std::fs::write(dir("photo").join(format!("seed-{name}.jpg")), &jpeg[..]).unwrap();
        std::fs::write(dir("mjpeg-frame").join(format!("seed-{name}.jpg")), &jpeg[..]).unwrap();
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, 64, 48);
    encoder.set_color(png::ColorType::Rgb);
    encoder.write_header().unwrap().write_image_data(&rgb).unwrap();
    std::fs::write(dir("photo").join("seed.png"), &png_bytes).unwrap();
    let mut h264 = confcam::codec::H264Encoder::new(64, 48, 10, 100_000).expect("an encoder");
    for (n, keyframe) in [(0, true), (1, false)] {
        let nals = h264.encode(&slate, keyframe).expect("a picture");
        let au = confcam::capture::h264::annex_b(nals.iter().map(Vec::as_slice));
        std::fs::write(dir("h264-access-unit").join(format!("seed-{n}.h264")), au).unwrap();
    }
    use str0m::media::{Direction, MediaKind, Simulcast, SimulcastLayer};
    let mut phone = str0m::Rtc::builder().build(Instant::now());
    let mut change = phone.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let layers = ["l", "m", "h"].map(SimulcastLayer::new);
    let simulcast = Simulcast { send: layers.to_vec(), recv: Vec::new() };
    change.add_media(MediaKind::Video, Direction::SendRecv, None, None, Some(simulcast));
    change.add_channel("room".into());
    let (offer, _) = change.apply().expect("an offer");
    std::fs::write(dir("sdp-offer").join("seed-phone.sdp"), offer.to_sdp_string()).unwrap();

    // A real call's datagrams, as the phone sent them: STUN, the DTLS
    // handshake, SCTP in DTLS, SRTP and SRTCP (RFC 7983's first bytes),
    // a few of each. Opus and H.264 from the box's encoders ride along.
    let mut call = Call::start(true).expect("a call connects in memory");
    let mut opus = confcam::codec::OpusEncoder::new(32_000).expect("an encoder");
    let voice: Vec<i16> = (0..960).map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16).collect();
    let opus_packet = opus.encode(&voice).expect("an Opus packet");
    let h264_packets = confcam::codec::packetize_h264(&h264.encode(&slate, true).expect("a picture"), 1200);
    for n in 0..150u32 {
        call.phone_rtp(false, n == 0, 1, 960, &opus_packet);
        if n % 50 == 0 {
            for (i, (payload, marker)) in h264_packets.iter().enumerate() {
                call.phone_rtp(true, *marker, 1, if i == 0 { 9000 } else { 0 }, payload);
            }
        }
        call.step(Duration::from_millis(19));
    }
    let rtp = dir("phone-rtp");
    let mut audio = vec![0u8, 1, 0, 120];
    audio.extend_from_slice(&opus_packet);
    std::fs::write(rtp.join("seed-opus.bin"), audio).unwrap();
    for (i, (payload, marker)) in h264_packets.iter().take(3).enumerate() {
        let time: [u8; 2] = if i == 0 { (9000u16 / 8).to_be_bytes() } else { [0, 0] };
        let mut video = vec![1 | (u8::from(*marker) << 1), 1, time[0], time[1]];
        video.extend_from_slice(payload);
        std::fs::write(rtp.join(format!("seed-h264-{i}.bin")), video).unwrap();
    }
    let datagrams = dir("media-datagram");
    let mut kept = std::collections::HashMap::<&str, usize>::new();
    for data in call.said.as_deref().unwrap_or_default() {
        let kind = match data.first() {
            Some(0..=3) => "stun",
            Some(20..=63) => "dtls",
            Some(128..=191) if (192..=223).contains(&data.get(1).copied().unwrap_or(0)) => "srtcp",
            Some(128..=191) => "srtp",
            _ => continue,
        };
        let n = kept.entry(kind).or_default();
        if *n < 6 {
            std::fs::write(datagrams.join(format!("call-{kind}-{n}.bin")), data).unwrap();
            *n += 1;
        }
    }
}

thread_local! {
    /// The input's first panic's message and place, for the crash report
    /// (the box catches a panic in a session; the target then panics too).
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    /// A target is running: its panic is a finding, not the fuzzer's own.
    static FUZZING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What one thread's run of a target came to.
struct Run {
    execs: u64,
    crashes: u64,
    corpus: usize,
    /// The longest one input took (a parser that stalls is a finding too).
    slowest: Duration,
    restarts: u64,
}

/// Fuzzes `target` from `corpus` for `seconds` or `execs`, whichever
/// comes first; a crash's input is kept.
fn fuzz(target: &Target, (seconds, execs): (f64, u64), seed: u64, mut corpus: Vec<Vec<u8>>, crashes_dir: &Path) -> Run {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut state = State { rng: fastrand::Rng::with_seed(!seed), ..State::default() };
    let seeds = corpus.len();
    let started = Instant::now();
    let mut run = Run { execs: 0, crashes: 0, corpus: 0, slowest: Duration::ZERO, restarts: 0 };
    let mut input = Vec::new();
    while started.elapsed().as_secs_f64() < seconds && run.execs < execs {
        for _ in 0..64.min(execs - run.execs) {
            // Half the time a committed seed, so they stay in play once
            // the inputs that parsed have filled the corpus.
            let pick = if rng.bool() { rng.usize(..seeds) } else { rng.usize(..corpus.len()) };
            let seed = corpus[pick].clone();
            mutate(&mut rng, &seed, &corpus, &mut input);
            run.execs += 1;
            let (began, calls_before) = (Instant::now(), state.calls);
            LAST_PANIC.with(|p| p.borrow_mut().take());
            FUZZING.set(true);
            let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&mut state, &input)));
            FUZZING.set(false);
            // Starting a call is the harness's time, not the input's.
            if state.calls == calls_before {
                run.slowest = run.slowest.max(began.elapsed());
            }
            match outcome {
                // Parsed: a new place to mutate from (kept small).
                Ok(true) if corpus.len() < 4096 && input.len() <= 64 << 10 => corpus.push(input.clone()),
                Ok(_) => {}
                Err(_) => {
                    run.crashes += 1;
                    run.restarts += state.restarts;
                    state = State { rng: fastrand::Rng::with_seed(rng.u64(..)), ..State::default() };
                    if run.crashes <= 5 {
                        let _ = std::fs::create_dir_all(crashes_dir);
                        let file = crashes_dir.join(format!("{}-{:016x}", target.name, rng.u64(..)));
                        let _ = std::fs::write(&file, &input);
                        let panic = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
                        eprintln!("{}: a crash, kept in {}: {panic}", target.name, file.display());
                    }
                }
            }
        }
    }
    run.restarts += state.restarts;
    run.corpus = corpus.len();
    run
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if args.first().map(String::as_str) == Some("seeds") {
        return write_seeds(&root);
    }
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let chosen: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let crashes_dir = root.join("target/fuzz-crashes");
    // A target's panics are counted and the first few shown, not printed a
    // million times; the fuzzer's own are printed as usual.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| match FUZZING.get() {
        true => LAST_PANIC.with(|p| {
            p.borrow_mut().get_or_insert_with(|| info.to_string());
        }),
        false => default_hook(info),
    }));
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let (seed, jobs) = (env("FUZZ_SEED", 1), env("FUZZ_JOBS", 1).max(1));
    let execs_each = env("FUZZ_EXECS", u64::MAX).div_ceil(jobs);
    let (mut targets, mut total_execs, mut total_crashes) = (0u64, 0u64, 0u64);
    println!(
        "{:<18} {:>12} {:>10} {:>8} {:>8} {:>10} {:>9}",
        "target", "execs", "execs/s", "corpus", "crashes", "slowest ms", "restarts"
    );
    for target in TARGETS.iter().filter(|t| chosen.is_empty() || chosen.contains(&t.name)) {
        let seeds = read_corpus(&root.join("tools/fuzz-corpus").join(target.name));
        assert!(!seeds.is_empty(), "no seeds for {} in tools/fuzz-corpus/", target.name);
        let started = Instant::now();
        let runs: Vec<Run> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..jobs)
                .map(|job| {
                    let (seeds, crashes_dir) = (seeds.clone(), &crashes_dir);
                    scope.spawn(move || fuzz(target, (seconds, execs_each), seed + job, seeds, crashes_dir))
                })
                .collect();
            threads.into_iter().map(|t| t.join().expect("a fuzzing thread")).collect()
        });
        let execs: u64 = runs.iter().map(|r| r.execs).sum();
        let crashes: u64 = runs.iter().map(|r| r.crashes).sum();
        let corpus = runs.iter().map(|r| r.corpus).max().unwrap_or(0);
        let slowest = runs.iter().map(|r| r.slowest).max().unwrap_or_default();
        let restarts: u64 = runs.iter().map(|r| r.restarts).sum();
        let rate = execs as f64 / started.elapsed().as_secs_f64();
        println!(
            "{:<18} {execs:>12} {rate:>10.0} {corpus:>8} {crashes:>8} {:>10.1} {restarts:>9}",
            target.name,
            slowest.as_secs_f64() * 1e3
        );
        targets += 1;
        total_execs += execs;
        total_crashes += crashes;
    }
    println!("METRIC fuzz_targets={targets}");
    println!("METRIC fuzz_crashes={total_crashes}");
    println!("METRIC fuzz_execs_total={total_execs}");
    if total_crashes > 0 {
        std::process::exit(1);
    }
}
