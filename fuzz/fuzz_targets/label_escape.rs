//! Escaping round trip: any string as a label value and as help text reads
//! back unchanged from both formats (see `nanometrics::fuzz::label_escape`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nanometrics::fuzz::label_escape(data));
