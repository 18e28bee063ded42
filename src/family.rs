//! Families: series keyed by label values known only at run time.
//!
//! A lookup that finds its series takes no lock and writes nothing shared: it
//! hashes the values (foldhash's mixing, randomly seeded per family), probes
//! an insert-only open-addressing table of pointers with `Acquire` loads,
//! compares the values as words against the series' entry (one allocation
//! holding the hash, the cell index and the values), and returns a handle the
//! caller may keep. The usual hit, every value at most 7 bytes, is one jump on
//! the values' lengths to read them into words, one multiply, one slot's load
//! and one compare per value: a family always has a table (a shared empty one
//! at first) and an empty slot points to an entry that matches nothing
//! (rather than holding null), so neither is tested before the compare.
//! A miss takes the family's mutex, inserts, and when the table is half full
//! publishes a table twice the size; old tables stay allocated until the
//! family is dropped, so a reader still probing one never sees freed memory.
//! Series are never removed, so there is no reclamation protocol to get
//! wrong.
//!
//! The cardinality limit bounds memory whatever label values arrive: past it,
//! and for any value longer than the value-length limit, lookups return one
//! overflow series whose labels all read [`OVERFLOW_VALUE`], and the family's
//! overflow counter (exported as `nanometrics_label_overflow_total`) grows.
//! A lookup of those very labels returns the overflow series too (without
//! counting an overflow), so no family ever exposes two series with the same
//! labels.

use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::borrow::Cow;
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::{ptr, slice};

use crate::label::check_label_names;
use crate::metric::{
    Counter, CounterF64, CounterF64Ref, CounterRef, Gauge, GaugeF64, GaugeF64Ref, GaugeRef,
    Histogram, HistogramRef, HistogramView, Kind, Meta, Metric, UniqueSeries, Value, Visitor,
};
use crate::shard::Cells;
use crate::sync::{
    global_shards, lock, loom_const_fn, ptr_get_mut, AtomicBool, AtomicPtr, Mutex, Ordering,
};
use crate::Error;

/// The label value of every label on a family's overflow series.
pub const OVERFLOW_VALUE: &str = "__overflow__";

/// Default bound on a family's distinct label-value sets.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 10_000;

/// Default bound on the length in bytes of one label value.
pub const DEFAULT_MAX_VALUE_LEN: usize = 1024;

mod private {
    pub trait Sealed {}
}

/// The metric types a [`Family`] can hold: [`Counter`], [`CounterF64`],
/// [`Gauge`], [`GaugeF64`] and [`Histogram`]. Sealed.
pub trait FamilyKind: private::Sealed + 'static {
    /// The handle a lookup returns.
    type Ref<'a>: Copy;
    /// Per-family settings every series shares (histogram bounds).
    #[doc(hidden)]
    type Config: Send + Sync + 'static;
    #[doc(hidden)]
    const KIND: Kind;
    #[doc(hidden)]
    const RESERVED_LABEL: &'static str;
    #[doc(hidden)]
    fn cells(cfg: &Self::Config) -> u32;
    #[doc(hidden)]
    fn make_ref(index: Option<u32>, cfg: &Self::Config) -> Self::Ref<'_>;
    #[doc(hidden)]
    fn value(index: Option<u32>, cfg: &Self::Config) -> Value<'_>;
    /// How a scrape reads a series' value: [`SUM_NONE`] through
    /// [`value`](Self::value), [`SUM_U64`] / [`SUM_F64`] as a
    /// `Value::Counter` / `Value::CounterF64` of the cell's sum, through a
    /// reader shared by the family's series.
    #[doc(hidden)]
    const SUM: u8 = SUM_NONE;
}

/// See [`FamilyKind::SUM`].
const SUM_NONE: u8 = 0;
const SUM_U64: u8 = 1;
const SUM_F64: u8 = 2;

macro_rules! scalar_kind {
    ($t:ty, $r:ident, $kind:expr, |$i:ident| $read:expr) => {
        scalar_kind!($t, $r, $kind, SUM_NONE, |$i| $read);
    };
    ($t:ty, $r:ident, $kind:expr, $sum:expr, |$i:ident| $read:expr) => {
        impl private::Sealed for $t {}
        impl FamilyKind for $t {
            type Ref<'a> = $r<'a>;
            type Config = ();
            const KIND: Kind = $kind;
            const RESERVED_LABEL: &'static str = "";
            const SUM: u8 = $sum;
            fn cells(_: &()) -> u32 {
                1
            }
            fn make_ref(index: Option<u32>, _: &()) -> $r<'_> {
                $r::at(index)
            }
            fn value(index: Option<u32>, _: &()) -> Value<'_> {
                let $i = index;
                $read
            }
        }
    };
}

scalar_kind!(Counter, CounterRef, Kind::Counter, SUM_U64, |i| {
    Value::Counter(i.map_or(0, |i| global_shards().sum_u64(i)))
});
scalar_kind!(CounterF64, CounterF64Ref, Kind::Counter, SUM_F64, |i| {
    Value::CounterF64(i.map_or(0.0, |i| global_shards().sum_f64(i)))
});
scalar_kind!(Gauge, GaugeRef, Kind::Gauge, |i| Value::Gauge(
    i.map_or(0, |i| GaugeRef::at(Some(i)).get())
));
scalar_kind!(GaugeF64, GaugeF64Ref, Kind::Gauge, |i| Value::GaugeF64(
    i.map_or(0.0, |i| GaugeF64Ref::at(Some(i)).get())
));

impl private::Sealed for Histogram {}
impl FamilyKind for Histogram {
    type Ref<'a> = HistogramRef<'a>;
    type Config = Cow<'static, [f64]>;
    const KIND: Kind = Kind::Histogram;
    const RESERVED_LABEL: &'static str = "le";
    fn cells(cfg: &Self::Config) -> u32 {
        cfg.len() as u32 + 2
    }
    fn make_ref(index: Option<u32>, cfg: &Self::Config) -> HistogramRef<'_> {
        HistogramRef::at(index, cfg)
    }
    fn value(index: Option<u32>, cfg: &Self::Config) -> Value<'_> {
        Value::Histogram(HistogramView::new(cfg, index, global_shards()))
    }
}

/// The table's hasher: randomly seeded per family (so label values chosen by a
/// client cannot be aimed at one probe sequence), fixed under loom, whose
/// replay of an execution needs every probe sequence to repeat exactly.
#[cfg(not(nanometrics_loom))]
type TableHasher = foldhash::fast::RandomState;
#[cfg(nanometrics_loom)]
type TableHasher = foldhash::fast::FixedState;

/// One series: this header, followed in the same allocation by its `N` label
/// values, each zero-padded to whole 8-byte words (`lens` gives their
/// lengths) as its [`Shape`] says. In the usual case, every value at most
/// [`COMPACT`] (7) bytes, each value is one word with a marker bit after its
/// bytes (see [`compact_word`]), so a hit compares `N` words at fixed offsets,
/// lengths included, without a call (and without the hash: an entry of any
/// other shape starts its values with [`NOT_COMPACT`]).
///
/// One allocation per series, and a hit reads the hash, the value words and
/// the cell index behind one pointer. Entries are only handled through the
/// raw pointer [`Entry::new`] returns, never through `&Entry`, because a
/// reference would not cover the trailing words.
#[repr(C)]
struct Entry<const N: usize> {
    /// The key's hash, whose top bits name its shape (see [`Shape::class`]).
    hash: u64,
    /// `cells`' first index, copied at insert so that a hit reads no atomic
    /// (0 in the overflow entry, whose cells are allocated on first use).
    index: u32,
    /// The byte length of each value.
    lens: [u32; N],
    cells: Cells,
}

/// The longest value of a [`Shape::Compact`] key: its word keeps the last byte
/// for the length.
const COMPACT: usize = 7;

/// The longest value of a [`Shape::Short`] key: its two words keep the last
/// byte for the length.
const SHORT: usize = 15;

/// How an entry lays out its values, a function of their lengths alone; the
/// top two bits of a key's hash name it, so equal hashes mean equal shapes and
/// a short or long lookup, which compares the hash first, never reads an
/// entry's words in another shape's layout. A compact lookup compares no
/// hash: it reads the first `N` words, which every shape has, and those of
/// another shape start with [`NOT_COMPACT`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// Every value has at most [`COMPACT`] bytes: one word each (see
    /// [`compact_word`]).
    Compact,
    /// Every value has at most [`SHORT`] bytes, one more than [`COMPACT`]:
    /// two words each (see [`short_words`]).
    Short,
    /// A value is longer than [`SHORT`]: each such value zero-padded to
    /// whole words, each other value two words as in a short key (see
    /// [`Entry::matches_long`]).
    Long,
}

impl Shape {
    /// The shape of values of these lengths.
    fn of(lens: impl IntoIterator<Item = usize>) -> Self {
        let max = lens.into_iter().max().unwrap_or(0);
        if max <= COMPACT {
            Shape::Compact
        } else if max <= SHORT {
            Shape::Short
        } else {
            Shape::Long
        }
    }

    /// The bytes a value of `len` bytes takes in an entry of this shape (a
    /// multiple of 8).
    #[inline(always)]
    const fn room(self, len: usize) -> usize {
        match self {
            Shape::Compact => 8,
            Shape::Short => 16,
            Shape::Long if len <= SHORT => 16,
            Shape::Long => (len + 7) & !7,
        }
    }

    /// The top two bits of the hash of a key of this shape.
    #[inline(always)]
    const fn class(self) -> u64 {
        match self {
            Shape::Compact => 0,
            Shape::Short => 1 << 62,
            Shape::Long => 2 << 62,
        }
    }

    /// A hash for a key of this shape, from its mixed state: the top two
    /// bits hold the shape (the probe starts at the low bits). A compact
    /// key's keeps the state's low bits, so that its lookup probes from the
    /// state itself (see [`Table::find_compact`]); the others' are the
    /// state shifted, one instruction fewer than a mask.
    #[inline(always)]
    const fn hash(self, acc: u64) -> u64 {
        match self {
            Shape::Compact => acc & (u64::MAX >> 2),
            Shape::Short | Shape::Long => acc >> 2 | self.class(),
        }
    }

    /// Where the values start in an entry's values area: a compact entry's
    /// words at once; any other entry's after a word of [`NOT_COMPACT`].
    #[inline(always)]
    const fn start(self) -> usize {
        match self {
            Shape::Compact => 0,
            Shape::Short | Shape::Long => 8,
        }
    }
}

/// The first word of a non-compact entry's values area: no [`compact_word`]
/// (whose top set bit is at most bit 56) equals it, so a compact lookup,
/// which compares words without the hash, never matches an entry of another
/// shape.
const NOT_COMPACT: u64 = u64::MAX;

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
    fn new(hash: u64, values: &[&str; N], cells: Cells, index: u32) -> Option<*mut Self> {
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
                index,
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
    unsafe fn values<'a>(e: *const Self) -> [&'a str; N] {
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
    /// [`compact_word`]s are `words`. No hash is compared: the words are the
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
            // SAFETY: as for this function.
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
    /// [`short_words`] are `words`.
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
        // SAFETY: as for this function.
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
            // SAFETY: as for this function.
            Shape::Compact => unsafe { Self::matches_compact(e, &key.words.map(|[w, _]| w)) },
            // SAFETY: as for this function.
            Shape::Short => unsafe { Self::matches_short(e, key.hash, &key.words) },
            // SAFETY: as for this function.
            Shape::Long => unsafe { Self::matches_long(e, key.hash, &key.words, key.values) },
        }
    }

    /// Whether this entry holds the long key (a value longer than [`SHORT`])
    /// whose hash is `hash` and whose values are `values`, those of at most
    /// [`SHORT`] bytes with the [`short_words`] in `words` (see
    /// [`long_key`]). Every byte is compared, value by value: its length
    /// first, so that (the lengths before it being equal too) the entry's
    /// value lies at the offset the lookup's lengths give; then its words, a
    /// long value's read 8 bytes at a time from the lookup's value (the last
    /// word zero-padded, as the entry's is).
    ///
    /// # Safety
    /// As for [`values`](Self::values), for the duration of the call.
    #[inline(always)]
    unsafe fn matches_long(
        e: *const Self,
        hash: u64,
        words: &[[u64; 2]; N],
        values: &[&str; N],
    ) -> bool {
        // SAFETY: the header is initialised and live (caller).
        if unsafe { (*e).hash } != hash {
            return false;
        }
        // SAFETY: as above (a reference to the header's field only).
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
    unsafe fn free(e: *mut Self) {
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

/// A value of at most [`COMPACT`] (7) bytes as one little-endian word,
/// zero-padded, with a 1 bit just past its bytes (the byte at its length
/// holds 1, so "a" and "a\0" differ; the length is the top set bit's byte):
/// the word a compact entry stores for it; `None` for a longer value. The
/// dispatch on the length is one jump, to code with that length's loads,
/// shifts and marker built in (the marker is one `or` or `bts`).
#[inline(always)]
fn compact_word(v: &[u8]) -> Option<u64> {
    macro_rules! by_len {
        ($($len:literal)*) => {
            match v.len() {
                $($len => Some(marked::<$len>(v)),)*
                _ => None,
            }
        };
    }
    by_len!(0 1 2 3 4 5 6 7)
}

/// [`compact_word`] of a value of `L <= COMPACT` bytes.
#[inline(always)]
fn marked<const L: usize>(v: &[u8]) -> u64 {
    padded_words::<L>(v)[0] | 1 << (L * 8)
}

/// The [`compact_word`]s of `values`; `None` when one is longer than
/// [`COMPACT`]. Two values at a time: one test of both lengths (ORed), then
/// one jump on the pair of lengths, to code with both values' loads and
/// markers built in.
#[inline(always)]
fn compact_words<const N: usize>(values: &[&str; N]) -> Option<[u64; N]> {
    let mut words = [0; N];
    let mut i = 0;
    while i + 1 < N {
        [words[i], words[i + 1]] = compact_pair(values[i].as_bytes(), values[i + 1].as_bytes())?;
        i += 2;
    }
    if i < N {
        words[i] = compact_word(values[i].as_bytes())?;
    }
    Some(words)
}

/// [`compact_word`]s of values of `A` and `B` bytes.
///
/// # Safety
/// `a.len() == A` and `b.len() == B`: the loads are compiled without length
/// checks (a jump on the sum of the lengths alone does not tell the compiler
/// each length).
#[inline(always)]
unsafe fn marked_pair<const A: usize, const B: usize>(a: &[u8], b: &[u8]) -> [u64; 2] {
    // SAFETY: the caller's.
    unsafe { std::hint::assert_unchecked(a.len() == A && b.len() == B) };
    [marked::<A>(a), marked::<B>(b)]
}

/// The [`compact_word`]s of two values (see [`compact_words`]).
#[inline(always)]
fn compact_pair(a: &[u8], b: &[u8]) -> Option<[u64; 2]> {
    if (a.len() | b.len()) > COMPACT {
        return None;
    }
    macro_rules! by_lens {
        ($($i:literal)*) => {
            match a.len() * 8 + b.len() {
                // SAFETY: both lengths are below 8 (above), so the sum
                // names them: `a.len() == $i / 8`, `b.len() == $i % 8`.
                $($i => Some(unsafe { marked_pair::<{ $i / 8 }, { $i % 8 }>(a, b) }),)*
                _ => None,
            }
        };
    }
    by_lens!(
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
        32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
        61 62 63
    )
}

/// A value of at most [`SHORT`] (15) bytes as two little-endian words,
/// zero-padded, with its length in the last byte: the words a short entry
/// stores for it; `None` for a longer value.
/// Overlapping loads of the first and last bytes, as in foldhash, read it
/// without a loop; the dispatch on the length is one jump, to code with that
/// length's offsets and shifts built in.
#[inline(always)]
fn short_words(v: &[u8]) -> Option<[u64; 2]> {
    macro_rules! by_len {
        ($($len:literal)*) => {
            match v.len() {
                $($len => Some(words_of::<$len>(v)),)*
                _ => None,
            }
        };
    }
    by_len!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
}

/// [`short_words`] of a value of `L <= SHORT` bytes (zeroes where `v` is not
/// that long).
#[inline(always)]
fn words_of<const L: usize>(v: &[u8]) -> [u64; 2] {
    let [lo, hi] = padded_words::<L>(v);
    [lo, hi | (L as u64) << 56]
}

/// `v`'s `L <= 16` bytes as two little-endian words, zero-padded.
#[inline(always)]
fn padded_words<const L: usize>(v: &[u8]) -> [u64; 2] {
    /// The `W` bytes of `v` at `at` (zeroes where `v` is too short, which the
    /// caller rules out; it lets the compiler drop the bounds checks).
    #[inline(always)]
    fn load<const W: usize>(v: &[u8], at: usize) -> [u8; W] {
        let mut w = [0; W];
        if let Some(src) = v.get(at..at + W) {
            w.copy_from_slice(src);
        }
        w
    }
    if L > 8 {
        let hi = u64::from_le_bytes(load(v, L - 8)) >> ((16 - L) * 8);
        [u64::from_le_bytes(load(v, 0)), hi]
    } else if L >= 4 {
        let lo = u32::from_le_bytes(load(v, 0)) as u64;
        let hi = u32::from_le_bytes(load(v, L - 4)) as u64;
        [lo | hi << ((L - 4) * 8), 0]
    } else if L >= 2 {
        let lo = u16::from_le_bytes(load(v, 0)) as u64;
        let hi = u16::from_le_bytes(load(v, L - 2)) as u64;
        [lo | hi << ((L - 2) * 8), 0]
    } else if L == 1 {
        [v.first().map_or(0, |&b| b as u64), 0]
    } else {
        [0, 0]
    }
}

/// One round of mixing two words into the state `acc`, as foldhash mixes 16
/// bytes of short input: the state XORed with `lo` times the secret `mul`
/// XORed with `hi`, the 128-bit product folded (its halves XORed). Every
/// hash here is made of these rounds.
#[inline(always)]
fn round(acc: u64, mul: u64, lo: u64, hi: u64) -> u64 {
    let full = ((acc ^ lo) as u128) * ((mul ^ hi) as u128);
    (full as u64) ^ ((full >> 64) as u64)
}

/// The mixed state of a compact key (see [`Shape::hash`] for its hash): its
/// words mixed two at a time (one [`round`]), so two label values cost one
/// multiply.
#[inline(always)]
fn compact_hash<const N: usize>([mut acc, mul]: [u64; 2], words: &[u64; N]) -> u64 {
    let mut i = 0;
    while i < N {
        let next = if i + 1 < N { words[i + 1] } else { 0 };
        acc = round(acc, mul, words[i], next);
        i += 2;
    }
    acc
}

/// The hash of a short key: one [`round`] per value, of its two words.
#[inline(always)]
fn short_hash<const N: usize>([mut acc, mul]: [u64; 2], words: &[[u64; 2]; N]) -> u64 {
    for &[lo, hi] in words {
        acc = round(acc, mul, lo, hi);
    }
    Shape::Short.hash(acc)
}

/// The 8 bytes of `c` (at least 8 long) as a little-endian word.
#[inline(always)]
fn word(c: &[u8]) -> u64 {
    c.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w))
}

/// The last 8 bytes of `v` (at least 8 long) as a little-endian word.
#[inline(always)]
fn last_word(v: &[u8]) -> u64 {
    v.last_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w))
}

/// The high word of the round that ends a long value's rounds (its length
/// XORed in where that round has room, see [`long_rounds`]). No other round's
/// high word has a 0xFF byte: they hold bytes of UTF-8 values, zero padding,
/// or a short value's length tag (at most 15). So the rounds of a long key
/// parse back into its values: each round with this high word ends a long
/// value and gives its length, hence how many rounds before it are that
/// value's; every other round is one short value's.
const LONG_END: u64 = u64::MAX;

/// The hash state after mixing the value `v`, longer than [`SHORT`] bytes
/// (UTF-8), into `acc`: one [`round`] per 16 bytes, the last 1 to 15 bytes
/// zero-padded to whole words, then a round holding the length (see
/// [`LONG_END`]), which shares the last round when the value's last 16 bytes
/// are 8 or fewer.
#[inline(always)]
fn long_rounds(mut acc: u64, mul: u64, v: &[u8]) -> u64 {
    let len = v.len() as u64;
    let mut chunks = v.chunks_exact(16);
    for c in &mut chunks {
        let (lo, hi) = c.split_at(8);
        acc = round(acc, mul, word(lo), word(hi));
    }
    let rest = chunks.remainder();
    // `v` is longer than 8 bytes: the remainder's bytes end `last`.
    let last = last_word(v);
    match rest.len() {
        0 => round(acc, mul, len, LONG_END),
        r @ 1..=8 => round(acc, mul, last >> ((8 - r) * 8), LONG_END ^ len),
        r => {
            acc = round(acc, mul, word(rest), last >> ((16 - r) * 8));
            round(acc, mul, len, LONG_END)
        }
    }
}

/// A long key's hash (a value longer than [`SHORT`]) and words: a value of at
/// most [`SHORT`] bytes is one round of its [`short_words`] (kept in the
/// words, as in [`short_hash`]), a longer one its [`long_rounds`] (zero
/// words).
#[inline(always)]
fn long_key<const N: usize>([mut acc, mul]: [u64; 2], values: &[&str; N]) -> (u64, [[u64; 2]; N]) {
    let mut words = [[0; 2]; N];
    for (w, v) in words.iter_mut().zip(values) {
        let v = v.as_bytes();
        acc = match short_words(v) {
            Some(two) => {
                *w = two;
                round(acc, mul, two[0], two[1])
            }
            None => long_rounds(acc, mul, v),
        };
    }
    (Shape::Long.hash(acc), words)
}

/// A lookup's values with their shape, hash and words, computed once per
/// lookup.
struct Key<'v, const N: usize> {
    values: &'v [&'v str; N],
    shape: Shape,
    /// A compact key: each value's [`compact_word`], then a zero. Otherwise
    /// [`short_words`] of each value of at most [`SHORT`] bytes (zeroes for
    /// longer ones).
    words: [[u64; 2]; N],
    /// With the shape's [`class`](Shape::class) in its top bits.
    hash: u64,
}

/// The per-family hash secrets (see [`Table::key`]).
#[derive(Clone)]
struct Seeds {
    /// The starting state and the multiplier mask.
    mix: [u64; 2],
}

impl Seeds {
    fn new() -> Self {
        let seed = TableHasher::default();
        Self {
            mix: [seed.hash_one(1u64), seed.hash_one(2u64)],
        }
    }

    /// Hashes `values` in one pass: a compact key (every value at most
    /// [`COMPACT`] bytes) with [`compact_hash`]; a short one (at most
    /// [`SHORT`]) with [`short_hash`], one round per value, of its two words
    /// (which hold its length, so ("ab", "c") and ("a", "bc"), or "a" and
    /// "a\0", hash apart) mixed as foldhash mixes 16 bytes of short input;
    /// any other with [`long_key`]. Seeds are random per family.
    #[inline(always)]
    fn key<'v, const N: usize>(&self, values: &'v [&'v str; N]) -> Key<'v, N> {
        // Plain loops: `array::map` here cost a third of a long lookup.
        let shape = Shape::of(values.iter().map(|v| v.len()));
        let mut words = [[0; 2]; N];
        let hash = match shape {
            Shape::Compact => {
                let mut compact = [0; N];
                for ((c, w), v) in compact.iter_mut().zip(&mut words).zip(values) {
                    *c = compact_word(v.as_bytes()).unwrap_or(0);
                    w[0] = *c;
                }
                Shape::Compact.hash(compact_hash(self.mix, &compact))
            }
            Shape::Short => {
                for (w, v) in words.iter_mut().zip(values) {
                    *w = short_words(v.as_bytes()).unwrap_or([0, 0]);
                }
                short_hash(self.mix, &words)
            }
            Shape::Long => {
                let hash;
                (hash, words) = long_key(self.mix, values);
                hash
            }
        };
        Key {
            values,
            shape,
            words,
            hash,
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
struct Head {
    seeds: Seeds,
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
struct Table<'a, const N: usize> {
    ptr: *const Head,
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
    fn alloc(capacity: usize, seeds: Seeds) -> Option<*mut Head> {
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
    const fn empty() -> *mut Head {
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
    fn empty() -> *mut Head {
        match Self::alloc(1, Seeds { mix: [0, 0] }) {
            Some(t) => t,
            // One slot always fits.
            None => handle_alloc_error(Layout::new::<Head>()),
        }
    }

    /// Whether `t`, a family's table, is the one it started with.
    fn is_empty(t: *const Head) -> bool {
        // SAFETY: a family's tables are live while it is (caller).
        unsafe { (*t).mask == 0 }
    }

    /// Frees the table `t`, unless it is the shared [`EMPTY`].
    ///
    /// # Safety
    /// `t` came from [`alloc`](Self::alloc) or [`empty`](Self::empty), is
    /// freed once, and nothing refers to it any more.
    unsafe fn free(t: *mut Head) {
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
    unsafe fn at(ptr: *const Head) -> Self {
        Self {
            ptr,
            life: PhantomData,
        }
    }

    /// The header.
    #[inline(always)]
    fn head(self) -> &'a Head {
        // SAFETY: live for 'a (see `at`); the header is initialised.
        unsafe { &*self.ptr }
    }

    /// The slot count.
    fn capacity(self) -> usize {
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
    fn key<'v>(self, values: &'v [&'v str; N]) -> Key<'v, N> {
        self.head().seeds.key(values)
    }

    /// The cell index of the entry for `key`.
    fn find(self, key: &Key<'_, N>) -> Option<u32> {
        // SAFETY: `matches` is called on the table's entries (see `probe`).
        self.probe(key.hash, |e| unsafe { Entry::matches(e, key) })
    }

    /// The cell index of the entry for the compact key whose
    /// [`compact_word`]s are `words`.
    #[inline(always)]
    fn find_compact(self, words: &[u64; N]) -> Option<u32> {
        // The probe starts at the state's low bits, as at the key's hash.
        let start = compact_hash(self.head().seeds.mix, words);
        // SAFETY: `matches_compact` is called on the table's entries and
        // `VACANT` (see `probe`).
        self.probe(start, |e| unsafe { Entry::matches_compact(e, words) })
    }

    /// The cell index of the entry for the short key whose [`short_words`]
    /// are `words`.
    #[inline(always)]
    fn find_short(self, words: &[[u64; 2]; N]) -> Option<u32> {
        let hash = short_hash(self.head().seeds.mix, words);
        // SAFETY: as in `find_compact`.
        self.probe(hash, |e| unsafe { Entry::matches_short(e, hash, words) })
    }

    /// The cell index of the entry for the long key `values` (see
    /// [`long_key`]).
    #[inline(always)]
    fn find_long(self, values: &[&str; N]) -> Option<u32> {
        let (hash, words) = long_key(self.head().seeds.mix, values);
        // SAFETY: as in `find_compact`.
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
            return Some(unsafe { (*p).index });
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
                // SAFETY: as in `probe`.
                return Some(unsafe { (*p).index });
            }
            // At most half the slots of any table are full (`insert` grows
            // it first), so the probe meets a vacant slot; no step count
            // needed.
            // SAFETY: as above.
            if unsafe { Entry::is_vacant(p) } {
                return None;
            }
            i = i.wrapping_add(1);
        }
    }

    /// Stores `e` in the first vacant slot of its probe sequence (writer
    /// only).
    fn place(self, e: *mut Entry<N>, hash: u64) {
        let mut i = hash as usize;
        loop {
            let slot = self.slot(i);
            // SAFETY: slots hold live entries or `VACANT`.
            if unsafe { Entry::is_vacant(slot.load(Ordering::Relaxed)) } {
                // Release publishes the entry's initialised fields to `find`.
                slot.store(e, Ordering::Release);
                return;
            }
            i = i.wrapping_add(1);
        }
    }
}

/// What only the inserting thread touches.
struct Writer<const N: usize> {
    /// Entries in insertion order: the scrape order.
    order: Vec<*mut Entry<N>>,
    /// Tables replaced by a larger one, kept for readers still probing them.
    retired: Vec<*mut Head>,
}

// SAFETY: the raw pointers in `Writer` are owned allocations (entries and
// tables) only dereferenced under the family mutex or through `&Family`; they
// carry no thread affinity.
unsafe impl<const N: usize> Send for Writer<N> {}

/// A metric family whose `N` label values are known only at run time
/// (`app_id`, `backend`, `room`).
///
/// ```
/// use nanometrics::{Counter, Family};
/// static SENT: Family<Counter, 2> =
///     Family::new("messages_sent_total", "Messages sent.", ["app_id", "channel_type"]);
/// let handle = SENT.with(["app-1", "public"]); // keep it: later updates skip the lookup
/// handle.inc();
/// SENT.with(["app-1", "public"]).inc_by(2);
/// assert_eq!(handle.get(), 3);
/// assert_eq!(SENT.len(), 1);
/// ```
///
/// Past the cardinality limit every new value set shares one overflow series:
///
/// ```
/// use nanometrics::{Gauge, Family, OVERFLOW_VALUE};
/// let rooms: Family<Gauge, 1> = Family::new("room_sessions", "Sessions per room.", ["room"]).with_limit(2);
/// rooms.with(["a"]).inc();
/// rooms.with(["b"]).inc();
/// rooms.with(["c"]).inc();
/// rooms.with(["d"]).inc();
/// assert_eq!(rooms.len(), 2);
/// // "c" and "d" went to the series labelled room="__overflow__", as does "e":
/// assert_eq!(rooms.with(["e"]).get(), 2);
/// assert_eq!(OVERFLOW_VALUE, "__overflow__");
/// assert_eq!(rooms.overflowed(), 3);
/// ```
pub struct Family<K: FamilyKind, const N: usize> {
    meta: Meta,
    label_names: [&'static str; N],
    config: K::Config,
    limit: usize,
    max_value_len: usize,
    table: AtomicPtr<Head>,
    full: AtomicBool,
    overflow: AtomicPtr<Entry<N>>,
    overflow_count: Cells,
    writer: Mutex<Writer<N>>,
}

impl<K: FamilyKind<Config = ()>, const N: usize> Family<K, N> {
    loom_const_fn! {
        /// A family with the given label names; panics (a compile error in a
        /// `static`) on an invalid or repeated name.
        pub const fn new(name: &'static str, help: &'static str, label_names: [&'static str; N]) -> Self {
            Self::build(Meta::new(name, help), label_names, ())
        }
    }
}

impl<const N: usize> Family<Histogram, N> {
    loom_const_fn! {
        /// A histogram family with the given bucket bounds.
        ///
        /// ```
        /// use nanometrics::{Family, Histogram, DEFAULT_BUCKETS};
        /// static DURATION: Family<Histogram, 2> = Family::histogram(
        ///     "http_request_duration_seconds", "HTTP request duration.",
        ///     ["method", "endpoint"], &DEFAULT_BUCKETS);
        /// DURATION.with(["POST", "/events"]).observe(0.02);
        /// assert_eq!(DURATION.with(["POST", "/events"]).count(), 1);
        /// ```
        pub const fn histogram(
            name: &'static str,
            help: &'static str,
            label_names: [&'static str; N],
            bounds: &'static [f64],
        ) -> Self {
            assert!(crate::metric::histogram::valid_bounds(bounds), "histogram bounds must be finite and strictly increasing");
            Self::build(Meta::new(name, help), label_names, Cow::Borrowed(bounds))
        }
    }
}

impl<K: FamilyKind, const N: usize> Family<K, N> {
    loom_const_fn! {
        const fn build(meta: Meta, label_names: [&'static str; N], config: K::Config) -> Self {
            assert!(
                crate::name::valid_label_names(&label_names, K::RESERVED_LABEL),
                "invalid, reserved or repeated label name"
            );
            Self {
                meta,
                label_names,
                config,
                limit: DEFAULT_CARDINALITY_LIMIT,
                max_value_len: DEFAULT_MAX_VALUE_LEN,
                table: AtomicPtr::new(Table::<N>::empty()),
                full: AtomicBool::new(false),
                overflow: AtomicPtr::new(ptr::null_mut()),
                overflow_count: Cells::new(1),
                writer: Mutex::new(Writer { order: Vec::new(), retired: Vec::new() }),
            }
        }
    }

    /// A family described at run time (names from configuration).
    ///
    /// ```
    /// use nanometrics::{Counter, Family, Meta};
    /// let f = Family::<Counter, 1>::try_new(Meta::try_new("x_total", "").unwrap(), ["le"], ()).unwrap();
    /// f.with(["0.5"]).inc();
    /// assert!(Family::<Counter, 1>::try_new(Meta::new("y_total", ""), ["__bad"], ()).is_err());
    /// ```
    pub fn try_new(
        meta: Meta,
        label_names: [&'static str; N],
        config: K::Config,
    ) -> Result<Self, Error> {
        meta.check()?;
        let mut names = label_names.iter().copied();
        check_label_names(
            meta.name(),
            &mut |f| names.by_ref().for_each(&mut *f),
            K::RESERVED_LABEL,
        )?;
        Ok(Self::build(meta, label_names, config))
    }

    loom_const_fn! {
        /// Sets the cardinality limit (at least 1).
        pub const fn with_limit(mut self, limit: usize) -> Self {
            self.limit = if limit == 0 { 1 } else { limit };
            self
        }
    }

    loom_const_fn! {
        /// Sets the longest label value, in bytes, that gets its own series.
        pub const fn with_max_value_len(mut self, len: usize) -> Self {
            self.max_value_len = len;
            self
        }
    }

    /// The label names.
    pub fn label_names(&self) -> &[&'static str; N] {
        &self.label_names
    }

    /// The series for `values`, created on first use. A hit takes no lock.
    #[inline]
    pub fn with(&self, values: [&str; N]) -> K::Ref<'_> {
        // Inline down to the probe for compact keys (every value at most 7
        // bytes: one word each); other keys go out of line. Past the words,
        // nothing on this path needs `values` again (a miss rebuilds them
        // from the words), so they are not kept in memory or registers.
        // The paths out of line return the index, and each handle is made
        // here: a handle that the code after it knows has no cells to
        // allocate.
        let Some(words) = compact_words(&values) else {
            // Out of line, without a hop through a dispatcher's frame.
            let index = if values.iter().any(|v| v.len() > SHORT) {
                self.index_long(values)
            } else {
                self.index_short(values)
            };
            return K::make_ref(index, &self.config);
        };
        if let Some(index) = self.table().find_compact(&words) {
            return K::make_ref(Some(index), &self.config);
        }
        K::make_ref(self.index_compact_miss(words), &self.config)
    }

    /// The current table.
    #[inline(always)]
    fn table(&self) -> Table<'_, N> {
        // Acquire pairs with the Release store in `insert`: the table's
        // header and slots are initialised before we read them.
        let t = self.table.load(Ordering::Acquire);
        // SAFETY: a family's tables are `Table::empty` or allocated by
        // `insert`, and freed only in `Family::drop` (replaced ones are
        // retired, not freed), so `t` outlives `&self`.
        unsafe { Table::at(t) }
    }

    /// The index for [`with`](Self::with) of short keys, every value at most 15 bytes and
    /// one more than 7: the same kind of path as compact keys, two words per
    /// value.
    #[inline(never)]
    fn index_short(&self, values: [&str; N]) -> Option<u32> {
        let mut words = [[0; 2]; N];
        for (w, v) in words.iter_mut().zip(&values) {
            // Every value has at most `SHORT` bytes (above).
            *w = short_words(v.as_bytes()).unwrap_or([0, 0]);
        }
        if let Some(index) = self.table().find_short(&words) {
            return Some(index);
        }
        self.index_slow(&values)
    }

    /// The index for [`with`](Self::with) of keys with a value longer than 15 bytes.
    #[inline(never)]
    fn index_long(&self, values: [&str; N]) -> Option<u32> {
        if let Some(index) = self.table().find_long(&values) {
            return Some(index);
        }
        self.index_slow(&values)
    }

    /// The index for [`with`](Self::with) after a compact key missed: the values, rebuilt
    /// from their [`compact_word`]s, go to the slow path.
    #[cold]
    #[inline(never)]
    fn index_compact_miss(&self, words: [u64; N]) -> Option<u32> {
        let bytes = words.map(u64::to_le_bytes);
        let mut values = [""; N];
        for ((v, b), w) in values.iter_mut().zip(&bytes).zip(words) {
            // The top set bit is the marker in the byte at the value's
            // length (at most 7: `min` only spares a bounds check); the bytes
            // before it are the value's.
            let len = w.checked_ilog2().map_or(0, |bit| bit as usize / 8);
            match std::str::from_utf8(&b[..len.min(COMPACT)]) {
                Ok(s) => *v = s,
                // Unreachable: the bytes were copied from a `&str`.
                Err(_) => return self.overflow_index(),
            }
        }
        self.index_slow(&values)
    }

    #[cold]
    #[inline(never)]
    fn index_slow(&self, values: &[&str; N]) -> Option<u32> {
        // The overflow series' own labels name the overflow series: a real
        // entry with them would be a second series with the same labels.
        if N > 0 && values.iter().all(|v| *v == OVERFLOW_VALUE) {
            return self.overflow_series();
        }
        if values.iter().any(|v| v.len() > self.max_value_len) {
            return self.overflow_index();
        }
        // Acquire pairs with the Release store of `full` after the last
        // insert: a thread that sees the family full also sees every entry,
        // including one another thread inserted for these very values between
        // our miss and now, so look again before overflowing.
        if self.full.load(Ordering::Acquire) {
            let table = self.table();
            if let Some(index) = table.find(&table.key(values)) {
                return Some(index);
            }
            return self.overflow_index();
        }
        self.insert(values).or_else(|| self.overflow_index())
    }

    /// Inserts `values` unless present; `None` when the family is full.
    fn insert(&self, values: &[&str; N]) -> Option<u32> {
        let mut w = lock(&self.writer);
        let mut table = self.table();
        // Every table of a family but the empty one it starts with shares
        // its seeds, so a hash computed in the current table is the hash in
        // a grown one too.
        let empty = Table::<N>::is_empty(table.ptr);
        let mut hash = None;
        if !empty {
            let key = table.key(values);
            if let Some(index) = table.find(&key) {
                return Some(index);
            }
            hash = Some(key.hash);
        }
        if w.order.len() >= self.limit {
            self.full.store(true, Ordering::Release);
            return None;
        }
        // Grow (or create) so the table stays at most half full.
        let cap = if empty { 0 } else { table.capacity() };
        if (w.order.len() + 1) * 2 > cap {
            let seeds = if empty {
                Seeds::new()
            } else {
                table.head().seeds.clone()
            };
            let bigger = Table::<N>::alloc((cap * 2).max(16), seeds)?;
            // SAFETY: freed only in `Family::drop`, as every table of ours.
            let filled = unsafe { Table::at(bigger) };
            for &e in &w.order {
                // SAFETY: entries in `order` are live until `Family::drop`.
                filled.place(e, unsafe { (*e).hash });
            }
            // Release publishes the filled table to `with`.
            self.table.store(bigger, Ordering::Release);
            w.retired.push(table.ptr.cast_mut());
            table = filled;
        }
        let hash = hash.unwrap_or_else(|| table.key(values).hash);
        let cells = Cells::new(K::cells(&self.config));
        let index = cells.index()?;
        let e = Entry::new(hash, values, cells, index)?;
        table.place(e, hash);
        w.order.push(e);
        if w.order.len() >= self.limit {
            self.full.store(true, Ordering::Release);
        }
        Some(index)
    }

    /// The overflow series' index, counting the lookup as an overflow.
    fn overflow_index(&self) -> Option<u32> {
        if let Some(i) = self.overflow_count.index() {
            crate::shard::with_local(|s| s.add_u64(i, 1));
        }
        self.overflow_series()
    }

    /// The overflow series' index, the series created on first use.
    fn overflow_series(&self) -> Option<u32> {
        let mut p = self.overflow.load(Ordering::Acquire);
        if p.is_null() {
            let _w = lock(&self.writer);
            p = self.overflow.load(Ordering::Acquire);
            if p.is_null() {
                let cells = Cells::new(K::cells(&self.config));
                // Never placed in a table (lookups of its values are redirected
                // before they probe); its hash only names its layout's shape.
                let hash = Shape::of([OVERFLOW_VALUE.len()]).class();
                match Entry::new(hash, &[OVERFLOW_VALUE; N], cells, 0) {
                    Some(e) => p = e,
                    // Unreachable (the header and N short values fit), but
                    // with nothing to count on, hand out the dead handle.
                    None => return None,
                }
                self.overflow.store(p, Ordering::Release);
            }
        }
        // SAFETY: the overflow entry is freed only in `drop`.
        let cells = unsafe { &(*p).cells };
        cells.index()
    }

    /// Number of distinct label-value sets (the overflow series excluded).
    pub fn len(&self) -> usize {
        lock(&self.writer).order.len()
    }

    /// Whether no series exists yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lookups sent to the overflow series so far.
    pub fn overflowed(&self) -> u64 {
        self.overflow_count
            .allocated()
            .map_or(0, |i| global_shards().sum_u64(i))
    }
}

impl<K: FamilyKind, const N: usize> Metric for Family<K, N> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        K::KIND
    }
    fn check(&self) -> Result<(), Error> {
        self.meta.check()?;
        let mut names = self.label_names.iter().copied();
        check_label_names(
            self.meta.name(),
            &mut |f| names.by_ref().for_each(&mut *f),
            K::RESERVED_LABEL,
        )
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.family(&self.meta, K::KIND);
        let w = lock(&self.writer);
        let overflow = self.overflow.load(Ordering::Acquire);
        let entries = w
            .order
            .iter()
            .copied()
            .chain((!overflow.is_null()).then_some(overflow));
        let mut sums = global_shards().reader();
        for e in entries {
            // SAFETY: entries live until `Family::drop`, which cannot run
            // while `&self` is borrowed.
            let (values, cells) = unsafe { (Entry::values(e), &(*e).cells) };
            let index = cells.allocated();
            let value = match (K::SUM, index) {
                (SUM_U64, Some(i)) => Value::Counter(sums.sum_u64(i)),
                (SUM_F64, Some(i)) => Value::CounterF64(sums.sum_f64(i)),
                _ => K::value(index, &self.config),
            };
            v.dynamic_series(&self.label_names, &values, value);
        }
    }
    fn unique_series(&self) -> Option<UniqueSeries> {
        // Entries are inserted only under the writer lock after a miss on the
        // exact values, so no two entries have equal values; and a lookup of
        // all-`OVERFLOW_VALUE` labels returns the overflow series, so no
        // entry has the overflow series' values. With no labels (N = 0) the
        // one entry and the overflow series (reached when the shard table is
        // full) would both have none: that family keeps the check.
        (N > 0).then(UniqueSeries::new)
    }
    fn reserve(&self) -> bool {
        self.overflow_count.index().is_some()
    }
    fn overflowed(&self) -> Option<u64> {
        Some(Family::overflowed(self))
    }
}

impl<K: FamilyKind, const N: usize> Drop for Family<K, N> {
    fn drop(&mut self) {
        let w = match self.writer.get_mut() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        let overflow = ptr_get_mut(&mut self.overflow);
        for e in w
            .order
            .drain(..)
            .chain((!overflow.is_null()).then_some(overflow))
        {
            // SAFETY: each entry came from `Entry::new` and is freed once;
            // `&mut self` means no handle or reader remains.
            unsafe { Entry::free(e) };
        }
        let current = ptr_get_mut(&mut self.table);
        for t in w.retired.drain(..).chain([current]) {
            // SAFETY: as above, for tables (`free` leaves the shared
            // `EMPTY` alone).
            unsafe { Table::<N>::free(t) };
        }
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;

    #[test]
    fn grows_and_finds_everything() {
        // Fewer under Miri (still four table replacements: 16 to 256 slots).
        const SERIES: u64 = if cfg!(miri) { 100 } else { 1000 };
        let f: Family<Counter, 2> = Family::new("grow_total", "", ["a", "b"]);
        for i in 0..SERIES {
            let s = i.to_string();
            f.with([&s, "x"]).inc_by(i);
        }
        assert_eq!(f.len(), SERIES as usize);
        for i in 0..SERIES {
            let s = i.to_string();
            assert_eq!(f.with([&s, "x"]).get(), i);
        }
        assert_eq!(f.overflowed(), 0);
    }

    #[test]
    fn short_words_are_the_zero_padded_bytes_and_the_length() {
        for n in 0..=SHORT {
            let v: Vec<u8> = (1..=n as u8).map(|i| i.wrapping_mul(37)).collect();
            let mut padded = [0u8; 16];
            padded[..n].copy_from_slice(&v);
            padded[15] = n as u8;
            let expected = [
                u64::from_le_bytes(padded[..8].try_into().unwrap()),
                u64::from_le_bytes(padded[8..].try_into().unwrap()),
            ];
            assert_eq!(short_words(&v), Some(expected), "len {n}");
        }
        assert_eq!(short_words(&[b'x'; SHORT + 1]), None);
    }

    #[test]
    fn compact_words_are_the_zero_padded_bytes_and_a_marker() {
        for n in 0..=COMPACT {
            let v: Vec<u8> = (1..=n as u8).map(|i| i.wrapping_mul(37)).collect();
            let mut padded = [0u8; 8];
            padded[..n].copy_from_slice(&v);
            padded[n] = 1;
            let expected = u64::from_le_bytes(padded);
            assert_eq!(compact_word(&v), Some(expected), "len {n}");
        }
        assert_eq!(compact_word(&[b'x'; COMPACT + 1]), None);
    }

    #[test]
    fn compact_words_read_pairs_as_single_values() {
        // Every pair of lengths through `compact_pair`'s jump, and a third
        // value through `compact_word` alone, as single values read them.
        let value = |len: usize, salt: u8| -> String {
            (0..len)
                .map(|i| char::from(b'a' + (i as u8 + salt) % 26))
                .collect()
        };
        for a in 0..=COMPACT + 1 {
            for b in 0..=COMPACT + 1 {
                let (va, vb, vc) = (value(a, 0), value(b, 7), value(b, 3));
                let single = |v: &String| compact_word(v.as_bytes());
                let expected = single(&va).zip(single(&vb)).map(|(x, y)| [x, y]);
                assert_eq!(compact_words(&[&*va, &*vb]), expected, "{a} {b}");
                let expected = expected.zip(single(&vc)).map(|([x, y], z)| [x, y, z]);
                assert_eq!(compact_words(&[&*va, &*vb, &*vc]), expected, "{a} {b}");
                assert_eq!(compact_words(&[&*vc]), single(&vc).map(|z| [z]));
            }
        }
        assert_eq!(compact_words::<0>(&[]), Some([]));
    }

    /// Values of the given lengths, each its own allocation of exactly its
    /// length (a read past its end is out of bounds, which Miri reports).
    fn exact_values<const N: usize>(lens: [usize; N], salt: usize) -> [Box<str>; N] {
        let mut i = 0;
        lens.map(|len| {
            i += 1;
            (0..len)
                .map(|j| char::from(b'a' + ((j + i + salt) % 26) as u8))
                .collect::<String>()
                .into_boxed_str()
        })
    }

    #[test]
    fn values_at_the_word_boundaries_in_every_combination() {
        // Lengths at and around the compact (7, 8) and short (15, 16)
        // limits, three values per key (a pair, then one alone), every
        // combination; and one value per key.
        let lens: &[usize] = if cfg!(miri) {
            &[0, 3, 7, 8, 15, 16]
        } else {
            &[0, 1, 3, 4, 6, 7, 8, 9, 14, 15, 16, 17, 24]
        };
        let f: Family<Counter, 3> =
            Family::new("bounds_total", "", ["a", "b", "c"]).with_limit(usize::MAX);
        let mut sets = Vec::new();
        for &a in lens {
            for &b in lens {
                for &c in lens {
                    sets.push(exact_values([a, b, c], a + b));
                }
            }
        }
        for (i, [a, b, c]) in sets.iter().enumerate() {
            f.with([a, b, c]).inc_by(i as u64 + 1);
        }
        assert_eq!(f.len(), sets.len());
        for (i, [a, b, c]) in sets.iter().enumerate() {
            assert_eq!(f.with([a, b, c]).get(), i as u64 + 1, "{a:?} {b:?} {c:?}");
        }
        let one: Family<Counter, 1> = Family::new("bound_total", "", ["a"]);
        for &len in lens {
            let [v] = exact_values([len], 0);
            one.with([&v]).inc_by(len as u64 + 1);
        }
        for &len in lens {
            let [v] = exact_values([len], 0);
            assert_eq!(one.with([&v]).get(), len as u64 + 1, "{v:?}");
        }
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
            // SAFETY: as above.
            assert!(!unsafe { Entry::matches(Entry::vacant(), &key) });
        }
        for values in [short, long] {
            let key = Seeds::new().key(&values);
            // SAFETY: as above.
            assert!(!unsafe { Entry::matches(Entry::vacant(), &key) });
        }
        // SAFETY: as above.
        assert!(!unsafe { Entry::<0>::matches_compact(Entry::vacant(), &[]) });
        // SAFETY: as above.
        assert!(!unsafe { Entry::<1>::matches_compact(Entry::vacant(), &[1]) });
    }

    #[test]
    fn families_start_on_the_shared_empty_table_and_leave_it() {
        let a: Family<Counter, 1> = Family::new("a_total", "", ["a"]);
        let b: Family<Counter, 2> = Family::new("b_total", "", ["a", "b"]);
        assert!(Table::<1>::is_empty(a.table().ptr));
        assert_eq!(a.with(["x"]).get(), 0, "a miss in the empty table inserts");
        assert!(!Table::<1>::is_empty(a.table().ptr));
        assert!(Table::<2>::is_empty(b.table().ptr));
        drop(a);
        // The empty table outlives the family that left it.
        b.with(["x", "y"]).inc();
        assert_eq!(b.with(["x", "y"]).get(), 1);
        let c: Family<Counter, 1> = Family::new("c_total", "", ["a"]);
        assert_eq!((c.len(), c.with(["x"]).get()), (0, 0));
    }

    #[test]
    fn keys_take_the_shape_of_their_longest_value() {
        let t = Seeds::new();
        let sets = [["", ""], ["a", "bcdefgh"], ["PUT", "301"], ["abcdefg", "x"]];
        for values in &sets {
            assert_eq!(t.key(values).shape, Shape::Compact, "{values:?}");
        }
        assert_eq!(t.key(&["abcdefgh", ""]).shape, Shape::Short);
        assert_eq!(t.key(&["abcdefghijklmnop", ""]).shape, Shape::Long);
    }

    #[test]
    fn the_locked_lookup_finds_every_shape() {
        // `insert` and a full family look values up through `Table::find`
        // (any shape), not the inline compact path `with` takes.
        let f: Family<Counter, 2> = Family::new("find_total", "", ["a", "b"]);
        let sets = [
            ["", ""],
            ["PUT", "301"],
            ["abcdefg", "x"],
            ["abcdefgh", ""],
            ["a", "abcdefghijklmnop"],
        ];
        for [a, b] in &sets {
            f.with([a, b]).inc();
        }
        // SAFETY: the table lives as long as `f`.
        let table = f.table();
        for (i, values) in sets.iter().enumerate() {
            let index = table.find(&table.key(values));
            assert!(index.is_some(), "{i}: {values:?}");
            if let Some(words) = values
                .iter()
                .map(|v| compact_word(v.as_bytes()))
                .collect::<Option<Vec<u64>>>()
            {
                let words: [u64; 2] = words.try_into().unwrap();
                assert_eq!(index, table.find_compact(&words), "{i}: {values:?}");
            }
        }
        assert_eq!(table.find(&table.key(&["PUT", "302"])), None);
    }

    #[test]
    fn values_differing_only_in_trailing_nul_or_split_are_distinct() {
        let f: Family<Counter, 2> = Family::new("nul_total", "", ["a", "b"]);
        let sets = [
            ["a", ""],
            ["a\0", ""],
            ["", "a"],
            ["a", "\0"],
            ["abcdefgh", "i"],
            ["abcdefghi", ""],
            ["abcdefgh\0", ""],
            // 7 bytes (compact, its length in the last byte of its word) and
            // 8 bytes whose last byte equals that length.
            ["abcdefg", ""],
            ["abcdefg\u{7}", ""],
            ["", "abcdefg"],
            ["\0", "abcdefg"],
            // 15 bytes (short, its length in the last byte) and 16 bytes
            // whose last byte equals that length.
            ["abcdefghijklmno", ""],
            ["abcdefghijklmno\u{f}", ""],
            ["abcdefghijklmnop", ""],
        ];
        for (i, [a, b]) in sets.iter().enumerate() {
            f.with([a, b]).inc_by(i as u64 + 1);
        }
        assert_eq!(f.len(), sets.len());
        for (i, [a, b]) in sets.iter().enumerate() {
            assert_eq!(f.with([a, b]).get(), i as u64 + 1, "{a:?} {b:?}");
        }
    }

    #[test]
    fn values_of_every_length_round_trip() {
        let f: Family<Counter, 3> = Family::new("lens_total", "", ["a", "b", "c"]);
        let long = "x".repeat(40);
        let sets: Vec<[String; 3]> = (0..40)
            .map(|n| {
                [
                    long[..n].to_string(),
                    String::new(),
                    long[..(n * 7) % 40].to_string(),
                ]
            })
            .collect();
        for (i, s) in sets.iter().enumerate() {
            f.with([&s[0], &s[1], &s[2]]).inc_by(i as u64 + 1);
        }
        assert_eq!(f.len(), 40);
        for (i, s) in sets.iter().enumerate() {
            assert_eq!(f.with([&s[0], &s[1], &s[2]]).get(), i as u64 + 1);
        }
        let mut v = crate::registry::tests::Collect::default();
        f.visit(&mut v);
        let expected: Vec<(String, f64)> = sets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    format!("lens_total,a={},b={},c={}", s[0], s[1], s[2]),
                    i as f64 + 1.0,
                )
            })
            .collect();
        assert_eq!(v.series, expected, "values read back in insertion order");
    }

    /// A value of `len` bytes of a pattern, its last byte `last` (ASCII).
    fn long_value(len: usize, last: u8) -> String {
        (0..len)
            .map(|i| {
                char::from(if i + 1 == len {
                    last
                } else {
                    b'a' + (i % 26) as u8
                })
            })
            .collect()
    }

    #[test]
    fn long_values_of_every_length_are_told_apart() {
        // Under Miri, the lengths around the word and 16-byte boundaries.
        let lens: Vec<usize> = if cfg!(miri) {
            vec![16, 17, 23, 24, 31, 32, 33, 36, 47, 48, 80]
        } else {
            (16..=80).collect()
        };
        let f: Family<Counter, 2> = Family::new("longs_total", "", ["a", "b"]);
        let mut sets: Vec<[String; 2]> = Vec::new();
        for len in lens {
            // Equal prefixes, different lengths (across word and 16-byte
            // boundaries), and values that differ only in their last byte,
            // beside a short value, a compact one, an empty one, a long one.
            for last in [b'x', b'y', 0] {
                let v = long_value(len, last);
                sets.push([v.clone(), String::new()]);
                sets.push([String::new(), v.clone()]);
                sets.push([v.clone(), "presence".to_string()]);
                sets.push([v.clone(), "ab".to_string()]);
                sets.push([v.clone(), long_value(len, b'z')]);
            }
        }
        // One series per distinct set; each set's own count.
        for (i, [a, b]) in sets.iter().enumerate() {
            f.with([a, b]).inc_by(i as u64 + 1);
        }
        assert_eq!(f.len(), sets.len());
        for (i, [a, b]) in sets.iter().enumerate() {
            assert_eq!(f.with([a, b]).get(), i as u64 + 1, "{a:?} {b:?}");
        }
        // A lookup of a value that no set has: a miss that inserts.
        assert_eq!(f.with([&long_value(81, b'x'), ""]).get(), 0);
        assert_eq!(f.len(), sets.len() + 1);
    }

    #[test]
    fn the_longest_value_gets_its_own_series() {
        let f: Family<Counter, 2> = Family::new("max_total", "", ["a", "b"]);
        let max = long_value(DEFAULT_MAX_VALUE_LEN, b'x');
        let max_y = long_value(DEFAULT_MAX_VALUE_LEN, b'y');
        let shorter = long_value(DEFAULT_MAX_VALUE_LEN - 1, b'x');
        f.with([&max, "a"]).inc();
        f.with([&max_y, "a"]).inc_by(2);
        f.with([&shorter, "a"]).inc_by(3);
        f.with([&max, &max]).inc_by(4);
        assert_eq!(f.with([&max, "a"]).get(), 1);
        assert_eq!(f.with([&max_y, "a"]).get(), 2);
        assert_eq!(f.with([&shorter, "a"]).get(), 3);
        assert_eq!(f.with([&max, &max]).get(), 4);
        assert_eq!((f.len(), f.overflowed()), (4, 0));
        // One byte more overflows.
        f.with([&long_value(DEFAULT_MAX_VALUE_LEN + 1, b'x'), "a"])
            .inc();
        assert_eq!((f.len(), f.overflowed()), (4, 1));
    }

    #[test]
    fn long_key_rounds_hash_apart_what_differs_only_in_layout() {
        // Keys whose value bytes line up but whose split between values, or
        // lengths, differ: their rounds differ (see `LONG_END`), so under any
        // one seed (a random one here) their hashes do too: identical rounds
        // would collide under every seed.
        let t = Seeds::new();
        let a16 = long_value(16, b'x');
        let a24 = long_value(24, b'x');
        let a32 = long_value(32, b'x');
        let sets: [[&str; 2]; 8] = [
            [&a16, ""],
            [&a16, "\0"],
            [&a24, ""],
            [&a32, ""],
            [&a16[..8], &a16],
            [&a32[..16], &a32[16..]],
            [&a16, &a16],
            [&a16, &a16[..15]],
        ];
        let hashes: Vec<u64> = sets.iter().map(|v| t.key(v).hash).collect();
        for (i, h) in hashes.iter().enumerate() {
            assert_eq!(t.key(&sets[i]).shape, Shape::Long, "{i}");
            for (j, g) in hashes.iter().enumerate().skip(i + 1) {
                assert_ne!(h, g, "{i} {j}");
            }
        }
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

    #[test]
    fn lookups_agree_with_a_map() {
        // Random keys from a small alphabet and a spread of lengths (so that
        // many share prefixes, lengths and words), looked up again and again
        // against a HashMap of the counts.
        const STEPS: usize = if cfg!(miri) { 300 } else { 20_000 };
        // No cardinality limit: the model has no overflow series.
        let f: Family<Counter, 3> =
            Family::new("model_total", "", ["a", "b", "c"]).with_limit(usize::MAX);
        let mut model = std::collections::HashMap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let lens = [
            0, 1, 7, 8, 15, 16, 17, 23, 24, 31, 32, 33, 36, 40, 63, 64, 65,
        ];
        let mut pool: Vec<String> = Vec::new();
        for _ in 0..60 {
            let len = lens[next() as usize % lens.len()];
            let v: String = (0..len)
                .map(|_| if next() % 8 == 0 { 'b' } else { 'a' })
                .collect();
            pool.push(v);
        }
        for step in 0..STEPS {
            let key = [0, 1, 2].map(|_| pool[next() as usize % pool.len()].as_str());
            let by = step as u64 % 5 + 1;
            f.with(key).inc_by(by);
            *model.entry(key).or_insert(0) += by;
            let probe = [0, 1, 2].map(|_| pool[next() as usize % pool.len()].as_str());
            assert_eq!(
                f.with(probe).get(),
                model.get(&probe).copied().unwrap_or(0),
                "{probe:?}"
            );
            // The lookup above inserted `probe` (at zero) if it was new.
            model.entry(probe).or_insert(0);
        }
        assert_eq!((f.len(), f.overflowed()), (model.len(), 0));
        for (key, count) in &model {
            assert_eq!(f.with(*key).get(), *count, "{key:?}");
        }
    }

    #[test]
    fn a_family_without_labels_has_one_series() {
        let f: Family<Counter, 0> = Family::new("none_total", "", []);
        f.with([]).inc();
        f.with([]).inc_by(2);
        assert_eq!((f.len(), f.with([]).get()), (1, 3));
    }

    #[test]
    fn separator_prevents_ambiguity() {
        let f: Family<Counter, 2> = Family::new("sep_total", "", ["a", "b"]);
        f.with(["ab", "c"]).inc();
        f.with(["a", "bc"]).inc();
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn the_overflow_labels_name_the_overflow_series() {
        let f: Family<Counter, 2> = Family::new("marker_total", "", ["a", "b"]).with_limit(1);
        f.with([OVERFLOW_VALUE, OVERFLOW_VALUE]).inc();
        f.with(["x", OVERFLOW_VALUE]).inc();
        f.with(["y", "y"]).inc();
        assert_eq!(f.len(), 1, "only (x, marker) is a real entry");
        assert_eq!(f.overflowed(), 1, "only (y, y) overflowed");
        assert_eq!(f.with([OVERFLOW_VALUE, OVERFLOW_VALUE]).get(), 2);
        let mut v = crate::registry::tests::Collect::default();
        f.visit(&mut v);
        assert_eq!(
            v.series.len(),
            2,
            "one series per label set: {:?}",
            v.series
        );
    }

    #[test]
    fn long_values_overflow() {
        let f: Family<Counter, 1> = Family::new("long_total", "", ["a"]).with_max_value_len(4);
        f.with(["abcd"]).inc();
        f.with(["abcde"]).inc();
        assert_eq!(f.len(), 1);
        assert_eq!(f.overflowed(), 1);
    }

    #[test]
    fn concurrent_inserts_of_the_same_values_make_one_series() {
        // Passes over the 100 values per thread: one under Miri.
        const ROUNDS: usize = if cfg!(miri) { 1 } else { 2 };
        let f: Family<Counter, 1> = Family::new("race_total", "", ["app_id"]).with_limit(64);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..100 * ROUNDS {
                        f.with([&(i % 100).to_string()]).inc();
                    }
                });
            }
        });
        // 100 distinct values, limit 64: 64 series, the rest overflowed.
        assert_eq!(f.len(), 64);
        let mut total = 0.0;
        let mut v = crate::registry::tests::Collect::default();
        f.visit(&mut v);
        for (_, val) in &v.series {
            total += val;
        }
        assert_eq!(total, (4 * 100 * ROUNDS) as f64, "no update lost");
        assert_eq!(f.overflowed(), 4 * ROUNDS as u64 * 36);
    }

    #[test]
    fn histogram_family() {
        let f: Family<Histogram, 1> = Family::histogram("h_seconds", "", ["m"], &[1.0]);
        f.with(["GET"]).observe(0.5);
        f.with(["GET"]).observe(5.0);
        assert_eq!(f.with(["GET"]).read(), (vec![1, 2], 2, 5.5));
        let r: Result<Family<Histogram, 1>, _> =
            Family::try_new(Meta::new("x", ""), ["le"], Cow::Borrowed(&[1.0][..]));
        assert!(r.is_err());
    }
}
