//! A small blocking HTTP/1.1 client for the responder's socket tests: one
//! request, one response, with bounded reads.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// Reads one response (a HEAD response has no body whatever its length).
pub(crate) fn read_response(s: &mut TcpStream, head_only: bool) -> Response {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert!(buf.len() < 64 * 1024, "head too long");
        match s.read(&mut byte).unwrap() {
            0 => panic!(
                "EOF inside a response head: {:?}",
                String::from_utf8_lossy(&buf)
            ),
            _ => buf.push(byte[0]),
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    let mut r = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = r.header("Content-Length").unwrap().parse().unwrap();
    if !head_only {
        r.body = vec![0; len];
        s.read_exact(&mut r.body).unwrap();
    }
    r
}

pub(crate) fn exchange(s: &mut TcpStream, req: &[u8]) -> Response {
    s.write_all(req).unwrap();
    read_response(s, req.starts_with(b"HEAD "))
}

pub(crate) fn get(addr: SocketAddr, req: &[u8]) -> Response {
    exchange(&mut connect(addr), req)
}

/// Whether the server has closed `s` (EOF or reset, within 5 s).
pub(crate) fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 256];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

pub(crate) const GET: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
