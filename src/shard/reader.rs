//! A scrape's reader: sums of many cells in a row over the written slots.
//!
//! Invariant: every cell is read after the reader took its list of chunks,
//! and a chunk or slot that appeared since reads as zero (as it was when the
//! list was taken), so a later reader never sees a smaller counter.

use super::slot::Chunk;
use super::table::Shards;
use super::{CHUNK_MASK, CHUNK_SHIFT};
use crate::sync::Ordering;

/// The most chunks a [`Reader`] keeps (one per written slot that has the
/// chunk); the written slots past them are read through the table, each
/// with its chunk test, like [`Shards::sum_u64`] does. 128 (1 KiB on the
/// scrape's stack) covers every slot of a table sized for up to 99 cores (see
/// [`Shards::counts_for`]). Miri keeps 8, so that its test of the tail
/// allocates a few slots rather than a hundred.
pub(super) const READER_CHUNKS: usize = if cfg!(miri) { 8 } else { 128 };

/// Sums cells over the written slots like [`Shards::sum_u64`] and
/// [`Shards::sum_f64`], for many cells in a row: it keeps the chunks of one
/// chunk index that exist in the written slots, in slot order, so a cell of
/// that chunk costs one load per such slot, with no walk over the slot table
/// and no chunk test per slot. A family's cells are allocated in order, so
/// its series mostly share a chunk.
///
/// The written slots and their chunks are read when the chunk index changes.
/// A slot first written, or a chunk first installed, after that counts as
/// zero for the cells read from the kept list: those cells read as they were
/// when the list was taken (they did not exist yet, so zero), the others as
/// they are when read. Every cell is still read after the list was taken, so
/// a later reader never sees a smaller counter (the module docs' argument).
pub(crate) struct Reader<'a> {
    shards: &'a Shards,
    /// The chunk index kept (`index >> CHUNK_SHIFT`); `usize::MAX`: none yet.
    chunk: usize,
    /// How many written slots have the chunk; `chunks` keeps the first
    /// [`READER_CHUNKS`] of them.
    n: usize,
    /// With more than that: the table position of the first slot not kept;
    /// the sums read it and every written slot after it through the table.
    tail: usize,
    chunks: [Option<&'a Chunk>; READER_CHUNKS],
}

impl<'a> Reader<'a> {
    /// A reader of `shards` that keeps no chunk yet.
    pub(super) fn new(shards: &'a Shards) -> Self {
        Self {
            shards,
            chunk: usize::MAX,
            n: 0,
            tail: 0,
            chunks: [None; READER_CHUNKS],
        }
    }

    /// The kept chunks for cell `index`; `None` if the written slots that
    /// have the chunk are more than `chunks` keeps (see `tail`).
    #[inline]
    fn chunks(&mut self, index: u32) -> Option<&[Option<&'a Chunk>]> {
        let chunk = index as usize >> CHUNK_SHIFT;
        if chunk != self.chunk {
            self.fill(chunk);
        }
        self.chunks.get(..self.n)
    }

    #[cold]
    #[inline(never)]
    fn fill(&mut self, chunk: usize) {
        let index = (chunk << CHUNK_SHIFT) as u32;
        let mut n = 0;
        let mut tail = 0;
        let chunks = &mut self.chunks;
        self.shards.for_each_written_from(0, |at, s| {
            if let Some(c) = s.chunk(index) {
                match chunks.get_mut(n) {
                    Some(kept) => *kept = Some(c),
                    None if n == READER_CHUNKS => tail = at,
                    None => {}
                }
                n += 1;
            }
        });
        self.chunk = chunk;
        self.n = n;
        self.tail = tail;
    }

    /// Sum of cell `index` over all written slots, wrapping at 2^64.
    #[inline]
    pub(crate) fn sum_u64(&mut self, index: u32) -> u64 {
        match self.chunks(index) {
            Some(chunks) => kept_sum_u64(chunks, index),
            None => self.sum_u64_past_kept(index),
        }
    }

    /// [`sum_u64`](Self::sum_u64) with more slots than the reader keeps: the
    /// kept chunks, then every written slot from `tail` through the table.
    // Not `#[cold]`: on a machine with that many slots it is the path of
    // every series.
    #[inline(never)]
    fn sum_u64_past_kept(&self, index: u32) -> u64 {
        let kept = kept_sum_u64(&self.chunks, index);
        self.shards.sum_u64_from(self.tail, index, kept)
    }

    /// Sum of the `f64` cell `index` over all written slots, in slot order.
    #[inline]
    pub(crate) fn sum_f64(&mut self, index: u32) -> f64 {
        match self.chunks(index) {
            Some(chunks) => kept_sum_f64(chunks, index),
            None => self.sum_f64_past_kept(index),
        }
    }

    /// [`sum_f64`](Self::sum_f64) past the kept chunks, in slot order.
    // Not `#[cold]`, as above.
    #[inline(never)]
    fn sum_f64_past_kept(&self, index: u32) -> f64 {
        let kept = kept_sum_f64(&self.chunks, index);
        self.shards.sum_f64_from(self.tail, index, kept)
    }
}

/// Cell `index` summed over `chunks` (all of one chunk index), wrapping.
#[inline]
fn kept_sum_u64(chunks: &[Option<&Chunk>], index: u32) -> u64 {
    let at = index as usize & CHUNK_MASK;
    let mut sum = 0u64;
    for c in chunks.iter().flatten() {
        // Relaxed, as in `Slot::load`: a scrape promises no more than each
        // cell's own coherence order.
        sum = sum.wrapping_add(c[at].load(Ordering::Relaxed));
    }
    sum
}

/// The `f64` cell `index` summed over `chunks`, in their order.
#[inline]
fn kept_sum_f64(chunks: &[Option<&Chunk>], index: u32) -> f64 {
    let at = index as usize & CHUNK_MASK;
    let mut sum = 0.0f64;
    for c in chunks.iter().flatten() {
        // Relaxed, as in `Shards::sum_f64`.
        sum += f64::from_bits(c[at].load(Ordering::Relaxed));
    }
    sum
}
