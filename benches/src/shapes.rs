//! Run-time label lookups beyond the two-short-values case: 1 to 4 labels,
//! values of 3, 12, 36 and 60 bytes, tables of 20 and of 10,000 label sets,
//! for nanometrics' `Family::with` and prometheus' `with_label_values` with
//! `&'static str` values (its fastest documented idiom), built the same way
//! for both (`benches/benches/iai.rs`, group `dynamic_shapes`).

use nanometrics::{Counter, Family, Meta};

/// Label names, the first `N` used.
const NAMES: [&str; 4] = ["app_id", "channel", "region", "shard"];

/// One workload: the same label sets in a nanometrics family and a
/// prometheus counter vec, and the set a benchmark looks up.
pub struct Shape<const N: usize> {
    /// nanometrics' family.
    pub nm: Family<Counter, N>,
    /// prometheus' counter vec.
    pub prom: prometheus::IntCounterVec,
    /// The label set looked up (one of those inserted).
    pub probe: [&'static str; N],
}

/// Value `label` of set `set`: `len` bytes, distinct per set.
fn value(label: usize, set: usize, len: usize) -> &'static str {
    let digits = len.saturating_sub(1).max(1);
    let v = format!("{}{set:0>digits$}", (b'a' + label as u8) as char);
    Box::leak(v.into_boxed_str())
}

impl<const N: usize> Shape<N> {
    /// `sets` label sets of `N` values of `len` bytes each, inserted into
    /// both libraries; the probe is set 7.
    pub fn new(len: usize, sets: usize) -> Self {
        let names: [&'static str; N] = std::array::from_fn(|i| NAMES[i]);
        let nm = Family::<Counter, N>::try_new(
            Meta::try_new(format!("shape_{N}_{len}_{sets}_total"), "Shape.").unwrap(),
            names,
            (),
        )
        .unwrap()
        .with_limit(sets + 1)
        .with_max_value_len(64);
        let prom = prometheus::IntCounterVec::new(
            prometheus::Opts::new(format!("shape_{N}_{len}_{sets}_total"), "Shape."),
            &names,
        )
        .unwrap();
        for set in 0..sets {
            let values: [&'static str; N] = std::array::from_fn(|l| value(l, set, len));
            nm.with(values).inc();
            prom.with_label_values(&values).inc();
        }
        let probe = std::array::from_fn(|l| value(l, 7, len));
        Self { nm, prom, probe }
    }

    /// [`new`](Self::new), leaked: a benchmark that takes it by reference
    /// does not count its drop.
    pub fn leaked(len: usize, sets: usize) -> &'static Self {
        Box::leak(Box::new(Self::new(len, sets)))
    }
}
