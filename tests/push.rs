//! The pusher against an in-process fake server, for what a real
//! Pushgateway cannot be made to do on demand: answer 500 then 200, refuse
//! with 400, answer chunked, close kept-alive connections, send garbage.
//! The real Pushgateway and VictoriaMetrics are checked by
//! `.ci/stages/62-pushgateway.sh` (`examples/push_check.rs`).
#![cfg(all(feature = "http", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nanometrics::push::{self, Method, PushConfig};
use nanometrics::{Counter, Registry};

/// How the fake server answers one request.
#[derive(Clone, Copy, Debug)]
enum Reply {
    /// This status with a short `Content-Length` body.
    Status(u16),
    /// 200 with a chunked body.
    Chunked,
    /// 200, then the connection is closed without saying so.
    SilentClose,
    /// Not HTTP.
    Garbage,
}

#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    conn: usize,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Fake {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A server answering with `script` in order, then its last entry forever.
fn fake(script: Vec<Reply>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for (conn, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let log = Arc::clone(&log);
            let script = script.clone();
            thread::spawn(move || serve(conn, stream, &log, &script));
        }
    });
    Fake { addr, seen }
}

fn serve(conn: usize, stream: TcpStream, log: &Mutex<Vec<Seen>>, script: &[Reply]) {
    let mut out = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':').unwrap();
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let reply = {
            let mut seen = log.lock().unwrap();
            seen.push(Seen {
                at: Instant::now(),
                conn,
                method,
                path,
                headers,
                body,
            });
            script[(seen.len() - 1).min(script.len() - 1)]
        };
        match reply {
            Reply::Status(code) => {
                let body = format!("status {code}\n");
                write!(
                    out,
                    "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
            Reply::Chunked => out
                .write_all(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
                )
                .unwrap(),
            Reply::SilentClose => {
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .unwrap();
                return;
            }
            Reply::Garbage => {
                out.write_all(b"SMTP ready\r\n\r\n").unwrap();
                return;
            }
        }
    }
}

impl Fake {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `n` requests arrived.
    fn wait_for(&self, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.seen();
            if seen.len() >= n || Instant::now() > deadline {
                assert!(seen.len() >= n, "{} of {n} requests: {seen:?}", seen.len());
                return seen;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

fn registry() -> &'static Registry {
    let r: &'static Registry = Box::leak(Box::new(Registry::new()));
    r.register(Counter::new("jobs_total", "Jobs run."))
        .unwrap()
        .inc_by(7);
    r
}

#[test]
fn server_errors_are_retried_with_backoff_and_auth_is_sent() {
    let server = fake(vec![
        Reply::Status(500),
        Reply::Status(503),
        Reply::Status(200),
    ]);
    let cfg = PushConfig::pushgateway(&server.url(), "batch")
        .unwrap()
        .grouping("instance", "a/b")
        .unwrap()
        .basic_auth("pusher", "s3cr3t")
        .unwrap()
        .interval(Duration::from_secs(3600))
        .max_backoff(Duration::from_millis(300));
    let start = Instant::now();
    let pusher = push::push(&cfg, registry()).unwrap();
    let seen = server.wait_for(3);
    // Retried at the back-off's pace, not the hour-long interval.
    assert!(
        seen[2].at - start < Duration::from_secs(3),
        "{:?}",
        seen[2].at - start
    );
    for s in &seen {
        assert_eq!(s.method, "PUT");
        assert_eq!(s.path, "/metrics/job/batch/instance@base64/YS9i");
        assert_eq!(
            s.header("authorization"),
            Some("Basic cHVzaGVyOnMzY3IzdA==")
        );
        assert_eq!(
            s.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert!(s.header("host").is_some());
    }
    // The third push carries the two failures it followed.
    let body = String::from_utf8(seen[2].body.clone()).unwrap();
    assert!(body.contains("jobs_total 7\n"), "{body}");
    assert!(
        body.contains("nanometrics_push_failures_total{reason=\"server_error\"} 2\n"),
        "{body}"
    );
    // The server saw the request before the pusher read the answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pusher.stats().pushes == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let stats = pusher.stats();
    assert_eq!(
        (stats.pushes, stats.failures, stats.last_status),
        (1, 2, 200)
    );
    drop(pusher);
    // The final push on drop.
    let seen = server.wait_for(4);
    assert_eq!(seen[3].method, "PUT");
    assert!(String::from_utf8_lossy(&seen[3].body).contains("nanometrics_push_total 1\n"));
}

#[test]
fn refusals_wait_an_interval() {
    let server = fake(vec![Reply::Status(400)]);
    let cfg = PushConfig::url(&format!("{}/import", server.url()))
        .unwrap()
        .interval(Duration::from_millis(300))
        .max_backoff(Duration::from_millis(1));
    let pusher = push::push(&cfg, registry()).unwrap();
    thread::sleep(Duration::from_millis(1000));
    let stats = pusher.stats();
    pusher.shutdown();
    // About 4 tries in a second at 300 ms, not a hot loop at 1 ms.
    assert!((2..=6).contains(&stats.failures), "{stats:?}");
    assert_eq!(stats.last_status, 400);
    let seen = server.seen();
    assert!(seen
        .iter()
        .all(|s| s.method == "POST" && s.path == "/import"));
    // One kept-alive connection for all of them (400 keeps it open).
    assert!(seen.iter().all(|s| s.conn == 0), "{seen:?}");
}

#[test]
fn keep_alive_chunked_responses_and_delete_on_shutdown() {
    let server = fake(vec![Reply::Chunked]);
    let cfg = PushConfig::pushgateway(&server.url(), "j")
        .unwrap()
        .without_grouping("instance")
        .bearer_token("t0k3n")
        .unwrap()
        .method(Method::Post)
        .delete_on_shutdown(true)
        .self_metrics(false)
        .interval(Duration::from_millis(20));
    let pusher = push::push(&cfg, registry()).unwrap();
    server.wait_for(5);
    let stats = pusher.stats();
    pusher.shutdown();
    assert_eq!((stats.failures, stats.connects), (0, 1), "{stats:?}");
    let seen = server.seen();
    let last = seen.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("DELETE", "/metrics/job/j")
    );
    assert!(last.body.is_empty() && last.header("content-type").is_none());
    assert_eq!(last.header("authorization"), Some("Bearer t0k3n"));
    assert!(seen.iter().all(|s| s.conn == 0));
    let before = &seen[seen.len() - 2];
    assert_eq!(before.method, "POST");
    assert!(!String::from_utf8_lossy(&before.body).contains("nanometrics_push"));
}

#[test]
fn a_connection_closed_by_the_server_is_reopened_without_failing() {
    let server = fake(vec![Reply::SilentClose]);
    let cfg = PushConfig::url(&server.url())
        .unwrap()
        .interval(Duration::from_millis(20));
    let pusher = push::push(&cfg, registry()).unwrap();
    server.wait_for(4);
    let stats = pusher.stats();
    pusher.shutdown();
    assert_eq!(stats.failures, 0, "{stats:?}");
    assert!(stats.connects >= 3, "{stats:?}");
}

#[test]
fn garbage_and_refused_connections_are_failures() {
    let server = fake(vec![Reply::Garbage, Reply::Status(200)]);
    let cfg = PushConfig::url(&server.url())
        .unwrap()
        .interval(Duration::from_secs(3600))
        .max_backoff(Duration::from_millis(50));
    let pusher = push::push(&cfg, registry()).unwrap();
    server.wait_for(2);
    let deadline = Instant::now() + Duration::from_secs(5);
    while pusher.stats().pushes == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let stats = pusher.stats();
    assert_eq!((stats.failures, stats.pushes), (1, 1), "{stats:?}");
    drop(pusher);

    // Nothing listens: connect failures, retried, and shutdown still returns.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = registry();
    let cfg = PushConfig::url(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .timeout(Duration::from_millis(200))
        .max_backoff(Duration::from_millis(20));
    let pusher = push::push(&cfg, r).unwrap();
    thread::sleep(Duration::from_millis(300));
    let stats = pusher.stats();
    let started = Instant::now();
    pusher.shutdown();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(stats.failures >= 2 && stats.pushes == 0, "{stats:?}");
    let mut text = Vec::new();
    nanometrics::Encoder::new().encode(r, nanometrics::Format::Prometheus, &mut text);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("nanometrics_push_failures_total{reason=\"connect\"}"),
        "{text}"
    );
}

#[test]
fn env_driver_prometheus_serves_and_push_pushes() {
    use nanometrics::config::HttpConfig;
    use nanometrics::push::{serve_or_push, Exporter};
    let server = fake(vec![Reply::Status(200)]);
    let r = registry();
    let http = HttpConfig::new().port(0).prefix("app_").unwrap();
    let env = [
        ("METRICS_DRIVER", "push".to_string()),
        ("METRICS_PUSH_URL", server.url()),
    ];
    let cfg =
        PushConfig::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
            .unwrap();
    let exporter = serve_or_push(&http, cfg.as_ref(), r).unwrap().unwrap();
    assert!(matches!(exporter, Exporter::Pusher(_)));
    let seen = server.wait_for(1);
    exporter.shutdown();
    assert!(String::from_utf8_lossy(&seen[0].body).contains("app_jobs_total 7\n"));
    let off = serve_or_push(&http.clone().enabled(false), cfg.as_ref(), r).unwrap();
    assert!(off.is_none());
}

#[cfg(feature = "gzip")]
#[test]
fn gzip_bodies_say_so_and_decompress() {
    let server = fake(vec![Reply::Status(200)]);
    let cfg = PushConfig::url(&server.url()).unwrap().gzip(true);
    let pusher = push::push(&cfg, registry()).unwrap();
    let seen = server.wait_for(1);
    pusher.shutdown();
    assert_eq!(seen[0].header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&seen[0].body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("jobs_total 7\n"), "{text}");
}

#[test]
fn a_silent_gateway_costs_timeouts_not_a_hang() {
    // Accepts, reads nothing, answers nothing.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let cfg = PushConfig::url(&format!("http://{addr}"))
        .unwrap()
        .timeout(Duration::from_millis(200))
        .max_backoff(Duration::from_millis(10));
    let pusher = push::push(&cfg, registry()).unwrap();
    thread::sleep(Duration::from_millis(700));
    let stats = pusher.stats();
    let started = Instant::now();
    pusher.shutdown(); // a final push that times out too
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(stats.failures >= 2 && stats.pushes == 0, "{stats:?}");
}
