//! The reference model: a registry built from fuzz input ([`build`]), walked
//! into a [`Model`], and the exposition a strict parser must read back from it
//! in each format ([`expected`]), by the rules of
//! `docs/exposition-format.md` and written out independently of the encoder.

use std::borrow::Cow;
use std::collections::HashSet;

use super::input::Input;
use crate::encoding::number::canonical;
use crate::encoding::parse::{Exposition, Family as PFamily, Number, Sample, Type};
use crate::{
    Collector, Counter, CounterF64, Family, Format, Gauge, GaugeF64, Histogram, Kind, Labels, Meta,
    Metric, Registry, Value, Visitor,
};

/// A series value a synthetic metric reports.
#[derive(Clone, Copy, Debug)]
enum Scalar {
    Counter(u64),
    CounterF64(f64),
    Gauge(i64),
    GaugeF64(f64),
    Info,
}

impl Scalar {
    fn value(self) -> Value<'static> {
        match self {
            Scalar::Counter(v) => Value::Counter(v),
            Scalar::CounterF64(v) => Value::CounterF64(v),
            Scalar::Gauge(v) => Value::Gauge(v),
            Scalar::GaugeF64(v) => Value::GaugeF64(v),
            Scalar::Info => Value::Info,
        }
    }
}

/// A metric (or collector) reporting whatever family the input describes:
/// any kind, any value, any label names, including ones registration would
/// refuse.
struct Synthetic {
    meta: Meta,
    kind: Kind,
    series: Vec<(Vec<(&'static str, String)>, Scalar)>,
}

impl Synthetic {
    fn read(input: &mut Input<'_>, name: String) -> Option<Self> {
        let help = input.text(24);
        let mut meta = Meta::try_new(name, help).ok()?;
        if input.byte() % 4 == 0 {
            // Units need `'static` names: a few that exercise the UNIT rules.
            meta = [
                Meta::with_unit("rx_bytes_total", "Bytes.", "bytes"),
                Meta::with_unit("rx_bytes", "Bytes.", "bytes"),
                Meta::with_unit("wait_seconds", "Wait.", "seconds"),
                Meta::with_unit("x_seconds_total", "", "seconds"),
            ][input.byte() as usize % 4]
                .clone();
        }
        let kind =
            [Kind::Counter, Kind::Gauge, Kind::Info, Kind::Histogram][input.byte() as usize % 4];
        // Label names are fixed per family (in order), as a collector's are;
        // they may be invalid, reserved or repeated.
        let names: Vec<&'static str> = (0..input.byte() % 3).map(|_| input.label_name()).collect();
        let mut series = Vec::new();
        for _ in 0..input.byte() % 4 {
            let labels = names.iter().map(|n| (*n, input.text(12))).collect();
            let scalar = match input.byte() % 5 {
                0 => Scalar::Counter(input.u64()),
                1 => Scalar::CounterF64(input.f64()),
                2 => Scalar::Gauge(input.u64() as i64),
                3 => Scalar::GaugeF64(input.f64()),
                _ => Scalar::Info,
            };
            series.push((labels, scalar));
        }
        Some(Self { meta, kind, series })
    }
}

impl Metric for Synthetic {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn kind(&self) -> Kind {
        self.kind
    }
    fn visit(&self, v: &mut dyn Visitor) {
        v.family(&self.meta, self.kind);
        for (labels, scalar) in &self.series {
            let pairs: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (*n, v.as_str())).collect();
            v.series(&Labels::constant(&pairs), scalar.value());
        }
    }
}

impl Collector for Synthetic {
    fn collect(&self, v: &mut dyn Visitor) {
        self.visit(v)
    }
}

/// Builds a registry (and a prefix) from fuzz input.
pub(super) fn build(input: &mut Input<'_>) -> (Registry, String) {
    let r = Registry::new();
    let prefix = if input.byte() % 3 == 0 {
        input.metric_name()
    } else {
        String::new()
    };
    for _ in 0..1 + input.byte() % 8 {
        let name = input.metric_name();
        if !crate::name::is_valid_metric_name(&name) {
            assert!(Meta::try_new(name, "").is_err(), "invalid name accepted");
            continue;
        }
        match input.byte() % 8 {
            0 => {
                let f = Family::<Counter, 1>::try_new(meta(&name, input), [input.label_name()], ());
                f.ok().and_then(|f| r.register(f).ok()).map(|f| {
                    for _ in 0..input.byte() % 4 {
                        f.with([&input.text(16)]).inc_by(input.u64() >> 8);
                    }
                })
            }
            1 => {
                let f = Family::<Gauge, 2>::try_new(
                    meta(&name, input),
                    [input.label_name(), input.label_name()],
                    (),
                );
                f.ok().and_then(|f| r.register(f).ok()).map(|f| {
                    for _ in 0..input.byte() % 4 {
                        f.with([&input.text(8), &input.text(8)])
                            .set(input.u64() as i64);
                    }
                })
            }
            2 => {
                let mut bounds: Vec<f64> = (0..input.byte() % 5).map(|_| input.f64()).collect();
                bounds.retain(|b| b.is_finite());
                bounds.sort_by(f64::total_cmp);
                bounds.dedup_by(|a, b| a == b);
                let f = Family::<Histogram, 1>::try_new(
                    meta(&name, input),
                    [input.label_name()],
                    Cow::Owned(bounds),
                );
                f.ok().and_then(|f| r.register(f).ok()).map(|f| {
                    for _ in 0..input.byte() % 6 {
                        f.with([&input.text(8)]).observe(input.f64());
                    }
                })
            }
            3 => r
                .register(GaugeF64::from_meta(meta(&name, input)))
                .ok()
                .map(|g| g.set(input.f64())),
            4 => r
                .register(CounterF64::from_meta(meta(&name, input)))
                .ok()
                .map(|c| c.inc_by(input.f64())),
            5 => Synthetic::read(input, name.clone()).map(|s| r.register_collector(s)),
            _ => Synthetic::read(input, name.clone()).and_then(|s| r.register(s).ok().map(drop)),
        };
    }
    (r, prefix)
}

fn meta(name: &str, input: &mut Input<'_>) -> Meta {
    let help = input.text(24);
    Meta::try_new(name.to_owned(), help).unwrap_or_else(|_| Meta::new("unreachable", ""))
}

pub(super) type Pairs = Vec<(String, String)>;
type ModelFamily = (Meta, Kind, Vec<(Pairs, Raw)>);

/// The registry as a walk reports it.
#[derive(Default)]
pub(super) struct Model {
    families: Vec<ModelFamily>,
    buf: Vec<u64>,
}

enum Raw {
    Scalar(Number),
    Info,
    Histogram {
        bounds: Vec<f64>,
        cumulative: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

impl Visitor for Model {
    fn family(&mut self, meta: &Meta, kind: Kind) {
        self.families.push((meta.clone(), kind, Vec::new()));
    }
    fn series(&mut self, labels: &Labels<'_>, value: Value<'_>) {
        let mut pairs = Vec::new();
        labels.for_each(|n, v| pairs.push((n.to_owned(), v.to_owned())));
        let raw = match value {
            Value::Counter(v) => Raw::Scalar(Number::Int(v.into())),
            Value::Gauge(v) => Raw::Scalar(Number::Int(v.into())),
            Value::CounterF64(v) | Value::GaugeF64(v) => Raw::Scalar(Number::Float(v)),
            Value::Info => Raw::Info,
            Value::Histogram(h) => {
                let t = h.read(&mut self.buf);
                Raw::Histogram {
                    bounds: h.bounds().to_vec(),
                    cumulative: self.buf.clone(),
                    sum: t.sum,
                    count: t.count,
                }
            }
        };
        if let Some(f) = self.families.last_mut() {
            f.2.push((pairs, raw));
        }
    }
}

/// What a strict parser must read back, by the rules of
/// `docs/exposition-format.md`, written out independently of the encoder.
pub(super) fn expected(model: &Model, format: Format, prefix: &str) -> Exposition {
    let om = format == Format::OpenMetrics;
    let mut claimed: HashSet<String> = HashSet::new();
    let mut claim = |base: &str, suffixes: &[&str]| {
        let names: Vec<String> = suffixes.iter().map(|s| format!("{base}{s}")).collect();
        if names.iter().any(|n| claimed.contains(n)) {
            return false;
        }
        claimed.extend(names);
        true
    };
    let mut families = Vec::new();
    for (meta, kind, series) in &model.families {
        let name = meta.name();
        let strip = |s: &str| name.strip_suffix(s).filter(|b| !b.is_empty());
        // (type, family name, counter rules, info rules)
        let plan: Option<(Type, &str)> = if !om {
            let ok = match kind {
                Kind::Histogram => claim(name, &["", "_bucket", "_count", "_sum"]),
                _ => claim(name, &[""]),
            };
            ok.then_some(match kind {
                Kind::Counter => (Type::Counter, name),
                Kind::Gauge | Kind::Info => (Type::Gauge, name),
                Kind::Histogram => (Type::Histogram, name),
            })
        } else {
            let typed = match kind {
                Kind::Counter => strip("_total")
                    .filter(|b| claim(b, &["", "_total", "_created"]))
                    .map(|b| (Type::Counter, b)),
                Kind::Info => match strip("_info") {
                    Some(b) => claim(b, &["", "_info"]).then_some((Type::Info, b)),
                    None => claim(name, &[""]).then_some((Type::Gauge, name)),
                },
                Kind::Gauge => claim(name, &[""]).then_some((Type::Gauge, name)),
                Kind::Histogram => claim(name, &["", "_bucket", "_count", "_sum", "_created"])
                    .then_some((Type::Histogram, name)),
            };
            typed.or_else(|| {
                (*kind != Kind::Histogram && claim(name, &[""])).then_some((Type::Unknown, name))
            })
        };
        let Some((ty, fname)) = plan else { continue };
        let unit = meta.unit().filter(|u| {
            om && ty != Type::Info && fname.strip_suffix(u).is_some_and(|r| r.ends_with('_'))
        });
        let mut fam = PFamily {
            name: format!("{prefix}{fname}"),
            kind: ty,
            help: (!meta.help().is_empty()).then(|| meta.help().to_owned()),
            unit: unit.map(str::to_owned),
            samples: Vec::new(),
        };
        let sample_name = format!("{prefix}{name}");
        let mut written: HashSet<&[(String, String)]> = HashSet::new();
        for (labels, raw) in series {
            let mut seen = HashSet::new();
            let labels_ok = labels.iter().all(|(n, _)| {
                crate::name::is_valid_label_name(n)
                    && seen.insert(n.as_str())
                    && !(ty == Type::Histogram && n == "le")
            });
            let histogram = matches!(raw, Raw::Histogram { .. });
            if !labels_ok || histogram != (ty == Type::Histogram) {
                continue;
            }
            // A label set reported twice: the first one stands.
            if !written.insert(labels) {
                continue;
            }
            let scalar = |value| Sample {
                name: sample_name.clone(),
                labels: labels.clone(),
                value,
            };
            match (raw, ty) {
                (
                    Raw::Histogram {
                        bounds,
                        cumulative,
                        sum,
                        count,
                    },
                    Type::Histogram,
                ) => {
                    let mut bucket = |le: String, c: u64| {
                        let mut l = labels.clone();
                        l.push(("le".to_owned(), le));
                        fam.samples.push(Sample {
                            name: format!("{sample_name}_bucket"),
                            labels: l,
                            value: Number::Int(c.into()),
                        });
                    };
                    for (b, c) in bounds.iter().zip(cumulative) {
                        let le = String::from_utf8(canonical(*b).as_bytes().to_vec())
                            .unwrap_or_default();
                        bucket(le, *c);
                    }
                    bucket("+Inf".to_owned(), *count);
                    assert_eq!(cumulative.last(), Some(count), "+Inf bucket is the count");
                    let sum_ok = bounds.first().is_none_or(|b| *b >= 0.0) && *sum >= 0.0;
                    if !om || sum_ok {
                        for (suffix, value) in [
                            ("_sum", Number::Float(*sum)),
                            ("_count", Number::Int((*count).into())),
                        ] {
                            fam.samples.push(Sample {
                                name: format!("{sample_name}{suffix}"),
                                labels: labels.clone(),
                                value,
                            });
                        }
                    }
                }
                (Raw::Histogram { .. }, _) | (_, Type::Histogram) => {}
                (Raw::Info, _) => fam.samples.push(scalar(Number::Int(1))),
                (Raw::Scalar(_), Type::Info) => {}
                (Raw::Scalar(v), Type::Counter)
                    if om && (v.as_f64().is_nan() || v.as_f64() < 0.0) => {}
                (Raw::Scalar(v), _) => fam.samples.push(scalar(*v)),
            }
        }
        families.push(fam);
    }
    Exposition { families }
}
