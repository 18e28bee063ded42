//! A minimal HTTP/1.1 responder for `/metrics`, safe to expose.
//!
//! ```
//! use nanometrics::http::{self, HttpConfig};
//! nanometrics::declare! {
//!     static CONNECTED: nanometrics::Gauge = nanometrics::Gauge::new("connected", "Connected sockets.");
//! }
//! CONNECTED.inc();
//! // Port 0 picks a free port; the default is 127.0.0.1:9601.
//! let server = http::serve(&HttpConfig::new().port(0), nanometrics::global())?;
//! let addr = server.local_addr();
//!
//! use std::io::{Read, Write};
//! let mut s = std::net::TcpStream::connect(addr).unwrap();
//! s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
//! let mut response = String::new();
//! s.read_to_string(&mut response).unwrap();
//! assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(response.contains("connected 1"));
//!
//! server.shutdown(); // or drop it: the thread is joined, the port closed
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! # What it answers
//!
//! | Request | Response |
//! |---|---|
//! | `GET`/`HEAD` on the metrics path (default `/metrics`; the query is ignored) | `200`, the format negotiated from `Accept` (OpenMetrics or Prometheus text), exact `Content-Type` and `Content-Length`; gzip if `Accept-Encoding` admits it and the body is at least 1 KiB |
//! | client IP outside the allow-list | `403`, then close |
//! | client address penalised for wrong credentials (when configured) | `429` with `Retry-After`, then close |
//! | missing or wrong credentials (when configured) | `401` with `WWW-Authenticate`, then close |
//! | another path | `404` |
//! | another method on the path | `405` with `Allow: GET, HEAD` |
//! | malformed head, HTTP/1.1 without `Host` | `400`, then close |
//! | head over `max_head_bytes`, or over 64 header fields | `431`, then close |
//! | HTTP/2 and other versions | `505`, then close |
//! | head not complete within `head_timeout` | `408` (or a silent close if nothing arrived), then close |
//! | connection cap reached and nothing to evict | `503` with `Retry-After`, then close |
//!
//! Checks run in that order: IP, penalty, credentials, path, method. Wrong
//! credentials start a penalty for the client's address (IPv6: its /64) of
//! 1 s, doubling with each further failure up to 30 s, during which its
//! requests are refused with `429` before their credentials are looked at;
//! the table of penalised addresses has a fixed 256 entries. Connections are
//! kept alive for HTTP/1.1 unless `Connection: close`, and for HTTP/1.0 with
//! `Connection: keep-alive`; pipelined requests are answered in order. A
//! request with a body is answered and the connection closed (its body is
//! never read).
//!
//! # Threads
//!
//! One poll thread owns the listener and every connection from accept to
//! close: non-blocking sockets, `poll(2)`, a deadline per connection. It reads
//! request heads, answers refusals, and writes every response as the client
//! reads it. Worker threads (default 2) only render: they encode the registry
//! (under the registry lock) and compress into reused buffers, and never touch
//! a socket. Scrapes that ask for the same format and encoding while a render
//! of it is under way (or within [`HttpConfig::coalesce_window`] after one)
//! are answered from that one render, so a burst of N scrapes costs one
//! encode, and no scrape is refused while a connection slot is free.
//!
//! A connection with a response still unsent is not read from (its pipelined
//! requests wait in the socket), and one that takes no byte of its response
//! for `write_timeout` is closed. So a client that does not read costs a
//! connection slot and a reference to a shared render, never a thread, and
//! slow or idle clients cannot delay anyone else's scrape. Nothing here runs
//! on the threads that record metrics.
//!
//! Limits and defaults are in [`crate::config`].
//!
//! # Self-metrics
//!
//! Registered in the served registry when the first server on it starts (two
//! servers on one registry share them), unless the server's configuration
//! turns them off ([`HttpConfig::self_metrics`], `METRICS_SELF_METRICS=false`):
//!
//! - `nanometrics_http_scrapes_total`: metrics responses written in full;
//! - `nanometrics_http_renders_total`: encodes of the registry (fewer than
//!   scrapes when scrapes share renders);
//! - `nanometrics_http_scrape_duration_seconds`: for each, the time from the
//!   complete request head to the last byte written;
//! - `nanometrics_http_response_bytes_total`: bytes written to clients, every
//!   response counted;
//! - `nanometrics_http_rejected_total{reason}`: requests and connections
//!   refused, by reason (`bad_request`, `head_too_large`, `head_timeout`,
//!   `http_version`, `forbidden`, `unauthorized` (no credentials),
//!   `wrong_credentials`, `auth_throttled` (penalised address), `not_found`,
//!   `method_not_allowed`, `connection_limit`, `write_failed`,
//!   `render_failed`).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub(crate) mod auth;
mod penalty;
pub(crate) mod request;
mod server;

use std::sync::Mutex;

use crate::registry::Registry;
use crate::{Counter, Histogram, Kind, Labels, Meta, Value, Visitor};
use crate::{Error, Metric};

pub use crate::config::{HttpConfig, IpNet};
pub use server::Server;

pub(crate) use crate::encoding::{Encoder, Format};

crate::label_enum! {
    /// Why a request or connection was refused (`nanometrics_http_rejected_total`).
    pub(crate) enum Reason: "reason" {
        BadRequest => "bad_request",
        HeadTooLarge => "head_too_large",
        HeadTimeout => "head_timeout",
        HttpVersion => "http_version",
        Forbidden => "forbidden",
        Unauthorized => "unauthorized",
        WrongCredentials => "wrong_credentials",
        Throttled => "auth_throttled",
        NotFound => "not_found",
        MethodNotAllowed => "method_not_allowed",
        ConnectionLimit => "connection_limit",
        WriteFailed => "write_failed",
        RenderFailed => "render_failed",
    }
}

impl Reason {
    /// Status line and body of the response for this reason.
    fn response(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Reason::BadRequest => (b"400 Bad Request", b"Bad Request\n"),
            Reason::HeadTooLarge => (
                b"431 Request Header Fields Too Large",
                b"Request Header Fields Too Large\n",
            ),
            Reason::HeadTimeout => (b"408 Request Timeout", b"Request Timeout\n"),
            Reason::HttpVersion => (
                b"505 HTTP Version Not Supported",
                b"HTTP Version Not Supported\n",
            ),
            Reason::Forbidden => (b"403 Forbidden", b"Forbidden\n"),
            Reason::Unauthorized | Reason::WrongCredentials => {
                (b"401 Unauthorized", b"Unauthorized\n")
            }
            Reason::Throttled => (b"429 Too Many Requests", b"Too Many Requests\n"),
            Reason::NotFound => (b"404 Not Found", b"Not Found\n"),
            Reason::MethodNotAllowed => (b"405 Method Not Allowed", b"Method Not Allowed\n"),
            Reason::ConnectionLimit | Reason::WriteFailed | Reason::RenderFailed => {
                (b"503 Service Unavailable", b"Service Unavailable\n")
            }
        }
    }

    /// Whether the connection may stay open after this refusal: not after a
    /// failed authentication, so that each guess costs a connection.
    fn keeps_connection(self) -> bool {
        matches!(self, Reason::NotFound | Reason::MethodNotAllowed)
    }
}

/// Buckets of `nanometrics_http_scrape_duration_seconds`: 100 µs to 10 s.
const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The responder's own metrics, one set per served registry.
pub(crate) struct SelfMetrics {
    pub(crate) scrapes: Counter,
    pub(crate) renders: Counter,
    pub(crate) duration: Histogram,
    pub(crate) bytes: Counter,
    pub(crate) rejected: Counter<Reason>,
}

const SELF_NAMES: [&str; 5] = [
    "nanometrics_http_scrapes_total",
    "nanometrics_http_renders_total",
    "nanometrics_http_scrape_duration_seconds",
    "nanometrics_http_response_bytes_total",
    "nanometrics_http_rejected_total",
];

impl SelfMetrics {
    fn new() -> Self {
        let [s, e, d, b, r] = SELF_NAMES;
        SelfMetrics {
            scrapes: Counter::new(s, "Metrics responses written in full."),
            renders: Counter::new(
                e,
                "Encodes of the registry by the metrics responder; concurrent scrapes share one.",
            ),
            duration: Histogram::new(
                d,
                "Time from a complete metrics request to the last byte of its response written.",
                &DURATION_BUCKETS,
            ),
            bytes: Counter::new(b, "Bytes written to clients by the metrics responder."),
            rejected: Counter::labeled(
                r,
                "Requests and connections the metrics responder refused, by reason.",
            ),
        }
    }

    /// A set no registry holds, for servers whose self-metrics are off.
    pub(crate) fn unregistered() -> &'static SelfMetrics {
        static SET: std::sync::OnceLock<SelfMetrics> = std::sync::OnceLock::new();
        SET.get_or_init(SelfMetrics::new)
    }

    /// The set registered in `registry`, registering one if this is the first
    /// server on it. Refuses if the registry already has a family with one of
    /// these names that is not ours.
    pub(crate) fn for_registry(registry: &'static Registry) -> Result<&'static SelfMetrics, Error> {
        static BY_REGISTRY: Mutex<Vec<(usize, &'static SelfMetrics)>> = Mutex::new(Vec::new());
        let mut map = match BY_REGISTRY.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let key = registry as *const Registry as usize;
        if let Some((_, m)) = map.iter().find(|(k, _)| *k == key) {
            return Ok(m);
        }
        struct Taken(Option<&'static str>);
        impl Visitor for Taken {
            fn family(&mut self, meta: &Meta, _: Kind) {
                if let Some(n) = SELF_NAMES.iter().find(|n| **n == meta.name()) {
                    self.0 = Some(n);
                }
            }
            fn series(&mut self, _: &Labels<'_>, _: Value<'_>) {}
        }
        let mut taken = Taken(None);
        registry.visit(&mut taken);
        if let Some(name) = taken.0 {
            return Err(Error::Duplicate {
                name: name.to_owned(),
            });
        }
        // One leaked set per registry ever served: registries are few and
        // long-lived (usually the global one), and a `&'static` set is what
        // `register_static` needs.
        let m: &'static SelfMetrics = Box::leak(Box::new(SelfMetrics::new()));
        let metrics: [&'static dyn Metric; 5] =
            [&m.scrapes, &m.renders, &m.duration, &m.bytes, &m.rejected];
        for metric in metrics {
            registry.register_static(metric)?;
        }
        map.push((key, m));
        Ok(m)
    }
}

/// Starts a responder for `registry` on `config`'s address, whatever
/// `config.is_enabled()` says (see [`serve_if_enabled`]).
///
/// Fails if the address cannot be bound, if the registry has a declaration
/// error ([`Registry::check`]: a duplicate name among `declare!`d metrics, or
/// families whose sample names clash, collectors included), or if the prefix
/// is refused by the encoder.
///
/// Once started, it prints each of [`HttpConfig::security_warnings`] on
/// stderr (`nanometrics: warning: …`).
pub fn serve(config: &HttpConfig, registry: &'static Registry) -> Result<Server, Error> {
    registry.check()?;
    let server = server::start(config.clone(), registry)?;
    for warning in config.security_warnings() {
        eprintln!("nanometrics: warning: {warning}");
    }
    Ok(server)
}

/// [`serve`] if `config.is_enabled()`, else `Ok(None)`: no socket, no thread.
///
/// ```
/// use nanometrics::http::{serve_if_enabled, HttpConfig};
/// let cfg = HttpConfig::from_lookup(|k| (k == "METRICS_ENABLED").then(|| "false".into()))?;
/// assert!(serve_if_enabled(&cfg, nanometrics::global())?.is_none());
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn serve_if_enabled(
    config: &HttpConfig,
    registry: &'static Registry,
) -> Result<Option<Server>, Error> {
    if config.is_enabled() {
        serve(config, registry).map(Some)
    } else {
        Ok(None)
    }
}

/// Serves the [`global`](crate::global) registry as the environment says
/// ([`HttpConfig::from_env`]): `Ok(None)` with `METRICS_ENABLED=false`.
///
/// Keep the returned server alive for as long as metrics should be served:
/// dropping it stops the responder.
///
/// ```no_run
/// // METRICS_ENABLED=true METRICS_HOST=0.0.0.0 METRICS_PORT=9601 ./server
/// let _metrics = nanometrics::http::serve_global_from_env()?;
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn serve_global_from_env() -> Result<Option<Server>, Error> {
    serve_if_enabled(&HttpConfig::from_env()?, crate::global())
}

/// What to do with the bytes at the start of a connection's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No whole head yet and room to read more.
    NeedMore,
    /// Serve the metrics; the head was `len` bytes.
    Scrape(Scrape),
    /// Refuse; `len` bytes of head were consumed (None: the buffer is not a
    /// request, close after answering).
    Reject {
        reason: Reason,
        len: Option<usize>,
        keep_alive: bool,
        head_only: bool,
    },
}

/// An accepted scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scrape {
    pub(crate) len: usize,
    pub(crate) format: Format,
    pub(crate) head_only: bool,
    pub(crate) gzip: bool,
    pub(crate) keep_alive: bool,
    pub(crate) http10: bool,
}

/// Decides on the head at the start of `buf` (`full`: the buffer cannot take
/// more bytes), for a client whose address is `allowed` or not.
pub(crate) fn decide(cfg: &HttpConfig, allowed: bool, buf: &[u8], full: bool) -> Decision {
    use request::{Method, Parsed};
    let req = match request::parse(buf) {
        Parsed::Partial if full => {
            return Decision::Reject {
                reason: Reason::HeadTooLarge,
                len: None,
                keep_alive: false,
                head_only: false,
            }
        }
        Parsed::Partial => return Decision::NeedMore,
        Parsed::Invalid(reason) => {
            return Decision::Reject {
                reason,
                len: None,
                keep_alive: false,
                head_only: false,
            }
        }
        Parsed::Complete(r) => r,
    };
    let head_only = req.method == request::Method::Head;
    let reason = if !allowed {
        Reason::Forbidden
    } else if !auth::authorized(cfg, req.authorization) {
        // Only a request that carried credentials made a guess.
        if req.authorization.is_some() {
            Reason::WrongCredentials
        } else {
            Reason::Unauthorized
        }
    } else if req.path != cfg.path.as_bytes() {
        Reason::NotFound
    } else if req.method == Method::Other {
        Reason::MethodNotAllowed
    } else {
        let accept = std::str::from_utf8(req.accept).unwrap_or("");
        return Decision::Scrape(Scrape {
            len: req.len,
            format: Format::negotiate(accept),
            head_only,
            gzip: req.gzip,
            keep_alive: req.keep_alive,
            http10: req.minor == 0,
        });
    };
    Decision::Reject {
        reason,
        len: Some(req.len),
        keep_alive: req.keep_alive && reason.keeps_connection(),
        head_only,
    }
}

/// Appends the response for a refusal to `out`; `retry_after` is the
/// `Retry-After` of a `503` or `429`, in seconds.
pub(crate) fn write_reject(
    cfg: &HttpConfig,
    reason: Reason,
    keep_alive: bool,
    head_only: bool,
    retry_after: u64,
    out: &mut Vec<u8>,
) {
    let (status, body) = reason.response();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status);
    out.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    match reason {
        Reason::MethodNotAllowed => out.extend_from_slice(b"Allow: GET, HEAD\r\n"),
        Reason::Unauthorized | Reason::WrongCredentials => auth::challenges(cfg, out),
        Reason::ConnectionLimit | Reason::RenderFailed | Reason::Throttled => {
            out.extend_from_slice(b"Retry-After: ");
            out.extend_from_slice(itoa::Buffer::new().format(retry_after).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        _ => {}
    }
    out.extend_from_slice(if keep_alive {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
    if !head_only {
        out.extend_from_slice(body);
    }
}

/// Appends the head of a metrics response with a `body_len`-byte body.
pub(crate) fn write_scrape_head(s: &Scrape, gzipped: bool, body_len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: ");
    out.extend_from_slice(s.format.content_type().as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
    if gzipped {
        out.extend_from_slice(b"\r\nContent-Encoding: gzip");
    }
    out.extend_from_slice(b"\r\nVary: Accept, Accept-Encoding\r\nCache-Control: no-store\r\n");
    out.extend_from_slice(match (s.keep_alive, s.http10) {
        (false, _) => b"Connection: close\r\n\r\n",
        (true, true) => b"Connection: keep-alive\r\n\r\n",
        (true, false) => b"\r\n",
    });
}
