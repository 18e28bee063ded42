//! Issue 5, scrapes: encoding 1,000 and 10,000 series as Prometheus text
//! (and nanometrics' OpenMetrics), every library in one group, each encoding
//! into a buffer reused between scrapes; then a full HTTP scrape of 10,000
//! series over loopback: nanometrics' own responder against each peer's
//! encoder behind a minimal std-only responder (the peers ship none with the
//! features used here). `encode_mix` encodes the four mixes of
//! `src/mix.rs` (other shapes than 10 one-label families) in every library.
//! Bytes and allocations per scrape are in the `alloc_profile` bench.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nanometrics_benches::mix::{MixScraper, LIBRARIES, MIXES};
use nanometrics_benches::scrape::{scraper, servers, ScrapeClient, ScrapeSet, SCRAPERS};

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in [1_000, 10_000] {
        let set = ScrapeSet::new(n);
        for name in SCRAPERS {
            let mut s = scraper(&set, name);
            let mut out = Vec::new();
            s.encode(&mut out); // grow the buffers first
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| {
                    s.encode(&mut out);
                    black_box(out.len())
                })
            });
        }
    }
    g.finish();
}

/// The encoding mixes of `src/mix.rs` (small families, histograms, long
/// label values, a 10,000-series blend), every library; ids are
/// `encode_mix/<library>/<mix>`. 24 benchmarks of about 2.5 s each.
fn encode_mix(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_mix");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for mix in MIXES {
        for library in LIBRARIES {
            // Built, and buffers grown by a first scrape, outside the timing.
            let (mut s, mut out) = MixScraper::warmed(mix, library);
            g.bench_function(BenchmarkId::new(library, mix.name()), |b| {
                b.iter(|| {
                    s.encode(&mut out);
                    black_box(out.len())
                })
            });
        }
    }
    g.finish();
}

fn http_scrape(c: &mut Criterion) {
    let n = 10_000;
    let set = Arc::new(ScrapeSet::new(n));
    let mut g = c.benchmark_group("http_scrape");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (name, addr, server) in servers(Arc::clone(&set)) {
        let mut client = ScrapeClient::connect(addr);
        client.scrape();
        g.bench_function(BenchmarkId::new(name, n), |b| {
            b.iter(|| black_box(client.scrape()))
        });
        drop(client); // ends a peer responder's loop
        match server {
            nanometrics_benches::scrape::Server::Nanometrics(s) => s.shutdown(),
            nanometrics_benches::scrape::Server::Peer(h) => {
                let _ = h.join();
            }
        }
    }
    g.finish();
}

criterion_group!(benches, encode, encode_mix, http_scrape);
criterion_main!(benches);
