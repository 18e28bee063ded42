//! Keys: how a lookup's label values become words and a hash. A key's
//! [`Shape`] (compact, short or long) follows from the values' lengths alone
//! and picks both its words and its hash, mixed with the per-family [`Seeds`].
//! Relies on nothing else in the family; the table compares entries against
//! these words.

use std::hash::BuildHasher;

/// The longest value of a [`Shape::Compact`] key: its word keeps the last byte
/// for the length.
pub(super) const COMPACT: usize = 7;

/// The longest value of a [`Shape::Short`] key: its two words keep the last
/// byte for the length.
pub(super) const SHORT: usize = 15;

/// How an entry lays out its values, a function of their lengths alone; the
/// top two bits of a key's hash name it, so equal hashes mean equal shapes and
/// a short or long lookup, which compares the hash first, never reads an
/// entry's words in another shape's layout. A compact lookup compares no
/// hash: it reads the first `N` words, which every shape has, and those of
/// another shape start with [`NOT_COMPACT`](super::table::NOT_COMPACT).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Shape {
    /// Every value has at most [`COMPACT`] bytes: one word each (see
    /// [`compact_word`]).
    Compact,
    /// Every value has at most [`SHORT`] bytes, one more than [`COMPACT`]:
    /// two words each (see [`short_words`]).
    Short,
    /// A value is longer than [`SHORT`]: each such value zero-padded to
    /// whole words, each other value two words as in a short key (see
    /// [`Entry::matches_long`](super::table::Entry::matches_long)).
    Long,
}

impl Shape {
    /// The shape of values of these lengths.
    pub(super) fn of(lens: impl IntoIterator<Item = usize>) -> Self {
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
    pub(super) const fn room(self, len: usize) -> usize {
        match self {
            Shape::Compact => 8,
            Shape::Short => 16,
            Shape::Long if len <= SHORT => 16,
            Shape::Long => (len + 7) & !7,
        }
    }

    /// The top two bits of the hash of a key of this shape.
    #[inline(always)]
    pub(super) const fn class(self) -> u64 {
        match self {
            Shape::Compact => 0,
            Shape::Short => 1 << 62,
            Shape::Long => 2 << 62,
        }
    }

    /// A hash for a key of this shape, from its mixed state: the top two
    /// bits hold the shape (the probe starts at the low bits). A compact
    /// key's keeps the state's low bits, so that its lookup probes from the
    /// state itself (see [`Table::find_compact`](super::table::Table::find_compact)); the others' are the
    /// state shifted, one instruction fewer than a mask.
    #[inline(always)]
    const fn hash(self, acc: u64) -> u64 {
        match self {
            Shape::Compact => acc & (u64::MAX >> 2),
            Shape::Short | Shape::Long => acc >> 2 | self.class(),
        }
    }

    /// Where the values start in an entry's values area: a compact entry's
    /// words at once; any other entry's after a word of [`NOT_COMPACT`](super::table::NOT_COMPACT).
    #[inline(always)]
    pub(super) const fn start(self) -> usize {
        match self {
            Shape::Compact => 0,
            Shape::Short | Shape::Long => 8,
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
pub(super) fn compact_word(v: &[u8]) -> Option<u64> {
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
pub(super) fn compact_words<const N: usize>(values: &[&str; N]) -> Option<[u64; N]> {
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
    // SAFETY: `a.len() == A` and `b.len() == B` (caller).
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
pub(super) fn short_words(v: &[u8]) -> Option<[u64; 2]> {
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
pub(super) fn compact_hash<const N: usize>([mut acc, mul]: [u64; 2], words: &[u64; N]) -> u64 {
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
pub(super) fn short_hash<const N: usize>([mut acc, mul]: [u64; 2], words: &[[u64; 2]; N]) -> u64 {
    for &[lo, hi] in words {
        acc = round(acc, mul, lo, hi);
    }
    Shape::Short.hash(acc)
}

/// The 8 bytes of `c` (at least 8 long) as a little-endian word.
#[inline(always)]
pub(super) fn word(c: &[u8]) -> u64 {
    c.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w))
}

/// The last 8 bytes of `v` (at least 8 long) as a little-endian word.
#[inline(always)]
pub(super) fn last_word(v: &[u8]) -> u64 {
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
pub(super) fn long_key<const N: usize>(
    [mut acc, mul]: [u64; 2],
    values: &[&str; N],
) -> (u64, [[u64; 2]; N]) {
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
pub(super) struct Key<'v, const N: usize> {
    pub(super) values: &'v [&'v str; N],
    pub(super) shape: Shape,
    /// A compact key: each value's [`compact_word`], then a zero. Otherwise
    /// [`short_words`] of each value of at most [`SHORT`] bytes (zeroes for
    /// longer ones).
    pub(super) words: [[u64; 2]; N],
    /// With the shape's [`class`](Shape::class) in its top bits.
    pub(super) hash: u64,
}

/// The table's hasher: randomly seeded per family (so label values chosen by a
/// client cannot be aimed at one probe sequence), fixed under loom, whose
/// replay of an execution needs every probe sequence to repeat exactly.
#[cfg(not(nanometrics_loom))]
type TableHasher = foldhash::fast::RandomState;
#[cfg(nanometrics_loom)]
type TableHasher = foldhash::fast::FixedState;

/// The per-family hash secrets (see [`Table::key`](super::table::Table::key)).
#[derive(Clone)]
pub(super) struct Seeds {
    /// The starting state and the multiplier mask.
    pub(super) mix: [u64; 2],
}

impl Seeds {
    pub(super) fn new() -> Self {
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
    pub(super) fn key<'v, const N: usize>(&self, values: &'v [&'v str; N]) -> Key<'v, N> {
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

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;
    use crate::family::tests::long_value;

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
}
