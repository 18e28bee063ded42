//! The channel-info cache: the REST API's answer for one channel
//! (`GET /apps/<app>/channels/<name>`) kept for [`TTL`], at most
//! [`MAX_ENTRIES`] entries. It records sockudo's cache families: a hit or a
//! miss per `get`, an operation per get, set and delete, and the bytes its
//! keys and values hold.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::metrics::{CacheOp, Metrics};

/// How long an answer stays fresh.
pub(crate) const TTL: Duration = Duration::from_secs(1);
/// The most entries kept; past it, stale entries are dropped and a new one
/// is not stored until there is room.
pub(crate) const MAX_ENTRIES: usize = 4096;

pub(crate) struct Cache {
    map: Mutex<HashMap<String, (Instant, String)>>,
    m: &'static Metrics,
}

impl Cache {
    pub(crate) fn new(m: &'static Metrics) -> Self {
        Cache {
            map: Mutex::default(),
            m,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, String)>> {
        match self.map.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    fn bytes(key: &str, value: &str) -> i64 {
        (key.len() + value.len()) as i64
    }

    /// The fresh value under `key`; a stale one is deleted (and is a miss).
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        let c = &self.m.sockudo;
        rec!(c.cache_operations.with(CacheOp::Get).inc());
        let mut map = self.lock();
        let hit = match map.get(key) {
            Some((at, v)) if at.elapsed() < TTL => Some(v.clone()),
            Some((_, v)) => {
                let size = Self::bytes(key, v);
                map.remove(key);
                rec!(c.cache_operations.with(CacheOp::Delete).inc());
                rec!(c.cache_memory_usage.sub(size));
                None
            }
            None => None,
        };
        match hit {
            Some(_) => rec!(c.cache_hits.inc()),
            None => rec!(c.cache_misses.inc()),
        }
        hit
    }

    /// Stores `value` under `key` if there is room.
    pub(crate) fn set(&self, key: String, value: String) {
        let c = &self.m.sockudo;
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            let mut freed = 0;
            let mut deleted = 0;
            map.retain(|k, (at, v)| {
                let keep = at.elapsed() < TTL;
                if !keep {
                    freed += Self::bytes(k, v);
                    deleted += 1;
                }
                keep
            });
            rec!(c.cache_operations.with(CacheOp::Delete).inc_by(deleted));
            rec!(c.cache_memory_usage.sub(freed));
            if map.len() >= MAX_ENTRIES {
                return;
            }
        }
        rec!(c.cache_operations.with(CacheOp::Set).inc());
        let added = Self::bytes(&key, &value);
        if let Some((_, old)) = map.insert(key.clone(), (Instant::now(), value)) {
            rec!(c.cache_memory_usage.sub(Self::bytes(&key, &old)));
        }
        rec!(c.cache_memory_usage.add(added));
    }
}
