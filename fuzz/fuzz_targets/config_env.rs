#![no_main]
//! Arbitrary environments for `HttpConfig::from_lookup`: no panic, errors name
//! a known variable, accepted values round-trip (see
//! `nanometrics::fuzz::config_env`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nanometrics::fuzz::config_env(data));
