//! Loom models of nanometrics' lock-free protocols.
//!
//! The models live in `tests/*.rs`; each file's body is compiled only under
//! `RUSTFLAGS="--cfg nanometrics_loom"`, so a plain `cargo test --workspace`
//! builds this crate as an empty shell. Run them with `.ci/stages/30-loom.sh`:
//!
//! ```text
//! RUSTFLAGS="--cfg nanometrics_loom" LOOM_MAX_PREEMPTIONS=2 \
//!     CARGO_TARGET_DIR=target/loom cargo test --release -p nanometrics-loom-tests
//! ```
//!
//! The models drive the real nanometrics code through its public API. Under
//! the cfg the library swaps its atomics, mutexes, thread-locals and its
//! process-wide shard table onto loom's (see `src/sync.rs`), and sizes that
//! table at two exclusive slots and one shared slot, so a third thread that
//! records while two others hold leases lands in the shared slot.
//!
//! See `docs/verification.md` for what each model proves.

/// Runs `f` under [`loom::model`] with a preemption bound of 2 unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise, and prints how many executions were
/// explored and how long that took (visible with `--nocapture`).
#[cfg(nanometrics_loom)]
pub fn model<F>(name: &str, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    model_with_branches(name, 0, f)
}

/// [`model`] for a model whose executions take more than loom's default
/// 1,000 branches (scheduling points), at most `max_branches`.
#[cfg(nanometrics_loom)]
pub fn model_with_branches<F>(name: &str, max_branches: usize, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.max_branches = builder.max_branches.max(max_branches);
    let executions = Arc::new(AtomicUsize::new(0));
    let counted = executions.clone();
    let start = std::time::Instant::now();
    builder.check(move || {
        // Relaxed: a plain tally read after `check` returns on this thread.
        counted.fetch_add(1, Ordering::Relaxed);
        // Unwind the model's own values (metrics whose drop frees cells in
        // the loom shard table) while the execution is still live, then let
        // loom see the failure: otherwise they drop after loom has torn the
        // execution down, and the second panic aborts the test binary.
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&f)) {
            std::panic::resume_unwind(panic);
        }
    });
    eprintln!(
        "loom model {name}: {} executions in {:.2?} (preemption bound {:?})",
        executions.load(Ordering::Relaxed),
        start.elapsed(),
        builder.preemption_bound,
    );
}

/// A visitor that records every series a metric reports as
/// `("name=value,…", value)`, histograms as their count.
#[derive(Debug, Default)]
pub struct Collect {
    /// The series in the order visited.
    pub series: Vec<(String, u64)>,
    buf: Vec<u64>,
}

impl nanometrics::Visitor for Collect {
    fn family(&mut self, _: &nanometrics::Meta, _: nanometrics::Kind) {}

    fn series(&mut self, labels: &nanometrics::Labels<'_>, value: nanometrics::Value<'_>) {
        let mut key = String::new();
        labels.for_each(|n, v| {
            if !key.is_empty() {
                key.push(',');
            }
            key.push_str(n);
            key.push('=');
            key.push_str(v);
        });
        let v = match value {
            nanometrics::Value::Counter(v) => v,
            nanometrics::Value::Gauge(v) => v as u64,
            nanometrics::Value::Histogram(h) => h.read(&mut self.buf).count,
            other => panic!("unexpected value {other:?}"),
        };
        self.series.push((key, v));
    }
}

/// Spawns one thread per amount, each adding its amount to `c`.
#[cfg(nanometrics_loom)]
pub fn spawn_incs(
    c: &loom::sync::Arc<nanometrics::Counter>,
    amounts: &[u64],
) -> Vec<loom::thread::JoinHandle<()>> {
    amounts
        .iter()
        .map(|&n| {
            let c = c.clone();
            loom::thread::spawn(move || c.inc_by(n))
        })
        .collect()
}

/// Spawns a reader that reads `c` `reads` times and returns the reads.
///
/// Readers run on spawned threads, not on the main thread after it spawned the
/// writers: a spawned thread whose first step is an atomic load is never
/// scheduled ahead of the main thread's next steps (loom issue #392), so a
/// read on the main thread right after the spawns only ever saw the writers
/// not started, and the model proved nothing about reads racing updates.
#[cfg(nanometrics_loom)]
pub fn spawn_reads(
    c: &loom::sync::Arc<nanometrics::Counter>,
    reads: usize,
) -> loom::thread::JoinHandle<Vec<u64>> {
    let c = c.clone();
    loom::thread::spawn(move || (0..reads).map(|_| c.get()).collect())
}

/// Joins every thread, failing if any panicked.
#[cfg(nanometrics_loom)]
pub fn join_all(threads: Vec<loom::thread::JoinHandle<()>>) {
    for t in threads {
        t.join().expect("a model thread panicked");
    }
}
