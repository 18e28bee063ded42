//! Issue 2: one counter hammered by 1 and by N threads, nanometrics against
//! the two designs it must beat, in one criterion group so that all figures
//! come from the same run:
//!
//! - `atomic_shared`: one `AtomicU64`, `fetch_add(1, Relaxed)` from every
//!   thread (one contended cache line);
//! - `sharded16`: sixteen `CachePadded<AtomicU64>`, each thread picks one once
//!   (round-robin) and `fetch_add`s it (no sharing, but a `lock` prefix);
//! - `nanometrics`: `Counter::inc` on a `static` counter (the thread leases an
//!   exclusive slot and adds with a plain load and store).
//!
//! Figures are aggregate ns/op: wall time over all threads' operations.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nanometrics::Counter;
use nanometrics_benches::{aggregate, record_occupancy, thread_counts, Sharded16};

static NM: Counter = Counter::new("bench_contention_total", "Bench counter.");
static SHARED: AtomicU64 = AtomicU64::new(0);

fn contention(c: &mut Criterion) {
    let sharded = Sharded16::new();
    let mut g = c.benchmark_group("counter_contention");
    g.sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for threads in thread_counts() {
        g.bench_function(BenchmarkId::new("nanometrics", threads), |b| {
            b.iter_custom(|iters| aggregate(threads, iters, |_| || black_box(&NM).inc()))
        });
        record_occupancy(&format!("counter_contention/nanometrics/{threads}"));
        g.bench_function(BenchmarkId::new("atomic_shared", threads), |b| {
            b.iter_custom(|iters| {
                aggregate(threads, iters, |_| {
                    || {
                        black_box(&SHARED).fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
        });
        record_occupancy(&format!("counter_contention/atomic_shared/{threads}"));
        g.bench_function(BenchmarkId::new("sharded16", threads), |b| {
            b.iter_custom(|iters| {
                aggregate(threads, iters, |_| {
                    let slot = sharded.pick();
                    move || {
                        black_box(slot).fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
        });
        record_occupancy(&format!("counter_contention/sharded16/{threads}"));
    }
    g.finish();
    // Read the totals so that no increment is dead.
    black_box((NM.get(), SHARED.load(Ordering::Relaxed), sharded.sum()));
}

criterion_group!(benches, contention);
criterion_main!(benches);
