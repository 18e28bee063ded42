//! Unit tests of families: lookups, limits, overflow, growth, drop, scrapes.

use super::*;
use crate::metric::Counter;
use key::compact_word;

#[test]
fn grows_and_finds_everything() {
    // Fewer under Miri (still four table replacements: 16 to 256 slots).
    const SERIES: u64 = if cfg!(miri) { 100 } else { 1000 };
    let f: Family<Counter, 2> = Family::new("grow_total", "", ["a", "b"]);
    for i in 0..SERIES {
        let s = i.to_string();
        f.with([&s, "x"]).inc_by(i);
    }
    assert_eq!(f.len(), SERIES as usize);
    for i in 0..SERIES {
        let s = i.to_string();
        assert_eq!(f.with([&s, "x"]).get(), i);
    }
    assert_eq!(f.overflowed(), 0);
}

/// Values of the given lengths, each its own allocation of exactly its
/// length (a read past its end is out of bounds, which Miri reports).
fn exact_values<const N: usize>(lens: [usize; N], salt: usize) -> [Box<str>; N] {
    let mut i = 0;
    lens.map(|len| {
        i += 1;
        (0..len)
            .map(|j| char::from(b'a' + ((j + i + salt) % 26) as u8))
            .collect::<String>()
            .into_boxed_str()
    })
}

#[test]
fn values_at_the_word_boundaries_in_every_combination() {
    // Lengths at and around the compact (7, 8) and short (15, 16)
    // limits, three values per key (a pair, then one alone), every
    // combination; and one value per key.
    let lens: &[usize] = if cfg!(miri) {
        &[0, 3, 7, 8, 15, 16]
    } else {
        &[0, 1, 3, 4, 6, 7, 8, 9, 14, 15, 16, 17, 24]
    };
    let f: Family<Counter, 3> =
        Family::new("bounds_total", "", ["a", "b", "c"]).with_limit(usize::MAX);
    let mut sets = Vec::new();
    for &a in lens {
        for &b in lens {
            for &c in lens {
                sets.push(exact_values([a, b, c], a + b));
            }
        }
    }
    for (i, [a, b, c]) in sets.iter().enumerate() {
        f.with([a, b, c]).inc_by(i as u64 + 1);
    }
    assert_eq!(f.len(), sets.len());
    for (i, [a, b, c]) in sets.iter().enumerate() {
        assert_eq!(f.with([a, b, c]).get(), i as u64 + 1, "{a:?} {b:?} {c:?}");
    }
    let one: Family<Counter, 1> = Family::new("bound_total", "", ["a"]);
    for &len in lens {
        let [v] = exact_values([len], 0);
        one.with([&v]).inc_by(len as u64 + 1);
    }
    for &len in lens {
        let [v] = exact_values([len], 0);
        assert_eq!(one.with([&v]).get(), len as u64 + 1, "{v:?}");
    }
}

#[test]
fn families_start_on_the_shared_empty_table_and_leave_it() {
    let a: Family<Counter, 1> = Family::new("a_total", "", ["a"]);
    let b: Family<Counter, 2> = Family::new("b_total", "", ["a", "b"]);
    // SAFETY: a family's current table is live while the family is.
    assert!(unsafe { Table::<1>::is_empty(a.table().ptr) });
    assert_eq!(a.with(["x"]).get(), 0, "a miss in the empty table inserts");
    // SAFETY: `a`'s current table (the one the insert made), live
    // while `a` is.
    assert!(!unsafe { Table::<1>::is_empty(a.table().ptr) });
    // SAFETY: `b`'s current table, live while `b` is.
    assert!(unsafe { Table::<2>::is_empty(b.table().ptr) });
    drop(a);
    // The empty table outlives the family that left it.
    b.with(["x", "y"]).inc();
    assert_eq!(b.with(["x", "y"]).get(), 1);
    let c: Family<Counter, 1> = Family::new("c_total", "", ["a"]);
    assert_eq!((c.len(), c.with(["x"]).get()), (0, 0));
}

#[test]
fn the_locked_lookup_finds_every_shape() {
    // `insert` and a full family look values up through `Table::find`
    // (any shape), not the inline compact path `with` takes.
    let f: Family<Counter, 2> = Family::new("find_total", "", ["a", "b"]);
    let sets = [
        ["", ""],
        ["PUT", "301"],
        ["abcdefg", "x"],
        ["abcdefgh", ""],
        ["a", "abcdefghijklmnop"],
    ];
    for [a, b] in &sets {
        f.with([a, b]).inc();
    }
    // The table lives as long as `f`.
    let table = f.table();
    for (i, values) in sets.iter().enumerate() {
        let index = table.find(&table.key(values));
        assert!(index.is_some(), "{i}: {values:?}");
        if let Some(words) = values
            .iter()
            .map(|v| compact_word(v.as_bytes()))
            .collect::<Option<Vec<u64>>>()
        {
            let words: [u64; 2] = words.try_into().unwrap();
            assert_eq!(index, table.find_compact(&words), "{i}: {values:?}");
        }
    }
    assert_eq!(table.find(&table.key(&["PUT", "302"])), None);
}

#[test]
fn values_differing_only_in_trailing_nul_or_split_are_distinct() {
    let f: Family<Counter, 2> = Family::new("nul_total", "", ["a", "b"]);
    let sets = [
        ["a", ""],
        ["a\0", ""],
        ["", "a"],
        ["a", "\0"],
        ["abcdefgh", "i"],
        ["abcdefghi", ""],
        ["abcdefgh\0", ""],
        // 7 bytes (compact, its length in the last byte of its word) and
        // 8 bytes whose last byte equals that length.
        ["abcdefg", ""],
        ["abcdefg\u{7}", ""],
        ["", "abcdefg"],
        ["\0", "abcdefg"],
        // 15 bytes (short, its length in the last byte) and 16 bytes
        // whose last byte equals that length.
        ["abcdefghijklmno", ""],
        ["abcdefghijklmno\u{f}", ""],
        ["abcdefghijklmnop", ""],
    ];
    for (i, [a, b]) in sets.iter().enumerate() {
        f.with([a, b]).inc_by(i as u64 + 1);
    }
    assert_eq!(f.len(), sets.len());
    for (i, [a, b]) in sets.iter().enumerate() {
        assert_eq!(f.with([a, b]).get(), i as u64 + 1, "{a:?} {b:?}");
    }
}

#[test]
fn values_of_every_length_round_trip() {
    let f: Family<Counter, 3> = Family::new("lens_total", "", ["a", "b", "c"]);
    let long = "x".repeat(40);
    let sets: Vec<[String; 3]> = (0..40)
        .map(|n| {
            [
                long[..n].to_string(),
                String::new(),
                long[..(n * 7) % 40].to_string(),
            ]
        })
        .collect();
    for (i, s) in sets.iter().enumerate() {
        f.with([&s[0], &s[1], &s[2]]).inc_by(i as u64 + 1);
    }
    assert_eq!(f.len(), 40);
    for (i, s) in sets.iter().enumerate() {
        assert_eq!(f.with([&s[0], &s[1], &s[2]]).get(), i as u64 + 1);
    }
    let mut v = crate::registry::tests::Collect::default();
    f.visit(&mut v);
    let expected: Vec<(String, f64)> = sets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                format!("lens_total,a={},b={},c={}", s[0], s[1], s[2]),
                i as f64 + 1.0,
            )
        })
        .collect();
    assert_eq!(v.series, expected, "values read back in insertion order");
}

/// A value of `len` bytes of a pattern, its last byte `last` (ASCII).
pub(super) fn long_value(len: usize, last: u8) -> String {
    (0..len)
        .map(|i| {
            char::from(if i + 1 == len {
                last
            } else {
                b'a' + (i % 26) as u8
            })
        })
        .collect()
}

#[test]
fn long_values_of_every_length_are_told_apart() {
    // Under Miri, the lengths around the word and 16-byte boundaries.
    let lens: Vec<usize> = if cfg!(miri) {
        vec![16, 17, 23, 24, 31, 32, 33, 36, 47, 48, 80]
    } else {
        (16..=80).collect()
    };
    let f: Family<Counter, 2> = Family::new("longs_total", "", ["a", "b"]);
    let mut sets: Vec<[String; 2]> = Vec::new();
    for len in lens {
        // Equal prefixes, different lengths (across word and 16-byte
        // boundaries), and values that differ only in their last byte,
        // beside a short value, a compact one, an empty one, a long one.
        for last in [b'x', b'y', 0] {
            let v = long_value(len, last);
            sets.push([v.clone(), String::new()]);
            sets.push([String::new(), v.clone()]);
            sets.push([v.clone(), "presence".to_string()]);
            sets.push([v.clone(), "ab".to_string()]);
            sets.push([v.clone(), long_value(len, b'z')]);
        }
    }
    // One series per distinct set; each set's own count.
    for (i, [a, b]) in sets.iter().enumerate() {
        f.with([a, b]).inc_by(i as u64 + 1);
    }
    assert_eq!(f.len(), sets.len());
    for (i, [a, b]) in sets.iter().enumerate() {
        assert_eq!(f.with([a, b]).get(), i as u64 + 1, "{a:?} {b:?}");
    }
    // A lookup of a value that no set has: a miss that inserts.
    assert_eq!(f.with([&long_value(81, b'x'), ""]).get(), 0);
    assert_eq!(f.len(), sets.len() + 1);
}

#[test]
fn the_longest_value_gets_its_own_series() {
    let f: Family<Counter, 2> = Family::new("max_total", "", ["a", "b"]);
    let max = long_value(DEFAULT_MAX_VALUE_LEN, b'x');
    let max_y = long_value(DEFAULT_MAX_VALUE_LEN, b'y');
    let shorter = long_value(DEFAULT_MAX_VALUE_LEN - 1, b'x');
    f.with([&max, "a"]).inc();
    f.with([&max_y, "a"]).inc_by(2);
    f.with([&shorter, "a"]).inc_by(3);
    f.with([&max, &max]).inc_by(4);
    assert_eq!(f.with([&max, "a"]).get(), 1);
    assert_eq!(f.with([&max_y, "a"]).get(), 2);
    assert_eq!(f.with([&shorter, "a"]).get(), 3);
    assert_eq!(f.with([&max, &max]).get(), 4);
    assert_eq!((f.len(), f.overflowed()), (4, 0));
    // One byte more overflows.
    f.with([&long_value(DEFAULT_MAX_VALUE_LEN + 1, b'x'), "a"])
        .inc();
    assert_eq!((f.len(), f.overflowed()), (4, 1));
}

#[test]
fn lookups_agree_with_a_map() {
    // Random keys from a small alphabet and a spread of lengths (so that
    // many share prefixes, lengths and words), looked up again and again
    // against a HashMap of the counts.
    const STEPS: usize = if cfg!(miri) { 300 } else { 20_000 };
    // No cardinality limit: the model has no overflow series.
    let f: Family<Counter, 3> =
        Family::new("model_total", "", ["a", "b", "c"]).with_limit(usize::MAX);
    let mut model = std::collections::HashMap::new();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let lens = [
        0, 1, 7, 8, 15, 16, 17, 23, 24, 31, 32, 33, 36, 40, 63, 64, 65,
    ];
    let mut pool: Vec<String> = Vec::new();
    for _ in 0..60 {
        let len = lens[next() as usize % lens.len()];
        let v: String = (0..len)
            .map(|_| if next() % 8 == 0 { 'b' } else { 'a' })
            .collect();
        pool.push(v);
    }
    for step in 0..STEPS {
        let key = [0, 1, 2].map(|_| pool[next() as usize % pool.len()].as_str());
        let by = step as u64 % 5 + 1;
        f.with(key).inc_by(by);
        *model.entry(key).or_insert(0) += by;
        let probe = [0, 1, 2].map(|_| pool[next() as usize % pool.len()].as_str());
        assert_eq!(
            f.with(probe).get(),
            model.get(&probe).copied().unwrap_or(0),
            "{probe:?}"
        );
        // The lookup above inserted `probe` (at zero) if it was new.
        model.entry(probe).or_insert(0);
    }
    assert_eq!((f.len(), f.overflowed()), (model.len(), 0));
    for (key, count) in &model {
        assert_eq!(f.with(*key).get(), *count, "{key:?}");
    }
}

#[test]
fn a_family_without_labels_has_one_series() {
    let f: Family<Counter, 0> = Family::new("none_total", "", []);
    f.with([]).inc();
    f.with([]).inc_by(2);
    assert_eq!((f.len(), f.with([]).get()), (1, 3));
}

#[test]
fn separator_prevents_ambiguity() {
    let f: Family<Counter, 2> = Family::new("sep_total", "", ["a", "b"]);
    f.with(["ab", "c"]).inc();
    f.with(["a", "bc"]).inc();
    assert_eq!(f.len(), 2);
}

#[test]
fn the_overflow_labels_name_the_overflow_series() {
    let f: Family<Counter, 2> = Family::new("marker_total", "", ["a", "b"]).with_limit(1);
    f.with([OVERFLOW_VALUE, OVERFLOW_VALUE]).inc();
    f.with(["x", OVERFLOW_VALUE]).inc();
    f.with(["y", "y"]).inc();
    assert_eq!(f.len(), 1, "only (x, marker) is a real entry");
    assert_eq!(f.overflowed(), 1, "only (y, y) overflowed");
    assert_eq!(f.with([OVERFLOW_VALUE, OVERFLOW_VALUE]).get(), 2);
    let mut v = crate::registry::tests::Collect::default();
    f.visit(&mut v);
    assert_eq!(
        v.series.len(),
        2,
        "one series per label set: {:?}",
        v.series
    );
}

#[test]
fn long_values_overflow() {
    let f: Family<Counter, 1> = Family::new("long_total", "", ["a"]).with_max_value_len(4);
    f.with(["abcd"]).inc();
    f.with(["abcde"]).inc();
    assert_eq!(f.len(), 1);
    assert_eq!(f.overflowed(), 1);
}

#[test]
fn concurrent_inserts_of_the_same_values_make_one_series() {
    // Passes over the 100 values per thread: one under Miri.
    const ROUNDS: usize = if cfg!(miri) { 1 } else { 2 };
    let f: Family<Counter, 1> = Family::new("race_total", "", ["app_id"]).with_limit(64);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for i in 0..100 * ROUNDS {
                    f.with([&(i % 100).to_string()]).inc();
                }
            });
        }
    });
    // 100 distinct values, limit 64: 64 series, the rest overflowed.
    assert_eq!(f.len(), 64);
    let mut total = 0.0;
    let mut v = crate::registry::tests::Collect::default();
    f.visit(&mut v);
    for (_, val) in &v.series {
        total += val;
    }
    assert_eq!(total, (4 * 100 * ROUNDS) as f64, "no update lost");
    assert_eq!(f.overflowed(), 4 * ROUNDS as u64 * 36);
}

#[test]
fn histogram_family() {
    let f: Family<Histogram, 1> = Family::histogram("h_seconds", "", ["m"], &[1.0]);
    f.with(["GET"]).observe(0.5);
    f.with(["GET"]).observe(5.0);
    assert_eq!(f.with(["GET"]).read(), (vec![1, 2], 2, 5.5));
    let r: Result<Family<Histogram, 1>, _> =
        Family::try_new(Meta::new("x", ""), ["le"], Cow::Borrowed(&[1.0][..]));
    assert!(r.is_err());
}
