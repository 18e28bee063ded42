//! The workloads' inputs, identical for every library: histogram buckets and
//! observations, the 20 label combinations, and the thread-local floor.

use std::cell::Cell;
use std::hint::black_box;

/// Twelve finite bucket bounds, 0.1 ms to 2.4 s, factor 2.5.
pub const BUCKETS: [f64; 12] = nanometrics::exponential_buckets(0.0001, 2.5);

/// Number of observations in [`observations`] (a power of two).
pub const OBSERVATIONS: usize = 64;

/// Observations spread log-uniformly over `BUCKETS` (and past both ends), in a
/// fixed pseudo-random order so that bucket search branches are not trivially
/// predicted. The same sequence is fed to every library.
///
/// ```
/// let v = nanometrics_benches::workload::observations();
/// assert!(v.iter().all(|x| *x > 0.0 && *x < 10.0));
/// ```
pub fn observations() -> [f64; OBSERVATIONS] {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    std::array::from_fn(|_| {
        // xorshift64: deterministic, no dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
        // 10^-4.5 .. 10^0.7: about 32 µs to 5 s.
        10f64.powf(-4.5 + 5.2 * unit)
    })
}

/// HTTP methods of the 2-label workload (4 values).
pub const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
/// Status codes of the 2-label workload (5 values).
pub const STATUSES: [&str; 5] = ["200", "301", "404", "500", "503"];
/// Label combinations of the 2-label workload.
pub const COMBOS: usize = METHODS.len() * STATUSES.len();

/// The `i`-th combination as (method index, status index), `i < COMBOS`.
///
/// ```
/// use nanometrics_benches::workload::{combo, COMBOS};
/// let all: std::collections::HashSet<_> = (0..COMBOS).map(combo).collect();
/// assert_eq!(all.len(), COMBOS);
/// ```
#[inline]
pub fn combo(i: usize) -> (usize, usize) {
    (i % METHODS.len(), (i / METHODS.len()) % STATUSES.len())
}

/// A cyclic position in `0..n`, advanced once per operation (the same cost for
/// every library).
#[derive(Debug, Clone, Copy)]
pub struct Cycle {
    i: usize,
    n: usize,
}

impl Cycle {
    /// Starts at `start % n`.
    pub fn new(start: usize, n: usize) -> Self {
        Self { i: start % n, n }
    }

    /// The current position, then advances.
    #[inline]
    pub fn next_index(&mut self) -> usize {
        let i = self.i;
        self.i = if i + 1 == self.n { 0 } else { i + 1 };
        i
    }
}

/// `n` distinct label values, `prefix-00000` onwards (for insert workloads).
///
/// ```
/// let v = nanometrics_benches::workload::distinct_values("user", 3);
/// assert_eq!(v, ["user-00000", "user-00001", "user-00002"]);
/// ```
pub fn distinct_values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:05}")).collect()
}

thread_local! {
    static FLOOR: Cell<u64> = const { Cell::new(0) };
    static FLOOR_CELLS: [Cell<u64>; 32] = const { [const { Cell::new(0) }; 32] };
    static FLOOR_HISTOGRAM: ([Cell<u64>; BUCKETS.len() + 1], Cell<f64>) =
        const { ([const { Cell::new(0) }; BUCKETS.len() + 1], Cell::new(0.0)) };
}

/// The no-atomic floor: adds `n` to a thread-local `Cell<u64>` through memory
/// (the `black_box` keeps the compiler from folding a loop of them).
#[inline]
pub fn floor_add(n: u64) {
    FLOOR.with(|c| {
        let c = black_box(c);
        c.set(c.get().wrapping_add(n));
    });
}

/// The floor over many cells: adds `n` to thread-local cell `i & 31` (a
/// mask, not a bounds test or a division, so the loop does nothing more than
/// [`floor_add`]'s), as [`floor_add`] does to its one cell. With `i` cycling
/// through the 20 label combinations, it shows what touching 20 cells
/// instead of one costs a loop when nothing else differs.
///
/// ```
/// use nanometrics_benches::workload::{floor_add_at, floor_get_at};
/// floor_add_at(3, 2);
/// floor_add_at(35, 1);
/// assert_eq!(floor_get_at(3), 3);
/// ```
#[inline]
pub fn floor_add_at(i: usize, n: u64) {
    FLOOR_CELLS.with(|cells| {
        let c = black_box(&cells[i & 31]);
        c.set(c.get().wrapping_add(n));
    });
}

/// This thread's total in floor cell `i & 31`.
pub fn floor_get_at(i: usize) -> u64 {
    FLOOR_CELLS.with(|cells| cells[i & 31].get())
}

/// The no-atomic floor of a histogram observation over [`BUCKETS`]: the
/// bucket found by counting the bounds below `v` (branch-free; a
/// branch-free halving search measured no faster for 12 bounds), then a
/// plain add to that thread-local bucket and to a thread-local sum, through
/// memory. A NaN lands in the last bucket.
///
/// ```
/// use nanometrics_benches::workload::{floor_histogram, floor_observe};
/// floor_observe(0.0001); // on the first bound: bucket 0
/// floor_observe(1e9);
/// floor_observe(f64::NAN);
/// let (buckets, sum) = floor_histogram();
/// assert_eq!((buckets[0], buckets[12]), (1, 2));
/// assert!(sum.is_nan());
/// ```
#[inline]
pub fn floor_observe(v: f64) {
    let bounds: &[f64] = black_box(&BUCKETS);
    let bucket = if v.is_nan() {
        bounds.len()
    } else {
        bounds.iter().map(|b| usize::from(v > *b)).sum()
    };
    FLOOR_HISTOGRAM.with(|(buckets, sum)| {
        let (buckets, sum) = black_box((buckets, sum));
        if let Some(c) = buckets.get(bucket) {
            c.set(c.get() + 1);
        }
        sum.set(sum.get() + v);
    });
}

/// The part of [`floor_observe`] that every histogram with one sum per series
/// repeats on each observation: `v` added to a thread-local `f64` through
/// memory, so that back-to-back observations wait on each other's store.
///
/// ```
/// use nanometrics_benches::workload::{floor_histogram, floor_sum_only};
/// floor_sum_only(0.5);
/// floor_sum_only(0.25);
/// assert_eq!(floor_histogram().1, 0.75);
/// ```
#[inline]
pub fn floor_sum_only(v: f64) {
    FLOOR_HISTOGRAM.with(|(_, sum)| {
        let sum = black_box(sum);
        sum.set(sum.get() + v);
    });
}

/// This thread's floor histogram: the count in each bucket (not cumulative)
/// and the sum.
pub fn floor_histogram() -> ([u64; BUCKETS.len() + 1], f64) {
    FLOOR_HISTOGRAM.with(|(buckets, sum)| (std::array::from_fn(|i| buckets[i].get()), sum.get()))
}

/// This thread's floor total.
///
/// ```
/// nanometrics_benches::workload::floor_add(2);
/// assert_eq!(nanometrics_benches::workload::floor_get(), 2);
/// ```
pub fn floor_get() -> u64 {
    FLOOR.with(Cell::get)
}
