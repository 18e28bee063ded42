//! Unit tests of the writer: the escaping scanner, the key set, the sample
//! lines end to end, `dynamic_series` against the general path, and the
//! streaming output.

use std::io;

use super::*;

/// The one scanner, for both byte sets and through `is_clean`, against
/// the byte rule: every byte at every position of every length up to 16
/// (the 4-byte halves, one word, an overlapping last word), a chosen set
/// (specials, bytes the first word test flags, bytes one bit off a
/// special) up to 40, among fillers the first word test clears (`a`,
/// 0xFF) and flags (space, NUL, `"`, which only `QUOTE` escapes); then a
/// second special after the first, which must not be found instead.
#[test]
fn scanner_finds_the_first_byte_to_escape() {
    fn check(t: &[u8]) {
        let want = |quote: bool| {
            t.iter()
                .position(|&b| b == b'\\' || b == b'\n' || (quote && b == b'"'))
        };
        assert_eq!(first_special::<true>(t), want(true), "{t:?}");
        assert_eq!(first_special::<false>(t), want(false), "{t:?}");
        assert_eq!(is_clean(t), want(true).is_none(), "{t:?}");
    }
    let all: Vec<u8> = (0..=255).collect();
    let chosen = [
        b'\\',
        b'\n',
        b'"',
        b' ',
        b'!',
        b'#',
        0,
        0x01,
        0x0B,
        0x21,
        0x22 | 0x80,
        0x5B,
        0x5D,
        0x7F,
        0x80,
        0x8A,
        0xDC,
        0xFF,
    ];
    for n in 0..=40 {
        for filler in [b'a', 0xFF, b' ', 0, b'"'] {
            let base = vec![filler; n];
            check(&base);
            for at in 0..n {
                for &b in if n <= 16 { &all[..] } else { &chosen[..] } {
                    let mut t = base.clone();
                    t[at] = b;
                    check(&t);
                }
                for later in at + 1..n {
                    for (x, y) in [(b'"', b'\\'), (b'\n', b'\\'), (b'\\', b'\n')] {
                        let mut t = base.clone();
                        t[at] = x;
                        t[later] = y;
                        check(&t);
                    }
                }
            }
        }
    }
}

#[test]
fn key_set_is_exact_and_reusable() {
    let mut s = KeySet::default();
    assert!(!s.contains(b"a"));
    for i in 0..1000 {
        let n = format!("name_{i}_total");
        assert!(!s.contains(n.as_bytes()));
        assert!(s.insert(n.as_bytes()));
        assert!(!s.insert(n.as_bytes()));
        assert!(s.contains(n.as_bytes()));
        assert!(!s.contains(&n.as_bytes()[..n.len() - 1]));
    }
    assert!(s.insert(b""));
    assert!(s.contains(b""));
    let cap = (s.table.capacity(), s.arena.capacity(), s.spans.capacity());
    for _ in 0..3 {
        s.clear();
        assert!(!s.contains(b"name_1_total"));
        assert!(!s.contains(b""));
        for i in 0..1000 {
            assert!(s.insert(format!("name_{i}_total").as_bytes()));
        }
    }
    assert_eq!(
        cap,
        (s.table.capacity(), s.arena.capacity(), s.spans.capacity())
    );
    s.generation = u32::MAX;
    s.clear();
    assert_eq!(s.generation, 1);
    assert!(!s.contains(b"name_1_total"));
}

/// The sample-line path end to end (label pieces, values of every short
/// length, escaped ones, numbers) against text built independently; it
/// also runs under Miri for the copies in `copy.rs`.
#[test]
fn sample_lines_of_every_short_length() {
    use crate::{Counter, Encoder, Family, Format, Registry};
    let r = Registry::new();
    let f = r
        .register(Family::<Counter, 2>::new("lines_total", "", ["a", "b"]))
        .unwrap();
    let mut want = String::from("# TYPE lines_total counter\n");
    for n in 0..40usize {
        let value: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let odd = if n % 5 == 1 {
            format!("{value}\"\n\\")
        } else {
            value.clone()
        };
        let odd_escaped = odd
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        f.with([value.as_str(), odd.as_str()])
            .inc_by(10u64.pow(n as u32 % 20) + n as u64);
        want.push_str(&format!(
            "lines_total{{a=\"{value}\",b=\"{odd_escaped}\"}} {}\n",
            10u64.pow(n as u32 % 20) + n as u64
        ));
    }
    let mut out = Vec::new();
    let mut enc = Encoder::new();
    enc.encode(&r, Format::Prometheus, &mut out);
    let text = String::from_utf8(out).unwrap();
    // No family overflowed: no overflow counter series.
    assert_eq!(text, want);
}

/// Every kind of integer sample value (dynamic-family counters, plain
/// and labelled counters, integer gauges of both signs, info, bucket
/// counts, `_count`) at every digit-count boundary ends its line through
/// `copy::put_u64_line`, in both formats.
#[test]
fn integer_values_of_every_kind_and_length() {
    use crate::{
        Collector, Counter, Encoder, Family, Format, Gauge, Histogram, Kind, Labels, Meta,
        Registry, Value, Visitor,
    };
    let mut unsigned = vec![0, 1, u64::MAX - 1, u64::MAX];
    for p in 1..20 {
        unsigned.extend([10u64.pow(p) - 1, 10u64.pow(p)]);
    }
    let mut signed = vec![i64::MIN, i64::MIN + 1, i64::MAX];
    for p in 0..19 {
        for v in [10i64.pow(p) - 1, 10i64.pow(p)] {
            signed.extend([v, -v]);
        }
    }

    let r = Registry::new();
    let counters = r
        .register(Family::<Counter, 1>::new("dc_total", "", ["k"]))
        .unwrap();
    let gauges = r
        .register(Family::<Gauge, 1>::new("dg", "", ["k"]))
        .unwrap();
    for (i, v) in unsigned.iter().enumerate() {
        counters.with([format!("u{i}").as_str()]).inc_by(*v);
    }
    for (i, v) in signed.iter().enumerate() {
        gauges.with([format!("s{i}").as_str()]).set(*v);
    }
    let plain = r.register(Counter::new("pc_total", "")).unwrap();
    plain.inc_by(u64::MAX);
    r.register(Gauge::new("pg", "")).unwrap().set(i64::MIN);
    // Cumulative bucket counts 0, 9, 10, 99, 100, 999, 1000.
    let h = r
        .register(Histogram::new(
            "h",
            "",
            &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        ))
        .unwrap();
    for (v, n) in [
        (0.5, 9),
        (1.5, 1),
        (2.5, 89),
        (3.5, 1),
        (4.5, 899),
        (5.5, 1),
    ] {
        for _ in 0..n {
            h.observe(v);
        }
    }

    struct Report(Vec<u64>, Vec<i64>);
    impl Collector for Report {
        fn collect(&self, v: &mut dyn Visitor) {
            static C: Meta = Meta::new("cc_total", "");
            static G: Meta = Meta::new("cg", "");
            static I: Meta = Meta::new("ci_info", "");
            v.family(&C, Kind::Counter);
            for (i, x) in self.0.iter().enumerate() {
                let k = i.to_string();
                v.series(&Labels::constant(&[("k", &k)]), Value::Counter(*x));
            }
            v.family(&G, Kind::Gauge);
            for (i, x) in self.1.iter().enumerate() {
                let k = i.to_string();
                v.series(&Labels::constant(&[("k", &k)]), Value::Gauge(*x));
            }
            v.series(&Labels::constant(&[]), Value::Gauge(-7));
            v.family(&I, Kind::Info);
            v.series(&Labels::constant(&[("k", "v")]), Value::Info);
        }
    }
    r.register_collector(Report(unsigned.clone(), signed.clone()));

    for format in [Format::Prometheus, Format::OpenMetrics] {
        let mut want = Vec::new();
        for (i, v) in unsigned.iter().enumerate() {
            want.push(format!("dc_total{{k=\"u{i}\"}} {v}"));
            want.push(format!("cc_total{{k=\"{i}\"}} {v}"));
        }
        for (i, v) in signed.iter().enumerate() {
            want.push(format!("dg{{k=\"s{i}\"}} {v}"));
            want.push(format!("cg{{k=\"{i}\"}} {v}"));
        }
        want.push(format!("pc_total {}", u64::MAX));
        want.push(format!("pg {}", i64::MIN));
        want.push("cg -7".into());
        want.push("ci_info{k=\"v\"} 1".into());
        for (le, n) in [
            ("0.0", 0),
            ("1.0", 9),
            ("2.0", 10),
            ("3.0", 99),
            ("4.0", 100),
            ("5.0", 999),
            ("6.0", 1000),
            ("+Inf", 1000),
        ] {
            want.push(format!("h_bucket{{le=\"{le}\"}} {n}"));
        }
        want.push("h_count 1000".into());
        let mut out = Vec::new();
        Encoder::new().encode(&r, format, &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: std::collections::HashSet<&str> = text.lines().collect();
        for line in &want {
            assert!(lines.contains(line.as_str()), "{format:?}: {line}\n{text}");
        }
        let values = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("h_sum"))
            .filter(|l| !l.starts_with("nanometrics_label_overflow_total"))
            .count();
        assert_eq!(values, want.len(), "{format:?}\n{text}");
    }
}

/// `dynamic_series` writes exactly what the general path writes for
/// the same labels (`series` with `Labels::dynamic`, the trait's
/// default): names known, a prefix of them, more of them than known, other
/// slices, bad or repeated names, a value short, none, in families of
/// every kind (histogram values are left to the encoding tests: only a
/// histogram can make one), claimed (a `Family`) or not (a collector).
#[test]
fn dynamic_series_writes_what_the_general_path_writes() {
    use crate::{
        Collector, Counter, Encoder, Family, Format, Gauge, Kind, Labels, Meta, Registry, Value,
        Visitor,
    };
    static AB: [&str; 2] = ["a", "b"];
    static ABC: [&str; 3] = ["a", "b", "c"];
    static AA: [&str; 2] = ["a", "a"];
    static LE: [&str; 1] = ["le"];
    static BAD: [&str; 1] = ["1x"];
    struct Calls(bool);
    impl Collector for Calls {
        fn collect(&self, v: &mut dyn Visitor) {
            static C: Meta = Meta::new("c_total", "");
            static G: Meta = Meta::new("g", "");
            static I: Meta = Meta::new("i_info", "");
            static H: Meta = Meta::new("h", "");
            let call = |v: &mut dyn Visitor, names: &[&'static str], values: &[&str], x| {
                if self.0 {
                    v.dynamic_series(names, values, x);
                } else {
                    v.series(&Labels::dynamic(names, values), x);
                }
            };
            for (meta, kind) in [
                (&C, Kind::Counter),
                (&G, Kind::Gauge),
                (&I, Kind::Info),
                (&H, Kind::Histogram),
            ] {
                v.family(meta, kind);
                for x in [Value::Counter(7), Value::Gauge(-3), Value::Info] {
                    call(v, &AB[..1], &["p\"q"], x);
                    call(v, &AB, &["x", "y\n"], x);
                    call(v, &AB, &["x", "y\n"], x); // duplicate
                    call(v, &AB[..1], &["w"], x); // a prefix
                    call(v, &ABC, &["x", "y", "z"], x); // more than known
                    call(v, &ABC, &["x", "y", "z2"], x);
                    call(v, &AB, &["short"], x);
                    call(v, &AB, &[], x);
                    call(v, &[], &[], x);
                    call(v, &AA, &["x", "z"], x);
                    call(v, &LE, &["1"], x);
                    call(v, &BAD, &["x"], x);
                    call(v, &AB, &["x", "y2", "extra"], x);
                }
            }
        }
    }
    fn encode(dynamic: bool, format: Format) -> String {
        let r = Registry::new();
        let f = r
            .register(Family::<Counter, 2>::new("f_total", "", ["a", "b"]))
            .unwrap();
        let g = r
            .register(Family::<Gauge, 2>::new("fg", "", ["a", "b"]))
            .unwrap();
        for (a, b) in [
            ("x", "y"),
            ("x\\", "\""),
            ("", ""),
            ("long value, 0123456789", "z"),
        ] {
            f.with([a, b]).inc_by(5);
            g.with([a, b]).set(-5);
        }
        r.register_collector(Calls(dynamic));
        let mut out = Vec::new();
        Encoder::new().encode(&r, format, &mut out);
        String::from_utf8(out).unwrap()
    }
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let general = encode(false, format);
        assert_eq!(encode(true, format), general, "{format:?}");
        assert!(general.contains("\nc_total{a=\"x\",b=\"y\",c=\"z2\"} 7\n"));
    }
}

#[test]
fn escaping_rules() {
    let esc = |s: &str, quote| {
        let mut v = Vec::new();
        Writer::escaped(&mut Out::vec(&mut v), s, quote);
        String::from_utf8(v).unwrap()
    };
    assert_eq!(esc("plain", true), "plain");
    assert_eq!(esc(r#"a\b"c"#, true), r#"a\\b\"c"#);
    assert_eq!(esc(r#"a\b"c"#, false), r#"a\\b"c"#);
    assert_eq!(esc("l1\nl2\n", false), r"l1\nl2\n");
    assert_eq!(esc("\r\t\0é", true), "\r\t\0é");
    assert_eq!(esc("\\n", true), r"\\n");
}

#[test]
fn streaming_output_drains_at_boundaries_past_the_limit() {
    struct Chunks(Vec<usize>, Vec<u8>);
    impl io::Write for Chunks {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.push(b.len());
            self.1.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut sink = Chunks(Vec::new(), Vec::new());
    let mut buf = Vec::with_capacity(8);
    let mut out = Out::streaming(&mut buf, &mut sink, 8);
    out.put(b"abc");
    out.boundary();
    out.put(b"defgh");
    out.boundary();
    out.put(b"ij");
    out.put(b"0123456789abcdef");
    assert_eq!(out.buf.len(), 18, "no drain between boundaries");
    out.boundary();
    assert!(out.buf.is_empty());
    out.put(b"k");
    out.boundary();
    out.drain();
    assert!(out.error.is_none());
    assert_eq!(sink.1, b"abcdefghij0123456789abcdefk");
    assert_eq!(sink.0, [8, 18, 1]);

    // After a write error nothing more is written, and the buffer stays
    // bounded by the limit plus one piece.
    struct Broken(usize);
    impl io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            self.0 += 1;
            Err(io::Error::other("closed"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut broken = Broken(0);
    let mut buf = Vec::new();
    let mut out = Out::streaming(&mut buf, &mut broken, 8);
    for _ in 0..100 {
        out.put(b"0123456");
        assert!(out.buf.len() < 8 + 7);
        out.boundary();
    }
    assert!(out.failed());
    drop(out);
    assert_eq!(broken.0, 1);
}

#[test]
fn bucket_bounds_are_rendered_for_each_set_of_values() {
    use crate::{Encoder, Family, Format, Histogram, Registry};
    // Families in name order: b's bounds have a's length and other values,
    // c's a's values again (after b's), and d's series are labeled (one
    // rendering for both).
    let r = Registry::new();
    r.register(Histogram::new("a", "", &[1.0, 2.0]))
        .unwrap()
        .observe(1.5);
    r.register(Histogram::new("b", "", &[3.0, 4.0]))
        .unwrap()
        .observe(3.5);
    static C_BOUNDS: [f64; 2] = [1.0, 2.0];
    r.register(Histogram::new("c", "", &C_BOUNDS))
        .unwrap()
        .observe(3.0);
    let d = r
        .register(Family::<Histogram, 1>::histogram(
            "d",
            "",
            ["k"],
            &[-0.0, 0.25],
        ))
        .unwrap();
    d.with(["x"]).observe(0.1);
    d.with(["y"]).observe(1.0);
    let mut out = Vec::new();
    Encoder::new().encode(&r, Format::Prometheus, &mut out);
    let text = String::from_utf8(out).unwrap();
    let buckets: Vec<&str> = text.lines().filter(|l| l.contains("_bucket")).collect();
    assert_eq!(
        buckets,
        [
            r#"a_bucket{le="1.0"} 0"#,
            r#"a_bucket{le="2.0"} 1"#,
            r#"a_bucket{le="+Inf"} 1"#,
            r#"b_bucket{le="3.0"} 0"#,
            r#"b_bucket{le="4.0"} 1"#,
            r#"b_bucket{le="+Inf"} 1"#,
            r#"c_bucket{le="1.0"} 0"#,
            r#"c_bucket{le="2.0"} 0"#,
            r#"c_bucket{le="+Inf"} 1"#,
            r#"d_bucket{k="x",le="-0.0"} 0"#,
            r#"d_bucket{k="x",le="0.25"} 1"#,
            r#"d_bucket{k="x",le="+Inf"} 1"#,
            r#"d_bucket{k="y",le="-0.0"} 0"#,
            r#"d_bucket{k="y",le="0.25"} 0"#,
            r#"d_bucket{k="y",le="+Inf"} 1"#,
        ]
    );
}
