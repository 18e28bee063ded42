//! A bounded load generator for the `pubsub_server` demo (loopback only).
//!
//! ```sh
//! cargo run --release --example pubsub_load -- --connections 50 --channels 10 \
//!     --publishers 2 --rate 20000 --duration 10
//! ```
//!
//! Subscriber connections spread over the channels (public, `private-` and
//! `presence-` names in turn); publisher connections send `PUB` lines carrying
//! their send time, paced to `--rate` publishes per second in total. Every
//! second a progress line on stderr shows that second's throughput and the
//! p99 latency of that second and of the whole run so far (redrawn in place
//! on a terminal, one line per second otherwise, so logs stay readable); at
//! the end a summary
//! and one JSON line (`RESULT {...}`) give the counts a test compares with the
//! server's metrics: publishes sent, deliveries expected and received,
//! rate-limited publishes, latency percentiles.

use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Opts {
    addr: SocketAddr,
    connections: usize,
    channels: usize,
    publishers: usize,
    rate: u64,
    duration: Duration,
    app: String,
    payload: usize,
}

const USAGE: &str = "usage: pubsub_load [--addr 127.0.0.1:6001] [--connections 50] [--channels 10] \
[--publishers 2] [--rate 20000 (publishes/s in total, 0 = as fast as possible)] [--duration 10 (s, at most 600)] \
[--app load] [--payload 32 (bytes)]";

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        addr: SocketAddr::from(([127, 0, 0, 1], 6001)),
        connections: 50,
        channels: 10,
        publishers: 2,
        rate: 20_000,
        duration: Duration::from_secs(10),
        app: "load".into(),
        payload: 32,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |what: &str| format!("{flag} {value:?}: {what}\n{USAGE}");
        match flag.as_str() {
            "--addr" => o.addr = value.parse().map_err(|_| bad("not an address"))?,
            "--connections" => o.connections = value.parse().map_err(|_| bad("not a count"))?,
            "--channels" => o.channels = value.parse().map_err(|_| bad("not a count"))?,
            "--publishers" => o.publishers = value.parse().map_err(|_| bad("not a count"))?,
            "--rate" => o.rate = value.parse().map_err(|_| bad("not a rate"))?,
            "--duration" => {
                let s: f64 = value.parse().map_err(|_| bad("not seconds"))?;
                if !(s > 0.0 && s <= 600.0) {
                    return Err(bad("must be in (0, 600]"));
                }
                o.duration = Duration::from_secs_f64(s);
            }
            "--app" if !value.is_empty() && !value.contains(char::is_whitespace) => o.app = value,
            "--payload" => o.payload = value.parse().map_err(|_| bad("not a size"))?,
            _ => {
                return Err(format!(
                    "unknown flag or bad value: {flag} {value}\n{USAGE}"
                ))
            }
        }
    }
    if !o.addr.ip().is_loopback() {
        return Err(format!(
            "{} is not a loopback address: this tool only loads local servers",
            o.addr
        ));
    }
    if o.connections == 0
        || o.connections > 10_000
        || o.channels == 0
        || o.publishers == 0
        || o.publishers > 64
    {
        return Err(format!(
            "need 1..=10000 connections, at least 1 channel, 1..=64 publishers\n{USAGE}"
        ));
    }
    if o.payload > 60_000 {
        return Err("--payload must be at most 60000 bytes".into());
    }
    Ok(o)
}

fn channel_name(i: usize) -> String {
    match i % 3 {
        0 => format!("chan-{i}"),
        1 => format!("private-chan-{i}"),
        _ => format!("presence-chan-{i}"),
    }
}

/// The wall clock in Unix nanoseconds: the server reads publish times from
/// payloads, so both processes must use the same clock.
fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Latency histogram: 8 buckets per power of two of nanoseconds (≤ 9% error).
struct Latency {
    counts: Vec<u64>,
    max_ns: u64,
}

impl Latency {
    fn new() -> Self {
        Self {
            counts: vec![0; 64 * 8],
            max_ns: 0,
        }
    }
    fn index(ns: u64) -> usize {
        let ns = ns.max(1);
        let log = 63 - ns.leading_zeros() as usize;
        let frac = if log >= 3 {
            ((ns >> (log - 3)) & 7) as usize
        } else {
            ((ns << (3 - log)) & 7) as usize
        };
        log * 8 + frac
    }
    fn upper_ns(i: usize) -> f64 {
        let (log, frac) = (i / 8, i % 8);
        2f64.powi(log as i32) * (1.0 + (frac as f64 + 1.0) / 8.0)
    }
    fn record(&mut self, ns: u64) {
        if let Some(c) = self.counts.get_mut(Self::index(ns)) {
            *c += 1;
        }
        self.max_ns = self.max_ns.max(ns);
    }
    /// The latencies recorded since `earlier` (a copy of this one taken
    /// then); its maximum is the bound of its highest bucket.
    fn since(&self, earlier: &Latency) -> Latency {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .zip(&earlier.counts)
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        let max_ns = counts
            .iter()
            .rposition(|c| *c > 0)
            .map_or(0, |i| Self::upper_ns(i) as u64);
        Latency { counts, max_ns }
    }
    fn merge(&mut self, o: &Latency) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.max_ns = self.max_ns.max(o.max_ns);
    }
    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
    fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::upper_ns(i).min(self.max_ns as f64) / 1e6;
            }
        }
        self.max_ns as f64 / 1e6
    }
}

#[derive(Default)]
struct Totals {
    published: AtomicU64,
    delivered: AtomicU64,
    expected: AtomicU64,
    rate_limited: AtomicU64,
    errors: AtomicU64,
}

/// Calls `on_line` with each complete line read from `r` while `keep_going()`
/// holds; returns at EOF or on a read error (read timeouts just poll again).
fn read_lines(
    r: &mut BufReader<TcpStream>,
    mut keep_going: impl FnMut() -> bool,
    mut on_line: impl FnMut(&str),
) -> io::Result<()> {
    let mut line = String::new();
    while keep_going() {
        match r.read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) if line.ends_with('\n') => {
                on_line(line.trim_end());
                line.clear();
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    Ok(s)
}

/// Sends `cmd` and waits for its `OK`.
fn command(reader: &mut BufReader<TcpStream>, cmd: &str) -> io::Result<()> {
    reader.get_mut().write_all(cmd.as_bytes())?;
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed",
                ))
            }
            Ok(_) if line.ends_with('\n') => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) && Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
    }
    if line.trim_end() == "OK" {
        Ok(())
    } else {
        Err(io::Error::other(format!("{cmd:?} got {line:?}")))
    }
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(o) {
        eprintln!("pubsub_load: {e}");
        std::process::exit(1);
    }
}

fn run(o: Opts) -> Result<(), String> {
    let totals = Arc::new(Totals::default());
    let stop_reading = Arc::new(AtomicBool::new(false));
    let latency = Arc::new(Mutex::new(Latency::new()));
    let mut subscribers_per_channel = vec![0u64; o.channels];

    // Subscribers: connect, select the app, subscribe, then read until told.
    let mut readers = Vec::new();
    for i in 0..o.connections {
        let ch = i % o.channels;
        subscribers_per_channel[ch] += 1;
        let s = connect(o.addr).map_err(|e| format!("connect {}: {e}", o.addr))?;
        let mut r = BufReader::new(s);
        command(&mut r, &format!("APP {}\n", o.app)).map_err(|e| e.to_string())?;
        command(&mut r, &format!("SUB {}\n", channel_name(ch))).map_err(|e| e.to_string())?;
        let (totals, stop, latency) = (totals.clone(), stop_reading.clone(), latency.clone());
        readers.push(thread::spawn(move || {
            let mut local = Latency::new();
            let mut flushed = Instant::now();
            let read = read_lines(
                &mut r,
                || !stop.load(Ordering::Relaxed),
                |line| {
                    if let Some(ts) = line.rsplit(' ').next().and_then(|t| t.parse::<u64>().ok()) {
                        local.record(unix_nanos().saturating_sub(ts));
                        totals.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    if flushed.elapsed() > Duration::from_millis(500) {
                        if let Ok(mut l) = latency.lock() {
                            l.merge(&local);
                        }
                        local = Latency::new();
                        flushed = Instant::now();
                    }
                },
            );
            if read.is_err() {
                totals.errors.fetch_add(1, Ordering::Relaxed);
            }
            if let Ok(mut l) = latency.lock() {
                l.merge(&local);
            }
        }));
    }

    // Publishers: paced round-robin over the channels.
    let start = Instant::now();
    let end = start + o.duration;
    let per_publisher = if o.rate == 0 {
        0.0
    } else {
        o.rate as f64 / o.publishers as f64
    };
    let padding = "x".repeat(o.payload.saturating_sub(20));
    let subscribers_per_channel = Arc::new(subscribers_per_channel);
    let mut publishers = Vec::new();
    for p in 0..o.publishers {
        let s = connect(o.addr).map_err(|e| format!("connect {}: {e}", o.addr))?;
        let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
        command(&mut r, &format!("APP {}\n", o.app)).map_err(|e| e.to_string())?;
        let (totals, subs, padding, channels) = (
            totals.clone(),
            subscribers_per_channel.clone(),
            padding.clone(),
            o.channels,
        );
        // Replies to publishes are errors only (rate limiting): count them.
        let errors_totals = totals.clone();
        let reply_reader = thread::spawn(move || {
            let _ = read_lines(
                &mut r,
                || Instant::now() < end + Duration::from_secs(2),
                |line| {
                    let counter = if line.starts_with("ERR rate limited") {
                        &errors_totals.rate_limited
                    } else {
                        &errors_totals.errors
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                },
            );
        });
        publishers.push(thread::spawn(move || {
            let mut w = io::BufWriter::with_capacity(64 * 1024, s);
            let mut n: u64 = 0;
            let mut ch = p;
            let mut buf = String::with_capacity(128 + padding.len());
            while Instant::now() < end {
                if per_publisher > 0.0 {
                    let due = start + Duration::from_secs_f64(n as f64 / per_publisher);
                    let now = Instant::now();
                    if due > now {
                        let _ = w.flush();
                        thread::sleep((due - now).min(Duration::from_millis(5)));
                        continue;
                    }
                }
                ch = (ch + 1) % channels;
                buf.clear();
                let ts = unix_nanos();
                buf.push_str("PUB ");
                buf.push_str(&channel_name(ch));
                buf.push(' ');
                buf.push_str(&padding);
                buf.push(' ');
                buf.push_str(&ts.to_string());
                buf.push('\n');
                if w.write_all(buf.as_bytes()).is_err() {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                n += 1;
                totals.published.fetch_add(1, Ordering::Relaxed);
                totals.expected.fetch_add(subs[ch], Ordering::Relaxed);
                if n % 64 == 0 {
                    let _ = w.flush();
                }
            }
            let _ = w.flush();
            let _ = reply_reader.join();
        }));
    }

    // Progress once a second: redrawn in place on a terminal, one line per
    // second in a log.
    let redraw = io::stderr().is_terminal();
    let mut last = (0u64, 0u64);
    let mut earlier = Latency::new();
    while Instant::now() < end {
        thread::sleep(Duration::from_secs(1).min(end.saturating_duration_since(Instant::now())));
        let (p, d) = (
            totals.published.load(Ordering::Relaxed),
            totals.delivered.load(Ordering::Relaxed),
        );
        let (interval, cumulative) = match latency.lock() {
            Ok(l) => {
                let i = l.since(&earlier).quantile_ms(0.99);
                earlier.counts.clone_from(&l.counts);
                (i, l.quantile_ms(0.99))
            }
            Err(_) => (0.0, 0.0),
        };
        let line = format!(
            "[{:5.1}s] publishes/s {:>9} deliveries/s {:>9} p99 this second {:>8.3} ms, since start {:>8.3} ms",
            start.elapsed().as_secs_f64(),
            p - last.0,
            d - last.1,
            interval,
            cumulative
        );
        if redraw {
            eprint!("\r{line}  ");
        } else {
            eprintln!("{line}");
        }
        last = (p, d);
    }
    if redraw {
        eprintln!();
    }
    for p in publishers {
        let _ = p.join();
    }
    // Let deliveries in flight arrive (bounded).
    let drain_deadline = Instant::now() + Duration::from_secs(3);
    // Rate-limited publishes never arrive; the deadline covers them.
    let accounted =
        |t: &Totals| t.delivered.load(Ordering::Relaxed) >= t.expected.load(Ordering::Relaxed);
    while Instant::now() < drain_deadline && !accounted(&totals) {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    stop_reading.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.join();
    }

    let secs = o.duration.as_secs_f64();
    let l = latency
        .lock()
        .map_err(|_| "latency lock poisoned".to_string())?;
    let t = &totals;
    let (published, delivered, expected, limited, errors) = (
        t.published.load(Ordering::Relaxed),
        t.delivered.load(Ordering::Relaxed),
        t.expected.load(Ordering::Relaxed),
        t.rate_limited.load(Ordering::Relaxed),
        t.errors.load(Ordering::Relaxed),
    );
    println!(
        "published {published} ({:.0}/s), delivered {delivered} of {expected} expected ({:.0}/s), rate-limited {limited}, errors {errors}",
        published as f64 / secs,
        delivered as f64 / secs
    );
    println!(
        "latency ms over the whole run: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
        l.quantile_ms(0.5),
        l.quantile_ms(0.9),
        l.quantile_ms(0.99),
        l.max_ns as f64 / 1e6
    );
    println!(
        "RESULT {{\"published\":{published},\"delivered\":{delivered},\"expected\":{expected},\"rate_limited\":{limited},\"errors\":{errors},\"duration_s\":{secs},\"connections\":{},\"publishers\":{},\"p50_ms\":{:.4},\"p90_ms\":{:.4},\"p99_ms\":{:.4}}}",
        o.connections,
        o.publishers,
        l.quantile_ms(0.5),
        l.quantile_ms(0.9),
        l.quantile_ms(0.99)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Latency;

    #[test]
    fn latency_buckets_are_monotonic_and_tight() {
        let mut prev = 0;
        for ns in [1u64, 2, 3, 7, 8, 9, 100, 1000, 1_000_000, 123_456_789] {
            let i = Latency::index(ns);
            assert!(i >= prev);
            prev = i;
            let up = Latency::upper_ns(i);
            assert!(
                up >= ns as f64 && up <= ns as f64 * 1.13 + 1.0,
                "{ns} -> {up}"
            );
        }
        let mut l = Latency::new();
        for ns in 1..=1000u64 {
            l.record(ns * 1000);
        }
        let p50 = l.quantile_ms(0.5);
        assert!((0.45..=0.56).contains(&p50), "{p50}");
    }

    #[test]
    fn an_interval_holds_only_what_came_after_its_snapshot() {
        let mut l = Latency::new();
        for _ in 0..1000 {
            l.record(50_000_000); // 50 ms, before the snapshot
        }
        let earlier = Latency {
            counts: l.counts.clone(),
            max_ns: l.max_ns,
        };
        for _ in 0..100 {
            l.record(1_000_000); // 1 ms, after
        }
        let i = l.since(&earlier);
        assert_eq!(i.total(), 100);
        let p99 = i.quantile_ms(0.99);
        assert!((0.9..=1.2).contains(&p99), "{p99}");
        // The whole run still sees the 50 ms ones.
        assert!(l.quantile_ms(0.99) > 45.0);
    }
}
