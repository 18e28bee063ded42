//! Access control: the client IP allow-list and the bearer / basic credential
//! check.

use std::net::IpAddr;

use crate::config::{HttpConfig, IpNet};

/// Whether `ip` may be served: no list, or a list containing it.
pub(crate) fn ip_allowed(allowed: &[IpNet], ip: IpAddr) -> bool {
    allowed.is_empty() || allowed.iter().any(|n| n.contains(ip))
}

/// Whether the `Authorization` value satisfies the configured credentials
/// (always true when none are configured).
///
/// The scheme is matched case-insensitively (RFC 9110 §11.1); the credential
/// itself is compared in time independent of where it differs from the
/// expected one. Every configured credential is compared, whichever matches.
pub(crate) fn authorized(cfg: &HttpConfig, authorization: Option<&[u8]>) -> bool {
    if !cfg.requires_auth() {
        return true;
    }
    let Some(value) = authorization else {
        return false;
    };
    let mut ok = false;
    if let Some(token) = &cfg.bearer {
        ok |=
            scheme_credential(value, b"bearer").is_some_and(|given| ct_eq(given, token.as_bytes()));
    }
    if let Some(basic) = &cfg.basic {
        ok |=
            scheme_credential(value, b"basic").is_some_and(|given| ct_eq(given, basic.as_bytes()));
    }
    ok
}

/// The credential after `scheme` and one or more spaces, if `value` starts
/// with that scheme.
fn scheme_credential<'v>(value: &'v [u8], scheme: &[u8]) -> Option<&'v [u8]> {
    let head = value.get(..scheme.len())?;
    if !head.eq_ignore_ascii_case(scheme) {
        return None;
    }
    let rest = value.get(scheme.len()..)?;
    let trimmed = rest.trim_ascii_start();
    (trimmed.len() < rest.len()).then_some(trimmed)
}

/// Equality whose running time depends on the lengths only, not on where the
/// bytes differ: every byte of the longer input is examined.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    // Keep the optimiser from turning the loop into an early exit.
    std::hint::black_box(diff) == 0
}

/// The `WWW-Authenticate` header lines for a `401`.
pub(crate) fn challenges(cfg: &HttpConfig, out: &mut Vec<u8>) {
    if cfg.bearer.is_some() {
        out.extend_from_slice(b"WWW-Authenticate: Bearer realm=\"metrics\"\r\n");
    }
    if cfg.basic.is_some() {
        out.extend_from_slice(b"WWW-Authenticate: Basic realm=\"metrics\", charset=\"UTF-8\"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"ab\0", b"ab"), "zero padding is not equality");
        assert!(!ct_eq(b"", b"a"));
    }

    #[test]
    fn credentials() {
        let open = HttpConfig::new();
        assert!(authorized(&open, None));
        let cfg = HttpConfig::new()
            .bearer_token("tok")
            .unwrap()
            .basic_auth("Aladdin", "open sesame")
            .unwrap();
        assert!(!authorized(&cfg, None));
        assert!(authorized(&cfg, Some(b"Bearer tok")));
        assert!(authorized(&cfg, Some(b"bearer   tok")));
        assert!(!authorized(&cfg, Some(b"Bearertok")));
        assert!(!authorized(&cfg, Some(b"Bearer tok2")));
        assert!(!authorized(&cfg, Some(b"Bearer to")));
        assert!(!authorized(&cfg, Some(b"Basic tok")));
        assert!(authorized(
            &cfg,
            Some(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        ));
        assert!(!authorized(&cfg, Some(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ")));
        assert!(!authorized(&cfg, Some(b"Digest x")));
        assert!(!authorized(&cfg, Some(b"")));
        let mut out = Vec::new();
        challenges(&cfg, &mut out);
        assert_eq!(out.split(|&b| b == b'\n').count(), 3);
    }

    #[test]
    fn allow_list() {
        let list: Vec<IpNet> = crate::config::parse_allow_list("10.0.0.0/8 ::1").unwrap();
        assert!(ip_allowed(&[], "1.2.3.4".parse().unwrap()));
        assert!(ip_allowed(&list, "10.2.3.4".parse().unwrap()));
        assert!(ip_allowed(&list, "::ffff:10.2.3.4".parse().unwrap()));
        assert!(ip_allowed(&list, "::1".parse().unwrap()));
        assert!(!ip_allowed(&list, "127.0.0.1".parse().unwrap()));
    }
}
