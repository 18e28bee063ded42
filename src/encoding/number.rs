//! Number spellings for the text formats, formatted on the stack.
//!
//! - Integers (counter totals, integer gauges, bucket counts) go through
//!   [`itoa`]: `0`, `42`, `-7`; they are written where the line ends, by
//!   `copy::put_u64_line` (a negative gauge as its sign, then its magnitude).
//! - Floats go through [`ryu`]'s shortest round-trip digits: `0.25`, `3.0`,
//!   `1e16`, `1e-7`; the non-finite values are spelled `+Inf`, `-Inf` and `NaN`,
//!   which both formats (and Go's `strconv.ParseFloat`, Python's `float`)
//!   read back.
//! - Histogram `le` values use the OpenMetrics *canonical* rendering: Go's
//!   `%g` (`strconv.FormatFloat(v, 'g', -1, 64)`) with `.0` appended when
//!   there is neither a decimal point nor an exponent: `0.005`, `1.0`,
//!   `10.0`, `100000.0`, `1e+06`, `1e-05`, `+Inf`. OpenMetrics requires it
//!   (section "Canonical Numbers"); the same spelling is used in text 0.0.4 so
//!   that a bucket series has one name whichever format Prometheus negotiates
//!   (Python's client writes 0.0.4 `le` values the same way).

#![deny(clippy::indexing_slicing)]

/// Room for the longest canonical rendering (24 bytes:
/// `-1.7976931348623157e+308`; fixed-point forms are shorter, as they are used
/// only for exponents −4 to 5).
const CANON_CAP: usize = 32;

/// A stack buffer holding one formatted number.
pub(crate) struct NumBuf {
    bytes: [u8; CANON_CAP],
    len: usize,
}

impl NumBuf {
    const fn new() -> Self {
        Self {
            bytes: [0; CANON_CAP],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn push_all(&mut self, s: &[u8]) {
        for &b in s {
            self.push(b);
        }
    }

    /// The formatted bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

/// Calls `f` with the sample-value spelling of `v`: ryu's shortest digits, or
/// `+Inf`, `-Inf`, `NaN`.
#[inline]
pub(crate) fn with_f64<R>(v: f64, f: impl FnOnce(&[u8]) -> R) -> R {
    if v.is_nan() {
        f(b"NaN")
    } else if v == f64::INFINITY {
        f(b"+Inf")
    } else if v == f64::NEG_INFINITY {
        f(b"-Inf")
    } else {
        let mut b = ryu::Buffer::new();
        f(b.format_finite(v).as_bytes())
    }
}

/// The canonical (Go `%g` plus `.0`) spelling of `v`, used for `le` values.
///
/// ```text
/// 0.0 0.001 0.005 0.1 1.0 2.5 10.0 100000.0 1e+06 1e-05 1.234567e+06 +Inf -Inf NaN
/// ```
pub(crate) fn canonical(v: f64) -> NumBuf {
    let mut out = NumBuf::new();
    if v.is_nan() {
        out.push_all(b"NaN");
        return out;
    }
    if v.is_infinite() {
        out.push_all(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return out;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    if v == 0.0 {
        out.push_all(b"0.0");
        return out;
    }
    // Shortest round-trip digits from ryu (Go's shortest formatting picks the
    // same digits), as d1 d2 … dn × 10^(dp − n): the value is 0.d1…dn × 10^dp.
    let mut ryu_buf = ryu::Buffer::new();
    let text = ryu_buf.format_finite(v.abs()).as_bytes();
    let (mantissa, exp10) = match text.iter().position(|&c| c == b'e') {
        Some(i) => (
            text.get(..i).unwrap_or(&[]),
            parse_exp(text.get(i + 1..).unwrap_or(&[])),
        ),
        None => (text, 0),
    };
    let mut digits = [0u8; 20];
    let mut nd = 0usize;
    let mut int_len = 0i32;
    let mut seen_point = false;
    let mut leading = true;
    let mut leading_zeros = 0i32;
    for &c in mantissa {
        if c == b'.' {
            seen_point = true;
            continue;
        }
        if !seen_point {
            int_len += 1;
        }
        if leading && c == b'0' {
            leading_zeros += 1;
            continue;
        }
        leading = false;
        if let Some(d) = digits.get_mut(nd) {
            *d = c;
            nd += 1;
        }
    }
    while nd > 0 && digits.get(nd - 1) == Some(&b'0') {
        nd -= 1;
    }
    let digits = digits.get(..nd).unwrap_or(&[]);
    let dp = int_len - leading_zeros + exp10;
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        // %e: d1[.d2…]e±XX
        let (first, rest) = digits.split_first().unwrap_or((&b'0', &[]));
        out.push(*first);
        if !rest.is_empty() {
            out.push(b'.');
            out.push_all(rest);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        let mut b = itoa::Buffer::new();
        out.push_all(b.format(e).as_bytes());
    } else if dp <= 0 {
        out.push_all(b"0.");
        for _ in 0..(-dp) {
            out.push(b'0');
        }
        out.push_all(digits);
    } else {
        let dp = dp as usize;
        if dp >= digits.len() {
            out.push_all(digits);
            for _ in digits.len()..dp {
                out.push(b'0');
            }
            out.push_all(b".0");
        } else {
            let (int, frac) = digits.split_at(dp);
            out.push_all(int);
            out.push(b'.');
            out.push_all(frac);
        }
    }
    out
}

fn parse_exp(s: &[u8]) -> i32 {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let mut e = 0i32;
    for &c in digits {
        e = e * 10 + i32::from(c.wrapping_sub(b'0'));
    }
    if neg {
        -e
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(v: f64) -> String {
        String::from_utf8(canonical(v).as_bytes().to_vec()).unwrap()
    }

    fn float(v: f64) -> String {
        with_f64(v, |b| String::from_utf8(b.to_vec()).unwrap())
    }

    #[test]
    fn canonical_matches_go_percent_g_with_point_zero() {
        // The OpenMetrics spec's own examples (section "Canonical Numbers").
        for (v, s) in [
            (0.0, "0.0"),
            (0.001, "0.001"),
            (0.002, "0.002"),
            (0.01, "0.01"),
            (0.1, "0.1"),
            (0.9, "0.9"),
            (0.95, "0.95"),
            (0.99, "0.99"),
            (0.999, "0.999"),
            (1.0, "1.0"),
            (1.7, "1.7"),
            (10.0, "10.0"),
            (1e-10, "1e-10"),
            (1e-9, "1e-09"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1e10, "1e+10"),
        ] {
            assert_eq!(canon(v), s, "{v:e}");
        }
        // More of Go's FormatFloat(v, 'g', -1, 64) outputs, ".0" added where due.
        for (v, s) in [
            (0.005, "0.005"),
            (0.025, "0.025"),
            (2.5, "2.5"),
            (123456.0, "123456.0"),
            (1234567.0, "1.234567e+06"),
            (0.00011, "0.00011"),
            (1.1e-5, "1.1e-05"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-2.5, "-2.5"),
            (-1e6, "-1e+06"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(canon(v), s, "{v:e}");
        }
    }

    #[test]
    fn canonical_round_trips() {
        let mut x = 1.0e-12f64;
        while x < 1e14 {
            for v in [x, x * 1.5, x * 7.123, -x] {
                let s = canon(v);
                assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
                assert!(s.contains('.') || s.contains('e'), "{s} reads as a float");
            }
            x *= 10.0;
        }
    }

    #[test]
    fn sample_values() {
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(3.0), "3.0");
        assert_eq!(float(-0.0), "-0.0");
        assert_eq!(float(1e16), "1e16");
        assert_eq!(float(1.5e-7), "1.5e-7");
    }
}
