//! A metric's block of cells, allocated on first use so that a metric can
//! be a `static` built by a `const fn`.
//!
//! Invariants: the stored index goes from 0 (not allocated) to either
//! [`FAILED`] or a block's first index, once, under the table's first-touch
//! lock, and is published with Release (paired with the Acquire in
//! [`Cells::raw`]), so a thread that sees the index also sees the block's
//! cells zeroed; the block is freed only when the `Cells` is dropped, when no
//! handle to it remains.

use super::table::global_shards;
use super::update::Series;
use super::{CHUNK_CELLS, FIRST_CELL};
use crate::sync::{loom_const_fn, AtomicU64, Ordering};

/// Marks a [`Cells`] block whose allocation failed for good (below
/// [`FIRST_CELL`], like "not allocated yet", 0).
pub(super) const FAILED: u32 = 1;

/// Whether a block of `len` cells can hand out lazy series (see
/// [`Cells::series`]): its unallocated index plus any offset stays in chunk 0.
pub(crate) const fn lazy_fits(len: usize) -> bool {
    len < CHUNK_CELLS
}

/// A metric's block of cells in the global shard table, allocated on first
/// use so that it can live in a `static` built by a `const fn`.
///
/// `#[repr(C)]` with `index` first: a [`Series`] points to the index as
/// its word and reaches the `Cells` through the same pointer.
#[repr(C)]
pub(crate) struct Cells {
    /// 0: not yet allocated; FAILED: the table is full; else (at least
    /// [`FIRST_CELL`]) the first index.
    /// A `u64` so that it can be the word a resolved [`Series`] is checked
    /// against (as a family's series' generation and index are).
    pub(super) index: AtomicU64,
    len: u32,
}

impl Cells {
    loom_const_fn! {
        /// A block of `len` cells, allocated on first use.
        pub(crate) const fn new(len: u32) -> Self {
            Self { index: AtomicU64::new(0), len }
        }
    }

    /// The first cell index, allocating the block on first use; `None` only
    /// if the shard table is out of cells.
    #[inline]
    pub(crate) fn index(&self) -> Option<u32> {
        let i = self.raw();
        if i >= FIRST_CELL {
            Some(i)
        } else {
            self.alloc_slow()
        }
    }

    /// The series `offset` cells into the block: each update adds the offset
    /// to the index it reads from the block (see [`Series`]). With `lazy` (a
    /// compile-time [`lazy_fits`] of the block's length) there is no
    /// allocation test: while the block is unallocated (0 or FAILED) the sum
    /// lies in chunk 0, which no slot ever allocates, so the update's chunk
    /// test fails and its slow path allocates the block; once allocated,
    /// every handle, however old, takes the hot path. A longer block is
    /// allocated now, since an offset into it may lie past chunk 0.
    #[inline]
    pub(crate) fn series(&self, offset: u32, lazy: bool) -> Series<'_> {
        if lazy {
            debug_assert!(lazy_fits(self.len as usize) && offset < self.len.max(1));
        } else if self.index().is_none() {
            // No cells: a series at offset 0 of this FAILED block, in chunk
            // 0, whose updates the slow path drops.
            return Series::lazy(0, self);
        }
        Series::lazy(offset, self)
    }

    /// The series `offset` cells into the block, allocating the block now
    /// (see [`series`](Self::series)).
    #[inline]
    pub(crate) fn resolved(&self, offset: u32) -> Series<'_> {
        self.series(offset, false)
    }

    /// The first cell index as stored: below [`FIRST_CELL`] while the block
    /// is not allocated (or could not be). For the hot paths, which hand such
    /// an index and `self` to [`add_u64`](super::add_u64) and friends: their chunk test fails
    /// on it, and their slow path allocates.
    #[inline]
    pub(crate) fn raw(&self) -> u32 {
        // Acquire pairs with the Release in `alloc_slow`: a block reused after
        // `free_cells` is seen zeroed.
        self.index.load(Ordering::Acquire) as u32
    }

    /// The first cell index if the block was ever allocated (readers).
    #[inline]
    pub(crate) fn allocated(&self) -> Option<u32> {
        let i = self.raw();
        (i >= FIRST_CELL).then_some(i)
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&self) -> Option<u32> {
        if self.raw() == FAILED {
            return None;
        }
        // Serialise first touches of this block through the allocator lock so
        // that two threads racing here allocate once.
        let shards = global_shards();
        let start = {
            let _guard = shards.first_touch();
            match self.raw() {
                0 => {}
                FAILED => return None,
                i => return Some(i),
            }
            let start = shards.alloc_cells(self.len.max(1)).unwrap_or(FAILED);
            self.index.store(start.into(), Ordering::Release);
            start
        };
        (start != FAILED).then_some(start)
    }
}

impl Drop for Cells {
    fn drop(&mut self) {
        if let Some(start) = self.allocated() {
            global_shards().free_cells(start, self.len.max(1));
        }
    }
}
