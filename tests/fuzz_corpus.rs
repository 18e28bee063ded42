//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the
//! same property checks the fuzz targets run, then a few thousand
//! pseudo-random inputs, on the stable toolchain.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let data = std::fs::read(&path).unwrap();
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{} fails", path.display());
            n += 1;
        }
    }
    n
}

/// xorshift64*: reproducible inputs without a dependency.
fn random_inputs(seed: u64, count: usize, check: fn(&[u8])) {
    let mut s = seed;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for _ in 0..count {
        let len = (next() % 512) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "input {data:?} fails");
    }
}

const RANDOM: usize = if cfg!(debug_assertions) { 1500 } else { 6000 };

#[test]
fn text_encode_corpus() {
    assert!(replay("text_encode", nanometrics::fuzz::text_encode) >= 5);
}

#[test]
fn label_escape_corpus() {
    assert!(replay("label_escape", nanometrics::fuzz::label_escape) >= 5);
}

#[test]
fn text_encode_random() {
    random_inputs(
        0x9e37_79b9_7f4a_7c15,
        RANDOM,
        nanometrics::fuzz::text_encode,
    );
}

#[test]
fn label_escape_random() {
    random_inputs(
        0xdead_beef_cafe_f00d,
        RANDOM,
        nanometrics::fuzz::label_escape,
    );
}

#[test]
fn accept_negotiation_corpus() {
    assert!(replay("accept_negotiation", nanometrics::fuzz::accept_negotiation) >= 5);
}

#[test]
fn accept_negotiation_random() {
    random_inputs(
        0x0123_4567_89ab_cdef,
        RANDOM * 4,
        nanometrics::fuzz::accept_negotiation,
    );
}
