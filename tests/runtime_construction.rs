//! Run-time construction (issue 19, item 2): every metric type has a fallible
//! form taking names, help and `Info` labels read at start; a metric built so
//! scrapes exactly like its `static` twin, without allocating; `Error`'s
//! `Debug` is its message; a collector's clashing family is reported, and
//! the check agrees with what the encoder really leaves out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use nanometrics::{
    Collector, Counter, CounterF64, Encoder, Error, Family, Format, Gauge, GaugeF64, Histogram,
    Info, Kind, LabelSet, Labels, Meta, Metric, Registry, StartTime, Value, Visitor,
    DEFAULT_BUCKETS, OVERFLOW_FAMILY,
};

#[path = "support/alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Allocations by this thread during `f`.
fn allocations_during(f: impl FnOnce()) -> usize {
    counting_alloc::on_this_thread(f) as usize
}

nanometrics::label_enum! {
    /// Directions.
    pub enum Dir: "direction" { In => "in", Out => "out" }
}

/// A label set whose name only a run-time check can refuse (`label_enum!`
/// refuses a bad one at compile time).
#[derive(Clone, Copy)]
struct Le;

impl LabelSet for Le {
    const CARDINALITY: usize = 1;
    fn index(self) -> usize {
        0
    }
    fn for_each_pair(_: usize, f: &mut dyn FnMut(&'static str, &'static str)) {
        f("le", "x")
    }
    fn for_each_name(f: &mut dyn FnMut(&'static str)) {
        f("le")
    }
}

/// A label set with an invalid name.
#[derive(Clone, Copy)]
struct Reserved;

impl LabelSet for Reserved {
    const CARDINALITY: usize = 1;
    fn index(self) -> usize {
        0
    }
    fn for_each_pair(_: usize, f: &mut dyn FnMut(&'static str, &'static str)) {
        f("__x", "x")
    }
    fn for_each_name(f: &mut dyn FnMut(&'static str)) {
        f("__x")
    }
}

fn encode(r: &Registry, format: Format) -> String {
    let mut out = Vec::new();
    Encoder::new().encode(r, format, &mut out);
    String::from_utf8(out).unwrap()
}

fn bad_name(name: &str) -> Error {
    Error::InvalidMetricName { name: name.into() }
}

/// A name as configuration hands it over: an owned `String`.
fn owned(name: &str) -> String {
    name.to_owned()
}

#[test]
fn every_type_has_a_fallible_run_time_form() -> Result<(), Error> {
    // Scalars, unlabeled and over a label set.
    assert_eq!(
        Counter::try_new(owned("c_total"), owned("C."))
            .unwrap()
            .meta()
            .help(),
        "C."
    );
    assert_eq!(
        CounterF64::try_new(owned("f_total"), "")
            .unwrap()
            .meta()
            .name(),
        "f_total"
    );
    assert_eq!(Gauge::try_new(owned("g"), "").unwrap().meta().name(), "g");
    assert_eq!(
        GaugeF64::try_new(owned("gf"), "").unwrap().meta().name(),
        "gf"
    );
    let c: Counter<Dir> = Counter::try_labeled(owned("cl_total"), "").unwrap();
    c.with(Dir::Out).inc_by(2);
    assert_eq!(c.with(Dir::Out).get(), 2);
    let f: CounterF64<Dir> = CounterF64::try_labeled(owned("fl_total"), "").unwrap();
    f.with(Dir::In).inc_by(0.5);
    assert_eq!(f.with(Dir::In).get(), 0.5);
    let g: Gauge<Dir> = Gauge::try_labeled(owned("gl"), "").unwrap();
    g.with(Dir::In).set(-3);
    assert_eq!(g.with(Dir::In).get(), -3);
    let gf: GaugeF64<Dir> = GaugeF64::try_labeled(owned("gfl"), "").unwrap();
    gf.with(Dir::Out).set(1.5);
    assert_eq!(gf.with(Dir::Out).get(), 1.5);

    // Histograms, families, info, start time, metas.
    let h = Histogram::try_new(Meta::try_new(owned("h_seconds"), "")?, vec![0.1, 1.0]).unwrap();
    h.observe(0.5);
    assert_eq!(h.count(), 1);
    let hl: Histogram<Dir> =
        Histogram::try_labeled(Meta::try_new(owned("hl_seconds"), "")?, vec![1.0]).unwrap();
    hl.with(Dir::In).observe(2.0);
    assert_eq!(
        (hl.with(Dir::In).count(), hl.with(Dir::Out).count()),
        (1, 0)
    );
    let fam = Family::<Gauge, 1>::try_new(Meta::try_new(owned("fam"), "")?, ["room"], ()).unwrap();
    fam.with(["r1"]).set(4);
    let hfam = Family::<Histogram, 1>::try_new(
        Meta::try_new(owned("hfam_seconds"), "")?,
        ["m"],
        vec![1.0, 2.0].into(),
    )
    .unwrap();
    hfam.with(["GET"]).observe(1.5);
    assert_eq!(hfam.with(["GET"]).count(), 1);
    let info = Info::try_new(owned("i_info"), "", [(owned("version"), owned("1.2.3"))]).unwrap();
    assert_eq!(info.label("version"), Some("1.2.3"));
    let started = StartTime::try_new(owned("started_seconds"), "").unwrap();
    assert!(started.get() > 1.6e9);
    let meta = Meta::try_with_unit(owned("rx_bytes_total"), "", owned("bytes")).unwrap();
    assert_eq!(meta.unit(), Some("bytes"));
    Ok(())
}

#[test]
fn bad_run_time_input_is_an_error_naming_it() {
    assert_eq!(Counter::try_new("7up", "").unwrap_err(), bad_name("7up"));
    assert_eq!(CounterF64::try_new("a b", "").unwrap_err(), bad_name("a b"));
    assert_eq!(Gauge::try_new("", "").unwrap_err(), bad_name(""));
    assert_eq!(GaugeF64::try_new("a-b", "").unwrap_err(), bad_name("a-b"));
    assert_eq!(StartTime::try_new("é", "").unwrap_err(), bad_name("é"));
    assert_eq!(
        Info::try_new("0_info", "", [("v", "1")]).unwrap_err(),
        bad_name("0_info")
    );
    assert_eq!(
        Counter::<Dir>::try_labeled("x y", "").unwrap_err(),
        bad_name("x y")
    );
    assert_eq!(
        Gauge::<Dir>::try_labeled("1", "").unwrap_err(),
        bad_name("1")
    );
    assert_eq!(
        Meta::try_new("no.dots", "").unwrap_err(),
        bad_name("no.dots")
    );
    assert_eq!(
        Meta::try_with_unit("rx_total", "", "bytes").unwrap_err(),
        Error::InvalidUnit {
            metric: "rx_total".into(),
            unit: "bytes".into()
        }
    );

    // Label names a label set brings.
    let label = |label: &str, metric: &str| Error::InvalidLabelName {
        metric: metric.into(),
        label: label.into(),
    };
    assert_eq!(
        Counter::<Reserved>::try_labeled("r_total", "").unwrap_err(),
        label("__x", "r_total")
    );
    assert_eq!(
        GaugeF64::<Reserved>::try_labeled("r", "").unwrap_err(),
        label("__x", "r")
    );
    assert!(
        Counter::<Le>::try_labeled("le_total", "").is_ok(),
        "`le` is a histogram's"
    );
    assert_eq!(
        Histogram::<Le>::try_labeled(Meta::new("h", ""), vec![1.0]).unwrap_err(),
        label("le", "h")
    );

    // Bounds.
    let buckets = |metric: &str| Error::InvalidBuckets {
        metric: metric.into(),
    };
    assert_eq!(
        Histogram::try_new(Meta::new("h", ""), vec![1.0, f64::NAN]).unwrap_err(),
        buckets("h")
    );
    assert_eq!(
        Histogram::<Dir>::try_labeled(Meta::new("h", ""), vec![2.0, 1.0]).unwrap_err(),
        buckets("h")
    );
    let many: Vec<f64> = (0..1025).map(f64::from).collect();
    assert_eq!(
        Histogram::try_new(Meta::new("h", ""), many.clone()).unwrap_err(),
        buckets("h")
    );
    assert!(Histogram::try_new(Meta::new("h", ""), many[..1024].to_vec()).is_ok());
    assert_eq!(
        Family::<Histogram, 1>::try_new(Meta::new("hf", ""), ["m"], vec![1.0, 1.0].into())
            .unwrap_err(),
        buckets("hf")
    );

    // Info labels: valid, distinct, at most 32.
    assert_eq!(
        Info::try_new("i", "", [("ok", "1"), ("a-b", "2")]).unwrap_err(),
        label("a-b", "i")
    );
    assert_eq!(
        Info::try_new("i", "", [("v", "1"), ("w", "2"), ("v", "3")]).unwrap_err(),
        label("v", "i")
    );
    let names: Vec<String> = (0..33).map(|i| format!("l{i}")).collect();
    let pairs = |n: usize| {
        names[..n]
            .iter()
            .map(|l| (l.clone(), "v"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        Info::try_new("i", "", pairs(33)).unwrap_err(),
        Error::TooManyLabels {
            metric: "i".into(),
            limit: 32
        }
    );
    assert_eq!(
        Info::try_new("i", "", pairs(32)).unwrap().labels().count(),
        32
    );
}

/// The registries of a `static`-style metric set and its run-time twin
/// (same names, help, labels and updates) encode to the same text.
#[test]
fn run_time_metrics_scrape_like_their_static_twins() {
    static C: Counter = Counter::new("app_connections_total", "Connections.");
    static CL: CounterF64<Dir> = CounterF64::labeled("app_busy_seconds_total", "Busy.");
    static G: Gauge = Gauge::new("app_connected", "Connected.");
    static GL: GaugeF64<Dir> = GaugeF64::labeled("app_load_ratio", "Load.");
    static H: Histogram<Dir> =
        Histogram::labeled("app_fanout_seconds", "Fan-out.", &DEFAULT_BUCKETS);
    static F: Family<Counter, 1> = Family::new("app_sent_total", "Sent.", ["app_id"]);
    static I: Info = Info::new(
        "app_build_info",
        "Build.",
        &[("version", "1.2.3"), ("commit", "af3d")],
    );

    let prefix = owned("app");
    let help = |h: &str| owned(h);
    let stat = Registry::new();
    let run = Registry::new();
    stat.register_static(&C).unwrap();
    stat.register_static(&CL).unwrap();
    stat.register_static(&G).unwrap();
    stat.register_static(&GL).unwrap();
    stat.register_static(&H).unwrap();
    stat.register_static(&F).unwrap();
    stat.register_static(&I).unwrap();
    let c = run
        .register(
            Counter::try_new(format!("{prefix}_connections_total"), help("Connections.")).unwrap(),
        )
        .unwrap();
    let cl = run
        .register(
            CounterF64::<Dir>::try_labeled(format!("{prefix}_busy_seconds_total"), help("Busy."))
                .unwrap(),
        )
        .unwrap();
    let g = run
        .register(Gauge::try_new(format!("{prefix}_connected"), help("Connected.")).unwrap())
        .unwrap();
    let gl = run
        .register(
            GaugeF64::<Dir>::try_labeled(format!("{prefix}_load_ratio"), help("Load.")).unwrap(),
        )
        .unwrap();
    let h = run
        .register(
            Histogram::<Dir>::try_labeled(
                Meta::try_new(format!("{prefix}_fanout_seconds"), help("Fan-out.")).unwrap(),
                DEFAULT_BUCKETS.to_vec(),
            )
            .unwrap(),
        )
        .unwrap();
    let f = run
        .register(
            Family::<Counter, 1>::try_new(
                Meta::try_new(format!("{prefix}_sent_total"), help("Sent.")).unwrap(),
                ["app_id"],
                (),
            )
            .unwrap(),
        )
        .unwrap();
    let version = owned("1.2.3");
    run.register(
        Info::try_new(
            format!("{prefix}_build_info"),
            help("Build."),
            [("version", version), ("commit", owned("af3d"))],
        )
        .unwrap(),
    )
    .unwrap();

    C.inc_by(3);
    c.inc_by(3);
    CL.with(Dir::Out).inc_by(0.25);
    cl.with(Dir::Out).inc_by(0.25);
    G.set(-2);
    g.set(-2);
    GL.with(Dir::In).set(0.5);
    gl.with(Dir::In).set(0.5);
    for v in [0.003, 0.2, 7.0] {
        H.with(Dir::In).observe(v);
        h.with(Dir::In).observe(v);
    }
    F.with(["a1"]).inc();
    f.with(["a1"]).inc();

    for format in [Format::Prometheus, Format::OpenMetrics] {
        let want = encode(&stat, format);
        assert_eq!(encode(&run, format), want);
        assert!(
            want.contains("app_build_info{version=\"1.2.3\",commit=\"af3d\"} 1\n"),
            "{want}"
        );
    }
    assert!(encode(&run, Format::OpenMetrics).contains("# TYPE app_build info\n"));
}

/// Owned names, help and info labels are written from the metric: once the
/// buffers have grown, a scrape allocates nothing.
#[test]
fn scraping_run_time_metrics_allocates_nothing() -> Result<(), Error> {
    let r = Registry::new();
    let ns = owned("sofia");
    let c = r
        .register(Counter::try_new(format!("{ns}_msgs_total"), owned("Msgs.")).unwrap())
        .unwrap();
    let i = Info::try_new(
        format!("{ns}_build_info"),
        owned("Build \"information\"\n."),
        (0..32).map(|k| (format!("l{k}"), format!("v\"{k}"))),
    )
    .unwrap();
    r.register(i).unwrap();
    r.register(StartTime::try_new(format!("{ns}_time_started"), owned("Started.")).unwrap())
        .unwrap();
    let h = r
        .register(
            Histogram::try_new(
                Meta::try_new(format!("{ns}_answer_seconds"), owned("A."))?,
                vec![1.0, 5.0],
            )
            .unwrap(),
        )
        .unwrap();
    c.inc();
    h.observe(2.0);
    let mut encoder = Encoder::new();
    let mut out = Vec::new();
    for format in [Format::Prometheus, Format::OpenMetrics] {
        out.clear();
        encoder.encode(&r, format, &mut out);
    }
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("l31=\"v\\\"31\"} 1\n"), "{text}");
    let n = allocations_during(|| {
        for format in [Format::Prometheus, Format::OpenMetrics] {
            out.clear();
            encoder.encode(&r, format, &mut out);
        }
    });
    assert_eq!(n, 0, "allocations in a warm scrape");
    Ok(())
}

#[test]
fn error_debug_is_the_message() {
    let errors = [
        bad_name("7up"),
        Error::Duplicate { name: "x".into() },
        Error::Clash {
            first: "a".into(),
            second: "b".into(),
        },
        Error::TooManyLabels {
            metric: "i".into(),
            limit: 32,
        },
        Error::InvalidBuckets { metric: "h".into() },
    ];
    for e in errors {
        assert_eq!(format!("{e:?}"), e.to_string());
    }
    assert_eq!(
        format!("{:?}", bad_name("7up")),
        "invalid metric name \"7up\": expected [a-zA-Z_:][a-zA-Z0-9_:]*"
    );
    // As a `main` returning `Result<(), Error>` prints it (`Error: {err:?}`).
    fn main_like() -> Result<(), Error> {
        Counter::try_new(owned("7up"), "")?;
        Ok(())
    }
    assert_eq!(
        format!("Error: {:?}", main_like().unwrap_err()),
        "Error: invalid metric name \"7up\": expected [a-zA-Z_:][a-zA-Z0-9_:]*"
    );
}

/// A collector reporting the given families, one series each.
struct Report(Vec<(Meta, Kind)>);

impl Collector for Report {
    fn collect(&self, v: &mut dyn Visitor) {
        for (meta, kind) in &self.0 {
            v.family(meta, *kind);
            let value = match kind {
                Kind::Counter => Value::Counter(1),
                Kind::Gauge => Value::Gauge(1),
                Kind::Info => Value::Info,
                Kind::Histogram => continue,
            };
            v.series(&Labels::EMPTY, value);
        }
    }
}

fn report(families: &[(&str, Kind)]) -> Report {
    Report(
        families
            .iter()
            .map(|(n, k)| (Meta::try_new(owned(n), "").unwrap(), *k))
            .collect(),
    )
}

fn clash(first: &str, second: &str) -> Error {
    Error::Clash {
        first: first.into(),
        second: second.into(),
    }
}

#[test]
fn a_collector_clashing_names_are_reported() {
    use Kind::{Counter as C, Gauge as G, Histogram as H};

    // With a registered family.
    let r = Registry::new();
    r.register(Gauge::new("queue_jobs", "")).unwrap();
    r.register_collector(report(&[("queue_jobs", G)]));
    assert_eq!(r.check(), Err(clash("queue_jobs", "queue_jobs")));

    // Inside itself.
    let r = Registry::new();
    r.register_collector(report(&[("a", G), ("b", G), ("a", C)]));
    assert_eq!(r.check(), Err(clash("a", "a")));

    // With another collector.
    let r = Registry::new();
    r.register_collector(report(&[("a", G)]));
    r.register_collector(report(&[("b", G), ("a", G)]));
    assert_eq!(r.check(), Err(clash("a", "a")));

    // A histogram's sample names, either way round.
    let r = Registry::new();
    r.register(Histogram::new("rpc_seconds", "", &[1.0]))
        .unwrap();
    r.register_collector(report(&[("rpc_seconds_count", G)]));
    assert_eq!(r.check(), Err(clash("rpc_seconds", "rpc_seconds_count")));
    let r = Registry::new();
    r.register(Gauge::new("lat_sum", "")).unwrap();
    r.register_collector(report(&[("lat", H)]));
    assert_eq!(r.check(), Err(clash("lat_sum", "lat")));

    // Left out in OpenMetrics only: a gauge after a counter claiming its name.
    let r = Registry::new();
    r.register(Counter::new("sessions_total", "")).unwrap();
    r.register_collector(report(&[("sessions", G)]));
    assert_eq!(r.check(), Err(clash("sessions_total", "sessions")));
    // The other way round the counter is written (typed `unknown`): no clash.
    let r = Registry::new();
    r.register(Gauge::new("sessions", "")).unwrap();
    r.register_collector(report(&[("sessions_total", C)]));
    assert_eq!(r.check(), Ok(()));

    // The overflow family's name is reserved.
    let r = Registry::new();
    r.register_collector(report(&[(OVERFLOW_FAMILY, C)]));
    assert_eq!(r.check(), Err(clash(OVERFLOW_FAMILY, OVERFLOW_FAMILY)));

    // The process collector is clean.
    let r = Registry::new();
    r.register_collector(nanometrics::ProcessCollector::new());
    assert_eq!(r.check(), Ok(()));
}

#[test]
fn try_register_collector_refuses_a_clash_and_keeps_the_registry() {
    use Kind::{Counter as C, Gauge as G};
    let r = Registry::new();
    r.register(Counter::new("jobs_total", "")).unwrap();
    assert_eq!(
        r.try_register_collector(report(&[("ok", G), ("jobs_total", G)])),
        Err(clash("jobs_total", "jobs_total"))
    );
    assert_eq!(
        r.try_register_collector(report(&[("x", G), ("x", G)])),
        Err(clash("x", "x")),
        "inside itself"
    );
    assert_eq!(r.check(), Ok(()), "neither was registered");
    assert!(!encode(&r, Format::Prometheus).contains("ok"));
    r.try_register_collector(report(&[("ok", G)])).unwrap();
    assert_eq!(
        r.try_register_collector(report(&[("ok", C)])),
        Err(clash("ok", "ok"))
    );

    // A clash between earlier registrations is `check`'s to report, not
    // the newcomer's.
    let r = Registry::new();
    r.register_collector(report(&[("dup", G)]));
    r.register_collector(report(&[("dup", G)]));
    assert_eq!(r.try_register_collector(report(&[("fresh", G)])), Ok(()));
    assert_eq!(r.check(), Err(clash("dup", "dup")));
}

/// Over every pair of names and kinds around one base name, registered or
/// collected: `check` reports a clash exactly when a scrape (in either
/// format) leaves a family out, that is writes fewer `# TYPE` lines than
/// there are families.
#[test]
fn check_agrees_with_what_the_encoder_leaves_out() {
    const NAMES: [&str; 9] = [
        "x",
        "x_total",
        "x_created",
        "x_info",
        "x_bucket",
        "x_count",
        "x_sum",
        "x_total_total",
        "x_info_total",
    ];
    const KINDS: [Kind; 4] = [Kind::Counter, Kind::Gauge, Kind::Histogram, Kind::Info];
    fn register(r: &Registry, name: &str, kind: Kind) -> Result<(), Error> {
        let meta = Meta::try_new(owned(name), "").unwrap();
        match kind {
            Kind::Counter => r.register(Counter::from_meta(meta)).map(drop),
            Kind::Gauge => r.register(Gauge::from_meta(meta)).map(drop),
            Kind::Histogram => r
                .register(Histogram::try_new(meta, vec![1.0]).unwrap())
                .map(drop),
            Kind::Info => r
                .register(Info::try_new(owned(name), "", [("k", "v")]).unwrap())
                .map(drop),
        }
    }
    let mut checked = 0;
    let mut clashes = 0;
    for a in NAMES {
        for ka in KINDS {
            for b in NAMES {
                for kb in KINDS {
                    for a_registered in [true, false] {
                        let r = Registry::new();
                        if a_registered {
                            if register(&r, a, ka).is_err() {
                                continue;
                            }
                            r.register_collector(report(&[(b, kb)]));
                        } else {
                            r.register_collector(report(&[(a, ka), (b, kb)]));
                        }
                        let written = |format| encode(&r, format).matches("# TYPE ").count();
                        let left_out =
                            written(Format::Prometheus) < 2 || written(Format::OpenMetrics) < 2;
                        let verdict = r.check();
                        assert_eq!(
                            verdict.is_err(),
                            left_out,
                            "{a} {ka:?} (registered: {a_registered}) then {b} {kb:?}: {verdict:?}"
                        );
                        if let Err(e) = verdict {
                            assert_eq!(e, clash(a, b), "names both");
                            clashes += 1;
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(
        checked > 1000 && clashes > 100,
        "{checked} cases, {clashes} clashes"
    );
}
