//! Info metrics (`build_info{version="…"} 1`) and a process start time.

use crate::label::Labels;
use crate::metric::{unix_now, Kind, Meta, Metric, UniqueSeries, Value, Visitor};
// std's even under loom: a one-time write of a start time, which no model
// races.
use crate::Error;
use std::sync::OnceLock;

/// Constant labels describing the target, exposed with value 1: in text
/// 0.0.4 as a gauge `name{…} 1`, in OpenMetrics as an `info` family.
///
/// ```
/// use nanometrics::Info;
/// static BUILD: Info = Info::new("build_info", "Build information.", &[("version", "1.4.2")]);
/// assert_eq!(BUILD.labels(), &[("version", "1.4.2")]);
/// ```
pub struct Info {
    meta: Meta,
    labels: &'static [(&'static str, &'static str)],
}

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
                "invalid info label name"
            );
            i += 1;
        }
        Self {
            meta: Meta::new(name, help),
            labels,
        }
    }

    /// The constant labels.
    pub fn labels(&self) -> &'static [(&'static str, &'static str)] {
        self.labels
    }
}

impl Metric for Info {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        Kind::Info
    }
    fn check(&self) -> Result<(), Error> {
        self.meta.check()?;
        let mut names = self.labels.iter().map(|(n, _)| *n);
        crate::label::check_label_names(
            self.meta.name(),
            &mut |f| names.by_ref().for_each(&mut *f),
            "",
        )
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.family(&self.meta, Kind::Info);
        v.series(&Labels::constant(self.labels), Value::Info);
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
/// assert_eq!(BUILD.labels()[0].0, "version");
/// assert_eq!(BUILD_V.labels(), &[("version", "v0.8.0-rc7")]);
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
        Self {
            meta: Meta::new(name, help),
            at: OnceLock::new(),
        }
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
