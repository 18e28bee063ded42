//! Unit tests of the shard core (slots, table, reader, binding, cells).

use std::ptr;

use super::binding::current;
use super::cells::FAILED;
use super::reader::READER_CHUNKS;
use super::*;
use crate::sync::Ordering;

#[test]
fn exclusive_and_shared_slots_sum() {
    let shards = Shards::new(2, 1);
    let i = shards.alloc_cells(1).unwrap();
    let a = shards.lease().unwrap();
    let b = shards.lease().unwrap();
    assert_eq!((a, b), (0, 1));
    assert!(shards.lease().is_none());
    shards.slot(a).add_u64(i, 3);
    shards.slot(b).add_u64(i, 4);
    shards.shared().add_u64(i, 5);
    assert_eq!(shards.sum_u64(i), 12);
    shards.release(a);
    assert_eq!(shards.lease(), Some(0), "lowest slot is leased first");
    shards.slot(a).add_u64(i, 1);
    assert_eq!(shards.sum_u64(i), 13, "values survive a lease hand-over");
}

#[test]
fn reader_sums_like_the_table() {
    let shards = Shards::new(3, 1);
    let i = shards.alloc_cells(1).unwrap();
    let j = shards.alloc_cells(CHUNK_CELLS as u32).unwrap();
    assert_ne!(i as usize >> CHUNK_SHIFT, j as usize >> CHUNK_SHIFT);
    let a = shards.lease().unwrap();
    let b = shards.lease().unwrap();
    shards.slot(a).add_u64(i, u64::MAX);
    shards.slot(b).add_u64(i, 2);
    shards.shared().add_f64(i + 1, 0.5);
    shards.slot(b).add_f64(i + 1, 0.25);
    shards.slot(b).add_u64(j + 5, 7);
    let mut r = shards.reader();
    assert_eq!(r.sum_u64(i), 1, "wrapping");
    assert_eq!(r.sum_f64(i + 1), 0.75);
    assert_eq!(r.sum_u64(i + 2), 0);
    assert_eq!(r.sum_u64(j + 5), 7, "another chunk: the list is refilled");
    assert_eq!(r.sum_u64(j), 0, "slot a has no such chunk");
    // A slot first written after the list was taken is read at the next
    // refill.
    let c = shards.lease().unwrap();
    shards.slot(c).add_u64(i, 10);
    assert_eq!(r.sum_u64(j + 5), 7);
    assert_eq!(r.sum_u64(i), 11);
    assert_eq!(r.sum_u64(i), shards.sum_u64(i));
}

#[test]
fn reader_with_more_slots_than_it_keeps() {
    let slots = READER_CHUNKS + 3;
    let shards = Shards::new(slots, 1);
    let i = shards.alloc_cells(2).unwrap();
    for k in 0..slots {
        let s = shards.lease().unwrap();
        shards.slot(s).add_u64(i, k as u64 + 1);
        shards.slot(s).add_f64(i + 1, 0.5);
    }
    let mut r = shards.reader();
    assert_eq!(r.sum_u64(i), (slots * (slots + 1) / 2) as u64);
    assert_eq!(r.sum_f64(i + 1), slots as f64 * 0.5);
}

#[test]
fn reader_tail_covers_gaps_shared_slots_and_other_chunks() {
    // More written slots with the chunk than the reader keeps, slots
    // without it in between, shared slots after them, and a second chunk
    // that few slots have.
    let slots = READER_CHUNKS * 5 / 4 + 5;
    let gaps = (0..slots).filter(|k| k % 7 == 3).count();
    let shards = Shards::new(slots, 2);
    let i = shards.alloc_cells(2).unwrap();
    let j = shards.alloc_cells(CHUNK_CELLS as u32).unwrap();
    let mut expect = 0u64;
    let mut expect_f = 0.0f64;
    for k in 0..slots {
        let s = shards.lease().unwrap();
        if k % 7 == 3 {
            // Written, but not in `i`'s chunk.
            shards.slot(s).add_u64(j, 1);
            continue;
        }
        shards.slot(s).add_u64(i, k as u64 + 1);
        shards.slot(s).add_f64(i + 1, k as f64);
        expect += k as u64 + 1;
        expect_f += k as f64;
    }
    for v in [1000, 2000] {
        shards.shared().add_u64(i, v);
        expect += v;
    }
    assert!(slots - gaps > READER_CHUNKS, "a tail exists");
    let mut r = shards.reader();
    assert_eq!(r.sum_u64(i), expect);
    assert_eq!(r.sum_u64(i), shards.sum_u64(i));
    assert_eq!(r.sum_f64(i + 1), expect_f);
    assert_eq!(r.sum_f64(i + 1), shards.sum_f64(i + 1));
    assert_eq!(r.sum_u64(j), gaps as u64, "no tail here");
    assert_eq!(r.sum_u64(j + 1), 0);
    // Back to the first chunk, after more writes into the tail.
    shards.shared().add_u64(i, 5);
    assert_eq!(r.sum_u64(i), expect + 5);
}

#[test]
fn written_slots_from_a_position() {
    let shards = Shards::new(4, 2);
    let positions = |from| {
        let mut v = Vec::new();
        shards.for_each_written_from(from, |at, s| {
            assert!(ptr::eq(s, shards.slot(at)));
            v.push(at);
        });
        v
    };
    assert!(positions(0).is_empty());
    shards.lease().unwrap();
    shards.lease().unwrap();
    shards.shared();
    assert_eq!(positions(0), [0, 1, 4]);
    assert_eq!(positions(1), [1, 4]);
    assert_eq!(positions(2), [4], "unwritten exclusive slots are skipped");
    assert_eq!(positions(5), [] as [usize; 0]);
    shards.shared();
    assert_eq!(positions(3), [4, 5]);
    assert_eq!(positions(99), [] as [usize; 0]);
}

#[test]
fn wraps_modulo_2_64() {
    let shards = Shards::new(2, 1);
    let i = shards.alloc_cells(1).unwrap();
    let a = shards.lease().unwrap();
    let b = shards.lease().unwrap();
    shards.slot(a).add_u64(i, u64::MAX);
    shards.slot(b).add_u64(i, 2);
    assert_eq!(shards.sum_u64(i), 1);
}

#[test]
fn freed_cells_are_zeroed_and_reused() {
    let shards = Shards::new(1, 1);
    let i = shards.alloc_cells(3).unwrap();
    let a = shards.lease().unwrap();
    shards.slot(a).add_u64(i + 2, 9);
    shards.home().store(i, 7);
    shards.free_cells(i, 3);
    let j = shards.alloc_cells(3).unwrap();
    assert_eq!(i, j);
    assert_eq!(shards.sum_u64(j + 2), 0);
    assert_eq!(shards.home().load(j), 0);
}

#[test]
fn cells_cross_chunks_and_exhaust_cleanly() {
    let shards = Shards::new(1, 1);
    let big = shards.alloc_cells(CHUNK_CELLS as u32 + 5).unwrap();
    let a = shards.lease().unwrap();
    shards.slot(a).add_u64(big + CHUNK_CELLS as u32 + 1, 2);
    assert_eq!(shards.sum_u64(big + CHUNK_CELLS as u32 + 1), 2);
    assert!(shards.alloc_cells(MAX_CELLS).is_none());
    assert!(shards.alloc_cells(u32::MAX).is_none());
}

#[test]
fn blocks_up_to_a_chunk_never_straddle() {
    let shards = Shards::new(1, 1);
    let chunk = CHUNK_CELLS as u32;
    let a = shards.alloc_cells(chunk - 1).unwrap();
    assert_eq!(a, FIRST_CELL, "chunk 0 is reserved");
    // One cell is left in a's chunk: a two-cell block starts a new chunk.
    let b = shards.alloc_cells(2).unwrap();
    assert_eq!(b, a + chunk, "moved to the next chunk");
    // The skipped cell serves a one-cell request.
    assert_eq!(shards.alloc_cells(1), Some(a + chunk - 1));
    // A block longer than a chunk is not moved.
    let c = shards.alloc_cells(chunk + 1).unwrap();
    assert_eq!(c, b + 2);
}

#[test]
fn indices_without_cells_are_dropped() {
    // Index 0 (no cells) and FAILED, with and without an offset: every
    // update takes the slow path, which drops it; chunk 0 stays
    // unallocated in this thread's slot.
    let c = Cells::new(1);
    assert!(c.index().is_some(), "allocates");
    for index in [0, FAILED, 5] {
        add_u64(index, 1, None);
        add_f64(index, 1.0, None);
        observe(index, 0, 2, 1.0, false, None);
    }
    // Exclusive, or shared when parallel tests hold every exclusive slot.
    let slot = local_slot();
    assert!(slot.peek(0).is_none(), "chunk 0 was allocated");
    assert!(global_shards().home().peek(0).is_none());
}

#[test]
fn lazy_cells_allocate_on_the_slow_path() {
    let c = Cells::new(3);
    add_u64(c.raw(), 2, Some(&c));
    let i = c.allocated().expect("allocated by the update");
    add_f64(c.raw() + 1, 0.5, Some(&c));
    let h = Cells::new(3);
    observe(h.raw(), 1, 2, 0.25, true, Some(&h));
    let j = h.allocated().expect("allocated by the observation");
    let shards = global_shards();
    assert_eq!(shards.sum_u64(i), 2);
    assert_eq!(shards.sum_f64(i + 1), 0.5);
    assert_eq!((shards.sum_u64(j + 1), shards.sum_f64(j + 2)), (1, 0.25));
}

#[test]
fn lazy_series_hit_their_cell_in_blocks_near_a_chunk_end() {
    // Blocks of 7 cells from the global table until one started in the
    // last 7 cells of a chunk's room (it moved to the next chunk) and the
    // ones after it: the hot path finds each block's chunk through its
    // first cell and writes first + offset. Run on a fresh thread holding
    // an exclusive slot (parallel tests may hold them all for a moment:
    // a few fresh threads are tried), where the second update of each
    // block is checked to take the hot path.
    let hot = |blocks: &[Cells]| {
        let shards = global_shards();
        let mut hot = 0;
        for (k, c) in blocks.iter().enumerate() {
            let s = c.series(6, true);
            // Allocates the block and, on this thread's first update,
            // binds its slot (the slow path).
            s.add_u64(1);
            let first = c.allocated().expect("allocated");
            assert_eq!(first >> CHUNK_SHIFT, (first + 6) >> CHUNK_SHIFT);
            // The hot path's own test: the slot has the block's chunk.
            if local_slot().is_exclusive() && current().chunk(first).is_some() {
                hot += 1;
            }
            s.add_u64(k as u64);
            c.series(0, true).add_f64(0.5);
            assert_eq!(shards.sum_u64(first + 6), k as u64 + 1, "block {k}");
            assert_eq!(shards.sum_f64(first), 0.5, "block {k}");
        }
        hot
    };
    let mut took_hot_path = false;
    for _ in 0..20 {
        let blocks: Vec<Cells> = (0..CHUNK_CELLS / 7 + 2).map(|_| Cells::new(7)).collect();
        let hot = std::thread::scope(|s| {
            s.spawn(|| hot(&blocks))
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        });
        let chunks: std::collections::BTreeSet<u32> = blocks
            .iter()
            .filter_map(|c| c.allocated())
            .map(|f| f >> CHUNK_SHIFT)
            .collect();
        assert!(chunks.len() > 1, "the blocks crossed a chunk boundary");
        if hot == blocks.len() {
            took_hot_path = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(took_hot_path, "no exclusive slot in 20 tries");
}

#[test]
fn lazy_series_allocate_at_their_offset() {
    let c = Cells::new(4);
    let (a, b) = (c.series(3, true), c.series(1, true));
    assert!(
        b.hot_index() < u64::from(FIRST_CELL),
        "unallocated: in chunk 0"
    );
    assert_eq!(
        a.allocated(),
        None,
        "making a lazy series allocates nothing"
    );
    a.add_u64(7);
    let first = c.allocated().expect("allocated by the update");
    // `b` was made before the block existed: its update still lands at
    // its own offset.
    b.add_f64(0.5);
    let shards = global_shards();
    assert_eq!(shards.sum_u64(first + 3), 7);
    assert_eq!(shards.sum_f64(first + 1), 0.5);
    assert_eq!(
        (a.allocated(), a.index()),
        (Some(first + 3), Some(first + 3))
    );
    assert_eq!(c.series(2, true).index(), Some(first + 2));
    // A handle kept from before the allocation updates through the hot
    // path now: the index it hands the update is the allocated one, not
    // chunk 0's (which would send every update to the slow path).
    assert_eq!(b.hot_index(), u64::from(first + 1));
    assert!(c.series(0, true).hot_index() >= u64::from(FIRST_CELL));
    assert_eq!(c.series(2, false).index(), Some(first + 2));

    // A block the table had no room for: FAILED plus an offset is still in
    // chunk 0, and its updates are dropped, not sent to another cell.
    let failed = Cells::new(4);
    failed.index.store(FAILED.into(), Ordering::Release);
    let s = failed.series(3, true);
    s.add_u64(1);
    s.add_f64(1.0);
    assert_eq!((s.index(), s.allocated()), (None, None));
    assert_eq!(failed.series(3, false).index(), None);
}

#[test]
fn observation_straddling_chunks() {
    // A series inside a block longer than a chunk may straddle two: the
    // observation then looks both cells up separately.
    let chunk = CHUNK_CELLS as u32;
    let cells = Cells::new(chunk + 4);
    let base = cells.index().unwrap();
    // A series whose first cell is the last of a chunk.
    let series = base + (chunk - 1) - (base & (chunk - 1));
    observe(series, 0, 2, 0.5, false, None);
    observe(series, 1, 2, 0.25, false, None);
    let shards = global_shards();
    assert_eq!(shards.sum_u64(series), 1, "bucket in the first chunk");
    assert_eq!(shards.sum_u64(series + 1), 1, "bucket in the second");
    assert_eq!(shards.sum_f64(series + 2), 0.75);
}

#[test]
fn shared_slot_threads() {
    // More threads than exclusive slots: the rest record through shared
    // slots (atomic adds on the slow path), and nothing is lost.
    const PER_THREAD: u64 = if cfg!(miri) { 20 } else { 1000 };
    let threads = global_shards().exclusive_len() + 3;
    let c = Cells::new(1);
    let idx = c.index().unwrap();
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                add_u64(idx, 1, None);
                // Every thread holds its slot until all have one.
                barrier.wait();
                for _ in 1..PER_THREAD {
                    add_u64(idx, 1, None);
                }
            });
        }
    });
    assert_eq!(global_shards().sum_u64(idx), threads as u64 * PER_THREAD);
}

#[test]
fn f64_cells_add() {
    let shards = Shards::new(1, 1);
    let i = shards.alloc_cells(1).unwrap();
    let a = shards.lease().unwrap();
    shards.slot(a).add_f64(i, 0.5);
    shards.shared().add_f64(i, 0.25);
    assert_eq!(shards.sum_f64(i), 0.75);
}

#[test]
fn counts_for_machines() {
    assert_eq!(Shards::counts_for(0), (5, 1));
    assert_eq!(Shards::counts_for(2), (6, 1));
    assert_eq!(Shards::counts_for(64), (68, 16));
    // A scrape's reader keeps every slot's chunk up to 99 cores.
    let (exclusive, shared) = Shards::counts_for(99);
    assert!(cfg!(miri) || exclusive + shared <= READER_CHUNKS);
    let (exclusive, shared) = Shards::counts_for(100);
    assert!(cfg!(miri) || exclusive + shared > READER_CHUNKS);
}

#[test]
fn threads_lease_distinct_slots_and_return_them() {
    // Fewer iterations under Miri, which interprets every access.
    const PER_THREAD: u64 = if cfg!(miri) { 50 } else { 1000 };
    let shards = global_shards();
    let cells = Cells::new(1);
    let idx = cells.index().unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..PER_THREAD {
                    with_local(|slot| slot.add_u64(idx, 1));
                }
            });
        }
    });
    assert_eq!(shards.sum_u64(idx), 4 * PER_THREAD);
}
