//! The REST API, a subset of Pusher's HTTP API on `127.0.0.1:$PUBSUB_API_PORT`:
//!
//! | request | answer |
//! |---|---|
//! | `POST /apps/<app>/events` with `{"name":…,"channel":…}` or `"channels":[…]` and `"data":…` | publishes `MSG <channel> <data>` to each channel's subscribers; `{}` |
//! | `GET /apps/<app>/channels` | `{"channels":{"<name>":{"subscription_count":N},…}}` |
//! | `GET /apps/<app>/channels/<name>` | `{"occupied":…,"subscription_count":N}`, from the channel-info cache when fresh |
//! | `GET /apps/<app>/channels/<presence-name>/users` | `{"users":[{"id":"<connection id>"},…]}` |
//!
//! One request per connection (`Connection: close`), served one connection
//! at a time with 2-second socket timeouts and 5 seconds per request, heads
//! up to 8 KiB, bodies up to 64 KiB, at most 100 channels per event, no
//! `\n` or `\r` in `data`.
//! Records soketi's `http_received_bytes`/`http_transmitted_bytes` and
//! sockudo's `http_requests_total{method,endpoint,status}`,
//! `http_request_duration_seconds{method,endpoint}` and
//! `http_response_size_bytes{method,endpoint}`; `endpoint` is the route
//! (`/events`, `/channels`, `/channels/:channel_name`,
//! `/channels/:channel_name/users`, or `unknown`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::http1::{self, json_str, Request};
use crate::hub::Hub;
use crate::json::{self, Value};
use crate::metrics::{ChannelType, Metrics};
use crate::{unix_nanos, SHUTDOWN};

/// Socket timeouts of one REST connection.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Pusher's limit on channels per event.
const MAX_CHANNELS: usize = 100;

/// An answer: status, body.
type Answer = (u16, String);

fn err(status: u16, reason: &str) -> Answer {
    (status, format!("{{\"error\":{}}}", json_str(reason)))
}

/// The method as a bounded label value.
fn method_label(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        _ => "other",
    }
}

/// A path segment the API accepts as an app id or channel name.
fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=@,.;".contains(&b))
}

struct Api {
    hub: Arc<Hub>,
    cache: Cache,
    m: &'static Metrics,
}

impl Api {
    /// Routes `req`: the endpoint label and the answer.
    fn route(&self, req: &Request) -> (&'static str, Answer) {
        let segs: Vec<&str> = req.path.trim_end_matches('/').split('/').collect();
        let (endpoint, app, channel) = match segs.as_slice() {
            ["", "apps", app, "events"] => ("/events", *app, None),
            ["", "apps", app, "channels"] => ("/channels", *app, None),
            ["", "apps", app, "channels", ch] => ("/channels/:channel_name", *app, Some(*ch)),
            ["", "apps", app, "channels", ch, "users"] => {
                ("/channels/:channel_name/users", *app, Some(*ch))
            }
            _ => return ("unknown", err(404, "no such endpoint")),
        };
        let want = if endpoint == "/events" { "POST" } else { "GET" };
        if req.method != want {
            return (endpoint, err(405, "method not allowed"));
        }
        if !name_ok(app) || !channel.is_none_or(name_ok) {
            return (endpoint, err(400, "bad app id or channel name"));
        }
        let app: Arc<str> = Arc::from(app);
        let answer = match (endpoint, channel) {
            ("/events", _) => self.trigger(&app, &req.body),
            ("/channels", _) => {
                let list: Vec<String> = self
                    .hub
                    .channels(&app)
                    .iter()
                    .map(|(name, n)| format!("{}:{{\"subscription_count\":{n}}}", json_str(name)))
                    .collect();
                (200, format!("{{\"channels\":{{{}}}}}", list.join(",")))
            }
            ("/channels/:channel_name", Some(ch)) => {
                let key = format!("{app}/{ch}");
                match self.cache.get(&key) {
                    Some(body) => (200, body),
                    None => {
                        let n = self.hub.channel(&app, ch);
                        let body = format!("{{\"occupied\":{},\"subscription_count\":{n}}}", n > 0);
                        self.cache.set(key, body.clone());
                        (200, body)
                    }
                }
            }
            (_, Some(ch)) if ChannelType::of(ch) == ChannelType::Presence => {
                let users: Vec<String> = self
                    .hub
                    .members(&app, ch)
                    .iter()
                    .map(|id| format!("{{\"id\":\"{id}\"}}"))
                    .collect();
                (200, format!("{{\"users\":[{}]}}", users.join(",")))
            }
            _ => err(400, "not a presence channel"),
        };
        (endpoint, answer)
    }

    /// `POST /apps/<app>/events`.
    fn trigger(&self, app: &Arc<str>, body: &[u8]) -> Answer {
        let fields = match json::parse_object(body) {
            Ok(f) => f,
            Err(e) => return err(400, &format!("body is not a JSON object: {e}")),
        };
        let (mut name, mut data, mut channels) = (None, None, Vec::new());
        for (k, v) in fields {
            match (k.as_str(), v) {
                ("name", Value::Str(s)) => name = Some(s),
                ("data", Value::Str(s)) => data = Some(s),
                ("channel", Value::Str(s)) => channels.push(s),
                ("channels", Value::Strs(v)) => channels.extend(v),
                ("name" | "data" | "channel" | "channels", _) => {
                    return err(400, &format!("{k} has the wrong type"))
                }
                _ => {}
            }
        }
        let (Some(_), Some(data)) = (name, data) else {
            return err(400, "name and data are required");
        };
        if channels.is_empty() || channels.len() > MAX_CHANNELS {
            return err(400, "give 1 to 100 channels");
        }
        if let Some(bad) = channels.iter().find(|c| !name_ok(c)) {
            return err(400, &format!("bad channel name {bad:?}"));
        }
        if data.contains(['\n', '\r']) {
            return err(400, "data may not contain line breaks");
        }
        // Only the broadcast series of this app: a REST call does not make
        // the app's connection series.
        let broadcast = &self.m.sockudo.broadcast_messages;
        for ch in &channels {
            rec!(broadcast.with([app, ChannelType::of(ch).as_str()]).inc());
            let line = format!("MSG {ch} {data}\n");
            self.hub.publish(app, ch, line.as_bytes(), unix_nanos());
        }
        (200, "{}".to_owned())
    }

    /// Reads, answers and records one connection's request.
    fn serve(&self, mut s: TcpStream) {
        let start = Instant::now();
        let _ = s.set_nonblocking(false);
        let _ = s.set_read_timeout(Some(TIMEOUT));
        let _ = s.set_write_timeout(Some(TIMEOUT));
        let k = &self.m.soketi;
        let read = http1::read_request(&mut s, &mut |n| {
            rec!(k.http_received_bytes.inc_by(n as u64))
        });
        let (method, endpoint, (status, body)) = match read {
            Ok(req) => {
                let (endpoint, answer) = self.route(&req);
                (method_label(&req.method), endpoint, answer)
            }
            Err(r) => match r.status {
                Some(code) => ("other", "unknown", err(code, r.reason)),
                None => return,
            },
        };
        let Ok(written) = http1::respond(&mut s, status, &body) else {
            return;
        };
        let q = &self.m.sockudo;
        rec!(k.http_transmitted_bytes.inc_by(written as u64));
        let code = status.to_string();
        rec!(q
            .http_requests
            .with([method, endpoint, code.as_str()])
            .inc());
        rec!(q
            .http_request_duration
            .with([method, endpoint])
            .observe(start.elapsed().as_secs_f64()));
        rec!(q
            .http_response_size
            .with([method, endpoint])
            .observe(written as f64));
    }
}

/// Starts the REST API on `addr` (127.0.0.1).
pub(crate) fn start(
    addr: SocketAddr,
    hub: Arc<Hub>,
    m: &'static Metrics,
) -> Result<(SocketAddr, JoinHandle<()>), String> {
    let listener = TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("cannot listen on {addr} (PUBSUB_API_PORT): {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let api = Api {
        hub,
        cache: Cache::new(m),
        m,
    };
    let thread = thread::Builder::new()
        .name("rest-api".into())
        .spawn(move || {
            while !SHUTDOWN.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => api.serve(s),
                    Err(e) => {
                        if let Some(pause) = crate::accept_pause(&e) {
                            thread::sleep(pause);
                        }
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the REST API: {e}"))?;
    Ok((bound, thread))
}
