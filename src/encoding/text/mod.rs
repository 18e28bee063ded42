//! The writer: a [`Visitor`] that turns a registry walk into exposition text.
//!
//! Per family it decides once (in [`Visitor::family`]) how the family is
//! written in the requested format and claims the sample names it will use;
//! per series it checks the labels, renders them once into a scratch buffer,
//! and writes the sample lines. See `docs/exposition-format.md` for the rules.
//!
//! A sample line is written in place, at the end of the output, and cut back
//! to where it started if the series turns out not to be written; the output
//! is drained only between series (see [`Out`]). Everything the writer keeps
//! between scrapes is in [`State`], so that a warm scrape allocates nothing.
//!
//! # Files
//!
//! The writer is one module in several files: this one holds [`State`],
//! [`Writer`] and the walk itself (the family headers `# TYPE`, `# UNIT`,
//! `# HELP`, and the series entry points), and includes
//!
//! - `out.rs`: `Out`, where the text goes and where it may be cut;
//! - `family.rs`: how a family is written (`Mode`): the sample names it
//!   claims, its `# TYPE` keyword, its metadata lines;
//! - `labels.rs`: checking a series' label names and rendering its labels,
//!   skipping the checks for names already checked in the family;
//! - `sample.rs`: the sample lines: the value checked against the family and
//!   written, histogram buckets, sum and count;
//! - `escape.rs`: escaping label values and help text, a word at a time;
//! - `key_set.rs`: `KeySet`, the reusable set of names and label sets
//!   already written.
//!
//! They are `include!`d rather than declared as submodules because this is
//! the scrape's hot path and rustc assigns code to codegen units by module:
//! as submodules, the default release profile (16 codegen units) compiles
//! them apart from the writer, and LLVM then no longer inlines the key-set
//! lookups into it or sees that the escape scanner's out-of-line test reads
//! no memory, so every scrape runs more instructions for the same text. As
//! one module, they compile exactly as one file would.

#![deny(clippy::indexing_slicing)]

use std::io;

use super::copy;
use super::number;
use super::Format;
use crate::label::{LabelName, Labels};
use crate::metric::{Exemplar, HistogramView, Kind, Meta, UniqueSeries, Value, Visitor};
use crate::name::is_valid_label_name;

include!("out.rs");
include!("family.rs");
include!("labels.rs");
include!("sample.rs");
include!("escape.rs");
include!("key_set.rs");

#[cfg(test)]
mod tests;

/// Scratch space kept by the [`Encoder`](super::Encoder) between scrapes.
#[derive(Default)]
pub(crate) struct State {
    /// Cumulative bucket counts of the histogram series being written.
    buckets: Vec<u64>,
    /// The last histogram bounds rendered as `le` values: their bits, and
    /// the text of each, ending at the offsets in `le_ends`. A family's
    /// series share their bounds, so each is formatted once per family
    /// (compared by value, not by address: a collector may build bounds
    /// anew for each series).
    le_bits: Vec<u64>,
    le_text: Vec<u8>,
    le_ends: Vec<usize>,
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
    /// Exemplars reported for the next series (OpenMetrics only): sample
    /// index, labels as `(start, end)` in `exemplar_text`, value, timestamp.
    exemplars: Vec<(usize, usize, usize, f64, f64)>,
    exemplar_text: Vec<u8>,
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
}

impl Visitor for Writer<'_> {
    fn family(&mut self, meta: &Meta, kind: Kind) {
        self.family_in("", meta, kind);
    }

    fn family_in(&mut self, prefix: &str, meta: &Meta, kind: Kind) {
        self.drop_exemplars();
        // The namespace's prefix is written as a part of the family's name
        // (claimed, written, checked against the unit as one).
        self.st.family.clear();
        self.st.family.push_str(prefix);
        self.st.family.push_str(meta.name());
        // Taken out for `plan`, which borrows the writer (a move, no copy).
        let family = std::mem::take(&mut self.st.family);
        let (mode, len, keyword) = self.plan(&family, kind);
        self.st.family = family;
        self.mode = mode;
        self.unique = self.claimed;
        self.st.series.clear();
        let known = &mut self.st.known;
        known.names.clear();
        known.spans.clear();
        known.head.clear();
        copy::put(&mut known.head, self.prefix.as_bytes());
        copy::put(&mut known.head, self.st.family.as_bytes());
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

    fn exemplar(&mut self, sample: usize, exemplar: &Exemplar<'_>) {
        // Only OpenMetrics counters (with `_total`) and histograms carry
        // them.
        if self.format != Format::OpenMetrics
            || !matches!(self.mode, Mode::Counter | Mode::Histogram)
        {
            return;
        }
        let st = &mut *self.st;
        let start = st.exemplar_text.len();
        st.exemplar_text
            .extend_from_slice(exemplar.labels.as_bytes());
        let end = st.exemplar_text.len();
        st.exemplars
            .push((sample, start, end, exemplar.value, exemplar.timestamp));
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
            self.drop_exemplars();
            return;
        }
        // The sample line is written in place and cut back to `start` if the
        // series turns out not to be written.
        let start = self.out.buf.len();
        if !self.render_labels(labels) {
            self.out.buf.truncate(start);
            self.drop_exemplars();
            return;
        }
        let labeled = self.out.buf.len() > start;
        self.sample(start, labeled, value);
        self.drop_exemplars();
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
        // `sample_slow` instead costs a call and the checks per series (and
        // the call remains with this test moved to the top of `sample`).
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
