//! Encoding mixes: registries shaped unlike the one 10-family workload of
//! [`crate::scrape`], so that the encoding comparison holds on other shapes.
//!
//! | mix | families | series |
//! |---|---|---|
//! | `small_families` | 2,000 unlabeled, alternately counter and gauge | 2,000 |
//! | `histograms` | 50 histogram families, label `shard` (10 values), 12 buckets | 500 histograms |
//! | `long_labels` | 1 counter family, `method` (5) x `path` (400 values of 24 to 40 bytes) | 2,000 |
//! | `realistic` | 1,800 unlabeled counters/gauges, 150 histogram families x 4 shards, 1 `method` x `path` family (5 x 1,520) | 10,000 |
//!
//! Every library registers the same families, series and values
//! ([`Content`](crate::mix::Content)), with the same help texts, the way its
//! documentation shows, and encodes a full scrape as Prometheus text into a
//! buffer the caller reuses
//! ([`MixScraper::encode`](crate::mix::MixScraper::encode)). Each
//! [`MixScraper`](crate::mix::MixScraper) owns only its library's metrics,
//! so that a benchmark's set-up builds one library.
//!
//! - nanometrics: a `Registry`, `Registry::register` of `Counter::try_new`,
//!   `Gauge::try_new`, `Family::<Histogram, 1>::try_new` and
//!   `Family::<Counter, 2>::try_new` (run-time names); `Encoder::encode`.
//! - prometheus: `IntCounter`, `IntGauge`, `HistogramVec`, `IntCounterVec`
//!   registered in a `Registry`; `gather()` + `TextEncoder`.
//! - prometheus-client: `Counter`, `Gauge`, `Family<_, Histogram>` (with a
//!   constructor for the buckets) and `Family<_, Counter>` over derived
//!   `EncodeLabelSet` structs of `String`s; `text::encode` into a reused
//!   `String`.
//! - metrics: `describe_*!` and `counter!`/`gauge!`/`histogram!` under
//!   `with_local_recorder` of a recorder from `peers::metrics_builder()`
//!   (histograms render as histograms); `render_to_write`.
//! - measured: `Counter`, `Gauge`, `HistogramVec<_, 12>` and `CounterVec`
//!   over lasso-interned run-time labels, each written as its
//!   `MetricGroup` derive does (`write_help`, then `collect_family_into`)
//!   through one `TextEncoder` over the output.
//!
//! Every library gets both labels of the route family as run-time strings.

use std::borrow::Cow;

use measured::metric::group::Encoding as _;
use measured::metric::name::MetricName;
use measured::metric::MetricFamilyEncoding as _;

use crate::workload::{distinct_values, observations, BUCKETS, OBSERVATIONS};

/// One encoding mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// 2,000 unlabeled families, alternately counter and gauge, one series each.
    SmallFamilies,
    /// 50 histogram families x 10 label values (500 series), 12 buckets.
    Histograms,
    /// One counter family, `method` x `path` (paths of 24 to 40 bytes), 2,000 series.
    LongLabels,
    /// About 10,000 series over 1,951 families: the three shapes above together.
    Realistic,
}

/// Every mix, in report order.
pub const MIXES: [Mix; 4] = [
    Mix::SmallFamilies,
    Mix::Histograms,
    Mix::LongLabels,
    Mix::Realistic,
];

/// The scrapers, in report order: nanometrics (Prometheus text and
/// OpenMetrics) and the four peers.
pub const LIBRARIES: [&str; 6] = crate::scrape::SCRAPERS;

/// The `method` label's values.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The counter family of the `method` x `path` series.
pub const ROUTE_FAMILY: &str = "mix_http_requests_total";

/// What a mix registers.
#[derive(Clone, Copy, Debug)]
struct Spec {
    /// Unlabeled families: even ones counters, odd ones gauges.
    scalars: usize,
    /// Histogram families.
    histogram_families: usize,
    /// Values of each histogram family's `shard` label.
    shards: usize,
    /// Paths of the route family (`0`: no route family); each with every method.
    paths: usize,
}

impl Mix {
    /// The mix's name, as benchmark ids show it.
    pub fn name(self) -> &'static str {
        match self {
            Mix::SmallFamilies => "small_families",
            Mix::Histograms => "histograms",
            Mix::LongLabels => "long_labels",
            Mix::Realistic => "realistic",
        }
    }

    /// The mix called `name` (see [`name`](Self::name)).
    pub fn from_name(name: &str) -> Self {
        MIXES
            .into_iter()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("unknown mix {name}"))
    }

    fn spec(self) -> Spec {
        match self {
            Mix::SmallFamilies => Spec {
                scalars: 2_000,
                histogram_families: 0,
                shards: 0,
                paths: 0,
            },
            Mix::Histograms => Spec {
                scalars: 0,
                histogram_families: 50,
                shards: 10,
                paths: 0,
            },
            Mix::LongLabels => Spec {
                scalars: 0,
                histogram_families: 0,
                shards: 0,
                paths: 400,
            },
            Mix::Realistic => Spec {
                scalars: 1_800,
                histogram_families: 150,
                shards: 4,
                paths: 1_520,
            },
        }
    }

    /// Series (a histogram series counts once).
    pub fn series(self) -> usize {
        let s = self.spec();
        s.scalars + s.histogram_families * s.shards + s.paths * METHODS.len()
    }

    /// Families.
    pub fn families(self) -> usize {
        let s = self.spec();
        s.scalars + s.histogram_families + usize::from(s.paths > 0)
    }

    /// Sample lines of a Prometheus-text scrape: one per counter or gauge
    /// series, 15 per histogram series (12 buckets, `+Inf`, `_sum`, `_count`).
    pub fn sample_lines(self) -> usize {
        let s = self.spec();
        s.scalars + s.histogram_families * s.shards * (BUCKETS.len() + 3) + s.paths * METHODS.len()
    }
}

/// Path `p` of the route family: `/api/v1/<resource>/<id>/<action>`, 24 to
/// 40 bytes, distinct for every `p < 10_000` (the id is `p` zero-padded to 4
/// to 14 digits).
///
/// ```
/// let p = nanometrics_benches::mix::path(7);
/// assert_eq!(p, "/api/v1/apps/00000000007/members");
/// assert!((20..=40).contains(&p.len()));
/// ```
pub fn path(p: usize) -> String {
    const RESOURCES: [&str; 5] = ["rooms", "users", "apps", "channels", "teams"];
    const ACTIONS: [&str; 4] = ["messages", "members", "events", "settings"];
    let width = 4 + p % 11;
    format!(
        "/api/v1/{}/{p:0width$}/{}",
        RESOURCES[p % RESOURCES.len()],
        ACTIONS[(p / RESOURCES.len()) % ACTIONS.len()],
    )
}

/// An unlabeled family of [`Content`].
#[derive(Clone, Debug)]
pub struct Scalar {
    /// Name (a counter's ends in `_total`).
    pub name: String,
    /// Counter (`true`) or gauge.
    pub counter: bool,
    /// Its value (distinct per family).
    pub value: u64,
}

/// A `method` x `path` series of [`Content`].
#[derive(Clone, Debug)]
pub struct Route {
    /// `method` label value.
    pub method: &'static str,
    /// `path` label value.
    pub path: String,
    /// Its value (distinct per series).
    pub value: u64,
}

/// A mix's families, series and values: what every library registers.
#[derive(Clone, Debug)]
pub struct Content {
    /// Unlabeled counters and gauges, alternately.
    pub scalars: Vec<Scalar>,
    /// Histogram family names (label `shard`).
    pub histograms: Vec<String>,
    /// The `shard` values of every histogram family.
    pub shards: Vec<String>,
    /// The series of [`ROUTE_FAMILY`] (empty: no such family).
    pub routes: Vec<Route>,
}

/// Help text of every unlabeled counter.
pub const COUNTER_HELP: &str = "Mix counter.";
/// Help text of every unlabeled gauge.
pub const GAUGE_HELP: &str = "Mix gauge.";
/// Help text of every histogram family.
pub const HISTOGRAM_HELP: &str = "Mix histogram.";
/// Help text of the route family.
pub const ROUTE_HELP: &str = "Mix requests by method and path.";

impl Content {
    /// The content of `mix`.
    pub fn new(mix: Mix) -> Self {
        let s = mix.spec();
        let scalars = (0..s.scalars)
            .map(|i| {
                let counter = i % 2 == 0;
                Scalar {
                    name: if counter {
                        format!("mix_counter_{i:05}_total")
                    } else {
                        format!("mix_gauge_{i:05}")
                    },
                    counter,
                    value: 1_000 + 7 * i as u64,
                }
            })
            .collect();
        let histograms = (0..s.histogram_families)
            .map(|f| format!("mix_latency_{f:03}_seconds"))
            .collect();
        let routes = (0..s.paths)
            .flat_map(|p| {
                let path = path(p);
                METHODS.iter().enumerate().map(move |(m, method)| Route {
                    method,
                    path: path.clone(),
                    value: (p * METHODS.len() + m + 1) as u64,
                })
            })
            .collect();
        Self {
            scalars,
            histograms,
            shards: distinct_values("shard", s.shards),
            routes,
        }
    }

    /// The observations of histogram family `f`, series `k`: 2 to 6 of the
    /// workload's observations, picked so that series' buckets differ.
    pub fn observations(f: usize, k: usize) -> impl Iterator<Item = f64> {
        let obs = observations();
        let n = 2 + (f * 10 + k) % 5;
        (0..n).map(move |j| obs[(f * 7 + k * 11 + j * 3) % OBSERVATIONS])
    }
}

// ---- the peers' label types ----------------------------------------------

/// prometheus-client's label set of the histogram families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcShard {
    /// The shard label.
    pub shard: String,
}

/// prometheus-client's label set of the route family.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcRoute {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
}

type PcHistogram = prometheus_client::metrics::histogram::Histogram;

fn pc_histogram() -> PcHistogram {
    PcHistogram::new(BUCKETS)
}

/// measured's label group of the histogram families (run-time strings).
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredShardSet)]
pub struct MeasuredShard<'a> {
    /// The shard label.
    #[label(dynamic_with = measured::lasso::ThreadedRodeo)]
    pub shard: &'a str,
}

/// measured's label group of the route family (run-time strings).
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredRouteSet)]
pub struct MeasuredRoute<'a> {
    /// Method.
    #[label(dynamic_with = measured::lasso::ThreadedRodeo)]
    pub method: &'a str,
    /// Path.
    #[label(dynamic_with = measured::lasso::ThreadedRodeo)]
    pub path: &'a str,
}

/// One measured family with its name and help text (measured has no
/// registry: its `MetricGroup` derive writes each field's help, then the
/// field's family; [`MeasuredMix`] does the same over a run-time list).
pub struct MeasuredFamily {
    name: &'static MetricName,
    help: &'static str,
    metric: MeasuredMetric,
}

enum MeasuredMetric {
    Counter(measured::Counter),
    Gauge(measured::Gauge),
    Histograms(measured::HistogramVec<MeasuredShardSet, 12>),
    Routes(measured::CounterVec<MeasuredRouteSet>),
}

/// measured's families of a mix, in registration order.
pub struct MeasuredMix {
    families: Vec<MeasuredFamily>,
}

/// A run-time name as measured takes it (`&'static`, validated once).
fn measured_name(name: &str) -> &'static MetricName {
    let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
    MetricName::try_from_str(name).expect("valid name")
}

// ---- each library's registration -----------------------------------------

fn build_nanometrics(c: &Content) -> nanometrics::Registry {
    use nanometrics::{Counter, Family, Gauge, Histogram, Meta};
    let r = nanometrics::Registry::new();
    for s in &c.scalars {
        if s.counter {
            r.register(Counter::try_new(s.name.clone(), COUNTER_HELP).expect("valid counter"))
                .expect("registered")
                .inc_by(s.value);
        } else {
            r.register(Gauge::try_new(s.name.clone(), GAUGE_HELP).expect("valid gauge"))
                .expect("registered")
                .set(s.value as i64);
        }
    }
    for (f, name) in c.histograms.iter().enumerate() {
        let family = r
            .register(
                Family::<Histogram, 1>::try_new(
                    Meta::try_new(name.clone(), HISTOGRAM_HELP).expect("valid name"),
                    ["shard"],
                    Cow::Borrowed(&BUCKETS[..]),
                )
                .expect("valid family"),
            )
            .expect("registered");
        for (k, shard) in c.shards.iter().enumerate() {
            let series = family.with([shard.as_str()]);
            Content::observations(f, k).for_each(|v| series.observe(v));
        }
    }
    if !c.routes.is_empty() {
        let family = r
            .register(
                Family::<Counter, 2>::try_new(
                    Meta::try_new(ROUTE_FAMILY, ROUTE_HELP).expect("valid name"),
                    ["method", "path"],
                    (),
                )
                .expect("valid family"),
            )
            .expect("registered");
        for route in &c.routes {
            family
                .with([route.method, route.path.as_str()])
                .inc_by(route.value);
        }
    }
    r
}

fn build_prometheus(c: &Content) -> prometheus::Registry {
    use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts};
    let r = prometheus::Registry::new();
    for s in &c.scalars {
        if s.counter {
            let m = IntCounter::new(s.name.clone(), COUNTER_HELP).expect("valid counter");
            r.register(Box::new(m.clone())).expect("registered");
            m.inc_by(s.value);
        } else {
            let m = IntGauge::new(s.name.clone(), GAUGE_HELP).expect("valid gauge");
            r.register(Box::new(m.clone())).expect("registered");
            m.set(s.value as i64);
        }
    }
    for (f, name) in c.histograms.iter().enumerate() {
        let family = HistogramVec::new(
            HistogramOpts::new(name.clone(), HISTOGRAM_HELP).buckets(BUCKETS.to_vec()),
            &["shard"],
        )
        .expect("valid family");
        r.register(Box::new(family.clone())).expect("registered");
        for (k, shard) in c.shards.iter().enumerate() {
            let series = family.with_label_values(&[shard.as_str()]);
            Content::observations(f, k).for_each(|v| series.observe(v));
        }
    }
    if !c.routes.is_empty() {
        let family = IntCounterVec::new(Opts::new(ROUTE_FAMILY, ROUTE_HELP), &["method", "path"])
            .expect("valid family");
        r.register(Box::new(family.clone())).expect("registered");
        for route in &c.routes {
            family
                .with_label_values(&[route.method, route.path.as_str()])
                .inc_by(route.value);
        }
    }
    r
}

/// A help text as prometheus-client takes it: it appends the final period
/// itself.
fn pc_help(help: &str) -> &str {
    help.trim_end_matches('.')
}

fn build_prometheus_client(c: &Content) -> prometheus_client::registry::Registry {
    use prometheus_client::metrics::{counter::Counter, family::Family, gauge::Gauge};
    let mut r = prometheus_client::registry::Registry::default();
    for s in &c.scalars {
        if s.counter {
            let m = Counter::<u64>::default();
            // prometheus-client appends `_total` to counters itself.
            r.register(
                s.name.trim_end_matches("_total"),
                pc_help(COUNTER_HELP),
                m.clone(),
            );
            m.inc_by(s.value);
        } else {
            let m = Gauge::<i64>::default();
            r.register(s.name.clone(), pc_help(GAUGE_HELP), m.clone());
            m.set(s.value as i64);
        }
    }
    for (f, name) in c.histograms.iter().enumerate() {
        let family =
            Family::<PcShard, PcHistogram, fn() -> PcHistogram>::new_with_constructor(pc_histogram);
        r.register(name.clone(), pc_help(HISTOGRAM_HELP), family.clone());
        for (k, shard) in c.shards.iter().enumerate() {
            let series = family.get_or_create(&PcShard {
                shard: shard.clone(),
            });
            Content::observations(f, k).for_each(|v| series.observe(v));
        }
    }
    if !c.routes.is_empty() {
        let family = Family::<PcRoute, Counter>::default();
        r.register(
            ROUTE_FAMILY.trim_end_matches("_total"),
            pc_help(ROUTE_HELP),
            family.clone(),
        );
        for route in &c.routes {
            family
                .get_or_create(&PcRoute {
                    method: route.method.to_owned(),
                    path: route.path.clone(),
                })
                .inc_by(route.value);
        }
    }
    r
}

fn build_metrics(c: &Content) -> metrics_exporter_prometheus::PrometheusRecorder {
    let recorder = crate::peers::metrics_builder().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        for s in &c.scalars {
            if s.counter {
                metrics::describe_counter!(s.name.clone(), COUNTER_HELP);
                metrics::counter!(s.name.clone()).absolute(s.value);
            } else {
                metrics::describe_gauge!(s.name.clone(), GAUGE_HELP);
                metrics::gauge!(s.name.clone()).set(s.value as f64);
            }
        }
        for (f, name) in c.histograms.iter().enumerate() {
            metrics::describe_histogram!(name.clone(), HISTOGRAM_HELP);
            for (k, shard) in c.shards.iter().enumerate() {
                let series = metrics::histogram!(name.clone(), "shard" => shard.clone());
                Content::observations(f, k).for_each(|v| series.record(v));
            }
        }
        if !c.routes.is_empty() {
            metrics::describe_counter!(ROUTE_FAMILY, ROUTE_HELP);
            for route in &c.routes {
                metrics::counter!(ROUTE_FAMILY, "method" => route.method, "path" => route.path.clone())
                    .absolute(route.value);
            }
        }
    });
    recorder
}

fn build_measured(c: &Content) -> MeasuredMix {
    let mut families = Vec::with_capacity(c.scalars.len() + c.histograms.len() + 1);
    for s in &c.scalars {
        let (help, metric) = if s.counter {
            let m = measured::Counter::new();
            m.inc_by(s.value);
            (COUNTER_HELP, MeasuredMetric::Counter(m))
        } else {
            let m = measured::Gauge::new();
            m.set(s.value as i64);
            (GAUGE_HELP, MeasuredMetric::Gauge(m))
        };
        families.push(MeasuredFamily {
            name: measured_name(&s.name),
            help,
            metric,
        });
    }
    for (f, name) in c.histograms.iter().enumerate() {
        let family: measured::HistogramVec<MeasuredShardSet, 12> =
            measured::HistogramVec::with_label_set_and_metadata(
                MeasuredShardSet {
                    shard: measured::lasso::ThreadedRodeo::new(),
                },
                measured::metric::histogram::Thresholds::with_buckets(BUCKETS),
            );
        for (k, shard) in c.shards.iter().enumerate() {
            Content::observations(f, k).for_each(|v| family.observe(MeasuredShard { shard }, v));
        }
        families.push(MeasuredFamily {
            name: measured_name(name),
            help: HISTOGRAM_HELP,
            metric: MeasuredMetric::Histograms(family),
        });
    }
    if !c.routes.is_empty() {
        let family = measured::CounterVec::with_label_set(MeasuredRouteSet {
            method: measured::lasso::ThreadedRodeo::new(),
            path: measured::lasso::ThreadedRodeo::new(),
        });
        for route in &c.routes {
            family.inc_by(
                MeasuredRoute {
                    method: route.method,
                    path: &route.path,
                },
                route.value,
            );
        }
        families.push(MeasuredFamily {
            name: measured_name(ROUTE_FAMILY),
            help: ROUTE_HELP,
            metric: MeasuredMetric::Routes(family),
        });
    }
    MeasuredMix { families }
}

// ---- the scrapers ----------------------------------------------------------

/// One library's metrics for a mix with its encoder's reusable state;
/// [`encode`](Self::encode) replaces `out`'s contents with a full scrape.
pub enum MixScraper {
    /// nanometrics' `Registry` and `Encoder` (Prometheus text 0.0.4).
    Nanometrics(Box<nanometrics::Registry>, nanometrics::Encoder),
    /// nanometrics' `Registry` and `Encoder` writing OpenMetrics 1.0.
    NanometricsOpenMetrics(Box<nanometrics::Registry>, nanometrics::Encoder),
    /// prometheus' `gather()` + `TextEncoder`.
    Prometheus(prometheus::Registry),
    /// prometheus-client's `encoding::text::encode` into a reused `String`.
    PrometheusClient(prometheus_client::registry::Registry, String),
    /// metrics-exporter-prometheus' recorder (not installed globally) and
    /// its handle's `render_to_write`.
    Metrics(
        metrics_exporter_prometheus::PrometheusRecorder,
        metrics_exporter_prometheus::PrometheusHandle,
    ),
    /// measured's families through one `TextEncoder` over `out`.
    Measured(MeasuredMix),
}

impl MixScraper {
    /// Registers `mix` in `library` (one of [`LIBRARIES`]) only.
    pub fn new(mix: Mix, library: &str) -> Self {
        let c = Content::new(mix);
        match library {
            "nanometrics" => {
                Self::Nanometrics(Box::new(build_nanometrics(&c)), nanometrics::Encoder::new())
            }
            "nanometrics_openmetrics" => Self::NanometricsOpenMetrics(
                Box::new(build_nanometrics(&c)),
                nanometrics::Encoder::new(),
            ),
            "prometheus" => Self::Prometheus(build_prometheus(&c)),
            "prometheus_client" => {
                Self::PrometheusClient(build_prometheus_client(&c), String::new())
            }
            "metrics" => {
                let recorder = build_metrics(&c);
                let handle = recorder.handle();
                Self::Metrics(recorder, handle)
            }
            "measured" => Self::Measured(build_measured(&c)),
            other => panic!("unknown library {other}"),
        }
    }

    /// [`new`](Self::new), then one scrape into a fresh buffer (which grows
    /// every reusable buffer); returns both, ready for steady-state scrapes.
    pub fn warmed(mix: Mix, library: &str) -> (Self, Vec<u8>) {
        let mut s = Self::new(mix, library);
        let mut out = Vec::new();
        s.encode(&mut out);
        (s, out)
    }

    /// Encodes a full scrape into `out` (cleared first).
    pub fn encode(&mut self, out: &mut Vec<u8>) {
        out.clear();
        match self {
            Self::Nanometrics(r, enc) => enc.encode(r, nanometrics::Format::Prometheus, out),
            Self::NanometricsOpenMetrics(r, enc) => {
                enc.encode(r, nanometrics::Format::OpenMetrics, out)
            }
            Self::Prometheus(r) => {
                use prometheus::Encoder as _;
                prometheus::TextEncoder::new()
                    .encode(&r.gather(), out)
                    .expect("encodes");
            }
            Self::PrometheusClient(r, text) => {
                text.clear();
                prometheus_client::encoding::text::encode(text, r).expect("encodes");
                out.extend_from_slice(text.as_bytes());
            }
            Self::Metrics(_, handle) => handle.render_to_write(out).expect("encodes"),
            Self::Measured(m) => {
                let mut enc = measured::text::TextEncoder::new(&mut *out);
                for f in &m.families {
                    enc.write_help(f.name, f.help).expect("encodes");
                    match &f.metric {
                        MeasuredMetric::Counter(c) => c.collect_family_into(f.name, &mut enc),
                        MeasuredMetric::Gauge(g) => g.collect_family_into(f.name, &mut enc),
                        MeasuredMetric::Histograms(h) => h.collect_family_into(f.name, &mut enc),
                        MeasuredMetric::Routes(r) => r.collect_family_into(f.name, &mut enc),
                    }
                    .expect("encodes");
                }
                enc.flush().expect("encodes");
            }
        }
    }
}

/// The sample lines of a Prometheus-text or OpenMetrics scrape: neither
/// empty nor comments (`# HELP`, `# TYPE`, `# EOF`).
pub fn sample_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// One parsed sample: name, labels (sorted, `le` normalised to its
    /// `f64`), value.
    type Sample = (String, Vec<(String, String)>, f64);

    /// Parses one sample line of the text format strictly enough to catch a
    /// malformed line: a metric name, optional `{name="value",…}` with the
    /// format's escapes, one space, a value (and no timestamp: none of the
    /// libraries writes one here).
    fn parse(line: &[u8]) -> Result<Sample, String> {
        let line = std::str::from_utf8(line).map_err(|e| e.to_string())?;
        let err = |what: &str| format!("{what}: {line:?}");
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .ok_or_else(|| err("no value"))?;
        let name = &line[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(err("bad name"));
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                let eq = rest.find('=').ok_or_else(|| err("label without ="))?;
                let lname = &rest[..eq];
                if lname.is_empty()
                    || lname.starts_with(|c: char| c.is_ascii_digit())
                    || !lname.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(err("bad label name"));
                }
                rest = rest[eq + 1..]
                    .strip_prefix('"')
                    .ok_or_else(|| err("unquoted label value"))?;
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((i, '"')) => break i,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, c @ ('\\' | '"'))) => value.push(c),
                            _ => return Err(err("bad escape")),
                        },
                        Some((_, c)) => value.push(c),
                        None => return Err(err("unterminated label value")),
                    }
                };
                if lname == "le" {
                    let v: f64 = value.parse().map_err(|_| err("bad le"))?;
                    value = format!("{v:?}");
                }
                labels.push((lname.to_owned(), value));
                rest = &rest[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
        }
        let value = rest.strip_prefix(' ').ok_or_else(|| err("no space"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().map_err(|_| err("bad value"))?,
        };
        labels.sort();
        Ok((name.to_owned(), labels, value))
    }

    fn scrape(mix: Mix, library: &str) -> Vec<u8> {
        let (mut s, first) = MixScraper::warmed(mix, library);
        let mut out = Vec::new();
        s.encode(&mut out);
        // metrics-exporter-prometheus writes families in hash order, which
        // changes from one render to the next: compare lengths and samples.
        assert_eq!(first.len(), out.len(), "{library}: scrapes differ");
        assert!(
            samples(&first) == samples(&out),
            "{library}: scrapes differ"
        );
        out
    }

    /// Samples keyed by (name, labels); histogram `_sum`s compared within a
    /// relative 1e-12 (libraries may add the observations in another order).
    fn samples(text: &[u8]) -> BTreeMap<(String, Vec<(String, String)>), f64> {
        let mut map = BTreeMap::new();
        for line in sample_lines(text) {
            let (name, labels, value) = parse(line).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                map.insert((name, labels), value).is_none(),
                "duplicate sample {}",
                String::from_utf8_lossy(line)
            );
        }
        map
    }

    #[test]
    fn paths_are_distinct_and_20_to_40_bytes() {
        let paths: Vec<String> = (0..2_000).map(path).collect();
        assert!(paths.iter().all(|p| (20..=40).contains(&p.len())));
        let min = paths.iter().map(String::len).min();
        let max = paths.iter().map(String::len).max();
        assert_eq!((min, max), (Some(24), Some(40)));
        let distinct: std::collections::HashSet<_> = paths.iter().collect();
        assert_eq!(distinct.len(), paths.len());
    }

    #[test]
    fn mixes_have_the_announced_shape() {
        let shape: Vec<_> = MIXES.iter().map(|m| (m.families(), m.series())).collect();
        assert_eq!(
            shape,
            [(2_000, 2_000), (50, 500), (1, 2_000), (1_951, 10_000)]
        );
        // Histogram series' bucket counts differ.
        let buckets: std::collections::HashSet<Vec<usize>> = (0..10)
            .map(|k| {
                let mut b = vec![0; BUCKETS.len() + 1];
                for v in Content::observations(3, k) {
                    b[BUCKETS.partition_point(|x| v > *x)] += 1;
                }
                b
            })
            .collect();
        assert!(buckets.len() >= 8, "{buckets:?}");
    }

    /// Every library writes the same number of sample lines for `mix`, and
    /// the same samples: nanometrics' lines parse, and every peer's samples
    /// (names, label sets, values) are nanometrics'. No peer needs an
    /// exception: all five express every mix. The bytes differ only in
    /// layout (family and label order, blank lines between families in
    /// measured and metrics-exporter-prometheus, number formatting).
    fn same_samples(mix: Mix) {
        let nm = scrape(mix, "nanometrics");
        let expected = samples(&nm);
        assert_eq!(expected.len(), mix.sample_lines(), "{mix:?}");
        for library in LIBRARIES.into_iter().skip(1) {
            let text = scrape(mix, library);
            assert_eq!(
                sample_lines(&text).count(),
                expected.len(),
                "{mix:?} {library}"
            );
            let got = samples(&text);
            // OpenMetrics: the same samples (no `_created` unless one is set).
            assert_eq!(got.len(), expected.len(), "{mix:?} {library}");
            for ((key, want), (got_key, value)) in expected.iter().zip(&got) {
                assert_eq!(key, got_key, "{mix:?} {library}");
                let close = if key.0.ends_with("_sum") {
                    (want - value).abs() <= want.abs() * 1e-12
                } else {
                    want == value
                };
                assert!(close, "{mix:?} {library} {key:?}: {want} != {value}");
            }
        }
    }

    #[test]
    fn small_families_same_samples() {
        same_samples(Mix::SmallFamilies);
    }

    #[test]
    fn histograms_same_samples() {
        same_samples(Mix::Histograms);
    }

    #[test]
    fn long_labels_same_samples() {
        same_samples(Mix::LongLabels);
    }

    #[test]
    fn realistic_same_samples() {
        same_samples(Mix::Realistic);
    }

    #[test]
    fn the_parser_rejects_malformed_lines() {
        assert!(parse(br#"a_b{x="1",le="0.5"} 3"#).is_ok());
        assert_eq!(
            parse(br#"a{le="1e-4"} +Inf"#).map(|s| s.1[0].1.clone()),
            Ok("0.0001".into())
        );
        for bad in [
            &br#"a{x="1"}3"#[..],
            br#"a{x="1} 3"#,
            br#"a{x=1} 3"#,
            br#"a{1x="1"} 3"#,
            br#"1a 3"#,
            br#"a 3 4"#,
            br#"a x"#,
            br#"a{x="\q"} 1"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
