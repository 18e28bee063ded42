//! Issue 18, item 3: the `metrics` facade through two recorders, nanometrics'
//! (`nanometrics::facade::Recorder`) and metrics-exporter-prometheus', each
//! on its own registry. Only one recorder can be the process's global one,
//! so the benchmarks pick one per thread with `metrics::with_local_recorder`
//! or `metrics::set_default_local_recorder`, the same way for both.

use std::sync::OnceLock;

use metrics_exporter_prometheus::PrometheusRecorder;
use nanometrics::facade::Recorder;

use crate::workload::BUCKETS;

/// The two recorders, built once.
pub struct Recorders {
    /// nanometrics' recorder, on a registry of its own.
    pub nanometrics: Recorder,
    /// metrics-exporter-prometheus' recorder (not installed).
    pub exporter: PrometheusRecorder,
}

/// The recorders (built on first call).
pub fn recorders() -> &'static Recorders {
    static R: OnceLock<Recorders> = OnceLock::new();
    R.get_or_init(|| {
        let registry = Box::leak(Box::new(nanometrics::Registry::new()));
        Recorders {
            nanometrics: Recorder::builder()
                .registry(registry)
                .buckets(&BUCKETS)
                .and_then(|b| b.build())
                .expect("a fresh registry"),
            exporter: crate::peers::metrics_builder().build_recorder(),
        }
    })
}

/// The per-call form: the key registered at every call, as `counter!`
/// written at the call site does.
#[inline(always)]
pub fn per_call() {
    metrics::counter!("facade_requests_total", "method" => "GET").increment(1)
}

/// The handle the per-call form registers, for the kept-handle path.
pub fn kept() -> metrics::Counter {
    metrics::counter!("facade_requests_total", "method" => "GET")
}
