//! Which cell indices a new block of cells gets.
//!
//! Invariants:
//! - indices start at [`FIRST_CELL`] (those below are the "no cells" states
//!   of [`Cells`](super::Cells)) and end at or below [`MAX_CELLS`];
//! - a block of at most [`CHUNK_CELLS`] cells never straddles two chunks, so
//!   an update touching several cells of one series (a histogram's bucket and
//!   sum) finds them all through one chunk pointer;
//! - the free blocks are sorted, never overlap a live block or each other,
//!   are coalesced with their free neighbours, and none ends at `next` (such
//!   a block is given back to the untouched region instead), so freeing every
//!   block returns the allocator to its initial state and churn of blocks of
//!   any mix of lengths cannot exhaust the index space while the live blocks
//!   fit in it with their chunk padding.
//!
//! The caller serialises calls (the table's mutex) and zeroes a block's cells
//! in every slot before freeing it, so every free cell and every cell at or
//! past `next` is zero in every slot.

use super::{CHUNK_CELLS, CHUNK_MASK, FIRST_CELL, MAX_CELLS};

/// The cell allocator's state.
pub(super) struct CellAlloc {
    /// The first cell of the untouched region `next..MAX_CELLS`.
    next: u32,
    /// Free blocks `(start, len)` below `next`, sorted by start (see the
    /// module docs).
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

    /// The first of `len` consecutive free cells (`len` at least 1); `None`
    /// when no free block and not the untouched region can hold them.
    ///
    /// First fit over the free blocks, then the untouched region: allocation
    /// is the slow path of a metric's or series' first touch, and the free
    /// list holds at most one block per gap between live blocks.
    pub(super) fn alloc(&mut self, len: u32) -> Option<u32> {
        debug_assert!(len >= 1);
        for k in 0..self.free.len() {
            let (s, l) = self.free[k];
            if let Some(start) = place(s, s + l, len) {
                self.take(k, start, len);
                return Some(start);
            }
        }
        let start = place(self.next, MAX_CELLS, len)?;
        if start != self.next {
            // The skipped tail of the chunk is free; it cannot touch a free
            // block (none ends at `next`).
            self.free.push((self.next, start - self.next));
        }
        self.next = start + len;
        Some(start)
    }

    /// Makes cells `start..start + len` reusable (already zeroed, and handed
    /// out by [`alloc`](Self::alloc) with this length).
    pub(super) fn free(&mut self, start: u32, len: u32) {
        let k = self.free.partition_point(|&(s, _)| s < start);
        let (mut start, mut end) = (start, start + len);
        // Coalesce with the free neighbours on either side.
        let mut from = k;
        if let Some(&(s, l)) = k.checked_sub(1).and_then(|p| self.free.get(p)) {
            if s + l == start {
                start = s;
                from = k - 1;
            }
        }
        let mut to = k;
        if let Some(&(s, l)) = self.free.get(k) {
            if s == end {
                end = s + l;
                to = k + 1;
            }
        }
        if end == self.next {
            // The block borders the untouched region: it joins it.
            self.free.drain(from..to);
            self.next = start;
        } else {
            self.free
                .splice(from..to, std::iter::once((start, end - start)));
        }
    }

    /// Takes `start..start + len` out of free block `k`, keeping what is left
    /// on either side.
    fn take(&mut self, k: usize, start: u32, len: u32) {
        let (s, l) = self.free[k];
        let (before, after) = ((s, start - s), (start + len, s + l - start - len));
        let kept = [before, after].into_iter().filter(|&(_, l)| l > 0);
        self.free.splice(k..=k, kept);
    }
}

/// Where a block of `len` cells starts inside `from..to`: at `from`, or, for
/// a block of at most a chunk that would straddle two chunks there, at the
/// next chunk's first cell; `None` if it does not fit.
fn place(from: u32, to: u32, len: u32) -> Option<u32> {
    let mut start = from;
    let room = CHUNK_CELLS as u32 - (start & CHUNK_MASK as u32);
    if len <= CHUNK_CELLS as u32 && len > room {
        start = start.checked_add(room)?;
    }
    (start.checked_add(len)? <= to).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: u32 = CHUNK_CELLS as u32;

    /// Checks the module's invariants for the live blocks `live`.
    fn check(a: &CellAlloc, live: &[(u32, u32)]) {
        let mut all: Vec<(u32, u32, bool)> = live.iter().map(|&(s, l)| (s, l, true)).collect();
        all.extend(a.free.iter().map(|&(s, l)| (s, l, false)));
        all.sort_unstable();
        for w in all.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "overlap: {w:?}");
        }
        for &(s, l, _) in &all {
            assert!(s >= FIRST_CELL && s + l <= a.next, "{s}+{l} outside");
        }
        for &(s, l) in live {
            if l <= CHUNK {
                assert_eq!(s / CHUNK, (s + l - 1) / CHUNK, "{s}+{l} straddles");
            }
        }
        for w in a.free.windows(2) {
            assert!(w[0].0 + w[0].1 < w[1].0, "not coalesced: {w:?}");
        }
        if let Some(&(s, l)) = a.free.last() {
            assert!(s + l < a.next, "a free block ends at next");
        }
    }

    #[test]
    fn a_freed_block_serves_other_lengths() {
        let mut a = CellAlloc::new();
        let x = a.alloc(6).unwrap();
        let keep = a.alloc(1).unwrap();
        a.free(x, 6);
        assert_eq!(a.alloc(2), Some(x), "a shorter block reuses it");
        assert_eq!(a.alloc(4), Some(x + 2), "and the rest of it");
        check(&a, &[(x, 2), (x + 2, 4), (keep, 1)]);
    }

    #[test]
    fn neighbours_coalesce_and_the_end_returns_to_the_untouched_region() {
        let mut a = CellAlloc::new();
        let b: Vec<u32> = (0..4).map(|_| a.alloc(3).unwrap()).collect();
        a.free(b[0], 3);
        a.free(b[2], 3);
        a.free(b[1], 3);
        assert_eq!(a.free, vec![(b[0], 9)], "three blocks became one");
        assert_eq!(a.alloc(9), Some(b[0]), "a longer block fits in it");
        a.free(b[0], 9);
        a.free(b[3], 3);
        assert!(a.free.is_empty());
        assert_eq!(a.next, FIRST_CELL, "everything freed: back to the start");
    }

    #[test]
    fn the_skipped_tail_of_a_chunk_is_reused() {
        let mut a = CellAlloc::new();
        let x = a.alloc(CHUNK - 1).unwrap();
        assert_eq!(x, FIRST_CELL, "chunk 0 is reserved");
        let y = a.alloc(2).unwrap();
        assert_eq!(y, x + CHUNK, "moved to the next chunk");
        assert_eq!(a.alloc(1), Some(x + CHUNK - 1), "the skipped cell");
        let z = a.alloc(CHUNK + 1).unwrap();
        assert_eq!(z, y + 2, "a block longer than a chunk is not moved");
    }

    #[test]
    fn exhaustion_is_none_and_recovers() {
        let mut a = CellAlloc::new();
        assert!(a.alloc(MAX_CELLS).is_none());
        assert!(a.alloc(u32::MAX).is_none());
        let all = a.alloc(MAX_CELLS - FIRST_CELL).unwrap();
        assert!(a.alloc(1).is_none());
        a.free(all, MAX_CELLS - FIRST_CELL);
        assert_eq!(a.alloc(1), Some(FIRST_CELL));
    }

    /// Churn of blocks of mixed lengths (a counter's 1 cell up to a
    /// histogram's 14 and a block longer than a chunk), in a pseudo-random
    /// order: every allocation succeeds while few blocks are live, the
    /// invariants hold throughout, and freeing the rest leaves nothing.
    #[test]
    fn churn_of_mixed_lengths_never_exhausts() {
        let mut a = CellAlloc::new();
        let mut live: Vec<(u32, u32)> = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Under Miri the index space is 4 Ki cells: fewer live blocks.
        let (rounds, most) = if cfg!(miri) { (300, 8) } else { (200_000, 64) };
        let lengths = [1, 2, 3, 5, 7, 14, CHUNK - 1, CHUNK, CHUNK + 3];
        for round in 0..rounds {
            let r = rand();
            if live.len() < most && (r % 3 != 0 || live.is_empty()) {
                let len = lengths[(r >> 8) as usize % lengths.len()];
                let start = a
                    .alloc(len)
                    .unwrap_or_else(|| panic!("round {round}: no room"));
                live.push((start, len));
            } else {
                let (s, l) = live.swap_remove((r >> 8) as usize % live.len());
                a.free(s, l);
            }
            if round % 97 == 0 {
                check(&a, &live);
            }
        }
        check(&a, &live);
        for (s, l) in live.drain(..) {
            a.free(s, l);
        }
        assert!(a.free.is_empty());
        assert_eq!(a.next, FIRST_CELL);
    }
}
