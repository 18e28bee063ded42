//! Exemplar slots: the sequence lock that lets threads set a counter's
//! exemplar without a lock while a scrape reads it (`src/metric/exemplar.rs`).
//! Under loom a slot holds 16 bytes of labels, two words, so that a torn
//! copy (one writer's value with the other's labels, or half of each one's
//! labels) is a possible outcome of a broken protocol. The readers are
//! spawned threads: loom explores a spawned reader against the main
//! thread's writes.
#[cfg(nanometrics_loom)]
mod loom_exemplar {
    use loom::sync::Arc;
    use loom::thread;
    use nanometrics::{Counter, Exemplar, Kind, Labels, Meta, Metric, Value, Visitor};
    use nanometrics_loom_tests::model_with_branches;

    /// The exemplars a walk reports, as (labels, value).
    #[derive(Default)]
    struct Seen(Vec<(String, f64)>);

    impl Visitor for Seen {
        fn family(&mut self, _: &Meta, _: Kind) {}
        fn series(&mut self, _: &Labels<'_>, _: Value<'_>) {}
        fn exemplar(&mut self, _: usize, ex: &Exemplar<'_>) {
            self.0.push((ex.labels.to_owned(), ex.value));
        }
    }

    /// What each writer sets: 16 bytes of labels (both words) and a value.
    const A: (&str, u64) = ("aaaaaaaaaa", 1);
    const B: (&str, u64) = ("bbbbbbbbbb", 2);

    fn whole((id, n): (&str, u64)) -> (String, f64) {
        (format!("t=\"{id}\""), n as f64)
    }

    /// Two threads set the counter's exemplar at once (racing to allocate
    /// its slots too): afterwards the slot holds one writer's whole
    /// exemplar (its labels with its value), never a mix of both.
    #[test]
    fn two_writers_leave_a_whole_exemplar() {
        model_with_branches(
            "exemplar::two_writers_leave_a_whole_exemplar",
            5_000,
            || {
                let c = Arc::new(Counter::new("traced_total", ""));
                let writer = {
                    let c = c.clone();
                    thread::spawn(move || c.inc_by_with_exemplar(A.1, &[("t", A.0)]).unwrap())
                };
                c.inc_by_with_exemplar(B.1, &[("t", B.0)]).unwrap();
                writer.join().unwrap();
                let mut last = Seen::default();
                c.visit(&mut last);
                assert_eq!(last.0.len(), 1, "no exemplar after both writers");
                let ok = [whole(A), whole(B)];
                assert!(
                    ok.contains(&last.0[0]),
                    "a torn exemplar was kept: {:?}",
                    last.0[0]
                );
                assert_eq!(c.get(), 3, "an update was lost");
            },
        );
    }

    /// One thread sets the exemplar twice while another reads it: the
    /// reader gets nothing, the first or the second, whole.
    #[test]
    fn reads_against_a_writer_setting_twice() {
        model_with_branches(
            "exemplar::reads_against_a_writer_setting_twice",
            5_000,
            || {
                let c = Arc::new(Counter::new("traced_total", ""));
                let reader = {
                    let c = c.clone();
                    thread::spawn(move || {
                        let mut seen = Seen::default();
                        c.visit(&mut seen);
                        seen.0
                    })
                };
                for (id, n) in [A, B] {
                    c.inc_by_with_exemplar(n, &[("t", id)]).unwrap();
                }
                let ok = [whole(A), whole(B)];
                for e in reader.join().unwrap() {
                    assert!(ok.contains(&e), "a torn exemplar was read: {e:?}");
                }
                let mut last = Seen::default();
                c.visit(&mut last);
                assert_eq!(last.0, [whole(B)], "the second exemplar was not kept");
            },
        );
    }
}
