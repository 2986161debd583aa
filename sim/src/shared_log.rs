//! An append-only list whose clones share everything but the newest entries.
//!
//! The lab snapshots a run every few hundred steps (`Clone`), and a step back clones a snapshot
//! again; a history that grows with the run (every send, acknowledgment and poll) would make
//! both cost time and memory in proportion to the run's length. Here full chunks of
//! [`CHUNK`] entries are frozen behind an `Arc` and shared by every clone; only the open tail
//! is copied.

use serde::{Serialize, Serializer};
use std::sync::Arc;

/// Entries per frozen chunk.
pub const CHUNK: usize = 1024;

#[derive(Debug)]
pub struct SharedLog<T> {
    chunks: Vec<Arc<[T]>>,
    tail: Vec<T>,
}

impl<T> Default for SharedLog<T> {
    fn default() -> Self {
        SharedLog {
            chunks: Vec::new(),
            tail: Vec::new(),
        }
    }
}

impl<T: Clone> Clone for SharedLog<T> {
    fn clone(&self) -> Self {
        SharedLog {
            chunks: self.chunks.clone(),
            tail: self.tail.clone(),
        }
    }
}

impl<T> SharedLog<T> {
    pub fn push(&mut self, value: T) {
        self.tail.push(value);
        if self.tail.len() == CHUNK {
            let full = std::mem::replace(&mut self.tail, Vec::with_capacity(CHUNK));
            self.chunks.push(Arc::from(full));
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.len() * CHUNK + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks
            .iter()
            .flat_map(|c| c.iter())
            .chain(self.tail.iter())
    }
}

impl<'a, T> IntoIterator for &'a SharedLog<T> {
    type Item = &'a T;
    type IntoIter = Box<dyn DoubleEndedIterator<Item = &'a T> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<T: Serialize> Serialize for SharedLog<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_frozen_chunks_and_diverge_in_their_tails() {
        let mut a = SharedLog::default();
        for i in 0..(2 * CHUNK + 5) {
            a.push(i);
        }
        let mut b = a.clone();
        assert!(
            Arc::ptr_eq(&a.chunks[1], &b.chunks[1]),
            "frozen chunks are shared"
        );
        b.push(usize::MAX);
        a.push(7);
        assert_eq!(a.len(), 2 * CHUNK + 6);
        assert_eq!(a.iter().copied().collect::<Vec<_>>()[..3], [0, 1, 2]);
        assert_eq!(a.iter().next_back(), Some(&7));
        assert_eq!(b.iter().next_back(), Some(&usize::MAX));
        assert_eq!((&a).into_iter().count(), a.len());
        assert!(SharedLog::<u8>::default().is_empty());
    }
}
