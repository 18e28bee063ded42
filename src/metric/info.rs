//! Info metrics (`build_info{version="…"} 1`) and a process start time.

use std::borrow::Cow;

use crate::label::Labels;
use crate::metric::{unix_now, Kind, Meta, Metric, UniqueSeries, Value, Visitor};
// std's even under loom: a one-time write of a start time, which no model
// races.
use crate::Error;
use std::sync::OnceLock;

/// The most constant labels an [`Info`] built at run time may have: a scrape
/// lends them to the encoder from a stack array this long, without
/// allocating.
const MAX_RUNTIME_LABELS: usize = 32;

/// Constant labels describing the target, exposed with value 1: in text
/// 0.0.4 as a gauge `name{…} 1`, in OpenMetrics as an `info` family.
///
/// ```
/// use nanometrics::Info;
/// static BUILD: Info = Info::new("build_info", "Build information.", &[("version", "1.4.2")]);
/// assert_eq!(BUILD.label("version"), Some("1.4.2"));
/// ```
///
/// With label values (or names) known only at run time, use
/// [`try_new`](Self::try_new).
pub struct Info {
    meta: Meta,
    labels: Pairs,
}

/// An [`Info`]'s constant labels.
enum Pairs {
    /// From the `const` constructor.
    Static(&'static [(&'static str, &'static str)]),
    /// From [`Info::try_new`]: at most [`MAX_RUNTIME_LABELS`].
    Owned(Box<[OwnedPair]>),
}

/// A constant label of an [`Info`] built at run time.
type OwnedPair = (Cow<'static, str>, Cow<'static, str>);

impl Info {
    /// An info metric; panics (a compile error in a `static`) on an invalid
    /// metric or label name.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [(&'static str, &'static str)],
    ) -> Self {
        let mut i = 0;
        while i < labels.len() {
            assert!(
                crate::name::is_valid_label_name(labels[i].0),
                "invalid info label name: expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with `__` \
                 (for names known at run time, use `Info::try_new`)"
            );
            i += 1;
        }
        Self {
            meta: Meta::new(name, help),
            labels: Pairs::Static(labels),
        }
    }

    /// An info metric whose name, help and labels are known only at run time
    /// (a version read at start, a region from configuration), owned or
    /// borrowed: no `Box::leak`. Refuses an invalid metric name, an invalid or
    /// repeated label name, and more than 32 labels.
    ///
    /// ```
    /// use nanometrics::{Error, Info, Registry};
    /// let version = String::from("0.8.0-rc7"); // read at start
    /// let r = Registry::new();
    /// let build = r.register(Info::try_new(
    ///     "drachtio_build_info",
    ///     "drachtio version running",
    ///     [("version", version)],
    /// )?)?;
    /// assert_eq!(build.label("version"), Some("0.8.0-rc7"));
    /// let bad = Info::try_new("build_info", "", [("version", "1"), ("version", "2")]);
    /// assert!(matches!(bad, Err(Error::InvalidLabelName { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_new<N, V>(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        labels: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self, Error>
    where
        N: Into<Cow<'static, str>>,
        V: Into<Cow<'static, str>>,
    {
        let meta = Meta::try_new(name, help)?;
        let labels: Box<[_]> = labels
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect();
        if labels.len() > MAX_RUNTIME_LABELS {
            return Err(Error::TooManyLabels {
                metric: meta.name().to_owned(),
                limit: MAX_RUNTIME_LABELS,
            });
        }
        let info = Self {
            meta,
            labels: Pairs::Owned(labels),
        };
        info.check()?;
        Ok(info)
    }

    /// The constant labels, in order.
    ///
    /// ```
    /// use nanometrics::Info;
    /// let i = Info::try_new("target_info", "", [("env", "prod"), ("region", "eu")]).unwrap();
    /// assert_eq!(i.labels().collect::<Vec<_>>(), [("env", "prod"), ("region", "eu")]);
    /// ```
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let (fixed, owned): (&[(&str, &str)], &[OwnedPair]) = match &self.labels {
            Pairs::Static(p) => (p, &[]),
            Pairs::Owned(p) => (&[], p),
        };
        let fixed = fixed.iter().map(|&(n, v)| (n, v));
        fixed.chain(owned.iter().map(|(n, v)| (&**n, &**v)))
    }

    /// The value of the label `name`, if the metric has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl Metric for Info {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Info
    }
    fn label_names(&self, f: &mut dyn FnMut(&str)) {
        self.labels().for_each(|(n, _)| f(n));
    }
    fn check(&self) -> Result<(), Error> {
        self.meta.check()?;
        // Valid and distinct (few labels: a quadratic scan allocates nothing).
        let bad = self.labels().enumerate().find(|&(i, (n, _))| {
            !crate::name::is_valid_label_name(n) || self.labels().take(i).any(|(m, _)| m == n)
        });
        match bad {
            None => Ok(()),
            Some((_, (label, _))) => Err(Error::InvalidLabelName {
                metric: self.meta.name().to_owned(),
                label: label.to_owned(),
            }),
        }
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.family(&self.meta, Kind::Info);
        match &self.labels {
            Pairs::Static(pairs) => v.series(&Labels::constant(pairs), Value::Info),
            Pairs::Owned(pairs) => {
                // Borrowed into a stack array: `try_new` keeps them at most
                // its length.
                let mut lent = [("", ""); MAX_RUNTIME_LABELS];
                for (slot, (n, v)) in lent.iter_mut().zip(pairs.iter()) {
                    *slot = (n, v);
                }
                let lent = lent.get(..pairs.len()).unwrap_or_default();
                v.series(&Labels::constant(lent), Value::Info);
            }
        }
    }
    fn unique_series(&self) -> Option<UniqueSeries> {
        // One series.
        Some(UniqueSeries::new())
    }
}

/// A `build_info{version="…"} 1` info metric for the calling crate's version
/// (or a given one), as drachtio and most exporters expose.
///
/// ```
/// nanometrics::declare! {
///     static BUILD: nanometrics::Info = nanometrics::build_info!();
///     static BUILD_V: nanometrics::Info = nanometrics::build_info!("myapp_build_info", "v0.8.0-rc7");
/// }
/// assert_eq!(BUILD.label("version"), Some(env!("CARGO_PKG_VERSION")));
/// assert_eq!(BUILD_V.label("version"), Some("v0.8.0-rc7"));
/// ```
#[macro_export]
macro_rules! build_info {
    () => {
        $crate::Info::new(
            "build_info",
            "Build information.",
            &[("version", env!("CARGO_PKG_VERSION"))],
        )
    };
    ($name:literal, $version:expr) => {
        $crate::Info::new($name, "Build information.", &[("version", $version)])
    };
}

/// A gauge holding the process start time in Unix seconds.
///
/// Its value is the operating system's record of when the process started
/// where the process collector can read it (Linux), and otherwise the first
/// time the metric is read or [`mark`](Self::mark)ed: call `mark` early in
/// `main` on other systems.
///
/// ```
/// use nanometrics::StartTime;
/// static STARTED: StartTime = StartTime::new("start_time_seconds", "Start time of the process.");
/// STARTED.mark();
/// assert!(STARTED.get() > 1.6e9);
/// ```
pub struct StartTime {
    meta: Meta,
    at: OnceLock<f64>,
}

impl StartTime {
    /// A start-time gauge named `name`.
    pub const fn new(name: &'static str, help: &'static str) -> Self {
        Self::from_meta(Meta::new(name, help))
    }

    /// A start-time gauge described by `meta` (with a unit, say).
    pub const fn from_meta(meta: Meta) -> Self {
        Self {
            meta,
            at: OnceLock::new(),
        }
    }

    /// A start-time gauge named at run time (a prefix from configuration):
    /// the run-time form of [`new`](Self::new), with an [`Error`] where that
    /// panics.
    ///
    /// ```
    /// use nanometrics::{Error, StartTime};
    /// let namespace = String::from("drachtio"); // from configuration
    /// let started = StartTime::try_new(format!("{namespace}_time_started"), "drachtio start time")?;
    /// started.mark();
    /// assert!(started.get() > 1.6e9);
    /// assert!(StartTime::try_new("time started", "").is_err());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_new(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
    ) -> Result<Self, Error> {
        Ok(Self::from_meta(Meta::try_new(name, help)?))
    }

    /// Fixes the start time now unless the OS reports it or it is already set.
    pub fn mark(&self) {
        self.get();
    }

    /// The start time in Unix seconds.
    pub fn get(&self) -> f64 {
        *self
            .at
            .get_or_init(|| crate::process::start_time_seconds().unwrap_or_else(unix_now))
    }
}

impl Metric for StartTime {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Gauge
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.family(&self.meta, Kind::Gauge);
        v.series(&Labels::EMPTY, Value::GaugeF64(self.get()));
    }
    fn unique_series(&self) -> Option<UniqueSeries> {
        // One series.
        Some(UniqueSeries::new())
    }
}
