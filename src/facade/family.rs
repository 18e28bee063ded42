//! A facade metric's family: a nanometrics [`Family`] with as many labels as
//! the first registration of the name had (0 to [`MAX_LABELS`]), behind one
//! trait object so the recorder can hold families of any label count, plus
//! the HELP text and unit that `describe_*` may set after the family exists.
//!
//! Families are leaked (`&'static`): facade metrics are never removed, so a
//! handle the facade hands out holds its series directly and stays valid for
//! the life of the process. What leaks is bounded by the recorder's metric
//! limit (one family per name).

use std::sync::OnceLock;

use crate::metric::{Kind, Meta, Metric, UniqueSeries, Value, Visitor};
use crate::{Error, Family, FamilyKind, Labels};

/// The most labels a facade metric can have; a registration with more is
/// dropped (and counted, reason `invalid`).
///
/// ```
/// use nanometrics::facade::{Recorder, MAX_LABELS};
/// assert_eq!(MAX_LABELS, 8);
/// let registry = Box::leak(Box::new(nanometrics::Registry::new()));
/// let recorder = Recorder::builder().registry(registry).build()?;
/// metrics::with_local_recorder(&recorder, || {
///     let labels: Vec<_> = (0..9).map(|i| metrics::Label::new(format!("l{i}"), "v")).collect();
///     metrics::counter!("wide_total", labels).increment(1); // dropped, no panic
/// });
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub const MAX_LABELS: usize = 8;

/// A [`Family`] of some label count, looked up by a slice of values.
pub(crate) trait Lookup<K: FamilyKind>: Metric {
    /// The series for `values` (as many as the family has labels, else
    /// `None`): the family's lock-free lookup.
    fn lookup(&'static self, values: &[&str]) -> Option<K::Ref<'static>>;
    /// The label names.
    fn names(&self) -> &[&'static str];
    /// `self` as a plain metric (no trait upcasting before Rust 1.86).
    fn as_metric(&self) -> &dyn Metric;
}

impl<K: FamilyKind, const N: usize> Lookup<K> for Family<K, N> {
    #[inline]
    fn lookup(&'static self, values: &[&str]) -> Option<K::Ref<'static>> {
        let values: [&str; N] = values.try_into().ok()?;
        Some(self.with(values))
    }
    fn names(&self) -> &[&'static str] {
        self.label_names()
    }
    fn as_metric(&self) -> &dyn Metric {
        self
    }
}

/// Builds and leaks a family for `names` (at most [`MAX_LABELS`]).
pub(crate) fn leak_family<K: FamilyKind>(
    meta: Meta,
    names: &[&'static str],
    config: K::Config,
    limit: usize,
) -> Result<&'static dyn Lookup<K>, Error> {
    fn leak<K: FamilyKind, const N: usize>(
        meta: Meta,
        names: &[&'static str],
        config: K::Config,
        limit: usize,
    ) -> Result<&'static dyn Lookup<K>, Error> {
        let too_many = || Error::TooManyLabels {
            metric: meta.name().to_owned(),
            limit: MAX_LABELS,
        };
        let names: [&'static str; N] = names.try_into().map_err(|_| too_many())?;
        let family = Family::<K, N>::try_new(meta, names, config)?.with_limit(limit);
        Ok(Box::leak(Box::new(family)))
    }
    macro_rules! by_len {
        ($($n:literal)*) => {
            match names.len() {
                $($n => leak::<K, $n>(meta, names, config, limit),)*
                _ => Err(Error::TooManyLabels { metric: meta.name().to_owned(), limit: MAX_LABELS }),
            }
        };
    }
    by_len!(0 1 2 3 4 5 6 7 8)
}

/// The registered metric: the family, and its description once given.
pub(crate) struct Described<K: FamilyKind> {
    pub(crate) family: &'static dyn Lookup<K>,
    /// Set by the first `describe_*` of the name (the exporter keeps the
    /// first description too); until then the family's own `Meta` (no help).
    described: OnceLock<Meta>,
}

impl<K: FamilyKind> Described<K> {
    pub(crate) fn new(family: &'static dyn Lookup<K>, meta: Option<Meta>) -> Self {
        let described = OnceLock::new();
        if let Some(m) = meta {
            let _ = described.set(m);
        }
        Self { family, described }
    }

    /// Sets the description unless one is set.
    pub(crate) fn describe(&self, meta: Meta) {
        let _ = self.described.set(meta);
    }
}

impl<K: FamilyKind> Metric for Described<K> {
    fn meta(&self) -> &Meta {
        self.described
            .get()
            .unwrap_or_else(|| self.family.as_metric().meta())
    }
    fn kind(&self) -> Kind {
        self.family.as_metric().kind()
    }
    fn check(&self) -> Result<(), Error> {
        self.family.as_metric().check()
    }
    fn visit(&self, v: &mut dyn Visitor) {
        match self.described.get() {
            None => self.family.as_metric().visit(v),
            Some(meta) => self.family.as_metric().visit(&mut Remeta { v, meta }),
        }
    }
    fn reserve(&self) -> bool {
        self.family.as_metric().reserve()
    }
    fn label_names(&self, f: &mut dyn FnMut(&str)) {
        self.family.as_metric().label_names(f)
    }
    fn unique_series(&self) -> Option<UniqueSeries> {
        // Only the family's own series are reported.
        self.family.as_metric().unique_series()
    }
    fn overflowed(&self) -> Option<u64> {
        self.family.as_metric().overflowed()
    }
}

/// Forwards a walk, with `meta` in place of the family's own.
struct Remeta<'a> {
    v: &'a mut dyn Visitor,
    meta: &'a Meta,
}

impl Visitor for Remeta<'_> {
    fn family(&mut self, _: &Meta, kind: Kind) {
        self.v.family(self.meta, kind);
    }
    fn series(&mut self, labels: &Labels<'_>, value: Value<'_>) {
        self.v.series(labels, value);
    }
    fn dynamic_series(&mut self, names: &[&'static str], values: &[&str], value: Value<'_>) {
        self.v.dynamic_series(names, values, value);
    }
    fn next_metric(&mut self, unique: Option<UniqueSeries>) {
        self.v.next_metric(unique);
    }
}
