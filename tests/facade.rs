//! The `metrics` facade recorder (issue 18, item 3): a multi-threaded app
//! records through `metrics::counter!` and friends into nanometrics and
//! into metrics-exporter-prometheus; both scrapes must hold the same
//! families, types, HELP, series and values, and ours must pass the strict
//! parser in both formats. Then the rules for what is dropped: the same name
//! with another kind or other label names, invalid names, a name the
//! registry refuses, too many names; none panics, each is counted.
//!
//! `cargo test --features metrics-facade --test facade`

#![cfg(feature = "metrics-facade")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::collections::BTreeMap;

use metrics::Unit;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher as PromMatcher, PrometheusBuilder};
use nanometrics::encoding::parse::{parse, Type};
use nanometrics::facade::{Matcher, Recorder, REJECTED_FAMILY};
use nanometrics::{Encoder, Error, Format, Registry, DEFAULT_BUCKETS};

const BYTES: [f64; 4] = [64.0, 512.0, 1024.0, 4096.0];
const THREADS: usize = 4;

fn registry() -> &'static Registry {
    Box::leak(Box::new(Registry::new()))
}

fn recorder(r: &'static Registry) -> Recorder {
    Recorder::builder()
        .registry(r)
        .buckets_for(Matcher::Suffix("_bytes".into()), &BYTES)
        .unwrap()
        .build()
        .unwrap()
}

fn scrape(r: &Registry, format: Format) -> String {
    let mut out = Vec::new();
    Encoder::new().encode(r, format, &mut out);
    String::from_utf8(out).unwrap()
}

/// What one thread of the app records (the same calls under each recorder).
fn app(thread: usize) {
    describe_counter!(
        "requests_total",
        "Requests, by \"method\".\nA second line with a \\ backslash."
    );
    describe_gauge!("inflight", Unit::Count, "Requests in flight.");
    describe_histogram!("latency_seconds", Unit::Seconds, "Request latency.");
    for i in 0..600u64 {
        let method = if i % 3 == 0 { "GET" } else { "POST" };
        counter!("requests_total", "method" => method).increment(1);
        // Run-time label values, a name the exporter sanitizes.
        let app = format!("app-{}", i % 5);
        counter!("app.messages", "app" => app, "kind" => "text").increment(2);
        histogram!("latency_seconds", "route" => "/events").record((i % 100) as f64 / 1000.0);
        histogram!("frame_bytes").record((i * 37 % 5000) as f64);
    }
    let inflight = gauge!("inflight", "thread" => thread.to_string());
    inflight.set(10.0);
    inflight.increment(2.5);
    inflight.decrement(0.5);
    gauge!("shared").increment(1.5);
    counter!("absolute_total").absolute(100 + thread as u64);
    counter!("absolute_total").absolute(50);
    let kept = counter!("kept_total", "static" => "yes");
    for _ in 0..500 {
        kept.increment(1);
    }
    // Described after its first registration.
    counter!("late_total").increment(1);
    describe_counter!("late_total", "Described late.");
}

/// A scrape as `(sample name, sorted labels) → value` (bucket bounds read
/// as numbers), plus each family's type and non-empty HELP; families named
/// `nanometrics_*` (the recorder's own) are left out. Lenient: it reads
/// the exporter's output as well as ours.
#[derive(Debug, Default, PartialEq)]
struct Normalized {
    samples: BTreeMap<(String, Vec<(String, String)>), f64>,
    types: BTreeMap<String, String>,
    help: BTreeMap<String, String>,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(c) => out.push(c),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn normalize(text: &str) -> Normalized {
    let mut n = Normalized::default();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if !name.starts_with("nanometrics_") && !help.is_empty() {
                n.help.insert(name.into(), unescape(help));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap();
            if !name.starts_with("nanometrics_") {
                n.types.insert(name.into(), ty.into());
            }
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected line {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').unwrap()),
            None => (series, ""),
        };
        if name.starts_with("nanometrics_") {
            continue;
        }
        let mut pairs = Vec::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest.split_once("=\"").unwrap();
            // The value ends at the first quote not escaped.
            let mut end = 0;
            let bytes = after.as_bytes();
            while bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let mut value = unescape(&after[..end]);
            if key == "le" {
                value = format!("{:?}", value.parse::<f64>().unwrap());
            }
            pairs.push((key.trim_start_matches(',').to_owned(), value));
            rest = after[end + 1..].trim_start_matches(',');
        }
        pairs.sort();
        let v = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap(),
        };
        assert!(
            n.samples.insert((name.into(), pairs), v).is_none(),
            "repeated series in {line:?}"
        );
    }
    n
}

#[test]
fn a_scrape_matches_the_exporters_for_the_same_calls() {
    let r = registry();
    let ours = recorder(r);
    let prom = PrometheusBuilder::new()
        .set_buckets(&DEFAULT_BUCKETS)
        .unwrap()
        .set_buckets_for_metric(PromMatcher::Suffix("_bytes".into()), &BYTES)
        .unwrap()
        .build_recorder();
    let handle = prom.handle();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (ours, prom) = (&ours, &prom);
            s.spawn(move || {
                metrics::with_local_recorder(ours, || app(t));
                metrics::with_local_recorder(prom, || app(t));
            });
        }
    });
    let theirs = normalize(&handle.render());
    let text = scrape(r, Format::Prometheus);
    let mine = normalize(&text);
    assert_eq!(mine.types, theirs.types, "families and types");
    assert_eq!(mine.help, theirs.help, "HELP");
    let keys = |n: &Normalized| n.samples.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&mine), keys(&theirs), "series");
    for (k, want) in &theirs.samples {
        let got = mine.samples[k];
        // Float sums may add in another order.
        let close = (got - want).abs() <= 1e-9 * want.abs().max(1.0);
        assert!(close, "{k:?}: nanometrics {got}, exporter {want}");
    }
    // Spot checks against what the calls imply.
    let t = THREADS as f64;
    let get = |name: &str, labels: &[(&str, &str)]| {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        mine.samples[&(name.to_owned(), labels)]
    };
    assert_eq!(get("requests_total", &[("method", "GET")]), 200.0 * t);
    assert_eq!(
        get("app_messages", &[("app", "app-3"), ("kind", "text")]),
        240.0 * t
    );
    assert_eq!(get("inflight", &[("thread", "2")]), 12.0);
    assert_eq!(get("shared", &[]), 1.5 * t);
    assert_eq!(get("absolute_total", &[]), 100.0 + t - 1.0);
    assert_eq!(get("kept_total", &[("static", "yes")]), 500.0 * t);
    let small = (0..600u64).filter(|i| i * 37 % 5000 <= 64).count() as f64;
    assert_eq!(get("frame_bytes_bucket", &[("le", "64.0")]), small * t);
    assert_eq!(mine.help["late_total"], "Described late.");

    // Ours is valid in both formats, to the strict parser, and nothing was
    // dropped.
    let prom_text = parse(text.as_bytes(), Format::Prometheus).unwrap();
    let om = scrape(r, Format::OpenMetrics);
    let om = parse(om.as_bytes(), Format::OpenMetrics).unwrap();
    let family = |name: &str| om.families.iter().find(|f| f.name == name).unwrap();
    assert_eq!(family("latency_seconds").unit.as_deref(), Some("seconds"));
    assert_eq!(family("latency_seconds").kind, Type::Histogram);
    assert_eq!(family("inflight").unit, None, "not a suffix of the name");
    assert_eq!(family("requests").kind, Type::Counter);
    assert!(family(REJECTED_FAMILY.trim_end_matches("_total"))
        .samples
        .is_empty());
    assert_eq!(prom_text.families.len(), om.families.len());
}

/// `nanometrics_facade_rejected_total` as `(metric, reason) → count`.
fn rejected(r: &Registry) -> BTreeMap<(String, String), f64> {
    let text = scrape(r, Format::Prometheus);
    let parsed = parse(text.as_bytes(), Format::Prometheus).unwrap();
    let family = parsed
        .families
        .iter()
        .find(|f| f.name == REJECTED_FAMILY)
        .unwrap();
    family
        .samples
        .iter()
        .map(|s| {
            let label = |k: &str| s.labels.iter().find(|l| l.0 == k).unwrap().1.clone();
            ((label("metric"), label("reason")), s.value.as_f64())
        })
        .collect()
}

fn sample(r: &Registry, name: &str) -> Vec<(Vec<(String, String)>, f64)> {
    let text = scrape(r, Format::Prometheus);
    let parsed = parse(text.as_bytes(), Format::Prometheus).unwrap();
    parsed
        .families
        .iter()
        .flat_map(|f| &f.samples)
        .filter(|s| s.name == name)
        .map(|s| (s.labels.clone(), s.value.as_f64()))
        .collect()
}

#[test]
fn the_first_registration_of_a_name_wins_and_mismatches_are_counted() {
    let r = registry();
    r.register(nanometrics::Counter::new(
        "taken_total",
        "Declared elsewhere.",
    ))
    .unwrap();
    let ours = recorder(r);
    metrics::with_local_recorder(&ours, || {
        counter!("dup").increment(1);
        gauge!("dup").set(5.0); // another kind: dropped
        histogram!("dup").record(1.0);
        counter!("lbl", "a" => "1").increment(1);
        counter!("lbl", "b" => "1").increment(1); // other label names: dropped
        counter!("lbl", "a" => "1", "b" => "2").increment(1); // dropped
        counter!("lbl", "a" => "2").increment(1);
        // The same label names in another order are the same series; names
        // spelled alike once sanitized are the same family.
        counter!("two", "a" => "1", "b" => "2").increment(1);
        counter!("two", "b" => "2", "a" => "1").increment(1);
        counter!("two", "a" => "1", "b-" => "2").increment(1); // `b_`: dropped
        counter!("two", "a" => "1", "b" => "2").increment(1);
        counter!("x.y", "k-1" => "v").increment(1);
        counter!("x_y", "k_1" => "v").increment(1);
        counter!("x:y", "k_1" => "v").increment(1); // another name
                                                    // Invalid even after sanitizing.
        counter!("").increment(1);
        counter!("reserved", "__a" => "1").increment(1);
        histogram!("h", "le" => "x").record(1.0);
        counter!("rep", "a" => "1", "a" => "2").increment(1);
        counter!("nine", "a" => "", "b" => "", "c" => "", "d" => "", "e" => "", "f" => "", "g" => "", "h" => "", "i" => "").increment(1);
        // Taken by a metric registered without the facade.
        counter!("taken_total").increment(1);
    });
    assert_eq!(sample(r, "dup"), [(vec![], 1.0)]);
    assert_eq!(
        sample(r, "lbl"),
        [
            (vec![("a".into(), "1".into())], 1.0),
            (vec![("a".into(), "2".into())], 1.0)
        ]
    );
    assert_eq!(
        sample(r, "two"),
        [(
            vec![("a".into(), "1".into()), ("b".into(), "2".into())],
            3.0
        )]
    );
    assert_eq!(sample(r, "x_y"), [(vec![("k_1".into(), "v".into())], 2.0)]);
    assert_eq!(sample(r, "taken_total"), [(vec![], 0.0)]);
    let want: BTreeMap<(String, String), f64> = [
        ("dup", "kind", 2.0),
        ("lbl", "labels", 2.0),
        ("two", "labels", 1.0),
        ("", "invalid", 1.0),
        ("reserved", "invalid", 1.0),
        ("h", "invalid", 1.0),
        ("rep", "invalid", 1.0),
        ("nine", "invalid", 1.0),
        ("taken_total", "registry", 1.0),
    ]
    .into_iter()
    .map(|(m, r, n)| ((m.to_owned(), r.to_owned()), n))
    .collect();
    assert_eq!(rejected(r), want);
    // Still valid OpenMetrics.
    let om = scrape(r, Format::OpenMetrics);
    parse(om.as_bytes(), Format::OpenMetrics).unwrap();
}

#[test]
fn names_past_the_limit_are_dropped_and_counted() {
    let r = registry();
    let ours = Recorder::builder()
        .registry(r)
        .max_metrics(2)
        .build()
        .unwrap();
    metrics::with_local_recorder(&ours, || {
        counter!("a_total").increment(1);
        gauge!("b").set(1.0);
        counter!("c_total").increment(1);
        counter!("c_total").increment(1);
        counter!("a_total").increment(1);
    });
    assert_eq!(sample(r, "a_total"), [(vec![], 2.0)]);
    assert!(sample(r, "c_total").is_empty());
    assert_eq!(
        rejected(r),
        [(("c_total".to_owned(), "capacity".to_owned()), 2.0)].into()
    );
}

#[test]
fn a_second_recorder_on_one_registry_and_a_second_install_are_errors() {
    let r = registry();
    let _first = recorder(r);
    let second = Recorder::builder().registry(r).build().unwrap_err();
    assert_eq!(
        second,
        Error::Duplicate {
            name: REJECTED_FAMILY.into()
        }
    );
    nanometrics::facade::install().unwrap();
    assert_eq!(
        nanometrics::facade::install(),
        Err(Error::RecorderInstalled)
    );
    counter!("installed_total").increment(3);
    // Other tests in this binary record through local recorders; this
    // counter went to the global registry.
    let text = scrape(nanometrics::global(), Format::Prometheus);
    assert!(text.contains("installed_total 3\n"), "{text}");
}

#[test]
fn counters_absolute_never_go_back_and_gauges_take_floats() {
    let r = registry();
    let ours = recorder(r);
    metrics::with_local_recorder(&ours, || {
        let c = counter!("abs_total");
        c.absolute(10);
        c.absolute(4);
        c.increment(1);
        c.absolute(20);
        let g = gauge!("temp");
        g.set(-1.25);
        g.increment(0.5);
        g.decrement(2.0);
        histogram!("sizes_bytes").record(100.0);
        histogram!("other").record_many(0.2, 3);
    });
    assert_eq!(sample(r, "abs_total"), [(vec![], 20.0)]);
    assert_eq!(sample(r, "temp"), [(vec![], -2.75)]);
    // `_bytes` histograms get the matcher's bounds, others the default.
    assert_eq!(sample(r, "sizes_bytes_bucket").len(), BYTES.len() + 1);
    assert_eq!(sample(r, "other_bucket").len(), DEFAULT_BUCKETS.len() + 1);
    assert_eq!(sample(r, "other_count"), [(vec![], 3.0)]);
}

#[test]
fn many_series_from_one_call_site_each_count_their_own() {
    // More series than a thread caches handles for, revisited out of order.
    let r = registry();
    let ours = recorder(r);
    metrics::with_local_recorder(&ours, || {
        for round in 0..3u64 {
            for i in (0..300u64).rev() {
                let id = format!("{i}");
                counter!("per_id_total", "id" => id.clone()).increment(i + round);
                histogram!("per_id_seconds", "id" => id.clone()).record(0.5);
                gauge!("per_id", "id" => id).set(i as f64);
            }
        }
    });
    let counters = sample(r, "per_id_total");
    assert_eq!(counters.len(), 300);
    for (labels, v) in counters {
        let i: f64 = labels[0].1.parse().unwrap();
        assert_eq!(v, 3.0 * i + 3.0, "{labels:?}");
    }
    for (labels, v) in sample(r, "per_id") {
        assert_eq!(v, labels[0].1.parse::<f64>().unwrap());
    }
    assert!(sample(r, "per_id_seconds_count")
        .iter()
        .all(|(_, n)| *n == 3.0));
}

#[test]
fn label_values_past_the_cardinality_limit_go_to_the_overflow_series() {
    let r = registry();
    let ours = Recorder::builder()
        .registry(r)
        .cardinality_limit(2)
        .build()
        .unwrap();
    metrics::with_local_recorder(&ours, || {
        for room in ["a", "b", "c", "d", "c"] {
            counter!("joins_total", "room" => room).increment(1);
            gauge!("members", "room" => room).increment(1.0);
            histogram!("stay_seconds", "room" => room).record(1.0);
        }
    });
    let overflow = vec![("room".to_owned(), nanometrics::OVERFLOW_VALUE.to_owned())];
    for name in ["joins_total", "members", "stay_seconds_count"] {
        let series = sample(r, name);
        assert_eq!(series.len(), 3, "{name}: {series:?}");
        assert!(
            series.contains(&(overflow.clone(), 3.0)),
            "{name}: {series:?}"
        );
    }
}
