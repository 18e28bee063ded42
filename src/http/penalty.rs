//! Penalties for wrong credentials: a fixed-size table, owned by the poll
//! thread, of recent authentication failures per client address.
//!
//! A request whose credentials are wrong is answered `401` and its connection
//! closed (see [`Reason::keeps_connection`](super::Reason)), and its address
//! is penalised: for 1 s after its first failure, 2 s after the second,
//! doubling up to 30 s. While a penalty lasts, every request from that
//! address that passed the allow-list is refused with `429 Too Many Requests`
//! and `Retry-After` *before* its credentials are compared, so that no guess
//! is evaluated, and none confirmed, during the penalty however many
//! connections carry them. The poll thread handles requests one at a time,
//! so of many guesses arriving together only the first is evaluated.
//!
//! Nothing waits: a refusal is answered at once, so the poll thread and the
//! workers never sleep on a penalty, and a penalised client costs what any
//! refused one does (a connection slot until it closes, at most 1 s of
//! lingering). A request without credentials gets `401` but is no guess and
//! starts no penalty (a browser's first request, `curl --anyauth`); a
//! request with right credentials clears its own address's entry, and no
//! other's. A failure count is forgotten [`FORGET`] after its penalty ended.
//!
//! Addresses are tracked per IPv4 address and per IPv6 /64 (a host usually
//! holds a whole /64, so per-address entries would cost it nothing to
//! evade); an IPv4-mapped IPv6 address counts as its IPv4 address.
//!
//! Memory is bounded: [`SLOTS`] entries allocated when the responder starts
//! (about 12 KiB), never more. An address hashes, with a key chosen at random
//! per responder (so clients cannot aim at one set), to a set of [`WAYS`]
//! entries; a new address takes an empty or forgotten entry of its set, else
//! the one whose penalty ends first. Evicting an entry only forgets a count,
//! and an attacker able to cause evictions from many addresses could as well
//! use those fresh addresses: per-address penalties slow guessing from one
//! address, not from a botnet.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::{Decision, Reason};
use crate::config::{canonical, HttpConfig};

/// Entries in the table.
pub(super) const SLOTS: usize = 256;
/// Entries an address may take (one set).
pub(super) const WAYS: usize = 4;
/// The penalty after a first failure; each further one doubles it.
pub(super) const FIRST_PENALTY: Duration = Duration::from_secs(1);
/// The longest penalty.
pub(super) const MAX_PENALTY: Duration = Duration::from_secs(30);
/// How long after its penalty ended a failure count is kept.
pub(super) const FORGET: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: IpAddr,
    failures: u32,
    /// When the penalty ends.
    until: Instant,
}

impl Entry {
    fn forgotten(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.until) >= FORGET
    }
}

/// The penalty table of one responder.
pub(super) struct Penalties {
    slots: Box<[Option<Entry>]>,
    hasher: RandomState,
}

/// The penalty after `failures` failures in a row.
fn penalty(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_PENALTY
        .saturating_mul(1 << doublings)
        .min(MAX_PENALTY)
}

/// What an address is tracked as: IPv4 as is, IPv6 by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

impl Penalties {
    pub(super) fn new() -> Self {
        Penalties {
            slots: vec![None; SLOTS].into_boxed_slice(),
            hasher: RandomState::new(),
        }
    }

    /// The set `k` belongs to.
    fn set(&mut self, k: IpAddr) -> &mut [Option<Entry>] {
        let sets = (SLOTS / WAYS) as u64;
        let first = (self.hasher.hash_one(k) % sets) as usize * WAYS;
        self.slots.get_mut(first..first + WAYS).unwrap_or(&mut [])
    }

    fn entry(&mut self, k: IpAddr) -> Option<&mut Entry> {
        self.set(k).iter_mut().flatten().find(|e| e.key == k)
    }

    /// How long the penalty of `ip` still lasts at `now`, if it has one.
    pub(super) fn remaining(&mut self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let e = self.entry(key(ip))?;
        (e.until > now).then(|| e.until - now)
    }

    /// `Retry-After` for `ip`: its remaining penalty in whole seconds,
    /// rounded up, at least 1.
    pub(super) fn retry_after(&mut self, ip: IpAddr, now: Instant) -> u64 {
        let left = self.remaining(ip, now).unwrap_or_default();
        left.as_millis().div_ceil(1000).max(1) as u64
    }

    /// Records a failed authentication from `ip` at `now`.
    pub(super) fn failed(&mut self, ip: IpAddr, now: Instant) {
        let k = key(ip);
        let set = self.set(k);
        if let Some(e) = set.iter_mut().flatten().find(|e| e.key == k) {
            e.failures = if e.forgotten(now) {
                1
            } else {
                e.failures.saturating_add(1)
            };
            e.until = now + penalty(e.failures);
            return;
        }
        // An empty or forgotten entry (None sorts first), else the one whose
        // penalty ends first.
        let victim = set
            .iter_mut()
            .min_by_key(|s| s.filter(|e| !e.forgotten(now)).map(|e| e.until));
        if let Some(slot) = victim {
            *slot = Some(Entry {
                key: k,
                failures: 1,
                until: now + penalty(1),
            });
        }
    }

    /// Records a successful authentication from `ip`: its own count is
    /// cleared, no other address's.
    pub(super) fn succeeded(&mut self, ip: IpAddr) {
        let k = key(ip);
        if let Some(slot) = self
            .set(k)
            .iter_mut()
            .find(|s| s.is_some_and(|e| e.key == k))
        {
            *slot = None;
        }
    }

    /// `decision` for a request from `ip`, with the penalty applied: refused
    /// with [`Reason::Throttled`] while `ip` is penalised, whatever its
    /// credentials; else the failure or success recorded. Decisions taken
    /// before the credentials matter (malformed heads, the allow-list) and
    /// configurations without authentication are left alone.
    pub(super) fn apply(
        &mut self,
        cfg: &HttpConfig,
        ip: IpAddr,
        decision: Decision,
        now: Instant,
    ) -> Decision {
        if !cfg.requires_auth() {
            return decision;
        }
        let (len, head_only) = match decision {
            Decision::Scrape(s) => (s.len, s.head_only),
            Decision::Reject {
                reason:
                    Reason::Unauthorized
                    | Reason::WrongCredentials
                    | Reason::NotFound
                    | Reason::MethodNotAllowed,
                len: Some(len),
                head_only,
                ..
            } => (len, head_only),
            _ => return decision,
        };
        if self.remaining(ip, now).is_some() {
            return Decision::Reject {
                reason: Reason::Throttled,
                len: Some(len),
                keep_alive: false,
                head_only,
            };
        }
        match decision {
            Decision::Reject {
                reason: Reason::WrongCredentials,
                ..
            } => self.failed(ip, now),
            Decision::Reject {
                reason: Reason::Unauthorized,
                ..
            } => {}
            _ => self.succeeded(ip),
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::decide;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn penalties_double_up_to_the_cap() {
        let secs = |n| penalty(n).as_secs();
        assert_eq!([1, 2, 3, 4, 5, 6, 7].map(secs), [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(secs(0), 1);
        assert_eq!(secs(u32::MAX), 30);
    }

    #[test]
    fn a_failure_penalises_its_address_until_it_ends_and_counts_are_forgotten() {
        let mut p = Penalties::new();
        let (a, t0) = (ip("10.0.0.1"), Instant::now());
        assert_eq!(p.remaining(a, t0), None);
        p.failed(a, t0);
        assert_eq!(p.remaining(a, t0), Some(FIRST_PENALTY));
        assert_eq!(p.retry_after(a, t0 + Duration::from_millis(1)), 1);
        let t1 = t0 + FIRST_PENALTY;
        assert_eq!(p.remaining(a, t1), None, "ended");
        p.failed(a, t1);
        assert_eq!(p.remaining(a, t1), Some(2 * FIRST_PENALTY), "doubled");
        assert_eq!(p.retry_after(a, t1), 2);
        let t2 = t1 + 2 * FIRST_PENALTY + FORGET;
        p.failed(a, t2);
        assert_eq!(p.remaining(a, t2), Some(FIRST_PENALTY), "forgotten");
    }

    #[test]
    fn success_clears_its_own_address_only() {
        let mut p = Penalties::new();
        let (a, b, now) = (ip("10.0.0.1"), ip("10.0.0.2"), Instant::now());
        p.failed(a, now);
        p.failed(b, now);
        p.succeeded(b);
        assert_eq!(p.remaining(b, now), None);
        assert!(p.remaining(a, now).is_some(), "b's success leaves a alone");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let mut p = Penalties::new();
        let now = Instant::now();
        p.failed(ip("2001:db8:1:2::1"), now);
        assert!(p.remaining(ip("2001:db8:1:2:ffff::9"), now).is_some());
        assert!(p.remaining(ip("2001:db8:1:3::1"), now).is_none());
        p.failed(ip("::ffff:10.1.1.1"), now);
        assert!(p.remaining(ip("10.1.1.1"), now).is_some());
        assert!(p.remaining(ip("10.1.1.2"), now).is_none());
    }

    #[test]
    fn memory_is_bounded_and_a_flood_evicts_shorter_penalties_first() {
        let mut p = Penalties::new();
        let t = Instant::now();
        let victim = ip("192.0.2.1");
        p.failed(victim, t);
        p.failed(victim, t); // 2 s
        for i in 0..20_000u32 {
            let other = IpAddr::V4(std::net::Ipv4Addr::from_bits(0x0a00_0000 | i));
            p.failed(other, t); // 1 s each
        }
        assert_eq!(p.slots.len(), SLOTS);
        assert!(p.slots.iter().all(Option::is_some), "full, never grown");
        assert_eq!(p.remaining(victim, t), Some(2 * FIRST_PENALTY));
    }

    #[test]
    fn apply_refuses_a_penalised_address_before_its_credentials() {
        let cfg = HttpConfig::new().bearer_token("right").unwrap();
        let req = |auth: &str| {
            let head = format!("GET /metrics HTTP/1.1\r\nHost: t\r\n{auth}\r\n");
            decide(&cfg, true, head.as_bytes(), false)
        };
        let reason = |d: Decision| match d {
            Decision::Reject {
                reason, keep_alive, ..
            } => Some((reason, keep_alive)),
            _ => None,
        };
        let (mut p, a, b, now) = (
            Penalties::new(),
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            Instant::now(),
        );
        // No credentials: 401, closed, but no guess and no penalty.
        let none = p.apply(&cfg, a, req(""), now);
        assert_eq!(reason(none), Some((Reason::Unauthorized, false)));
        assert!(p.remaining(a, now).is_none());
        // Wrong credentials: 401, closed, and a penalty.
        let wrong = p.apply(&cfg, a, req("Authorization: Bearer wrong\r\n"), now);
        assert_eq!(reason(wrong), Some((Reason::WrongCredentials, false)));
        // During it, even the right token is refused unexamined.
        let right = req("Authorization: Bearer right\r\n");
        assert!(matches!(right, Decision::Scrape(_)));
        let refused = p.apply(&cfg, a, right, now);
        assert_eq!(reason(refused), Some((Reason::Throttled, false)));
        // Another address is served, and its success leaves a's penalty.
        assert_eq!(p.apply(&cfg, b, right, now), right);
        assert!(p.remaining(a, now).is_some());
        // Afterwards the right token works and clears the count.
        let later = now + FIRST_PENALTY;
        assert_eq!(p.apply(&cfg, a, right, later), right);
        p.failed(a, later);
        assert_eq!(
            p.remaining(a, later),
            Some(FIRST_PENALTY),
            "count restarted"
        );
        // Malformed heads and refused addresses are not its business, and
        // without authentication nothing is penalised.
        let bad = decide(&cfg, true, b"GARBAGE\r\n\r\n", false);
        assert_eq!(p.apply(&cfg, a, bad, later), bad);
        let open = HttpConfig::new();
        let scrape = decide(
            &open,
            true,
            b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n",
            false,
        );
        assert_eq!(p.apply(&open, a, scrape, later), scrape);
    }
}
