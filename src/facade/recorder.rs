//! [`Recorder`]: the `metrics` facade's calls resolved to nanometrics
//! families, and its [`Builder`].

use std::borrow::Cow;
use std::collections::HashMap;

use metrics::{Key, KeyName, Metadata, SharedString, Unit};

use super::buckets::{Buckets, Matcher};
use super::family::{leak_family, Described, MAX_LABELS};
use super::handles;
use super::names;
use super::table::Names;
use crate::sync::{lock, AtomicBool, Mutex, Ordering};
use crate::{
    Counter, Error, Family, FamilyKind, GaugeF64, Histogram, Meta, Registry, DEFAULT_BUCKETS,
    DEFAULT_CARDINALITY_LIMIT,
};

/// Name of the family counting registrations the recorder dropped, by
/// `metric` and `reason` (see the [module docs](super#what-is-dropped)).
///
/// ```
/// use nanometrics::facade::{Recorder, REJECTED_FAMILY};
/// let registry = Box::leak(Box::new(nanometrics::Registry::new()));
/// let recorder = Recorder::builder().registry(registry).build()?;
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("jobs_total").increment(1);
///     metrics::gauge!("jobs_total").set(1.0); // another kind: dropped
/// });
/// let mut text = Vec::new();
/// nanometrics::Encoder::new().encode(registry, nanometrics::Format::Prometheus, &mut text);
/// let text = String::from_utf8(text).unwrap();
/// assert!(text.contains(&format!("{REJECTED_FAMILY}{{metric=\"jobs_total\",reason=\"kind\"}} 1\n")));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub const REJECTED_FAMILY: &str = "nanometrics_facade_rejected_total";

/// Default limit on distinct metric names per recorder
/// ([`Builder::max_metrics`]).
///
/// ```
/// assert_eq!(nanometrics::facade::DEFAULT_MAX_METRICS, 2048);
/// ```
pub const DEFAULT_MAX_METRICS: usize = 2048;

/// Why a registration was dropped: the `reason` label of
/// [`REJECTED_FAMILY`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    /// The name was first registered as another kind.
    Kind,
    /// The label names differ from the first registration's.
    Labels,
    /// The name or a label name is invalid even after sanitizing (empty,
    /// `__`-prefixed, `le` on a histogram, repeated), or more than
    /// [`MAX_LABELS`] labels.
    Invalid,
    /// The registry refused the family (its name is taken by a metric
    /// registered some other way).
    Registry,
    /// The recorder's limit on metric names is reached.
    Capacity,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Kind => "kind",
            Reason::Labels => "labels",
            Reason::Invalid => "invalid",
            Reason::Registry => "registry",
            Reason::Capacity => "capacity",
        }
    }
}

/// What a name resolved to at its first registration.
#[derive(Clone, Copy)]
enum Target {
    Counter(&'static Described<Counter>),
    GaugeF64(&'static Described<GaugeF64>),
    Histogram(&'static Described<Histogram>),
    Rejected(Reason),
}

impl Target {
    fn describe(self, meta: Meta) {
        match self {
            Target::Counter(d) => d.describe(meta),
            Target::GaugeF64(d) => d.describe(meta),
            Target::Histogram(d) => d.describe(meta),
            Target::Rejected(_) => {}
        }
    }
}

/// A name's entry: its target and the label keys, as given, of the
/// registration that created the entry (the hit path compares them
/// without sanitizing).
struct Named {
    target: Target,
    raw_labels: Box<[Box<str>]>,
}

/// What only the recorder's mutex holder touches.
#[derive(Default)]
struct Writer {
    /// Names in the table.
    names: usize,
    /// Families by sanitized name (two names that sanitize alike share one).
    families: HashMap<String, Target>,
    /// Descriptions of names with no family yet.
    pending: HashMap<String, Meta>,
}

/// Records the `metrics` facade's counters, gauges and histograms into
/// nanometrics families (see the [module docs](super) for the rules).
///
/// Install one as the process's recorder with [`install`](super::install)
/// or [`Builder::install`]; or use one for a scope with
/// `metrics::with_local_recorder`:
///
/// ```
/// use nanometrics::facade::Recorder;
/// let registry = Box::leak(Box::new(nanometrics::Registry::new()));
/// let recorder = Recorder::builder().registry(registry).build()?;
/// let c = metrics::with_local_recorder(&recorder, || metrics::counter!("jobs_total", "queue" => "fast"));
/// c.increment(2); // the kept handle: no lookup
/// c.absolute(5); // raised to 5
/// c.absolute(1); // never lowered
/// let mut text = Vec::new();
/// nanometrics::Encoder::new().encode(recorder.registry(), nanometrics::Format::Prometheus, &mut text);
/// assert!(String::from_utf8(text).unwrap().contains("jobs_total{queue=\"fast\"} 5\n"));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub struct Recorder {
    registry: &'static Registry,
    names: Names<Named>,
    max_metrics: usize,
    cardinality_limit: usize,
    buckets: Buckets,
    rejected: &'static Family<Counter, 2>,
    writer: Mutex<Writer>,
}

/// Settings for a [`Recorder`]: registry, histogram buckets, limits.
///
/// ```
/// use nanometrics::facade::{Matcher, Recorder};
/// let registry = Box::leak(Box::new(nanometrics::Registry::new()));
/// let recorder = Recorder::builder()
///     .registry(registry)
///     .buckets(&[0.001, 0.01, 0.1, 1.0])?
///     .buckets_for(Matcher::Suffix("_bytes".into()), &[64.0, 1024.0, 65536.0])?
///     .max_metrics(500)
///     .build()?;
/// metrics::with_local_recorder(&recorder, || {
///     metrics::histogram!("frame_bytes").record(300.0);
/// });
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone)]
pub struct Builder {
    registry: &'static Registry,
    buckets: Buckets,
    max_metrics: usize,
    cardinality_limit: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

/// Set by [`Builder::install`]: nanometrics' recorder is the global one.
static INSTALLED: AtomicBool = AtomicBool::new(false);

impl Builder {
    /// The defaults: the [`global`](crate::global) registry,
    /// [`DEFAULT_BUCKETS`], [`DEFAULT_MAX_METRICS`] names, and
    /// [`DEFAULT_CARDINALITY_LIMIT`] label-value sets per name.
    pub fn new() -> Self {
        Self {
            registry: crate::global(),
            buckets: Buckets::new(Cow::Borrowed(&DEFAULT_BUCKETS)),
            max_metrics: DEFAULT_MAX_METRICS,
            cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
        }
    }

    /// The registry the families go into. It must hold no other facade
    /// recorder's families ([`build`](Self::build) fails otherwise).
    pub fn registry(mut self, registry: &'static Registry) -> Self {
        self.registry = registry;
        self
    }

    /// The bucket bounds of histograms no [`buckets_for`](Self::buckets_for)
    /// matcher matches; an [`Error::InvalidBuckets`] unless finite and
    /// strictly increasing.
    pub fn buckets(mut self, bounds: &[f64]) -> Result<Self, Error> {
        self.buckets.set_default(bounds)?;
        Ok(self)
    }

    /// The bucket bounds of histograms whose (sanitized) name `matcher`
    /// matches; see [`Matcher`] for which wins when several match.
    pub fn buckets_for(mut self, matcher: Matcher, bounds: &[f64]) -> Result<Self, Error> {
        self.buckets.set(matcher, bounds)?;
        Ok(self)
    }

    /// The most distinct metric names (at least 1); registrations of
    /// further names are dropped and counted (reason `capacity`).
    pub fn max_metrics(mut self, n: usize) -> Self {
        self.max_metrics = n.max(1);
        self
    }

    /// Each family's cardinality limit (see [`Family::with_limit`]).
    pub fn cardinality_limit(mut self, n: usize) -> Self {
        self.cardinality_limit = n;
        self
    }

    /// The recorder; registers [`REJECTED_FAMILY`] in the registry, so an
    /// [`Error::Duplicate`] if another recorder uses that registry.
    pub fn build(self) -> Result<Recorder, Error> {
        let rejected: &'static Family<Counter, 2> = Box::leak(Box::new(Family::new(
            REJECTED_FAMILY,
            "Registrations through the metrics facade that were dropped, by metric name and reason: \
             kind, labels (a name reused with another kind or label names), invalid, registry, capacity.",
            ["metric", "reason"],
        )));
        self.registry.register_static(rejected)?;
        Ok(Recorder {
            registry: self.registry,
            names: Names::new(self.max_metrics),
            max_metrics: self.max_metrics,
            cardinality_limit: self.cardinality_limit,
            buckets: self.buckets,
            rejected,
            writer: Mutex::new(Writer::default()),
        })
    }

    /// Builds the recorder and installs it as the `metrics` facade's global
    /// recorder; an [`Error::RecorderInstalled`] if one is installed
    /// already (by this function or by [`metrics::set_global_recorder`]).
    pub fn install(self) -> Result<(), Error> {
        // Relaxed: only the flag's own value matters.
        if INSTALLED.swap(true, Ordering::Relaxed) {
            return Err(Error::RecorderInstalled);
        }
        let recorder = self.build().inspect_err(|_| {
            // None installed: a later call may try again.
            INSTALLED.store(false, Ordering::Relaxed);
        })?;
        metrics::set_global_recorder(recorder).map_err(|_| Error::RecorderInstalled)
    }
}

impl Recorder {
    /// A recorder with the [`Builder::new`] defaults (the global registry).
    ///
    /// ```
    /// let recorder = nanometrics::facade::Recorder::new()?;
    /// assert!(std::ptr::eq(recorder.registry(), nanometrics::global()));
    /// // A second one on the same registry is refused.
    /// assert!(nanometrics::facade::Recorder::new().is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn new() -> Result<Self, Error> {
        Builder::new().build()
    }

    /// Settings other than the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The registry the recorder's families are in.
    pub fn registry(&self) -> &'static Registry {
        self.registry
    }

    fn reject(&self, name: &str, reason: Reason) {
        self.rejected.with([name, reason.as_str()]).inc();
    }

    /// The series for `key` in a family of kind `K` (`pick` reads it from
    /// a target), or `None` (counted) if the registration is dropped.
    #[inline]
    fn series<K: FacadeKind>(&self, key: &Key) -> Option<K::Ref<'static>> {
        let name = key.name();
        let named = match self.names.get(name) {
            Some(n) => n,
            None => self.add::<K>(key)?,
        };
        let Some(described) = K::pick(named.target) else {
            let reason = match named.target {
                Target::Rejected(r) => r,
                _ => Reason::Kind,
            };
            self.reject(name, reason);
            return None;
        };
        let family = described.family;
        let mut values = [""; MAX_LABELS];
        let labels = key.labels();
        let n = labels.len();
        let same = n == named.raw_labels.len()
            && n <= MAX_LABELS
            && labels
                .zip(&named.raw_labels)
                .zip(&mut values)
                .all(|((l, raw), v)| {
                    *v = l.value();
                    l.key() == &**raw
                });
        if !same && !reorder(key, family.names(), &mut values) {
            self.reject(name, Reason::Labels);
            return None;
        }
        let series = family.lookup(values.get(..n).unwrap_or_default());
        if series.is_none() {
            self.reject(name, Reason::Labels);
        }
        series
    }

    /// The cold path: the first registration of a name (the table missed),
    /// under the recorder's mutex.
    #[cold]
    fn add<K: FacadeKind>(&self, key: &Key) -> Option<&Named> {
        let mut w = lock(&self.writer);
        if let Some(n) = self.names.get(key.name()) {
            return Some(n);
        }
        if w.names >= self.max_metrics {
            drop(w);
            self.reject(key.name(), Reason::Capacity);
            return None;
        }
        let raw_labels = key.labels().map(|l| l.key().into()).collect();
        let sanitized = names::metric_name(key.name());
        let target = match w.families.get(&*sanitized) {
            Some(&t) => t,
            None => {
                let target = self.create::<K>(&mut w, &sanitized, key);
                if !matches!(target, Target::Rejected(_)) {
                    w.families.insert(sanitized.into_owned(), target);
                }
                target
            }
        };
        w.names += 1;
        self.names.insert(key.name(), Named { target, raw_labels })
    }

    /// A new family for `name` (sanitized) with `key`'s label names.
    fn create<K: FacadeKind>(&self, w: &mut Writer, name: &str, key: &Key) -> Target {
        if name.is_empty() || key.labels().len() > MAX_LABELS {
            return Target::Rejected(Reason::Invalid);
        }
        let label_names: Vec<&'static str> = key
            .labels()
            .map(|l| -> &'static str { leak_str(names::label_key(l.key())) })
            .collect();
        let Ok(plain) = Meta::try_new(name.to_owned(), "") else {
            return Target::Rejected(Reason::Invalid);
        };
        let config = K::config(self, name);
        let Ok(family) = leak_family::<K>(plain, &label_names, config, self.cardinality_limit)
        else {
            return Target::Rejected(Reason::Invalid);
        };
        let described = leak(Described::new(family, w.pending.remove(name)));
        match self.registry.register_static(described) {
            Ok(()) => K::target(described),
            Err(_) => Target::Rejected(Reason::Registry),
        }
    }

    fn describe(&self, name: &KeyName, unit: Option<Unit>, description: &SharedString) {
        let sanitized = names::metric_name(name.as_str());
        let help = description.to_string();
        let meta = match unit {
            Some(u) => Meta::try_with_unit(sanitized.to_string(), help.clone(), u.as_str())
                .or_else(|_| Meta::try_new(sanitized.to_string(), help)),
            None => Meta::try_new(sanitized.to_string(), help),
        };
        let Ok(meta) = meta else {
            return;
        };
        let mut w = lock(&self.writer);
        match w.families.get(&*sanitized) {
            Some(t) => t.describe(meta),
            None => {
                w.pending.entry(sanitized.into_owned()).or_insert(meta);
            }
        }
    }
}

/// The family kinds the facade's three metric types map to.
trait FacadeKind: FamilyKind + Sized {
    /// The target holding a family of this kind.
    fn target(d: &'static Described<Self>) -> Target;
    /// The family of this kind `t` holds, if any.
    fn pick(t: Target) -> Option<&'static Described<Self>>;
    /// The per-family setting for a family named `name`.
    fn config(r: &Recorder, name: &str) -> Self::Config;
}

macro_rules! facade_kind {
    ($t:ident, |$r:ident, $name:ident| $config:expr) => {
        impl FacadeKind for $t {
            fn target(d: &'static Described<Self>) -> Target {
                Target::$t(d)
            }
            fn pick(t: Target) -> Option<&'static Described<Self>> {
                match t {
                    Target::$t(d) => Some(d),
                    _ => None,
                }
            }
            fn config($r: &Recorder, $name: &str) -> Self::Config {
                $config
            }
        }
    };
}

facade_kind!(Counter, |_r, _name| ());
facade_kind!(GaugeF64, |_r, _name| ());
facade_kind!(Histogram, |r, name| r.buckets.for_name(name));

fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

fn leak_str(s: Cow<'_, str>) -> &'static str {
    Box::leak(s.into_owned().into_boxed_str())
}

/// Fills `values` in the family's label order from `key`, whose label
/// keys (sanitized) must be the family's label names in some order; the
/// slow path for a key spelled or ordered differently from the first.
#[cold]
fn reorder<'k>(key: &'k Key, names: &[&'static str], values: &mut [&'k str; MAX_LABELS]) -> bool {
    let labels = key.labels();
    if labels.len() != names.len() {
        return false;
    }
    let mut filled = [false; MAX_LABELS];
    for l in labels {
        let k = names::label_key(l.key());
        let Some(i) = names.iter().position(|n| *n == k) else {
            return false;
        };
        match (filled.get_mut(i), values.get_mut(i)) {
            (Some(f), Some(v)) if !*f => {
                *f = true;
                *v = l.value();
            }
            _ => return false,
        }
    }
    true
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(&key, unit, &description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(&key, unit, &description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(&key, unit, &description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        self.series::<Counter>(key)
            .map_or_else(metrics::Counter::noop, handles::counter)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        self.series::<GaugeF64>(key)
            .map_or_else(metrics::Gauge::noop, handles::gauge)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        self.series::<Histogram>(key)
            .map_or_else(metrics::Histogram::noop, handles::histogram)
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("buckets", &self.buckets)
            .field("max_metrics", &self.max_metrics)
            .field("cardinality_limit", &self.cardinality_limit)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("max_metrics", &self.max_metrics)
            .field("cardinality_limit", &self.cardinality_limit)
            .finish_non_exhaustive()
    }
}
