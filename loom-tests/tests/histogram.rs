//! Histogram observations (a bucket count and the sum in the observing
//! thread's slot) against concurrent reads.
#[cfg(nanometrics_loom)]
mod loom_histogram {
    use loom::sync::Arc;
    use loom::thread;
    use nanometrics::Histogram;
    use nanometrics_loom_tests::model;

    /// Checks what every read must satisfy and returns the cumulative buckets.
    fn read_checked(h: &Histogram) -> Vec<u64> {
        let (buckets, count, _sum) = h.with(()).read();
        assert_eq!(buckets.len(), 2, "one finite bucket and +Inf");
        assert_eq!(buckets[1], count, "+Inf bucket and count disagree");
        assert!(
            buckets[0] <= buckets[1],
            "buckets not cumulative: {buckets:?}"
        );
        buckets
    }

    /// Two threads observe into different buckets while a reader reads twice:
    /// in every read `+Inf` equals the count and buckets are cumulative, no
    /// bucket goes backwards between the two reads, and after the join the
    /// histogram holds exactly both observations.
    #[test]
    fn observe_against_reads() {
        model("histogram::observe_against_reads", || {
            let h = Arc::new(Histogram::new("fanout_seconds", "", &[1.0]));
            // Allocate the cells from a thread that never records.
            assert_eq!(h.count(), 0);
            let writers: Vec<_> = [0.5, 2.0]
                .into_iter()
                .map(|v| {
                    let h = h.clone();
                    // Twice: the first observation installs the chunks
                    // (slow path), the second takes the fast path.
                    thread::spawn(move || {
                        h.observe(v);
                        h.observe(v);
                    })
                })
                .collect();
            let first = read_checked(&h);
            let second = read_checked(&h);
            for (a, b) in first.iter().zip(&second) {
                assert!(a <= b, "a bucket went backwards: {first:?} then {second:?}");
            }
            for w in writers {
                w.join().unwrap();
            }
            assert_eq!(h.with(()).read(), (vec![2, 4], 4, 5.0));
        });
    }

    /// Seven bounds: 9 cells per series, more than a loom chunk (8 cells).
    static BOUNDS_7: [f64; 7] = nanometrics::linear_buckets(1.0, 1.0);

    /// A series longer than a chunk straddles two (its first bucket in one,
    /// its sum in the next), so observations take the slow path that looks
    /// each cell up on its own, against a concurrent read: as in
    /// `observe_against_reads`, `+Inf` equals the count in every read and
    /// both observations are there after the join.
    #[test]
    fn straddling_series_against_read() {
        model("histogram::straddling_series_against_read", || {
            let h = Arc::new(Histogram::new("wide_seconds", "", &BOUNDS_7));
            assert_eq!(h.count(), 0);
            let writers: Vec<_> = [0.5, 9.0]
                .into_iter()
                .map(|v| {
                    let h = h.clone();
                    // Twice, as above: the second observation takes the
                    // fast path, whose straddle test sends this series (in
                    // two chunks) to the separate lookups.
                    thread::spawn(move || {
                        h.observe(v);
                        h.observe(v);
                    })
                })
                .collect();
            let (buckets, count, _) = h.with(()).read();
            assert_eq!(buckets.len(), 8);
            assert_eq!(buckets[7], count, "+Inf bucket and count disagree");
            assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
            for w in writers {
                w.join().unwrap();
            }
            let (buckets, count, sum) = h.with(()).read();
            assert_eq!((buckets[0], buckets[6], count, sum), (2, 2, 4, 19.0));
        });
    }
}
