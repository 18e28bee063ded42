//! Shared helpers for the nanometrics benchmarks.
//!
//! The criterion benches measure *aggregate* cost: `threads` threads each run a
//! fixed number of operations on one shared metric, start together behind a
//! barrier, and the wall time from the first start to the last finish is
//! divided by the thread count, so that criterion's per-iteration figure is
//! nanoseconds per operation summed over all threads (perfect scaling halves
//! it when the thread count doubles).

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
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let hits = AtomicU64::new(0);
/// let per_op = nanometrics_benches::aggregate(2, 1000, |_| || {
///     hits.fetch_add(1, Ordering::Relaxed);
/// });
/// assert_eq!(hits.load(Ordering::Relaxed), 2000);
/// assert!(per_op > std::time::Duration::ZERO);
/// ```
pub fn aggregate<M, F>(threads: usize, iters: u64, make_op: M) -> Duration
where
    M: Fn(usize) -> F + Sync,
    F: FnMut(),
{
    let threads = threads.max(1);
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                let make_op = &make_op;
                s.spawn(move || {
                    let mut op = make_op(t);
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    (start, Instant::now())
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
    match (first, last) {
        (Some(first), Some(last)) => (last - first) / threads as u32,
        _ => Duration::ZERO,
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

pub mod peers;
pub mod workload;
