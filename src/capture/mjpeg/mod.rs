//! MJPEG camera frames (one JPEG each) to I420.
//!
//! libjpeg-turbo (through the `turbojpeg` crate) does the JPEG work and hands
//! out the frame's own planar YCbCr (no upsampling, no RGB round trip: the
//! least work a JPEG decode can be); this module brings the chroma to 4:2:0
//! and maps JFIF's full-range samples to the limited (BT.601 "TV") range the
//! box's I420 carries everywhere else, so the encoder and the face pipeline
//! see the same levels whatever the camera sends.
//!
//! Camera quirks: frames without Huffman tables (many UVC cameras leave out
//! the DHT segment and rely on the standard tables of JPEG Annex K.3;
//! libjpeg-turbo fills them in), and stale or partial first buffers (no
//! end-of-image marker), which are errors here, never a grey picture.

use turbojpeg::{Colorspace, Decompressor, Subsamp, YuvImage};

use super::convert::{PictureSize, i420_planes_mut};

/// Largest width or height decoded; a corrupt header can claim 65535×65535,
/// and DCI 4K (4096×2160) is the largest camera the box may meet.
pub const MAX_SIDE: u32 = 4096;

const SOI: [u8; 2] = [0xFF, 0xD8];
const EOI: [u8; 2] = [0xFF, 0xD9];
#[cfg(test)]
const DHT: u8 = 0xC4;
const SOS: u8 = 0xDA;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MjpegError {
    #[error("not a JPEG frame (no start-of-image marker)")]
    NotJpeg,
    /// Typically the first, stale buffer of a camera, or a frame cut short.
    #[error("truncated JPEG frame: {0}")]
    Truncated(&'static str),
    #[error("corrupt JPEG frame: {0}")]
    Corrupt(String),
    #[error("unsupported JPEG frame: {0}")]
    Unsupported(String),
    #[error("JPEG frame of {width}×{height} is larger than {MAX_SIDE}×{MAX_SIDE}")]
    TooLarge { width: u32, height: u32 },
}

/// Decodes MJPEG frames to I420, one after another, keeping its working
/// buffers between frames so a steady stream allocates nothing of frame size.
#[derive(Debug, Default)]
pub struct MjpegDecoder {
    /// Made on the first frame (it can fail, and the decoder is made early).
    turbo: Option<Decompressor>,
    /// The frame's planes (Y, Cb, Cr at its own sampling, rows unpadded)
    /// as libjpeg-turbo hands them out.
    decoded: Vec<u8>,
}

impl MjpegDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one JPEG frame into `out` as limited-range I420 (resized to
    /// fit: it only grows when the picture size does) and returns its size.
    /// Baseline and progressive, 4:4:4, 4:2:2, 4:2:0 (and the other sampling
    /// factors), grey, any size up to [`MAX_SIDE`].
    pub fn decode(&mut self, jpeg: &[u8], out: &mut Vec<u8>) -> Result<PictureSize, MjpegError> {
        if !jpeg.starts_with(&SOI) {
            return Err(MjpegError::NotJpeg);
        }
        // The library itself forgives a missing end (it fills the rest with
        // grey); a camera's partial buffer must be dropped instead.
        if !ends_with_eoi(jpeg) {
            return Err(MjpegError::Truncated("no end-of-image marker"));
        }
        // Sized before the library sees it, so a corrupt header cannot make
        // it allocate gigabytes.
        let size = read_size(jpeg)?;
        if size.width > MAX_SIDE || size.height > MAX_SIDE {
            return Err(MjpegError::TooLarge { width: size.width, height: size.height });
        }
        let result = self.decode_planes(jpeg, size);
        if result.is_err() {
            // libjpeg-turbo's state after a bad frame is not to be trusted
            // with the next one (seen: quantisation tables of a damaged
            // frame outliving it); a fresh one costs little.
            self.turbo = None;
        }
        let planes = result?;

        out.resize(size.i420_len(), 0);
        let (w, h) = (size.width as usize, size.height as usize);
        let (y_out, u_out, v_out) = i420_planes_mut(out, size);
        let (luma, chroma) = self.decoded.split_at(planes.luma_stride * planes.luma_rows);
        for (line, src) in y_out.chunks_exact_mut(w).zip(luma.chunks_exact(planes.luma_stride)).take(h) {
            for (y, &src) in line.iter_mut().zip(src) {
                *y = limited_luma(src);
            }
        }
        let (cb, cr) = chroma.split_at(chroma.len() / 2);
        let mut to_i420 = |convert: fn(&[u8], usize, PictureSize, &mut [u8])| {
            convert(cb, planes.chroma_stride, size, u_out);
            convert(cr, planes.chroma_stride, size, v_out);
        };
        match planes.sampling {
            Subsamp::Gray => {
                u_out.fill(128);
                v_out.fill(128);
            }
            Subsamp::Sub2x2 => to_i420(chroma_to_420::<2, 2>),
            Subsamp::Sub2x1 => to_i420(chroma_to_420::<2, 1>),
            Subsamp::None => to_i420(chroma_to_420::<1, 1>),
            Subsamp::Sub1x2 => to_i420(chroma_to_420::<1, 2>),
            Subsamp::Sub4x1 => to_i420(chroma_to_420::<4, 1>),
            Subsamp::Sub1x4 => to_i420(chroma_to_420::<1, 4>),
            other => return Err(MjpegError::Unsupported(format!("chroma sampling {other:?}"))),
        }
        Ok(size)
    }

    /// Has libjpeg-turbo decode the frame into `decoded` as planes.
    fn decode_planes(&mut self, jpeg: &[u8], size: PictureSize) -> Result<Planes, MjpegError> {
        let turbo = match &mut self.turbo {
            Some(t) => t,
            None => self.turbo.insert(Decompressor::new().map_err(|e| MjpegError::Corrupt(e.to_string()))?),
        };
        let header = turbo.read_header(jpeg).map_err(from_turbo)?;
        if (header.width, header.height) != (size.width as usize, size.height as usize) {
            return Err(MjpegError::Corrupt("frame headers disagree on the size".into()));
        }
        if !matches!(header.colorspace, Colorspace::YCbCr | Colorspace::Gray) {
            return Err(MjpegError::Unsupported(format!("colour space {:?}", header.colorspace)));
        }
        let sampling = header.subsamp;
        // The library pads each plane to whole chroma samples: an odd-width
        // 4:2:2 frame has a luma plane one column wider than the picture.
        let (fx, fy) = sampling.size();
        let (luma_stride, luma_rows) = (header.width.next_multiple_of(fx), header.height.next_multiple_of(fy));
        let planes = Planes { sampling, luma_stride, luma_rows, chroma_stride: luma_stride / fx };
        let chroma_len = if sampling == Subsamp::Gray { 0 } else { 2 * planes.chroma_stride * (luma_rows / fy) };
        let len = turbojpeg::yuv_pixels_len(header.width, 1, header.height, sampling)
            .map_err(|e| MjpegError::Unsupported(format!("{sampling:?}: {e}")))?;
        if len != luma_stride * luma_rows + chroma_len {
            return Err(MjpegError::Unsupported(format!("plane layout of {sampling:?}")));
        }
        self.decoded.resize(len, 0);
        let image = YuvImage {
            pixels: self.decoded.as_mut_slice(),
            width: header.width,
            align: 1,
            height: header.height,
            subsamp: sampling,
        };
        turbo.decompress_to_yuv(jpeg, image).map_err(from_turbo)?;
        Ok(planes)
    }
}

/// Where libjpeg-turbo put a frame's planes in `decoded`.
struct Planes {
    sampling: Subsamp,
    luma_stride: usize,
    luma_rows: usize,
    chroma_stride: usize,
}

/// libjpeg-turbo reports problems as text; a frame cut inside its data reads
/// "premature end".
fn from_turbo(error: turbojpeg::Error) -> MjpegError {
    let text = error.to_string();
    if text.contains("Premature end") {
        MjpegError::Truncated("data ends inside a segment")
    } else if text.contains("Unsupported") || text.contains("not supported") {
        MjpegError::Unsupported(text)
    } else {
        MjpegError::Corrupt(text)
    }
}

fn ends_with_eoi(jpeg: &[u8]) -> bool {
    let end = jpeg.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
    jpeg[..end].ends_with(&EOI)
}

/// The picture size from the frame header (SOFn), found by walking the
/// header segments by their lengths as far as the first scan.
fn read_size(jpeg: &[u8]) -> Result<PictureSize, MjpegError> {
    let mut at = SOI.len();
    let mut size = None;
    loop {
        // Decoders skip stray bytes and 0xFF fill before a marker; so do we.
        while jpeg.get(at).is_some_and(|&b| b != 0xFF) {
            at += 1;
        }
        while jpeg.get(at) == Some(&0xFF) {
            at += 1;
        }
        let Some(&marker) = jpeg.get(at) else {
            return Err(MjpegError::Truncated("headers end before the first scan"));
        };
        at += 1;
        match marker {
            SOS => {
                return size.ok_or_else(|| MjpegError::Corrupt("no frame header before the scan".into()));
            }
            // Markers without a length: TEM, RSTn, a repeated SOI.
            0x01 | 0xD0..=0xD8 => continue,
            0xD9 => return Err(MjpegError::Corrupt("end of image before any scan".into())),
            _ => {}
        }
        let Some(&[hi, lo]) = jpeg.get(at..at + 2) else {
            return Err(MjpegError::Truncated("headers end inside a segment"));
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 2 {
            return Err(MjpegError::Corrupt(format!("segment 0xFF{marker:02X} of length {len}")));
        }
        match marker {
            // SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC): length,
            // precision, height, width.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let Some(&[_, _, _, h_hi, h_lo, w_hi, w_lo]) = jpeg.get(at..at + 7) else {
                    return Err(MjpegError::Truncated("headers end inside the frame header"));
                };
                let (height, width) = (u16::from_be_bytes([h_hi, h_lo]), u16::from_be_bytes([w_hi, w_lo]));
                if width == 0 || height == 0 {
                    // Height 0 (size from a later DNL segment) is legal
                    // JPEG that no camera sends.
                    return Err(MjpegError::Unsupported(format!("frame header of {width}×{height}")));
                }
                size = Some(PictureSize::new(width.into(), height.into()));
            }
            _ => {}
        }
        at += len;
    }
}

/// Full-range (JFIF) luma to limited range: `16 + 219 × y / 255`, rounded.
#[inline(always)]
fn limited_luma(y: u8) -> u8 {
    // At most 60052: u16 arithmetic, which vectorises wider.
    ((4207 + 219 * u16::from(y)) / 255) as u8
}

/// The mean of four full-range chroma samples (given as their sum), in
/// limited range: `128 + 224 × (sum / 4 − 128) / 255`, rounded.
const fn limited_chroma_of_four(sum: u32) -> u8 {
    ((4095 + 56 * sum) / 255) as u8
}

/// [`limited_chroma_of_four`] for every sum: a table lookup is cheaper than
/// the arithmetic in the chroma loop.
const CHROMA_OF_FOUR: [u8; 4 * 255 + 1] = {
    let mut table = [0; 4 * 255 + 1];
    let mut sum = 0;
    while sum < table.len() {
        table[sum] = limited_chroma_of_four(sum as u32);
        sum += 1;
    }
    table
};

/// One full-range chroma plane at the frame's sampling (`FX`×`FY` pixels a
/// sample) to a limited-range 4:2:0 plane. Each output sample is the mean of
/// the four source samples under its 2×2 pixel block (for 4:2:0 that is one
/// sample four times, for 4:2:2 a vertical pair); at an odd right or bottom
/// edge the lone column or row pairs with itself.
fn chroma_to_420<const FX: usize, const FY: usize>(plane: &[u8], stride: usize, size: PictureSize, out: &mut [u8]) {
    let (w, h) = (size.width as usize, size.height as usize);
    let cw = size.chroma().width as usize;
    for (cy, line) in out.chunks_exact_mut(cw).enumerate() {
        let top = &plane[(2 * cy) / FY * stride..][..stride];
        let bottom = &plane[(2 * cy + 1).min(h - 1) / FY * stride..][..stride];
        if FX == 2 {
            // The common case (4:2:2, 4:2:0): one source column per output.
            for ((c, &t), &b) in line.iter_mut().zip(top).zip(bottom) {
                *c = CHROMA_OF_FOUR[2 * (usize::from(t) + usize::from(b))];
            }
            continue;
        }
        for (cx, c) in line.iter_mut().enumerate() {
            let (left, right) = ((2 * cx) / FX, (2 * cx + 1).min(w - 1) / FX);
            let sum = usize::from(top[left])
                + usize::from(top[right])
                + usize::from(bottom[left])
                + usize::from(bottom[right]);
            *c = CHROMA_OF_FOUR[sum];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::convert::i420_planes;
    use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, Encoder, SamplingFactor};

    /// A smooth RGB picture with some edges: gradients across, a disc of
    /// saturated colour and a dark band, so every plane has detail.
    fn test_picture(size: PictureSize) -> Vec<u8> {
        let (w, h) = (size.width as usize, size.height as usize);
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
                let (dx, dy) = (fx - 0.6, fy - 0.4);
                let px = if dx * dx + dy * dy < 0.05 {
                    [230.0, 60.0 + 100.0 * fy, 40.0]
                } else if (0.75..0.85).contains(&fy) {
                    [30.0, 30.0, 60.0 + 60.0 * fx]
                } else {
                    [40.0 + 180.0 * fx, 50.0 + 150.0 * fy, 200.0 - 150.0 * fx]
                };
                rgb.extend(px.map(|c| c as u8));
            }
        }
        rgb
    }

    /// What the box should get for `rgb`: BT.601 limited-range I420, chroma
    /// the mean of each 2×2 block.
    fn reference_i420(rgb: &[u8], size: PictureSize) -> Vec<u8> {
        let (w, h) = (size.width as usize, size.height as usize);
        let c = size.chroma();
        let mut out = vec![0u8; size.i420_len()];
        let (ys, us, vs) = i420_planes_mut(&mut out, size);
        let at = |x: usize, y: usize| {
            let p = &rgb[(y * w + x) * 3..][..3];
            let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
            (
                16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0,
                128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0,
                128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0,
            )
        };
        for y in 0..h {
            for x in 0..w {
                ys[y * w + x] = at(x, y).0.round() as u8;
            }
        }
        for cy in 0..c.height as usize {
            for cx in 0..c.width as usize {
                let (mut u, mut v) = (0.0, 0.0);
                for (x, y) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let px = at((2 * cx + x).min(w - 1), (2 * cy + y).min(h - 1));
                    u += px.1 / 4.0;
                    v += px.2 / 4.0;
                }
                us[cy * c.width as usize + cx] = u.round() as u8;
                vs[cy * c.width as usize + cx] = v.round() as u8;
            }
        }
        out
    }

    fn encode(rgb: &[u8], size: PictureSize, quality: u8, sampling: SamplingFactor) -> Vec<u8> {
        let mut jpeg = Vec::new();
        let mut encoder = Encoder::new(&mut jpeg, quality);
        encoder.set_sampling_factor(sampling);
        encoder.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
        encoder.encode(rgb, size.width as u16, size.height as u16, ColorType::Rgb).expect("the test picture encodes");
        jpeg
    }

    /// PSNR in dB of each plane (Y, U, V) of `got` against `want`.
    fn psnr(got: &[u8], want: &[u8], size: PictureSize) -> [f64; 3] {
        let (gy, gu, gv) = i420_planes(got, size).expect("a whole I420 picture");
        let (wy, wu, wv) = i420_planes(want, size).expect("a whole I420 picture");
        [(gy, wy), (gu, wu), (gv, wv)].map(|(g, w)| {
            let mse =
                g.iter().zip(w).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum::<f64>() / g.len() as f64;
            10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
        })
    }

    /// Removes every DHT segment, as cameras that rely on the standard
    /// tables send their frames.
    fn strip_huffman_tables(jpeg: &[u8]) -> Vec<u8> {
        let mut out = SOI.to_vec();
        let mut at = 2;
        while jpeg[at + 1] != SOS {
            assert_eq!(jpeg[at], 0xFF, "a marker");
            let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
            if jpeg[at + 1] != DHT {
                out.extend_from_slice(&jpeg[at..at + 2 + len]);
            }
            at += 2 + len;
        }
        out.extend_from_slice(&jpeg[at..]);
        out
    }

    #[test]
    fn decodes_each_chroma_sampling_close_to_the_source() {
        let size = PictureSize::new(320, 240);
        let rgb = test_picture(size);
        let want = reference_i420(&rgb, size);
        let mut decoder = MjpegDecoder::new();
        let mut out = Vec::new();
        // Measured at quality 95: Y 53.5 dB everywhere; chroma 55 (4:4:4),
        // 51.5 (4:2:2), 44.6 (4:2:0: the decoder's upsampling and our
        // averaging blur the encoder's 2×2 means a little).
        for (name, sampling, luma_db, chroma_db) in [
            ("4:4:4", SamplingFactor::R_4_4_4, 50.0, 50.0),
            ("4:2:2", SamplingFactor::R_4_2_2, 50.0, 48.0),
            ("4:2:0", SamplingFactor::R_4_2_0, 50.0, 42.0),
        ] {
            let jpeg = encode(&rgb, size, 95, sampling);
            assert_eq!(decoder.decode(&jpeg, &mut out), Ok(size), "{name}");
            assert_eq!(out.len(), size.i420_len());
            let [y, u, v] = psnr(&out, &want, size);
            assert!(y > luma_db && u > chroma_db && v > chroma_db, "{name}: PSNR Y {y:.1} U {u:.1} V {v:.1} dB");
        }
    }

    #[test]
    fn odd_sizes_decode_whole() {
        let mut decoder = MjpegDecoder::new();
        let mut out = Vec::new();
        for (w, h) in [(33, 17), (1, 1), (17, 2), (2, 31)] {
            let size = PictureSize::new(w, h);
            let rgb = test_picture(size);
            let want = reference_i420(&rgb, size);
            for sampling in [SamplingFactor::R_4_2_2, SamplingFactor::R_4_2_0, SamplingFactor::R_4_4_4] {
                let jpeg = encode(&rgb, size, 100, sampling);
                assert_eq!(decoder.decode(&jpeg, &mut out), Ok(size));
                assert_eq!(out.len(), size.i420_len());
                let mean_abs = out.iter().zip(&want).map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs()).sum::<i32>()
                    as f64
                    / out.len() as f64;
                assert!(mean_abs < 2.0, "{w}×{h} {sampling:?}: mean difference {mean_abs:.2}");
            }
        }
    }

    #[test]
    fn frames_without_huffman_tables_use_the_standard_ones() {
        let size = PictureSize::new(160, 120);
        let rgb = test_picture(size);
        let jpeg = encode(&rgb, size, 90, SamplingFactor::R_4_2_2);
        let bare = strip_huffman_tables(&jpeg);
        assert!(bare.len() < jpeg.len(), "the fixture had tables to strip");

        let mut decoder = MjpegDecoder::new();
        let (mut with, mut without) = (Vec::new(), Vec::new());
        decoder.decode(&jpeg, &mut with).unwrap();
        assert_eq!(decoder.decode(&bare, &mut without), Ok(size));
        assert_eq!(with, without);
    }

    #[test]
    fn restart_markers_progressive_and_grey_frames() {
        let size = PictureSize::new(96, 64);
        let rgb = test_picture(size);
        let mut jpeg = Vec::new();
        let mut encoder = Encoder::new(&mut jpeg, 95);
        encoder.set_sampling_factor(SamplingFactor::R_4_2_2);
        encoder.set_restart_interval(4);
        encoder.encode(&rgb, 96, 64, ColorType::Rgb).unwrap();
        let mut decoder = MjpegDecoder::new();
        let mut out = Vec::new();
        decoder.decode(&jpeg, &mut out).unwrap();
        let [y, _, _] = psnr(&out, &reference_i420(&rgb, size), size);
        assert!(y > 40.0, "PSNR Y {y:.1} dB");

        // Black and white halves split on a block edge: flat blocks decode exactly.
        let mut jpeg = Vec::new();
        let mut encoder = Encoder::new(&mut jpeg, 95);
        encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
        encoder.set_progressive(true);
        encoder.encode(&rgb, 96, 64, ColorType::Rgb).unwrap();
        decoder.decode(&jpeg, &mut out).unwrap();
        let [y, _, _] = psnr(&out, &reference_i420(&rgb, size), size);
        assert!(y > 40.0, "progressive: PSNR Y {y:.1} dB");

        let grey: Vec<u8> = (0..96 * 64).map(|i| if i % 96 < 48 { 0 } else { 255 }).collect();
        let mut jpeg = Vec::new();
        Encoder::new(&mut jpeg, 100).encode(&grey, 96, 64, ColorType::Luma).unwrap();
        decoder.decode(&jpeg, &mut out).unwrap();
        let (ys, us, vs) = i420_planes(&out, size).unwrap();
        assert!(us.iter().chain(vs).all(|&c| c == 128), "neutral chroma");
        assert_eq!((ys[0], ys[95]), (16, 235), "limited range");
    }

    #[test]
    fn truncated_and_garbage_frames_are_errors() {
        let size = PictureSize::new(64, 48);
        let jpeg = encode(&test_picture(size), size, 85, SamplingFactor::R_4_2_2);
        let mut decoder = MjpegDecoder::new();
        let mut out = Vec::new();
        for cut in [0, 1, 2, 3, 10, 100, jpeg.len() / 2, jpeg.len() - 3, jpeg.len() - 1] {
            let result = decoder.decode(&jpeg[..cut], &mut out);
            assert!(matches!(result, Err(MjpegError::NotJpeg | MjpegError::Truncated(_))), "cut at {cut}: {result:?}");
        }
        // A stale buffer: the start of a frame, zero-filled to full length.
        let mut stale = jpeg[..jpeg.len() / 2].to_vec();
        stale.resize(jpeg.len(), 0);
        assert!(matches!(decoder.decode(&stale, &mut out), Err(MjpegError::Truncated(_))));

        let mut rng = fastrand::Rng::with_seed(7);
        let garbage: Vec<u8> = std::iter::repeat_with(|| rng.u8(..)).take(4096).collect();
        assert_eq!(decoder.decode(&garbage, &mut out), Err(MjpegError::NotJpeg));
        let framed = [&SOI[..], &garbage, &EOI].concat();
        assert!(decoder.decode(&framed, &mut out).is_err());

        // Zero padding after EOI is fine, and the decoder still works.
        let mut padded = jpeg.clone();
        padded.extend_from_slice(&[0; 64]);
        assert_eq!(decoder.decode(&padded, &mut out), Ok(size));
    }

    #[test]
    fn damaged_frames_never_panic() {
        // Deterministic mutations of a valid frame: flipped bytes in the
        // headers and the entropy-coded data. Any result but a panic is fine.
        let size = PictureSize::new(48, 32);
        let jpeg = encode(&test_picture(size), size, 85, SamplingFactor::R_4_2_2);
        let mut decoder = MjpegDecoder::new();
        let mut out = Vec::new();
        let mut rng = fastrand::Rng::with_seed(42);
        for _ in 0..3000 {
            let mut damaged = jpeg.clone();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(2..damaged.len() - 2);
                damaged[at] = rng.u8(..);
            }
            let _ = decoder.decode(&damaged, &mut out);
        }
        assert_eq!(decoder.decode(&jpeg, &mut out), Ok(size), "the decoder recovers");
    }

    #[test]
    fn oversized_and_empty_frames_are_refused_before_decoding() {
        let size = PictureSize::new(16, 16);
        let mut jpeg = encode(&test_picture(size), size, 85, SamplingFactor::R_4_2_0);
        // Rewrite the frame header (SOF0: marker, length, precision, height,
        // width) to claim 8000×16.
        let sof = jpeg.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 7..sof + 9].copy_from_slice(&8000u16.to_be_bytes());
        let result = MjpegDecoder::new().decode(&jpeg, &mut Vec::new());
        assert_eq!(result, Err(MjpegError::TooLarge { width: 8000, height: 16 }));
        jpeg[sof + 7..sof + 9].copy_from_slice(&0u16.to_be_bytes());
        let result = MjpegDecoder::new().decode(&jpeg, &mut Vec::new());
        assert!(matches!(result, Err(MjpegError::Unsupported(_))), "{result:?}");
    }

    #[test]
    fn buffers_are_reused_frame_to_frame() {
        let size = PictureSize::new(128, 96);
        let rgb = test_picture(size);
        let jpeg = encode(&rgb, size, 85, SamplingFactor::R_4_2_2);
        let mut decoder = MjpegDecoder::new();
        let mut out = Vec::new();
        decoder.decode(&jpeg, &mut out).unwrap();
        let (frame, scratch) = (out.as_ptr(), decoder.decoded.as_ptr());
        for _ in 0..5 {
            decoder.decode(&jpeg, &mut out).unwrap();
        }
        assert_eq!((out.as_ptr(), decoder.decoded.as_ptr()), (frame, scratch));
    }

    #[test]
    fn range_mapping_ends() {
        assert_eq!((limited_luma(0), limited_luma(255)), (16, 235));
        assert_eq!(limited_chroma_of_four(0), 16);
        assert_eq!(limited_chroma_of_four(4 * 128), 128);
        assert_eq!(limited_chroma_of_four(4 * 255), 240);
    }
}
