//! Families: series keyed by label values known only at run time.
//!
//! A lookup that finds its series takes no lock and writes nothing shared: it
//! hashes the values (foldhash's mixing, randomly seeded per family), probes
//! an insert-only open-addressing table of pointers with `Acquire` loads,
//! compares the values as words against the series' entry (one allocation
//! holding the hash, the cell index and the values), and returns a handle the
//! caller may keep. The usual hit, every value at most 7 bytes, is one jump on
//! the values' lengths to read them into words, one multiply, one slot's load
//! and one compare per value: a family always has a table (a shared empty one
//! at first) and an empty slot points to an entry that matches nothing
//! (rather than holding null), so neither is tested before the compare.
//! A miss takes the family's mutex, inserts, and when the table is half full
//! (live entries and tombstones) publishes a rebuilt one, twice the size if
//! the live entries need it.
//!
//! Series can be removed ([`Family::remove`], [`Family::clear`],
//! [`Family::retain`]) while other threads look them up and update them:
//! removal takes the mutex, leaves a tombstone in the series' slot, gives
//! the entry a new generation (so every handle to it drops its updates from
//! then on, see [`Series`]) and its cells back to the shard table, which
//! keeps them out of reuse for a grace period (see
//! [`Shards::free_cells`](crate::shard::Shards::free_cells)). Entries and
//! tables are reused, never freed, while the family lives, so a lookup racing
//! a removal reads allocated memory and checks what it read (see
//! `table.rs`); what the family holds is bounded by its peak.
//!
//! The cardinality limit bounds memory whatever label values arrive: past it,
//! and for any value longer than the value-length limit, lookups return one
//! overflow series whose labels all read [`OVERFLOW_VALUE`], and the family's
//! overflow counter (exported as `nanometrics_label_overflow_total`) grows.
//! A lookup of those very labels returns the overflow series too (without
//! counting an overflow), so no family ever exposes two series with the same
//! labels.
//!
//! This module holds the public API ([`Family`], the limits), lookups and
//! inserts; `kind` the [`FamilyKind`]s a family holds, `removal` removal and
//! idle expiry, `key` turns label values into words and hashes, `table`
//! holds the entries and the lock-free table they are found in, and `pool`
//! the entries and tables kept for reuse.

use std::borrow::Cow;
use std::ptr::{self, NonNull};
use std::time::{Duration, Instant};

use crate::label::check_label_names;
use crate::metric::{Histogram, Kind, Meta, Metric, UniqueSeries, Value, Visitor};
use crate::shard::{global_shards, Cells, Series};
use crate::sync::{lock, loom_const_fn, ptr_get_mut, AtomicBool, AtomicPtr, Mutex, Ordering};
use crate::Error;

mod key;
mod kind;
mod pool;
mod removal;
mod table;

use key::{compact_words, short_words, Seeds, COMPACT, SHORT};
pub use kind::FamilyKind;
use kind::{SUM_F64, SUM_U64};
use pool::Pool;
use table::{generation, word_of, Entry, Head, Sentinels, Table};

/// The label value of every label on a family's overflow series.
pub const OVERFLOW_VALUE: &str = "__overflow__";

/// Default bound on a family's distinct label-value sets.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 10_000;

/// Default bound on the length in bytes of one label value.
pub const DEFAULT_MAX_VALUE_LEN: usize = 1024;

/// What only the thread holding the family's lock touches.
struct Writer<const N: usize> {
    /// The live entries: the scrape order (each entry's `pos` is its place).
    order: Vec<*mut Entry<N>>,
    /// Idle expiry, in a family that has it, for the entry at the same place
    /// in `order`: the value last seen, and since when (milliseconds since
    /// `epoch`; `u64::MAX` before the first sweep). Kept here rather than
    /// in the entries, so that series of families without expiry do not
    /// carry it.
    seen: Vec<(u64, u64)>,
    /// Tombstones in the current table.
    tombstones: usize,
    /// The time idle expiry measures from (its first sweep).
    epoch: Option<Instant>,
    /// Removed entries and replaced tables, kept for reuse.
    pool: Pool<N>,
}

// SAFETY: the raw pointers in `Writer` are owned allocations (entries and
// tables) only dereferenced under the family mutex or through `&Family`; they
// carry no thread affinity.
unsafe impl<const N: usize> Send for Writer<N> {}

/// A metric family whose `N` label values are known only at run time
/// (`app_id`, `backend`, `room`).
///
/// ```
/// use nanometrics::{Counter, Family};
/// static SENT: Family<Counter, 2> =
///     Family::new("messages_sent_total", "Messages sent.", ["app_id", "channel_type"]);
/// let handle = SENT.with(["app-1", "public"]); // keep it: later updates skip the lookup
/// handle.inc();
/// SENT.with(["app-1", "public"]).inc_by(2);
/// assert_eq!(handle.get(), 3);
/// assert_eq!(SENT.len(), 1);
/// ```
///
/// Past the cardinality limit every new value set shares one overflow series:
///
/// ```
/// use nanometrics::{Gauge, Family, OVERFLOW_VALUE};
/// let rooms: Family<Gauge, 1> = Family::new("room_sessions", "Sessions per room.", ["room"]).with_limit(2);
/// rooms.with(["a"]).inc();
/// rooms.with(["b"]).inc();
/// rooms.with(["c"]).inc();
/// rooms.with(["d"]).inc();
/// assert_eq!(rooms.len(), 2);
/// // "c" and "d" went to the series labelled room="__overflow__", as does "e":
/// assert_eq!(rooms.with(["e"]).get(), 2);
/// assert_eq!(OVERFLOW_VALUE, "__overflow__");
/// assert_eq!(rooms.overflowed(), 3);
/// ```
pub struct Family<K: FamilyKind, const N: usize> {
    meta: Meta,
    label_names: [&'static str; N],
    config: K::Config,
    limit: usize,
    max_value_len: usize,
    /// Series whose value stays the same this long are removed.
    idle: Option<Duration>,
    table: AtomicPtr<Head>,
    full: AtomicBool,
    /// The overflow series' block, allocated on first use.
    overflow: AtomicPtr<Cells>,
    overflow_count: Cells,
    sentinels: Sentinels<N>,
    writer: Mutex<Writer<N>>,
}

impl<K: FamilyKind<Config = ()>, const N: usize> Family<K, N> {
    loom_const_fn! {
        /// A family with the given label names; panics (a compile error in a
        /// `static`) on an invalid or repeated name.
        pub const fn new(name: &'static str, help: &'static str, label_names: [&'static str; N]) -> Self {
            Self::build(Meta::new(name, help), label_names, ())
        }
    }
}

impl<const N: usize> Family<Histogram, N> {
    loom_const_fn! {
        /// A histogram family with the given bucket bounds.
        ///
        /// ```
        /// use nanometrics::{Family, Histogram, DEFAULT_BUCKETS};
        /// static DURATION: Family<Histogram, 2> = Family::histogram(
        ///     "http_request_duration_seconds", "HTTP request duration.",
        ///     ["method", "endpoint"], &DEFAULT_BUCKETS);
        /// DURATION.with(["POST", "/events"]).observe(0.02);
        /// assert_eq!(DURATION.with(["POST", "/events"]).count(), 1);
        /// ```
        pub const fn histogram(
            name: &'static str,
            help: &'static str,
            label_names: [&'static str; N],
            bounds: &'static [f64],
        ) -> Self {
            assert!(crate::metric::histogram::valid_bounds(bounds), "histogram bounds must be finite and strictly increasing");
            Self::build(Meta::new(name, help), label_names, Cow::Borrowed(bounds))
        }
    }
}

impl<K: FamilyKind, const N: usize> Family<K, N> {
    loom_const_fn! {
        const fn build(meta: Meta, label_names: [&'static str; N], config: K::Config) -> Self {
            assert!(
                crate::name::valid_label_names(&label_names, K::RESERVED_LABEL),
                "invalid, reserved or repeated label name"
            );
            let sentinels = Sentinels::new();
            Self {
                meta,
                label_names,
                config,
                limit: DEFAULT_CARDINALITY_LIMIT,
                max_value_len: DEFAULT_MAX_VALUE_LEN,
                idle: None,
                table: AtomicPtr::new(Table::<N>::empty(sentinels)),
                full: AtomicBool::new(false),
                overflow: AtomicPtr::new(ptr::null_mut()),
                overflow_count: Cells::new(1),
                sentinels,
                writer: Mutex::new(Writer {
                    order: Vec::new(),
                    seen: Vec::new(),
                    tombstones: 0,
                    epoch: None,
                    pool: Pool::new(),
                }),
            }
        }
    }

    /// A family described at run time (names from configuration): the
    /// run-time form of [`new`](Self::new) and [`histogram`](Self::histogram),
    /// with an [`Error`] where those panic. Build `meta` with
    /// [`Meta::try_new`] or [`Meta::try_with_unit`]; `config` is `()`, or a
    /// histogram family's bounds (checked as [`Histogram::try_new`] checks
    /// them). The label names stay `&'static str`: the encoder recognises
    /// them by address to check them once per family rather than per series.
    ///
    /// ```
    /// use nanometrics::{Counter, Family, Meta};
    /// let f = Family::<Counter, 1>::try_new(Meta::try_new("x_total", "").unwrap(), ["le"], ()).unwrap();
    /// f.with(["0.5"]).inc();
    /// assert!(Family::<Counter, 1>::try_new(Meta::new("y_total", ""), ["__bad"], ()).is_err());
    /// ```
    ///
    /// A histogram family with its name and bounds from configuration:
    ///
    /// ```
    /// use nanometrics::{Error, Family, Histogram, Meta};
    /// let prefix = "sockudo"; // from configuration
    /// let bounds: Vec<f64> = "0.001 0.01 0.1".split(' ').map(|b| b.parse().unwrap()).collect();
    /// let meta = Meta::try_new(format!("{prefix}_http_request_seconds"), "HTTP latency.")?;
    /// let f = Family::<Histogram, 1>::try_new(meta, ["endpoint"], bounds.into())?;
    /// f.with(["/events"]).observe(0.02);
    /// let bad = Family::<Histogram, 1>::try_new(Meta::new("h", ""), ["endpoint"], vec![1.0, 0.5].into());
    /// assert!(matches!(bad, Err(Error::InvalidBuckets { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_new(
        meta: Meta,
        label_names: [&'static str; N],
        config: K::Config,
    ) -> Result<Self, Error> {
        meta.check()?;
        K::check_config(meta.name(), &config)?;
        let mut names = label_names.iter().copied();
        check_label_names(
            meta.name(),
            &mut |f| names.by_ref().for_each(&mut *f),
            K::RESERVED_LABEL,
        )?;
        Ok(Self::build(meta, label_names, config))
    }

    loom_const_fn! {
        /// Sets the cardinality limit (at least 1).
        pub const fn with_limit(mut self, limit: usize) -> Self {
            self.limit = if limit == 0 { 1 } else { limit };
            self
        }
    }

    loom_const_fn! {
        /// Sets the longest label value, in bytes, that gets its own series.
        pub const fn with_max_value_len(mut self, len: usize) -> Self {
            self.max_value_len = len;
            self
        }
    }

    loom_const_fn! {
        /// Removes a series once its value has stayed the same for
        /// `timeout`, judged at each scrape of the family and at each
        /// [`expire_idle`](Self::expire_idle) call (for a process that is not
        /// scraped, such as one that pushes): no work on the update path.
        ///
        /// Idle means: for a counter, no increment (its total unchanged);
        /// for a gauge, the same value (a gauge that holds a steady non-zero
        /// value expires too, so use this for series that stop changing
        /// when they are done, such as per-app or per-room ones); for a
        /// histogram, no observation. The time runs from the first scrape or
        /// sweep that saw the current value, so a series expires between
        /// `timeout` and `timeout` plus one scrape interval after its last
        /// change. An expired series is removed as by
        /// [`remove`](Self::remove): its handles drop their updates, and a
        /// later lookup of its labels starts it again from zero (a counter
        /// reset, which Prometheus' `rate()` handles). Look series up rather
        /// than keep their handles in a family with idle expiry.
        ///
        /// ```
        /// use std::time::Duration;
        /// use nanometrics::{Counter, Family};
        /// static SENT: Family<Counter, 1> = Family::new("sent_total", "", ["app_id"])
        ///     .with_idle_timeout(Duration::from_secs(600));
        /// SENT.with(["app-1"]).inc();
        /// assert_eq!(SENT.expire_idle(), 0); // seen now; gone after 10 idle minutes
        /// ```
        pub const fn with_idle_timeout(mut self, timeout: Duration) -> Self {
            self.idle = Some(timeout);
            self
        }
    }

    /// The label names.
    pub fn label_names(&self) -> &[&'static str; N] {
        &self.label_names
    }

    /// The series for `values`, created on first use. A hit takes no lock.
    ///
    /// The handle stays valid until the series is removed
    /// ([`remove`](Self::remove), [`clear`](Self::clear),
    /// [`retain`](Self::retain)); from then on its updates are dropped and
    /// its reads return zero, even once the same labels are looked up again
    /// (which makes a new series, starting from zero): look the series up
    /// again rather than keep a handle across a removal.
    #[inline]
    pub fn with(&self, values: [&str; N]) -> K::Ref<'_> {
        // Inline down to the probe for compact keys (every value at most 7
        // bytes: one word each); other keys go out of line. Past the words,
        // nothing on this path needs `values` again (a miss rebuilds them
        // from the words), so they are not kept in memory or registers.
        let Some(words) = compact_words(&values) else {
            // Out of line, without a hop through a dispatcher's frame.
            let series = if values.iter().any(|v| v.len() > SHORT) {
                self.series_long(values)
            } else {
                self.series_short(values)
            };
            return K::make_ref(series, &self.config);
        };
        if let Some((e, w)) = self.table().find_compact(&words) {
            return K::make_ref(Self::checked(e, w), &self.config);
        }
        K::make_ref(self.series_compact_miss(words), &self.config)
    }

    /// The handle's series for entry `e`, whose word read `w`.
    #[inline(always)]
    fn checked<'a>(e: *mut Entry<N>, w: u64) -> Series<'a> {
        // SAFETY: `e` is an entry of this family (found in its table, so not
        // null), whose word is its first field (`#[repr(C)]`); its memory
        // lives until `Family::drop`, which `'a` (a borrow of the family)
        // precedes.
        unsafe { Series::family(NonNull::new_unchecked(e).cast(), w) }
    }

    /// The current table.
    #[inline(always)]
    fn table(&self) -> Table<'_, N> {
        // Acquire pairs with the Release store in `rebuild`: the table's
        // header and slots are initialised before we read them.
        let t = self.table.load(Ordering::Acquire);
        // SAFETY: a family's tables are `Table::empty` or allocated by
        // `rebuild`, and freed only in `Family::drop` (replaced ones are
        // pooled, not freed), so `t` outlives `&self`.
        unsafe { Table::at(t) }
    }

    /// The series for [`with`](Self::with) of short keys, every value at most 15 bytes and
    /// one more than 7: the same kind of path as compact keys, two words per
    /// value.
    #[inline(never)]
    fn series_short(&self, values: [&str; N]) -> Series<'_> {
        let mut words = [[0; 2]; N];
        for (w, v) in words.iter_mut().zip(&values) {
            // Every value has at most `SHORT` bytes (above).
            *w = short_words(v.as_bytes()).unwrap_or([0, 0]);
        }
        if let Some((e, w)) = self.table().find_short(&words) {
            return Self::checked(e, w);
        }
        self.series_slow(&values)
    }

    /// The series for [`with`](Self::with) of keys with a value longer than 15 bytes.
    #[inline(never)]
    fn series_long(&self, values: [&str; N]) -> Series<'_> {
        if let Some((e, w)) = self.table().find_long(&values) {
            return Self::checked(e, w);
        }
        self.series_slow(&values)
    }

    /// The series for [`with`](Self::with) after a compact key missed: the values, rebuilt
    /// from their [`compact_word`](key::compact_word)s, go to the slow path.
    #[cold]
    #[inline(never)]
    fn series_compact_miss(&self, words: [u64; N]) -> Series<'_> {
        let bytes = words.map(u64::to_le_bytes);
        let mut values = [""; N];
        for ((v, b), w) in values.iter_mut().zip(&bytes).zip(words) {
            // The top set bit is the marker in the byte at the value's
            // length (at most 7: `min` only spares a bounds check); the bytes
            // before it are the value's.
            let len = w.checked_ilog2().map_or(0, |bit| bit as usize / 8);
            match std::str::from_utf8(&b[..len.min(COMPACT)]) {
                Ok(s) => *v = s,
                // Unreachable: the bytes were copied from a `&str`.
                Err(_) => return self.overflow_index(),
            }
        }
        self.series_slow(&values)
    }

    #[cold]
    #[inline(never)]
    fn series_slow(&self, values: &[&str; N]) -> Series<'_> {
        // The overflow series' own labels name the overflow series: a real
        // entry with them would be a second series with the same labels.
        if N > 0 && values.iter().all(|v| *v == OVERFLOW_VALUE) {
            return self.overflow_series();
        }
        if values.iter().any(|v| v.len() > self.max_value_len) {
            return self.overflow_index();
        }
        // Acquire pairs with the Release store of `full` after the last
        // insert: a thread that sees the family full also sees every entry,
        // including one another thread inserted for these very values between
        // our miss and now, so look again before overflowing.
        if self.full.load(Ordering::Acquire) {
            let table = self.table();
            if let Some(w) = table.find(&table.key(values)) {
                return Self::checked(w.0, w.1);
            }
            return self.overflow_index();
        }
        match self.insert(values) {
            Some((e, w)) => Self::checked(e, w),
            None => self.overflow_index(),
        }
    }

    /// The entry for `values`, inserted unless present; `None` when the
    /// family is full or the shard table out of cells.
    fn insert(&self, values: &[&str; N]) -> Option<(*mut Entry<N>, u64)> {
        let mut w = lock(&self.writer);
        let table = self.table();
        // SAFETY: `table` is this family's current table, live until
        // `Family::drop`.
        let empty = unsafe { Table::<N>::is_empty(table.ptr) };
        if !empty {
            if let Some((_, e)) = table.find_entry(&table.key(values)) {
                // SAFETY: a live entry; under the lock its word is stable.
                return Some((e, unsafe { (*e).word.load(Ordering::Relaxed) }));
            }
        }
        if w.order.len() >= self.limit {
            self.full.store(true, Ordering::Release);
            return None;
        }
        let key_len = Entry::<N>::key_len(values)?;
        // At most half of a table's slots taken, tombstones included.
        let taken = w.order.len() + w.tombstones + 1;
        let table = if empty || taken * 2 > table.capacity() {
            self.rebuild(&mut w, table, empty)?
        } else {
            table
        };
        let index = global_shards().alloc_cells(K::cells(&self.config))?;
        let hash = table.key(values).hash;
        let e = w.pool.entry(key_len);
        // SAFETY: `e` is a pooled or new entry of this family, of a class
        // that holds `key_len` bytes of values; we hold the lock.
        let word = unsafe {
            Entry::fill(e, hash, values);
            let old = (*e).word.load(Ordering::Relaxed);
            // The next (even) generation, with the index: published after
            // the fill (Release; see `table.rs`).
            let word = word_of(generation(old).wrapping_add(1), index);
            (*e).word.store(word, Ordering::Release);
            (*e).pos.set(w.order.len() as u32);
            word
        };
        if self.idle.is_some() {
            Self::sync_seen(&mut w);
            w.seen.push((0, u64::MAX));
        }
        // SAFETY: `e` is a live entry of this family; the table has a
        // vacant slot (at most half full, above).
        if unsafe { table.place(e, hash, self.sentinels.tombstone) } {
            w.tombstones -= 1;
        }
        w.order.push(e);
        if w.order.len() >= self.limit {
            self.full.store(true, Ordering::Release);
        }
        Some((e, word))
    }

    /// Publishes a table holding the live entries and no tombstones, with
    /// room for one more entry: twice as large if they need it, else the
    /// same size; a pooled table of that size if there is one. The replaced
    /// table goes to the pool. `None` if a table that large cannot be
    /// allocated.
    fn rebuild<'a>(
        &'a self,
        w: &mut Writer<N>,
        old: Table<'a, N>,
        empty: bool,
    ) -> Option<Table<'a, N>> {
        // At most 3/8 full with the entry to come, so that removals and
        // inserts in turn (a removal leaves a tombstone) rebuild at most once
        // every eighth of the table's slots, the next rebuild coming at half
        // full; and never smaller than before (the pool keeps every size it
        // has had). A table that only grew is 3/16 to 1/2 full.
        let need = w.order.len() + 1;
        let old_cap = if empty { 0 } else { old.capacity() };
        let mut cap = (need * 2).next_power_of_two().max(16).max(old_cap);
        if need * 8 > cap * 3 {
            cap *= 2;
        }
        let seeds = if empty {
            Seeds::new()
        } else {
            old.head().seeds.clone()
        };
        let fresh = match w.pool.table(cap) {
            Some(t) => {
                // SAFETY: pooled tables are this family's, live until drop.
                let t = unsafe { Table::<N>::at(t) };
                t.vacate(self.sentinels.vacant);
                t.ptr.cast_mut()
            }
            None => Table::<N>::alloc(cap, seeds, self.sentinels.vacant)?,
        };
        // SAFETY: freed only in `Family::drop`, as every table of ours.
        let filled = unsafe { Table::at(fresh) };
        for &e in &w.order {
            // SAFETY: entries in `order` are live entries of this family,
            // and the table has room for them all (sized above).
            unsafe {
                let hash = Entry::hash(e);
                filled.place(e, hash, self.sentinels.tombstone);
            }
        }
        // Release publishes the filled table to `with`.
        self.table.store(fresh, Ordering::Release);
        if !empty {
            w.pool.retire_table(old.ptr.cast_mut(), old.capacity());
        }
        w.tombstones = 0;
        Some(filled)
    }

    /// The overflow series, counting the lookup as an overflow.
    fn overflow_index(&self) -> Series<'_> {
        if let Some(i) = self.overflow_count.index() {
            crate::shard::with_local(|s| s.add_u64(i, 1));
        }
        self.overflow_series()
    }

    /// The overflow series, its block allocated on first use.
    fn overflow_series(&self) -> Series<'_> {
        let mut p = self.overflow.load(Ordering::Acquire);
        if p.is_null() {
            let _w = lock(&self.writer);
            p = self.overflow.load(Ordering::Acquire);
            if p.is_null() {
                p = Box::into_raw(Box::new(Cells::new(K::cells(&self.config))));
                self.overflow.store(p, Ordering::Release);
            }
        }
        // SAFETY: the overflow block is freed only in `drop`.
        let cells = unsafe { &*p };
        // Lazy: a family's series fit in a chunk (a histogram's bounds are
        // capped), and the block is allocated at the first update.
        cells.series(0, true)
    }

    /// Number of live label-value sets (the overflow series excluded).
    pub fn len(&self) -> usize {
        lock(&self.writer).order.len()
    }

    /// Whether no series exists yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lookups sent to the overflow series so far.
    pub fn overflowed(&self) -> u64 {
        self.overflow_count
            .allocated()
            .map_or(0, |i| global_shards().sum_u64(i))
    }
}

impl<K: FamilyKind, const N: usize> Metric for Family<K, N> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        K::KIND
    }
    fn label_names(&self, f: &mut dyn FnMut(&str)) {
        self.label_names.iter().for_each(|n| f(n));
    }

    fn check(&self) -> Result<(), Error> {
        self.meta.check()?;
        let mut names = self.label_names.iter().copied();
        check_label_names(
            self.meta.name(),
            &mut |f| names.by_ref().for_each(&mut *f),
            K::RESERVED_LABEL,
        )
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.family(&self.meta, K::KIND);
        let mut w = lock(&self.writer);
        self.expire_locked(&mut w);
        let mut sums = global_shards().reader();
        let mut emit = |values: &[&str; N], index: Option<u32>| {
            let value = match (K::SUM, index) {
                (SUM_U64, Some(i)) => Value::Counter(sums.sum_u64(i)),
                (SUM_F64, Some(i)) => Value::CounterF64(sums.sum_f64(i)),
                _ => K::value(index, &self.config),
            };
            v.dynamic_series(&self.label_names, values, value);
        };
        for &e in &w.order {
            // SAFETY: a live entry; under the lock nothing rewrites it, and
            // entries live until `Family::drop`, which cannot run while
            // `&self` is borrowed.
            let (values, word) = unsafe { (Entry::values(e), (*e).word.load(Ordering::Relaxed)) };
            emit(&values, Some(word as u32));
        }
        let overflow = self.overflow.load(Ordering::Acquire);
        if !overflow.is_null() {
            // SAFETY: freed only in `drop`.
            let index = unsafe { (*overflow).allocated() };
            emit(&[OVERFLOW_VALUE; N], index);
        }
    }
    fn unique_series(&self) -> Option<UniqueSeries> {
        // Entries are inserted only under the writer lock after a miss on the
        // exact values, so no two entries have equal values; and a lookup of
        // all-`OVERFLOW_VALUE` labels returns the overflow series, so no
        // entry has the overflow series' values. With no labels (N = 0) the
        // one entry and the overflow series (reached when the shard table is
        // full) would both have none: that family keeps the check.
        (N > 0).then(UniqueSeries::new)
    }
    fn reserve(&self) -> bool {
        self.overflow_count.index().is_some()
    }
    fn overflowed(&self) -> Option<u64> {
        Some(Family::overflowed(self))
    }
}

impl<K: FamilyKind, const N: usize> Drop for Family<K, N> {
    fn drop(&mut self) {
        let w = match self.writer.get_mut() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        let len = K::cells(&self.config);
        for e in w.order.drain(..) {
            // SAFETY: a live entry; `&mut self` means no handle or reader
            // remains, so its cells and its block can go.
            unsafe {
                global_shards().free_cells((*e).word.load(Ordering::Relaxed) as u32, len);
                Entry::free(e);
            }
        }
        let overflow = ptr_get_mut(&mut self.overflow);
        if !overflow.is_null() {
            // SAFETY: from `Box::into_raw` in `overflow_series`, freed once.
            drop(unsafe { Box::from_raw(overflow) });
        }
        let current = ptr_get_mut(&mut self.table);
        // SAFETY: the pool's entries and tables are this family's, and
        // nothing refers to them any more (`&mut self`); `current` came from
        // `Table::alloc` or `Table::empty` and is freed once (`free` leaves
        // the shared `EMPTY` alone).
        unsafe {
            w.pool.free_all();
            Table::<N>::free(current);
        }
        #[cfg(nanometrics_loom)]
        // SAFETY: no table refers to them any more (all freed above).
        unsafe {
            self.sentinels.free()
        };
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod removal_tests;
#[cfg(all(test, not(nanometrics_loom)))]
mod tests;
