//! Counter increments: exclusive slots (plain load + store by the one
//! leaseholder), the shared slot (atomic RMW by threads without a lease) and
//! concurrent reads.
#[cfg(nanometrics_loom)]
mod loom_counter {
    use loom::sync::Arc;
    use nanometrics::Counter;
    use nanometrics_loom_tests::{join_all, model, spawn_incs};

    fn counter() -> Arc<Counter> {
        let c = Arc::new(Counter::new("requests_total", ""));
        // Allocate the cell block now, from a thread that never records (a
        // read never leases a slot), so the model explores the slots only.
        assert_eq!(c.get(), 0);
        c
    }

    /// Two threads, each in its own exclusive slot (single-writer load +
    /// store), and a reader: no update lost once they join, and successive
    /// reads by one reader never decrease.
    #[test]
    fn exclusive_slots_with_reader() {
        model("counter::exclusive_slots_with_reader", || {
            let c = counter();
            let writers = spawn_incs(&c, &[1u64, 10]);
            let r1 = c.get();
            let r2 = c.get();
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

    /// Three recording threads (two exclusive slots, one shared) against a
    /// reader.
    #[test]
    fn exclusive_and_shared_with_reader() {
        model("counter::exclusive_and_shared_with_reader", || {
            let c = counter();
            let writers = spawn_incs(&c, &[1u64, 10, 100]);
            let r1 = c.get();
            let r2 = c.get();
            assert!(r1 <= r2, "reads went backwards: {r1} then {r2}");
            join_all(writers);
            assert_eq!(c.get(), 111, "an update was lost");
        });
    }
}
