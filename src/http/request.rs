//! Request heads: parsing (by `httparse`, zero-copy) and the few facts the
//! responder needs from one.
//!
//! Everything here works on a caller-owned buffer of at most
//! `max_head_bytes`, allocates nothing, and returns a status for any input
//! instead of panicking; the `http_request` fuzz target checks that.

use super::Reason;

/// Most header fields read from one request; more is `431`.
pub(crate) const MAX_HEADERS: usize = 64;

/// The request method, as far as the responder cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Other,
}

/// The facts of one complete request head, borrowing from the read buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'b> {
    pub(crate) method: Method,
    /// The request target's path: the query string, and the scheme and
    /// authority of an absolute-form target, removed.
    pub(crate) path: &'b [u8],
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) minor: u8,
    /// Whether the connection may stay open after the response.
    pub(crate) keep_alive: bool,
    /// The `Accept` value ("" if absent; the first if repeated).
    pub(crate) accept: &'b [u8],
    /// Whether `Accept-Encoding` admits gzip.
    pub(crate) gzip: bool,
    /// The `Authorization` value, if exactly one was sent.
    pub(crate) authorization: Option<&'b [u8]>,
    /// Bytes of the head, the blank line included.
    pub(crate) len: usize,
}

/// What a buffer holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parsed<'b> {
    /// A whole head.
    Complete(Request<'b>),
    /// Not yet a whole head; read more (if the buffer has room).
    Partial,
    /// Not HTTP/1.x: answer with this and close.
    Invalid(Reason),
}

/// Parses the head at the start of `buf`.
pub(crate) fn parse(buf: &[u8]) -> Parsed<'_> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Invalid(Reason::HeadTooLarge),
        Err(httparse::Error::Version) => return Parsed::Invalid(Reason::HttpVersion),
        Err(_) => return Parsed::Invalid(Reason::BadRequest),
    };
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Parsed::Invalid(Reason::BadRequest);
    };
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };

    let mut hosts = 0usize;
    let mut accept: Option<&[u8]> = None;
    let mut gzip = false;
    let mut authorization: Option<&[u8]> = None;
    let mut authorizations = 0usize;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut has_body = false;
    let mut content_lengths = 0usize;
    let mut transfer_encoding = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        let value = trim(h.value);
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case(b"accept") {
            accept.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"accept-encoding") {
            gzip |= accepts_gzip(value);
        } else if name.eq_ignore_ascii_case(b"authorization") {
            authorizations += 1;
            authorization = Some(value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = trim(token);
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            content_lengths += 1;
            has_body |= value != b"0";
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
        }
    }
    // RFC 9112 §3.2: an HTTP/1.1 request with no Host, or more than one, is a
    // 400. §6.3: Transfer-Encoding with Content-Length is a 400 too.
    if (minor == 1 && hosts != 1) || hosts > 1 || (transfer_encoding && content_lengths > 0) {
        return Parsed::Invalid(Reason::BadRequest);
    }
    // A request with a body is answered and the connection closed, so the
    // body never has to be read or skipped.
    has_body |= transfer_encoding || content_lengths > 1;
    let keep_alive = !has_body
        && !close
        && match minor {
            1 => true,
            _ => keep_alive_token,
        };
    Parsed::Complete(Request {
        method,
        path: request_path(target.as_bytes()),
        minor,
        keep_alive,
        accept: accept.unwrap_or(b""),
        gzip,
        authorization: authorization.filter(|_| authorizations == 1),
        len,
    })
}

/// The path of a request target: origin-form `/p?q` gives `/p`, absolute-form
/// `http://host:80/p?q` gives `/p` (`/` if it has no path).
fn request_path(target: &[u8]) -> &[u8] {
    let mut t = target;
    for scheme in [&b"http://"[..], b"https://"] {
        if t.len() >= scheme.len()
            && t.get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        {
            let rest = t.get(scheme.len()..).unwrap_or(b"");
            t = match rest.iter().position(|&b| b == b'/') {
                Some(i) => rest.get(i..).unwrap_or(b"/"),
                None => b"/",
            };
            break;
        }
    }
    match t.iter().position(|&b| b == b'?' || b == b'#') {
        Some(i) => t.get(..i).unwrap_or(t),
        None => t,
    }
}

/// Whether an `Accept-Encoding` value admits gzip: a `gzip`, `x-gzip` or `*`
/// coding whose `q` is not zero.
pub(crate) fn accepts_gzip(value: &[u8]) -> bool {
    let mut gzip: Option<bool> = None;
    let mut star: Option<bool> = None;
    for item in value.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let coding = trim(parts.next().unwrap_or(b""));
        let mut q_zero = false;
        for p in parts {
            let p = trim(p);
            if let Some(q) = p.strip_prefix(b"q=").or_else(|| p.strip_prefix(b"Q=")) {
                let q = trim(q);
                q_zero =
                    q.first() == Some(&b'0') && q.iter().skip(1).all(|&b| b == b'.' || b == b'0');
            }
        }
        if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            gzip = Some(gzip.unwrap_or(false) || !q_zero);
        } else if coding == b"*" {
            star = Some(!q_zero);
        }
    }
    gzip.or(star).unwrap_or(false)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(s: &str) -> Request<'_> {
        match parse(s.as_bytes()) {
            Parsed::Complete(r) => r,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    fn invalid(s: &[u8]) -> Reason {
        match parse(s) {
            Parsed::Invalid(r) => r,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn prometheus_scrape() {
        let s = "GET /metrics?x=1 HTTP/1.1\r\nHost: 10.0.0.1:9601\r\nUser-Agent: Prometheus/2.45.0\r\n\
                 Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\
                 Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\nGET /next";
        let r = complete(s);
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, b"/metrics");
        assert_eq!(r.minor, 1);
        assert!(r.keep_alive && r.gzip);
        assert!(r.accept.starts_with(b"application/openmetrics-text"));
        assert_eq!(r.len, s.len() - "GET /next".len());
        assert!(r.authorization.is_none());
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!complete("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(complete("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!complete("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(
            !complete("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n")
                .keep_alive
        );
        assert!(!complete("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n").keep_alive);
        assert!(complete("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").keep_alive);
        assert!(
            !complete("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
                .keep_alive
        );
    }

    #[test]
    fn targets_and_methods() {
        assert_eq!(
            complete("HEAD http://h:1/metrics?a HTTP/1.1\r\nHost: h\r\n\r\n").path,
            b"/metrics"
        );
        assert_eq!(
            complete("GET HTTP://h HTTP/1.1\r\nHost: h\r\n\r\n").path,
            b"/"
        );
        assert_eq!(complete("HEAD / HTTP/1.0\r\n\r\n").method, Method::Head);
        assert_eq!(
            complete("DELETE /x#f HTTP/1.0\r\n\r\n").method,
            Method::Other
        );
        assert_eq!(complete("DELETE /x#f HTTP/1.0\r\n\r\n").path, b"/x");
        assert_eq!(
            complete("get / HTTP/1.0\r\n\r\n").method,
            Method::Other,
            "methods are case-sensitive"
        );
    }

    #[test]
    fn invalid_heads() {
        assert_eq!(
            invalid(b"GET / HTTP/1.1\r\n\r\n"),
            Reason::BadRequest,
            "no Host"
        );
        assert_eq!(
            invalid(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Reason::BadRequest
        );
        assert_eq!(
            invalid(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Reason::BadRequest
        );
        assert_eq!(
            invalid(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            Reason::BadRequest,
            "TLS hello"
        );
        assert_eq!(invalid(b"GET / HTTP/2.0\r\n\r\n"), Reason::HttpVersion);
        assert_eq!(
            invalid(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
            Reason::BadRequest
        );
        let mut many = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..MAX_HEADERS {
            many.push_str(&format!("X-{i}: y\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(invalid(many.as_bytes()), Reason::HeadTooLarge);
        assert!(matches!(
            parse(b"GET /metrics HTTP/1.1\r\nHost"),
            Parsed::Partial
        ));
        assert!(matches!(parse(b""), Parsed::Partial));
    }

    #[test]
    fn gzip_negotiation() {
        for (v, want) in [
            ("gzip", true),
            ("deflate, gzip;q=1.0, *;q=0.5", true),
            ("GZIP", true),
            ("x-gzip", true),
            ("gzip;q=0", false),
            ("gzip; q=0.000", false),
            ("gzip;q=0.001", true),
            ("*", true),
            ("*;q=0", false),
            ("identity", false),
            ("", false),
            ("br, deflate", false),
            ("gzip;q=0, *", false),
        ] {
            assert_eq!(accepts_gzip(v.as_bytes()), want, "{v}");
        }
    }

    #[test]
    fn authorization_only_when_single() {
        let r = complete("GET / HTTP/1.0\r\nAuthorization:  Bearer x \r\n\r\n");
        assert_eq!(r.authorization, Some(&b"Bearer x"[..]));
        let r = complete(
            "GET / HTTP/1.0\r\nAuthorization: Bearer x\r\nAuthorization: Bearer y\r\n\r\n",
        );
        assert_eq!(r.authorization, None);
    }
}
