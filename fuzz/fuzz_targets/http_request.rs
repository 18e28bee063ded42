#![no_main]
//! Arbitrary bytes as one connection's request stream: no panic, bounded
//! memory, well-formed answers (see `nanometrics::fuzz::http_request`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nanometrics::fuzz::http_request(data));
