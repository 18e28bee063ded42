//! Public facts about the shard table, for documentation and benchmarks.

use super::binding;
use super::table::{global_shards, Shards};

/// Shard facts for documentation and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardInfo {
    /// Slots leased one per recording thread (single writer, no `lock` prefix).
    pub exclusive: usize,
    /// Slots shared by threads beyond the exclusive ones (atomic adds).
    pub shared: usize,
}

impl ShardInfo {
    /// The shard table of this process.
    ///
    /// ```
    /// let info = nanometrics::ShardInfo::current();
    /// assert!(info.exclusive >= 1 && info.shared >= 1);
    /// ```
    pub fn current() -> Self {
        let s = global_shards();
        Self {
            exclusive: s.exclusive_len(),
            shared: s.len() - s.exclusive_len(),
        }
    }

    /// Whether the calling thread records into an exclusive slot of its own
    /// (a plain load and store per update) rather than a shared one (an
    /// atomic add through the slow path). False before the thread's first
    /// update and while every exclusive slot is leased to other threads; a
    /// thread on a shared slot takes an exclusive one at its first update
    /// after another thread has returned one (by exiting).
    ///
    /// ```
    /// use nanometrics::{Counter, ShardInfo};
    /// static C: Counter = Counter::new("jobs_total", "Jobs.");
    /// std::thread::spawn(|| {
    ///     assert!(!ShardInfo::thread_is_exclusive(), "nothing recorded yet");
    ///     C.inc();
    ///     // True unless more threads than exclusive slots record at once.
    ///     println!("exclusive: {}", ShardInfo::thread_is_exclusive());
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    pub fn thread_is_exclusive() -> bool {
        binding::thread_is_exclusive()
    }

    /// The shard table nanometrics would build on a machine with `cores` cores.
    ///
    /// ```
    /// let info = nanometrics::ShardInfo::for_cores(64);
    /// assert_eq!((info.exclusive, info.shared), (68, 16));
    /// ```
    pub const fn for_cores(cores: usize) -> Self {
        let (exclusive, shared) = Shards::counts_for(cores);
        Self { exclusive, shared }
    }

    /// Worst-case bytes of cells for a series of `cells` cells: every slot
    /// written (plus the home slot for gauges).
    pub const fn bytes_per_series(&self, cells: usize) -> usize {
        (self.exclusive + self.shared + 1) * cells * 8
    }
}
