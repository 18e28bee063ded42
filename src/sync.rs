//! The one place that imports atomics, locks and thread-locals.
//!
//! Every other module takes its synchronisation primitives from here, so that
//! building with `RUSTFLAGS="--cfg nanometrics_loom"` swaps the whole crate onto
//! [loom]'s model-checked versions. The cfg is crate-specific (as crossbeam's
//! `crossbeam_loom`) so that a dependency graph that turns on `cfg(loom)` for
//! some other crate does not switch nanometrics too.
//!
//! This module imports nothing from the crate. What differs between the
//! builds is papered over here:
//! - loom's atomics have no `const fn new`, so constructors that must be
//!   `const` for `static` metrics are written with [`loom_const_fn!`], which
//!   drops the `const` under loom (models build their metrics as values);
//! - process-wide values ([`lazy_global!`]) are a `OnceLock` normally and a
//!   `loom::lazy_static` under loom, so that every model execution starts
//!   fresh; a [`GlobalHandle`] keeps one alive where loom would end its life
//!   earlier than std does.
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(nanometrics_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
#[cfg(not(nanometrics_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(nanometrics_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
#[cfg(nanometrics_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

pub(crate) use crossbeam_utils::CachePadded;
pub(crate) use std::sync::atomic::Ordering;

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

/// A handle that keeps a [`lazy_global!`] value alive.
///
/// Normally the value is a never-dropped static and the handle a plain
/// reference. Under loom it is an `Arc`: loom drops its lazy statics as soon
/// as the model closure returns, and `loom::thread::JoinHandle::join` returns
/// when the joined thread's closure has finished but *before* that thread's
/// thread-local destructors have run; the main thread's own locals are
/// dropped after the statics. A thread-local destructor that needs the value
/// holds a handle.
#[cfg(not(nanometrics_loom))]
pub(crate) type GlobalHandle<T> = &'static T;
/// See the non-loom definition.
#[cfg(nanometrics_loom)]
pub(crate) type GlobalHandle<T> = std::sync::Arc<T>;

/// Declares `fn $get() -> &'static T`, a process-wide value created by
/// `$init` on first use, and optionally `fn $handle() -> GlobalHandle<T>`.
///
/// Normally a `OnceLock` static. Under loom a `loom::lazy_static` (fresh in
/// every model execution): the reference is valid until the model closure
/// returns, which models reach only after joining every thread that uses it;
/// what outlives that point holds a [`GlobalHandle`].
#[cfg(not(nanometrics_loom))]
macro_rules! lazy_global {
    ($(#[$m:meta])* $vis:vis fn $get:ident() -> &'static $t:ty $(, handle $handle:ident)? = $init:expr;) => {
        $(#[$m])*
        $vis fn $get() -> &'static $t {
            static GLOBAL: std::sync::OnceLock<$t> = std::sync::OnceLock::new();
            GLOBAL.get_or_init(|| $init)
        }
        $(
            /// A handle on the value of the function of the same stem.
            $vis fn $handle() -> $crate::sync::GlobalHandle<$t> {
                $get()
            }
        )?
    };
}
#[cfg(nanometrics_loom)]
macro_rules! lazy_global {
    ($(#[$m:meta])* $vis:vis fn $get:ident() -> &'static $t:ty $(, handle $handle:ident)? = $init:expr;) => {
        loom::lazy_static! {
            static ref GLOBAL: std::sync::Arc<$t> = std::sync::Arc::new($init);
        }
        $(#[$m])*
        $vis fn $get() -> &'static $t {
            &GLOBAL
        }
        $(
            /// A handle on the value of the function of the same stem.
            $vis fn $handle() -> $crate::sync::GlobalHandle<$t> {
                std::sync::Arc::clone(&GLOBAL)
            }
        )?
    };
}
pub(crate) use lazy_global;
