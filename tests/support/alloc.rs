//! A counting global allocator for the zero-allocation tests: every call
//! goes to the system allocator; allocations and reallocations are counted
//! process-wide ([`total`]) and, while [`on_this_thread`] runs, on the
//! calling thread. A test file installs it with
//! `#[global_allocator] static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;`
//! with the file included as `#[path = "support/alloc.rs"] mod counting_alloc;`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The allocator.
pub(crate) struct Counting;

/// Allocations and reallocations by every thread since the start.
static TOTAL: AtomicU64 = AtomicU64::new(0);

std::thread_local! {
    /// This thread's count while [`on_this_thread`] runs; `None` otherwise.
    static THIS_THREAD: Cell<Option<u64>> = const { Cell::new(None) };
}

fn count() {
    TOTAL.fetch_add(1, Ordering::Relaxed);
    // `try_with`: an allocation during this thread's teardown is not ours.
    let _ = THIS_THREAD.try_with(|c| c.set(c.get().map(|n| n + 1)));
}

// SAFETY: every call goes to `System` with the caller's arguments; counting
// touches an atomic and a const-initialised thread-local, and allocates
// nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations and reallocations by every thread so far (for code whose
/// allocations would happen on other threads: a responder's).
pub(crate) fn total() -> u64 {
    TOTAL.load(Ordering::Relaxed)
}

/// Allocations and reallocations by the calling thread while `f` runs
/// (other tests' threads do not count).
pub(crate) fn on_this_thread(f: impl FnOnce()) -> u64 {
    THIS_THREAD.with(|c| c.set(Some(0)));
    f();
    THIS_THREAD.with(|c| c.replace(None)).unwrap_or(0)
}
