//! Removing series: [`Family::remove`], [`clear`](Family::clear),
//! [`retain`](Family::retain) and idle expiry, each one step under the
//! family's lock (see docs/design.md, "Removing series"): the entry leaves
//! the table (a tombstone, or a vacated table), then the scrape order, then
//! takes a new odd generation, and its cells and block go back for reuse.

use std::time::Instant;

use super::table::{generation, word_of, Entry, Table, RETIRED};
use super::{Family, FamilyKind, Writer};
use crate::metric::Value;
use crate::shard::global_shards;
use crate::sync::{lock, Ordering};

/// What idle expiry compares between sweeps: a value's bits, a histogram's
/// observation count.
fn fingerprint(value: Value<'_>, buf: &mut Vec<u64>) -> u64 {
    match value {
        Value::Counter(n) => n,
        Value::Gauge(n) => n as u64,
        Value::CounterF64(x) | Value::GaugeF64(x) => x.to_bits(),
        Value::Histogram(h) => h.read(buf).count,
        // No other kind lives in a family.
        _ => 0,
    }
}

impl<K: FamilyKind, const N: usize> Family<K, N> {
    /// Removes the series that have been idle for the family's idle
    /// timeout (see [`with_idle_timeout`](Self::with_idle_timeout)); how
    /// many. Without a timeout, removes nothing.
    pub fn expire_idle(&self) -> usize {
        let mut w = lock(&self.writer);
        self.expire_locked(&mut w)
    }

    /// [`expire_idle`](Self::expire_idle) with the lock held.
    pub(super) fn expire_locked(&self, w: &mut Writer<N>) -> usize {
        let Some(timeout) = self.idle else {
            return 0;
        };
        let now = Instant::now();
        let epoch = *w.epoch.get_or_insert(now);
        let now_ms = u64::try_from(now.duration_since(epoch).as_millis()).unwrap_or(u64::MAX);
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let table = self.table();
        Self::sync_seen(w);
        let mut buf = Vec::new();
        let mut expired = 0;
        let mut i = 0;
        while let Some(&e) = w.order.get(i) {
            // SAFETY: a live entry; under the lock nothing rewrites it.
            let index = unsafe { (*e).word.load(Ordering::Relaxed) } as u32;
            let value = fingerprint(K::value(Some(index), &self.config), &mut buf);
            // Kept with `order` in a family with expiry (`insert`, `retire`).
            let Some(&mut (seen, since)) = w.seen.get_mut(i) else {
                break;
            };
            if since == u64::MAX || seen != value {
                w.seen[i] = (value, now_ms);
            } else if now_ms.saturating_sub(since) >= timeout_ms {
                // SAFETY: as above.
                let values = unsafe { Entry::values(e) };
                if let Some((slot, _)) = table.find_entry(&table.key(&values)) {
                    table.unlink(slot, self.sentinels.tombstone);
                    w.tombstones += 1;
                }
                // `retire` moves the last entry to place `i`.
                self.retire(w, e);
                expired += 1;
                continue;
            }
            i += 1;
        }
        expired
    }

    /// Removes the series for `values`; whether there was one. Its handles
    /// drop their updates from now on, a scrape no longer shows it, and a
    /// later lookup of the same values makes a new series (a counter
    /// restarts from zero, which Prometheus' `rate()` reads as a reset).
    /// The overflow series is not removed.
    ///
    /// ```
    /// use nanometrics::{Family, Gauge};
    /// static ROOMS: Family<Gauge, 1> = Family::new("room_sessions", "Sessions per room.", ["room"]);
    /// let room = ROOMS.with(["r1"]);
    /// room.inc();
    /// assert!(ROOMS.remove(["r1"]));
    /// room.inc(); // dropped: the series is gone
    /// assert_eq!(room.get(), 0);
    /// assert_eq!(ROOMS.len(), 0);
    /// assert!(!ROOMS.remove(["r1"]));
    /// ```
    pub fn remove(&self, values: [&str; N]) -> bool {
        let mut w = lock(&self.writer);
        let table = self.table();
        // SAFETY: the current table, live until `Family::drop`.
        if unsafe { Table::<N>::is_empty(table.ptr) } {
            return false;
        }
        match table.find_entry(&table.key(&values)) {
            Some((slot, e)) => {
                table.unlink(slot, self.sentinels.tombstone);
                w.tombstones += 1;
                self.retire(&mut w, e);
                true
            }
            None => false,
        }
    }

    /// Removes every series (not the overflow series).
    pub fn clear(&self) {
        let mut w = lock(&self.writer);
        let table = self.table();
        // SAFETY: the current table, live until `Family::drop`.
        if unsafe { Table::<N>::is_empty(table.ptr) } {
            return;
        }
        table.vacate(self.sentinels.vacant);
        w.tombstones = 0;
        while let Some(&e) = w.order.last() {
            self.retire(&mut w, e);
        }
    }

    /// Keeps only the series for which `keep(values, value)` is true: for
    /// instance those of rooms still open, or those whose value is not 0.
    /// `keep` runs with the family's lock held: it must not look up, remove
    /// or scrape this family (that would wait on the lock for ever).
    ///
    /// ```
    /// use nanometrics::{Counter, Family, Value};
    /// let f: Family<Counter, 1> = Family::new("sent_total", "", ["app"]);
    /// f.with(["a"]).inc();
    /// f.with(["b"]);
    /// f.retain(|_, v| !matches!(v, Value::Counter(0)));
    /// assert_eq!(f.len(), 1);
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&[&str; N], Value<'_>) -> bool) {
        let mut w = lock(&self.writer);
        let table = self.table();
        let mut i = 0;
        while let Some(&e) = w.order.get(i) {
            // SAFETY: a live entry; under the lock nothing rewrites it.
            let values = unsafe { Entry::values(e) };
            // SAFETY: as above.
            let index = unsafe { (*e).word.load(Ordering::Relaxed) } as u32;
            if keep(&values, K::value(Some(index), &self.config)) {
                i += 1;
                continue;
            }
            if let Some((slot, found)) = table.find_entry(&table.key(&values)) {
                debug_assert_eq!(found, e);
                table.unlink(slot, self.sentinels.tombstone);
                w.tombstones += 1;
            }
            // `retire` moves the last entry to place `i`: look at it next.
            self.retire(&mut w, e);
        }
    }

    /// Gives every entry in the scrape order its idle-expiry state: `seen`
    /// is shorter only in a family that was given its timeout after it had
    /// series, whose entries then start their idle time now.
    pub(super) fn sync_seen(w: &mut Writer<N>) {
        if w.seen.len() < w.order.len() {
            w.seen.resize(w.order.len(), (0, u64::MAX));
        }
    }

    /// Takes the live entry `e`, already out of the table, out of the scrape
    /// order: a new generation (handles drop their updates from now on),
    /// its cells back to the shard table, the entry to the pool.
    fn retire(&self, w: &mut Writer<N>, e: *mut Entry<N>) {
        // SAFETY: a live entry of this family; we hold the lock.
        let (word, pos) = unsafe { ((*e).word.load(Ordering::Relaxed), (*e).pos.get()) };
        // Odd generation, no index (Release: see `table.rs`).
        let retired = word_of(generation(word).wrapping_add(1), RETIRED);
        // SAFETY: as above.
        unsafe { (*e).word.store(retired, Ordering::Release) };
        if self.idle.is_some() {
            Self::sync_seen(w);
            w.seen.swap_remove(pos as usize);
        }
        w.order.swap_remove(pos as usize);
        if let Some(&moved) = w.order.get(pos as usize) {
            // SAFETY: a live entry of this family; we hold the lock.
            unsafe { (*moved).pos.set(pos) };
        }
        global_shards().retire_cells(word as u32, K::cells(&self.config));
        w.pool.retire_entry(e, generation(retired));
        if w.order.len() < self.limit {
            self.full.store(false, Ordering::Release);
        }
    }
}
