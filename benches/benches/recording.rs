//! Issue 5, recording workloads: every library in the same criterion group,
//! on 1 thread and on N threads sharing one metric (N = 2 and every core; on a
//! 2-core machine that is just 2). Figures are aggregate ns/op (see
//! `nanometrics_benches::aggregate`).
//!
//! Function names say how a peer is used:
//! - plain name: a handle kept by the caller (each library's documented hot
//!   path), or for labels the library's own typed-label lookup;
//! - `_local`: prometheus' thread-local counter/histogram, flushed every 1024
//!   operations (its documented fastest path);
//! - `_per_call`: the lookup written at the call site on every operation (the
//!   `counter!` macro of `metrics`, `with_label_values` of prometheus);
//! - `_cached`: the 20 labelled series looked up once into an array;
//! - `atomic_shared`, `thread_local_floor`: the baselines (for histograms,
//!   the floor does the same bucket search and two plain thread-local adds,
//!   `thread_local_floor_sum` only the add to the sum;
//!   `thread_local_floor_20`/`_labels`: the floor over 20 cells, picked by the
//!   loop's index or by the labels).

use std::hint::black_box;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use nanometrics::LabelSet;
use nanometrics_benches::facade::{self, recorders};
use nanometrics_benches::peers::{
    metrics_handle, nm, peer_labels, str_labels, Measured, MeasuredDynamic, MeasuredStatic,
    Metrics, PcDynamic, PcStatic, Prom, PromClient,
};
use nanometrics_benches::workload::{
    floor_add, floor_add_at, floor_observe, floor_sum_only, observations, Cycle, COMBOS,
    OBSERVATIONS,
};
use nanometrics_benches::{aggregate, record_occupancy, thread_counts};

static SHARED: AtomicU64 = AtomicU64::new(0);
static SHARED_GAUGE: AtomicI64 = AtomicI64::new(0);
/// prometheus' local metrics are flushed every this many operations.
const FLUSH_EVERY: u32 = 1024;

struct Peers {
    prom: Prom,
    pc: PromClient,
    metrics: Metrics,
    measured: Measured,
}

fn peers() -> Peers {
    Peers {
        prom: Prom::new(),
        pc: PromClient::new(),
        metrics: Metrics::new(),
        measured: Measured::new(),
    }
}

fn configure(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(2500));
}

/// One benchmark: `make_op(thread)` builds the repeated operation.
fn bench<M, F>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, threads: usize, make_op: M)
where
    M: Fn(usize) -> F + Sync,
    F: FnMut(),
{
    g.bench_function(BenchmarkId::new(name, threads), |b| {
        b.iter_custom(|iters| aggregate(threads, iters, &make_op))
    });
    occupancy(name, threads);
}

/// Records how much of the run the benchmark threads were on a CPU.
fn occupancy(name: &str, threads: usize) {
    record_occupancy(&format!("{}/{name}/{threads}", GROUP.with(|n| n.get())));
}

thread_local! {
    /// The group being run (criterion does not expose a group's name).
    static GROUP: std::cell::Cell<&'static str> = const { std::cell::Cell::new("") };
}

/// Starts group `name` with the suite's settings.
fn group<'a>(c: &'a mut Criterion, name: &'static str) -> BenchmarkGroup<'a, WallTime> {
    GROUP.with(|n| n.set(name));
    let mut g = c.benchmark_group(name);
    configure(&mut g);
    g
}

fn counter_inc(c: &mut Criterion, p: &Peers) {
    let mut g = group(c, "counter_inc");
    for t in thread_counts() {
        bench(&mut g, "nanometrics", t, |_| {
            || black_box(&nm::COUNTER).inc()
        });
        bench(&mut g, "nanometrics_local", t, |_| {
            let local = nm::COUNTER.local();
            move || black_box(&local).inc()
        });
        bench(&mut g, "prometheus", t, |_| {
            || black_box(&p.prom.counter).inc()
        });
        bench(&mut g, "prometheus_local", t, |_| {
            let local = p.prom.counter.local();
            let mut n = 0u32;
            move || {
                black_box(&local).inc();
                n += 1;
                if n == FLUSH_EVERY {
                    n = 0;
                    local.flush();
                }
            }
        });
        bench(&mut g, "prometheus_client", t, |_| {
            || {
                black_box(&p.pc.counter).inc();
            }
        });
        bench(&mut g, "metrics", t, |_| {
            || black_box(&p.metrics.counter).increment(1)
        });
        bench(&mut g, "metrics_per_call", t, |_| {
            || metrics::counter!("bench_counter_total").increment(1)
        });
        bench(&mut g, "measured", t, |_| {
            || black_box(&p.measured.counter).inc()
        });
        bench(&mut g, "atomic_shared", t, |_| {
            || {
                black_box(&SHARED).fetch_add(1, Ordering::Relaxed);
            }
        });
        bench(&mut g, "thread_local_floor", t, |_| || floor_add(1));
    }
    g.finish();
}

fn gauge_inc_dec(c: &mut Criterion, p: &Peers) {
    let mut g = group(c, "gauge_inc_dec");
    // One operation = one inc and one dec.
    let t = 1;
    bench(&mut g, "nanometrics", t, |_| {
        || {
            black_box(&nm::GAUGE).inc();
            black_box(&nm::GAUGE).dec();
        }
    });
    bench(&mut g, "prometheus", t, |_| {
        || {
            black_box(&p.prom.gauge).inc();
            black_box(&p.prom.gauge).dec();
        }
    });
    bench(&mut g, "prometheus_client", t, |_| {
        || {
            black_box(&p.pc.gauge).inc();
            black_box(&p.pc.gauge).dec();
        }
    });
    bench(&mut g, "metrics", t, |_| {
        || {
            black_box(&p.metrics.gauge).increment(1.0);
            black_box(&p.metrics.gauge).decrement(1.0);
        }
    });
    bench(&mut g, "metrics_per_call", t, |_| {
        || {
            metrics::gauge!("bench_gauge").increment(1.0);
            metrics::gauge!("bench_gauge").decrement(1.0);
        }
    });
    bench(&mut g, "measured", t, |_| {
        || {
            black_box(&p.measured.gauge).inc();
            black_box(&p.measured.gauge).dec();
        }
    });
    bench(&mut g, "atomic_shared", t, |_| {
        || {
            black_box(&SHARED_GAUGE).fetch_add(1, Ordering::Relaxed);
            black_box(&SHARED_GAUGE).fetch_sub(1, Ordering::Relaxed);
        }
    });
    bench(&mut g, "thread_local_floor", t, |_| {
        || {
            floor_add(1);
            floor_add(u64::MAX);
        }
    });
    g.finish();
}

fn histogram_observe(c: &mut Criterion, p: &Peers) {
    let values = observations();
    let values = &values;
    let mut g = group(c, "histogram_observe");
    for t in thread_counts() {
        // Every op reads the next of 64 observations (the same for all).
        bench(&mut g, "nanometrics", t, |_| {
            let mut i = Cycle::new(0, OBSERVATIONS);
            move || black_box(&nm::HISTOGRAM).observe(values[i.next_index()])
        });
        bench(&mut g, "prometheus", t, |_| {
            let mut i = Cycle::new(0, OBSERVATIONS);
            move || black_box(&p.prom.histogram).observe(values[i.next_index()])
        });
        bench(&mut g, "prometheus_local", t, |_| {
            let local = p.prom.histogram.local();
            let mut i = Cycle::new(0, OBSERVATIONS);
            let mut n = 0u32;
            move || {
                black_box(&local).observe(values[i.next_index()]);
                n += 1;
                if n == FLUSH_EVERY {
                    n = 0;
                    local.flush();
                }
            }
        });
        // prometheus' local histogram flushed only when dropped (at the end
        // of each measurement): its fastest use, for a thread that observes
        // in a loop and can wait to publish.
        bench(&mut g, "prometheus_local_drop", t, |_| {
            let local = p.prom.histogram.local();
            let mut i = Cycle::new(0, OBSERVATIONS);
            move || black_box(&local).observe(values[i.next_index()])
        });
        bench(&mut g, "prometheus_client", t, |_| {
            let mut i = Cycle::new(0, OBSERVATIONS);
            move || black_box(&p.pc.histogram).observe(values[i.next_index()])
        });
        // metrics-exporter-prometheus stores raw samples until the next
        // upkeep/render: drain after every measurement (not timed).
        g.bench_function(BenchmarkId::new("metrics", t), |b| {
            b.iter_custom(|iters| {
                let d = aggregate(t, iters, |_| {
                    let mut i = Cycle::new(0, OBSERVATIONS);
                    move || black_box(&p.metrics.histogram).record(values[i.next_index()])
                });
                metrics_handle().run_upkeep();
                d
            })
        });
        occupancy("metrics", t);
        g.bench_function(BenchmarkId::new("metrics_per_call", t), |b| {
            b.iter_custom(|iters| {
                let d = aggregate(t, iters, |_| {
                    let mut i = Cycle::new(0, OBSERVATIONS);
                    move || metrics::histogram!("bench_seconds").record(values[i.next_index()])
                });
                metrics_handle().run_upkeep();
                d
            })
        });
        occupancy("metrics_per_call", t);
        bench(&mut g, "measured", t, |_| {
            let mut i = Cycle::new(0, OBSERVATIONS);
            move || black_box(&p.measured.histogram).observe(values[i.next_index()])
        });
        // The same bucket search and two plain adds into thread-local cells.
        bench(&mut g, "thread_local_floor", t, |_| {
            let mut i = Cycle::new(0, OBSERVATIONS);
            move || floor_observe(values[i.next_index()])
        });
        // Only the sum's add: the memory dependency from one observation to
        // the next that a single sum cell per series carries.
        bench(&mut g, "thread_local_floor_sum", t, |_| {
            let mut i = Cycle::new(0, OBSERVATIONS);
            move || floor_sum_only(values[i.next_index()])
        });
    }
    g.finish();
}

fn labeled_static(c: &mut Criterion, p: &Peers) {
    // Each library's typed labels for the 20 combinations, built before the
    // timed loop: every op loads its labels from an array (the same cost for
    // all, and for the unlabeled reference), as a call site would pass values
    // it already holds.
    let nm_labels: [_; COMBOS] = std::array::from_fn(nm::labels);
    let peer: [_; COMBOS] = std::array::from_fn(peer_labels);
    let (nm_labels, peer) = (&nm_labels, &peer);
    // nanometrics' handles for the 20 series, looked up once (the `_cached`
    // rows of the peers).
    let nm_cached: [_; COMBOS] = std::array::from_fn(|i| nm::LABELED.with(nm::labels(i)));
    let nm_cached = &nm_cached;

    let mut g = group(c, "labeled_static");
    for t in thread_counts() {
        // Each thread cycles through the 20 combinations from its own offset.
        let start = |thread: usize| Cycle::new(thread * 7, COMBOS);
        // Same loop and label load, unlabeled counter: the reference.
        bench(&mut g, "nanometrics_unlabeled", t, |th| {
            let mut i = start(th);
            move || {
                black_box(nm_labels[i.next_index()]);
                black_box(&nm::COUNTER).inc()
            }
        });
        // The thread-local floor in the same loop: one cell, and the cell
        // picked by the loop's index among 20 (no label arithmetic). Their
        // ratio is what touching 20 cells instead of one costs this loop.
        bench(&mut g, "thread_local_floor", t, |th| {
            let mut i = start(th);
            move || {
                black_box(nm_labels[i.next_index()]);
                floor_add(1)
            }
        });
        bench(&mut g, "thread_local_floor_20", t, |th| {
            let mut i = start(th);
            move || {
                let at = i.next_index();
                black_box(nm_labels[at]);
                floor_add_at(at, 1)
            }
        });
        // The floor with its cell chosen by the labels, as the label set
        // chooses its series: `method × 5 + status` from the loaded labels.
        // Its ratio to `thread_local_floor` is what choosing a cell by
        // run-time labels costs when nothing else is there.
        bench(&mut g, "thread_local_floor_labels", t, |th| {
            let mut i = start(th);
            move || floor_add_at(nm_labels[i.next_index()].index(), 1)
        });
        // Same loop, one of 20 unlabeled counters picked by the labels: what
        // choosing among 20 series costs without a label set.
        bench(&mut g, "nanometrics_unlabeled_20", t, |th| {
            let mut i = start(th);
            move || black_box(&nm::UNLABELED_20)[nm_labels[i.next_index()].index()].inc()
        });
        bench(&mut g, "nanometrics", t, |th| {
            let mut i = start(th);
            move || {
                black_box(&nm::LABELED)
                    .with(nm_labels[i.next_index()])
                    .inc()
            }
        });
        // Labels that are constants at the call site (one series): the index
        // folds to a constant.
        bench(&mut g, "nanometrics_const_labels", t, |th| {
            let mut i = start(th);
            move || {
                black_box(nm_labels[i.next_index()]);
                black_box(&nm::LABELED)
                    .with((nm::Method::Put, nm::Status::S301))
                    .inc()
            }
        });
        // The same two through `inc_for`, which makes no handle to check.
        bench(&mut g, "nanometrics_inc_for", t, |th| {
            let mut i = start(th);
            move || black_box(&nm::LABELED).inc_for(nm_labels[i.next_index()])
        });
        bench(&mut g, "nanometrics_inc_for_const_labels", t, |th| {
            let mut i = start(th);
            move || {
                black_box(nm_labels[i.next_index()]);
                black_box(&nm::LABELED).inc_for((nm::Method::Put, nm::Status::S301))
            }
        });
        bench(&mut g, "nanometrics_cached", t, |th| {
            let mut i = start(th);
            move || black_box(nm_cached)[i.next_index()].inc()
        });
        bench(&mut g, "prometheus_cached", t, |th| {
            let mut i = start(th);
            move || black_box(&p.prom.cached)[i.next_index()].inc()
        });
        bench(&mut g, "prometheus_client", t, |th| {
            let mut i = start(th);
            move || {
                let (method, status) = peer[i.next_index()];
                black_box(&p.pc.labeled)
                    .get_or_create(&PcStatic { method, status })
                    .inc();
            }
        });
        bench(&mut g, "prometheus_client_cached", t, |th| {
            let mut i = start(th);
            move || {
                black_box(&p.pc.cached)[i.next_index()].inc();
            }
        });
        bench(&mut g, "metrics_cached", t, |th| {
            let mut i = start(th);
            move || black_box(&p.metrics.cached)[i.next_index()].increment(1)
        });
        bench(&mut g, "measured", t, |th| {
            let mut i = start(th);
            move || {
                let (method, status) = peer[i.next_index()];
                black_box(&p.measured.labeled).inc(MeasuredStatic { method, status })
            }
        });
    }
    g.finish();
}

fn labeled_dynamic(c: &mut Criterion, p: &Peers) {
    // The 20 combinations as strings, as a request would carry them.
    let strs: [_; COMBOS] = std::array::from_fn(str_labels);
    let strs = &strs;
    let mut g = group(c, "labeled_dynamic");
    for t in thread_counts() {
        let start = |thread: usize| Cycle::new(thread * 7, COMBOS);
        bench(&mut g, "nanometrics", t, |th| {
            let mut i = start(th);
            move || {
                let (m, s) = strs[i.next_index()];
                black_box(&nm::DYNAMIC).with([m, s]).inc()
            }
        });
        bench(&mut g, "prometheus_per_call", t, |th| {
            let mut i = start(th);
            move || {
                let (m, s) = strs[i.next_index()];
                black_box(&p.prom.labeled).with_label_values(&[m, s]).inc()
            }
        });
        bench(&mut g, "prometheus_client_per_call", t, |th| {
            let mut i = start(th);
            move || {
                let (m, s) = strs[i.next_index()];
                let key = PcDynamic {
                    method: m.to_owned(),
                    status: s.to_owned(),
                };
                black_box(&p.pc.dynamic).get_or_create(&key).inc();
            }
        });
        bench(&mut g, "metrics_per_call", t, |th| {
            let mut i = start(th);
            move || {
                let (m, s) = strs[i.next_index()];
                metrics::counter!("bench_labeled_total", "method" => m, "status" => s).increment(1)
            }
        });
        bench(&mut g, "measured_per_call", t, |th| {
            let mut i = start(th);
            move || {
                let (method, status) = strs[i.next_index()];
                black_box(&p.measured.dynamic).inc(MeasuredDynamic { method, status })
            }
        });
    }
    g.finish();
}

/// Issue 18, item 3: `counter!("facade_requests_total", "method" => "GET")`
/// registered at every call (`per_call_*`) and a handle registered once
/// (`kept_*`), through nanometrics' facade recorder and through
/// metrics-exporter-prometheus', each made the thread's recorder with
/// `metrics::set_default_local_recorder` (one global recorder per process).
fn facade_counter(c: &mut Criterion) {
    let r = recorders();
    let mut g = group(c, "facade_counter");
    for t in thread_counts() {
        bench(&mut g, "per_call_nanometrics", t, |_| {
            let guard = metrics::set_default_local_recorder(&r.nanometrics);
            move || {
                let _ = &guard;
                facade::per_call()
            }
        });
        bench(&mut g, "per_call_exporter", t, |_| {
            let guard = metrics::set_default_local_recorder(&r.exporter);
            move || {
                let _ = &guard;
                facade::per_call()
            }
        });
        bench(&mut g, "kept_nanometrics", t, |_| {
            let c = metrics::with_local_recorder(&r.nanometrics, facade::kept);
            move || black_box(&c).increment(1)
        });
        bench(&mut g, "kept_exporter", t, |_| {
            let c = metrics::with_local_recorder(&r.exporter, facade::kept);
            move || black_box(&c).increment(1)
        });
    }
    g.finish();
}

fn recording(c: &mut Criterion) {
    let p = peers();
    counter_inc(c, &p);
    gauge_inc_dec(c, &p);
    histogram_observe(c, &p);
    labeled_static(c, &p);
    labeled_dynamic(c, &p);
    facade_counter(c);
}

criterion_group!(benches, recording);
criterion_main!(benches);
