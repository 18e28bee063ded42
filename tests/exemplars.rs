//! Exemplars through the encoder: on the right series and buckets, in
//! OpenMetrics only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nanometrics::{Counter, Encoder, Error, Format, Histogram, Registry};

nanometrics::label_enum! {
    /// Request methods.
    pub enum Method: "method" { Get => "GET", Post => "POST" }
}

fn encode(r: &Registry, format: Format) -> String {
    let mut out = Vec::new();
    Encoder::new().encode(r, format, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn labeled_series_carry_their_own_exemplars() {
    let r = Registry::new();
    let latency = r
        .register(Histogram::<Method>::labeled(
            "rpc_seconds",
            "Latency.",
            &[0.1, 1.0],
        ))
        .unwrap();
    let requests = r
        .register(Counter::<Method>::labeled("rpc_total", "Requests."))
        .unwrap();
    latency
        .observe_with_exemplar_for(Method::Post, 0.5, &[("trace_id", "post-1")])
        .unwrap();
    latency.with(Method::Get).observe(0.05);
    requests
        .inc_by_with_exemplar_for(Method::Get, 3, &[("trace_id", "get-1")])
        .unwrap();
    requests.with(Method::Post).inc();

    let om = encode(&r, Format::OpenMetrics);
    let with_exemplars: Vec<&str> = om.lines().filter(|l| l.contains(" # {")).collect();
    assert_eq!(with_exemplars.len(), 2, "{om}");
    assert!(
        with_exemplars[0].starts_with(
            "rpc_seconds_bucket{method=\"POST\",le=\"1.0\"} 1 # {trace_id=\"post-1\"} 0.5 "
        ),
        "{om}"
    );
    assert!(
        with_exemplars[1].starts_with("rpc_total{method=\"GET\"} 3 # {trace_id=\"get-1\"} 3.0 "),
        "{om}"
    );
    // The timestamp is now-ish, in seconds.
    let ts: f64 = with_exemplars[1]
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ts > 1.6e9, "{ts}");
    let text = encode(&r, Format::Prometheus);
    assert!(!text.contains(" # {"), "{text}");
}

#[test]
fn a_bad_exemplar_is_an_error_and_the_update_still_counts() {
    let c = Counter::new("jobs_total", "Jobs.");
    let err = c.inc_with_exemplar(&[("trace-id", "x")]).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidExemplar {
            reason: "invalid label name `trace-id`".into()
        }
    );
    assert_eq!(c.get(), 1);
}

#[test]
fn a_legacy_counter_name_writes_no_exemplar() {
    // Without `_total`, OpenMetrics types it `unknown`, which allows none.
    let r = Registry::new();
    let c = r
        .register(Counter::new("socket_received_bytes", "Bytes."))
        .unwrap();
    c.inc_by_with_exemplar(10, &[("trace_id", "x")]).unwrap();
    let om = encode(&r, Format::OpenMetrics);
    assert!(om.contains("socket_received_bytes 10\n"), "{om}");
    assert!(!om.contains(" # {"), "{om}");
}
