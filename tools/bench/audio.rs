//! Capture benchmark, audio half: CPU the real ALSA capture path spends per
//! 10 ms block of 8 channels S32_LE at 48 kHz (a UMA-8), from alsa-lib's read
//! through the channel map to the block handed on.
//!
//! The device is alsa-lib's `file` plugin over `null` playing a fixture, as
//! in the hermetic tests: no sound card, but every alsa-lib call a card
//! would get. The plugin does not pace, so the blocks come as fast as the
//! path can take them and the thread's CPU time divided by the blocks is the
//! cost of one. alsa-lib reads its configuration once per process, so the
//! measurement runs in a child process of this benchmark with
//! `ALSA_CONFIG_PATH` pointing at a private asoundrc.

use std::process::Command;
use std::time::Duration;

use confcam::capture::alsa::{AlsaMicArray, AlsaSettings};
use confcam::capture::{AudioSource, SampleFormat};

const CHILD: &str = "CONFCAM_BENCH_AUDIO_CHILD";
const RATE: u32 = 48_000;
const CHANNELS: u16 = 8;
const BLOCK: u32 = RATE / 100;
/// Blocks timed (10 s of audio), after a second of warm-up; the fixture
/// holds all of it (read past its end, the plugin hands out stale data
/// without reading the file, which would flatter the figure).
const BLOCKS: u32 = 1000;
const WARM_UP: u32 = 100;

/// CPU milliseconds per block: in the parent, runs the child and returns
/// what it measured (the child prints it and exits).
pub fn audio_capture() -> Result<f64, String> {
    if std::env::var_os(CHILD).is_some() {
        let ms = measure()?;
        println!("{CHILD} {ms}");
        std::process::exit(0);
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let raw = dir.path().join("mics.raw");
    std::fs::write(&raw, fixture()).map_err(|e| e.to_string())?;
    let asoundrc = dir.path().join("asoundrc");
    let pcm = format!(
        "pcm.benchmics {{ type file slave.pcm \"null\" file \"/dev/null\" infile \"{}\" format \"raw\" }}\n",
        raw.display()
    );
    std::fs::write(&asoundrc, pcm).map_err(|e| e.to_string())?;
    let out = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .env(CHILD, "1")
        .env("ALSA_CONFIG_PATH", format!("/usr/share/alsa/alsa.conf:{}", asoundrc.display()))
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ms: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix(CHILD).map(str::trim))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("the audio measurement failed: {}", String::from_utf8_lossy(&out.stderr)))?;
    println!(
        "audio capture: {BLOCKS} blocks of 10 ms, {CHANNELS} ch S32_LE {RATE} Hz through alsa-lib (file plugin) \
         and the channel map: {:.1} µs CPU a block ({:.3} % of the block's time)",
        ms * 1000.0,
        ms / 10.0 * 100.0
    );
    Ok(ms)
}

fn measure() -> Result<f64, String> {
    let settings = AlsaSettings {
        device: "benchmics".into(),
        channels: CHANNELS,
        format: SampleFormat::S32Le,
        rate: RATE,
        // The UMA-8's seven microphones.
        channel_map: (0..7).collect(),
        period_frames: BLOCK / 2,
        buffer_frames: BLOCK * 4,
        block_frames: BLOCK,
    };
    let mut mics = AlsaMicArray::open(settings).map_err(|e| e.to_string())?;
    // Warm up: first reads page the fixture in.
    for _ in 0..WARM_UP {
        mics.next_block().map_err(|e| e.to_string())?;
    }
    let before = thread_cpu();
    let mut checksum = 0i64;
    for _ in 0..BLOCKS {
        let block = mics.next_block().map_err(|e| e.to_string())?;
        checksum = checksum.wrapping_add(i64::from(block.samples[block.samples.len() / 2]));
    }
    let spent = thread_cpu() - before;
    // Keeps the blocks from being optimised away.
    std::hint::black_box(checksum);
    Ok(spent.as_secs_f64() * 1000.0 / f64::from(BLOCKS))
}

fn thread_cpu() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map(Duration::from).unwrap_or_default()
}

/// 8-channel S32_LE noise for every block read.
fn fixture() -> Vec<u8> {
    let mut state = 0x9e37_79b9_u32;
    (0..(BLOCKS + WARM_UP) as usize * BLOCK as usize * usize::from(CHANNELS))
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()
        })
        .collect()
}
