//! Which cell indices a new block of cells gets.
//!
//! Invariants: indices start at [`FIRST_CELL`] (those below are the "no
//! cells" states of [`Cells`](super::Cells)) and end at or below
//! [`MAX_CELLS`]; a block of at most [`CHUNK_CELLS`] cells never straddles two
//! chunks, so an update touching several cells of one series (a histogram's
//! bucket and sum) finds them all through one chunk pointer. The caller
//! serialises calls (the table's mutex) and zeroes freed cells before freeing.

use super::{CHUNK_CELLS, CHUNK_MASK, FIRST_CELL, MAX_CELLS};

/// The cell allocator's state.
pub(super) struct CellAlloc {
    next: u32,
    /// Freed blocks `(start, len)`, reused for requests of the same length.
    free: Vec<(u32, u32)>,
}

impl CellAlloc {
    /// Nothing handed out yet.
    pub(super) const fn new() -> Self {
        Self {
            next: FIRST_CELL,
            free: Vec::new(),
        }
    }

    /// The first of `len` consecutive free cells; `None` when the index space
    /// is exhausted.
    pub(super) fn alloc(&mut self, len: u32) -> Option<u32> {
        if let Some(pos) = self.free.iter().position(|&(_, l)| l == len) {
            return Some(self.free.swap_remove(pos).0);
        }
        let mut start = self.next;
        let room = CHUNK_CELLS as u32 - (start & CHUNK_MASK as u32);
        if len <= CHUNK_CELLS as u32 && len > room {
            // Start the block on the next chunk rather than straddle.
            start += room;
        }
        let end = start.checked_add(len)?;
        if end > MAX_CELLS {
            return None;
        }
        if start != self.next {
            // The skipped tail of the chunk serves a later request of its
            // exact length, like a freed block (it lies in one chunk too).
            let gap = (self.next, start - self.next);
            self.free.push(gap);
        }
        self.next = end;
        Some(start)
    }

    /// Makes cells `start..start + len` reusable (already zeroed).
    pub(super) fn free(&mut self, start: u32, len: u32) {
        self.free.push((start, len));
    }
}
