//! The pusher's own metrics, registered once per pushed registry (two
//! pushers on one registry share them), as the responder's are.

use crate::sync::{lock, Mutex};

use crate::registry::Registry;
use crate::{Counter, Error, GaugeF64, Metric};

crate::label_enum! {
    /// Why a push failed (`nanometrics_push_failures_total`).
    pub(crate) enum Reason: "reason" {
        Connect => "connect",
        Timeout => "timeout",
        Io => "io",
        BadResponse => "bad_response",
        ClientError => "client_error",
        ServerError => "server_error",
    }
}

/// The pusher's metrics.
pub(crate) struct PushMetrics {
    pub(crate) pushes: Counter,
    pub(crate) failures: Counter<Reason>,
    pub(crate) last_success: GaugeF64,
}

const NAMES: [&str; 3] = [
    "nanometrics_push_total",
    "nanometrics_push_failures_total",
    "nanometrics_push_last_success_timestamp_seconds",
];

impl PushMetrics {
    fn new() -> Self {
        let [p, f, l] = NAMES;
        PushMetrics {
            pushes: Counter::new(p, "Pushes the push target accepted (2xx)."),
            failures: Counter::labeled(f, "Pushes that failed, by reason."),
            last_success: GaugeF64::new(l, "Unix time of the last accepted push."),
        }
    }

    /// A set no registry holds, for pushers whose self-metrics are off.
    pub(crate) fn unregistered() -> &'static PushMetrics {
        static SET: std::sync::OnceLock<PushMetrics> = std::sync::OnceLock::new();
        SET.get_or_init(PushMetrics::new)
    }

    /// The set registered in `registry`, registering it on first use.
    /// Refuses (`Error::Duplicate`) if the registry has a family of one of
    /// these names that is not ours; the families registered before the
    /// clash stay registered, unused (a start-up error, not worth undoing).
    pub(crate) fn for_registry(registry: &'static Registry) -> Result<&'static PushMetrics, Error> {
        static BY_REGISTRY: Mutex<Vec<(usize, &'static PushMetrics)>> = Mutex::new(Vec::new());
        let mut map = lock(&BY_REGISTRY);
        let key = registry as *const Registry as usize;
        if let Some((_, m)) = map.iter().find(|(k, _)| *k == key) {
            return Ok(m);
        }
        // One leaked set per registry ever pushed: registries are few and
        // long-lived, and `register_static` needs a `&'static` metric.
        let m: &'static PushMetrics = Box::leak(Box::new(PushMetrics::new()));
        let metrics: [&'static dyn Metric; 3] = [&m.pushes, &m.failures, &m.last_success];
        for metric in metrics {
            registry.register_static(metric)?;
        }
        map.push((key, m));
        Ok(m)
    }
}
