//! Pushing metrics instead of being scraped: to a Prometheus Pushgateway
//! (`METRICS_DRIVER=pushgateway`), or the text body to any URL that takes it
//! (`METRICS_DRIVER=push`, such as VictoriaMetrics'
//! `/api/v1/import/prometheus`).
//!
//! ```no_run
//! // METRICS_DRIVER=pushgateway METRICS_PUSHGATEWAY_URL=http://pushgateway:9091 \
//! // METRICS_PUSHGATEWAY_JOB=soketi ./server
//! // (METRICS_DRIVER unset or `prometheus`: the /metrics responder, as
//! // nanometrics::http::serve_global_from_env starts it.)
//! let _metrics = nanometrics::push::serve_or_push_global_from_env()?;
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! Or with the builder, on any registry:
//!
//! ```no_run
//! use std::time::Duration;
//! use nanometrics::push::{self, PushConfig};
//! let cfg = PushConfig::pushgateway("http://127.0.0.1:9091", "batch")?
//!     .interval(Duration::from_secs(10))
//!     .delete_on_shutdown(true);
//! let pusher = push::push(&cfg, nanometrics::global())?;
//! // … work …
//! pusher.shutdown(); // a final push, then DELETE of the group
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! # How it pushes
//!
//! A thread of its own (`nanometrics-push`) encodes the registry as
//! Prometheus text 0.0.4 (`Content-Type: text/plain; version=0.0.4;
//! charset=utf-8`) every interval (15 s by default, the first push at once)
//! and sends it with `PUT` (the Pushgateway replaces the group) or `POST`
//! (it replaces only the families pushed; the default of the `push` driver)
//! over one kept-alive HTTP/1.1 connection, reopened after any error. Its
//! encoder and buffers are reused, so in steady state a push allocates
//! nothing (gzip bodies aside). Recording threads never wait for it.
//!
//! Failures (no connection, timeouts, `5xx`, `408`, `429`) are retried after
//! a wait drawn uniformly from `[0, min(max_backoff, 250 ms × 2^n)]` for the
//! `n`th failure in a row (full jitter); other refusals (`400` for
//! inconsistent metrics, `401`, `404`) are printed and tried again one
//! interval later. Dropping the [`Pusher`] (or [`Pusher::shutdown`]) makes a
//! final push, then deletes the Pushgateway group if
//! [`delete_on_shutdown`](PushConfig::delete_on_shutdown) is set.
//!
//! Only plain HTTP: `https://` URLs are refused (put a TLS-terminating proxy
//! or sidecar in front of a remote gateway).
//!
//! # Pushgateway grouping key
//!
//! The group's URL is `<base>/metrics/job/<job>{/<label>/<value>}`, the
//! labels in the order given, `instance` set to the host name
//! (`gethostname`) unless given. A job or value that is empty or contains
//! `/` is written in the Pushgateway's base64 form,
//! `<label>@base64/<RFC 4648 §5 base64>` (an empty value as `=`); any other
//! value is percent-encoded outside `A-Za-z0-9-._~`.
//!
//! # Self-metrics
//!
//! Registered in the pushed registry (so pushed too) unless
//! [`PushConfig::self_metrics`] is off (`METRICS_SELF_METRICS=false`):
//!
//! - `nanometrics_push_total`: requests the target accepted (`2xx`);
//! - `nanometrics_push_failures_total{reason}`: failed requests by reason:
//!   `connect`, `timeout`, `io`, `bad_response`, `client_error` (`4xx`),
//!   `server_error` (`5xx`);
//! - `nanometrics_push_last_success_timestamp_seconds`: Unix time of the
//!   last accepted push.
//!
//! Variables, defaults and errors: `docs/push.md`.

mod backoff;
mod client;
pub(crate) mod config;
mod driver;
mod env;
mod metrics;
#[cfg(test)]
mod tests;
pub(crate) mod url;

pub use config::{
    Driver, Method, PushConfig, Target, DEFAULT_INTERVAL, DEFAULT_MAX_BACKOFF, DEFAULT_TIMEOUT,
    ENV_VARS, MAX_DURATION,
};
pub use driver::{Pusher, Stats};

use crate::config::HttpConfig;
use crate::http::Server;
use crate::registry::Registry;
use crate::Error;

/// Starts pushing `registry` as `config` says, on a thread of its own.
///
/// Fails if the registry has a declaration error ([`Registry::check`]),
/// if its self-metric names are taken, or if the thread cannot start;
/// never because the target is down (that is retried).
///
/// ```no_run
/// use nanometrics::push::{push, PushConfig};
/// let pusher = push(&PushConfig::url("http://127.0.0.1:8428/api/v1/import/prometheus")?, nanometrics::global())?;
/// println!("{:?}", pusher.stats());
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn push(config: &PushConfig, registry: &'static Registry) -> Result<Pusher, Error> {
    driver::start(config, registry)
}

/// What [`serve_or_push`] started.
#[derive(Debug)]
#[must_use = "dropping it stops exporting"]
pub enum Exporter {
    /// The `/metrics` responder (`METRICS_DRIVER=prometheus`).
    Responder(Server),
    /// A pusher (`METRICS_DRIVER=pushgateway` or `push`).
    Pusher(Pusher),
}

impl Exporter {
    /// Stops it: the responder closes its port; a pusher makes its final
    /// push first.
    pub fn shutdown(self) {
        match self {
            Exporter::Responder(s) => s.shutdown(),
            Exporter::Pusher(p) => p.shutdown(),
        }
    }
}

/// Serves `registry` with the responder when `push` is `None`, else pushes
/// it; nothing (`Ok(None)`) when `http.is_enabled()` is false. A pusher takes
/// the responder configuration's prefix and self-metrics switch.
///
/// ```
/// use nanometrics::config::HttpConfig;
/// use nanometrics::push::{serve_or_push, Exporter};
/// let http = HttpConfig::new().port(0);
/// let exporter = serve_or_push(&http, None, nanometrics::global())?;
/// assert!(matches!(exporter, Some(Exporter::Responder(_))));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn serve_or_push(
    http: &HttpConfig,
    push: Option<&PushConfig>,
    registry: &'static Registry,
) -> Result<Option<Exporter>, Error> {
    if !http.is_enabled() {
        return Ok(None);
    }
    match push {
        None => crate::http::serve(http, registry).map(|s| Some(Exporter::Responder(s))),
        Some(p) => {
            let p = p
                .clone()
                .prefix(http.get_prefix())?
                .self_metrics(http.get_self_metrics());
            driver::start(&p, registry).map(|p| Some(Exporter::Pusher(p)))
        }
    }
}

/// The responder or a pusher for the [`global`](crate::global) registry, as
/// `METRICS_DRIVER` says: [`HttpConfig::from_env`] and
/// [`PushConfig::from_env`], then [`serve_or_push`]. Every variable of both
/// is validated first, whichever driver is chosen.
///
/// ```no_run
/// // METRICS_DRIVER=push METRICS_PUSH_URL=http://vm:8428/api/v1/import/prometheus ./server
/// let _metrics = nanometrics::push::serve_or_push_global_from_env()?;
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn serve_or_push_global_from_env() -> Result<Option<Exporter>, Error> {
    let http = HttpConfig::from_env()?;
    let push = PushConfig::from_env()?;
    serve_or_push(&http, push.as_ref(), crate::global())
}

#[cfg(doctest)]
#[doc = include_str!("../../docs/push.md")]
struct PushDoctests;
