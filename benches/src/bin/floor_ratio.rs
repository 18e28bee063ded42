//! One process's ratios of nanometrics' single-thread updates to a
//! thread-local floor timed interleaved with them, for the spread check over
//! fresh processes (`benches/scripts/floor_spread.sh`, `benches/run.sh
//! spread`). Timing both in the same process and alternating them cancels the
//! machine's noise; what is left is what this process' placement (addresses
//! of the thread-local slot, the chunks, the stack) costs the update.
//!
//! Prints one line per operation: `name ratio update_ns floor_ns` (the
//! median over rounds of the update's time over the floor's, and the medians
//! of each). The last three rows are no nanometrics code: a Relaxed load and
//! store of one static `AtomicU64`, addressed as a static, through a pointer
//! loaded at each update, and through that pointer after a trip through a
//! stack slot. They show what this CPU charges a loop of adds to one cell
//! for how the cell's address is formed (see "The thread-local floor and
//! store forwarding" in docs/benchmarks.md).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
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

/// The median of `v`.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The medians over `ROUNDS` of (update batch / floor batch), alternating,
/// of the update's batches and of the floor's.
fn ratio(mut update: impl FnMut(u64), mut floor: impl FnMut(u64)) -> [f64; 3] {
    // Warm both (first touches, lazy allocation, binding a slot).
    batch(&mut update);
    batch(&mut floor);
    let (mut r, mut u, mut f) = (vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let (a, b) = (batch(&mut update), batch(&mut floor));
        r.push(a / b);
        u.push(a);
        f.push(b);
    }
    [median(r), median(u), median(f)]
}

static PLAIN: AtomicU64 = AtomicU64::new(0);

/// `&PLAIN`, stored before the rows run: a cell whose address is loaded
/// from memory at each update, as a chunk's is.
static PLAIN_PTR: AtomicPtr<AtomicU64> = AtomicPtr::new(std::ptr::null_mut());

/// A plain add to a static atomic: a Relaxed load and store, no `lock`,
/// addressed as a static is (RIP-relative), not through a register.
#[inline(always)]
fn static_atomic_rmw() {
    let c = &PLAIN;
    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

/// The same add through [`PLAIN_PTR`], loaded at each update; with
/// `through_stack`, the loaded address passes through a stack slot (the
/// `black_box` the floor's cell address takes) before the add.
#[inline(always)]
fn loaded_ptr_rmw(through_stack: bool) {
    let mut p = PLAIN_PTR.load(Ordering::Relaxed);
    if through_stack {
        p = black_box(p);
    }
    // SAFETY: `main` stores `&PLAIN`, a static, before any row runs.
    let c = unsafe { &*p };
    c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

fn main() {
    PLAIN_PTR.store(std::ptr::from_ref(&PLAIN).cast_mut(), Ordering::Relaxed);
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
        (
            "static_atomic_rmw",
            ratio(|_| static_atomic_rmw(), |_| floor_add(1)),
        ),
        (
            "loaded_ptr_rmw",
            ratio(|_| loaded_ptr_rmw(false), |_| floor_add(1)),
        ),
        (
            "loaded_ptr_rmw_via_stack",
            ratio(|_| loaded_ptr_rmw(true), |_| floor_add(1)),
        ),
    ];
    for (name, [r, u, f]) in rows {
        println!("{name} {r:.3} {u:.3} {f:.3}");
    }
}
