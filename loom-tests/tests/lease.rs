//! Lease hand-over: a thread's exclusive slot goes back to the free list when
//! the thread exits (its `Lease` thread-local destructor), values in place;
//! the next leaseholder continues from them with plain load + store.
#[cfg(nanometrics_loom)]
mod loom_lease {
    use loom::sync::Arc;
    use loom::thread;
    use nanometrics::Counter;
    use nanometrics_loom_tests::{join_all, model, spawn_incs};

    /// The main thread records first and so holds exclusive slot 0 for the
    /// whole execution, leaving one exclusive slot. A first thread leases it,
    /// records and exits; a second thread records too, either in the shared
    /// slot (while the first still holds the lease) or in the handed-over
    /// exclusive slot, continuing the first thread's value. Nothing is lost,
    /// and the main thread, reading concurrently with the hand-over, never
    /// sees the total decrease (the second thread adds less than the first,
    /// so a new leaseholder that started from a stale zero would show up as a
    /// decrease as well as a lost update).
    #[test]
    fn hand_over_with_reader() {
        model("lease::hand_over_with_reader", || {
            let c = Arc::new(Counter::new("handed_over_total", ""));
            c.inc_by(1);
            let writers = spawn_incs(&c, &[100u64, 10]);
            let r1 = c.get();
            let r2 = c.get();
            assert!(r1 <= r2, "reads went backwards: {r1} then {r2}");
            assert!(r1 >= 1, "the reader's own update is missing");
            join_all(writers);
            assert_eq!(c.get(), 111, "an update was lost");
        });
    }

    /// Forced hand-over chain: the second thread records only after the first
    /// has exited, so it always takes over the first thread's slot; the third
    /// records concurrently with the second thread's exit. Exact sums.
    #[test]
    fn successive_leaseholders() {
        model("lease::successive_leaseholders", || {
            let c = Arc::new(Counter::new("handed_over_total", ""));
            c.inc_by(1);
            let first = {
                let c = c.clone();
                thread::spawn(move || c.inc_by(100))
            };
            let second = {
                let c = c.clone();
                thread::spawn(move || {
                    first.join().unwrap();
                    c.inc_by(10);
                })
            };
            let third = {
                let c = c.clone();
                thread::spawn(move || c.inc_by(1000))
            };
            second.join().unwrap();
            third.join().unwrap();
            assert_eq!(c.get(), 1111, "an update was lost");
        });
    }

    /// A thread on the shared slot moves to an exclusive one: main holds slot
    /// 0; a first thread leases the other, records and exits; a late thread
    /// records once (in the shared slot if the first still holds its lease),
    /// waits for the first thread, and records again, which retries the lease
    /// if a slot was returned meanwhile and then continues the first thread's
    /// value in the handed-over slot. The main thread reads concurrently:
    /// nothing lost, never a decrease.
    #[test]
    fn shared_thread_takes_a_returned_slot() {
        model("lease::shared_thread_takes_a_returned_slot", || {
            let c = Arc::new(Counter::new("moved_total", ""));
            c.inc_by(1);
            let first = {
                let c = c.clone();
                thread::spawn(move || c.inc_by(100))
            };
            let late = {
                let c = c.clone();
                thread::spawn(move || {
                    c.inc_by(10);
                    first.join().unwrap();
                    c.inc_by(1000);
                })
            };
            let r1 = c.get();
            let r2 = c.get();
            assert!(r1 <= r2, "reads went backwards: {r1} then {r2}");
            late.join().unwrap();
            assert_eq!(c.get(), 1111, "an update was lost");
        });
    }
}
