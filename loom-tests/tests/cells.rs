//! The first touch of a metric whose cell block is not allocated yet
//! (`Cells` lazy allocation under the first-touch mutex, index published with
//! a Release store and read with Acquire loads).
#[cfg(nanometrics_loom)]
mod loom_cells {
    use loom::sync::Arc;
    use loom::thread;
    use nanometrics::{Counter, Histogram};
    use nanometrics_loom_tests::{join_all, model, model_with_branches, spawn_incs};

    /// 53 finite bounds: 55 cells per series (53 buckets, +Inf and the sum).
    static BOUNDS_53: [f64; 53] = nanometrics::linear_buckets(1.0, 1.0);

    /// Two threads touch a fresh counter at once (and also race to create the
    /// shard table itself): the block is allocated exactly once and neither
    /// increment is lost.
    ///
    /// "Exactly once" is checked through the cell allocator's capacity: under
    /// loom the table addresses 64 cells and the first chunk (8 cells) is
    /// reserved, so after a one-cell counter exactly 55 cells remain. A second
    /// allocation by the losing thread would leave 54, and the 55-cell
    /// histogram below could not be allocated (its observation would be
    /// dropped).
    #[test]
    fn first_touch_from_two_threads() {
        // The 55-cell reads after the join take a few hundred branches.
        model_with_branches("cells::first_touch_from_two_threads", 5_000, || {
            let c = Arc::new(Counter::new("first_touch_total", ""));
            let writers = spawn_incs(&c, &[1u64, 10]);
            join_all(writers);
            assert_eq!(c.get(), 11, "an update was lost");

            let rest = Histogram::new("rest_seconds", "", &BOUNDS_53);
            assert_eq!(rest.count(), 0);
            rest.observe(0.5);
            assert_eq!(rest.count(), 1, "cells were allocated more than once");
            // The check can fail: nothing is left for even one more cell, and
            // a metric that cannot be allocated drops its updates.
            let none_left = Counter::new("none_left_total", "");
            none_left.inc();
            assert_eq!(none_left.get(), 0, "the table should be full");
        });
    }

    nanometrics::label_enum! {
        /// Two label values, so that a series sits at a non-zero offset.
        enum Side: "side" { Left => "left", Right => "right" }
    }

    /// A labeled series' handle made before its block exists holds the block
    /// and its offset, and each update reads the block's index then: the
    /// unallocated one (the offset lands in chunk 0, the slow path allocates)
    /// or, after another thread allocated the block, the allocated one.
    /// Either way the update must reach its own series, once. (Here the
    /// handle's update is the main thread's first, so it takes the slow path
    /// to bind a slot either way; `racing_updates_through_a_label_offset`
    /// has the hot path.)
    #[test]
    fn first_touch_through_a_label_offset() {
        model("cells::first_touch_through_a_label_offset", || {
            let c: Arc<Counter<Side>> = Arc::new(Counter::labeled("sides_total", ""));
            let early = c.with(Side::Right);
            let w = {
                let c = c.clone();
                thread::spawn(move || c.with(Side::Right).inc_by(10))
            };
            early.inc_by(1);
            w.join().unwrap();
            assert_eq!(c.with(Side::Right).get(), 11, "an update was lost");
            assert_eq!(
                c.with(Side::Left).get(),
                0,
                "an update hit the wrong series"
            );
        });
    }

    /// Two threads update the same labeled series at once through handles
    /// of a block nobody has allocated yet. Each update reads the block's
    /// index then: one allocates through the slow path and adds its offset
    /// back; the other finds the block either still unallocated (slow path
    /// too) or allocated, and then takes the hot path: the chunk found
    /// through the block's first cell, the cell at the first plus its offset.
    /// Both land in their own series, once. One writer binds its slot first
    /// (another counter's update), so that its label update can take the hot
    /// path at all: a thread's first update always takes the slow path.
    /// Unlike `first_touch_through_a_label_offset`, both updates run on
    /// spawned threads, so loom interleaves them both ways (see
    /// `spawn_reads`). Fails when the hot path drops the offset (checked).
    #[test]
    fn racing_updates_through_a_label_offset() {
        model("cells::racing_updates_through_a_label_offset", || {
            let c: Arc<Counter<Side>> = Arc::new(Counter::labeled("sides_total", ""));
            let warm = Arc::new(Counter::new("warm_total", ""));
            let writers: Vec<_> = [1u64, 10]
                .into_iter()
                .map(|n| {
                    let (c, warm) = (c.clone(), warm.clone());
                    thread::spawn(move || {
                        if n == 1 {
                            // Binds this thread's slot and installs the chunk
                            // the block lies in (under loom a chunk is 8
                            // cells: this counter's cell and the block share
                            // the first usable one), so that the update below
                            // takes the hot path when the other writer
                            // allocated the block first.
                            warm.inc();
                        }
                        c.with(Side::Right).inc_by(n)
                    })
                })
                .collect();
            join_all(writers);
            assert_eq!(c.with(Side::Right).get(), 11, "an update was lost");
            assert_eq!(
                c.with(Side::Left).get(),
                0,
                "an update hit the wrong series"
            );
        });
    }

    /// A reader races a writer's first touch of a fresh counter (a read never
    /// allocates and never leases a slot): it sees 0 or the whole update, and
    /// nothing is lost.
    ///
    /// The reader runs on the spawned thread: with the read on the main
    /// thread right after the spawn, loom explored a single execution (the
    /// read before any of the writer's steps), so the model proved nothing
    /// about a read after the allocation.
    #[test]
    fn first_touch_reader_and_writer() {
        model("cells::first_touch_reader_and_writer", || {
            let c = Arc::new(Counter::new("first_touch_total", ""));
            let reader = {
                let c = c.clone();
                thread::spawn(move || c.get())
            };
            c.inc_by(7);
            let r = reader.join().unwrap();
            assert!(r == 0 || r == 7, "impossible read {r}");
            assert_eq!(c.get(), 7, "the update was lost");
        });
    }

    nanometrics::label_enum! {
        /// Eight label values: a block of a whole loom chunk (8 cells), which
        /// is too long for lazy series, so `with` allocates it on the spot.
        enum Lane: "lane" {
            L0 => "0", L1 => "1", L2 => "2", L3 => "3",
            L4 => "4", L5 => "5", L6 => "6", L7 => "7",
        }
    }

    /// Freed cells are zeroed before their block is reused, and a thread that
    /// finds the reused block's index sees them zeroed: the index is
    /// published with a Release store after the allocation (which follows the
    /// zeroing under the allocator's mutex) and read with Acquire.
    ///
    /// A first thread writes 5 into an old counter's block in exclusive slot
    /// 0 and exits; the main thread drops the old counter (zeroes, frees) and
    /// then allocates a new counter's block of the same length, so it reuses
    /// the old block, without recording (`with` on a block too long to be
    /// lazy allocates at once). A second thread, spawned before the drop,
    /// records into the new counter: it inherits slot 0 (values in place,
    /// through the free-list mutex) and either allocates the block itself
    /// (through the allocator's mutex) or finds the main thread's index. In
    /// the second case only the index's Acquire/Release pairing orders the
    /// zeroing before its load of the cell; without it the load may return
    /// the old 5. The new counter must read 1.
    #[test]
    fn reuse_after_drop() {
        model("cells::reuse_after_drop", || {
            let old = Arc::new(Counter::<Lane>::labeled("old_total", ""));
            let new = Arc::new(Counter::<Lane>::labeled("new_total", ""));
            let first = {
                let old = old.clone();
                thread::spawn(move || old.with(Lane::L3).inc_by(5))
            };
            let second = {
                let new = new.clone();
                thread::spawn(move || new.with(Lane::L3).inc_by(1))
            };
            first.join().unwrap();
            // The last handle: the block is zeroed and freed here.
            drop(old);
            // First touch by the main thread, which leases no slot: when the
            // second thread has not touched the metric yet, this allocates
            // the new block, reusing the old one.
            let _ = new.with(Lane::L3);
            second.join().unwrap();
            assert_eq!(
                new.with(Lane::L3).get(),
                1,
                "the new metric did not start from zero"
            );
        });
    }
}
