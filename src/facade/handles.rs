//! The handles the facade hands out: each holds a resolved nanometrics
//! series, so an update is the facade's one dynamic call plus nanometrics'
//! own update (no lookup, no lock, no shared write for a counter or a
//! histogram; a float gauge writes its one shared cell, as nanometrics'
//! `GaugeF64` does).

use crate::sync::{lock, Mutex};
use crate::{CounterRef, GaugeF64Ref, HistogramRef};

/// Serializes [`CounterFn::absolute`](metrics::CounterFn::absolute) calls:
/// the read of the total and the add that raises it must not interleave
/// with another `absolute` (two would both add the difference).
static ABSOLUTE: Mutex<()> = Mutex::new(());

/// A counter series.
pub(crate) struct CounterHandle(pub(crate) CounterRef<'static>);

impl metrics::CounterFn for CounterHandle {
    #[inline]
    fn increment(&self, value: u64) {
        self.0.inc_by(value);
    }

    /// Raises the counter to `value` if it is below (the exporter's
    /// `fetch_max`): a counter never goes back. The total is summed over the
    /// shards, so increments racing from other threads may be counted
    /// before or after; the result is at least `value`.
    fn absolute(&self, value: u64) {
        let _serial = lock(&ABSOLUTE);
        let current = self.0.get();
        if value > current {
            self.0.inc_by(value - current);
        }
    }
}

/// A float gauge series.
pub(crate) struct GaugeHandle(pub(crate) GaugeF64Ref<'static>);

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
pub(crate) struct HistogramHandle(pub(crate) HistogramRef<'static>);

impl metrics::HistogramFn for HistogramHandle {
    #[inline]
    fn record(&self, value: f64) {
        self.0.observe(value);
    }
}
