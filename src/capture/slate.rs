//! The picture the box sends while a camera is away: dark grey with a line
//! of text, so people see the camera is off rather than a frozen room.

use super::font::{GLYPH_HEIGHT, GLYPH_WIDTH, glyph};
use super::{Frame, PixelFormat};

const BACKGROUND_Y: u8 = 40;
const INK_Y: u8 = 200;
const NEUTRAL: u8 = 128;

/// An I420 frame of `width` × `height` (even) with `text` centred in it,
/// made at `now`.
pub fn slate(width: u32, height: u32, text: &str, now: std::time::Instant) -> Frame {
    let (w, h) = (width as usize, height as usize);
    let mut data = vec![NEUTRAL; w * h * 3 / 2];
    data[..w * h].fill(BACKGROUND_Y);
    let advance = GLYPH_WIDTH + 1;
    let chars = text.chars().count();
    // As large as fits in two thirds of the width.
    let scale = (w * 2 / 3 / (chars * advance).max(1)).clamp(1, h / (GLYPH_HEIGHT * 2).max(1)).max(1);
    let text_w = chars * advance * scale;
    let (left, top) = (w.saturating_sub(text_w) / 2, h.saturating_sub(GLYPH_HEIGHT * scale) / 2);
    for (i, c) in text.chars().enumerate() {
        let Some(rows) = glyph(c) else { continue };
        let x0 = left + i * advance * scale;
        for (gy, bits) in rows.iter().enumerate() {
            for gx in (0..GLYPH_WIDTH).filter(|gx| bits & (0x10 >> gx) != 0) {
                for dy in 0..scale {
                    let (row, col) = (top + gy * scale + dy, x0 + gx * scale);
                    if row < h && col + scale <= w {
                        data[row * w + col..][..scale].fill(INK_Y);
                    }
                }
            }
        }
    }
    Frame { seq: 0, captured_at: now, width, height, format: PixelFormat::I420, data: data.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slate_is_a_dark_i420_frame_with_text_in_the_middle() {
        let f = slate(640, 360, "CAMERA OFFLINE", std::time::Instant::now());
        assert_eq!(f.data.len(), 640 * 360 * 3 / 2);
        let luma = f.luma();
        let inked = luma.iter().filter(|&&y| y == INK_Y).count();
        assert!(inked > 640 * 360 / 100, "text is drawn: {inked} pixels");
        assert_eq!(luma[0], BACKGROUND_Y, "corners stay background");
        let middle_rows = &luma[170 * 640..190 * 640];
        assert!(middle_rows.contains(&INK_Y), "the text sits in the middle");
    }
}
