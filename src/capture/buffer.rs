//! Frame buffers that go back to their camera's pool when the last user of
//! a frame lets go, so a steady stream of frames allocates nothing.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

/// Buffers a pool keeps for reuse; more are freed (a consumer holding many
/// frames must not make the pool grow for ever).
const KEEP: usize = 8;

/// Spare buffers of one source.
#[derive(Debug, Clone, Default)]
pub struct BufferPool {
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl BufferPool {
    /// A buffer to fill (empty, with whatever capacity it had).
    pub fn take(&self) -> FrameBuf {
        let data = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
        FrameBuf { data, pool: Some(self.clone()) }
    }

    fn give_back(&self, mut data: Vec<u8>) {
        data.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < KEEP {
            spare.push(data);
        }
    }

    #[cfg(test)]
    fn spare(&self) -> usize {
        self.spare.lock().unwrap().len()
    }
}

/// A frame's bytes: a `Vec<u8>` that returns to its pool when dropped.
#[derive(Debug, Default)]
pub struct FrameBuf {
    data: Vec<u8>,
    pool: Option<BufferPool>,
}

impl From<Vec<u8>> for FrameBuf {
    fn from(data: Vec<u8>) -> Self {
        FrameBuf { data, pool: None }
    }
}

impl Clone for FrameBuf {
    /// A copy of the bytes of its own (not pooled).
    fn clone(&self) -> Self {
        self.data.clone().into()
    }
}

impl Deref for FrameBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.data
    }
}

impl DerefMut for FrameBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }
}

impl Drop for FrameBuf {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.give_back(std::mem::take(&mut self.data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_reused_with_its_capacity() {
        let pool = BufferPool::default();
        let mut a = pool.take();
        a.resize(1_000_000, 7);
        let ptr = a.as_ptr();
        drop(a);
        assert_eq!(pool.spare(), 1);
        let b = pool.take();
        assert!(b.is_empty() && b.capacity() >= 1_000_000);
        assert_eq!(b.as_ptr(), ptr, "the same memory");
    }

    #[test]
    fn the_pool_keeps_only_a_few() {
        let pool = BufferPool::default();
        let held: Vec<FrameBuf> = (0..20).map(|_| pool.take()).collect();
        drop(held);
        assert_eq!(pool.spare(), KEEP);
    }
}
