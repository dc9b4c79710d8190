//! A face's embedding: what enrollment stores and check-in compares.

/// Numbers in a face embedding (SFace's).
pub const EMBEDDING_DIMENSIONS: usize = 128;

/// A unit-length face embedding, as the store keeps it (vision makes it).
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(pub Vec<f32>);

impl Embedding {
    /// Normalises `raw` to unit length.
    pub fn new(mut raw: Vec<f32>) -> Embedding {
        let norm = raw.iter().map(|v| v * v).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        raw.iter_mut().for_each(|v| *v /= norm);
        Embedding(raw)
    }

    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    /// Little-endian f32s, as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Embedding> {
        (bytes.len() == EMBEDDING_DIMENSIONS * 4)
            .then(|| Embedding(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()))
    }
}
