//! The responder's threads: the poll thread ([`reactor`]), which owns the
//! listener and every connection, and the workers ([`render`]), which only
//! encode. Here: starting and stopping them, and the `poll(2)` wrapper they
//! share.
//!
//! The HTTP responder is not modelled under loom (its protocol is sockets,
//! not shared memory), so it uses std's synchronisation directly and is
//! compiled out under `cfg(nanometrics_loom)`.

mod gzip;
mod reactor;
mod render;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::{Encoder, SelfMetrics};
use crate::config::HttpConfig;
use crate::{Error, Registry};

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
    /// this returns (after a render under way, if any, has finished).
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
    // On an error, `server`'s drop stops and joins the workers already
    // started (their queues close with `renders`).
    let renders = render::spawn(
        &shared,
        workers,
        &server.waker,
        || new_encoder(&shared.cfg.prefix),
        &mut server.threads,
    )?;
    let reactor = reactor::Reactor::new(shared, listener, wake_rx, renders);
    let t = std::thread::Builder::new()
        .name("nanometrics-http".into())
        .spawn(move || reactor.run())
        .map_err(|e| Error::io("spawn responder thread", &e))?;
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

#[cfg(all(test, feature = "gzip"))]
mod tests;
