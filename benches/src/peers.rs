//! Every library's metrics for the workloads, built the way its documentation
//! shows, with the same names, buckets and label values.
//!
//! Each struct holds one library's counter, gauge, 12-bucket histogram and
//! 2-label counter (20 combinations), plus the hot-path forms the library
//! recommends (cached handles, local counters) where it offers them.

use std::sync::OnceLock;

use crate::workload::{combo, BUCKETS, COMBOS, METHODS, STATUSES};

/// nanometrics' metrics: `static`s, as its documentation declares them.
pub mod nm {
    use nanometrics::{Counter, Family, Gauge, Histogram};

    nanometrics::label_enum! {
        /// HTTP method (the 2-label workload's first label).
        pub enum Method: "method" { Get => "GET", Post => "POST", Put => "PUT", Delete => "DELETE" }
    }
    nanometrics::label_enum! {
        /// Status code (the 2-label workload's second label).
        pub enum Status: "status" { S200 => "200", S301 => "301", S404 => "404", S500 => "500", S503 => "503" }
    }

    /// Unlabeled counter.
    pub static COUNTER: Counter = Counter::new("bench_counter_total", "Bench counter.");
    /// 20 unlabeled counters: the static-label workload done without labels
    /// (one of 20 series picked by the same index), to tell the cost of
    /// picking a series apart from the cost of the label set.
    pub static UNLABELED_20: [Counter; super::COMBOS] =
        [const { Counter::new("bench_unlabeled_total", "Bench counter.") }; super::COMBOS];
    /// Unlabeled gauge.
    pub static GAUGE: Gauge = Gauge::new("bench_gauge", "Bench gauge.");
    /// 12-bucket histogram.
    pub static HISTOGRAM: Histogram = Histogram::new(
        "bench_seconds",
        "Bench histogram.",
        &crate::workload::BUCKETS,
    );
    /// Compile-time 2-label counter.
    pub static LABELED: Counter<(Method, Status)> =
        Counter::labeled("bench_labeled_total", "Bench labeled counter.");
    /// A kept handle to one series of [`LABELED`].
    pub type LabeledRef = nanometrics::CounterRef<'static>;
    /// The same counter with run-time label values.
    pub static DYNAMIC: Family<Counter, 2> = Family::new(
        "bench_dynamic_total",
        "Bench dynamic counter.",
        ["method", "status"],
    );

    /// The `i`-th label combination as compile-time labels.
    #[inline]
    pub fn labels(i: usize) -> (Method, Status) {
        let (m, s) = super::combo(i);
        (Method::ALL[m], Status::ALL[s])
    }
}

/// Label enums shared by the peers that take typed labels (measured and
/// prometheus-client derive their traits on one enum).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    measured::FixedCardinalityLabel,
    prometheus_client::encoding::EncodeLabelValue,
)]
#[allow(missing_docs)]
pub enum PeerMethod {
    Get,
    Post,
    Put,
    Delete,
}

/// See [`PeerMethod`].
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    measured::FixedCardinalityLabel,
    prometheus_client::encoding::EncodeLabelValue,
)]
#[allow(missing_docs)]
pub enum PeerStatus {
    S200,
    S301,
    S404,
    S500,
    S503,
}

const PEER_METHODS: [PeerMethod; 4] = [
    PeerMethod::Get,
    PeerMethod::Post,
    PeerMethod::Put,
    PeerMethod::Delete,
];
const PEER_STATUSES: [PeerStatus; 5] = [
    PeerStatus::S200,
    PeerStatus::S301,
    PeerStatus::S404,
    PeerStatus::S500,
    PeerStatus::S503,
];

/// The `i`-th label combination as the peers' typed labels.
#[inline]
pub fn peer_labels(i: usize) -> (PeerMethod, PeerStatus) {
    let (m, s) = combo(i);
    (PEER_METHODS[m], PEER_STATUSES[s])
}

/// The `i`-th label combination as strings.
#[inline]
pub fn str_labels(i: usize) -> (&'static str, &'static str) {
    let (m, s) = combo(i);
    (METHODS[m], STATUSES[s])
}

/// `prometheus` 0.14 (the tikv crate).
pub struct Prom {
    /// Registry the metrics are registered in.
    pub registry: prometheus::Registry,
    /// Unlabeled counter.
    pub counter: prometheus::IntCounter,
    /// Unlabeled gauge.
    pub gauge: prometheus::IntGauge,
    /// 12-bucket histogram.
    pub histogram: prometheus::Histogram,
    /// 2-label counter vec (`with_label_values` per call).
    pub labeled: prometheus::IntCounterVec,
    /// The 20 series of `labeled`, looked up once (the documented hot path).
    pub cached: Vec<prometheus::IntCounter>,
}

impl Default for Prom {
    fn default() -> Self {
        Self::new()
    }
}

impl Prom {
    /// Builds and registers everything.
    pub fn new() -> Self {
        use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};
        let registry = prometheus::Registry::new();
        let counter = IntCounter::new("bench_counter_total", "Bench counter.").unwrap();
        let gauge = IntGauge::new("bench_gauge", "Bench gauge.").unwrap();
        let histogram = Histogram::with_opts(
            HistogramOpts::new("bench_seconds", "Bench histogram.").buckets(BUCKETS.to_vec()),
        )
        .unwrap();
        let labeled = IntCounterVec::new(
            Opts::new("bench_labeled_total", "Bench labeled counter."),
            &["method", "status"],
        )
        .unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        registry.register(Box::new(gauge.clone())).unwrap();
        registry.register(Box::new(histogram.clone())).unwrap();
        registry.register(Box::new(labeled.clone())).unwrap();
        let cached = (0..COMBOS)
            .map(|i| {
                let (m, s) = str_labels(i);
                labeled.with_label_values(&[m, s])
            })
            .collect();
        Self {
            registry,
            counter,
            gauge,
            histogram,
            labeled,
            cached,
        }
    }
}

/// prometheus-client's typed label set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcStatic {
    /// Method.
    pub method: PeerMethod,
    /// Status.
    pub status: PeerStatus,
}

/// prometheus-client's label set of run-time strings.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcDynamic {
    /// Method.
    pub method: String,
    /// Status.
    pub status: String,
}

/// `prometheus-client` 0.25 (the official Rust client).
pub struct PromClient {
    /// Registry the metrics are registered in.
    pub registry: prometheus_client::registry::Registry,
    /// Unlabeled counter.
    pub counter: prometheus_client::metrics::counter::Counter,
    /// Unlabeled gauge.
    pub gauge: prometheus_client::metrics::gauge::Gauge,
    /// 12-bucket histogram.
    pub histogram: prometheus_client::metrics::histogram::Histogram,
    /// 2-label family over an enum label set (`get_or_create` per call).
    pub labeled: prometheus_client::metrics::family::Family<
        PcStatic,
        prometheus_client::metrics::counter::Counter,
    >,
    /// 2-label family over `String` labels (`get_or_create` per call).
    pub dynamic: prometheus_client::metrics::family::Family<
        PcDynamic,
        prometheus_client::metrics::counter::Counter,
    >,
    /// The 20 series of `labeled`, cloned out once (the documented hot path).
    pub cached: Vec<prometheus_client::metrics::counter::Counter>,
}

impl Default for PromClient {
    fn default() -> Self {
        Self::new()
    }
}

impl PromClient {
    /// Builds and registers everything.
    pub fn new() -> Self {
        use prometheus_client::metrics::{
            counter::Counter, family::Family, gauge::Gauge, histogram::Histogram,
        };
        let mut registry = prometheus_client::registry::Registry::default();
        let counter = Counter::default();
        let gauge = Gauge::default();
        let histogram = Histogram::new(BUCKETS);
        let labeled = Family::<PcStatic, Counter>::default();
        let dynamic = Family::<PcDynamic, Counter>::default();
        registry.register("bench_counter", "Bench counter.", counter.clone());
        registry.register("bench_gauge", "Bench gauge.", gauge.clone());
        registry.register("bench_seconds", "Bench histogram.", histogram.clone());
        registry.register("bench_labeled", "Bench labeled counter.", labeled.clone());
        registry.register("bench_dynamic", "Bench dynamic counter.", dynamic.clone());
        let cached = (0..COMBOS)
            .map(|i| {
                let (method, status) = peer_labels(i);
                labeled.get_or_create(&PcStatic { method, status }).clone()
            })
            .collect();
        Self {
            registry,
            counter,
            gauge,
            histogram,
            labeled,
            dynamic,
            cached,
        }
    }
}

/// The process-wide `metrics` recorder (metrics-exporter-prometheus with the
/// workload's buckets), installed on first call; returns its render handle.
pub fn metrics_handle() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = metrics_builder().build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).expect("no other global recorder");
        handle
    })
}

/// A metrics-exporter-prometheus builder with the workload's buckets (so
/// histograms render as histograms, not summaries).
pub fn metrics_builder() -> metrics_exporter_prometheus::PrometheusBuilder {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .expect("valid buckets")
}

/// `metrics` 0.24 through the global recorder: cached handles (the documented
/// hot path) for each metric; the per-call form is the `counter!` macro at
/// the call site.
pub struct Metrics {
    /// Unlabeled counter handle.
    pub counter: metrics::Counter,
    /// Unlabeled gauge handle.
    pub gauge: metrics::Gauge,
    /// Histogram handle.
    pub histogram: metrics::Histogram,
    /// The 20 series of the 2-label counter, registered once.
    pub cached: Vec<metrics::Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Installs the recorder if needed and registers the handles.
    pub fn new() -> Self {
        metrics_handle();
        let cached = (0..COMBOS)
            .map(|i| {
                let (m, s) = str_labels(i);
                metrics::counter!("bench_labeled_total", "method" => m, "status" => s)
            })
            .collect();
        Self {
            counter: metrics::counter!("bench_counter_total"),
            gauge: metrics::gauge!("bench_gauge"),
            histogram: metrics::histogram!("bench_seconds"),
            cached,
        }
    }
}

/// measured's typed 2-label group.
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredStaticSet)]
pub struct MeasuredStatic {
    /// Method.
    pub method: PeerMethod,
    /// Status.
    pub status: PeerStatus,
}

/// measured's run-time 2-label group, interned in lasso `ThreadedRodeo`s.
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredDynamicSet)]
pub struct MeasuredDynamic<'a> {
    /// Method.
    #[label(dynamic_with = measured::lasso::ThreadedRodeo)]
    pub method: &'a str,
    /// Status.
    #[label(dynamic_with = measured::lasso::ThreadedRodeo)]
    pub status: &'a str,
}

/// `measured` 0.0.25.
pub struct Measured {
    /// Unlabeled counter.
    pub counter: measured::Counter,
    /// Unlabeled gauge.
    pub gauge: measured::Gauge,
    /// 12-bucket histogram.
    pub histogram: measured::Histogram<12>,
    /// 2-label counter over enum labels (dense).
    pub labeled: measured::CounterVec<MeasuredStaticSet>,
    /// 2-label counter over interned run-time strings (sparse).
    pub dynamic: measured::CounterVec<MeasuredDynamicSet>,
}

impl Default for Measured {
    fn default() -> Self {
        Self::new()
    }
}

impl Measured {
    /// Builds everything.
    pub fn new() -> Self {
        Self {
            counter: measured::Counter::new(),
            gauge: measured::Gauge::new(),
            histogram: measured::Histogram::with_metadata(
                measured::metric::histogram::Thresholds::with_buckets(BUCKETS),
            ),
            labeled: measured::CounterVec::new(),
            dynamic: measured::CounterVec::with_label_set(MeasuredDynamicSet {
                method: measured::lasso::ThreadedRodeo::new(),
                status: measured::lasso::ThreadedRodeo::new(),
            }),
        }
    }
}
