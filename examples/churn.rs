//! Churn test for removable series: 1,000,000 rooms opened and closed while a
//! scraper reads the family, with every handle kept across its removal.
//!
//! ```sh
//! cargo run --release --example churn -- target/churn
//! ```
//!
//! A `Family<Gauge, 3>` like the signaling server's `signaling_room_sessions`
//! (labels `backend`, `room`, `clienttype`), in its own [`Registry`]. Two
//! writer threads each open 500,000 rooms with distinct ids (so 1,000,000
//! series over the run), at most [`MAX_OPEN`] at a time each. A room keeps
//! its handle in its own struct and is updated only through it: one session
//! on open, then joins (one to three sessions at once) and leaves until it is
//! empty; then it is removed from the family and its now stale handle is
//! updated once more, which must be dropped. Room ids, backends and client
//! types mix short and long values so that every key path of the lookup
//! (all values up to 7 bytes, up to 15, longer) sees churn. A third thread
//! scrapes in OpenMetrics in a loop until the writers are done.
//!
//! Written to the output directory (argv[1]): one scrape per [`KEEP_EVERY`]
//! rooms opened (about 250) as `scrape-NNNN.om`, each with a text 0.0.4
//! scrape taken right after it as `scrape-NNNN.prom`; the final scrape as
//! `final.om` and `final.prom`; and the rooms still open as `live.tsv`
//! (`backend room clienttype value`), for `.ci/churn_check.py` to validate
//! with promtool and Python's strict OpenMetrics parser
//! (`.ci/stages/27-churn.sh`).
//!
//! The program exits non-zero with a message when:
//! - any scrape shows a room twice, more rooms than can be open, a value out
//!   of range, the overflow series, or an overflow count;
//! - a room's value read through its handle is not what its thread wrote, a
//!   removal of an open room fails, or a stale handle's update is not
//!   dropped;
//! - the final scrape's rooms are not exactly the [`LEFT_OPEN`] rooms per
//!   thread still open, with their values, or `Family::len` or
//!   `Family::overflowed` disagree;
//! - the resident set grew by more than [`RSS_BOUND_KIB`] between the
//!   warm-up (the first [`WARMUP_ROOMS`] rooms) and the end: a leak of 23
//!   bytes per room closed after the warm-up (750,000 of them) exceeds it;
//! - it runs past [`DEADLINE`].
//!
//! The writers are paced to [`ROOMS_PER_SECOND`] each (the run takes about
//! 8 s), because a removed series' cells wait one second before reuse
//! (`src/shard/quarantine.rs`): the cells held are those of the rooms closed
//! in the last second, so memory follows the churn rate, not the number of
//! rooms. Unpaced, two writers on 2 cores close about a million rooms a
//! second, and the whole run (about one second) grows the RSS by some 32 MiB
//! of quarantined cells. At the capped rate the quarantine is full after one
//! second and stays that size, so growth after the warm-up (two seconds)
//! measures what churn leaks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nanometrics::{Encoder, Family, Format, Gauge, GaugeRef, Registry};

/// Writer threads.
const THREADS: u64 = 2;
/// Rooms each writer opens (and closes, but for [`LEFT_OPEN`]).
const ROOMS_PER_THREAD: u64 = 500_000;
/// Most rooms a writer has open at once.
const MAX_OPEN: usize = 300;
/// Rooms each writer leaves open at the end, for the final scrape.
const LEFT_OPEN: usize = 25;
/// Most sessions in one room.
const MAX_SESSIONS: i64 = 8;
/// Most rooms each writer opens per second (see the module docs).
const ROOMS_PER_SECOND: u64 = 62_500;
/// Rooms opened (all writers) before the first RSS reading: two seconds of
/// churn at the paced rate, twice the removed cells' grace period.
const WARMUP_ROOMS: u64 = 250_000;
/// A scrape is kept each time this many more rooms have been opened.
const KEEP_EVERY: u64 = 4_000;
/// Largest RSS growth accepted from the warm-up to the end, in KiB.
const RSS_BOUND_KIB: u64 = 16 * 1024;
/// The whole run, scrapes and checks included, must end by then.
const DEADLINE: Duration = Duration::from_secs(120);

const NAME: &str = "signaling_room_sessions";
/// Values up to 7 bytes, up to 15, and longer (a backend URL).
const BACKENDS: [&str; 3] = ["b1", "backend-2", "https://cloud.example.com/signaling"];
const CLIENT_TYPES: [&str; 3] = ["client", "internal", "virtual"];

/// A room's labels and value: (backend, room, clienttype) -> sessions.
type Rooms = HashMap<(String, String, String), i64>;

/// An open room, updated only through its handle.
struct Room<'a> {
    id: String,
    backend: &'static str,
    clienttype: &'static str,
    sessions: i64,
    handle: GaugeRef<'a>,
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// Resident set size of this process, in KiB.
fn rss_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status (Linux only): {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no VmRSS line in /proc/self/status".to_owned())
}

/// Room `n` of writer `t`: every eighth id is long (over 15 bytes).
fn room_id(t: u64, n: u64) -> String {
    if n % 8 == 7 {
        format!("{t}-{n}-{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    } else {
        format!("{t}-{n}")
    }
}

/// Writer `t`: opens its rooms, updates and closes them; returns the rooms
/// left open with their values.
fn write_rooms(t: u64, family: &Family<Gauge, 3>, opened: &AtomicU64) -> Result<Rooms, String> {
    const BATCH: u64 = 1_000;
    const BATCH_TIME: Duration = Duration::from_nanos(BATCH * 1_000_000_000 / ROOMS_PER_SECOND);
    let mut next_batch = Instant::now();
    let mut rng = Rng(0x853c_49e6_748f_ea9b ^ (t + 1));
    let mut open: Vec<Room<'_>> = Vec::with_capacity(MAX_OPEN);
    let mut n = 0;
    while n < ROOMS_PER_THREAD || open.len() > LEFT_OPEN {
        if n < ROOMS_PER_THREAD && open.len() < MAX_OPEN && (open.is_empty() || rng.below(3) == 0) {
            if n % BATCH == 0 {
                // Each batch takes at least its share of a second, with no
                // catching up after a stall: the rate never exceeds the cap.
                let now = Instant::now();
                thread::sleep(next_batch.saturating_duration_since(now));
                next_batch = next_batch.max(now) + BATCH_TIME;
            }
            let id = room_id(t, n);
            let backend = BACKENDS[rng.below(BACKENDS.len())];
            let clienttype = CLIENT_TYPES[rng.below(CLIENT_TYPES.len())];
            let handle = family.with([backend, &id, clienttype]);
            handle.inc();
            open.push(Room {
                id,
                backend,
                clienttype,
                sessions: 1,
                handle,
            });
            n += 1;
            opened.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let i = rng.below(open.len());
        let room = &mut open[i];
        let got = room.handle.get();
        if got != room.sessions {
            return Err(format!(
                "room {}: handle reads {got}, its thread wrote {}",
                room.id, room.sessions
            ));
        }
        // Joins only while rooms are still being opened, so that the rooms
        // drain to LEFT_OPEN at the end.
        if n < ROOMS_PER_THREAD && rng.below(3) == 0 && room.sessions < MAX_SESSIONS {
            let k = (1 + rng.below(3) as i64).min(MAX_SESSIONS - room.sessions);
            if k == 1 {
                room.handle.inc();
            } else {
                room.handle.add(k);
            }
            room.sessions += k;
            continue;
        }
        room.handle.dec();
        room.sessions -= 1;
        if room.sessions > 0 {
            continue;
        }
        let room = open.swap_remove(i);
        if !family.remove([room.backend, &room.id, room.clienttype]) {
            return Err(format!("remove of open room {} returned false", room.id));
        }
        // The handle is stale now: this update must be dropped.
        room.handle.add(1 + rng.below(3) as i64);
        let got = room.handle.get();
        if got != 0 {
            return Err(format!(
                "room {}: a stale handle's update was not dropped (it reads {got})",
                room.id
            ));
        }
    }
    Ok(open
        .into_iter()
        .map(|r| {
            let key = (r.backend.to_owned(), r.id, r.clienttype.to_owned());
            (key, r.sessions)
        })
        .collect())
}

/// The labels of one `signaling_room_sessions` sample line, and its value.
fn room_sample(line: &str) -> Option<((String, String, String), i64)> {
    let rest = line.strip_prefix(NAME)?.strip_prefix('{')?;
    let (labels, value) = rest.rsplit_once("} ")?;
    let get = |name: &str, labels: &mut &str| -> Option<String> {
        let r = labels.strip_prefix(name)?.strip_prefix("=\"")?;
        let (v, r) = r.split_once('"')?;
        *labels = r.strip_prefix(',').unwrap_or(r);
        (!v.contains('\\')).then(|| v.to_owned())
    };
    let mut l = labels;
    let key = (
        get("backend", &mut l)?,
        get("room", &mut l)?,
        get("clienttype", &mut l)?,
    );
    (l.is_empty()).then_some(())?;
    Some((key, value.parse().ok()?))
}

/// The rooms an OpenMetrics scrape shows, after checking its shape: each
/// room once, no more rooms than can be open, values in range, and no
/// overflow (no overflow series, no overflow count: a family that never
/// overflowed has none).
fn read_scrape(text: &str) -> Result<Rooms, String> {
    let mut rooms = Rooms::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with("nanometrics_label_overflow_total") {
            return Err(format!("the family overflowed: {line:?}"));
        }
        let Some((key, value)) = room_sample(line) else {
            return Err(format!("unexpected line {line:?}"));
        };
        if !(0..=MAX_SESSIONS).contains(&value) {
            return Err(format!("value out of 0..={MAX_SESSIONS}: {line:?}"));
        }
        if key.1 == nanometrics::OVERFLOW_VALUE {
            return Err(format!("the overflow series appears: {line:?}"));
        }
        if rooms.insert(key, value).is_some() {
            return Err(format!("a room appears twice: {line:?}"));
        }
    }
    if !text.ends_with("# EOF\n") {
        return Err("the scrape does not end with # EOF".into());
    }
    if rooms.len() > THREADS as usize * MAX_OPEN {
        return Err(format!(
            "{} rooms shown, at most {} can be open",
            rooms.len(),
            THREADS as usize * MAX_OPEN
        ));
    }
    Ok(rooms)
}

/// Writes `<dir>/<stem>.om` (the OpenMetrics scrape `om`) and
/// `<dir>/<stem>.prom` (a text 0.0.4 scrape taken now).
fn keep(
    dir: &Path,
    stem: &str,
    om: &[u8],
    enc: &mut Encoder,
    registry: &Registry,
) -> Result<(), String> {
    let mut prom = Vec::new();
    enc.encode(registry, Format::Prometheus, &mut prom);
    for (ext, body) in [("om", om), ("prom", &prom[..])] {
        let path = dir.join(format!("{stem}.{ext}"));
        std::fs::write(&path, body).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// What the scraper did.
struct Scraped {
    scrapes: u64,
    kept: u64,
    rss_warm_kib: u64,
}

/// Scrapes until `done`, checking every scrape, keeping one per
/// [`KEEP_EVERY`] rooms opened, and reading the RSS after the warm-up.
fn scrape_loop(
    registry: &Registry,
    dir: &Path,
    opened: &AtomicU64,
    done: &AtomicBool,
) -> Result<Scraped, String> {
    let mut enc = Encoder::new();
    let mut buf = Vec::new();
    let mut s = Scraped {
        scrapes: 0,
        kept: 0,
        rss_warm_kib: 0,
    };
    let mut next_keep = KEEP_EVERY;
    // Acquire pairs with the Release store after the writers are joined.
    while !done.load(Ordering::Acquire) {
        let n = opened.load(Ordering::Relaxed);
        if s.rss_warm_kib == 0 && n >= WARMUP_ROOMS {
            s.rss_warm_kib = rss_kib()?;
        }
        buf.clear();
        enc.encode(registry, Format::OpenMetrics, &mut buf);
        s.scrapes += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| format!("scrape is not UTF-8: {e}"))?;
        if let Err(e) = read_scrape(text) {
            let bad = dir.join("bad-scrape.om");
            let _ = std::fs::write(&bad, &buf);
            return Err(format!(
                "scrape {}: {e} (written to {})",
                s.scrapes,
                bad.display()
            ));
        }
        if n >= next_keep {
            s.kept += 1;
            keep(
                dir,
                &format!("scrape-{:04}", s.kept),
                &buf,
                &mut enc,
                registry,
            )?;
            next_keep = (n / KEEP_EVERY + 1) * KEEP_EVERY;
        }
    }
    Ok(s)
}

/// Creates `dir`, removing the files an earlier run wrote there.
fn prepare(dir: &Path) -> Result<(), String> {
    let err = |e: std::io::Error| format!("output directory {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(err)?;
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ours = ["scrape-", "final.", "live.tsv", "bad-scrape."];
        if ours.iter().any(|p| name.starts_with(p)) {
            std::fs::remove_file(&path).map_err(err)?;
        }
    }
    Ok(())
}

fn run(dir: &Path) -> Result<String, String> {
    let start = Instant::now();
    prepare(dir)?;
    let registry = Registry::new();
    let family = registry
        .register(Family::<Gauge, 3>::new(
            NAME,
            "The current number of sessions in a room",
            ["backend", "room", "clienttype"],
        ))
        .map_err(|e| format!("registering {NAME}: {e}"))?;
    let opened = AtomicU64::new(0);
    let done = AtomicBool::new(false);

    let (left_open, scraped) = thread::scope(|s| {
        let scraper = s.spawn(|| scrape_loop(&registry, dir, &opened, &done));
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (family, opened) = (&*family, &opened);
                s.spawn(move || write_rooms(t, family, opened))
            })
            .collect();
        let mut left_open = Ok(Rooms::new());
        for (t, w) in writers.into_iter().enumerate() {
            let rooms = match w.join() {
                Ok(rooms) => rooms.map_err(|e| format!("writer {t}: {e}")),
                Err(_) => Err(format!("writer {t} panicked")),
            };
            left_open = match (left_open, rooms) {
                (Ok(mut all), Ok(rooms)) => {
                    all.extend(rooms);
                    Ok(all)
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        done.store(true, Ordering::Release);
        let scraped = scraper
            .join()
            .unwrap_or_else(|_| Err("scraper panicked".into()));
        (left_open, scraped)
    });
    let left_open = left_open?;
    let scraped = scraped.map_err(|e| format!("scraper: {e}"))?;
    if scraped.rss_warm_kib == 0 {
        return Err("the scraper never read the warm-up RSS".into());
    }

    let mut enc = Encoder::new();
    let mut om = Vec::new();
    enc.encode(&registry, Format::OpenMetrics, &mut om);
    keep(dir, "final", &om, &mut enc, &registry)?;
    let mut live = String::new();
    for ((backend, room, clienttype), v) in &left_open {
        live.push_str(&format!("{backend}\t{room}\t{clienttype}\t{v}\n"));
    }
    let live_path = dir.join("live.tsv");
    std::fs::write(&live_path, live)
        .map_err(|e| format!("writing {}: {e}", live_path.display()))?;

    let text = std::str::from_utf8(&om).map_err(|e| format!("final scrape is not UTF-8: {e}"))?;
    let shown = read_scrape(text).map_err(|e| format!("final scrape: {e}"))?;
    let want = THREADS as usize * LEFT_OPEN;
    if left_open.len() != want {
        return Err(format!(
            "{} rooms left open, {want} planned",
            left_open.len()
        ));
    }
    if shown != left_open {
        let missing = left_open.iter().filter(|(k, v)| shown.get(*k) != Some(v));
        let extra = shown.iter().filter(|(k, v)| left_open.get(*k) != Some(v));
        return Err(format!(
            "final scrape differs from the open rooms: expected but not shown (or another value): {:?}; shown but not expected: {:?}",
            missing.take(5).collect::<Vec<_>>(),
            extra.take(5).collect::<Vec<_>>()
        ));
    }
    if family.len() != want {
        return Err(format!(
            "Family::len() is {}, {want} rooms are open",
            family.len()
        ));
    }
    if family.overflowed() != 0 {
        return Err(format!(
            "Family::overflowed() is {}, not 0",
            family.overflowed()
        ));
    }
    let rss_end = rss_kib()?;
    let growth = rss_end.saturating_sub(scraped.rss_warm_kib);
    let rooms = THREADS * ROOMS_PER_THREAD;
    let summary = format!(
        "churn: ok: {rooms} rooms opened, {} closed, {} open at the end; {} scrapes checked, {} kept in {}; RSS {} KiB after {WARMUP_ROOMS} rooms, {rss_end} KiB at the end (+{growth} KiB, bound {RSS_BOUND_KIB} KiB); {:.2} s",
        rooms - want as u64,
        want,
        scraped.scrapes,
        scraped.kept + 1,
        dir.display(),
        scraped.rss_warm_kib,
        start.elapsed().as_secs_f64(),
    );
    if growth > RSS_BOUND_KIB {
        return Err(format!(
            "RSS grew by more than {RSS_BOUND_KIB} KiB: {summary}"
        ));
    }
    Ok(summary)
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: churn OUTPUT_DIR");
        return ExitCode::from(2);
    };
    // A watchdog: the run must end by the deadline, even if it hangs.
    let (finished, watch) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = watch.recv_timeout(DEADLINE) {
            eprintln!("churn: FAIL: still running after {DEADLINE:?}, exiting");
            std::process::exit(1);
        }
    });
    let result = run(&dir);
    drop(finished);
    match result {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("churn: FAIL: {e}");
            ExitCode::FAILURE
        }
    }
}
