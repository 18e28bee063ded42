//! The one place that imports atomics, locks and thread-locals.
//!
//! Every other module takes its synchronisation primitives from here, so that
//! building with `RUSTFLAGS="--cfg nanometrics_loom"` swaps the whole crate onto
//! [loom]'s model-checked versions. The cfg is crate-specific (as crossbeam's
//! `crossbeam_loom`) so that a dependency graph that turns on `cfg(loom)` for
//! some other crate does not switch nanometrics too.
//!
//! Two things differ between the builds and are papered over here:
//! - loom's atomics have no `const fn new`, so constructors that must be
//!   `const` for `static` metrics are written with [`loom_const_fn!`], which
//!   drops the `const` under loom (models build their metrics as values);
//! - the process-wide shard table is a `OnceLock` normally and a
//!   `loom::lazy_static!` under loom, so that every model execution starts
//!   from a fresh table; leases hold a [`ShardsHandle`] to it (an `Arc`
//!   under loom) because loom ends a table's life earlier than std would.
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(nanometrics_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(nanometrics_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(nanometrics_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(nanometrics_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

pub(crate) use crossbeam_utils::CachePadded;
pub(crate) use std::sync::atomic::Ordering;
pub(crate) use std::sync::Arc;
/// One-time initialisation; not a protocol loom needs to model (it is std's).
pub(crate) use std::sync::OnceLock;

/// Locks `m`, recovering the data if a thread panicked while holding it.
///
/// Every structure guarded by a nanometrics mutex is left consistent at each
/// statement that can panic (allocation failure aside), so poisoning carries no
/// information worth propagating to a scrape or a hot path.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The pointer in `a`, read through `&mut` (no other thread can access it).
///
/// std's `AtomicPtr::get_mut` has no loom counterpart; loom's `with_mut`
/// additionally checks that no access races with this one.
#[cfg(not(nanometrics_loom))]
#[inline]
pub(crate) fn ptr_get_mut<T>(a: &mut AtomicPtr<T>) -> *mut T {
    *a.get_mut()
}

/// The pointer in `a`, read through `&mut` (no other thread can access it).
#[cfg(nanometrics_loom)]
#[inline]
pub(crate) fn ptr_get_mut<T>(a: &mut AtomicPtr<T>) -> *mut T {
    a.with_mut(|p| *p)
}

/// Declares a `const fn` that is a plain `fn` under loom (whose atomics and
/// mutexes have no const constructors).
macro_rules! loom_const_fn {
    ($(#[$m:meta])* $vis:vis const fn $($rest:tt)*) => {
        #[cfg(not(nanometrics_loom))]
        $(#[$m])* $vis const fn $($rest)*
        #[cfg(nanometrics_loom)]
        $(#[$m])* $vis fn $($rest)*
    };
}
pub(crate) use loom_const_fn;

/// A `thread_local!` that is loom's under loom.
#[cfg(not(nanometrics_loom))]
macro_rules! nm_thread_local {
    ($(#[$m:meta])* static $name:ident : $t:ty = const $init:block) => {
        std::thread_local! { $(#[$m])* static $name: $t = const $init }
    };
    ($(#[$m:meta])* static $name:ident : $t:ty = $init:expr) => {
        std::thread_local! { $(#[$m])* static $name: $t = $init }
    };
}
#[cfg(nanometrics_loom)]
macro_rules! nm_thread_local {
    ($(#[$m:meta])* static $name:ident : $t:ty = const $init:block) => {
        loom::thread_local! { $(#[$m])* static $name: $t = $init }
    };
    ($(#[$m:meta])* static $name:ident : $t:ty = $init:expr) => {
        loom::thread_local! { $(#[$m])* static $name: $t = $init }
    };
}
pub(crate) use nm_thread_local;

/// A handle that keeps the shard table alive, held by a thread's lease so
/// that the lease can be returned from a thread-local destructor.
///
/// Normally the table is a never-dropped static and the handle a plain
/// reference. Under loom it is an `Arc`: loom drops its lazy statics as soon
/// as the model closure returns, and `loom::thread::JoinHandle::join` returns
/// when the joined thread's closure has finished but *before* that thread's
/// thread-local destructors (our `Lease::drop`) have run; the main thread's
/// own locals are dropped after the statics. Without the `Arc` the hand-back
/// would touch a freed table (or panic on a lazy static accessed during
/// shutdown).
#[cfg(not(nanometrics_loom))]
pub(crate) type ShardsHandle = &'static crate::shard::Shards;
/// See the non-loom definition.
#[cfg(nanometrics_loom)]
pub(crate) type ShardsHandle = std::sync::Arc<crate::shard::Shards>;

#[cfg(not(nanometrics_loom))]
static GLOBAL_SHARDS: std::sync::OnceLock<crate::shard::Shards> = std::sync::OnceLock::new();

/// The process-wide shard table, created on first use.
#[cfg(not(nanometrics_loom))]
pub(crate) fn global_shards() -> &'static crate::shard::Shards {
    GLOBAL_SHARDS.get_or_init(crate::shard::Shards::from_machine)
}

/// A handle on the process-wide shard table, for a lease to keep.
#[cfg(not(nanometrics_loom))]
pub(crate) fn global_shards_handle() -> ShardsHandle {
    global_shards()
}

#[cfg(nanometrics_loom)]
loom::lazy_static! {
    /// Fresh in every loom execution.
    static ref GLOBAL_SHARDS: std::sync::Arc<crate::shard::Shards> =
        std::sync::Arc::new(crate::shard::Shards::from_machine());
}

/// The process-wide shard table, fresh in every loom execution.
///
/// The reference is valid until the model closure returns: models join every
/// thread that records before returning. Only leases outlive that point, and
/// they hold a [`ShardsHandle`].
#[cfg(nanometrics_loom)]
pub(crate) fn global_shards() -> &'static crate::shard::Shards {
    &GLOBAL_SHARDS
}

/// A handle on the process-wide shard table, for a lease to keep.
#[cfg(nanometrics_loom)]
pub(crate) fn global_shards_handle() -> ShardsHandle {
    std::sync::Arc::clone(&GLOBAL_SHARDS)
}
