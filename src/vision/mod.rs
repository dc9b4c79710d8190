//! Room check-in by face, all on the box: detect faces (YuNet), align them
//! to the ArcFace template, embed them (SFace), match them against the
//! enrolled people, follow them across frames, and decide who checked in.
//!
//! The models are `.tflite` files prepared by `tools/fetch-models` and run
//! by tract. The deciding parts ([`tracker`], [`checkin`]) are sans-IO; the
//! thread that feeds them camera frames is [`pipeline`].

pub mod align;
pub mod checkin;
pub mod detect;
pub mod embed;
pub mod gallery;
pub mod model;
pub mod picture;
pub mod pipeline;
pub mod service;
pub mod tracker;

pub use detect::{Detector, Face, Rect};
pub use embed::{Embedder, Embedding};
pub use gallery::{Gallery, Match, PersonId};
pub use model::ModelError;
pub use picture::{PhotoError, PhotoLimits, Picture};

use std::path::Path;

pub use crate::config::DEFAULT_MODELS_DIR;

/// The two models, loaded once.
pub struct Models {
    pub detector: Detector,
    pub embedder: Embedder,
}

impl Models {
    pub fn load(dir: &Path) -> Result<Models, ModelError> {
        Ok(Models { detector: Detector::load(dir)?, embedder: Embedder::load(dir)? })
    }

    /// The one face an enrollment photo must show, and its embedding.
    pub fn enrollment(&self, picture: &Picture) -> Result<(Face, Embedding), EnrollError> {
        let faces = self.detector.detect(picture, detect::MIN_SCORE)?;
        let face = match faces.as_slice() {
            [] => return Err(EnrollError::NoFace),
            [one] => one,
            more => return Err(EnrollError::SeveralFaces(more.len())),
        };
        let eyes = (face.landmarks[1][0] - face.landmarks[0][0]).hypot(face.landmarks[1][1] - face.landmarks[0][1]);
        if face.rect.w.min(face.rect.h) < MIN_ENROLL_FACE_PX || eyes < MIN_ENROLL_FACE_PX / 3.0 {
            return Err(EnrollError::TooSmall { width: face.rect.w.round() as u32 });
        }
        let embedding = self.embedder.embed(picture, face)?;
        Ok((face.clone(), embedding))
    }
}

/// An enrollment face narrower than this is too coarse to remember someone by.
pub const MIN_ENROLL_FACE_PX: f32 = 64.0;

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("face check-in is unavailable: {0}")]
    Unavailable(String),
    #[error("no such person")]
    NoSuchPerson,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Photo(#[from] PhotoError),
    #[error("no face found in the photo; use a photo where the face is clearly visible")]
    NoFace,
    #[error("{0} faces found in the photo; use a photo of the person alone")]
    SeveralFaces(usize),
    #[error(
        "the face is only {width} pixels wide; use a closer or larger photo (at least {} pixels)",
        MIN_ENROLL_FACE_PX
    )]
    TooSmall { width: u32 },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{0}")]
    NoCamera(&'static str),
}

#[cfg(test)]
mod photo_tests;
