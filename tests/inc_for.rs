//! `Counter::inc_for` against `with(..).get()`, for a label set that fits in
//! one chunk (the masked path) and one that does not (through the series).

use nanometrics::{Counter, LabelSet};

/// A label set of `N` values, `v0` to `v{N-1}` of one label.
#[derive(Clone, Copy)]
struct Id<const N: usize>(usize);

impl<const N: usize> LabelSet for Id<N> {
    const CARDINALITY: usize = N;
    fn index(self) -> usize {
        self.0
    }
    fn for_each_pair(index: usize, f: &mut dyn FnMut(&'static str, &'static str)) {
        if index < N {
            f("id", "v");
        }
    }
    fn for_each_name(f: &mut dyn FnMut(&'static str)) {
        f("id")
    }
}

static SMALL: Counter<Id<200>> = Counter::labeled("small_total", "Small label set.");
static LARGE: Counter<Id<5000>> = Counter::labeled("large_total", "Larger than a chunk.");

fn check<const N: usize>(counter: &'static Counter<Id<N>>) {
    // The first update allocates the block (no `with` before it).
    counter.inc_for(Id(N - 1));
    std::thread::scope(|s| {
        for t in 0..2 {
            s.spawn(move || {
                for i in 0..N {
                    counter.inc_by_for(Id(i), (i % 7 + t) as u64);
                }
            });
        }
    });
    for i in 0..N {
        let expected = 2 * (i % 7) as u64 + 1 + u64::from(i == N - 1);
        assert_eq!(counter.with(Id(i)).get(), expected, "series {i} of {N}");
    }
}

#[test]
fn inc_for_adds_to_the_series_that_with_reads() {
    check(&SMALL);
}

#[test]
fn inc_for_on_a_set_larger_than_a_chunk() {
    check(&LARGE);
}
