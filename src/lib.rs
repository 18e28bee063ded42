//! nanometrics: an embedded Prometheus/OpenMetrics metrics runtime for
//! latency-critical socket servers.
//!
//! A tour, in the order data flows:
//!
//! 1. **Declare** metrics as `static`s with `const` constructors, inside
//!    [`declare!`] so that they self-register in the [`global`] registry:
//!    [`Counter`], [`CounterF64`], [`Gauge`], [`GaugeF64`], [`Histogram`],
//!    [`Info`], [`StartTime`]. Names are validated at compile time.
//! 2. **Label** them: a compile-time [`LabelSet`] (an enum from
//!    [`label_enum!`], or a tuple of them) indexes an array of series; a
//!    [`Family`] keys series by run-time label values with a lock-free lookup
//!    and a cardinality limit.
//! 3. **Record** on the hot path: each update lands in this thread's own shard
//!    (see [`ShardInfo`] and `docs/design.md`): a load and a store, no `lock`
//!    prefix, no shared cache line.
//! 4. **Scrape**: a [`Registry`] walks its families in a deterministic order
//!    through the [`Visitor`] interface without allocating; an [`Encoder`]
//!    writes them as OpenMetrics or Prometheus text, in the [`Format`] the
//!    scraper's `Accept` header asks for, without allocating either once its
//!    buffers have grown (see [`encoding`]).
//! 5. **Serve** them with [`http::serve`] (or [`http::serve_global_from_env`]
//!    with soketi/sockudo's `METRICS_*` variables, see [`config`]): a
//!    hardened HTTP/1.1 responder on its own threads, `127.0.0.1:9601` by
//!    default, with an optional IP allow-list, bearer or basic auth, gzip and
//!    self-metrics (feature `http`, on by default; Unix).
//!
//! ```
//! use nanometrics::{declare, label_enum, Counter, Family, Gauge, Histogram, DEFAULT_BUCKETS};
//!
//! label_enum! {
//!     /// Pusher channel kinds.
//!     pub enum ChannelType: "channel_type" { Public => "public", Private => "private", Presence => "presence" }
//! }
//! declare! {
//!     static CONNECTED: Gauge = Gauge::new("connected", "Currently connected sockets.");
//!     static BROADCASTS: Counter<ChannelType> = Counter::labeled("broadcasts_total", "Broadcasts by channel type.");
//!     static SENT: Family<Counter, 1> = Family::new("messages_sent_total", "Messages sent.", ["app_id"]);
//!     static FANOUT: Histogram = Histogram::new("fanout_seconds", "Fan-out latency.", &DEFAULT_BUCKETS);
//! }
//!
//! CONNECTED.inc();
//! BROADCASTS.with(ChannelType::Presence).inc();
//! let app = SENT.with(["app-1"]); // keep the handle
//! app.inc_by(3);
//! FANOUT.observe(0.004);
//! assert_eq!(app.get(), 3);
//! ```
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]
#![doc(test(attr(deny(warnings))))]

#[cfg(all(feature = "http", not(nanometrics_loom)))]
pub mod config;
pub mod encoding;
mod error;
#[cfg(all(feature = "metrics-facade", not(nanometrics_loom)))]
pub mod facade;
#[allow(unsafe_code)]
mod family;
#[cfg(all(feature = "http", unix, not(nanometrics_loom)))]
pub mod http;
mod label;
pub mod metric;
pub mod name;
mod namespace;
#[allow(unsafe_code)]
pub mod process;
#[cfg(all(feature = "http", unix, not(nanometrics_loom)))]
pub mod push;
mod registry;
#[allow(unsafe_code)]
mod shard;
mod sync;

pub use encoding::{Encoder, Format};
pub use error::Error;
pub use family::{
    Family, FamilyKind, DEFAULT_CARDINALITY_LIMIT, DEFAULT_MAX_VALUE_LEN, OVERFLOW_VALUE,
};
pub use label::{LabelSet, Labels};
pub use metric::histogram::{exponential_buckets, linear_buckets, DEFAULT_BUCKETS};
pub use metric::LocalCounter;
pub use metric::{
    Counter, CounterF64, CounterF64Ref, CounterRef, Exemplar, Gauge, GaugeF64, GaugeF64Ref,
    GaugeRef, Histogram, HistogramRef, HistogramTimer, HistogramTotals, HistogramView, Info, Kind,
    Meta, Metric, StartTime, Value, Visitor, MAX_EXEMPLAR_RUNES,
};
pub use process::ProcessCollector;
pub use registry::{global, Collector, Registry, OVERFLOW_FAMILY};
pub use shard::ShardInfo;

#[doc(hidden)]
pub use registry::__private;

#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod fuzz;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/getting-started.md")]
struct GettingStartedDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/configuration.md")]
struct ConfigurationDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/metrics-reference.md")]
struct MetricsReferenceDoctests;
