//! Face embeddings with SFace (OpenCV model zoo, Apache-2.0): a 112x112
//! aligned face in, 128 numbers out; the same person's faces point the same
//! way, so faces compare by cosine.

use std::path::Path;

use tract_tflite::prelude::Tensor;

use super::model::{Model, ModelError};
use super::{Face, Picture, align};

// The vector itself is the store's (it keeps it); vision makes and compares it.
pub use crate::store::{EMBEDDING_DIMENSIONS as DIMENSIONS, Embedding};

pub struct Embedder {
    model: Model,
}

impl Embedder {
    pub const FILE: &'static str = "face_embedder.tflite";

    pub fn load(dir: &Path) -> Result<Embedder, ModelError> {
        Ok(Embedder { model: Model::load("embedder", &dir.join(Self::FILE))? })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The embedding of `face` in `picture`.
    pub fn embed(&self, picture: &Picture, face: &Face) -> Result<Embedding, ModelError> {
        self.embed_aligned(&align::aligned(picture, &face.landmarks))
    }

    pub fn embed_aligned(&self, aligned: &Picture) -> Result<Embedding, ModelError> {
        let mut out = self.model.run(Self::input(aligned))?;
        Ok(Embedding::new(out.swap_remove(0)))
    }

    /// RGB 0..255 planes (SFace normalises inside the graph).
    pub fn input(aligned: &Picture) -> Tensor {
        let n = align::SIZE * align::SIZE;
        let mut planes = vec![0f32; 3 * n];
        for (i, p) in aligned.rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                planes[c * n + i] = p[c] as f32;
            }
        }
        Tensor::from_shape(&[1, 3, align::SIZE, align::SIZE], &planes).expect("shape matches length")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_length_and_round_trip_as_bytes() {
        let e = Embedding::new((0..DIMENSIONS).map(|i| i as f32 - 60.0).collect());
        assert!((e.cosine(&e) - 1.0).abs() < 1e-5);
        assert_eq!(Embedding::from_bytes(&e.to_bytes()), Some(e));
        assert_eq!(Embedding::from_bytes(&[0; 12]), None);
    }
}
