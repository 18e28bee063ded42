//! The documented metric sets of the five seed servers (../shared/seeds/),
//! declared with nanometrics: same names, types and label names, registered in
//! a fresh registry and filled with values. Shared by `tests/seed_sets.rs` and
//! `examples/seed_exposition.rs` (which the conformance stage feeds to promtool
//! and the Python parsers).
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use nanometrics::{
    Counter, Error, Family, FamilyKind, Gauge, GaugeF64, Histogram, Meta, Registry, DEFAULT_BUCKETS,
};

/// A family's type as the seed documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Counter,
    Gauge,
    Histogram,
}

/// One documented family.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub ty: Ty,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const fn c(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Spec {
    Spec {
        name,
        ty: Ty::Counter,
        labels,
        help,
    }
}
const fn g(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Spec {
    Spec {
        name,
        ty: Ty::Gauge,
        labels,
        help,
    }
}
const fn h(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Spec {
    Spec {
        name,
        ty: Ty::Histogram,
        labels,
        help,
    }
}

/// A seed server: its name, the prefix its output uses, its families.
pub struct Seed {
    pub server: &'static str,
    pub prefix: &'static str,
    pub specs: &'static [Spec],
}

/// soketi (000): the port sits in every name (prefix `soketi_6001_`); four
/// byte counters have no `_total` suffix.
pub const SOKETI: Seed = Seed {
    server: "soketi",
    prefix: "soketi_6001_",
    specs: &[
        g(
            "connected",
            &[],
            "The number of currently connected sockets.",
        ),
        c(
            "new_connections_total",
            &[],
            "Total amount of soketi connection requests.",
        ),
        c(
            "new_disconnections_total",
            &[],
            "Total amount of soketi disconnections.",
        ),
        c(
            "socket_received_bytes",
            &[],
            "Total amount of bytes that soketi received.",
        ),
        c(
            "socket_transmitted_bytes",
            &[],
            "Total amount of bytes that soketi transmitted.",
        ),
        c(
            "http_received_bytes",
            &[],
            "Total amount of bytes that soketi's REST API received.",
        ),
        c(
            "http_transmitted_bytes",
            &[],
            "Total amount of bytes that soketi's REST API sent back.",
        ),
    ],
};

/// pWS (001): soketi's set under `pws_6001_`.
pub const PWS: Seed = Seed {
    server: "pws",
    prefix: "pws_6001_",
    specs: &[
        g(
            "connected",
            &[],
            "The number of currently connected sockets.",
        ),
        c(
            "new_connections_total",
            &[],
            "Total amount of pWS connection requests.",
        ),
        c(
            "new_disconnections_total",
            &[],
            "Total amount of pWS disconnections.",
        ),
        c(
            "socket_received_bytes",
            &[],
            "Total amount of bytes that pWS received.",
        ),
        c(
            "socket_transmitted_bytes",
            &[],
            "Total amount of bytes that pWS transmitted.",
        ),
        c(
            "http_received_bytes",
            &[],
            "Total amount of bytes that pWS's REST API received.",
        ),
        c(
            "http_transmitted_bytes",
            &[],
            "Total amount of bytes that pWS's REST API sent back.",
        ),
    ],
};

/// sockudo (002): 31 families under `sockudo_`; labels as its examples show.
pub const SOCKUDO: Seed = Seed {
    server: "sockudo",
    prefix: "sockudo_",
    specs: &[
        g(
            "active_connections",
            &["app_id"],
            "Current number of active WebSocket connections",
        ),
        c(
            "total_connections",
            &["app_id"],
            "Total number of WebSocket connections established",
        ),
        c(
            "connection_errors_total",
            &["app_id"],
            "Total number of connection errors",
        ),
        g(
            "connections_per_app",
            &["app_id"],
            "Active connections per application",
        ),
        c(
            "messages_sent_total",
            &["app_id", "channel_type"],
            "Total number of messages sent by the server",
        ),
        c(
            "messages_received_total",
            &["app_id", "channel_type"],
            "Total number of messages received from clients",
        ),
        c(
            "client_events_total",
            &["app_id"],
            "Total number of client events processed",
        ),
        c(
            "broadcast_messages_total",
            &["app_id", "channel_type"],
            "Total number of messages broadcast to channels",
        ),
        c(
            "http_requests_total",
            &["method", "endpoint", "status"],
            "Total number of HTTP API requests",
        ),
        h(
            "http_request_duration_seconds",
            &["method", "endpoint"],
            "HTTP request duration histogram",
        ),
        h(
            "http_response_size_bytes",
            &["method", "endpoint"],
            "HTTP response size histogram",
        ),
        g(
            "active_channels",
            &["app_id", "channel_type"],
            "Current number of active channels",
        ),
        c(
            "channel_subscriptions_total",
            &["app_id", "channel_type"],
            "Total number of channel subscriptions",
        ),
        c(
            "channel_unsubscriptions_total",
            &["app_id", "channel_type"],
            "Total number of channel unsubscriptions",
        ),
        g(
            "presence_members",
            &["app_id"],
            "Current number of members in presence channels",
        ),
        c(
            "rate_limit_triggered_total",
            &["app_id"],
            "Number of times rate limits were triggered",
        ),
        c(
            "rate_limit_checks_total",
            &["app_id"],
            "Total number of rate limit checks performed",
        ),
        c(
            "queue_jobs_processed_total",
            &[],
            "Total number of queue jobs processed",
        ),
        c(
            "queue_jobs_failed_total",
            &[],
            "Total number of failed queue jobs",
        ),
        g(
            "queue_active_jobs",
            &[],
            "Current number of jobs in the queue",
        ),
        h(
            "queue_job_duration_seconds",
            &[],
            "Queue job processing time histogram",
        ),
        c(
            "webhooks_sent_total",
            &["app_id"],
            "Total number of webhooks sent",
        ),
        c(
            "webhooks_failed_total",
            &["app_id"],
            "Total number of failed webhooks",
        ),
        h(
            "webhook_duration_seconds",
            &[],
            "Webhook request duration histogram",
        ),
        c("cache_hits_total", &[], "Total number of cache hits"),
        c("cache_misses_total", &[], "Total number of cache misses"),
        c(
            "cache_operations_total",
            &["operation"],
            "Total number of cache operations",
        ),
        g(
            "cache_memory_usage_bytes",
            &[],
            "Current cache memory usage",
        ),
        c(
            "adapter_operations_total",
            &["operation"],
            "Total number of adapter operations",
        ),
        c(
            "adapter_errors_total",
            &["operation"],
            "Total number of adapter errors",
        ),
        h(
            "adapter_latency_seconds",
            &["operation"],
            "Adapter operation latency histogram",
        ),
    ],
};

/// The signaling server and proxy (003): 44 labelled families; six names
/// exist both as a gauge `X` and a counter `X_total`.
pub const SIGNALING: Seed = Seed {
    server: "signaling",
    prefix: "",
    specs: &[
        g(
            "signaling_proxy_sessions",
            &[],
            "The current number of sessions",
        ),
        c(
            "signaling_proxy_sessions_total",
            &[],
            "The total number of created sessions",
        ),
        c(
            "signaling_proxy_sessions_resumed_total",
            &[],
            "The total number of resumed sessions",
        ),
        g(
            "signaling_proxy_publishers",
            &["type"],
            "The current number of publishers",
        ),
        c(
            "signaling_proxy_publishers_total",
            &["type"],
            "The total number of created publishers",
        ),
        g(
            "signaling_proxy_subscribers",
            &["type"],
            "The current number of subscribers",
        ),
        c(
            "signaling_proxy_subscribers_total",
            &["type"],
            "The total number of created subscribers",
        ),
        c(
            "signaling_proxy_command_messages_total",
            &["type"],
            "The total number of command messages",
        ),
        c(
            "signaling_proxy_payload_messages_total",
            &["type"],
            "The total number of payload messages",
        ),
        c(
            "signaling_proxy_token_errors_total",
            &["reason"],
            "The total number of token errors",
        ),
        g(
            "signaling_backend_session_limit",
            &["backend"],
            "The session limit of a backend (if set)",
        ),
        c(
            "signaling_backend_session_limit_exceeded_total",
            &["backend"],
            "The number of times the session limit exceeded",
        ),
        g(
            "signaling_backend_current",
            &[],
            "The current number of configured backends",
        ),
        c(
            "signaling_client_countries_total",
            &["country"],
            "The total number of connections by country",
        ),
        g(
            "signaling_hub_rooms",
            &["backend"],
            "The current number of rooms per backend",
        ),
        g(
            "signaling_hub_sessions",
            &["backend", "clienttype"],
            "The current number of sessions per backend",
        ),
        c(
            "signaling_hub_sessions_total",
            &["backend", "clienttype"],
            "The total number of sessions per backend",
        ),
        c(
            "signaling_hub_sessions_resume_total",
            &["backend", "clienttype"],
            "The total number of resumed sessions per backend",
        ),
        c(
            "signaling_hub_sessions_resume_failed_total",
            &[],
            "The total number of failed session resume requests",
        ),
        g(
            "signaling_mcu_publishers",
            &["type"],
            "The current number of publishers",
        ),
        c(
            "signaling_mcu_publishers_total",
            &["type"],
            "The total number of created publishers",
        ),
        g(
            "signaling_mcu_subscribers",
            &["type"],
            "The current number of subscribers",
        ),
        c(
            "signaling_mcu_subscribers_total",
            &["type"],
            "The total number of created subscribers",
        ),
        c(
            "signaling_mcu_nopublisher_total",
            &["type"],
            "The total number of subscribe requests where no publisher exists",
        ),
        c(
            "signaling_mcu_messages_total",
            &["type"],
            "The total number of MCU messages",
        ),
        g(
            "signaling_mcu_publisher_streams",
            &["type"],
            "The current number of published media streams",
        ),
        g(
            "signaling_mcu_subscriber_streams",
            &["type"],
            "The current number of subscribed media streams",
        ),
        g(
            "signaling_mcu_backend_connections",
            &["country"],
            "Current number of connections to signaling proxy backends",
        ),
        g(
            "signaling_mcu_backend_load",
            &["url"],
            "Current load of signaling proxy backends",
        ),
        c(
            "signaling_mcu_no_backend_available_total",
            &["type"],
            "Total number of publishing requests where no backend was available",
        ),
        g(
            "signaling_room_sessions",
            &["backend", "room", "clienttype"],
            "The current number of sessions in a room",
        ),
        c(
            "signaling_server_messages_total",
            &["type"],
            "The total number of signaling messages",
        ),
        g(
            "signaling_grpc_clients",
            &[],
            "The current number of GRPC clients",
        ),
        c(
            "signaling_grpc_client_calls_total",
            &["method"],
            "The total number of GRPC client calls",
        ),
        c(
            "signaling_grpc_server_calls_total",
            &["method"],
            "The total number of GRPC server calls",
        ),
        g(
            "signaling_http_client_pool_connections",
            &["host"],
            "The current number of HTTP client connections per host",
        ),
        c(
            "signaling_throttle_delayed_total",
            &["action", "delay"],
            "The total number of delayed requests",
        ),
        c(
            "signaling_throttle_bruteforce_total",
            &["action"],
            "The total number of rejected bruteforce requests",
        ),
        c(
            "signaling_backend_client_requests_total",
            &["backend"],
            "The total number of backend client requests",
        ),
        h(
            "signaling_backend_client_requests_duration",
            &["backend"],
            "The duration of backend client requests in seconds",
        ),
        c(
            "signaling_backend_client_requests_errors_total",
            &["backend", "error"],
            "The total number of backend client requests that had an error",
        ),
        g(
            "signaling_mcu_bandwidth",
            &["direction"],
            "The current bandwidth in bytes per second",
        ),
        g(
            "signaling_mcu_backend_usage",
            &["url", "direction"],
            "The current usage of signaling proxy backends in percent",
        ),
        g(
            "signaling_proxy_load",
            &[],
            "The current load of the signaling proxy",
        ),
    ],
};

/// drachtio (004): a `build_info` counter with a `version` label, `sofia_*_total`
/// gauges, a start time gauge and four histograms.
pub const DRACHTIO: Seed = Seed {
    server: "drachtio",
    prefix: "",
    specs: &[
        c(
            "drachtio_sip_requests_in_total",
            &[],
            "count of sip requests received",
        ),
        c(
            "drachtio_sip_requests_out_total",
            &[],
            "count of sip requests sent",
        ),
        c(
            "drachtio_sip_responses_in_total",
            &[],
            "count of sip responses received",
        ),
        c(
            "drachtio_sip_responses_out_total",
            &[],
            "count of sip responses sent",
        ),
        c(
            "drachtio_build_info",
            &["version"],
            "drachtio version running",
        ),
        g("drachtio_time_started", &[], "drachtio start time"),
        g(
            "drachtio_stable_dialogs",
            &[],
            "count of SIP dialogs in progress",
        ),
        g(
            "drachtio_proxy_cores",
            &[],
            "count of proxied call setups in progress",
        ),
        g(
            "drachtio_registered_endpoints",
            &[],
            "count of registered endpoints",
        ),
        g(
            "drachtio_app_connections",
            &[],
            "count of connections to drachtio applications",
        ),
        g(
            "sofia_client_txn_hash_size",
            &[],
            "current size of sofia hash table for client transactions",
        ),
        g(
            "sofia_server_txn_hash_size",
            &[],
            "current size of sofia hash table for server transactions",
        ),
        g(
            "sofia_dialog_hash_size",
            &[],
            "current size of sofia hash table for dialogs",
        ),
        g(
            "sofia_server_txns_total",
            &[],
            "count of sofia server-side transactions",
        ),
        g(
            "sofia_client_txns_total",
            &[],
            "count of sofia client-side transactions",
        ),
        g("sofia_dialogs_total", &[], "count of sofia dialogs"),
        g(
            "sofia_msgs_recv_total",
            &[],
            "count of sip messages received by sofia sip stack",
        ),
        g(
            "sofia_msgs_sent_total",
            &[],
            "count of sip messages sent by sofia sip stack",
        ),
        g(
            "sofia_requests_recv_total",
            &[],
            "count of sip requests received by sofia sip stack",
        ),
        g(
            "sofia_requests_sent_total",
            &[],
            "count of sip requests sent by sofia sip stack",
        ),
        g(
            "sofia_bad_msgs_recv_total",
            &[],
            "count of invalid sip messages received by sofia sip stack",
        ),
        g(
            "sofia_bad_reqs_recv_total",
            &[],
            "count of invalid sip requests received by sofia sip stack",
        ),
        g(
            "sofia_retransmitted_requests_total",
            &[],
            "count of sip requests retransmitted by sofia sip stack",
        ),
        g(
            "sofia_retransmitted_responses_total",
            &[],
            "count of sip responses retransmitted by sofia sip stack",
        ),
        h(
            "drachtio_call_answer_seconds_in",
            &[],
            "time to answer incoming call",
        ),
        h(
            "drachtio_call_answer_seconds_out",
            &[],
            "time to answer outgoing call",
        ),
        h(
            "drachtio_call_pdd_seconds_in",
            &[],
            "call post-dial delay in seconds for calls received",
        ),
        h(
            "drachtio_call_pdd_seconds_out",
            &[],
            "call post-dial delay in seconds for calls sent",
        ),
    ],
};

/// Every seed.
pub const ALL: [&Seed; 5] = [&SOKETI, &PWS, &SOCKUDO, &SIGNALING, &DRACHTIO];

/// The label values used to fill series `i` of a family.
fn values<const N: usize>(labels: &[&'static str], i: usize) -> [String; N] {
    std::array::from_fn(|k| match labels.get(k).copied().unwrap_or("") {
        "version" => "v0.8.0-rc7-20-gaf3ddfac7".to_owned(),
        "channel_type" => ["public", "private", "presence"][i % 3].to_owned(),
        "method" => ["GET", "POST"][i % 2].to_owned(),
        "url" => format!("https://backend-{i}.example.com/"),
        "room" => format!("room \"{i}\"\\lobby"),
        other => format!("{other}-{i}"),
    })
}

fn meta(s: &Spec) -> Result<Meta, Error> {
    Meta::try_new(s.name, s.help)
}

/// Registers a labelled family of `K` with `N` labels and fills two series.
fn family<K: FamilyKind, const N: usize>(
    r: &Registry,
    s: &Spec,
    cfg: K::Config,
    fill: impl Fn(K::Ref<'_>, usize),
) -> Result<(), Error> {
    let names: [&'static str; N] = std::array::from_fn(|k| s.labels[k]);
    let f: Arc<Family<K, N>> = r.register(Family::try_new(meta(s)?, names, cfg)?)?;
    let series = if s.labels == ["version"] { 1 } else { 2 };
    for i in 0..series {
        let v: [String; N] = values(s.labels, i);
        let v: [&str; N] = std::array::from_fn(|k| v[k].as_str());
        fill(f.with(v), i);
    }
    Ok(())
}

macro_rules! by_arity {
    ($r:expr, $s:expr, $k:ty, $cfg:expr, $fill:expr) => {
        match $s.labels.len() {
            1 => family::<$k, 1>($r, $s, $cfg, $fill),
            2 => family::<$k, 2>($r, $s, $cfg, $fill),
            3 => family::<$k, 3>($r, $s, $cfg, $fill),
            n => panic!("{}: {n} labels not covered by the seed table", $s.name),
        }
    };
}

/// Registers `seed`'s families in `r` and gives each series a value.
pub fn register(r: &Registry, seed: &Seed) -> Result<(), Error> {
    for s in seed.specs {
        let unlabeled = s.labels.is_empty();
        match (s.ty, unlabeled) {
            (Ty::Counter, true) => r.register(Counter::from_meta(meta(s)?))?.inc_by(42),
            (Ty::Counter, false) => {
                by_arity!(r, s, Counter, (), |c: nanometrics::CounterRef<'_>, i| c
                    .inc_by(if s.labels == ["version"] {
                        1
                    } else {
                        10 + i as u64
                    }))?
            }
            (Ty::Gauge, true) if s.name == "drachtio_time_started" => r
                .register(GaugeF64::from_meta(meta(s)?))?
                .set(1_555_075_955.0),
            (Ty::Gauge, true) if s.name.ends_with("_load") => {
                r.register(GaugeF64::from_meta(meta(s)?))?.set(0.25)
            }
            (Ty::Gauge, true) => r.register(Gauge::from_meta(meta(s)?))?.set(7),
            (Ty::Gauge, false) if s.labels.contains(&"url") || s.labels.contains(&"direction") => {
                by_arity!(r, s, GaugeF64, (), |g: nanometrics::GaugeF64Ref<'_>, i| g
                    .set(0.5 + i as f64))?
            }
            (Ty::Gauge, false) => by_arity!(r, s, Gauge, (), |g: nanometrics::GaugeRef<'_>, i| g
                .set(i as i64 - 1))?,
            (Ty::Histogram, true) => {
                let hist = r.register(Histogram::try_new(meta(s)?, &DEFAULT_BUCKETS[..])?)?;
                hist.observe(0.3);
                hist.observe(2.0);
            }
            (Ty::Histogram, false) => by_arity!(
                r,
                s,
                Histogram,
                std::borrow::Cow::Borrowed(&DEFAULT_BUCKETS[..]),
                |h: nanometrics::HistogramRef<'_>, i| {
                    h.observe(0.02 * (i + 1) as f64);
                    h.observe(f64::INFINITY);
                }
            )?,
        }
    }
    Ok(())
}
