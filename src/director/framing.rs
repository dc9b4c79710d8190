//! Cameras as the director sees them, and crops of their pictures.

/// A camera's place in the room: where it looks (degrees counter-clockwise
/// from the box's front, as the microphone array measures) and its
/// calibrated horizontal field of view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraView {
    pub azimuth_deg: f32,
    pub hfov_deg: f32,
}

/// A rectangle of a picture, each side a share (0–1) of the picture's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Crop {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// Where faces sit, as a share of the picture's height from the top.
const EYE_LINE: f32 = 0.45;
/// A talker within this share of a camera's half field of view is well seen
/// (not cut at the picture's edge).
const WELL_INSIDE: f32 = 0.8;

impl Crop {
    pub const FULL: Crop = Crop { x: 0.0, y: 0.0, width: 1.0, height: 1.0 };

    /// Its centre's x.
    pub fn centre_x(&self) -> f32 {
        self.x + self.width / 2.0
    }

    /// This speaker crop moved onto the face it was aimed at: of `faces`
    /// (boxes in the same picture), the one whose centre is inside the crop
    /// and nearest its centre; the face then sits centred, with a third of
    /// the crop above its centre. Sound gives the direction to a few
    /// degrees; the face gives the person.
    pub fn on_face(self, faces: &[Crop]) -> Crop {
        let cx = self.centre_x();
        let inside = |f: &&Crop| {
            let fx = f.centre_x();
            fx >= self.x && fx <= self.x + self.width
        };
        let distance = |f: &Crop| (f.centre_x() - cx).abs();
        let Some(face) = faces.iter().filter(inside).min_by(|a, b| distance(a).total_cmp(&distance(b))) else {
            return self;
        };
        let face_y = face.y + face.height / 2.0;
        Crop {
            x: (face.centre_x() - self.width / 2.0).clamp(0.0, 1.0 - self.width),
            y: (face_y - self.height / 3.0).clamp(0.0, 1.0 - self.height),
            ..self
        }
    }

    /// Part way (`t` from 0 to 1, eased in and out) from this crop to `to`.
    pub fn towards(self, to: Crop, t: f32) -> Crop {
        let t = t.clamp(0.0, 1.0);
        let e = t * t * (3.0 - 2.0 * t);
        let mix = |a: f32, b: f32| a + (b - a) * e;
        Crop {
            x: mix(self.x, to.x),
            y: mix(self.y, to.y),
            width: mix(self.width, to.width),
            height: mix(self.height, to.height),
        }
    }
}

impl CameraView {
    /// How far `azimuth_deg` is from where the camera looks, −180..180
    /// (positive: to the camera's left).
    pub fn offset(&self, azimuth_deg: f32) -> f32 {
        (azimuth_deg - self.azimuth_deg + 540.0).rem_euclid(360.0) - 180.0
    }

    /// The offset as a share of the half field of view (±1 at the edges).
    fn reach(&self, azimuth_deg: f32) -> f32 {
        self.offset(azimuth_deg).abs() / (self.hfov_deg / 2.0)
    }

    /// Where a talker at `azimuth_deg` appears across the picture (0 left,
    /// 1 right; a pinhole camera: things to its left are on the left).
    pub fn picture_x(&self, azimuth_deg: f32) -> f32 {
        let half = (self.hfov_deg / 2.0).to_radians().tan();
        let off = self.offset(azimuth_deg).clamp(-89.0, 89.0).to_radians().tan();
        0.5 - off / (2.0 * half)
    }

    /// A crop `zoom` wide (and as high, keeping the picture's shape) centred
    /// on the talker, at the eye line, kept inside the picture.
    pub fn speaker_crop(&self, azimuth_deg: f32, zoom: f32) -> Crop {
        let size = zoom.clamp(0.1, 1.0);
        let x = (self.picture_x(azimuth_deg) - size / 2.0).clamp(0.0, 1.0 - size);
        let y = (EYE_LINE - size / 2.0).clamp(0.0, 1.0 - size);
        Crop { x, y, width: size, height: size }
    }
}

/// The camera with the widest view (the first of equals): group view's.
pub fn widest(cameras: &[CameraView]) -> usize {
    (0..cameras.len()).fold(0, |best, i| if cameras[i].hfov_deg > cameras[best].hfov_deg { i } else { best })
}

/// The camera that sees a talker best: of those that have them well inside
/// the picture, the narrowest (most pixels on the face); else the one that
/// has them nearest its centre.
pub fn best_camera(cameras: &[CameraView], azimuth_deg: f32) -> usize {
    let inside = (0..cameras.len())
        .filter(|&i| cameras[i].reach(azimuth_deg) <= WELL_INSIDE)
        .min_by(|&a, &b| cameras[a].hfov_deg.total_cmp(&cameras[b].hfov_deg));
    inside.unwrap_or_else(|| {
        (0..cameras.len())
            .min_by(|&a, &b| cameras[a].reach(azimuth_deg).total_cmp(&cameras[b].reach(azimuth_deg)))
            .unwrap_or(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_speaker_crop_moves_onto_the_face_it_was_aimed_at() {
        let crop = Crop { x: 0.2, y: 0.2, width: 0.4, height: 0.4 };
        let face = |x: f32| Crop { x, y: 0.3, width: 0.06, height: 0.1 };
        // Faces at 0.35 and 0.57 (centres 0.38, 0.60): the nearer one wins.
        let on = crop.on_face(&[face(0.57), face(0.35)]);
        assert!((on.centre_x() - 0.38).abs() < 1e-6, "{on:?}");
        assert!((on.y - (0.35 - 0.4 / 3.0)).abs() < 1e-6, "a third of the crop above the face: {on:?}");
        assert_eq!((on.width, on.height), (0.4, 0.4));
        // No face inside the crop: the crop stays where sound put it.
        assert_eq!(crop.on_face(&[face(0.8)]), crop);
        assert_eq!(crop.on_face(&[]), crop);
        // A face at the edge: the crop stays inside the picture.
        let edge = Crop { x: 0.0, ..crop }.on_face(&[face(0.0)]);
        assert_eq!(edge.x, 0.0);
    }
}
