//! Puts a crop of a camera's I420 picture on the outgoing picture: the crop
//! is resampled (bilinear) to the outgoing size, up or down. The shot's
//! crops never go below a tenth of the picture, so bilinear does not alias
//! badly on the way down and stays sharp enough on the way up.

use super::Crop;
use crate::capture::convert::PictureSize;

/// Weights in 1/256.
const ONE: u32 = 256;

/// Keeps its sampling tables between frames.
#[derive(Debug, Default)]
pub struct Reframer {
    xs: Vec<(u32, u32)>,
    ys: Vec<(u32, u32)>,
}

impl Reframer {
    /// Writes `crop` of the I420 picture `src` (of `size`) as an I420
    /// picture of `out_size` into `out`.
    pub fn reframe(&mut self, src: &[u8], size: PictureSize, crop: Crop, out_size: PictureSize, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(out_size.i420_len());
        let (luma, chroma) = (size.pixels(), size.chroma().pixels());
        let planes = [
            (&src[..luma], size, out_size),
            (&src[luma..luma + chroma], size.chroma(), out_size.chroma()),
            (&src[luma + chroma..luma + 2 * chroma], size.chroma(), out_size.chroma()),
        ];
        for (plane, from, to) in planes {
            self.plane(plane, from, crop, to, out);
        }
    }

    fn plane(&mut self, src: &[u8], size: PictureSize, crop: Crop, to: PictureSize, out: &mut Vec<u8>) {
        sampling(&mut self.xs, size.width, crop.x, crop.width, to.width);
        sampling(&mut self.ys, size.height, crop.y, crop.height, to.height);
        let stride = size.width as usize;
        for &(y, wy) in &self.ys {
            let top = &src[y as usize * stride..][..stride];
            let bottom = &src[(y as usize + 1).min(size.height as usize - 1) * stride..][..stride];
            out.extend(self.xs.iter().map(|&(x, wx)| {
                let x = x as usize;
                let x1 = (x + 1).min(stride - 1);
                let row = |line: &[u8]| u32::from(line[x]) * (ONE - wx) + u32::from(line[x1]) * wx;
                let v = row(top) * (ONE - wy) + row(bottom) * wy;
                ((v + ONE * ONE / 2) / (ONE * ONE)) as u8
            }));
        }
    }
}

/// For each output position along an axis, the source sample before it and
/// the weight of the one after (pixel centres mapped onto the crop).
fn sampling(table: &mut Vec<(u32, u32)>, len: u32, start: f32, share: f32, out_len: u32) {
    table.clear();
    let last = len.saturating_sub(1) as f32;
    let step = share * len as f32 / out_len as f32;
    let origin = start * len as f32;
    table.extend((0..out_len).map(|o| {
        let at = (origin + (o as f32 + 0.5) * step - 0.5).clamp(0.0, last);
        let base = at.floor();
        (base as u32, ((at - base) * ONE as f32).round() as u32)
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture whose luma is its x coordinate, chroma fixed.
    fn ramp(size: PictureSize) -> Vec<u8> {
        let mut p = Vec::with_capacity(size.i420_len());
        for _ in 0..size.height {
            p.extend((0..size.width).map(|x| x as u8));
        }
        p.resize(size.i420_len(), 128);
        p
    }

    #[test]
    fn the_full_picture_at_its_own_size_is_unchanged() {
        let size = PictureSize::new(64, 36);
        let src = ramp(size);
        let mut out = Vec::new();
        Reframer::default().reframe(&src, size, Crop::FULL, size, &mut out);
        assert_eq!(out, src);
    }

    #[test]
    fn a_crop_of_the_right_half_fills_the_picture_with_that_half() {
        let size = PictureSize::new(200, 100);
        let src = ramp(size);
        let mut out = Vec::new();
        let right = Crop { x: 0.5, y: 0.25, width: 0.5, height: 0.5 };
        Reframer::default().reframe(&src, size, right, size, &mut out);
        assert_eq!(out.len(), size.i420_len());
        let line = &out[50 * 200..51 * 200];
        assert!(line[0] >= 99 && line[0] <= 101, "starts at the middle: {}", line[0]);
        assert!(line[199] >= 198, "ends at the right edge: {}", line[199]);
        assert!(line.windows(2).all(|w| w[1] >= w[0]), "a smooth ramp, twice as wide");
        assert!(out[size.pixels()..].iter().all(|&c| c == 128));
    }

    #[test]
    fn another_cameras_size_is_brought_to_the_outgoing_one() {
        let (from, to) = (PictureSize::new(640, 480), PictureSize::new(320, 180));
        let mut out = Vec::new();
        Reframer::default().reframe(&ramp(from), from, Crop::FULL, to, &mut out);
        assert_eq!(out.len(), to.i420_len());
    }
}
