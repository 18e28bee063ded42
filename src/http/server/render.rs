//! Renders: the workers that encode (and compress) the registry, and the
//! poll thread's side of them, which shares one render among every scrape
//! that asks for the same output while it is being made.
//!
//! A worker never touches a socket: it fills a [`Body`] the poll thread lent
//! it and hands it back. The poll thread keeps, per [`Key`] (format and
//! compression), whether a render is under way, the connections waiting for
//! it, and the last finished one; a scrape that arrives while its key is
//! being rendered waits for that render instead of starting another, so N
//! simultaneous scrapes cost one encode. Bodies are reference-counted and
//! pooled: a connection being written holds a reference, and a body goes
//! back to work only once nobody does, so steady-state scrapes allocate
//! nothing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::gzip::Gzip;
use super::{wake, Shared};
use crate::http::{Encoder, Format, Scrape};
use std::os::unix::net::UnixStream;

/// Distinct keys: two formats, compressed or not.
pub(super) const KEYS: usize = 4;
/// Finished bodies kept for reuse; past this, one still being written is
/// dropped by the pool and freed by its last writer.
const POOL_MAX: usize = 2 * KEYS;

/// What a render produces: the format, and whether the client admits gzip
/// (whether it is compressed also depends on the configuration and size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    format: Format,
    gzip: bool,
}

impl Key {
    /// The key that answers `scrape` under a configuration allowing gzip or not.
    pub(super) fn of(scrape: &Scrape, gzip_on: bool) -> Key {
        Key {
            format: scrape.format,
            gzip: scrape.gzip && gzip_on,
        }
    }

    fn index(self) -> usize {
        let f = match self.format {
            Format::OpenMetrics => 0,
            Format::Prometheus => 2,
        };
        f + usize::from(self.gzip)
    }
}

/// One finished render.
#[derive(Default)]
pub(super) struct Body {
    /// The response body.
    pub(super) bytes: Vec<u8>,
    /// Whether `bytes` is gzip.
    pub(super) gzipped: bool,
    /// Whether the encoder failed (the waiting scrapes get `503`).
    pub(super) failed: bool,
}

/// A render for a worker to do, in a body only it holds.
struct Job {
    key: Key,
    body: Arc<Body>,
}

/// A finished render, back to the poll thread.
pub(super) struct Done {
    worker: usize,
    key: Key,
    body: Arc<Body>,
}

/// A worker thread: receives [`Job`]s, fills their bodies.
pub(super) struct Worker {
    id: usize,
    shared: Arc<Shared>,
    jobs: Receiver<Job>,
    done: SyncSender<Done>,
    waker: UnixStream,
    encoder: Encoder,
    /// The uncompressed text of a compressed render.
    plain: Vec<u8>,
    gzip: Gzip,
}

impl Worker {
    pub(super) fn run(mut self) {
        while let Ok(Job { key, mut body }) = self.jobs.recv() {
            if self.shared.stopping() {
                return;
            }
            // The poll thread lends a body nobody else holds.
            if let Some(b) = Arc::get_mut(&mut body) {
                // A panic in the encoder must not leave its scrapes waiting
                // for ever: they get a `503` instead.
                let ok = catch_unwind(AssertUnwindSafe(|| self.render(key, b))).is_ok();
                b.failed = !ok;
            }
            let msg = Done {
                worker: self.id,
                key,
                body,
            };
            if self.done.send(msg).is_err() {
                return;
            }
            wake(&self.waker);
        }
    }

    fn render(&mut self, key: Key, body: &mut Body) {
        let cfg = &self.shared.cfg;
        self.shared.metrics.renders.inc();
        let registry = self.shared.registry;
        body.gzipped = false;
        if !key.gzip {
            body.bytes.clear();
            // Holds the registry lock only while encoding into the body.
            self.encoder.encode(registry, key.format, &mut body.bytes);
            return;
        }
        self.plain.clear();
        self.encoder.encode(registry, key.format, &mut self.plain);
        if self.plain.len() >= cfg.gzip_min_bytes
            && self.gzip.compress(&self.plain, &mut body.bytes)
        {
            body.gzipped = true;
        } else {
            body.bytes.clear();
            body.bytes.extend_from_slice(&self.plain);
        }
    }
}

/// Per key: the render under way, who waits for it, the last one made.
#[derive(Default)]
struct Slot {
    /// A worker is rendering this key.
    rendering: bool,
    /// Waiting for a free worker.
    queued: bool,
    /// Connections (poll-thread indices) waiting for the next render.
    waiters: Vec<usize>,
    /// The last render and when it finished.
    last: Option<(Arc<Body>, Instant)>,
}

/// The poll thread's side of the workers.
pub(super) struct Renders {
    jobs: Vec<SyncSender<Job>>,
    busy: Vec<bool>,
    done: Receiver<Done>,
    slots: [Slot; KEYS],
    pool: Vec<Arc<Body>>,
    window: Duration,
}

/// The channels and threads of `workers` workers for `shared`.
pub(super) fn spawn(
    shared: &Arc<Shared>,
    workers: usize,
    waker: &UnixStream,
    mut new_encoder: impl FnMut() -> Result<Encoder, crate::Error>,
    threads: &mut Vec<std::thread::JoinHandle<()>>,
) -> Result<Renders, crate::Error> {
    // Never full: each worker has at most one job out.
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Done>(workers);
    let mut renders = Renders {
        jobs: Vec::with_capacity(workers),
        busy: Vec::with_capacity(workers),
        done: done_rx,
        slots: Default::default(),
        pool: Vec::with_capacity(POOL_MAX),
        window: shared.cfg.coalesce_window,
    };
    let spawn_err = |e: &std::io::Error| crate::Error::io("spawn responder thread", e);
    for id in 0..workers {
        // One job at a time per worker: the poll thread sends only to an
        // idle one.
        let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel::<Job>(1);
        let worker = Worker {
            id,
            shared: shared.clone(),
            jobs: jobs_rx,
            done: done_tx.clone(),
            waker: waker.try_clone().map_err(|e| spawn_err(&e))?,
            encoder: new_encoder()?,
            plain: Vec::new(),
            gzip: Gzip::new(),
        };
        let t = std::thread::Builder::new()
            .name(format!("nanometrics-http-w{id}"))
            .spawn(move || worker.run())
            .map_err(|e| spawn_err(&e))?;
        threads.push(t);
        renders.jobs.push(jobs_tx);
        renders.busy.push(false);
    }
    Ok(renders)
}

impl Renders {
    /// Asks for `key` on behalf of connection `conn`: a body to answer with
    /// now (the last render, if it finished within the coalescing window),
    /// or `None`, and the connection is answered by [`finish`](Self::finish)
    /// of the render under way or about to start.
    pub(super) fn request(&mut self, key: Key, conn: usize, now: Instant) -> Option<Arc<Body>> {
        let k = key.index();
        let slot = self.slots.get_mut(k)?;
        if !slot.rendering && !self.window.is_zero() {
            if let Some((body, at)) = &slot.last {
                if now.saturating_duration_since(*at) < self.window {
                    return Some(body.clone());
                }
            }
        }
        slot.waiters.push(conn);
        if !slot.rendering && !slot.queued {
            slot.queued = true;
            self.dispatch(key);
        }
        None
    }

    /// Starts the render of `key`, queued, if a worker is free.
    fn dispatch(&mut self, key: Key) {
        let Some(w) = self.busy.iter().position(|b| !b) else {
            return;
        };
        // A pooled body no writer holds any more, else a new one.
        let body = match self.pool.iter().position(|b| Arc::strong_count(b) == 1) {
            Some(i) => self.pool.swap_remove(i),
            None => Arc::new(Body::default()),
        };
        let Some(tx) = self.jobs.get(w) else { return };
        match tx.try_send(Job { key, body }) {
            Ok(()) => {
                if let Some(b) = self.busy.get_mut(w) {
                    *b = true;
                }
                if let Some(slot) = self.slots.get_mut(key.index()) {
                    slot.queued = false;
                    slot.rendering = true;
                }
            }
            // Full cannot happen (one job per idle worker); a worker that is
            // gone stays marked busy, and the key stays queued for another.
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                if let Some(b) = self.busy.get_mut(w) {
                    *b = true;
                }
                self.pool.push(job.body);
                self.dispatch(key);
            }
        }
    }

    /// The next finished render, if any.
    pub(super) fn try_done(&self) -> Option<Done> {
        self.done.try_recv().ok()
    }

    /// Takes in the finished render `done`: appends the connections waiting
    /// for it to `waiters` and returns the body to answer them with. Then
    /// starts queued renders on the freed worker.
    pub(super) fn finish(
        &mut self,
        done: Done,
        now: Instant,
        waiters: &mut Vec<usize>,
    ) -> Arc<Body> {
        if let Some(b) = self.busy.get_mut(done.worker) {
            *b = false;
        }
        if let Some(slot) = self.slots.get_mut(done.key.index()) {
            slot.rendering = false;
            waiters.append(&mut slot.waiters);
            let old = slot.last.replace((done.body.clone(), now));
            if let Some((old, _)) = old {
                if self.pool.len() < POOL_MAX {
                    self.pool.push(old);
                }
            }
        }
        for k in [Format::OpenMetrics, Format::Prometheus]
            .into_iter()
            .flat_map(|format| [false, true].map(|gzip| Key { format, gzip }))
        {
            if self.slots.get(k.index()).is_some_and(|s| s.queued) {
                self.dispatch(k);
            }
        }
        done.body
    }
}
