//! Histogram bounds by metric name: the `metrics` facade has no notion of
//! buckets, so the recorder picks them from the name, as
//! metrics-exporter-prometheus' `set_buckets_for_metric` does.

use std::borrow::Cow;

use crate::metric::histogram::check_bounds;
use crate::Error;

/// Which histogram names a bucket setting applies to, matched against the
/// sanitized name (`http.latency` is matched as `http_latency`).
///
/// When several match, an exact match wins over a prefix, a prefix over a
/// suffix, and among matchers of one kind the one that sorts first (the
/// order metrics-exporter-prometheus uses).
///
/// ```
/// use nanometrics::facade::Matcher;
/// assert!(Matcher::Prefix("http_".into()).matches("http_latency_seconds"));
/// assert!(Matcher::Suffix("_bytes".into()).matches("frame_bytes"));
/// assert!(!Matcher::Full("frame".into()).matches("frame_bytes"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Matcher {
    /// The whole name.
    Full(String),
    /// The start of the name.
    Prefix(String),
    /// The end of the name.
    Suffix(String),
}

impl Matcher {
    /// Whether `name` (already sanitized) matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Full(s) => name == s,
            Matcher::Prefix(s) => name.starts_with(s.as_str()),
            Matcher::Suffix(s) => name.ends_with(s.as_str()),
        }
    }

    fn pattern(&self) -> &str {
        match self {
            Matcher::Full(s) | Matcher::Prefix(s) | Matcher::Suffix(s) => s,
        }
    }
}

/// The default bounds and the per-name overrides, checked when set.
#[derive(Clone, Debug)]
pub(crate) struct Buckets {
    default: Cow<'static, [f64]>,
    /// Sorted: exact, then prefix, then suffix matchers.
    overrides: Vec<(Matcher, Cow<'static, [f64]>)>,
}

impl Buckets {
    pub(crate) fn new(default: Cow<'static, [f64]>) -> Self {
        Self {
            default,
            overrides: Vec::new(),
        }
    }

    /// Replaces the default bounds; an [`Error::InvalidBuckets`] (naming
    /// `*`) unless finite and strictly increasing.
    pub(crate) fn set_default(&mut self, bounds: &[f64]) -> Result<(), Error> {
        check_bounds("*", bounds)?;
        self.default = Cow::Owned(bounds.to_vec());
        Ok(())
    }

    /// Adds (or replaces) the bounds for names `m` matches.
    pub(crate) fn set(&mut self, m: Matcher, bounds: &[f64]) -> Result<(), Error> {
        check_bounds(m.pattern(), bounds)?;
        self.overrides.retain(|(o, _)| *o != m);
        self.overrides.push((m, Cow::Owned(bounds.to_vec())));
        self.overrides.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(())
    }

    /// The bounds for the histogram named `name` (sanitized).
    pub(crate) fn for_name(&self, name: &str) -> Cow<'static, [f64]> {
        self.overrides
            .iter()
            .find(|(m, _)| m.matches(name))
            .map_or(&self.default, |(_, b)| b)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_prefix_then_suffix() {
        let mut b = Buckets::new(Cow::Borrowed(&[1.0]));
        b.set(Matcher::Suffix("_seconds".into()), &[0.5]).unwrap();
        b.set(Matcher::Prefix("http_".into()), &[0.1, 0.2]).unwrap();
        b.set(Matcher::Full("http_x_seconds".into()), &[9.0])
            .unwrap();
        assert_eq!(&*b.for_name("http_x_seconds"), [9.0]);
        assert_eq!(&*b.for_name("http_y_seconds"), [0.1, 0.2]);
        assert_eq!(&*b.for_name("db_seconds"), [0.5]);
        assert_eq!(&*b.for_name("other"), [1.0]);
        b.set(Matcher::Suffix("_seconds".into()), &[0.7]).unwrap();
        assert_eq!(&*b.for_name("db_seconds"), [0.7], "replaced");
        assert!(b.set(Matcher::Full("h".into()), &[2.0, 1.0]).is_err());
        assert!(b.set_default(&[f64::NAN]).is_err());
    }
}
