//! Issue 5, first insert: the time to create a series for a label value never
//! seen before, 10,000 new values into a fresh 1-label counter family (each
//! incremented once). Criterion's figure is ns per insert: one iteration is
//! one insert, and every 10,000 iterations start a fresh family (built and
//! dropped outside the timed region). Allocations per insert are in the
//! `alloc_profile` bench.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use nanometrics::{Counter, Family};
use nanometrics_benches::peers::metrics_builder;
use nanometrics_benches::scrape::{measured_users, MeasuredUser, PcUser};
use nanometrics_benches::workload::distinct_values;

const SERIES: usize = 10_000;

/// Times `iters` inserts: `fresh()` builds an empty family (not timed),
/// `insert(&family, value)` creates and increments one series.
fn inserts<F>(
    values: &[String],
    iters: u64,
    fresh: impl Fn() -> F,
    insert: impl Fn(&F, &str),
) -> Duration {
    let mut left = iters;
    let mut total = Duration::ZERO;
    while left > 0 {
        let n = left.min(SERIES as u64) as usize;
        let family = fresh();
        let start = Instant::now();
        for v in &values[..n] {
            insert(&family, v);
        }
        total += start.elapsed();
        drop(black_box(family));
        left -= n as u64;
    }
    total
}

fn first_insert(c: &mut Criterion) {
    let values = distinct_values("user", SERIES);
    let values = &values;
    let mut g = c.benchmark_group("first_insert");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("nanometrics", |b| {
        b.iter_custom(|iters| {
            inserts(
                values,
                iters,
                || {
                    Family::<Counter, 1>::new("users_total", "Per user.", ["user"])
                        .with_limit(2 * SERIES)
                },
                |f, v| f.with([v]).inc(),
            )
        })
    });
    g.bench_function("prometheus", |b| {
        b.iter_custom(|iters| {
            inserts(
                values,
                iters,
                || {
                    prometheus::IntCounterVec::new(
                        prometheus::Opts::new("users_total", "Per user."),
                        &["user"],
                    )
                    .unwrap()
                },
                |f, v| f.with_label_values(&[v]).inc(),
            )
        })
    });
    g.bench_function("prometheus_client", |b| {
        b.iter_custom(|iters| {
            inserts(
                values,
                iters,
                prometheus_client::metrics::family::Family::<
                    PcUser,
                    prometheus_client::metrics::counter::Counter,
                >::default,
                |f, v| {
                    f.get_or_create(&PcUser { user: v.to_owned() }).inc();
                },
            )
        })
    });
    g.bench_function("metrics_per_call", |b| {
        b.iter_custom(|iters| {
            inserts(
                values,
                iters,
                || metrics_builder().build_recorder(),
                |r, v| {
                    metrics::with_local_recorder(r, || {
                        metrics::counter!("users_total", "user" => v.to_owned()).increment(1)
                    })
                },
            )
        })
    });
    g.bench_function("measured", |b| {
        b.iter_custom(|iters| {
            inserts(
                values,
                iters,
                || measured::CounterVec::with_label_set(measured_users()),
                |f, v| f.inc(MeasuredUser { user: v }),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, first_insert);
criterion_main!(benches);
