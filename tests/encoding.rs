//! The encoder's rules, one test each, against exact expected text and the
//! strict parser.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use nanometrics::encoding::parse::{parse, Number, Type};
use nanometrics::{
    Collector, Counter, CounterF64, Encoder, Family, Format, Gauge, GaugeF64, Histogram, Info,
    Kind, Labels, Meta, Metric, Registry, Value, Visitor,
};

fn encode(r: &Registry, format: Format) -> String {
    encode_with(&mut Encoder::new(), r, format)
}

fn encode_with(enc: &mut Encoder, r: &Registry, format: Format) -> String {
    let mut out = Vec::new();
    enc.encode(r, format, &mut out);
    parse(&out, format).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&out)));
    String::from_utf8(out).unwrap()
}

type Series = Vec<(Vec<(&'static str, &'static str)>, Value<'static>)>;

/// Families as a collector reports them: anything the `Visitor` can carry.
struct Report(Vec<(Meta, Kind, Series)>);

impl Collector for Report {
    fn collect(&self, v: &mut dyn Visitor) {
        for (meta, kind, series) in &self.0 {
            v.family(meta, *kind);
            for (labels, value) in series {
                v.series(&Labels::constant(labels), *value);
            }
        }
    }
}

/// The seed servers' legacy names: soketi's counters without `_total` (with
/// its port prefix), drachtio's `build_info` counter and `*_total` gauges,
/// the signaling server's gauge `X` / counter `X_total` pairs.
fn seeds() -> Registry {
    let r = Registry::new();
    r.register(Gauge::new(
        "connected",
        "The number of currently connected sockets.",
    ))
    .unwrap()
    .set(2);
    r.register(Counter::new(
        "new_connections_total",
        "Total amount of soketi connection requests.",
    ))
    .unwrap()
    .inc_by(5);
    r.register(Counter::new(
        "socket_received_bytes",
        "Total amount of bytes that soketi received.",
    ))
    .unwrap()
    .inc_by(1024);
    r.register(Counter::new(
        "drachtio_build_info",
        "drachtio version running",
    ))
    .unwrap()
    .inc();
    r.register(Gauge::new("sofia_dialogs_total", "count of sofia dialogs"))
        .unwrap()
        .set(9);
    r.register(Gauge::new(
        "signaling_proxy_sessions",
        "The current number of sessions",
    ))
    .unwrap()
    .set(3);
    r.register(Counter::new(
        "signaling_proxy_sessions_total",
        "The total number of created sessions",
    ))
    .unwrap()
    .inc_by(40);
    r
}

#[test]
fn prometheus_reproduces_seed_names_and_types() {
    let mut enc = Encoder::new().with_prefix("soketi_6001_").unwrap();
    assert_eq!(
        encode_with(&mut enc, &seeds(), Format::Prometheus),
        "\
# HELP soketi_6001_connected The number of currently connected sockets.
# TYPE soketi_6001_connected gauge
soketi_6001_connected 2
# HELP soketi_6001_drachtio_build_info drachtio version running
# TYPE soketi_6001_drachtio_build_info counter
soketi_6001_drachtio_build_info 1
# HELP soketi_6001_new_connections_total Total amount of soketi connection requests.
# TYPE soketi_6001_new_connections_total counter
soketi_6001_new_connections_total 5
# HELP soketi_6001_signaling_proxy_sessions The current number of sessions
# TYPE soketi_6001_signaling_proxy_sessions gauge
soketi_6001_signaling_proxy_sessions 3
# HELP soketi_6001_signaling_proxy_sessions_total The total number of created sessions
# TYPE soketi_6001_signaling_proxy_sessions_total counter
soketi_6001_signaling_proxy_sessions_total 40
# HELP soketi_6001_socket_received_bytes Total amount of bytes that soketi received.
# TYPE soketi_6001_socket_received_bytes counter
soketi_6001_socket_received_bytes 1024
# HELP soketi_6001_sofia_dialogs_total count of sofia dialogs
# TYPE soketi_6001_sofia_dialogs_total gauge
soketi_6001_sofia_dialogs_total 9
"
    );
}

#[test]
fn openmetrics_keeps_series_names_and_types_what_it_can() {
    assert_eq!(
        encode(&seeds(), Format::OpenMetrics),
        "\
# TYPE connected gauge
# HELP connected The number of currently connected sockets.
connected 2
# TYPE drachtio_build_info unknown
# HELP drachtio_build_info drachtio version running
drachtio_build_info 1
# TYPE new_connections counter
# HELP new_connections Total amount of soketi connection requests.
new_connections_total 5
# TYPE signaling_proxy_sessions gauge
# HELP signaling_proxy_sessions The current number of sessions
signaling_proxy_sessions 3
# TYPE signaling_proxy_sessions_total unknown
# HELP signaling_proxy_sessions_total The total number of created sessions
signaling_proxy_sessions_total 40
# TYPE socket_received_bytes unknown
# HELP socket_received_bytes Total amount of bytes that soketi received.
socket_received_bytes 1024
# TYPE sofia_dialogs_total gauge
# HELP sofia_dialogs_total count of sofia dialogs
sofia_dialogs_total 9
# EOF
"
    );
}

#[test]
fn empty_registry() {
    let r = Registry::new();
    assert_eq!(encode(&r, Format::Prometheus), "");
    assert_eq!(encode(&r, Format::OpenMetrics), "# EOF\n");
}

#[test]
fn help_and_label_values_are_escaped_per_format() {
    let r = Registry::new();
    let f = r
        .register(Family::<Gauge, 1>::new("g", "a \\ b \" c\nd", ["v"]))
        .unwrap();
    f.with(["x\\y\"z\nw\r\t{},="]).set(1);
    let prom = encode(&r, Format::Prometheus);
    assert!(prom.contains("# HELP g a \\\\ b \" c\\nd\n"), "{prom}");
    assert!(
        prom.contains("g{v=\"x\\\\y\\\"z\\nw\r\t{},=\"} 1\n"),
        "{prom}"
    );
    let om = encode(&r, Format::OpenMetrics);
    assert!(om.contains("# HELP g a \\\\ b \\\" c\\nd\n"), "{om}");
    assert!(om.contains("g{v=\"x\\\\y\\\"z\\nw\r\t{},=\"} 1\n"), "{om}");
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = encode(&r, format);
        let e = parse(text.as_bytes(), format).unwrap();
        let g = e.families.iter().find(|f| f.name == "g").unwrap();
        assert_eq!(g.help.as_deref(), Some("a \\ b \" c\nd"));
        assert_eq!(g.samples[0].labels[0].1, "x\\y\"z\nw\r\t{},=");
    }
}

#[test]
fn empty_help_writes_no_help_line() {
    let r = Registry::new();
    r.register(Gauge::new("g", "")).unwrap();
    assert_eq!(encode(&r, Format::Prometheus), "# TYPE g gauge\ng 0\n");
    assert_eq!(
        encode(&r, Format::OpenMetrics),
        "# TYPE g gauge\ng 0\n# EOF\n"
    );
}

#[test]
fn numbers_are_spelled_exactly() {
    let r = Registry::new();
    let f = r
        .register(Family::<GaugeF64, 1>::new("f", "", ["k"]))
        .unwrap();
    for (k, v) in [
        ("nan", f64::NAN),
        ("pinf", f64::INFINITY),
        ("ninf", f64::NEG_INFINITY),
        ("int", 3.0),
        ("frac", 0.25),
        ("big", 1e16),
        ("tiny", 1.5e-7),
        ("negzero", -0.0),
    ] {
        f.with([k]).set(v);
    }
    r.register(Gauge::new("i", "")).unwrap().set(i64::MIN);
    r.register(Counter::new("u_total", ""))
        .unwrap()
        .inc_by(u64::MAX);
    let prom = encode(&r, Format::Prometheus);
    for line in [
        "f{k=\"nan\"} NaN\n",
        "f{k=\"pinf\"} +Inf\n",
        "f{k=\"ninf\"} -Inf\n",
        "f{k=\"int\"} 3.0\n",
        "f{k=\"frac\"} 0.25\n",
        "f{k=\"big\"} 1e16\n",
        "f{k=\"tiny\"} 1.5e-7\n",
        "f{k=\"negzero\"} -0.0\n",
        "i -9223372036854775808\n",
        "u_total 18446744073709551615\n",
    ] {
        assert!(prom.contains(line), "{line:?} in\n{prom}");
    }
}

#[test]
fn histograms_are_cumulative_with_canonical_le() {
    let r = Registry::new();
    let h = r
        .register(Family::<Histogram, 1>::histogram(
            "lat_seconds",
            "Latency.",
            ["app"],
            &[0.005, 0.1, 1.0, 10.0, 1e6],
        ))
        .unwrap();
    for v in [0.001, 0.05, 0.05, 5.0, 2e6, f64::NAN] {
        h.with(["a"]).observe(v);
    }
    let prom = encode(&r, Format::Prometheus);
    assert_eq!(
        prom,
        "\
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{app=\"a\",le=\"0.005\"} 1
lat_seconds_bucket{app=\"a\",le=\"0.1\"} 3
lat_seconds_bucket{app=\"a\",le=\"1.0\"} 3
lat_seconds_bucket{app=\"a\",le=\"10.0\"} 4
lat_seconds_bucket{app=\"a\",le=\"1e+06\"} 4
lat_seconds_bucket{app=\"a\",le=\"+Inf\"} 6
lat_seconds_sum{app=\"a\"} NaN
lat_seconds_count{app=\"a\"} 6
"
    );
    // OpenMetrics: a NaN sum cannot be written, and `_count` goes with `_sum`.
    let om = encode(&r, Format::OpenMetrics);
    assert!(
        om.contains("lat_seconds_bucket{app=\"a\",le=\"+Inf\"} 6\n# EOF"),
        "{om}"
    );
    assert!(!om.contains("lat_seconds_sum"));
}

#[test]
fn openmetrics_histogram_sum_rules() {
    let r = Registry::new();
    let pos = r.register(Histogram::new("pos", "", &[1.0])).unwrap();
    pos.observe(0.5);
    let neg_obs = r.register(Histogram::new("neg_obs", "", &[1.0])).unwrap();
    neg_obs.observe(-3.0);
    let neg_bound = r
        .register(Histogram::new("neg_bound", "", &[-1.0, 1.0]))
        .unwrap();
    neg_bound.observe(0.5);
    let untouched = r.register(Histogram::new("untouched", "", &[1.0])).unwrap();
    let _ = untouched;
    let om = encode(&r, Format::OpenMetrics);
    assert!(om.contains("pos_sum 0.5\npos_count 1\n"), "{om}");
    assert!(
        om.contains("untouched_sum 0.0\nuntouched_count 0\n"),
        "{om}"
    );
    assert!(
        !om.contains("neg_obs_sum") && !om.contains("neg_obs_count"),
        "{om}"
    );
    assert!(
        !om.contains("neg_bound_sum") && !om.contains("neg_bound_count"),
        "{om}"
    );
    assert!(om.contains("neg_bound_bucket{le=\"-1.0\"} 0\n"), "{om}");
    let prom = encode(&r, Format::Prometheus);
    assert!(
        prom.contains("neg_obs_sum -3.0\nneg_obs_count 1\n"),
        "{prom}"
    );
    assert!(
        prom.contains("neg_bound_sum 0.5\nneg_bound_count 1\n"),
        "{prom}"
    );
}

#[test]
fn info_metrics() {
    static BUILD: Info = Info::new(
        "build_info",
        "Build.",
        &[("version", "1.4.2"), ("rev", "abc")],
    );
    static TARGET: Info = Info::new("target", "Target.", &[("env", "prod")]);
    let r = Registry::new();
    r.register_static(&BUILD).unwrap();
    r.register_static(&TARGET).unwrap();
    assert_eq!(
        encode(&r, Format::Prometheus),
        "\
# HELP build_info Build.
# TYPE build_info gauge
build_info{version=\"1.4.2\",rev=\"abc\"} 1
# HELP target Target.
# TYPE target gauge
target{env=\"prod\"} 1
"
    );
    assert_eq!(
        encode(&r, Format::OpenMetrics),
        "\
# TYPE build info
# HELP build Build.
build_info{version=\"1.4.2\",rev=\"abc\"} 1
# TYPE target gauge
# HELP target Target.
target{env=\"prod\"} 1
# EOF
"
    );
}

#[test]
fn units_only_in_openmetrics_and_only_where_valid() {
    let r = Registry::new();
    r.register(Counter::from_meta(Meta::with_unit(
        "rx_bytes_total",
        "Rx.",
        "bytes",
    )))
    .unwrap();
    r.register(GaugeF64::from_meta(Meta::with_unit(
        "uptime_seconds",
        "Up.",
        "seconds",
    )))
    .unwrap();
    let om = encode(&r, Format::OpenMetrics);
    assert!(om.contains("# TYPE rx_bytes counter\n# UNIT rx_bytes bytes\n# HELP rx_bytes Rx.\nrx_bytes_total 0\n"), "{om}");
    assert!(om.contains("# UNIT uptime_seconds seconds\n"), "{om}");
    assert!(!encode(&r, Format::Prometheus).contains("UNIT"));
    // Falling back to `unknown` under `rx_bytes_total`, the unit no longer fits.
    let r = Registry::new();
    r.register(Gauge::new("rx_bytes", "")).unwrap();
    r.register(Counter::from_meta(Meta::with_unit(
        "rx_bytes_total",
        "",
        "bytes",
    )))
    .unwrap();
    let om = encode(&r, Format::OpenMetrics);
    assert!(
        om.contains("# TYPE rx_bytes_total unknown\nrx_bytes_total 0\n"),
        "{om}"
    );
    assert!(!om.contains("UNIT"), "{om}");
}

#[test]
fn prefix_applies_to_every_name() {
    let r = Registry::new();
    let f = r
        .register(Family::<Counter, 1>::new("sent_total", "Sent.", ["app_id"]).with_limit(1))
        .unwrap();
    f.with(["a"]).inc();
    f.with(["b"]).inc();
    let mut enc = Encoder::new().with_prefix("pws_").unwrap();
    let om = encode_with(&mut enc, &r, Format::OpenMetrics);
    assert_eq!(
        om,
        "\
# TYPE pws_sent counter
# HELP pws_sent Sent.
pws_sent_total{app_id=\"a\"} 1
pws_sent_total{app_id=\"__overflow__\"} 1
# TYPE pws_nanometrics_label_overflow counter
# HELP pws_nanometrics_label_overflow Lookups of new label values past a family's cardinality limit, sent to its overflow series.
pws_nanometrics_label_overflow_total{family=\"sent_total\"} 1
# EOF
"
    );
}

#[test]
fn collector_values_openmetrics_cannot_carry_are_left_out() {
    let r = Registry::new();
    r.register_collector(Report(vec![
        (
            Meta::new("c_total", ""),
            Kind::Counter,
            vec![
                (vec![("k", "nan")], Value::CounterF64(f64::NAN)),
                (vec![("k", "neg")], Value::CounterF64(-1.0)),
                (vec![("k", "negi")], Value::Gauge(-1)),
                (vec![("k", "ok")], Value::CounterF64(1.5)),
                (vec![("k", "inf")], Value::CounterF64(f64::INFINITY)),
            ],
        ),
        (
            Meta::new("i_info", ""),
            Kind::Info,
            vec![
                (vec![("k", "2")], Value::Gauge(2)),
                (vec![("k", "1")], Value::Info),
            ],
        ),
    ]));
    assert_eq!(
        encode(&r, Format::OpenMetrics),
        "\
# TYPE c counter
c_total{k=\"ok\"} 1.5
c_total{k=\"inf\"} +Inf
# TYPE i info
i_info{k=\"1\"} 1
# EOF
"
    );
    let prom = encode(&r, Format::Prometheus);
    assert!(
        prom.contains("c_total{k=\"nan\"} NaN\nc_total{k=\"neg\"} -1.0\nc_total{k=\"negi\"} -1\n"),
        "{prom}"
    );
    assert!(
        prom.contains("i_info{k=\"2\"} 2\ni_info{k=\"1\"} 1\n"),
        "{prom}"
    );
}

#[test]
fn invalid_repeated_or_duplicate_labels_drop_the_series() {
    let r = Registry::new();
    r.register_collector(Report(vec![(
        Meta::new("g", ""),
        Kind::Gauge,
        vec![
            (vec![("0bad", "x")], Value::Gauge(1)),
            (vec![("__reserved", "x")], Value::Gauge(2)),
            (vec![("a-b", "x")], Value::Gauge(3)),
            (vec![("a", "x"), ("a", "y")], Value::Gauge(4)),
            (vec![("a", "x"), ("b", "y")], Value::Gauge(5)),
            (vec![("a", "x"), ("b", "y")], Value::Gauge(6)),
            (vec![("le", "x")], Value::Gauge(7)),
            (vec![("k", "v")], Value::Info),
        ],
    )]));
    let want = "# TYPE g gauge\ng{a=\"x\",b=\"y\"} 5\ng{le=\"x\"} 7\ng{k=\"v\"} 1\n";
    assert_eq!(encode(&r, Format::Prometheus), want);
    assert_eq!(encode(&r, Format::OpenMetrics), format!("{want}# EOF\n"));
}

/// A family's own series skip the duplicate check (distinct by
/// construction), but series anyone else adds to that family are still
/// checked against them: a collector that lets a family write into the
/// encoder and then reports more series, and a registered wrapper metric.
#[test]
fn series_added_to_a_unique_family_are_still_checked() {
    static USERS: Family<Counter, 1> = Family::new("logins_total", "", ["user"]);
    USERS.with(["ann"]).inc();
    USERS.with(["bob"]).inc_by(2);

    struct Appends;
    impl Collector for Appends {
        fn collect(&self, v: &mut dyn Visitor) {
            USERS.visit(v);
            v.series(&Labels::constant(&[("user", "bob")]), Value::Counter(9));
            v.series(&Labels::constant(&[("user", "cy")]), Value::Counter(3));
        }
    }
    let r = Registry::new();
    r.register_collector(Appends);
    let want = "# TYPE logins_total counter\nlogins_total{user=\"ann\"} 1\nlogins_total{user=\"bob\"} 2\nlogins_total{user=\"cy\"} 3\n";
    assert_eq!(encode(&r, Format::Prometheus), want);

    struct Wrapper;
    impl Metric for Wrapper {
        fn meta(&self) -> &Meta {
            USERS.meta()
        }
        fn kind(&self) -> Kind {
            Kind::Counter
        }
        fn visit(&self, v: &mut dyn Visitor) {
            USERS.visit(v);
            v.series(&Labels::constant(&[("user", "ann")]), Value::Counter(7));
        }
    }
    let r = Registry::new();
    r.register(Wrapper).unwrap();
    let want =
        "# TYPE logins_total counter\nlogins_total{user=\"ann\"} 1\nlogins_total{user=\"bob\"} 2\n";
    assert_eq!(encode(&r, Format::Prometheus), want);
    assert_eq!(
        encode(&r, Format::OpenMetrics),
        format!(
            "# TYPE logins counter\n{}# EOF\n",
            want.strip_prefix("# TYPE logins_total counter\n").unwrap()
        )
    );
}

/// The overflow series and a lookup of its own labels are one series.
#[test]
fn a_family_with_overflow_writes_each_label_set_once() {
    let f: Family<Gauge, 2> = Family::new("rooms", "", ["a", "b"]).with_limit(1);
    f.with(["x", "y"]).inc();
    f.with(["p", "q"]).inc();
    f.with([nanometrics::OVERFLOW_VALUE, nanometrics::OVERFLOW_VALUE])
        .inc();
    let r = Registry::new();
    r.register(f).unwrap();
    assert_eq!(
        encode(&r, Format::Prometheus),
        "# TYPE rooms gauge\nrooms{a=\"x\",b=\"y\"} 1\nrooms{a=\"__overflow__\",b=\"__overflow__\"} 2\n# HELP nanometrics_label_overflow_total Lookups of new label values past a family's cardinality limit, sent to its overflow series.\n# TYPE nanometrics_label_overflow_total counter\nnanometrics_label_overflow_total{family=\"rooms\"} 1\n"
    );
}

#[test]
fn clashing_families() {
    let r = Registry::new();
    // 0.0.4 and OpenMetrics: a family named like a histogram's sample.
    r.register(Histogram::new("h", "", &[1.0])).unwrap();
    // The registry refuses a registered family named like its samples...
    assert!(r.register(Gauge::new("h_count", "")).is_err());
    // OpenMetrics only: `x_created` is claimed by a counter `x`.
    r.register(Gauge::new("x_created", "")).unwrap().set(2);
    r.register(Counter::new("x_total", "")).unwrap().inc();
    // ...so only a collector can report one: the encoder leaves it out.
    r.register_collector(Report(vec![(
        Meta::new("h_count", ""),
        Kind::Counter,
        vec![(vec![], Value::Counter(9))],
    )]));
    let prom = encode(&r, Format::Prometheus);
    assert!(
        !prom.contains("h_count 1\n") && !prom.contains("h_count 9"),
        "{prom}"
    );
    assert!(
        prom.contains("# TYPE x_created gauge\nx_created 2\n# TYPE x_total counter\nx_total 1\n"),
        "{prom}"
    );
    let om = encode(&r, Format::OpenMetrics);
    assert!(
        om.contains("# TYPE x_created gauge\nx_created 2\n# TYPE x_total unknown\nx_total 1\n"),
        "{om}"
    );
    assert!(!om.contains("# TYPE h_count"), "{om}");
}

/// Forwards a metric's series, not its family, optionally relabelled.
struct Proxy<'a>(
    &'a mut dyn Visitor,
    Option<&'static [(&'static str, &'static str)]>,
);

impl Visitor for Proxy<'_> {
    fn family(&mut self, _: &Meta, _: Kind) {}
    fn series(&mut self, labels: &Labels<'_>, value: Value<'_>) {
        match self.1 {
            Some(pairs) => self.0.series(&Labels::constant(pairs), value),
            None => self.0.series(labels, value),
        }
    }
}

#[test]
fn histogram_values_only_in_histogram_families() {
    struct Mixed(Histogram);
    impl Collector for Mixed {
        fn collect(&self, v: &mut dyn Visitor) {
            static G: Meta = Meta::new("mixed_gauge", "");
            static H: Meta = Meta::new("mixed_hist", "");
            v.family(&G, Kind::Gauge);
            self.0.visit(&mut Proxy(v, None)); // a histogram value: dropped
            v.series(&Labels::EMPTY, Value::Gauge(1));
            v.family(&H, Kind::Histogram);
            v.series(&Labels::EMPTY, Value::Gauge(2)); // a scalar: dropped
            self.0.visit(&mut Proxy(v, Some(&[("le", "x")]))); // `le`: dropped
            self.0.visit(&mut Proxy(v, Some(&[("a", "b")])));
        }
    }
    let h = Histogram::new("real", "", &[1.0]);
    h.observe(0.5);
    let r = Registry::new();
    r.register_collector(Mixed(h));
    assert_eq!(
        encode(&r, Format::Prometheus),
        "\
# TYPE mixed_gauge gauge
mixed_gauge 1
# TYPE mixed_hist histogram
mixed_hist_bucket{a=\"b\",le=\"1.0\"} 1
mixed_hist_bucket{a=\"b\",le=\"+Inf\"} 1
mixed_hist_sum{a=\"b\"} 0.5
mixed_hist_count{a=\"b\"} 1
"
    );
}

#[test]
fn streaming_matches_and_reports_errors() {
    let r = seeds();
    let mut enc = Encoder::new();
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let mut direct = Vec::new();
        enc.encode(&r, format, &mut direct);
        let mut streamed = Vec::new();
        enc.encode_to(&r, format, &mut streamed).unwrap();
        assert_eq!(streamed, direct);
    }
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("peer closed"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = enc.encode_to(&r, Format::OpenMetrics, Broken).unwrap_err();
    assert_eq!(err.to_string(), "peer closed");
}

#[test]
fn legacy_pairs_parse_back_with_their_types() {
    let om = encode(&seeds(), Format::OpenMetrics);
    let e = parse(om.as_bytes(), Format::OpenMetrics).unwrap();
    let kinds: Vec<(&str, Type)> = e
        .families
        .iter()
        .map(|f| (f.name.as_str(), f.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("connected", Type::Gauge),
            ("drachtio_build_info", Type::Unknown),
            ("new_connections", Type::Counter),
            ("signaling_proxy_sessions", Type::Gauge),
            ("signaling_proxy_sessions_total", Type::Unknown),
            ("socket_received_bytes", Type::Unknown),
            ("sofia_dialogs_total", Type::Gauge),
        ]
    );
    assert_eq!(e.families[2].samples[0].value, Number::Int(5));
    let _ = CounterF64::new("unused_total", "");
}

#[test]
fn dynamic_series_names_are_checked_unless_known() {
    // A collector reporting through `dynamic_series` with different name
    // slices in one family: only names already checked, in the same order,
    // skip the check; a repeat, `le` in a histogram family or a bad name
    // still drops the series, and collectors keep the duplicate check.
    struct Dyn;
    impl Collector for Dyn {
        fn collect(&self, v: &mut dyn Visitor) {
            static M: Meta = Meta::new("dyn", "");
            static AB: [&str; 2] = ["a", "b"];
            static AA: [&str; 2] = ["a", "a"];
            static BAD: [&str; 1] = ["1x"];
            v.family(&M, Kind::Gauge);
            v.dynamic_series(&AB, &["x\"", "y\n"], Value::Gauge(1));
            v.dynamic_series(&AB, &["x", "y"], Value::Gauge(2));
            v.dynamic_series(&AA, &["x", "z"], Value::Gauge(3)); // repeat
            v.dynamic_series(&BAD, &["x"], Value::Gauge(4)); // bad name
            v.dynamic_series(&AB, &["x", "y"], Value::Gauge(5)); // duplicate
            v.dynamic_series(&AB[..1], &["w"], Value::Gauge(6));
            v.dynamic_series(&AB, &["x\\"], Value::Gauge(7)); // a value short
            v.dynamic_series(&[], &[], Value::Gauge(8));
        }
    }
    let r = Registry::new();
    r.register_collector(Dyn);
    let text = encode(&r, Format::Prometheus);
    assert!(
        text.starts_with(
            "\
# TYPE dyn gauge
dyn{a=\"x\\\"\",b=\"y\\n\"} 1
dyn{a=\"x\",b=\"y\"} 2
dyn{a=\"w\"} 6
dyn{a=\"x\\\\\"} 7
dyn 8
"
        ),
        "{text}"
    );
}

/// A collector that reports series without starting a family of its own
/// (a programming error) cannot add them to the family registered before it:
/// they belong to no family and are dropped, so a claimed family never shows
/// a series twice.
#[test]
fn series_outside_any_family_are_dropped() {
    static LOGINS: Family<Counter, 1> = Family::new("orphan_logins_total", "", ["user"]);
    LOGINS.with(["ann"]).inc();

    struct Orphans;
    impl Collector for Orphans {
        fn collect(&self, v: &mut dyn Visitor) {
            v.series(&Labels::constant(&[("user", "ann")]), Value::Counter(5));
            v.series(&Labels::constant(&[("user", "ann")]), Value::Counter(6));
            v.series(&Labels::constant(&[("user", "bob")]), Value::Counter(7));
        }
    }
    let r = Registry::new();
    r.register_static(&LOGINS).unwrap();
    r.register_collector(Orphans);
    let text = encode(&r, Format::Prometheus);
    let want = "# TYPE orphan_logins_total counter\norphan_logins_total{user=\"ann\"} 1\n";
    assert_eq!(text, want);
    assert!(!text.contains("user=\"bob\""), "{text}");
    for text in [text.clone(), encode(&r, Format::OpenMetrics)] {
        assert_eq!(text.matches("orphan_logins_total{").count(), 1, "{text}");
    }
}
