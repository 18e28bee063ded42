//! The responder against clients that do not read, slowloris heads and bursts
//! of simultaneous scrapes, over real sockets on 127.0.0.1. Every loop is
//! bounded in count and time; the time bounds are liveness bounds (a scrape
//! that waited for a stuck client would take seconds), not speed claims.
#![cfg(all(feature = "http", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use nanometrics::config::HttpConfig;
use nanometrics::http::{self, Server};
use nanometrics::{Collector, Counter, Family, Registry, Visitor};

mod support;
use support::{connect, exchange, get, Response, GET};

/// A registry of 10,000 counter series (two labels, like a per-room family).
fn ten_thousand() -> &'static Registry {
    let r: &'static Registry = Box::leak(Box::new(Registry::new()));
    let f = r
        .register(
            Family::<Counter, 2>::new("room_messages_total", "Messages.", ["app", "room"])
                .with_limit(20_000),
        )
        .unwrap();
    for i in 0..10_000u64 {
        let app = format!("app-{}", i % 40);
        let room = format!("presence-room-{i}");
        f.with([app.as_str(), room.as_str()]).inc_by(i);
    }
    r
}

fn serve(cfg: HttpConfig, r: &'static Registry) -> (Server, SocketAddr) {
    let s = http::serve(&cfg.port(0), r).unwrap();
    let a = s.local_addr();
    (s, a)
}

/// A connection whose receive buffer is small, so that the server's writes
/// to it block early.
fn non_reader(addr: SocketAddr) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&addr.into()).unwrap();
    let s: TcpStream = sock.into();
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

/// The value of an unlabeled sample `name` in a text body.
fn sample(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name}"))
        .parse::<f64>()
        .unwrap() as u64
}

#[test]
fn clients_that_pipeline_and_never_read_do_not_delay_a_scrape() {
    let (_s, addr) = serve(HttpConfig::new(), ten_thousand());
    // Six connections pipeline 1,000 scrapes each and never read: more
    // than workers and connection queues together used to hold.
    let burst = GET.repeat(1000);
    let mut hogs: Vec<TcpStream> = (0..6).map(|_| non_reader(addr)).collect();
    for h in &mut hogs {
        // The server stops reading once a response is stuck: the rest of the
        // burst may not fit in the socket buffers, which is the point.
        let _ = h.write_all(&burst);
    }
    // 200 slowloris connections, each a few bytes into a head.
    let mut slow: Vec<TcpStream> = (0..200).map(|_| connect(addr)).collect();
    for s in &mut slow {
        s.write_all(b"GET /metrics HTTP/1.1\r\nHo").unwrap();
    }
    for round in 0..5 {
        let t = Instant::now();
        let r = get(addr, GET);
        let took = t.elapsed();
        assert_eq!(r.status, 200, "round {round}");
        assert!(r
            .text()
            .contains("room_messages_total{app=\"app-39\",room=\"presence-room-9999\"} 9999\n"));
        assert!(took < Duration::from_secs(1), "round {round}: {took:?}");
    }
    drop((hogs, slow));
}

#[test]
fn a_slow_reader_that_keeps_reading_is_served_past_the_write_timeout() {
    let cfg = HttpConfig::new().write_timeout(Duration::from_millis(300));
    let (_s, addr) = serve(cfg, ten_thousand());
    let mut c = non_reader(addr);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(GET).unwrap();
    // Read a little every 50 ms: the whole response takes well over the
    // 300 ms write timeout, but the server sees progress all the way.
    let t = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let mut expected = None;
    while expected.is_none_or(|n| got.len() < n) {
        assert!(t.elapsed() < Duration::from_secs(60), "too slow");
        std::thread::sleep(Duration::from_millis(50));
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
        if expected.is_none() {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&got[..end]).unwrap();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                expected = Some(end + 4 + len);
            }
        }
    }
    assert!(
        t.elapsed() > Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    assert!(got.ends_with(b"# EOF\n") || got.ends_with(b"9999\n"));
}

#[test]
fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    let cfg = HttpConfig::new().write_timeout(Duration::from_millis(200));
    // More than the kernel's socket buffers on loopback take.
    let r: &'static Registry = Box::leak(Box::new(Registry::new()));
    let f = r
        .register(Family::<Counter, 1>::new("big_total", "Padding.", ["pad"]).with_limit(10_000))
        .unwrap();
    let pad = "p".repeat(1000);
    for i in 0..8_000 {
        f.with([format!("{i}{pad}").as_str()]).inc();
    }
    let (_s, addr) = serve(cfg, r);
    let mut hog = non_reader(addr);
    hog.write_all(GET).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // The server gave up: what is left in the socket is a part of the
    // response, then EOF or a reset.
    hog.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut total = 0;
    let mut buf = [0u8; 65536];
    loop {
        match hog.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    let body = get(addr, GET);
    assert!(total < body.body.len(), "{total} of {}", body.body.len());
    let t = body.text();
    assert!(
        t.contains("nanometrics_http_rejected_total{reason=\"write_failed\"} 1\n"),
        "{}",
        &t[t.len().saturating_sub(3000)..]
    );
}

/// `n` clients, connected first, send one scrape each at the same moment;
/// their responses.
fn at_once(addr: SocketAddr, n: usize) -> Vec<Response> {
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = connect(addr);
                barrier.wait();
                exchange(&mut c, GET)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn simultaneous_scrapes_are_all_answered_from_few_renders() {
    let (_s, addr) = serve(HttpConfig::new(), ten_thousand());
    let before = sample(get(addr, GET).text(), "nanometrics_http_renders_total");
    const N: usize = 64;
    let statuses: Vec<u16> = at_once(addr, N).iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let after = sample(get(addr, GET).text(), "nanometrics_http_renders_total");
    // Each body counts its own render (counted before encoding).
    let renders = after - before - 1;
    assert!(renders <= N as u64 / 4, "{renders} renders for {N} scrapes");
}

/// Renders of the registry it is in, counted outside any body: it reports
/// nothing, so the bodies do not change with the count.
struct RenderCount(Arc<AtomicU64>);

impl Collector for RenderCount {
    fn collect(&self, _: &mut dyn Visitor) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_shared_render_is_byte_identical_to_a_fresh_one() {
    // Self-metrics off: nothing in the registry changes between renders.
    let cfg = HttpConfig::new().self_metrics(false);
    let r = ten_thousand();
    let renders = Arc::new(AtomicU64::new(0));
    r.register_collector(RenderCount(renders.clone()));
    let (_s, addr) = serve(cfg, r);
    let fresh = get(addr, GET).body;
    // (Serving checks the registry once too: count from here.)
    let before = renders.load(Ordering::SeqCst);
    const N: usize = 16;
    for r in at_once(addr, N) {
        assert!(r.body == fresh, "a shared body differs");
    }
    // Fewer renders than scrapes: some of the bodies compared were shared.
    let made = renders.load(Ordering::SeqCst) - before;
    assert!(made <= N as u64 / 2, "{made} renders for {N} scrapes");
    assert!(get(addr, GET).body == fresh);
}

#[test]
fn the_coalescing_window_answers_from_the_last_render() {
    let cfg = HttpConfig::new().coalesce_window(Duration::from_secs(30));
    let r = ten_thousand();
    let (_s, addr) = serve(cfg, r);
    let first = get(addr, GET);
    // Within the window, a later scrape is the same render: its own
    // self-metrics did not move.
    let second = get(addr, GET);
    assert!(first.body == second.body);
    assert_eq!(sample(second.text(), "nanometrics_http_renders_total"), 1);
}
