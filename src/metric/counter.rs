//! Counters: monotonically increasing totals.

use std::marker::PhantomData;

use crate::label::LabelSet;
use crate::metric::exemplar::Exemplars;
use crate::metric::{Kind, Meta, Value};
use crate::shard::{self, global_shards, Cells, Series};
use crate::sync::loom_const_fn;
use crate::Error;

/// An integer counter, optionally over a compile-time label set `L`.
///
/// `inc` is a single-writer add into this thread's shard (no `lock` prefix on
/// x86); totals wrap modulo 2^64, which Prometheus reads as a counter reset.
///
/// ```
/// use nanometrics::Counter;
/// static NEW_CONNECTIONS: Counter =
///     Counter::new("new_connections_total", "Total amount of connection requests.");
/// NEW_CONNECTIONS.inc();
/// NEW_CONNECTIONS.inc_by(2);
/// assert_eq!(NEW_CONNECTIONS.get(), 3);
/// ```
pub struct Counter<L: LabelSet = ()> {
    meta: Meta,
    cells: Cells,
    /// One exemplar per series (label set value).
    exemplars: Exemplars,
    _labels: PhantomData<fn(L) -> L>,
}

impl<L: LabelSet> Counter<L> {
    loom_const_fn! {
        /// A counter named `name`; panics (a compile error in a `static`) if the
        /// name is invalid.
        pub const fn labeled(name: &'static str, help: &'static str) -> Self {
            Self::labeled_from_meta(Meta::new(name, help))
        }
    }

    loom_const_fn! {
        /// A counter described by `meta` (see [`Meta::try_new`] for run-time names).
        pub const fn labeled_from_meta(meta: Meta) -> Self {
            Self {
                meta,
                cells: Cells::new(L::CARDINALITY as u32),
                exemplars: Exemplars::new(L::CARDINALITY),
                _labels: PhantomData,
            }
        }
    }

    /// Adds `n` to the series for `labels` and keeps `exemplar` as that
    /// series' exemplar (see [`Counter::inc_with_exemplar`]).
    ///
    /// ```
    /// use nanometrics::Counter;
    /// nanometrics::label_enum! {
    ///     /// Request methods.
    ///     pub enum Method: "method" { Get => "GET", Post => "POST" }
    /// }
    /// static REQUESTS: Counter<Method> = Counter::labeled("requests_total", "Requests.");
    /// REQUESTS.inc_by_with_exemplar_for(Method::Post, 1, &[("trace_id", "4bf92f35")])?;
    /// assert_eq!(REQUESTS.with(Method::Post).get(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn inc_by_with_exemplar_for(
        &self,
        labels: L,
        n: u64,
        exemplar: &[(&str, &str)],
    ) -> Result<(), Error> {
        let series = labels.index();
        self.with(labels).inc_by(n);
        self.exemplars.set(series, exemplar, n as f64)
    }

    /// Adds one to the series for `labels`: what `with(labels).inc()` does,
    /// one instruction more than an unlabeled [`inc`](Counter::inc) (the
    /// offset's add) where a kept handle's update checks its series
    /// (see [`CounterRef`]).
    ///
    /// ```
    /// use nanometrics::Counter;
    /// nanometrics::label_enum! {
    ///     /// Request methods.
    ///     pub enum Method: "method" { Get => "GET", Post => "POST" }
    /// }
    /// static REQUESTS: Counter<Method> = Counter::labeled("requests_total", "Requests.");
    /// REQUESTS.inc_for(Method::Get);
    /// REQUESTS.inc_by_for(Method::Post, 3);
    /// assert_eq!(REQUESTS.with(Method::Get).get(), 1);
    /// assert_eq!(REQUESTS.with(Method::Post).get(), 3);
    /// ```
    #[inline]
    pub fn inc_for(&self, labels: L) {
        self.inc_by_for(labels, 1)
    }

    /// Adds `n` to the series for `labels` (see [`inc_for`](Self::inc_for)).
    #[inline]
    pub fn inc_by_for(&self, labels: L, n: u64) {
        // A block that fits in a chunk (every label set of fewer than 2,048
        // combinations) takes the unlabeled path plus the offset; a larger
        // one through its series. Known at compile time.
        if shard::lazy_fits(L::CARDINALITY) {
            shard::add_u64_at(self.cells.raw(), labels.index() as u32, n, &self.cells)
        } else {
            self.with(labels).inc_by(n)
        }
    }

    /// The series for `labels`: an array index, no hashing, no lock.
    #[inline]
    pub fn with(&self, labels: L) -> CounterRef<'_> {
        CounterRef {
            series: self
                .cells
                .series(labels.index() as u32, shard::lazy_fits(L::CARDINALITY)),
        }
    }
}

impl Counter {
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

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1)
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        // The stored index, allocated or not: the hot path's chunk test fails
        // on an unallocated one and its slow path allocates.
        shard::add_u64(self.cells.raw(), n, Some(&self.cells))
    }

    /// The current total (sums every shard; for tests and tools, not hot paths).
    pub fn get(&self) -> u64 {
        self.with(()).get()
    }

    /// Adds one and keeps `labels` (a trace id, say) as the counter's
    /// exemplar: OpenMetrics scrapes show the latest one after the total,
    /// with the increment and when it was set. No lock: an exemplar set
    /// while another thread sets one here is dropped. Updates without an
    /// exemplar ([`inc`](Self::inc)) never touch it.
    ///
    /// The add always happens; the exemplar is refused, with
    /// [`Error::InvalidExemplar`], if a label name is invalid or repeated,
    /// or the names and values hold more than [`MAX_EXEMPLAR_RUNES`] code
    /// points (OpenMetrics' limit) or 256 bytes once escaped.
    ///
    /// ```
    /// use nanometrics::{Counter, Encoder, Format};
    /// static REQUESTS: Counter = Counter::new("requests_total", "Requests.");
    /// REQUESTS.inc_with_exemplar(&[("trace_id", "4bf92f3577b34da6")])?;
    /// let r = nanometrics::Registry::new();
    /// r.register_static(&REQUESTS)?;
    /// let mut out = Vec::new();
    /// Encoder::new().encode(&r, Format::OpenMetrics, &mut out);
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.contains("requests_total 1 # {trace_id=\"4bf92f3577b34da6\"} 1.0 "));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    ///
    /// [`MAX_EXEMPLAR_RUNES`]: crate::MAX_EXEMPLAR_RUNES
    pub fn inc_with_exemplar(&self, labels: &[(&str, &str)]) -> Result<(), Error> {
        self.inc_by_with_exemplar(1, labels)
    }

    /// Adds `n` with an exemplar (see [`inc_with_exemplar`](Self::inc_with_exemplar)).
    pub fn inc_by_with_exemplar(&self, n: u64, labels: &[(&str, &str)]) -> Result<(), Error> {
        self.inc_by_with_exemplar_for((), n, labels)
    }

    /// A handle to this thread's own cell, for a thread that counts in a
    /// loop: see [`LocalCounter`].
    pub fn local(&self) -> LocalCounter<'_> {
        self.with(()).local()
    }
}

runtime_constructors!(Counter, "connections_total", |h| h.inc());
one_cell_metric!(
    Counter,
    Kind::Counter,
    global_shards(),
    |shards, i| Value::Counter(i.map_or(0, |i| shards.sum_u64(i))),
    |counter, v, series| counter.exemplars.visit_series(series, 1, v)
);

/// A handle to one integer counter series; cheap to copy and keep.
#[derive(Clone, Copy, Debug)]
pub struct CounterRef<'a> {
    series: Series<'a>,
}

impl<'a> CounterRef<'a> {
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

    /// Adds one.
    #[inline]
    pub fn inc(self) {
        self.inc_by(1)
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(self, n: u64) {
        // No allocation test: an index without cells fails the hot path's
        // chunk test, and the slow path allocates them or drops the update.
        self.series.add_u64(n)
    }

    /// The current total.
    pub fn get(self) -> u64 {
        self.series
            .allocated()
            .map_or(0, |i| global_shards().sum_u64(i))
    }

    /// A handle to this thread's own cell of the series, for a thread that
    /// counts in a loop: see [`LocalCounter`].
    ///
    /// For a family's series, the counter checks on each update that the
    /// series was not removed, as a handle does.
    pub fn local(self) -> LocalCounter<'a> {
        let Some(index) = self.series.index() else {
            return LocalCounter {
                cell: global_shards().dead_cell(),
                pinned: None,
                checked: None,
                _not_send: PhantomData,
            };
        };
        let slot = crate::shard::local_slot();
        let pinned = slot.is_exclusive().then(|| {
            slot.pin();
            slot
        });
        let cell = slot.cell(index);
        if self.series.is_family() {
            LocalCounter {
                cell,
                pinned: None,
                checked: Some(Box::new(Checked {
                    series: self.series,
                    index,
                    pinned,
                })),
                _not_send: PhantomData,
            }
        } else {
            LocalCounter {
                cell,
                pinned,
                checked: None,
                _not_send: PhantomData,
            }
        }
    }
}

/// This thread's cell of one counter series, kept by the thread: `inc` is a
/// load, an add and a store to memory only this thread writes (the floor a
/// thread-local `Cell<u64>` sets), with none of the per-update lookups of
/// [`Counter::inc`] (thread slot, cell block, chunk). Counts land in the same
/// shard as the thread's other updates, so a scrape sees them at once: there
/// is nothing to flush.
///
/// It is neither `Send` nor `Sync`: get one per thread, and keep it for as
/// long as the thread counts. While it lives, the thread's shard stays leased
/// to the thread, even after the thread's other thread-locals are gone: one
/// kept in a thread-local may still count from its destructor. The shard is
/// handed to another thread when the last such handle is dropped (never, for
/// a handle that is leaked).
///
/// ```
/// use nanometrics::Counter;
/// static PACKETS: Counter = Counter::new("packets_total", "Packets handled.");
/// std::thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| {
///             let packets = PACKETS.local();
///             for _ in 0..1000 {
///                 packets.inc();
///             }
///         });
///     }
/// });
/// assert_eq!(PACKETS.get(), 2000);
/// ```
pub struct LocalCounter<'a> {
    cell: &'a crate::sync::AtomicU64,
    /// The exclusive slot holding `cell`, pinned to this thread while the
    /// handle lives; `None` for a shared slot (atomic adds) and for a
    /// checked counter.
    pinned: Option<&'static crate::shard::Slot>,
    /// A family series' check (see [`CounterRef::local`]), boxed so that
    /// the plain counter stays two words.
    checked: Option<Box<Checked<'a>>>,
    _not_send: PhantomData<*const ()>,
}

/// A [`LocalCounter`] of a series that can be removed: its updates go
/// through while the series is still at `index`.
struct Checked<'a> {
    series: Series<'a>,
    index: u32,
    /// As [`LocalCounter`]'s `pinned`.
    pinned: Option<&'static crate::shard::Slot>,
}

impl LocalCounter<'_> {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1)
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        use crate::sync::Ordering::Relaxed;
        if self.pinned.is_some() {
            // This thread is the cell's only writer (see `shard/slot.rs`), for as
            // long as the slot is pinned.
            self.cell
                .store(self.cell.load(Relaxed).wrapping_add(n), Relaxed);
        } else if let Some(c) = &self.checked {
            if c.series.hot_index() != u64::from(c.index) {
            } else if c.pinned.is_some() {
                // The cell's only writer, as above.
                self.cell
                    .store(self.cell.load(Relaxed).wrapping_add(n), Relaxed);
            } else {
                self.cell.fetch_add(n, Relaxed);
            }
        } else {
            self.cell.fetch_add(n, Relaxed);
        }
    }

    /// Whether updates go nowhere (the metric got no cells, or the series
    /// was gone when the counter was made).
    #[cfg(test)]
    pub(crate) fn is_dead(&self) -> bool {
        std::ptr::eq(self.cell, global_shards().dead_cell())
    }
}

impl std::fmt::Debug for LocalCounter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCounter")
            .field("cell", &self.cell)
            .field("exclusive", &self.pinned.is_some())
            .field("checked", &self.checked.is_some())
            .finish()
    }
}

impl Drop for LocalCounter<'_> {
    fn drop(&mut self) {
        let checked = self.checked.as_ref().and_then(|c| c.pinned);
        if let Some(slot) = self.pinned.or(checked) {
            slot.unpin();
        }
    }
}

/// A float counter for totals such as seconds spent, optionally over a
/// compile-time label set `L`.
///
/// Negative, NaN and infinite increments are ignored: a counter only goes up.
///
/// ```
/// use nanometrics::CounterF64;
/// static BUSY: CounterF64 = CounterF64::new("busy_seconds_total", "Time spent busy.");
/// BUSY.inc_by(0.25);
/// BUSY.inc_by(-1.0); // ignored
/// BUSY.inc_by(f64::NAN); // ignored
/// assert_eq!(BUSY.get(), 0.25);
/// ```
pub struct CounterF64<L: LabelSet = ()> {
    meta: Meta,
    cells: Cells,
    _labels: PhantomData<fn(L) -> L>,
}

impl<L: LabelSet> CounterF64<L> {
    loom_const_fn! {
        /// A float counter named `name`; panics (a compile error in a `static`)
        /// if the name is invalid.
        pub const fn labeled(name: &'static str, help: &'static str) -> Self {
            Self::labeled_from_meta(Meta::new(name, help))
        }
    }

    loom_const_fn! {
        /// A float counter described by `meta`.
        pub const fn labeled_from_meta(meta: Meta) -> Self {
            Self { meta, cells: Cells::new(L::CARDINALITY as u32), _labels: PhantomData }
        }
    }

    /// The series for `labels`.
    #[inline]
    pub fn with(&self, labels: L) -> CounterF64Ref<'_> {
        CounterF64Ref {
            series: self
                .cells
                .series(labels.index() as u32, shard::lazy_fits(L::CARDINALITY)),
        }
    }
}

impl CounterF64 {
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

    /// Adds `v` if it is finite and not negative.
    #[inline]
    pub fn inc_by(&self, v: f64) {
        if v.is_finite() && v > 0.0 {
            // As in `Counter::inc_by`.
            shard::add_f64(self.cells.raw(), v, Some(&self.cells))
        }
    }

    /// The current total.
    pub fn get(&self) -> f64 {
        self.with(()).get()
    }
}

runtime_constructors!(CounterF64, "busy_seconds_total", |h| h.inc_by(0.5));
one_cell_metric!(CounterF64, Kind::Counter, global_shards(), |shards, i| {
    Value::CounterF64(i.map_or(0.0, |i| shards.sum_f64(i)))
});

/// A handle to one float counter series.
#[derive(Clone, Copy, Debug)]
pub struct CounterF64Ref<'a> {
    series: Series<'a>,
}

impl<'a> CounterF64Ref<'a> {
    #[inline]
    pub(crate) fn new(series: Series<'a>) -> Self {
        Self { series }
    }

    /// Adds `v` if it is finite and not negative.
    #[inline]
    pub fn inc_by(self, v: f64) {
        if v.is_finite() && v > 0.0 {
            // As in `CounterRef::inc_by`.
            self.series.add_f64(v)
        }
    }

    /// The current total.
    pub fn get(self) -> f64 {
        self.series
            .allocated()
            .map_or(0.0, |i| global_shards().sum_f64(i))
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;
    use crate::metric::Metric;

    crate::label_enum! {
        /// Test.
        enum Ch: "channel_type" { Public => "public", Private => "private", Presence => "presence" }
    }

    #[test]
    fn local_handles_add_to_the_same_series() {
        let c: Counter<Ch> = Counter::labeled("local_total", "");
        let plain: Counter = Counter::new("local_plain_total", "");
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let l = c.with(Ch::Private).local();
                    let p = plain.local();
                    for _ in 0..1000 {
                        l.inc();
                        p.inc_by(2);
                        plain.inc();
                    }
                });
            }
        });
        assert_eq!(c.with(Ch::Private).get(), 4000);
        assert_eq!(c.with(Ch::Public).get(), 0);
        assert_eq!(plain.get(), 12_000);
    }

    /// A local handle kept in a thread-local whose destructor runs after
    /// nanometrics' own (which ends the thread's lease) still owns its slot
    /// there: it counts with plain stores, so no other thread may have leased
    /// the slot meanwhile. The last handle's drop hands the slot on.
    #[test]
    fn local_handle_counts_from_a_late_thread_local_destructor() {
        use std::cell::RefCell;
        use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
        static LATE_TOTAL: Counter = Counter::new("late_total", "");
        /// 1: the slot was still held (orphaned, not free) when the late
        /// destructor counted; 2: and the drop handed it on. 0: neither.
        static SEEN: AtomicU8 = AtomicU8::new(0);
        struct Late(RefCell<Option<LocalCounter<'static>>>);
        impl Drop for Late {
            fn drop(&mut self) {
                let Some(l) = self.0.borrow_mut().take() else {
                    return;
                };
                let Some(slot) = l.pinned else { return };
                if slot.is_orphaned() {
                    SEEN.store(1, SeqCst);
                }
                l.inc_by(5);
                drop(l);
                if SEEN.load(SeqCst) == 1 && !slot.is_orphaned() {
                    SEEN.store(2, SeqCst);
                }
            }
        }
        thread_local! {
            static LATE: Late = const { Late(RefCell::new(None)) };
        }
        std::thread::spawn(|| {
            // Registered before nanometrics' thread-locals, so destroyed
            // after them.
            LATE.with(|_| {});
            let l = LATE_TOTAL.local();
            l.inc();
            LATE.with(|late| *late.0.borrow_mut() = Some(l));
        })
        .join()
        .unwrap();
        assert_eq!(LATE_TOTAL.get(), 6);
        assert_eq!(
            SEEN.load(SeqCst),
            2,
            "the slot was not held, or not handed on"
        );
    }

    #[test]
    fn wraps_modulo_2_64() {
        let c: Counter = Counter::new("wrap_total", "");
        c.inc_by(u64::MAX);
        assert_eq!(c.get(), u64::MAX);
        c.inc();
        assert_eq!(c.get(), 0);
    }

    #[test]
    fn static_labels_are_independent_series() {
        let c: Counter<Ch> = Counter::labeled("sent_total", "");
        c.with(Ch::Private).inc_by(5);
        c.with(Ch::Presence).inc();
        assert_eq!(c.with(Ch::Public).get(), 0);
        assert_eq!(c.with(Ch::Private).get(), 5);
        assert_eq!(c.with(Ch::Presence).get(), 1);
    }

    #[test]
    fn concurrent_increments_sum_exactly() {
        // Fewer iterations under Miri, which interprets every access.
        const PER_THREAD: u64 = if cfg!(miri) { 100 } else { 10_000 };
        let c: Counter = Counter::new("conc_total", "");
        let f: CounterF64 = CounterF64::new("conc_seconds_total", "");
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..PER_THREAD {
                        c.inc();
                        f.inc_by(0.5);
                    }
                });
            }
        });
        assert_eq!(c.get(), 8 * PER_THREAD);
        assert_eq!(f.get(), 0.5 * (8 * PER_THREAD) as f64);
    }

    #[test]
    fn f64_counter_ignores_bad_increments() {
        let c: CounterF64 = CounterF64::new("f_total", "");
        for v in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.0] {
            c.inc_by(v);
        }
        assert_eq!(c.get(), 0.0);
        c.inc_by(1e-9);
        assert_eq!(c.get(), 1e-9);
    }

    #[test]
    fn check_reports_bad_units() {
        let c: Counter = Counter::from_meta(Meta::try_new("x_total", "").unwrap());
        assert!(c.check().is_ok());
        let c: Counter = Counter::from_meta(Meta::with_unit("received_bytes_total", "", "bytes"));
        assert!(c.check().is_ok());
        assert_eq!(c.meta().unit(), Some("bytes"));
    }
}
