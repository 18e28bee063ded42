//! A thread that starts recording while every exclusive slot is leased gets a
//! shared slot (atomic adds through the slow path); once another thread
//! returns its slot by exiting, the next update of the late thread must take
//! that exclusive slot instead of staying on the shared one for good.
//!
//! Its own test binary: the check needs every exclusive slot of the process
//! leased by threads it controls, which other tests in the same process would
//! disturb.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use nanometrics::{Counter, ShardInfo};

static JOBS: Counter = Counter::new("jobs_total", "Jobs.");

#[test]
fn late_thread_takes_a_returned_exclusive_slot() {
    let exclusive = ShardInfo::current().exclusive;
    // Holders lease every exclusive slot and keep it until `done`.
    let leased = Arc::new(Barrier::new(exclusive + 1));
    let done = Arc::new(Barrier::new(exclusive + 1));
    let holders: Vec<_> = (0..exclusive)
        .map(|_| {
            let (leased, done) = (leased.clone(), done.clone());
            thread::spawn(move || {
                JOBS.inc();
                let exclusive = ShardInfo::thread_is_exclusive();
                leased.wait();
                done.wait();
                exclusive
            })
        })
        .collect();
    leased.wait();

    let (on_shared_tx, on_shared_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let late = thread::spawn(move || {
        JOBS.inc();
        on_shared_tx.send(ShardInfo::thread_is_exclusive()).unwrap();
        go_rx.recv().unwrap();
        JOBS.inc();
        ShardInfo::thread_is_exclusive()
    });
    let first = on_shared_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("late thread stalled");
    assert!(
        !first,
        "every exclusive slot was leased: the late thread must share"
    );

    // The holders exit; joining waits for their thread-local destructors,
    // which return the slots.
    done.wait();
    for h in holders {
        assert!(h.join().unwrap(), "a holder did not get an exclusive slot");
    }
    go_tx.send(()).unwrap();
    assert!(
        late.join().unwrap(),
        "a slot was returned, but the late thread stayed on its shared slot"
    );
    // Nothing was lost on the way: what the late thread added to the shared
    // slot is still summed.
    assert_eq!(JOBS.get(), exclusive as u64 + 2);
}
