//! Registries: the set of families a scrape walks.
//!
//! The [`global`] registry holds every metric declared with
//! [`declare!`](crate::declare) (they self-register at link time through
//! `linkme`, so each appears, at zero, from the first scrape) plus anything
//! registered at run time. [`Registry::new`] builds an independent one for
//! tests and libraries.
//!
//! A walk ([`Registry::visit`]) reports families in a deterministic order:
//! registered families sorted by name, then collectors in registration order,
//! then `nanometrics_label_overflow_total` for the families that have
//! overflowed (none when none has), then each namespace made from it
//! ([`Registry::namespace`]) in creation order, walked the same way under its
//! prefix and constant labels. It holds the registry's mutex (registration
//! waits; recording never does) and allocates nothing.
//!
//! No two families write the same sample name: [`Registry::register`] refuses
//! a name taken by a registered family, and a collector's family that a scrape
//! would leave out for that reason (its names taken by a registered family,
//! another collector's, or its own earlier one) is an [`Error::Clash`] from
//! [`Registry::check`] and [`Registry::try_register_collector`].
//!
//! Over 700 lines, about half of them `declare!`'s and the clash rules'
//! doc examples; the namespace wrapper lives in `namespace.rs`.

use crate::label::Labels;
use crate::metric::{Kind, Meta, Metric, Value, Visitor};
use crate::namespace::{Namespace, Scoped};
use crate::sync::{lock, Mutex};
// std's even under loom: the public API hands out `Arc`s; no model depends on
// their reference counts.
use crate::Error;
use std::sync::Arc;

/// Sample-name suffixes a histogram family owns.
const HISTOGRAM_SUFFIXES: [&str; 4] = ["_bucket", "_count", "_sum", "_created"];

/// Name of the family counting lookups sent to overflow series.
pub const OVERFLOW_FAMILY: &str = "nanometrics_label_overflow_total";

/// Values computed when scraped (queue length, process statistics).
///
/// A collector reports whole families to the visitor, like
/// [`Metric::visit`]. It must not register anything from `collect` (the
/// registry is locked during the walk).
///
/// ```
/// use nanometrics::{Collector, Kind, Labels, Meta, Registry, Value, Visitor};
/// struct Queue;
/// impl Collector for Queue {
///     fn collect(&self, v: &mut dyn Visitor) {
///         static META: Meta = Meta::new("queue_active_jobs", "Jobs in the queue.");
///         v.family(&META, Kind::Gauge);
///         v.series(&Labels::EMPTY, Value::Gauge(3));
///     }
/// }
/// let r = Registry::new();
/// r.register_collector(Queue);
/// ```
pub trait Collector: Send + Sync {
    /// Reports families and their current values.
    fn collect(&self, v: &mut dyn Visitor);
}

enum Entry {
    Static(&'static dyn Metric),
    Shared(Arc<dyn Metric>),
}

impl Entry {
    fn get(&self) -> &dyn Metric {
        match self {
            Entry::Static(m) => *m,
            Entry::Shared(m) => &**m,
        }
    }
}

struct Inner {
    /// Sorted by name; names are unique.
    metrics: Vec<Entry>,
    collectors: Vec<Box<dyn Collector>>,
    /// Errors from link-time (declare!) registrations, reported by `check`.
    errors: Vec<Error>,
    /// Namespaces made from this registry, walked after it.
    children: Vec<Arc<Registry>>,
}

/// A set of metric families.
///
/// ```
/// use nanometrics::{Counter, Gauge, Registry};
/// let r = Registry::new();
/// let hits = r.register(Counter::new("cache_hits_total", "Cache hits.")).unwrap();
/// let mem = r.register(Gauge::new("cache_memory_usage_bytes", "Cache size.")).unwrap();
/// hits.inc();
/// mem.set(4096);
/// assert_eq!(r.len(), 2);
/// ```
pub struct Registry {
    inner: Mutex<Inner>,
    /// For a namespace: its prefix and labels, composed with its parents'.
    namespace: Option<Namespace>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = lock(&self.inner);
        f.debug_struct("Registry")
            .field(
                "prefix",
                &self.namespace.as_ref().map(|n| n.prefix.as_str()),
            )
            .field("families", &inner.metrics.len())
            .field("collectors", &inner.collectors.len())
            .field("namespaces", &inner.children.len())
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::with_namespace(None)
    }

    fn with_namespace(namespace: Option<Namespace>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                metrics: Vec::new(),
                collectors: Vec::new(),
                errors: Vec::new(),
                children: Vec::new(),
            }),
            namespace,
        }
    }

    /// A registry for a group of families that this one exposes with
    /// `prefix` before each family name and `labels` on every series (after
    /// the series' own): drachtio's `drachtio_*` and `sofia_*` side by side,
    /// `soketi_6001_*` with the port from configuration, or a constant
    /// `region` on one subsystem's families. Every walk of this registry
    /// (scrapes, [`check`](Self::check)) includes it; a namespace made from
    /// a namespace adds its prefix after, and its labels before, the outer
    /// one's. The families keep their own names, so the same code can
    /// register into any namespace. The responder's own metrics, registered
    /// in the served registry, keep their `nanometrics_` names.
    ///
    /// Fails on a prefix that is not itself a valid metric name
    /// ([`Error::InvalidPrefix`]), and on a label name that is invalid,
    /// repeated (here or in an enclosing namespace), `le` or `quantile`
    /// ([`Error::InvalidLabelName`]). Registering a metric whose label names
    /// include one of the constant labels' fails with
    /// [`Error::InvalidLabelName`] too; a collector's series that repeats one
    /// is left out of scrapes, as any series with repeated label names is.
    ///
    /// ```
    /// use nanometrics::{Counter, Encoder, Format, Gauge, Registry};
    /// let r = Registry::new();
    /// let drachtio = r.namespace("drachtio_", &[])?;
    /// let sofia = r.namespace("sofia_", &[("stack", "sip")])?;
    /// drachtio.register(Gauge::new("sip_calls_in_progress", "Calls."))?.set(3);
    /// sofia.register(Counter::new("sip_requests_total", "Requests."))?.inc();
    /// let mut out = Vec::new();
    /// Encoder::new().encode(&r, Format::Prometheus, &mut out);
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.contains("drachtio_sip_calls_in_progress 3\n"));
    /// assert!(text.contains("sofia_sip_requests_total{stack=\"sip\"} 1\n"));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn namespace(&self, prefix: &str, labels: &[(&str, &str)]) -> Result<Arc<Registry>, Error> {
        let ns = Namespace::within(self.namespace.as_ref(), prefix, labels)?;
        let child = Arc::new(Registry::with_namespace(Some(ns)));
        lock(&self.inner).children.push(child.clone());
        Ok(child)
    }

    fn insert(&self, entry: Entry) -> Result<(), Error> {
        let m = entry.get();
        m.check()?;
        let name = m.meta().name();
        if let Some(ns) = &self.namespace {
            let mut clash = None;
            m.label_names(&mut |n| {
                if clash.is_none() && ns.has_label(n) {
                    clash = Some(n.to_owned());
                }
            });
            if let Some(label) = clash {
                return Err(Error::InvalidLabelName {
                    metric: name.to_owned(),
                    label,
                });
            }
        }
        if !m.reserve() {
            return Err(Error::CellsExhausted {
                metric: name.to_owned(),
            });
        }
        if name == OVERFLOW_FAMILY {
            return Err(Error::Duplicate {
                name: name.to_owned(),
            });
        }
        let mut inner = lock(&self.inner);
        let find = |n: &str| {
            inner
                .metrics
                .binary_search_by(|e| e.get().meta().name().cmp(n))
        };
        // A histogram `h` owns the sample names h_bucket, h_count, h_sum and
        // h_created: a family with one of those names would collide with its
        // samples in every scrape.
        let clash = if m.kind() == Kind::Histogram {
            HISTOGRAM_SUFFIXES.iter().any(|sfx| {
                let mut n = String::with_capacity(name.len() + sfx.len());
                n.push_str(name);
                n.push_str(sfx);
                find(&n).is_ok()
            })
        } else {
            HISTOGRAM_SUFFIXES.iter().any(|sfx| {
                name.strip_suffix(sfx)
                    .and_then(|base| find(base).ok())
                    .and_then(|i| inner.metrics.get(i))
                    .is_some_and(|e| e.get().kind() == Kind::Histogram)
            })
        };
        if clash {
            return Err(Error::Duplicate {
                name: name.to_owned(),
            });
        }
        match find(name) {
            Ok(_) => Err(Error::Duplicate {
                name: name.to_owned(),
            }),
            Err(pos) => {
                inner.metrics.insert(pos, entry);
                Ok(())
            }
        }
    }

    /// Registers an owned metric and returns a shared handle to it.
    ///
    /// Fails on an invalid name, unit or label name, and on a name already
    /// registered: never two families with one name.
    pub fn register<M: Metric + 'static>(&self, metric: M) -> Result<Arc<M>, Error> {
        let m = Arc::new(metric);
        self.insert(Entry::Shared(m.clone()))?;
        Ok(m)
    }

    /// Registers a metric that lives in a `static` (declared without
    /// [`declare!`](crate::declare), or for a registry other than the global).
    ///
    /// ```
    /// use nanometrics::{Counter, Registry};
    /// static ERRORS: Counter = Counter::new("connection_errors_total", "Connection errors.");
    /// let r = Registry::new();
    /// r.register_static(&ERRORS).unwrap();
    /// assert!(r.register_static(&ERRORS).is_err());
    /// ```
    pub fn register_static(&self, metric: &'static dyn Metric) -> Result<(), Error> {
        self.insert(Entry::Static(metric))
    }

    /// Registers a scrape-time collector.
    ///
    /// A collector's family whose sample names clash with another family's
    /// is left out of every scrape; [`check`](Self::check) reports it (and
    /// the HTTP responder refuses to start), and
    /// [`try_register_collector`](Self::try_register_collector) refuses such
    /// a collector at once.
    pub fn register_collector(&self, collector: impl Collector + 'static) {
        lock(&self.inner).collectors.push(Box::new(collector));
    }

    /// Registers a scrape-time collector unless a family it reports now
    /// clashes with another: with a registered family, another collector's,
    /// or one it reported before (see [`Error::Clash`]). The collector is
    /// walked once to learn its families, under the registry's lock; on an
    /// error it is dropped and the registry is unchanged.
    ///
    /// ```
    /// use nanometrics::{Collector, Counter, Error, Kind, Labels, Meta, Registry, Value, Visitor};
    /// struct Queue(&'static str);
    /// impl Collector for Queue {
    ///     fn collect(&self, v: &mut dyn Visitor) {
    ///         let meta = Meta::try_new(self.0, "Jobs in the queue.").unwrap();
    ///         v.family(&meta, Kind::Gauge);
    ///         v.series(&Labels::EMPTY, Value::Gauge(3));
    ///     }
    /// }
    /// let r = Registry::new();
    /// r.register(Counter::new("jobs_total", "Jobs run."))?;
    /// r.try_register_collector(Queue("queue_jobs"))?;
    /// let err = r.try_register_collector(Queue("queue_jobs")).unwrap_err();
    /// assert_eq!(
    ///     err,
    ///     Error::Clash { first: "queue_jobs".into(), second: "queue_jobs".into() }
    /// );
    /// assert!(r.check().is_ok(), "the second one was not registered");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_register_collector(&self, collector: impl Collector + 'static) -> Result<(), Error> {
        let mut inner = lock(&self.inner);
        let mut families = Families::default();
        walk_families(&inner, &mut families);
        let start = families.0.len();
        collector.collect(&mut families);
        let end = families.0.len();
        families.push_overflow();
        let own = |i: usize| (start..end).contains(&i);
        if let Some(e) = first_clash(&families.0, |dropped, by| own(dropped) || own(by)) {
            return Err(e);
        }
        inner.collectors.push(Box::new(collector));
        Ok(())
    }

    /// Number of registered families (collectors excluded).
    pub fn len(&self) -> usize {
        lock(&self.inner).metrics.len()
    }

    /// Whether no family is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first error met while registering the link-time declarations of
    /// [`declare!`](crate::declare) (a duplicate name, say), else the first
    /// family a scrape would now leave out because its sample names are
    /// taken ([`Error::Clash`]: a collector's family clashing with a
    /// registered one, with another collector's, or with one it reported
    /// itself). The HTTP responder refuses to start while there is one.
    ///
    /// It walks the registry (collectors included) with a visitor that
    /// records the families, allocating; scrapes do not check.
    ///
    /// ```
    /// use nanometrics::{Collector, Error, Gauge, Kind, Labels, Meta, Registry, Value, Visitor};
    /// struct Sessions;
    /// impl Collector for Sessions {
    ///     fn collect(&self, v: &mut dyn Visitor) {
    ///         static META: Meta = Meta::new("sessions", "Open sessions.");
    ///         v.family(&META, Kind::Gauge);
    ///         v.series(&Labels::EMPTY, Value::Gauge(2));
    ///     }
    /// }
    /// let r = Registry::new();
    /// r.register(Gauge::new("sessions", "Open sessions."))?;
    /// r.register_collector(Sessions);
    /// let err = r.check().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "metric family `sessions` clashes with `sessions`: their sample names collide, \
    ///      and a scrape would leave `sessions` out"
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        let mut families = Families::default();
        self.walk_families(&mut families)?;
        match first_clash(&families.0, |_, _| true) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Walks every family in a deterministic order (see the module docs),
    /// allocating nothing. Before each registered metric it passes the
    /// metric's [`Metric::unique_series`] claim to
    /// [`Visitor::next_metric`], and `None` before the collectors.
    pub fn visit(&self, v: &mut dyn Visitor) {
        let inner = lock(&self.inner);
        match &self.namespace {
            Some(ns) => Self::visit_own(&inner, &mut Scoped { inner: v, ns }),
            None => Self::visit_own(&inner, v),
        }
        // Children lock after their parent, never the other way round.
        for child in &inner.children {
            child.visit(v);
        }
    }

    /// The walk of this registry's own metrics, collectors and overflow
    /// family (see the module docs).
    fn visit_own(inner: &Inner, v: &mut dyn Visitor) {
        for e in &inner.metrics {
            let m = e.get();
            v.next_metric(m.unique_series());
            m.visit(v);
        }
        v.next_metric(None);
        for c in &inner.collectors {
            c.collect(v);
        }
        let mut families = inner
            .metrics
            .iter()
            // A family that has not overflowed has no series here: a
            // process with many families would otherwise carry one zero
            // series for each (`Family::overflowed` still reads 0).
            .filter_map(|e| Some((e.get(), e.get().overflowed().filter(|&n| n > 0)?)));
        if let Some(first) = families.next() {
            static META: Meta = Meta::new(
                OVERFLOW_FAMILY,
                "Lookups of new label values past a family's cardinality limit, sent to its overflow series.",
            );
            v.family(&META, Kind::Counter);
            for (m, n) in std::iter::once(first).chain(families) {
                let pair = [("family", m.meta().name())];
                v.series(&Labels::constant(&pair), Value::Counter(n));
            }
        }
    }
}

/// The families a walk reports, in order, for the clash check.
#[derive(Default)]
struct Families(Vec<(String, Kind)>);

impl Families {
    /// The overflow family a walk may end with: reserved whether or not a
    /// family has overflowed yet.
    fn push_overflow(&mut self) {
        self.0.push((OVERFLOW_FAMILY.to_owned(), Kind::Counter));
    }
}

impl Visitor for Families {
    fn family(&mut self, meta: &Meta, kind: Kind) {
        self.0.push((meta.name().to_owned(), kind));
    }
    fn series(&mut self, _: &Labels<'_>, _: Value<'_>) {}
}

/// Reports the families of `inner`'s metrics and collectors to `v`, in the
/// order of [`Registry::visit`] (without the overflow family).
fn walk_families(inner: &Inner, v: &mut dyn Visitor) {
    for e in &inner.metrics {
        e.get().visit(v);
    }
    for c in &inner.collectors {
        c.collect(v);
    }
}

impl Registry {
    /// Adds the families of this registry and its namespaces to `families`,
    /// in walk order, each registry's overflow family reserved after its
    /// own; the first link-time registration error of any of them instead.
    fn walk_families(&self, families: &mut Families) -> Result<(), Error> {
        let inner = lock(&self.inner);
        if let Some(e) = inner.errors.first() {
            return Err(e.clone());
        }
        match &self.namespace {
            Some(ns) => {
                walk_families(
                    &inner,
                    &mut Scoped {
                        inner: families,
                        ns,
                    },
                );
                families.0.push((
                    [ns.prefix.as_str(), OVERFLOW_FAMILY].concat(),
                    Kind::Counter,
                ));
            }
            None => {
                walk_families(&inner, families);
                families.push_overflow();
            }
        }
        for child in &inner.children {
            child.walk_families(families)?;
        }
        Ok(())
    }
}

/// The first family of `families` (in walk order) that the text encoder
/// leaves out in either format because its sample names are taken, as an
/// [`Error::Clash`] naming it and the family that took them; only clashes
/// for which `counts(dropped, taker)` (indices into `families`) holds.
///
/// It follows the encoder's rules (`encoding/text/family.rs`): a family
/// claims the sample names of its first free option, all or none, and is
/// left out when every option has a taken name.
fn first_clash(
    families: &[(String, Kind)],
    counts: impl Fn(usize, usize) -> bool,
) -> Option<Error> {
    let drops = |open_metrics: bool| {
        let mut taken: std::collections::HashMap<String, usize> = Default::default();
        let mut drops = Vec::new();
        for (i, (name, kind)) in families.iter().enumerate() {
            let mut taker = None;
            let placed = claim_options(name, *kind, open_metrics)
                .into_iter()
                .flatten()
                .any(|(base, suffixes)| {
                    let key = |s: &str| [base, s].concat();
                    if let Some(&j) = suffixes.iter().find_map(|s| taken.get(&key(s))) {
                        taker.get_or_insert(j);
                        return false;
                    }
                    for s in suffixes {
                        taken.insert(key(s), i);
                    }
                    true
                });
            if let (false, Some(j)) = (placed, taker) {
                drops.push((i, j));
            }
        }
        drops
    };
    let mut all = drops(false);
    all.extend(drops(true));
    all.sort_unstable();
    let (dropped, taker) = all.into_iter().find(|&(d, t)| counts(d, t))?;
    let name = |i: usize| families.get(i).map_or_else(String::new, |f| f.0.clone());
    Some(Error::Clash {
        first: name(taker),
        second: name(dropped),
    })
}

/// A family's options for its sample names in a format, in the encoder's
/// order: a base name and the suffixes it claims.
fn claim_options(
    name: &str,
    kind: Kind,
    open_metrics: bool,
) -> [Option<(&str, &'static [&'static str])>; 2] {
    const PLAIN: &[&str] = &[""];
    let base = |suffix: &str| name.strip_suffix(suffix).filter(|b| !b.is_empty());
    match (open_metrics, kind) {
        (false, Kind::Histogram) => [Some((name, &["", "_bucket", "_count", "_sum"])), None],
        (false, _) | (true, Kind::Gauge) => [Some((name, PLAIN)), None],
        (true, Kind::Histogram) => [
            Some((name, &["", "_bucket", "_count", "_sum", "_created"])),
            None,
        ],
        (true, Kind::Counter) => [
            base("_total").map(|b| (b, &["", "_total", "_created"][..])),
            Some((name, PLAIN)),
        ],
        (true, Kind::Info) => [
            base("_info").map(|b| (b, &["", "_info"][..])),
            Some((name, PLAIN)),
        ],
    }
}

#[doc(hidden)]
// linkme's distributed slice is a `#[link_section]` static, which the
// `unsafe_code` lint counts as unsafe; no unsafe block is written here.
#[allow(unsafe_code)]
pub mod __private {
    pub use linkme;

    /// Metrics declared with `declare!`, gathered by the linker.
    #[linkme::distributed_slice]
    pub static STATIC_METRICS: [&'static dyn crate::Metric];
}

/// Declares metrics as `static`s that register themselves in the [`global`]
/// registry at link time: each appears in every scrape, at zero, from start-up,
/// and is usable from any thread with no setup.
///
/// ```
/// use nanometrics::{Counter, Gauge, Histogram, DEFAULT_BUCKETS};
/// nanometrics::declare! {
///     /// The number of currently connected sockets.
///     pub static CONNECTED: Gauge = Gauge::new("connected", "The number of currently connected sockets.");
///     static RECEIVED: Counter = Counter::new("socket_received_bytes", "Total bytes received.");
///     static FANOUT: Histogram = Histogram::new("fanout_seconds", "Fan-out latency.", &DEFAULT_BUCKETS);
/// }
/// CONNECTED.inc();
/// let mut names = Vec::new();
/// struct Names<'a>(&'a mut Vec<String>);
/// impl nanometrics::Visitor for Names<'_> {
///     fn family(&mut self, m: &nanometrics::Meta, _: nanometrics::Kind) { self.0.push(m.name().into()) }
///     fn series(&mut self, _: &nanometrics::Labels<'_>, _: nanometrics::Value<'_>) {}
/// }
/// nanometrics::global().visit(&mut Names(&mut names));
/// assert!(names.iter().any(|n| n == "socket_received_bytes"), "untouched, still listed");
/// ```
#[macro_export]
macro_rules! declare {
    ($($(#[$meta:meta])* $vis:vis static $name:ident : $ty:ty = $init:expr;)+) => {
        $(
            $(#[$meta])*
            $vis static $name: $ty = $init;
            #[allow(unsafe_code)] // linkme's #[link_section]
            const _: () = {
                #[$crate::__private::linkme::distributed_slice($crate::__private::STATIC_METRICS)]
                #[linkme(crate = $crate::__private::linkme)]
                static ENTRY: &'static dyn $crate::Metric = &$name;
            };
        )+
    };
}

fn build_global() -> Registry {
    let r = Registry::new();
    let mut errors = Vec::new();
    for m in __private::STATIC_METRICS {
        if let Err(e) = r.register_static(*m) {
            errors.push(e);
        }
    }
    lock(&r.inner).errors = errors;
    r
}

/// The process-wide registry: every [`declare!`](crate::declare)d metric plus
/// whatever is registered in it at run time.
///
/// ```
/// let r = nanometrics::global();
/// assert!(r.check().is_ok());
/// ```
pub fn global() -> &'static Registry {
    global_registry()
}

crate::sync::lazy_global! {
    /// The global registry, built on first use (fresh in every loom execution).
    fn global_registry() -> &'static Registry = build_global();
}

#[cfg(all(test, not(nanometrics_loom)))]
pub(crate) mod tests {
    use super::*;
    use crate::{Counter, Family, Gauge, Histogram};

    #[allow(clippy::expect_used)]
    fn counter_named(name: &str) -> Counter {
        Counter::from_meta(Meta::try_new(name.to_owned(), "").expect("valid name"))
    }

    /// A visitor that records `name{labels}` → value (histograms: count).
    #[derive(Default)]
    pub(crate) struct Collect {
        pub(crate) families: Vec<(String, Kind)>,
        pub(crate) series: Vec<(String, f64)>,
        buf: Vec<u64>,
    }

    impl Visitor for Collect {
        fn family(&mut self, meta: &Meta, kind: Kind) {
            self.families.push((meta.name().to_owned(), kind));
        }
        fn series(&mut self, labels: &Labels<'_>, value: Value<'_>) {
            let mut key = self
                .families
                .last()
                .map(|f| f.0.clone())
                .unwrap_or_default();
            labels.for_each(|n, v| key.push_str(&format!(",{n}={v}")));
            let v = match value {
                Value::Counter(v) => v as f64,
                Value::CounterF64(v) | Value::GaugeF64(v) => v,
                Value::Gauge(v) => v as f64,
                Value::Info => 1.0,
                Value::Histogram(h) => h.read(&mut self.buf).count as f64,
            };
            self.series.push((key, v));
        }
    }

    #[test]
    fn sorted_deterministic_walk() {
        let r = Registry::new();
        r.register(Gauge::new("zeta", "")).unwrap();
        let c = r.register(Counter::new("alpha_total", "")).unwrap();
        r.register(Histogram::new("mid_seconds", "", &[1.0]))
            .unwrap();
        c.inc();
        let mut v = Collect::default();
        r.visit(&mut v);
        let names: Vec<_> = v.families.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, ["alpha_total", "mid_seconds", "zeta"]);
        assert_eq!(
            v.series,
            [
                ("alpha_total".into(), 1.0),
                ("mid_seconds".into(), 0.0),
                ("zeta".into(), 0.0)
            ]
        );
    }

    #[test]
    fn duplicates_and_bad_names_are_errors() {
        let r = Registry::new();
        r.register(Counter::new("x_total", "")).unwrap();
        assert_eq!(
            r.register(Gauge::new("x_total", "")).unwrap_err(),
            Error::Duplicate {
                name: "x_total".into()
            }
        );
        assert!(r.register(Counter::new(OVERFLOW_FAMILY, "")).is_err());
        let bad = crate::Meta::try_new("ok", "").unwrap();
        assert!(r.register(Counter::from_meta(bad)).is_ok());
        // Gauge X and counter X_total may coexist (text 0.0.4 legacy pairs).
        r.register(Gauge::new("sessions", "")).unwrap();
        r.register(Counter::new("sessions_total", "")).unwrap();
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn histogram_sample_names_are_reserved() {
        let r = Registry::new();
        r.register(Histogram::new("rpc_seconds", "", &[1.0]))
            .unwrap();
        for n in [
            "rpc_seconds_bucket",
            "rpc_seconds_count",
            "rpc_seconds_sum",
            "rpc_seconds_created",
        ] {
            assert_eq!(
                r.register(counter_named(n)).unwrap_err(),
                Error::Duplicate { name: n.into() }
            );
        }
        let r = Registry::new();
        r.register(Gauge::new("lat_count", "")).unwrap();
        assert!(
            r.register(Histogram::new("lat", "", &[1.0])).is_err(),
            "the other order too"
        );
        assert!(r.register(Gauge::new("lat_counts", "")).is_ok());
    }

    #[test]
    fn collectors_and_overflow_family() {
        struct C;
        impl Collector for C {
            fn collect(&self, v: &mut dyn Visitor) {
                static META: Meta = Meta::new("queue_active_jobs", "");
                v.family(&META, Kind::Gauge);
                v.series(&Labels::EMPTY, Value::Gauge(3));
            }
        }
        let r = Registry::new();
        r.register_collector(C);
        let f = r
            .register(Family::<Counter, 1>::new("per_app_total", "", ["app_id"]).with_limit(1))
            .unwrap();
        f.with(["a"]).inc();
        f.with(["b"]).inc();
        let mut v = Collect::default();
        r.visit(&mut v);
        assert_eq!(
            v.series,
            [
                ("per_app_total,app_id=a".into(), 1.0),
                ("per_app_total,app_id=__overflow__".into(), 1.0),
                ("queue_active_jobs".into(), 3.0),
                (
                    "nanometrics_label_overflow_total,family=per_app_total".into(),
                    1.0
                ),
            ]
        );
    }

    crate::declare! {
        static DECLARED: Counter = Counter::new("declared_in_tests_total", "A declared counter.");
        static DECLARED_TWICE_A: Gauge = Gauge::new("declared_twice", "First.");
        static DECLARED_TWICE_B: Gauge = Gauge::new("declared_twice", "Second.");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "linkme gathers declare! statics through the linker's __start_/__stop_ section symbols, extern statics Miri does not support"
    )]
    fn declared_statics_self_register_and_duplicates_are_reported() {
        let _ = (&DECLARED_TWICE_A, &DECLARED_TWICE_B);
        let mut v = Collect::default();
        global().visit(&mut v);
        assert!(
            v.series.contains(&("declared_in_tests_total".into(), 0.0)),
            "listed before first use"
        );
        DECLARED.inc();
        let mut v = Collect::default();
        global().visit(&mut v);
        assert!(v.series.contains(&("declared_in_tests_total".into(), 1.0)));
        assert_eq!(
            v.families
                .iter()
                .filter(|f| f.0 == "declared_twice")
                .count(),
            1,
            "never two families with one name"
        );
        assert_eq!(
            global().check(),
            Err(Error::Duplicate {
                name: "declared_twice".into()
            })
        );
    }
}
