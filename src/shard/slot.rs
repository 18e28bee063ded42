//! One slot: an arena of 64-bit cells in lazily installed chunks.
//!
//! Invariants:
//! - a chunk pointer goes from null to a zeroed chunk once (a Release CAS in
//!   `install`) and stays until `Slot::drop`, so a reference into a chunk
//!   lives as long as the `&Slot` it came from;
//! - an exclusive slot has one writer at a time, its leaseholder, which adds
//!   with a plain load and store; shared and home slots add with atomic RMWs;
//! - `pins` and `orphaned` are only touched by the leaseholder thread; the
//!   free-list mutex orders them before the next leaseholder's.

use std::ptr;

use super::table::global_shards;
use super::{CHUNK_CELLS, CHUNK_MASK, CHUNK_SHIFT, FIRST_CELL, MAX_CHUNKS};
use crate::sync::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, CachePadded, Ordering};

/// A chunk of a slot's arena: [`CHUNK_CELLS`] cells, 128-byte aligned.
pub(super) type Chunk = CachePadded<[AtomicU64; CHUNK_CELLS]>;

/// One slot: an arena of cells, written by one leaseholder or, for shared and
/// home slots, by anyone through atomic RMWs.
pub(crate) struct Slot {
    exclusive: bool,
    /// Live [`LocalCounter`](crate::LocalCounter)s in this exclusive slot
    /// (see [`Slot::pin`]). Only the leaseholder thread touches it.
    pins: AtomicUsize,
    /// The leaseholder's lease ended while the slot was pinned: the last
    /// unpin returns the slot.
    orphaned: AtomicBool,
    /// Inline (not boxed): the hot path is TLS → slot → chunk → cell, with no
    /// further indirection. 16 KiB per slot.
    chunks: [AtomicPtr<Chunk>; MAX_CHUNKS],
}

impl Slot {
    pub(super) fn new(exclusive: bool) -> Self {
        Self {
            exclusive,
            pins: AtomicUsize::new(0),
            orphaned: AtomicBool::new(false),
            chunks: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }
    }

    /// The sentinel a thread's slot pointer holds before the thread has an
    /// exclusive slot: every chunk is null, so the hot path's chunk test sends
    /// the first update to the binding code (see [`current`](super::binding::current)).
    #[cfg(not(nanometrics_loom))]
    pub(super) const fn unbound() -> Self {
        // A `const` item is the way to repeat a non-`Copy` value in an array
        // initialiser; each element is a fresh null pointer.
        #[allow(clippy::declare_interior_mutable_const)]
        const NULL: AtomicPtr<Chunk> = AtomicPtr::new(ptr::null_mut());
        Self {
            exclusive: false,
            pins: AtomicUsize::new(0),
            orphaned: AtomicBool::new(false),
            chunks: [NULL; MAX_CHUNKS],
        }
    }

    #[inline]
    fn entry(&self, index: u32) -> &AtomicPtr<Chunk> {
        // The mask keeps the index in bounds (the cell allocator never hands
        // out indices past MAX_CELLS), so this compiles without a bounds check.
        &self.chunks[(index as usize >> CHUNK_SHIFT) & (MAX_CHUNKS - 1)]
    }

    /// The cell `index` of this slot, allocating its chunk on first use.
    #[inline]
    pub(crate) fn cell(&self, index: u32) -> &AtomicU64 {
        debug_assert!(index >= FIRST_CELL, "chunk 0 is never allocated");
        let entry = self.entry(index);
        // Acquire pairs with the Release CAS in `install`, so the zeroed chunk
        // is visible before we touch its cells.
        let p = entry.load(Ordering::Acquire);
        let chunk = if p.is_null() {
            self.install(entry)
        } else {
            // SAFETY: a non-null entry points to a chunk leaked from a Box in
            // `install`; chunks are freed only in `Slot::drop`, which needs
            // `&mut self`, so the chunk outlives this `&self` borrow.
            unsafe { &*p }
        };
        &chunk[index as usize & CHUNK_MASK]
    }

    /// The chunk holding cell `index`, if it was ever allocated in this slot.
    #[inline]
    pub(super) fn chunk(&self, index: u32) -> Option<&Chunk> {
        // Acquire pairs with the Release CAS in `install` (see `cell`).
        let p = self.entry(index).load(Ordering::Acquire);
        if p.is_null() {
            None
        } else {
            // SAFETY: a non-null entry points to a chunk that `install` leaked
            // from a Box; only `Slot::drop` (`&mut self`) frees it.
            Some(unsafe { &*p })
        }
    }

    /// The chunk holding cell `index` of a [`Series`](super::Series), if
    /// `index` is below [`MAX_CELLS`](super::MAX_CELLS) and the chunk was
    /// ever allocated in this slot: the bounds test (rather than a mask) is
    /// what drops the updates of a removed family series, whose index is at
    /// least 2^32.
    #[inline]
    pub(super) fn chunk_checked(&self, index: u64) -> Option<&Chunk> {
        let entry = self.chunks.get((index >> CHUNK_SHIFT) as usize)?;
        // Acquire pairs with the Release CAS in `install` (see `cell`).
        let p = entry.load(Ordering::Acquire);
        if p.is_null() {
            None
        } else {
            // SAFETY: as in `chunk`.
            Some(unsafe { &*p })
        }
    }

    /// The cell `index` if its chunk exists (readers never allocate).
    #[inline]
    pub(crate) fn peek(&self, index: u32) -> Option<&AtomicU64> {
        self.chunk(index)
            .map(|chunk| &chunk[index as usize & CHUNK_MASK])
    }

    #[cold]
    fn install(&self, entry: &AtomicPtr<Chunk>) -> &Chunk {
        let fresh = Box::into_raw(Box::new(CachePadded::new(std::array::from_fn(|_| {
            AtomicU64::new(0)
        }))));
        // Release publishes the zeroed chunk to readers (`peek`, `cell`) and
        // to `Shards::free_cells`, which only ever peek; Acquire on failure
        // sees the winner's. A CAS rather than a store because shared and
        // home slots have several writers that may race to install.
        match entry.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: we just published `fresh`; it lives until `Slot::drop`.
            Ok(_) => unsafe { &*fresh },
            Err(current) => {
                // SAFETY: `fresh` came from Box::into_raw above and lost the
                // race, so nobody else has seen it.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: `current` is the winner's chunk, live until drop.
                unsafe { &*current }
            }
        }
    }

    /// Adds `n` to cell `index` (wrapping at 2^64).
    #[inline]
    pub(crate) fn add_u64(&self, index: u32, n: u64) {
        let cell = self.cell(index);
        if self.exclusive {
            // Single writer: no RMW needed. Relaxed: readers only need each
            // cell's own modification order (coherence), see module docs.
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        } else {
            cell.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds `v` to the `f64` stored as bits in cell `index`.
    #[inline]
    pub(crate) fn add_f64(&self, index: u32, v: f64) {
        let cell = self.cell(index);
        if self.exclusive {
            let old = f64::from_bits(cell.load(Ordering::Relaxed));
            cell.store((old + v).to_bits(), Ordering::Relaxed);
        } else {
            add_f64_atomic(cell, v);
        }
    }

    /// Stores `bits` in cell `index` (home slot only: `set` semantics).
    #[inline]
    pub(crate) fn store(&self, index: u32, bits: u64) {
        self.cell(index).store(bits, Ordering::Relaxed);
    }

    /// Reads cell `index`, 0 if its chunk was never allocated.
    #[inline]
    pub(crate) fn load(&self, index: u32) -> u64 {
        self.peek(index).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Whether this slot's only writer is the thread that leased it.
    #[inline]
    pub(crate) fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Keeps this exclusive slot leased to the calling thread, its
    /// leaseholder, until a matching [`unpin`](Self::unpin), even past the
    /// thread's lease: a thread-local destructor that runs after nanometrics'
    /// own may still write the slot through a local handle, and another
    /// thread must not lease it meanwhile.
    pub(crate) fn pin(&self) {
        debug_assert!(self.exclusive);
        // Relaxed: only the leaseholder thread touches `pins` and `orphaned`
        // while the slot is leased; the free-list mutex orders them before the
        // next leaseholder's.
        self.pins.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends a [`pin`](Self::pin); the last one after the lease ended returns
    /// the slot to the table.
    pub(crate) fn unpin(&self) {
        // Relaxed: as in `pin`.
        if self.pins.fetch_sub(1, Ordering::Relaxed) == 1
            && self.orphaned.swap(false, Ordering::Relaxed)
        {
            let shards = global_shards();
            if let Some(i) = shards.position(self) {
                shards.release(i);
            }
        }
    }

    /// Whether the lease ended while the slot was pinned.
    #[cfg(test)]
    pub(crate) fn is_orphaned(&self) -> bool {
        self.orphaned.load(Ordering::Relaxed)
    }

    /// At the end of the lease: whether the slot is pinned, in which case it
    /// is marked so that the last unpin returns it.
    pub(super) fn orphan_if_pinned(&self) -> bool {
        // Relaxed: as in `pin`.
        let pinned = self.pins.load(Ordering::Relaxed) > 0;
        if pinned {
            self.orphaned.store(true, Ordering::Relaxed);
        }
        pinned
    }
}

/// A compare-exchange loop adding `v` to an `f64` stored as bits.
#[inline]
pub(crate) fn add_f64_atomic(cell: &AtomicU64, v: f64) {
    let mut old = cell.load(Ordering::Relaxed);
    loop {
        let new = (f64::from_bits(old) + v).to_bits();
        match cell.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(seen) => old = seen,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Loom drops a failed model's shard table after the execution ended,
        // where its atomics can no longer be read: leak the chunks rather
        // than abort the test binary with a second panic.
        #[cfg(nanometrics_loom)]
        if std::thread::panicking() {
            return;
        }
        for entry in self.chunks.iter() {
            let p = entry.load(Ordering::Acquire);
            if !p.is_null() {
                // SAFETY: `p` came from Box::into_raw in `install` and we hold
                // `&mut self`, so no reference into the chunk remains.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}
