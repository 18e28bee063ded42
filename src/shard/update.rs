//! The update hot paths: one add (or one histogram observation) in this
//! thread's slot.
//!
//! The hot path is TLS -> slot -> chunk -> cell with one test: whether the
//! chunk holding the series' first cell exists in this thread's slot. The
//! unbound sentinel, a slot's first touch of a chunk, and indices without
//! cells or of an unallocated block (chunk 0 is never allocated) all fail it
//! and go to the cold path, which binds a slot, allocates the block or drops
//! the update.
//!
//! Invariant: every cell an update touches through one chunk lies in that
//! chunk; the allocator keeps blocks of at most a chunk inside one, and a
//! straddling histogram series takes the per-cell slow path.

use super::binding::{current, slow_slot};
use super::cells::Cells;
use super::slot::Slot;
use super::{CHUNK_CELLS, CHUNK_MASK, FIRST_CELL};
use crate::sync::{AtomicU64, Ordering};

/// A plain add: `cell` is in this thread's exclusive slot, whose only writer
/// is this thread.
#[inline]
fn plain_add_u64(cell: &AtomicU64, n: u64) {
    // Relaxed: readers only need each cell's own modification order
    // (coherence), see the module docs.
    cell.store(
        cell.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

/// A plain float add, as [`plain_add_u64`].
#[inline]
fn plain_add_f64(cell: &AtomicU64, v: f64) {
    // Relaxed: as in `plain_add_u64`.
    let old = f64::from_bits(cell.load(Ordering::Relaxed));
    cell.store((old + v).to_bits(), Ordering::Relaxed);
}

/// The first cell of `cells`, allocating the block if `index` (read from it)
/// is not an allocated index; a resolved `index` is returned as it is when
/// valid, `None` for a metric without cells.
#[inline]
fn resolve(index: u32, cells: Option<&Cells>) -> Option<u32> {
    match cells {
        // With `cells`, an index below FIRST_CELL is the value read from them
        // (0 or FAILED) plus an offset into the block (see `Cells::series`).
        // FAILED never changes, so if the block has an index now, the value
        // read was 0 and `index` is the offset.
        Some(cells) if index < FIRST_CELL => cells.index().map(|first| first + index),
        _ => (index >= FIRST_CELL).then_some(index),
    }
}

/// Adds `n` to cell `index` of this thread's slot, wrapping at 2^64.
///
/// `index` below [`FIRST_CELL`] means no cells: with `cells`, whose first
/// cell `index` was read from, the block is allocated now; without, the update
/// is dropped (the metric got no cells).
#[inline]
pub(crate) fn add_u64(index: u32, n: u64, cells: Option<&Cells>) {
    update(index, 0, n, cells, plain_add_u64, Slot::add_u64)
}

/// Adds `v` to the `f64` cell `index` of this thread's slot; `index` and
/// `cells` as in [`add_u64`].
#[inline]
pub(crate) fn add_f64(index: u32, v: f64, cells: Option<&Cells>) {
    update(index, 0, v, cells, plain_add_f64, Slot::add_f64)
}

/// One update of cell `first + at` in this thread's slot: `fast` on the hot
/// path, `slow` (which picks plain or atomic writes) after the slot or block
/// is bound. Both are known at each (inlined) call site.
///
/// The chunk is looked up through `first`, so `first + at` must lie in
/// `first`'s chunk: `at` is 0 for a resolved index, or the offset of a series
/// into a lazy block, which is shorter than a chunk and which the allocator
/// keeps inside one ([`Shards::alloc_cells`](super::Shards::alloc_cells)). The lookup then does not wait
/// for the label arithmetic that made `at`.
#[inline]
fn update<V>(
    first: u32,
    at: u32,
    v: V,
    cells: Option<&Cells>,
    fast: fn(&AtomicU64, V),
    slow: fn(&Slot, u32, V),
) {
    let index = first.wrapping_add(at);
    // The hot path: TLS → slot → chunk → cell. The sentinel, a slot's first
    // touch of a chunk and indices without cells or of an unallocated block
    // (chunk 0 is never allocated) all fail the one chunk test.
    match current().chunk(first) {
        Some(chunk) => fast(&chunk[index as usize & CHUNK_MASK], v),
        None => update_slow(index, v, cells, slow),
    }
}

#[cold]
#[inline(never)]
fn update_slow<V>(index: u32, v: V, cells: Option<&Cells>, slow: fn(&Slot, u32, V)) {
    if let Some(index) = resolve(index, cells) {
        slow(slow_slot(), index, v);
    }
}

/// One histogram observation in this thread's slot: adds one to cell
/// `base + bucket` and `v` to the `f64` cell `base + sum`, where
/// `bucket <= sum`. `base` and `cells` as `index` and `cells` in [`add_u64`].
///
/// `contained` says that the caller knows the series to be a whole block of
/// at most [`CHUNK_CELLS`] cells, which the allocator keeps inside one chunk;
/// otherwise the series is checked for straddling chunks.
#[inline]
pub(crate) fn observe(
    base: u32,
    bucket: u32,
    sum: u32,
    v: f64,
    contained: bool,
    cells: Option<&Cells>,
) {
    let sum_index = base.wrapping_add(sum);
    // One chunk serves both cells when the series does not straddle chunks:
    // `base` and the sum share a chunk, and the bucket lies between them.
    // The chunk is looked up through `base`, so that an index without cells
    // (below FIRST_CELL, in chunk 0) always fails the chunk test.
    if contained || (base ^ sum_index) < CHUNK_CELLS as u32 {
        if let Some(chunk) = current().chunk(base) {
            let bucket_index = base.wrapping_add(bucket);
            plain_add_u64(&chunk[bucket_index as usize & CHUNK_MASK], 1);
            plain_add_f64(&chunk[sum_index as usize & CHUNK_MASK], v);
            return;
        }
    }
    observe_slow(base, bucket, sum, v, cells)
}

#[cold]
#[inline(never)]
fn observe_slow(base: u32, bucket: u32, sum: u32, v: f64, cells: Option<&Cells>) {
    if let Some(base) = resolve(base, cells) {
        let slot = slow_slot();
        slot.add_u64(base + bucket, 1);
        slot.add_f64(base + sum, v);
    }
}

/// One series' first cell as the update paths take it: either a block and an
/// offset into it, whose index is read from the block at each update (so a
/// handle made before its block is allocated takes the hot path once anything
/// allocates the block), or a resolved index with the word that says whether
/// it is still the series' (its check). Made by [`Cells::series`] or
/// [`Series::checked`].
///
/// A checked series is how a handle stays honest when its series can go
/// away: a family's series carries a generation that removal changes (see
/// `family/table.rs`), and a handle made for one generation drops its updates
/// once the word differs, before touching a cell, so it never writes into
/// cells that another series reuses. For a static metric the word is its
/// block's index, which never changes once allocated.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Series<'a> {
    /// Checked: the index (below [`FIRST_CELL`]: no cells). Lazy: the offset
    /// into the block, which is shorter than a chunk
    /// ([`lazy_fits`](super::lazy_fits); the updates rely on it, see [`update`]).
    pub(super) at: u32,
    /// Checked: what the word held when the handle was made.
    expect: u64,
    pub(super) src: Src<'a>,
}

/// Where a [`Series`] comes from.
#[derive(Clone, Copy)]
pub(super) enum Src<'a> {
    /// A block allocated on first use; the index is read at each update.
    Lazy(&'a Cells),
    /// A resolved index, valid while this word holds the series' `expect`.
    Checked(&'a AtomicU64),
}

impl<'a> Series<'a> {
    /// A series at the resolved index `at`, whose updates go through while
    /// `word` holds `expect` and are dropped from the moment it does not.
    #[inline]
    pub(crate) fn checked(at: u32, word: &'a AtomicU64, expect: u64) -> Self {
        Self {
            at,
            expect,
            src: Src::Checked(word),
        }
    }

    /// A lazy series (see [`Cells::series`]).
    #[inline]
    pub(super) fn lazy(offset: u32, cells: &'a Cells) -> Self {
        Self {
            at: offset,
            expect: 0,
            src: Src::Lazy(cells),
        }
    }

    /// Whether a checked series is still the one the handle was made for
    /// (always, for a lazy one).
    #[inline]
    pub(crate) fn live(self) -> bool {
        match self.src {
            Src::Lazy(_) => true,
            // Relaxed: a stale read only delays the moment from which
            // updates are dropped; the cells of a removed series stay out of
            // reuse long enough for an update already past this check (see
            // `Shards::free_cells`).
            Src::Checked(word) => word.load(Ordering::Relaxed) == self.expect,
        }
    }

    /// A checked series' word and expected value (`None` when lazy).
    pub(crate) fn check(self) -> Option<(&'a AtomicU64, u64)> {
        match self.src {
            Src::Lazy(_) => None,
            Src::Checked(word) => Some((word, self.expect)),
        }
    }

    /// The index the update paths take: below [`FIRST_CELL`] (in the
    /// never-allocated chunk 0) while the block is not allocated, so that
    /// their chunk test fails and the slow path allocates it (see
    /// [`Cells::series`]).
    #[inline]
    pub(crate) fn hot_index(self) -> u32 {
        match self.src {
            // No overflow: an allocated block ends below MAX_CELLS, and an
            // unallocated one's stored value is 0 or FAILED.
            Src::Lazy(cells) => cells.raw() + self.at,
            Src::Checked(_) => self.at,
        }
    }

    /// Adds `n` to this thread's cell, wrapping at 2^64 (see [`add_u64`]).
    #[inline]
    pub(crate) fn add_u64(self, n: u64) {
        // Two calls rather than one on a selected (first, offset): with
        // the source unknown (a kept handle) the select costs two
        // instructions.
        match self.src {
            Src::Lazy(cells) => update(
                cells.raw(),
                self.at,
                n,
                Some(cells),
                plain_add_u64,
                Slot::add_u64,
            ),
            Src::Checked(word) => {
                if word.load(Ordering::Relaxed) == self.expect {
                    update(self.at, 0, n, None, plain_add_u64, Slot::add_u64)
                }
            }
        }
    }

    /// Adds `v` to this thread's `f64` cell (see [`add_f64`]).
    #[inline]
    pub(crate) fn add_f64(self, v: f64) {
        // Two calls, as in `add_u64`.
        match self.src {
            Src::Lazy(cells) => update(
                cells.raw(),
                self.at,
                v,
                Some(cells),
                plain_add_f64,
                Slot::add_f64,
            ),
            Src::Checked(word) => {
                if word.load(Ordering::Relaxed) == self.expect {
                    update(self.at, 0, v, None, plain_add_f64, Slot::add_f64)
                }
            }
        }
    }

    /// One histogram observation (see [`observe`]): `bucket <= sum` are
    /// offsets from the series' first cell.
    #[inline]
    pub(crate) fn observe(self, bucket: u32, sum: u32, v: f64) {
        match self.src {
            Src::Lazy(cells) => observe(cells.raw() + self.at, bucket, sum, v, false, Some(cells)),
            Src::Checked(word) => {
                if word.load(Ordering::Relaxed) == self.expect {
                    observe(self.at, bucket, sum, v, false, None)
                }
            }
        }
    }

    /// The cell index, allocating the block on first use; `None` if the
    /// metric has no cells or the series is gone.
    pub(crate) fn index(self) -> Option<u32> {
        match self.src {
            Src::Lazy(cells) => resolve(self.hot_index(), Some(cells)),
            Src::Checked(_) => self.allocated(),
        }
    }

    /// The cell index if the block is allocated and the series not gone
    /// (readers never allocate).
    pub(crate) fn allocated(self) -> Option<u32> {
        match self.src {
            Src::Lazy(cells) => cells.allocated().map(|first| first + self.at),
            Src::Checked(_) => (self.live() && self.at >= FIRST_CELL).then_some(self.at),
        }
    }
}

impl std::fmt::Debug for Series<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("index", &self.allocated())
            .finish()
    }
}
