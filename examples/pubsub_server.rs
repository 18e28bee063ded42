//! The nanometrics demo: a multi-threaded TCP publish/subscribe server
//! instrumented on every hot path with the metric set soketi and sockudo
//! document, served on `/metrics`.
//!
//! ```sh
//! cargo run --release --example pubsub_server
//! curl -s 127.0.0.1:9601/metrics
//! ```
//!
//! Protocol: one command per line (at most 64 KiB), replies `OK`, `PONG` or
//! `ERR <reason>`:
//!
//! | command | effect |
//! |---|---|
//! | `APP <app_id>` | selects the app (default `default`); apps are isolated |
//! | `SUB <channel>` | subscribes; `private-*` and `presence-*` names are private and presence channels |
//! | `UNSUB <channel>` | unsubscribes |
//! | `PUB <channel> <payload>` | sends `MSG <channel> <payload>` to every subscriber (no reply unless an error) |
//! | `PING` | `PONG` |
//!
//! The fan-out latency histogram observes, for every delivery, the time from
//! the publish to the write to that subscriber. The publish time is the
//! publisher's clock when the payload ends in ` <unix-nanoseconds>` within a
//! minute of the server's clock (as `pubsub_load` sends), else the moment the
//! server read the line.
//!
//! Environment: `PORT` (6001), `PUBSUB_RATE_LIMIT` (publishes per second per
//! connection, 100000), `PUBSUB_RECORD=0` (record nothing: for measuring the
//! cost of instrumentation), and the `METRICS_*` settings of nanometrics'
//! responder (`METRICS_PROMETHEUS_PREFIX` defaults to `pubsub_` here), or
//! `METRICS_DRIVER=pushgateway`/`push` to push instead (docs/push.md).
//! SIGINT or SIGTERM shuts the server down cleanly.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use nanometrics::config::HttpConfig;
use nanometrics::push::{self, Exporter, PushConfig};
use nanometrics::{
    build_info, declare, label_enum, Counter, CounterRef, Family, Gauge, Histogram, Info, Meta,
    ProcessCollector, StartTime,
};

label_enum! {
    /// Pusher channel kinds, from the channel name's prefix.
    pub enum ChannelType: "channel_type" {
        Public => "public",
        Private => "private",
        Presence => "presence",
    }
}

impl ChannelType {
    fn of(channel: &str) -> Self {
        if channel.starts_with("presence-") {
            ChannelType::Presence
        } else if channel.starts_with("private-") {
            ChannelType::Private
        } else {
            ChannelType::Public
        }
    }
}

const KINDS: [ChannelType; 3] = [
    ChannelType::Public,
    ChannelType::Private,
    ChannelType::Presence,
];

const FANOUT_BUCKETS: [f64; 14] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25,
];

declare! {
    static CONNECTED: Gauge = Gauge::new("connected", "The number of currently connected sockets.");
    static NEW_CONNECTIONS: Counter =
        Counter::new("new_connections_total", "Total amount of connection requests.");
    static NEW_DISCONNECTIONS: Counter =
        Counter::new("new_disconnections_total", "Total amount of disconnections.");
    static SOCKET_RECEIVED_BYTES: Counter =
        Counter::new("socket_received_bytes", "Total amount of bytes received from sockets.");
    static SOCKET_TRANSMITTED_BYTES: Counter =
        Counter::new("socket_transmitted_bytes", "Total amount of bytes transmitted to sockets.");
    static MESSAGES_RECEIVED: Family<Counter, 2> = Family::new(
        "messages_received_total",
        "Total number of messages received from clients.",
        ["app_id", "channel_type"],
    );
    static MESSAGES_SENT: Family<Counter, 2> = Family::new(
        "messages_sent_total",
        "Total number of messages sent to clients.",
        ["app_id", "channel_type"],
    );
    static BROADCASTS: Family<Counter, 2> = Family::new(
        "broadcast_messages_total",
        "Total number of messages broadcast to channels.",
        ["app_id", "channel_type"],
    );
    static ACTIVE_CHANNELS: Gauge<ChannelType> =
        Gauge::labeled("active_channels", "Current number of channels with subscribers.");
    static SUBSCRIPTIONS: Gauge<ChannelType> =
        Gauge::labeled("subscriptions", "Current number of channel subscriptions.");
    static SUBSCRIPTIONS_TOTAL: Counter<ChannelType> =
        Counter::labeled("channel_subscriptions_total", "Total number of channel subscriptions.");
    static UNSUBSCRIPTIONS_TOTAL: Counter<ChannelType> =
        Counter::labeled("channel_unsubscriptions_total", "Total number of channel unsubscriptions.");
    static PRESENCE_MEMBERS: Gauge =
        Gauge::new("presence_members", "Current number of members in presence channels.");
    static FANOUT: Histogram = Histogram::from_meta(
        Meta::with_unit(
            "message_fanout_seconds",
            "Time from a publish to its delivery to one subscriber.",
            "seconds",
        ),
        &FANOUT_BUCKETS,
    );
    static CONNECTION_ERRORS: Counter =
        Counter::new("connection_errors_total", "Total number of connection errors.");
    static RATE_LIMIT_CHECKS: Counter =
        Counter::new("rate_limit_checks_total", "Total number of rate limit checks performed.");
    static RATE_LIMIT_TRIGGERED: Counter =
        Counter::new("rate_limit_triggered_total", "Number of times rate limits were triggered.");
    static BUILD: Info = build_info!();
    static STARTED: StartTime = StartTime::new("start_time_seconds", "Start time of the server.");
}

/// Whether instrumentation records (`PUBSUB_RECORD=0` turns it off).
static RECORD: AtomicBool = AtomicBool::new(true);
static SHUTDOWN: AtomicBool = AtomicBool::new(false);

/// Runs `$e` only while recording is on: one predictable branch.
macro_rules! rec {
    ($e:expr) => {
        if RECORD.load(Ordering::Relaxed) {
            $e;
        }
    };
}

/// One client connection's write side and per-app metric handles.
struct Conn {
    id: u64,
    out: Mutex<TcpStream>,
    /// messages_sent_total handles for this connection's app, by channel type.
    sent: [CounterRef<'static>; 3],
}

impl Conn {
    /// Writes one line; counts bytes, or an error.
    fn send(&self, line: &[u8]) -> io::Result<()> {
        let r = match self.out.lock() {
            Ok(mut s) => s.write_all(line),
            Err(p) => p.into_inner().write_all(line),
        };
        match &r {
            Ok(()) => rec!(SOCKET_TRANSMITTED_BYTES.inc_by(line.len() as u64)),
            Err(_) => rec!(CONNECTION_ERRORS.inc()),
        }
        r
    }
}

#[derive(Default)]
struct Channel {
    subscribers: Vec<Arc<Conn>>,
}

/// Channels by (app, name).
#[derive(Default)]
struct Hub {
    channels: RwLock<HashMap<(Arc<str>, String), Channel>>,
}

impl Hub {
    fn subscribe(&self, app: &Arc<str>, channel: &str, conn: &Arc<Conn>) -> bool {
        let kind = ChannelType::of(channel);
        let mut map = match self.channels.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let ch = map
            .entry((app.clone(), channel.to_owned()))
            .or_insert_with(|| {
                rec!(ACTIVE_CHANNELS.with(kind).inc());
                Channel::default()
            });
        if ch.subscribers.iter().any(|c| c.id == conn.id) {
            return false;
        }
        ch.subscribers.push(conn.clone());
        rec!(SUBSCRIPTIONS.with(kind).inc());
        rec!(SUBSCRIPTIONS_TOTAL.with(kind).inc());
        if kind == ChannelType::Presence {
            rec!(PRESENCE_MEMBERS.inc());
        }
        true
    }

    fn unsubscribe(&self, app: &Arc<str>, channel: &str, conn_id: u64) -> bool {
        let kind = ChannelType::of(channel);
        let mut map = match self.channels.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let key = (app.clone(), channel.to_owned());
        let Some(ch) = map.get_mut(&key) else {
            return false;
        };
        let before = ch.subscribers.len();
        ch.subscribers.retain(|c| c.id != conn_id);
        if ch.subscribers.len() == before {
            return false;
        }
        rec!(SUBSCRIPTIONS.with(kind).dec());
        rec!(UNSUBSCRIPTIONS_TOTAL.with(kind).inc());
        if kind == ChannelType::Presence {
            rec!(PRESENCE_MEMBERS.dec());
        }
        if ch.subscribers.is_empty() {
            map.remove(&key);
            rec!(ACTIVE_CHANNELS.with(kind).dec());
        }
        true
    }

    /// Sends `line` to every subscriber of `channel`; returns how many got it.
    /// `origin` is the publish time in Unix nanoseconds.
    fn publish(&self, app: &Arc<str>, channel: &str, line: &[u8], origin: u64) -> usize {
        let kind = ChannelType::of(channel);
        let subscribers: Vec<Arc<Conn>> = {
            let map = match self.channels.read() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            match map.get(&(app.clone(), channel.to_owned())) {
                Some(ch) => ch.subscribers.clone(),
                None => Vec::new(),
            }
        };
        let mut delivered = 0;
        for s in &subscribers {
            if s.send(line).is_ok() {
                rec!(s.sent[kind as usize].inc());
                rec!(FANOUT.observe(unix_nanos().saturating_sub(origin) as f64 / 1e9));
                delivered += 1;
            }
        }
        delivered
    }
}

/// A token bucket: `rate` publishes per second, bursts up to one second's worth.
struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn allow(&mut self) -> bool {
        rec!(RATE_LIMIT_CHECKS.inc());
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            rec!(RATE_LIMIT_TRIGGERED.inc());
            false
        }
    }
}

const MAX_LINE: usize = 64 * 1024;

fn handle(hub: Arc<Hub>, stream: TcpStream, id: u64, rate: f64) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut app: Arc<str> = Arc::from("default");
    let handles = |app: &str| KINDS.map(|k| MESSAGES_SENT.with([app, k.as_str()]));
    let mut conn = Arc::new(Conn {
        id,
        out: Mutex::new(stream.try_clone()?),
        sent: handles(&app),
    });
    let mut received = KINDS.map(|k| MESSAGES_RECEIVED.with([&app, k.as_str()]));
    let mut broadcast = KINDS.map(|k| BROADCASTS.with([&app, k.as_str()]));
    let mut subscribed: Vec<String> = Vec::new();
    let mut limit = RateLimit {
        rate,
        tokens: rate,
        last: Instant::now(),
    };
    let mut reader = BufReader::with_capacity(MAX_LINE, stream);
    let mut line = Vec::with_capacity(256);
    let result = loop {
        if SHUTDOWN.load(Ordering::Relaxed) {
            break Ok(());
        }
        let n = match reader
            .by_ref()
            .take((MAX_LINE + 1 - line.len()) as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) if line.is_empty() => break Ok(()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => break Err(e),
        };
        rec!(SOCKET_RECEIVED_BYTES.inc_by(n as u64));
        if line.last() != Some(&b'\n') {
            if line.len() > MAX_LINE {
                let _ = conn.send(b"ERR line too long\n");
                break Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if n == 0 {
                break Ok(()); // EOF mid-line
            }
            continue; // partial line: keep reading
        }
        let text = String::from_utf8_lossy(&line[..line.len() - 1])
            .trim_end_matches('\r')
            .to_owned();
        line.clear();
        let (cmd, rest) = text.split_once(' ').unwrap_or((text.as_str(), ""));
        let reply: &[u8] = match cmd {
            "PING" => b"PONG\n",
            "APP" if !rest.is_empty() && !rest.contains(' ') => {
                // Leave the old app's channels, then re-key this connection
                // under the new app: handles are cached per connection so the
                // hot path does no lookup.
                for ch in subscribed.drain(..) {
                    hub.unsubscribe(&app, &ch, id);
                }
                app = Arc::from(rest);
                conn = Arc::new(Conn {
                    id,
                    out: Mutex::new(reader.get_ref().try_clone()?),
                    sent: handles(&app),
                });
                received = KINDS.map(|k| MESSAGES_RECEIVED.with([&app, k.as_str()]));
                broadcast = KINDS.map(|k| BROADCASTS.with([&app, k.as_str()]));
                b"OK\n"
            }
            "SUB" if !rest.is_empty() && !rest.contains(' ') => {
                if hub.subscribe(&app, rest, &conn) {
                    subscribed.push(rest.to_owned());
                }
                b"OK\n"
            }
            "UNSUB" if !rest.is_empty() => {
                hub.unsubscribe(&app, rest, id);
                subscribed.retain(|c| c != rest);
                b"OK\n"
            }
            "PUB" => match rest.split_once(' ') {
                Some((channel, payload)) if !channel.is_empty() => {
                    let kind = ChannelType::of(channel) as usize;
                    let now = unix_nanos();
                    let origin = payload
                        .rsplit(' ')
                        .next()
                        .and_then(|t| t.parse::<u64>().ok())
                        .filter(|t| t.abs_diff(now) < 60_000_000_000)
                        .unwrap_or(now);
                    rec!(received[kind].inc());
                    if limit.allow() {
                        rec!(broadcast[kind].inc());
                        let mut msg = Vec::with_capacity(channel.len() + payload.len() + 6);
                        msg.extend_from_slice(b"MSG ");
                        msg.extend_from_slice(channel.as_bytes());
                        msg.push(b' ');
                        msg.extend_from_slice(payload.as_bytes());
                        msg.push(b'\n');
                        hub.publish(&app, channel, &msg, origin);
                        continue;
                    }
                    b"ERR rate limited\n"
                }
                _ => b"ERR usage: PUB <channel> <payload>\n",
            },
            _ => b"ERR unknown command\n",
        };
        if conn.send(reply).is_err() {
            break Ok(());
        }
    };
    for ch in subscribed {
        hub.unsubscribe(&app, &ch, id);
    }
    result
}

/// The wall clock in Unix nanoseconds (shared by processes on one host).
fn unix_nanos() -> u64 {
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
fn accept_pause(e: &io::Error) -> Option<Duration> {
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

/// Serves the global registry on `/metrics` as the `METRICS_*` environment
/// says, with the `pubsub_` prefix unless `METRICS_PROMETHEUS_PREFIX` (or
/// sockudo's `PROMETHEUS_METRICS_PREFIX`) says otherwise; or, with
/// `METRICS_DRIVER=pushgateway` or `push`, pushes it (docs/push.md). `None`
/// when `METRICS_ENABLED=false`.
fn start_metrics() -> Result<Option<Exporter>, String> {
    let config = HttpConfig::new()
        .prefix("pubsub_")
        .and_then(HttpConfig::with_env)
        .map_err(|e| e.to_string())?;
    let push = PushConfig::from_env().map_err(|e| e.to_string())?;
    nanometrics::global().register_collector(ProcessCollector::new());
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
    STARTED.mark();
    let _ = &BUILD;
    install_signal_handlers();
    let port: u16 = env_or("PORT", 6001)?;
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

    let metrics = start_metrics()?;

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    println!(
        "pubsub_server: listening on {addr} (recording {})",
        if RECORD.load(Ordering::Relaxed) {
            "on"
        } else {
            "off"
        }
    );

    let hub = Arc::new(Hub::default());
    let next_id = AtomicU64::new(1);
    let open: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
    let mut workers = Vec::new();
    while !SHUTDOWN.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                rec!(NEW_CONNECTIONS.inc());
                rec!(CONNECTED.inc());
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                if let Ok(s) = stream.try_clone() {
                    open.lock().map_err(|e| e.to_string())?.insert(id, s);
                }
                let (hub, open) = (hub.clone(), open.clone());
                workers.push(thread::spawn(move || {
                    if handle(hub, stream, id, rate).is_err() {
                        rec!(CONNECTION_ERRORS.inc());
                    }
                    if let Ok(mut o) = open.lock() {
                        o.remove(&id);
                    }
                    rec!(CONNECTED.dec());
                    rec!(NEW_DISCONNECTIONS.inc());
                }));
                workers.retain(|w| !w.is_finished());
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::WouldBlock {
                    rec!(CONNECTION_ERRORS.inc());
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
