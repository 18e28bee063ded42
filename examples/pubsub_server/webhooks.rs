//! Webhooks through an in-process queue, as sockudo sends them: the hub
//! enqueues a job per Pusher event (`channel_occupied`, `channel_vacated`,
//! `member_added`, `member_removed`); one worker thread POSTs each to the
//! webhook endpoint, a sink thread of the demo on 127.0.0.1 that answers
//! `200`, or `500` to webhooks about channels named `fail-*`, so that the
//! failure families can be seen to move. Records sockudo's queue and
//! webhook families.
//!
//! The queue holds at most [`CAPACITY`] jobs: a job that finds it full
//! fails at once (`queue_jobs_failed_total`, `webhooks_failed_total`).
//! A job whose POST gets no `2xx` within [`TIMEOUT`] fails too. Jobs still
//! queued at shutdown are dropped.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nanometrics::CounterRef;

use crate::http1;
use crate::metrics::Metrics;
use crate::SHUTDOWN;

/// The most jobs waiting.
pub(crate) const CAPACITY: usize = 1024;
/// Connect, write and read timeout of one webhook POST.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(2);

/// One webhook to send.
pub(crate) struct Job {
    body: String,
    sent: CounterRef<'static>,
    failed: CounterRef<'static>,
}

impl Job {
    /// A Pusher webhook body for `event` on `channel` (and `user_id` for
    /// presence events); `sent` and `failed` are the app's webhook counters.
    pub(crate) fn new(
        event: &str,
        channel: &str,
        user_id: Option<u64>,
        sent: CounterRef<'static>,
        failed: CounterRef<'static>,
    ) -> Self {
        let user = user_id.map_or(String::new(), |u| format!(",\"user_id\":\"{u}\""));
        let body = format!(
            "{{\"time_ms\":{},\"events\":[{{\"name\":\"{event}\",\"channel\":{}{user}}}]}}",
            crate::unix_nanos() / 1_000_000,
            http1::json_str(channel)
        );
        Job { body, sent, failed }
    }
}

/// The sending side of the queue.
pub(crate) struct Queue {
    tx: SyncSender<Job>,
    m: &'static Metrics,
}

impl Queue {
    /// Enqueues `job` without blocking; a full queue fails it.
    pub(crate) fn push(&self, job: Job) {
        let q = &self.m.sockudo;
        rec!(q.queue_active_jobs.inc());
        if let Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) =
            self.tx.try_send(job)
        {
            rec!(q.queue_active_jobs.dec());
            rec!(q.queue_jobs_failed.inc());
            rec!(job.failed.inc());
        }
    }
}

/// POSTs `body` to `to`; `Ok` on a `2xx` answer.
fn post(to: SocketAddr, body: &str) -> Result<(), String> {
    let mut s = TcpStream::connect_timeout(&to, TIMEOUT).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST /webhooks HTTP/1.1\r\nHost: {to}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    match http1::read_status(&mut s)? {
        200..=299 => Ok(()),
        code => Err(format!("webhook endpoint answered {code}")),
    }
}

fn work(rx: Receiver<Job>, to: SocketAddr, m: &'static Metrics) {
    let q = &m.sockudo;
    while !SHUTDOWN.load(Ordering::Relaxed) {
        let job = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let start = Instant::now();
        let ok = post(to, &job.body).is_ok();
        rec!(q.webhook_duration.observe(start.elapsed().as_secs_f64()));
        if ok {
            rec!(job.sent.inc());
            rec!(q.queue_jobs_processed.inc());
        } else {
            rec!(job.failed.inc());
            rec!(q.queue_jobs_failed.inc());
        }
        rec!(q.queue_job_duration.observe(start.elapsed().as_secs_f64()));
        rec!(q.queue_active_jobs.dec());
    }
}

/// Starts the queue's worker, sending to `to`.
pub(crate) fn start(
    to: SocketAddr,
    m: &'static Metrics,
) -> Result<(Queue, JoinHandle<()>), String> {
    let (tx, rx) = mpsc::sync_channel(CAPACITY);
    let worker = thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || work(rx, to, m))
        .map_err(|e| format!("cannot start the webhook worker: {e}"))?;
    Ok((Queue { tx, m }, worker))
}

/// What the sink refuses: a webhook about a `fail-*` channel (the body is
/// the worker's own JSON, so the channel is written exactly so).
const FAIL: &[u8] = b"\"channel\":\"fail-";

/// The demo's webhook endpoint: accepts POSTs on 127.0.0.1 (an ephemeral
/// port), one at a time, and answers `200`, or `500` for a `fail-*`
/// channel; `received` counts the requests it read whole.
pub(crate) struct Sink {
    pub addr: SocketAddr,
    pub received: Arc<AtomicU64>,
    pub thread: JoinHandle<()>,
}

pub(crate) fn sink() -> Result<Sink, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("cannot start the webhook sink: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("webhook sink: {e}"))?;
    let received = Arc::new(AtomicU64::new(0));
    let count = received.clone();
    let thread = thread::Builder::new()
        .name("webhook-sink".into())
        .spawn(move || {
            while !SHUTDOWN.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(TIMEOUT));
                let _ = s.set_write_timeout(Some(TIMEOUT));
                let status = match http1::read_request(&mut s, &mut |_| {}) {
                    Ok(r) if r.method == "POST" => {
                        count.fetch_add(1, Ordering::Relaxed);
                        if r.body.windows(FAIL.len()).any(|w| w == FAIL) {
                            500
                        } else {
                            200
                        }
                    }
                    Ok(_) => 405,
                    Err(r) => match r.status {
                        Some(code) => code,
                        None => continue,
                    },
                };
                let _ = http1::respond(&mut s, status, "{}");
            }
        })
        .map_err(|e| format!("cannot start the webhook sink: {e}"))?;
    Ok(Sink {
        addr,
        received,
        thread,
    })
}
