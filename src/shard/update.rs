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
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::{CHUNK_CELLS, CHUNK_MASK, FIRST_CELL, MAX_CELLS};
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

/// Adds `n` to the cell `at` cells past `first`, the first index as read
/// from `cells`, a block of fewer than [`CHUNK_CELLS`] cells (so that an
/// unallocated index plus `at` stays in chunk 0, see
/// [`lazy_fits`](super::lazy_fits)); `at` is below the block's length.
/// What an update through the block's series `at` does, without a handle
/// to check: a block is never removed, so the chunk is found with a mask
/// (as [`add_u64`] finds it) rather than a bounds test.
#[inline]
pub(crate) fn add_u64_at(first: u32, at: u32, n: u64, cells: &Cells) {
    update(first, at, n, Some(cells), plain_add_u64, Slot::add_u64)
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

/// One series' first cell as the update paths take it, and a handle's whole
/// state: a word to read at each update and an amount to subtract from it.
///
/// The index an update writes is `word - sub` (wrapping, in 64 bits):
///
/// - for a metric's block of cells ([`Cells`], statics and compile-time
///   label sets) the word is the block's first index (0 while not
///   allocated) and `sub` minus the series' offset into the block, so a handle
///   made before its block is allocated takes the hot path once anything
///   allocates it: while unallocated the sum lies in chunk 0, which no slot
///   allocates, and the update's chunk test sends it to the slow path, which
///   allocates the block;
/// - for a family's series the word is its entry's word, its generation in
///   the high half and its first index in the low half (see
///   `family/table.rs`), and `sub` is that word's generation half, as the
///   lookup read it. While the entry holds the same generation the
///   difference is the index; once the series is removed (a new generation)
///   it is at least 2^32, past every chunk, and the update is dropped on the
///   slow path. So
///   the check that a handle's series is still there costs nothing the update
///   did not do anyway: the load and add are how a lazy series finds its
///   block, and the chunk lookup's bounds test catches both.
///
/// A generation never comes back (see `family/pool.rs`), so a handle from
/// before a removal never writes into the cells of a series that reuses
/// them.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Series<'a> {
    /// Subtracted from the word (see above).
    sub: u64,
    /// The word at the start of a [`Cells`] (its index) or of a family
    /// entry (its generation and index), with that whole value's
    /// provenance, so that the slow path can reach the `Cells`.
    word: NonNull<AtomicU64>,
    _life: PhantomData<&'a AtomicU64>,
}

// SAFETY: a `Series` is a shared reference to an atomic word (and to the
// `Cells` or family entry it starts) with the lifetime `'a`, plus a plain
// integer: as `&'a AtomicU64`, it can be sent and shared across threads.
unsafe impl Send for Series<'_> {}
// SAFETY: as for `Send`.
unsafe impl Sync for Series<'_> {}

/// The half of a family word that holds the generation.
const GENERATION: u64 = !(u32::MAX as u64);

impl<'a> Series<'a> {
    /// The series `offset` cells into `cells`' block.
    #[inline]
    pub(super) fn lazy(offset: u32, cells: &'a Cells) -> Self {
        Self {
            sub: u64::from(offset).wrapping_neg(),
            // `index` is the first field of the `#[repr(C)]` `Cells`.
            word: NonNull::from(cells).cast(),
            _life: PhantomData,
        }
    }

    /// The series of a family entry whose word, at `word`, read `read` when
    /// the lookup matched it.
    ///
    /// # Safety
    /// `word` points to the word at the start of a family entry, derived
    /// from the entry's pointer, and the entry stays allocated for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn family(word: NonNull<AtomicU64>, read: u64) -> Self {
        Self {
            sub: read & GENERATION,
            word,
            _life: PhantomData,
        }
    }

    /// The word.
    #[inline(always)]
    fn word(self) -> &'a AtomicU64 {
        // SAFETY: `word` points to a live atomic for 'a (see the
        // constructors).
        unsafe { self.word.as_ref() }
    }

    /// The index the update paths take (see the type's docs): below
    /// [`FIRST_CELL`] while a block is not allocated, at least 2^32 for a
    /// removed family series.
    #[inline(always)]
    pub(crate) fn hot_index(self) -> u64 {
        // Acquire pairs with the Release of the block's allocation
        // (`Cells::alloc_slow`), so a block reused after `free_cells` is
        // seen zeroed, and with a family entry's publication.
        self.word().load(Ordering::Acquire).wrapping_sub(self.sub)
    }

    /// Whether this is a family series (whose updates a removal can stop):
    /// its `sub` is a generation (at least 1) with nothing in the low half,
    /// a static's is 0 or minus an offset below 2^32.
    #[inline]
    pub(crate) fn is_family(self) -> bool {
        self.sub != 0 && self.sub & !GENERATION == 0
    }

    /// The `Cells` the word starts, for a series whose index is below
    /// [`FIRST_CELL`] (family series never have one).
    fn cells(self) -> &'a Cells {
        // Checked in every build: this is the slow path, and the cast below
        // is only sound for a static's series.
        assert!(
            !self.is_family(),
            "a family series reached a block's allocation"
        );
        // SAFETY: a series whose index is below FIRST_CELL is a static's
        // (a family series' index is its allocated index, the retired
        // index past every cell, or at least 2^32: see `family/table.rs`),
        // so `word` points to the start of a `Cells` (`lazy`), with its
        // provenance, live for 'a.
        unsafe { self.word.cast::<Cells>().as_ref() }
    }

    /// Adds `n` to this thread's cell, wrapping at 2^64 (see [`add_u64`]).
    #[inline]
    pub(crate) fn add_u64(self, n: u64) {
        self.update(n, plain_add_u64, Slot::add_u64)
    }

    /// Adds `v` to this thread's `f64` cell (see [`add_f64`]).
    #[inline]
    pub(crate) fn add_f64(self, v: f64) {
        self.update(v, plain_add_f64, Slot::add_f64)
    }

    /// One update (see [`update`]), with the chunk looked up through the
    /// whole index and its bounds tested: the test that drops a removed
    /// family series' updates.
    #[inline]
    fn update<V>(self, v: V, fast: fn(&AtomicU64, V), slow: fn(&Slot, u32, V)) {
        let index = self.hot_index();
        match current().chunk_checked(index) {
            Some(chunk) => fast(&chunk[index as usize & CHUNK_MASK], v),
            None => self.update_slow(index, v, slow),
        }
    }

    #[cold]
    #[inline(never)]
    fn update_slow<V>(self, index: u64, v: V, slow: fn(&Slot, u32, V)) {
        if let Some(index) = self.resolve(index) {
            slow(slow_slot(), index, v);
        }
    }

    /// The index an update at `index` (as [`hot_index`](Self::hot_index)
    /// read it) writes, allocating a static's block: `None` for a removed
    /// family series and a block that got no cells.
    fn resolve(self, index: u64) -> Option<u32> {
        if index < u64::from(FIRST_CELL) {
            // With a block, an index below FIRST_CELL is the value read (0 or
            // FAILED) plus the offset. FAILED never changes, so if the block
            // has an index now, the value read was 0 and the index is the
            // offset.
            self.cells().index().map(|first| first + index as u32)
        } else if index < u64::from(MAX_CELLS) {
            Some(index as u32)
        } else {
            None
        }
    }

    /// One histogram observation (see [`observe`]): `bucket <= sum` are
    /// offsets from the series' first cell.
    #[inline]
    pub(crate) fn observe(self, bucket: u32, sum: u32, v: f64) {
        let base = self.hot_index();
        let sum_index = base.wrapping_add(sum.into());
        // One chunk serves both cells when the series does not straddle
        // chunks (as in `observe`); the chunk's bounds test drops a removed
        // family series' observation.
        if (base ^ sum_index) < CHUNK_CELLS as u64 {
            if let Some(chunk) = current().chunk_checked(base) {
                let bucket_index = base.wrapping_add(bucket.into());
                plain_add_u64(&chunk[bucket_index as usize & CHUNK_MASK], 1);
                plain_add_f64(&chunk[sum_index as usize & CHUNK_MASK], v);
                return;
            }
        }
        self.observe_slow(base, bucket, sum, v)
    }

    #[cold]
    #[inline(never)]
    fn observe_slow(self, base: u64, bucket: u32, sum: u32, v: f64) {
        if let Some(base) = self.resolve(base) {
            let slot = slow_slot();
            slot.add_u64(base + bucket, 1);
            slot.add_f64(base + sum, v);
        }
    }

    /// The cell index, allocating a static's block on first use; `None` if
    /// the metric has no cells or the family series is gone.
    pub(crate) fn index(self) -> Option<u32> {
        self.resolve(self.hot_index())
    }

    /// The cell index if the block is allocated and the series not gone
    /// (readers never allocate).
    pub(crate) fn allocated(self) -> Option<u32> {
        let index = self.hot_index();
        (index >= u64::from(FIRST_CELL) && index < u64::from(MAX_CELLS)).then_some(index as u32)
    }
}

impl std::fmt::Debug for Series<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("index", &self.allocated())
            .finish()
    }
}
