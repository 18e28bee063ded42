//! Which slot this thread writes.
//!
//! A thread starts on the unbound sentinel; its first update leases an
//! exclusive slot (kept in `LEASE`, returned by the lease's destructor when
//! the thread exits) or, when none is free, falls back to a shared slot and
//! tries to lease again whenever another thread has returned one.
//!
//! Invariants:
//! - `CURRENT` holds the sentinel or this thread's exclusive slot, never a
//!   shared one, so the hot path's writes through it are plain;
//! - the lease's destructor resets `CURRENT` to the sentinel before handing
//!   the slot on, so no update of this thread lands in a slot leased to
//!   another.

use std::cell::Cell;
use std::ptr;

use super::slot::Slot;
use super::table::{global_shards, global_shards_handle, Shards};
use crate::sync::{nm_thread_local, GlobalHandle};

/// The sentinel slot of threads without an exclusive slot: never written,
/// every chunk null, so the hot path's chunk test sends their updates to
/// [`slow_slot`]. A static normally, for the thread-local's `const`
/// initialiser; under loom a field of each execution's table, since loom's
/// atomics have no `const` constructor for a static.
#[cfg(not(nanometrics_loom))]
static UNBOUND: Slot = Slot::unbound();

/// The sentinel of the table `shards` (see [`UNBOUND`]).
#[cfg(not(nanometrics_loom))]
#[inline]
fn sentinel(_shards: &Shards) -> *const Slot {
    ptr::addr_of!(UNBOUND)
}

/// The sentinel of the table `shards`.
#[cfg(nanometrics_loom)]
#[inline]
fn sentinel(shards: &Shards) -> *const Slot {
    &shards.unbound
}

/// The sentinel, for the thread-local's initialiser.
#[cfg(not(nanometrics_loom))]
const fn unbound() -> *const Slot {
    ptr::addr_of!(UNBOUND)
}

/// The sentinel, for the thread-local's initialiser.
#[cfg(nanometrics_loom)]
fn unbound() -> *const Slot {
    sentinel(global_shards())
}

nm_thread_local! {
    /// The slot the hot path writes: this thread's exclusive slot, or the
    /// unbound sentinel (never null). It never holds a shared slot, so the hot
    /// path always updates with a plain load and store.
    static CURRENT: Cell<*const Slot> = const { Cell::new(unbound()) }
}
nm_thread_local! {
    /// The shared slot of a thread that found no exclusive slot free, or that
    /// recorded while its locals were being torn down, with the table's
    /// release count read before that failed try; null until then. Its
    /// updates take the slow path (they are atomic read-modify-writes anyway),
    /// which tries to lease again whenever the release count has moved.
    static SHARED: Cell<(*const Slot, usize)> = const { Cell::new((ptr::null(), 0)) }
}
nm_thread_local! {
    /// The exclusive slot this thread leases; returned when the thread exits.
    static LEASE: Lease = Lease(Cell::new(None))
}

/// The leased exclusive slot and a handle on the table it belongs to (the
/// handle keeps a loom model's table alive until the lease is returned; see
/// [`GlobalHandle`]).
struct Lease(Cell<Option<(usize, GlobalHandle<Shards>)>>);

impl Drop for Lease {
    fn drop(&mut self) {
        // A loom model that failed is torn down after its execution ended,
        // where no loom primitive may be touched; there is no one left to hand
        // the slot to, and a second panic would abort the test binary.
        #[cfg(nanometrics_loom)]
        if std::thread::panicking() {
            return;
        }
        if let Some((i, shards)) = self.0.take() {
            // Stop using the slot before handing it on: later updates from
            // this thread's other destructors find the sentinel, then no
            // lease (LEASE is gone), and go to a shared slot.
            // `shards` is a `&'static Shards` normally and an `Arc` under
            // loom; one borrow serves both.
            #[allow(clippy::needless_borrow)]
            let _ = CURRENT.try_with(|c| c.set(sentinel(&shards)));
            // A local handle may still write the slot (from a thread-local
            // destructor that runs after this one): then the last handle's
            // drop returns it.
            if shards.slot(i).orphan_if_pinned() {
                return;
            }
            // The free-list mutex orders this thread's last stores to the slot
            // before the next leaseholder's first loads (see `Shards::lease`).
            shards.release(i);
        }
    }
}

/// The slot in CURRENT: this thread's exclusive slot or the sentinel.
#[inline]
pub(super) fn current() -> &'static Slot {
    let p = CURRENT.with(|c| c.get());
    // SAFETY: CURRENT holds the sentinel (a static; under loom a field of
    // the table) or a pointer into the global shard table, which is never
    // dropped while a thread can record (a 'static OnceLock; under loom a
    // lazy_static that lives until the model closure returns, and models join
    // every recording thread first, so the reference never outlives it); an
    // exclusive slot it points at is leased to this thread until `Lease::drop`
    // resets CURRENT first.
    unsafe { &*p }
}

/// The slot for an update that missed the fast path: this thread's exclusive
/// slot (the chunk was missing), a newly leased one, or its shared one.
///
/// A thread on a shared slot tries to lease an exclusive one again each time
/// another thread has returned one since its last try, so that a long-lived
/// thread that started while every exclusive slot was taken (a burst of
/// short-lived threads) does not stay on the slow path for good.
#[cold]
#[inline(never)]
pub(super) fn slow_slot() -> &'static Slot {
    let shards = global_shards();
    let p = CURRENT.try_with(|c| c.get()).unwrap_or(ptr::null());
    if !p.is_null() && !ptr::eq(p, sentinel(shards)) {
        // SAFETY: a non-null, non-sentinel CURRENT is this thread's exclusive
        // slot of the global table, leased to it until `Lease::drop` resets
        // CURRENT; the table outlives every recording thread (see `current`).
        return unsafe { &*p };
    }
    // Read before trying to lease: a slot returned after a failed try moves
    // the count, and the next update tries again.
    let releases = shards.releases();
    let (shared, seen) = SHARED.try_with(|c| c.get()).unwrap_or((ptr::null(), 0));
    if !shared.is_null() && seen == releases {
        // SAFETY: a non-null SHARED is a shared slot of the global table,
        // which outlives every recording thread (see `current`); shared slots
        // are never freed or handed out exclusively.
        return unsafe { &*shared };
    }
    let leased = LEASE.try_with(|lease| {
        let held = match lease.0.take() {
            Some(held) => Some(held),
            None => shards.lease().map(|i| (i, global_shards_handle())),
        };
        let i = held.as_ref().map(|&(i, _)| i);
        lease.0.set(held);
        i
    });
    match leased {
        Ok(Some(i)) => {
            let slot = shards.slot(i);
            let _ = CURRENT.try_with(|c| c.set(slot));
            // What this thread added to its shared slot stays there; readers
            // sum every slot.
            let _ = SHARED.try_with(|c| c.set((ptr::null(), 0)));
            slot
        }
        // No exclusive slot free, or this thread's locals are being torn down.
        _ => {
            let slot = if shared.is_null() {
                shards.shared()
            } else {
                // SAFETY: non-null, so a shared slot of the global table
                // stored by an earlier call (see the SHARED read above).
                unsafe { &*shared }
            };
            let _ = SHARED.try_with(|c| c.set((slot, releases)));
            slot
        }
    }
}

/// Runs `f` on this thread's slot of the global shard table (exclusive or
/// shared); the update methods of [`Slot`] pick plain or atomic writes.
#[inline]
pub(crate) fn with_local<R>(f: impl FnOnce(&Slot) -> R) -> R {
    f(local_slot())
}

/// This thread's slot, exclusive or shared, binding one on first use.
#[inline]
pub(crate) fn local_slot() -> &'static Slot {
    let slot = current();
    if slot.is_exclusive() {
        slot
    } else {
        slow_slot()
    }
}

/// Whether this thread writes an exclusive slot of its own (see
/// [`ShardInfo::thread_is_exclusive`](super::ShardInfo::thread_is_exclusive)).
pub(super) fn thread_is_exclusive() -> bool {
    CURRENT
        .try_with(|c| {
            let p = c.get();
            // SAFETY: CURRENT holds the sentinel or a slot of the global table
            // leased to this thread (see `current`); both outlive this call.
            !p.is_null() && unsafe { (*p).is_exclusive() }
        })
        .unwrap_or(false)
}
