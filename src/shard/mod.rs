//! Shards: per-thread-owned slots over per-slot cell arenas.
//!
//! # Layout
//!
//! Every metric series owns a small block of *cell indices* (a counter one, a
//! 12-bucket histogram 14). The value of a cell is spread over *slots*: each
//! slot is an arena of 64-bit cells, allocated lazily in [`CHUNK_CELLS`]-cell
//! chunks aligned to 128 bytes. Cell `i` of slot `s` lives in slot `s`'s chunk
//! `i / CHUNK_CELLS`, so the cells of many metrics that one slot writes are
//! packed together in that slot's own cache lines (the layout of the Linux
//! per-CPU allocator), and two slots never share a line. A counter series costs
//! 8 bytes per slot that has ever written anything, not `cores × 128` bytes.
//!
//! # Who writes a slot
//!
//! - *Exclusive* slots (one per core the machine reports, plus a few for
//!   auxiliary threads) are leased to one thread at a time. Their only writer
//!   is the leasing thread, so an update is a plain `load` + `store` with no
//!   `lock` prefix. When the thread exits its lease returns to a free list *with
//!   the values in place*: the next leaseholder keeps adding to them, so nothing
//!   is folded and nothing is lost. The mutex around the free list orders the
//!   old owner's stores before the new owner's loads.
//! - *Shared* slots serve threads that found no exclusive slot free (more
//!   recording threads than slots) and threads that record during their own
//!   thread-local destruction. They are updated with atomic read-modify-writes.
//! - The *home* slot is never leased; it holds the values that must be `set`
//!   (the base of an integer gauge, a float gauge) with atomic RMWs.
//!
//! A read sums the cell over every slot that was ever leased. Each cell is only
//! ever increased by its writers (for counters), and reads are serialised by
//! the registry, so by coherence a later scrape never sees a smaller sum.
//!
//! # Files
//!
//! - `slot.rs`: one slot, its lazily installed chunks and its writes (plain
//!   for the leaseholder, atomic for shared and home slots), and pinning;
//! - `table.rs`: [`Shards`], all slots of a process, the lease free list,
//!   the written-slot marks and the sums a read takes; the global table;
//! - `cell_alloc.rs`: which cell indices a new block gets;
//! - `binding.rs`: which slot this thread writes (its lease, the shared
//!   fallback, the unbound sentinel);
//! - `update.rs`: the hot paths (`add_u64`, `add_f64`, `observe`) and
//!   [`Series`], a series' first cell as they take it;
//! - `cells.rs`: [`Cells`], a metric's block of cells, allocated on first use;
//! - `quarantine.rs`: cells of removed series, waiting out a grace period;
//! - `reader.rs`: [`Reader`](reader::Reader), a scrape's many-cells-in-a-row sums;
//! - `info.rs`: [`ShardInfo`], the public facts about the table.

mod binding;
mod cell_alloc;
mod cells;
mod info;
mod quarantine;
mod reader;
mod slot;
mod table;
mod update;

pub(crate) use binding::{local_slot, with_local};
pub(crate) use cells::{lazy_fits, Cells};
pub use info::ShardInfo;
pub(crate) use slot::{add_f64_atomic, Slot};
pub(crate) use table::{global_shards, Shards};
// `pub` (not re-exported by the crate) because the sealed `FamilyKind`'s
// hidden `make_ref` names it.
#[allow(unreachable_pub)]
pub use update::Series;
pub(crate) use update::{add_f64, add_u64, add_u64_at, observe};

/// log2 of the number of cells in one chunk of a slot's arena.
///
/// Smaller under loom (every cell is a modelled atomic) and under Miri (which
/// interprets every initialisation of every chunk and slot table); the code
/// paths are the same, only the sizes differ.
pub(crate) const CHUNK_SHIFT: u32 = if cfg!(nanometrics_loom) {
    3
} else if cfg!(miri) {
    6
} else {
    11
};
/// Cells per chunk: 2048 cells = 16 KiB normally, 64 under Miri, 8 under loom.
pub(crate) const CHUNK_CELLS: usize = 1 << CHUNK_SHIFT;
const CHUNK_MASK: usize = CHUNK_CELLS - 1;
/// Chunks a slot can address: 2048 normally, 64 under Miri, 8 under loom.
pub(crate) const MAX_CHUNKS: usize = if cfg!(nanometrics_loom) {
    8
} else if cfg!(miri) {
    64
} else {
    2048
};
/// Total cells addressable (4 Mi normally, 4 Ki under Miri, 64 under loom):
/// the bound on all live series' cells.
pub(crate) const MAX_CELLS: u32 = (CHUNK_CELLS * MAX_CHUNKS) as u32;

/// The first cell index handed out. Chunk 0 is never allocated in any slot:
/// an index below this one (a metric without cells, or one not allocated yet)
/// finds a null chunk on the hot path and so reaches the slow path through the
/// same test that catches a slot's first touch of a chunk, with no separate
/// "is this index valid" test.
pub(crate) const FIRST_CELL: u32 = CHUNK_CELLS as u32;

#[cfg(all(test, not(nanometrics_loom)))]
mod tests;
