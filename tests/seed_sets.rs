//! Every metric family the seed servers document is expressible: registered
//! with its exact name, type and label names, and filled with values.

mod seeds;

use nanometrics::{Kind, Labels, Meta, Registry, Value, Visitor};
use seeds::{Ty, ALL};

#[derive(Default)]
struct Seen {
    families: Vec<(String, Kind, Vec<String>)>,
    series: usize,
}

impl Visitor for Seen {
    fn family(&mut self, meta: &Meta, kind: Kind) {
        self.families
            .push((meta.name().to_owned(), kind, Vec::new()));
    }
    fn series(&mut self, labels: &Labels<'_>, _: Value<'_>) {
        self.series += 1;
        if let Some(f) = self.families.last_mut() {
            if f.2.is_empty() {
                labels.for_each(|n, _| f.2.push(n.to_owned()));
            }
        }
    }
}

#[test]
fn every_seed_family_is_expressible_with_its_name_type_and_labels() {
    let mut total = 0;
    for seed in ALL {
        let r = Registry::new();
        seeds::register(&r, seed).unwrap_or_else(|e| panic!("{}: {e}", seed.server));
        let mut seen = Seen::default();
        r.visit(&mut seen);
        // nanometrics adds its own family for label-cardinality overflow.
        seen.families
            .retain(|f| f.0 != nanometrics::OVERFLOW_FAMILY);
        assert_eq!(seen.families.len(), seed.specs.len(), "{}", seed.server);
        for spec in seed.specs {
            let (_, kind, labels) = seen
                .families
                .iter()
                .find(|f| f.0 == spec.name)
                .unwrap_or_else(|| panic!("{} missing", spec.name));
            let want = match spec.ty {
                Ty::Counter => Kind::Counter,
                Ty::Gauge => Kind::Gauge,
                Ty::Histogram => Kind::Histogram,
            };
            assert_eq!(*kind, want, "{}", spec.name);
            assert_eq!(
                labels,
                &spec
                    .labels
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
                "{}",
                spec.name
            );
        }
        assert!(seen.series >= seed.specs.len(), "every family has a series");
        total += seed.specs.len();
    }
    assert_eq!(total, 7 + 7 + 31 + 44 + 28);
}

#[test]
fn signaling_gauge_and_counter_pairs_coexist() {
    let r = Registry::new();
    seeds::register(&r, &seeds::SIGNALING).unwrap();
    let mut seen = Seen::default();
    r.visit(&mut seen);
    for base in [
        "signaling_proxy_sessions",
        "signaling_proxy_publishers",
        "signaling_mcu_subscribers",
    ] {
        let kinds: Vec<_> = seen
            .families
            .iter()
            .filter(|f| f.0 == base || f.0 == format!("{base}_total"))
            .map(|f| f.1)
            .collect();
        assert_eq!(kinds, [Kind::Gauge, Kind::Counter], "{base}");
    }
}
