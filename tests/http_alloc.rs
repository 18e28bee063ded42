//! Scrapes in steady state allocate nothing, in any responder thread: a
//! counting global allocator over a keep-alive connection whose client side
//! uses only fixed buffers. One test in this binary, so no other test's
//! threads allocate meanwhile.
#![cfg(all(feature = "http", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::TcpStream;

use nanometrics::http;
use nanometrics::{Counter, Family, Histogram, Registry, DEFAULT_BUCKETS};

#[path = "support/alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Sends `req` and reads one response into `buf`; returns the body length.
fn scrape(s: &mut TcpStream, req: &[u8], buf: &mut [u8]) -> usize {
    s.write_all(req).unwrap();
    let mut n = 0;
    let head_end = loop {
        let k = s.read(&mut buf[n..]).unwrap();
        assert!(k > 0, "closed");
        n += k;
        if let Some(p) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
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
        let k = s.read(&mut buf[n..]).unwrap();
        assert!(k > 0, "closed");
        n += k;
    }
    len
}

#[test]
fn steady_state_scrapes_do_not_allocate() {
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
    let server = http::serve(&http::HttpConfig::new().port(0), r).unwrap();
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let plain = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
    let gzip = b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n";
    let mut lens = [0usize; 2];
    for _ in 0..20 {
        lens = [
            scrape(&mut s, plain, &mut buf),
            scrape(&mut s, gzip, &mut buf),
        ];
    }
    assert!(lens[0] > 5_000, "{lens:?}");
    if cfg!(feature = "gzip") {
        assert!(lens[1] < lens[0] / 3, "gzipped: {lens:?}");
    }
    let before = counting_alloc::total();
    assert!(before > 0, "the counting allocator counts");
    for _ in 0..50 {
        scrape(&mut s, plain, &mut buf);
        scrape(&mut s, gzip, &mut buf);
    }
    let after = counting_alloc::total();
    assert_eq!(after - before, 0, "allocations in 100 steady-state scrapes");
    drop(s);
    server.shutdown();
}
