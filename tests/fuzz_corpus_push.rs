//! Replays the committed `push_config` fuzz corpus through its property
//! (`nanometrics::fuzz::push_config`), then a seeded search of environments
//! built from the variables' likely values and random bytes: fuzz coverage
//! in every `cargo test`, without cargo-fuzz.
#![cfg(all(feature = "http", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use nanometrics::fuzz::push_config;
use nanometrics::push::ENV_VARS;

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/push_config");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| push_config(&data));
        assert!(r.is_ok(), "{} fails", path.display());
        n += 1;
    }
    assert!(n >= 10, "corpus too small: {n}");
}

/// Values each variable might take, good and bad, and bytes around them.
const PIECES: &[&str] = &[
    "prometheus",
    "pushgateway",
    "push",
    "PUSH",
    "http://127.0.0.1:9091",
    "http://pgw:9091/base/",
    "http://[::1]:8428/api/v1/import/prometheus?x=1",
    "https://pgw",
    "http://u:p@pgw",
    "http://pgw:0",
    "job",
    "a/b",
    "Προμηθεύς",
    "instance=n1",
    "a=,b=/x/",
    "__x=1",
    "job=1",
    ",",
    "=",
    "/",
    " ",
    "%",
    "15s",
    "500ms",
    "0",
    "25h",
    "1m",
    "PUT",
    "post",
    "true",
    "0",
    "t0k3n==",
    "user",
    "pa:ss",
    "\t",
    "",
];

#[test]
fn random_environments() {
    let mut s: u64 = 0x517c_c1b7_2722_0a95;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let count = if cfg!(debug_assertions) { 3000 } else { 20000 };
    for i in 0..count {
        let mut data = Vec::new();
        // Mostly a driver that pushes, with its URL and job, so that most
        // environments reach the round trip.
        if i % 4 != 0 {
            let driver = if i % 2 == 0 { "pushgateway" } else { "push" };
            let url_key = if i % 2 == 0 { 2 } else { 1 };
            data.extend_from_slice(&[0]);
            data.extend_from_slice(driver.as_bytes());
            data.extend_from_slice(&[b'\n', url_key]);
            data.extend_from_slice(b"http://127.0.0.1:9091\n");
            if i % 2 == 0 {
                data.extend_from_slice(b"\x03j\n");
            }
        }
        for _ in 0..(next() % 6) {
            data.push((next() % ENV_VARS.len() as u64) as u8);
            for _ in 0..(1 + next() % 3) {
                if next() % 5 == 0 {
                    data.push((next() % 256) as u8);
                } else {
                    let p = PIECES[(next() % PIECES.len() as u64) as usize];
                    data.extend_from_slice(p.as_bytes());
                }
            }
            data.push(b'\n');
        }
        let r = std::panic::catch_unwind(|| push_config(&data));
        assert!(
            r.is_ok(),
            "input {:?} fails",
            String::from_utf8_lossy(&data)
        );
    }
}
