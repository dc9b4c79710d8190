//! The real ALSA capture path with no sound card: alsa-lib's `file` plugin
//! over `null` plays a raw fixture as if a microphone array captured it, and
//! `confcamd record-mics` must hand on exactly those samples.

use std::path::Path;
use std::process::{Command, Output};

use confcam::audio::wav::WAV_HEADER_LEN;

/// Deterministic fixture samples: every channel different, full range used.
fn fixture(frames: usize, channels: usize, bytes_per_sample: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let mut out = Vec::with_capacity(frames * channels * bytes_per_sample);
    for _ in 0..frames * channels {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out.extend_from_slice(&state.to_le_bytes()[..bytes_per_sample]);
    }
    out
}

/// Runs `record-mics` against a fake device playing `raw`; `config` is the
/// `[microphone]` section.
fn record(dir: &Path, raw: &[u8], config: &str, device: &str, seconds: &str) -> (Output, Vec<u8>) {
    std::fs::write(dir.join("mic.raw"), raw).unwrap();
    // A private config: the tests never touch the machine's sound setup.
    let asoundrc = format!(
        "pcm.fakemic {{ type file slave.pcm \"null\" file \"/dev/null\" infile \"{}\" format \"raw\" }}\n",
        dir.join("mic.raw").display()
    );
    std::fs::write(dir.join("asoundrc"), asoundrc).unwrap();
    std::fs::write(dir.join("confcam.toml"), format!("[microphone]\n{config}")).unwrap();
    let wav = dir.join("out.wav");
    let out = Command::new(env!("CARGO_BIN_EXE_confcamd"))
        .args(["record-mics", "--config"])
        .arg(dir.join("confcam.toml"))
        .args(["--device", device, "--seconds", seconds])
        .arg(&wav)
        .env("ALSA_CONFIG_PATH", format!("/usr/share/alsa/alsa.conf:{}", dir.join("asoundrc").display()))
        .output()
        .unwrap();
    (out, std::fs::read(&wav).unwrap_or_default())
}

/// The fixture's channels `map`, interleaved, for its first `frames` frames.
fn pick(raw: &[u8], channels: usize, bytes: usize, map: &[usize], frames: usize) -> Vec<u8> {
    raw.chunks_exact(channels * bytes)
        .take(frames)
        .flat_map(|frame| map.iter().flat_map(move |&c| frame[c * bytes..(c + 1) * bytes].to_vec()))
        .collect()
}

fn check(config: &str, channels: usize, bytes: usize, rate: usize, map: &[usize]) {
    let dir = tempfile::tempdir().unwrap();
    // Half a second recorded from a second of fixture: reads past the end of
    // the file would return stale data.
    let raw = fixture(rate, channels, bytes);
    let (out, wav) = record(dir.path(), &raw, config, "fakemic", "0.5");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let captured = &wav[WAV_HEADER_LEN..];
    let frames = captured.len() / (map.len() * bytes);
    assert_eq!(frames, rate / 2, "half a second of frames");
    assert!(captured == pick(&raw, channels, bytes, map, frames), "captured samples differ from the fixture");
}

#[test]
fn four_channels_s32_at_16_khz_arrive_exactly() {
    check("profile = \"respeaker-4mic-hat\"\n", 4, 4, 16_000, &[0, 1, 2, 3]);
}

#[test]
fn six_channels_s16_at_16_khz_with_a_channel_map_arrive_exactly() {
    let config = "profile = \"respeaker-usb-4mic\"\nchannels = 6\nformat = \"S16_LE\"\nrate = 16000\nchannel_map = [2, 3, 4, 5]\n";
    check(config, 6, 2, 16_000, &[2, 3, 4, 5]);
}

#[test]
fn eight_channels_s32_at_48_khz_arrive_exactly() {
    // The UMA-8's seven microphones; channel 7 is its processed output.
    check("profile = \"minidsp-uma8\"\n", 8, 4, 48_000, &[0, 1, 2, 3, 4, 5, 6]);
}

#[test]
fn a_device_that_does_not_exist_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = record(dir.path(), &fixture(16, 4, 4), "profile = \"respeaker-4mic-hat\"\n", "nosuchmic", "0.1");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nosuchmic"), "{stderr}");
}

#[test]
fn a_channel_map_beyond_the_device_is_refused_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = "profile = \"respeaker-4mic-hat\"\nchannel_map = [0, 1, 2, 4]\n";
    let (out, _) = record(dir.path(), &fixture(16, 4, 4), config, "fakemic", "0.1");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("microphone.channel_map"), "{stderr}");
}

/// Runs `speaker-test` into a fake loudspeaker (alsa-lib's `file` plugin
/// over `null`: what is played lands in a raw file); `config` is the
/// `[speaker]` section.
fn play(dir: &Path, config: &str, device: &str) -> (Output, Vec<i16>) {
    let raw = dir.join("played.raw");
    let asoundrc = format!(
        "pcm.fakespeaker {{ type file slave.pcm \"null\" file \"{}\" format \"raw\" }}\n{STEREO_ONLY}",
        raw.display()
    );
    std::fs::write(dir.join("asoundrc"), asoundrc).unwrap();
    std::fs::write(dir.join("confcam.toml"), format!("[speaker]\n{config}")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_confcamd"))
        .args(["speaker-test", "--config"])
        .arg(dir.join("confcam.toml"))
        .args(["--device", device, "--seconds", "1"])
        .env("ALSA_CONFIG_PATH", format!("/usr/share/alsa/alsa.conf:{}", dir.join("asoundrc").display()))
        .output()
        .unwrap();
    let bytes = std::fs::read(&raw).unwrap_or_default();
    (out, bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect())
}

/// The tone in the first `channels`-interleaved channel: (RMS as a
/// fraction of full scale, zero crossings a second).
fn tone(samples: &[i16], channels: usize, rate: usize) -> (f32, f32) {
    let first: Vec<f32> = samples.iter().step_by(channels).map(|&s| f32::from(s) / 32768.0).collect();
    for frame in samples.chunks_exact(channels) {
        assert!(frame.iter().all(|&s| s == frame[0]), "every channel plays the same");
    }
    let rms = (first.iter().map(|s| s * s).sum::<f32>() / first.len() as f32).sqrt();
    let crossings = first.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    (rms, crossings as f32 / (first.len() as f32 / rate as f32))
}

#[test]
fn the_test_tone_plays_through_real_alsa_at_the_devices_rate() {
    for (config, channels, rate) in
        [("channels = 2\nrate = 48000\n", 2, 48_000), ("channels = 1\nrate = 16000\n", 1, 16_000)]
    {
        let dir = tempfile::tempdir().unwrap();
        let (out, played) = play(dir.path(), config, "fakespeaker");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // Brought from 48 kHz in 10 ms pieces: a resampler's first piece
        // comes out a sample short.
        assert!(played.len().abs_diff(rate * channels) <= channels, "a second at {rate} Hz: {}", played.len());
        let (rms, crossings) = tone(&played, channels, rate);
        // 440 Hz at 0.1 peak: two zero crossings a cycle, 0.0707 RMS.
        assert!((rms - 0.0707).abs() < 0.005, "{rate} Hz: RMS {rms}");
        assert!((crossings - 880.0).abs() < 10.0, "{rate} Hz: {crossings} crossings a second");
    }
}

/// A loudspeaker that takes two channels and nothing else, as a card's
/// own `hw:` device does (alsa-lib's `multi` over `null`).
const STEREO_ONLY: &str = "pcm.stereoonly { type multi slaves.a.pcm \"null\" slaves.a.channels 2 \
    bindings.0.slave a bindings.0.channel 0 bindings.1.slave a bindings.1.channel 1 }\n";

#[test]
fn a_loudspeaker_that_refuses_the_format_says_what_it_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = play(dir.path(), "channels = 6\n", "stereoonly");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stereoonly") && stderr.contains("6 channels"), "{stderr}");
    // The same device in a format it takes plays.
    let (out, _) = play(dir.path(), "channels = 2\n", "stereoonly");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains("2 channels"), "{said}");
}

#[test]
fn a_loudspeaker_that_does_not_exist_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = play(dir.path(), "", "hw:CARD=nosuchspeaker");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nosuchspeaker"), "{stderr}");
}
