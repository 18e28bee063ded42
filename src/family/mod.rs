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
//! publishes a table twice the size; old tables stay allocated until the
//! family is dropped, so a reader still probing one never sees freed memory.
//! Series are never removed, so there is no reclamation protocol to get
//! wrong.
//!
//! The cardinality limit bounds memory whatever label values arrive: past it,
//! and for any value longer than the value-length limit, lookups return one
//! overflow series whose labels all read [`OVERFLOW_VALUE`], and the family's
//! overflow counter (exported as `nanometrics_label_overflow_total`) grows.
//! A lookup of those very labels returns the overflow series too (without
//! counting an overflow), so no family ever exposes two series with the same
//! labels.
//!
//! This module holds the public API ([`Family`], [`FamilyKind`], the limits);
//! `key` turns label values into words and hashes, and `table` holds the
//! entries and the lock-free table they are found in.

use std::borrow::Cow;
use std::ptr;

use crate::label::check_label_names;
use crate::metric::{
    Counter, CounterF64, CounterF64Ref, CounterRef, Gauge, GaugeF64, GaugeF64Ref, GaugeRef,
    Histogram, HistogramRef, HistogramView, Kind, Meta, Metric, UniqueSeries, Value, Visitor,
};
use crate::shard::{global_shards, Cells};
use crate::sync::{lock, loom_const_fn, ptr_get_mut, AtomicBool, AtomicPtr, Mutex, Ordering};
use crate::Error;

mod key;
mod table;

use key::{compact_words, short_words, Seeds, Shape, COMPACT, SHORT};
use table::{Entry, Head, Table};

/// The label value of every label on a family's overflow series.
pub const OVERFLOW_VALUE: &str = "__overflow__";

/// Default bound on a family's distinct label-value sets.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 10_000;

/// Default bound on the length in bytes of one label value.
pub const DEFAULT_MAX_VALUE_LEN: usize = 1024;

mod private {
    pub trait Sealed {}
}

/// The metric types a [`Family`] can hold: [`Counter`], [`CounterF64`],
/// [`Gauge`], [`GaugeF64`] and [`Histogram`]. Sealed.
pub trait FamilyKind: private::Sealed + 'static {
    /// The handle a lookup returns.
    type Ref<'a>: Copy;
    /// Per-family settings every series shares (histogram bounds).
    #[doc(hidden)]
    type Config: Send + Sync + 'static;
    #[doc(hidden)]
    const KIND: Kind;
    #[doc(hidden)]
    const RESERVED_LABEL: &'static str;
    #[doc(hidden)]
    fn cells(cfg: &Self::Config) -> u32;
    #[doc(hidden)]
    fn make_ref(index: Option<u32>, cfg: &Self::Config) -> Self::Ref<'_>;
    #[doc(hidden)]
    fn value(index: Option<u32>, cfg: &Self::Config) -> Value<'_>;
    /// Checks a configuration given at run time ([`Family::try_new`]).
    #[doc(hidden)]
    fn check_config(metric: &str, cfg: &Self::Config) -> Result<(), Error> {
        let _ = (metric, cfg);
        Ok(())
    }
    /// How a scrape reads a series' value: [`SUM_NONE`] through
    /// [`value`](Self::value), [`SUM_U64`] / [`SUM_F64`] as a
    /// `Value::Counter` / `Value::CounterF64` of the cell's sum, through a
    /// reader shared by the family's series.
    #[doc(hidden)]
    const SUM: u8 = SUM_NONE;
}

/// See [`FamilyKind::SUM`].
const SUM_NONE: u8 = 0;
const SUM_U64: u8 = 1;
const SUM_F64: u8 = 2;

macro_rules! scalar_kind {
    ($t:ty, $r:ident, $kind:expr, |$i:ident| $read:expr) => {
        scalar_kind!($t, $r, $kind, SUM_NONE, |$i| $read);
    };
    ($t:ty, $r:ident, $kind:expr, $sum:expr, |$i:ident| $read:expr) => {
        impl private::Sealed for $t {}
        impl FamilyKind for $t {
            type Ref<'a> = $r<'a>;
            type Config = ();
            const KIND: Kind = $kind;
            const RESERVED_LABEL: &'static str = "";
            const SUM: u8 = $sum;
            fn cells(_: &()) -> u32 {
                1
            }
            fn make_ref(index: Option<u32>, _: &()) -> $r<'_> {
                $r::at(index)
            }
            fn value(index: Option<u32>, _: &()) -> Value<'_> {
                let $i = index;
                $read
            }
        }
    };
}

scalar_kind!(Counter, CounterRef, Kind::Counter, SUM_U64, |i| {
    Value::Counter(i.map_or(0, |i| global_shards().sum_u64(i)))
});
scalar_kind!(CounterF64, CounterF64Ref, Kind::Counter, SUM_F64, |i| {
    Value::CounterF64(i.map_or(0.0, |i| global_shards().sum_f64(i)))
});
scalar_kind!(Gauge, GaugeRef, Kind::Gauge, |i| Value::Gauge(
    i.map_or(0, |i| GaugeRef::at(Some(i)).get())
));
scalar_kind!(GaugeF64, GaugeF64Ref, Kind::Gauge, |i| Value::GaugeF64(
    i.map_or(0.0, |i| GaugeF64Ref::at(Some(i)).get())
));

impl private::Sealed for Histogram {}
impl FamilyKind for Histogram {
    type Ref<'a> = HistogramRef<'a>;
    type Config = Cow<'static, [f64]>;
    const KIND: Kind = Kind::Histogram;
    const RESERVED_LABEL: &'static str = "le";
    fn cells(cfg: &Self::Config) -> u32 {
        cfg.len() as u32 + 2
    }
    fn make_ref(index: Option<u32>, cfg: &Self::Config) -> HistogramRef<'_> {
        HistogramRef::at(index, cfg)
    }
    fn value(index: Option<u32>, cfg: &Self::Config) -> Value<'_> {
        Value::Histogram(HistogramView::new(cfg, index, global_shards()))
    }
    fn check_config(metric: &str, cfg: &Self::Config) -> Result<(), Error> {
        crate::metric::histogram::check_bounds(metric, cfg)
    }
}

/// What only the inserting thread touches.
struct Writer<const N: usize> {
    /// Entries in insertion order: the scrape order.
    order: Vec<*mut Entry<N>>,
    /// Tables replaced by a larger one, kept for readers still probing them.
    retired: Vec<*mut Head>,
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
    table: AtomicPtr<Head>,
    full: AtomicBool,
    overflow: AtomicPtr<Entry<N>>,
    overflow_count: Cells,
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
            Self {
                meta,
                label_names,
                config,
                limit: DEFAULT_CARDINALITY_LIMIT,
                max_value_len: DEFAULT_MAX_VALUE_LEN,
                table: AtomicPtr::new(Table::<N>::empty()),
                full: AtomicBool::new(false),
                overflow: AtomicPtr::new(ptr::null_mut()),
                overflow_count: Cells::new(1),
                writer: Mutex::new(Writer { order: Vec::new(), retired: Vec::new() }),
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

    /// The label names.
    pub fn label_names(&self) -> &[&'static str; N] {
        &self.label_names
    }

    /// The series for `values`, created on first use. A hit takes no lock.
    #[inline]
    pub fn with(&self, values: [&str; N]) -> K::Ref<'_> {
        // Inline down to the probe for compact keys (every value at most 7
        // bytes: one word each); other keys go out of line. Past the words,
        // nothing on this path needs `values` again (a miss rebuilds them
        // from the words), so they are not kept in memory or registers.
        // The paths out of line return the index, and each handle is made
        // here: a handle that the code after it knows has no cells to
        // allocate.
        let Some(words) = compact_words(&values) else {
            // Out of line, without a hop through a dispatcher's frame.
            let index = if values.iter().any(|v| v.len() > SHORT) {
                self.index_long(values)
            } else {
                self.index_short(values)
            };
            return K::make_ref(index, &self.config);
        };
        if let Some(index) = self.table().find_compact(&words) {
            return K::make_ref(Some(index), &self.config);
        }
        K::make_ref(self.index_compact_miss(words), &self.config)
    }

    /// The current table.
    #[inline(always)]
    fn table(&self) -> Table<'_, N> {
        // Acquire pairs with the Release store in `insert`: the table's
        // header and slots are initialised before we read them.
        let t = self.table.load(Ordering::Acquire);
        // SAFETY: a family's tables are `Table::empty` or allocated by
        // `insert`, and freed only in `Family::drop` (replaced ones are
        // retired, not freed), so `t` outlives `&self`.
        unsafe { Table::at(t) }
    }

    /// The index for [`with`](Self::with) of short keys, every value at most 15 bytes and
    /// one more than 7: the same kind of path as compact keys, two words per
    /// value.
    #[inline(never)]
    fn index_short(&self, values: [&str; N]) -> Option<u32> {
        let mut words = [[0; 2]; N];
        for (w, v) in words.iter_mut().zip(&values) {
            // Every value has at most `SHORT` bytes (above).
            *w = short_words(v.as_bytes()).unwrap_or([0, 0]);
        }
        if let Some(index) = self.table().find_short(&words) {
            return Some(index);
        }
        self.index_slow(&values)
    }

    /// The index for [`with`](Self::with) of keys with a value longer than 15 bytes.
    #[inline(never)]
    fn index_long(&self, values: [&str; N]) -> Option<u32> {
        if let Some(index) = self.table().find_long(&values) {
            return Some(index);
        }
        self.index_slow(&values)
    }

    /// The index for [`with`](Self::with) after a compact key missed: the values, rebuilt
    /// from their [`compact_word`](key::compact_word)s, go to the slow path.
    #[cold]
    #[inline(never)]
    fn index_compact_miss(&self, words: [u64; N]) -> Option<u32> {
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
        self.index_slow(&values)
    }

    #[cold]
    #[inline(never)]
    fn index_slow(&self, values: &[&str; N]) -> Option<u32> {
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
            if let Some(index) = table.find(&table.key(values)) {
                return Some(index);
            }
            return self.overflow_index();
        }
        self.insert(values).or_else(|| self.overflow_index())
    }

    /// Inserts `values` unless present; `None` when the family is full.
    fn insert(&self, values: &[&str; N]) -> Option<u32> {
        let mut w = lock(&self.writer);
        let mut table = self.table();
        // Every table of a family but the empty one it starts with shares
        // its seeds, so a hash computed in the current table is the hash in
        // a grown one too.
        // SAFETY: `table` is this family's current table, live until
        // `Family::drop`.
        let empty = unsafe { Table::<N>::is_empty(table.ptr) };
        let mut hash = None;
        if !empty {
            let key = table.key(values);
            if let Some(index) = table.find(&key) {
                return Some(index);
            }
            hash = Some(key.hash);
        }
        if w.order.len() >= self.limit {
            self.full.store(true, Ordering::Release);
            return None;
        }
        // Grow (or create) so the table stays at most half full.
        let cap = if empty { 0 } else { table.capacity() };
        if (w.order.len() + 1) * 2 > cap {
            let seeds = if empty {
                Seeds::new()
            } else {
                table.head().seeds.clone()
            };
            let bigger = Table::<N>::alloc((cap * 2).max(16), seeds)?;
            // SAFETY: freed only in `Family::drop`, as every table of ours.
            let filled = unsafe { Table::at(bigger) };
            for &e in &w.order {
                // SAFETY: entries in `order` came from `Entry::new` and are
                // live until `Family::drop`, which frees this table too.
                unsafe { filled.place(e, (*e).hash) };
            }
            // Release publishes the filled table to `with`.
            self.table.store(bigger, Ordering::Release);
            w.retired.push(table.ptr.cast_mut());
            table = filled;
        }
        let hash = hash.unwrap_or_else(|| table.key(values).hash);
        let cells = Cells::new(K::cells(&self.config));
        let index = cells.index()?;
        let e = Entry::new(hash, values, cells, index)?;
        // SAFETY: `e` is a new entry, pushed to `order` below and so freed
        // only in `Family::drop`, with this table.
        unsafe { table.place(e, hash) };
        w.order.push(e);
        if w.order.len() >= self.limit {
            self.full.store(true, Ordering::Release);
        }
        Some(index)
    }

    /// The overflow series' index, counting the lookup as an overflow.
    fn overflow_index(&self) -> Option<u32> {
        if let Some(i) = self.overflow_count.index() {
            crate::shard::with_local(|s| s.add_u64(i, 1));
        }
        self.overflow_series()
    }

    /// The overflow series' index, the series created on first use.
    fn overflow_series(&self) -> Option<u32> {
        let mut p = self.overflow.load(Ordering::Acquire);
        if p.is_null() {
            let _w = lock(&self.writer);
            p = self.overflow.load(Ordering::Acquire);
            if p.is_null() {
                let cells = Cells::new(K::cells(&self.config));
                // Never placed in a table (lookups of its values are redirected
                // before they probe); its hash only names its layout's shape.
                let hash = Shape::of([OVERFLOW_VALUE.len()]).class();
                match Entry::new(hash, &[OVERFLOW_VALUE; N], cells, 0) {
                    Some(e) => p = e,
                    // Unreachable (the header and N short values fit), but
                    // with nothing to count on, hand out the dead handle.
                    None => return None,
                }
                self.overflow.store(p, Ordering::Release);
            }
        }
        // SAFETY: the overflow entry is freed only in `drop`.
        let cells = unsafe { &(*p).cells };
        cells.index()
    }

    /// Number of distinct label-value sets (the overflow series excluded).
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
        let w = lock(&self.writer);
        let overflow = self.overflow.load(Ordering::Acquire);
        let entries = w
            .order
            .iter()
            .copied()
            .chain((!overflow.is_null()).then_some(overflow));
        let mut sums = global_shards().reader();
        for e in entries {
            // SAFETY: entries live until `Family::drop`, which cannot run
            // while `&self` is borrowed.
            let (values, cells) = unsafe { (Entry::values(e), &(*e).cells) };
            let index = cells.allocated();
            let value = match (K::SUM, index) {
                (SUM_U64, Some(i)) => Value::Counter(sums.sum_u64(i)),
                (SUM_F64, Some(i)) => Value::CounterF64(sums.sum_f64(i)),
                _ => K::value(index, &self.config),
            };
            v.dynamic_series(&self.label_names, &values, value);
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
        let overflow = ptr_get_mut(&mut self.overflow);
        for e in w
            .order
            .drain(..)
            .chain((!overflow.is_null()).then_some(overflow))
        {
            // SAFETY: each entry came from `Entry::new` and is freed once;
            // `&mut self` means no handle or reader remains.
            unsafe { Entry::free(e) };
        }
        let current = ptr_get_mut(&mut self.table);
        for t in w.retired.drain(..).chain([current]) {
            // SAFETY: each table came from `Table::alloc` or
            // `Table::empty` and is freed once (`free` leaves the shared
            // `EMPTY` alone); `&mut self` means no lookup still probes it.
            unsafe { Table::<N>::free(t) };
        }
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests;
