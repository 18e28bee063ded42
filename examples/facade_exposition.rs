//! Records through the `metrics` facade into nanometrics (feature
//! `metrics-facade`) and writes one scrape in both formats, for the
//! conformance stage (`.ci/stages/20-conformance.sh`) to feed to promtool
//! and Python's strict OpenMetrics parser:
//!
//! ```sh
//! cargo run --features metrics-facade --example facade_exposition -- target/conformance/facade
//! ```
//!
//! writes `facade.prom` (text 0.0.4) and `facade.om` (OpenMetrics 1.0).

use metrics::Unit;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use nanometrics::{Encoder, Format};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/conformance/facade".into());
    std::fs::create_dir_all(&dir)?;
    nanometrics::facade::install()?;

    describe_counter!(
        "requests_total",
        "Requests served, by \"method\".\nSecond line \\ here."
    );
    describe_gauge!("connected", "Connected sockets.");
    describe_histogram!("latency_seconds", Unit::Seconds, "Request latency.");
    describe_counter!("rx_bytes_total", Unit::Bytes, "Bytes received.");
    for (method, n) in [("GET", 3), ("POST", 1)] {
        counter!("requests_total", "method" => method).increment(n);
    }
    let app = String::from("app \"1\"\n\\");
    counter!("requests_total", "method" => "PUT").absolute(7);
    counter!("rx_bytes_total", "app" => app.clone()).increment(512);
    counter!("http.requests", "status-code" => "200").increment(1); // sanitized
    counter!("no_suffix").increment(2);
    let connected = gauge!("connected");
    connected.set(10.0);
    connected.decrement(2.5);
    gauge!("ratio", "app" => app).set(f64::NAN);
    for v in [0.0005, 0.02, 0.3, 7.0] {
        histogram!("latency_seconds", "route" => "/events").record(v);
    }
    gauge!("connected").increment(1.0);
    // Dropped: another kind for a name (counted in the self-metric).
    histogram!("connected").record(1.0);

    let mut encoder = Encoder::new();
    for (format, ext) in [(Format::Prometheus, "prom"), (Format::OpenMetrics, "om")] {
        let mut out = Vec::new();
        encoder.encode(nanometrics::global(), format, &mut out);
        std::fs::write(format!("{dir}/facade.{ext}"), out)?;
    }
    println!("wrote {dir}/facade.prom and {dir}/facade.om");
    Ok(())
}
