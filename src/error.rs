//! The crate's error type.

use std::fmt;

/// Everything that can go wrong when declaring or registering metrics.
///
/// Recording (`inc`, `observe`, …) never fails; errors arise only where a
/// caller hands nanometrics a name, a label set or a configuration.
///
/// `Debug` writes the same readable message as `Display`, so a `main` that
/// returns `Result<(), nanometrics::Error>` prints it as documented (match on
/// the variants for the details).
///
/// ```
/// use nanometrics::{Counter, Registry, Error};
/// let r = Registry::new();
/// r.register(Counter::new("jobs_total", "Jobs run.")).unwrap();
/// let err = r.register(Counter::new("jobs_total", "Jobs again.")).unwrap_err();
/// assert!(matches!(err, Error::Duplicate { .. }));
/// assert_eq!(err.to_string(), "metric family `jobs_total` is already registered");
/// assert_eq!(format!("{err:?}"), err.to_string());
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A metric name outside `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    InvalidMetricName {
        /// The name as given.
        name: String,
    },
    /// A label name outside `[a-zA-Z_][a-zA-Z0-9_]*`, reserved (`__` prefix,
    /// or `le` where a histogram adds it), or repeated in one family.
    InvalidLabelName {
        /// The metric family.
        metric: String,
        /// The label name as given.
        label: String,
    },
    /// A unit that is not a valid name suffix, or that the name does not end with.
    InvalidUnit {
        /// The metric family.
        metric: String,
        /// The unit as given.
        unit: String,
    },
    /// Histogram bounds that are empty of meaning: not finite, or not strictly
    /// increasing.
    InvalidBuckets {
        /// The metric family.
        metric: String,
    },
    /// A second family with a name already registered.
    Duplicate {
        /// The name registered twice.
        name: String,
    },
    /// A family that a scrape would leave out because its sample names are
    /// taken by a family written before it: a collector's family that clashes
    /// with a registered family, with another collector's, or with one the
    /// same collector reported before (see [`Registry::check`]).
    ///
    /// [`Registry::check`]: crate::Registry::check
    Clash {
        /// The family a scrape writes (registered, or reported first).
        first: String,
        /// The family a scrape leaves out.
        second: String,
    },
    /// More constant labels than an [`Info`](crate::Info) built at run time
    /// holds.
    TooManyLabels {
        /// The metric family.
        metric: String,
        /// The most labels allowed.
        limit: usize,
    },
    /// The shard table has no room for another series' cells.
    CellsExhausted {
        /// The metric that asked.
        metric: String,
    },
    /// An encoder name prefix (`METRICS_PROMETHEUS_PREFIX`) that would make
    /// metric names invalid: it must match `[a-zA-Z_:][a-zA-Z0-9_:]*` or be
    /// empty.
    InvalidPrefix {
        /// The prefix as given.
        prefix: String,
    },
    /// A configuration value that could not be used.
    Config {
        /// The setting (environment variable or builder option).
        key: String,
        /// The offending value.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// The operating system refused an operation the HTTP responder needs
    /// (binding its address, starting a thread).
    Io {
        /// What was being done (`bind 127.0.0.1:9601`).
        context: String,
        /// The kind of the underlying `std::io::Error`.
        kind: std::io::ErrorKind,
        /// Its message.
        message: String,
    },
    /// Exemplar labels that cannot be kept: an invalid or repeated label
    /// name, or longer than OpenMetrics allows (see
    /// [`Counter::inc_with_exemplar`](crate::Counter::inc_with_exemplar)).
    InvalidExemplar {
        /// What is wrong with them.
        reason: String,
    },
    /// A `metrics` facade recorder is installed already
    /// ([`facade::install`](crate::facade::install)).
    #[cfg(feature = "metrics-facade")]
    RecorderInstalled,
}

impl Error {
    /// An [`Error::Io`] for `error` while doing `context`.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    #[cfg_attr(nanometrics_loom, allow(dead_code))] // used by the HTTP responder, not built under loom
    pub(crate) fn io(context: impl Into<String>, error: &std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidMetricName { name } => {
                write!(f, "invalid metric name {name:?}: expected [a-zA-Z_:][a-zA-Z0-9_:]*")
            }
            Error::InvalidLabelName { metric, label } => write!(
                f,
                "invalid label name {label:?} on `{metric}`: expected [a-zA-Z_][a-zA-Z0-9_]*, not reserved, not repeated"
            ),
            Error::InvalidUnit { metric, unit } => {
                write!(f, "invalid unit {unit:?} on `{metric}`: the name must end with `_{unit}`")
            }
            Error::InvalidBuckets { metric } => write!(
                f,
                "invalid histogram buckets on `{metric}`: bounds must be finite and strictly increasing"
            ),
            Error::Duplicate { name } => write!(f, "metric family `{name}` is already registered"),
            Error::Clash { first, second } => write!(
                f,
                "metric family `{second}` clashes with `{first}`: their sample names collide, and a scrape would leave `{second}` out"
            ),
            Error::TooManyLabels { metric, limit } => {
                write!(f, "too many labels on `{metric}`: at most {limit}")
            }
            Error::CellsExhausted { metric } => {
                write!(f, "no room left in the shard table for `{metric}`")
            }
            Error::InvalidPrefix { prefix } => write!(
                f,
                "invalid metric name prefix {prefix:?}: expected [a-zA-Z_:][a-zA-Z0-9_:]* or empty"
            ),
            Error::Config { key, value, reason } => write!(f, "{key}={value:?}: {reason}"),
            Error::InvalidExemplar { reason } => write!(f, "invalid exemplar: {reason}"),
            Error::Io {
                context, message, ..
            } => write!(f, "{context}: {message}"),
            #[cfg(feature = "metrics-facade")]
            Error::RecorderInstalled => {
                f.write_str("a `metrics` recorder is already installed")
            }
        }
    }
}

/// The readable message, as [`Display`](fmt::Display) writes it: what a
/// `main` returning `Result<(), Error>` prints.
///
/// ```
/// let err = nanometrics::Meta::try_new("7up", "").unwrap_err();
/// assert_eq!(
///     format!("{err:?}"),
///     "invalid metric name \"7up\": expected [a-zA-Z_:][a-zA-Z0-9_:]*"
/// );
/// ```
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}
