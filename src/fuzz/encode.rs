//! The encoder properties: what a registry built from fuzz input encodes to
//! reads back as the model predicts, in both formats and through every
//! encoding path; any string reads back unchanged as a label value or help.

use std::collections::HashSet;

use super::input::Input;
use super::model::{build, expected, Model, Pairs};
use crate::encoding::parse::{self, Exposition};
use crate::{Encoder, Family, Format, Gauge, Meta, Registry};

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
