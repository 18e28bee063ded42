//! A strict parser for both text formats, used by tests and the fuzz targets
//! to read the encoder's output back. Not part of the stable API.
//!
//! It accepts the formats as the specifications define them, narrowed to the
//! canonical spellings nanometrics writes, so that anything unusual in the
//! output is an error rather than a silent reinterpretation:
//!
//! - UTF-8; lines end with `\n`; no blank lines; OpenMetrics ends with
//!   exactly `# EOF\n`, and has no other `#` lines than `TYPE`, `UNIT`,
//!   `HELP`; text 0.0.4 has no other `#` lines than `HELP`, `TYPE`.
//! - Metadata comes before a family's samples, at most once per kind; a
//!   family's lines are contiguous and a family name never repeats; in
//!   OpenMetrics no two families may claim the same sample name (a counter
//!   `x` claims `x`, `x_total`, `x_created`; a histogram `x` claims `x`,
//!   `x_bucket`, `x_count`, `x_sum`, `x_created`; an info `x` claims `x`,
//!   `x_info`), and in text 0.0.4 no two families may write the same sample
//!   name.
//! - Sample names fit their family's type; label names are valid, not
//!   reserved (`__`), not repeated; escapes are only `\\`, `\"`, `\n` (in 0.0.4
//!   HELP only `\\` and `\n`), and an OpenMetrics HELP has no raw `"`; no
//!   timestamps, no exemplars; a series appears once.
//! - Numbers: integers `-?[0-9]+` without leading zeros, floats with a point
//!   or an exponent (`1.5`, `1e16`, `2.5e-7`), and exactly `NaN`, `+Inf`,
//!   `-Inf`.
//! - Histograms: per label set, buckets strictly increasing in `le`, `le`
//!   written canonically, integer counts that never decrease, a last `+Inf`
//!   bucket, then `_sum` and `_count` with `_count` equal to the `+Inf`
//!   bucket (OpenMetrics: both or neither, neither when a bucket is below
//!   zero; the sum is never NaN or negative). Label sets do not interleave.
//! - OpenMetrics counters are never NaN or negative; info values are `1`; a
//!   UNIT is a suffix `_<unit>` of the family name and never on an info.

#![deny(clippy::indexing_slicing)]

use std::collections::HashSet;

use super::Format;
use crate::name::{is_valid_label_name, is_valid_metric_name};

/// A parsed exposition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exposition {
    /// Families in order.
    pub families: Vec<Family>,
}

/// A family type as written in `# TYPE` (absent: [`Type::Unknown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `info` (OpenMetrics).
    Info,
    /// `unknown` (OpenMetrics), `untyped` (0.0.4), or no `# TYPE` line.
    Unknown,
}

/// One family.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The family name (in OpenMetrics, without `_total`/`_info`).
    pub name: String,
    /// The type.
    pub kind: Type,
    /// The HELP text, unescaped.
    pub help: Option<String>,
    /// The UNIT (OpenMetrics).
    pub unit: Option<String>,
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample name (`x_total`, `x_bucket`, …).
    pub name: String,
    /// Labels in written order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: Number,
}

/// A sample value as written.
#[derive(Debug, Clone, Copy)]
pub enum Number {
    /// Written as an integer.
    Int(i128),
    /// Written as a float (point, exponent, `NaN`, `±Inf`).
    Float(f64),
}

impl PartialEq for Number {
    /// Integers equal integers; floats equal floats bit for bit, any NaN
    /// equal to any NaN.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => {
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
            }
            _ => false,
        }
    }
}

impl Number {
    /// The value as an `f64`.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// Why an exposition was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// 1-based line number (0: the whole text).
    pub line: usize,
    /// What rule it breaks.
    pub reason: &'static str,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for Error {}

type Res<T> = Result<T, &'static str>;

/// Parses `text` in `format`, strictly.
///
/// ```
/// use nanometrics::encoding::parse::{parse, Number, Type};
/// use nanometrics::Format;
/// let e = parse(b"# TYPE a counter\na_total{x=\"\\\"\"} 3\n# EOF\n", Format::OpenMetrics).unwrap();
/// assert_eq!(e.families[0].kind, Type::Counter);
/// assert_eq!(e.families[0].samples[0].labels, [("x".to_string(), "\"".to_string())]);
/// assert_eq!(e.families[0].samples[0].value, Number::Int(3));
/// assert!(parse(b"a_total 3\n", Format::OpenMetrics).is_err(), "no # EOF");
/// ```
pub fn parse(text: &[u8], format: Format) -> Result<Exposition, Error> {
    let whole = |reason| Error { line: 0, reason };
    let text = std::str::from_utf8(text).map_err(|_| whole("not UTF-8"))?;
    let body = match format {
        Format::OpenMetrics => text
            .strip_suffix("# EOF\n")
            .ok_or(whole("does not end with `# EOF\\n`"))?,
        Format::Prometheus => text,
    };
    if !body.is_empty() && !body.ends_with('\n') {
        return Err(whole("last line not terminated"));
    }
    let mut p = Parser {
        format,
        families: Vec::new(),
        names: HashSet::new(),
        claimed: HashSet::new(),
        series: HashSet::new(),
        hist: None,
        groups: HashSet::new(),
        started: false,
    };
    for (i, line) in body.split_terminator('\n').enumerate() {
        p.line(line).map_err(|reason| Error {
            line: i + 1,
            reason,
        })?;
    }
    let last = body.split_terminator('\n').count();
    p.close().map_err(|reason| Error { line: last, reason })?;
    Ok(Exposition {
        families: p.families,
    })
}

/// Progress through one histogram label set.
struct Group {
    key: Vec<(String, String)>,
    last_le: Option<f64>,
    last_count: i128,
    inf: Option<i128>,
    negative: bool,
    sum: bool,
    count: bool,
}

struct Parser {
    format: Format,
    families: Vec<Family>,
    /// Family names seen.
    names: HashSet<String>,
    /// Sample names claimed by families.
    claimed: HashSet<String>,
    /// Series of the current family: sample name and sorted labels.
    series: HashSet<(String, Vec<(String, String)>)>,
    /// The current histogram label set.
    hist: Option<Group>,
    /// Histogram label sets finished in the current family.
    groups: HashSet<Vec<(String, String)>>,
    /// Whether the current family has samples.
    started: bool,
}

impl Parser {
    fn line(&mut self, line: &str) -> Res<()> {
        if line.is_empty() {
            return Err("blank line");
        }
        match line.strip_prefix('#') {
            Some(rest) => self.metadata(rest),
            None => self.sample(line),
        }
    }

    fn current(&mut self) -> Res<&mut Family> {
        self.families.last_mut().ok_or("no family")
    }

    fn open(&mut self, name: &str) -> Res<()> {
        self.close()?;
        if !self.names.insert(name.to_owned()) {
            return Err("family name repeated");
        }
        self.families.push(Family {
            name: name.to_owned(),
            kind: Type::Unknown,
            help: None,
            unit: None,
            samples: Vec::new(),
        });
        self.started = false;
        self.series.clear();
        self.groups.clear();
        Ok(())
    }

    /// Checks the current family once complete.
    fn close(&mut self) -> Res<()> {
        self.end_group()?;
        let format = self.format;
        let Some(f) = self.families.last() else {
            return Ok(());
        };
        if let Some(unit) = &f.unit {
            if f.kind == Type::Info {
                return Err("UNIT on an info family");
            }
            let fits = f
                .name
                .strip_suffix(unit.as_str())
                .is_some_and(|r| r.ends_with('_'));
            if !fits {
                return Err("UNIT is not a suffix of the family name");
            }
        }
        let suffixes: &[&str] = match (format, f.kind) {
            (Format::OpenMetrics, Type::Counter) => &["", "_total", "_created"],
            (Format::OpenMetrics, Type::Histogram) => {
                &["", "_bucket", "_count", "_sum", "_created"]
            }
            (Format::OpenMetrics, Type::Info) => &["", "_info"],
            (Format::Prometheus, Type::Histogram) => &["", "_bucket", "_count", "_sum"],
            _ => &[""],
        };
        for s in suffixes {
            let mut n = f.name.clone();
            n.push_str(s);
            if !self.claimed.insert(n) {
                return Err("family names clash");
            }
        }
        Ok(())
    }

    fn metadata(&mut self, rest: &str) -> Res<()> {
        let rest = rest
            .strip_prefix(' ')
            .ok_or("`#` not followed by a space")?;
        let (keyword, rest) = rest.split_once(' ').ok_or("metadata line too short")?;
        let allowed = match self.format {
            Format::OpenMetrics => matches!(keyword, "TYPE" | "UNIT" | "HELP"),
            Format::Prometheus => matches!(keyword, "TYPE" | "HELP"),
        };
        if !allowed {
            return Err("comment line");
        }
        let (name, value) = rest.split_once(' ').ok_or("metadata without value")?;
        if !is_valid_metric_name(name) {
            return Err("invalid metric name in metadata");
        }
        let same = self.families.last().is_some_and(|f| f.name == name);
        if !same {
            self.open(name)?;
        } else if self.started {
            return Err("metadata after samples");
        }
        let format = self.format;
        let f = self.current()?;
        match keyword {
            "TYPE" => {
                if f.kind != Type::Unknown {
                    return Err("second TYPE");
                }
                f.kind = match (format, value) {
                    (_, "counter") => Type::Counter,
                    (_, "gauge") => Type::Gauge,
                    (_, "histogram") => Type::Histogram,
                    (Format::OpenMetrics, "info") => Type::Info,
                    (Format::OpenMetrics, "unknown") => Type::Unknown,
                    (Format::Prometheus, "untyped") => Type::Unknown,
                    _ => return Err("unknown TYPE"),
                };
                if format == Format::OpenMetrics && (f.help.is_some() || f.unit.is_some()) {
                    return Err("TYPE after UNIT or HELP");
                }
            }
            "UNIT" => {
                if f.unit.is_some() {
                    return Err("second UNIT");
                }
                if f.help.is_some() {
                    return Err("UNIT after HELP");
                }
                if !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
                {
                    return Err("invalid UNIT");
                }
                f.unit = Some(value.to_owned());
            }
            _ => {
                if f.help.is_some() {
                    return Err("second HELP");
                }
                let help = match format {
                    Format::OpenMetrics => unescape(value, true)?,
                    Format::Prometheus => unescape_help_004(value)?,
                };
                f.help = Some(help);
            }
        }
        Ok(())
    }

    fn sample(&mut self, line: &str) -> Res<()> {
        let name_end = line.find(['{', ' ']).ok_or("sample without value")?;
        let (name, rest) = line.split_at(name_end);
        if !is_valid_metric_name(name) {
            return Err("invalid sample name");
        }
        let (labels, rest) = if let Some(rest) = rest.strip_prefix('{') {
            parse_labels(rest)?
        } else {
            (Vec::new(), rest)
        };
        let text = rest.strip_prefix(' ').ok_or("no space before value")?;
        let value = parse_number(text)?;

        let fits = self
            .families
            .last()
            .and_then(|f| suffix_of(self.format, f, name));
        let suffix = match fits {
            Some(s) => s,
            None => {
                // A sample outside the current family starts an untyped one.
                self.open(name)?;
                ""
            }
        };
        self.started = true;
        let mut key = labels.clone();
        key.sort();
        if !self.series.insert((name.to_owned(), key)) {
            return Err("series repeated");
        }
        let format = self.format;
        let kind = self.current()?.kind;
        match kind {
            Type::Histogram => self.histogram_sample(suffix, &labels, value)?,
            Type::Counter
                if format == Format::OpenMetrics
                    && suffix == "_total"
                    && nan_or_negative(value) =>
            {
                return Err("counter total NaN or negative");
            }
            Type::Info if value != Number::Int(1) => return Err("info value is not 1"),
            _ => {}
        }
        self.current()?.samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
        Ok(())
    }

    fn histogram_sample(
        &mut self,
        suffix: &str,
        labels: &[(String, String)],
        value: Number,
    ) -> Res<()> {
        let mut key = Vec::with_capacity(labels.len());
        let mut le = None;
        for (n, v) in labels {
            if n == "le" && suffix == "_bucket" {
                le = Some(v.as_str());
            } else if n == "le" {
                return Err("`le` on a histogram's _sum or _count");
            } else {
                key.push((n.clone(), v.clone()));
            }
        }
        let same = self.hist.as_ref().is_some_and(|g| g.key == key);
        if !same {
            self.end_group()?;
            if self.groups.contains(&key) {
                return Err("histogram label sets interleaved");
            }
            self.hist = Some(Group {
                key,
                last_le: None,
                last_count: 0,
                inf: None,
                negative: false,
                sum: false,
                count: false,
            });
        }
        let format = self.format;
        let g = self.hist.as_mut().ok_or("no group")?;
        match suffix {
            "_bucket" => {
                let le = le.ok_or("bucket without `le`")?;
                if g.inf.is_some() || g.sum || g.count {
                    return Err("bucket after +Inf, _sum or _count");
                }
                let bound = match parse_number(le)? {
                    Number::Float(f) if !f.is_nan() => f,
                    _ => return Err("`le` not a float"),
                };
                if le != "+Inf" && super::number::canonical(bound).as_bytes() != le.as_bytes() {
                    return Err("`le` not canonical");
                }
                if g.last_le.is_some_and(|l| bound <= l) {
                    return Err("buckets out of order");
                }
                g.last_le = Some(bound);
                if bound < 0.0 {
                    g.negative = true;
                }
                let Number::Int(c) = value else {
                    return Err("bucket count not an integer");
                };
                if c < g.last_count {
                    return Err("bucket counts decrease");
                }
                g.last_count = c;
                if bound == f64::INFINITY {
                    g.inf = Some(c);
                }
            }
            "_sum" => {
                if g.inf.is_none() || g.sum || g.count {
                    return Err("_sum out of place");
                }
                if format == Format::OpenMetrics && (g.negative || nan_or_negative(value)) {
                    return Err("_sum NaN or negative, or with buckets below zero");
                }
                g.sum = true;
            }
            "_count" => {
                if !g.sum || g.count {
                    return Err("_count out of place");
                }
                if Some(value) != g.inf.map(Number::Int) {
                    return Err("_count differs from the +Inf bucket");
                }
                g.count = true;
            }
            _ => return Err("sample name not of this histogram"),
        }
        Ok(())
    }

    fn end_group(&mut self) -> Res<()> {
        let Some(g) = self.hist.take() else {
            return Ok(());
        };
        if g.inf.is_none() {
            return Err("histogram without +Inf bucket");
        }
        if self.format == Format::Prometheus && !(g.sum && g.count) {
            return Err("histogram without _sum and _count");
        }
        if g.sum != g.count {
            return Err("histogram _sum without _count");
        }
        self.groups.insert(g.key);
        Ok(())
    }
}

fn nan_or_negative(v: Number) -> bool {
    let v = v.as_f64();
    v.is_nan() || v < 0.0
}

/// The suffix by which `name` belongs to family `f`, if it does.
fn suffix_of(format: Format, f: &Family, name: &str) -> Option<&'static str> {
    let rest = name.strip_prefix(f.name.as_str())?;
    let allowed: &[&'static str] = match (format, f.kind) {
        (Format::OpenMetrics, Type::Counter) => &["_total"],
        (Format::OpenMetrics, Type::Info) => &["_info"],
        (_, Type::Histogram) => &["_bucket", "_sum", "_count"],
        _ => &[""],
    };
    allowed.iter().copied().find(|s| *s == rest)
}

/// Parses `name="value",…}` and returns the labels and what follows `}`.
fn parse_labels(mut s: &str) -> Res<(Vec<(String, String)>, &str)> {
    let mut labels: Vec<(String, String)> = Vec::new();
    loop {
        let (name, rest) = s.split_once("=\"").ok_or("label without =\"")?;
        if !is_valid_label_name(name) {
            return Err("invalid or reserved label name");
        }
        if labels.iter().any(|(n, _)| n == name) {
            return Err("label name repeated");
        }
        let (value, rest) = quoted(rest)?;
        labels.push((name.to_owned(), value));
        if let Some(rest) = rest.strip_prefix(',') {
            s = rest;
        } else if let Some(rest) = rest.strip_prefix('}') {
            return Ok((labels, rest));
        } else {
            return Err("expected , or } after a label");
        }
    }
}

/// Reads an escaped label value up to its closing quote.
fn quoted(s: &str) -> Res<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, s.get(i + 1..).unwrap_or(""))),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                _ => return Err("invalid escape in label value"),
            },
            c => out.push(c),
        }
    }
    Err("unterminated label value")
}

/// Unescapes `\\`, `\n` and, if `quote`, `\"` (refusing a raw `"`).
fn unescape(s: &str, quote: bool) -> Res<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('"') if quote => out.push('"'),
                _ => return Err("invalid escape"),
            },
            '"' if quote => return Err("unescaped double quote"),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn unescape_help_004(s: &str) -> Res<String> {
    unescape(s, false)
}

/// Parses a sample value in its canonical spellings.
fn parse_number(s: &str) -> Res<Number> {
    match s {
        "NaN" => return Ok(Number::Float(f64::NAN)),
        "+Inf" => return Ok(Number::Float(f64::INFINITY)),
        "-Inf" => return Ok(Number::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exp) = match unsigned.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (int.len() > 1 && int.starts_with('0')) {
        return Err("malformed number");
    }
    if frac.is_some_and(|f| !digits(f)) {
        return Err("malformed fraction");
    }
    let unsigned_exp = |e: &str| e.strip_prefix(['-', '+']).unwrap_or(e).to_owned();
    if exp.is_some_and(|e| !digits(&unsigned_exp(e))) {
        return Err("malformed exponent");
    }
    if frac.is_none() && exp.is_none() {
        return s
            .parse::<i128>()
            .map(Number::Int)
            .map_err(|_| "integer out of range");
    }
    s.parse::<f64>()
        .map(Number::Float)
        .map_err(|_| "malformed float")
}

#[cfg(test)]
mod tests;
