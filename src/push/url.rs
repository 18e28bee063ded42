//! Push targets: the `http://host[:port][/path]` URLs a push goes to, and the
//! Pushgateway's grouping-key path (`/metrics/job/<job>{/<label>/<value>}`).
//!
//! Only plain HTTP: an `https://` URL is refused with an error that says TLS
//! is not supported, never downgraded. Host names are resolved when a
//! connection is made (each reconnect), IP literals once here.

use std::net::{IpAddr, SocketAddr};

/// A parsed `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HttpUrl {
    /// The host as written (brackets removed from an IPv6 literal).
    pub(crate) host: String,
    /// The address, when the host is an IP literal.
    pub(crate) ip: Option<IpAddr>,
    pub(crate) port: u16,
    /// The path, at least `/`; with the query when one was given.
    pub(crate) path: String,
    /// The `Host` header value: `host[:port]`, as written.
    pub(crate) authority: String,
}

impl HttpUrl {
    /// The socket address when the host is an IP literal.
    pub(crate) fn socket_addr(&self) -> Option<SocketAddr> {
        self.ip.map(|ip| SocketAddr::new(ip, self.port))
    }
}

/// Why a URL was refused; the message is the `reason` of an `Error::Config`.
pub(crate) const TLS_REFUSED: &str =
    "https is not supported: nanometrics pushes over plain HTTP only (no TLS); use an http:// URL, \
     through a TLS-terminating proxy or sidecar if the gateway is remote";
pub(crate) const URL_EXPECTED: &str =
    "expected an http:// URL: http://host[:port][/path] (host: a name, an IPv4 address or a \
     bracketed IPv6 address; no user:password@, no #fragment)";

/// Parses `http://host[:port][/path][?query]`; `allow_query` admits a query
/// (a push URL may carry one, a Pushgateway base URL may not).
pub(crate) fn parse_http_url(v: &str, allow_query: bool) -> Result<HttpUrl, &'static str> {
    let lower_prefix = |p: &str| {
        v.len() >= p.len() && v.is_char_boundary(p.len()) && v[..p.len()].eq_ignore_ascii_case(p)
    };
    if lower_prefix("https://") {
        return Err(TLS_REFUSED);
    }
    if !lower_prefix("http://") {
        return Err(URL_EXPECTED);
    }
    let rest = &v["http://".len()..];
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(URL_EXPECTED);
    }
    let (host, ip, port_str) = if let Some(inner) = authority.strip_prefix('[') {
        let (h, after) = inner.split_once(']').ok_or(URL_EXPECTED)?;
        let ip: std::net::Ipv6Addr = h.parse().map_err(|_| URL_EXPECTED)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(URL_EXPECTED)?),
        };
        (h, Some(IpAddr::V6(ip)), port)
    } else {
        let (h, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let ip = h.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
        if ip.is_none() && !is_host_name(h) {
            return Err(URL_EXPECTED);
        }
        (h, ip, port)
    };
    let port = match port_str {
        None => 80,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(URL_EXPECTED);
            }
            match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(URL_EXPECTED),
            }
        }
    };
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let visible = path.bytes().all(|b| b.is_ascii_graphic());
    if !visible || path.contains('#') || (!allow_query && path.contains('?')) {
        return Err(URL_EXPECTED);
    }
    Ok(HttpUrl {
        host: host.to_owned(),
        ip,
        port,
        path,
        authority: authority.to_owned(),
    })
}

/// A DNS name: labels of letters, digits and `-`, separated by dots.
fn is_host_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Appends `/<name>/<value>` to `out` as the Pushgateway reads it: a value
/// that is empty or holds a `/` as `/<name>@base64/<RFC 4648 §5 base64>`
/// (an empty value as `=`, the one padding character the Pushgateway needs
/// there), any other value percent-encoded outside RFC 3986's unreserved
/// characters.
pub(crate) fn push_grouping_segment(name: &str, value: &str, out: &mut String) {
    out.push('/');
    out.push_str(name);
    if value.is_empty() || value.contains('/') {
        out.push_str("@base64/");
        if value.is_empty() {
            out.push('=');
        } else {
            base64_url_encode(value.as_bytes(), out);
        }
    } else {
        out.push('/');
        percent_encode(value, out);
    }
}

/// The Pushgateway path for `job` and `grouping` under `base` (the base URL's
/// path, which has no query; its trailing `/` is dropped).
pub(crate) fn pushgateway_path(base: &str, job: &str, grouping: &[(String, String)]) -> String {
    let mut out = String::with_capacity(base.len() + 64);
    out.push_str(base.trim_end_matches('/'));
    out.push_str("/metrics");
    push_grouping_segment("job", job, &mut out);
    for (name, value) in grouping {
        push_grouping_segment(name, value, &mut out);
    }
    out
}

fn percent_encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Base64 with the URL- and filename-safe alphabet (RFC 4648 §5), padded:
/// the standard alphabet's `+` and `/` become `-` and `_`.
pub(crate) fn base64_url_encode(input: &[u8], out: &mut String) {
    let mut standard = String::new();
    crate::config::base64_encode(input, &mut standard);
    out.extend(standard.chars().map(|c| match c {
        '+' => '-',
        '/' => '_',
        c => c,
    }));
}
