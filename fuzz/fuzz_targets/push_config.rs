#![no_main]
//! Arbitrary environments for `PushConfig::from_lookup`: no panic, errors
//! name a known variable and hide secrets, accepted values round-trip, the
//! Pushgateway path decodes back (see `nanometrics::fuzz::push_config`).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nanometrics::fuzz::push_config(data));
