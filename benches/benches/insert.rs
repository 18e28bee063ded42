//! Issue 5, first insert: the time to create a series for a label value never
//! seen before, 10,000 new values into a fresh 1-label counter family (each
//! incremented once). Criterion's figure is ns per insert: one iteration is
//! one insert, and every 10,000 iterations start a fresh family (built and
//! dropped outside the timed region). Allocations per insert are in the
//! `alloc_profile` bench.
//!
//! Issue 16, removal: in a family of 10,000 series, one iteration removes a
//! live series with each library's documented call and looks it up again
//! (so that the next lap removes a live series again), cycling through the
//! 10,000; and nanometrics' idle sweep over 10,000 series, none expiring.

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

/// Times `iters` removals, cycling through `values`: `remove(&family, v)`
/// removes the series of `v` and looks it up again.
fn removals<F>(values: &[String], family: &F, iters: u64, remove: impl Fn(&F, &str)) -> Duration {
    let start = Instant::now();
    for i in 0..iters as usize {
        remove(family, &values[i % values.len()]);
    }
    start.elapsed()
}

fn remove(c: &mut Criterion) {
    let values = distinct_values("user", SERIES);
    let values = &values;
    let mut g = c.benchmark_group("remove");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let nm: Family<Counter, 1> =
        Family::new("users_total", "Per user.", ["user"]).with_limit(2 * SERIES);
    for v in values {
        nm.with([v]).inc();
    }
    g.bench_function("nanometrics", |b| {
        b.iter_custom(|iters| {
            removals(values, &nm, iters, |f, v| {
                black_box(f.remove([v]));
                f.with([v]).inc();
            })
        })
    });
    let prom = prometheus::IntCounterVec::new(
        prometheus::Opts::new("users_total", "Per user."),
        &["user"],
    )
    .unwrap();
    for v in values {
        prom.with_label_values(&[v]).inc();
    }
    g.bench_function("prometheus", |b| {
        b.iter_custom(|iters| {
            removals(values, &prom, iters, |f, v| {
                black_box(f.remove_label_values(&[v])).unwrap();
                f.with_label_values(&[v]).inc();
            })
        })
    });
    let pc = prometheus_client::metrics::family::Family::<
        PcUser,
        prometheus_client::metrics::counter::Counter,
    >::default();
    for v in values {
        pc.get_or_create(&PcUser { user: v.to_owned() }).inc();
    }
    g.bench_function("prometheus_client", |b| {
        b.iter_custom(|iters| {
            removals(values, &pc, iters, |f, v| {
                let key = PcUser { user: v.to_owned() };
                black_box(f.remove(&key));
                f.get_or_create(&key).inc();
            })
        })
    });
    let idle: Family<Counter, 1> = Family::new("idle_total", "Per user.", ["user"])
        .with_limit(2 * SERIES)
        .with_idle_timeout(Duration::from_secs(3600));
    for v in values {
        idle.with([v]).inc();
    }
    g.bench_function("nanometrics_idle_sweep_10000", |b| {
        b.iter(|| black_box(idle.expire_idle()))
    });
    g.finish();
}

criterion_group!(benches, first_insert, remove);
criterion_main!(benches);
