//! Round trip: a registry built from the input, encoded in both formats, reads
//! back through a strict parser as exactly the predicted families, labels and
//! values. The property lives in `nanometrics::fuzz` so that
//! `tests/fuzz_corpus.rs` replays the corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nanometrics::fuzz::text_encode(data));
