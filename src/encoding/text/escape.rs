// Escaping label values and help text: backslash and newline always, the
// double quote where the format quotes.
//
// The scan for bytes to escape reads a word (8 bytes) at a time; every label
// value of every series goes through `escape_value`, so its clean case is
// on the scrape's hot path.

/// Calls `put` with `text` escaped in pieces: backslash and newline always,
/// double quote when `QUOTE` is set.
#[inline]
fn escape<const QUOTE: bool>(text: &str, mut put: impl FnMut(&[u8])) {
    let mut rest = text.as_bytes();
    while let Some(i) = first_special::<QUOTE>(rest) {
        let (clean, tail) = rest.split_at(i);
        put(clean);
        let (special, tail) = tail.split_first().unwrap_or((&b'\\', &[]));
        put(match special {
            b'\n' => b"\\n",
            b'"' => b"\\\"",
            _ => b"\\\\",
        });
        rest = tail;
    }
    put(rest);
}

/// Appends a label value, escaped (backslash, newline, double quote).
#[inline(always)]
fn escape_value(out: &mut Vec<u8>, value: &str) {
    if is_clean(value.as_bytes()) {
        copy::put(out, value.as_bytes());
    } else {
        escape_slow(out, value);
    }
}

#[cold]
#[inline(never)]
fn escape_slow(out: &mut Vec<u8>, value: &str) {
    escape::<true>(value, |b| out.extend_from_slice(b));
}

/// Whether `text` holds no backslash, newline or double quote:
/// `first_special::<true>(text).is_none()`, scanned the same way with the
/// same word test ([`special_bytes`]).
///
/// Not written as that call: on the hot path (every label value) LLVM then
/// keeps a bounds check in the word loop that it drops here, and the other
/// loop shapes tried cost more still.
#[inline]
fn is_clean(text: &[u8]) -> bool {
    let word = |at: usize| {
        text.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let n = text.len();
    if n >= 8 {
        let mut at = 0;
        while at + 8 < n {
            if special_bytes::<true>(word(at)) != 0 {
                return false;
            }
            at += 8;
        }
        special_bytes::<true>(word(n - 8)) == 0
    } else if n >= 4 {
        special_bytes::<true>(halves(text)) == 0
    } else {
        !text.iter().any(|&b| special::<true>(b))
    }
}

/// Text of 4 to 8 bytes as one word made of two overlapping 4-byte halves:
/// bytes 0..4 are `text[0..4]`, bytes 4..8 are `text[n - 4..n]`, so byte `i`
/// is `text[i]` below 4 and `text[n + i - 8]` from 4 on. Every byte of
/// `text` is in it, and no byte of it is special unless one of text's is.
#[inline(always)]
fn halves(text: &[u8]) -> u64 {
    let half = |at: usize| {
        text.get(at..at + 4)
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map_or(0, u32::from_le_bytes)
    };
    u64::from(half(0)) | u64::from(half(text.len().saturating_sub(4))) << 32
}

/// Whether `b` must be escaped.
#[inline]
fn special<const QUOTE: bool>(b: u8) -> bool {
    b == b'\\' || b == b'\n' || (QUOTE && b == b'"')
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each zero byte of `y`, and maybe of bytes above one (a
/// borrow runs up from a zero byte, never down): non-zero iff `y` has a zero
/// byte, and its lowest set bit is in the lowest zero byte.
#[inline(always)]
fn zero_bytes(y: u64) -> u64 {
    y.wrapping_sub(LO) & !y & HI
}

/// The high bit of each byte of the word `x` to escape (a word holds a byte
/// `c` where `x ^ c*LO` has a zero byte), as [`zero_bytes`]: the lowest set
/// bit is exact.
///
/// A first test asks for no backslash and no byte below `"` (0x22 + 1:
/// `(x - 0x23*LO) & !x & HI` is non-zero iff some byte is below 0x23), which
/// clears most words in fewer steps; a word with a space, `!`, a control byte
/// or a special is then checked exactly, out of line.
#[inline(always)]
fn special_bytes<const QUOTE: bool>(x: u64) -> u64 {
    let below = x.wrapping_sub(LO * 0x23) & !x & HI;
    if below | zero_bytes(x ^ (LO * u64::from(b'\\'))) == 0 {
        0
    } else {
        special_bytes_exact::<QUOTE>(x)
    }
}

/// [`special_bytes`]' exact test.
#[inline(never)]
fn special_bytes_exact<const QUOTE: bool>(x: u64) -> u64 {
    let mut m = zero_bytes(x ^ (LO * u64::from(b'\\'))) | zero_bytes(x ^ (LO * u64::from(b'\n')));
    if QUOTE {
        m |= zero_bytes(x ^ (LO * u64::from(b'"')));
    }
    m
}

/// The index of the first byte of `text` to escape: a word at a time (see
/// [`special_bytes`]), the last word overlapping the one before it (its
/// bytes already scanned are clean, so the first special it holds is the
/// first past them); text of 4 to 7 bytes as [`halves`], shorter text byte
/// by byte. [`is_clean`] is the same scan for label values.
#[inline]
fn first_special<const QUOTE: bool>(text: &[u8]) -> Option<usize> {
    let word = |at: usize| {
        text.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    // The first flagged byte of a word's mask.
    let first = |m: u64| (m.trailing_zeros() / 8) as usize;
    let n = text.len();
    if n >= 8 {
        let mut at = 0;
        while at + 8 < n {
            let m = special_bytes::<QUOTE>(word(at));
            if m != 0 {
                return Some(at + first(m));
            }
            at += 8;
        }
        let m = special_bytes::<QUOTE>(word(n - 8));
        (m != 0).then(|| n - 8 + first(m))
    } else if n >= 4 {
        let m = special_bytes::<QUOTE>(halves(text));
        (m != 0).then(|| match first(m) {
            i @ 0..4 => i,
            i => n + i - 8,
        })
    } else {
        text.iter().position(|&b| special::<QUOTE>(b))
    }
}
