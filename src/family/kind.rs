//! What a [`Family`](super::Family) can hold: the sealed [`FamilyKind`]
//! trait, implemented for the counter, gauge and histogram types, which
//! says how many cells a series takes, what handle a lookup returns and how
//! a scrape reads a series' value.

use std::borrow::Cow;

use crate::metric::{
    Counter, CounterF64, CounterF64Ref, CounterRef, Gauge, GaugeF64, GaugeF64Ref, GaugeRef,
    Histogram, HistogramRef, HistogramView, Kind, Value,
};
use crate::shard::{global_shards, Series};
use crate::Error;

mod private {
    pub trait Sealed {}
}

/// The metric types a [`Family`](super::Family) can hold: [`Counter`], [`CounterF64`],
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
    fn make_ref<'a>(series: Series<'a>, cfg: &'a Self::Config) -> Self::Ref<'a>;
    #[doc(hidden)]
    fn value(index: Option<u32>, cfg: &Self::Config) -> Value<'_>;
    /// Checks a configuration given at run time ([`Family::try_new`](super::Family::try_new)).
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
pub(super) const SUM_NONE: u8 = 0;
pub(super) const SUM_U64: u8 = 1;
pub(super) const SUM_F64: u8 = 2;

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
            fn make_ref<'a>(series: Series<'a>, _: &'a ()) -> $r<'a> {
                $r::new(series)
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
    i.map_or(0, crate::metric::gauge::read_gauge)
));
scalar_kind!(GaugeF64, GaugeF64Ref, Kind::Gauge, |i| Value::GaugeF64(
    i.map_or(0.0, crate::metric::gauge::read_gauge_f64)
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
    fn make_ref<'a>(series: Series<'a>, cfg: &'a Self::Config) -> HistogramRef<'a> {
        HistogramRef::new(series, cfg)
    }
    fn value(index: Option<u32>, cfg: &Self::Config) -> Value<'_> {
        Value::Histogram(HistogramView::new(cfg, index, global_shards()))
    }
    fn check_config(metric: &str, cfg: &Self::Config) -> Result<(), Error> {
        crate::metric::histogram::check_bounds(metric, cfg)
    }
}
