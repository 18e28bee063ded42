//! The recorder's name table: metric names as the facade hands them over
//! (before sanitizing) to what the recorder resolved them to.
//!
//! A lookup takes no lock and writes nothing: it hashes the name, probes an
//! open-addressing array of [`OnceLock`] slots from the hash, and compares
//! the hash and then the name of each filled slot until it meets an empty
//! one. Slots are only ever filled, once each, by writers the recorder
//! serializes with its mutex, so a name is never in two slots. The array is
//! sized at construction to twice the name limit (rounded up to a power of
//! two) and never grows, so a probe always ends at an empty slot and a
//! lookup never waits for a rebuild; past the limit the recorder drops new
//! names instead.

use std::hash::BuildHasher;
// `OnceLock` is std's: the facade is not built under loom (`lib.rs`).
use std::sync::OnceLock;

struct Slot<T> {
    hash: u64,
    name: Box<str>,
    value: T,
}

/// A fixed-capacity, insert-only map from names to `T`.
pub(crate) struct Names<T> {
    slots: Box<[OnceLock<Box<Slot<T>>>]>,
    hasher: foldhash::fast::RandomState,
}

impl<T> Names<T> {
    /// A table with room for `limit` names (the caller keeps to it).
    pub(crate) fn new(limit: usize) -> Self {
        let size = limit.max(1).saturating_mul(2).next_power_of_two();
        Self {
            slots: (0..size).map(|_| OnceLock::new()).collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// The slots to probe for `hash`, in order: from its home slot round
    /// to the one before it.
    fn probe(&self, hash: u64) -> impl Iterator<Item = &OnceLock<Box<Slot<T>>>> {
        let start = hash as usize & (self.slots.len() - 1);
        let (head, tail) = self.slots.split_at(start);
        tail.iter().chain(head)
    }

    /// The value for `name`; no lock, no write.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<&T> {
        let hash = self.hasher.hash_one(name);
        for slot in self.probe(hash) {
            // An empty slot ends the probe: inserts never empty one.
            let s = slot.get()?;
            if s.hash == hash && *s.name == *name {
                return Some(&s.value);
            }
        }
        None
    }

    /// Adds `name`, which is not in the table. Callers serialize inserts
    /// (the recorder's mutex) and keep to the limit given to
    /// [`new`](Self::new); `None` only if they did not.
    pub(crate) fn insert(&self, name: &str, value: T) -> Option<&T> {
        let hash = self.hasher.hash_one(name);
        let empty = self.probe(hash).find(|s| s.get().is_none())?;
        let slot = Box::new(Slot {
            hash,
            name: name.into(),
            value,
        });
        empty.set(slot).ok()?;
        empty.get().map(|s| &s.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_up_to_the_limit() {
        let t = Names::new(100);
        for i in 0..100 {
            assert!(t.get(&format!("m{i}")).is_none());
            assert_eq!(t.insert(&format!("m{i}"), i), Some(&i));
        }
        for i in 0..100 {
            assert_eq!(t.get(&format!("m{i}")), Some(&i));
        }
        assert!(t.get("m100").is_none());
        let one = Names::new(0);
        assert_eq!(one.insert("a", 1), Some(&1));
        assert_eq!(one.get("a"), Some(&1));
        assert_eq!(one.insert("b", 2), Some(&2), "room for twice the limit");
        assert_eq!(one.insert("c", 3), None, "full: the caller broke the limit");
    }
}
