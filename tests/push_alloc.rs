//! Pushes in steady state allocate nothing: a counting global allocator,
//! a pusher every 5 ms, and a local server on one kept-alive connection that
//! reads into a fixed buffer and answers with a constant response. One test
//! in this binary, so no other test's threads allocate meanwhile.
#![cfg(all(feature = "http", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nanometrics::push::{self, PushConfig};
use nanometrics::{Counter, Family, Histogram, Registry, DEFAULT_BUCKETS};

#[path = "support/alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Requests answered by the server.
static ANSWERED: AtomicUsize = AtomicUsize::new(0);

/// Answers every request on `s` with 200 (fixed buffer, no allocation).
fn answer(mut s: TcpStream, buf: &mut [u8]) {
    let mut n = 0;
    loop {
        let head_end = loop {
            if let Some(p) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match s.read(&mut buf[n..]) {
                Ok(0) | Err(_) => return,
                Ok(k) => n += k,
            }
        };
        let key = b"Content-Length: ";
        let at = buf[..head_end]
            .windows(key.len())
            .position(|w| w == key)
            .unwrap()
            + key.len();
        let mut len = 0usize;
        for &d in buf[at..].iter().take_while(|d| d.is_ascii_digit()) {
            len = len * 10 + usize::from(d - b'0');
        }
        while n < head_end + len {
            match s.read(&mut buf[n..]) {
                Ok(0) | Err(_) => return,
                Ok(k) => n += k,
            }
        }
        assert!(buf[..head_end].starts_with(b"PUT /metrics/job/alloc/instance/t HTTP/1.1\r\n"));
        // Keep any pipelined bytes (there are none: one request at a time).
        buf.copy_within(head_end + len..n, 0);
        n -= head_end + len;
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        ANSWERED.fetch_add(1, Ordering::Relaxed);
    }
}

fn wait_for(n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while ANSWERED.load(Ordering::Relaxed) < n {
        assert!(
            Instant::now() < deadline,
            "only {} pushes",
            ANSWERED.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn steady_state_pushes_do_not_allocate() {
    let r: &'static Registry = Box::leak(Box::new(Registry::new()));
    let c = r
        .register(Counter::new("requests_total", "Requests."))
        .unwrap();
    let h = r
        .register(Histogram::new(
            "latency_seconds",
            "Latency.",
            &DEFAULT_BUCKETS,
        ))
        .unwrap();
    let f = r
        .register(Family::<Counter, 1>::new("sent_total", "Sent.", ["app_id"]))
        .unwrap();
    for i in 0..200 {
        f.with([format!("app-{i}").as_str()]).inc_by(i);
    }
    c.inc();
    h.observe(0.01);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        let (s, _) = listener.accept().unwrap();
        answer(s, &mut buf);
    });
    let cfg = PushConfig::pushgateway(&format!("http://{addr}"), "alloc")
        .unwrap()
        .grouping("instance", "t")
        .unwrap()
        .interval(Duration::from_millis(5));
    let pusher = push::push(&cfg, r).unwrap();
    wait_for(20);
    let before = counting_alloc::total();
    assert!(before > 0, "the counting allocator counts");
    let pushed = ANSWERED.load(Ordering::Relaxed);
    wait_for(pushed + 50);
    let after = counting_alloc::total();
    let stats = pusher.stats();
    assert_eq!(after - before, 0, "allocations in 50 steady-state pushes");
    assert_eq!((stats.failures, stats.connects), (0, 1), "{stats:?}");
    pusher.shutdown();
    server.join().unwrap();
}
