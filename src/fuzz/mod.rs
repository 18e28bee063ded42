//! Property checks shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and
//! the stable replay of their corpus (`tests/fuzz_corpus.rs`). Not part of the
//! stable API.
//!
//! Each entry point decodes its input with a small byte reader (no
//! `arbitrary` dependency, so that the replay test decodes exactly as the
//! fuzzer does) and panics when a property fails.
//!
//! Label values are `&str` all the way from [`Family::with`](crate::Family)
//! to the encoder, so invalid UTF-8 cannot reach the encoder; the inputs are
//! decoded lossily and everything else (quotes, backslashes, newlines, NUL,
//! control characters, any Unicode) is fuzzed.
//!
//! # Files
//!
//! - `input.rs`: the byte reader the encoder properties decode with;
//! - `model.rs`: a registry built from fuzz input, and the exposition a
//!   strict parser must read back from it, written out independently of the
//!   encoder;
//! - `encode.rs`: the encoder properties (`text_encode`, `label_escape`);
//! - `accept.rs`: `Accept` negotiation (`accept_negotiation`);
//! - `http.rs`: the responder's request handling and the configuration
//!   (`http_request`, `config_env`);
//! - `push.rs`: the push configuration and grouping URL (`push_config`).

mod accept;
mod encode;
#[cfg(all(feature = "http", not(nanometrics_loom)))]
mod http;
mod input;
mod model;
#[cfg(all(feature = "http", unix, not(nanometrics_loom)))]
mod push;

pub use accept::{accept_header, accept_negotiation};
pub use encode::{label_escape, text_encode};
#[cfg(all(feature = "http", not(nanometrics_loom)))]
pub use http::config_env;
#[cfg(all(feature = "http", unix, not(nanometrics_loom)))]
pub use http::http_request;
#[cfg(all(feature = "http", unix, not(nanometrics_loom)))]
pub use push::push_config;
