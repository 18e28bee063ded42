//! Issue 5, allocations and heap: a counting global allocator (so this binary
//! is not a timing benchmark) measures, for nanometrics and each peer,
//!
//! - allocations and bytes per *first insert* of a new dynamic label value
//!   (10,000 new values into one 1-label counter family);
//! - live heap bytes per counter series and per 12-bucket histogram series,
//!   10,000 series each touched once;
//! - nanometrics' shard table on this machine and on a 64-core one;
//! - allocations and bytes per scrape, after a first scrape, of the 10-family
//!   workload and of the encoding mixes (`src/mix.rs`).
//!
//! Prints markdown tables. Run: `cargo bench -p nanometrics-benches --bench
//! alloc_profile` (or `benches/run.sh`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use nanometrics::{Counter, Family, Histogram, ShardInfo};
use nanometrics_benches::mix::{sample_lines, MixScraper, LIBRARIES, MIXES};
use nanometrics_benches::peers::metrics_builder;
use nanometrics_benches::scrape::{
    measured_users, scraper, MeasuredUser, MeasuredUserSet, PcUser, ScrapeSet, SCRAPERS,
};
use nanometrics_benches::workload::{distinct_values, BUCKETS};

/// Counts allocations and live bytes; forwards to the system allocator.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        LIVE.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl's comment).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        LIVE.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        LIVE.fetch_add(new_size as u64, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy)]
struct Snap {
    allocs: u64,
    bytes: u64,
    live: u64,
}

fn snap() -> Snap {
    Snap {
        allocs: ALLOCS.load(Ordering::Relaxed),
        bytes: ALLOC_BYTES.load(Ordering::Relaxed),
        live: LIVE.load(Ordering::Relaxed),
    }
}

/// What `f` allocated, and what it left live (the metric is returned, so
/// its heap is still counted).
fn measure<T>(f: impl FnOnce() -> T) -> (T, Snap) {
    let before = snap();
    let out = f();
    let after = snap();
    (
        out,
        Snap {
            allocs: after.allocs - before.allocs,
            bytes: after.bytes - before.bytes,
            live: after.live.wrapping_sub(before.live),
        },
    )
}

const SERIES: usize = 10_000;

type Row = (&'static str, Snap);

/// 10,000 new label values into a fresh 1-label counter family, each
/// incremented once: allocations and live bytes.
fn counters(values: &[String]) -> Vec<Row> {
    let mut rows = Vec::new();

    let (f, s) = measure(|| {
        let f: Family<Counter, 1> =
            Family::new("users_total", "Per user.", ["user"]).with_limit(SERIES * 2);
        for v in values {
            f.with([v.as_str()]).inc();
        }
        f
    });
    rows.push(("nanometrics", s));
    drop(f);

    let (f, s) = measure(|| {
        let f = prometheus::IntCounterVec::new(
            prometheus::Opts::new("users_total", "Per user."),
            &["user"],
        )
        .unwrap();
        for v in values {
            f.with_label_values(&[v.as_str()]).inc();
        }
        f
    });
    rows.push(("prometheus (with_label_values)", s));
    drop(f);

    let (f, s) = measure(|| {
        let f = prometheus_client::metrics::family::Family::<
            PcUser,
            prometheus_client::metrics::counter::Counter,
        >::default();
        for v in values {
            f.get_or_create(&PcUser { user: v.clone() }).inc();
        }
        f
    });
    rows.push(("prometheus-client (String label)", s));
    drop(f);

    let (r, s) = measure(|| {
        let r = metrics_builder().build_recorder();
        metrics::with_local_recorder(&r, || {
            for v in values {
                metrics::counter!("users_total", "user" => v.clone()).increment(1);
            }
        });
        r
    });
    rows.push(("metrics + exporter (counter! per call)", s));
    drop(r);

    let (f, s) = measure(|| {
        let f = measured::CounterVec::with_label_set(measured_users());
        for v in values {
            f.inc(MeasuredUser { user: v });
        }
        f
    });
    rows.push(("measured (lasso-interned label)", s));
    drop(f);
    rows
}

/// 10,000 12-bucket histogram series, one observation each.
fn histograms(values: &[String]) -> Vec<Row> {
    let mut rows = Vec::new();

    let (f, s) = measure(|| {
        let f: Family<Histogram, 1> =
            Family::histogram("users_seconds", "Per user.", ["user"], &BUCKETS)
                .with_limit(SERIES * 2);
        for v in values {
            f.with([v.as_str()]).observe(0.003);
        }
        f
    });
    rows.push(("nanometrics", s));
    drop(f);

    let (f, s) = measure(|| {
        let f = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new("users_seconds", "Per user.").buckets(BUCKETS.to_vec()),
            &["user"],
        )
        .unwrap();
        for v in values {
            f.with_label_values(&[v.as_str()]).observe(0.003);
        }
        f
    });
    rows.push(("prometheus (with_label_values)", s));
    drop(f);

    let (f, s) = measure(|| {
        let f = prometheus_client::metrics::family::Family::<
            PcUser,
            prometheus_client::metrics::histogram::Histogram,
        >::new_with_constructor(|| {
            prometheus_client::metrics::histogram::Histogram::new(BUCKETS)
        });
        for v in values {
            f.get_or_create(&PcUser { user: v.clone() }).observe(0.003);
        }
        f
    });
    rows.push(("prometheus-client (String label)", s));
    drop(f);

    let (r, s) = measure(|| {
        let r = metrics_builder().build_recorder();
        metrics::with_local_recorder(&r, || {
            for v in values {
                metrics::histogram!("users_seconds", "user" => v.clone()).record(0.003);
            }
        });
        // Samples are buffered until upkeep; fold them as a scrape would.
        r.handle().run_upkeep();
        r
    });
    rows.push(("metrics + exporter (histogram! per call)", s));
    drop(r);

    let (f, s) = measure(|| {
        let f: measured::HistogramVec<MeasuredUserSet, 12> =
            measured::HistogramVec::with_label_set_and_metadata(
                measured_users(),
                measured::metric::histogram::Thresholds::with_buckets(BUCKETS),
            );
        for v in values {
            f.observe(MeasuredUser { user: v }, 0.003);
        }
        f
    });
    rows.push(("measured (lasso-interned label)", s));
    drop(f);
    rows
}

/// Bytes and allocations of one scrape, after a first scrape has grown every
/// reusable buffer; and the number of sample lines, as a cross-check that every
/// library wrote the same series.
fn scrapes() {
    println!("\n## One scrape (Prometheus text unless noted; buffers reused)\n");
    println!("| series | library | bytes | sample lines | allocations / scrape | bytes allocated / scrape |");
    println!("|---|---|---|---|---|---|");
    for n in [1_000, 10_000] {
        let set = ScrapeSet::new(n);
        for name in SCRAPERS {
            let mut s = scraper(&set, name);
            let mut out = Vec::new();
            s.encode(&mut out);
            let ((), a) = measure(|| s.encode(&mut out));
            let samples = out
                .split(|b| *b == b'\n')
                .filter(|l| l.starts_with(b"bench_family_"))
                .count();
            println!(
                "| {n} | {name} | {} | {samples} | {} | {} |",
                out.len(),
                a.allocs,
                a.bytes
            );
        }
    }
}

/// The same for the encoding mixes of `src/mix.rs`: the second scrape (after
/// a first has grown the buffers, as in [`scrapes`]) and the third. The
/// peers' figures are reported as they are; nanometrics must allocate
/// nothing from the second scrape on (checked).
fn mix_scrapes() {
    println!(
        "\n## One scrape of each encoding mix (Prometheus text unless noted; buffers reused)\n"
    );
    println!("| mix | series | library | bytes | sample lines | allocations / 2nd scrape | bytes allocated / 2nd scrape | allocations / 3rd scrape | bytes allocated / 3rd scrape |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for mix in MIXES {
        for library in LIBRARIES {
            let (mut s, mut out) = MixScraper::warmed(mix, library);
            let ((), second) = measure(|| s.encode(&mut out));
            let ((), third) = measure(|| s.encode(&mut out));
            let samples = sample_lines(&out).count();
            println!(
                "| {} | {} | {library} | {} | {samples} | {} | {} | {} | {} |",
                mix.name(),
                mix.series(),
                out.len(),
                second.allocs,
                second.bytes,
                third.allocs,
                third.bytes
            );
            if library.starts_with("nanometrics") {
                assert_eq!(
                    second.allocs + third.allocs,
                    0,
                    "{library} allocated scraping {}",
                    mix.name()
                );
            }
        }
    }
}

fn per(x: u64) -> String {
    format!("{:.2}", x as f64 / SERIES as f64)
}

fn main() {
    // Criterion-style flags (`--bench`) are accepted and ignored.
    println!("# alloc_profile ({SERIES} series, counting allocator)\n");

    // nanometrics' process-wide shard table is created on first use: report
    // it separately so that the per-series figures below exclude it.
    static FIRST: Counter = Counter::new("first_total", "First use.");
    let ((), fixed) = measure(|| FIRST.inc());
    let here = ShardInfo::current();
    let big = ShardInfo::for_cores(64);
    println!("## nanometrics shard table\n");
    println!("| machine | exclusive slots | shared slots | worst-case bytes per counter series | worst-case bytes per 12-bucket histogram series |");
    println!("|---|---|---|---|---|");
    println!(
        "| this one ({} cores) | {} | {} | {} | {} |",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        here.exclusive,
        here.shared,
        here.bytes_per_series(1),
        here.bytes_per_series(BUCKETS.len() + 2),
    );
    println!(
        "| 64 cores | {} | {} | {} | {} |",
        big.exclusive,
        big.shared,
        big.bytes_per_series(1),
        big.bytes_per_series(BUCKETS.len() + 2),
    );
    println!(
        "\nFirst use of any nanometrics metric in the process (shard table plus the \
         recording thread's first chunk): {} allocations, {} bytes live.\n",
        fixed.allocs, fixed.live
    );

    let values = distinct_values("user", SERIES);
    println!("## First insert of {SERIES} new label values (1-label counter family)\n");
    println!(
        "| library | allocations / insert | bytes allocated / insert | live heap bytes / series |"
    );
    println!("|---|---|---|---|");
    for (name, s) in counters(&values) {
        println!(
            "| {name} | {} | {} | {} |",
            per(s.allocs),
            per(s.bytes),
            per(s.live)
        );
    }
    scrapes();
    mix_scrapes();
    println!("\n## {SERIES} histogram series (12 buckets, 1 label)\n");
    println!("| library | allocations / series | live heap bytes / series |");
    println!("|---|---|---|");
    for (name, s) in histograms(&values) {
        println!("| {name} | {} | {} |", per(s.allocs), per(s.live));
    }
}
