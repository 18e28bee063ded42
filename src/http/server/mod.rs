//! The listener, the poll thread and the scrape workers.
//!
//! One file because it is one state machine: the poll thread ([`Reactor`])
//! owns each connection ([`Conn`]) while its head is read, hands it with a
//! scrape to a worker's queue ([`Job`], [`Link`]) and takes it back when the
//! worker is done ([`Returned`]); a connection's states, the queues' bounds
//! and the workers' writes change together.
//!
//! The HTTP responder is not modelled under loom (its protocol is sockets,
//! not shared memory), so it uses std's synchronisation directly and is
//! compiled out under `cfg(nanometrics_loom)`.

use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::penalty::Penalties;
use super::{
    decide, write_reject, write_scrape_head, Decision, Encoder, Reason, Scrape, SelfMetrics,
};
use crate::config::HttpConfig;
use crate::{Error, Registry};

/// How long a connection refused with "close" is drained before closing, so
/// that the client reads the response instead of a reset.
const LINGER: Duration = Duration::from_secs(1);
/// Longest single wait of a worker blocked on a slow reader, so that shutdown
/// is noticed promptly.
const WRITE_POLL: Duration = Duration::from_millis(100);
/// How long accepting pauses after the process ran out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections accepted per wake-up, so that accepting cannot starve reads.
const ACCEPT_BATCH: usize = 64;
/// Head buffers kept for reuse.
const POOL_MAX: usize = 32;
/// Scrapes waiting for each worker (past them, `503`).
const QUEUE: usize = 4;

/// A running responder. Dropping it (or calling
/// [`shutdown`](Server::shutdown)) stops it: the listener and every
/// connection are closed and its threads joined before the call returns.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    waker: UnixStream,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("threads", &self.threads.len())
            .finish()
    }
}

impl Server {
    /// The address the responder listens on (with the actual port when the
    /// configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the responder and waits for its threads: the port is closed when
    /// this returns. A worker writing to a slow client notices within 100 ms.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        // Release: pairs with the Acquire loads in the threads; nothing else
        // is published through the flag.
        self.shared.stop.store(true, Ordering::Release);
        wake(&self.waker);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Shared {
    cfg: HttpConfig,
    registry: &'static Registry,
    metrics: &'static SelfMetrics,
    stop: AtomicBool,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

fn wake(waker: &UnixStream) {
    // Non-blocking: a full socket buffer already means a pending wake-up.
    let _ = (&*waker).write(&[1]);
}

fn new_encoder(prefix: &str) -> Result<Encoder, Error> {
    let e = Encoder::new();
    if prefix.is_empty() {
        Ok(e)
    } else {
        e.with_prefix(prefix.to_owned())
    }
}

/// Binds the listener: `SO_REUSEADDR` (restart while old connections sit in
/// TIME_WAIT), dual-stack for `::`, `TCP_NODELAY` (inherited by accepted
/// sockets on Linux; set again on each), the configured backlog.
fn bind(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // Some systems refuse IPv4-mapped addresses; then `::` is IPv6 only.
        let _ = socket.set_only_v6(false);
    }
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

pub(super) fn start(cfg: HttpConfig, registry: &'static Registry) -> Result<Server, Error> {
    // Refuse a bad prefix before binding anything.
    new_encoder(&cfg.prefix)?;
    let addr = cfg.bind_addr();
    let listener = bind(addr, cfg.backlog).map_err(|e| Error::io(format!("bind {addr}"), &e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("listener address", &e))?;
    // Registered once the address is ours, so a failed start leaves the
    // registry as it was.
    let metrics = if cfg.self_metrics {
        SelfMetrics::for_registry(registry)?
    } else {
        SelfMetrics::unregistered()
    };
    let (wake_rx, waker) = UnixStream::pair().map_err(|e| Error::io("waker socket pair", &e))?;
    for s in [&wake_rx, &waker] {
        s.set_nonblocking(true)
            .map_err(|e| Error::io("waker socket pair", &e))?;
    }
    let workers = cfg.workers;
    // Never full: at most QUEUE + 1 jobs per worker are out at once.
    let (ret_tx, ret_rx) = sync_channel::<Returned>(workers * (QUEUE + 1));
    let mut links = Vec::with_capacity(workers);
    let shared = Arc::new(Shared {
        cfg,
        registry,
        metrics,
        stop: AtomicBool::new(false),
    });

    let mut server = Server {
        addr: local,
        shared: shared.clone(),
        waker,
        threads: Vec::with_capacity(workers + 1),
    };
    let spawn_err = |e: &io::Error| Error::io("spawn responder thread", e);
    for i in 0..workers {
        // One queue per worker: each blocks only on its own channel, from
        // its first instant, so nothing in a blocking receive is set up (or
        // allocated) for the first time in the middle of serving.
        let (jobs_tx, jobs_rx) = sync_channel::<Job>(QUEUE);
        let spawned = new_encoder(&shared.cfg.prefix).and_then(|encoder| {
            let worker = Worker {
                id: i,
                encoder,
                shared: shared.clone(),
                jobs: jobs_rx,
                returns: ret_tx.clone(),
                waker: server.waker.try_clone().map_err(|e| spawn_err(&e))?,
                body: Vec::new(),
                head: Vec::new(),
                gzip: Gzip::new(),
            };
            std::thread::Builder::new()
                .name(format!("nanometrics-http-w{i}"))
                .spawn(move || worker.run())
                .map_err(|e| spawn_err(&e))
        });
        match spawned {
            Ok(t) => {
                server.threads.push(t);
                links.push(Link {
                    jobs: jobs_tx,
                    outstanding: 0,
                });
            }
            Err(e) => {
                // Disconnect the queues first, so that the workers already
                // started see them closed and `server`'s drop can join them.
                drop(links);
                drop(server);
                return Err(e);
            }
        }
    }
    drop(ret_tx);
    let reactor = Reactor {
        max_head: shared.cfg.max_head_bytes,
        shared,
        listener,
        wake_rx,
        workers: links,
        returns: ret_rx,
        conns: Vec::new(),
        free: Vec::new(),
        live: 0,
        in_flight: 0,
        pool: Vec::new(),
        scratch: vec![0; 4096].into_boxed_slice(),
        out: Vec::with_capacity(512),
        fds: Vec::new(),
        tokens: Vec::new(),
        accept_paused_until: None,
        penalties: Penalties::new(),
    };
    let t = std::thread::Builder::new()
        .name("nanometrics-http".into())
        .spawn(move || reactor.run())
        .map_err(|e| spawn_err(&e))?;
    server.threads.push(t);
    Ok(server)
}

/// Waits until one of `fds` is ready or `timeout` passes (`None`: forever).
/// An interrupted wait counts as a timeout.
#[allow(unsafe_code)]
fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let ms = match timeout {
        None => -1,
        // Round up, so that a deadline 0.3 ms away is not a busy loop.
        Some(d) => i32::try_from(d.as_micros().div_ceil(1000)).unwrap_or(i32::MAX),
    };
    let len = libc::nfds_t::try_from(fds.len()).unwrap_or(libc::nfds_t::MAX);
    // SAFETY: `fds` is a live, exclusively borrowed slice of `len` pollfd
    // structs; poll(2) reads them and writes only their `revents` fields, and
    // keeps no pointer after returning.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), len, ms) };
    if n >= 0 {
        Ok(usize::try_from(n).unwrap_or(0))
    } else {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            Ok(0)
        } else {
            Err(e)
        }
    }
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Where a connection held by the poll thread is.
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
    deadline: Instant,
}

struct Job {
    conn: Conn,
    scrape: Scrape,
}

struct Returned {
    /// The worker that served it.
    worker: usize,
    /// The connection, if it stays open.
    conn: Option<Conn>,
}

/// The poll thread's end of one worker's queue.
struct Link {
    jobs: SyncSender<Job>,
    /// Jobs sent and not yet returned (queued or being served).
    outstanding: usize,
}

struct Reactor {
    shared: Arc<Shared>,
    listener: TcpListener,
    wake_rx: UnixStream,
    workers: Vec<Link>,
    returns: Receiver<Returned>,
    /// Connections held here (none while a worker has them).
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    live: usize,
    /// Connections handed to workers and not yet back.
    in_flight: usize,
    max_head: usize,
    pool: Vec<Box<[u8]>>,
    /// Where lingering connections' bytes are read to be dropped.
    scratch: Box<[u8]>,
    /// The response being written.
    out: Vec<u8>,
    fds: Vec<libc::pollfd>,
    /// Connection index of each entry of `fds` after the fixed ones.
    tokens: Vec<usize>,
    accept_paused_until: Option<Instant>,
    /// Addresses penalised for wrong credentials.
    penalties: Penalties,
}

impl Reactor {
    fn run(mut self) {
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
                if let Some(c) = c {
                    self.fds.push(pollfd(c.stream.as_raw_fd(), libc::POLLIN));
                    self.tokens.push(i);
                    next = Some(next.map_or(c.deadline, |n| n.min(c.deadline)));
                }
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
            self.take_returns(now);
            for k in fixed..self.fds.len() {
                let ready = self.fds.get(k).is_some_and(|f| f.revents != 0);
                let token = self.tokens.get(k - fixed).copied();
                if let (true, Some(i)) = (ready, token) {
                    self.readable(i, now);
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

    fn remove(&mut self, i: usize) -> Option<Conn> {
        let conn = self.conns.get_mut(i)?.take()?;
        self.live -= 1;
        self.free.push(i);
        Some(conn)
    }

    fn recycle(&mut self, buf: Option<Box<[u8]>>) {
        if let Some(b) = buf {
            if self.pool.len() < POOL_MAX && b.len() == self.max_head {
                self.pool.push(b);
            }
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(mut c) = self.remove(i) {
            self.recycle(c.buf.take());
        }
    }

    /// Writes `self.out` without blocking; whether all of it went.
    fn send(&self, stream: &TcpStream) -> bool {
        let n = (&*stream).write(&self.out).unwrap_or_default();
        self.metrics().bytes.inc_by(n as u64);
        n == self.out.len()
    }

    /// Refuses a connection that holds no slot (cap reached, queue full).
    fn refuse(&mut self, stream: &TcpStream, reason: Reason) {
        self.metrics().rejected.with(reason).inc();
        self.out.clear();
        write_reject(&self.shared.cfg, reason, false, false, 1, &mut self.out);
        self.send(stream);
        let _ = stream.shutdown(Shutdown::Write);
    }

    fn take_returns(&mut self, now: Instant) {
        while let Ok(r) = self.returns.try_recv() {
            self.in_flight = self.in_flight.saturating_sub(1);
            if let Some(w) = self.workers.get_mut(r.worker) {
                w.outstanding = w.outstanding.saturating_sub(1);
            }
            if let Some(mut c) = r.conn {
                let cfg = &self.shared.cfg;
                (c.state, c.deadline) = if c.filled > 0 {
                    (State::Head, now + cfg.head_timeout)
                } else {
                    (State::Idle, now + cfg.idle_timeout)
                };
                c.since = now;
                let pipelined = c.filled > 0;
                let i = self.insert(c);
                if pipelined {
                    self.process(i, now);
                }
            }
        }
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
        if self.live + self.in_flight >= self.shared.cfg.max_connections && !self.evict() {
            self.refuse(&stream, Reason::ConnectionLimit);
            return;
        }
        let allowed = super::auth::ip_allowed(&self.shared.cfg.allowed, peer);
        self.insert(Conn {
            stream,
            peer,
            allowed,
            buf: None,
            filled: 0,
            state: State::Waiting,
            since: now,
            deadline: now + self.shared.cfg.head_timeout,
        });
    }

    /// Closes the connection least worth keeping: lingering, then idle
    /// keep-alive, then silent, then partial-head ones, oldest first.
    fn evict(&mut self) -> bool {
        let victim = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| ((c.state, c.since), i)))
            .min();
        let Some(((state, _), i)) = victim else {
            return false;
        };
        if let Some(mut c) = self.remove(i) {
            if matches!(state, State::Waiting | State::Head) {
                self.refuse(&c.stream, Reason::ConnectionLimit);
            }
            self.recycle(c.buf.take());
        }
        true
    }

    fn readable(&mut self, i: usize, now: Instant) {
        let max_head = self.max_head;
        let pooled = self.pool.pop();
        let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            self.recycle(pooled);
            return;
        };
        if c.state == State::Linger {
            let n = (&c.stream).read(&mut self.scratch);
            self.recycle(pooled);
            match n {
                Ok(n) if n > 0 => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                _ => self.close(i),
            }
            return;
        }
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
                self.recycle(spare);
                self.close(i);
                return;
            }
            Ok(n) => {
                c.filled += n;
                match c.state {
                    State::Idle => {
                        c.state = State::Head;
                        c.since = now;
                        c.deadline = now + self.shared.cfg.head_timeout;
                    }
                    State::Waiting => c.state = State::Head,
                    State::Head | State::Linger => {}
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                if c.filled == 0 {
                    let b = c.buf.take();
                    self.recycle(b);
                }
                self.recycle(spare);
                return;
            }
            Err(_) => {
                self.recycle(spare);
                self.close(i);
                return;
            }
        }
        self.recycle(spare);
        self.process(i, now);
    }

    /// Acts on the request heads buffered for connection `i`.
    fn process(&mut self, i: usize, now: Instant) {
        loop {
            let cfg = &self.shared.cfg;
            let Some(c) = self.conns.get(i).and_then(Option::as_ref) else {
                return;
            };
            let Some(buf) = c.buf.as_deref() else {
                return;
            };
            let data = buf.get(..c.filled).unwrap_or(&[]);
            let decision = decide(cfg, c.allowed, data, c.filled >= buf.len());
            let decision = self.penalties.apply(cfg, c.peer, decision, now);
            match decision {
                Decision::NeedMore => return,
                Decision::Reject {
                    reason,
                    len,
                    keep_alive,
                    head_only,
                } => {
                    self.metrics().rejected.with(reason).inc();
                    self.out.clear();
                    let retry = match reason {
                        Reason::Throttled => self.penalties.retry_after(c.peer, now),
                        _ => 1,
                    };
                    write_reject(cfg, reason, keep_alive, head_only, retry, &mut self.out);
                    let sent = self.send(&c.stream);
                    match len {
                        Some(len) if keep_alive && sent => {
                            self.consume(i, len, now);
                        }
                        _ => {
                            self.linger(i, now);
                            return;
                        }
                    }
                }
                Decision::Scrape(scrape) => {
                    self.consume(i, scrape.len, now);
                    let Some(conn) = self.remove(i) else { return };
                    // The least busy worker; a worker stuck on a slow
                    // reader gets no more work while another is free.
                    let link = self
                        .workers
                        .iter_mut()
                        .filter(|w| w.outstanding <= QUEUE)
                        .min_by_key(|w| w.outstanding);
                    let Some(link) = link else {
                        self.refuse(&conn.stream, Reason::Busy);
                        let mut conn = conn;
                        self.recycle(conn.buf.take());
                        return;
                    };
                    match link.jobs.try_send(Job { conn, scrape }) {
                        Ok(()) => {
                            link.outstanding += 1;
                            self.in_flight += 1;
                        }
                        Err(TrySendError::Full(mut job)) => {
                            self.refuse(&job.conn.stream, Reason::Busy);
                            self.recycle(job.conn.buf.take());
                        }
                        Err(TrySendError::Disconnected(mut job)) => {
                            self.recycle(job.conn.buf.take());
                        }
                    }
                    return;
                }
            }
        }
    }

    /// Drops the first `len` buffered bytes of connection `i`.
    fn consume(&mut self, i: usize, len: usize, now: Instant) {
        let cfg = &self.shared.cfg;
        let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let len = len.min(c.filled);
        if let Some(b) = c.buf.as_mut() {
            b.copy_within(len..c.filled, 0);
        }
        c.filled -= len;
        c.since = now;
        if c.filled == 0 {
            c.state = State::Idle;
            c.deadline = now + cfg.idle_timeout;
            let b = c.buf.take();
            self.recycle(b);
        } else {
            c.state = State::Head;
            c.deadline = now + cfg.head_timeout;
        }
    }

    /// Half-closes connection `i` and drains it until the client closes or
    /// [`LINGER`] passes.
    fn linger(&mut self, i: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let _ = c.stream.shutdown(Shutdown::Write);
        c.state = State::Linger;
        c.since = now;
        c.deadline = now + LINGER;
        c.filled = 0;
        let b = c.buf.take();
        self.recycle(b);
    }

    fn expire(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            let Some(c) = self.conns.get(i).and_then(Option::as_ref) else {
                continue;
            };
            if c.deadline > now {
                continue;
            }
            match c.state {
                State::Waiting => {
                    self.metrics().rejected.with(Reason::HeadTimeout).inc();
                }
                State::Head => {
                    self.metrics().rejected.with(Reason::HeadTimeout).inc();
                    self.out.clear();
                    write_reject(
                        &self.shared.cfg,
                        Reason::HeadTimeout,
                        false,
                        false,
                        1,
                        &mut self.out,
                    );
                    self.send(&c.stream);
                }
                State::Idle | State::Linger => {}
            }
            self.close(i);
        }
    }
}

struct Worker {
    id: usize,
    shared: Arc<Shared>,
    jobs: Receiver<Job>,
    returns: SyncSender<Returned>,
    waker: UnixStream,
    encoder: Encoder,
    body: Vec<u8>,
    head: Vec<u8>,
    gzip: Gzip,
}

impl Worker {
    fn run(mut self) {
        loop {
            let Ok(job) = self.jobs.recv() else { return };
            if self.shared.stopping() {
                continue; // drops (closes) the connection
            }
            let Job { conn, scrape } = job;
            let keep = self.serve(&conn, &scrape);
            let msg = Returned {
                worker: self.id,
                conn: keep.then_some(conn),
            };
            if self.returns.send(msg).is_ok() {
                wake(&self.waker);
            }
        }
    }

    /// Writes the metrics response; whether the connection stays open.
    fn serve(&mut self, conn: &Conn, s: &Scrape) -> bool {
        let cfg = &self.shared.cfg;
        let metrics = self.shared.metrics;
        let t0 = Instant::now();
        self.body.clear();
        // Holds the registry lock only while encoding into our own buffer.
        self.encoder
            .encode(self.shared.registry, s.format, &mut self.body);
        let gzipped = s.gzip
            && cfg.gzip
            && self.body.len() >= cfg.gzip_min_bytes
            && self.gzip.compress(&self.body);
        let payload: &[u8] = if gzipped { &self.gzip.out } else { &self.body };
        self.head.clear();
        write_scrape_head(s, gzipped, payload.len(), &mut self.head);
        let body = if s.head_only { &[][..] } else { payload };
        let deadline = t0 + cfg.write_timeout;
        let (written, ok) =
            write_all_until(&conn.stream, &self.head, body, deadline, &self.shared.stop);
        metrics.bytes.inc_by(written as u64);
        if ok {
            metrics.scrapes.inc();
            metrics.duration.observe(t0.elapsed().as_secs_f64());
            s.keep_alive
        } else {
            metrics.rejected.with(Reason::WriteFailed).inc();
            false
        }
    }
}

/// Writes `head` then `body` to a non-blocking stream, waiting for room
/// until `deadline` (checking `stop` at least every [`WRITE_POLL`]). Returns
/// the bytes written and whether that was all of them.
fn write_all_until(
    stream: &TcpStream,
    head: &[u8],
    body: &[u8],
    deadline: Instant,
    stop: &AtomicBool,
) -> (usize, bool) {
    let total = head.len() + body.len();
    let mut off = 0;
    while off < total {
        let r = match head.get(off..) {
            Some(h) if !h.is_empty() => {
                (&*stream).write_vectored(&[IoSlice::new(h), IoSlice::new(body)])
            }
            _ => (&*stream).write(body.get(off - head.len()..).unwrap_or(&[])),
        };
        match r {
            Ok(0) => return (off, false),
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let now = Instant::now();
                if now >= deadline || stop.load(Ordering::Acquire) {
                    return (off, false);
                }
                let wait = (deadline - now).min(WRITE_POLL);
                let mut fd = [pollfd(stream.as_raw_fd(), libc::POLLOUT)];
                if poll(&mut fd, Some(wait)).is_err() {
                    return (off, false);
                }
            }
            Err(_) => return (off, false),
        }
    }
    (off, true)
}

/// A gzip member writer whose deflate state and output buffer are reused from
/// one scrape to the next.
#[cfg(feature = "gzip")]
struct Gzip {
    deflate: flate2::Compress,
    crc: flate2::Crc,
    out: Vec<u8>,
}

#[cfg(feature = "gzip")]
impl Gzip {
    fn new() -> Self {
        Gzip {
            // Level 1: most of the size gain on metrics text for a fraction of
            // the time of the default level (docs/design.md).
            deflate: flate2::Compress::new(flate2::Compression::fast(), false),
            crc: flate2::Crc::new(),
            out: Vec::new(),
        }
    }

    /// Compresses `input` into `self.out` as one gzip member (RFC 1952).
    fn compress(&mut self, input: &[u8]) -> bool {
        // ID1 ID2, CM = deflate, no flags, no mtime, no extra flags, OS unknown.
        const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        self.out.clear();
        self.out.extend_from_slice(&HEADER);
        self.deflate.reset();
        // Metrics text shrinks 5-10×; start with room for a third and grow
        // (amortised, kept for the next scrape) if that is not enough.
        self.out.reserve(input.len() / 3 + 64);
        loop {
            let consumed = usize::try_from(self.deflate.total_in()).unwrap_or(usize::MAX);
            let rest = input.get(consumed..).unwrap_or(&[]);
            match self
                .deflate
                .compress_vec(rest, &mut self.out, flate2::FlushCompress::Finish)
            {
                Ok(flate2::Status::StreamEnd) => break,
                Ok(_) => self.out.reserve(self.out.capacity().max(4096)),
                Err(_) => return false,
            }
        }
        self.crc.reset();
        self.crc.update(input);
        self.out.extend_from_slice(&self.crc.sum().to_le_bytes());
        // ISIZE: the input length modulo 2^32.
        self.out
            .extend_from_slice(&(input.len() as u32).to_le_bytes());
        true
    }
}

/// Without the `gzip` feature: never compresses.
#[cfg(not(feature = "gzip"))]
struct Gzip {
    out: Vec<u8>,
}

#[cfg(not(feature = "gzip"))]
impl Gzip {
    fn new() -> Self {
        Gzip { out: Vec::new() }
    }

    fn compress(&mut self, _input: &[u8]) -> bool {
        false
    }
}

#[cfg(all(test, feature = "gzip"))]
mod tests;
