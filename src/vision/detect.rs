//! Face detection with YuNet (OpenCV model zoo, MIT): anchor-free, three
//! strides, a box and five landmarks per face. Chosen over BlazeFace for a
//! meeting room: it found all six faces of a group photo where BlazeFace's
//! full-range model found five (TESTING.md), and it takes a 16:9 input.

use std::path::Path;

use serde::Serialize;
use tract_tflite::prelude::Tensor;

use super::Picture;
use super::model::{Model, ModelError};

/// A box in picture pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    pub fn iou(&self, other: &Rect) -> f32 {
        let ix = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let iy = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        let inter = ix.max(0.0) * iy.max(0.0);
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    pub fn scaled(&self, k: f32) -> Rect {
        Rect { x: self.x * k, y: self.y * k, w: self.w * k, h: self.h * k }
    }
}

/// One face found in a picture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Face {
    pub rect: Rect,
    /// Right eye, left eye, nose tip, right and left mouth corner (the
    /// person's right is the picture's left).
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
}

impl Face {
    pub fn scaled(&self, k: f32) -> Face {
        Face { rect: self.rect.scaled(k), landmarks: self.landmarks.map(|[x, y]| [x * k, y * k]), score: self.score }
    }
}

const STRIDES: [usize; 3] = [8, 16, 32];
/// Below this YuNet's score is mostly background.
pub const MIN_SCORE: f32 = 0.6;
const NMS_IOU: f32 = 0.3;

pub struct Detector {
    model: Model,
    /// Output indices of cls, obj, bbox and kps for each stride.
    heads: [[usize; 4]; 3],
}

impl Detector {
    pub const FILE: &'static str = "face_detector.tflite";

    pub fn load(dir: &Path) -> Result<Detector, ModelError> {
        let model = Model::load("detector", &dir.join(Self::FILE))?;
        let mut heads = [[0; 4]; 3];
        for (head, stride) in heads.iter_mut().zip(STRIDES) {
            for (slot, kind) in head.iter_mut().zip(["cls", "obj", "bbox", "kps"]) {
                *slot = model.output(&format!("{kind}_{stride}"))?;
            }
        }
        Ok(Detector { model, heads })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Width and height the model sees.
    pub fn input_size(&self) -> (usize, usize) {
        (self.model.input_shape[3], self.model.input_shape[2])
    }

    /// Every face in `picture` with a score of at least `min_score`, in
    /// picture coordinates, best first.
    pub fn detect(&self, picture: &Picture, min_score: f32) -> Result<Vec<Face>, ModelError> {
        let (input, scale) = self.input(picture);
        let outputs = self.model.run(input)?;
        Ok(self.decode(&outputs, min_score).into_iter().map(|f| f.scaled(1.0 / scale)).collect())
    }

    /// The model's input for `picture`: shrunk to fit (aspect kept), in the
    /// top-left corner, the rest black; BGR 0..255 planes as YuNet was
    /// trained. Also the scale applied.
    pub fn input(&self, picture: &Picture) -> (Tensor, f32) {
        let (w, h) = self.input_size();
        let scale = (w as f32 / picture.width as f32).min(h as f32 / picture.height as f32);
        let fitted = picture.scaled(scale);
        let (fw, fh) = (fitted.width.min(w as u32) as usize, fitted.height.min(h as u32) as usize);
        let mut planes = vec![0f32; 3 * w * h];
        for y in 0..fh {
            for x in 0..fw {
                let p = &fitted.rgb[(y * fitted.width as usize + x) * 3..][..3];
                for (c, value) in [p[2], p[1], p[0]].into_iter().enumerate() {
                    planes[c * w * h + y * w + x] = value as f32;
                }
            }
        }
        let tensor = Tensor::from_shape(&[1, 3, h, w], &planes).expect("shape matches length");
        (tensor, scale)
    }

    /// Faces from the model's outputs, in model-input pixels, after
    /// non-maximum suppression.
    pub fn decode(&self, outputs: &[Vec<f32>], min_score: f32) -> Vec<Face> {
        let (w, _) = self.input_size();
        let mut faces = Vec::new();
        for (&[cls, obj, bbox, kps], stride) in self.heads.iter().zip(STRIDES) {
            let cols = w / stride;
            let (cls, obj, bbox, kps) = (&outputs[cls], &outputs[obj], &outputs[bbox], &outputs[kps]);
            for i in 0..cls.len() {
                let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
                if score < min_score {
                    continue;
                }
                let (col, row) = ((i % cols) as f32, (i / cols) as f32);
                let s = stride as f32;
                let b = &bbox[i * 4..][..4];
                let (cx, cy) = ((col + b[0]) * s, (row + b[1]) * s);
                let (bw, bh) = (b[2].exp() * s, b[3].exp() * s);
                let k = &kps[i * 10..][..10];
                let landmarks = [0, 1, 2, 3, 4].map(|n| [(k[2 * n] + col) * s, (k[2 * n + 1] + row) * s]);
                let rect = Rect { x: cx - bw / 2.0, y: cy - bh / 2.0, w: bw, h: bh };
                faces.push(Face { rect, landmarks, score });
            }
        }
        suppress(faces)
    }
}

/// Non-maximum suppression: the best of each cluster of overlapping boxes.
fn suppress(mut faces: Vec<Face>) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::new();
    for face in faces {
        if kept.iter().all(|k| k.rect.iou(&face.rect) < NMS_IOU) {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, score: f32) -> Face {
        Face { rect: Rect { x, y: 0.0, w: 10.0, h: 10.0 }, landmarks: [[0.0; 2]; 5], score }
    }

    #[test]
    fn overlapping_boxes_keep_the_best_one() {
        let kept = suppress(vec![face(0.0, 0.7), face(1.0, 0.9), face(30.0, 0.8)]);
        let xs: Vec<f32> = kept.iter().map(|f| f.rect.x).collect();
        assert_eq!(xs, vec![1.0, 30.0]);
    }

    #[test]
    fn iou_of_boxes() {
        let a = Rect { x: 0.0, y: 0.0, w: 10.0, h: 10.0 };
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&Rect { x: 20.0, ..a }), 0.0);
        assert!((a.iou(&Rect { x: 5.0, ..a }) - 50.0 / 150.0).abs() < 1e-6);
    }
}
