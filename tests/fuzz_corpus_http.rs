//! Replays the committed fuzz corpora of `http_request` and `config_env`
//! through the fuzz properties, then runs a bounded, seeded mutation search
//! from them: fuzz coverage in every `cargo test`, without cargo-fuzz.
#![cfg(all(feature = "http", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::time::{Duration, Instant};

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{name}: corpus too small");
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte flips, insertions, deletions, splices and HTTP-ish tokens.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], out: &mut Vec<u8>) {
    const TOKENS: &[&[u8]] = &[
        b"\r\n",
        b"\r\n\r\n",
        b"\n",
        b" ",
        b":",
        b"GET ",
        b"HEAD ",
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"Host: t\r\n",
        b"Connection: keep-alive\r\n",
        b"Connection: close\r\n",
        b"Content-Length: 0\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Accept-Encoding: gzip;q=0\r\n",
        b"Authorization: Bearer t0k3n\r\n",
        b"/metrics",
        b"?",
        b"#",
        b"\0",
        b"\xff",
        b"/",
        b",",
        b"10.0.0.0/8",
        b"::ffff:",
        b"%",
        b"true",
        b"0",
    ];
    out.clear();
    out.extend_from_slice(&seeds[rng.below(seeds.len())]);
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, rng.next() as u8),
            2 if at < out.len() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, t.iter().copied());
            }
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(64)).min(other.len());
                out.splice(at..at, other[from..to].iter().copied());
            }
        }
    }
    out.truncate(20_000);
}

fn search(name: &str, property: fn(&[u8]), runs: usize) {
    let seeds = corpus(name);
    for s in &seeds {
        property(s);
    }
    let mut rng = Rng(0x5eed_0000 ^ name.len() as u64);
    let mut input = Vec::new();
    let t = Instant::now();
    for i in 0..runs {
        mutate(&mut rng, &seeds, &mut input);
        let r = std::panic::catch_unwind(|| property(&input));
        if r.is_err() {
            panic!(
                "{name}: run {i} failed on {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        if t.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
}

#[test]
fn http_request_corpus_and_mutations() {
    search("http_request", nanometrics::fuzz::http_request, 100_000);
}

#[test]
fn config_env_corpus_and_mutations() {
    search("config_env", nanometrics::fuzz::config_env, 100_000);
}
