//! Families: series keyed by label values known only at run time.
//!
//! A lookup that finds its series takes no lock and writes nothing shared: it
//! hashes the values (foldhash, randomly seeded per family), probes an
//! insert-only open-addressing table of pointers with `Acquire` loads, and
//! returns a handle the caller may keep. A miss takes the family's mutex,
//! inserts, and when the table is half full publishes a table twice the size;
//! old tables stay allocated until the family is dropped, so a reader still
//! probing one never sees freed memory. Series are never removed, so there is
//! no reclamation protocol to get wrong.
//!
//! The cardinality limit bounds memory whatever label values arrive: past it,
//! and for any value longer than the value-length limit, lookups return one
//! overflow series whose labels all read [`OVERFLOW_VALUE`], and the family's
//! overflow counter (exported as `nanometrics_label_overflow_total`) grows.
//! A lookup of those very labels returns the overflow series too (without
//! counting an overflow), so no family ever exposes two series with the same
//! labels.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};
use std::ptr;

use crate::label::{check_label_names, Labels};
use crate::metric::{
    Counter, CounterF64, CounterF64Ref, CounterRef, Gauge, GaugeF64, GaugeF64Ref, GaugeRef,
    Histogram, HistogramRef, HistogramView, Kind, Meta, Metric, UniqueSeries, Value, Visitor,
};
use crate::shard::Cells;
use crate::sync::{
    global_shards, lock, loom_const_fn, ptr_get_mut, AtomicBool, AtomicPtr, Mutex, Ordering,
};
use crate::Error;

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
}

macro_rules! scalar_kind {
    ($t:ty, $r:ident, $kind:expr, |$i:ident| $read:expr) => {
        impl private::Sealed for $t {}
        impl FamilyKind for $t {
            type Ref<'a> = $r<'a>;
            type Config = ();
            const KIND: Kind = $kind;
            const RESERVED_LABEL: &'static str = "";
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

scalar_kind!(Counter, CounterRef, Kind::Counter, |i| Value::Counter(
    i.map_or(0, |i| global_shards().sum_u64(i))
));
scalar_kind!(CounterF64, CounterF64Ref, Kind::Counter, |i| {
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
}

/// The table's hasher: randomly seeded per family (so label values chosen by a
/// client cannot be aimed at one probe sequence), fixed under loom, whose
/// replay of an execution needs every probe sequence to repeat exactly.
#[cfg(not(nanometrics_loom))]
type TableHasher = foldhash::fast::RandomState;
#[cfg(nanometrics_loom)]
type TableHasher = foldhash::fast::FixedState;

/// One series: its label values and its cells.
struct Entry {
    hash: u64,
    values: Box<[Box<str>]>,
    cells: Cells,
}

/// An insert-only open-addressing table of entry pointers.
struct Table {
    hasher: TableHasher,
    slots: Box<[AtomicPtr<Entry>]>,
}

impl Table {
    fn new(capacity: usize, hasher: TableHasher) -> Self {
        debug_assert!(capacity.is_power_of_two());
        Self {
            hasher,
            slots: (0..capacity)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
        }
    }

    #[inline]
    fn hash(&self, values: &[&str]) -> u64 {
        let mut h = self.hasher.build_hasher();
        for v in values {
            h.write(v.as_bytes());
            // 0xff never occurs in UTF-8: ("ab","c") and ("a","bc") differ.
            h.write_u8(0xff);
        }
        h.finish()
    }

    /// The entry for `values`, probing from `hash`.
    #[inline]
    fn find(&self, hash: u64, values: &[&str]) -> Option<&Entry> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        // At most half the slots are full, so the probe meets a null.
        for _ in 0..self.slots.len() {
            // Acquire pairs with the Release store in `place`: the entry's
            // fields are initialised before we read them.
            let p = self.slots.get(i)?.load(Ordering::Acquire);
            if p.is_null() {
                return None;
            }
            // SAFETY: non-null slots point to entries leaked from a Box in
            // `Family::insert`; entries are freed only in `Family::drop`, and
            // the table (borrowed from the family) cannot outlive it.
            let e = unsafe { &*p };
            if e.hash == hash && e.values.iter().map(|b| &**b).eq(values.iter().copied()) {
                return Some(e);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Stores `e` in the first free slot of its probe sequence (writer only).
    fn place(&self, e: *mut Entry, hash: u64) {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while let Some(slot) = self.slots.get(i) {
            if slot.load(Ordering::Relaxed).is_null() {
                // Release publishes the entry's initialised fields to `find`.
                slot.store(e, Ordering::Release);
                return;
            }
            i = (i + 1) & mask;
        }
    }
}

/// What only the inserting thread touches.
struct Writer {
    /// Entries in insertion order: the scrape order.
    order: Vec<*mut Entry>,
    /// Tables replaced by a larger one, kept for readers still probing them.
    retired: Vec<*mut Table>,
}

// SAFETY: the raw pointers in `Writer` are owned boxes (entries and tables)
// only dereferenced under the family mutex or through `&Family`; they carry no
// thread affinity.
unsafe impl Send for Writer {}

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
    table: AtomicPtr<Table>,
    full: AtomicBool,
    overflow: AtomicPtr<Entry>,
    overflow_count: Cells,
    writer: Mutex<Writer>,
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
                table: AtomicPtr::new(ptr::null_mut()),
                full: AtomicBool::new(false),
                overflow: AtomicPtr::new(ptr::null_mut()),
                overflow_count: Cells::new(1),
                writer: Mutex::new(Writer { order: Vec::new(), retired: Vec::new() }),
            }
        }
    }

    /// A family described at run time (names from configuration).
    ///
    /// ```
    /// use nanometrics::{Counter, Family, Meta};
    /// let f = Family::<Counter, 1>::try_new(Meta::try_new("x_total", "").unwrap(), ["le"], ()).unwrap();
    /// f.with(["0.5"]).inc();
    /// assert!(Family::<Counter, 1>::try_new(Meta::new("y_total", ""), ["__bad"], ()).is_err());
    /// ```
    pub fn try_new(
        meta: Meta,
        label_names: [&'static str; N],
        config: K::Config,
    ) -> Result<Self, Error> {
        meta.check()?;
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
        let t = self.table.load(Ordering::Acquire);
        if !t.is_null() {
            // SAFETY: tables are leaked boxes freed only in `Family::drop`
            // (replaced ones are retired, not freed), so `t` outlives `&self`.
            let table = unsafe { &*t };
            if let Some(e) = table.find(table.hash(&values), &values) {
                return K::make_ref(e.cells.allocated(), &self.config);
            }
        }
        self.with_slow(values)
    }

    #[cold]
    #[inline(never)]
    fn with_slow(&self, values: [&str; N]) -> K::Ref<'_> {
        // The overflow series' own labels name the overflow series: a real
        // entry with them would be a second series with the same labels.
        if N > 0 && values.iter().all(|v| *v == OVERFLOW_VALUE) {
            return self.overflow_series();
        }
        if values.iter().any(|v| v.len() > self.max_value_len) {
            return self.overflow_ref();
        }
        // Acquire pairs with the Release store of `full` after the last
        // insert: a thread that sees the family full also sees every entry,
        // including one another thread inserted for these very values between
        // our miss and now, so look again before overflowing.
        if self.full.load(Ordering::Acquire) {
            let t = self.table.load(Ordering::Acquire);
            if !t.is_null() {
                // SAFETY: as in `with`: tables live until `Family::drop`.
                let table = unsafe { &*t };
                if let Some(e) = table.find(table.hash(&values), &values) {
                    return K::make_ref(e.cells.allocated(), &self.config);
                }
            }
            return self.overflow_ref();
        }
        match self.insert(&values) {
            Some(index) => K::make_ref(Some(index), &self.config),
            None => self.overflow_ref(),
        }
    }

    /// Inserts `values` unless present; `None` when the family is full.
    fn insert(&self, values: &[&str; N]) -> Option<u32> {
        let mut w = lock(&self.writer);
        let mut t = self.table.load(Ordering::Acquire);
        if !t.is_null() {
            // SAFETY: as in `with`; we also hold the writer lock.
            let table = unsafe { &*t };
            if let Some(e) = table.find(table.hash(values), values) {
                return e.cells.allocated();
            }
        }
        if w.order.len() >= self.limit {
            self.full.store(true, Ordering::Release);
            return None;
        }
        // Grow (or create) so the table stays at most half full.
        let cap = if t.is_null() {
            0
        } else {
            // SAFETY: as above.
            unsafe { &*t }.slots.len()
        };
        if (w.order.len() + 1) * 2 > cap {
            let hasher = if t.is_null() {
                TableHasher::default()
            } else {
                // SAFETY: as above.
                unsafe { &*t }.hasher.clone()
            };
            let bigger = Table::new((cap * 2).max(16), hasher);
            for &e in &w.order {
                // SAFETY: entries in `order` are live until `Family::drop`.
                bigger.place(e, unsafe { &*e }.hash);
            }
            let bigger = Box::into_raw(Box::new(bigger));
            // Release publishes the filled table to `with`.
            self.table.store(bigger, Ordering::Release);
            if !t.is_null() {
                w.retired.push(t);
            }
            t = bigger;
        }
        // SAFETY: `t` is the live current table.
        let table = unsafe { &*t };
        let hash = table.hash(values);
        let entry = Entry {
            hash,
            values: values.iter().map(|v| Box::<str>::from(*v)).collect(),
            cells: Cells::new(K::cells(&self.config)),
        };
        let index = entry.cells.index()?;
        let e = Box::into_raw(Box::new(entry));
        table.place(e, hash);
        w.order.push(e);
        if w.order.len() >= self.limit {
            self.full.store(true, Ordering::Release);
        }
        Some(index)
    }

    /// The overflow series, counting the lookup as an overflow.
    fn overflow_ref(&self) -> K::Ref<'_> {
        if let Some(i) = self.overflow_count.index() {
            crate::shard::with_local(|s| s.add_u64(i, 1));
        }
        self.overflow_series()
    }

    /// The overflow series, created on first use.
    fn overflow_series(&self) -> K::Ref<'_> {
        let mut p = self.overflow.load(Ordering::Acquire);
        if p.is_null() {
            let _w = lock(&self.writer);
            p = self.overflow.load(Ordering::Acquire);
            if p.is_null() {
                let entry = Entry {
                    hash: 0,
                    values: (0..N).map(|_| Box::<str>::from(OVERFLOW_VALUE)).collect(),
                    cells: Cells::new(K::cells(&self.config)),
                };
                p = Box::into_raw(Box::new(entry));
                self.overflow.store(p, Ordering::Release);
            }
        }
        // SAFETY: the overflow entry is a leaked box freed only in `drop`.
        let e = unsafe { &*p };
        K::make_ref(e.cells.index(), &self.config)
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
        for e in entries {
            // SAFETY: entries live until `Family::drop`, which cannot run
            // while `&self` is borrowed.
            let e = unsafe { &*e };
            let labels = Labels::dynamic(&self.label_names, &e.values);
            v.series(&labels, K::value(e.cells.allocated(), &self.config));
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
            // SAFETY: each entry came from Box::into_raw and is freed once;
            // `&mut self` means no handle or reader remains.
            drop(unsafe { Box::from_raw(e) });
        }
        let current = ptr_get_mut(&mut self.table);
        for t in w
            .retired
            .drain(..)
            .chain((!current.is_null()).then_some(current))
        {
            // SAFETY: as above, for tables.
            drop(unsafe { Box::from_raw(t) });
        }
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;

    #[test]
    fn grows_and_finds_everything() {
        // Fewer under Miri (still four table replacements: 16 to 256 slots).
        const SERIES: u64 = if cfg!(miri) { 100 } else { 1000 };
        let f: Family<Counter, 2> = Family::new("grow_total", "", ["a", "b"]);
        for i in 0..SERIES {
            let s = i.to_string();
            f.with([&s, "x"]).inc_by(i);
        }
        assert_eq!(f.len(), SERIES as usize);
        for i in 0..SERIES {
            let s = i.to_string();
            assert_eq!(f.with([&s, "x"]).get(), i);
        }
        assert_eq!(f.overflowed(), 0);
    }

    #[test]
    fn separator_prevents_ambiguity() {
        let f: Family<Counter, 2> = Family::new("sep_total", "", ["a", "b"]);
        f.with(["ab", "c"]).inc();
        f.with(["a", "bc"]).inc();
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn the_overflow_labels_name_the_overflow_series() {
        let f: Family<Counter, 2> = Family::new("marker_total", "", ["a", "b"]).with_limit(1);
        f.with([OVERFLOW_VALUE, OVERFLOW_VALUE]).inc();
        f.with(["x", OVERFLOW_VALUE]).inc();
        f.with(["y", "y"]).inc();
        assert_eq!(f.len(), 1, "only (x, marker) is a real entry");
        assert_eq!(f.overflowed(), 1, "only (y, y) overflowed");
        assert_eq!(f.with([OVERFLOW_VALUE, OVERFLOW_VALUE]).get(), 2);
        let mut v = crate::registry::tests::Collect::default();
        f.visit(&mut v);
        assert_eq!(
            v.series.len(),
            2,
            "one series per label set: {:?}",
            v.series
        );
    }

    #[test]
    fn long_values_overflow() {
        let f: Family<Counter, 1> = Family::new("long_total", "", ["a"]).with_max_value_len(4);
        f.with(["abcd"]).inc();
        f.with(["abcde"]).inc();
        assert_eq!(f.len(), 1);
        assert_eq!(f.overflowed(), 1);
    }

    #[test]
    fn concurrent_inserts_of_the_same_values_make_one_series() {
        // Passes over the 100 values per thread: one under Miri.
        const ROUNDS: usize = if cfg!(miri) { 1 } else { 2 };
        let f: Family<Counter, 1> = Family::new("race_total", "", ["app_id"]).with_limit(64);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..100 * ROUNDS {
                        f.with([&(i % 100).to_string()]).inc();
                    }
                });
            }
        });
        // 100 distinct values, limit 64: 64 series, the rest overflowed.
        assert_eq!(f.len(), 64);
        let mut total = 0.0;
        let mut v = crate::registry::tests::Collect::default();
        f.visit(&mut v);
        for (_, val) in &v.series {
            total += val;
        }
        assert_eq!(total, (4 * 100 * ROUNDS) as f64, "no update lost");
        assert_eq!(f.overflowed(), 4 * ROUNDS as u64 * 36);
    }

    #[test]
    fn histogram_family() {
        let f: Family<Histogram, 1> = Family::histogram("h_seconds", "", ["m"], &[1.0]);
        f.with(["GET"]).observe(0.5);
        f.with(["GET"]).observe(5.0);
        assert_eq!(f.with(["GET"]).read(), (vec![1, 2], 2, 5.5));
        let r: Result<Family<Histogram, 1>, _> =
            Family::try_new(Meta::new("x", ""), ["le"], Cow::Borrowed(&[1.0][..]));
        assert!(r.is_err());
    }
}
