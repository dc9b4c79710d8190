use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, Level, Profile, RateControlMode,
};
use openh264::formats::YUVSlices;

use super::CodecError;
use crate::capture::{Frame, PixelFormat};

/// H.264 constrained baseline (profile-level-id 42e01f), what every phone
/// decodes, from I420 frames, in software (openh264).
pub struct H264Encoder {
    encoder: Encoder,
    width: u32,
    height: u32,
}

impl H264Encoder {
    /// The picture size it encodes.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    pub fn new(width: u32, height: u32, fps: u32, bitrate_bps: u32) -> Result<Self, CodecError> {
        let config = EncoderConfig::new()
            .profile(Profile::Baseline)
            .level(Level::Level_3_1)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            // A picture to start from every 4 s even if nobody asks (a lost
            // keyframe request must not freeze a viewer for long).
            .intra_frame_period(IntraFramePeriod::from_num_frames(fps * 4))
            .skip_frames(true);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| CodecError::H264(e.to_string()))?;
        Ok(H264Encoder { encoder, width, height })
    }

    /// Encodes one frame; returns its NAL units (without start codes), empty
    /// when the rate control skipped the frame. `keyframe` forces an IDR.
    pub fn encode(&mut self, frame: &Frame, keyframe: bool) -> Result<Vec<Vec<u8>>, CodecError> {
        if frame.format != PixelFormat::I420 || frame.width != self.width || frame.height != self.height {
            return Err(CodecError::H264(format!(
                "frame {}x{} {:?} does not match the encoder ({}x{} I420)",
                frame.width, frame.height, frame.format, self.width, self.height
            )));
        }
        if keyframe {
            self.encoder.force_intra_frame();
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let (y, chroma) = frame.data.split_at(w * h);
        let (u, v) = chroma.split_at(w * h / 4);
        let yuv = YUVSlices::new((y, u, v), (w, h), (w, w / 2, w / 2));
        let bitstream = self.encoder.encode(&yuv).map_err(|e| CodecError::H264(e.to_string()))?;
        let mut nals = Vec::new();
        for l in 0..bitstream.num_layers() {
            let Some(layer) = bitstream.layer(l) else { continue };
            for n in 0..layer.nal_count() {
                if let Some(nal) = layer.nal_unit(n) {
                    nals.push(strip_start_code(nal).to_vec());
                }
            }
        }
        Ok(nals)
    }
}

fn strip_start_code(nal: &[u8]) -> &[u8] {
    nal.strip_prefix(&[0, 0, 0, 1]).or_else(|| nal.strip_prefix(&[0, 0, 1])).unwrap_or(nal)
}

/// RTP payloads (RFC 6184, packetization mode 1) for one picture's NAL
/// units: a NAL unit that fits goes alone, a larger one is cut into FU-A
/// fragments. The last payload carries the marker bit.
pub fn packetize_h264(nals: &[Vec<u8>], mtu: usize) -> Vec<(Vec<u8>, bool)> {
    let mut out: Vec<(Vec<u8>, bool)> = Vec::new();
    for nal in nals.iter().filter(|n| !n.is_empty()) {
        if nal.len() <= mtu {
            out.push((nal.clone(), false));
            continue;
        }
        let indicator = (nal[0] & 0xe0) | 28;
        let kind = nal[0] & 0x1f;
        let chunks: Vec<&[u8]> = nal[1..].chunks(mtu - 2).collect();
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let start = if i == 0 { 0x80 } else { 0 };
            let end = if i == last { 0x40 } else { 0 };
            let mut payload = Vec::with_capacity(chunk.len() + 2);
            payload.extend_from_slice(&[indicator, start | end | kind]);
            payload.extend_from_slice(chunk);
            out.push((payload, false));
        }
    }
    if let Some(last) = out.last_mut() {
        last.1 = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::sim::TestScene;
    use crate::sfu::{VideoCodec, starts_keyframe};

    #[test]
    fn small_nals_go_alone_large_ones_in_fragments() {
        let sps = vec![0x67, 1, 2, 3];
        let mut idr = vec![0x65];
        idr.extend((0..2500).map(|i| i as u8));
        let packets = packetize_h264(&[sps.clone(), idr.clone()], 1000);
        assert_eq!(packets[0], (sps, false));
        let fragments = &packets[1..];
        assert_eq!(fragments.len(), 3);
        assert!(fragments.iter().all(|(p, _)| p.len() <= 1000 && p[0] == (0x60 | 28)));
        assert_eq!(fragments[0].0[1], 0x80 | 5, "start bit and the NAL type");
        assert_eq!(fragments[2].0[1], 0x40 | 5, "end bit");
        assert!(fragments[2].1 && !fragments[1].1, "marker on the last packet only");
        let joined: Vec<u8> = fragments.iter().flat_map(|(p, _)| p[2..].to_vec()).collect();
        assert_eq!(joined, idr[1..]);
    }

    #[test]
    fn encodes_the_test_scene_with_keyframes_on_request() {
        let (w, h) = (320, 180);
        let scene = TestScene::new(w, h);
        let mut encoder = H264Encoder::new(w, h, 15, 300_000).unwrap();
        let mut frame = Frame {
            seq: 0,
            captured_at: std::time::Instant::now(),
            width: w,
            height: h,
            format: PixelFormat::I420,
            data: Vec::new().into(),
        };
        let mut keyframes = Vec::new();
        for seq in 0..30 {
            scene.render(seq, std::time::SystemTime::now(), &mut frame.data);
            let nals = encoder.encode(&frame, seq == 20).unwrap();
            let packets = packetize_h264(&nals, 1200);
            keyframes.push(packets.first().is_some_and(|(p, _)| starts_keyframe(VideoCodec::H264, p)));
        }
        assert!(keyframes[0], "the stream starts with a keyframe");
        assert!(keyframes[20], "a requested keyframe comes at once");
        assert!(keyframes.iter().filter(|k| **k).count() <= 3, "and otherwise rarely: {keyframes:?}");
    }
}
