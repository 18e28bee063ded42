//! The lock-free table: [`Entry`], one series' header and its values' words
//! in one allocation, and [`Table`], an insert-only open-addressing table of
//! entry pointers that lookups read with `Acquire` loads and only the
//! family's writer fills. Relies on `key` for the words and hashes it stores
//! and compares.
//!
//! One file of about 700 lines of code, on purpose: the entry's layout and
//! the probes that read entries through raw pointers share one safety
//! contract (an entry pointer found in a table is valid until the family
//! drops), which is easier to check in one place; the entry and the table
//! also stay in one codegen unit with the lookup that inlines them.

use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::marker::PhantomData;
use std::{ptr, slice};

use super::key::{compact_hash, last_word, long_key, short_hash, word, Key, Seeds, Shape, SHORT};
use crate::shard::Cells;
use crate::sync::{AtomicPtr, Ordering, PublishedU32};

/// One series: this header, followed in the same allocation by its `N` label
/// values, each zero-padded to whole 8-byte words (`lens` gives their
/// lengths) as its [`Shape`] says. In the usual case, every value at most
/// [`COMPACT`](super::key::COMPACT) (7) bytes, each value is one word with a marker bit after its
/// bytes (see [`compact_word`](super::key::compact_word)), so a hit compares `N` words at fixed offsets,
/// lengths included, without a call (and without the hash: an entry of any
/// other shape starts its values with [`NOT_COMPACT`]).
///
/// One allocation per series, and a hit reads the hash, the value words and
/// the cell index behind one pointer. Entries are only handled through the
/// raw pointer [`Entry::new`] returns, never through `&Entry`, because a
/// reference would not cover the trailing words.
#[repr(C)]
pub(super) struct Entry<const N: usize> {
    /// The key's hash, whose top bits name its shape (see [`Shape::class`]).
    pub(super) hash: u64,
    /// `cells`' first index, copied at insert so that a hit reads no atomic
    /// (0 in the overflow entry, whose cells are allocated on first use).
    index: PublishedU32,
    /// The byte length of each value.
    lens: [u32; N],
    pub(super) cells: Cells,
}

/// The first word of a non-compact entry's values area: no [`compact_word`](super::key::compact_word)
/// (whose top set bit is at most bit 56) equals it, so a compact lookup,
/// which compares words without the hash, never matches an entry of another
/// shape.
pub(super) const NOT_COMPACT: u64 = u64::MAX;

/// What an empty slot points to instead of null: a hash with the unused
/// shape class 3 (which no lookup's hash has) and values area words of
/// [`NOT_COMPACT`] (no compact lookup matches them) at the offset of every
/// `Entry<N>` with `N` up to about 1000 (checked at compile time). So a hit
/// compares an entry without first testing its slot for null; the vacancy is
/// tested after a mismatch.
static VACANT: [u64; 512] = [u64::MAX; 512];

/// [`VACANT`]'s hash (its first word).
const VACANT_HASH: u64 = u64::MAX;

impl<const N: usize> Entry<N> {
    /// Offset of the values: they follow the header, whose size is a multiple
    /// of its alignment (8), so every value starts on a word boundary.
    const KEY_OFFSET: usize = std::mem::size_of::<Self>();

    /// [`VACANT`] as an entry: its hash and its first values word (all that
    /// a mismatch reads) lie inside it.
    #[inline(always)]
    fn vacant() -> *mut Self {
        const {
            assert!(
                Self::KEY_OFFSET + 8 <= std::mem::size_of::<[u64; 512]>(),
                "too many labels for one family"
            )
        };
        VACANT.as_ptr().cast_mut().cast()
    }

    /// The layout of an entry whose padded values take `key_len` bytes (a
    /// multiple of 8, as every room is): the header, then `key_len` bytes at
    /// [`KEY_OFFSET`](Self::KEY_OFFSET).
    fn layout(key_len: usize) -> Option<Layout> {
        let (layout, offset) = Layout::new::<Self>()
            .extend(Layout::array::<u64>(key_len / 8).ok()?)
            .ok()?;
        debug_assert_eq!(offset, Self::KEY_OFFSET);
        Some(layout.pad_to_align())
    }

    /// Allocates an entry holding copies of `values`; `None` when a value is
    /// longer than `u32::MAX` bytes or the entry would be too large to
    /// allocate.
    pub(super) fn new(
        hash: u64,
        values: &[&str; N],
        cells: Cells,
        index: u32,
    ) -> Option<*mut Self> {
        let mut lens = [0u32; N];
        let shape = Shape::of(values.iter().map(|v| v.len()));
        let mut key_len = shape.start();
        for (len, v) in lens.iter_mut().zip(values) {
            *len = u32::try_from(v.len()).ok()?;
            // `room` rounds up: keep that from overflowing too.
            v.len().checked_add(7)?;
            key_len = key_len.checked_add(shape.room(v.len()))?;
        }
        let layout = Self::layout(key_len)?;
        // SAFETY: `layout` has a non-zero size (the header holds a `u64`).
        // Zeroed: the padding after each value is part of its words.
        let p = unsafe { alloc_zeroed(layout) };
        if p.is_null() {
            handle_alloc_error(layout);
        }
        let e = p.cast::<Self>();
        // SAFETY: `p` is a fresh allocation of `layout`: aligned for `Self`,
        // with `size_of::<Self>()` header bytes followed by `key_len` bytes.
        // The header write, the `NOT_COMPACT` word of a non-compact entry and
        // the copies of the values (each starting at the end of the previous
        // one's room, which holds it and, for the compact and short shapes,
        // its marker or length tag; `start` and the rooms sum to `key_len`)
        // stay inside it, and every pointer used derives from `p`, so it
        // carries the provenance of the whole allocation.
        unsafe {
            e.write(Entry {
                hash,
                index: PublishedU32::new(index),
                lens,
                cells,
            });
            if shape != Shape::Compact {
                p.add(Self::KEY_OFFSET).cast::<u64>().write(NOT_COMPACT);
            }
            let mut at = Self::KEY_OFFSET + shape.start();
            for v in values {
                let room = shape.room(v.len());
                ptr::copy_nonoverlapping(v.as_ptr(), p.add(at), v.len());
                match shape {
                    // The marker after the bytes (see `compact_word`).
                    Shape::Compact => p.add(at + v.len()).write(1),
                    // The length tag (see `short_words`), also for the
                    // values of a long key that fit in two words.
                    Shape::Short => p.add(at + room - 1).write(v.len() as u8),
                    Shape::Long if v.len() <= SHORT => p.add(at + room - 1).write(v.len() as u8),
                    Shape::Long => {}
                }
                at += room;
            }
        }
        Some(e)
    }

    /// Whether `e`, an entry or [`VACANT`], is `VACANT`: whether its hash has
    /// the shape class 3, which no entry's has. (Reading the hash, which a
    /// compare of any shape but compact has just read, rather than loading
    /// `VACANT`'s address to compare with.)
    ///
    /// # Safety
    /// `e` is [`Entry::vacant`] or as for [`values`](Self::values).
    #[inline(always)]
    unsafe fn is_vacant(e: *const Self) -> bool {
        // SAFETY: the header is initialised and live (caller); `VACANT`'s
        // first word is its hash.
        unsafe { (*e).hash == VACANT_HASH }
    }

    /// The shape of the entry's values.
    ///
    /// # Safety
    /// `e` came from [`Entry::new`] and is not freed yet.
    unsafe fn shape(e: *const Self) -> Shape {
        // SAFETY: the header is initialised (see `new`) and live (caller).
        let lens = unsafe { &(*e).lens };
        Shape::of(lens.iter().map(|&l| l as usize))
    }

    /// The bytes the values' area takes (as `new` computed it).
    ///
    /// # Safety
    /// `e` came from [`Entry::new`] and is not freed yet.
    unsafe fn key_len(e: *const Self) -> usize {
        // SAFETY: the header is initialised (see `new`) and live (caller).
        let (lens, shape) = unsafe { (&(*e).lens, Self::shape(e)) };
        shape.start() + lens.iter().map(|&l| shape.room(l as usize)).sum::<usize>()
    }

    /// The label values.
    ///
    /// # Safety
    /// `e` came from [`Entry::new`] and stays allocated for `'a`.
    pub(super) unsafe fn values<'a>(e: *const Self) -> [&'a str; N] {
        // SAFETY: `e`'s header is initialised and live for 'a (caller).
        let (lens, shape) = unsafe { ((*e).lens, Self::shape(e)) };
        let mut at = Self::KEY_OFFSET + shape.start();
        lens.map(|len| {
            // SAFETY: the bytes at `at..at + len` are inside the allocation
            // (see `new`), were copied from a `&str` (so they are UTF-8), are
            // never written again, and stay allocated for 'a. `e` carries the
            // whole allocation's provenance (it is the pointer `alloc_zeroed`
            // returned).
            let v = unsafe {
                let bytes = slice::from_raw_parts(e.cast::<u8>().add(at), len as usize);
                std::str::from_utf8_unchecked(bytes)
            };
            at += shape.room(len as usize);
            v
        })
    }

    /// The `W` words at byte offset `at` of the values (`at` need not be a
    /// multiple of 8: the long compare reads a value's last 16 bytes where
    /// they end; an unaligned read is the same load as an aligned one on the
    /// targets we build for).
    ///
    /// # Safety
    /// As for [`values`](Self::values), for the duration of the call, and
    /// `at..at + 8 * W` lies inside the values' area.
    #[inline(always)]
    unsafe fn words<const W: usize>(e: *const Self, at: usize) -> [u64; W] {
        // SAFETY: in bounds (caller); the bytes are initialised (zeroed,
        // then written); the read is unaligned, so `at` may be any offset.
        // `e` carries the allocation's provenance.
        let w = unsafe {
            e.cast::<u8>()
                .add(Self::KEY_OFFSET + at)
                .cast::<[u64; W]>()
                .read_unaligned()
        };
        w.map(u64::from_le)
    }

    /// Whether this entry, or [`VACANT`], holds the compact key whose
    /// [`compact_word`](super::key::compact_word)s are `words`. No hash is compared: the words are the
    /// key, lengths included, and an entry of another shape, or `VACANT`,
    /// starts with [`NOT_COMPACT`], which is no compact word. Word by word,
    /// stopping at the first that differs: `VACANT` is read no further than
    /// its first word.
    ///
    /// # Safety
    /// `e` is [`Entry::vacant`] or as for [`values`](Self::values), for the
    /// duration of the call.
    #[inline(always)]
    unsafe fn matches_compact(e: *const Self, words: &[u64; N]) -> bool {
        if N == 0 {
            // No words to tell an entry from `VACANT`.
            // SAFETY: `e` is `VACANT` or a live entry (caller).
            return !unsafe { Self::is_vacant(e) };
        }
        // SAFETY: every entry's values area holds at least `N` words (a
        // compact one's are its words; another shape's hold `NOT_COMPACT`
        // then two words or more per value); past a mismatch of the first,
        // which `VACANT` has, nothing more is read.
        words
            .iter()
            .enumerate()
            .all(|(i, &w)| unsafe { Self::same(e, i * 8, [w]) })
    }

    /// Whether this entry holds the short key whose hash is `hash` and whose
    /// [`short_words`](super::key::short_words) are `words`.
    ///
    /// # Safety
    /// As for [`matches_compact`](Self::matches_compact).
    #[inline(always)]
    unsafe fn matches_short(e: *const Self, hash: u64, words: &[[u64; 2]; N]) -> bool {
        // SAFETY: the header is initialised and live (caller).
        if unsafe { (*e).hash } != hash {
            return false;
        }
        // The hashes matched, so the entry is short too (`Shape::class`):
        // its values are `2 * N` words at fixed offsets, lengths included.
        // SAFETY: a short entry's values area is the `NOT_COMPACT` word
        // then `2 * N` words.
        words
            .iter()
            .enumerate()
            .all(|(i, &w)| unsafe { Self::same(e, Shape::Short.start() + i * 16, w) })
    }

    /// Whether the `W` words at byte offset `at` of the values area are
    /// `words`.
    ///
    /// # Safety
    /// As for [`words`](Self::words).
    #[inline(always)]
    unsafe fn same<const W: usize>(e: *const Self, at: usize, words: [u64; W]) -> bool {
        // SAFETY: `e` is live and `at..at + 8 * W` lies in its values area
        // (caller).
        let stored = unsafe { Self::words::<W>(e, at) };
        stored.iter().zip(words).fold(0, |d, (s, w)| d | (s ^ w)) == 0
    }

    /// Whether this entry holds the values of `key`.
    ///
    /// # Safety
    /// As for [`matches_compact`](Self::matches_compact).
    #[inline(always)]
    unsafe fn matches(e: *const Self, key: &Key<'_, N>) -> bool {
        match key.shape {
            // SAFETY: `e` is `VACANT` or a live entry (caller).
            Shape::Compact => unsafe { Self::matches_compact(e, &key.words.map(|[w, _]| w)) },
            // SAFETY: `e` is `VACANT` or a live entry (caller).
            Shape::Short => unsafe { Self::matches_short(e, key.hash, &key.words) },
            // SAFETY: `e` is `VACANT` or a live entry (caller); a long
            // compare reads past the hash only on a hash match, which
            // `VACANT`'s never is (its shape class is 3).
            Shape::Long => unsafe { Self::matches_long(e, key.hash, &key.words, key.values) },
        }
    }

    /// Whether this entry holds the long key (a value longer than [`SHORT`])
    /// whose hash is `hash` and whose values are `values`, those of at most
    /// [`SHORT`] bytes with the [`short_words`](super::key::short_words) in `words` (see
    /// [`long_key`]). Every byte is compared, value by value: its length
    /// first, so that (the lengths before it being equal too) the entry's
    /// value lies at the offset the lookup's lengths give; then its words, a
    /// long value's read 8 bytes at a time from the lookup's value (the last
    /// word zero-padded, as the entry's is).
    ///
    /// # Safety
    /// As for [`matches_compact`](Self::matches_compact): `e` is
    /// [`Entry::vacant`] or a live entry for the duration of the call.
    /// Nothing past `VACANT`'s hash is read: it has the shape class 3, which
    /// no lookup's hash has.
    #[inline(always)]
    pub(super) unsafe fn matches_long(
        e: *const Self,
        hash: u64,
        words: &[[u64; 2]; N],
        values: &[&str; N],
    ) -> bool {
        // SAFETY: the header is initialised and live (caller).
        if unsafe { (*e).hash } != hash {
            return false;
        }
        // SAFETY: the header is initialised and live (caller); the
        // reference covers the header's field only.
        let lens = unsafe { &(*e).lens };
        // Once this value's length and those before it are equal, each room
        // up to its end (a function of the length, `Shape::room`) is the
        // same in the entry as here: every read below lies inside the
        // value's room, hence inside the values' area. Offsets from the
        // first value's (`START`, a constant the compiler folds into each
        // load's).
        const START: usize = Shape::Long.start();
        let mut at = 0;
        for ((v, w), &len) in values.iter().zip(words).zip(lens) {
            let v = v.as_bytes();
            if len as usize != v.len() {
                return false;
            }
            if v.len() <= SHORT {
                // SAFETY: a room of 16 bytes at `at` (above).
                if !unsafe { Self::same(e, START + at, *w) } {
                    return false;
                }
                at += 16;
                continue;
            }
            // 16 bytes at a time, then the last 16 (at least 16 bytes: they
            // overlap the last chunk, or repeat it), unaligned in the entry:
            // its bytes at `at..at + v.len()` are the value's.
            let mut chunk_at = at;
            for c in v.chunks_exact(16) {
                // SAFETY: `chunk_at + 16 <= at + v.len()`, inside the room.
                if !unsafe { Self::same(e, START + chunk_at, [word(c), word(&c[8..])]) } {
                    return false;
                }
                chunk_at += 16;
            }
            let tail = v.last_chunk::<16>().map_or([0; 16], |t| *t);
            let tail = [word(&tail), last_word(&tail)];
            // SAFETY: `v.len() >= 16`: the room's bytes at
            // `at + v.len() - 16..at + v.len()`.
            if !unsafe { Self::same(e, START + at + v.len() - 16, tail) } {
                return false;
            }
            at += Shape::Long.room(v.len());
        }
        true
    }

    /// Drops the header and frees the allocation.
    ///
    /// # Safety
    /// `e` came from [`Entry::new`], is freed once, and no reference to it or
    /// its values remains.
    pub(super) unsafe fn free(e: *mut Self) {
        // SAFETY: `e` is live (caller).
        let key_len = unsafe { Self::key_len(e) };
        // `new` built this very layout, so it did not fail then either.
        if let Some(layout) = Self::layout(key_len) {
            // SAFETY: `e` is live, initialised, and dropped and freed once
            // (caller), with the layout `new` allocated it with.
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
    slot: AtomicPtr::new(VACANT.as_ptr().cast_mut().cast()),
};

/// An insert-only open-addressing table of entry pointers: a [`Head`], then
/// its slots, in one allocation (or [`EMPTY`]), live for `'a`. Handled
/// through this pointer, which covers the slots (a `&Head` would not), so
/// that a lookup reads a slot at a fixed offset from the table's address.
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

    /// A new table of `capacity` (a power of two) vacant slots; `None` if
    /// it would be too large to allocate. The caller frees it with
    /// [`free`](Self::free).
    pub(super) fn alloc(capacity: usize, seeds: Seeds) -> Option<*mut Head> {
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
                slots.add(i).write(AtomicPtr::new(Entry::vacant()));
            }
        }
        Some(p.cast())
    }

    /// The table a family starts with (see [`EMPTY`]).
    #[cfg(not(nanometrics_loom))]
    pub(super) const fn empty() -> *mut Head {
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
    pub(super) fn empty() -> *mut Head {
        match Self::alloc(1, Seeds { mix: [0, 0] }) {
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
        if t == Self::empty() {
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

    /// The cell index of the entry for `key`.
    pub(super) fn find(self, key: &Key<'_, N>) -> Option<u32> {
        // SAFETY: `matches` is called on the table's entries (see `probe`).
        self.probe(key.hash, |e| unsafe { Entry::matches(e, key) })
    }

    /// The cell index of the entry for the compact key whose
    /// [`compact_word`](super::key::compact_word)s are `words`.
    #[inline(always)]
    pub(super) fn find_compact(self, words: &[u64; N]) -> Option<u32> {
        // The probe starts at the state's low bits, as at the key's hash.
        let start = compact_hash(self.head().seeds.mix, words);
        // SAFETY: `matches_compact` is called on the table's entries and
        // `VACANT` (see `probe`).
        self.probe(start, |e| unsafe { Entry::matches_compact(e, words) })
    }

    /// The cell index of the entry for the short key whose [`short_words`](super::key::short_words)
    /// are `words`.
    #[inline(always)]
    pub(super) fn find_short(self, words: &[[u64; 2]; N]) -> Option<u32> {
        let hash = short_hash(self.head().seeds.mix, words);
        // SAFETY: `probe` calls `matches_short` only on the table's slots,
        // each `VACANT` or a live entry.
        self.probe(hash, |e| unsafe { Entry::matches_short(e, hash, words) })
    }

    /// The cell index of the entry for the long key `values` (see
    /// [`long_key`]).
    #[inline(always)]
    pub(super) fn find_long(self, values: &[&str; N]) -> Option<u32> {
        let (hash, words) = long_key(self.head().seeds.mix, values);
        // SAFETY: `probe_from` calls `matches_long` only on the table's
        // slots, each `VACANT` or a live entry.
        self.probe_from(hash as usize, |e| unsafe {
            Entry::matches_long(e, hash, &words, values)
        })
    }

    /// The cell index of the first entry on the probe sequence from `start`
    /// that `matches`, which is only called with live entries from
    /// [`Entry::new`] and with [`Entry::vacant`] (and must not match it).
    /// The first slot is peeled: a hit there is one load, the compare and
    /// the index's load, before anything the loop sets up.
    #[inline(always)]
    fn probe(self, start: u64, matches: impl Fn(*const Entry<N>) -> bool) -> Option<u32> {
        // Masked here (as `slot` would), so the mask is applied once.
        let i = start as usize & self.head().mask;
        // Acquire: see `probe_from`.
        let p = self.slot(i).load(Ordering::Acquire);
        if matches(p) {
            // SAFETY: `p` is a live entry (`VACANT` never matches).
            return Some(unsafe { (*p).index.get() });
        }
        // Out of the hit's straight line (a hint only).
        unlikely();
        // SAFETY: `p` is a live entry or `VACANT` (see `probe_from`).
        if unsafe { Entry::is_vacant(p) } {
            return None;
        }
        self.probe_from(i.wrapping_add(1), matches)
    }

    /// [`probe`](Self::probe) without the peeled slot: one copy of the
    /// compare, for the long compare, whose code is large.
    #[inline(always)]
    fn probe_from(self, start: usize, matches: impl Fn(*const Entry<N>) -> bool) -> Option<u32> {
        // Acquire (here and in `probe`) pairs with the Release store in
        // `place`: the entry's header and words are initialised before we
        // read them. Slots hold `VACANT` or entries from `Entry::new` in
        // `Family::insert`; entries are freed only in `Family::drop`, and
        // the table (borrowed from the family) cannot outlive it.
        let mut i = start;
        loop {
            let p = self.slot(i).load(Ordering::Acquire);
            if matches(p) {
                // SAFETY: `p` matched, so it is a live entry (`VACANT`
                // never matches).
                return Some(unsafe { (*p).index.get() });
            }
            // At most half the slots of any table are full (`insert` grows
            // it first), so the probe meets a vacant slot; no step count
            // needed.
            // SAFETY: a slot holds `VACANT` or a live entry (above).
            if unsafe { Entry::is_vacant(p) } {
                return None;
            }
            i = i.wrapping_add(1);
        }
    }

    /// Stores `e` in the first vacant slot of its probe sequence (writer
    /// only: two concurrent calls could fill one slot, and one entry would
    /// be lost to lookups).
    ///
    /// # Safety
    /// `e` came from [`Entry::new`] and stays live as long as this table:
    /// every lookup that probes the table dereferences it.
    pub(super) unsafe fn place(self, e: *mut Entry<N>, hash: u64) {
        let mut i = hash as usize;
        loop {
            let slot = self.slot(i);
            // SAFETY: slots hold `VACANT` or live entries (this function's
            // contract, for each entry placed).
            if unsafe { Entry::is_vacant(slot.load(Ordering::Relaxed)) } {
                // Release publishes the entry's initialised fields to `find`.
                slot.store(e, Ordering::Release);
                return;
            }
            i = i.wrapping_add(1);
        }
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;
    use crate::family::key::compact_words;
    use crate::family::tests::long_value;

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
            let e = Entry::new(shape.class(), &stored, Cells::new(0), 0).unwrap();
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
            assert!(!unsafe { Entry::matches_compact(Entry::vacant(), &words) });
            let key = Seeds::new().key(probe);
            // SAFETY: `vacant` may be compared.
            assert!(!unsafe { Entry::matches(Entry::vacant(), &key) });
        }
        for values in [short, long] {
            let key = Seeds::new().key(&values);
            // SAFETY: `vacant` may be compared.
            assert!(!unsafe { Entry::matches(Entry::vacant(), &key) });
        }
        // SAFETY: `vacant` may be compared.
        assert!(!unsafe { Entry::<0>::matches_compact(Entry::vacant(), &[]) });
        // SAFETY: `vacant` may be compared.
        assert!(!unsafe { Entry::<1>::matches_compact(Entry::vacant(), &[1]) });
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
            let e = Entry::new(7, &stored, Cells::new(0), 0).unwrap();
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
