//! The lock-free table: [`Entry`], one series' header and its values' words
//! in one allocation, and [`Table`], an open-addressing table of entry
//! pointers that lookups read with `Acquire` loads and only the family's
//! writer changes. Relies on `key` for the words and hashes it stores and
//! compares.
//!
//! # Type-stable memory
//!
//! Entries and tables are never returned to the allocator while the family
//! lives: a removed series' entry goes to the family's pool (`pool.rs`) and
//! is rewritten for a later series; a replaced table is kept and refilled by
//! a later rebuild. So a lookup that still holds a pointer it read before a
//! removal reads memory that is allocated, and of the same type, whatever
//! happened since; it needs no announcement (no epoch pin, no hazard
//! pointer), which would cost the hit path more than the rest of its work.
//! Everything a lookup reads in an entry or a table is an atomic, so a
//! rewrite racing it is no data race; what it reads is checked instead:
//!
//! - an entry's `word` holds its generation and its first cell index in one
//!   atomic, read first (`Acquire`) by every lookup. The writer makes the
//!   generation odd and the index [`RETIRED`] (one `Release` store) before it changes
//!   anything else, and publishes the next even generation with the new
//!   index (one `Release` store) after it has rewritten the hash, lengths
//!   and values. A lookup whose words matched returns the word it read
//!   first: if the entry was rewritten in between, that generation is gone
//!   for good and a handle made from it drops its updates (see
//!   [`Series`](crate::shard::Series)); a word with an odd generation has
//!   index `RETIRED`, past every cell, whose updates are dropped too;
//! - a table being refilled may show a probe any mix of old and new slots:
//!   a probe stops after as many steps as the table has slots, and a miss
//!   takes the family's lock and looks again.
//!
//! The pools hold at most as many entries and tables as the family had live
//! at its peak (a table per capacity reached), so memory is bounded by the
//! peak, not by the number of series ever created.
//!
//! One file, on purpose: the entry's layout and the probes that read entries
//! through raw pointers share one safety contract, which is easier to check
//! in one place; the entry and the table also stay in one codegen unit with
//! the lookup that inlines them.

use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32 as PlainU32, AtomicU64 as PlainU64};
use std::{ptr, slice};

use super::key::{compact_hash, last_word, long_key, short_hash, word, Key, Seeds, Shape, SHORT};
use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// One series: this header, followed in the same block by its `N` label
/// values, each zero-padded to whole 8-byte words (`lens` gives their
/// lengths) as its [`Shape`] says. In the usual case, every value at most
/// [`COMPACT`](super::key::COMPACT) (7) bytes, each value is one word with a marker bit after its
/// bytes (see [`compact_word`](super::key::compact_word)), so a hit compares `N` words at fixed offsets,
/// lengths included, without a call (and without the hash: an entry of any
/// other shape starts its values with [`NOT_COMPACT`]).
///
/// One block per series, of a size class (`pool.rs`), reused for later
/// series once this one is removed (see the module docs). Entries are only
/// handled through the raw pointer [`Entry::alloc`] returns, never through
/// `&Entry`, because a reference would not cover the trailing words.
#[repr(C)]
pub(super) struct Entry<const N: usize> {
    /// The generation (high half) and first cell index (low half), read
    /// first by lookups and checked by handles (see the module docs). First
    /// in the header: [`VACANT`] and [`TOMBSTONE`] have theirs here too.
    pub(super) word: AtomicU64,
    /// The key's hash, whose top bits name its shape (see [`Shape::class`]).
    /// Loom's atomic under loom (the lookup's read of it is checked against
    /// its publication), as `word` is.
    hash: AtomicU64,
    /// The byte length of each value.
    lens: [PlainU32; N],
    /// The block's size class (fixed when the block is allocated).
    pub(super) class: u32,
    /// Where the entry is in the writer's scrape order (writer only).
    pub(super) pos: Cell<u32>,
}

/// The first word of a non-compact entry's values area: no [`compact_word`](super::key::compact_word)
/// (whose top set bit is at most bit 56) equals it, so a compact lookup,
/// which compares words without the hash, never matches an entry of another
/// shape.
pub(super) const NOT_COMPACT: u64 = u64::MAX;

/// The index in the word of an entry that holds no series (removed, being
/// rewritten, or a sentinel): past every cell, so that a handle made from
/// that word has an index the update's bounds test refuses. (Not 0: an index
/// below the first cell means, to the update's slow path, a static's block
/// not allocated yet.)
pub(super) const RETIRED: u32 = u32::MAX;

/// A generation and index as an entry's `word` holds them.
#[inline(always)]
pub(super) const fn word_of(generation: u32, index: u32) -> u64 {
    (generation as u64) << 32 | index as u64
}

/// The generation in a `word`.
#[inline(always)]
pub(super) const fn generation(word: u64) -> u32 {
    (word >> 32) as u32
}

/// What an empty slot points to instead of null, and what a removed
/// series' slot points to (a tombstone, which a probe passes over): an
/// odd generation and index [`RETIRED`], a hash with the unused shape class 3 (which
/// no lookup's hash has), and values area words of [`NOT_COMPACT`] (no
/// compact lookup matches them) at the offset of every `Entry<N>` with `N`
/// up to about 1000 (checked at compile time). So a hit compares an entry
/// without first testing its slot; vacancy is tested after a mismatch.
/// Under loom, whose atomics cannot be built in a static, each family
/// allocates its own pair (see [`Sentinels`]).
#[cfg(not(nanometrics_loom))]
#[repr(C)]
struct Sentinel {
    word: AtomicU64,
    hash: AtomicU64,
    rest: [PlainU64; 510],
}

#[cfg(not(nanometrics_loom))]
#[allow(clippy::declare_interior_mutable_const)]
const MAX_WORD: PlainU64 = PlainU64::new(u64::MAX);

#[cfg(not(nanometrics_loom))]
static VACANT: Sentinel = Sentinel {
    word: AtomicU64::new(word_of(1, RETIRED)),
    hash: AtomicU64::new(VACANT_HASH),
    rest: [MAX_WORD; 510],
};

#[cfg(not(nanometrics_loom))]
static TOMBSTONE: Sentinel = Sentinel {
    word: AtomicU64::new(word_of(1, RETIRED)),
    hash: AtomicU64::new(TOMBSTONE_HASH),
    rest: [MAX_WORD; 510],
};

/// [`VACANT`]'s hash.
const VACANT_HASH: u64 = u64::MAX;
/// [`TOMBSTONE`]'s hash (shape class 3 too).
const TOMBSTONE_HASH: u64 = u64::MAX - 1;

/// The family's vacant and tombstone entries: the statics, or under loom
/// entries of its own.
#[derive(Clone, Copy)]
pub(super) struct Sentinels<const N: usize> {
    pub(super) vacant: *mut Entry<N>,
    pub(super) tombstone: *mut Entry<N>,
}

// SAFETY: the sentinels are never written after they are made (statics, or
// under loom entries the family owns and frees in its drop), and only read
// through atomics; the pointers carry no thread affinity.
unsafe impl<const N: usize> Send for Sentinels<N> {}
// SAFETY: as for `Send`.
unsafe impl<const N: usize> Sync for Sentinels<N> {}

impl<const N: usize> Sentinels<N> {
    /// The shared statics.
    #[cfg(not(nanometrics_loom))]
    pub(super) const fn new() -> Self {
        const {
            assert!(
                Entry::<N>::KEY_OFFSET + 8 <= std::mem::size_of::<Sentinel>(),
                "too many labels for one family"
            )
        };
        Self {
            vacant: ptr::addr_of!(VACANT).cast_mut().cast(),
            tombstone: ptr::addr_of!(TOMBSTONE).cast_mut().cast(),
        }
    }

    /// Two entries of the family's own (freed with [`free`](Self::free)).
    #[cfg(nanometrics_loom)]
    pub(super) fn new() -> Self {
        let make = |hash| {
            let values = [""; N];
            let e = Entry::<N>::alloc(Shape::Long.start() + 16 * N);
            // SAFETY: `e` is a fresh block large enough for these values.
            unsafe { Entry::fill(e, hash, &values) };
            // SAFETY: as above; the generation stays odd (never matches).
            unsafe { (*e).word.store(word_of(1, RETIRED), Ordering::Relaxed) };
            e
        };
        Self {
            vacant: make(VACANT_HASH),
            tombstone: make(TOMBSTONE_HASH),
        }
    }

    /// Frees loom's own sentinels.
    ///
    /// # Safety
    /// Called once, when no table refers to them.
    #[cfg(nanometrics_loom)]
    pub(super) unsafe fn free(self) {
        // SAFETY: both came from `Entry::alloc` (caller: once).
        unsafe {
            Entry::free(self.vacant);
            Entry::free(self.tombstone);
        }
    }
}

/// Blocks of up to this many bytes come in steps of [`STEP`] bytes, larger
/// ones in powers of two: a series of short values wastes at most 7 bytes
/// of its block, and a long one at most half, in few classes.
const LINEAR_MAX: usize = 256;

/// The step between the small size classes (the header's alignment).
const STEP: usize = 8;

/// The number of small size classes (`STEP` to `LINEAR_MAX` bytes).
const LINEAR_CLASSES: u32 = (LINEAR_MAX / STEP) as u32;

/// The bytes of a block of size class `class`; `None` past the address
/// space.
fn class_size(class: u32) -> Option<usize> {
    if class < LINEAR_CLASSES {
        Some(STEP * (class as usize + 1))
    } else {
        let shift = class - LINEAR_CLASSES + 1;
        LINEAR_MAX.checked_mul(1usize.checked_shl(shift)?)
    }
}

impl<const N: usize> Entry<N> {
    /// Offset of the values: they follow the header, whose size is a multiple
    /// of its alignment (8), so every value starts on a word boundary.
    pub(super) const KEY_OFFSET: usize = std::mem::size_of::<Self>();

    /// The size class of an entry whose padded values take `key_len` bytes;
    /// `None` if too large.
    pub(super) fn class_of(key_len: usize) -> Option<u32> {
        let bytes = Self::KEY_OFFSET.checked_add(key_len)?;
        if bytes <= LINEAR_MAX {
            // The header is at least one step, so `bytes` is too.
            return Some((bytes.div_ceil(STEP) - 1) as u32);
        }
        let doublings =
            bytes.checked_next_power_of_two()?.trailing_zeros() - LINEAR_MAX.trailing_zeros();
        Some(LINEAR_CLASSES - 1 + doublings)
    }

    /// The layout of a block of size class `class`.
    fn layout(class: u32) -> Option<Layout> {
        Layout::from_size_align(class_size(class)?, std::mem::align_of::<Self>()).ok()
    }

    /// The padded length of `values`' area (see [`Shape::room`]); `None` when
    /// a value is longer than `u32::MAX` bytes or the sum overflows.
    pub(super) fn key_len(values: &[&str; N]) -> Option<usize> {
        let shape = Shape::of(values.iter().map(|v| v.len()));
        let mut key_len = shape.start();
        for v in values {
            u32::try_from(v.len()).ok()?;
            // `room` rounds up: keep that from overflowing too.
            v.len().checked_add(7)?;
            key_len = key_len.checked_add(shape.room(v.len()))?;
        }
        Some(key_len)
    }

    /// A new zeroed block for an entry whose values take `key_len` bytes,
    /// with the odd generation 1 (not a series yet).
    pub(super) fn alloc(key_len: usize) -> *mut Self {
        let class = Self::class_of(key_len);
        let Some((class, layout)) = class.and_then(|c| Some((c, Self::layout(c)?))) else {
            handle_alloc_error(Layout::new::<Self>());
        };
        // SAFETY: `layout` has a non-zero size (at least the header's).
        // Zeroed: every byte is a valid atomic (the header's and the
        // words'), and the padding after each value is part of its words.
        let p = unsafe { alloc_zeroed(layout) };
        if p.is_null() {
            handle_alloc_error(layout);
        }
        let e = p.cast::<Self>();
        // SAFETY: `p` is a fresh block of `layout`: aligned for `Self` and
        // at least `size_of::<Self>()` bytes.
        unsafe {
            e.write(Entry {
                word: AtomicU64::new(word_of(1, RETIRED)),
                hash: AtomicU64::new(0),
                lens: std::array::from_fn(|_| PlainU32::new(0)),
                class,
                pos: Cell::new(0),
            })
        };
        e
    }

    /// The key's hash, as [`fill`](Self::fill) stored it.
    ///
    /// # Safety
    /// `e` is a live entry, read under the family's lock.
    pub(super) unsafe fn hash(e: *const Self) -> u64 {
        // SAFETY: the header is live (caller).
        unsafe { (*e).hash.load(Ordering::Relaxed) }
    }

    /// The bytes of `e`'s block.
    ///
    /// # Safety
    /// `e` came from [`alloc`](Self::alloc) and is not freed yet.
    pub(super) unsafe fn capacity(e: *const Self) -> usize {
        // SAFETY: the header is initialised and live (caller); the class is
        // never written after `alloc`.
        // SAFETY: as above.
        let class = unsafe { (*e).class };
        // The class came from `class_of` and its block was allocated, so
        // its size exists; were it not, the header alone is the safe answer
        // (a compare reads nothing past it).
        class_size(class).unwrap_or(Self::KEY_OFFSET)
    }

    /// Writes `values` and `hash` into `e`, whose generation is odd (no
    /// lookup matches it meanwhile; see the module docs): every store
    /// atomic, since a lookup that read the entry before may still read it.
    ///
    /// # Safety
    /// `e` came from [`alloc`](Self::alloc), is not freed yet, its block
    /// holds [`key_len`](Self::key_len)`(values)` bytes of values, and only
    /// the family's writer (holding its lock) writes it.
    pub(super) unsafe fn fill(e: *mut Self, hash: u64, values: &[&str; N]) {
        let shape = Shape::of(values.iter().map(|v| v.len()));
        // SAFETY: the header is live (caller).
        let head = unsafe { &*e };
        head.hash.store(hash, Ordering::Relaxed);
        for (len, v) in head.lens.iter().zip(values) {
            len.store(v.len() as u32, Ordering::Relaxed);
        }
        // SAFETY: the values area holds the room of every value after
        // `shape.start()` (caller), each a whole number of words.
        let put = |at: usize, w: u64| unsafe { Self::word_at(e, at).store(w, Ordering::Relaxed) };
        if shape != Shape::Compact {
            put(0, NOT_COMPACT);
        }
        let mut at = shape.start();
        for v in values {
            let room = shape.room(v.len());
            let mut bytes = [0u8; 16];
            let tag = |bytes: &mut [u8; 16]| match shape {
                // The marker after the bytes (see `compact_word`).
                Shape::Compact => bytes[v.len()] = 1,
                // The length tag (see `short_words`), also for the values
                // of a long key that fit in two words.
                Shape::Short | Shape::Long => bytes[15] = v.len() as u8,
            };
            if room <= 16 && v.len() <= SHORT {
                bytes[..v.len()].copy_from_slice(v.as_bytes());
                tag(&mut bytes);
                put(at, word(&bytes));
                if room == 16 {
                    put(at + 8, word(&bytes[8..]));
                }
            } else {
                for (k, c) in v.as_bytes().chunks(8).enumerate() {
                    let mut w = [0u8; 8];
                    w[..c.len()].copy_from_slice(c);
                    put(at + 8 * k, u64::from_le_bytes(w));
                }
            }
            at += room;
        }
    }

    /// The values area's word at byte offset `at` (a multiple of 8).
    ///
    /// # Safety
    /// `e` is a live entry or a sentinel, and `at + 8` lies inside its
    /// block's values area.
    #[inline(always)]
    unsafe fn word_at<'a>(e: *const Self, at: usize) -> &'a PlainU64 {
        // SAFETY: in bounds and aligned (caller; the area starts at the
        // 8-aligned `KEY_OFFSET`); the block's bytes are atomics (zeroed or
        // stored as such). `e` carries the block's provenance.
        unsafe { &*e.cast::<u8>().add(Self::KEY_OFFSET + at).cast::<PlainU64>() }
    }

    /// Whether `e`, an entry or a sentinel, is the vacant sentinel: whether
    /// its hash is [`VACANT_HASH`], which no entry's is. (Reading the hash,
    /// which a compare of any shape but compact has just read, rather than
    /// loading the sentinel's address to compare with.)
    ///
    /// # Safety
    /// `e` is a sentinel or a live entry.
    #[inline(always)]
    unsafe fn is_vacant(e: *const Self) -> bool {
        // SAFETY: the header is live (caller).
        unsafe { (*e).hash.load(Ordering::Relaxed) == VACANT_HASH }
    }

    /// The shape of the entry's values.
    ///
    /// # Safety
    /// `e` is a live entry, read under the family's lock.
    unsafe fn shape(e: *const Self) -> Shape {
        // SAFETY: the header is live (caller).
        let lens = unsafe { &(*e).lens };
        Shape::of(lens.iter().map(|l| l.load(Ordering::Relaxed) as usize))
    }

    /// The label values.
    ///
    /// # Safety
    /// `e` is a live entry that holds a series, and nothing rewrites it for
    /// `'a` (the caller holds the family's lock, under which alone entries
    /// are written).
    pub(super) unsafe fn values<'a>(e: *const Self) -> [&'a str; N] {
        // SAFETY: `e`'s header is live for 'a (caller).
        let (lens, shape) = unsafe { (&(*e).lens, Self::shape(e)) };
        let mut at = Self::KEY_OFFSET + shape.start();
        std::array::from_fn(|i| {
            let len = lens[i].load(Ordering::Relaxed) as usize;
            // SAFETY: the bytes at `at..at + len` are inside the block (see
            // `fill`), were copied from a `&str` (so they are UTF-8), and are
            // not written for 'a (caller); concurrent lookups only read them.
            // `e` carries the block's provenance.
            let v = unsafe {
                let bytes = slice::from_raw_parts(e.cast::<u8>().add(at), len);
                std::str::from_utf8_unchecked(bytes)
            };
            at += shape.room(len);
            v
        })
    }

    /// Whether this entry, or a sentinel, holds the compact key whose
    /// [`compact_word`](super::key::compact_word)s are `words`. No hash is compared: the words are the
    /// key, lengths included, and an entry of another shape, or a sentinel,
    /// starts with [`NOT_COMPACT`], which is no compact word. Word by word,
    /// stopping at the first that differs: a sentinel is read no further
    /// than its first word.
    ///
    /// # Safety
    /// `e` is a sentinel or a live entry, for the duration of the call.
    #[inline(always)]
    unsafe fn matches_compact(e: *const Self, words: &[u64; N]) -> bool {
        if N == 0 {
            // No words to tell an entry from a sentinel.
            // SAFETY: `e` is a sentinel or a live entry (caller).
            return unsafe { (*e).hash.load(Ordering::Relaxed) >> 62 != 3 };
        }
        // SAFETY: every block's values area holds at least `N` words (a
        // compact one's are its words; another shape's hold `NOT_COMPACT`
        // then two words or more per value); past a mismatch of the first,
        // which the sentinels have, nothing more is read.
        words
            .iter()
            .enumerate()
            .all(|(i, &w)| unsafe { Self::word_at(e, i * 8).load(Ordering::Relaxed) == w })
    }

    /// Whether this entry holds the short key whose hash is `hash` and whose
    /// [`short_words`](super::key::short_words) are `words`.
    ///
    /// # Safety
    /// As for [`matches_compact`](Self::matches_compact).
    #[inline(always)]
    unsafe fn matches_short(e: *const Self, hash: u64, words: &[[u64; 2]; N]) -> bool {
        // SAFETY: the header is live (caller).
        if unsafe { (*e).hash.load(Ordering::Relaxed) } != hash {
            return false;
        }
        // The hashes matched, so the entry is short too (`Shape::class`),
        // or is being rewritten (its generation then no longer matches what
        // the lookup read first): its values area holds `1 + 2 * N` words.
        // SAFETY: in bounds, as just said.
        words.iter().enumerate().all(|(i, &[lo, hi])| unsafe {
            let at = Shape::Short.start() + i * 16;
            Self::word_at(e, at).load(Ordering::Relaxed) == lo
                && Self::word_at(e, at + 8).load(Ordering::Relaxed) == hi
        })
    }

    /// Whether this entry holds the values of `key`.
    ///
    /// # Safety
    /// As for [`matches_compact`](Self::matches_compact).
    #[inline(always)]
    unsafe fn matches(e: *const Self, key: &Key<'_, N>) -> bool {
        match key.shape {
            // SAFETY: `e` is a sentinel or a live entry (caller).
            Shape::Compact => unsafe { Self::matches_compact(e, &key.words.map(|[w, _]| w)) },
            // SAFETY: `e` is a sentinel or a live entry (caller).
            Shape::Short => unsafe { Self::matches_short(e, key.hash, &key.words) },
            // SAFETY: `e` is a sentinel or a live entry (caller); a long
            // compare reads past the hash only on a hash match, which a
            // sentinel's never is (its shape class is 3).
            Shape::Long => unsafe { Self::matches_long(e, key.hash, &key.words, key.values) },
        }
    }

    /// Whether this entry holds the long key (a value longer than [`SHORT`])
    /// whose hash is `hash` and whose values are `values`, those of at most
    /// [`SHORT`] bytes with the [`short_words`](super::key::short_words) in `words` (see
    /// [`long_key`]). Every byte is compared, value by value: its length
    /// first, so that (the lengths before it being equal too) the entry's
    /// value lies at the offset the lookup's lengths give; then its words,
    /// read 8 bytes at a time from the lookup's value (the last word
    /// zero-padded, as the entry's is).
    ///
    /// # Safety
    /// As for [`matches_compact`](Self::matches_compact). Nothing past a
    /// sentinel's hash is read: it has the shape class 3, which no lookup's
    /// hash has.
    #[inline(always)]
    pub(super) unsafe fn matches_long(
        e: *const Self,
        hash: u64,
        words: &[[u64; 2]; N],
        values: &[&str; N],
    ) -> bool {
        // SAFETY: the header is live (caller).
        if unsafe { (*e).hash.load(Ordering::Relaxed) } != hash {
            return false;
        }
        // SAFETY: the header is live (caller); the reference covers the
        // header's field only.
        let lens = unsafe { &(*e).lens };
        // Once this value's length and those before it are equal, each room
        // up to its end (a function of the length, `Shape::room`) is the
        // same in the entry as here, and the block holds it (the block was
        // filled with these lengths, or is being rewritten: then it is at
        // least as large as the rooms its current lengths give, which the
        // lengths read here are, or the lookup's generation check fails and
        // the words read do not matter; they are read inside the block
        // either way, see `capacity`).
        // SAFETY: `e` is live (caller).
        let cap = unsafe { Self::capacity(e) } - Self::KEY_OFFSET;
        let mut at = Shape::Long.start();
        for ((v, w), len) in values.iter().zip(words).zip(lens) {
            let v = v.as_bytes();
            if len.load(Ordering::Relaxed) as usize != v.len() {
                return false;
            }
            let room = Shape::Long.room(v.len());
            if at + room > cap {
                // A block being rewritten with other lengths.
                return false;
            }
            if v.len() <= SHORT {
                // SAFETY: a room of 16 bytes at `at`, inside the block.
                let same = unsafe {
                    Self::word_at(e, at).load(Ordering::Relaxed) == w[0]
                        && Self::word_at(e, at + 8).load(Ordering::Relaxed) == w[1]
                };
                if !same {
                    return false;
                }
            } else {
                // 8 bytes at a time, then the last 1 to 7 (the value is
                // longer than 8 bytes: they are the top of its last 8).
                let mut chunks = v.chunks_exact(8);
                let mut k = at;
                for c in &mut chunks {
                    // SAFETY: `k + 8 <= at + room`, inside the block.
                    if unsafe { Self::word_at(e, k).load(Ordering::Relaxed) } != word(c) {
                        return false;
                    }
                    k += 8;
                }
                let r = chunks.remainder().len();
                if r > 0 {
                    let tail = last_word(v) >> ((8 - r) * 8);
                    // SAFETY: the room holds the padded last word at `k`.
                    if unsafe { Self::word_at(e, k).load(Ordering::Relaxed) } != tail {
                        return false;
                    }
                }
            }
            at += room;
        }
        true
    }

    /// Drops the header and frees the block.
    ///
    /// # Safety
    /// `e` came from [`alloc`](Self::alloc), is freed once, and no reference
    /// to it or its values remains.
    pub(super) unsafe fn free(e: *mut Self) {
        // SAFETY: `e` is live (caller).
        let class = unsafe { (*e).class };
        // `alloc` built this very layout, so it did not fail then either.
        if let Some(layout) = Self::layout(class) {
            // SAFETY: `e` is live, initialised, and dropped and freed once
            // (caller), with the layout `alloc` allocated it with.
            unsafe {
                ptr::drop_in_place(e);
                dealloc(e.cast::<u8>(), layout);
            }
        }
    }
}

/// Marks the path that calls it as unlikely, for block layout.
#[cold]
#[inline(always)]
fn unlikely() {}

/// A table's header; its `mask + 1` slots follow it in the same allocation
/// (see [`Table`]).
#[repr(C)]
pub(super) struct Head {
    pub(super) seeds: Seeds,
    /// The slot count less one (the count is a power of two).
    mask: usize,
}

/// The table every family starts with: one vacant slot, so a lookup needs
/// no test for a missing table (it misses and inserts, which replaces this
/// one; its seeds, zero, hash nothing that is kept). Shared by all families;
/// a slot of `AtomicPtr<u8>` read as `AtomicPtr<Entry<N>>` (the same layout)
/// for every `N`. Under loom, whose atomics cannot be built in a static,
/// each family allocates its own (see [`Table::empty`]).
#[cfg(not(nanometrics_loom))]
#[repr(C)]
struct Empty {
    head: Head,
    slot: AtomicPtr<u8>,
}

#[cfg(not(nanometrics_loom))]
static EMPTY: Empty = Empty {
    head: Head {
        seeds: Seeds { mix: [0, 0] },
        mask: 0,
    },
    slot: AtomicPtr::new(ptr::addr_of!(VACANT).cast_mut().cast()),
};

/// An open-addressing table of entry pointers: a [`Head`], then its slots,
/// in one allocation (or [`EMPTY`]), live for `'a`. Handled through this
/// pointer, which covers the slots (a `&Head` would not), so that a lookup
/// reads a slot at a fixed offset from the table's address.
pub(super) struct Table<'a, const N: usize> {
    pub(super) ptr: *const Head,
    life: PhantomData<&'a Head>,
}

impl<const N: usize> Clone for Table<'_, N> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<const N: usize> Copy for Table<'_, N> {}

impl<'a, const N: usize> Table<'a, N> {
    /// Where the slots start: after the header, aligned for a slot.
    const SLOTS: usize = {
        let align = std::mem::align_of::<AtomicPtr<Entry<N>>>();
        std::mem::size_of::<Head>().div_ceil(align) * align
    };

    /// The layout of a table of `capacity` slots; `None` if too large.
    fn layout(capacity: usize) -> Option<Layout> {
        let slots = Layout::array::<AtomicPtr<Entry<N>>>(capacity).ok()?;
        let (layout, at) = Layout::new::<Head>().extend(slots).ok()?;
        debug_assert_eq!(at, Self::SLOTS);
        Some(layout.pad_to_align())
    }

    /// A new table of `capacity` (a power of two) slots, each pointing to
    /// `vacant`; `None` if it would be too large to allocate. The caller
    /// frees it with [`free`](Self::free).
    pub(super) fn alloc(capacity: usize, seeds: Seeds, vacant: *mut Entry<N>) -> Option<*mut Head> {
        assert!(capacity.is_power_of_two());
        let layout = Self::layout(capacity)?;
        // SAFETY: `layout` has a non-zero size (the header's).
        let p = unsafe { std::alloc::alloc(layout) };
        if p.is_null() {
            handle_alloc_error(layout);
        }
        // SAFETY: `p` is a fresh allocation of `layout`: the header at its
        // start and `capacity` slots from `SLOTS` (see `layout`), each
        // written once, through pointers derived from `p`.
        unsafe {
            p.cast::<Head>().write(Head {
                seeds,
                mask: capacity - 1,
            });
            let slots = p.add(Self::SLOTS).cast::<AtomicPtr<Entry<N>>>();
            for i in 0..capacity {
                slots.add(i).write(AtomicPtr::new(vacant));
            }
        }
        Some(p.cast())
    }

    /// The table a family starts with (see [`EMPTY`]).
    #[cfg(not(nanometrics_loom))]
    pub(super) const fn empty(_: Sentinels<N>) -> *mut Head {
        const {
            assert!(
                Self::SLOTS == std::mem::offset_of!(Empty, slot),
                "EMPTY's slot is where a table's first slot is"
            )
        };
        ptr::addr_of!(EMPTY).cast_mut().cast()
    }

    /// The table a family starts with: under loom, its own (see [`EMPTY`]).
    #[cfg(nanometrics_loom)]
    pub(super) fn empty(sentinels: Sentinels<N>) -> *mut Head {
        match Self::alloc(1, Seeds { mix: [0, 0] }, sentinels.vacant) {
            Some(t) => t,
            // One slot always fits.
            None => handle_alloc_error(Layout::new::<Head>()),
        }
    }

    /// Whether `t`, a family's table, is the one it started with.
    ///
    /// # Safety
    /// `t` came from [`alloc`](Self::alloc) or [`empty`](Self::empty) and
    /// is not freed yet.
    pub(super) unsafe fn is_empty(t: *const Head) -> bool {
        // SAFETY: `t` is a live table (caller), whose header is initialised.
        unsafe { (*t).mask == 0 }
    }

    /// Frees the table `t`, unless it is the shared [`EMPTY`].
    ///
    /// # Safety
    /// `t` came from [`alloc`](Self::alloc) or [`empty`](Self::empty), is
    /// freed once, and nothing refers to it any more.
    pub(super) unsafe fn free(t: *mut Head) {
        #[cfg(not(nanometrics_loom))]
        if t == Self::empty(Sentinels::new()) {
            return;
        }
        // SAFETY: `t` is live (caller) and was allocated with the layout of
        // its slot count, which `alloc` computed then (so it succeeds now);
        // its slots are dropped once (loom's atomics need it), then freed.
        unsafe {
            let capacity = (*t).mask + 1;
            let slots = t.cast::<u8>().add(Self::SLOTS);
            let slots = slots.cast::<AtomicPtr<Entry<N>>>();
            ptr::drop_in_place(ptr::slice_from_raw_parts_mut(slots, capacity));
            if let Some(layout) = Self::layout(capacity) {
                dealloc(t.cast::<u8>(), layout);
            }
        }
    }

    /// The table at `ptr`.
    ///
    /// # Safety
    /// `ptr` came from [`alloc`](Self::alloc) or [`empty`](Self::empty) and
    /// stays live for `'a`.
    #[inline(always)]
    pub(super) unsafe fn at(ptr: *const Head) -> Self {
        Self {
            ptr,
            life: PhantomData,
        }
    }

    /// The header.
    #[inline(always)]
    pub(super) fn head(self) -> &'a Head {
        // SAFETY: live for 'a (see `at`); the header is initialised.
        unsafe { &*self.ptr }
    }

    /// The slot count.
    pub(super) fn capacity(self) -> usize {
        self.head().mask + 1
    }

    /// The slot at `i & mask`.
    #[inline(always)]
    fn slot(self, i: usize) -> &'a AtomicPtr<Entry<N>> {
        // SAFETY: `i & mask` is below the slot count; the slots start at
        // `SLOTS`, inside the table's allocation, whose provenance `ptr`
        // carries; they live for 'a (see `at`).
        unsafe {
            &*self
                .ptr
                .cast::<u8>()
                .add(Self::SLOTS)
                .cast::<AtomicPtr<Entry<N>>>()
                .add(i & self.head().mask)
        }
    }

    /// [`Seeds::key`] with this table's seeds.
    #[inline(always)]
    pub(super) fn key<'v>(self, values: &'v [&'v str; N]) -> Key<'v, N> {
        self.head().seeds.key(values)
    }

    /// The word (generation and index) of the entry for `key`.
    pub(super) fn find(self, key: &Key<'_, N>) -> Option<(*mut Entry<N>, u64)> {
        // SAFETY: `matches` is called on the table's entries (see `probe`).
        self.probe(key.hash, |e| unsafe { Entry::matches(e, key) })
    }

    /// The slot and entry for `key` (writer only: under the lock, the
    /// entry's word cannot change meanwhile).
    pub(super) fn find_entry(self, key: &Key<'_, N>) -> Option<(usize, *mut Entry<N>)> {
        let mut i = key.hash as usize;
        for _ in 0..=self.head().mask {
            let p = self.slot(i).load(Ordering::Acquire);
            // SAFETY: slots hold sentinels or live entries (see `probe`).
            if unsafe { Entry::matches(p, key) } {
                return Some((i & self.head().mask, p));
            }
            // SAFETY: as above.
            if unsafe { Entry::is_vacant(p) } {
                return None;
            }
            i = i.wrapping_add(1);
        }
        None
    }

    /// The word of the entry for the compact key whose
    /// [`compact_word`](super::key::compact_word)s are `words`.
    #[inline(always)]
    pub(super) fn find_compact(self, words: &[u64; N]) -> Option<(*mut Entry<N>, u64)> {
        // The probe starts at the state's low bits, as at the key's hash.
        let start = compact_hash(self.head().seeds.mix, words);
        // By value: a collision's probe goes out of line with the words in
        // registers rather than spilled for a reference.
        let words = *words;
        // SAFETY: `matches_compact` is called on the table's entries and
        // sentinels (see `probe`).
        self.probe(start, move |e| unsafe { Entry::matches_compact(e, &words) })
    }

    /// The word of the entry for the short key whose [`short_words`](super::key::short_words)
    /// are `words`.
    #[inline(always)]
    pub(super) fn find_short(self, words: &[[u64; 2]; N]) -> Option<(*mut Entry<N>, u64)> {
        let hash = short_hash(self.head().seeds.mix, words);
        let words = *words;
        // SAFETY: `probe` calls `matches_short` only on the table's slots,
        // each a sentinel or a live entry.
        self.probe(hash, move |e| unsafe {
            Entry::matches_short(e, hash, &words)
        })
    }

    /// The word of the entry for the long key `values` (see [`long_key`]).
    #[inline(always)]
    pub(super) fn find_long(self, values: &[&str; N]) -> Option<(*mut Entry<N>, u64)> {
        let (hash, words) = long_key(self.head().seeds.mix, values);
        // SAFETY: `probe_from` calls `matches_long` only on the table's
        // slots, each a sentinel or a live entry.
        self.probe_from(hash as usize, |e| unsafe {
            Entry::matches_long(e, hash, &words, values)
        })
    }

    /// The entry and its word, read before the compare, of the first entry
    /// on the probe sequence from `start` that `matches`, which is only
    /// called with live entries and sentinels (and must not match a
    /// sentinel). The first slot is peeled: a hit there is the slot's load,
    /// the word's and the compare, before anything the loop sets up.
    #[inline(always)]
    fn probe(
        self,
        start: u64,
        matches: impl Fn(*const Entry<N>) -> bool,
    ) -> Option<(*mut Entry<N>, u64)> {
        // Masked here (as `slot` would), so the mask is applied once.
        let i = start as usize & self.head().mask;
        // Acquire: see `probe_from`.
        let p = self.slot(i).load(Ordering::Acquire);
        // SAFETY: `p` is a live entry or a sentinel (see `probe_from`).
        let w = unsafe { (*p).word.load(Ordering::Acquire) };
        if matches(p) {
            return Some((p, w));
        }
        // Out of the hit's straight line (a hint only).
        unlikely();
        // SAFETY: `p` is a live entry or a sentinel.
        if unsafe { Entry::is_vacant(p) } {
            return None;
        }
        self.probe_from(i.wrapping_add(1), matches)
    }

    /// [`probe`](Self::probe) without the peeled slot: one copy of the
    /// compare, for the long compare, whose code is large.
    #[inline(always)]
    fn probe_from(
        self,
        start: usize,
        matches: impl Fn(*const Entry<N>) -> bool,
    ) -> Option<(*mut Entry<N>, u64)> {
        // Acquire (here and in `probe`) pairs with the Release store in
        // `place`: the entry's header and words are initialised before we
        // read them. Slots hold sentinels or entries of the family's, which
        // stay allocated until `Family::drop` (see the module docs), and the
        // table (borrowed from the family) cannot outlive it.
        let mut i = start;
        // At most half the slots of a table are taken (`Family::insert`
        // rebuilds it first), so a probe meets a vacant slot; but a table
        // being refilled may show a probe more, so it stops after one lap.
        let mut left = self.head().mask;
        loop {
            let p = self.slot(i).load(Ordering::Acquire);
            // SAFETY: a slot holds a sentinel or a live entry (above).
            // Acquire pairs with the Release stores of the word in
            // `Family`: the words read after it are the ones it publishes.
            let w = unsafe { (*p).word.load(Ordering::Acquire) };
            if matches(p) {
                return Some((p, w));
            }
            // SAFETY: a slot holds a sentinel or a live entry (above).
            if unsafe { Entry::is_vacant(p) } || left == 0 {
                return None;
            }
            left -= 1;
            i = i.wrapping_add(1);
        }
    }

    /// Stores `e` in the first vacant or tombstone slot of its probe
    /// sequence (writer only: two concurrent calls could fill one slot, and
    /// one entry would be lost to lookups); whether it took a tombstone's.
    ///
    /// # Safety
    /// `e` is a live entry of the family that owns this table, and the
    /// table has a vacant slot.
    pub(super) unsafe fn place(
        self,
        e: *mut Entry<N>,
        hash: u64,
        tombstone: *mut Entry<N>,
    ) -> bool {
        let mut i = hash as usize;
        loop {
            let slot = self.slot(i);
            let p = slot.load(Ordering::Relaxed);
            // SAFETY: slots hold sentinels or live entries.
            if p == tombstone || unsafe { Entry::is_vacant(p) } {
                // Release publishes the entry's initialised fields to `find`.
                slot.store(e, Ordering::Release);
                return p == tombstone;
            }
            i = i.wrapping_add(1);
        }
    }

    /// Turns slot `i` (masked) into a tombstone (writer only).
    pub(super) fn unlink(self, i: usize, tombstone: *mut Entry<N>) {
        self.slot(i).store(tombstone, Ordering::Release);
    }

    /// Points every slot to `vacant` (writer only), as a fresh table.
    pub(super) fn vacate(self, vacant: *mut Entry<N>) {
        for i in 0..self.capacity() {
            self.slot(i).store(vacant, Ordering::Release);
        }
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;
    use crate::family::key::compact_words;
    use crate::family::tests::long_value;

    /// A live entry holding `values`, with this hash.
    fn entry<const N: usize>(hash: u64, values: &[&str; N]) -> *mut Entry<N> {
        let Some(key_len) = Entry::key_len(values) else {
            panic!("values too long")
        };
        let e = Entry::alloc(key_len);
        // SAFETY: a fresh block large enough for `values`; only this
        // thread writes it.
        unsafe {
            Entry::fill(e, hash, values);
            (*e).word.store(word_of(2, 0), Ordering::Release);
        }
        e
    }

    fn vacant<const N: usize>() -> *mut Entry<N> {
        Sentinels::<N>::new().vacant
    }

    #[test]
    fn a_compact_lookup_matches_no_other_shape_and_no_vacant_slot() {
        // The first two words of this short entry's values ("\u{1}" padded,
        // then its length tag, 1, in the top byte) are the compact words of
        // ("", "\0\0\0\0\0\0\0"): only its leading `NOT_COMPACT` word
        // keeps a compact lookup (which compares no hash) from matching it.
        let short: [&str; 2] = ["\u{1}", "abcdefgh"];
        let long: [&str; 2] = ["\u{1}", "abcdefghijklmnopq"];
        let probes: [[&str; 2]; 4] = [
            ["", "\0\0\0\0\0\0\0"],
            ["\u{1}", ""],
            ["\u{1}", "abcdefg"],
            ["", ""],
        ];
        for stored in [short, long] {
            let shape = Shape::of(stored.map(str::len));
            let e = entry(shape.class(), &stored);
            for probe in &probes {
                let words = compact_words(probe).unwrap();
                // SAFETY: `e` is live until freed below.
                assert!(!unsafe { Entry::matches_compact(e, &words) }, "{probe:?}");
            }
            // SAFETY: `e` came from `Entry::new` and is freed once.
            unsafe { Entry::free(e) };
        }
        // Nothing matches a vacant slot, whatever the number of values.
        for probe in &probes {
            let words = compact_words(probe).unwrap();
            // SAFETY: `vacant` may be compared.
            assert!(!unsafe { Entry::matches_compact(vacant(), &words) });
            let key = Seeds::new().key(probe);
            // SAFETY: `vacant` may be compared.
            assert!(!unsafe { Entry::matches(vacant(), &key) });
        }
        for values in [short, long] {
            let key = Seeds::new().key(&values);
            // SAFETY: `vacant` may be compared.
            assert!(!unsafe { Entry::matches(vacant(), &key) });
        }
        // SAFETY: `vacant` may be compared.
        assert!(!unsafe { Entry::<0>::matches_compact(vacant(), &[]) });
        // SAFETY: `vacant` may be compared.
        assert!(!unsafe { Entry::<1>::matches_compact(vacant(), &[1]) });
    }

    #[test]
    fn a_long_match_compares_every_byte() {
        // The compare alone, with the hash forced equal: an entry matches its
        // own values and none that differ in one byte, at any position of a
        // long value or of the short value beside it.
        let mix = Seeds::new().mix;
        // Under Miri, the lengths around the word and 16-byte boundaries.
        let lens: Vec<usize> = if cfg!(miri) {
            vec![16, 17, 23, 24, 31, 32, 33, 36, 48, 80]
        } else {
            (16..=80).collect()
        };
        for len in lens {
            let value = long_value(len, b'x');
            let stored: [&str; 2] = [&value, "presence"];
            let e = entry(7, &stored);
            let matches = |values: &[&str; 2]| {
                let (_, words) = long_key(mix, values);
                // SAFETY: `e` is live until freed below.
                unsafe { Entry::matches_long(e, 7, &words, values) }
            };
            assert!(matches(&stored), "{len}");
            for at in 0..len {
                let mut other = value.clone().into_bytes();
                other[at] = b'_';
                let other = String::from_utf8(other).unwrap();
                assert!(!matches(&[&other, "presence"]), "{len} {at}");
            }
            for at in 0.."presence".len() {
                let mut other = *b"presence";
                other[at] = b'_';
                let other = std::str::from_utf8(&other).unwrap();
                assert!(!matches(&[&value, other]), "{len} {at}");
            }
            assert!(!matches(&[&value, "presenc"]), "{len}");
            assert!(!matches(&[&value[..len - 1], "presence"]), "{len}");
            // SAFETY: `e` came from `Entry::new` and is freed once.
            unsafe { Entry::free(e) };
        }
    }
}
