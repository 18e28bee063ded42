//! A small blocking HTTP/1.1 client for pushes: one kept-alive connection,
//! reopened after any error, `Content-Length` request bodies, responses
//! framed by `Content-Length`, chunked encoding or the end of the connection,
//! a bounded response, and timeouts on connect, each read and each write.
//!
//! Its buffers are allocated once, when the client is made: a request whose
//! connection is kept alive allocates nothing.
#![deny(clippy::indexing_slicing)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::url::HttpUrl;

/// Largest response head read (status line and headers).
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest response body read; a longer one fails the request.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How much of a response body is kept to explain a refusal.
pub(crate) const EXCERPT_BYTES: usize = 512;

/// Why a request got no HTTP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No connection could be made (refused, unreachable, not resolved, or
    /// not within the timeout).
    Connect,
    /// A read or write did not finish within the timeout.
    Timeout,
    /// The connection failed or closed mid-exchange.
    Io,
    /// The response was malformed or over the size limits.
    BadResponse,
}

impl Failure {
    fn from_io(e: &io::Error) -> Failure {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::Timeout,
            _ => Failure::Io,
        }
    }
}

/// A request's parts other than the method and path.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Request<'a> {
    /// `Content-Type` of the body, if any.
    pub(crate) content_type: Option<&'a str>,
    /// Whether the body is gzip-compressed.
    pub(crate) gzip: bool,
    /// The whole `Authorization` header value.
    pub(crate) authorization: Option<&'a str>,
}

/// The client; see the module docs.
pub(crate) struct Client {
    url: HttpUrl,
    timeout: Duration,
    conn: Option<TcpStream>,
    head: Vec<u8>,
    buf: Vec<u8>,
    excerpt: Vec<u8>,
    /// Connections opened so far (for tests of keep-alive).
    connects: u64,
}

impl Client {
    /// A client for `url`'s host and port.
    pub(crate) fn new(url: HttpUrl, timeout: Duration) -> Self {
        Client {
            url,
            timeout,
            conn: None,
            head: Vec::with_capacity(1024),
            buf: vec![0; MAX_HEAD_BYTES],
            excerpt: Vec::with_capacity(EXCERPT_BYTES),
            connects: 0,
        }
    }

    /// The start of the last response's body (at most [`EXCERPT_BYTES`]).
    pub(crate) fn excerpt(&self) -> &[u8] {
        &self.excerpt
    }

    /// Connections opened so far.
    pub(crate) fn connects(&self) -> u64 {
        self.connects
    }

    /// Sends `method path` with `body` and returns the response status.
    /// On a kept-alive connection that the server had closed (nothing came
    /// back), the request is sent once more on a new connection.
    pub(crate) fn send(
        &mut self,
        method: &str,
        path: &str,
        req: Request<'_>,
        body: &[u8],
    ) -> Result<u16, Failure> {
        self.write_head(method, path, req, body.len());
        let reused = self.conn.is_some();
        match self.exchange(body) {
            Err(Attempt::Stale) if reused => {}
            Err(Attempt::Stale) => return Err(Failure::Io),
            Err(Attempt::Failed(f)) => return Err(f),
            Ok(status) => return Ok(status),
        }
        match self.exchange(body) {
            Ok(status) => Ok(status),
            Err(Attempt::Stale) => Err(Failure::Io),
            Err(Attempt::Failed(f)) => Err(f),
        }
    }

    fn write_head(&mut self, method: &str, path: &str, req: Request<'_>, len: usize) {
        let h = &mut self.head;
        h.clear();
        h.extend_from_slice(method.as_bytes());
        h.push(b' ');
        h.extend_from_slice(path.as_bytes());
        h.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        h.extend_from_slice(self.url.authority.as_bytes());
        h.extend_from_slice(b"\r\nUser-Agent: nanometrics/");
        h.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
        if let Some(ct) = req.content_type {
            h.extend_from_slice(b"\r\nContent-Type: ");
            h.extend_from_slice(ct.as_bytes());
        }
        if req.gzip {
            h.extend_from_slice(b"\r\nContent-Encoding: gzip");
        }
        if let Some(a) = req.authorization {
            h.extend_from_slice(b"\r\nAuthorization: ");
            h.extend_from_slice(a.as_bytes());
        }
        h.extend_from_slice(b"\r\nContent-Length: ");
        h.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
        h.extend_from_slice(b"\r\n\r\n");
    }

    fn connect(&mut self) -> Result<TcpStream, Failure> {
        self.connects += 1;
        let stream = match self.url.socket_addr() {
            Some(addr) => connect_one(addr, self.timeout),
            None => {
                let addrs = (self.url.host.as_str(), self.url.port)
                    .to_socket_addrs()
                    .map_err(|_| Failure::Connect)?;
                let mut last = Err(Failure::Connect);
                for addr in addrs {
                    last = connect_one(addr, self.timeout);
                    if last.is_ok() {
                        break;
                    }
                }
                last
            }
        }?;
        let t = Some(self.timeout);
        stream
            .set_read_timeout(t)
            .and_then(|()| stream.set_write_timeout(t))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|_| Failure::Connect)?;
        Ok(stream)
    }

    /// One request on the current connection (opened if there is none).
    fn exchange(&mut self, body: &[u8]) -> Result<u16, Attempt> {
        let mut stream = match self.conn.take() {
            Some(s) => s,
            None => self.connect().map_err(Attempt::Failed)?,
        };
        let sent = write_both(&mut stream, &self.head, body);
        if let Err(e) = sent {
            return Err(stale_or(&e));
        }
        self.excerpt.clear();
        let (status, keep) = read_response(&mut stream, &mut self.buf, &mut self.excerpt)?;
        if keep {
            self.conn = Some(stream);
        }
        Ok(status)
    }
}

/// Writes `head` then `body` with vectored writes, so that a small request
/// leaves in one segment despite `TCP_NODELAY`.
fn write_both(stream: &mut TcpStream, head: &[u8], body: &[u8]) -> io::Result<()> {
    let (mut head, mut body) = (head, body);
    while !head.is_empty() || !body.is_empty() {
        match stream.write_vectored(&[io::IoSlice::new(head), io::IoSlice::new(body)]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                let from_head = n.min(head.len());
                head = head.get(from_head..).unwrap_or(&[]);
                body = body.get(n - from_head..).unwrap_or(&[]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn connect_one(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, Failure> {
    TcpStream::connect_timeout(&addr, timeout).map_err(|_| Failure::Connect)
}

/// An exchange that failed: `Stale` when the connection broke before any
/// byte of a response came back (worth one retry on a fresh connection if
/// the connection was a kept-alive one).
enum Attempt {
    Stale,
    Failed(Failure),
}

fn stale_or(e: &io::Error) -> Attempt {
    match e.kind() {
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::UnexpectedEof => Attempt::Stale,
        _ => Attempt::Failed(Failure::from_io(e)),
    }
}

/// Bytes of a response: `buf[pos..end]` not yet consumed.
struct Input<'a> {
    stream: &'a mut TcpStream,
    buf: &'a mut [u8],
    pos: usize,
    end: usize,
}

impl Input<'_> {
    /// Reads more after `end` (moving the unconsumed bytes to the front when
    /// the buffer is full); `Ok(0)` at the end of the connection.
    fn fill(&mut self) -> Result<usize, Failure> {
        if self.end == self.buf.len() {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        let room = self.buf.get_mut(self.end..).ok_or(Failure::BadResponse)?;
        if room.is_empty() {
            return Err(Failure::BadResponse);
        }
        loop {
            match self.stream.read(room) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::from_io(&e)),
            }
        }
    }

    fn available(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    /// Up to `max` bytes (at least one), reading if none is buffered.
    fn take(&mut self, max: usize) -> Result<&[u8], Failure> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
            if self.fill()? == 0 {
                return Err(Failure::Io);
            }
        }
        let n = max.min(self.end - self.pos);
        let start = self.pos;
        self.pos += n;
        self.buf.get(start..start + n).ok_or(Failure::BadResponse)
    }

    /// One line ending in `\n` (at most 4 KiB), without its `\r\n`.
    fn line<'b>(&mut self, out: &'b mut [u8; 256]) -> Result<&'b [u8], Failure> {
        let mut n = 0;
        loop {
            let b = *self.take(1)?.first().ok_or(Failure::BadResponse)?;
            if b == b'\n' {
                let line = out.get(..n).ok_or(Failure::BadResponse)?;
                return Ok(line.strip_suffix(b"\r").unwrap_or(line));
            }
            *out.get_mut(n).ok_or(Failure::BadResponse)? = b;
            n += 1;
        }
    }
}

/// Body bytes kept in `excerpt` and counted against [`MAX_BODY_BYTES`].
fn keep(excerpt: &mut Vec<u8>, total: &mut usize, bytes: &[u8]) -> Result<(), Failure> {
    *total += bytes.len();
    if *total > MAX_BODY_BYTES {
        return Err(Failure::BadResponse);
    }
    let room = EXCERPT_BYTES.saturating_sub(excerpt.len());
    excerpt.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(&[]));
    Ok(())
}

/// How the body of a response ends.
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// Reads one response; returns its status and whether the connection can
/// carry another request.
fn read_response(
    stream: &mut TcpStream,
    buf: &mut [u8],
    excerpt: &mut Vec<u8>,
) -> Result<(u16, bool), Attempt> {
    let mut input = Input {
        stream,
        buf,
        pos: 0,
        end: 0,
    };
    // The head; 1xx interim responses are skipped.
    let mut got_any = false;
    let (status, framing, mut keep_alive) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 48];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(input.available()) {
            Ok(httparse::Status::Complete(len)) => {
                let status = resp.code.unwrap_or(0);
                let http10 = resp.version == Some(0);
                let mut framing = Framing::Close;
                let mut keep_alive = !http10;
                for h in resp.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        let n = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .ok_or(Attempt::Failed(Failure::BadResponse))?;
                        if !matches!(framing, Framing::Chunked) {
                            framing = Framing::Length(n);
                        }
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        if contains_token(h.value, b"chunked") {
                            framing = Framing::Chunked;
                        }
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        if contains_token(h.value, b"close") {
                            keep_alive = false;
                        } else if contains_token(h.value, b"keep-alive") {
                            keep_alive = true;
                        }
                    }
                }
                input.pos += len;
                if (100..200).contains(&status) {
                    continue;
                }
                if status == 204 || status == 304 {
                    framing = Framing::Length(0);
                }
                break (status, framing, keep_alive);
            }
            Ok(httparse::Status::Partial) => {
                if input.pos > 0 {
                    input.buf.copy_within(input.pos..input.end, 0);
                    input.end -= input.pos;
                    input.pos = 0;
                }
                if input.end == input.buf.len() {
                    return Err(Attempt::Failed(Failure::BadResponse));
                }
                match input.fill() {
                    Ok(0) if !got_any && input.end == 0 => return Err(Attempt::Stale),
                    Ok(0) => return Err(Attempt::Failed(Failure::Io)),
                    Ok(_) => got_any = true,
                    Err(Failure::Io) if !got_any => return Err(Attempt::Stale),
                    Err(f) => return Err(Attempt::Failed(f)),
                }
            }
            Err(_) => return Err(Attempt::Failed(Failure::BadResponse)),
        }
    };
    let mut total = 0usize;
    let failed = Attempt::Failed;
    match framing {
        Framing::Length(mut left) => {
            if left > MAX_BODY_BYTES {
                return Err(failed(Failure::BadResponse));
            }
            while left > 0 {
                let bytes = input.take(left).map_err(failed)?;
                left -= bytes.len();
                keep(excerpt, &mut total, bytes).map_err(failed)?;
            }
        }
        Framing::Chunked => {
            let mut line = [0u8; 256];
            loop {
                let size_line = input.line(&mut line).map_err(failed)?;
                let hex = size_line
                    .split(|&b| b == b';')
                    .next()
                    .unwrap_or(&[])
                    .trim_ascii();
                let size = std::str::from_utf8(hex)
                    .ok()
                    .filter(|h| !h.is_empty() && h.len() <= 8)
                    .and_then(|h| usize::from_str_radix(h, 16).ok())
                    .ok_or(failed(Failure::BadResponse))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    while !input.line(&mut line).map_err(failed)?.is_empty() {}
                    break;
                }
                let mut left = size;
                while left > 0 {
                    let bytes = input.take(left).map_err(failed)?;
                    left -= bytes.len();
                    keep(excerpt, &mut total, bytes).map_err(failed)?;
                }
                if !input.line(&mut line).map_err(failed)?.is_empty() {
                    return Err(failed(Failure::BadResponse));
                }
            }
        }
        Framing::Close => {
            keep_alive = false;
            loop {
                match input.take(EXCERPT_BYTES) {
                    Ok(bytes) => keep(excerpt, &mut total, bytes).map_err(failed)?,
                    Err(Failure::Io) => break,
                    Err(f) => return Err(failed(f)),
                }
            }
        }
    }
    // Bytes past the response: the server sent what was not asked for.
    if input.pos != input.end {
        keep_alive = false;
    }
    Ok((status, keep_alive))
}

/// Whether the comma-separated header value holds `token` (any case).
fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}
