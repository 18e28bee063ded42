// `KeySet`: the names claimed in an exposition and the label sets written
// in a family, kept between scrapes.

/// A set of byte strings, compared exactly, that keeps its memory between
/// uses: an open-addressing table of indices into a byte arena. Clearing is
/// O(1) (a generation stamp), so a per-family set costs nothing per family.
#[derive(Default)]
struct KeySet {
    arena: Vec<u8>,
    /// (start, end, hash) of each key in `arena`.
    spans: Vec<(u32, u32, u64)>,
    /// (generation, 1 + index into `spans`); live only if the generation is
    /// the current one. Length: zero or a power of two.
    table: Vec<(u32, u32)>,
    generation: u32,
}

impl KeySet {
    fn clear(&mut self) {
        self.arena.clear();
        self.spans.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.table.iter_mut().for_each(|s| *s = (0, 0));
            self.generation = 1;
        }
    }

    fn hash(key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::with_seed(0x6e61_6e6f).hash_one(key)
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn find(&self, key: &[u8], hash: u64) -> Option<(usize, bool)> {
        let mask = self.table.len().checked_sub(1)?;
        let mut i = hash as usize & mask;
        loop {
            let (generation, index) = *self.table.get(i)?;
            if generation != self.generation || index == 0 {
                return Some((i, false));
            }
            let (s, e, h) = *self.spans.get(index as usize - 1)?;
            if h == hash && self.arena.get(s as usize..e as usize) == Some(key) {
                return Some((i, true));
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether `key` is in the set.
    #[cfg(test)]
    fn contains(&self, key: &[u8]) -> bool {
        self.contains_hashed(key, Self::hash(key))
    }

    /// Whether `key`, whose [`hash`](Self::hash) is `hash`, is in the set.
    fn contains_hashed(&self, key: &[u8], hash: u64) -> bool {
        self.find(key, hash).is_some_and(|(_, found)| found)
    }

    /// Adds `key`; `false` if it was already there.
    fn insert(&mut self, key: &[u8]) -> bool {
        self.insert_hashed(key, Self::hash(key))
    }

    /// [`insert`](Self::insert) of `key`, whose hash is `hash`.
    fn insert_hashed(&mut self, key: &[u8], hash: u64) -> bool {
        let mut slot = self.find(key, hash);
        if slot.is_some_and(|(_, found)| found) {
            return false;
        }
        if (self.spans.len() + 1) * 2 > self.table.len() {
            self.grow();
            slot = self.find(key, hash);
        }
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(key);
        self.spans.push((start, self.arena.len() as u32, hash));
        let entry = (self.generation, self.spans.len() as u32);
        if let Some((i, _)) = slot {
            if let Some(slot) = self.table.get_mut(i) {
                *slot = entry;
            }
        }
        true
    }

    #[cold]
    fn grow(&mut self) {
        let size = (self.table.len() * 2).max(16);
        self.table.clear();
        self.table.resize(size, (0, 0));
        let mask = size - 1;
        for (k, &(_, _, hash)) in self.spans.iter().enumerate() {
            let mut i = hash as usize & mask;
            while let Some(slot) = self.table.get_mut(i) {
                if slot.0 != self.generation || slot.1 == 0 {
                    *slot = (self.generation, k as u32 + 1);
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }
}
