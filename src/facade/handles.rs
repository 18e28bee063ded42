//! The handles the facade hands out, and the per-thread cache that spares
//! `counter!` at a call site an allocation per call.
//!
//! Each handle holds its series resolved to a cell index: facade families
//! are never removed and never freed (see `family.rs`), so the index stays
//! the series' for the life of the process, and an update is the facade's
//! one dynamic call plus nanometrics' own update (no lookup, no lock, no
//! shared write for a counter or a histogram; a float gauge writes its one
//! shared cell, as nanometrics' `GaugeF64` does).

use std::cell::RefCell;
// std's, not the shim's: `metrics` takes a std `Arc`, and the facade is not
// built under loom.
use std::sync::Arc;
use std::thread::LocalKey;

use crate::shard::{add_u64, global_shards};
use crate::sync::{lock, Mutex};
use crate::{CounterRef, GaugeF64Ref, HistogramRef};

/// Serializes [`CounterFn::absolute`](metrics::CounterFn::absolute) calls:
/// the read of the total and the add that raises it must not interleave
/// with another `absolute` (two would both add the difference).
static ABSOLUTE: Mutex<()> = Mutex::new(());

/// A counter series: its cell index.
pub(crate) struct CounterHandle(u32);

impl metrics::CounterFn for CounterHandle {
    #[inline]
    fn increment(&self, value: u64) {
        add_u64(self.0, value, None);
    }

    /// Raises the counter to `value` if it is below (the exporter's
    /// `fetch_max`): a counter never goes back. The total is summed over the
    /// shards, so increments racing from other threads may be counted
    /// before or after; the result is at least `value`.
    fn absolute(&self, value: u64) {
        let _serial = lock(&ABSOLUTE);
        let current = global_shards().sum_u64(self.0);
        if value > current {
            add_u64(self.0, value - current, None);
        }
    }
}

/// A float gauge series.
pub(crate) struct GaugeHandle(GaugeF64Ref<'static>);

impl metrics::GaugeFn for GaugeHandle {
    #[inline]
    fn increment(&self, value: f64) {
        self.0.add(value);
    }
    #[inline]
    fn decrement(&self, value: f64) {
        self.0.sub(value);
    }
    #[inline]
    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

/// A histogram series.
pub(crate) struct HistogramHandle(HistogramRef<'static>);

impl metrics::HistogramFn for HistogramHandle {
    #[inline]
    fn record(&self, value: f64) {
        self.0.observe(value);
    }
}

/// How many handles of each kind a thread keeps.
const RECENT: usize = 64;

/// A thread's recently handed-out handles of one kind, by cell index,
/// direct-mapped. `metrics` wants an `Arc` for every registration, and
/// `counter!` written at a call site registers at every call: a hit clones
/// an `Arc` this thread made (a count no other thread writes unless the
/// handle is sent to one) instead of allocating a new one.
struct Recent<H>(RefCell<[Slot<H>; RECENT]>);

/// A cached handle and its series' cell index.
type Slot<H> = Option<(u32, Arc<H>)>;

impl<H> Recent<H> {
    const fn new() -> Self {
        Self(RefCell::new([const { None }; RECENT]))
    }
}

// The facade is not built under loom: std's thread-local, not the shim's.
std::thread_local! {
    static COUNTERS: Recent<CounterHandle> = const { Recent::new() };
    static GAUGES: Recent<GaugeHandle> = const { Recent::new() };
    static HISTOGRAMS: Recent<HistogramHandle> = const { Recent::new() };
}

/// The handle for the series at `index`, from this thread's cache or made
/// by `make` (and cached).
#[inline]
fn recent<H>(cache: &'static LocalKey<Recent<H>>, index: u32, make: impl Fn() -> H) -> Arc<H> {
    let hit = cache.try_with(|r| {
        let mut slots = r.0.try_borrow_mut().ok()?;
        let slot = slots.get_mut(index as usize % RECENT)?;
        match slot {
            Some((i, h)) if *i == index => Some(h.clone()),
            _ => {
                let h = Arc::new(make());
                *slot = Some((index, h.clone()));
                Some(h)
            }
        }
    });
    // No cache while the thread is exiting.
    hit.ok().flatten().unwrap_or_else(|| Arc::new(make()))
}

/// The facade's counter for a series (a no-op one for a series without
/// cells, whose updates nanometrics drops too).
pub(crate) fn counter(r: CounterRef<'static>) -> metrics::Counter {
    match r.allocated_index() {
        Some(i) => metrics::Counter::from_arc(recent(&COUNTERS, i, || CounterHandle(i))),
        None => metrics::Counter::noop(),
    }
}

/// The facade's gauge for a series.
pub(crate) fn gauge(r: GaugeF64Ref<'static>) -> metrics::Gauge {
    match r.allocated_index() {
        Some(i) => metrics::Gauge::from_arc(recent(&GAUGES, i, || GaugeHandle(r))),
        None => metrics::Gauge::noop(),
    }
}

/// The facade's histogram for a series.
pub(crate) fn histogram(r: HistogramRef<'static>) -> metrics::Histogram {
    match r.allocated_index() {
        Some(i) => metrics::Histogram::from_arc(recent(&HISTOGRAMS, i, || HistogramHandle(r))),
        None => metrics::Histogram::noop(),
    }
}
