//! Property checks shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and
//! the stable replay of their corpus (`tests/fuzz_corpus.rs`). Not part of the
//! stable API.
//!
//! Each entry point decodes its input with a small byte reader (no
//! `arbitrary` dependency, so that the replay test decodes exactly as the
//! fuzzer does) and panics when a property fails.
//!
//! Label values are `&str` all the way from [`Family::with`](crate::Family)
//! to the encoder, so invalid UTF-8 cannot reach the encoder; the inputs are
//! decoded lossily and everything else (quotes, backslashes, newlines, NUL,
//! control characters, any Unicode) is fuzzed.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::encoding::number::canonical;
use crate::encoding::parse::{self, Exposition, Family as PFamily, Number, Sample, Type};
use crate::{
    Collector, Counter, CounterF64, Encoder, Family, Format, Gauge, GaugeF64, Histogram, Kind,
    Labels, Meta, Metric, Registry, Value, Visitor,
};

/// A reader of fuzz input that yields zeros once exhausted.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.byte()))
    }

    fn bytes(&mut self, max: usize) -> &[u8] {
        let n = (self.byte() as usize % (max + 1)).min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }

    fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }

    fn f64(&mut self) -> f64 {
        match self.byte() % 8 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => -0.0,
            4 => f64::from(self.byte()) / 8.0 - 4.0,
            _ => f64::from_bits(self.u64()),
        }
    }

    /// A metric name built to collide: pieces that are, or look like, the
    /// suffixes the formats add; sometimes an arbitrary (often invalid) one.
    fn metric_name(&mut self) -> String {
        const PIECES: [&str; 12] = [
            "a", "b", "x", "_total", "_info", "_bucket", "_count", "_sum", "_created", "c:d", "_",
            "bytes",
        ];
        if self.byte() % 16 == 0 {
            return self.text(8);
        }
        let n = 1 + self.byte() % 3;
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(PIECES[self.byte() as usize % PIECES.len()]);
        }
        s
    }

    fn label_name(&mut self) -> &'static str {
        const NAMES: [&str; 8] = ["a", "b", "app_id", "le", "__r", "0x", "x-y", "channel_type"];
        NAMES[self.byte() as usize % NAMES.len()]
    }
}

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
fn build(input: &mut Input<'_>) -> (Registry, String) {
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

type Pairs = Vec<(String, String)>;
type ModelFamily = (Meta, Kind, Vec<(Pairs, Raw)>);

/// The registry as a walk reports it.
#[derive(Default)]
struct Model {
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
fn expected(model: &Model, format: Format, prefix: &str) -> Exposition {
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

/// Every sample as (name, labels, value), for comparing the two formats.
fn samples(e: &Exposition) -> Vec<(String, Pairs, String)> {
    e.families
        .iter()
        .flat_map(|f| &f.samples)
        .map(|s| (s.name.clone(), s.labels.clone(), format!("{:?}", s.value)))
        .collect()
}

/// Encodes in `format` three ways (twice into a `Vec`, once streamed) and
/// checks that they agree; returns the text.
fn encode_all(enc: &mut Encoder, r: &Registry, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    enc.encode(r, format, &mut out);
    let mut again = b"kept".to_vec();
    enc.encode(r, format, &mut again);
    assert_eq!(again.get(..4), Some(&b"kept"[..]), "encode appends");
    assert_eq!(again.get(4..), Some(&out[..]), "encoding is deterministic");
    let mut streamed = Vec::new();
    if let Err(e) = enc.encode_to(r, format, &mut streamed) {
        panic!("encode_to into a Vec failed: {e}");
    }
    assert_eq!(streamed, out, "encode_to writes what encode appends");
    out
}

fn parse_or_panic(text: &[u8], format: Format) -> Exposition {
    match parse::parse(text, format) {
        Ok(e) => e,
        Err(e) => panic!(
            "{format:?} output refused ({e}):\n{}",
            String::from_utf8_lossy(text)
        ),
    }
}

/// The round-trip property: a registry built from `data` (arbitrary names,
/// help texts, label names and values, values of every kind, a prefix) is
/// encoded in both formats; a strict parser reads back exactly the families,
/// labels and values the rules predict; and every OpenMetrics sample is also
/// in the text 0.0.4 output under the same name and labels.
pub fn text_encode(data: &[u8]) {
    let mut input = Input(data);
    let (r, prefix) = build(&mut input);
    let mut enc = match Encoder::new().with_prefix(prefix.clone()) {
        Ok(e) => e,
        Err(_) => {
            assert!(!crate::name::is_valid_metric_name(&prefix) && !prefix.is_empty());
            Encoder::new()
        }
    };
    let prefix = enc.prefix().to_owned();
    let mut model = Model::default();
    r.visit(&mut model);
    let mut both = Vec::new();
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = encode_all(&mut enc, &r, format);
        let got = parse_or_panic(&text, format);
        let want = expected(&model, format, &prefix);
        assert_eq!(
            got,
            want,
            "{format:?} output differs from the model:\n{}",
            String::from_utf8_lossy(&text)
        );
        both.push(samples(&got));
    }
    if let [prom, om] = &both[..] {
        let prom: HashSet<_> = prom.iter().collect();
        for s in om {
            assert!(
                prom.contains(s),
                "OpenMetrics sample {s:?} not in text 0.0.4"
            );
        }
    }
}

/// The escaping property: any string, as a label value (through a real
/// [`Family`]) and as help text, reads back unchanged from both formats.
pub fn label_escape(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let r = Registry::new();
    let Ok(meta) = Meta::try_new("escape_test", text.clone().into_owned()) else {
        return;
    };
    let Ok(f) =
        Family::<Gauge, 2>::try_new(meta, ["v", "w"], ()).map(|f| f.with_max_value_len(usize::MAX))
    else {
        return;
    };
    let Ok(f) = r.register(f) else { return };
    f.with([&text, "x"]).set(1);
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let out = encode_all(&mut Encoder::new(), &r, format);
        let e = parse_or_panic(&out, format);
        let fam = e.families.iter().find(|f| f.name == "escape_test");
        let Some(fam) = fam else {
            panic!("family missing:\n{}", String::from_utf8_lossy(&out))
        };
        let help = (!text.is_empty()).then(|| text.to_string());
        assert_eq!(fam.help, help, "{format:?} help");
        assert_eq!(fam.samples.len(), 1);
        let want = [
            ("v".to_string(), text.to_string()),
            ("w".to_string(), "x".to_string()),
        ];
        assert_eq!(fam.samples.first().map(|s| &s.labels[..]), Some(&want[..]));
    }
}

// HTTP responder and configuration properties (targets `http_request`,
// `config_env`; replayed by `tests/fuzz_corpus_http.rs`).

/// Feeds `data` to the responder's request handling as one connection would
/// receive it, and checks that every answer is well-formed, that each step
/// consumes bytes or waits for more, and that memory stays bounded.
///
/// Byte 0 picks the configuration (bearer auth, client refused by the
/// allow-list, a 256-byte head limit), byte 1 the read size (1 to 256 bytes
/// per read); the rest is the byte stream.
#[deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#[cfg(all(feature = "http", unix, not(nanometrics_loom)))]
pub fn http_request(data: &[u8]) {
    use crate::http::{decide, request, write_reject, write_scrape_head, Decision};

    let (flags, chunk, stream) = match data {
        [f, c, rest @ ..] => (*f, usize::from(*c) + 1, rest),
        _ => (0, 256, data),
    };
    let mut cfg = crate::config::HttpConfig::new();
    if flags & 1 != 0 {
        cfg = match cfg.bearer_token("t0k3n") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
    }
    if flags & 4 != 0 {
        cfg = cfg.max_head_bytes(256);
    }
    let allowed = flags & 2 == 0;

    // The parser alone, on the whole input.
    if let request::Parsed::Complete(r) = request::parse(stream) {
        assert!(r.len <= stream.len());
        assert!(r.path.len() < r.len);
    }
    let _ = request::accepts_gzip(stream);
    let _ = crate::http::auth::authorized(&cfg, Some(stream));

    // A connection: a buffer of max_head_bytes filled `chunk` bytes at a time.
    let mut buf = vec![0u8; cfg.max_head_bytes];
    let mut filled = 0usize;
    let mut fed = 0usize;
    let mut out = Vec::new();
    loop {
        let decision = decide(
            &cfg,
            allowed,
            buf.get(..filled).unwrap_or(&[]),
            filled == buf.len(),
        );
        out.clear();
        let consumed = match decision {
            Decision::NeedMore => {
                let room = buf.len() - filled;
                let n = chunk.min(room).min(stream.len() - fed);
                if n == 0 {
                    assert!(
                        fed == stream.len(),
                        "waits with room left only when input is exhausted"
                    );
                    return;
                }
                let (Some(dst), Some(src)) =
                    (buf.get_mut(filled..filled + n), stream.get(fed..fed + n))
                else {
                    panic!("bounds");
                };
                dst.copy_from_slice(src);
                filled += n;
                fed += n;
                continue;
            }
            Decision::Reject {
                reason,
                len,
                keep_alive,
                head_only,
            } => {
                write_reject(&cfg, reason, keep_alive, head_only, &mut out);
                check_response(&out, head_only);
                match len {
                    Some(len) if keep_alive => len,
                    _ => return,
                }
            }
            Decision::Scrape(s) => {
                assert!(allowed);
                write_scrape_head(&s, s.gzip, 1234, &mut out);
                assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
                assert!(out.ends_with(b"\r\n\r\n"));
                if !s.keep_alive {
                    return;
                }
                s.len
            }
        };
        assert!(
            consumed > 0 && consumed <= filled,
            "progress: {consumed} of {filled}"
        );
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
}

/// A response the responder writes for a refusal: a status line, headers, a
/// blank line, and exactly `Content-Length` body bytes (none for `HEAD`).
#[deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#[cfg(all(feature = "http", unix, not(nanometrics_loom)))]
fn check_response(out: &[u8], head_only: bool) {
    assert!(out.starts_with(b"HTTP/1.1 "));
    assert!(out.len() < 1024);
    let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        panic!("no end of head");
    };
    let head = std::str::from_utf8(out.get(..end).unwrap_or(&[])).unwrap_or("");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let body = out.len() - end - 4;
    assert_eq!(body, if head_only { 0 } else { len });
}

/// Reads an environment from `data` (lines; each line's first byte picks a
/// variable of [`ENV_VARS`](crate::config::ENV_VARS), the rest is its value)
/// and checks that configuration never panics, that errors name a known
/// variable, and that an accepted configuration, written back as variables,
/// reads back equal.
#[deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#[cfg(all(feature = "http", not(nanometrics_loom)))]
pub fn config_env(data: &[u8]) {
    use crate::config::{HttpConfig, ENV_VARS};
    use crate::Error;

    let mut vars: Vec<(&str, String)> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let Some((&k, v)) = line.split_first() else {
            continue;
        };
        let Some(key) = ENV_VARS.get(usize::from(k) % ENV_VARS.len()) else {
            continue;
        };
        vars.retain(|(n, _)| n != key);
        vars.push((key, String::from_utf8_lossy(v).into_owned()));
    }
    let get = |vars: &[(&str, String)], k: &str| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    };
    let cfg = match HttpConfig::from_lookup(|k| get(&vars, k)) {
        Ok(c) => c,
        Err(Error::Config { key, .. }) => {
            assert!(ENV_VARS.contains(&key.as_str()), "unknown key {key}");
            return;
        }
        Err(e) => panic!("unexpected error {e}"),
    };
    // Write the accepted configuration back as variables (secrets as given).
    let mut back: Vec<(&str, String)> = vec![
        ("METRICS_ENABLED", cfg.is_enabled().to_string()),
        ("METRICS_HOST", cfg.bind_addr().ip().to_string()),
        ("METRICS_PORT", cfg.bind_addr().port().to_string()),
        ("METRICS_PATH", cfg.get_path().to_owned()),
        ("METRICS_PROMETHEUS_PREFIX", cfg.get_prefix().to_owned()),
        (
            "METRICS_ALLOWED_IPS",
            cfg.get_allowed()
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    ];
    for k in [
        "METRICS_AUTH_TOKEN",
        "METRICS_AUTH_USERNAME",
        "METRICS_AUTH_PASSWORD",
    ] {
        if let Some(v) = get(&vars, k) {
            back.push((k, v));
        }
    }
    match HttpConfig::from_lookup(|k| get(&back, k)) {
        Ok(again) => assert!(again == cfg, "round trip: {cfg:?} became {again:?}"),
        Err(e) => panic!("round trip of {cfg:?} failed: {e}"),
    }
}

/// Builds an `Accept` header value from fuzz input: bytes with the high bit
/// set pick a token of the media-range grammar (so random input reaches the
/// interesting cases), the others are taken as characters.
pub fn accept_header(data: &[u8]) -> String {
    const TOKENS: [&str; 24] = [
        "application/openmetrics-text",
        "text/plain",
        "application/vnd.google.protobuf",
        "*/*",
        ";",
        ",",
        "version=",
        "1.0.0",
        "0.0.1",
        "0.0.4",
        "q=",
        "0",
        "0.5",
        "1",
        "0.001",
        "1.001",
        "\"",
        " ",
        "APPLICATION/OpenMetrics-Text",
        "Q=",
        "VERSION=",
        "charset=utf-8",
        "escaping=underscores",
        "=",
    ];
    let mut out = String::new();
    for &b in data {
        if b & 0x80 != 0 {
            out.push_str(
                TOKENS
                    .get(usize::from(b & 0x7f) % TOKENS.len())
                    .copied()
                    .unwrap_or(""),
            );
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// `Accept` negotiation properties: for any header value `h`,
/// - the answer does not depend on ASCII case;
/// - a media range nobody can serve, or any range with `q=0`, appended to `h`
///   changes nothing;
/// - `application/openmetrics-text` put first (q=1) always wins, as does
///   `text/plain;version=0.0.4` put first;
/// - a header that never names `openmetrics-text` gets text 0.0.4;
/// - each format's own `Content-Type` negotiates back to it.
pub fn accept_negotiation(data: &[u8]) {
    use crate::Format;
    let h = accept_header(data);
    let f = Format::negotiate(&h);
    assert_eq!(f, Format::negotiate(&h.to_ascii_lowercase()), "case: {h:?}");
    assert_eq!(f, Format::negotiate(&h.to_ascii_uppercase()), "case: {h:?}");
    for tail in [
        ",image/png",
        ",application/openmetrics-text;version=1.0.0;q=0",
        ",text/plain;q=0",
        ",application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
    ] {
        let mut longer = h.clone();
        longer.push_str(tail);
        assert_eq!(f, Format::negotiate(&longer), "appending {tail:?} to {h:?}");
    }
    let om_first = format!("application/openmetrics-text;version=1.0.0,{h}");
    assert_eq!(
        Format::negotiate(&om_first),
        Format::OpenMetrics,
        "{om_first:?}"
    );
    let text_first = format!("text/plain;version=0.0.4,{h}");
    assert_eq!(
        Format::negotiate(&text_first),
        Format::Prometheus,
        "{text_first:?}"
    );
    if !h.to_ascii_lowercase().contains("openmetrics-text") {
        assert_eq!(f, Format::Prometheus, "{h:?}");
    }
    for g in [Format::OpenMetrics, Format::Prometheus] {
        assert_eq!(Format::negotiate(g.content_type()), g);
    }
}
