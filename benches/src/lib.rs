//! Shared helpers for the nanometrics benchmarks.
//!
//! The criterion benches measure *aggregate* cost: `threads` threads each run a
//! fixed number of operations on one shared metric, start together behind a
//! barrier, and the wall time from the first start to the last finish is
//! divided by the thread count, so that criterion's per-iteration figure is
//! nanoseconds per operation summed over all threads (perfect scaling halves
//! it when the thread count doubles).

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

/// Runs `iters` operations on each of `threads` threads and returns the wall
/// time divided by `threads`: criterion then reports aggregate ns/op.
///
/// `make_op(t)` runs on thread `t` before the barrier (pick a shard, bind a
/// thread-local, look up a handle) and returns the operation to repeat; its
/// set-up cost is not timed. Threads are spawned per call, which costs tens of
/// microseconds against samples of tens of milliseconds.
///
/// On a shared machine a sample is only as good as the CPU time the threads
/// got: a run in which the timed threads were on a CPU for less than
/// `BENCH_MIN_OCCUPANCY` (default 0.9) of `wall × threads` is discarded and
/// repeated, at most `BENCH_MAX_TRIES` times (default 4, then the last run is
/// kept). [`take_occupancy`] reports what the kept runs got.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let hits = AtomicU64::new(0);
/// let per_op = nanometrics_benches::aggregate(2, 1000, |_| || {
///     hits.fetch_add(1, Ordering::Relaxed);
/// });
/// assert!(hits.load(Ordering::Relaxed) >= 2000);
/// assert!(per_op > std::time::Duration::ZERO);
/// ```
pub fn aggregate<M, F>(threads: usize, iters: u64, make_op: M) -> Duration
where
    M: Fn(usize) -> F + Sync,
    F: FnMut(),
{
    let threads = threads.max(1);
    let (min_occupancy, max_tries) = retry_policy();
    let mut tries = 0;
    loop {
        tries += 1;
        let (wall, cpu) = run_once(threads, iters, &make_op);
        let wall_threads = wall.as_nanos() as u64 * threads as u64;
        let occupancy = cpu as f64 / wall_threads.max(1) as f64;
        if occupancy >= min_occupancy || tries >= max_tries {
            CPU_NS.fetch_add(cpu, Ordering::Relaxed);
            WALL_THREAD_NS.fetch_add(wall_threads, Ordering::Relaxed);
            RETRIES.fetch_add(tries - 1, Ordering::Relaxed);
            return wall / threads as u32;
        }
    }
}

fn retry_policy() -> (f64, u64) {
    static POLICY: std::sync::OnceLock<(f64, u64)> = std::sync::OnceLock::new();
    *POLICY.get_or_init(|| {
        let env = |k: &str| std::env::var(k).ok();
        let occ = env("BENCH_MIN_OCCUPANCY")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.9);
        let tries = env("BENCH_MAX_TRIES")
            .and_then(|v| v.parse().ok())
            .unwrap_or(4u64)
            .max(1);
        (occ, tries)
    })
}

/// One timed run: wall time from the first thread's start to the last one's
/// end, and the CPU time all timed threads got meanwhile.
fn run_once<M, F>(threads: usize, iters: u64, make_op: &M) -> (Duration, u64)
where
    M: Fn(usize) -> F + Sync,
    F: FnMut(),
{
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut op = make_op(t);
                    barrier.wait();
                    let cpu = thread_cpu_ns();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    let end = Instant::now();
                    (start, end, thread_cpu_ns() - cpu)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(span) => span,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let first = spans.iter().map(|s| s.0).min();
    let last = spans.iter().map(|s| s.1).max();
    let cpu = spans.iter().map(|s| s.2).sum();
    match (first, last) {
        (Some(first), Some(last)) => (last - first, cpu),
        _ => (Duration::ZERO, cpu),
    }
}

static RETRIES: AtomicU64 = AtomicU64::new(0);
static CPU_NS: AtomicU64 = AtomicU64::new(0);
static WALL_THREAD_NS: AtomicU64 = AtomicU64::new(0);

/// CPU time this thread has run, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is
    // supported on Linux (the call fails harmlessly elsewhere, leaving zero).
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Fraction of the wall time × threads of every [`aggregate`] call since the
/// last call that the benchmark threads were actually on a CPU (1.0: never
/// preempted; on a shared 2-core machine, 2-thread runs that fall well below
/// 1.0 measured the scheduler, not the metric). Resets the tally.
///
/// ```
/// let _ = nanometrics_benches::aggregate(1, 1000, |_| || {});
/// let occ = nanometrics_benches::take_occupancy();
/// assert!(occ >= 0.0);
/// ```
pub fn take_occupancy() -> f64 {
    RETRIES.store(0, Ordering::Relaxed);
    let cpu = CPU_NS.swap(0, Ordering::Relaxed);
    let wall = WALL_THREAD_NS.swap(0, Ordering::Relaxed);
    if wall == 0 {
        0.0
    } else {
        cpu as f64 / wall as f64
    }
}

/// Appends `{"id": id, "occupancy": take_occupancy(), "retries": n}` (runs
/// discarded for low occupancy), unless nothing ran, as one JSON line to
/// `target/criterion-occupancy.jsonl` (read by `benches/report.py`).
pub fn record_occupancy(id: &str) {
    let retries = RETRIES.load(Ordering::Relaxed);
    let occ = take_occupancy();
    if occ == 0.0 {
        return; // nothing ran (a filtered-out benchmark)
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target"))
        });
    let line = format!("{{\"id\": \"{id}\", \"occupancy\": {occ:.4}, \"retries\": {retries}}}\n");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("criterion-occupancy.jsonl"))
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Thread counts for the contention benches: 1, 2 and every core the machine
/// reports (deduplicated, ascending).
///
/// ```
/// let t = nanometrics_benches::thread_counts();
/// assert_eq!(t[0], 1);
/// assert!(t.windows(2).all(|w| w[0] < w[1]));
/// ```
pub fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut t = vec![1, 2, cores];
    t.sort_unstable();
    t.dedup();
    t
}

/// The baseline a sharded counter gives: 16 cache-padded atomics, each thread
/// adding to the one it picked once (round-robin), read by summing all 16.
///
/// ```
/// let c = nanometrics_benches::Sharded16::new();
/// let slot = c.pick();
/// slot.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
/// assert_eq!(c.sum(), 2);
/// ```
pub struct Sharded16 {
    slots: [CachePadded<AtomicU64>; 16],
    next: AtomicUsize,
}

impl Default for Sharded16 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sharded16 {
    /// Sixteen zeroed slots.
    pub fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))),
            next: AtomicUsize::new(0),
        }
    }

    /// The slot for the calling thread: round-robin, so that up to 16 threads
    /// that each pick once never share one.
    pub fn pick(&self) -> &AtomicU64 {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        &self.slots[i]
    }

    /// The total over all slots.
    pub fn sum(&self) -> u64 {
        self.slots.iter().map(|s| s.load(Ordering::Relaxed)).sum()
    }
}

pub mod facade;
/// Encoding mixes (many small families, histograms, long label values, a
/// realistic blend): the same registries in every library, scraped as text.
pub mod mix;
pub mod peers;
pub mod scrape;
pub mod shapes;
pub mod workload;
