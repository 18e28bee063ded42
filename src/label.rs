//! Labels: compile-time label sets that index an array, and the label view a
//! scrape walks.
//!
//! A [`LabelSet`] is a type whose values are known at compile time, such as an
//! enum declared with [`label_enum!`](crate::label_enum) or a tuple of them. A
//! metric generic over a label set (`Counter<ChannelType>`) stores one series
//! per value in one block of cells; `metric.with(value)` is an index, not a
//! hash lookup, and takes no lock. Label values only known at run time
//! (`app_id`) go through a [`Family`](crate::Family) instead.

/// A set of label values known at compile time.
///
/// Implemented by [`label_enum!`](crate::label_enum) enums, by `()` (no
/// labels) and by tuples of label sets (the product, in tuple order).
///
/// ```
/// use nanometrics::LabelSet;
/// nanometrics::label_enum! {
///     /// HTTP method.
///     pub enum Method: "method" { Get => "GET", Post => "POST" }
/// }
/// nanometrics::label_enum! {
///     /// Response class.
///     pub enum Status: "status" { Ok => "2xx", ClientError => "4xx", ServerError => "5xx" }
/// }
/// assert_eq!(<(Method, Status)>::CARDINALITY, 6);
/// assert_eq!((Method::Post, Status::ClientError).index(), 4);
/// let mut pairs = Vec::new();
/// <(Method, Status)>::for_each_pair(4, &mut |n, v| pairs.push((n, v)));
/// assert_eq!(pairs, [("method", "POST"), ("status", "4xx")]);
/// ```
pub trait LabelSet: Copy + Send + Sync + 'static {
    /// Number of distinct values (series).
    const CARDINALITY: usize;
    /// Position of this value in `0..CARDINALITY`.
    fn index(self) -> usize;
    /// Calls `f(name, value)` for each label of the value at `index`, in
    /// declaration order. Does nothing for an index out of range.
    fn for_each_pair(index: usize, f: &mut dyn FnMut(&'static str, &'static str));
    /// Calls `f(name)` for each label name, in declaration order.
    fn for_each_name(f: &mut dyn FnMut(&'static str));
    /// Whether different indices always report different label values, which
    /// lets a scrape skip its check for two series with the same labels.
    /// [`label_enum!`](crate::label_enum) checks its values at compile time
    /// and sets it; `()` and tuples of sets that set it do too. A hand-written
    /// set should leave it `false` unless sure: a wrong `true` can expose two
    /// series with the same labels, which scrapers reject.
    ///
    /// ```
    /// use nanometrics::LabelSet;
    /// nanometrics::label_enum! {
    ///     /// Direction.
    ///     pub enum Dir: "dir" { In => "in", Out => "out" }
    /// }
    /// assert!(<(Dir, ())>::DISTINCT);
    /// ```
    const DISTINCT: bool = false;
}

impl LabelSet for () {
    const CARDINALITY: usize = 1;
    const DISTINCT: bool = true;
    #[inline]
    fn index(self) -> usize {
        0
    }
    fn for_each_pair(_: usize, _: &mut dyn FnMut(&'static str, &'static str)) {}
    fn for_each_name(_: &mut dyn FnMut(&'static str)) {}
}

impl<A: LabelSet, B: LabelSet> LabelSet for (A, B) {
    const CARDINALITY: usize = A::CARDINALITY * B::CARDINALITY;
    // Row-major: two indices differ in A's or in B's part.
    const DISTINCT: bool = A::DISTINCT && B::DISTINCT;
    #[inline]
    fn index(self) -> usize {
        self.0.index() * B::CARDINALITY + self.1.index()
    }
    fn for_each_pair(index: usize, f: &mut dyn FnMut(&'static str, &'static str)) {
        if index < Self::CARDINALITY {
            A::for_each_pair(index / B::CARDINALITY, f);
            B::for_each_pair(index % B::CARDINALITY, f);
        }
    }
    fn for_each_name(f: &mut dyn FnMut(&'static str)) {
        A::for_each_name(f);
        B::for_each_name(f);
    }
}

impl<A: LabelSet, B: LabelSet, C: LabelSet> LabelSet for (A, B, C) {
    const CARDINALITY: usize = A::CARDINALITY * B::CARDINALITY * C::CARDINALITY;
    const DISTINCT: bool = <((A, B), C)>::DISTINCT;
    #[inline]
    fn index(self) -> usize {
        ((self.0, self.1), self.2).index()
    }
    fn for_each_pair(index: usize, f: &mut dyn FnMut(&'static str, &'static str)) {
        <((A, B), C)>::for_each_pair(index, f)
    }
    fn for_each_name(f: &mut dyn FnMut(&'static str)) {
        <((A, B), C)>::for_each_name(f)
    }
}

/// Declares an enum usable as a compile-time [`LabelSet`].
///
/// The label name is checked at compile time; the enum gets `ALL` (every
/// variant in order) and `as_str()`.
///
/// ```
/// nanometrics::label_enum! {
///     /// Pusher channel kinds.
///     pub enum ChannelType: "channel_type" {
///         Public => "public",
///         Private => "private",
///         Presence => "presence",
///     }
/// }
/// use nanometrics::Counter;
/// static SENT: Counter<ChannelType> = Counter::labeled("sent_total", "Messages sent.");
/// SENT.with(ChannelType::Presence).inc();
/// assert_eq!(SENT.with(ChannelType::Presence).get(), 1);
/// assert_eq!(ChannelType::Private.as_str(), "private");
/// ```
///
/// A label name that Prometheus reserves does not compile, nor does a value
/// given twice (it would make two identical series):
///
/// ```compile_fail
/// nanometrics::label_enum! { pub enum Bad: "__reserved" { A => "a" } }
/// ```
///
/// ```compile_fail
/// nanometrics::label_enum! { pub enum Twice: "kind" { A => "a", B => "a" } }
/// ```
#[macro_export]
macro_rules! label_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $label:literal {
            $($(#[$vmeta:meta])* $variant:ident => $value:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* #[allow(missing_docs)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            $vis const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The label value of this variant.
            $vis const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value),+
                }
            }
        }

        impl $crate::LabelSet for $name {
            const CARDINALITY: usize = [$($value),+].len();
            // The values are checked distinct below.
            const DISTINCT: bool = true;
            #[inline]
            fn index(self) -> usize {
                self as usize
            }
            fn for_each_pair(index: usize, f: &mut dyn FnMut(&'static str, &'static str)) {
                if let Some(v) = Self::ALL.get(index) {
                    f($label, v.as_str());
                }
            }
            fn for_each_name(f: &mut dyn FnMut(&'static str)) {
                f($label);
            }
        }

        const _: () = assert!(
            $crate::name::is_valid_label_name($label),
            concat!("invalid label name in label_enum!: ", $label)
        );
        const _: () = assert!(
            $crate::name::all_distinct(&[$($value),+]),
            concat!("repeated label value in label_enum! ", stringify!($name))
        );
    };
}

/// `LabelSet::for_each_pair` of some label set.
type PairsFn = fn(usize, &mut dyn FnMut(&'static str, &'static str));
/// A function reporting label names to a callback.
pub(crate) type NamesFn<'a> = &'a mut dyn FnMut(&mut dyn FnMut(&'static str));

/// The labels of one series, as the scrape sees them: an optional run of
/// dynamic values (from a [`Family`](crate::Family)), an optional compile-time
/// label set value, and optional constant pairs (an [`Info`](crate::Info)).
///
/// ```
/// use nanometrics::Labels;
/// let pairs = [("version", "1.2.3")];
/// let labels = Labels::constant(&pairs);
/// let mut seen = Vec::new();
/// labels.for_each(|n, v| seen.push(format!("{n}={v}")));
/// assert_eq!(seen, ["version=1.2.3"]);
/// assert!(Labels::EMPTY.is_empty());
/// ```
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    names: &'a [&'static str],
    values: &'a [&'a str],
    fixed: Option<(usize, PairsFn)>,
    constant: &'a [(&'a str, &'a str)],
    /// The constant labels of the registry namespace the series is in.
    namespace: &'a [(Box<str>, Box<str>)],
}

impl<'a> Labels<'a> {
    /// No labels.
    pub const EMPTY: Labels<'static> = Labels {
        names: &[],
        values: &[],
        fixed: None,
        constant: &[],
        namespace: &[],
    };

    /// Constant name/value pairs.
    pub const fn constant(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Labels {
            names: &[],
            values: &[],
            fixed: None,
            constant: pairs,
            namespace: &[],
        }
    }

    /// The label set value at `index` of `L`.
    pub fn fixed<L: LabelSet>(index: usize) -> Self {
        Labels {
            names: &[],
            values: &[],
            fixed: Some((index, L::for_each_pair)),
            constant: &[],
            namespace: &[],
        }
    }

    /// Dynamic values for `names` (equal lengths; extra entries are ignored).
    pub fn dynamic(names: &'a [&'static str], values: &'a [&'a str]) -> Self {
        Labels {
            names,
            values,
            fixed: None,
            constant: &[],
            namespace: &[],
        }
    }

    /// These labels followed by the label set value at `index` of `L`.
    pub fn with_fixed<L: LabelSet>(self, index: usize) -> Self {
        Labels {
            fixed: Some((index, L::for_each_pair)),
            ..self
        }
    }

    /// These labels followed by a namespace's constant labels.
    pub(crate) fn with_namespace(self, pairs: &'a [(Box<str>, Box<str>)]) -> Self {
        Labels {
            namespace: pairs,
            ..self
        }
    }

    /// Whether there are no labels at all.
    pub fn is_empty(&self) -> bool {
        let mut any = false;
        self.for_each(|_, _| any = true);
        !any
    }

    /// Calls `f(name, value)` for every label, in a stable order: dynamic
    /// labels, then compile-time ones, then constant pairs, then the
    /// registry namespace's ([`Registry::namespace`](crate::Registry::namespace)).
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(&str, &str)) {
        self.for_each_sourced(|n, v| match n {
            LabelName::Static(n) | LabelName::Borrowed(n) => f(n, v),
        });
    }
}

/// A label name as [`Labels::for_each_sourced`] reports it: `'static` names
/// (dynamic and compile-time labels) can be recognised by address, which lets
/// the encoder validate them once rather than for every series.
#[derive(Clone, Copy)]
pub(crate) enum LabelName<'a> {
    /// A name that lives for the whole program.
    Static(&'static str),
    /// A name borrowed for the call only (constant pairs).
    Borrowed(&'a str),
}

impl Labels<'_> {
    /// [`for_each`](Self::for_each), telling which names are `'static`.
    #[inline]
    pub(crate) fn for_each_sourced(&self, mut f: impl FnMut(LabelName<'_>, &str)) {
        for (n, v) in self.names.iter().zip(self.values.iter()) {
            f(LabelName::Static(n), v);
        }
        if let Some((i, pairs)) = self.fixed {
            pairs(i, &mut |n, v| f(LabelName::Static(n), v));
        }
        for (n, v) in self.constant {
            f(LabelName::Borrowed(n), v);
        }
        for (n, v) in self.namespace {
            f(LabelName::Borrowed(n), v);
        }
    }
}

impl std::fmt::Debug for Labels<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        self.for_each(|n, v| {
            m.entry(&n, &v);
        });
        m.finish()
    }
}

/// Checks a label set's names at registration: valid, distinct, and none equal
/// to `reserved` (`le` for histograms).
pub(crate) fn check_label_names(
    metric: &str,
    names: NamesFn<'_>,
    reserved: &str,
) -> Result<(), crate::Error> {
    let mut seen: Vec<&'static str> = Vec::new();
    let mut bad: Option<&'static str> = None;
    names(&mut |n| {
        if bad.is_none()
            && (!crate::name::is_valid_label_name(n) || n == reserved || seen.contains(&n))
        {
            bad = Some(n);
        }
        seen.push(n);
    });
    match bad {
        None => Ok(()),
        Some(label) => Err(crate::Error::InvalidLabelName {
            metric: metric.to_owned(),
            label: label.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::label_enum! {
        /// Test labels.
        enum Kind: "kind" { A => "a", B => "b" }
    }
    crate::label_enum! {
        /// Test labels.
        enum Dup: "kind" { X => "x" }
    }

    #[test]
    fn tuple_indexing_is_row_major() {
        for (i, (a, b)) in [
            (Kind::A, Kind::A),
            (Kind::A, Kind::B),
            (Kind::B, Kind::A),
            (Kind::B, Kind::B),
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!((a, b).index(), i);
        }
        assert_eq!(<(Kind, Kind, Dup)>::CARDINALITY, 4);
        let mut v = Vec::new();
        <(Kind, (), Dup)>::for_each_pair(1, &mut |n, val| v.push((n, val)));
        assert_eq!(v, [("kind", "b"), ("kind", "x")]);
        let mut none = 0;
        <(Kind, Kind)>::for_each_pair(4, &mut |_, _| none += 1);
        assert_eq!(none, 0, "out of range index yields nothing");
    }

    #[test]
    fn repeated_label_names_are_refused() {
        let err = check_label_names("m", &mut |f| <(Kind, Dup)>::for_each_name(f), "le");
        assert!(matches!(err, Err(crate::Error::InvalidLabelName { .. })));
        assert!(check_label_names("m", &mut |f| <Kind>::for_each_name(f), "le").is_ok());
    }

    #[test]
    fn labels_order() {
        let names = ["app_id"];
        let values = ["a1"];
        let consts = [("c", "1")];
        let l = Labels {
            constant: &consts,
            ..Labels::dynamic(&names, &values).with_fixed::<Kind>(1)
        };
        let mut seen = Vec::new();
        l.for_each(|n, v| seen.push(format!("{n}={v}")));
        assert_eq!(seen, ["app_id=a1", "kind=b", "c=1"]);
        assert_eq!(
            format!("{l:?}"),
            r#"{"app_id": "a1", "kind": "b", "c": "1"}"#
        );
    }
}
