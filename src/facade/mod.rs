//! A recorder for the [`metrics`] facade (feature `metrics-facade`): code
//! that records with `metrics::counter!`, `gauge!` and `histogram!` (most of
//! the Rust ecosystem's instrumentation) lands in nanometrics families, in
//! a nanometrics [`Registry`](crate::Registry), scraped like any other.
//!
//! ```
//! use nanometrics::facade::Recorder;
//! // For a whole program: `nanometrics::facade::install()?` (the global
//! // registry, the global `metrics` recorder). Here, a registry and a
//! // recorder of our own, for this thread only:
//! let registry = Box::leak(Box::new(nanometrics::Registry::new()));
//! let recorder = Recorder::builder().registry(registry).build()?;
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::describe_counter!("requests_total", "Requests served.");
//!     let path = String::from("/events");
//!     metrics::counter!("requests_total", "method" => "GET", "path" => path).increment(1);
//!     let connected = metrics::gauge!("connected"); // keep the handle
//!     connected.increment(3.0);
//!     metrics::histogram!("latency_seconds").record(0.004);
//! });
//! let mut text = Vec::new();
//! nanometrics::Encoder::new().encode(registry, nanometrics::Format::Prometheus, &mut text);
//! let text = String::from_utf8(text).unwrap();
//! assert!(text.contains("# HELP requests_total Requests served.\n"));
//! assert!(text.contains("requests_total{method=\"GET\",path=\"/events\"} 1\n"));
//! assert!(text.contains("connected 3.0\n"));
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! # How calls map
//!
//! | facade | nanometrics |
//! |---|---|
//! | `counter!` | a [`Counter`](crate::Counter) family (`u64`); `increment(n)` adds `n`; `absolute(v)` raises the total to `v` if it is below (never lowers it: the exporter's `fetch_max`); `absolute` calls are serialized with each other, and increments racing with one from other threads may be counted before or after it, so the total ends at least `v` |
//! | `gauge!` | a [`GaugeF64`](crate::GaugeF64) family; `set`, `increment`, `decrement` |
//! | `histogram!` | a [`Histogram`](crate::Histogram) family with the bounds of the first [`Matcher`] that matches the name, else the default ([`DEFAULT_BUCKETS`](crate::DEFAULT_BUCKETS) unless [`Builder::buckets`] says otherwise) |
//! | `describe_*!` | the family's HELP text and, when the name ends with `_<unit>` (before any `_total`), its OpenMetrics unit; the first description of a name wins, before or after the first registration |
//!
//! Names and label keys are sanitized as metrics-exporter-prometheus
//! sanitizes them: every character a Prometheus name cannot hold becomes
//! `_` (`http.requests` → `http_requests`). Label values are kept as they
//! are (the encoder escapes them).
//!
//! # The cost of a call
//!
//! `counter!(..)` (which registers the key at every call) hashes the name,
//! finds it in a lock-free table, compares the label keys, and finds the
//! series by its label values through the [`Family`](crate::Family)'s
//! lock-free lookup: no lock and no shared write, except the first time a
//! name appears (the recorder's mutex, the registry's) or a label-value set
//! does (the family's). `metrics` then wants an `Arc` handle: each thread
//! keeps the last 64 it made per kind, by series, so a call site that
//! registers at every call clones one of its own thread's (no allocation,
//! a count no other thread writes) rather than allocating one.
//!
//! A kept handle (`let c = counter!(..)`) skips all of this: it holds its
//! series resolved to a cell index, and `increment` is the facade's one
//! dynamic call plus nanometrics' own add into this thread's cell (no
//! lookup, no lock, no `lock`-prefixed instruction). The figures against
//! metrics-exporter-prometheus are in `docs/benchmarks.md`, "metrics facade
//! (issue 18)".
//!
//! # What is dropped
//!
//! A name's first registration fixes its kind and label names, as one
//! Prometheus family has one type and one label set. A later registration
//! of the name with another kind or other label names (the same names in
//! another order, or spelled alike after sanitizing, are the same) gets a
//! no-op handle, and each such registration counts one in
//! `nanometrics_facade_rejected_total{metric,reason}` ([`REJECTED_FAMILY`])
//! in the recorder's registry, with `reason` one of `kind`, `labels`,
//! `invalid` (a name or label key invalid even after sanitizing: empty,
//! `__`-prefixed, `le` on a histogram, repeated, or more than
//! [`MAX_LABELS`] labels), `registry` (the name is taken by a metric
//! registered otherwise) or `capacity` (past [`Builder::max_metrics`]
//! names). Nothing panics. Past a family's cardinality limit, label values
//! go to its overflow series as for any [`Family`](crate::Family).
//!
//! Facade families are never removed, and live (leaked) for the rest of the
//! process: one family per name, bounded by [`Builder::max_metrics`].

mod buckets;
mod family;
mod handles;
mod names;
mod recorder;
mod table;

pub use buckets::Matcher;
pub use family::MAX_LABELS;
pub use recorder::{Builder, Recorder, DEFAULT_MAX_METRICS, REJECTED_FAMILY};

/// Installs a [`Recorder`] with the default settings (the
/// [`global`](crate::global) registry) as the `metrics` facade's global
/// recorder: [`Builder::install`]. An [`Error::RecorderInstalled`] if a
/// recorder is installed already.
///
/// [`Error::RecorderInstalled`]: crate::Error::RecorderInstalled
///
/// ```
/// nanometrics::facade::install()?;
/// metrics::counter!("jobs_total").increment(1);
/// assert_eq!(
///     nanometrics::facade::install(),
///     Err(nanometrics::Error::RecorderInstalled)
/// );
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn install() -> Result<(), crate::Error> {
    Builder::new().install()
}
