use std::time::{SystemTime, UNIX_EPOCH};

use crate::capture::font::{GLYPH_HEIGHT, GLYPH_WIDTH, glyph};

/// BT.601 limited-range (Y, U, V) of 75 % colour bars, left to right.
const BARS: [(u8, u8, u8); 8] = [
    (180, 128, 128), // white
    (162, 44, 142),  // yellow
    (131, 156, 44),  // cyan
    (112, 72, 58),   // green
    (84, 184, 198),  // magenta
    (65, 100, 212),  // red
    (35, 212, 114),  // blue
    (16, 128, 128),  // black
];
const BAND_Y: u8 = 32;
const INK_Y: u8 = 235;
const NEUTRAL: u8 = 128;

/// The simulated camera's picture, in I420: colour bars scrolling sideways, a
/// white square bouncing over them, and a band along the bottom showing the
/// wall-clock time (UTC) and the frame number. Motion keeps an encoder busy as
/// a real scene would; the clock lets a viewer measure glass-to-glass delay.
#[derive(Debug, Clone)]
pub struct TestScene {
    width: usize,
    height: usize,
    /// Rows the bars take; the band is below.
    bars_height: usize,
    /// One row of the bars, twice over, so any scrolled row is one slice.
    bar_row_y: Vec<u8>,
    bar_row_u: Vec<u8>,
    bar_row_v: Vec<u8>,
}

impl TestScene {
    /// `width` and `height` must be even (4:2:0).
    pub fn new(width: u32, height: u32) -> Self {
        let (width, height) = (width as usize, height as usize);
        let bar = |x: usize, pick: fn(&(u8, u8, u8)) -> u8, w: usize| pick(&BARS[x * BARS.len() / w]);
        let row = |w: usize, pick: fn(&(u8, u8, u8)) -> u8| -> Vec<u8> {
            let one: Vec<u8> = (0..w).map(|x| bar(x, pick, w)).collect();
            [one.clone(), one].concat()
        };
        TestScene {
            width,
            height,
            bars_height: (height * 3 / 4) & !1,
            bar_row_y: row(width, |c| c.0),
            bar_row_u: row(width / 2, |c| c.1),
            bar_row_v: row(width / 2, |c| c.2),
        }
    }

    /// The bars in the opposite order (black to white), so a second camera
    /// looks different from the first.
    pub fn mirrored(mut self) -> Self {
        for row in [&mut self.bar_row_y, &mut self.bar_row_u, &mut self.bar_row_v] {
            row.reverse();
        }
        self
    }

    pub fn frame_len(&self) -> usize {
        self.width * self.height * 3 / 2
    }

    /// Draws frame `seq` captured at `wall` into `out` (resized to fit).
    pub fn render(&self, seq: u64, wall: SystemTime, out: &mut Vec<u8>) {
        let (w, h) = (self.width, self.height);
        out.resize(self.frame_len(), 0);
        let (y_plane, chroma) = out.split_at_mut(w * h);
        let (u_plane, v_plane) = chroma.split_at_mut(w * h / 4);

        // Bars, scrolled by 4 pixels a frame (2 in chroma).
        let shift = (seq as usize * 4) % w;
        for row in 0..self.bars_height {
            y_plane[row * w..][..w].copy_from_slice(&self.bar_row_y[shift..][..w]);
        }
        let (cw, cshift) = (w / 2, shift / 2);
        for row in 0..self.bars_height / 2 {
            u_plane[row * cw..][..cw].copy_from_slice(&self.bar_row_u[cshift..][..cw]);
            v_plane[row * cw..][..cw].copy_from_slice(&self.bar_row_v[cshift..][..cw]);
        }
        y_plane[self.bars_height * w..].fill(BAND_Y);
        u_plane[self.bars_height / 2 * cw..].fill(NEUTRAL);
        v_plane[self.bars_height / 2 * cw..].fill(NEUTRAL);

        let (x, y, side) = self.square_at(seq);
        for row in y..y + side {
            y_plane[row * w + x..][..side].fill(INK_Y);
        }
        for row in y / 2..(y + side) / 2 {
            u_plane[row * cw + x / 2..][..side / 2].fill(NEUTRAL);
            v_plane[row * cw + x / 2..][..side / 2].fill(NEUTRAL);
        }

        self.draw_text(y_plane, &caption(seq, wall));
    }

    /// Pastes `person` in the middle of the picture (cut to fit).
    pub fn paste(&self, person: &super::Portrait, out: &mut [u8]) {
        let (w, h) = (self.width, self.height);
        let (pw, ph) = ((person.width as usize).min(w) & !1, (person.height as usize).min(h) & !1);
        let (x0, y0) = (((w - pw) / 2) & !1, ((h - ph) / 2) & !1);
        let src_w = person.width as usize;
        let (src_y, src_chroma) = person.i420.split_at(src_w * person.height as usize);
        let (src_u, src_v) = src_chroma.split_at(src_w * person.height as usize / 4);
        let (y_plane, chroma) = out.split_at_mut(w * h);
        let (u_plane, v_plane) = chroma.split_at_mut(w * h / 4);
        for row in 0..ph {
            y_plane[(y0 + row) * w + x0..][..pw].copy_from_slice(&src_y[row * src_w..][..pw]);
        }
        let (cw, scw) = (w / 2, src_w / 2);
        for row in 0..ph / 2 {
            let at = (y0 / 2 + row) * cw + x0 / 2;
            u_plane[at..][..pw / 2].copy_from_slice(&src_u[row * scw..][..pw / 2]);
            v_plane[at..][..pw / 2].copy_from_slice(&src_v[row * scw..][..pw / 2]);
        }
    }

    /// Top-left corner and side of the bouncing square in frame `seq` (even
    /// numbers, so it lines up with chroma).
    pub fn square_at(&self, seq: u64) -> (usize, usize, usize) {
        // Never wider than the picture (tall, narrow sizes exist).
        let side = (self.bars_height / 4).min(self.width).max(2) & !1;
        let bounce = |span: usize, speed: u64| -> usize {
            if span == 0 {
                return 0;
            }
            let t = (seq * speed) as usize % (2 * span);
            (if t < span { t } else { 2 * span - t }) & !1
        };
        (bounce(self.width - side, 6), bounce(self.bars_height - side, 4), side)
    }

    fn draw_text(&self, y_plane: &mut [u8], text: &str) {
        let band = self.height - self.bars_height;
        // As large as fits: half the band's height, and the whole line across.
        let fit_width = self.width / ((text.chars().count() + 1) * (GLYPH_WIDTH + 1));
        let scale = (band / (GLYPH_HEIGHT * 2)).min(fit_width).max(1);
        let advance = (GLYPH_WIDTH + 1) * scale;
        let top = self.bars_height + (band - GLYPH_HEIGHT * scale) / 2;
        let mut left = 2 * scale;
        for c in text.chars() {
            let Some(rows) = glyph(c) else { continue };
            if left + advance > self.width {
                break;
            }
            for (gy, bits) in rows.iter().enumerate() {
                for gx in 0..GLYPH_WIDTH {
                    if bits & (0x10 >> gx) == 0 {
                        continue;
                    }
                    for dy in 0..scale {
                        let row = top + gy * scale + dy;
                        y_plane[row * self.width + left + gx * scale..][..scale].fill(INK_Y);
                    }
                }
            }
            left += advance;
        }
    }
}

/// `HH:MM:SS.mmm #0000042`, the clock in UTC.
fn caption(seq: u64, wall: SystemTime) -> String {
    let ms = wall.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let day_ms = ms % 86_400_000;
    let (h, m, s, milli) = (day_ms / 3_600_000, day_ms / 60_000 % 60, day_ms / 1000 % 60, day_ms % 1000);
    format!("{h:02}:{m:02}:{s:02}.{milli:03} #{seq:07}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn caption_shows_utc_time_and_frame_number() {
        let t = UNIX_EPOCH + Duration::from_millis(86_400_000 * 3 + 13 * 3_600_000 + 5 * 60_000 + 7_042);
        assert_eq!(caption(42, t), "13:05:07.042 #0000042");
    }

    #[test]
    fn frames_move_and_carry_their_number() {
        let scene = TestScene::new(320, 180);
        let t = UNIX_EPOCH;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        scene.render(1, t, &mut a);
        scene.render(2, t, &mut b);
        assert_eq!(a.len(), 320 * 180 * 3 / 2);
        assert_ne!(scene.square_at(1), scene.square_at(2), "the square moves");
        let band = 134 * 320..180 * 320;
        assert!(a[band.clone()] != b[band.clone()], "the frame counter changes");
        assert!(a[band].contains(&INK_Y), "text is drawn in the band");
        // The square is white with neutral chroma where it sits.
        let (x, y, side) = scene.square_at(1);
        assert_eq!(a[(y + side / 2) * 320 + x + side / 2], INK_Y);
    }

    #[test]
    fn every_size_the_config_allows_renders() {
        let mut out = Vec::new();
        for (w, h) in [(64, 64), (64, 2160), (128, 720), (3840, 64), (3840, 2160), (66, 98)] {
            let scene = TestScene::new(w, h);
            for seq in [0, 1, 17, 1000, 123_457] {
                scene.render(seq, UNIX_EPOCH, &mut out);
                assert_eq!(out.len(), (w * h * 3 / 2) as usize);
            }
        }
    }
}
