//! Registry namespaces: a name prefix and constant labels for every family of
//! a child registry ([`Registry::namespace`](crate::Registry::namespace)),
//! applied while the registry is walked, so the families themselves keep
//! their own names.

use crate::metric::{Kind, Meta, UniqueSeries, Value, Visitor};
use crate::{Error, Labels};

/// A prefix and constant labels, already composed with every enclosing
/// namespace's (outer prefix first, outer labels last).
#[derive(Debug, Default)]
pub(crate) struct Namespace {
    pub(crate) prefix: String,
    pub(crate) labels: Vec<(Box<str>, Box<str>)>,
}

impl Namespace {
    /// The namespace `prefix` and `labels` inside `outer` (none: the root).
    pub(crate) fn within(
        outer: Option<&Namespace>,
        prefix: &str,
        labels: &[(&str, &str)],
    ) -> Result<Namespace, Error> {
        if !prefix.is_empty() && !crate::name::is_valid_metric_name(prefix) {
            return Err(Error::InvalidPrefix {
                prefix: prefix.to_owned(),
            });
        }
        let mut ns = Namespace {
            prefix: [outer.map_or("", |o| o.prefix.as_str()), prefix].concat(),
            labels: Vec::with_capacity(labels.len()),
        };
        for (i, &(name, value)) in labels.iter().enumerate() {
            // `le` and `quantile` would collide with a histogram's or a
            // summary's own label; repeats would make every series invalid.
            let taken = labels
                .get(..i)
                .is_some_and(|b| b.iter().any(|(n, _)| *n == name))
                || outer.is_some_and(|o| o.has_label(name));
            if !crate::name::is_valid_label_name(name)
                || name == "le"
                || name == "quantile"
                || taken
            {
                return Err(Error::InvalidLabelName {
                    metric: format!("namespace `{prefix}`"),
                    label: name.to_owned(),
                });
            }
            ns.labels.push((name.into(), value.into()));
        }
        if let Some(o) = outer {
            ns.labels.extend(o.labels.iter().cloned());
        }
        Ok(ns)
    }

    /// Whether one of the constant labels is named `name`.
    pub(crate) fn has_label(&self, name: &str) -> bool {
        self.labels.iter().any(|(n, _)| &**n == name)
    }
}

/// A visitor seen through a namespace: family names get its prefix, series
/// its constant labels.
pub(crate) struct Scoped<'v, 'n> {
    pub(crate) inner: &'v mut dyn Visitor,
    pub(crate) ns: &'n Namespace,
}

impl Visitor for Scoped<'_, '_> {
    fn family(&mut self, meta: &Meta, kind: Kind) {
        self.inner.family_in(&self.ns.prefix, meta, kind);
    }

    fn family_in(&mut self, prefix: &str, meta: &Meta, kind: Kind) {
        // Only a metric that reports a family of its own namespace gets here.
        let whole = Meta::prefixed(prefix, meta);
        self.family(&whole, kind);
    }

    fn series(&mut self, labels: &Labels<'_>, value: Value<'_>) {
        self.inner
            .series(&labels.with_namespace(&self.ns.labels), value);
    }

    fn dynamic_series(&mut self, names: &[&'static str], values: &[&str], value: Value<'_>) {
        if self.ns.labels.is_empty() {
            self.inner.dynamic_series(names, values, value);
        } else {
            self.series(&Labels::dynamic(names, values), value);
        }
    }

    fn next_metric(&mut self, unique: Option<UniqueSeries>) {
        self.inner.next_metric(unique);
    }
}
