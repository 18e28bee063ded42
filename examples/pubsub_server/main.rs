//! The nanometrics demo: a multi-threaded TCP publish/subscribe server with
//! a REST API, webhooks through an in-process queue, a channel-info cache,
//! instrumented with soketi's and sockudo's documented metric sets (every
//! family, with their names, types and labels) and a few of its own, served
//! on `/metrics`.
//!
//! ```sh
//! cargo run --release --example pubsub_server
//! curl -s 127.0.0.1:9601/metrics
//! ```
//!
//! Protocol on `127.0.0.1:$PORT`: one command per line (at most 64 KiB),
//! replies `OK`, `PONG` or `ERR <reason>`:
//!
//! | command | effect |
//! |---|---|
//! | `APP <app_id>` | selects the app (default `default`); apps are isolated |
//! | `SUB <channel>` | subscribes; `private-*` and `presence-*` names are private and presence channels |
//! | `UNSUB <channel>` | unsubscribes |
//! | `PUB <channel> <payload>` | sends `MSG <channel> <payload>` to every subscriber (no reply unless an error) |
//! | `PING` | `PONG` |
//!
//! The REST API on `127.0.0.1:$PUBSUB_API_PORT` is in `rest.rs`; webhooks
//! (`channel_occupied`, `channel_vacated`, `member_added`, `member_removed`)
//! go through the queue in `webhooks.rs` to the demo's own sink; the cache
//! is in `cache.rs`; the families and their namespaces in `metrics.rs`.
//!
//! The fan-out latency histogram observes, for every delivery, the time from
//! the publish to the write to that subscriber. The publish time is the
//! publisher's clock when the payload ends in ` <unix-nanoseconds>` within a
//! minute of the server's clock (as `pubsub_load` sends), else the moment the
//! server read the line.
//!
//! Metric names: soketi's families under `METRICS_PROMETHEUS_PREFIX` (default
//! `soketi_`) followed by the port and `_` (`soketi_6001_connected`),
//! sockudo's under `PROMETHEUS_METRICS_PREFIX` (default `sockudo_`), the
//! demo's own under `pubsub_`: three namespaces of the global registry, the
//! responder's prefix left empty.
//!
//! Environment: `PORT` (6001), `PUBSUB_API_PORT` (`PORT` + 1; 0 picks a
//! free port), `PUBSUB_RATE_LIMIT` (publishes per second per connection, 100000),
//! `PUBSUB_RECORD=0` (record nothing: for measuring the cost of
//! instrumentation), the two prefixes above, and the other `METRICS_*`
//! settings of nanometrics' responder, or `METRICS_DRIVER=pushgateway`/`push`
//! to push instead (docs/push.md). SIGINT or SIGTERM shuts the server down
//! cleanly.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use nanometrics::config::HttpConfig;
use nanometrics::push::{self, Exporter, PushConfig};

/// Whether instrumentation records (`PUBSUB_RECORD=0` turns it off).
static RECORD: AtomicBool = AtomicBool::new(true);
static SHUTDOWN: AtomicBool = AtomicBool::new(false);

/// Runs `$e` only while recording is on: one predictable branch.
macro_rules! rec {
    ($e:expr) => {
        if $crate::RECORD.load(std::sync::atomic::Ordering::Relaxed) {
            $e;
        }
    };
}

mod cache;
mod conn;
mod http1;
mod hub;
mod json;
mod metrics;
mod rest;
mod webhooks;

use hub::Hub;
use metrics::Metrics;

/// The wall clock in Unix nanoseconds (shared by processes on one host).
pub(crate) fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

extern "C" fn on_signal(_: libc::c_int) {
    SHUTDOWN.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` is an `extern "C"` function that only stores to
        // an atomic, which is async-signal-safe; `sigaction` gets a zeroed,
        // fully initialised struct.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// How long the accept loop waits after `accept` failed with `e`: 10 ms when
/// nothing is pending (the listener is non-blocking so that shutdown is
/// noticed); none after an interrupted or aborted accept; 100 ms after any
/// other error. The last is the back-off nanometrics' own responder takes:
/// out of descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM),
/// the pending connection stays queued and `accept` fails again at once, so
/// retrying without a pause spins a core and counts millions of errors.
pub(crate) fn accept_pause(e: &io::Error) -> Option<Duration> {
    match e.kind() {
        io::ErrorKind::WouldBlock => Some(Duration::from_millis(10)),
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => None,
        _ => Some(Duration::from_millis(100)),
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> Result<T, String> {
    match std::env::var(key) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{key}={v:?} is not a valid value")),
    }
}

/// A prefix variable's value: `default` when unset or blank; an error when
/// not UTF-8.
fn prefix_var(key: &str, default: &str) -> Result<String, String> {
    match std::env::var(key) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(default.to_owned()),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{key} is not valid UTF-8")),
    }
}

/// Serves the global registry (every namespace) on `/metrics` as the
/// `METRICS_*` environment says, with no encoder prefix: the two prefix
/// variables name the soketi and sockudo namespaces here, so they are kept
/// from the responder's configuration. With `METRICS_DRIVER=pushgateway` or
/// `push`, pushes instead (docs/push.md). `None` when `METRICS_ENABLED=false`.
fn start_metrics() -> Result<Option<Exporter>, String> {
    let mut bad = None;
    let config = HttpConfig::new()
        .with_lookup(|key| match key {
            "METRICS_PROMETHEUS_PREFIX" | "PROMETHEUS_METRICS_PREFIX" => None,
            _ => match std::env::var(key) {
                Ok(v) => Some(v),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => {
                    bad.get_or_insert(key.to_owned());
                    None
                }
            },
        })
        .map_err(|e| e.to_string())?;
    if let Some(key) = bad {
        return Err(format!("{key} is not valid UTF-8"));
    }
    let push = PushConfig::from_env().map_err(|e| e.to_string())?;
    let exporter = push::serve_or_push(&config, push.as_ref(), nanometrics::global())
        .map_err(|e| e.to_string())?;
    match &exporter {
        Some(Exporter::Responder(s)) => println!(
            "pubsub_server: metrics on http://{}{}",
            s.local_addr(),
            config.get_path()
        ),
        Some(Exporter::Pusher(p)) => println!("pubsub_server: pushing metrics to {}", p.target()),
        None => println!("pubsub_server: METRICS_ENABLED=false, not serving metrics"),
    }
    Ok(exporter)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("pubsub_server: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    install_signal_handlers();
    let port: u16 = env_or("PORT", 6001)?;
    let api_port: u16 = match port.checked_add(1) {
        Some(next) => env_or("PUBSUB_API_PORT", next)?,
        None => env_or("PUBSUB_API_PORT", 0)?,
    };
    let rate: f64 = env_or("PUBSUB_RATE_LIMIT", 100_000.0)?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!(
            "PUBSUB_RATE_LIMIT={rate} must be a positive number"
        ));
    }
    match std::env::var("PUBSUB_RECORD").as_deref() {
        Ok("0") | Ok("false") => RECORD.store(false, Ordering::Relaxed),
        Ok("1") | Ok("true") | Err(_) => {}
        Ok(other) => {
            return Err(format!(
                "PUBSUB_RECORD={other:?}: expected 0, 1, true or false"
            ))
        }
    }

    // soketi's names carry its port: METRICS_PROMETHEUS_PREFIX, then the port.
    let soketi = format!(
        "{}{port}_",
        prefix_var("METRICS_PROMETHEUS_PREFIX", "soketi_")?
    );
    let sockudo = prefix_var("PROMETHEUS_METRICS_PREFIX", "sockudo_")?;
    let m: &'static Metrics = Box::leak(Box::new(Metrics::register(
        nanometrics::global(),
        &soketi,
        &sockudo,
    )?));
    m.own.started.mark();
    let metrics = start_metrics()?;
    println!(
        "pubsub_server: metric prefixes {} (soketi), {} (sockudo), {} (the demo's own)",
        m.prefixes[0], m.prefixes[1], m.prefixes[2]
    );

    let sink = webhooks::sink()?;
    let (queue, webhook_worker) = webhooks::start(sink.addr, m)?;
    let hub = Arc::new(Hub::new(m, queue));

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let (api_addr, api) =
        rest::start(SocketAddr::from(([127, 0, 0, 1], api_port)), hub.clone(), m)?;
    println!(
        "pubsub_server: listening on {addr}, REST API on http://{api_addr}, webhooks to http://{} (recording {})",
        sink.addr,
        if RECORD.load(Ordering::Relaxed) {
            "on"
        } else {
            "off"
        }
    );

    // Accept errors count against the app every connection starts in.
    let default_app = m.app("default");
    let next_id = AtomicU64::new(1);
    let open: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
    let mut workers = Vec::new();
    while !SHUTDOWN.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                rec!(m.soketi.new_connections.inc());
                rec!(m.soketi.connected.inc());
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                if let Ok(s) = stream.try_clone() {
                    open.lock().map_err(|e| e.to_string())?.insert(id, s);
                }
                let (hub, open) = (hub.clone(), open.clone());
                workers.push(thread::spawn(move || {
                    let _ = conn::handle(&hub, m, stream, id, rate);
                    if let Ok(mut o) = open.lock() {
                        o.remove(&id);
                    }
                    rec!(m.soketi.connected.dec());
                    rec!(m.soketi.new_disconnections.inc());
                }));
                workers.retain(|w| !w.is_finished());
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::WouldBlock {
                    rec!(default_app.connection_errors.inc());
                }
                if let Some(pause) = accept_pause(&e) {
                    thread::sleep(pause);
                }
            }
        }
    }
    println!("pubsub_server: shutting down");
    if let Ok(o) = open.lock() {
        for s in o.values() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
    for w in workers {
        let _ = w.join();
    }
    for (name, t) in [
        ("REST API", api),
        ("webhook worker", webhook_worker),
        ("webhook sink", sink.thread),
    ] {
        if t.join().is_err() {
            eprintln!("pubsub_server: the {name} thread panicked");
        }
    }
    println!(
        "pubsub_server: the webhook sink received {} webhooks",
        sink.received.load(Ordering::Relaxed)
    );
    drop(metrics);
    println!("pubsub_server: stopped cleanly");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backs_off_when_out_of_descriptors() {
        let pause = |errno| accept_pause(&io::Error::from_raw_os_error(errno));
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert_eq!(pause(errno), Some(Duration::from_millis(100)), "{errno}");
        }
        assert_eq!(pause(libc::EAGAIN), Some(Duration::from_millis(10)));
        assert_eq!(pause(libc::EINTR), None);
        assert_eq!(pause(libc::ECONNABORTED), None);
    }
}
