//! Shared helpers for the nanometrics benchmarks.
