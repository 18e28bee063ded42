//! The smallest server: a few declared metrics with known values, served as
//! the environment says (`METRICS_HOST`, `METRICS_PORT`, `METRICS_AUTH_TOKEN`,
//! … see `nanometrics::config`). Prints `listening on ADDR` once bound, then
//! serves until killed. `.ci/stages/60-prometheus-scrape.sh` points a real
//! Prometheus at it. Two metrics carry exemplars (`trace_id`), which
//! OpenMetrics scrapes show and a Prometheus with exemplar storage keeps.
//!
//! ```sh
//! METRICS_PORT=9601 cargo run --example serve_minimal
//! curl -s http://127.0.0.1:9601/metrics
//! ```

use std::io::Write;

use nanometrics::{declare, Counter, Gauge, Histogram};

declare! {
    static DEMO_KNOWN: Counter = Counter::new("demo_known_total", "A counter with a known value: 42.");
    static DEMO_CONNECTED: Gauge = Gauge::new("demo_connected", "A gauge with a known value: 7.");
    static DEMO_TRACED: Counter = Counter::new("demo_traced_total", "A counter with an exemplar.");
    static DEMO_LATENCY: Histogram =
        Histogram::new("demo_latency_seconds", "A histogram with an exemplar.", &[0.01, 0.1, 1.0]);
}

fn main() -> Result<(), nanometrics::Error> {
    DEMO_KNOWN.inc_by(42);
    DEMO_CONNECTED.set(7);
    DEMO_TRACED.inc_by_with_exemplar(3, &[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")])?;
    DEMO_LATENCY.observe_with_exemplar(0.05, &[("trace_id", "00f067aa0ba902b7")])?;
    let Some(server) = nanometrics::http::serve_global_from_env()? else {
        eprintln!("METRICS_ENABLED=false: not serving");
        return Ok(());
    };
    println!("listening on {}", server.local_addr());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
