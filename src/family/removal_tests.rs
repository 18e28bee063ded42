//! Unit tests of removal: `remove`, `clear` and `retain`, stale handles,
//! reuse of entries and cells, and a random sequence of operations against
//! a map.

use std::collections::BTreeMap;

use super::*;
use crate::label::Labels;
use crate::metric::{Counter, CounterF64, Gauge, GaugeF64, GaugeRef, Value};

/// A scrape of a family: each series' values and integer value.
#[derive(Default)]
struct Scrape(Vec<(Vec<String>, i128)>);

impl Visitor for Scrape {
    fn family(&mut self, _: &Meta, _: Kind) {}
    fn series(&mut self, _: &Labels<'_>, _: Value<'_>) {
        unreachable!("families report dynamic series")
    }
    fn dynamic_series(&mut self, _: &[&'static str], values: &[&str], value: Value<'_>) {
        let v = match value {
            Value::Counter(n) => n as i128,
            Value::Gauge(n) => n as i128,
            Value::CounterF64(x) | Value::GaugeF64(x) => x as i128,
            Value::Histogram(h) => h.read(&mut Vec::new()).count as i128,
            _ => unreachable!("not a family value"),
        };
        self.0
            .push((values.iter().map(|s| s.to_string()).collect(), v));
    }
}

fn scrape<K: FamilyKind, const N: usize>(f: &Family<K, N>) -> BTreeMap<Vec<String>, i128> {
    let mut s = Scrape::default();
    f.visit(&mut s);
    let n = s.0.len();
    let map: BTreeMap<_, _> = s.0.into_iter().collect();
    assert_eq!(map.len(), n, "a scrape showed the same labels twice");
    map
}

#[test]
fn a_removed_series_drops_its_handles_updates_and_restarts_from_zero() {
    let f: Family<Counter, 1> = Family::new("removed_total", "", ["room"]);
    let kept = f.with(["r1"]);
    kept.inc_by(5);
    let other = f.with(["r2"]);
    other.inc();
    assert!(f.remove(["r1"]));
    assert!(!f.remove(["r1"]), "already gone");
    kept.inc_by(100);
    assert_eq!(kept.get(), 0, "a stale handle reads nothing");
    assert_eq!(f.len(), 1);
    assert_eq!(scrape(&f).len(), 1);
    // The same labels again: a new series, from zero; the old handle stays
    // stale and never writes into it.
    let again = f.with(["r1"]);
    assert_eq!(again.get(), 0);
    kept.inc_by(7);
    again.inc();
    assert_eq!((again.get(), kept.get(), other.get()), (1, 0, 1));
    assert!(kept.local().is_dead());
    // A local counter made before the removal drops its updates after it.
    let local = again.local();
    local.inc();
    assert!(f.remove(["r1"]));
    local.inc();
    assert_eq!(f.with(["r1"]).get(), 0);
}

#[test]
fn every_kind_can_be_removed() {
    let g: Family<Gauge, 1> = Family::new("g", "", ["k"]);
    let h = g.with(["a"]);
    h.set(5);
    assert!(g.remove(["a"]));
    h.set(9);
    h.inc();
    assert_eq!((h.get(), g.with(["a"]).get()), (0, 0));

    let gf: Family<GaugeF64, 1> = Family::new("gf", "", ["k"]);
    let h = gf.with(["a"]);
    h.set(1.5);
    assert!(gf.remove(["a"]));
    h.set(9.0);
    h.add(1.0);
    assert_eq!((h.get(), gf.with(["a"]).get()), (0.0, 0.0));

    let cf: Family<CounterF64, 1> = Family::new("cf_total", "", ["k"]);
    let h = cf.with(["a"]);
    h.inc_by(1.5);
    assert!(cf.remove(["a"]));
    h.inc_by(2.0);
    assert_eq!((h.get(), cf.with(["a"]).get()), (0.0, 0.0));

    let hf: Family<Histogram, 1> = Family::histogram("h", "", ["k"], &[1.0, 2.0]);
    let h = hf.with(["a"]);
    h.observe(0.5);
    assert!(hf.remove(["a"]));
    h.observe(0.5);
    assert_eq!((h.count(), hf.with(["a"]).count()), (0, 0));
}

#[test]
fn clear_removes_every_series_and_retain_keeps_what_it_is_told() {
    let f: Family<Gauge, 2> = Family::new("conns", "", ["app", "kind"]).with_limit(3);
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let h = f.with([&i.to_string(), "ws"]);
            h.set(i);
            h
        })
        .collect();
    f.with(["x", "y"]).inc(); // over the limit: the overflow series
    assert_eq!(f.overflowed(), 1);
    f.retain(|values, value| values[0] != "1" && !matches!(value, Value::Gauge(0)));
    assert_eq!(f.len(), 1, "app 0 (value 0) and app 1 went");
    assert_eq!(handles[2].get(), 2);
    assert_eq!(handles[0].get(), 0);
    f.clear();
    assert_eq!(f.len(), 0);
    handles[2].inc();
    assert_eq!(handles[2].get(), 0);
    // Live series only count towards the limit: three new ones fit.
    for i in 10..13 {
        f.with([&i.to_string(), "ws"]).inc();
    }
    assert_eq!((f.len(), f.overflowed()), (3, 1));
    let s = scrape(&f);
    assert_eq!(s.len(), 4, "three series and the overflow series: {s:?}");
}

#[test]
fn churn_reuses_entries_tables_and_cells() {
    // Many distinct rooms, a few open at a time, handles kept past their
    // removal: the family holds no more entries than it had open at once,
    // and the shard table's cells come back once their grace period is
    // over.
    const ROOMS: usize = if cfg!(miri) { 300 } else { 50_000 };
    const OPEN: usize = 64;
    let f: Family<Counter, 2> = Family::new("churn_total", "", ["backend", "room"]);
    let mut open = std::collections::VecDeque::new();
    for r in 0..ROOMS {
        let room = format!("room-{r}");
        let h = f.with(["b1", &room]);
        h.inc();
        open.push_back((room, h));
        if open.len() > OPEN {
            let (room, h) = open.pop_front().unwrap();
            assert!(f.remove(["b1", &room]));
            h.inc(); // dropped
        }
    }
    assert_eq!(f.len(), OPEN);
    // Entries are reused within a size class: room names grow from 6 to
    // 10 bytes, which takes two classes (compact and short keys), each at
    // most `OPEN + 1` entries however many rooms came and went.
    let w = lock(&f.writer);
    let allocated = w.pool.allocated();
    assert!(
        allocated <= 2 * (OPEN + 1),
        "{allocated} entries for {OPEN} open"
    );
    drop(w);
    let s = scrape(&f);
    assert_eq!(s.len(), OPEN);
    assert!(s.values().all(|&v| v == 1), "{s:?}");
}

/// A random sequence of lookups, updates (some through handles kept from
/// before a removal), removals, clears, retains and scrapes, against a map.
#[test]
fn random_operations_agree_with_a_map() {
    const STEPS: usize = if cfg!(miri) { 400 } else { 40_000 };
    let f: Family<Gauge, 2> = Family::new("ops", "", ["a", "b"]).with_limit(usize::MAX);
    let mut model: BTreeMap<Vec<String>, i128> = BTreeMap::new();
    let mut kept: Vec<(Vec<String>, GaugeRef<'_>, bool)> = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let values = [
        "",
        "a",
        "bb",
        "abcdefg",
        "abcdefgh",
        "0123456789abcdef-long",
    ];
    for step in 0..STEPS {
        let key = [0, 1].map(|_| values[next() as usize % values.len()]);
        let k: Vec<String> = key.iter().map(|s| s.to_string()).collect();
        match next() % 100 {
            0..=49 => {
                let h = f.with(key);
                h.add(3);
                *model.entry(k.clone()).or_insert(0) += 3;
                if kept.len() < 32 {
                    kept.push((k, h, true));
                }
            }
            50..=69 if !kept.is_empty() => {
                let i = next() as usize % kept.len();
                let (k, h, live) = &kept[i];
                h.inc();
                if *live {
                    *model.get_mut(k).unwrap() += 1;
                }
            }
            70..=84 => {
                let removed = f.remove(key);
                assert_eq!(removed, model.remove(&k).is_some(), "step {step}");
                for (kk, _, live) in kept.iter_mut() {
                    if *kk == k {
                        *live = false;
                    }
                }
            }
            85..=87 => {
                let cut = next() as i128 % 10;
                f.retain(|_, v| matches!(v, Value::Gauge(n) if n as i128 >= cut));
                model.retain(|_, v| *v >= cut);
                for (kk, _, live) in kept.iter_mut() {
                    *live &= model.contains_key(kk);
                }
            }
            88 => {
                f.clear();
                model.clear();
                kept.iter_mut().for_each(|k| k.2 = false);
            }
            _ => assert_eq!(scrape(&f), model, "step {step}"),
        }
        kept.retain(|k| k.2 || next() % 4 != 0);
    }
    assert_eq!(scrape(&f), model);
    assert_eq!(f.len(), model.len());
}

#[test]
fn idle_series_expire_at_a_sweep_or_a_scrape() {
    use std::time::Duration;
    // Timeout zero: a value unchanged since the previous sweep is idle.
    let f: Family<Counter, 1> =
        Family::new("idle_total", "", ["app"]).with_idle_timeout(Duration::ZERO);
    let a = f.with(["a"]);
    a.inc();
    f.with(["b"]).inc();
    assert_eq!(f.expire_idle(), 0, "first sight of both values");
    a.inc();
    assert_eq!(f.expire_idle(), 1, "b did not change: expired");
    assert_eq!(
        scrape(&f).len(),
        0,
        "a did not change since: expired by the scrape"
    );
    a.inc();
    assert_eq!(
        a.get(),
        0,
        "a handle to an expired series drops its updates"
    );
    assert_eq!(f.with(["a"]).get(), 0, "a comes back from zero");

    let h: Family<Histogram, 1> =
        Family::histogram("idle_h", "", ["k"], &[1.0]).with_idle_timeout(Duration::ZERO);
    h.with(["x"]).observe(0.5);
    assert_eq!(h.expire_idle(), 0);
    h.with(["x"]).observe(0.5);
    assert_eq!(h.expire_idle(), 0, "an observation is a change");
    assert_eq!(h.expire_idle(), 1);

    // A long timeout expires nothing; no timeout never sweeps.
    let long: Family<Gauge, 1> =
        Family::new("idle_g", "", ["k"]).with_idle_timeout(Duration::from_secs(3600));
    long.with(["x"]).set(3);
    assert_eq!((long.expire_idle(), long.expire_idle()), (0, 0));
    let never: Family<Gauge, 1> = Family::new("idle_none", "", ["k"]);
    never.with(["x"]);
    assert_eq!((never.expire_idle(), never.expire_idle()), (0, 0));
}

/// Lookups, updates and scrapes on one thread racing removals, clears and
/// re-inserts of the same labels (and entries reused across size classes)
/// on another: under Miri, its data-race detector and weak memory check the
/// lock-free reads of entries being retired and rewritten.
#[test]
fn lookups_race_removals_and_reuse() {
    const ROUNDS: usize = if cfg!(miri) { 40 } else { 20_000 };
    let f: Family<Counter, 1> = Family::new("race_total", "", ["room"]);
    let long = "a-room-name-long-enough-for-another-entry-class";
    f.with(["stay"]);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..ROUNDS {
                f.remove(["a"]);
                f.with([if i % 2 == 0 { long } else { "a" }]).inc();
                if i % 8 == 0 {
                    f.retain(|[v], _| *v == "stay");
                }
            }
        });
        s.spawn(|| {
            for _ in 0..ROUNDS {
                f.with(["a"]).inc();
                f.with([long]).inc();
                f.with(["stay"]).inc();
                assert!(scrape(&f).len() <= 3);
            }
        });
    });
    assert_eq!(f.with(["stay"]).get(), ROUNDS as u64);
}
