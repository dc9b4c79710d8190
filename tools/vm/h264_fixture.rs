//! Writes the H.264 access units the VM test's loopback "camera" plays:
//! the simulated camera's scene, Constrained Baseline, Annex B, with SPS and
//! PPS in the first access unit only (as many encoding cameras do) and an
//! IDR every `--idr-every` pictures.
//!
//!   h264-fixture DIR WIDTH HEIGHT COUNT IDR_EVERY
//!
//! Files: DIR/au-000.h264, au-001.h264, …

// A tool: it reads the clock.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use confcam::capture::h264::{NAL_PPS, NAL_SPS, annex_b, nal_type};
use confcam::capture::sim::TestScene;
use confcam::capture::{Frame, PixelFormat};
use confcam::codec::H264Encoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, width, height, count, idr_every] = args.as_slice() else {
        return Err("usage: h264-fixture DIR WIDTH HEIGHT COUNT IDR_EVERY".into());
    };
    let (dir, width, height): (PathBuf, u32, u32) = (dir.into(), width.parse()?, height.parse()?);
    let (count, idr_every): (u64, u64) = (count.parse()?, idr_every.parse()?);
    std::fs::create_dir_all(&dir)?;
    let scene = TestScene::new(width, height);
    let mut encoder = H264Encoder::new(width, height, 10, 500_000)?;
    let mut frame = Frame {
        seq: 0,
        captured_at: Instant::now(),
        width,
        height,
        format: PixelFormat::I420,
        data: Vec::new().into(),
    };
    for seq in 0..count {
        scene.render(seq, SystemTime::UNIX_EPOCH, &mut frame.data);
        let nals = encoder.encode(&frame, seq % idr_every == 0)?;
        let sent_once = |n: &&Vec<u8>| seq == 0 || !matches!(nal_type(n), NAL_SPS | NAL_PPS);
        let au = annex_b(nals.iter().filter(sent_once).map(Vec::as_slice));
        std::fs::write(dir.join(format!("au-{seq:03}.h264")), au)?;
    }
    Ok(())
}
