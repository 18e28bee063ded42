//! Cells of removed series, kept out of reuse for a grace period.
//!
//! A handle checks that its series is live, then writes its cell (see
//! [`Series`](super::Series)): an update that passed the check just before
//! the series was removed still writes afterwards. Its cells therefore wait
//! here for [`GRACE`] before they are zeroed in every slot and handed to the
//! allocator, so that such a late write lands in cells nobody reads rather
//! than in a series that reuses them; it would have to be descheduled for
//! longer than the grace period between two adjacent instructions to land
//! later. Blocks leave in the order they came (a queue).
//!
//! Under loom, which has no clock, the grace period is zero: blocks leave
//! at the next allocation, and the models see every interleaving of a late
//! write with their reuse.

use std::collections::VecDeque;

/// How long removed cells wait before reuse.
#[cfg(not(nanometrics_loom))]
pub(crate) const GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// When a block entered the quarantine.
#[cfg(not(nanometrics_loom))]
type Stamp = std::time::Instant;
#[cfg(nanometrics_loom)]
type Stamp = ();

/// Blocks `(start, len)` waiting for reuse, oldest first.
pub(super) struct Quarantine {
    blocks: VecDeque<(u32, u32, Stamp)>,
}

impl Quarantine {
    pub(super) const fn new() -> Self {
        Self {
            blocks: VecDeque::new(),
        }
    }

    /// Takes in the block `start..start + len`.
    pub(super) fn push(&mut self, start: u32, len: u32) {
        #[cfg(not(nanometrics_loom))]
        let stamp = std::time::Instant::now();
        #[cfg(nanometrics_loom)]
        let stamp = ();
        self.blocks.push_back((start, len, stamp));
    }

    /// The oldest block, taken out if its grace period is over.
    pub(super) fn pop_expired(&mut self) -> Option<(u32, u32)> {
        let &(start, len, _stamp) = self.blocks.front()?;
        #[cfg(not(nanometrics_loom))]
        if _stamp.elapsed() < GRACE {
            return None;
        }
        self.blocks.pop_front();
        Some((start, len))
    }
}
