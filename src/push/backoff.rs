//! Retry delays: capped exponential back-off with full jitter.
//!
//! After the `n`th failure in a row the wait is a uniformly random duration in
//! `[0, min(cap, base × 2^(n-1))]` ("full jitter"): many pushers that lost the
//! same gateway spread their retries instead of arriving together, and the
//! bound stops growing at the cap. A success resets the count.

use std::time::Duration;

/// Failure count and a small PRNG; no allocation, no clock reads.
#[derive(Debug)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
    rng: u64,
}

impl Backoff {
    /// Bounds start at `base` and double up to `cap`; `seed` picks the jitter.
    pub(crate) fn new(base: Duration, cap: Duration, seed: u64) -> Self {
        Backoff {
            base,
            cap: cap.max(Duration::from_millis(1)),
            failures: 0,
            // xorshift needs a non-zero state.
            rng: seed | 1,
        }
    }

    /// Failures in a row so far.
    #[cfg(test)]
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// Forgets the failures.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// The bound of the next wait: `min(cap, base × 2^failures)` before
    /// this failure is counted.
    pub(crate) fn bound(&self) -> Duration {
        let shift = self.failures.min(30);
        self.base
            .checked_mul(1u32 << shift)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// Counts a failure and returns how long to wait before the retry.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let bound = self.bound();
        self.failures = self.failures.saturating_add(1);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        // A uniform draw in [0, nanos] (the modulo bias is below 2^-30 for
        // bounds under a day).
        Duration::from_nanos(self.next_u64() % nanos.saturating_add(1))
    }

    /// xorshift64*.
    fn next_u64(&mut self) -> u64 {
        let mut s = self.rng;
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        self.rng = s;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A seed that differs between processes and threads started together.
pub(crate) fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let local = 0u8;
    let addr = &local as *const u8 as u64;
    nanos ^ addr.rotate_left(32) ^ u64::from(std::process::id()).rotate_left(16)
}
