//! Removal of family series: handles that outlive their series, lookups of
//! the removed labels, scrapes and inserts racing `remove` and `clear`.
//!
//! Under loom the cells of a removed series have no grace period (see
//! `src/shard/quarantine.rs`): the next allocation reuses them, so a model
//! sees a stale handle's update land in the series that reuses them, when
//! the handle's check lets it through.
#[cfg(nanometrics_loom)]
mod loom_removal {
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::sync::Arc;
    use loom::thread;
    use nanometrics::{Counter, Family, Histogram, Metric};
    use nanometrics_loom_tests::{model, Collect};

    /// A label value in another entry size class than "a".
    const B: &str = "b-a-room-name-long-enough-for-another-class-of-entries";

    fn series(f: &dyn Metric) -> Vec<(String, u64)> {
        let mut c = Collect::default();
        f.visit(&mut c);
        c.series
    }

    /// Waits for `flag` (Acquire), yielding to the other threads.
    fn wait(flag: &AtomicBool) {
        while !flag.load(Ordering::Acquire) {
            thread::yield_now();
        }
    }

    /// A thread keeps a handle to series a and updates through it once
    /// before and once after another thread removes a and inserts b into
    /// a's cells: the update after the removal is dropped, and b holds only
    /// its own. b is named `b`, so it also reuses a's entry (the same size
    /// class), with a new generation.
    #[test]
    fn update_through_a_handle_kept_across_removal() {
        model(
            "removal::update_through_a_handle_kept_across_removal",
            || kept_handle_against_reuse("b"),
        );
    }

    /// The same with b's label value long enough for another entry size
    /// class: b reuses a's cells but not its entry, whose word only the
    /// removal changes.
    #[test]
    fn kept_handle_against_reuse_of_its_cells_only() {
        model(
            "removal::kept_handle_against_reuse_of_its_cells_only",
            || kept_handle_against_reuse(B),
        );
    }

    fn kept_handle_against_reuse(b: &'static str) {
        let f = Arc::new(Family::<Counter, 1>::new("sent_total", "", ["room"]));
        let (counted, removed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let updater = {
            let (f, counted, removed) = (f.clone(), counted.clone(), removed.clone());
            thread::spawn(move || {
                let h = f.with(["a"]);
                h.inc();
                counted.store(true, Ordering::Release);
                wait(&removed);
                h.inc_by(10);
                h.get()
            })
        };
        let remover = {
            let f = f.clone();
            thread::spawn(move || {
                wait(&counted);
                assert!(f.remove(["a"]), "series a was not there");
                f.with([b]).inc_by(100);
                removed.store(true, Ordering::Release);
            })
        };
        remover.join().unwrap();
        let stale = updater.join().unwrap();
        assert_eq!(stale, 0, "a stale handle read a value");
        assert_eq!(
            series(&*f),
            [(format!("room={b}"), 100)],
            "a stale update reached another series"
        );
    }

    /// One thread removes series a while another looks a up and adds 10:
    /// the lookup finds the old series (its update counted before the
    /// removal, or dropped after it) or inserts a new one; either way a is
    /// listed at most once, with 10 if at all, and a later lookup finds a
    /// live series.
    #[test]
    fn lookup_against_remove() {
        model("removal::lookup_against_remove", || {
            let f = Arc::new(Family::<Counter, 1>::new("sent_total", "", ["room"]));
            f.with(["a"]);
            let remover = {
                let f = f.clone();
                thread::spawn(move || assert!(f.remove(["a"]), "series a was not there"))
            };
            let looker = {
                let f = f.clone();
                thread::spawn(move || f.with(["a"]).inc_by(10))
            };
            remover.join().unwrap();
            looker.join().unwrap();
            let s = series(&*f);
            assert!(
                s.is_empty() || s == [("room=a".to_string(), 10)],
                "impossible scrape {s:?}"
            );
            assert_eq!(f.len(), s.len());
            f.with(["a"]).inc();
            let v = f.with(["a"]).get();
            assert!(v == 1 || v == 11, "a removed series was found again ({v})");
            assert_eq!(f.len(), 1);
        });
    }

    /// A scrape racing the removal and re-insertion of a histogram series:
    /// every scrape lists b, and a at most once, as the old series (one
    /// observation) or the new one (none or one); never half of either.
    #[test]
    fn scrape_against_remove_and_reinsert() {
        model("removal::scrape_against_remove_and_reinsert", || {
            let f = Arc::new(Family::<Histogram, 1>::histogram(
                "lat",
                "",
                ["room"],
                &[1.0],
            ));
            f.with(["a"]).observe(0.5);
            f.with(["b"]);
            let writer = {
                let f = f.clone();
                thread::spawn(move || {
                    assert!(f.remove(["a"]), "series a was not there");
                    f.with(["a"]).observe(2.0);
                })
            };
            let reader = {
                let f = f.clone();
                thread::spawn(move || [series(&*f), series(&*f)])
            };
            writer.join().unwrap();
            for s in reader.join().unwrap() {
                let a: Vec<_> = s.iter().filter(|(l, _)| l == "room=a").collect();
                assert!(a.len() <= 1, "a listed twice: {s:?}");
                assert!(a.iter().all(|(_, n)| *n <= 1), "impossible count: {s:?}");
                assert!(
                    s.iter().any(|(l, _)| l == "room=b"),
                    "b went missing: {s:?}"
                );
            }
            let s = series(&*f);
            assert_eq!(s.len(), 2, "{s:?}");
            assert_eq!(
                f.with(["a"]).count(),
                1,
                "the new series lost its observation"
            );
        });
    }

    /// `clear` racing the insert of a new series: the new series survives
    /// (inserted after the clear) or not (before), the old ones never; the
    /// family's count matches its scrape, and every label set can be looked
    /// up afresh afterwards.
    #[test]
    fn clear_against_insert() {
        model("removal::clear_against_insert", || {
            let f = Arc::new(Family::<Counter, 1>::new("sent_total", "", ["room"]));
            f.with(["a"]);
            f.with(["b"]);
            let clearer = {
                let f = f.clone();
                thread::spawn(move || f.clear())
            };
            let inserter = {
                let f = f.clone();
                thread::spawn(move || f.with(["c"]).inc())
            };
            clearer.join().unwrap();
            inserter.join().unwrap();
            let s = series(&*f);
            assert!(
                s.is_empty() || s == [("room=c".to_string(), 1)],
                "impossible scrape after clear {s:?}"
            );
            assert_eq!(f.len(), s.len());
            f.with(["a"]).inc();
            assert_eq!(f.with(["a"]).get(), 1, "a cleared series was found again");
        });
    }

    /// Idle expiry (timeout zero: a value unchanged since the previous
    /// sweep is idle) racing a lookup and an update of the same series: the
    /// update is counted (the sweep saw it, or came first and the lookup
    /// made a new series) or dropped (the sweep removed the series the
    /// lookup had found); a later lookup always finds a live series.
    #[test]
    fn expiry_against_update() {
        model("removal::expiry_against_update", || {
            let f = Arc::new(
                Family::<Counter, 1>::new("sent_total", "", ["room"])
                    .with_idle_timeout(std::time::Duration::ZERO),
            );
            f.with(["a"]);
            assert_eq!(f.expire_idle(), 0, "first sight");
            let updater = {
                let f = f.clone();
                thread::spawn(move || f.with(["a"]).inc())
            };
            let sweeper = {
                let f = f.clone();
                thread::spawn(move || f.expire_idle())
            };
            updater.join().unwrap();
            let expired = sweeper.join().unwrap();
            assert!(expired <= 1);
            let v = f.with(["a"]).get();
            assert!(v <= 1, "impossible value {v}");
            assert!(
                expired == 1 || v == 1,
                "an update was lost without an expiry"
            );
            f.with(["a"]).inc();
            assert_eq!(
                f.with(["a"]).get(),
                v + 1,
                "an expired series was found again"
            );
        });
    }
}
