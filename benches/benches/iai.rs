//! Issue 5, instruction counts (callgrind via iai-callgrind): one operation per
//! benchmark, for nanometrics and the same operation in each peer.
//!
//! Every benchmark's argument is built by a set-up expression that iai does
//! not count; it also performs the operation once, so that first-use costs
//! (thread-local binding, lazy allocation, series creation) are excluded and
//! the count is the steady-state hot path. `empty` measures the harness's own
//! call overhead, to subtract from the others.
//!
//! Run with `benches/run.sh iai` (needs `iai-callgrind-runner` 0.16.1 and
//! valgrind).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use iai_callgrind::{library_benchmark, library_benchmark_group, main, LibraryBenchmarkConfig};
use nanometrics::LabelSet;
use nanometrics_benches::facade::{self, recorders};
use nanometrics_benches::mix::{Mix, MixScraper};
use nanometrics_benches::peers::{
    nm, Measured, MeasuredDynamic, MeasuredStatic, Metrics, PcDynamic, PcStatic, PeerMethod,
    PeerStatus, Prom, PromClient,
};
use nanometrics_benches::scrape::{scraper, ScrapeSet, Scraper};
use nanometrics_benches::workload::{
    floor_add, floor_observe, observations, BUCKETS, COMBOS, OBSERVATIONS,
};

/// The observation every histogram records (inside the 5th bucket).
const VALUE: f64 = 0.003;
/// A 36-byte label value (a UUID, as app ids often are).
const LONG_ID: &str = "6f1c2a9e-8d4b-4c1e-9f3a-2b7d5e8c1a40";
static SHARED: AtomicU64 = AtomicU64::new(0);

/// An exemplar's labels: one 32-hex-digit trace id.
const TRACE: &[(&str, &str)] = &[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")];

fn prom() -> &'static Prom {
    static P: OnceLock<Prom> = OnceLock::new();
    P.get_or_init(Prom::new)
}
fn pc() -> &'static PromClient {
    static P: OnceLock<PromClient> = OnceLock::new();
    P.get_or_init(PromClient::new)
}
fn metrics_peer() -> &'static Metrics {
    static P: OnceLock<Metrics> = OnceLock::new();
    P.get_or_init(Metrics::new)
}
fn measured() -> &'static Measured {
    static P: OnceLock<Measured> = OnceLock::new();
    P.get_or_init(Measured::new)
}

fn nm_cached() -> &'static [nm::LabeledRef; COMBOS] {
    static C: OnceLock<[nm::LabeledRef; COMBOS]> = OnceLock::new();
    C.get_or_init(|| std::array::from_fn(|i| nm::LABELED.with(nm::labels(i))))
}

/// Runs `op` once (the warm-up) and returns what the benchmark receives.
fn warm<T>(t: T, op: impl FnOnce(&T)) -> T {
    op(&t);
    t
}

#[library_benchmark]
#[bench::run(())]
fn empty(x: ()) {
    black_box(x)
}

// ---- counter inc ----------------------------------------------------------

#[library_benchmark]
#[bench::run(warm((), |_| nm::COUNTER.inc()))]
fn counter_nanometrics(_: ()) {
    black_box(&nm::COUNTER).inc()
}

// An inc that also sets the counter's exemplar (a 32-hex-digit trace id):
// the exemplar path's own cost; plain `inc` above never touches it.
#[library_benchmark]
#[bench::run(warm((), |_| nm::COUNTER.inc_with_exemplar(TRACE).unwrap()))]
fn counter_nanometrics_exemplar(_: ()) {
    black_box(&nm::COUNTER).inc_with_exemplar(TRACE).unwrap()
}

// The per-thread handle (`Counter::local`): this thread's own cell, no lookup.
#[library_benchmark]
#[bench::run(warm(nm::COUNTER.local(), |l| l.inc()))]
fn counter_nanometrics_local(
    l: nanometrics::LocalCounter<'static>,
) -> nanometrics::LocalCounter<'static> {
    black_box(&l).inc();
    l
}

#[library_benchmark]
#[bench::run(warm(prom(), |p| p.counter.inc()))]
fn counter_prometheus(p: &Prom) {
    p.counter.inc()
}

#[library_benchmark]
#[bench::run(warm(prom().counter.local(), |l| l.inc()))]
fn counter_prometheus_local(
    l: prometheus::local::LocalIntCounter,
) -> prometheus::local::LocalIntCounter {
    l.inc();
    l
}

#[library_benchmark]
#[bench::run(warm(pc(), |p| { p.counter.inc(); }))]
fn counter_prometheus_client(p: &PromClient) {
    p.counter.inc();
}

#[library_benchmark]
#[bench::run(warm(metrics_peer(), |p| p.counter.increment(1)))]
fn counter_metrics(p: &Metrics) {
    p.counter.increment(1)
}

#[library_benchmark]
#[bench::run(warm(metrics_peer(), |_| metrics::counter!("bench_counter_total").increment(1)))]
fn counter_metrics_per_call(_: &Metrics) {
    metrics::counter!("bench_counter_total").increment(1)
}

#[library_benchmark]
#[bench::run(warm(measured(), |p| p.counter.inc()))]
fn counter_measured(p: &Measured) {
    p.counter.inc()
}

#[library_benchmark]
#[bench::run(&SHARED)]
fn counter_atomic_shared(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

#[library_benchmark]
#[bench::run(warm((), |_| floor_add(1)))]
fn counter_thread_local_floor(_: ()) {
    floor_add(1)
}

library_benchmark_group!(
    name = counter_inc;
    benchmarks = empty, counter_nanometrics, counter_nanometrics_exemplar, counter_nanometrics_local, counter_prometheus, counter_prometheus_local,
        counter_prometheus_client, counter_metrics, counter_metrics_per_call, counter_measured,
        counter_atomic_shared, counter_thread_local_floor
);

// ---- gauge set ------------------------------------------------------------

#[library_benchmark]
#[bench::run(warm(7, |v| nm::GAUGE.set(*v)))]
fn gauge_set_nanometrics(v: i64) {
    black_box(&nm::GAUGE).set(v)
}

#[library_benchmark]
#[bench::run(warm(prom(), |p| p.gauge.set(7)))]
fn gauge_set_prometheus(p: &Prom) {
    p.gauge.set(black_box(7))
}

#[library_benchmark]
#[bench::run(warm(pc(), |p| { p.gauge.set(7); }))]
fn gauge_set_prometheus_client(p: &PromClient) {
    p.gauge.set(black_box(7));
}

#[library_benchmark]
#[bench::run(warm(metrics_peer(), |p| p.gauge.set(7.0)))]
fn gauge_set_metrics(p: &Metrics) {
    p.gauge.set(black_box(7.0))
}

#[library_benchmark]
#[bench::run(warm(measured(), |p| p.gauge.set(7)))]
fn gauge_set_measured(p: &Measured) {
    p.gauge.set(black_box(7))
}

library_benchmark_group!(
    name = gauge_set;
    benchmarks = gauge_set_nanometrics, gauge_set_prometheus, gauge_set_prometheus_client,
        gauge_set_metrics, gauge_set_measured
);

// ---- histogram observe ----------------------------------------------------

#[library_benchmark]
#[bench::run(warm(VALUE, |v| nm::HISTOGRAM.observe(*v)))]
fn histogram_nanometrics(v: f64) {
    black_box(&nm::HISTOGRAM).observe(v)
}

#[library_benchmark]
#[bench::run(warm(VALUE, |v| nm::HISTOGRAM.observe_with_exemplar(*v, TRACE).unwrap()))]
fn histogram_nanometrics_exemplar(v: f64) {
    black_box(&nm::HISTOGRAM)
        .observe_with_exemplar(v, TRACE)
        .unwrap()
}

#[library_benchmark]
#[bench::run(warm(prom(), |p| p.histogram.observe(VALUE)))]
fn histogram_prometheus(p: &Prom) {
    p.histogram.observe(black_box(VALUE))
}

#[library_benchmark]
#[bench::run(warm(prom().histogram.local(), |l| l.observe(VALUE)))]
fn histogram_prometheus_local(
    l: prometheus::local::LocalHistogram,
) -> prometheus::local::LocalHistogram {
    l.observe(black_box(VALUE));
    l
}

#[library_benchmark]
#[bench::run(warm(pc(), |p| p.histogram.observe(VALUE)))]
fn histogram_prometheus_client(p: &PromClient) {
    p.histogram.observe(black_box(VALUE))
}

#[library_benchmark]
#[bench::run(warm(metrics_peer(), |p| p.histogram.record(VALUE)))]
fn histogram_metrics(p: &Metrics) {
    p.histogram.record(black_box(VALUE))
}

#[library_benchmark]
#[bench::run(warm(measured(), |p| p.histogram.observe(VALUE)))]
fn histogram_measured(p: &Measured) {
    p.histogram.observe(black_box(VALUE))
}

#[library_benchmark]
#[bench::run(warm(VALUE, |v| floor_observe(*v)))]
fn histogram_thread_local_floor(v: f64) {
    floor_observe(black_box(v))
}

library_benchmark_group!(
    name = histogram_observe;
    benchmarks = histogram_nanometrics, histogram_nanometrics_exemplar, histogram_prometheus, histogram_prometheus_local,
        histogram_prometheus_client, histogram_metrics, histogram_measured,
        histogram_thread_local_floor
);

// ---- static-label inc (2 labels, 20 combinations) -------------------------

#[library_benchmark]
#[bench::run(warm(nm::labels(6), |l| nm::LABELED.with(*l).inc()))]
fn static_label_nanometrics(l: (nm::Method, nm::Status)) {
    black_box(&nm::LABELED).with(l).inc()
}

#[library_benchmark]
#[bench::run(warm(nm::labels(6), |l| nm::LABELED.inc_for(*l)))]
fn static_label_nanometrics_inc_for_runtime(l: (nm::Method, nm::Status)) {
    black_box(&nm::LABELED).inc_for(l)
}

// Labels that are constants at the call site: the index folds to a constant.
#[library_benchmark]
#[bench::run(warm((), |_| nm::LABELED.with((nm::Method::Put, nm::Status::S301)).inc()))]
fn static_label_nanometrics_const(_: ()) {
    black_box(&nm::LABELED)
        .with((nm::Method::Put, nm::Status::S301))
        .inc()
}

// The same labels through `inc_for`: no handle, so no check of its series.
#[library_benchmark]
#[bench::run(warm((), |_| nm::LABELED.inc_for((nm::Method::Put, nm::Status::S301))))]
fn static_label_nanometrics_inc_for(_: ()) {
    black_box(&nm::LABELED).inc_for((nm::Method::Put, nm::Status::S301))
}

// No label set: one of 20 unlabeled counters, picked by the same labels.
#[library_benchmark]
#[bench::run(warm(nm::labels(6), |l| nm::UNLABELED_20[l.index()].inc()))]
fn static_label_unlabeled_20_nanometrics(l: (nm::Method, nm::Status)) {
    black_box(&nm::UNLABELED_20)[l.index()].inc()
}

// The 20 handles looked up once into an array, like the peers' `_cached`.
#[library_benchmark]
#[bench::run(warm((nm_cached(), 6), |(c, i)| c[*i].inc()))]
fn static_label_nanometrics_cached((c, i): (&[nm::LabeledRef; COMBOS], usize)) {
    c[i].inc()
}

#[library_benchmark]
#[bench::run(warm((prom(), 6), |(p, i)| p.cached[*i].inc()))]
fn static_label_prometheus_cached((p, i): (&Prom, usize)) {
    p.cached[i].inc()
}

#[library_benchmark]
#[bench::run(warm((pc(), PeerMethod::Put, PeerStatus::S301), |(p, method, status)| {
    p.labeled.get_or_create(&PcStatic { method: *method, status: *status }).inc();
}))]
fn static_label_prometheus_client((p, method, status): (&PromClient, PeerMethod, PeerStatus)) {
    p.labeled.get_or_create(&PcStatic { method, status }).inc();
}

#[library_benchmark]
#[bench::run(warm((pc(), 6), |(p, i)| { p.cached[*i].inc(); }))]
fn static_label_prometheus_client_cached((p, i): (&PromClient, usize)) {
    p.cached[i].inc();
}

#[library_benchmark]
#[bench::run(warm((metrics_peer(), 6), |(p, i)| p.cached[*i].increment(1)))]
fn static_label_metrics_cached((p, i): (&Metrics, usize)) {
    p.cached[i].increment(1)
}

#[library_benchmark]
#[bench::run(warm((measured(), PeerMethod::Put, PeerStatus::S301), |(p, method, status)| {
    p.labeled.inc(MeasuredStatic { method: *method, status: *status })
}))]
fn static_label_measured((p, method, status): (&Measured, PeerMethod, PeerStatus)) {
    p.labeled.inc(MeasuredStatic { method, status })
}

library_benchmark_group!(
    name = static_label_inc;
    benchmarks = static_label_nanometrics, static_label_nanometrics_const,
        static_label_nanometrics_inc_for, static_label_nanometrics_inc_for_runtime,
        static_label_unlabeled_20_nanometrics, static_label_nanometrics_cached,
        static_label_prometheus_cached,
        static_label_prometheus_client, static_label_prometheus_client_cached,
        static_label_metrics_cached, static_label_measured
);

// ---- dynamic-label lookup + inc (2 labels) --------------------------------

#[library_benchmark]
#[bench::run(warm(("PUT", "301"), |(m, s)| nm::DYNAMIC.with([m, s]).inc()))]
fn dynamic_label_nanometrics((m, s): (&str, &str)) {
    black_box(&nm::DYNAMIC).with([m, s]).inc()
}

// A long value (a UUID app id, 36 bytes) next to a short one: nanometrics'
// word-compared fast paths cover values up to 15 bytes; longer ones take its
// general path. Same values for prometheus.
#[library_benchmark]
#[bench::run(warm((LONG_ID, "presence"), |(a, c)| nm::DYNAMIC.with([a, c]).inc()))]
fn dynamic_long_nanometrics((a, c): (&str, &str)) {
    black_box(&nm::DYNAMIC).with([a, c]).inc()
}

#[library_benchmark]
#[bench::run(warm((prom(), LONG_ID, "presence"), |(p, a, c)| p.labeled.with_label_values(&[a, c]).inc()))]
fn dynamic_long_prometheus((p, a, c): (&Prom, &str, &str)) {
    p.labeled.with_label_values(&[a, c]).inc()
}

#[library_benchmark]
#[bench::run(warm((prom(), "PUT", "301"), |(p, m, s)| p.labeled.with_label_values(&[m, s]).inc()))]
fn dynamic_label_prometheus((p, m, s): (&Prom, &str, &str)) {
    p.labeled.with_label_values(&[m, s]).inc()
}

#[library_benchmark]
#[bench::run(warm((pc(), "PUT", "301"), |(p, m, s)| {
    p.dynamic.get_or_create(&PcDynamic { method: m.to_string(), status: s.to_string() }).inc();
}))]
fn dynamic_label_prometheus_client((p, m, s): (&PromClient, &str, &str)) {
    let key = PcDynamic {
        method: m.to_owned(),
        status: s.to_owned(),
    };
    p.dynamic.get_or_create(&key).inc();
}

#[library_benchmark]
#[bench::run(warm((metrics_peer(), "PUT", "301"), |(_, m, s)| {
    metrics::counter!("bench_labeled_total", "method" => *m, "status" => *s).increment(1)
}))]
fn dynamic_label_metrics((_, m, s): (&Metrics, &'static str, &'static str)) {
    metrics::counter!("bench_labeled_total", "method" => m, "status" => s).increment(1)
}

#[library_benchmark]
#[bench::run(warm((measured(), "PUT", "301"), |(p, method, status)| {
    p.dynamic.inc(MeasuredDynamic { method, status })
}))]
fn dynamic_label_measured((p, method, status): (&Measured, &str, &str)) {
    p.dynamic.inc(MeasuredDynamic { method, status })
}

// Values of 8 to 15 bytes (a channel type and a short app id): the
// two-words-per-value key shape.
#[library_benchmark]
#[bench::run(warm(("private-chat", "app-4242"), |(a, c)| nm::DYNAMIC.with([a, c]).inc()))]
fn dynamic_short_nanometrics((a, c): (&str, &str)) {
    black_box(&nm::DYNAMIC).with([a, c]).inc()
}

// A family handle kept by the caller (a room's handle in its struct): the
// update alone, which checks that the series was not removed.
#[library_benchmark]
#[bench::run(warm(nm::DYNAMIC.with(["PUT", "301"]), |h| h.inc()))]
fn dynamic_kept_nanometrics(h: nm::LabeledRef) {
    black_box(h).inc()
}

library_benchmark_group!(
    name = dynamic_label_inc;
    benchmarks = dynamic_label_nanometrics, dynamic_kept_nanometrics, dynamic_short_nanometrics, dynamic_label_prometheus,
        dynamic_label_prometheus_client, dynamic_label_metrics, dynamic_label_measured,
        dynamic_long_nanometrics, dynamic_long_prometheus
);

// ---- dynamic-label lookup + inc across shapes -----------------------------
//
// 1 to 4 labels, values of 3 to 60 bytes, 20 label sets (and 10,000 for two
// 12-byte values: a table past the caches), for nanometrics' `with` and
// prometheus' `with_label_values` with `&'static str` values, its fastest
// documented idiom (benches/src/shapes.rs).

use nanometrics_benches::shapes::Shape;

macro_rules! shape_benches {
    ($($nm:ident, $prom:ident, $n:literal, $len:literal, $sets:literal;)+) => {$(
        // The workload is leaked: dropping its families is not the lookup.
        #[library_benchmark]
        #[bench::run(warm(Shape::<$n>::leaked($len, $sets), |s| s.nm.with(s.probe).inc()))]
        fn $nm(s: &'static Shape<$n>) {
            black_box(&s.nm).with(black_box(s.probe)).inc()
        }

        #[library_benchmark]
        #[bench::run(warm(Shape::<$n>::leaked($len, $sets), |s| s.prom.with_label_values(&s.probe).inc()))]
        fn $prom(s: &'static Shape<$n>) {
            black_box(&s.prom).with_label_values(black_box(&s.probe)).inc()
        }
    )+};
}

shape_benches! {
    shape_1x3_nanometrics, shape_1x3_prometheus, 1, 3, 20;
    shape_2x12_nanometrics, shape_2x12_prometheus, 2, 12, 20;
    shape_3x36_nanometrics, shape_3x36_prometheus, 3, 36, 20;
    shape_4x60_nanometrics, shape_4x60_prometheus, 4, 60, 20;
    shape_2x12_10k_nanometrics, shape_2x12_10k_prometheus, 2, 12, 10_000;
}

library_benchmark_group!(
    name = dynamic_shapes;
    benchmarks = shape_1x3_nanometrics, shape_1x3_prometheus, shape_2x12_nanometrics,
        shape_2x12_prometheus, shape_3x36_nanometrics, shape_3x36_prometheus,
        shape_4x60_nanometrics, shape_4x60_prometheus, shape_2x12_10k_nanometrics,
        shape_2x12_10k_prometheus
);

// ---- removal: one series out of 10,000, then looked up again -------------
//
// Each peer's documented removal (prometheus' `remove_label_values`,
// prometheus-client's `Family::remove`), in a family of 10,000 series of two
// labels, followed by the lookup that re-creates the series, so that every
// run removes a live series.

/// The label values of series `i` of the 10,000.
fn removal_values(i: usize) -> (String, String) {
    (format!("app-{}", i % 100), format!("room-{i}"))
}

fn remove_setup_nanometrics() -> &'static nanometrics::Family<nanometrics::Counter, 2> {
    let f: &'static nanometrics::Family<nanometrics::Counter, 2> = Box::leak(Box::new(
        nanometrics::Family::new("bench_rooms_total", "", ["app", "room"]).with_limit(20_000),
    ));
    for i in 0..10_000 {
        let (a, r) = removal_values(i);
        f.with([&a, &r]).inc();
    }
    f
}

#[library_benchmark]
#[bench::run(setup = remove_setup_nanometrics)]
fn remove_nanometrics(f: &'static nanometrics::Family<nanometrics::Counter, 2>) {
    black_box(f.remove(["app-42", "room-4242"]));
    f.with(["app-42", "room-4242"]).inc();
}

fn remove_setup_prometheus() -> prometheus::IntCounterVec {
    let v = prometheus::IntCounterVec::new(
        prometheus::Opts::new("bench_rooms_total", "rooms"),
        &["app", "room"],
    )
    .unwrap();
    for i in 0..10_000 {
        let (a, r) = removal_values(i);
        v.with_label_values(&[&a, &r]).inc();
    }
    v
}

#[library_benchmark]
#[bench::run(setup = remove_setup_prometheus)]
fn remove_prometheus(v: prometheus::IntCounterVec) -> prometheus::IntCounterVec {
    black_box(v.remove_label_values(&["app-42", "room-4242"])).unwrap();
    v.with_label_values(&["app-42", "room-4242"]).inc();
    v
}

type PcRooms = prometheus_client::metrics::family::Family<
    PcDynamic,
    prometheus_client::metrics::counter::Counter,
>;

fn remove_setup_prometheus_client() -> PcRooms {
    let f = PcRooms::default();
    for i in 0..10_000 {
        let (method, status) = removal_values(i);
        f.get_or_create(&PcDynamic { method, status }).inc();
    }
    f
}

#[library_benchmark]
#[bench::run(setup = remove_setup_prometheus_client)]
fn remove_prometheus_client(f: PcRooms) -> PcRooms {
    let key = PcDynamic {
        method: "app-42".to_owned(),
        status: "room-4242".to_owned(),
    };
    black_box(f.remove(&key));
    f.get_or_create(&key).inc();
    f
}

/// A sweep for idle series over 10,000 series, none idle long enough to
/// go (the cost of judging them, which a scrape of such a family pays).
fn sweep_setup() -> &'static nanometrics::Family<nanometrics::Counter, 2> {
    let f: &'static nanometrics::Family<nanometrics::Counter, 2> = Box::leak(Box::new(
        nanometrics::Family::new("bench_idle_total", "", ["app", "room"])
            .with_limit(20_000)
            .with_idle_timeout(std::time::Duration::from_secs(3600)),
    ));
    for i in 0..10_000 {
        let (a, r) = removal_values(i);
        f.with([&a, &r]).inc();
    }
    f.expire_idle();
    f
}

#[library_benchmark]
#[bench::run(setup = sweep_setup)]
fn idle_sweep_10000_nanometrics(f: &'static nanometrics::Family<nanometrics::Counter, 2>) {
    black_box(f.expire_idle());
}

library_benchmark_group!(
    name = remove;
    benchmarks = remove_nanometrics, remove_prometheus, remove_prometheus_client,
        idle_sweep_10000_nanometrics
);

// ---- encoding 1,000 series (Prometheus text; buffers grown by a first scrape)

fn scrape_setup(name: &'static str) -> (Scraper<'static>, Vec<u8>) {
    let set: &'static ScrapeSet = Box::leak(Box::new(ScrapeSet::new(1_000)));
    let mut s = scraper(set, name);
    let mut out = Vec::new();
    s.encode(&mut out);
    (s, out)
}

#[library_benchmark]
#[benches::lib(
    args = ["nanometrics", "nanometrics_openmetrics", "prometheus", "prometheus_client", "metrics", "measured"],
    setup = scrape_setup
)]
fn encode_1000((mut s, mut out): (Scraper<'static>, Vec<u8>)) -> (Scraper<'static>, Vec<u8>) {
    s.encode(&mut out);
    (s, out)
}

library_benchmark_group!(
    name = encode;
    benchmarks = encode_1000
);

// ---- encoding mixes (src/mix.rs): 2,000 small families, 500 histogram
// series, 2,000 series with 24-40 byte path labels, and a 10,000-series blend;
// each benchmark builds one library's metrics, grows its buffers with a
// first scrape, and counts the second (the scraper is returned, so that its
// drop is not counted). nanometrics' second scrape of `long_labels` still
// allocates once (64 bytes, see `alloc_profile`): its count includes that.

fn mix_setup(mix: &'static str, library: &'static str) -> (MixScraper, Vec<u8>) {
    MixScraper::warmed(Mix::from_name(mix), library)
}

#[library_benchmark]
#[benches::mix(
    args = [
        ("small_families", "nanometrics"), ("small_families", "nanometrics_openmetrics"), ("small_families", "prometheus"),
        ("small_families", "prometheus_client"), ("small_families", "metrics"), ("small_families", "measured"),
        ("histograms", "nanometrics"), ("histograms", "nanometrics_openmetrics"), ("histograms", "prometheus"),
        ("histograms", "prometheus_client"), ("histograms", "metrics"), ("histograms", "measured"),
        ("long_labels", "nanometrics"), ("long_labels", "nanometrics_openmetrics"), ("long_labels", "prometheus"),
        ("long_labels", "prometheus_client"), ("long_labels", "metrics"), ("long_labels", "measured"),
        ("realistic", "nanometrics"), ("realistic", "nanometrics_openmetrics"), ("realistic", "prometheus"),
        ("realistic", "prometheus_client"), ("realistic", "metrics"), ("realistic", "measured")
    ],
    setup = mix_setup
)]
fn encode_mix_scrape((mut s, mut out): (MixScraper, Vec<u8>)) -> (MixScraper, Vec<u8>) {
    s.encode(&mut out);
    (s, out)
}

library_benchmark_group!(
    name = encode_mix;
    benchmarks = encode_mix_scrape
);

// ---- the histogram bucket search: binary search against a count ----------
//
// `histogram::bucket_of` counts the bounds below the value without branching
// for up to 32 bounds, and searches by halving (`partition_point`) beyond.
// Both give the same index (NaN goes to +Inf). They run here over the
// workload's 64 observations with callgrind's branch simulator on
// (mispredictions are what the binary search costs).

/// The binary search (`bucket_of` past 32 bounds).
#[inline(never)]
fn search_partition_point(bounds: &[f64], v: f64) -> usize {
    bounds.partition_point(|b| v > *b || v.is_nan())
}

/// The count of the bounds strictly below `v`, NaN to +Inf (`bucket_of` up
/// to 32 bounds, `count_below`).
#[inline(never)]
fn search_branchless(bounds: &[f64], v: f64) -> usize {
    if v.is_nan() {
        return bounds.len();
    }
    bounds.iter().map(|b| usize::from(v > *b)).sum()
}

fn observations_checked() -> [f64; OBSERVATIONS] {
    let values = observations();
    for v in values
        .iter()
        .copied()
        .chain([f64::NAN, f64::NEG_INFINITY, f64::INFINITY, BUCKETS[3]])
    {
        assert_eq!(
            search_partition_point(&BUCKETS, v),
            search_branchless(&BUCKETS, v)
        );
    }
    values
}

#[library_benchmark]
#[bench::run(observations_checked())]
fn bucket_partition_point(values: [f64; OBSERVATIONS]) -> usize {
    let bounds: &[f64] = black_box(&BUCKETS);
    values
        .iter()
        .map(|v| search_partition_point(bounds, *v))
        .sum()
}

#[library_benchmark]
#[bench::run(observations_checked())]
fn bucket_branchless(values: [f64; OBSERVATIONS]) -> usize {
    let bounds: &[f64] = black_box(&BUCKETS);
    values.iter().map(|v| search_branchless(bounds, *v)).sum()
}

library_benchmark_group!(
    name = proposal_bucket_search;
    config = LibraryBenchmarkConfig::default().valgrind_args(["--branch-sim=yes"]);
    benchmarks = bucket_partition_point, bucket_branchless
);

// ---- the metrics facade (issue 18, item 3) ------------------------------
//
// `counter!("facade_requests_total", "method" => "GET")` through
// nanometrics' recorder and through metrics-exporter-prometheus', each picked
// with `metrics::with_local_recorder` (one global recorder per process);
// `facade_local_recorder_*` is that call alone, to subtract. The kept-handle
// rows increment a `metrics::Counter` registered once.

#[library_benchmark]
#[bench::run(&recorders().nanometrics)]
fn facade_local_recorder_only(r: &'static nanometrics::facade::Recorder) {
    metrics::with_local_recorder(black_box(r), || ())
}

#[library_benchmark]
#[bench::run(warm(&recorders().nanometrics, |r| metrics::with_local_recorder(*r, facade::per_call)))]
fn facade_per_call_nanometrics(r: &'static nanometrics::facade::Recorder) {
    metrics::with_local_recorder(black_box(r), facade::per_call)
}

#[library_benchmark]
#[bench::run(warm(&recorders().exporter, |r| metrics::with_local_recorder(*r, facade::per_call)))]
fn facade_per_call_exporter(r: &'static metrics_exporter_prometheus::PrometheusRecorder) {
    metrics::with_local_recorder(black_box(r), facade::per_call)
}

fn kept_nanometrics() -> &'static metrics::Counter {
    static C: OnceLock<metrics::Counter> = OnceLock::new();
    C.get_or_init(|| metrics::with_local_recorder(&recorders().nanometrics, facade::kept))
}

fn kept_exporter() -> &'static metrics::Counter {
    static C: OnceLock<metrics::Counter> = OnceLock::new();
    C.get_or_init(|| metrics::with_local_recorder(&recorders().exporter, facade::kept))
}

#[library_benchmark]
#[bench::run(warm(kept_nanometrics(), |c| c.increment(1)))]
fn facade_kept_nanometrics(c: &'static metrics::Counter) {
    black_box(c).increment(1)
}

#[library_benchmark]
#[bench::run(warm(kept_exporter(), |c| c.increment(1)))]
fn facade_kept_exporter(c: &'static metrics::Counter) {
    black_box(c).increment(1)
}

library_benchmark_group!(
    name = facade_counter;
    benchmarks = facade_local_recorder_only, facade_per_call_nanometrics, facade_per_call_exporter,
        facade_kept_nanometrics, facade_kept_exporter
);

main!(
    library_benchmark_groups = counter_inc,
    gauge_set,
    histogram_observe,
    static_label_inc,
    dynamic_label_inc,
    dynamic_shapes,
    remove,
    encode,
    encode_mix,
    proposal_bucket_search,
    facade_counter
);
