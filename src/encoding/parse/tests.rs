//! Unit tests of the reference parser: what it accepts, and each rule it
//! refuses output for.

use super::*;

fn om(s: &str) -> Result<Exposition, Error> {
    parse(s.as_bytes(), Format::OpenMetrics)
}

fn prom(s: &str) -> Result<Exposition, Error> {
    parse(s.as_bytes(), Format::Prometheus)
}

#[test]
fn accepts_canonical_output() {
    let e = om("# TYPE a counter\n# UNIT a \n# HELP a h\\\"i\\n\\\\\na_total 1\n# TYPE h_seconds histogram\n# UNIT h_seconds seconds\nh_seconds_bucket{x=\"1\",le=\"0.5\"} 0\nh_seconds_bucket{x=\"1\",le=\"+Inf\"} 2\nh_seconds_sum{x=\"1\"} 1.5\nh_seconds_count{x=\"1\"} 2\n# TYPE b info\nb_info{v=\"1\"} 1\n# EOF\n");
    assert!(e.is_err(), "empty unit is not a suffix");
    let e = om("# TYPE a counter\n# HELP a h\\\"i\\n\\\\\na_total 1\n# TYPE h_seconds histogram\n# UNIT h_seconds seconds\nh_seconds_bucket{x=\"1\",le=\"0.5\"} 0\nh_seconds_bucket{x=\"1\",le=\"+Inf\"} 2\nh_seconds_sum{x=\"1\"} 1.5\nh_seconds_count{x=\"1\"} 2\n# TYPE b info\nb_info{v=\"1\"} 1\n# EOF\n").unwrap();
    assert_eq!(e.families.len(), 3);
    assert_eq!(e.families[0].help.as_deref(), Some("h\"i\n\\"));
    assert_eq!(e.families[1].unit.as_deref(), Some("seconds"));
    assert_eq!(e.families[1].samples.len(), 4);
    let p = prom("# HELP a x\"y\\\\\n# TYPE a counter\na 1\na_total{b=\"\"} 2.5\n").unwrap();
    assert_eq!(p.families.len(), 2, "a_total starts an untyped family");
    assert_eq!(p.families[0].help.as_deref(), Some("x\"y\\"));
    assert_eq!(p.families[1].kind, Type::Unknown);
}

#[test]
fn refuses_what_the_specs_refuse() {
    for (bad, why) in [
        ("a 1\n", "no EOF"),
        ("a 1\n# EOF", "EOF without newline"),
        ("a 1\n# EOF\n\n", "text after EOF"),
        ("\n# EOF\n", "blank line"),
        ("# comment here\n# EOF\n", "comment"),
        ("# TYPE a gauge\n# TYPE a gauge\n# EOF\n", "two TYPE"),
        ("# TYPE a gauge\na 1\n# HELP a x\n# EOF\n", "metadata after samples"),
        ("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n# EOF\n", "repeat"),
        ("# TYPE a counter\na 1\n# EOF\n", "counter sample without _total"),
        ("# TYPE a counter\na_total NaN\n# EOF\n", "NaN counter"),
        ("# TYPE a counter\na_total -1\n# EOF\n", "negative counter"),
        ("# TYPE a_total gauge\n# TYPE a counter\n# EOF\n", "clash: counter a claims a_total"),
        ("# TYPE a gauge\na 1\n# TYPE a counter\n# EOF\n", "family repeated"),
        ("# TYPE a info\na_info 2\n# EOF\n", "info value"),
        ("# TYPE a_info info\n# UNIT a_info info\n# EOF\n", "unit on info"),
        ("# TYPE a gauge\n# UNIT a seconds\n# EOF\n", "unit not suffix"),
        ("# TYPE a gauge\n# HELP a q\"\n# EOF\n", "raw quote in OM help"),
        ("# TYPE a gauge\n# HELP a \\t\n# EOF\n", "bad escape"),
        ("a{b=\"\\t\"} 1\n# EOF\n", "bad escape in label"),
        ("a{b=\"1\",b=\"2\"} 1\n# EOF\n", "repeated label"),
        ("a{__b=\"1\"} 1\n# EOF\n", "reserved label"),
        ("a{b=\"1\"} 1\na{b=\"1\"} 2\n# EOF\n", "repeated series"),
        ("a 01\n# EOF\n", "leading zero"),
        ("a 1.\n# EOF\n", "bad float"),
        ("a inf\n# EOF\n", "non-canonical inf"),
        ("a 1 123\n# EOF\n", "timestamp"),
        ("# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\n# EOF\n", "le not canonical"),
        ("# TYPE h histogram\nh_bucket{le=\"1.0\"} 0\n# EOF\n", "no +Inf"),
        ("# TYPE h histogram\nh_bucket{le=\"2.0\"} 0\nh_bucket{le=\"1.0\"} 0\nh_bucket{le=\"+Inf\"} 0\n# EOF\n", "order"),
        ("# TYPE h histogram\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n", "decreasing"),
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1.0\nh_count 2\n# EOF\n", "count mismatch"),
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1.0\n# EOF\n", "sum without count"),
        ("# TYPE h histogram\nh_bucket{le=\"-1.0\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_sum 1.0\nh_count 1\n# EOF\n", "sum with negative bucket"),
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum -1.0\nh_count 1\n# EOF\n", "negative sum"),
        ("# TYPE h histogram\nh_bucket{a=\"1\",le=\"+Inf\"} 1\nh_bucket{a=\"2\",le=\"+Inf\"} 1\nh_bucket{a=\"1\",le=\"+Inf\"} 1\n# EOF\n", "interleaved"),
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.0\n# EOF\n", "float count"),
        ("# TYPE h histogram\n# TYPE h_count gauge\n# EOF\n", "clash with histogram"),
    ] {
        assert!(om(bad).is_err(), "{why}: {bad:?}");
    }
    for (bad, why) in [
        ("a 1", "unterminated"),
        ("# UNIT a x\n", "UNIT in 0.0.4"),
        ("# EOF\n", "EOF in 0.0.4"),
        ("# HELP a \\\"\n", "escaped quote in 0.0.4 help"),
        ("# TYPE a info\n", "info in 0.0.4"),
        (
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n",
            "histogram without sum/count",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n# TYPE h_sum gauge\n",
            "clash",
        ),
    ] {
        assert!(prom(bad).is_err(), "{why}: {bad:?}");
    }
}

#[test]
fn numbers() {
    assert_eq!(parse_number("0"), Ok(Number::Int(0)));
    assert_eq!(parse_number("-12"), Ok(Number::Int(-12)));
    assert_eq!(parse_number("1e16"), Ok(Number::Float(1e16)));
    assert_eq!(parse_number("2.5e-7"), Ok(Number::Float(2.5e-7)));
    assert_eq!(parse_number("1e+06"), Ok(Number::Float(1e6)));
    assert_eq!(parse_number("NaN"), Ok(Number::Float(f64::NAN)));
    assert_eq!(parse_number("-0.0"), Ok(Number::Float(-0.0)));
    assert_ne!(Number::Float(0.0), Number::Float(-0.0));
    assert_ne!(Number::Int(1), Number::Float(1.0));
    for bad in [
        "", "-", "+1", "1.", ".5", "1e", "e5", "1e+-5", "Inf", "nan", "0x1", "1_0",
    ] {
        assert!(parse_number(bad).is_err(), "{bad}");
    }
}
