//! Registry namespaces: prefixes and constant labels for groups of families,
//! in both formats, read back by the crate's strict parser.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nanometrics::encoding::parse;
use nanometrics::{Counter, Encoder, Error, Family, Format, Gauge, Histogram, Info, Registry};

/// drachtio's two namespaces in one process, one with a constant label, plus
/// a family of the root registry.
fn drachtio() -> Registry {
    let r = Registry::new();
    r.register(Gauge::new("up", "Up.")).unwrap().set(1);
    let drachtio = r.namespace("drachtio_", &[]).unwrap();
    let sofia = r.namespace("sofia_", &[("stack", "sofia-sip")]).unwrap();
    let calls = drachtio
        .register(Family::<Counter, 1>::new(
            "sip_requests_in_total",
            "SIP requests received.",
            ["method"],
        ))
        .unwrap();
    calls.with(["INVITE"]).inc_by(3);
    calls.with(["BYE"]).inc();
    drachtio
        .register(Gauge::new("stable_dialogs", "Dialogs."))
        .unwrap()
        .set(2);
    let latency = sofia
        .register(Histogram::new(
            "transaction_seconds",
            "Transaction time.",
            &[0.01, 0.1],
        ))
        .unwrap();
    latency.observe(0.05);
    let build = Info::try_new(
        "build_info",
        "Build.",
        vec![("version".to_owned(), "1.2.3".to_owned())],
    )
    .unwrap();
    sofia.register(build).unwrap();
    // A namespace in a namespace: prefixes and labels compose.
    let tport = sofia.namespace("tport_", &[("proto", "udp")]).unwrap();
    tport
        .register(Counter::new("errors_total", "Transport errors."))
        .unwrap()
        .inc();
    r
}

fn encode(r: &Registry, format: Format) -> String {
    let mut out = Vec::new();
    Encoder::new().encode(r, format, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn two_namespaces_and_constant_labels_in_one_scrape() {
    let r = drachtio();
    r.check().unwrap();
    let text = encode(&r, Format::Prometheus);
    for line in [
        "up 1\n",
        "drachtio_sip_requests_in_total{method=\"INVITE\"} 3\n",
        "drachtio_stable_dialogs 2\n",
        "sofia_transaction_seconds_bucket{stack=\"sofia-sip\",le=\"0.1\"} 1\n",
        "sofia_transaction_seconds_count{stack=\"sofia-sip\"} 1\n",
        "sofia_build_info{version=\"1.2.3\",stack=\"sofia-sip\"} 1\n",
        "sofia_tport_errors_total{proto=\"udp\",stack=\"sofia-sip\"} 1\n",
        "# TYPE sofia_tport_errors_total counter\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    let om = encode(&r, Format::OpenMetrics);
    assert!(om.contains("# TYPE sofia_build info\n"), "{om}");
    assert!(om.contains("sofia_tport_errors_total{proto=\"udp\",stack=\"sofia-sip\"} 1\n"));
    // Both formats parse strictly, every family once.
    for (body, format) in [(text, Format::Prometheus), (om, Format::OpenMetrics)] {
        let parsed =
            parse::parse(body.as_bytes(), format).unwrap_or_else(|e| panic!("{e}\n{body}"));
        let names: Vec<&str> = parsed.families.iter().map(|f| f.name.as_str()).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }
}

#[test]
fn bad_namespaces_are_errors() {
    let r = Registry::new();
    assert!(matches!(
        r.namespace("6001_", &[]),
        Err(Error::InvalidPrefix { .. })
    ));
    for labels in [
        &[("le", "x")][..],
        &[("quantile", "x")],
        &[("__name__", "x")],
        &[("a", "1"), ("a", "2")],
        &[("bad-name", "x")],
    ] {
        let err = r.namespace("ok_", labels).unwrap_err();
        assert!(matches!(err, Error::InvalidLabelName { .. }), "{err}");
    }
    // A label of an enclosing namespace cannot be repeated.
    let outer = r.namespace("a_", &[("region", "eu")]).unwrap();
    assert!(outer.namespace("b_", &[("region", "us")]).is_err());
}

#[test]
fn a_metric_whose_labels_repeat_a_constant_label_is_refused() {
    let r = Registry::new();
    let ns = r.namespace("app_", &[("region", "eu")]).unwrap();
    let err = ns
        .register(Family::<Counter, 1>::new("jobs_total", "Jobs.", ["region"]))
        .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidLabelName {
            metric: "jobs_total".into(),
            label: "region".into()
        }
    );
    assert!(ns
        .register(Family::<Counter, 1>::new("jobs_total", "Jobs.", ["queue"]))
        .is_ok());
}

#[test]
fn names_that_clash_across_namespaces_are_found_by_check() {
    let r = Registry::new();
    r.register(Counter::new("a_jobs_total", "Jobs.")).unwrap();
    let ns = r.namespace("a_", &[]).unwrap();
    ns.register(Counter::new("jobs_total", "Jobs.")).unwrap();
    let err = r.check().unwrap_err();
    assert!(matches!(err, Error::Clash { .. }), "{err}");
}

#[test]
fn a_namespace_without_labels_keeps_the_fast_dynamic_path_output() {
    // The same family, at the root and in a label-less namespace, writes the
    // same lines but for the prefix.
    let root = Registry::new();
    let ns_parent = Registry::new();
    let ns = ns_parent.namespace("x_", &[]).unwrap();
    for r in [&root, &*ns] {
        let f = r
            .register(Family::<Counter, 2>::new(
                "sent_total",
                "Sent.",
                ["app", "channel"],
            ))
            .unwrap();
        for i in 0..5 {
            f.with(["app", &format!("room-{i}")]).inc_by(i);
        }
    }
    let plain = encode(&root, Format::OpenMetrics);
    let prefixed = encode(&ns_parent, Format::OpenMetrics);
    assert_eq!(plain.replace("sent", "x_sent"), prefixed);
}
