//! Histograms: observations counted into fixed buckets.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::label::{check_label_names, LabelSet};
use crate::metric::exemplar::Exemplars;
use crate::metric::{
    visit_label_set, HistogramView, Kind, Meta, Metric, UniqueSeries, Value, Visitor,
};
use crate::shard::{self, global_shards, Cells, Series};
use crate::sync::loom_const_fn;
use crate::Error;

/// The default buckets of Prometheus' client libraries, in seconds.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// `N` bounds `start, start + width, …`; usable in `const`/`static`.
///
/// ```
/// const B: [f64; 4] = nanometrics::linear_buckets(0.5, 0.5);
/// assert_eq!(B, [0.5, 1.0, 1.5, 2.0]);
/// ```
pub const fn linear_buckets<const N: usize>(start: f64, width: f64) -> [f64; N] {
    assert!(
        N > 0 && start.is_finite() && width.is_finite() && width > 0.0,
        "bad linear buckets"
    );
    let mut out = [0.0; N];
    let mut i = 0;
    while i < N {
        out[i] = start + width * i as f64;
        i += 1;
    }
    out
}

/// `N` bounds `start, start·factor, start·factor², …`; usable in `const`.
///
/// ```
/// const B: [f64; 4] = nanometrics::exponential_buckets(0.001, 10.0);
/// assert_eq!(B, [0.001, 0.01, 0.1, 1.0]);
/// ```
pub const fn exponential_buckets<const N: usize>(start: f64, factor: f64) -> [f64; N] {
    assert!(
        N > 0 && start > 0.0 && start.is_finite() && factor > 1.0 && factor.is_finite(),
        "bad exponential buckets"
    );
    let mut out = [0.0; N];
    // start · factor^i with the power built first: one rounding of the
    // product instead of i accumulated ones (0.001·10³ is exactly 1.0).
    let mut i = 0;
    while i < N {
        let mut p = 1.0;
        let mut k = 0;
        while k < i {
            p *= factor;
            k += 1;
        }
        out[i] = start * p;
        i += 1;
    }
    out
}

/// The most bounds a histogram built at run time may have.
pub(crate) const MAX_BOUNDS: usize = 1024;

/// Checks bounds given at run time: finite, strictly increasing, at most
/// [`MAX_BOUNDS`].
pub(crate) fn check_bounds(metric: &str, bounds: &[f64]) -> Result<(), Error> {
    if valid_bounds(bounds) && bounds.len() <= MAX_BOUNDS {
        Ok(())
    } else {
        Err(Error::InvalidBuckets {
            metric: metric.to_owned(),
        })
    }
}

/// Whether `bounds` are finite and strictly increasing (const).
pub(crate) const fn valid_bounds(bounds: &[f64]) -> bool {
    let mut i = 0;
    while i < bounds.len() {
        if !bounds[i].is_finite() || (i > 0 && bounds[i] <= bounds[i - 1]) {
            return false;
        }
        i += 1;
    }
    true
}

/// A histogram with fixed bucket bounds, optionally over a label set `L`.
///
/// Each series is `bounds.len() + 2` cells per shard: one count per bucket
/// (including `+Inf`) and the sum. Counts are per bucket, not cumulative; a
/// scrape accumulates them, and `_count` is the `+Inf` total of the same read,
/// so the two always agree. `NaN` is counted in `+Inf` and makes the sum NaN
/// (as Prometheus' Go client does); `-Inf` lands in the first bucket.
///
/// ```
/// use nanometrics::{Histogram, DEFAULT_BUCKETS};
/// static LATENCY: Histogram =
///     Histogram::new("fanout_seconds", "Fan-out latency.", &DEFAULT_BUCKETS);
/// LATENCY.observe(0.003);
/// LATENCY.observe(0.2);
/// {
///     let _t = LATENCY.start_timer(); // observes elapsed seconds on drop
/// }
/// assert_eq!(LATENCY.count(), 3);
/// ```
pub struct Histogram<L: LabelSet = ()> {
    meta: Meta,
    bounds: Cow<'static, [f64]>,
    cells: Cells,
    /// One exemplar per bucket (`+Inf` last) of each series.
    exemplars: Exemplars,
    _labels: PhantomData<fn(L) -> L>,
}

impl<L: LabelSet> Histogram<L> {
    loom_const_fn! {
        /// A histogram with the given finite, strictly increasing bounds (the
        /// `+Inf` bucket is implicit); panics, a compile error in a `static`,
        /// on an invalid name or bounds.
        pub const fn labeled(name: &'static str, help: &'static str, bounds: &'static [f64]) -> Self {
            Self::labeled_from_meta(Meta::new(name, help), bounds)
        }
    }

    loom_const_fn! {
        /// A histogram described by `meta` (with a unit, say).
        pub const fn labeled_from_meta(meta: Meta, bounds: &'static [f64]) -> Self {
            assert!(valid_bounds(bounds), "histogram bounds must be finite and strictly increasing");
            Self {
                meta,
                cells: Cells::new(L::CARDINALITY as u32 * (bounds.len() as u32 + 2)),
                exemplars: Exemplars::new(L::CARDINALITY * (bounds.len() + 1)),
                bounds: Cow::Borrowed(bounds),
                _labels: PhantomData,
            }
        }
    }

    /// A histogram over the label set `L` described at run time (a name from
    /// configuration, bounds read from a file): the run-time form of
    /// [`labeled_from_meta`](Self::labeled_from_meta), with an [`Error`] where
    /// that panics (invalid bounds, more than 1024 of them, or a label name
    /// of `L` that is invalid, repeated or `le`). Build `meta` with
    /// [`Meta::try_new`] or [`Meta::try_with_unit`].
    ///
    /// ```
    /// use nanometrics::{Error, Histogram, Meta};
    /// nanometrics::label_enum! {
    ///     /// Request methods.
    ///     pub enum Method: "method" { Get => "GET", Post => "POST" }
    /// }
    /// let name = format!("{}_request_seconds", "drachtio");
    /// let h: Histogram<Method> = Histogram::try_labeled(Meta::try_new(name, "Latency.")?, vec![0.1, 1.0])?;
    /// h.with(Method::Get).observe(0.5);
    /// assert_eq!(h.with(Method::Get).count(), 1);
    /// let bad = Histogram::<Method>::try_labeled(Meta::new("x_seconds", ""), vec![1.0, 1.0]);
    /// assert!(matches!(bad, Err(Error::InvalidBuckets { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_labeled(meta: Meta, bounds: impl Into<Cow<'static, [f64]>>) -> Result<Self, Error> {
        let bounds = bounds.into();
        check_bounds(meta.name(), &bounds)?;
        // At most MAX_BOUNDS + 2 cells per series.
        let per = bounds.len() as u32 + 2;
        let cells = u32::try_from(L::CARDINALITY)
            .ok()
            .and_then(|n| n.checked_mul(per));
        let Some(cells) = cells else {
            return Err(Error::CellsExhausted {
                metric: meta.name().to_owned(),
            });
        };
        let histogram = Self {
            meta,
            cells: Cells::new(cells),
            exemplars: Exemplars::new(L::CARDINALITY * (bounds.len() + 1)),
            bounds,
            _labels: PhantomData,
        };
        histogram.check()?;
        Ok(histogram)
    }

    /// The bucket bounds.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// Records `v` in the series for `labels` and keeps `exemplar` as the
    /// exemplar of the bucket it falls in (see
    /// [`Histogram::observe_with_exemplar`]).
    ///
    /// ```
    /// use nanometrics::Histogram;
    /// nanometrics::label_enum! {
    ///     /// Request methods.
    ///     pub enum Method: "method" { Get => "GET", Post => "POST" }
    /// }
    /// static LATENCY: Histogram<Method> = Histogram::labeled("rpc_seconds", "Latency.", &[0.1, 1.0]);
    /// LATENCY.observe_with_exemplar_for(Method::Get, 0.05, &[("trace_id", "4bf92f35")])?;
    /// assert_eq!(LATENCY.with(Method::Get).count(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn observe_with_exemplar_for(
        &self,
        labels: L,
        v: f64,
        exemplar: &[(&str, &str)],
    ) -> Result<(), Error> {
        let sample = labels.index() * (self.bounds.len() + 1) + bucket_of(&self.bounds, v);
        self.with(labels).observe(v);
        self.exemplars.set(sample, exemplar, v)
    }

    /// The series for `labels`.
    #[inline]
    pub fn with(&self, labels: L) -> HistogramRef<'_> {
        let per = self.bounds.len() as u32 + 2;
        HistogramRef::new(
            self.cells.resolved(labels.index() as u32 * per),
            &self.bounds,
        )
    }
}

impl Histogram {
    loom_const_fn! {
        /// An unlabeled histogram with the given finite, strictly increasing
        /// bounds (the `+Inf` bucket is implicit); panics, a compile error in a
        /// `static`, on an invalid name or bounds.
        pub const fn new(name: &'static str, help: &'static str, bounds: &'static [f64]) -> Self {
            Self::labeled_from_meta(Meta::new(name, help), bounds)
        }
    }

    loom_const_fn! {
        /// An unlabeled histogram described by `meta`.
        pub const fn from_meta(meta: Meta, bounds: &'static [f64]) -> Self {
            Self::labeled_from_meta(meta, bounds)
        }
    }

    /// An unlabeled histogram described at run time: the run-time form of
    /// [`from_meta`](Self::from_meta), with an [`Error`] where that panics
    /// (bounds not finite or not strictly increasing, or more than 1024 of
    /// them). Build `meta` with [`Meta::try_new`] or [`Meta::try_with_unit`]
    /// for a name and help known only at run time.
    ///
    /// ```
    /// use nanometrics::{Histogram, Meta};
    /// let h = Histogram::try_new(Meta::try_new("x_seconds", "").unwrap(), vec![0.1, 1.0]).unwrap();
    /// h.observe(0.5);
    /// assert!(Histogram::try_new(Meta::new("y", ""), vec![1.0, 0.5]).is_err());
    /// ```
    pub fn try_new(meta: Meta, bounds: impl Into<Cow<'static, [f64]>>) -> Result<Self, Error> {
        Self::try_labeled(meta, bounds)
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        let bounds: &[f64] = &self.bounds;
        let sum = bounds.len() as u32 + 1;
        // The stored index, allocated or not: the hot path's chunk test fails
        // on an unallocated one and its slow path allocates.
        let base = self.cells.raw();
        let cells = Some(&self.cells);
        if bounds.len() <= FEW_BOUNDS {
            // The whole block is this one series, at most a chunk long: the
            // allocator keeps it inside one chunk.
            shard::observe(base, count_below(bounds, v) as u32, sum, v, true, cells)
        } else {
            shard::observe(base, bucket_of(bounds, v) as u32, sum, v, false, cells)
        }
    }
    /// Records one observation and keeps `labels` (a trace id, say) as the
    /// exemplar of the bucket it falls in: OpenMetrics scrapes show each
    /// bucket's latest one on its line, with the observed value and when it
    /// was set. No lock; an exemplar set while another thread sets the same
    /// bucket's is dropped, and [`observe`](Self::observe) never touches
    /// them. The observation always counts; the exemplar is refused as in
    /// [`Counter::inc_with_exemplar`](crate::Counter::inc_with_exemplar).
    ///
    /// ```
    /// use nanometrics::{Encoder, Format, Histogram, Registry};
    /// let r = Registry::new();
    /// let h = r.register(Histogram::new("rpc_seconds", "RPC latency.", &[0.1, 1.0]))?;
    /// h.observe_with_exemplar(0.25, &[("trace_id", "4bf92f35")])?;
    /// let mut out = Vec::new();
    /// Encoder::new().encode(&r, Format::OpenMetrics, &mut out);
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.contains("rpc_seconds_bucket{le=\"1.0\"} 1 # {trace_id=\"4bf92f35\"} 0.25 "));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn observe_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) -> Result<(), Error> {
        self.observe_with_exemplar_for((), v, labels)
    }

    /// A guard that observes the elapsed seconds when dropped.
    pub fn start_timer(&self) -> HistogramTimer<'_> {
        self.with(()).start_timer()
    }
    /// Number of observations so far.
    pub fn count(&self) -> u64 {
        self.with(()).count()
    }
    /// Sum of observations so far.
    pub fn sum(&self) -> f64 {
        self.with(()).sum()
    }
}

impl<L: LabelSet> Metric for Histogram<L> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Histogram
    }
    fn check(&self) -> Result<(), Error> {
        self.meta.check()?;
        if !valid_bounds(&self.bounds) {
            return Err(Error::InvalidBuckets {
                metric: self.meta.name().to_owned(),
            });
        }
        check_label_names(self.meta.name(), &mut |f| L::for_each_name(f), "le")
    }
    fn label_names(&self, f: &mut dyn FnMut(&str)) {
        L::for_each_name(&mut |n| f(n));
    }
    fn reserve(&self) -> bool {
        self.cells.index().is_some()
    }
    fn unique_series(&self) -> Option<UniqueSeries> {
        UniqueSeries::label_set::<L>()
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.family(&self.meta, Kind::Histogram);
        let shards = global_shards();
        let per = self.bounds.len() as u32 + 2;
        let samples = self.bounds.len() + 1;
        visit_label_set::<L>(
            v,
            self.cells.allocated(),
            per,
            |index| Value::Histogram(HistogramView::new(&self.bounds, index, shards)),
            |v, series| self.exemplars.visit_series(series, samples, v),
        );
    }
}

/// Index of the bucket `v` falls in: the first bound `>= v`, or `bounds.len()`
/// (`+Inf`) for values above every bound and for NaN.
///
/// Up to 32 bounds this counts the bounds below `v` without branching (the
/// comparisons vectorise; a binary search mispredicts about two branches per
/// observation on latency-like data); beyond, it searches.
#[inline]
pub(crate) fn bucket_of(bounds: &[f64], v: f64) -> usize {
    if bounds.len() <= 32 {
        count_below(bounds, v)
    } else if v.is_nan() {
        bounds.len()
    } else {
        bounds.partition_point(|b| v > *b)
    }
}

/// Bounds up to which an unlabeled histogram's observation counts the bounds
/// below the value (see [`bucket_of`]) and knows its series to lie in one
/// chunk (it is a block of at most `bounds + 2` cells).
const FEW_BOUNDS: usize = if 32 + 2 <= shard::CHUNK_CELLS {
    32
} else {
    shard::CHUNK_CELLS - 2
};

/// [`bucket_of`] by counting, for few bounds.
#[inline]
fn count_below(bounds: &[f64], v: f64) -> usize {
    if v.is_nan() {
        return bounds.len();
    }
    // Sorted bounds: the number below `v` is the first index `>= v`.
    bounds.iter().map(|b| usize::from(v > *b)).sum()
}

/// A handle to one histogram series.
#[derive(Clone, Copy, Debug)]
pub struct HistogramRef<'a> {
    series: Series<'a>,
    bounds: &'a [f64],
}

impl<'a> HistogramRef<'a> {
    #[inline]
    pub(crate) fn new(series: Series<'a>, bounds: &'a [f64]) -> Self {
        Self { series, bounds }
    }

    /// The series' cell index, allocating the block of a lazily allocated
    /// series (a family's overflow series), for a caller that knows the
    /// series is never removed (the `metrics` facade's); `None` if it got
    /// no cells.
    #[cfg(feature = "metrics-facade")]
    pub(crate) fn allocated_index(self) -> Option<u32> {
        self.series.index()
    }

    /// Records one observation.
    #[inline]
    pub fn observe(self, v: f64) {
        // No zero test: index 0 (no cells) fails the hot path's chunk test,
        // and the slow path drops the observation.
        let bucket = bucket_of(self.bounds, v) as u32;
        let sum = self.bounds.len() as u32 + 1;
        self.series.observe(bucket, sum, v)
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(self, d: Duration) {
        self.observe(d.as_secs_f64())
    }

    /// A guard that observes the elapsed seconds when dropped.
    pub fn start_timer(self) -> HistogramTimer<'a> {
        HistogramTimer {
            histogram: self,
            start: Instant::now(),
            armed: true,
        }
    }

    /// Number of observations so far.
    pub fn count(self) -> u64 {
        self.read().1
    }

    /// Sum of observations so far.
    pub fn sum(self) -> f64 {
        self.read().2
    }

    /// Cumulative bucket counts, count and sum.
    pub fn read(self) -> (Vec<u64>, u64, f64) {
        let mut buf = Vec::new();
        let index = self.series.allocated();
        let t = HistogramView::new(self.bounds, index, global_shards()).read(&mut buf);
        (buf, t.count, t.sum)
    }
}

/// Observes the seconds since it was created when dropped.
///
/// ```
/// use nanometrics::Histogram;
/// let h: Histogram = Histogram::new("work_seconds", "", &[0.001, 1.0]);
/// let t = h.start_timer();
/// t.observe_duration(); // or let it drop
/// let t = h.start_timer();
/// t.stop_and_discard();
/// assert_eq!(h.count(), 1);
/// ```
#[must_use = "the timer observes when dropped; dropping it at once measures nothing"]
#[derive(Debug)]
pub struct HistogramTimer<'a> {
    histogram: HistogramRef<'a>,
    start: Instant,
    armed: bool,
}

impl HistogramTimer<'_> {
    /// Observes now and disarms.
    pub fn observe_duration(mut self) {
        self.fire();
    }
    /// Disarms without observing.
    pub fn stop_and_discard(mut self) {
        self.armed = false;
    }
    fn fire(&mut self) {
        if std::mem::take(&mut self.armed) {
            self.histogram.observe_duration(self.start.elapsed());
        }
    }
}

impl Drop for HistogramTimer<'_> {
    fn drop(&mut self) {
        self.fire();
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges() {
        let b = [0.1, 0.5, 1.0];
        assert_eq!(bucket_of(&b, 0.1), 0, "le is inclusive");
        assert_eq!(bucket_of(&b, 0.100001), 1);
        assert_eq!(bucket_of(&b, 1.0), 2);
        assert_eq!(bucket_of(&b, 1.5), 3);
        assert_eq!(bucket_of(&b, f64::INFINITY), 3);
        assert_eq!(bucket_of(&b, f64::NAN), 3);
        assert_eq!(bucket_of(&b, f64::NEG_INFINITY), 0);
        assert_eq!(bucket_of(&b, -0.0), 0);
    }

    #[test]
    fn both_search_paths_agree() {
        let small: Vec<f64> = (0..32).map(|i| i as f64 * 0.5).collect();
        let large: Vec<f64> = (0..100).map(|i| i as f64 * 0.5).collect();
        for bounds in [&small[..], &large[..], &[][..]] {
            for v in [
                -1.0,
                -0.0,
                0.0,
                0.25,
                0.5,
                0.75,
                15.5,
                16.0,
                49.5,
                60.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
            ] {
                let expected = if v.is_nan() {
                    bounds.len()
                } else {
                    bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len())
                };
                assert_eq!(
                    bucket_of(bounds, v),
                    expected,
                    "{v} in {} bounds",
                    bounds.len()
                );
            }
        }
    }

    #[test]
    fn nan_and_infinities() {
        let h: Histogram = Histogram::new("h_nan", "", &[1.0]);
        h.observe(f64::NEG_INFINITY);
        h.observe(f64::INFINITY);
        let (b, c, s) = h.with(()).read();
        assert_eq!((b, c), (vec![1, 2], 2));
        assert!(s.is_nan(), "-inf + inf");
        h.observe(f64::NAN);
        let (b, c, _) = h.with(()).read();
        assert_eq!((b, c), (vec![1, 3], 3));
    }

    #[test]
    fn concurrent_observations_count_equals_inf() {
        // Fewer observations and reads under Miri, which interprets every access.
        const PER_THREAD: u64 = if cfg!(miri) { 200 } else { 5000 };
        const READS: usize = if cfg!(miri) { 10 } else { 50 };
        let h: Histogram = Histogram::new("h_conc", "", &DEFAULT_BUCKETS);
        std::thread::scope(|s| {
            for t in 0..4 {
                let h = &h;
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        h.observe((i % 100) as f64 / 10.0 + t as f64);
                    }
                });
            }
            for _ in 0..READS {
                let (b, c, _) = h.with(()).read();
                assert_eq!(*b.last().unwrap(), c);
                assert!(b.windows(2).all(|w| w[0] <= w[1]), "cumulative");
            }
        });
        assert_eq!(h.count(), 4 * PER_THREAD);
    }

    #[test]
    fn bucket_helpers() {
        const E: [f64; 5] = exponential_buckets(0.001, 10.0);
        assert_eq!(E, [0.001, 0.01, 0.1, 1.0, 10.0]);
        const E2: [f64; 3] = exponential_buckets(0.5, 2.0);
        assert_eq!(E2, [0.5, 1.0, 2.0]);
        const L: [f64; 3] = linear_buckets(0.1, 0.1);
        assert_eq!(L, [0.1, 0.2, 0.30000000000000004]);
        assert!(valid_bounds(&DEFAULT_BUCKETS));
        assert!(!valid_bounds(&[1.0, 1.0]));
        assert!(!valid_bounds(&[f64::NAN]));
        assert!(valid_bounds(&[]));
    }

    #[test]
    fn labeled_histogram_series_are_disjoint() {
        crate::label_enum! { /** m */ enum M: "method" { Get => "GET", Post => "POST" } }
        let h: Histogram<M> = Histogram::labeled("req_seconds", "", &[0.5]);
        h.with(M::Post).observe(0.1);
        h.with(M::Post).observe(0.9);
        assert_eq!(h.with(M::Get).count(), 0);
        assert_eq!(h.with(M::Post).read(), (vec![1, 2], 2, 1.0));
        assert!(h.check().is_ok());
    }

    #[test]
    fn le_label_is_refused() {
        crate::label_enum! { /** le */ enum Le: "le" { A => "a" } }
        let h: Histogram<Le> = Histogram::labeled("bad_le", "", &[0.5]);
        assert!(matches!(h.check(), Err(Error::InvalidLabelName { .. })));
    }

    #[test]
    fn timer_observes() {
        let h: Histogram = Histogram::new("h_timer", "", &[10.0]);
        drop(h.start_timer());
        h.with(()).observe_duration(Duration::from_millis(5));
        assert_eq!(h.count(), 2);
        assert!(h.sum() >= 0.005);
    }
}
