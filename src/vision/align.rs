//! Five-point alignment: the similarity transform (rotation, uniform scale,
//! shift) that best maps a face's landmarks onto the ArcFace 112x112
//! template, and the aligned crop the embedder is trained on.

use super::Picture;

/// Where the eyes, nose tip and mouth corners sit in an aligned 112x112 face.
pub const TEMPLATE: [[f32; 2]; 5] =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];
pub const SIZE: usize = 112;

/// `[a, -b, tx; b, a, ty]`: maps picture points to template points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least-squares fit of `from` onto `to` (no reflection).
    pub fn fit(from: &[[f32; 2]; 5], to: &[[f32; 2]; 5]) -> Similarity {
        let mean = |p: &[[f32; 2]; 5]| {
            let n = p.len() as f32;
            [p.iter().map(|q| q[0]).sum::<f32>() / n, p.iter().map(|q| q[1]).sum::<f32>() / n]
        };
        let (mf, mt) = (mean(from), mean(to));
        let (mut sxx, mut a, mut b) = (0f32, 0f32, 0f32);
        for (f, t) in from.iter().zip(to) {
            let (x, y) = (f[0] - mf[0], f[1] - mf[1]);
            let (u, v) = (t[0] - mt[0], t[1] - mt[1]);
            sxx += x * x + y * y;
            a += x * u + y * v;
            b += x * v - y * u;
        }
        let (a, b) = if sxx > 0.0 { (a / sxx, b / sxx) } else { (1.0, 0.0) };
        Similarity { a, b, tx: mt[0] - (a * mf[0] - b * mf[1]), ty: mt[1] - (b * mf[0] + a * mf[1]) }
    }

    pub fn apply(&self, [x, y]: [f32; 2]) -> [f32; 2] {
        [self.a * x - self.b * y + self.tx, self.b * x + self.a * y + self.ty]
    }

    pub fn inverse(&self) -> Similarity {
        let d = self.a * self.a + self.b * self.b;
        let (a, b) = (self.a / d, -self.b / d);
        Similarity { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) }
    }
}

/// The 112x112 aligned face whose landmarks are `landmarks` in `picture`.
pub fn aligned(picture: &Picture, landmarks: &[[f32; 2]; 5]) -> Picture {
    let back = Similarity::fit(landmarks, &TEMPLATE).inverse();
    let mut rgb = Vec::with_capacity(SIZE * SIZE * 3);
    for v in 0..SIZE {
        for u in 0..SIZE {
            let [x, y] = back.apply([u as f32, v as f32]);
            rgb.extend(picture.sample(x, y).map(|c| c.round() as u8));
        }
    }
    Picture { width: SIZE as u32, height: SIZE as u32, rgb }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turned_scaled_shifted_face_fits_the_template_exactly() {
        let (angle, scale, shift) = (0.3f32, 2.5f32, [40.0f32, -7.0]);
        let from = TEMPLATE.map(|[x, y]| {
            let (c, s) = (angle.cos() * scale, angle.sin() * scale);
            [c * x - s * y + shift[0], s * x + c * y + shift[1]]
        });
        let fit = Similarity::fit(&from, &TEMPLATE);
        for (f, t) in from.iter().zip(TEMPLATE) {
            let got = fit.apply(*f);
            assert!((got[0] - t[0]).abs() < 1e-3 && (got[1] - t[1]).abs() < 1e-3, "{got:?} vs {t:?}");
        }
        let round = fit.inverse().apply(fit.apply([3.0, 4.0]));
        assert!((round[0] - 3.0).abs() < 1e-4 && (round[1] - 4.0).abs() < 1e-4);
    }

    #[test]
    fn the_crop_samples_around_the_landmarks() {
        // A picture whose red channel is x and green is y: the aligned crop's
        // centre must come from near the landmarks' centre.
        let (w, h) = (200usize, 200usize);
        let rgb = (0..w * h).flat_map(|i| [(i % w) as u8, (i / w) as u8, 0]).collect();
        let picture = Picture { width: w as u32, height: h as u32, rgb };
        let landmarks = TEMPLATE.map(|[x, y]| [x + 50.0, y + 30.0]);
        let crop = aligned(&picture, &landmarks);
        let centre = &crop.rgb[(56 * SIZE + 56) * 3..][..2];
        assert_eq!(centre, [106, 86]);
    }
}
