//! A scrape allocates nothing once the output buffer and the encoder's
//! scratch have grown: a counting global allocator over a registry of 10,000
//! series (counters, gauges, labeled families, histograms, info).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use nanometrics::{
    Counter, CounterF64, Encoder, Family, Format, Gauge, GaugeF64, Histogram, Info, Registry,
    DEFAULT_BUCKETS,
};

#[path = "support/alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

nanometrics::label_enum! {
    /// Channel kinds.
    pub enum Channel: "channel_type" { Public => "public", Private => "private", Presence => "presence" }
}

fn allocations_during(f: impl FnOnce()) -> usize {
    counting_alloc::on_this_thread(f) as usize
}

/// Builds a registry of exactly 10,000 series.
fn registry() -> (Registry, usize) {
    static BUILD: Info = Info::new("build_info", "Build.", &[("version", "1.2.3")]);
    let r = Registry::new();
    let mut series = 0;
    r.register(Counter::new("connections_total", "Connections."))
        .unwrap()
        .inc_by(7);
    r.register(Gauge::new("connected", "Connected."))
        .unwrap()
        .set(-3);
    r.register(GaugeF64::new("load", "Load."))
        .unwrap()
        .set(f64::NAN);
    r.register(CounterF64::new("busy_seconds_total", "Busy."))
        .unwrap()
        .inc_by(0.25);
    r.register(Counter::new("socket_received_bytes", "Legacy name."))
        .unwrap()
        .inc_by(1024);
    r.register_static(&BUILD).unwrap();
    series += 6;
    let by_channel = r
        .register(Counter::<Channel>::labeled(
            "broadcasts_total",
            "Broadcasts.",
        ))
        .unwrap();
    by_channel.with(Channel::Presence).inc();
    series += 3;
    let h = r
        .register(Histogram::new(
            "fanout_seconds",
            "Fan-out.",
            &DEFAULT_BUCKETS,
        ))
        .unwrap();
    h.observe(0.003);
    series += 1;
    let per_app = r
        .register(
            Family::<Histogram, 1>::histogram(
                "request_seconds",
                "Requests.",
                ["app_id"],
                &DEFAULT_BUCKETS,
            )
            .with_limit(100_000),
        )
        .unwrap();
    for i in 0..500 {
        per_app
            .with([&format!("app-{i}")])
            .observe(i as f64 / 100.0);
    }
    series += 500;
    let sent = r
        .register(
            Family::<Counter, 2>::new("messages_sent_total", "Sent.", ["app_id", "channel_type"])
                .with_limit(100_000),
        )
        .unwrap();
    for i in 0..4000 {
        sent.with([&format!("app-{i}"), "presence\"\\\n"]).inc_by(i);
    }
    series += 4000;
    let rooms = r
        .register(
            Family::<Gauge, 1>::new("room_sessions", "Sessions.", ["room"]).with_limit(100_000),
        )
        .unwrap();
    let remaining = 10_000 - series;
    for i in 0..remaining {
        rooms.with([&format!("room-{i}")]).set(i as i64);
    }
    series += remaining;
    (r, series)
}

#[test]
fn second_scrape_allocates_nothing() {
    let (r, series) = registry();
    assert_eq!(series, 10_000);
    let mut enc = Encoder::new().with_prefix("soketi_").unwrap();
    let mut text = Vec::new();
    enc.encode(&r, Format::Prometheus, &mut text);
    let parsed = nanometrics::encoding::parse::parse(&text, Format::Prometheus).unwrap();
    let written = parsed
        .families
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|s| !s.name.ends_with("_bucket") && !s.name.ends_with("_sum"))
        .count();
    assert_eq!(written, 10_000, "series in the exposition");
    let mut sink = Vec::new();
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let mut out = Vec::new();
        let first = allocations_during(|| enc.encode(&r, format, &mut out));
        assert!(first > 0, "the first scrape grows the buffers");
        let samples = out.iter().filter(|&&b| b == b'\n').count();
        assert!(samples > 10_000, "{samples} lines");
        let len = out.len();
        out.clear();
        let second = allocations_during(|| enc.encode(&r, format, &mut out));
        assert_eq!(second, 0, "{format:?}: second scrape allocated");
        assert_eq!(out.len(), len);

        // The streaming path: the first call allocates its fixed buffer.
        sink.clear();
        enc.encode_to(&r, format, &mut sink).unwrap();
        let streamed = allocations_during(|| {
            sink.clear();
            enc.encode_to(&r, format, &mut sink).unwrap()
        });
        assert_eq!(streamed, 0, "{format:?}: second streamed scrape allocated");
        assert_eq!(sink, out);
    }
}

/// A registry whose scrape checks one label set (one labeled family): the
/// encoder's scratch must be grown by its first scrape, not its second.
#[test]
fn second_scrape_of_one_labeled_family_allocates_nothing() {
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let r = Registry::new();
        let routes = r
            .register(Family::<Counter, 2>::new(
                "route_requests_total",
                "Requests per route.",
                ["method", "path"],
            ))
            .unwrap();
        for i in 0..20 {
            routes
                .with(["GET", &format!("/api/v1/rooms/{i}/messages")])
                .inc();
        }
        let mut enc = Encoder::new();
        let mut out = Vec::new();
        let first = allocations_during(|| enc.encode(&r, format, &mut out));
        assert!(first > 0, "the first scrape grows the buffers");
        let len = out.len();
        for scrape in 2..5 {
            out.clear();
            let n = allocations_during(|| enc.encode(&r, format, &mut out));
            assert_eq!(n, 0, "{format:?}: scrape {scrape} allocated");
            assert_eq!(out.len(), len);
        }
    }
}
