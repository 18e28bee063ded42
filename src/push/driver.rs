//! The push thread and its handle, [`Pusher`].
//!
//! One thread (`nanometrics-push`) per pusher: it encodes the registry into
//! a reused buffer, sends it with the [`Client`](super::client::Client) on a
//! kept-alive connection, and sleeps until the next push or until the handle
//! asks it to stop. Recording threads never wait for it: encoding reads the
//! shards as a scrape does.
//!
//! Outcomes of a push:
//!
//! - `2xx`: success; the next push is one interval later, the back-off is reset;
//! - no connection, a timeout, a broken connection or a malformed response,
//!   `408`, `429` and `5xx`: retried after a capped, fully jittered
//!   exponential back-off ([`Backoff`](super::backoff::Backoff));
//! - other statuses (`400` for a metric the Pushgateway finds inconsistent,
//!   `401`, `404`, …): reported on stderr and tried again only one interval
//!   later, since the same body would be refused again at once.
//!
//! A failure is printed on stderr when it starts or changes (not once per
//! retry), and the recovery when it ends.

// The module is never built under loom (it needs sockets): `Condvar` and
// `Arc` come from std, the mutex from the crate's shim.
use std::sync::{Arc, Condvar};
use std::thread::JoinHandle;
use std::time::Instant;

use super::backoff::{seed, Backoff};
use super::client::{Client, Failure, Request};
use super::config::{Driver, PushConfig, Target, BASE_BACKOFF};
use super::metrics::{PushMetrics, Reason};
use crate::encoding::{Encoder, Format};
use crate::registry::Registry;
use crate::sync::{lock, Mutex};
use crate::Error;

/// A running pusher. Dropping it (or [`shutdown`](Self::shutdown)) stops the
/// thread after one final push (and, when configured, the deletion of the
/// Pushgateway group), each bounded by the timeout.
pub struct Pusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    target: Target,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("target", &self.target.to_string())
            .finish_non_exhaustive()
    }
}

/// What the handle and the thread share.
struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    stats: Mutex<Stats>,
}

/// Counts of what the thread did, read with [`Pusher::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests the target accepted (`2xx`), the final push and the
    /// deletion included.
    pub pushes: u64,
    /// Requests that failed, for any reason.
    pub failures: u64,
    /// The status of the last response (0 before the first, or when the
    /// last request got none).
    pub last_status: u16,
    /// Connections opened.
    pub connects: u64,
}

impl Pusher {
    /// The URL pushes go to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// What the push thread has done so far.
    pub fn stats(&self) -> Stats {
        *lock(&self.shared.stats)
    }

    /// Stops the thread after the final push (and deletion, if configured)
    /// and waits for it.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts pushing `registry` as `config` says (see [`super::push`]).
pub(crate) fn start(config: &PushConfig, registry: &'static Registry) -> Result<Pusher, Error> {
    registry.check()?;
    let encoder = Encoder::new().with_prefix(config.prefix.clone())?;
    let metrics = if config.self_metrics {
        PushMetrics::for_registry(registry)?
    } else {
        PushMetrics::unregistered()
    };
    let shared = Arc::new(Shared {
        stop: Mutex::new(false),
        wake: Condvar::new(),
        stats: Mutex::new(Stats::default()),
    });
    let target = config.target();
    let mut worker = Worker {
        client: Client::new(config.url.clone(), config.timeout),
        path: config.path(),
        config: config.clone(),
        registry,
        encoder,
        body: Vec::new(),
        gzipped: Vec::new(),
        metrics,
        shared: Arc::clone(&shared),
        reported: None,
    };
    let thread = std::thread::Builder::new()
        .name("nanometrics-push".to_owned())
        .spawn(move || worker.run())
        .map_err(|e| Error::io("spawn push thread", &e))?;
    Ok(Pusher {
        shared,
        thread: Some(thread),
        target,
    })
}

/// The outcome of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Accepted(u16),
    /// Worth retrying soon.
    Retry(Reason, u16),
    /// Refused; retried one interval later.
    Refused(u16),
}

struct Worker {
    client: Client,
    path: String,
    config: PushConfig,
    registry: &'static Registry,
    encoder: Encoder,
    body: Vec<u8>,
    gzipped: Vec<u8>,
    metrics: &'static PushMetrics,
    shared: Arc<Shared>,
    /// The failure last printed, so that a run of equal failures prints once.
    reported: Option<Outcome>,
}

impl Worker {
    fn run(&mut self) {
        let mut backoff = Backoff::new(BASE_BACKOFF, self.config.max_backoff, seed());
        let mut next = Instant::now();
        while self.wait_until(next) {
            let outcome = self.push();
            let now = Instant::now();
            next = match outcome {
                Outcome::Accepted(_) => {
                    backoff.reset();
                    now + self.config.interval
                }
                Outcome::Retry(..) => now + backoff.next_delay(),
                Outcome::Refused(_) => {
                    backoff.reset();
                    now + self.config.interval
                }
            };
        }
        // The final push: one attempt, bounded by the timeouts.
        let _ = self.push();
        if self.config.delete_on_shutdown && self.config.driver == Driver::Pushgateway {
            let outcome = self.send("DELETE", false);
            self.record(outcome, "delete");
        }
    }

    /// Sleeps until `deadline`; false once the handle asked to stop.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut stop = lock(&self.shared.stop);
        loop {
            if *stop {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stop = match self.shared.wake.wait_timeout(stop, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    fn push(&mut self) -> Outcome {
        self.body.clear();
        self.encoder
            .encode(self.registry, Format::Prometheus, &mut self.body);
        let gzip = self.config.gzip && compress(&self.body, &mut self.gzipped);
        let method = self.config.method.as_str();
        let outcome = self.send(method, gzip);
        self.record(outcome, "push");
        outcome
    }

    fn send(&mut self, method: &str, gzip: bool) -> Outcome {
        let with_body = method != "DELETE";
        let req = Request {
            content_type: with_body.then(|| Format::Prometheus.content_type()),
            gzip,
            authorization: self.config.authorization.as_deref(),
        };
        let body: &[u8] = match (with_body, gzip) {
            (false, _) => &[],
            (true, true) => &self.gzipped,
            (true, false) => &self.body,
        };
        match self.client.send(method, &self.path, req, body) {
            Ok(status @ 200..=299) => Outcome::Accepted(status),
            Ok(status @ (408 | 429 | 500..=599)) => {
                let reason = if status >= 500 {
                    Reason::ServerError
                } else {
                    Reason::ClientError
                };
                Outcome::Retry(reason, status)
            }
            Ok(status) => Outcome::Refused(status),
            Err(f) => Outcome::Retry(
                match f {
                    Failure::Connect => Reason::Connect,
                    Failure::Timeout => Reason::Timeout,
                    Failure::Io => Reason::Io,
                    Failure::BadResponse => Reason::BadResponse,
                },
                0,
            ),
        }
    }

    /// Counts `outcome` and prints a failure when it starts or changes.
    fn record(&mut self, outcome: Outcome, what: &str) {
        let mut stats = lock(&self.shared.stats);
        stats.connects = self.client.connects();
        let (reason, status) = match outcome {
            Outcome::Accepted(status) => {
                stats.pushes += 1;
                stats.last_status = status;
                drop(stats);
                self.metrics.pushes.inc();
                self.metrics.last_success.set_to_current_time();
                if self.reported.take().is_some() {
                    eprintln!(
                        "nanometrics: {what} to {} succeeded again",
                        self.config.target()
                    );
                }
                return;
            }
            Outcome::Retry(reason, status) => (reason, status),
            Outcome::Refused(status) => (Reason::ClientError, status),
        };
        stats.failures += 1;
        stats.last_status = status;
        drop(stats);
        self.metrics.failures.with(reason).inc();
        if self.reported == Some(outcome) {
            return;
        }
        self.reported = Some(outcome);
        let then = match outcome {
            Outcome::Refused(_) => format!("next try in {:?}", self.config.interval),
            _ => "retrying with back-off".to_owned(),
        };
        if status == 0 {
            eprintln!(
                "nanometrics: {what} to {} failed: {}; {then}",
                self.config.target(),
                reason.as_str()
            );
        } else {
            let excerpt = String::from_utf8_lossy(self.client.excerpt());
            eprintln!(
                "nanometrics: {what} to {} answered {status}: {:?}; {then}",
                self.config.target(),
                excerpt.trim()
            );
        }
    }
}

/// Gzips `body` into `out` (allocates the deflate state each time); false
/// without the `gzip` feature or on failure, and the body goes uncompressed.
#[cfg(feature = "gzip")]
fn compress(body: &[u8], out: &mut Vec<u8>) -> bool {
    use std::io::Write;
    out.clear();
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    enc.write_all(body).and_then(|()| enc.try_finish()).is_ok()
}

#[cfg(not(feature = "gzip"))]
fn compress(_body: &[u8], _out: &mut Vec<u8>) -> bool {
    false
}
