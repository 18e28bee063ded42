//! A bounded HTTP/1.1 reader and writer, just enough for the demo's REST API
//! and its webhook sink and sender: one request or response per connection
//! (`Connection: close`), a `Content-Length` body, no chunked encoding.
//! Every read is capped in size and in time (the socket's read timeout, and
//! [`MAX_TIME`] per message); malformed input is an error with the status
//! to answer, never a panic.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// The most header bytes read before giving up (431 would be exact; 400 is
/// what the demo answers).
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// The largest request body accepted.
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// The longest a whole message may take to arrive, however slowly its
/// bytes trickle in (each read is also bounded by the socket's timeout).
pub(crate) const MAX_TIME: Duration = Duration::from_secs(5);

/// A parsed request.
pub(crate) struct Request {
    pub method: String,
    /// The path without its query string.
    pub path: String,
    pub body: Vec<u8>,
}

/// Why a request could not be read: the status to answer (none when the
/// peer went away or timed out), and a reason for the body.
pub(crate) struct Refused {
    pub status: Option<u16>,
    pub reason: &'static str,
}

fn refused(status: u16, reason: &'static str) -> Refused {
    Refused {
        status: Some(status),
        reason,
    }
}

/// Where the head ends (`\r\n\r\n`), and where its last line break starts.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Reads one message head into `buf` (at most [`MAX_HEAD`] bytes), then its
/// `Content-Length` body (at most `max_body`). `count` is told every byte
/// read. Returns the head's text and the body.
fn read_message(
    stream: &mut impl Read,
    max_body: usize,
    count: &mut dyn FnMut(usize),
) -> Result<(String, Vec<u8>), Refused> {
    let gone = Refused {
        status: None,
        reason: "connection closed or timed out",
    };
    let deadline = Instant::now() + MAX_TIME;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() >= MAX_HEAD {
            return Err(refused(400, "header too large"));
        }
        if Instant::now() > deadline {
            return Err(gone);
        }
        let want = chunk.len().min(MAX_HEAD + 4 - buf.len());
        let n = match stream.read(&mut chunk[..want]) {
            Ok(0) | Err(_) => return Err(gone),
            Ok(n) => n,
        };
        count(n);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let head = String::from_utf8(buf.get(..end).unwrap_or_default().to_vec())
        .map_err(|_| refused(400, "header is not UTF-8"))?;
    let mut length = 0usize;
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = value
                .trim()
                .parse()
                .map_err(|_| refused(400, "bad Content-Length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(refused(501, "Transfer-Encoding is not supported"));
        }
    }
    if length > max_body {
        return Err(refused(413, "body too large"));
    }
    let mut body = buf.get(end..).unwrap_or_default().to_vec();
    if body.len() > length {
        return Err(refused(400, "more bytes than Content-Length"));
    }
    while body.len() < length {
        if Instant::now() > deadline {
            return Err(gone);
        }
        let want = chunk.len().min(length - body.len());
        let n = match stream.read(&mut chunk[..want]) {
            Ok(0) | Err(_) => return Err(gone),
            Ok(n) => n,
        };
        count(n);
        body.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok((head, body))
}

/// Reads one request; `count` is told every byte read.
pub(crate) fn read_request(
    stream: &mut impl Read,
    count: &mut dyn FnMut(usize),
) -> Result<Request, Refused> {
    let (head, body) = read_message(stream, MAX_BODY, count)?;
    let line = head.split("\r\n").next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') || method.is_empty() {
        return Err(refused(400, "malformed request line"));
    }
    let path = target.split('?').next().unwrap_or_default().to_owned();
    Ok(Request {
        method: method.to_owned(),
        path,
        body,
    })
}

/// Reads one response and returns its status code.
pub(crate) fn read_status(stream: &mut impl Read) -> Result<u16, &'static str> {
    let (head, _) = read_message(stream, MAX_BODY, &mut |_| {}).map_err(|r| r.reason)?;
    let line = head.split("\r\n").next().unwrap_or_default();
    let mut parts = line.split(' ');
    match (parts.next(), parts.next().and_then(|s| s.parse().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => Ok(code),
        _ => Err("malformed status line"),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        501 => "Not Implemented",
        _ => "Error",
    }
}

/// Writes a `Connection: close` response with a JSON body; returns the bytes
/// written.
pub(crate) fn respond(stream: &mut impl Write, status: u16, body: &str) -> io::Result<usize> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()?;
    Ok(head.len() + body.len())
}

/// `s` as a JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &[u8]) -> Result<Request, Refused> {
        let mut n = 0;
        let r = read_request(&mut io::Cursor::new(raw.to_vec()), &mut |k| n += k);
        if r.is_ok() {
            assert_eq!(n, raw.len(), "every byte read is counted");
        }
        r
    }

    fn status(raw: &[u8]) -> Option<u16> {
        read(raw).err().and_then(|r| r.status)
    }

    #[test]
    fn requests() {
        let r = read(b"POST /apps/a/events?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
            .ok()
            .unwrap_or_else(|| panic!("a valid request was refused"));
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), &r.body[..]),
            ("POST", "/apps/a/events", &b"{}"[..])
        );
        assert_eq!(status(b"GET / HTTP/1.1 x\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET nope HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / SIP/2.0\r\n\r\n"), Some(400));
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n"),
            Some(413)
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(501)
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nab"),
            Some(400)
        );
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_HEAD + 100, b'a');
        assert_eq!(status(&long), Some(400));
        // Cut short: no answer to give.
        assert_eq!(status(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            None
        );
        assert_eq!(
            read_status(&mut io::Cursor::new(
                b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()
            )),
            Ok(204)
        );
        assert!(read_status(&mut io::Cursor::new(b"nonsense\r\n\r\n".to_vec())).is_err());
        assert_eq!(json_str("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
    }
}
