//! The hub: channels by (app, name) and their subscribers, the demo's local
//! adapter in sockudo's terms. Every operation counts in
//! `adapter_operations_total{operation}` and its time in
//! `adapter_latency_seconds{operation}`; a broadcast with a failed delivery
//! counts in `adapter_errors_total`. Channel and presence changes update
//! sockudo's channel families and enqueue Pusher webhooks.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use crate::metrics::{AdapterOp, AppHandles, ChannelType, Metrics};
use crate::webhooks::{Job, Queue};

/// One client connection's write side and its app's metric handles.
pub(crate) struct Conn {
    pub id: u64,
    out: Mutex<TcpStream>,
    pub app: AppHandles,
    m: &'static Metrics,
}

impl Conn {
    pub(crate) fn new(id: u64, out: TcpStream, app: AppHandles, m: &'static Metrics) -> Self {
        Conn {
            id,
            out: Mutex::new(out),
            app,
            m,
        }
    }

    /// Writes one line; counts bytes, or an error.
    pub(crate) fn send(&self, line: &[u8]) -> io::Result<()> {
        let r = match self.out.lock() {
            Ok(mut s) => s.write_all(line),
            Err(p) => p.into_inner().write_all(line),
        };
        match &r {
            Ok(()) => rec!(self
                .m
                .soketi
                .socket_transmitted_bytes
                .inc_by(line.len() as u64)),
            Err(_) => rec!(self.app.connection_errors.inc()),
        }
        r
    }
}

#[derive(Default)]
struct Channel {
    subscribers: Vec<Arc<Conn>>,
}

/// Channels by (app, name).
pub(crate) struct Hub {
    channels: RwLock<HashMap<(Arc<str>, String), Channel>>,
    m: &'static Metrics,
    webhooks: Queue,
}

/// Counts one adapter operation that started at `start`.
fn op(m: &Metrics, op: AdapterOp, start: Instant, failed: bool) {
    let a = &m.sockudo;
    rec!(a.adapter_operations.with(op).inc());
    rec!(a
        .adapter_latency
        .with(op)
        .observe(start.elapsed().as_secs_f64()));
    if failed {
        rec!(a.adapter_errors.with(op).inc());
    }
}

impl Hub {
    pub(crate) fn new(m: &'static Metrics, webhooks: Queue) -> Self {
        Hub {
            channels: RwLock::default(),
            m,
            webhooks,
        }
    }

    fn webhook(&self, app: &AppHandles, event: &str, channel: &str, user: Option<u64>) {
        self.webhooks.push(Job::new(
            event,
            channel,
            user,
            app.webhooks_sent,
            app.webhooks_failed,
        ));
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(Arc<str>, String), Channel>> {
        match self.channels.read() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<(Arc<str>, String), Channel>> {
        match self.channels.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    /// Subscribes `conn` (of `app`) to `channel`; false if it already was.
    pub(crate) fn subscribe(&self, app: &Arc<str>, channel: &str, conn: &Arc<Conn>) -> bool {
        let start = Instant::now();
        let kind = ChannelType::of(channel);
        let h = &conn.app;
        let mut map = self.write();
        let ch = map
            .entry((app.clone(), channel.to_owned()))
            .or_insert_with(|| {
                rec!(h.active_channels[kind as usize].inc());
                self.webhook(h, "channel_occupied", channel, None);
                Channel::default()
            });
        let added = !ch.subscribers.iter().any(|c| c.id == conn.id);
        if added {
            ch.subscribers.push(conn.clone());
            rec!(self.m.own.subscriptions.with(kind).inc());
            rec!(h.subscriptions[kind as usize].inc());
            if kind == ChannelType::Presence {
                rec!(h.presence_members.inc());
                self.webhook(h, "member_added", channel, Some(conn.id));
            }
        }
        drop(map);
        op(self.m, AdapterOp::Subscribe, start, false);
        added
    }

    /// Removes connection `conn_id` (whose app handles are `h`) from
    /// `channel`; false if it was not subscribed.
    pub(crate) fn unsubscribe(
        &self,
        app: &Arc<str>,
        channel: &str,
        conn_id: u64,
        h: &AppHandles,
    ) -> bool {
        let start = Instant::now();
        let kind = ChannelType::of(channel);
        let mut map = self.write();
        let key = (app.clone(), channel.to_owned());
        let removed = match map.get_mut(&key) {
            None => false,
            Some(ch) => {
                let before = ch.subscribers.len();
                ch.subscribers.retain(|c| c.id != conn_id);
                let removed = ch.subscribers.len() != before;
                if removed {
                    rec!(self.m.own.subscriptions.with(kind).dec());
                    rec!(h.unsubscriptions[kind as usize].inc());
                    if kind == ChannelType::Presence {
                        rec!(h.presence_members.dec());
                        self.webhook(h, "member_removed", channel, Some(conn_id));
                    }
                }
                if ch.subscribers.is_empty() {
                    map.remove(&key);
                    rec!(h.active_channels[kind as usize].dec());
                    self.webhook(h, "channel_vacated", channel, None);
                }
                removed
            }
        };
        drop(map);
        op(self.m, AdapterOp::Unsubscribe, start, false);
        removed
    }

    /// Sends `line` to every subscriber of `channel`; returns how many got
    /// it. `origin` is the publish time in Unix nanoseconds.
    pub(crate) fn publish(&self, app: &Arc<str>, channel: &str, line: &[u8], origin: u64) -> usize {
        let start = Instant::now();
        let kind = ChannelType::of(channel) as usize;
        let subscribers: Vec<Arc<Conn>> = match self.read().get(&(app.clone(), channel.to_owned()))
        {
            Some(ch) => ch.subscribers.clone(),
            None => Vec::new(),
        };
        let mut delivered = 0;
        for s in &subscribers {
            if s.send(line).is_ok() {
                rec!(s.app.sent[kind].inc());
                rec!(self
                    .m
                    .own
                    .fanout
                    .observe(crate::unix_nanos().saturating_sub(origin) as f64 / 1e9));
                delivered += 1;
            }
        }
        op(
            self.m,
            AdapterOp::Broadcast,
            start,
            delivered != subscribers.len(),
        );
        delivered
    }

    /// The occupied channels of `app` and their subscriber counts, sorted.
    pub(crate) fn channels(&self, app: &str) -> Vec<(String, usize)> {
        let start = Instant::now();
        let mut out: Vec<(String, usize)> = self
            .read()
            .iter()
            .filter(|((a, _), _)| &**a == app)
            .map(|((_, name), ch)| (name.clone(), ch.subscribers.len()))
            .collect();
        out.sort();
        op(self.m, AdapterOp::Channels, start, false);
        out
    }

    /// How many subscribe to `channel` of `app` (0 when unoccupied).
    pub(crate) fn channel(&self, app: &Arc<str>, channel: &str) -> usize {
        let start = Instant::now();
        let n = self
            .read()
            .get(&(app.clone(), channel.to_owned()))
            .map_or(0, |ch| ch.subscribers.len());
        op(self.m, AdapterOp::Channel, start, false);
        n
    }

    /// The connection ids present in presence channel `channel` of `app`.
    pub(crate) fn members(&self, app: &Arc<str>, channel: &str) -> Vec<u64> {
        let start = Instant::now();
        let ids = self
            .read()
            .get(&(app.clone(), channel.to_owned()))
            .map_or(Vec::new(), |ch| {
                ch.subscribers.iter().map(|c| c.id).collect()
            });
        op(self.m, AdapterOp::Members, start, false);
        ids
    }
}
