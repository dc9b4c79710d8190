//! I420 → smaller I420, for the face pipeline and the SFU's small layer
//! (1280×720 → 640×360 in the usual case).
//!
//! Area averaging (a box filter): each output pixel is the mean of the source
//! area it covers, with partly covered source pixels weighted by how much of
//! them it covers. That is what a downscale by a whole factor should be (no
//! aliasing, no ringing) and good enough between factors. Exactly half size,
//! the common case, has its own loop.

use super::convert::{PictureSize, i420_planes, i420_planes_mut};

/// Fixed-point weights: each axis's weights add up to exactly this.
const WEIGHT_BITS: u32 = 12;
const WEIGHT_ONE: u32 = 1 << WEIGHT_BITS;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    #[error("cannot scale {from_width}×{from_height} to {to_width}×{to_height}: only down, and not to nothing")]
    NotADownscale { from_width: u32, from_height: u32, to_width: u32, to_height: u32 },
    #[error("I420 source holds {got} bytes, {need} needed for {width}×{height}")]
    ShortSource { width: u32, height: u32, need: usize, got: usize },
}

/// Scales I420 pictures down, keeping its filter tables and line buffers from
/// frame to frame (they are rebuilt only when a size changes).
#[derive(Debug, Default)]
pub struct Downscaler {
    luma: PlaneScaler,
    chroma: PlaneScaler,
}

impl Downscaler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Scales the I420 picture `src` of size `from` to size `to` into `out`
    /// (resized to fit). `to` may not be larger than `from` on either side.
    pub fn scale(
        &mut self,
        src: &[u8],
        from: PictureSize,
        out: &mut Vec<u8>,
        to: PictureSize,
    ) -> Result<(), ScaleError> {
        if to.width == 0 || to.height == 0 || to.width > from.width || to.height > from.height {
            return Err(ScaleError::NotADownscale {
                from_width: from.width,
                from_height: from.height,
                to_width: to.width,
                to_height: to.height,
            });
        }
        let Some((y, u, v)) = i420_planes(src, from) else {
            return Err(ScaleError::ShortSource {
                width: from.width,
                height: from.height,
                need: from.i420_len(),
                got: src.len(),
            });
        };
        out.resize(to.i420_len(), 0);
        let (y_out, u_out, v_out) = i420_planes_mut(out, to);
        self.luma.scale(y, from, y_out, to);
        self.chroma.scale(u, from.chroma(), u_out, to.chroma());
        self.chroma.scale(v, from.chroma(), v_out, to.chroma());
        Ok(())
    }
}

/// Scales one plane; its tables fit the last sizes it was used for.
#[derive(Debug, Default)]
struct PlaneScaler {
    sizes: Option<(PictureSize, PictureSize)>,
    columns: Taps,
    rows: Taps,
    /// One output line's worth of source columns, filtered vertically.
    column_sums: Vec<u32>,
}

impl PlaneScaler {
    fn scale(&mut self, src: &[u8], from: PictureSize, dst: &mut [u8], to: PictureSize) {
        let (sw, sh) = (from.width as usize, from.height as usize);
        let (dw, dh) = (to.width as usize, to.height as usize);
        if from == to {
            dst.copy_from_slice(&src[..sw * sh]);
        } else if sw == 2 * dw && sh == 2 * dh {
            halve(src, sw, dst, dw);
        } else {
            if self.sizes != Some((from, to)) {
                self.columns = Taps::new(sw, dw);
                self.rows = Taps::new(sh, dh);
                self.column_sums.resize(sw, 0);
                self.sizes = Some((from, to));
            }
            self.box_filter(src, sw, dst, dw);
        }
    }

    /// Vertical pass into `column_sums` (full source width, contiguous, so it
    /// vectorises), then the horizontal pass over that one line.
    fn box_filter(&mut self, src: &[u8], sw: usize, dst: &mut [u8], dw: usize) {
        for (out_row, dst_line) in dst.chunks_exact_mut(dw).enumerate() {
            let (first, weights) = self.rows.of(out_row);
            self.column_sums.fill(0);
            for (k, &weight) in weights.iter().enumerate() {
                let line = &src[(first + k) * sw..][..sw];
                let weight = u32::from(weight);
                for (sum, &px) in self.column_sums.iter_mut().zip(line) {
                    *sum += weight * u32::from(px);
                }
            }
            for (out_col, px) in dst_line.iter_mut().enumerate() {
                let (first, weights) = self.columns.of(out_col);
                // At most 255 × WEIGHT_ONE × WEIGHT_ONE + half: fits a u32.
                let sum: u32 = self.column_sums[first..].iter().zip(weights).map(|(&s, &w)| s * u32::from(w)).sum();
                *px = ((sum + (1 << (2 * WEIGHT_BITS - 1))) >> (2 * WEIGHT_BITS)) as u8;
            }
        }
    }
}

/// Exactly half size: the rounded mean of each 2×2 block. Whole blocks of
/// 16 outputs as fixed-size arrays let the compiler vectorise the pairing of
/// neighbours (5× faster than the plain loop on x86-64).
fn halve(src: &[u8], sw: usize, dst: &mut [u8], dw: usize) {
    const BLOCK: usize = 16;
    let mean = |t: &[u8], b: &[u8]| {
        let sum = u16::from(t[0]) + u16::from(t[1]) + u16::from(b[0]) + u16::from(b[1]);
        ((sum + 2) >> 2) as u8
    };
    for (dst_line, pair) in dst.chunks_exact_mut(dw).zip(src.chunks_exact(2 * sw)) {
        let (top, bottom) = pair.split_at(sw);
        let (out_blocks, out_rest) = dst_line.as_chunks_mut::<BLOCK>();
        let (top_blocks, top_rest) = top.as_chunks::<{ 2 * BLOCK }>();
        let (bottom_blocks, bottom_rest) = bottom.as_chunks::<{ 2 * BLOCK }>();
        for ((out, t), b) in out_blocks.iter_mut().zip(top_blocks).zip(bottom_blocks) {
            for (i, px) in out.iter_mut().enumerate() {
                *px = mean(&t[2 * i..2 * i + 2], &b[2 * i..2 * i + 2]);
            }
        }
        for ((px, t), b) in out_rest.iter_mut().zip(top_rest.chunks_exact(2)).zip(bottom_rest.chunks_exact(2)) {
            *px = mean(t, b);
        }
    }
}

/// For each output position along one axis, the source positions it covers
/// and their weights (adding up to `WEIGHT_ONE`).
#[derive(Debug, Default)]
struct Taps {
    /// Per output position: first source position and where its weights
    /// start in `weights`.
    spans: Vec<(usize, usize)>,
    weights: Vec<u16>,
}

impl Taps {
    /// Output position `i` of `to` covers source `[i × from / to, (i + 1) ×
    /// from / to)`; in units of `1 / to` source pixels that is `[i × from,
    /// (i + 1) × from)` against source pixel `j`'s `[j × to, (j + 1) × to)`,
    /// so overlaps are exact integers adding up to `from`.
    fn new(from: usize, to: usize) -> Self {
        let mut taps = Taps::default();
        for i in 0..to {
            let (lo, hi) = (i * from, (i + 1) * from);
            let first = lo / to;
            let last = (hi - 1) / to;
            let start = taps.weights.len();
            taps.spans.push((first, start));
            // Each weight is the step between rounded running totals, so
            // they add up to exactly WEIGHT_ONE (flat areas stay exactly
            // flat) and none goes negative.
            let scaled = |covered: usize| (covered as u64 * u64::from(WEIGHT_ONE) + from as u64 / 2) / from as u64;
            let mut covered = 0;
            for j in first..=last {
                let overlap = hi.min((j + 1) * to) - lo.max(j * to);
                let weight = scaled(covered + overlap) - scaled(covered);
                covered += overlap;
                taps.weights.push(weight as u16);
            }
        }
        taps
    }

    /// First source position and the weights of output position `i`.
    fn of(&self, i: usize) -> (usize, &[u16]) {
        let (first, start) = self.spans[i];
        let end = self.spans.get(i + 1).map_or(self.weights.len(), |&(_, next)| next);
        (first, &self.weights[start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(size: PictureSize, y: u8, u: u8, v: u8) -> Vec<u8> {
        let mut buf = vec![y; size.i420_len()];
        let c = size.chroma().pixels();
        buf[size.pixels()..][..c].fill(u);
        buf[size.pixels() + c..].fill(v);
        buf
    }

    #[test]
    fn flat_pictures_stay_flat_at_any_size() {
        let mut scaler = Downscaler::new();
        let mut out = Vec::new();
        let from = PictureSize::new(1280, 720);
        let src = flat(from, 77, 30, 220);
        for to in [(640, 360), (641, 359), (427, 240), (1279, 719), (1, 1), (333, 17), (1280, 720)] {
            let to = PictureSize::new(to.0, to.1);
            scaler.scale(&src, from, &mut out, to).unwrap();
            assert_eq!(out, flat(to, 77, 30, 220), "{to:?}");
        }
    }

    #[test]
    fn halving_averages_each_two_by_two_block() {
        // 4×4 luma, 2×2 chroma.
        #[rustfmt::skip]
        let src = [
            0, 4,    10, 20,
            8, 12,   30, 41,
            255, 255, 1, 0,
            255, 254, 0, 0,
            // U
            10, 20,
            30, 41,
            // V
            0, 0,
            0, 255,
        ];
        let mut out = Vec::new();
        Downscaler::new().scale(&src, PictureSize::new(4, 4), &mut out, PictureSize::new(2, 2)).unwrap();
        // (0+4+8+12+2)/4 = 6, (10+20+30+41+2)/4 = 25, (1019+2)/4 = 255, (1+2)/4 = 0;
        // chroma is 1×1: (101+2)/4 = 25, (255+2)/4 = 64.
        assert_eq!(out, [6, 25, 255, 0, 25, 64]);
    }

    #[test]
    fn two_thirds_weighs_partly_covered_pixels() {
        // 3 → 2 along a line: output 0 covers source 0 and half of 1, output
        // 1 the other half of 1 and source 2.
        let taps = Taps::new(3, 2);
        assert_eq!(taps.of(0), (0, &[2731u16, 1365][..]));
        assert_eq!(taps.of(1), (1, &[1365u16, 2731][..]));
        // 3×1 → 2×1 on a ramp 0, 90, 180: outputs (2×0 + 90)/3 = 30 and
        // (90 + 2×180)/3 = 150.
        let src = [0, 90, 180, 128, 128, 128, 128];
        let mut out = Vec::new();
        Downscaler::new().scale(&src, PictureSize::new(3, 1), &mut out, PictureSize::new(2, 1)).unwrap();
        assert_eq!(&out[..2], [30, 150]);
    }

    #[test]
    fn box_filter_agrees_with_halving() {
        // The general path on a 2× case must give what the fast path gives.
        let from = PictureSize::new(64, 36);
        let src: Vec<u8> = (0..from.i420_len()).map(|i| (i * 37 % 251) as u8).collect();
        let mut fast = Vec::new();
        Downscaler::new().scale(&src, from, &mut fast, PictureSize::new(32, 18)).unwrap();
        let (y, _, _) = i420_planes(&src, from).unwrap();
        let mut general = PlaneScaler::default();
        let mut slow = vec![0; 32 * 18];
        general.sizes = Some((from, PictureSize::new(32, 18)));
        general.columns = Taps::new(64, 32);
        general.rows = Taps::new(36, 18);
        general.column_sums = vec![0; 64];
        general.box_filter(y, 64, &mut slow, 32);
        assert_eq!(&fast[..32 * 18], &slow[..]);
    }

    #[test]
    fn odd_sizes_and_bad_requests() {
        let mut scaler = Downscaler::new();
        let mut out = Vec::new();
        let from = PictureSize::new(33, 17);
        let src = flat(from, 1, 2, 3);
        scaler.scale(&src, from, &mut out, PictureSize::new(16, 9)).unwrap();
        assert_eq!(out, flat(PictureSize::new(16, 9), 1, 2, 3));
        assert!(matches!(
            scaler.scale(&src, from, &mut out, PictureSize::new(34, 9)),
            Err(ScaleError::NotADownscale { .. })
        ));
        assert!(matches!(
            scaler.scale(&src, from, &mut out, PictureSize::new(0, 9)),
            Err(ScaleError::NotADownscale { .. })
        ));
        assert!(matches!(
            scaler.scale(&src[1..], from, &mut out, PictureSize::new(16, 9)),
            Err(ScaleError::ShortSource { .. })
        ));
    }
}
