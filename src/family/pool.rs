//! The family's pool: removed entries and replaced tables, kept for reuse
//! rather than freed, because a lookup may still be reading them (see
//! `table.rs`). Touched only by the thread holding the family's lock.
//!
//! Invariants: every pointer here is an entry or table of this family that
//! is in no table and no scrape order (a pooled table is not the current
//! one); each is freed once, by [`Pool::free_all`] when the family drops.
//! The pool holds at most as many entries of a size class as the family
//! had live at once, and one table per capacity it ever replaced.

use super::table::{Entry, Head, Table};

/// Removed entries by size class and replaced tables.
pub(super) struct Pool<const N: usize> {
    /// `entries[class]`: entries of that class, ready to be rewritten.
    entries: Vec<Vec<*mut Entry<N>>>,
    /// Entries whose generation has run out: never reused (a handle made
    /// 2^31 reuses ago would match again), freed at drop.
    spent: Vec<*mut Entry<N>>,
    /// Replaced tables and their capacities.
    tables: Vec<(*mut Head, usize)>,
    /// Entries allocated so far (pooled or live).
    allocated: usize,
}

impl<const N: usize> Pool<N> {
    /// An empty pool.
    pub(super) const fn new() -> Self {
        Self {
            entries: Vec::new(),
            spent: Vec::new(),
            tables: Vec::new(),
            allocated: 0,
        }
    }

    /// Entries allocated so far, pooled or live: at most the family's peak
    /// of live series (plus entries whose generations ran out).
    #[cfg(test)]
    pub(super) fn allocated(&self) -> usize {
        self.allocated
    }

    /// An entry whose block holds `key_len` bytes of values: a pooled one of
    /// its size class, or a new one. Its generation is odd.
    pub(super) fn entry(&mut self, key_len: usize) -> *mut Entry<N> {
        let class = Entry::<N>::class_of(key_len);
        let pooled = class.and_then(|c| self.entries.get_mut(c as usize)?.pop());
        pooled.unwrap_or_else(|| {
            self.allocated += 1;
            Entry::alloc(key_len)
        })
    }

    /// Takes back `e`, removed, whose generation is now `generation` (odd).
    pub(super) fn retire_entry(&mut self, e: *mut Entry<N>, generation: u32) {
        if generation == u32::MAX {
            self.spent.push(e);
            return;
        }
        // SAFETY: `e` is a live entry of this family (caller).
        let class = unsafe { (*e).class } as usize;
        if self.entries.len() <= class {
            self.entries.resize_with(class + 1, Vec::new);
        }
        self.entries[class].push(e);
    }

    /// A pooled table of `capacity` slots, if there is one.
    pub(super) fn table(&mut self, capacity: usize) -> Option<*mut Head> {
        let k = self.tables.iter().position(|&(_, c)| c == capacity)?;
        Some(self.tables.swap_remove(k).0)
    }

    /// Takes back the replaced table `t` of `capacity` slots.
    pub(super) fn retire_table(&mut self, t: *mut Head, capacity: usize) {
        self.tables.push((t, capacity));
    }

    /// Frees everything pooled.
    ///
    /// # Safety
    /// Nothing refers to the pooled entries and tables any more (the family
    /// is being dropped).
    pub(super) unsafe fn free_all(&mut self) {
        for e in self.entries.drain(..).flatten().chain(self.spent.drain(..)) {
            // SAFETY: from `Entry::alloc`, pooled once, freed once (caller).
            unsafe { Entry::free(e) };
        }
        for (t, _) in self.tables.drain(..) {
            // SAFETY: from `Table::alloc`, pooled once, freed once (caller).
            unsafe { Table::<N>::free(t) };
        }
    }
}
