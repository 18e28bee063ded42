//! Writes one scrape of a registry holding every kind of family, in both
//! formats, for the conformance stage (`.ci/stages/20-conformance.sh`) to
//! feed to promtool and Python's `prometheus_client` parsers.
//!
//! ```sh
//! cargo run --example exposition -- target/conformance
//! ```
//!
//! writes `metrics.prom` (text 0.0.4), `metrics.om` (OpenMetrics 1.0) and
//! `model.json` (the families as the registry walk reports them, for the
//! checker to predict what the parsers must read back). Besides every kind
//! of family it holds two registry namespaces (`sofia_`, with a constant
//! label, and `sofia_tport_` inside it). The name prefix is
//! taken from `METRICS_PROMETHEUS_PREFIX` (default `soketi_`).

use std::fmt::Write as _;
use std::path::PathBuf;

use nanometrics::{
    declare, label_enum, Counter, CounterF64, Encoder, Family, Format, Gauge, GaugeF64, Histogram,
    Info, Kind, Labels, Meta, Value, Visitor, DEFAULT_BUCKETS,
};

label_enum! {
    /// Pusher channel kinds.
    pub enum ChannelType: "channel_type" { Public => "public", Private => "private", Presence => "presence" }
}

declare! {
    static CONNECTED: Gauge = Gauge::new("connected", "The number of currently connected sockets.");
    static NEW_CONNECTIONS: Counter = Counter::new("new_connections_total", "Total amount of soketi connection requests.");
    // soketi: byte counters without `_total`.
    static SOCKET_RX: Counter = Counter::new("socket_received_bytes", "Total amount of bytes that soketi received.");
    static BROADCASTS: Counter<ChannelType> = Counter::labeled("broadcasts_total", "Broadcasts by channel type.");
    static SENT: Family<Counter, 2> = Family::new("messages_sent_total", "Messages sent, by \"app\" and channel.\nSecond line with a \\ backslash.", ["app_id", "channel_type"]);
    static FANOUT: Histogram = Histogram::new("fanout_seconds", "Fan-out latency.", &DEFAULT_BUCKETS);
    static HTTP: Family<Histogram, 2> = Family::histogram("http_request_duration_seconds", "HTTP request duration.", ["method", "endpoint"], &[0.001, 0.01, 0.1, 1.0, 10.0, 100000.0, 1e6]);
    // Buckets below zero: OpenMetrics leaves out `_sum` and `_count`.
    static SKEW: Histogram = Histogram::new("clock_skew_seconds", "Clock skew.", &[-1.0, -0.1, 0.0, 0.1, 1.0]);
    static TEMP: GaugeF64 = GaugeF64::new("temperature_celsius", "A float gauge.");
    static RATIO: Family<GaugeF64, 1> = Family::new("ratio", "Special values.", ["case"]);
    static BUSY: CounterF64 = CounterF64::from_meta(Meta::with_unit("busy_seconds_total", "Time spent busy.", "seconds"));
    static MEMORY: Gauge = Gauge::from_meta(Meta::with_unit("memory_usage_bytes", "Resident memory.", "bytes"));
    static BUILD: Info = Info::new("build_info", "Build information.", &[("version", "1.4.2"), ("commit", "af3ddfac7")]);
    static TARGET: Info = Info::new("target", "Target metadata (an info without `_info`).", &[("env", "prod")]);
    // drachtio: a `build_info` counter and `*_total` gauges.
    static DRACHTIO_BUILD: Counter = Counter::new("drachtio_build_info", "drachtio version running");
    static SOFIA_DIALOGS: Gauge = Gauge::new("sofia_dialogs_total", "count of sofia dialogs");
    // The signaling server: gauge `X` next to counter `X_total`.
    static SESSIONS: Gauge = Gauge::new("signaling_proxy_sessions", "The current number of sessions");
    static SESSIONS_TOTAL: Counter = Counter::new("signaling_proxy_sessions_total", "The total number of created sessions");
    static PUBLISHERS: Family<Gauge, 1> = Family::new("signaling_proxy_publishers", "The current number of publishers", ["type"]);
    static PUBLISHERS_TOTAL: Family<Counter, 1> = Family::new("signaling_proxy_publishers_total", "The total number of created publishers", ["type"]);
    static NO_HELP: Gauge = Gauge::new("no_help", "");
}

/// Records the walk as JSON.
#[derive(Default)]
struct Model {
    json: String,
    buf: Vec<u64>,
    first_series: bool,
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Visitor for Model {
    fn family(&mut self, meta: &Meta, kind: Kind) {
        if !self.json.is_empty() {
            self.json.push_str("]},\n");
        }
        self.json.push_str("{\"name\":");
        json_str(&mut self.json, meta.name());
        self.json.push_str(",\"help\":");
        json_str(&mut self.json, meta.help());
        self.json.push_str(",\"unit\":");
        json_str(&mut self.json, meta.unit().unwrap_or(""));
        let _ = write!(self.json, ",\"kind\":\"{}\",\"series\":[", kind.as_str());
        self.first_series = true;
    }

    fn series(&mut self, labels: &Labels<'_>, value: Value<'_>) {
        if !self.first_series {
            self.json.push(',');
        }
        self.first_series = false;
        self.json.push_str("{\"labels\":[");
        let mut first = true;
        labels.for_each(|n, v| {
            if !first {
                self.json.push(',');
            }
            first = false;
            self.json.push('[');
            json_str(&mut self.json, n);
            self.json.push(',');
            json_str(&mut self.json, v);
            self.json.push(']');
        });
        self.json.push_str("],");
        let _ = match value {
            Value::Counter(v) => write!(self.json, "\"int\":\"{v}\""),
            Value::Gauge(v) => write!(self.json, "\"int\":\"{v}\""),
            Value::CounterF64(v) | Value::GaugeF64(v) => write!(self.json, "\"float\":\"{v}\""),
            Value::Info => write!(self.json, "\"int\":\"1\""),
            Value::Histogram(h) => {
                let t = h.read(&mut self.buf);
                let bounds: Vec<String> = h.bounds().iter().map(|b| format!("\"{b}\"")).collect();
                let buckets: Vec<String> = self.buf.iter().map(u64::to_string).collect();
                write!(
                    self.json,
                    "\"histogram\":{{\"bounds\":[{}],\"buckets\":[{}],\"sum\":\"{}\",\"count\":{}}}",
                    bounds.join(","),
                    buckets.join(","),
                    t.sum,
                    t.count
                )
            }
        };
        self.json.push('}');
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/conformance".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let prefix = std::env::var("METRICS_PROMETHEUS_PREFIX").unwrap_or_else(|_| "soketi_".into());

    CONNECTED.set(42);
    // Exemplars (OpenMetrics only): a counter's, and two buckets' of a
    // histogram, one with a value that needs escaping.
    NEW_CONNECTIONS.inc_by_with_exemplar(1234, &[("trace_id", "4bf92f3577b34da6")])?;
    SOCKET_RX.inc_by(98_765);
    BROADCASTS.with(ChannelType::Presence).inc_by(3);
    SENT.with(["app-1", "public"]).inc_by(10);
    SENT.with(["quote\"back\\slash\nnewline", "private"]).inc();
    SENT.with(["", "presence"]).inc_by(2);
    for v in [0.0004, 0.003, 0.02, 0.3, 4.0] {
        FANOUT.observe(v);
    }
    FANOUT.observe_with_exemplar(50.0, &[("trace_id", "a\\b\nc"), ("span", "1")])?;
    FANOUT.observe_with_exemplar(0.02, &[("trace_id", "00f067aa0ba902b7")])?;

    HTTP.with(["POST", "/apps/1/events"]).observe(0.005);
    HTTP.with(["GET", "/usage"]).observe(2e6);
    SKEW.observe(-0.5);
    SKEW.observe(0.05);
    TEMP.set(-12.5);
    RATIO.with(["nan"]).set(f64::NAN);
    RATIO.with(["pinf"]).set(f64::INFINITY);
    RATIO.with(["ninf"]).set(f64::NEG_INFINITY);
    RATIO.with(["tiny"]).set(1.5e-9);
    RATIO.with(["huge"]).set(1e300);
    BUSY.inc_by(12.75);
    MEMORY.set(123_456_789);
    DRACHTIO_BUILD.inc();
    SOFIA_DIALOGS.set(17);
    SESSIONS.set(5);
    SESSIONS_TOTAL.inc_by(99);
    PUBLISHERS.with(["video"]).set(2);
    PUBLISHERS_TOTAL.with(["video"]).inc_by(7);
    NO_HELP.set(1);
    let _ = (&BUILD, &TARGET);

    let registry = nanometrics::global();
    // Namespaces: a prefix and a constant label on a group of families, and
    // a namespace inside it (prefixes and labels compose).
    let sofia = registry.namespace("sofia_", &[("stack", "sofia-sip")])?;
    let tx = sofia.register(Family::<Histogram, 1>::histogram(
        "transaction_seconds",
        "SIP transaction time.",
        ["method"],
        &[0.01, 0.1, 1.0],
    ))?;
    tx.with(["INVITE"]).observe(0.05);
    sofia
        .register(Counter::new("requests_total", "SIP requests."))?
        .inc_by(5);
    let tport = sofia.namespace("tport_", &[("proto", "udp")])?;
    tport
        .register(Gauge::new("connections", "Open transport connections."))?
        .set(4);
    registry.check()?;
    let mut enc = Encoder::new().with_prefix(prefix)?;
    for (format, file) in [
        (Format::Prometheus, "metrics.prom"),
        (Format::OpenMetrics, "metrics.om"),
    ] {
        let mut out = Vec::new();
        enc.encode(registry, format, &mut out);
        std::fs::write(dir.join(file), &out)?;
    }
    let mut model = Model::default();
    registry.visit(&mut model);
    model.json.push_str("]}");
    std::fs::write(
        dir.join("model.json"),
        format!(
            "{{\"prefix\":\"{}\",\"families\":[\n{}\n]}}\n",
            enc.prefix(),
            model.json
        ),
    )?;
    println!("wrote {}", dir.display());
    Ok(())
}
