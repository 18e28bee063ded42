//! `Accept` negotiation: case-insensitive, unaffected by unservable or q=0
//! ranges, first full-quality range wins (see `nanometrics::fuzz::accept_negotiation`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nanometrics::fuzz::accept_negotiation(data));
