//! The shard table: every slot of the process, the lease free list, the
//! written-slot marks and the sums a read takes over them.
//!
//! Invariants:
//! - slots `[0, exclusive)` are leased through the free-list mutex, which
//!   orders one leaseholder's last stores before the next one's first loads;
//!   a returned slot keeps its values;
//! - the high-water marks `exclusive_used` and `shared_used` only grow: a
//!   slot at or past them was never written, so a read may skip it;
//! - cells are zeroed in every slot before their indices are freed, under
//!   the allocator's mutex, which the next owner's allocation takes.

use std::ptr;

use super::cell_alloc::CellAlloc;
use super::quarantine::Quarantine;
use super::reader::Reader;
use super::slot::Slot;
use super::FIRST_CELL;
use crate::sync::{lock, AtomicU64, AtomicUsize, CachePadded, Mutex, MutexGuard, Ordering};

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
    cells: Mutex<(CellAlloc, Quarantine)>,
    /// Serialises first touches of [`Cells`](super::Cells) blocks so that two threads
    /// racing to allocate one allocate it once.
    first_touch: Mutex<()>,
    /// A cell nobody reads: the target of local handles whose metric got no
    /// cells.
    dead: AtomicU64,
    /// The sentinel slot of threads without an exclusive slot under loom,
    /// whose atomics have no `const` constructor for a static (see
    /// `binding.rs`): never written, every chunk null.
    #[cfg(nanometrics_loom)]
    pub(super) unbound: Slot,
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
            cells: Mutex::new((CellAlloc::new(), Quarantine::new())),
            first_touch: Mutex::new(()),
            dead: AtomicU64::new(0),
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
    pub(super) fn releases(&self) -> usize {
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
    pub(super) fn position(&self, slot: &Slot) -> Option<usize> {
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
    pub(super) fn for_each_written_from<'s>(
        &'s self,
        from: usize,
        mut f: impl FnMut(usize, &'s Slot),
    ) {
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
    pub(super) fn sum_u64_from(&self, from: usize, index: u32, mut sum: u64) -> u64 {
        self.for_each_written_from(from, |_, s| sum = sum.wrapping_add(s.load(index)));
        sum
    }

    /// Sum of the `f64` cell `index` over all slots, in slot order.
    pub(crate) fn sum_f64(&self, index: u32) -> f64 {
        self.sum_f64_from(0, index, 0.0)
    }

    /// `sum` plus the `f64` cell `index` of every written slot at table
    /// position `from` or later, added in slot order.
    pub(super) fn sum_f64_from(&self, from: usize, index: u32, mut sum: f64) -> f64 {
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
        Reader::new(self)
    }

    /// Allocates `len` consecutive cells, all zero in every slot.
    pub(crate) fn alloc_cells(&self, len: u32) -> Option<u32> {
        let mut c = lock(&self.cells);
        self.release_expired(&mut c);
        c.0.alloc(len)
    }

    /// Zeroes cells `start..start + len` in every slot and makes them
    /// reusable. The caller guarantees no handle to them remains.
    pub(crate) fn free_cells(&self, start: u32, len: u32) {
        self.zero(start, len);
        // The mutex orders the zeroing before the next owner's first update.
        lock(&self.cells).0.free(start, len);
    }

    /// Makes cells `start..start + len`, of a removed series whose handles
    /// may still be writing, reusable after the grace period (see
    /// `quarantine.rs`).
    pub(crate) fn retire_cells(&self, start: u32, len: u32) {
        if start < FIRST_CELL {
            return;
        }
        let mut c = lock(&self.cells);
        c.1.push(start, len);
        self.release_expired(&mut c);
    }

    /// Zeroes and frees the quarantined blocks whose grace period is over.
    fn release_expired(&self, c: &mut (CellAlloc, Quarantine)) {
        while let Some((start, len)) = c.1.pop_expired() {
            self.zero(start, len);
            c.0.free(start, len);
        }
    }

    /// Zeroes cells `start..start + len` in every slot.
    fn zero(&self, start: u32, len: u32) {
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
    }

    /// The lock that serialises first touches of [`Cells`](super::Cells) blocks.
    pub(super) fn first_touch(&self) -> MutexGuard<'_, ()> {
        lock(&self.first_touch)
    }

    /// A cell nobody reads (see `dead`).
    pub(crate) fn dead_cell(&self) -> &AtomicU64 {
        &self.dead
    }
}

crate::sync::lazy_global! {
    /// The process-wide shard table, created on first use (fresh in every
    /// loom execution). A lease keeps a [`GlobalHandle`](crate::sync::GlobalHandle) to it, so that it can
    /// be returned from a thread-local destructor that loom runs after the
    /// model's statics are gone.
    pub(crate) fn global_shards() -> &'static Shards, handle global_shards_handle
        = Shards::from_machine();
}
