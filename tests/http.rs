//! The HTTP responder over real sockets on 127.0.0.1 (and ::1), ephemeral
//! ports only. Every loop here is bounded in count and time.
#![cfg(all(feature = "http", unix))]
// Helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use nanometrics::config::HttpConfig;
use nanometrics::http::{self, Server};
use nanometrics::{Counter, Family, Gauge, Registry};

mod support;
use support::{closed, connect, exchange, get, read_response, GET};

/// A registry that lives for the rest of the test process.
fn registry() -> &'static Registry {
    Box::leak(Box::new(Registry::new()))
}

/// A registry with `known_total` = 42 and `connected` = 7.
fn known() -> &'static Registry {
    let r = registry();
    r.register(Counter::new("known_total", "A known counter."))
        .unwrap()
        .inc_by(42);
    r.register(Gauge::new("connected", "Connected sockets."))
        .unwrap()
        .set(7);
    r
}

/// A registry whose text is at least `bytes` long (series with long labels).
fn big(bytes: usize) -> &'static Registry {
    let r = registry();
    let f = r
        .register(Family::<Counter, 1>::new("big_total", "Padding.", ["pad"]).with_limit(100_000))
        .unwrap();
    let pad = "p".repeat(1000);
    for i in 0..bytes / 1000 + 1 {
        f.with([format!("{i}{pad}").as_str()]).inc_by(i as u64);
    }
    r
}

/// The lines of a body that are not the responder's own metrics (which change
/// from one scrape to the next).
#[cfg(feature = "gzip")]
fn stable(body: &[u8]) -> Vec<&str> {
    std::str::from_utf8(body)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("nanometrics_http_"))
        .collect()
}

fn local() -> HttpConfig {
    HttpConfig::new().port(0)
}

fn serve(cfg: HttpConfig, r: &'static Registry) -> (Server, SocketAddr) {
    let s = http::serve(&cfg, r).unwrap();
    let a = s.local_addr();
    (s, a)
}

#[test]
fn get_200_with_exact_headers() {
    let (_s, addr) = serve(local(), known());
    let r = get(addr, GET);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        r.header("Content-Length").unwrap(),
        r.body.len().to_string()
    );
    assert_eq!(r.header("Content-Encoding"), None);
    assert!(r.text().contains("\nknown_total 42\n"), "{}", r.text());
    assert!(r.text().contains("\nconnected 7\n"));
    // The query string is ignored; absolute-form targets are accepted.
    assert_eq!(
        get(addr, b"GET /metrics?x=1 HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200
    );
    assert_eq!(
        get(addr, b"GET http://t/metrics HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200
    );
}

#[test]
fn format_follows_accept() {
    let (_s, addr) = serve(local(), known());
    // What Prometheus 2.x sends: OpenMetrics first.
    let prom = b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n";
    let r = get(addr, prom);
    assert_eq!(
        r.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert_eq!(
        r.header("Content-Length").unwrap(),
        r.body.len().to_string()
    );
    assert!(r.text().ends_with("# EOF\n"), "{}", r.text());
    assert!(r.text().contains("# TYPE known counter\n"), "{}", r.text());
    assert!(r.text().contains("\nknown_total 42\n"));
    // Text preferred by q, or nothing said: Prometheus text 0.0.4.
    let text = b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5\r\n\r\n";
    for req in [&text[..], GET] {
        let r = get(addr, req);
        assert_eq!(
            r.header("Content-Type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert!(!r.text().contains("# EOF"));
    }
}

#[test]
fn head_has_the_get_headers_and_no_body() {
    let (_s, addr) = serve(local(), known());
    let mut c = connect(addr);
    let g = exchange(&mut c, GET);
    let h = exchange(&mut c, b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h.status, 200);
    // The length a GET would have had: only the self-metrics' digits changed.
    let (gl, hl): (i64, i64) = (
        g.header("Content-Length").unwrap().parse().unwrap(),
        h.header("Content-Length").unwrap().parse().unwrap(),
    );
    assert!((gl - hl).abs() < 40 && hl > 100, "{gl} vs {hl}");
    assert_eq!(h.header("Content-Type"), g.header("Content-Type"));
    // No body bytes followed the HEAD response: the next response starts clean.
    let again = exchange(&mut c, GET);
    assert_eq!(again.status, 200);
    let h404 = exchange(&mut c, b"HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(h404.status, 404);
    assert_eq!(exchange(&mut c, GET).status, 200);
}

#[test]
fn keep_alive_and_pipelining() {
    let (_s, addr) = serve(local(), known());
    let mut c = connect(addr);
    for _ in 0..5 {
        let r = exchange(&mut c, GET);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Connection"), None);
    }
    // Three pipelined requests in one write, one of them a 404.
    c.write_all(
        b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\nGET /metrics HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut c, false).status, 200);
    assert_eq!(read_response(&mut c, false).status, 404);
    assert_eq!(read_response(&mut c, false).status, 200);
    // Connection: close is honoured.
    let r = exchange(
        &mut c,
        b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(&mut c));
}

#[test]
fn http10_without_host_and_with_keep_alive() {
    let (_s, addr) = serve(local(), known());
    let mut c = connect(addr);
    let r = exchange(&mut c, b"GET /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("known_total 42"));
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(&mut c), "HTTP/1.0 closes by default");

    let mut c = connect(addr);
    for _ in 0..3 {
        let r = exchange(
            &mut c,
            b"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Connection"), Some("keep-alive"));
    }
}

#[test]
fn not_found_and_method_not_allowed() {
    let (_s, addr) = serve(local(), known());
    let mut c = connect(addr);
    let r = exchange(&mut c, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "Not Found\n");
    let r = exchange(&mut c, b"DELETE /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert_eq!(
        exchange(&mut c, GET).status,
        200,
        "kept alive after 404 and 405"
    );
    // A request with a body is answered and the connection closed.
    let r = exchange(
        &mut c,
        b"POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(&mut c));
}

#[test]
fn bad_requests_are_400_and_closed() {
    let (_s, addr) = serve(local(), known());
    for garbage in [
        &b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage-tls-hello\r\n\r\n"[..],
        b"\0\0\0\0\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n\r\n", // HTTP/1.1 without Host
        b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHo st: a\r\n\r\n",
        b"GET  /metrics\r\n\r\n",
    ] {
        let mut c = connect(addr);
        let r = exchange(&mut c, garbage);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(garbage));
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(closed(&mut c));
    }
    let mut c = connect(addr);
    assert_eq!(
        exchange(&mut c, b"GET /metrics HTTP/2.0\r\n\r\n").status,
        505
    );
    assert!(closed(&mut c));
    // The server is still fine.
    assert_eq!(get(addr, GET).status, 200);
}

#[test]
fn random_garbage_never_hurts_the_server() {
    let (_s, addr) = serve(local(), known());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..40 {
        let mut c = connect(addr);
        let n = 1 + (i * 97) % 3000;
        let bytes: Vec<u8> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = c.write_all(&bytes);
        let _ = c.shutdown(Shutdown::Write);
        let mut sink = Vec::new();
        let _ = c.read_to_end(&mut sink);
        if !sink.is_empty() {
            assert!(
                sink.starts_with(b"HTTP/1.1 "),
                "{:?}",
                String::from_utf8_lossy(&sink)
            );
        }
    }
    assert_eq!(get(addr, GET).status, 200);
}

#[test]
fn header_of_64_kib_is_431() {
    let (_s, addr) = serve(local(), known());
    let mut req = b"GET /metrics HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 64 * 1024));
    req.extend_from_slice(b"\r\n\r\n");
    let mut c = connect(addr);
    let r = exchange(&mut c, &req);
    assert_eq!(r.status, 431);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(&mut c));
    // Many small headers: 431 too.
    let mut req = b"GET /metrics HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..100 {
        req.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    assert_eq!(get(addr, &req).status, 431);
    assert_eq!(get(addr, GET).status, 200);
}

#[test]
fn slow_head_gets_408_and_silent_client_is_closed() {
    let cfg = local().head_timeout(Duration::from_millis(300));
    let (_s, addr) = serve(cfg, known());
    let t0 = Instant::now();
    let mut slow = connect(addr);
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHo").unwrap();
    let mut silent = connect(addr);
    let r = read_response(&mut slow, false);
    assert_eq!(r.status, 408);
    assert!(closed(&mut slow));
    assert!(closed(&mut silent));
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

#[test]
fn slowloris_and_idle_clients_do_not_block_a_scrape() {
    let (_s, addr) = serve(local(), known());
    let idle: Vec<TcpStream> = (0..200).map(|_| connect(addr)).collect();
    let mut slow: Vec<TcpStream> = (0..50).map(|_| connect(addr)).collect();
    let head = b"GET /metrics HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    // Each slow client sends a few bytes of its head every 20 ms.
    let t0 = Instant::now();
    for round in 0..10 {
        for s in slow.iter_mut() {
            s.write_all(&head[round * 3..round * 3 + 3]).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // 250 connections open, 50 of them mid-head: a normal scrape still works.
    let t = Instant::now();
    let r = get(addr, GET);
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("known_total 42"));
    assert!(took < Duration::from_secs(2), "scrape took {took:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "slow clients still inside the head timeout"
    );
    // Keep them open until after the scrape.
    drop((idle, slow));
}

#[test]
fn connection_cap_evicts_the_oldest_waiting_client() {
    let (_s, addr) = serve(local().max_connections(3), known());
    let mut a = connect(addr);
    std::thread::sleep(Duration::from_millis(50));
    let _b = connect(addr);
    let _c = connect(addr);
    std::thread::sleep(Duration::from_millis(50));
    // A fourth client is served; the oldest silent one makes room with a 503.
    assert_eq!(get(addr, GET).status, 200);
    let r = read_response(&mut a, false);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert!(closed(&mut a));
}

/// At the cap, an idle keep-alive connection is closed before a silent one.
/// Whether the keep-alive connection is idle yet (its worker has handed it
/// back to the poll thread) cannot be observed from outside, so on a loaded
/// machine one attempt can see it still busy and evict the silent one; each
/// attempt uses a fresh server, and a broken eviction order fails all three.
#[test]
fn connection_cap_evicts_idle_keep_alive_first() {
    let attempt = || {
        let (_s, addr) = serve(local().max_connections(2), known());
        let _silent = connect(addr);
        std::thread::sleep(Duration::from_millis(50));
        let mut k = connect(addr);
        assert_eq!(exchange(&mut k, GET).status, 200);
        std::thread::sleep(Duration::from_millis(300));
        // A third connection at the cap of two: room is made by closing k.
        let mut c = connect(addr);
        let served = exchange(&mut c, GET).status == 200;
        served && closed(&mut k)
    };
    assert!(
        (0..3).any(|_| attempt()),
        "the idle keep-alive connection was not the one closed"
    );
}

#[test]
fn allow_list() {
    let refused = local().allowed_ips("10.0.0.0/8, ::2").unwrap();
    let (_s, addr) = serve(refused, known());
    let mut c = connect(addr);
    let r = exchange(&mut c, GET);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(&mut c));
    // Every path is refused, not only the metrics one.
    assert_eq!(get(addr, b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n").status, 403);

    let allowed = local().allowed_ips("10.0.0.0/8 127.0.0.0/8").unwrap();
    let (_s2, addr) = serve(allowed, known());
    assert_eq!(get(addr, GET).status, 200);
}

#[test]
fn ipv6_and_dual_stack() {
    let r = known();
    // ::1 only.
    match http::serve(&local().host("::1".parse().unwrap()), r) {
        Ok(s) => {
            let addr = s.local_addr();
            assert!(addr.is_ipv6());
            assert_eq!(get(addr, GET).status, 200);
        }
        Err(e) => eprintln!("no IPv6 loopback here, skipped: {e}"),
    }
    // `::` with an IPv4 client: the allow-list matches its mapped address as IPv4.
    let cfg = local()
        .host("::".parse().unwrap())
        .allowed_ips("127.0.0.1")
        .unwrap();
    if let Ok(s) = http::serve(&cfg, r) {
        let v4 = SocketAddr::from(([127, 0, 0, 1], s.local_addr().port()));
        assert_eq!(get(v4, GET).status, 200);
    }
}

#[test]
fn bearer_auth() {
    let cfg = local().bearer_token("s3cr3t").unwrap();
    let r = known();
    let (_s, addr) = serve(cfg.clone(), r);
    let resp = get(addr, GET);
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("WWW-Authenticate"),
        Some("Bearer realm=\"metrics\"")
    );
    // One server per wrong credential: each starts a penalty for 127.0.0.1
    // (see `wrong_credentials_close_the_connection_and_penalise_the_address`).
    for wrong in [
        "Bearer s3cr3",
        "Bearer s3cr3tt",
        "Basic czNjcjN0",
        "s3cr3t",
        "Bearer",
    ] {
        let (_s, fresh) = serve(cfg.clone(), r);
        let req = format!("GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: {wrong}\r\n\r\n");
        assert_eq!(get(fresh, req.as_bytes()).status, 401, "{wrong}");
    }
    let mut c = connect(addr);
    let ok = b"GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cr3t\r\n\r\n";
    assert_eq!(exchange(&mut c, ok).status, 200);
    // A 401 closes the connection (a request without credentials starts no
    // penalty, so the next connection is served).
    let refused = exchange(&mut c, GET);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("Connection"), Some("close"));
    assert!(closed(&mut c));
    assert_eq!(get(addr, ok).status, 200);
    // Unauthenticated clients learn nothing about paths.
    assert_eq!(get(addr, b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n").status, 401);
}

/// A request for the metrics with `Authorization: Bearer <token>`, if any.
fn bearer(token: Option<&str>) -> Vec<u8> {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!("GET /metrics HTTP/1.1\r\nHost: t\r\n{auth}\r\n").into_bytes()
}

/// A connection to `addr` from the loopback address `from` (127.0.0.2, say:
/// Linux routes all of 127.0.0.0/8 to loopback); `None` where it cannot bind.
fn connect_from(from: [u8; 4], addr: SocketAddr) -> Option<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    sock.bind(&SocketAddr::from((from, 0)).into()).ok()?;
    sock.connect(&addr.into()).ok()?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    Some(s)
}

#[test]
fn wrong_credentials_close_the_connection_and_penalise_the_address() {
    const TOKEN: &str = "0123456789abcdef";
    let (_s, addr) = serve(local().bearer_token(TOKEN).unwrap(), known());
    let throttled = |s: &mut TcpStream, token: Option<&str>, retry: &str| {
        let r = exchange(s, &bearer(token));
        assert_eq!(r.status, 429, "{token:?}");
        assert_eq!(r.header("Retry-After"), Some(retry));
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(closed(s));
    };
    // 1,000 pipelined guesses on one connection: one 401, then EOF.
    let mut c = connect(addr);
    let guesses: Vec<u8> = (0..1000)
        .flat_map(|i| bearer(Some(&format!("g{i}"))))
        .collect();
    c.write_all(&guesses).unwrap();
    let r = read_response(&mut c, false);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(closed(&mut c), "the connection is closed after the 401");

    // Penalised for 1 s: every request from 127.0.0.1 gets 429, the right
    // token included (its credentials are not even compared).
    for token in [Some("wrong"), Some(TOKEN), None] {
        throttled(&mut connect(addr), token, "1");
    }
    // Another address is served meanwhile, and its success leaves
    // 127.0.0.1's penalty in place.
    match connect_from([127, 0, 0, 2], addr) {
        Some(mut other) => {
            assert_eq!(exchange(&mut other, &bearer(Some(TOKEN))).status, 200);
            throttled(&mut connect(addr), Some(TOKEN), "1");
        }
        None => eprintln!("cannot connect from 127.0.0.2 here, skipped"),
    }

    // After the penalty (polled every 100 ms, at most 3 s) the right token
    // works, and clears the count.
    let t = Instant::now();
    let served = loop {
        let r = get(addr, &bearer(Some(TOKEN)));
        if r.status != 429 || t.elapsed() > Duration::from_secs(3) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(served.status, 200, "served within {:?}", t.elapsed());
    let text = served.text();
    for (reason, at_least) in [("wrong_credentials", 1), ("auth_throttled", 3)] {
        let line = format!("nanometrics_http_rejected_total{{reason=\"{reason}\"}} ");
        let n: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .unwrap_or_else(|| panic!("{reason}: {text}"))
            .parse()
            .unwrap();
        assert!(n >= at_least as f64, "{reason}: {n}");
    }

    // Failures in a row double the penalty: 1 s, then 2 s.
    assert_eq!(get(addr, &bearer(Some("wrong"))).status, 401);
    let t = Instant::now();
    while get(addr, &bearer(None)).status == 429 && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(addr, &bearer(Some("wrong"))).status, 401);
    throttled(&mut connect(addr), Some(TOKEN), "2");
}

#[test]
fn basic_auth() {
    let (_s, addr) = serve(local().basic_auth("prom", "pa ss").unwrap(), known());
    let r = get(addr, GET);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"metrics\", charset=\"UTF-8\"")
    );
    // printf 'prom:pa ss' | base64 → cHJvbTpwYSBzcw==
    let ok = b"GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Basic cHJvbTpwYSBzcw==\r\n\r\n";
    assert_eq!(get(addr, ok).status, 200);
    // printf 'prom:pa sx' | base64 → cHJvbTpwYSBzeA==
    let wrong =
        b"GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Basic cHJvbTpwYSBzeA==\r\n\r\n";
    let mut c = connect(addr);
    assert_eq!(exchange(&mut c, wrong).status, 401);
    assert!(closed(&mut c));
}

#[cfg(feature = "gzip")]
#[test]
fn gzip_when_asked_and_large_enough() {
    use std::io::Read as _;
    let (_s, addr) = serve(local(), big(50_000));
    let plain = get(addr, GET);
    let req = b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip, deflate\r\n\r\n";
    let gz = get(addr, req);
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
    assert_eq!(gz.header("Vary"), Some("Accept, Accept-Encoding"));
    assert!(
        gz.body.len() * 5 < plain.body.len(),
        "{} vs {}",
        gz.body.len(),
        plain.body.len()
    );
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut back)
        .unwrap();
    assert!(back.len() > 50_000);
    assert_eq!(
        stable(&back),
        stable(&plain.body),
        "same text, self-metrics aside"
    );
    // Bodies under the threshold are not compressed; neither are refused
    // encodings, nor anything when gzip is off.
    let (_s2, small) = serve(local().gzip(true, 1 << 20), known());
    assert_eq!(get(small, req).header("Content-Encoding"), None);
    let (_s3, off) = serve(local().gzip(false, 0), known());
    assert_eq!(get(off, req).header("Content-Encoding"), None);
    let no = b"GET /metrics HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip;q=0\r\n\r\n";
    assert_eq!(get(addr, no).header("Content-Encoding"), None);
}

#[test]
fn self_metrics_count_scrapes_bytes_and_rejections() {
    let r = known();
    let (_s, addr) = serve(local(), r);
    // A second server on the same registry shares the self-metrics.
    let (_s2, addr2) = serve(local(), r);
    let mut c = connect(addr);
    let first = exchange(&mut c, GET);
    assert!(
        first.text().contains("nanometrics_http_scrapes_total 0\n"),
        "{}",
        first.text()
    );
    exchange(&mut c, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut c2 = connect(addr2);
    exchange(&mut c2, b"PUT /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    let last = exchange(&mut c, GET);
    let t = last.text();
    assert!(t.contains("nanometrics_http_scrapes_total 1\n"), "{t}");
    assert!(
        t.contains("nanometrics_http_rejected_total{reason=\"not_found\"} 1\n"),
        "{t}"
    );
    assert!(t.contains("nanometrics_http_rejected_total{reason=\"method_not_allowed\"} 1\n"));
    assert!(t.contains("nanometrics_http_scrape_duration_seconds_count 1\n"));
    let bytes: u64 = t
        .lines()
        .find_map(|l| l.strip_prefix("nanometrics_http_response_bytes_total "))
        .unwrap()
        .parse::<f64>()
        .unwrap() as u64;
    assert!(bytes > first.body.len() as u64, "{bytes}");
}

#[test]
fn a_foreign_family_with_a_self_metric_name_is_refused() {
    let r = registry();
    r.register(Counter::new("nanometrics_http_scrapes_total", "Mine."))
        .unwrap();
    let err = http::serve(&local(), r).unwrap_err();
    assert!(matches!(err, nanometrics::Error::Duplicate { .. }), "{err}");
}

#[test]
fn bind_errors_name_the_address() {
    let (_s, addr) = serve(local(), known());
    let err = http::serve(&local().port(addr.port()), known()).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("bind {addr}: ")),
        "{err}"
    );
}

#[test]
fn shutdown_closes_the_port_and_joins() {
    let (s, addr) = serve(local(), known());
    let mut idle = connect(addr);
    assert_eq!(get(addr, GET).status, 200);
    let t = Instant::now();
    s.shutdown();
    // Prompt (the threads wake within 100 ms), with room for a loaded CI box.
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(TcpStream::connect(addr).is_err(), "port closed");
    assert!(closed(&mut idle), "open connections closed");
    // Drop does the same.
    let (s, addr) = serve(local(), known());
    drop(s);
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn a_client_that_never_reads_cannot_hold_a_worker_or_shutdown() {
    let r = big(8_000_000);
    let cfg = local().write_timeout(Duration::from_millis(500)).workers(1);
    let (s, addr) = serve(cfg, r);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&addr.into()).unwrap();
    let mut hog: TcpStream = sock.into();
    hog.write_all(GET).unwrap();
    // The hog holds no worker (workers only render): the next scrape is
    // answered while the hog's response is stuck in its socket.
    let t = Instant::now();
    let mut c = connect(addr);
    c.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut c, true).status, 200);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // And shutdown during a stuck write returns promptly.
    let mut hog2 = connect(addr);
    hog2.write_all(GET).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    s.shutdown();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    drop((hog, hog2));
}

#[test]
fn disabled_config_starts_nothing() {
    let cfg =
        HttpConfig::from_lookup(|k| (k == "METRICS_ENABLED").then(|| "0".to_owned())).unwrap();
    assert!(http::serve_if_enabled(&cfg, known()).unwrap().is_none());
    let cfg = local().enabled(true);
    assert!(http::serve_if_enabled(&cfg, known()).unwrap().is_some());
}

#[test]
fn prefix_applies_to_every_name() {
    let (_s, addr) = serve(local().prefix("soketi_").unwrap(), known());
    let t = get(addr, GET);
    assert!(
        t.text().contains("\nsoketi_known_total 42\n"),
        "{}",
        t.text()
    );
    assert!(t.text().contains("soketi_nanometrics_http_scrapes_total"));
}

#[test]
fn self_metrics_can_be_turned_off() {
    let r = known();
    let (_s, addr) = serve(local().self_metrics(false), r);
    let text = get(addr, GET).text().to_owned();
    assert!(text.contains("\nknown_total 42\n"), "{text}");
    assert!(!text.contains("nanometrics_http_"), "{text}");
    // A second server on another registry with them on exports them.
    let (_s2, addr2) = serve(local(), registry());
    get(addr2, GET);
    assert!(get(addr2, GET)
        .text()
        .contains("nanometrics_http_scrapes_total"));
}
