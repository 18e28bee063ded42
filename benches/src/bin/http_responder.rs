//! A metrics endpoint for `benches/scripts/http_wrk.sh`: the same registry
//! (one counter family, labels `app` and `room`, N series) served either by
//! nanometrics' responder or by a thread-per-connection responder on the
//! `prometheus` crate, the way a small server without an HTTP stack would
//! write one (std `TcpListener`, a thread and a reused buffer per
//! connection, keep-alive). Prints the address, then serves until killed.
//!
//! ```text
//! http_responder nanometrics|prometheus SERIES
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn room(i: usize) -> (String, String) {
    (format!("app-{}", i % 40), format!("presence-room-{i}"))
}

fn nanometrics(series: usize) {
    use nanometrics::{Counter, Family, Registry};
    let r: &'static Registry = Box::leak(Box::new(Registry::new()));
    let f = r
        .register(
            Family::<Counter, 2>::new("room_messages_total", "Messages.", ["app", "room"])
                .with_limit(series + 1),
        )
        .unwrap();
    for i in 0..series {
        let (a, b) = room(i);
        f.with([a.as_str(), b.as_str()]).inc_by(i as u64);
    }
    let cfg = nanometrics::http::HttpConfig::new()
        .port(0)
        .self_metrics(false);
    let server = nanometrics::http::serve(&cfg, r).unwrap();
    println!("{}", server.local_addr());
    loop {
        std::thread::park();
    }
}

fn prometheus(series: usize) {
    use prometheus::{IntCounterVec, Opts, Registry};
    let r = Registry::new();
    let f = IntCounterVec::new(
        Opts::new("room_messages_total", "Messages."),
        &["app", "room"],
    )
    .unwrap();
    r.register(Box::new(f.clone())).unwrap();
    for i in 0..series {
        let (a, b) = room(i);
        f.with_label_values(&[a.as_str(), b.as_str()])
            .inc_by(i as u64);
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("{}", listener.local_addr().unwrap());
    for stream in listener.incoming().flatten() {
        let r = r.clone();
        std::thread::spawn(move || serve_prometheus(stream, &r));
    }
}

/// One connection: read a head, answer with the registry's text, repeat.
fn serve_prometheus(mut s: TcpStream, r: &prometheus::Registry) {
    use prometheus::{Encoder, TextEncoder};
    let _ = s.set_nodelay(true);
    let enc = TextEncoder::new();
    let mut head = Vec::with_capacity(1024);
    let mut body = Vec::with_capacity(1 << 20);
    let mut out = Vec::with_capacity(256);
    let mut buf = [0u8; 4096];
    loop {
        // A request head ends with an empty line (no bodies here).
        let end = loop {
            if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        };
        head.drain(..end);
        body.clear();
        enc.encode(&r.gather(), &mut body).unwrap();
        out.clear();
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
            enc.format_type(),
            body.len()
        )
        .unwrap();
        if s.write_all(&out).is_err() || s.write_all(&body).is_err() {
            return;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let series: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000);
    match args.get(1).map(String::as_str) {
        Some("nanometrics") => nanometrics(series),
        Some("prometheus") => prometheus(series),
        _ => {
            eprintln!("usage: http_responder nanometrics|prometheus SERIES");
            std::process::exit(2);
        }
    }
}
