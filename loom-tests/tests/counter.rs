//! Counter increments: exclusive slots (plain load + store by the one
//! leaseholder), the shared slot (atomic RMW by threads without a lease) and
//! concurrent reads.
#[cfg(nanometrics_loom)]
mod loom_counter {
    use loom::sync::Arc;
    use nanometrics::Counter;
    use nanometrics_loom_tests::{join_all, model, spawn_incs, spawn_reads};

    fn counter() -> Arc<Counter> {
        let c = Arc::new(Counter::new("requests_total", ""));
        // Allocate the cell block now, from a thread that never records (a
        // read never leases a slot), so the model explores the slots only.
        assert_eq!(c.get(), 0);
        c
    }

    /// Two threads, each in its own exclusive slot (single-writer load +
    /// store), and a reader: no update lost once they join, and successive
    /// reads by one reader never decrease. The main thread is one of the
    /// writers, the reader a spawned thread (see `spawn_reads`).
    #[test]
    fn exclusive_slots_with_reader() {
        model("counter::exclusive_slots_with_reader", || {
            let c = counter();
            let reader = spawn_reads(&c, 2);
            let writers = spawn_incs(&c, &[10u64]);
            c.inc_by(1);
            let reads = reader.join().unwrap();
            let (r1, r2) = (reads[0], reads[1]);
            assert!(r1 <= r2, "reads went backwards: {r1} then {r2}");
            assert!([0, 1, 10, 11].contains(&r2), "impossible total {r2}");
            join_all(writers);
            assert_eq!(c.get(), 11, "an update was lost");
        });
    }

    /// The main thread holds exclusive slot 0 for the whole execution; of
    /// three more recording threads at most one finds exclusive slot 1 free
    /// (directly or after a hand-over), so two of them may share the shared
    /// slot at once: their RMWs must not lose an update.
    #[test]
    fn shared_slot_rmw() {
        model("counter::shared_slot_rmw", || {
            let c = counter();
            c.inc_by(1000);
            let writers = spawn_incs(&c, &[1u64, 10, 100]);
            join_all(writers);
            assert_eq!(c.get(), 1111, "an update was lost");
        });
    }

    /// Three recording threads (two exclusive slots, one shared: the main
    /// thread, which records first, and two spawned ones, one of which finds
    /// no exclusive slot free unless the other has exited and handed its slot
    /// over) against a reader on a fourth thread. One read: two reads against three writers take
    /// millions of executions; `exclusive_slots_with_reader` and
    /// `lease::hand_over_with_reader` check that reads never decrease.
    #[test]
    fn exclusive_and_shared_with_reader() {
        model("counter::exclusive_and_shared_with_reader", || {
            let c = counter();
            // Main leases exclusive slot 0 before anything runs concurrently.
            c.inc_by(1);
            let reader = spawn_reads(&c, 1);
            let writers = spawn_incs(&c, &[10u64, 100]);
            let r = reader.join().unwrap()[0];
            assert!(
                r <= 111 && [0, 1].contains(&(r % 10)),
                "impossible read {r}"
            );
            join_all(writers);
            assert_eq!(c.get(), 111, "an update was lost");
        });
    }
}
