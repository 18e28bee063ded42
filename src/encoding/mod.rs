//! The text exposition formats: OpenMetrics 1.0 and Prometheus text 0.0.4.
//!
//! An [`Encoder`] walks a [`Registry`] and writes every family in the format
//! a scraper asked for ([`Format::negotiate`] reads its `Accept` header). It
//! keeps its scratch space (histogram buckets, the names already written, the
//! current family's name and labels) between scrapes, so that once the
//! caller's output buffer and that scratch have grown, in practice after the
//! first scrape, a scrape allocates nothing.
//!
//! ```
//! use nanometrics::{Counter, Encoder, Format, Registry};
//! let r = Registry::new();
//! let sent = r.register(Counter::new("messages_sent_total", "Messages sent.")).unwrap();
//! sent.inc_by(3);
//!
//! let mut enc = Encoder::new().with_prefix("soketi_").unwrap();
//! let mut body = Vec::new();
//! let format = Format::negotiate("application/openmetrics-text;version=1.0.0,text/plain;q=0.5");
//! enc.encode(&r, format, &mut body);
//! assert_eq!(format.content_type(), "application/openmetrics-text; version=1.0.0; charset=utf-8");
//! assert_eq!(
//!     String::from_utf8(body).unwrap(),
//!     concat!(
//!         "# TYPE soketi_messages_sent counter\n",
//!         "# HELP soketi_messages_sent Messages sent.\n",
//!         "soketi_messages_sent_total 3\n",
//!         "# EOF\n",
//!     )
//! );
//! ```
//!
//! How each family is written, and what happens to legacy names (a counter
//! without `_total`, a gauge `X` next to a counter `X_total`) in OpenMetrics,
//! is described in `docs/exposition-format.md`. In short: every series has the
//! same name and labels in both formats, so a Prometheus server stores the
//! same series whichever format it negotiates; where OpenMetrics cannot give a
//! family its type under that name, the family is written as `unknown` (or an
//! info as a `gauge`).

#![deny(clippy::indexing_slicing)]

use std::borrow::Cow;
use std::io;

use crate::{Error, Registry};

mod copy;
pub(crate) mod number;
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod parse;
mod text;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Prometheus,
}

impl Format {
    /// The exact `Content-Type` of a response in this format.
    ///
    /// ```
    /// use nanometrics::Format;
    /// assert_eq!(Format::Prometheus.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    /// assert_eq!(
    ///     Format::OpenMetrics.content_type(),
    ///     "application/openmetrics-text; version=1.0.0; charset=utf-8"
    /// );
    /// ```
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The format to answer a request carrying this `Accept` header value
    /// with, by the rules of Prometheus' own exposition library
    /// (`expfmt.NegotiateIncludingOpenMetrics`):
    ///
    /// - media ranges are tried from the highest `q` down (the first listed
    ///   wins a tie);
    /// - `application/openmetrics-text` with `version` `1.0.0`, `0.0.1` or
    ///   none selects OpenMetrics (always written as 1.0.0, which every
    ///   scraper asking for 0.0.1 also reads);
    /// - `text/plain` with `version` `0.0.4`, `1.0.0` or none selects text
    ///   0.0.4 (Prometheus 3's `text/plain; version=1.0.0` only adds quoted
    ///   UTF-8 names, which nanometrics never writes);
    /// - anything else (protobuf, other versions, `*/*`) is skipped, and when
    ///   nothing matches, the answer is text 0.0.4, as for an empty or absent
    ///   header.
    ///
    /// Unlike `expfmt`, a range with `q=0` (or an unreadable `q`) is never
    /// chosen: HTTP defines `q=0` as "not acceptable". Type, subtype and
    /// parameter names compare case-insensitively; parameter values may be
    /// quoted.
    ///
    /// ```
    /// use nanometrics::Format;
    /// // Prometheus 2.x and 3.x scrapers:
    /// let p2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::negotiate(p2), Format::OpenMetrics);
    /// assert_eq!(Format::negotiate("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5"), Format::Prometheus);
    /// assert_eq!(Format::negotiate(""), Format::Prometheus);
    /// assert_eq!(Format::negotiate("*/*"), Format::Prometheus);
    /// ```
    pub fn negotiate(accept: &str) -> Format {
        // The first matching range in (q descending, header order) is the
        // matching range with the highest q, the earliest on a tie. Every
        // range that can match is fully specific, so goautoneg's secondary
        // ordering by specificity never separates two of them.
        let mut best: Option<(u16, Format)> = None;
        for range in accept.split(',') {
            let Some((q, format)) = media_range(range) else {
                continue;
            };
            if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, format));
            }
        }
        best.map_or(Format::Prometheus, |(_, f)| f)
    }
}

/// Reads one media range: its quality in thousandths and the format it
/// selects, or `None` if it selects none.
fn media_range(range: &str) -> Option<(u16, Format)> {
    let mut parts = range.split(';');
    let media = parts.next()?.trim();
    let (ty, sub) = media.split_once('/')?;
    let (ty, sub) = (ty.trim(), sub.trim());
    let mut version: Option<&str> = None;
    let mut q = 1000u16;
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let k = k.trim();
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        if k.eq_ignore_ascii_case("q") {
            q = parse_q(v).unwrap_or(0);
        } else if k.eq_ignore_ascii_case("version") {
            version = Some(v);
        }
    }
    let format = if ty.eq_ignore_ascii_case("application")
        && sub.eq_ignore_ascii_case("openmetrics-text")
        && matches!(version, None | Some("" | "1.0.0" | "0.0.1"))
    {
        Format::OpenMetrics
    } else if ty.eq_ignore_ascii_case("text")
        && sub.eq_ignore_ascii_case("plain")
        && matches!(version, None | Some("" | "0.0.4" | "1.0.0"))
    {
        Format::Prometheus
    } else {
        return None;
    };
    Some((q, format))
}

/// An HTTP quality value (`0`, `0.5`, `1.000`) in thousandths; `None` if
/// malformed or above 1.
fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0u16,
        "1" => 1000,
        _ => return None,
    };
    let mut thousandths = 0u16;
    let mut scale = 100u16;
    for b in frac.bytes() {
        thousandths += u16::from(b - b'0') * scale;
        scale /= 10;
    }
    let q = whole + thousandths;
    (q <= 1000).then_some(q)
}

/// Size of the buffer [`Encoder::encode_to`] streams through.
const STREAM_BUF: usize = 32 * 1024;

/// The buffer is drained at the first series boundary past this many bytes,
/// so a series of up to 4 KiB never grows it.
const STREAM_DRAIN: usize = STREAM_BUF - 4 * 1024;

/// Writes a registry in a text format; keep one per scraping thread and
/// reuse it.
///
/// ```
/// use nanometrics::{Encoder, Format, Gauge, Registry};
/// let r = Registry::new();
/// r.register(Gauge::new("connected", "The number of currently connected sockets.")).unwrap().set(7);
/// let mut enc = Encoder::new();
/// let mut body = Vec::new();
/// enc.encode(&r, Format::Prometheus, &mut body);
/// assert_eq!(
///     String::from_utf8(body).unwrap(),
///     concat!(
///         "# HELP connected The number of currently connected sockets.\n",
///         "# TYPE connected gauge\n",
///         "connected 7\n",
///     )
/// );
/// ```
#[derive(Default)]
pub struct Encoder {
    prefix: Cow<'static, str>,
    state: text::State,
    stream: Vec<u8>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// An encoder with no name prefix.
    ///
    /// ```
    /// let enc = nanometrics::Encoder::new();
    /// assert_eq!(enc.prefix(), "");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Prepends `prefix` to every family and sample name it writes (soketi's
    /// `METRICS_PROMETHEUS_PREFIX`, e.g. `soketi_`). The names are not copied
    /// or rebuilt: the prefix is written just before each name.
    ///
    /// Fails unless the prefix is empty or itself a valid metric name, which
    /// makes every prefixed name valid.
    ///
    /// ```
    /// use nanometrics::Encoder;
    /// let enc = Encoder::new().with_prefix("soketi_6001_").unwrap();
    /// assert_eq!(enc.prefix(), "soketi_6001_");
    /// assert!(Encoder::new().with_prefix("6001_").is_err());
    /// assert!(Encoder::new().with_prefix("my-app_").is_err());
    /// assert!(Encoder::new().with_prefix(String::new()).is_ok());
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<Cow<'static, str>>) -> Result<Self, Error> {
        let prefix = prefix.into();
        if !prefix.is_empty() && !crate::name::is_valid_metric_name(&prefix) {
            return Err(Error::InvalidPrefix {
                prefix: prefix.into_owned(),
            });
        }
        self.prefix = prefix;
        Ok(self)
    }

    /// The name prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Appends the whole exposition of `registry` in `format` to `out`.
    ///
    /// Allocation-free once `out` (cleared by the caller between scrapes) and
    /// the encoder's scratch have grown to the registry's size: in practice,
    /// from the second scrape on.
    ///
    /// ```
    /// use nanometrics::{Encoder, Format, Histogram, Registry};
    /// let r = Registry::new();
    /// let h = r.register(Histogram::new("fanout_seconds", "Fan-out latency.", &[0.005, 0.1])).unwrap();
    /// h.observe(0.004);
    /// let mut enc = Encoder::new();
    /// let mut out = Vec::new();
    /// enc.encode(&r, Format::OpenMetrics, &mut out);
    /// let text = String::from_utf8(out).unwrap();
    /// assert!(text.contains("fanout_seconds_bucket{le=\"0.005\"} 1\n"));
    /// assert!(text.contains("fanout_seconds_bucket{le=\"+Inf\"} 1\n"));
    /// assert!(text.ends_with("fanout_seconds_count 1\n# EOF\n"));
    /// ```
    pub fn encode(&mut self, registry: &Registry, format: Format, out: &mut Vec<u8>) {
        let mut w = text::Writer::new(format, &self.prefix, &mut self.state, text::Out::vec(out));
        registry.visit(&mut w);
        // Appending to a `Vec` cannot fail.
        let _ = w.finish();
    }

    /// Writes the exposition to `w` through the encoder's 32 KiB buffer
    /// (allocated by the first call), drained between series: memory stays
    /// bounded however large the registry (by 28 KiB plus the largest series,
    /// which grows the buffer only if it is over 4 KiB).
    ///
    /// ```
    /// use nanometrics::{Counter, Encoder, Format, Registry};
    /// let r = Registry::new();
    /// r.register(Counter::new("jobs_total", "Jobs.")).unwrap().inc();
    /// let mut enc = Encoder::new();
    /// let mut sink = Vec::new();
    /// enc.encode_to(&r, Format::Prometheus, &mut sink).unwrap();
    /// let mut direct = Vec::new();
    /// enc.encode(&r, Format::Prometheus, &mut direct);
    /// assert_eq!(sink, direct);
    /// ```
    pub fn encode_to<W: io::Write>(
        &mut self,
        registry: &Registry,
        format: Format,
        mut w: W,
    ) -> io::Result<()> {
        self.stream.clear();
        self.stream.reserve_exact(STREAM_BUF);
        let out = text::Out::streaming(&mut self.stream, &mut w, STREAM_DRAIN);
        let mut tw = text::Writer::new(format, &self.prefix, &mut self.state, out);
        registry.visit(&mut tw);
        tw.finish().and_then(|()| w.flush())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_exact() {
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(
            Format::Prometheus.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }

    #[test]
    fn negotiation_follows_prometheus_rules() {
        use Format::*;
        for (accept, want) in [
            ("", Prometheus),
            ("   ", Prometheus),
            ("*/*", Prometheus),
            ("text/html,application/xhtml+xml", Prometheus),
            ("text/plain", Prometheus),
            ("text/plain;version=0.0.4", Prometheus),
            ("text/plain; version=1.0.0; escaping=allow-utf-8", Prometheus),
            ("text/plain;version=0.0.5", Prometheus),
            ("application/openmetrics-text", OpenMetrics),
            ("application/openmetrics-text; version=0.0.1", OpenMetrics),
            ("application/openmetrics-text; version=\"1.0.0\"", OpenMetrics),
            ("APPLICATION/OpenMetrics-Text; Version=1.0.0", OpenMetrics),
            // An unknown OpenMetrics version is skipped: fallback.
            ("application/openmetrics-text; version=2.0.0", Prometheus),
            // Prometheus 2.x default scrape header.
            ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", OpenMetrics),
            // Prometheus 3.x default scrape header.
            ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2", OpenMetrics),
            // Native-histogram scrapers ask for protobuf first: skipped.
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3", Prometheus),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,application/openmetrics-text;q=0.3", OpenMetrics),
            // Highest q wins, whatever the order.
            ("text/plain;q=0.4,application/openmetrics-text;q=0.5", OpenMetrics),
            ("application/openmetrics-text;q=0.4,text/plain;q=0.5", Prometheus),
            // Tie: the first listed.
            ("text/plain,application/openmetrics-text", Prometheus),
            ("application/openmetrics-text,text/plain", OpenMetrics),
            // q=0 means "not acceptable"; malformed q too.
            ("application/openmetrics-text;q=0", Prometheus),
            ("application/openmetrics-text;q=0.000,text/plain;q=0.001", Prometheus),
            ("application/openmetrics-text;q=abc", Prometheus),
            ("application/openmetrics-text;q=1.5", Prometheus),
            ("application/openmetrics-text;q=1.000", OpenMetrics),
            (" application/openmetrics-text ; q=0.9 , text/plain ; q=0.8 ", OpenMetrics),
        ] {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
    }

    #[test]
    fn quality_values() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("0."), Some(0));
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q("1.001"), None);
        assert_eq!(parse_q("2"), None);
        assert_eq!(parse_q(""), None);
    }

    #[test]
    fn prefix_validation() {
        assert!(Encoder::new().with_prefix("soketi_").is_ok());
        assert!(Encoder::new().with_prefix("ns:sub_").is_ok());
        assert_eq!(
            Encoder::new().with_prefix("1x").unwrap_err(),
            Error::InvalidPrefix {
                prefix: "1x".into()
            }
        );
        assert!(Encoder::new().with_prefix("a b").is_err());
        assert!(Encoder::new().with_prefix("ä_").is_err());
    }
}
