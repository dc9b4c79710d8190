//! The enrolled people's embeddings, and who a face is.

use super::Embedding;

/// SFace's cosine threshold for "same person" (OpenCV's, from LFW).
pub const DEFAULT_THRESHOLD: f32 = 0.363;

pub use crate::events::PersonId;

/// A face's best match among the enrolled people.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub person: PersonId,
    pub similarity: f32,
}

#[derive(Debug, Clone, Default)]
pub struct Gallery {
    entries: Vec<(PersonId, Embedding)>,
}

impl Gallery {
    pub fn new(entries: Vec<(PersonId, Embedding)>) -> Gallery {
        Gallery { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most similar enrolled person (over all their photos), if at least
    /// `threshold` similar.
    pub fn identify(&self, face: &Embedding, threshold: f32) -> Option<Match> {
        self.entries
            .iter()
            .map(|(person, e)| Match { person: *person, similarity: e.cosine(face) })
            .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
            .filter(|m| m.similarity >= threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_similar_person_above_the_threshold() {
        let e = |v: [f32; 2]| Embedding::new(v.to_vec());
        let gallery = Gallery::new(vec![
            (PersonId(1), e([1.0, 0.0])),
            (PersonId(2), e([0.0, 1.0])),
            (PersonId(2), e([0.6, 0.8])),
        ]);
        assert_eq!(gallery.identify(&e([0.5, 0.9]), 0.5).map(|m| m.person), Some(PersonId(2)));
        assert_eq!(gallery.identify(&e([1.0, 0.1]), 0.5).map(|m| m.person), Some(PersonId(1)));
        assert_eq!(gallery.identify(&e([-1.0, -1.0]), 0.5), None);
        assert_eq!(Gallery::default().identify(&e([1.0, 0.0]), 0.0), None);
    }
}
