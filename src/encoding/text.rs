//! The writer: a [`Visitor`] that turns a registry walk into exposition text.
//!
//! Per family it decides once (in [`Visitor::family`]) how the family is
//! written in the requested format and claims the sample names it will use;
//! per series it checks the labels, renders them once into a scratch buffer,
//! and writes the sample lines. See `docs/exposition-format.md` for the rules.

#![deny(clippy::indexing_slicing)]

use std::io;

use super::copy;
use super::number;
use super::Format;
use crate::label::{LabelName, Labels};
use crate::metric::{HistogramView, Kind, Meta, UniqueSeries, Value, Visitor};
use crate::name::is_valid_label_name;

/// Scratch space kept by the [`Encoder`](super::Encoder) between scrapes.
#[derive(Default)]
pub(crate) struct State {
    /// Cumulative bucket counts of the histogram series being written.
    buckets: Vec<u64>,
    /// Sample and family names claimed so far in this exposition.
    names: KeySet,
    /// Rendered label sets written so far in the current family.
    series: KeySet,
    /// Scratch for building a name to look up.
    key: Vec<u8>,
    /// The current family's name as declared (without prefix).
    family: String,
    /// The current series' labels, rendered: `a="x",b="y"`.
    labels: Vec<u8>,
    /// What the current family's series start with.
    known: Known,
    /// Scratch for checking label names.
    check: Check,
}

/// The start of the current family's sample lines, as far as known.
#[derive(Default)]
struct Known {
    /// The prefixed family name followed by `{`: the start of a sample line.
    head: Vec<u8>,
    /// `'static` label names (compared by address) already checked, in order,
    /// for the current family: a series whose names start the same way needs
    /// no check.
    names: Vec<&'static str>,
    /// For each of `names`: the name and its text as written, ready to copy,
    /// as `(start, end)` in `pieces`: `,name="`, and for the first the start
    /// of the line, `head` then `name="`.
    spans: Vec<(&'static str, usize, usize)>,
    /// The bytes `spans` index.
    pieces: Vec<u8>,
}

impl Known {
    /// The pre-rendered text before the value of label `k`, if label `k` of
    /// the names checked for this family is `name` itself (the same string,
    /// so the same verdict holds): the one test that lets a label skip the
    /// checks, for [`Render::label`] and [`Visitor::dynamic_series`].
    #[inline(always)]
    fn piece(&self, k: usize, name: &'static str) -> Option<&[u8]> {
        let &(c, a, b) = self.spans.get(k)?;
        std::ptr::eq(c, name).then(|| self.pieces.get(a..b).unwrap_or_default())
    }
}

/// Scratch for checking one series' label names.
#[derive(Default)]
struct Check {
    /// The names so far, each followed by 0xFF, to find repeats.
    names: Vec<u8>,
    /// The `'static` names so far (become `Known::names`).
    checked: Vec<&'static str>,
}

/// Where the text goes: a caller's `Vec`, or a buffer drained into an
/// `io::Write` at the first series boundary past a limit.
///
/// Pieces are appended with no check; only [`boundary`](Self::boundary),
/// called between series and after each family's metadata, may drain. A
/// streaming buffer therefore holds at most `limit` bytes plus one series (or
/// one family's metadata) before it is written out.
pub(crate) struct Out<'a> {
    buf: &'a mut Vec<u8>,
    sink: Option<&'a mut dyn io::Write>,
    /// Drain once this many bytes are buffered (`usize::MAX`: never).
    limit: usize,
    error: Option<io::Error>,
}

impl<'a> Out<'a> {
    /// Appends to `buf`, growing it as needed.
    pub(crate) fn vec(buf: &'a mut Vec<u8>) -> Self {
        Self {
            buf,
            sink: None,
            limit: usize::MAX,
            error: None,
        }
    }

    /// Fills `buf` until it holds at least `limit` bytes at a boundary, then
    /// drains it into `sink`.
    pub(crate) fn streaming(
        buf: &'a mut Vec<u8>,
        sink: &'a mut dyn io::Write,
        limit: usize,
    ) -> Self {
        Self {
            buf,
            sink: Some(sink),
            limit,
            error: None,
        }
    }

    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// A place where the text may be cut: drains the buffer if it holds
    /// `limit` bytes or more (streaming only; `limit` is `usize::MAX` else).
    #[inline]
    fn boundary(&mut self) {
        if self.buf.len() >= self.limit {
            self.drain();
        }
    }

    /// Writes out what is buffered (streaming only); after an error, drops it.
    #[cold]
    fn drain(&mut self) {
        if let Some(sink) = self.sink.as_mut() {
            if self.error.is_none() && !self.buf.is_empty() {
                if let Err(e) = sink.write_all(self.buf) {
                    self.error = Some(e);
                }
            }
            self.buf.clear();
        }
    }

    fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// How the current family is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Left out (its names are taken); its series are ignored.
    Skip,
    /// Scalar samples named as the family, values as they are.
    Plain,
    /// OpenMetrics counter: NaN and negative totals cannot be written.
    Counter,
    /// OpenMetrics info: only `Value::Info` (1).
    Info,
    /// Buckets, sum and count.
    Histogram,
}

/// The writer for one exposition.
pub(crate) struct Writer<'a> {
    format: Format,
    prefix: &'a str,
    st: &'a mut State,
    out: Out<'a>,
    mode: Mode,
    /// OpenMetrics only: whether histogram series may carry `_sum`/`_count`.
    sum_allowed: bool,
    /// The metric being visited claims distinct series
    /// ([`Visitor::next_metric`]).
    claimed: bool,
    /// The current family's series have distinct label sets by construction:
    /// no duplicate check.
    unique: bool,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(format: Format, prefix: &'a str, st: &'a mut State, out: Out<'a>) -> Self {
        st.names.clear();
        Self {
            format,
            prefix,
            st,
            out,
            mode: Mode::Skip,
            sum_allowed: true,
            claimed: false,
            unique: false,
        }
    }

    /// Ends the exposition (`# EOF` in OpenMetrics) and drains the buffer.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if self.format == Format::OpenMetrics {
            self.out.put(b"# EOF\n");
        }
        self.out.drain();
        match self.out.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Claims the names a family will use; `false` if one is taken.
    fn claim(&mut self, base: &str, suffixes: &[&str]) -> bool {
        let st = &mut *self.st;
        let key = |k: &mut Vec<u8>, s: &str| {
            k.clear();
            k.extend_from_slice(base.as_bytes());
            k.extend_from_slice(s.as_bytes());
        };
        for s in suffixes {
            key(&mut st.key, s);
            if st.names.contains(&st.key) {
                return false;
            }
        }
        for s in suffixes {
            key(&mut st.key, s);
            st.names.insert(&st.key);
        }
        true
    }

    /// Decides the family's mode, its metadata name and `# TYPE` keyword.
    fn plan(&mut self, name: &str, kind: Kind) -> (Mode, usize, &'static str) {
        let len = name.len();
        if self.format == Format::Prometheus {
            let ok = match kind {
                Kind::Histogram => self.claim(name, &["", "_bucket", "_count", "_sum"]),
                _ => self.claim(name, &[""]),
            };
            return match (ok, kind) {
                (false, _) => (Mode::Skip, len, ""),
                (true, Kind::Counter) => (Mode::Plain, len, "counter"),
                (true, Kind::Gauge | Kind::Info) => (Mode::Plain, len, "gauge"),
                (true, Kind::Histogram) => (Mode::Histogram, len, "histogram"),
            };
        }
        match kind {
            Kind::Counter => {
                if let Some(base) = strip(name, "_total") {
                    if self.claim(base, &["", "_total", "_created"]) {
                        return (Mode::Counter, base.len(), "counter");
                    }
                }
            }
            Kind::Info => {
                if let Some(base) = strip(name, "_info") {
                    if self.claim(base, &["", "_info"]) {
                        return (Mode::Info, base.len(), "info");
                    }
                } else if self.claim(name, &[""]) {
                    return (Mode::Plain, len, "gauge");
                }
            }
            Kind::Gauge => {
                if self.claim(name, &[""]) {
                    return (Mode::Plain, len, "gauge");
                }
            }
            Kind::Histogram => {
                return if self.claim(name, &["", "_bucket", "_count", "_sum", "_created"]) {
                    (Mode::Histogram, len, "histogram")
                } else {
                    (Mode::Skip, len, "")
                };
            }
        }
        // Legacy or clashing: keep the sample name, drop the type.
        if self.claim(name, &[""]) {
            (Mode::Plain, len, "unknown")
        } else {
            (Mode::Skip, len, "")
        }
    }

    /// Writes `prefix`, the first `len` bytes of the family name, `suffix`.
    fn put_name(&mut self, len: usize, suffix: &str) {
        self.out.put(self.prefix.as_bytes());
        let name = self.st.family.as_bytes();
        self.out.put(name.get(..len).unwrap_or(name));
        self.out.put(suffix.as_bytes());
    }

    fn metadata(&mut self, keyword: &[u8], len: usize) {
        self.out.put(keyword);
        self.put_name(len, "");
        self.out.put(b" ");
    }

    /// Writes `text` escaped: backslash and newline always, double quote
    /// when `quote` is set.
    fn escaped(out: &mut Out<'_>, text: &str, quote: bool) {
        if quote {
            escape::<true>(text, |b| out.put(b));
        } else {
            escape::<false>(text, |b| out.put(b));
        }
    }

    /// Checks the labels and appends them to the output, rendered and after
    /// `head` (`name{a="x",b="y"`), or nothing if there are none; `false` if a
    /// name is invalid, repeated, or `le` on a histogram (the output then
    /// holds part of them: the caller cuts it).
    ///
    /// `'static` names that match, position by position, a sequence already
    /// checked in this family are not checked again: such a name is the same
    /// string, so the same verdict (validity, `le`, repeats) holds.
    fn render_labels(&mut self, labels: &Labels<'_>) -> bool {
        let st = &mut *self.st;
        let mut r = Render {
            out: &mut *self.out.buf,
            known: &st.known,
            check: &mut st.check,
            histogram: self.mode == Mode::Histogram,
            k: 0,
            fast: true,
            ok: true,
            all_static: true,
        };
        labels.for_each_sourced(|name, value| r.label(name, value));
        let Render {
            ok,
            fast,
            all_static,
            ..
        } = r;
        if ok && !fast && all_static {
            let known = &mut st.known;
            std::mem::swap(&mut known.names, &mut st.check.checked);
            known.pieces.clear();
            known.spans.clear();
            for (i, n) in known.names.iter().enumerate() {
                let a = known.pieces.len();
                if i > 0 {
                    known.pieces.push(b',');
                } else {
                    known.pieces.extend_from_slice(&known.head);
                }
                known.pieces.extend_from_slice(n.as_bytes());
                known.pieces.extend_from_slice(b"=\"");
                known.spans.push((n, a, known.pieces.len()));
            }
        }
        ok
    }

    /// Writes `name{labels[,le="…"]` (or just `name`) and returns what
    /// separates it from the value: `} ` (or ` `).
    fn sample_start(&mut self, suffix: &str, le: Option<&[u8]>) -> &'static [u8] {
        let head = self.st.known.head.as_slice();
        let name = head.split_last().map_or(head, |(_, name)| name);
        let labels = !self.st.labels.is_empty();
        if labels || le.is_some() {
            if suffix.is_empty() {
                self.out.put(head);
            } else {
                self.out.put(name);
                self.out.put(suffix.as_bytes());
                self.out.put(b"{");
            }
            self.out.put(&self.st.labels);
            if let Some(le) = le {
                self.out.put(if labels { b",le=\"" } else { b"le=\"" });
                self.out.put(le);
                self.out.put(b"\"");
            }
            b"} "
        } else {
            self.out.put(name);
            self.out.put(suffix.as_bytes());
            b" "
        }
    }

    fn histogram(&mut self, h: HistogramView<'_>) {
        let totals = h.read(&mut self.st.buckets);
        let bounds = h.bounds();
        let mut buckets = std::mem::take(&mut self.st.buckets);
        for (bound, count) in bounds.iter().zip(buckets.iter()) {
            let le = number::canonical(*bound);
            let lead = self.sample_start("_bucket", Some(le.as_bytes()));
            copy::put_u64_line(self.out.buf, lead, *count);
        }
        let lead = self.sample_start("_bucket", Some(b"+Inf"));
        copy::put_u64_line(self.out.buf, lead, totals.count);
        // OpenMetrics: the sum is a counter (never NaN or negative) and must be
        // left out, with the count, when buckets below zero exist.
        let with_sum = self.format == Format::Prometheus
            || (self.sum_allowed && !totals.sum.is_nan() && totals.sum >= 0.0);
        if with_sum {
            let lead = self.sample_start("_sum", None);
            self.out.put(lead);
            number::with_f64(totals.sum, |b| self.out.put(b));
            self.out.put(b"\n");
            let lead = self.sample_start("_count", None);
            copy::put_u64_line(self.out.buf, lead, totals.count);
        }
        buckets.clear();
        std::mem::swap(&mut self.st.buckets, &mut buckets);
    }
}

/// One series' labels being checked and written (see
/// [`Writer::render_labels`]).
struct Render<'s> {
    out: &'s mut Vec<u8>,
    known: &'s Known,
    check: &'s mut Check,
    histogram: bool,
    /// Labels so far.
    k: usize,
    /// Whether all of them matched `known`.
    fast: bool,
    /// Whether all of them were valid.
    ok: bool,
    /// Whether all of them were `'static`.
    all_static: bool,
}

impl Render<'_> {
    #[inline]
    fn label(&mut self, name: LabelName<'_>, value: &str) {
        if let (true, LabelName::Static(s)) = (self.fast, name) {
            if let Some(piece) = self.known.piece(self.k, s) {
                self.k += 1;
                copy::put(self.out, piece);
                escape_value(self.out, value);
                self.out.push(b'"');
                return;
            }
        }
        self.checked_label(name, value);
    }

    /// A label past the names already known for this family: checked.
    #[inline(never)]
    fn checked_label(&mut self, name: LabelName<'_>, value: &str) {
        if !self.ok {
            return;
        }
        let text = match name {
            LabelName::Static(s) => s,
            LabelName::Borrowed(s) => s,
        };
        let k = self.k;
        if self.fast {
            // Leaving the checked prefix: seed the repeat check with it.
            self.fast = false;
            self.check.names.clear();
            self.check.checked.clear();
            for c in self.known.names.iter().take(k) {
                self.check.names.extend_from_slice(c.as_bytes());
                self.check.names.push(0xFF);
                self.check.checked.push(c);
            }
        }
        if !is_valid_label_name(text)
            || (self.histogram && text == "le")
            || (k > 0 && repeated(&self.check.names, text))
        {
            self.ok = false;
            return;
        }
        self.check.names.extend_from_slice(text.as_bytes());
        self.check.names.push(0xFF);
        match name {
            LabelName::Static(s) => self.check.checked.push(s),
            LabelName::Borrowed(_) => self.all_static = false,
        }
        if k > 0 {
            self.out.push(b',');
        } else {
            self.out.extend_from_slice(&self.known.head);
        }
        self.k += 1;
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"=\"");
        escape_value(self.out, value);
        self.out.push(b'"');
    }
}

/// A scalar sample value.
#[derive(Clone, Copy)]
enum Scalar {
    U(u64),
    I(i64),
    F(f64),
}

impl Scalar {
    /// Whether OpenMetrics accepts it as a counter total.
    fn counter_ok(self) -> bool {
        match self {
            Scalar::U(_) => true,
            Scalar::I(v) => v >= 0,
            Scalar::F(v) => v >= 0.0,
        }
    }
}

/// `name` without `suffix`, if it ends with it and something precedes it.
fn strip<'n>(name: &'n str, suffix: &str) -> Option<&'n str> {
    name.strip_suffix(suffix).filter(|b| !b.is_empty())
}

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
/// keeps a bounds check in the word loop that it drops here, about 3
/// instructions a value (iai encode_1000: 296,062 -> 299,136; other loop
/// shapes tried cost 302,146 to 310,373).
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

/// Whether `name` is among the 0xFF-terminated names in `seen`.
fn repeated(seen: &[u8], name: &str) -> bool {
    seen.split(|&b| b == 0xFF).any(|n| n == name.as_bytes())
}

impl Visitor for Writer<'_> {
    fn family(&mut self, meta: &Meta, kind: Kind) {
        self.st.family.clear();
        self.st.family.push_str(meta.name());
        let (mode, len, keyword) = self.plan(meta.name(), kind);
        self.mode = mode;
        self.unique = self.claimed;
        self.st.series.clear();
        let known = &mut self.st.known;
        known.names.clear();
        known.spans.clear();
        known.head.clear();
        known.head.extend_from_slice(self.prefix.as_bytes());
        known.head.extend_from_slice(meta.name().as_bytes());
        known.head.push(b'{');
        if mode == Mode::Skip || self.out.failed() {
            return;
        }
        let help = meta.help();
        match self.format {
            Format::Prometheus => {
                if !help.is_empty() {
                    self.metadata(b"# HELP ", len);
                    Self::escaped(&mut self.out, help, false);
                    self.out.put(b"\n");
                }
                self.metadata(b"# TYPE ", len);
                self.out.put(keyword.as_bytes());
                self.out.put(b"\n");
            }
            Format::OpenMetrics => {
                self.metadata(b"# TYPE ", len);
                self.out.put(keyword.as_bytes());
                self.out.put(b"\n");
                if let Some(unit) = meta.unit() {
                    let name = self.st.family.get(..len).unwrap_or("");
                    let fits = name
                        .strip_suffix(unit)
                        .is_some_and(|rest| rest.ends_with('_'));
                    if !unit.is_empty() && mode != Mode::Info && fits {
                        self.metadata(b"# UNIT ", len);
                        self.out.put(unit.as_bytes());
                        self.out.put(b"\n");
                    }
                }
                if !help.is_empty() {
                    self.metadata(b"# HELP ", len);
                    Self::escaped(&mut self.out, help, true);
                    self.out.put(b"\n");
                }
            }
        }
        self.out.boundary();
    }

    fn next_metric(&mut self, unique: Option<UniqueSeries>) {
        self.claimed = unique.is_some();
        // The previous metric's family ends here: a series reported before
        // the next `family` call belongs to no family and is dropped, as one
        // reported before the first family is. Left open, it would be
        // appended to the previous family, and past a claimed family with no
        // duplicate check (its series were never recorded for one).
        self.mode = Mode::Skip;
        self.unique = false;
    }

    #[inline(never)]
    fn series(&mut self, labels: &Labels<'_>, value: Value<'_>) {
        if self.mode == Mode::Skip || self.out.failed() {
            return;
        }
        // The sample line is written in place and cut back to `start` if the
        // series turns out not to be written.
        let start = self.out.buf.len();
        if !self.render_labels(labels) {
            self.out.buf.truncate(start);
            return;
        }
        let labeled = self.out.buf.len() > start;
        self.sample(start, labeled, value);
    }

    fn dynamic_series(&mut self, names: &[&'static str], values: &[&str], value: Value<'_>) {
        if self.mode == Mode::Skip || self.out.failed() {
            return;
        }
        if names.is_empty() || values.is_empty() {
            self.series(&Labels::dynamic(names, values), value);
            return;
        }
        // Written from the family's known pieces as far as `Known::piece`
        // allows, as `Render::label` would; past that (a name not checked in
        // this family, or the family's first series, which records them), cut
        // and written the general way.
        let start = self.out.buf.len();
        let known = &self.st.known;
        let out = &mut *self.out.buf;
        for (k, (n, v)) in names.iter().zip(values).enumerate() {
            let Some(piece) = known.piece(k, n) else {
                out.truncate(start);
                self.series(&Labels::dynamic(names, values), value);
                return;
            };
            if k > 0 {
                out.push(b'"');
            }
            copy::put(out, piece);
            escape_value(out, v);
        }
        // The usual case, an integer counter in a family whose series are
        // distinct by construction: none of `sample`'s checks apply, so the
        // line ends here, through the same `put_u64_line` as every integer
        // value (the open value's closing quote in its lead). Going through
        // `sample_slow` instead costs a call and the checks per series:
        // iai encode_1000 296,062 -> 352,482 instructions (324,452 with this
        // test moved to the top of `sample`).
        if let Value::Counter(v) = value {
            if self.unique && matches!(self.mode, Mode::Plain | Mode::Counter) {
                copy::put_u64_line(out, b"\"} ", v);
                self.out.boundary();
                return;
            }
        }
        self.sample_slow(start, value);
    }
}

impl Writer<'_> {
    /// [`sample`](Self::sample) after labels rendered from `start` up to the
    /// last value's closing quote (out of line: the fast path keeps fewer
    /// registers).
    #[inline(never)]
    fn sample_slow(&mut self, start: usize, value: Value<'_>) {
        self.out.buf.push(b'"');
        self.sample(start, true, value);
    }

    /// Ends the sample line whose labels (if `labeled`) are rendered from
    /// `start` on: checks the value against the family, writes it, or cuts
    /// the line back to `start`.
    #[inline(always)]
    fn sample(&mut self, start: usize, labeled: bool, value: Value<'_>) {
        let from = start + self.st.known.head.len();
        let rendered = self.out.buf.get(from..).unwrap_or_default();
        // Histogram values belong to histogram families only, in any format.
        // A label set already written in this family (a collector reporting
        // it twice) would make the exposition invalid: the first one stands,
        // even where this format cannot carry its value.
        let histogram = matches!(value, Value::Histogram(_));
        if histogram != (self.mode == Mode::Histogram)
            || (!self.unique && !self.st.series.insert(rendered))
        {
            self.out.buf.truncate(start);
            return;
        }
        let scalar = match value {
            Value::Histogram(h) => {
                self.st.labels.clear();
                self.st.labels.extend_from_slice(rendered);
                self.out.buf.truncate(start);
                self.sum_allowed = h.bounds().first().is_none_or(|b| *b >= 0.0);
                self.histogram(h);
                self.out.boundary();
                return;
            }
            Value::Info => Scalar::U(1),
            Value::Counter(v) if self.mode != Mode::Info => Scalar::U(v),
            Value::Gauge(v) if self.mode != Mode::Info => Scalar::I(v),
            Value::CounterF64(v) | Value::GaugeF64(v) if self.mode != Mode::Info => Scalar::F(v),
            _ => {
                self.out.buf.truncate(start);
                return;
            }
        };
        if self.mode == Mode::Counter && !scalar.counter_ok() {
            self.out.buf.truncate(start);
            return;
        }
        let lead: &[u8] = if labeled {
            b"} "
        } else {
            let head = self.st.known.head.as_slice();
            self.out
                .put(head.split_last().map_or(head, |(_, name)| name));
            b" "
        };
        // Every integer value, whatever its kind, ends the line through
        // `put_u64_line`; a negative gauge writes its sign first.
        match scalar {
            Scalar::U(v) => copy::put_u64_line(self.out.buf, lead, v),
            Scalar::I(v) if v < 0 => {
                self.out.put(lead);
                copy::put_u64_line(self.out.buf, b"-", v.unsigned_abs());
            }
            Scalar::I(v) => copy::put_u64_line(self.out.buf, lead, v.unsigned_abs()),
            Scalar::F(v) => {
                self.out.put(lead);
                number::with_f64(v, |b| self.out.put(b));
                self.out.put(b"\n");
            }
        }
        self.out.boundary();
    }
}

/// A set of byte strings, compared exactly, that keeps its memory between
/// uses: an open-addressing table of indices into a byte arena. Clearing is
/// O(1) (a generation stamp), so a per-family set costs nothing per family.
#[derive(Default)]
struct KeySet {
    arena: Vec<u8>,
    /// (start, end, hash) of each key in `arena`.
    spans: Vec<(u32, u32, u64)>,
    /// (generation, 1 + index into `spans`); live only if the generation is
    /// the current one. Length: zero or a power of two.
    table: Vec<(u32, u32)>,
    generation: u32,
}

impl KeySet {
    fn clear(&mut self) {
        self.arena.clear();
        self.spans.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.table.iter_mut().for_each(|s| *s = (0, 0));
            self.generation = 1;
        }
    }

    fn hash(key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::with_seed(0x6e61_6e6f).hash_one(key)
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn find(&self, key: &[u8], hash: u64) -> Option<(usize, bool)> {
        let mask = self.table.len().checked_sub(1)?;
        let mut i = hash as usize & mask;
        loop {
            let (generation, index) = *self.table.get(i)?;
            if generation != self.generation || index == 0 {
                return Some((i, false));
            }
            let (s, e, h) = *self.spans.get(index as usize - 1)?;
            if h == hash && self.arena.get(s as usize..e as usize) == Some(key) {
                return Some((i, true));
            }
            i = (i + 1) & mask;
        }
    }

    fn contains(&self, key: &[u8]) -> bool {
        self.find(key, Self::hash(key))
            .is_some_and(|(_, found)| found)
    }

    /// Adds `key`; `false` if it was already there.
    fn insert(&mut self, key: &[u8]) -> bool {
        let hash = Self::hash(key);
        let mut slot = self.find(key, hash);
        if slot.is_some_and(|(_, found)| found) {
            return false;
        }
        if (self.spans.len() + 1) * 2 > self.table.len() {
            self.grow();
            slot = self.find(key, hash);
        }
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(key);
        self.spans.push((start, self.arena.len() as u32, hash));
        let entry = (self.generation, self.spans.len() as u32);
        if let Some((i, _)) = slot {
            if let Some(slot) = self.table.get_mut(i) {
                *slot = entry;
            }
        }
        true
    }

    #[cold]
    fn grow(&mut self) {
        let size = (self.table.len() * 2).max(16);
        self.table.clear();
        self.table.resize(size, (0, 0));
        let mask = size - 1;
        for (k, &(_, _, hash)) in self.spans.iter().enumerate() {
            let mut i = hash as usize & mask;
            while let Some(slot) = self.table.get_mut(i) {
                if slot.0 != self.generation || slot.1 == 0 {
                    *slot = (self.generation, k as u32 + 1);
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one scanner, for both byte sets and through `is_clean`, against
    /// the byte rule: every byte at every position of every length up to 16
    /// (the 4-byte halves, one word, an overlapping last word), a chosen set
    /// (specials, bytes the first word test flags, bytes one bit off a
    /// special) up to 40, among fillers the first word test clears (`a`,
    /// 0xFF) and flags (space, NUL, `"`, which only `QUOTE` escapes); then a
    /// second special after the first, which must not be found instead.
    #[test]
    fn scanner_finds_the_first_byte_to_escape() {
        fn check(t: &[u8]) {
            let want = |quote: bool| {
                t.iter()
                    .position(|&b| b == b'\\' || b == b'\n' || (quote && b == b'"'))
            };
            assert_eq!(first_special::<true>(t), want(true), "{t:?}");
            assert_eq!(first_special::<false>(t), want(false), "{t:?}");
            assert_eq!(is_clean(t), want(true).is_none(), "{t:?}");
        }
        let all: Vec<u8> = (0..=255).collect();
        let chosen = [
            b'\\',
            b'\n',
            b'"',
            b' ',
            b'!',
            b'#',
            0,
            0x01,
            0x0B,
            0x21,
            0x22 | 0x80,
            0x5B,
            0x5D,
            0x7F,
            0x80,
            0x8A,
            0xDC,
            0xFF,
        ];
        for n in 0..=40 {
            for filler in [b'a', 0xFF, b' ', 0, b'"'] {
                let base = vec![filler; n];
                check(&base);
                for at in 0..n {
                    for &b in if n <= 16 { &all[..] } else { &chosen[..] } {
                        let mut t = base.clone();
                        t[at] = b;
                        check(&t);
                    }
                    for later in at + 1..n {
                        for (x, y) in [(b'"', b'\\'), (b'\n', b'\\'), (b'\\', b'\n')] {
                            let mut t = base.clone();
                            t[at] = x;
                            t[later] = y;
                            check(&t);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn key_set_is_exact_and_reusable() {
        let mut s = KeySet::default();
        assert!(!s.contains(b"a"));
        for i in 0..1000 {
            let n = format!("name_{i}_total");
            assert!(!s.contains(n.as_bytes()));
            assert!(s.insert(n.as_bytes()));
            assert!(!s.insert(n.as_bytes()));
            assert!(s.contains(n.as_bytes()));
            assert!(!s.contains(&n.as_bytes()[..n.len() - 1]));
        }
        assert!(s.insert(b""));
        assert!(s.contains(b""));
        let cap = (s.table.capacity(), s.arena.capacity(), s.spans.capacity());
        for _ in 0..3 {
            s.clear();
            assert!(!s.contains(b"name_1_total"));
            assert!(!s.contains(b""));
            for i in 0..1000 {
                assert!(s.insert(format!("name_{i}_total").as_bytes()));
            }
        }
        assert_eq!(
            cap,
            (s.table.capacity(), s.arena.capacity(), s.spans.capacity())
        );
        s.generation = u32::MAX;
        s.clear();
        assert_eq!(s.generation, 1);
        assert!(!s.contains(b"name_1_total"));
    }

    /// The sample-line path end to end (label pieces, values of every short
    /// length, escaped ones, numbers) against text built independently; it
    /// also runs under Miri for the copies in `copy.rs`.
    #[test]
    fn sample_lines_of_every_short_length() {
        use crate::{Counter, Encoder, Family, Format, Registry};
        let r = Registry::new();
        let f = r
            .register(Family::<Counter, 2>::new("lines_total", "", ["a", "b"]))
            .unwrap();
        let mut want = String::from("# TYPE lines_total counter\n");
        for n in 0..40usize {
            let value: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            let odd = if n % 5 == 1 {
                format!("{value}\"\n\\")
            } else {
                value.clone()
            };
            let odd_escaped = odd
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            f.with([value.as_str(), odd.as_str()])
                .inc_by(10u64.pow(n as u32 % 20) + n as u64);
            want.push_str(&format!(
                "lines_total{{a=\"{value}\",b=\"{odd_escaped}\"}} {}\n",
                10u64.pow(n as u32 % 20) + n as u64
            ));
        }
        let mut out = Vec::new();
        let mut enc = Encoder::new();
        enc.encode(&r, Format::Prometheus, &mut out);
        let text = String::from_utf8(out).unwrap();
        let (families, overflow) = text.split_at(want.len());
        assert_eq!(families, want);
        assert!(overflow.starts_with("# HELP nanometrics_label_overflow_total"));
    }

    /// Every kind of integer sample value (dynamic-family counters, plain
    /// and labelled counters, integer gauges of both signs, info, bucket
    /// counts, `_count`) at every digit-count boundary ends its line through
    /// `copy::put_u64_line`, in both formats.
    #[test]
    fn integer_values_of_every_kind_and_length() {
        use crate::{
            Collector, Counter, Encoder, Family, Format, Gauge, Histogram, Kind, Labels, Meta,
            Registry, Value, Visitor,
        };
        let mut unsigned = vec![0, 1, u64::MAX - 1, u64::MAX];
        for p in 1..20 {
            unsigned.extend([10u64.pow(p) - 1, 10u64.pow(p)]);
        }
        let mut signed = vec![i64::MIN, i64::MIN + 1, i64::MAX];
        for p in 0..19 {
            for v in [10i64.pow(p) - 1, 10i64.pow(p)] {
                signed.extend([v, -v]);
            }
        }

        let r = Registry::new();
        let counters = r
            .register(Family::<Counter, 1>::new("dc_total", "", ["k"]))
            .unwrap();
        let gauges = r
            .register(Family::<Gauge, 1>::new("dg", "", ["k"]))
            .unwrap();
        for (i, v) in unsigned.iter().enumerate() {
            counters.with([format!("u{i}").as_str()]).inc_by(*v);
        }
        for (i, v) in signed.iter().enumerate() {
            gauges.with([format!("s{i}").as_str()]).set(*v);
        }
        let plain = r.register(Counter::new("pc_total", "")).unwrap();
        plain.inc_by(u64::MAX);
        r.register(Gauge::new("pg", "")).unwrap().set(i64::MIN);
        // Cumulative bucket counts 0, 9, 10, 99, 100, 999, 1000.
        let h = r
            .register(Histogram::new(
                "h",
                "",
                &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            ))
            .unwrap();
        for (v, n) in [
            (0.5, 9),
            (1.5, 1),
            (2.5, 89),
            (3.5, 1),
            (4.5, 899),
            (5.5, 1),
        ] {
            for _ in 0..n {
                h.observe(v);
            }
        }

        struct Report(Vec<u64>, Vec<i64>);
        impl Collector for Report {
            fn collect(&self, v: &mut dyn Visitor) {
                static C: Meta = Meta::new("cc_total", "");
                static G: Meta = Meta::new("cg", "");
                static I: Meta = Meta::new("ci_info", "");
                v.family(&C, Kind::Counter);
                for (i, x) in self.0.iter().enumerate() {
                    let k = i.to_string();
                    v.series(&Labels::constant(&[("k", &k)]), Value::Counter(*x));
                }
                v.family(&G, Kind::Gauge);
                for (i, x) in self.1.iter().enumerate() {
                    let k = i.to_string();
                    v.series(&Labels::constant(&[("k", &k)]), Value::Gauge(*x));
                }
                v.series(&Labels::constant(&[]), Value::Gauge(-7));
                v.family(&I, Kind::Info);
                v.series(&Labels::constant(&[("k", "v")]), Value::Info);
            }
        }
        r.register_collector(Report(unsigned.clone(), signed.clone()));

        for format in [Format::Prometheus, Format::OpenMetrics] {
            let mut want = Vec::new();
            for (i, v) in unsigned.iter().enumerate() {
                want.push(format!("dc_total{{k=\"u{i}\"}} {v}"));
                want.push(format!("cc_total{{k=\"{i}\"}} {v}"));
            }
            for (i, v) in signed.iter().enumerate() {
                want.push(format!("dg{{k=\"s{i}\"}} {v}"));
                want.push(format!("cg{{k=\"{i}\"}} {v}"));
            }
            want.push(format!("pc_total {}", u64::MAX));
            want.push(format!("pg {}", i64::MIN));
            want.push("cg -7".into());
            want.push("ci_info{k=\"v\"} 1".into());
            for (le, n) in [
                ("0.0", 0),
                ("1.0", 9),
                ("2.0", 10),
                ("3.0", 99),
                ("4.0", 100),
                ("5.0", 999),
                ("6.0", 1000),
                ("+Inf", 1000),
            ] {
                want.push(format!("h_bucket{{le=\"{le}\"}} {n}"));
            }
            want.push("h_count 1000".into());
            let mut out = Vec::new();
            Encoder::new().encode(&r, format, &mut out);
            let text = String::from_utf8(out).unwrap();
            let lines: std::collections::HashSet<&str> = text.lines().collect();
            for line in &want {
                assert!(lines.contains(line.as_str()), "{format:?}: {line}\n{text}");
            }
            let values = text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with("h_sum"))
                .filter(|l| !l.starts_with("nanometrics_label_overflow_total"))
                .count();
            assert_eq!(values, want.len(), "{format:?}\n{text}");
        }
    }

    /// `dynamic_series` writes exactly what the general path writes for
    /// the same labels (`series` with `Labels::dynamic`, the trait's
    /// default): names known, a prefix of them, more of them than known, other
    /// slices, bad or repeated names, a value short, none, in families of
    /// every kind (histogram values are left to the encoding tests: only a
    /// histogram can make one), claimed (a `Family`) or not (a collector).
    #[test]
    fn dynamic_series_writes_what_the_general_path_writes() {
        use crate::{
            Collector, Counter, Encoder, Family, Format, Gauge, Kind, Labels, Meta, Registry,
            Value, Visitor,
        };
        static AB: [&str; 2] = ["a", "b"];
        static ABC: [&str; 3] = ["a", "b", "c"];
        static AA: [&str; 2] = ["a", "a"];
        static LE: [&str; 1] = ["le"];
        static BAD: [&str; 1] = ["1x"];
        struct Calls(bool);
        impl Collector for Calls {
            fn collect(&self, v: &mut dyn Visitor) {
                static C: Meta = Meta::new("c_total", "");
                static G: Meta = Meta::new("g", "");
                static I: Meta = Meta::new("i_info", "");
                static H: Meta = Meta::new("h", "");
                let call = |v: &mut dyn Visitor, names: &[&'static str], values: &[&str], x| {
                    if self.0 {
                        v.dynamic_series(names, values, x);
                    } else {
                        v.series(&Labels::dynamic(names, values), x);
                    }
                };
                for (meta, kind) in [
                    (&C, Kind::Counter),
                    (&G, Kind::Gauge),
                    (&I, Kind::Info),
                    (&H, Kind::Histogram),
                ] {
                    v.family(meta, kind);
                    for x in [Value::Counter(7), Value::Gauge(-3), Value::Info] {
                        call(v, &AB[..1], &["p\"q"], x);
                        call(v, &AB, &["x", "y\n"], x);
                        call(v, &AB, &["x", "y\n"], x); // duplicate
                        call(v, &AB[..1], &["w"], x); // a prefix
                        call(v, &ABC, &["x", "y", "z"], x); // more than known
                        call(v, &ABC, &["x", "y", "z2"], x);
                        call(v, &AB, &["short"], x);
                        call(v, &AB, &[], x);
                        call(v, &[], &[], x);
                        call(v, &AA, &["x", "z"], x);
                        call(v, &LE, &["1"], x);
                        call(v, &BAD, &["x"], x);
                        call(v, &AB, &["x", "y2", "extra"], x);
                    }
                }
            }
        }
        fn encode(dynamic: bool, format: Format) -> String {
            let r = Registry::new();
            let f = r
                .register(Family::<Counter, 2>::new("f_total", "", ["a", "b"]))
                .unwrap();
            let g = r
                .register(Family::<Gauge, 2>::new("fg", "", ["a", "b"]))
                .unwrap();
            for (a, b) in [
                ("x", "y"),
                ("x\\", "\""),
                ("", ""),
                ("long value, 0123456789", "z"),
            ] {
                f.with([a, b]).inc_by(5);
                g.with([a, b]).set(-5);
            }
            r.register_collector(Calls(dynamic));
            let mut out = Vec::new();
            Encoder::new().encode(&r, format, &mut out);
            String::from_utf8(out).unwrap()
        }
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let general = encode(false, format);
            assert_eq!(encode(true, format), general, "{format:?}");
            assert!(general.contains("\nc_total{a=\"x\",b=\"y\",c=\"z2\"} 7\n"));
        }
    }

    #[test]
    fn escaping_rules() {
        let esc = |s: &str, quote| {
            let mut v = Vec::new();
            Writer::escaped(&mut Out::vec(&mut v), s, quote);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(esc("plain", true), "plain");
        assert_eq!(esc(r#"a\b"c"#, true), r#"a\\b\"c"#);
        assert_eq!(esc(r#"a\b"c"#, false), r#"a\\b"c"#);
        assert_eq!(esc("l1\nl2\n", false), r"l1\nl2\n");
        assert_eq!(esc("\r\t\0é", true), "\r\t\0é");
        assert_eq!(esc("\\n", true), r"\\n");
    }

    #[test]
    fn streaming_output_drains_at_boundaries_past_the_limit() {
        struct Chunks(Vec<usize>, Vec<u8>);
        impl io::Write for Chunks {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.push(b.len());
                self.1.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut sink = Chunks(Vec::new(), Vec::new());
        let mut buf = Vec::with_capacity(8);
        let mut out = Out::streaming(&mut buf, &mut sink, 8);
        out.put(b"abc");
        out.boundary();
        out.put(b"defgh");
        out.boundary();
        out.put(b"ij");
        out.put(b"0123456789abcdef");
        assert_eq!(out.buf.len(), 18, "no drain between boundaries");
        out.boundary();
        assert!(out.buf.is_empty());
        out.put(b"k");
        out.boundary();
        out.drain();
        assert!(out.error.is_none());
        assert_eq!(sink.1, b"abcdefghij0123456789abcdefk");
        assert_eq!(sink.0, [8, 18, 1]);

        // After a write error nothing more is written, and the buffer stays
        // bounded by the limit plus one piece.
        struct Broken(usize);
        impl io::Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                self.0 += 1;
                Err(io::Error::other("closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut broken = Broken(0);
        let mut buf = Vec::new();
        let mut out = Out::streaming(&mut buf, &mut broken, 8);
        for _ in 0..100 {
            out.put(b"0123456");
            assert!(out.buf.len() < 8 + 7);
            out.boundary();
        }
        assert!(out.failed());
        drop(out);
        assert_eq!(broken.0, 1);
    }
}
