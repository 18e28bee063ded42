//! Gauges: values that go up and down.

use std::marker::PhantomData;

use crate::label::LabelSet;
use crate::metric::{unix_now, Kind, Meta, Value};
use crate::shard::{self, add_f64_atomic, global_shards, Cells, Series};
use crate::sync::{loom_const_fn, Ordering};

/// An integer gauge, optionally over a compile-time label set `L`.
///
/// `inc`/`dec`/`add`/`sub` land in this thread's shard like counter updates,
/// so a gauge of connected sockets scales with cores. `set` stores a base in
/// the shared home slot so that base + Σ shard deltas equals the new value;
/// an `add` racing with a `set` counts as after it. Arithmetic wraps.
///
/// ```
/// use nanometrics::Gauge;
/// static CONNECTED: Gauge = Gauge::new("connected", "The number of currently connected sockets.");
/// CONNECTED.inc();
/// CONNECTED.inc();
/// CONNECTED.dec();
/// assert_eq!(CONNECTED.get(), 1);
/// CONNECTED.set(-5);
/// CONNECTED.add(2);
/// assert_eq!(CONNECTED.get(), -3);
/// ```
pub struct Gauge<L: LabelSet = ()> {
    meta: Meta,
    cells: Cells,
    _labels: PhantomData<fn(L) -> L>,
}

impl<L: LabelSet> Gauge<L> {
    loom_const_fn! {
        /// A gauge named `name`; panics (a compile error in a `static`) if the
        /// name is invalid.
        pub const fn labeled(name: &'static str, help: &'static str) -> Self {
            Self::labeled_from_meta(Meta::new(name, help))
        }
    }

    loom_const_fn! {
        /// A gauge described by `meta`.
        pub const fn labeled_from_meta(meta: Meta) -> Self {
            Self { meta, cells: Cells::new(L::CARDINALITY as u32), _labels: PhantomData }
        }
    }

    /// The series for `labels`.
    #[inline]
    pub fn with(&self, labels: L) -> GaugeRef<'_> {
        GaugeRef {
            series: self
                .cells
                .series(labels.index() as u32, shard::lazy_fits(L::CARDINALITY)),
        }
    }
}

impl Gauge {
    loom_const_fn! {
        /// An unlabeled metric named `name`; panics (a compile error in a
        /// `static`) if the name is invalid. Use [`labeled`](Self::labeled) for
        /// a compile-time label set.
        pub const fn new(name: &'static str, help: &'static str) -> Self {
            Self::labeled_from_meta(Meta::new(name, help))
        }
    }

    loom_const_fn! {
        /// An unlabeled metric described by `meta` (see [`Meta::try_new`] for
        /// run-time names, [`Meta::with_unit`] for a unit).
        pub const fn from_meta(meta: Meta) -> Self {
            Self::labeled_from_meta(meta)
        }
    }

    /// Sets the value.
    pub fn set(&self, v: i64) {
        if let Some(index) = self.cells.index() {
            set_at(index, v)
        }
    }
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1)
    }
    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1)
    }
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: i64) {
        // The stored index, allocated or not: the hot path's chunk test fails
        // on an unallocated one and its slow path allocates.
        shard::add_u64(self.cells.raw(), n as u64, Some(&self.cells))
    }
    /// Subtracts `n`.
    #[inline]
    pub fn sub(&self, n: i64) {
        self.add(n.wrapping_neg())
    }
    /// Sets the value to the current Unix time in whole seconds.
    pub fn set_to_current_time(&self) {
        self.with(()).set_to_current_time()
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.with(()).get()
    }
}

runtime_constructors!(Gauge, "connected", |h| h.set(3));
one_cell_metric!(Gauge, Kind::Gauge, (), |_none, i| {
    Value::Gauge(i.map_or(0, read_gauge))
});

pub(crate) fn read_gauge(index: u32) -> i64 {
    let shards = global_shards();
    shards
        .home()
        .load(index)
        .wrapping_add(shards.sum_u64(index)) as i64
}

/// Sets the gauge series at `index` to `v`: the home slot gets the base that
/// makes base + Σ slot deltas equal `v`.
#[inline(always)]
fn set_at(index: u32, v: i64) {
    let shards = global_shards();
    let deltas = shards.sum_u64(index);
    shards.home().store(index, (v as u64).wrapping_sub(deltas));
}

/// A handle to one integer gauge series.
#[derive(Clone, Copy, Debug)]
pub struct GaugeRef<'a> {
    series: Series<'a>,
}

impl<'a> GaugeRef<'a> {
    #[inline]
    pub(crate) fn new(series: Series<'a>) -> Self {
        Self { series }
    }
    /// Adds `n` (negative to subtract).
    #[inline]
    pub fn add(self, n: i64) {
        // No allocation test: an index without cells fails the hot path's
        // chunk test, and the slow path allocates them or drops the update.
        self.series.add_u64(n as u64)
    }
    /// Subtracts `n`.
    #[inline]
    pub fn sub(self, n: i64) {
        self.add(n.wrapping_neg())
    }
    /// Adds one.
    #[inline]
    pub fn inc(self) {
        self.add(1)
    }
    /// Subtracts one.
    #[inline]
    pub fn dec(self) {
        self.add(-1)
    }
    /// Sets the value.
    pub fn set(self, v: i64) {
        if let Some(index) = self.series.index() {
            set_at(index, v)
        }
    }
    /// Sets the value to the current Unix time in whole seconds.
    pub fn set_to_current_time(self) {
        self.set(unix_now() as i64)
    }
    /// The current value.
    pub fn get(self) -> i64 {
        self.series.allocated().map_or(0, read_gauge)
    }
}

/// A float gauge (load, bandwidth, a timestamp), optionally over a label set.
///
/// Its value lives in one atomic per series (the home slot): `set` is a
/// store, `add` a compare-exchange loop. Float gauges are set far more often
/// than added to, and a sharded float sum could not return exactly what was set.
///
/// ```
/// use nanometrics::GaugeF64;
/// static LOAD: GaugeF64 = GaugeF64::new("proxy_load", "Current load.");
/// LOAD.set(0.5);
/// LOAD.add(0.25);
/// assert_eq!(LOAD.get(), 0.75);
/// LOAD.set(f64::NAN);
/// assert!(LOAD.get().is_nan());
/// ```
pub struct GaugeF64<L: LabelSet = ()> {
    meta: Meta,
    cells: Cells,
    _labels: PhantomData<fn(L) -> L>,
}

impl<L: LabelSet> GaugeF64<L> {
    loom_const_fn! {
        /// A float gauge named `name`; panics (a compile error in a `static`)
        /// if the name is invalid.
        pub const fn labeled(name: &'static str, help: &'static str) -> Self {
            Self::labeled_from_meta(Meta::new(name, help))
        }
    }

    loom_const_fn! {
        /// A float gauge described by `meta`.
        pub const fn labeled_from_meta(meta: Meta) -> Self {
            Self { meta, cells: Cells::new(L::CARDINALITY as u32), _labels: PhantomData }
        }
    }

    /// The series for `labels`.
    #[inline]
    pub fn with(&self, labels: L) -> GaugeF64Ref<'_> {
        GaugeF64Ref::new(self.cells.resolved(labels.index() as u32))
    }
}

impl GaugeF64 {
    loom_const_fn! {
        /// An unlabeled metric named `name`; panics (a compile error in a
        /// `static`) if the name is invalid. Use [`labeled`](Self::labeled) for
        /// a compile-time label set.
        pub const fn new(name: &'static str, help: &'static str) -> Self {
            Self::labeled_from_meta(Meta::new(name, help))
        }
    }

    loom_const_fn! {
        /// An unlabeled metric described by `meta` (see [`Meta::try_new`] for
        /// run-time names, [`Meta::with_unit`] for a unit).
        pub const fn from_meta(meta: Meta) -> Self {
            Self::labeled_from_meta(meta)
        }
    }

    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.with(()).set(v)
    }
    /// Adds `v`.
    pub fn add(&self, v: f64) {
        self.with(()).add(v)
    }
    /// Subtracts `v`.
    pub fn sub(&self, v: f64) {
        self.with(()).add(-v)
    }
    /// Adds one.
    pub fn inc(&self) {
        self.with(()).add(1.0)
    }
    /// Subtracts one.
    pub fn dec(&self) {
        self.with(()).add(-1.0)
    }
    /// Sets the value to the current Unix time in seconds, with fraction.
    pub fn set_to_current_time(&self) {
        self.with(()).set_to_current_time()
    }
    /// The current value.
    pub fn get(&self) -> f64 {
        self.with(()).get()
    }
}

runtime_constructors!(GaugeF64, "load_ratio", |h| h.set(0.5));
one_cell_metric!(GaugeF64, Kind::Gauge, global_shards().home(), |home, i| {
    Value::GaugeF64(i.map_or(0.0, |i| f64::from_bits(home.load(i))))
});

/// A handle to one float gauge series.
#[derive(Clone, Copy, Debug)]
pub struct GaugeF64Ref<'a> {
    series: Series<'a>,
}

impl<'a> GaugeF64Ref<'a> {
    #[inline]
    pub(crate) fn new(series: Series<'a>) -> Self {
        Self { series }
    }

    /// The series' cell index, allocating the block of a lazily allocated
    /// series (a family's overflow series), for a caller that knows the
    /// series is never removed (the `metrics` facade's); `None` if it got
    /// no cells.
    #[cfg(feature = "metrics-facade")]
    pub(crate) fn allocated_index(self) -> Option<u32> {
        self.series.index()
    }
    /// Sets the value.
    pub fn set(self, v: f64) {
        if let Some(index) = self.series.index() {
            global_shards().home().store(index, v.to_bits());
        }
    }
    /// Adds `v`.
    pub fn add(self, v: f64) {
        if let Some(index) = self.series.index() {
            add_f64_atomic(global_shards().home().cell(index), v);
        }
    }
    /// Subtracts `v`.
    pub fn sub(self, v: f64) {
        self.add(-v)
    }
    /// Sets the value to the current Unix time in seconds, with fraction.
    pub fn set_to_current_time(self) {
        self.set(unix_now())
    }
    /// The current value.
    pub fn get(self) -> f64 {
        self.series.allocated().map_or(0.0, read_gauge_f64)
    }
}

/// The float gauge series at `index`.
pub(crate) fn read_gauge_f64(index: u32) -> f64 {
    f64::from_bits(global_shards().home().cell(index).load(Ordering::Relaxed))
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;

    #[test]
    fn negative_values_and_wrapping() {
        let g: Gauge = Gauge::new("g", "");
        g.sub(10);
        assert_eq!(g.get(), -10);
        g.set(i64::MAX);
        g.inc();
        assert_eq!(g.get(), i64::MIN);
        g.set(i64::MIN);
        assert_eq!(g.get(), i64::MIN);
    }

    /// Iterations per thread: fewer under Miri, which interprets every access.
    const PER_THREAD: i64 = if cfg!(miri) { 50 } else { 1000 };

    #[test]
    fn set_then_concurrent_adds() {
        let g: Gauge = Gauge::new("g2", "");
        g.set(100);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..PER_THREAD {
                        g.inc();
                        g.inc();
                        g.dec();
                    }
                });
            }
        });
        assert_eq!(g.get(), 100 + 4 * PER_THREAD);
        g.set(7);
        assert_eq!(g.get(), 7);
    }

    #[test]
    fn f64_gauge_concurrent_adds() {
        let g: GaugeF64 = GaugeF64::new("gf", "");
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..PER_THREAD {
                        g.add(0.5);
                    }
                });
            }
        });
        assert_eq!(g.get(), 0.5 * (4 * PER_THREAD) as f64);
        g.set(f64::NEG_INFINITY);
        assert_eq!(g.get(), f64::NEG_INFINITY);
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads the wall clock, which Miri's isolation refuses")]
    fn set_to_current_time() {
        let g: GaugeF64 = GaugeF64::new("gf_time", "");
        g.set_to_current_time();
        assert!(g.get() > 1.6e9);
        let t: Gauge = Gauge::new("t", "");
        t.set_to_current_time();
        assert!(t.get() > 1_600_000_000);
    }
}
