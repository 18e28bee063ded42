//! The demo's metric families, in three namespaces of the global registry:
//! soketi's documented set under `soketi_<port>_`, sockudo's under
//! `sockudo_`, and the demo's own (fan-out latency, current subscriptions,
//! build and start time, process) under `pubsub_`. Names, types, label names
//! and help are those of the seed documents (tests/seeds/mod.rs lists them);
//! the encoder prefix stays empty.
//!
//! Everything is registered once at start; the hot paths use handles
//! resolved per connection ([`AppHandles`]) or kept here (unlabelled and
//! label-set metrics), so recording a message does no lookup.

use std::borrow::Cow;
use std::sync::Arc;

use nanometrics::{
    build_info, label_enum, Counter, CounterRef, Error, Family, Gauge, GaugeRef, Histogram, Meta,
    ProcessCollector, Registry, StartTime,
};

label_enum! {
    /// Pusher channel kinds, from the channel name's prefix.
    pub enum ChannelType: "channel_type" {
        Public => "public",
        Private => "private",
        Presence => "presence",
    }
}

impl ChannelType {
    pub(crate) fn of(channel: &str) -> Self {
        if channel.starts_with("presence-") {
            ChannelType::Presence
        } else if channel.starts_with("private-") {
            ChannelType::Private
        } else {
            ChannelType::Public
        }
    }
}

pub(crate) const KINDS: [ChannelType; 3] = [
    ChannelType::Public,
    ChannelType::Private,
    ChannelType::Presence,
];

label_enum! {
    /// What the channel-info cache did.
    pub enum CacheOp: "operation" { Get => "get", Set => "set", Delete => "delete" }
}

label_enum! {
    /// What the hub (the demo's local adapter, sockudo's "adapter") did.
    pub enum AdapterOp: "operation" {
        Subscribe => "subscribe",
        Unsubscribe => "unsubscribe",
        Broadcast => "broadcast",
        Channels => "channels",
        Channel => "channel",
        Members => "members",
    }
}

const FANOUT_BUCKETS: [f64; 14] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25,
];
/// sockudo documents `le` 0.1, 0.5 and 1.0 for its HTTP request durations;
/// finer bounds below them, for a local API.
const HTTP_DURATION_BUCKETS: [f64; 11] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 0.5, 1.0, 5.0,
];
const RESPONSE_SIZE_BUCKETS: [f64; 8] =
    [64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0, 65536.0];
const JOB_BUCKETS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
];
const ADAPTER_BUCKETS: [f64; 10] = [
    0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.001, 0.01, 0.1,
];

/// soketi's documented families (its seed page: seven, four byte counters
/// without `_total`).
pub(crate) struct Soketi {
    pub connected: Arc<Gauge>,
    pub new_connections: Arc<Counter>,
    pub new_disconnections: Arc<Counter>,
    pub socket_received_bytes: Arc<Counter>,
    pub socket_transmitted_bytes: Arc<Counter>,
    pub http_received_bytes: Arc<Counter>,
    pub http_transmitted_bytes: Arc<Counter>,
}

/// sockudo's 31 documented families, labels as its examples show.
pub(crate) struct Sockudo {
    pub active_connections: Arc<Family<Gauge, 1>>,
    pub total_connections: Arc<Family<Counter, 1>>,
    pub connection_errors: Arc<Family<Counter, 1>>,
    pub connections_per_app: Arc<Family<Gauge, 1>>,
    pub messages_sent: Arc<Family<Counter, 2>>,
    pub messages_received: Arc<Family<Counter, 2>>,
    pub client_events: Arc<Family<Counter, 1>>,
    pub broadcast_messages: Arc<Family<Counter, 2>>,
    pub http_requests: Arc<Family<Counter, 3>>,
    pub http_request_duration: Arc<Family<Histogram, 2>>,
    pub http_response_size: Arc<Family<Histogram, 2>>,
    pub active_channels: Arc<Family<Gauge, 2>>,
    pub channel_subscriptions: Arc<Family<Counter, 2>>,
    pub channel_unsubscriptions: Arc<Family<Counter, 2>>,
    pub presence_members: Arc<Family<Gauge, 1>>,
    pub rate_limit_triggered: Arc<Family<Counter, 1>>,
    pub rate_limit_checks: Arc<Family<Counter, 1>>,
    pub queue_jobs_processed: Arc<Counter>,
    pub queue_jobs_failed: Arc<Counter>,
    pub queue_active_jobs: Arc<Gauge>,
    pub queue_job_duration: Arc<Histogram>,
    pub webhooks_sent: Arc<Family<Counter, 1>>,
    pub webhooks_failed: Arc<Family<Counter, 1>>,
    pub webhook_duration: Arc<Histogram>,
    pub cache_hits: Arc<Counter>,
    pub cache_misses: Arc<Counter>,
    pub cache_operations: Arc<Counter<CacheOp>>,
    pub cache_memory_usage: Arc<Gauge>,
    pub adapter_operations: Arc<Counter<AdapterOp>>,
    pub adapter_errors: Arc<Counter<AdapterOp>>,
    pub adapter_latency: Arc<Histogram<AdapterOp>>,
}

/// The demo's own families (no soketi or sockudo counterpart).
pub(crate) struct Own {
    pub subscriptions: Arc<Gauge<ChannelType>>,
    pub fanout: Arc<Histogram>,
    pub started: Arc<StartTime>,
}

/// Every family the demo records into.
pub(crate) struct Metrics {
    pub soketi: Soketi,
    pub sockudo: Sockudo,
    pub own: Own,
    /// The three prefixes, for the start-up message.
    pub prefixes: [String; 3],
}

fn fam<K: nanometrics::FamilyKind, const N: usize>(
    ns: &Registry,
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
    cfg: K::Config,
) -> Result<Arc<Family<K, N>>, Error> {
    ns.register(Family::try_new(Meta::new(name, help), labels, cfg)?)
}

fn hist<const N: usize>(
    ns: &Registry,
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
    bounds: &'static [f64],
) -> Result<Arc<Family<Histogram, N>>, Error> {
    fam::<Histogram, N>(ns, name, help, labels, Cow::Borrowed(bounds))
}

impl Metrics {
    /// Registers every family in namespaces of `registry`: soketi's under
    /// `soketi_prefix` (soketi's `METRICS_PROMETHEUS_PREFIX` followed by the
    /// port and `_`), sockudo's under `sockudo_prefix`, the demo's own under
    /// `pubsub_`, with the process collector.
    pub(crate) fn register(
        registry: &Registry,
        soketi_prefix: &str,
        sockudo_prefix: &str,
    ) -> Result<Self, String> {
        let ns = |p: &str, var: &str| {
            registry
                .namespace(p, &[])
                .map_err(|e| format!("{var}: prefix {p:?}: {e}"))
        };
        let k = ns(soketi_prefix, "METRICS_PROMETHEUS_PREFIX")?;
        let s = ns(sockudo_prefix, "PROMETHEUS_METRICS_PREFIX")?;
        let p = ns("pubsub_", "the demo's own prefix")?;
        Self::register_in(&k, &s, &p)
            .map(|m| Metrics {
                prefixes: [
                    soketi_prefix.to_owned(),
                    sockudo_prefix.to_owned(),
                    "pubsub_".to_owned(),
                ],
                ..m
            })
            .map_err(|e| format!("registering the demo's metrics: {e}"))
    }

    fn register_in(k: &Registry, s: &Registry, p: &Registry) -> Result<Self, Error> {
        let soketi = Soketi {
            connected: k.register(Gauge::new(
                "connected",
                "The number of currently connected sockets.",
            ))?,
            new_connections: k.register(Counter::new(
                "new_connections_total",
                "Total amount of soketi connection requests.",
            ))?,
            new_disconnections: k.register(Counter::new(
                "new_disconnections_total",
                "Total amount of soketi disconnections.",
            ))?,
            socket_received_bytes: k.register(Counter::new(
                "socket_received_bytes",
                "Total amount of bytes that soketi received.",
            ))?,
            socket_transmitted_bytes: k.register(Counter::new(
                "socket_transmitted_bytes",
                "Total amount of bytes that soketi transmitted.",
            ))?,
            http_received_bytes: k.register(Counter::new(
                "http_received_bytes",
                "Total amount of bytes that soketi's REST API received.",
            ))?,
            http_transmitted_bytes: k.register(Counter::new(
                "http_transmitted_bytes",
                "Total amount of bytes that soketi's REST API sent back.",
            ))?,
        };
        const APP: [&str; 1] = ["app_id"];
        const APP_TYPE: [&str; 2] = ["app_id", "channel_type"];
        const ENDPOINT: [&str; 2] = ["method", "endpoint"];
        let sockudo = Sockudo {
            active_connections: fam(
                s,
                "active_connections",
                "Current number of active WebSocket connections",
                APP,
                (),
            )?,
            total_connections: fam(
                s,
                "total_connections",
                "Total number of WebSocket connections established",
                APP,
                (),
            )?,
            connection_errors: fam(
                s,
                "connection_errors_total",
                "Total number of connection errors",
                APP,
                (),
            )?,
            connections_per_app: fam(
                s,
                "connections_per_app",
                "Active connections per application",
                APP,
                (),
            )?,
            messages_sent: fam(
                s,
                "messages_sent_total",
                "Total number of messages sent by the server",
                APP_TYPE,
                (),
            )?,
            messages_received: fam(
                s,
                "messages_received_total",
                "Total number of messages received from clients",
                APP_TYPE,
                (),
            )?,
            client_events: fam(
                s,
                "client_events_total",
                "Total number of client events processed",
                APP,
                (),
            )?,
            broadcast_messages: fam(
                s,
                "broadcast_messages_total",
                "Total number of messages broadcast to channels",
                APP_TYPE,
                (),
            )?,
            http_requests: fam(
                s,
                "http_requests_total",
                "Total number of HTTP API requests",
                ["method", "endpoint", "status"],
                (),
            )?,
            http_request_duration: hist(
                s,
                "http_request_duration_seconds",
                "HTTP request duration histogram",
                ENDPOINT,
                &HTTP_DURATION_BUCKETS,
            )?,
            http_response_size: hist(
                s,
                "http_response_size_bytes",
                "HTTP response size histogram",
                ENDPOINT,
                &RESPONSE_SIZE_BUCKETS,
            )?,
            active_channels: fam(
                s,
                "active_channels",
                "Current number of active channels",
                APP_TYPE,
                (),
            )?,
            channel_subscriptions: fam(
                s,
                "channel_subscriptions_total",
                "Total number of channel subscriptions",
                APP_TYPE,
                (),
            )?,
            channel_unsubscriptions: fam(
                s,
                "channel_unsubscriptions_total",
                "Total number of channel unsubscriptions",
                APP_TYPE,
                (),
            )?,
            presence_members: fam(
                s,
                "presence_members",
                "Current number of members in presence channels",
                APP,
                (),
            )?,
            rate_limit_triggered: fam(
                s,
                "rate_limit_triggered_total",
                "Number of times rate limits were triggered",
                APP,
                (),
            )?,
            rate_limit_checks: fam(
                s,
                "rate_limit_checks_total",
                "Total number of rate limit checks performed",
                APP,
                (),
            )?,
            queue_jobs_processed: s.register(Counter::new(
                "queue_jobs_processed_total",
                "Total number of queue jobs processed",
            ))?,
            queue_jobs_failed: s.register(Counter::new(
                "queue_jobs_failed_total",
                "Total number of failed queue jobs",
            ))?,
            queue_active_jobs: s.register(Gauge::new(
                "queue_active_jobs",
                "Current number of jobs in the queue",
            ))?,
            queue_job_duration: s.register(Histogram::new(
                "queue_job_duration_seconds",
                "Queue job processing time histogram",
                &JOB_BUCKETS,
            ))?,
            webhooks_sent: fam(
                s,
                "webhooks_sent_total",
                "Total number of webhooks sent",
                APP,
                (),
            )?,
            webhooks_failed: fam(
                s,
                "webhooks_failed_total",
                "Total number of failed webhooks",
                APP,
                (),
            )?,
            webhook_duration: s.register(Histogram::new(
                "webhook_duration_seconds",
                "Webhook request duration histogram",
                &JOB_BUCKETS,
            ))?,
            cache_hits: s.register(Counter::new(
                "cache_hits_total",
                "Total number of cache hits",
            ))?,
            cache_misses: s.register(Counter::new(
                "cache_misses_total",
                "Total number of cache misses",
            ))?,
            cache_operations: s.register(Counter::labeled(
                "cache_operations_total",
                "Total number of cache operations",
            ))?,
            cache_memory_usage: s.register(Gauge::new(
                "cache_memory_usage_bytes",
                "Current cache memory usage",
            ))?,
            adapter_operations: s.register(Counter::labeled(
                "adapter_operations_total",
                "Total number of adapter operations",
            ))?,
            adapter_errors: s.register(Counter::labeled(
                "adapter_errors_total",
                "Total number of adapter errors",
            ))?,
            adapter_latency: s.register(Histogram::labeled(
                "adapter_latency_seconds",
                "Adapter operation latency histogram",
                &ADAPTER_BUCKETS,
            ))?,
        };
        let own = Own {
            subscriptions: p.register(Gauge::labeled(
                "subscriptions",
                "Current number of channel subscriptions.",
            ))?,
            fanout: p.register(Histogram::from_meta(
                Meta::with_unit(
                    "message_fanout_seconds",
                    "Time from a publish to its delivery to one subscriber.",
                    "seconds",
                ),
                &FANOUT_BUCKETS,
            ))?,
            started: p.register(StartTime::new(
                "start_time_seconds",
                "Start time of the server.",
            ))?,
        };
        p.register(build_info!())?;
        p.register_collector(ProcessCollector::new());
        Ok(Metrics {
            soketi,
            sockudo,
            own,
            prefixes: Default::default(),
        })
    }

    /// The handles of app `app` for one connection (or one REST request).
    pub(crate) fn app(&'static self, app: &str) -> AppHandles {
        let s = &self.sockudo;
        let by_kind = |f: &'static Family<Counter, 2>| KINDS.map(|k| f.with([app, k.as_str()]));
        AppHandles {
            active_connections: s.active_connections.with([app]),
            connections_per_app: s.connections_per_app.with([app]),
            total_connections: s.total_connections.with([app]),
            connection_errors: s.connection_errors.with([app]),
            sent: by_kind(&s.messages_sent),
            received: by_kind(&s.messages_received),
            broadcast: by_kind(&s.broadcast_messages),
            subscriptions: by_kind(&s.channel_subscriptions),
            unsubscriptions: by_kind(&s.channel_unsubscriptions),
            active_channels: KINDS.map(|k| s.active_channels.with([app, k.as_str()])),
            presence_members: s.presence_members.with([app]),
            client_events: s.client_events.with([app]),
            rate_limit_checks: s.rate_limit_checks.with([app]),
            rate_limit_triggered: s.rate_limit_triggered.with([app]),
            webhooks_sent: s.webhooks_sent.with([app]),
            webhooks_failed: s.webhooks_failed.with([app]),
        }
    }
}

/// One app's sockudo series, looked up once per connection (and again when
/// it selects another app), so the hot paths do no lookup.
#[derive(Clone, Copy)]
pub(crate) struct AppHandles {
    pub active_connections: GaugeRef<'static>,
    pub connections_per_app: GaugeRef<'static>,
    pub total_connections: CounterRef<'static>,
    pub connection_errors: CounterRef<'static>,
    /// By [`ChannelType`] index.
    pub sent: [CounterRef<'static>; 3],
    pub received: [CounterRef<'static>; 3],
    pub broadcast: [CounterRef<'static>; 3],
    pub subscriptions: [CounterRef<'static>; 3],
    pub unsubscriptions: [CounterRef<'static>; 3],
    pub active_channels: [GaugeRef<'static>; 3],
    pub presence_members: GaugeRef<'static>,
    pub client_events: CounterRef<'static>,
    pub rate_limit_checks: CounterRef<'static>,
    pub rate_limit_triggered: CounterRef<'static>,
    pub webhooks_sent: CounterRef<'static>,
    pub webhooks_failed: CounterRef<'static>,
}

impl AppHandles {
    /// A connection joined this app: sockudo counts it as established and
    /// active here.
    pub(crate) fn join(&self) {
        self.total_connections.inc();
        self.active_connections.inc();
        self.connections_per_app.inc();
    }

    /// A connection left this app (another `APP`, or it closed).
    pub(crate) fn leave(&self) {
        self.active_connections.dec();
        self.connections_per_app.dec();
    }
}
