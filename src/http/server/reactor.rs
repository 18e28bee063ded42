//! The poll thread: owns the listener and every connection from accept to
//! close, reads request heads, answers refusals, and writes every response
//! without blocking as the client reads it.
//!
//! A connection is in one [`State`] at a time. While it has a response to
//! write (`Write`) or waits for a render (`Render`), nothing more is read
//! from it, so a client that pipelines requests and never reads gets at most
//! one response's worth of the server's attention; one that makes no write
//! progress for `write_timeout` is closed. Renders are shared
//! ([`Renders`]): the body a connection writes is a reference to one made
//! for every scrape that asked for it at about the same time.
//!
//! Over 700 lines as one file because it is one state machine: a
//! connection's states, its reads, writes and deadlines change together.

use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::render::{Body, Key, Renders};
use super::{poll, pollfd, Shared};
use crate::http::penalty::Penalties;
use crate::http::{decide, write_reject, write_scrape_head, Decision, Reason, Scrape, SelfMetrics};

/// How long a connection refused with "close" is drained before closing, so
/// that the client reads the response instead of a reset.
const LINGER: Duration = Duration::from_secs(1);
/// How long accepting pauses after the process ran out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections accepted per wake-up, so that accepting cannot starve reads.
const ACCEPT_BATCH: usize = 64;
/// Head and output buffers kept for reuse.
const POOL_MAX: usize = 32;

/// Where a connection is. The order is the eviction order (the first ones
/// are the least worth keeping); `Render` and `Write` are never evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    /// Answered with "close"; draining what the client still sends.
    Linger,
    /// Kept alive between requests.
    Idle,
    /// Accepted; nothing received yet.
    Waiting,
    /// Part of a request head received.
    Head,
    /// Waiting for the render that answers its scrape.
    Render,
    /// Writing a response.
    Write,
}

/// What follows a response once it is written.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The scrape it answers (`None`: a refusal).
    scrape: Option<Scrape>,
    keep_alive: bool,
    /// When the request's head was complete.
    started: Instant,
}

struct Conn {
    stream: TcpStream,
    peer: IpAddr,
    allowed: bool,
    /// Head bytes received and not yet consumed; a buffer is held only while
    /// there are some.
    buf: Option<Box<[u8]>>,
    filled: usize,
    state: State,
    /// When `state` began: eviction closes the oldest first.
    since: Instant,
    /// When the connection is closed unless something happens (for `Write`:
    /// `write_timeout` after the last progress).
    deadline: Instant,
    /// The response head (or a whole refusal) being written; a buffer is
    /// held only while there is one.
    out: Option<Vec<u8>>,
    /// The response body being written after `out`.
    body: Option<Arc<Body>>,
    /// Bytes of `out` then `body` already written.
    sent: usize,
    pending: Pending,
}

impl Conn {
    fn total(&self) -> usize {
        let head = self.out.as_ref().map_or(0, Vec::len);
        let body = match (&self.body, self.pending.scrape) {
            (Some(b), Some(s)) if !s.head_only => b.bytes.len(),
            _ => 0,
        };
        head + body
    }
}

/// What one attempt to write a connection's response did.
enum Flushed {
    /// All of it is written.
    Done,
    /// The socket is full: wait for it.
    Blocked,
    /// The connection failed and is closed.
    Closed,
}

pub(super) struct Reactor {
    pub(super) shared: Arc<Shared>,
    pub(super) listener: TcpListener,
    pub(super) wake_rx: UnixStream,
    pub(super) renders: Renders,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    live: usize,
    max_head: usize,
    heads: Vec<Box<[u8]>>,
    outs: Vec<Vec<u8>>,
    /// Where lingering connections' bytes are read to be dropped, and a
    /// refusal to a connection without a slot is written from.
    scratch: Box<[u8]>,
    refusal: Vec<u8>,
    /// Connections a finished render answers.
    waiters: Vec<usize>,
    fds: Vec<libc::pollfd>,
    /// Connection index of each entry of `fds` after the fixed ones.
    tokens: Vec<usize>,
    accept_paused_until: Option<Instant>,
    /// Addresses penalised for wrong credentials.
    penalties: Penalties,
}

impl Reactor {
    pub(super) fn new(
        shared: Arc<Shared>,
        listener: TcpListener,
        wake_rx: UnixStream,
        renders: Renders,
    ) -> Self {
        Reactor {
            max_head: shared.cfg.max_head_bytes,
            shared,
            listener,
            wake_rx,
            renders,
            conns: Vec::new(),
            free: Vec::new(),
            live: 0,
            heads: Vec::new(),
            outs: Vec::new(),
            scratch: vec![0; 4096].into_boxed_slice(),
            refusal: Vec::with_capacity(512),
            waiters: Vec::new(),
            fds: Vec::new(),
            tokens: Vec::new(),
            accept_paused_until: None,
            penalties: Penalties::new(),
        }
    }

    pub(super) fn run(mut self) {
        loop {
            if self.shared.stopping() {
                return;
            }
            let now = Instant::now();
            if self.accept_paused_until.is_some_and(|t| now >= t) {
                self.accept_paused_until = None;
            }
            let accepting = self.accept_paused_until.is_none();
            self.fds.clear();
            self.tokens.clear();
            self.fds
                .push(pollfd(self.wake_rx.as_raw_fd(), libc::POLLIN));
            if accepting {
                self.fds
                    .push(pollfd(self.listener.as_raw_fd(), libc::POLLIN));
            }
            let fixed = self.fds.len();
            let mut next = self.accept_paused_until;
            for (i, c) in self.conns.iter().enumerate() {
                let Some(c) = c else { continue };
                let events = match c.state {
                    // Nothing to wait for on the socket: the render wakes us.
                    State::Render => continue,
                    // No reading while a response is unsent.
                    State::Write => libc::POLLOUT,
                    _ => libc::POLLIN,
                };
                self.fds.push(pollfd(c.stream.as_raw_fd(), events));
                self.tokens.push(i);
                next = Some(next.map_or(c.deadline, |n| n.min(c.deadline)));
            }
            let timeout = next.map(|t| t.saturating_duration_since(now));
            if poll(&mut self.fds, timeout).is_err() {
                // EINVAL/ENOMEM: nothing sensible to retry at full speed.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            let now = Instant::now();
            if self.fds.first().is_some_and(|f| f.revents != 0) {
                let mut sink = [0u8; 64];
                while matches!((&self.wake_rx).read(&mut sink), Ok(n) if n > 0) {}
            }
            if self.shared.stopping() {
                return;
            }
            self.take_renders(now);
            for k in fixed..self.fds.len() {
                let ready = self.fds.get(k).is_some_and(|f| f.revents != 0);
                let token = self.tokens.get(k - fixed).copied();
                if let (true, Some(i)) = (ready, token) {
                    self.ready(i, now);
                }
            }
            if accepting && self.fds.get(1).is_some_and(|f| f.revents != 0) {
                self.accept(now);
            }
            self.expire(now);
        }
    }

    fn metrics(&self) -> &'static SelfMetrics {
        self.shared.metrics
    }

    fn conn(&mut self, i: usize) -> Option<&mut Conn> {
        self.conns.get_mut(i).and_then(Option::as_mut)
    }

    fn insert(&mut self, conn: Conn) -> usize {
        self.live += 1;
        match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.conns.get_mut(i) {
                    *slot = Some(conn);
                }
                i
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        }
    }

    fn recycle_head(&mut self, buf: Option<Box<[u8]>>) {
        if let Some(b) = buf {
            if self.heads.len() < POOL_MAX && b.len() == self.max_head {
                self.heads.push(b);
            }
        }
    }

    fn recycle_out(&mut self, out: Option<Vec<u8>>) {
        if let Some(mut o) = out {
            // Heads and refusals are small; a buffer grown past this by some
            // odd configuration is not kept.
            if self.outs.len() < POOL_MAX && o.capacity() <= 4096 {
                o.clear();
                self.outs.push(o);
            }
        }
    }

    fn close(&mut self, i: usize) {
        let Some(mut c) = self.conns.get_mut(i).and_then(Option::take) else {
            return;
        };
        self.live -= 1;
        self.free.push(i);
        self.recycle_head(c.buf.take());
        self.recycle_out(c.out.take());
    }

    /// Answers the connections waiting for renders that finished.
    fn take_renders(&mut self, now: Instant) {
        while let Some(done) = self.renders.try_done() {
            let mut waiters = std::mem::take(&mut self.waiters);
            let body = self.renders.finish(done, now, &mut waiters);
            for &i in &waiters {
                self.respond(i, body.clone(), now);
                self.drive(i, now);
            }
            waiters.clear();
            self.waiters = waiters;
        }
    }

    /// Sets `body` as the response of connection `i`, waiting in `Render`,
    /// and puts it into `Write`.
    fn respond(&mut self, i: usize, body: Arc<Body>, now: Instant) {
        let out = self.outs.pop();
        let Some(c) = self.conn(i) else {
            self.recycle_out(out);
            return;
        };
        let Some(scrape) = c.pending.scrape.filter(|_| c.state == State::Render) else {
            self.recycle_out(out);
            return;
        };
        if body.failed {
            self.metrics().rejected.with(Reason::RenderFailed).inc();
            let mut out = out.unwrap_or_default();
            write_reject(
                &self.shared.cfg,
                Reason::RenderFailed,
                false,
                scrape.head_only,
                1,
                &mut out,
            );
            let Some(c) = self.conn(i) else { return };
            c.pending = Pending {
                scrape: None,
                keep_alive: false,
                started: c.pending.started,
            };
            c.out = Some(out);
        } else {
            let mut out = out.unwrap_or_default();
            write_scrape_head(&scrape, body.gzipped, body.bytes.len(), &mut out);
            c.out = Some(out);
            c.body = Some(body);
        }
        self.start_write(i, now);
    }

    fn accept(&mut self, now: Instant) {
        for _ in 0..ACCEPT_BATCH {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer.ip(), now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(_) => {
                    // EMFILE, ENFILE, ENOBUFS: the listener stays readable, so
                    // back off instead of spinning.
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
    }

    fn admit(&mut self, stream: TcpStream, peer: IpAddr, now: Instant) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let _ = SockRef::from(&stream).set_tcp_nodelay(true);
        if self.live >= self.shared.cfg.max_connections && !self.evict() {
            refuse(
                &self.shared,
                &mut self.refusal,
                &stream,
                Reason::ConnectionLimit,
            );
            return;
        }
        let allowed = crate::http::auth::ip_allowed(&self.shared.cfg.allowed, peer);
        self.insert(Conn {
            stream,
            peer,
            allowed,
            buf: None,
            filled: 0,
            state: State::Waiting,
            since: now,
            deadline: now + self.shared.cfg.head_timeout,
            out: None,
            body: None,
            sent: 0,
            pending: Pending {
                scrape: None,
                keep_alive: false,
                started: now,
            },
        });
    }

    /// Closes the connection least worth keeping: lingering, then idle
    /// keep-alive, then silent, then partial-head ones, oldest first. Never
    /// one being answered.
    fn evict(&mut self) -> bool {
        let victim = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| ((c.state, c.since), i)))
            .filter(|((state, _), _)| *state < State::Render)
            .min();
        let Some(((state, _), i)) = victim else {
            return false;
        };
        if matches!(state, State::Waiting | State::Head) {
            if let Some(c) = self.conns.get(i).and_then(Option::as_ref) {
                refuse(
                    &self.shared,
                    &mut self.refusal,
                    &c.stream,
                    Reason::ConnectionLimit,
                );
            }
        }
        self.close(i);
        true
    }

    /// Connection `i` is readable or writable (or failed).
    fn ready(&mut self, i: usize, now: Instant) {
        let Some(c) = self.conns.get(i).and_then(Option::as_ref) else {
            return;
        };
        match c.state {
            State::Write => self.drive(i, now),
            State::Render => {}
            State::Linger => {
                let n = (&c.stream).read(&mut self.scratch);
                match n {
                    Ok(n) if n > 0 => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    _ => self.close(i),
                }
            }
            State::Idle | State::Waiting | State::Head => self.read(i, now),
        }
    }

    /// Reads what connection `i` sent into its head buffer, then acts on it.
    fn read(&mut self, i: usize, now: Instant) {
        let max_head = self.max_head;
        let pooled = self.heads.pop();
        let head_timeout = self.shared.cfg.head_timeout;
        let Some(c) = self.conn(i) else {
            self.recycle_head(pooled);
            return;
        };
        let mut spare = None;
        if c.buf.is_none() {
            c.buf = Some(pooled.unwrap_or_else(|| vec![0; max_head].into_boxed_slice()));
        } else {
            spare = pooled;
        }
        let filled = c.filled;
        let result = match c.buf.as_mut().and_then(|b| b.get_mut(filled..)) {
            Some(room) if !room.is_empty() => (&c.stream).read(room),
            _ => Ok(0),
        };
        match result {
            Ok(0) => {
                self.recycle_head(spare);
                self.close(i);
                return;
            }
            Ok(n) => {
                c.filled += n;
                match c.state {
                    State::Idle => {
                        c.state = State::Head;
                        c.since = now;
                        c.deadline = now + head_timeout;
                    }
                    State::Waiting => c.state = State::Head,
                    _ => {}
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                let b = if c.filled == 0 { c.buf.take() } else { None };
                self.recycle_head(b);
                self.recycle_head(spare);
                return;
            }
            Err(_) => {
                self.recycle_head(spare);
                self.close(i);
                return;
            }
        }
        self.recycle_head(spare);
        self.drive(i, now);
    }

    /// Moves connection `i` along until it must wait: for bytes from the
    /// client, for a render, or for room in its socket. Answers every
    /// pipelined request already buffered, one at a time.
    fn drive(&mut self, i: usize, now: Instant) {
        loop {
            let Some(c) = self.conn(i) else { return };
            match c.state {
                State::Write => match self.flush(i, now) {
                    Flushed::Done => self.complete(i, now),
                    Flushed::Blocked | Flushed::Closed => return,
                },
                State::Head if c.filled > 0 => {
                    if !self.decide(i, now) {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    /// Acts on the request head at the start of connection `i`'s buffer;
    /// whether there is more to do now.
    fn decide(&mut self, i: usize, now: Instant) -> bool {
        let cfg = &self.shared.cfg;
        let Some(c) = self.conns.get(i).and_then(Option::as_ref) else {
            return false;
        };
        let Some(buf) = c.buf.as_deref() else {
            return false;
        };
        let data = buf.get(..c.filled).unwrap_or(&[]);
        let decision = decide(cfg, c.allowed, data, c.filled >= buf.len());
        let peer = c.peer;
        let decision = self.penalties.apply(cfg, peer, decision, now);
        match decision {
            Decision::NeedMore => false,
            Decision::Reject {
                reason,
                len,
                keep_alive,
                head_only,
            } => {
                self.metrics().rejected.with(reason).inc();
                let retry = match reason {
                    Reason::Throttled => self.penalties.retry_after(peer, now),
                    _ => 1,
                };
                let mut out = self.outs.pop().unwrap_or_default();
                write_reject(
                    &self.shared.cfg,
                    reason,
                    keep_alive,
                    head_only,
                    retry,
                    &mut out,
                );
                let keep_alive = keep_alive && len.is_some();
                self.consume(i, len.unwrap_or(usize::MAX));
                let Some(c) = self.conn(i) else { return false };
                c.out = Some(out);
                c.pending = Pending {
                    scrape: None,
                    keep_alive,
                    started: now,
                };
                self.start_write(i, now);
                true
            }
            Decision::Scrape(scrape) => {
                self.consume(i, scrape.len);
                let key = Key::of(&scrape, self.shared.cfg.gzip);
                let Some(c) = self.conn(i) else { return false };
                c.pending = Pending {
                    scrape: Some(scrape),
                    keep_alive: scrape.keep_alive,
                    started: now,
                };
                c.state = State::Render;
                c.since = now;
                // Answered now from a recent render, or later by
                // `take_renders`.
                match self.renders.request(key, i, now) {
                    Some(body) => {
                        self.respond(i, body, now);
                        true
                    }
                    None => false,
                }
            }
        }
    }

    /// Drops the first `len` buffered bytes of connection `i` (all of them
    /// for `usize::MAX`).
    fn consume(&mut self, i: usize, len: usize) {
        let Some(c) = self.conn(i) else { return };
        let len = len.min(c.filled);
        if let Some(b) = c.buf.as_mut() {
            b.copy_within(len..c.filled, 0);
        }
        c.filled -= len;
        let b = if c.filled == 0 { c.buf.take() } else { None };
        self.recycle_head(b);
    }

    /// Puts connection `i`, whose response is set, into `Write`.
    fn start_write(&mut self, i: usize, now: Instant) {
        let write_timeout = self.shared.cfg.write_timeout;
        let Some(c) = self.conn(i) else { return };
        c.state = State::Write;
        c.since = now;
        c.sent = 0;
        c.deadline = now + write_timeout;
    }

    /// Writes what the socket of connection `i` takes of its response.
    fn flush(&mut self, i: usize, now: Instant) -> Flushed {
        let write_timeout = self.shared.cfg.write_timeout;
        let metrics = self.shared.metrics;
        let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return Flushed::Closed;
        };
        let total = c.total();
        let mut progress = false;
        let result = loop {
            if c.sent >= total {
                break Flushed::Done;
            }
            let head: &[u8] = c.out.as_deref().unwrap_or(&[]);
            let body: &[u8] = match (&c.body, c.pending.scrape) {
                (Some(b), Some(s)) if !s.head_only => &b.bytes,
                _ => &[],
            };
            let r = match head.get(c.sent..) {
                Some(h) if !h.is_empty() => {
                    (&c.stream).write_vectored(&[IoSlice::new(h), IoSlice::new(body)])
                }
                _ => (&c.stream).write(body.get(c.sent - head.len()..).unwrap_or(&[])),
            };
            match r {
                Ok(0) => break Flushed::Closed,
                Ok(n) => {
                    c.sent += n;
                    progress = true;
                    metrics.bytes.inc_by(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Flushed::Blocked,
                Err(_) => break Flushed::Closed,
            }
        };
        if progress {
            // The minimum-progress rule: any bytes taken restart the clock.
            c.deadline = now + write_timeout;
        }
        if let Flushed::Closed = result {
            if c.pending.scrape.is_some() {
                metrics.rejected.with(Reason::WriteFailed).inc();
            }
            self.close(i);
        }
        result
    }

    /// Connection `i` has written its whole response: counts it, then keeps
    /// the connection for the next request or lingers before closing.
    fn complete(&mut self, i: usize, now: Instant) {
        let cfg = &self.shared.cfg;
        let (head_timeout, idle_timeout) = (cfg.head_timeout, cfg.idle_timeout);
        let metrics = self.shared.metrics;
        let Some(c) = self.conn(i) else { return };
        let p = c.pending;
        if p.scrape.is_some() {
            metrics.scrapes.inc();
            metrics
                .duration
                .observe(now.saturating_duration_since(p.started).as_secs_f64());
        }
        c.body = None;
        c.sent = 0;
        c.since = now;
        let out = c.out.take();
        if p.keep_alive {
            (c.state, c.deadline) = if c.filled > 0 {
                (State::Head, now + head_timeout)
            } else {
                (State::Idle, now + idle_timeout)
            };
        } else {
            let _ = c.stream.shutdown(Shutdown::Write);
            c.state = State::Linger;
            c.deadline = now + LINGER;
            c.filled = 0;
            let b = c.buf.take();
            self.recycle_head(b);
        }
        self.recycle_out(out);
    }

    fn expire(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            let Some(c) = self.conns.get(i).and_then(Option::as_ref) else {
                continue;
            };
            if c.deadline > now || c.state == State::Render {
                continue;
            }
            match c.state {
                State::Waiting => {
                    self.metrics().rejected.with(Reason::HeadTimeout).inc();
                }
                State::Head => {
                    self.metrics().rejected.with(Reason::HeadTimeout).inc();
                    self.refusal.clear();
                    write_reject(
                        &self.shared.cfg,
                        Reason::HeadTimeout,
                        false,
                        false,
                        1,
                        &mut self.refusal,
                    );
                    let n = (&c.stream).write(&self.refusal).unwrap_or_default();
                    self.metrics().bytes.inc_by(n as u64);
                }
                State::Write => {
                    // No progress for `write_timeout`.
                    if c.pending.scrape.is_some() {
                        self.metrics().rejected.with(Reason::WriteFailed).inc();
                    }
                }
                State::Idle | State::Linger | State::Render => {}
            }
            self.close(i);
        }
    }
}

/// Refuses a connection that holds no slot (cap reached): one non-blocking
/// write of the `503` (from `scratch`), then a half-close.
fn refuse(shared: &Shared, scratch: &mut Vec<u8>, stream: &TcpStream, reason: Reason) {
    shared.metrics.rejected.with(reason).inc();
    scratch.clear();
    write_reject(&shared.cfg, reason, false, false, 1, scratch);
    let n = (&*stream).write(scratch).unwrap_or_default();
    shared.metrics.bytes.inc_by(n as u64);
    let _ = stream.shutdown(Shutdown::Write);
}
