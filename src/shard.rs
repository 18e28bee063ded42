//! Shards: per-thread-owned slots over per-slot cell arenas.
//!
//! # Layout
//!
//! Every metric series owns a small block of *cell indices* (a counter one, a
//! 12-bucket histogram 14). The value of a cell is spread over *slots*: each
//! slot is an arena of 64-bit cells, allocated lazily in [`CHUNK_CELLS`]-cell
//! chunks aligned to 128 bytes. Cell `i` of slot `s` lives in slot `s`'s chunk
//! `i / CHUNK_CELLS`, so the cells of many metrics that one slot writes are
//! packed together in that slot's own cache lines (the layout of the Linux
//! per-CPU allocator), and two slots never share a line. A counter series costs
//! 8 bytes per slot that has ever written anything, not `cores × 128` bytes.
//!
//! # Who writes a slot
//!
//! - *Exclusive* slots (one per core the machine reports, plus a few for
//!   auxiliary threads) are leased to one thread at a time. Their only writer
//!   is the leasing thread, so an update is a plain `load` + `store` with no
//!   `lock` prefix. When the thread exits its lease returns to a free list *with
//!   the values in place*: the next leaseholder keeps adding to them, so nothing
//!   is folded and nothing is lost. The mutex around the free list orders the
//!   old owner's stores before the new owner's loads.
//! - *Shared* slots serve threads that found no exclusive slot free (more
//!   recording threads than slots) and threads that record during their own
//!   thread-local destruction. They are updated with atomic read-modify-writes.
//! - The *home* slot is never leased; it holds the values that must be `set`
//!   (the base of an integer gauge, a float gauge) with atomic RMWs.
//!
//! A read sums the cell over every slot that was ever leased. Each cell is only
//! ever increased by its writers (for counters), and reads are serialised by
//! the registry, so by coherence a later scrape never sees a smaller sum.

use std::cell::Cell;
use std::ptr;

use crate::sync::{
    global_shards, global_shards_handle, lock, nm_thread_local, AtomicPtr, AtomicU32, AtomicU64,
    AtomicUsize, CachePadded, Mutex, Ordering, ShardsHandle,
};

/// log2 of the number of cells in one chunk of a slot's arena.
///
/// Smaller under loom (every cell is a modelled atomic) and under Miri (which
/// interprets every initialisation of every chunk and slot table); the code
/// paths are the same, only the sizes differ.
pub(crate) const CHUNK_SHIFT: u32 = if cfg!(nanometrics_loom) {
    3
} else if cfg!(miri) {
    6
} else {
    11
};
/// Cells per chunk: 2048 cells = 16 KiB normally, 64 under Miri, 8 under loom.
pub(crate) const CHUNK_CELLS: usize = 1 << CHUNK_SHIFT;
const CHUNK_MASK: usize = CHUNK_CELLS - 1;
/// Chunks a slot can address: 2048 normally, 64 under Miri, 8 under loom.
pub(crate) const MAX_CHUNKS: usize = if cfg!(nanometrics_loom) {
    8
} else if cfg!(miri) {
    64
} else {
    2048
};
/// Total cells addressable (4 Mi normally, 4 Ki under Miri, 64 under loom):
/// the bound on all live series' cells.
pub(crate) const MAX_CELLS: u32 = (CHUNK_CELLS * MAX_CHUNKS) as u32;

/// The first cell index handed out. Chunk 0 is never allocated in any slot:
/// an index below this one (a metric without cells, or one not allocated yet)
/// finds a null chunk on the hot path and so reaches the slow path through the
/// same test that catches a slot's first touch of a chunk, with no separate
/// "is this index valid" test.
pub(crate) const FIRST_CELL: u32 = CHUNK_CELLS as u32;
/// Marks a [`Cells`] block whose allocation failed for good (below
/// [`FIRST_CELL`], like "not allocated yet", 0).
const FAILED: u32 = 1;

type Chunk = CachePadded<[AtomicU64; CHUNK_CELLS]>;

/// One slot: an arena of cells, written by one leaseholder or, for shared and
/// home slots, by anyone through atomic RMWs.
pub(crate) struct Slot {
    exclusive: bool,
    /// Live [`LocalCounter`](crate::LocalCounter)s in this exclusive slot
    /// (see [`Slot::pin`]). Only the leaseholder thread touches it. (Loom
    /// models have no local handles.)
    #[cfg(not(nanometrics_loom))]
    pins: AtomicUsize,
    /// The leaseholder's lease ended while the slot was pinned: the last
    /// unpin returns the slot.
    #[cfg(not(nanometrics_loom))]
    orphaned: crate::sync::AtomicBool,
    /// Inline (not boxed): the hot path is TLS → slot → chunk → cell, with no
    /// further indirection. 16 KiB per slot.
    chunks: [AtomicPtr<Chunk>; MAX_CHUNKS],
}

impl Slot {
    fn new(exclusive: bool) -> Self {
        Self {
            exclusive,
            #[cfg(not(nanometrics_loom))]
            pins: AtomicUsize::new(0),
            #[cfg(not(nanometrics_loom))]
            orphaned: crate::sync::AtomicBool::new(false),
            chunks: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }
    }

    /// The sentinel a thread's slot pointer holds before the thread has an
    /// exclusive slot: every chunk is null, so the hot path's chunk test sends
    /// the first update to the binding code (see [`current`]).
    #[cfg(not(nanometrics_loom))]
    const fn unbound() -> Self {
        // A `const` item is the way to repeat a non-`Copy` value in an array
        // initialiser; each element is a fresh null pointer.
        #[allow(clippy::declare_interior_mutable_const)]
        const NULL: AtomicPtr<Chunk> = AtomicPtr::new(ptr::null_mut());
        Self {
            exclusive: false,
            pins: AtomicUsize::new(0),
            orphaned: crate::sync::AtomicBool::new(false),
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
    fn chunk(&self, index: u32) -> Option<&Chunk> {
        // Acquire pairs with the Release CAS in `install` (see `cell`).
        let p = self.entry(index).load(Ordering::Acquire);
        if p.is_null() {
            None
        } else {
            // SAFETY: as in `cell`: installed chunks live until `Slot::drop`.
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

/// Hands out cell indices, from [`FIRST_CELL`] on (the indices below it are
/// the "no cells" states of [`Cells`]). A block of at most [`CHUNK_CELLS`]
/// cells never straddles two chunks, so that an update touching several cells
/// of one series (a histogram's bucket and sum) finds them all through one
/// chunk pointer.
struct CellAlloc {
    next: u32,
    /// Freed blocks `(start, len)`, reused for requests of the same length.
    free: Vec<(u32, u32)>,
}

/// The shard table: all slots, the lease free list and the cell allocator.
pub(crate) struct Shards {
    /// `[0, exclusive)` are leased to threads; the rest are shared.
    slots: Box<[CachePadded<Slot>]>,
    exclusive: usize,
    home: CachePadded<Slot>,
    /// Free exclusive slots, sorted descending so `pop` leases the lowest.
    free: Mutex<Vec<u32>>,
    /// High-water marks: slots at or past them were never written.
    exclusive_used: AtomicUsize,
    shared_used: AtomicUsize,
    next_shared: AtomicUsize,
    /// How many times an exclusive slot was returned: a thread on a shared
    /// slot tries to lease again only after this moved.
    releases: AtomicUsize,
    cells: Mutex<CellAlloc>,
    /// The sentinel slot of threads without an exclusive slot (a static
    /// outside loom): never written, every chunk null.
    #[cfg(nanometrics_loom)]
    unbound: Slot,
}

impl Shards {
    /// A table sized for this machine: one exclusive slot per available core
    /// plus four for auxiliary threads (main, responder, timers), and one
    /// shared slot per four cores.
    pub(crate) fn from_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        let (exclusive, shared) = Self::counts_for(cores);
        Self::new(exclusive, shared)
    }

    /// Exclusive and shared slot counts for a machine with `cores` cores.
    pub(crate) const fn counts_for(cores: usize) -> (usize, usize) {
        if cfg!(nanometrics_loom) {
            return (2, 1);
        }
        let cores = if cores == 0 { 1 } else { cores };
        (cores + 4, cores.div_ceil(4))
    }

    /// A table with the given slot counts (at least one shared slot).
    pub(crate) fn new(exclusive: usize, shared: usize) -> Self {
        let shared = shared.max(1);
        let slots = (0..exclusive + shared)
            .map(|i| CachePadded::new(Slot::new(i < exclusive)))
            .collect();
        Self {
            slots,
            exclusive,
            home: CachePadded::new(Slot::new(false)),
            free: Mutex::new((0..exclusive as u32).rev().collect()),
            exclusive_used: AtomicUsize::new(0),
            shared_used: AtomicUsize::new(0),
            next_shared: AtomicUsize::new(0),
            releases: AtomicUsize::new(0),
            cells: Mutex::new(CellAlloc {
                next: FIRST_CELL,
                free: Vec::new(),
            }),
            #[cfg(nanometrics_loom)]
            unbound: Slot::new(false),
        }
    }

    /// Number of slots (exclusive + shared), the shard count.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Number of exclusive (leasable) slots.
    pub(crate) fn exclusive_len(&self) -> usize {
        self.exclusive
    }

    /// The home slot, for values with `set` semantics.
    #[inline]
    pub(crate) fn home(&self) -> &Slot {
        &self.home
    }

    /// Leases the lowest free exclusive slot, if any.
    pub(crate) fn lease(&self) -> Option<usize> {
        let i = lock(&self.free).pop()? as usize;
        // Release/Acquire with readers' loads: a reader that sees the new mark
        // also sees the slot as written (it reads zeros until the first store).
        self.exclusive_used.fetch_max(i + 1, Ordering::AcqRel);
        Some(i)
    }

    /// Returns an exclusive slot to the free list, values in place.
    pub(crate) fn release(&self, i: usize) {
        if i < self.exclusive {
            let mut free = lock(&self.free);
            free.push(i as u32);
            // Keep descending order so leases stay packed at low indices.
            free.sort_unstable_by(|a, b| b.cmp(a));
            // Relaxed: only a hint to threads on shared slots to try `lease`
            // again, which takes the mutex and sees the slot pushed above.
            self.releases.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many exclusive slots were returned so far (see `releases`).
    fn releases(&self) -> usize {
        self.releases.load(Ordering::Relaxed)
    }

    /// A shared slot, spreading callers round-robin.
    pub(crate) fn shared(&self) -> &Slot {
        let shared = self.slots.len() - self.exclusive;
        let k = self.next_shared.fetch_add(1, Ordering::Relaxed) % shared;
        self.shared_used.fetch_max(k + 1, Ordering::AcqRel);
        &self.slots[self.exclusive + k]
    }

    /// The slot at `i` (exclusive or shared).
    pub(crate) fn slot(&self, i: usize) -> &Slot {
        &self.slots[i]
    }

    /// The position of `slot` in the table, if it is one of its slots.
    #[cfg(not(nanometrics_loom))]
    fn position(&self, slot: &Slot) -> Option<usize> {
        self.slots.iter().position(|s| ptr::eq(&**s, slot))
    }

    /// Calls `f` on every slot that may hold a value (home excluded).
    #[inline]
    pub(crate) fn for_each_written<'s>(&'s self, mut f: impl FnMut(&'s Slot)) {
        self.for_each_written_from(0, |_, slot| f(slot))
    }

    /// Calls `f(position, slot)` on every slot that may hold a value whose
    /// position in the table is `from` or more, in table order (exclusive
    /// slots, then shared ones).
    #[inline]
    fn for_each_written_from<'s>(&'s self, from: usize, mut f: impl FnMut(usize, &'s Slot)) {
        let ex = self
            .exclusive_used
            .load(Ordering::Acquire)
            .min(self.exclusive);
        let (exclusive, shared) = self.slots.split_at(self.exclusive);
        let sh = self.shared_used.load(Ordering::Acquire).min(shared.len());
        // In range: ex <= exclusive.len(), sh <= shared.len().
        let ex_from = from.min(ex);
        for (k, slot) in exclusive[ex_from..ex].iter().enumerate() {
            f(ex_from + k, slot);
        }
        let sh_from = from.saturating_sub(self.exclusive).min(sh);
        for (k, slot) in shared[sh_from..sh].iter().enumerate() {
            f(self.exclusive + sh_from + k, slot);
        }
    }

    /// Sum of cell `index` over all slots, wrapping at 2^64.
    pub(crate) fn sum_u64(&self, index: u32) -> u64 {
        self.sum_u64_from(0, index, 0)
    }

    /// `sum` plus cell `index` of every written slot at table position
    /// `from` or later, wrapping at 2^64.
    fn sum_u64_from(&self, from: usize, index: u32, mut sum: u64) -> u64 {
        self.for_each_written_from(from, |_, s| sum = sum.wrapping_add(s.load(index)));
        sum
    }

    /// Sum of the `f64` cell `index` over all slots, in slot order.
    pub(crate) fn sum_f64(&self, index: u32) -> f64 {
        self.sum_f64_from(0, index, 0.0)
    }

    /// `sum` plus the `f64` cell `index` of every written slot at table
    /// position `from` or later, added in slot order.
    fn sum_f64_from(&self, from: usize, index: u32, mut sum: f64) -> f64 {
        self.for_each_written_from(from, |_, s| {
            if let Some(c) = s.peek(index) {
                sum += f64::from_bits(c.load(Ordering::Relaxed));
            }
        });
        sum
    }

    /// Adds each slot's cells `start..start + out.len()` into `out`.
    pub(crate) fn sum_block(&self, start: u32, out: &mut [u64]) {
        out.fill(0);
        self.for_each_written(|s| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = o.wrapping_add(s.load(start + i as u32));
            }
        });
    }

    /// A reader for many cells in a row (a scrape walking a family's series).
    pub(crate) fn reader(&self) -> Reader<'_> {
        Reader {
            shards: self,
            chunk: usize::MAX,
            n: 0,
            tail: 0,
            chunks: [None; READER_CHUNKS],
        }
    }

    /// Allocates `len` consecutive cells, all zero in every slot.
    pub(crate) fn alloc_cells(&self, len: u32) -> Option<u32> {
        let mut a = lock(&self.cells);
        if let Some(pos) = a.free.iter().position(|&(_, l)| l == len) {
            return Some(a.free.swap_remove(pos).0);
        }
        let mut start = a.next;
        let room = CHUNK_CELLS as u32 - (start & CHUNK_MASK as u32);
        if len <= CHUNK_CELLS as u32 && len > room {
            // Start the block on the next chunk rather than straddle.
            start += room;
        }
        let end = start.checked_add(len)?;
        if end > MAX_CELLS {
            return None;
        }
        if start != a.next {
            // The skipped tail of the chunk serves a later request of its
            // exact length, like a freed block (it lies in one chunk too).
            let gap = (a.next, start - a.next);
            a.free.push(gap);
        }
        a.next = end;
        Some(start)
    }

    /// Zeroes cells `start..start + len` in every slot and makes them
    /// reusable. The caller guarantees no handle to them remains.
    pub(crate) fn free_cells(&self, start: u32, len: u32) {
        let zero = |s: &Slot| {
            for i in start..start + len {
                if let Some(c) = s.peek(i) {
                    c.store(0, Ordering::Relaxed);
                }
            }
        };
        for s in self.slots.iter() {
            zero(s);
        }
        zero(&self.home);
        // The mutex orders the zeroing before the next owner's first update.
        lock(&self.cells).free.push((start, len));
    }
}

/// The most chunks a [`Reader`] keeps (one per written slot that has the
/// chunk); the written slots past them are read through the table, each
/// with its chunk test, like [`Shards::sum_u64`] does. 128 (1 KiB on the
/// scrape's stack) covers every slot of a table sized for up to 99 cores (see
/// [`Shards::counts_for`]). Miri keeps 8, so that its test of the tail
/// allocates a few slots rather than a hundred.
const READER_CHUNKS: usize = if cfg!(miri) { 8 } else { 128 };

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

/// The sentinel slot of threads without an exclusive slot (see [`current`]).
#[cfg(not(nanometrics_loom))]
static UNBOUND: Slot = Slot::unbound();

/// The sentinel, for the thread-local's `const` initialiser.
#[cfg(not(nanometrics_loom))]
const fn unbound() -> *const Slot {
    ptr::addr_of!(UNBOUND)
}

/// Under loom the sentinel belongs to each execution's table (loom's atomics
/// have no `const` constructor for a static).
#[cfg(nanometrics_loom)]
fn unbound() -> *const Slot {
    &global_shards().unbound
}

/// Whether `p` is the sentinel of the table `shards`.
#[cfg(not(nanometrics_loom))]
#[inline]
fn is_unbound(p: *const Slot, _shards: &Shards) -> bool {
    ptr::eq(p, unbound())
}

/// Whether `p` is the sentinel of the table `shards`.
#[cfg(nanometrics_loom)]
#[inline]
fn is_unbound(p: *const Slot, shards: &Shards) -> bool {
    ptr::eq(p, &shards.unbound)
}

nm_thread_local! {
    /// The slot the hot path writes: this thread's exclusive slot, or the
    /// unbound sentinel (never null). It never holds a shared slot, so the hot
    /// path always updates with a plain load and store.
    static CURRENT: Cell<*const Slot> = const { Cell::new(unbound()) }
}
nm_thread_local! {
    /// The shared slot of a thread that found no exclusive slot free, or that
    /// recorded while its locals were being torn down, with the table's
    /// release count read before that failed try; null until then. Its
    /// updates take the slow path (they are atomic read-modify-writes anyway),
    /// which tries to lease again whenever the release count has moved.
    static SHARED: Cell<(*const Slot, usize)> = const { Cell::new((ptr::null(), 0)) }
}
nm_thread_local! {
    /// The exclusive slot this thread leases; returned when the thread exits.
    static LEASE: Lease = Lease(Cell::new(None))
}

/// The leased exclusive slot and a handle on the table it belongs to (the
/// handle keeps a loom model's table alive until the lease is returned; see
/// [`ShardsHandle`]).
struct Lease(Cell<Option<(usize, ShardsHandle)>>);

impl Drop for Lease {
    fn drop(&mut self) {
        // A loom model that failed is torn down after its execution ended,
        // where no loom primitive may be touched; there is no one left to hand
        // the slot to, and a second panic would abort the test binary.
        #[cfg(nanometrics_loom)]
        if std::thread::panicking() {
            return;
        }
        if let Some((i, shards)) = self.0.take() {
            // Stop using the slot before handing it on: later updates from
            // this thread's other destructors find the sentinel, then no
            // lease (LEASE is gone), and go to a shared slot.
            #[cfg(not(nanometrics_loom))]
            let sentinel = unbound();
            #[cfg(nanometrics_loom)]
            let sentinel: *const Slot = &shards.unbound;
            let _ = CURRENT.try_with(|c| c.set(sentinel));
            // A local handle may still write the slot (from a thread-local
            // destructor that runs after this one): then the last handle's
            // drop returns it.
            if shards.slot(i).orphan_if_pinned() {
                return;
            }
            // The free-list mutex orders this thread's last stores to the slot
            // before the next leaseholder's first loads (see `Shards::lease`).
            shards.release(i);
        }
    }
}

/// The slot in CURRENT: this thread's exclusive slot or the sentinel.
#[inline]
fn current() -> &'static Slot {
    let p = CURRENT.with(|c| c.get());
    // SAFETY: CURRENT holds the sentinel (a static; under loom a field of
    // the table) or a pointer into the global shard table, which is never
    // dropped while a thread can record (a 'static OnceLock; under loom a
    // lazy_static that lives until the model closure returns, and models join
    // every recording thread first, so the reference never outlives it); an
    // exclusive slot it points at is leased to this thread until `Lease::drop`
    // resets CURRENT first.
    unsafe { &*p }
}

/// The slot for an update that missed the fast path: this thread's exclusive
/// slot (the chunk was missing), a newly leased one, or its shared one.
///
/// A thread on a shared slot tries to lease an exclusive one again each time
/// another thread has returned one since its last try, so that a long-lived
/// thread that started while every exclusive slot was taken (a burst of
/// short-lived threads) does not stay on the slow path for good.
#[cold]
#[inline(never)]
fn slow_slot() -> &'static Slot {
    let shards = global_shards();
    let p = CURRENT.try_with(|c| c.get()).unwrap_or(ptr::null());
    if !p.is_null() && !is_unbound(p, shards) {
        // SAFETY: as in `current`.
        return unsafe { &*p };
    }
    // Read before trying to lease: a slot returned after a failed try moves
    // the count, and the next update tries again.
    let releases = shards.releases();
    let (shared, seen) = SHARED.try_with(|c| c.get()).unwrap_or((ptr::null(), 0));
    if !shared.is_null() && seen == releases {
        // SAFETY: SHARED only holds slots of the global table (see `current`).
        return unsafe { &*shared };
    }
    let leased = LEASE.try_with(|lease| {
        let held = match lease.0.take() {
            Some(held) => Some(held),
            None => shards.lease().map(|i| (i, global_shards_handle())),
        };
        let i = held.as_ref().map(|&(i, _)| i);
        lease.0.set(held);
        i
    });
    match leased {
        Ok(Some(i)) => {
            let slot = shards.slot(i);
            let _ = CURRENT.try_with(|c| c.set(slot));
            // What this thread added to its shared slot stays there; readers
            // sum every slot.
            let _ = SHARED.try_with(|c| c.set((ptr::null(), 0)));
            slot
        }
        // No exclusive slot free, or this thread's locals are being torn down.
        _ => {
            let slot = if shared.is_null() {
                shards.shared()
            } else {
                // SAFETY: as above.
                unsafe { &*shared }
            };
            let _ = SHARED.try_with(|c| c.set((slot, releases)));
            slot
        }
    }
}

/// Runs `f` on this thread's slot of the global shard table (exclusive or
/// shared); the update methods of [`Slot`] pick plain or atomic writes.
#[inline]
pub(crate) fn with_local<R>(f: impl FnOnce(&Slot) -> R) -> R {
    f(local_slot())
}

/// This thread's slot, exclusive or shared, binding one on first use.
#[inline]
pub(crate) fn local_slot() -> &'static Slot {
    let slot = current();
    if slot.exclusive {
        slot
    } else {
        slow_slot()
    }
}

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
/// keeps inside one ([`Shards::alloc_cells`]). The lookup then does not wait
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

/// One series' first cell as the update paths take it: either a resolved
/// index, or a block and an offset into it, whose index is read from the
/// block at each update (so a handle made before its block is allocated takes
/// the hot path once anything allocates the block). Made by [`Cells::series`]
/// or [`Series::resolved`].
#[derive(Clone, Copy)]
pub(crate) struct Series<'a> {
    /// Without `cells`: the index (below [`FIRST_CELL`]: no cells). With
    /// `cells`: the offset into the block, which is shorter than a chunk
    /// ([`lazy_fits`]; the updates rely on it, see [`update`]).
    at: u32,
    cells: Option<&'a Cells>,
}

impl Series<'_> {
    /// A series whose index is already resolved; `None` (no cells) makes a
    /// series whose updates are dropped.
    #[inline]
    pub(crate) fn resolved(index: Option<u32>) -> Self {
        Self {
            at: index.unwrap_or(0),
            cells: None,
        }
    }

    /// The index the update paths take: below [`FIRST_CELL`] (in the
    /// never-allocated chunk 0) while the block is not allocated, so that
    /// their chunk test fails and the slow path allocates it (see
    /// [`Cells::series`]).
    #[inline]
    pub(crate) fn hot_index(self) -> u32 {
        match self.cells {
            // No overflow: an allocated block ends below MAX_CELLS, and an
            // unallocated one's stored value is 0 or FAILED.
            Some(cells) => cells.raw() + self.at,
            None => self.at,
        }
    }

    /// Adds `n` to this thread's cell, wrapping at 2^64 (see [`add_u64`]).
    #[inline]
    pub(crate) fn add_u64(self, n: u64) {
        // Two calls rather than one on a selected (first, offset): with
        // `cells` unknown (a kept handle) the select costs two instructions.
        match self.cells {
            Some(cells) => update(
                cells.raw(),
                self.at,
                n,
                Some(cells),
                plain_add_u64,
                Slot::add_u64,
            ),
            None => update(self.at, 0, n, None, plain_add_u64, Slot::add_u64),
        }
    }

    /// Adds `v` to this thread's `f64` cell (see [`add_f64`]).
    #[inline]
    pub(crate) fn add_f64(self, v: f64) {
        // Two calls, as in `add_u64`.
        match self.cells {
            Some(cells) => update(
                cells.raw(),
                self.at,
                v,
                Some(cells),
                plain_add_f64,
                Slot::add_f64,
            ),
            None => update(self.at, 0, v, None, plain_add_f64, Slot::add_f64),
        }
    }

    /// The cell index, allocating the block on first use; `None` if the
    /// metric has no cells.
    pub(crate) fn index(self) -> Option<u32> {
        resolve(self.hot_index(), self.cells)
    }

    /// The cell index if the block is allocated (readers never allocate).
    pub(crate) fn allocated(self) -> Option<u32> {
        match self.cells {
            Some(cells) => cells.allocated().map(|first| first + self.at),
            None => (self.at >= FIRST_CELL).then_some(self.at),
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

/// Whether a block of `len` cells can hand out lazy series (see
/// [`Cells::series`]): its unallocated index plus any offset stays in chunk 0.
pub(crate) const fn lazy_fits(len: usize) -> bool {
    len < CHUNK_CELLS
}

/// A cell nobody reads: the target of handles whose metric got no cells.
#[cfg(not(nanometrics_loom))]
pub(crate) static DEAD_CELL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Slot {
    /// Whether this slot's only writer is the thread that leased it.
    #[cfg(not(nanometrics_loom))]
    #[inline]
    pub(crate) fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Keeps this exclusive slot leased to the calling thread, its
    /// leaseholder, until a matching [`unpin`](Self::unpin), even past the
    /// thread's lease: a thread-local destructor that runs after nanometrics'
    /// own may still write the slot through a local handle, and another
    /// thread must not lease it meanwhile.
    #[cfg(not(nanometrics_loom))]
    pub(crate) fn pin(&self) {
        debug_assert!(self.exclusive);
        // Relaxed: only the leaseholder thread touches `pins` and `orphaned`
        // while the slot is leased; the free-list mutex orders them before the
        // next leaseholder's.
        self.pins.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends a [`pin`](Self::pin); the last one after the lease ended returns
    /// the slot to the table.
    #[cfg(not(nanometrics_loom))]
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
    #[cfg(all(test, not(nanometrics_loom)))]
    pub(crate) fn is_orphaned(&self) -> bool {
        self.orphaned.load(Ordering::Relaxed)
    }

    /// At the end of the lease: whether the slot is pinned, in which case it
    /// is marked so that the last unpin returns it.
    #[cfg(not(nanometrics_loom))]
    fn orphan_if_pinned(&self) -> bool {
        // Relaxed: as in `pin`.
        let pinned = self.pins.load(Ordering::Relaxed) > 0;
        if pinned {
            self.orphaned.store(true, Ordering::Relaxed);
        }
        pinned
    }

    /// Loom models have no local handles: nothing pins a slot.
    #[cfg(nanometrics_loom)]
    fn orphan_if_pinned(&self) -> bool {
        false
    }
}

/// A metric's block of cells in the global shard table, allocated on first
/// use so that it can live in a `static` built by a `const fn`.
pub(crate) struct Cells {
    /// 0: not yet allocated; FAILED: the table is full; else (at least
    /// [`FIRST_CELL`]) the first index.
    index: AtomicU32,
    len: u32,
}

impl Cells {
    crate::sync::loom_const_fn! {
        /// A block of `len` cells, allocated on first use.
        pub(crate) const fn new(len: u32) -> Self {
            Self { index: AtomicU32::new(0), len }
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

    /// The index `offset` cells into the block, allocating the block on first
    /// use; 0 (which the update paths drop) if the table is out of cells.
    #[inline]
    pub(crate) fn at(&self, offset: u32) -> u32 {
        let i = self.raw();
        if i >= FIRST_CELL {
            i + offset
        } else {
            // The offset goes to the cold call, so that nothing the caller
            // computed has to be kept across it.
            self.at_slow(offset)
        }
    }

    /// The series `offset` cells into the block. With `lazy` (a compile-time
    /// [`lazy_fits`] of the block's length) that is the block and the
    /// offset, and each update adds the offset to the index it reads from the
    /// block, with no allocation test: while the block is unallocated (0 or
    /// FAILED) the sum lies in chunk 0, which no slot ever allocates, so the
    /// update's chunk test fails and its slow path allocates the block; once
    /// allocated, every handle, however old, takes the hot path. Otherwise
    /// the block is allocated now.
    #[inline]
    pub(crate) fn series(&self, offset: u32, lazy: bool) -> Series<'_> {
        if lazy {
            debug_assert!(lazy_fits(self.len as usize) && offset < self.len.max(1));
            Series {
                at: offset,
                cells: Some(self),
            }
        } else {
            Series {
                at: self.at(offset),
                cells: None,
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn at_slow(&self, offset: u32) -> u32 {
        self.index().map_or(0, |i| i + offset)
    }

    /// The first cell index as stored: below [`FIRST_CELL`] while the block
    /// is not allocated (or could not be). For the hot paths, which hand such
    /// an index and `self` to [`add_u64`] and friends: their chunk test fails
    /// on it, and their slow path allocates.
    #[inline]
    pub(crate) fn raw(&self) -> u32 {
        // Acquire pairs with the Release in `alloc_slow`: a block reused after
        // `free_cells` is seen zeroed.
        self.index.load(Ordering::Acquire)
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
        if self.index.load(Ordering::Acquire) == FAILED {
            return None;
        }
        // Serialise first touches of this block through the allocator lock so
        // that two threads racing here allocate once.
        let shards = global_shards();
        let start = {
            let _guard = lock(&FIRST_TOUCH);
            match self.index.load(Ordering::Acquire) {
                0 => {}
                FAILED => return None,
                i => return Some(i),
            }
            let start = shards.alloc_cells(self.len.max(1)).unwrap_or(FAILED);
            self.index.store(start, Ordering::Release);
            start
        };
        (start != FAILED).then_some(start)
    }
}

#[cfg(not(nanometrics_loom))]
static FIRST_TOUCH: Mutex<()> = Mutex::new(());
#[cfg(nanometrics_loom)]
loom::lazy_static! {
    static ref FIRST_TOUCH: Mutex<()> = Mutex::new(());
}

impl Drop for Cells {
    fn drop(&mut self) {
        if let Some(start) = self.allocated() {
            global_shards().free_cells(start, self.len.max(1));
        }
    }
}

/// Shard facts for documentation and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardInfo {
    /// Slots leased one per recording thread (single writer, no `lock` prefix).
    pub exclusive: usize,
    /// Slots shared by threads beyond the exclusive ones (atomic adds).
    pub shared: usize,
}

impl ShardInfo {
    /// The shard table of this process.
    ///
    /// ```
    /// let info = nanometrics::ShardInfo::current();
    /// assert!(info.exclusive >= 1 && info.shared >= 1);
    /// ```
    pub fn current() -> Self {
        let s = global_shards();
        Self {
            exclusive: s.exclusive_len(),
            shared: s.len() - s.exclusive_len(),
        }
    }

    /// Whether the calling thread records into an exclusive slot of its own
    /// (a plain load and store per update) rather than a shared one (an
    /// atomic add through the slow path). False before the thread's first
    /// update and while every exclusive slot is leased to other threads; a
    /// thread on a shared slot takes an exclusive one at its first update
    /// after another thread has returned one (by exiting).
    ///
    /// ```
    /// use nanometrics::{Counter, ShardInfo};
    /// static C: Counter = Counter::new("jobs_total", "Jobs.");
    /// std::thread::spawn(|| {
    ///     assert!(!ShardInfo::thread_is_exclusive(), "nothing recorded yet");
    ///     C.inc();
    ///     // True unless more threads than exclusive slots record at once.
    ///     println!("exclusive: {}", ShardInfo::thread_is_exclusive());
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    pub fn thread_is_exclusive() -> bool {
        CURRENT
            .try_with(|c| {
                let p = c.get();
                // SAFETY: as in `current`: the sentinel or a slot of the
                // global table leased to this thread.
                !p.is_null() && unsafe { (*p).exclusive }
            })
            .unwrap_or(false)
    }

    /// The shard table nanometrics would build on a machine with `cores` cores.
    ///
    /// ```
    /// let info = nanometrics::ShardInfo::for_cores(64);
    /// assert_eq!((info.exclusive, info.shared), (68, 16));
    /// ```
    pub const fn for_cores(cores: usize) -> Self {
        let (exclusive, shared) = Shards::counts_for(cores);
        Self { exclusive, shared }
    }

    /// Worst-case bytes of cells for a series of `cells` cells: every slot
    /// written (plus the home slot for gauges).
    pub const fn bytes_per_series(&self, cells: usize) -> usize {
        (self.exclusive + self.shared + 1) * cells * 8
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;

    #[test]
    fn exclusive_and_shared_slots_sum() {
        let shards = Shards::new(2, 1);
        let i = shards.alloc_cells(1).unwrap();
        let a = shards.lease().unwrap();
        let b = shards.lease().unwrap();
        assert_eq!((a, b), (0, 1));
        assert!(shards.lease().is_none());
        shards.slot(a).add_u64(i, 3);
        shards.slot(b).add_u64(i, 4);
        shards.shared().add_u64(i, 5);
        assert_eq!(shards.sum_u64(i), 12);
        shards.release(a);
        assert_eq!(shards.lease(), Some(0), "lowest slot is leased first");
        shards.slot(a).add_u64(i, 1);
        assert_eq!(shards.sum_u64(i), 13, "values survive a lease hand-over");
    }

    #[test]
    fn reader_sums_like_the_table() {
        let shards = Shards::new(3, 1);
        let i = shards.alloc_cells(1).unwrap();
        let j = shards.alloc_cells(CHUNK_CELLS as u32).unwrap();
        assert_ne!(i as usize >> CHUNK_SHIFT, j as usize >> CHUNK_SHIFT);
        let a = shards.lease().unwrap();
        let b = shards.lease().unwrap();
        shards.slot(a).add_u64(i, u64::MAX);
        shards.slot(b).add_u64(i, 2);
        shards.shared().add_f64(i + 1, 0.5);
        shards.slot(b).add_f64(i + 1, 0.25);
        shards.slot(b).add_u64(j + 5, 7);
        let mut r = shards.reader();
        assert_eq!(r.sum_u64(i), 1, "wrapping");
        assert_eq!(r.sum_f64(i + 1), 0.75);
        assert_eq!(r.sum_u64(i + 2), 0);
        assert_eq!(r.sum_u64(j + 5), 7, "another chunk: the list is refilled");
        assert_eq!(r.sum_u64(j), 0, "slot a has no such chunk");
        // A slot first written after the list was taken is read at the next
        // refill.
        let c = shards.lease().unwrap();
        shards.slot(c).add_u64(i, 10);
        assert_eq!(r.sum_u64(j + 5), 7);
        assert_eq!(r.sum_u64(i), 11);
        assert_eq!(r.sum_u64(i), shards.sum_u64(i));
    }

    #[test]
    fn reader_with_more_slots_than_it_keeps() {
        let slots = READER_CHUNKS + 3;
        let shards = Shards::new(slots, 1);
        let i = shards.alloc_cells(2).unwrap();
        for k in 0..slots {
            let s = shards.lease().unwrap();
            shards.slot(s).add_u64(i, k as u64 + 1);
            shards.slot(s).add_f64(i + 1, 0.5);
        }
        let mut r = shards.reader();
        assert_eq!(r.sum_u64(i), (slots * (slots + 1) / 2) as u64);
        assert_eq!(r.sum_f64(i + 1), slots as f64 * 0.5);
    }

    #[test]
    fn reader_tail_covers_gaps_shared_slots_and_other_chunks() {
        // More written slots with the chunk than the reader keeps, slots
        // without it in between, shared slots after them, and a second chunk
        // that few slots have.
        let slots = READER_CHUNKS * 5 / 4 + 5;
        let gaps = (0..slots).filter(|k| k % 7 == 3).count();
        let shards = Shards::new(slots, 2);
        let i = shards.alloc_cells(2).unwrap();
        let j = shards.alloc_cells(CHUNK_CELLS as u32).unwrap();
        let mut expect = 0u64;
        let mut expect_f = 0.0f64;
        for k in 0..slots {
            let s = shards.lease().unwrap();
            if k % 7 == 3 {
                // Written, but not in `i`'s chunk.
                shards.slot(s).add_u64(j, 1);
                continue;
            }
            shards.slot(s).add_u64(i, k as u64 + 1);
            shards.slot(s).add_f64(i + 1, k as f64);
            expect += k as u64 + 1;
            expect_f += k as f64;
        }
        for v in [1000, 2000] {
            shards.shared().add_u64(i, v);
            expect += v;
        }
        assert!(slots - gaps > READER_CHUNKS, "a tail exists");
        let mut r = shards.reader();
        assert_eq!(r.sum_u64(i), expect);
        assert_eq!(r.sum_u64(i), shards.sum_u64(i));
        assert_eq!(r.sum_f64(i + 1), expect_f);
        assert_eq!(r.sum_f64(i + 1), shards.sum_f64(i + 1));
        assert_eq!(r.sum_u64(j), gaps as u64, "no tail here");
        assert_eq!(r.sum_u64(j + 1), 0);
        // Back to the first chunk, after more writes into the tail.
        shards.shared().add_u64(i, 5);
        assert_eq!(r.sum_u64(i), expect + 5);
    }

    #[test]
    fn written_slots_from_a_position() {
        let shards = Shards::new(4, 2);
        let positions = |from| {
            let mut v = Vec::new();
            shards.for_each_written_from(from, |at, s| {
                assert!(ptr::eq(s, shards.slot(at)));
                v.push(at);
            });
            v
        };
        assert!(positions(0).is_empty());
        shards.lease().unwrap();
        shards.lease().unwrap();
        shards.shared();
        assert_eq!(positions(0), [0, 1, 4]);
        assert_eq!(positions(1), [1, 4]);
        assert_eq!(positions(2), [4], "unwritten exclusive slots are skipped");
        assert_eq!(positions(5), [] as [usize; 0]);
        shards.shared();
        assert_eq!(positions(3), [4, 5]);
        assert_eq!(positions(99), [] as [usize; 0]);
    }

    #[test]
    fn wraps_modulo_2_64() {
        let shards = Shards::new(2, 1);
        let i = shards.alloc_cells(1).unwrap();
        let a = shards.lease().unwrap();
        let b = shards.lease().unwrap();
        shards.slot(a).add_u64(i, u64::MAX);
        shards.slot(b).add_u64(i, 2);
        assert_eq!(shards.sum_u64(i), 1);
    }

    #[test]
    fn freed_cells_are_zeroed_and_reused() {
        let shards = Shards::new(1, 1);
        let i = shards.alloc_cells(3).unwrap();
        let a = shards.lease().unwrap();
        shards.slot(a).add_u64(i + 2, 9);
        shards.home().store(i, 7);
        shards.free_cells(i, 3);
        let j = shards.alloc_cells(3).unwrap();
        assert_eq!(i, j);
        assert_eq!(shards.sum_u64(j + 2), 0);
        assert_eq!(shards.home().load(j), 0);
    }

    #[test]
    fn cells_cross_chunks_and_exhaust_cleanly() {
        let shards = Shards::new(1, 1);
        let big = shards.alloc_cells(CHUNK_CELLS as u32 + 5).unwrap();
        let a = shards.lease().unwrap();
        shards.slot(a).add_u64(big + CHUNK_CELLS as u32 + 1, 2);
        assert_eq!(shards.sum_u64(big + CHUNK_CELLS as u32 + 1), 2);
        assert!(shards.alloc_cells(MAX_CELLS).is_none());
        assert!(shards.alloc_cells(u32::MAX).is_none());
    }

    #[test]
    fn blocks_up_to_a_chunk_never_straddle() {
        let shards = Shards::new(1, 1);
        let chunk = CHUNK_CELLS as u32;
        let a = shards.alloc_cells(chunk - 1).unwrap();
        assert_eq!(a, FIRST_CELL, "chunk 0 is reserved");
        // One cell is left in a's chunk: a two-cell block starts a new chunk.
        let b = shards.alloc_cells(2).unwrap();
        assert_eq!(b, a + chunk, "moved to the next chunk");
        // The skipped cell serves a one-cell request.
        assert_eq!(shards.alloc_cells(1), Some(a + chunk - 1));
        // A block longer than a chunk is not moved.
        let c = shards.alloc_cells(chunk + 1).unwrap();
        assert_eq!(c, b + 2);
    }

    #[test]
    fn indices_without_cells_are_dropped() {
        // Index 0 (no cells) and FAILED, with and without an offset: every
        // update takes the slow path, which drops it; chunk 0 stays
        // unallocated in this thread's slot.
        let c = Cells::new(1);
        assert!(c.index().is_some(), "allocates");
        for index in [0, FAILED, 5] {
            add_u64(index, 1, None);
            add_f64(index, 1.0, None);
            observe(index, 0, 2, 1.0, false, None);
        }
        // Exclusive, or shared when parallel tests hold every exclusive slot.
        let slot = local_slot();
        assert!(slot.peek(0).is_none(), "chunk 0 was allocated");
        assert!(global_shards().home().peek(0).is_none());
    }

    #[test]
    fn lazy_cells_allocate_on_the_slow_path() {
        let c = Cells::new(3);
        add_u64(c.raw(), 2, Some(&c));
        let i = c.allocated().expect("allocated by the update");
        add_f64(c.raw() + 1, 0.5, Some(&c));
        let h = Cells::new(3);
        observe(h.raw(), 1, 2, 0.25, true, Some(&h));
        let j = h.allocated().expect("allocated by the observation");
        let shards = global_shards();
        assert_eq!(shards.sum_u64(i), 2);
        assert_eq!(shards.sum_f64(i + 1), 0.5);
        assert_eq!((shards.sum_u64(j + 1), shards.sum_f64(j + 2)), (1, 0.25));
    }

    #[test]
    fn lazy_series_hit_their_cell_in_blocks_near_a_chunk_end() {
        // Blocks of 7 cells from the global table until one started in the
        // last 7 cells of a chunk's room (it moved to the next chunk) and the
        // ones after it: the hot path finds each block's chunk through its
        // first cell and writes first + offset. Run on a fresh thread holding
        // an exclusive slot (parallel tests may hold them all for a moment:
        // a few fresh threads are tried), where the second update of each
        // block is checked to take the hot path.
        let hot = |blocks: &[Cells]| {
            let shards = global_shards();
            let mut hot = 0;
            for (k, c) in blocks.iter().enumerate() {
                let s = c.series(6, true);
                // Allocates the block and, on this thread's first update,
                // binds its slot (the slow path).
                s.add_u64(1);
                let first = c.allocated().expect("allocated");
                assert_eq!(first >> CHUNK_SHIFT, (first + 6) >> CHUNK_SHIFT);
                // The hot path's own test: the slot has the block's chunk.
                if local_slot().exclusive && current().chunk(first).is_some() {
                    hot += 1;
                }
                s.add_u64(k as u64);
                c.series(0, true).add_f64(0.5);
                assert_eq!(shards.sum_u64(first + 6), k as u64 + 1, "block {k}");
                assert_eq!(shards.sum_f64(first), 0.5, "block {k}");
            }
            hot
        };
        let mut took_hot_path = false;
        for _ in 0..20 {
            let blocks: Vec<Cells> = (0..CHUNK_CELLS / 7 + 2).map(|_| Cells::new(7)).collect();
            let hot = std::thread::scope(|s| {
                s.spawn(|| hot(&blocks))
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            });
            let chunks: std::collections::BTreeSet<u32> = blocks
                .iter()
                .filter_map(|c| c.allocated())
                .map(|f| f >> CHUNK_SHIFT)
                .collect();
            assert!(chunks.len() > 1, "the blocks crossed a chunk boundary");
            if hot == blocks.len() {
                took_hot_path = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(took_hot_path, "no exclusive slot in 20 tries");
    }

    #[test]
    fn lazy_series_allocate_at_their_offset() {
        let c = Cells::new(4);
        let (a, b) = (c.series(3, true), c.series(1, true));
        assert!(b.hot_index() < FIRST_CELL, "unallocated: in chunk 0");
        assert_eq!(
            a.allocated(),
            None,
            "making a lazy series allocates nothing"
        );
        a.add_u64(7);
        let first = c.allocated().expect("allocated by the update");
        // `b` was made before the block existed: its update still lands at
        // its own offset.
        b.add_f64(0.5);
        let shards = global_shards();
        assert_eq!(shards.sum_u64(first + 3), 7);
        assert_eq!(shards.sum_f64(first + 1), 0.5);
        assert_eq!(
            (a.allocated(), a.index()),
            (Some(first + 3), Some(first + 3))
        );
        assert_eq!(c.series(2, true).index(), Some(first + 2));
        // A handle kept from before the allocation updates through the hot
        // path now: the index it hands the update is the allocated one, not
        // chunk 0's (which would send every update to the slow path).
        assert_eq!(b.hot_index(), first + 1);
        assert!(c.series(0, true).hot_index() >= FIRST_CELL);
        assert_eq!(c.series(2, false).index(), Some(first + 2));

        // A block the table had no room for: FAILED plus an offset is still in
        // chunk 0, and its updates are dropped, not sent to another cell.
        let failed = Cells::new(4);
        failed.index.store(FAILED, Ordering::Release);
        let s = failed.series(3, true);
        s.add_u64(1);
        s.add_f64(1.0);
        assert_eq!((s.index(), s.allocated()), (None, None));
        assert_eq!(failed.series(3, false).index(), None);
    }

    #[test]
    fn observation_straddling_chunks() {
        // A series inside a block longer than a chunk may straddle two: the
        // observation then looks both cells up separately.
        let chunk = CHUNK_CELLS as u32;
        let cells = Cells::new(chunk + 4);
        let base = cells.index().unwrap();
        // A series whose first cell is the last of a chunk.
        let series = base + (chunk - 1) - (base & (chunk - 1));
        observe(series, 0, 2, 0.5, false, None);
        observe(series, 1, 2, 0.25, false, None);
        let shards = global_shards();
        assert_eq!(shards.sum_u64(series), 1, "bucket in the first chunk");
        assert_eq!(shards.sum_u64(series + 1), 1, "bucket in the second");
        assert_eq!(shards.sum_f64(series + 2), 0.75);
    }

    #[test]
    fn shared_slot_threads() {
        // More threads than exclusive slots: the rest record through shared
        // slots (atomic adds on the slow path), and nothing is lost.
        const PER_THREAD: u64 = if cfg!(miri) { 20 } else { 1000 };
        let threads = global_shards().exclusive_len() + 3;
        let c = Cells::new(1);
        let idx = c.index().unwrap();
        let barrier = std::sync::Barrier::new(threads);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    add_u64(idx, 1, None);
                    // Every thread holds its slot until all have one.
                    barrier.wait();
                    for _ in 1..PER_THREAD {
                        add_u64(idx, 1, None);
                    }
                });
            }
        });
        assert_eq!(global_shards().sum_u64(idx), threads as u64 * PER_THREAD);
    }

    #[test]
    fn f64_cells_add() {
        let shards = Shards::new(1, 1);
        let i = shards.alloc_cells(1).unwrap();
        let a = shards.lease().unwrap();
        shards.slot(a).add_f64(i, 0.5);
        shards.shared().add_f64(i, 0.25);
        assert_eq!(shards.sum_f64(i), 0.75);
    }

    #[test]
    fn counts_for_machines() {
        assert_eq!(Shards::counts_for(0), (5, 1));
        assert_eq!(Shards::counts_for(2), (6, 1));
        assert_eq!(Shards::counts_for(64), (68, 16));
        // A scrape's reader keeps every slot's chunk up to 99 cores.
        let (exclusive, shared) = Shards::counts_for(99);
        assert!(cfg!(miri) || exclusive + shared <= READER_CHUNKS);
        let (exclusive, shared) = Shards::counts_for(100);
        assert!(cfg!(miri) || exclusive + shared > READER_CHUNKS);
    }

    #[test]
    fn threads_lease_distinct_slots_and_return_them() {
        // Fewer iterations under Miri, which interprets every access.
        const PER_THREAD: u64 = if cfg!(miri) { 50 } else { 1000 };
        let shards = global_shards();
        let cells = Cells::new(1);
        let idx = cells.index().unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..PER_THREAD {
                        with_local(|slot| slot.add_u64(idx, 1));
                    }
                });
            }
        });
        assert_eq!(shards.sum_u64(idx), 4 * PER_THREAD);
    }
}
