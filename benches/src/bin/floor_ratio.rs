//! One process's ratios of nanometrics' single-thread updates to a
//! thread-local floor timed interleaved with them, for the spread check over
//! fresh processes (`benches/scripts/floor_spread.sh`, `benches/run.sh
//! spread`). Timing both in the same process and alternating them cancels the
//! machine's noise; what is left is what this process' placement (addresses
//! of the thread-local slot, the chunks, the stack) costs the update.
//!
//! Prints one line per operation: `name ratio` (the median over rounds of
//! the update's time over the floor's).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use nanometrics_benches::peers::nm;
use nanometrics_benches::workload::{floor_add, floor_observe};

/// Iterations per timed batch, and batches of each kind per operation.
const ITERS: u64 = 200_000;
const ROUNDS: usize = 21;

/// Nanoseconds per iteration of `f` over one batch.
fn batch(mut f: impl FnMut(u64)) -> f64 {
    let t = Instant::now();
    for i in 0..ITERS {
        f(black_box(i));
    }
    t.elapsed().as_nanos() as f64 / ITERS as f64
}

/// The median over `ROUNDS` of (update batch / floor batch), alternating.
fn ratio(mut update: impl FnMut(u64), mut floor: impl FnMut(u64)) -> f64 {
    // Warm both (first touches, lazy allocation, binding a slot).
    batch(&mut update);
    batch(&mut floor);
    let mut r: Vec<f64> = (0..ROUNDS)
        .map(|_| batch(&mut update) / batch(&mut floor))
        .collect();
    r.sort_by(|a, b| a.total_cmp(b));
    r[ROUNDS / 2]
}

fn main() {
    let local = nm::COUNTER.local();
    let kept = nm::DYNAMIC.with(["PUT", "301"]);
    let values = [0.0004, 0.003, 0.02, 0.3];
    let rows = [
        (
            "counter_inc",
            ratio(|_| nm::COUNTER.inc(), |_| floor_add(1)),
        ),
        (
            "local_counter_inc",
            ratio(|_| local.inc(), |_| floor_add(1)),
        ),
        (
            "histogram_observe",
            ratio(
                |i| nm::HISTOGRAM.observe(values[(i & 3) as usize]),
                |i| floor_observe(values[(i & 3) as usize]),
            ),
        ),
        (
            "kept_labeled_handle_inc",
            ratio(|_| kept.inc(), |_| floor_add(1)),
        ),
    ];
    for (name, r) in rows {
        println!("{name} {r:.3}");
    }
}
