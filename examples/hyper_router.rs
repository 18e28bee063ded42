//! The exposition served from the application's own HTTP router, on its main
//! port, next to its other routes (as soketi serves `/metrics` on 6001 beside
//! its API), instead of nanometrics' responder on a port of its own.
//!
//! A hyper 1 HTTP/1.1 server on a current-thread tokio runtime answers
//! `GET /metrics` with the global registry, negotiated from `Accept` exactly
//! as `nanometrics::http` does, and `GET /` as "the application". The port is
//! the first argument, else `APP_PORT`, else 0 (any free port); the bound
//! address is printed. `tests/hyper_router.rs` runs this file's router
//! in-process and scrapes it; docs/getting-started.md ("Serving from your own
//! HTTP router") shows the `/metrics` handler, kept equal to the one here.
//!
//! ```sh
//! cargo run --example hyper_router -- 6001
//! curl -s http://127.0.0.1:6001/metrics
//! curl -s -H 'Accept: application/openmetrics-text; version=1.0.0' http://127.0.0.1:6001/metrics
//! ```
//!
//! What the library's responder does and this router does not: gzip, the
//! `METRICS_*` settings (allow-list, auth, path), its own scrape metrics and
//! allocation-free scrapes. hyper (and its dependencies) are dev-dependencies
//! of nanometrics: an application brings its own.

use std::cell::Cell;
use std::convert::Infallible;
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ACCEPT, ALLOW, CACHE_CONTROL, CONTENT_TYPE, VARY};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use nanometrics::{declare, Counter, Encoder, Format};

declare! {
    static APP_REQUESTS: Counter =
        Counter::new("app_requests_total", "Requests answered by the application's own routes.");
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyper_router: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let port = match std::env::args()
        .nth(1)
        .or_else(|| std::env::var("APP_PORT").ok())
    {
        Some(p) => p
            .parse::<u16>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("port {p:?}: {e}")))?,
        None => 0,
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    println!("listening on http://{}", listener.local_addr()?);
    io::stdout().flush()?;
    serve(listener)
}

/// Serves `listener` until accepting fails, one task per connection on a
/// current-thread runtime (a multi-thread one works the same: the `/metrics`
/// handler keeps its state per thread).
pub(crate) fn serve(listener: TcpListener) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _peer)) => stream,
                // The peer gave up before we accepted: not the listener's fault.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e),
            };
            tokio::spawn(async move {
                let served = http1::Builder::new()
                    // A client that never finishes its headers is dropped.
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service_fn(route))
                    .await;
                if let Err(e) = served {
                    eprintln!("hyper_router: connection: {e}");
                }
            });
        }
    })
}

/// The application's router: its own routes and `/metrics`.
async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => metrics(&req),
        (&Method::GET | &Method::HEAD, "/") => {
            APP_REQUESTS.inc();
            text(StatusCode::OK, "hello from the application\n")
        }
        (_, "/metrics" | "/") => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

// docs:begin metrics-handler
thread_local! {
    // One encoder per worker thread, reused by every scrape that thread
    // serves: its scratch stays grown, and no lock is shared between
    // threads. It is taken out of the cell while encoding (no `RefCell`
    // borrow that could panic) and put back after.
    static ENCODER: Cell<Option<Encoder>> = const { Cell::new(None) };
    // The previous body's length, to size the next one in one allocation.
    static LAST_LEN: Cell<usize> = const { Cell::new(0) };
}

/// `GET /metrics`: the global registry in the format that `Accept` asks
/// for, chosen as nanometrics' own responder chooses it.
fn metrics<B>(req: &Request<B>) -> Response<Full<Bytes>> {
    // The first `Accept` header; one that is not UTF-8 counts as absent,
    // and an absent one means text 0.0.4.
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .unwrap_or("");
    let format = Format::negotiate(accept);

    // hyper owns the body until it is written out, possibly after this
    // thread has started the next scrape, so the body cannot be a reused
    // buffer without copying it. It is a new `Vec` sized from the last
    // scrape, handed to `Bytes` without a copy. (Allocation-free scrapes
    // are what `nanometrics::http` is for.)
    let mut body = Vec::with_capacity(LAST_LEN.get());
    let mut encoder = ENCODER.take().unwrap_or_default();
    encoder.encode(nanometrics::global(), format, &mut body);
    ENCODER.set(Some(encoder));
    LAST_LEN.set(body.len());

    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(VARY, HeaderValue::from_static("Accept"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
// docs:end metrics-handler
