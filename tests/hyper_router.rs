//! `examples/hyper_router.rs` (the exposition served from an application's
//! own hyper router) run in-process on 127.0.0.1:0 and scraped over a real
//! socket, with and without an OpenMetrics `Accept`; and its `/metrics`
//! handler checked against the copy in docs/getting-started.md.
#![cfg(unix)]
// Test code panics on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;

use nanometrics::Format;

// The example's `main` runs only when it is run as an example.
#[allow(dead_code)]
#[path = "../examples/hyper_router.rs"]
mod hyper_router;

mod support;
use support::{connect, exchange, get};

/// What Prometheus 2.x and 3.x send.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn serves_the_exposition_next_to_the_application() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Runs for the rest of the test process.
    std::thread::spawn(move || hyper_router::serve(listener));

    // One keep-alive connection: the application's route, then two scrapes.
    let mut s = connect(addr);
    let app = exchange(&mut s, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(app.status, 200);
    assert_eq!(app.text(), "hello from the application\n");

    let prom = exchange(&mut s, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(prom.status, 200);
    assert_eq!(
        prom.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        prom.header("Content-Type"),
        Some(Format::Prometheus.content_type())
    );
    let text = prom.text();
    assert!(
        text.contains("# TYPE app_requests_total counter\n"),
        "{text}"
    );
    assert!(text.contains("\napp_requests_total 1\n"), "{text}");
    assert!(!text.contains("# EOF"), "{text}");

    let req = format!("GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: {PROMETHEUS_ACCEPT}\r\n\r\n");
    let om = exchange(&mut s, req.as_bytes());
    assert_eq!(om.status, 200);
    assert_eq!(
        om.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = om.text();
    assert!(text.contains("# TYPE app_requests counter\n"), "{text}");
    assert!(text.contains("\napp_requests_total 1\n"), "{text}");
    assert!(text.ends_with("\n# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");

    // `Accept` that names no exposition format: text 0.0.4, as the
    // library's responder answers it.
    let other = get(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\n\r\n",
    );
    assert_eq!(
        other.header("Content-Type"),
        Some(Format::Prometheus.content_type())
    );

    assert_eq!(
        get(addr, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n").status,
        404
    );
    let post = get(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
}

/// docs/getting-started.md shows the example's `/metrics` handler (the lines
/// between `// docs:begin metrics-handler` and `// docs:end metrics-handler`)
/// verbatim; the doctest there compiles and runs that copy.
#[test]
fn getting_started_shows_the_examples_handler() {
    let example = include_str!("../examples/hyper_router.rs");
    let guide = include_str!("../docs/getting-started.md");
    let handler = example
        .split_once("// docs:begin metrics-handler\n")
        .and_then(|(_, rest)| rest.split_once("// docs:end metrics-handler\n"))
        .map(|(handler, _)| handler)
        .expect("docs:begin/end markers in examples/hyper_router.rs");
    assert!(
        guide.contains(handler),
        "docs/getting-started.md must show examples/hyper_router.rs's handler verbatim:\n{handler}"
    );
}
