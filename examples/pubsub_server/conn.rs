//! One client connection of the line protocol (`APP`, `SUB`, `UNSUB`, `PUB`,
//! `PING`): reads bounded lines, keeps the connection's app handles, applies
//! the rate limit and publishes through the hub.

use std::io::{self, BufRead, BufReader, Read};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hub::{Conn, Hub};
use crate::metrics::{ChannelType, Metrics};
use crate::{unix_nanos, SHUTDOWN};

/// The longest line, in bytes.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// A token bucket: `rate` publishes per second, bursts up to one second's worth.
struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Serves connection `id` until it closes, errs or the server shuts down.
/// The connection is in app `default` until it sends `APP`; sockudo's
/// per-app connection families follow it from app to app. An error that
/// ends the connection counts in its app's `connection_errors_total`.
pub(crate) fn handle(
    hub: &Hub,
    m: &'static Metrics,
    stream: TcpStream,
    id: u64,
    rate: f64,
) -> io::Result<()> {
    let setup = || -> io::Result<TcpStream> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.try_clone()
    };
    let out = match setup() {
        Ok(out) => out,
        Err(e) => {
            rec!(m.app("default").connection_errors.inc());
            return Err(e);
        }
    };
    let mut app: Arc<str> = Arc::from("default");
    let mut conn = Arc::new(Conn::new(id, out, m.app(&app), m));
    rec!(conn.app.join());
    let mut subscribed: Vec<String> = Vec::new();
    let mut limit = RateLimit {
        rate,
        tokens: rate,
        last: Instant::now(),
    };
    let mut reader = BufReader::with_capacity(MAX_LINE, stream);
    let mut line = Vec::with_capacity(256);
    let result = loop {
        if SHUTDOWN.load(Ordering::Relaxed) {
            break Ok(());
        }
        let n = match reader
            .by_ref()
            .take((MAX_LINE + 1 - line.len()) as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) if line.is_empty() => break Ok(()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => break Err(e),
        };
        rec!(m.soketi.socket_received_bytes.inc_by(n as u64));
        if line.last() != Some(&b'\n') {
            if line.len() > MAX_LINE {
                let _ = conn.send(b"ERR line too long\n");
                break Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if n == 0 {
                break Ok(()); // EOF mid-line
            }
            continue; // partial line: keep reading
        }
        let text = String::from_utf8_lossy(line.get(..line.len() - 1).unwrap_or_default())
            .trim_end_matches('\r')
            .to_owned();
        line.clear();
        let (cmd, rest) = text.split_once(' ').unwrap_or((text.as_str(), ""));
        let reply: &[u8] = match cmd {
            "PING" => b"PONG\n",
            "APP" if !rest.is_empty() && !rest.contains(' ') => {
                // Leave the old app's channels, then re-key this connection
                // under the new app: handles are kept per connection so the
                // hot path does no lookup.
                let out = match reader.get_ref().try_clone() {
                    Ok(out) => out,
                    Err(e) => break Err(e),
                };
                for ch in subscribed.drain(..) {
                    hub.unsubscribe(&app, &ch, id, &conn.app);
                }
                rec!(conn.app.leave());
                app = Arc::from(rest);
                conn = Arc::new(Conn::new(id, out, m.app(&app), m));
                rec!(conn.app.join());
                b"OK\n"
            }
            "SUB" if !rest.is_empty() && !rest.contains(' ') => {
                if hub.subscribe(&app, rest, &conn) {
                    subscribed.push(rest.to_owned());
                }
                b"OK\n"
            }
            "UNSUB" if !rest.is_empty() => {
                hub.unsubscribe(&app, rest, id, &conn.app);
                subscribed.retain(|c| c != rest);
                b"OK\n"
            }
            "PUB" => match rest.split_once(' ') {
                Some((channel, payload)) if !channel.is_empty() => {
                    let kind = ChannelType::of(channel) as usize;
                    let now = unix_nanos();
                    let origin = payload
                        .rsplit(' ')
                        .next()
                        .and_then(|t| t.parse::<u64>().ok())
                        .filter(|t| t.abs_diff(now) < 60_000_000_000)
                        .unwrap_or(now);
                    let h = &conn.app;
                    rec!(h.received[kind].inc());
                    rec!(h.client_events.inc());
                    rec!(h.rate_limit_checks.inc());
                    if limit.allow() {
                        rec!(h.broadcast[kind].inc());
                        let mut msg = Vec::with_capacity(channel.len() + payload.len() + 6);
                        msg.extend_from_slice(b"MSG ");
                        msg.extend_from_slice(channel.as_bytes());
                        msg.push(b' ');
                        msg.extend_from_slice(payload.as_bytes());
                        msg.push(b'\n');
                        hub.publish(&app, channel, &msg, origin);
                        continue;
                    }
                    rec!(h.rate_limit_triggered.inc());
                    b"ERR rate limited\n"
                }
                _ => b"ERR usage: PUB <channel> <payload>\n",
            },
            _ => b"ERR unknown command\n",
        };
        if conn.send(reply).is_err() {
            break Ok(());
        }
    };
    for ch in subscribed {
        hub.unsubscribe(&app, &ch, id, &conn.app);
    }
    rec!(conn.app.leave());
    if result.is_err() {
        rec!(conn.app.connection_errors.inc());
    }
    result
}
