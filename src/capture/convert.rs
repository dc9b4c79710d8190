//! Raw camera layouts (packed YUYV, semi-planar NV12) to the I420 the rest of
//! the box takes, into buffers the caller keeps from frame to frame.
//!
//! Also the I420 geometry every path into I420 shares. For odd sizes the
//! chroma planes round up (`(width + 1) / 2` × `(height + 1) / 2`), as libyuv
//! and the encoders do; even sizes give the familiar `width × height × 3 / 2`.

/// Width and height of a picture in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PictureSize {
    pub width: u32,
    pub height: u32,
}

impl PictureSize {
    pub const fn new(width: u32, height: u32) -> Self {
        PictureSize { width, height }
    }

    /// Width and height of each I420 chroma plane.
    pub const fn chroma(self) -> PictureSize {
        PictureSize::new(self.width.div_ceil(2), self.height.div_ceil(2))
    }

    pub const fn pixels(self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Bytes of an I420 picture of this size.
    pub const fn i420_len(self) -> usize {
        self.pixels() + 2 * self.chroma().pixels()
    }
}

/// Where a raw picture's lines lie in a device buffer (V4L2's `width`,
/// `height` and `bytesperline`: lines can be padded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLayout {
    pub size: PictureSize,
    /// Bytes from the start of one line to the start of the next.
    pub bytes_per_line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("{format} lines of {bytes_per_line} bytes cannot hold {width} pixels")]
    LineTooShort { format: &'static str, width: u32, bytes_per_line: usize },
    #[error("{format} buffer holds {got} bytes, {need} needed for {width}×{height}")]
    ShortBuffer { format: &'static str, width: u32, height: u32, need: usize, got: usize },
}

/// A device buffer must hold the whole picture.
fn ensure_len(format: &'static str, size: PictureSize, need: usize, got: usize) -> Result<(), ConvertError> {
    if got < need {
        return Err(ConvertError::ShortBuffer { format, width: size.width, height: size.height, need, got });
    }
    Ok(())
}

/// Splits an I420 buffer of `size` (already that long) into its Y, U and V
/// planes.
pub(crate) fn i420_planes_mut(buf: &mut [u8], size: PictureSize) -> (&mut [u8], &mut [u8], &mut [u8]) {
    let (y, chroma) = buf.split_at_mut(size.pixels());
    let (u, v) = chroma.split_at_mut(size.chroma().pixels());
    (y, u, v)
}

/// Splits an I420 picture of `size` into its Y, U and V planes, or `None`
/// when `buf` is shorter than that.
pub(crate) fn i420_planes(buf: &[u8], size: PictureSize) -> Option<(&[u8], &[u8], &[u8])> {
    let buf = buf.get(..size.i420_len())?;
    let (y, chroma) = buf.split_at(size.pixels());
    let (u, v) = chroma.split_at(size.chroma().pixels());
    Some((y, u, v))
}

/// Bytes a buffer of `lines` lines must at least hold: every line but the
/// last is padded to `bytes_per_line`, the last may stop at its pixels.
fn lines_len(lines: usize, bytes_per_line: usize, last_line: usize) -> usize {
    if lines == 0 { 0 } else { (lines - 1) * bytes_per_line + last_line }
}

/// Packed YUYV 4:2:2 (`Y0 U Y1 V` per two pixels, the raw format of most UVC
/// cameras) to I420 in `out` (resized to fit). Chroma of each pair of lines
/// is the rounded mean of the two; an odd last line keeps its own. Values
/// pass through unchanged (the camera's limited range is what I420 carries).
pub fn yuyv_to_i420(src: &[u8], layout: RawLayout, out: &mut Vec<u8>) -> Result<(), ConvertError> {
    let size = layout.size;
    let (w, h) = (size.width as usize, size.height as usize);
    let chroma = size.chroma();
    let cw = chroma.width as usize;
    // A last odd pixel still comes as a whole 4-byte macropixel.
    let line = 4 * cw;
    if layout.bytes_per_line < line {
        return Err(ConvertError::LineTooShort {
            format: "YUYV",
            width: size.width,
            bytes_per_line: layout.bytes_per_line,
        });
    }
    let need = lines_len(h, layout.bytes_per_line, line);
    ensure_len("YUYV", size, need, src.len())?;
    out.resize(size.i420_len(), 0);
    let (y_plane, u_plane, v_plane) = i420_planes_mut(out, size);
    let line_at = |row: usize| &src[row * layout.bytes_per_line..][..line];

    for (row, y_out) in y_plane.chunks_exact_mut(w.max(1)).enumerate().take(h) {
        yuyv_luma_line(line_at(row), y_out);
    }
    for (crow, (u_out, v_out)) in
        u_plane.chunks_exact_mut(cw.max(1)).zip(v_plane.chunks_exact_mut(cw.max(1))).enumerate()
    {
        let top = line_at(2 * crow);
        // An odd last line pairs with itself.
        let bottom = line_at((2 * crow + 1).min(h - 1));
        for (((u, v), a), b) in
            u_out.iter_mut().zip(v_out.iter_mut()).zip(top.chunks_exact(4)).zip(bottom.chunks_exact(4))
        {
            *u = avg2(a[1], b[1]);
            *v = avg2(a[3], b[3]);
        }
    }
    Ok(())
}

/// The Y samples of one YUYV line (`line` holds whole macropixels).
fn yuyv_luma_line(line: &[u8], y_out: &mut [u8]) {
    let pairs = y_out.len() / 2;
    for (y, px) in y_out.chunks_exact_mut(2).zip(line.chunks_exact(4)) {
        y[0] = px[0];
        y[1] = px[2];
    }
    if y_out.len() % 2 == 1 {
        y_out[2 * pairs] = line[4 * pairs];
    }
}

/// NV12 as V4L2 hands it in one buffer (the Y plane, then at
/// `bytes_per_line × height` the interleaved `U V` plane at half height) to
/// I420 in `out` (resized to fit). A plain de-interleave: the chroma is
/// already 4:2:0.
pub fn nv12_to_i420(src: &[u8], layout: RawLayout, out: &mut Vec<u8>) -> Result<(), ConvertError> {
    let size = layout.size;
    let (w, h) = (size.width as usize, size.height as usize);
    let chroma = size.chroma();
    let (cw, ch) = (chroma.width as usize, chroma.height as usize);
    let bpl = layout.bytes_per_line;
    if bpl < 2 * cw {
        return Err(ConvertError::LineTooShort { format: "NV12", width: size.width, bytes_per_line: bpl });
    }
    let uv_start = bpl * h;
    let need = uv_start + lines_len(ch, bpl, 2 * cw);
    ensure_len("NV12", size, need, src.len())?;
    out.resize(size.i420_len(), 0);
    let (y_plane, u_plane, v_plane) = i420_planes_mut(out, size);

    for (row, y_out) in y_plane.chunks_exact_mut(w.max(1)).enumerate().take(h) {
        y_out.copy_from_slice(&src[row * bpl..][..w]);
    }
    for (crow, (u_out, v_out)) in
        u_plane.chunks_exact_mut(cw.max(1)).zip(v_plane.chunks_exact_mut(cw.max(1))).enumerate()
    {
        let line = &src[uv_start + crow * bpl..][..2 * cw];
        for ((u, v), uv) in u_out.iter_mut().zip(v_out.iter_mut()).zip(line.chunks_exact(2)) {
            *u = uv[0];
            *v = uv[1];
        }
    }
    Ok(())
}

/// Rounded mean of two samples.
#[inline(always)]
fn avg2(a: u8, b: u8) -> u8 {
    ((u16::from(a) + u16::from(b) + 1) >> 1) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(width: u32, height: u32, bytes_per_line: usize) -> RawLayout {
        RawLayout { size: PictureSize::new(width, height), bytes_per_line }
    }

    #[test]
    fn i420_sizes_round_chroma_up() {
        assert_eq!(PictureSize::new(1280, 720).i420_len(), 1280 * 720 * 3 / 2);
        assert_eq!(PictureSize::new(5, 3).chroma(), PictureSize::new(3, 2));
        assert_eq!(PictureSize::new(5, 3).i420_len(), 15 + 2 * 6);
    }

    #[test]
    fn yuyv_becomes_i420_exactly() {
        // 4×2, lines padded to 10 bytes; padding is 0xEE and must not leak.
        #[rustfmt::skip]
        let src = [
            10, 100, 11, 200,  12, 50, 13, 60,  0xEE, 0xEE,
            20, 103, 21, 201,  22, 51, 23, 63,  0xEE, 0xEE,
        ];
        let mut out = Vec::new();
        yuyv_to_i420(&src, layout(4, 2, 10), &mut out).unwrap();
        #[rustfmt::skip]
        let want = [
            10, 11, 12, 13,
            20, 21, 22, 23,
            102, 51, // U: (100+103+1)/2, (50+51+1)/2
            201, 62, // V: (200+201+1)/2, (60+63+1)/2
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn yuyv_odd_sizes_keep_edge_pixels() {
        // 3×3: the last macropixel carries one used Y, the last line pairs
        // with itself.
        #[rustfmt::skip]
        let src = [
            1, 100, 2, 200,  3, 110, 99, 210,
            4, 102, 5, 202,  6, 112, 99, 212,
            7, 120, 8, 220,  9, 130, 99, 230,
        ];
        let mut out = vec![0xAA; 100];
        yuyv_to_i420(&src, layout(3, 3, 8), &mut out).unwrap();
        #[rustfmt::skip]
        let want = [
            1, 2, 3,
            4, 5, 6,
            7, 8, 9,
            101, 111, 120, 130,
            201, 211, 220, 230,
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn nv12_becomes_i420_exactly() {
        // 4×2 with 6-byte lines: Y plane, then one UV line.
        #[rustfmt::skip]
        let src = [
            1, 2, 3, 4, 0xEE, 0xEE,
            5, 6, 7, 8, 0xEE, 0xEE,
            100, 200, 101, 201, 0xEE, 0xEE,
        ];
        let mut out = Vec::new();
        nv12_to_i420(&src, layout(4, 2, 6), &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8, 100, 101, 200, 201]);
        // The last line may stop at its pixels (no trailing padding).
        nv12_to_i420(&src[..16], layout(4, 2, 6), &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8, 100, 101, 200, 201]);
    }

    #[test]
    fn nv12_odd_size() {
        // 3×3: chroma 2×2, UV lines of 4 bytes.
        #[rustfmt::skip]
        let src = [
            1, 2, 3, 0,
            4, 5, 6, 0,
            7, 8, 9, 0,
            100, 200, 101, 201,
            102, 202, 103, 203,
        ];
        let mut out = Vec::new();
        nv12_to_i420(&src, layout(3, 3, 4), &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 101, 102, 103, 200, 201, 202, 203]);
    }

    #[test]
    fn short_buffers_and_lines_are_errors() {
        let mut out = Vec::new();
        assert!(matches!(
            yuyv_to_i420(&[0; 15], layout(4, 2, 8), &mut out),
            Err(ConvertError::ShortBuffer { need: 16, got: 15, .. })
        ));
        assert!(matches!(yuyv_to_i420(&[0; 64], layout(4, 2, 6), &mut out), Err(ConvertError::LineTooShort { .. })));
        assert!(matches!(
            nv12_to_i420(&[0; 11], layout(4, 2, 4), &mut out),
            Err(ConvertError::ShortBuffer { need: 12, got: 11, .. })
        ));
        assert!(matches!(nv12_to_i420(&[0; 64], layout(5, 2, 5), &mut out), Err(ConvertError::LineTooShort { .. })));
    }

    #[test]
    fn buffers_are_reused() {
        let src = vec![128u8; 64 * 48 * 2];
        let mut out = Vec::with_capacity(64 * 48 * 3 / 2);
        let before = out.as_ptr();
        for _ in 0..3 {
            yuyv_to_i420(&src, layout(64, 48, 128), &mut out).unwrap();
        }
        assert_eq!(out.as_ptr(), before, "no reallocation at a steady size");
    }
}
