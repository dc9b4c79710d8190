//! Writes the H.264 access units the VM test's loopback "camera" plays:
//! the simulated camera's scene, Constrained Baseline, Annex B, with SPS and
//! PPS in the first access unit only (as many encoding cameras do) and an
//! IDR every `--idr-every` pictures.
//!
//!   h264-fixture DIR WIDTH HEIGHT COUNT IDR_EVERY
//!
//! Files: DIR/au-000.h264, au-001.h264, …

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

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
        let au: Vec<u8> = nals
            .iter()
            .filter(|n| seq == 0 || !matches!(n[0] & 0x1f, 7 | 8))
            .flat_map(|n| [&[0, 0, 0, 1][..], n].concat())
            .collect();
        std::fs::write(dir.join(format!("au-{seq:03}.h264")), au)?;
    }
    Ok(())
}
