//! Appending short byte strings to a `Vec<u8>` with a few fixed-size loads
//! and stores instead of a `memcpy` call: most of what a sample line is made
//! of (a label value, a pre-rendered `name="`, a number) is under 32 bytes,
//! and for those the call costs more than the copy.

#![allow(unsafe_code)]

/// Appends `bytes` to `out`, like `extend_from_slice`.
///
/// Up to 32 bytes are copied as two loads and two stores of the size class
/// (16, 8, 4 bytes; under 4, three single bytes), the second pair ending at
/// the last byte, so the two overlap when `bytes` is shorter than twice the
/// size: every byte of `bytes` is read and written, nothing else is. Longer
/// ones go through `memcpy`.
#[inline(always)]
pub(crate) fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n > 32 {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(n);
    let len = out.len();
    // SAFETY: `reserve` left room for `n` more bytes, so `len..len + n` is
    // inside the allocation; `bytes` (a shared borrow) cannot overlap the
    // spare capacity of the `Vec` we hold `&mut`.
    unsafe { copy_short(bytes, out.as_mut_ptr().add(len)) };
    // SAFETY: the `n` bytes after `len` were written just above, within
    // capacity.
    unsafe { out.set_len(len + n) };
}

/// Appends `lead`, the decimal spelling of `v` and a newline, with one
/// capacity check: the end of every integer sample line, `lead` being what
/// separates the value from the name or labels (`} `, ` `, or `"} ` after a
/// label value still open).
#[inline(always)]
pub(crate) fn put_u64_line(out: &mut Vec<u8>, lead: &[u8], v: u64) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(v).as_bytes();
    let (l, n) = (lead.len(), digits.len());
    // A u64 has at most 20 digits, so `l + n + 1 <= l + 21`.
    out.reserve(l + 21);
    let len = out.len();
    // SAFETY: `reserve` left room for `l + 21` more bytes and every write
    // below is within the first `l + n + 1` of them; `lead` (a shared borrow)
    // and `digits` (in `buf`, on the stack) cannot overlap the spare
    // capacity of the `Vec` we hold `&mut`.
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        copy_short(lead, dst);
        copy_short(digits, dst.add(l));
        *dst.add(l + n) = b'\n';
    }
    // SAFETY: the `l + n + 1` bytes after `len` were written just above,
    // within capacity.
    unsafe { out.set_len(len + l + n + 1) };
}

/// Copies `src` to `dst`.
///
/// # Safety
///
/// `dst..dst + src.len()` must be valid for writes and not overlap `src`.
#[inline(always)]
unsafe fn copy_short(src: &[u8], dst: *mut u8) {
    let n = src.len();
    let s = src.as_ptr();
    // SAFETY: each branch reads `s[0..size]` and `s[n - size..n]` with
    // `size <= n`, inside `src`, and writes the same offsets of `dst`, inside
    // the range the caller vouches for; accesses are unaligned.
    unsafe {
        if n > 32 {
            std::ptr::copy_nonoverlapping(s, dst, n);
        } else if n >= 16 {
            let a = s.cast::<u128>().read_unaligned();
            let b = s.add(n - 16).cast::<u128>().read_unaligned();
            dst.cast::<u128>().write_unaligned(a);
            dst.add(n - 16).cast::<u128>().write_unaligned(b);
        } else if n >= 8 {
            let a = s.cast::<u64>().read_unaligned();
            let b = s.add(n - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(a);
            dst.add(n - 8).cast::<u64>().write_unaligned(b);
        } else if n >= 4 {
            let a = s.cast::<u32>().read_unaligned();
            let b = s.add(n - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(a);
            dst.add(n - 4).cast::<u32>().write_unaligned(b);
        } else if n > 0 {
            let (a, b, c) = (*s, *s.add(n / 2), *s.add(n - 1));
            *dst = a;
            *dst.add(n / 2) = b;
            *dst.add(n - 1) = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_lines() {
        // Every digit count (each power of ten and the value before it), and
        // leads of every length the encoder uses and a long one.
        let mut values = vec![0, u64::MAX / 3, u64::MAX];
        for p in 0..20 {
            let t = 10u64.pow(p);
            values.extend([t - 1, t, t + 1]);
        }
        let leads: [&[u8]; 5] = [b"", b"-", b" ", b"} ", b"\"} "];
        let long = [b'x'; 40];
        for v in values {
            for lead in leads.into_iter().chain([&long[..]]) {
                for mut out in [Vec::new(), vec![7u8; 5], Vec::with_capacity(200)] {
                    let before = out.clone();
                    put_u64_line(&mut out, lead, v);
                    let mut want = before.clone();
                    want.extend_from_slice(lead);
                    want.extend_from_slice(format!("{v}\n").as_bytes());
                    assert_eq!(out, want);
                }
            }
        }
    }

    #[test]
    fn copies_every_length_exactly() {
        let source: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(37) ^ 0x5A).collect();
        for n in 0..=70 {
            for offset in 0..3 {
                let bytes = &source[offset..offset + n];
                // Empty, full (forces growth) and roomy buffers.
                for mut out in [Vec::new(), vec![7u8; 5], Vec::with_capacity(200)] {
                    let before = out.clone();
                    put(&mut out, bytes);
                    assert_eq!(out.len(), before.len() + n);
                    assert_eq!(&out[..before.len()], &before[..]);
                    assert_eq!(&out[before.len()..], bytes, "n={n} offset={offset}");
                }
            }
        }
    }
}
