//! Metric types and the interface a scrape walks.
//!
//! Each metric type ([`Counter`], [`CounterF64`], [`Gauge`], [`GaugeF64`],
//! [`Histogram`], [`Info`]) can be built by a `const fn` and placed in a
//! `static`, optionally over a compile-time [`LabelSet`](crate::LabelSet).
//! Registries walk metrics through the object-safe [`Metric`] trait, which
//! reports each family to a [`Visitor`] (the encoder) without allocating.

use std::borrow::Cow;

use crate::label::Labels;
use crate::shard::Shards;
use crate::Error;

/// The [`Metric`] impl of a metric type with one cell per series over a
/// label set `L` (`self.meta`, `self.cells`): its `$kind`, and the value of a
/// series from its cell index (`None`: the block was never allocated, the
/// series reads zero), with `$read` evaluated once per scrape and bound to
/// `$r`.
macro_rules! one_cell_metric {
    ($t:ident, $kind:expr, $read:expr, |$r:ident, $i:ident| $value:expr) => {
        one_cell_metric!($t, $kind, $read, |$r, $i| $value, |_s, _v, _n| ());
    };
    // `$ex` reports the exemplars of series `$n` of the metric `$s` to `$v`,
    // just before that series.
    ($t:ident, $kind:expr, $read:expr, |$r:ident, $i:ident| $value:expr, |$s:ident, $v:ident, $n:ident| $ex:expr) => {
        impl<L: crate::LabelSet> crate::metric::Metric for $t<L> {
            fn meta(&self) -> &crate::metric::Meta {
                &self.meta
            }
            fn kind(&self) -> crate::metric::Kind {
                $kind
            }
            fn check(&self) -> Result<(), crate::Error> {
                self.meta.check()?;
                crate::label::check_label_names(self.meta.name(), &mut |f| L::for_each_name(f), "")
            }
            fn reserve(&self) -> bool {
                self.cells.index().is_some()
            }
            fn label_names(&self, f: &mut dyn FnMut(&str)) {
                L::for_each_name(&mut |n| f(n));
            }
            fn unique_series(&self) -> Option<crate::metric::UniqueSeries> {
                crate::metric::UniqueSeries::label_set::<L>()
            }
            fn visit(&self, v: &mut dyn crate::metric::Visitor) {
                v.family(&self.meta, $kind);
                let $r = $read;
                let $s = self;
                crate::metric::visit_label_set::<L>(
                    v,
                    self.cells.allocated(),
                    1,
                    |$i| $value,
                    |$v, $n| $ex,
                );
            }
        }
    };
}

/// The compile error of an invalid `const` name: a `const` panic cannot
/// format the name (the error's span shows it), so it names the rule and the
/// run-time alternative. A macro, as `assert!` takes only a literal.
macro_rules! invalid_name {
    () => {
        "invalid metric name: expected [a-zA-Z_:][a-zA-Z0-9_:]* \
         (for a name known at run time, use `Meta::try_new` or the type's `try_new`)"
    };
}

/// The run-time constructors of a metric type with one cell per series
/// (`$t::try_new`, `$t::<L>::try_labeled`): the `const` ones' checks, with an
/// [`Error`] where those panic. `$name` is the doc example's family name, and
/// `$example` uses a series handle `h`.
macro_rules! runtime_constructors {
    ($t:ident, $name:literal, |$h:ident| $example:expr) => {
        impl<L: crate::LabelSet> $t<L> {
            #[doc = concat!("A ", stringify!($t), " over the label set `L` named at run time (from")]
            /// configuration, say): the run-time form of [`labeled`](Self::labeled),
            /// with an [`Error`](crate::Error) where that panics (an invalid metric
            /// name, or a label name of `L` that is invalid or repeated). For a
            /// unit, build a [`Meta`](crate::Meta) with
            /// [`Meta::try_with_unit`](crate::Meta::try_with_unit) and use
            /// [`labeled_from_meta`](Self::labeled_from_meta).
            ///
            /// ```
            #[doc = concat!("use nanometrics::{", stringify!($t), ", Error, Metric};")]
            /// nanometrics::label_enum! {
            ///     /// Directions.
            ///     pub enum Dir: "direction" { In => "in", Out => "out" }
            /// }
            /// let prefix = String::from("soketi_6001");
            #[doc = concat!("let m: ", stringify!($t), "<Dir> = ", stringify!($t), "::try_labeled(format!(\"{prefix}_", $name, "\"), \"By direction.\")?;")]
            #[doc = concat!("let ", stringify!($h), " = m.with(Dir::In);")]
            #[doc = concat!(stringify!($example), ";")]
            #[doc = concat!("assert_eq!(m.meta().name(), \"soketi_6001_", $name, "\");")]
            #[doc = concat!("let bad = ", stringify!($t), "::<Dir>::try_labeled(\"6001_", $name, "\", \"\");")]
            /// assert!(matches!(bad, Err(Error::InvalidMetricName { .. })));
            /// # Ok::<(), Error>(())
            /// ```
            pub fn try_labeled(
                name: impl Into<std::borrow::Cow<'static, str>>,
                help: impl Into<std::borrow::Cow<'static, str>>,
            ) -> Result<Self, crate::Error> {
                let metric = Self::labeled_from_meta(crate::Meta::try_new(name, help)?);
                crate::Metric::check(&metric)?;
                Ok(metric)
            }
        }

        impl $t {
            #[doc = concat!("An unlabeled ", stringify!($t), " named at run time (from configuration,")]
            /// say): the run-time form of [`new`](Self::new), with an
            /// [`Error`](crate::Error) where that panics. The name and help are
            /// kept in the metric, owned or borrowed; scrapes copy them into the
            /// output without allocating.
            ///
            /// ```
            #[doc = concat!("use nanometrics::{", stringify!($t), ", Error, Metric, Registry};")]
            /// let port = 6001; // from configuration
            /// let r = Registry::new();
            #[doc = concat!("let m = r.register(", stringify!($t), "::try_new(format!(\"soketi_{port}_", $name, "\"), \"Help.\")?)?;")]
            #[doc = concat!("let ", stringify!($h), " = &*m;")]
            #[doc = concat!(stringify!($example), ";")]
            #[doc = concat!("assert_eq!(m.meta().name(), \"soketi_6001_", $name, "\");")]
            #[doc = concat!("let bad = ", stringify!($t), "::try_new(format!(\"{port}_", $name, "\"), \"\");")]
            /// assert_eq!(
            ///     bad.unwrap_err().to_string(),
            #[doc = concat!("    \"invalid metric name \\\"6001_", $name, "\\\": expected [a-zA-Z_:][a-zA-Z0-9_:]*\"")]
            /// );
            /// # Ok::<(), Error>(())
            /// ```
            pub fn try_new(
                name: impl Into<std::borrow::Cow<'static, str>>,
                help: impl Into<std::borrow::Cow<'static, str>>,
            ) -> Result<Self, crate::Error> {
                Ok(Self::from_meta(crate::Meta::try_new(name, help)?))
            }
        }
    };
}

pub mod counter;
#[allow(unsafe_code)]
mod exemplar;
pub mod gauge;
pub mod histogram;
pub mod info;

pub use counter::{Counter, CounterF64, CounterF64Ref, CounterRef, LocalCounter};
pub use exemplar::{Exemplar, MAX_EXEMPLAR_RUNES};
pub use gauge::{Gauge, GaugeF64, GaugeF64Ref, GaugeRef};
pub use histogram::{Histogram, HistogramRef, HistogramTimer};
pub use info::{Info, StartTime};

/// The type of a metric family, as the exposition formats name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A monotonically increasing total.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into cumulative buckets, with a sum and a count.
    Histogram,
    /// Constant labels describing the target, value 1.
    Info,
}

impl Kind {
    /// The `# TYPE` keyword in OpenMetrics.
    ///
    /// ```
    /// assert_eq!(nanometrics::Kind::Info.as_str(), "info");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Info => "info",
        }
    }
}

/// A metric family's name, help text and optional unit.
///
/// The name is written exactly as given (plus any registry prefix): a counter
/// declared as `requests_total` is `requests_total` in text 0.0.4, and a
/// legacy counter without the suffix (soketi's `socket_received_bytes`) keeps
/// its name there too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    name: Cow<'static, str>,
    help: Cow<'static, str>,
    unit: Option<Cow<'static, str>>,
}

impl Meta {
    /// Name and help; panics (a compile error in a `static`) on an invalid name.
    /// For a name known only at run time, [`try_new`](Self::try_new) returns
    /// an [`Error`] instead.
    ///
    /// ```
    /// let m = nanometrics::Meta::new("up", "Whether the target is up.");
    /// assert_eq!(m.name(), "up");
    /// ```
    pub const fn new(name: &'static str, help: &'static str) -> Self {
        assert!(crate::name::is_valid_metric_name(name), invalid_name!());
        Self {
            name: Cow::Borrowed(name),
            help: Cow::Borrowed(help),
            unit: None,
        }
    }

    /// Name and help known only at run time (from configuration, say).
    ///
    /// ```
    /// let m = nanometrics::Meta::try_new(format!("app_{}_up", 7), "Up.".to_string()).unwrap();
    /// assert_eq!(m.name(), "app_7_up");
    /// assert!(nanometrics::Meta::try_new("7up", "").is_err());
    /// ```
    pub fn try_new(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
    ) -> Result<Self, Error> {
        let name = name.into();
        if !crate::name::is_valid_metric_name(&name) {
            return Err(Error::InvalidMetricName {
                name: name.into_owned(),
            });
        }
        Ok(Self {
            name,
            help: help.into(),
            unit: None,
        })
    }

    /// Name, help and unit; panics (a compile error in a `static`) on an invalid
    /// name or unless the name ends with `_<unit>` (before any `_total`), as
    /// OpenMetrics requires.
    ///
    /// ```
    /// use nanometrics::{Counter, Meta};
    /// static RX: Counter = Counter::from_meta(Meta::with_unit("rx_bytes_total", "Bytes received.", "bytes"));
    /// RX.inc_by(512);
    /// assert_eq!(nanometrics::Metric::meta(&RX).unit(), Some("bytes"));
    /// ```
    pub const fn with_unit(name: &'static str, help: &'static str, unit: &'static str) -> Self {
        assert!(crate::name::is_valid_metric_name(name), invalid_name!());
        assert!(
            crate::name::valid_unit(name, unit),
            "invalid unit: the metric name must end with `_<unit>` (before any `_total`)"
        );
        Self {
            name: Cow::Borrowed(name),
            help: Cow::Borrowed(help),
            unit: Some(Cow::Borrowed(unit)),
        }
    }

    /// Name, help and unit known only at run time: the run-time form of
    /// [`with_unit`](Self::with_unit), with an [`Error`] where that panics.
    ///
    /// ```
    /// use nanometrics::{Counter, Error, Meta, Metric};
    /// let unit = String::from("bytes");
    /// let rx = Counter::from_meta(Meta::try_with_unit("rx_bytes_total", "Bytes received.", unit)?);
    /// assert_eq!(rx.meta().unit(), Some("bytes"));
    /// assert!(matches!(
    ///     Meta::try_with_unit("rx_total", "", "bytes"),
    ///     Err(Error::InvalidUnit { .. })
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_with_unit(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        unit: impl Into<Cow<'static, str>>,
    ) -> Result<Self, Error> {
        let meta = Self {
            unit: Some(unit.into()),
            ..Self::try_new(name, help)?
        };
        meta.check()?;
        Ok(meta)
    }

    /// `meta` with `prefix` before its name (both valid: so is the result).
    pub(crate) fn prefixed(prefix: &str, meta: &Meta) -> Meta {
        Meta {
            name: Cow::Owned([prefix, meta.name()].concat()),
            help: meta.help.clone(),
            unit: meta.unit.clone(),
        }
    }

    /// The family name, without any registry prefix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The help text, unescaped.
    pub fn help(&self) -> &str {
        &self.help
    }

    /// The unit, if set.
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        if !crate::name::is_valid_metric_name(&self.name) {
            return Err(Error::InvalidMetricName {
                name: self.name.to_string(),
            });
        }
        if let Some(unit) = &self.unit {
            if !crate::name::valid_unit(&self.name, unit) {
                return Err(Error::InvalidUnit {
                    metric: self.name.to_string(),
                    unit: unit.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// One series' value as a scrape reads it.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// An integer counter total.
    Counter(u64),
    /// A float counter total (seconds, say).
    CounterF64(f64),
    /// An integer gauge.
    Gauge(i64),
    /// A float gauge.
    GaugeF64(f64),
    /// A histogram, read on demand into the visitor's buffer.
    Histogram(HistogramView<'a>),
    /// An info series: value 1.
    Info,
}

/// A histogram series to be read by a scrape.
#[derive(Clone, Copy)]
pub struct HistogramView<'a> {
    bounds: &'a [f64],
    index: Option<u32>,
    shards: &'a Shards,
}

impl std::fmt::Debug for HistogramView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistogramView")
            .field("bounds", &self.bounds)
            .finish_non_exhaustive()
    }
}

/// Count and sum of a histogram read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramTotals {
    /// Observations: equal to the `+Inf` bucket by construction.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
}

impl<'a> HistogramView<'a> {
    pub(crate) fn new(bounds: &'a [f64], index: Option<u32>, shards: &'a Shards) -> Self {
        Self {
            bounds,
            index,
            shards,
        }
    }

    /// Upper bounds of the finite buckets (the `+Inf` bucket is implicit).
    pub fn bounds(&self) -> &'a [f64] {
        self.bounds
    }

    /// Reads the series: `cumulative` is refilled with `bounds().len() + 1`
    /// cumulative bucket counts (the last is `+Inf`). The returned count is that
    /// last bucket, so `_count` and `+Inf` agree in every scrape. Reusing the
    /// same `Vec` makes this allocation-free after the first call.
    pub fn read(&self, cumulative: &mut Vec<u64>) -> HistogramTotals {
        let n = self.bounds.len() + 1;
        cumulative.clear();
        cumulative.resize(n, 0);
        let Some(start) = self.index else {
            return HistogramTotals { count: 0, sum: 0.0 };
        };
        self.shards.sum_block(start, cumulative);
        let mut acc = 0u64;
        for c in cumulative.iter_mut() {
            acc = acc.wrapping_add(*c);
            *c = acc;
        }
        HistogramTotals {
            count: acc,
            sum: self.shards.sum_f64(start + n as u32),
        }
    }
}

/// Receives families and their series from [`Metric::visit`]; the encoder
/// implements it.
pub trait Visitor {
    /// Starts a family; the series that follow belong to it.
    fn family(&mut self, meta: &Meta, kind: Kind);
    /// One series of the current family.
    fn series(&mut self, labels: &Labels<'_>, value: Value<'_>);
    /// One series of the current family whose labels are `names` paired
    /// with `values`, in order (how a dynamic [`Family`](crate::Family)
    /// reports its series: the same `names` for every series of the family).
    /// The default reports it through [`series`](Self::series) as
    /// [`Labels::dynamic`]; the text encoder writes it without the generic
    /// label walk.
    ///
    /// ```
    /// use nanometrics::{Counter, Family, Kind, Labels, Meta, Metric, Value, Visitor};
    /// #[derive(Default)]
    /// struct Pairs(Vec<String>);
    /// impl Visitor for Pairs {
    ///     fn family(&mut self, _: &Meta, _: Kind) {}
    ///     fn series(&mut self, labels: &Labels<'_>, _: Value<'_>) {
    ///         labels.for_each(|n, v| self.0.push(format!("{n}={v}")));
    ///     }
    /// }
    /// let f: Family<Counter, 1> = Family::new("jobs_total", "Jobs.", ["queue"]);
    /// f.with(["fast"]).inc();
    /// let mut v = Pairs::default();
    /// f.visit(&mut v); // through the default `dynamic_series`
    /// assert_eq!(v.0, ["queue=fast"]);
    /// ```
    fn dynamic_series(&mut self, names: &[&'static str], values: &[&str], value: Value<'_>) {
        self.series(&Labels::dynamic(names, values), value);
    }
    /// Called by a registry before each metric it visits: `unique` is that
    /// metric's [`Metric::unique_series`] claim that no two series of each of
    /// its families have the same labels (so a visitor need not check; the
    /// text encoder otherwise keeps the first of two such series). `None`
    /// before collectors. The default ignores it. It also ends the previous
    /// metric's family: the text encoder drops series reported before the
    /// next [`family`](Self::family) call.
    ///
    /// ```
    /// use nanometrics::metric::UniqueSeries;
    /// use nanometrics::{Counter, Kind, Labels, Meta, Registry, Value, Visitor};
    /// #[derive(Default)]
    /// struct Claims(Vec<bool>);
    /// impl Visitor for Claims {
    ///     fn family(&mut self, _: &Meta, _: Kind) {}
    ///     fn series(&mut self, _: &Labels<'_>, _: Value<'_>) {}
    ///     fn next_metric(&mut self, unique: Option<UniqueSeries>) {
    ///         self.0.push(unique.is_some())
    ///     }
    /// }
    /// let r = Registry::new();
    /// r.register(Counter::new("jobs_total", "Jobs.")).unwrap();
    /// let mut v = Claims::default();
    /// r.visit(&mut v);
    /// assert_eq!(v.0, [true, false], "the counter, then the collectors");
    /// ```
    fn next_metric(&mut self, unique: Option<UniqueSeries>) {
        let _ = unique;
    }
    /// The exemplar of sample `sample` of the next series (0: a counter's
    /// total; for a histogram, bucket `sample` in bound order, `+Inf` last),
    /// reported just before that series. Only OpenMetrics carries
    /// exemplars (on counter totals and histogram buckets); the default
    /// ignores them.
    ///
    /// ```
    /// use nanometrics::{Counter, Exemplar, Kind, Labels, Meta, Metric, Value, Visitor};
    /// #[derive(Default)]
    /// struct Traces(Vec<String>);
    /// impl Visitor for Traces {
    ///     fn family(&mut self, _: &Meta, _: Kind) {}
    ///     fn series(&mut self, _: &Labels<'_>, _: Value<'_>) {}
    ///     fn exemplar(&mut self, _: usize, ex: &Exemplar<'_>) {
    ///         self.0.push(ex.labels.to_owned());
    ///     }
    /// }
    /// let c = Counter::new("requests_total", "Requests.");
    /// c.inc_with_exemplar(&[("trace_id", "4bf92f35")])?;
    /// let mut v = Traces::default();
    /// c.visit(&mut v);
    /// assert_eq!(v.0, ["trace_id=\"4bf92f35\""]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    fn exemplar(&mut self, sample: usize, exemplar: &Exemplar<'_>) {
        let _ = (sample, exemplar);
    }
    /// Starts a family of a registry namespace
    /// ([`Registry::namespace`](crate::Registry::namespace)) whose name is
    /// `prefix` followed by `meta`'s name; its series carry the namespace's
    /// constant labels after their own. The default reports it through
    /// [`family`](Self::family) with the whole name (an owned copy of
    /// `meta`); the text encoder writes the prefix without building one.
    ///
    /// ```
    /// use nanometrics::{Counter, Kind, Labels, Meta, Registry, Value, Visitor};
    /// #[derive(Default)]
    /// struct Names(Vec<String>);
    /// impl Visitor for Names {
    ///     fn family(&mut self, meta: &Meta, _: Kind) {
    ///         self.0.push(meta.name().to_owned())
    ///     }
    ///     fn series(&mut self, _: &Labels<'_>, _: Value<'_>) {}
    /// }
    /// let r = Registry::new();
    /// let sofia = r.namespace("sofia_", &[])?;
    /// sofia.register(Counter::new("sip_requests_total", "Requests."))?;
    /// let mut v = Names::default();
    /// r.visit(&mut v); // through the default `family_in`
    /// assert_eq!(v.0, ["sofia_sip_requests_total"]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    fn family_in(&mut self, prefix: &str, meta: &Meta, kind: Kind) {
        if prefix.is_empty() {
            self.family(meta, kind);
            return;
        }
        self.family(&Meta::prefixed(prefix, meta), kind);
    }
}

/// The claim that no two series of a family have the same label set (see
/// [`Metric::unique_series`]). Only this crate constructs one, for metrics
/// whose series are distinct by construction: a [`LabelSet`](crate::LabelSet)
/// metric whose set is [`DISTINCT`](crate::LabelSet::DISTINCT) (labels
/// declared with [`label_enum!`](crate::label_enum), or none), a
/// [`Family`](crate::Family) with at least one label, and the one-series
/// [`Info`] and [`StartTime`]. Collectors and other [`Metric`] implementations
/// get `None`, so their series are still checked.
#[derive(Debug, Clone, Copy)]
pub struct UniqueSeries(());

impl UniqueSeries {
    /// Only for metrics whose series have distinct labels by construction.
    pub(crate) const fn new() -> Self {
        Self(())
    }

    /// The claim for a metric over label set `L`.
    pub(crate) const fn label_set<L: crate::LabelSet>() -> Option<Self> {
        if L::DISTINCT {
            Some(Self::new())
        } else {
            None
        }
    }
}

/// A family of series the registry can walk: every metric type, dynamic
/// [`Family`](crate::Family), and anything a library wants to expose.
pub trait Metric: Send + Sync {
    /// Name, help and unit.
    fn meta(&self) -> &Meta;
    /// The family type.
    fn kind(&self) -> Kind;
    /// Checks names, units and label names; registries call it.
    fn check(&self) -> Result<(), Error> {
        self.meta().check()
    }
    /// Reports the family and each of its series to `v`.
    fn visit(&self, v: &mut dyn Visitor);
    /// Calls `f` with each label name its series carry, where they are known
    /// before any series exists (label sets, families, info labels): a
    /// registry namespace checks them against its constant labels. The
    /// default reports none.
    ///
    /// ```
    /// use nanometrics::{Counter, Family, Metric};
    /// let f: Family<Counter, 2> = Family::new("jobs_total", "Jobs.", ["queue", "state"]);
    /// let mut names = Vec::new();
    /// Metric::label_names(&f, &mut |n: &str| names.push(n.to_owned()));
    /// assert_eq!(names, ["queue", "state"]);
    /// ```
    fn label_names(&self, f: &mut dyn FnMut(&str)) {
        let _ = f;
    }
    /// Allocates the metric's cells now rather than at its first update;
    /// `false` if the shard table is full. Registries call it.
    fn reserve(&self) -> bool {
        true
    }
    /// `Some` if no two series [`visit`](Self::visit) reports within one
    /// family can have the same labels, which lets an encoder skip its check
    /// for repeats. Only this crate's metrics can claim it; a wrapper that
    /// forwards its inner metric's claim must report only that metric's
    /// series.
    ///
    /// ```
    /// use nanometrics::{Counter, Metric};
    /// assert!(Counter::new("jobs_total", "Jobs.").unique_series().is_some());
    /// ```
    fn unique_series(&self) -> Option<UniqueSeries> {
        None
    }
    /// For a dynamic [`Family`](crate::Family): lookups sent to its overflow
    /// series. Registries export it as `nanometrics_label_overflow_total`.
    fn overflowed(&self) -> Option<u64> {
        None
    }
}

/// Seconds since the Unix epoch, as a float (0 if the clock is before 1970).
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Reports `L::CARDINALITY` series of a label-set metric whose block starts at
/// `base` (`None`: never touched, every series reads zero), each series
/// `stride` cells wide.
pub(crate) fn visit_label_set<'a, L: crate::LabelSet>(
    v: &mut dyn Visitor,
    base: Option<u32>,
    stride: u32,
    mut value: impl FnMut(Option<u32>) -> Value<'a>,
    mut exemplars: impl FnMut(&mut dyn Visitor, usize),
) {
    for i in 0..L::CARDINALITY {
        let index = base.map(|b| b + i as u32 * stride);
        exemplars(&mut *v, i);
        v.series(&Labels::fixed::<L>(i), value(index));
    }
}

macro_rules! debug_by_name {
    ($($t:ident),+) => {$(
        impl<L: crate::LabelSet> std::fmt::Debug for $t<L> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).field("name", &self.meta().name()).finish_non_exhaustive()
            }
        }
    )+};
}
debug_by_name!(Counter, CounterF64, Gauge, GaugeF64, Histogram);

impl std::fmt::Debug for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Pairs<'a>(&'a Info);
        impl std::fmt::Debug for Pairs<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_list().entries(self.0.labels()).finish()
            }
        }
        f.debug_struct("Info")
            .field("name", &self.meta().name())
            .field("labels", &Pairs(self))
            .finish()
    }
}

impl std::fmt::Debug for StartTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartTime")
            .field("name", &self.meta().name())
            .finish_non_exhaustive()
    }
}

impl<K: crate::FamilyKind, const N: usize> std::fmt::Debug for crate::Family<K, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.meta().name())
            .field("labels", self.label_names())
            .finish_non_exhaustive()
    }
}
