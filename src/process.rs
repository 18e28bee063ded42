//! Facts about the running process read from the operating system, and the
//! [`ProcessCollector`] that exports them under the names Prometheus' official
//! clients use, so existing dashboards work:
//!
//! | family | type | source (Linux) |
//! |---|---|---|
//! | `process_cpu_seconds_total` | counter | `/proc/self/stat` utime + stime |
//! | `process_resident_memory_bytes` | gauge | `/proc/self/stat` rss × page size |
//! | `process_virtual_memory_bytes` | gauge | `/proc/self/stat` vsize |
//! | `process_open_fds` | gauge | entries of `/proc/self/fd` (via `getdents64`) |
//! | `process_max_fds` | gauge | `RLIMIT_NOFILE` soft limit |
//! | `process_start_time_seconds` | gauge | stat starttime + boot time |
//! | `process_threads` | gauge | `/proc/self/stat` num_threads |
//!
//! Values come from `/proc/self` through stack buffers: a scrape allocates
//! nothing. Elsewhere, and for any value the OS does not report, the family is
//! absent rather than wrong.

use crate::label::Labels;
use crate::metric::{Kind, Meta, Value, Visitor};
use crate::registry::Collector;

/// Exports the `process_*` families (see the module docs).
///
/// ```
/// use nanometrics::{process::ProcessCollector, Registry};
/// let r = Registry::new();
/// r.register_collector(ProcessCollector::new());
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessCollector {
    _private: (),
}

impl ProcessCollector {
    /// A collector for this process.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

/// One reading of the process statistics; `None` where the OS does not say.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, bytes.
    pub resident_memory_bytes: Option<u64>,
    /// Virtual memory size, bytes.
    pub virtual_memory_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// Soft limit on file descriptors.
    pub max_fds: Option<u64>,
    /// Start time, Unix seconds.
    pub start_time_seconds: Option<f64>,
    /// Threads in the process.
    pub threads: Option<u64>,
}

/// Reads the process statistics now.
///
/// ```
/// let s = nanometrics::process::stats();
/// if cfg!(target_os = "linux") {
///     assert!(s.resident_memory_bytes.unwrap() > 0);
///     assert!(s.open_fds.unwrap() >= 3);
///     assert!(s.threads.unwrap() >= 1);
/// }
/// ```
pub fn stats() -> ProcessStats {
    imp::stats()
}

impl Collector for ProcessCollector {
    fn collect(&self, v: &mut dyn Visitor) {
        static CPU: Meta = Meta::with_unit(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            "seconds",
        );
        static RSS: Meta = Meta::with_unit(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "bytes",
        );
        static VSZ: Meta = Meta::with_unit(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            "bytes",
        );
        static OPEN: Meta = Meta::new("process_open_fds", "Number of open file descriptors.");
        static MAX: Meta = Meta::new(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        );
        static START: Meta = Meta::with_unit(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            "seconds",
        );
        static THREADS: Meta = Meta::new("process_threads", "Number of OS threads in the process.");
        let s = stats();
        let mut one = |meta: &Meta, kind: Kind, value: Option<Value<'_>>| {
            if let Some(value) = value {
                v.family(meta, kind);
                v.series(&Labels::EMPTY, value);
            }
        };
        one(&CPU, Kind::Counter, s.cpu_seconds.map(Value::CounterF64));
        one(&MAX, Kind::Gauge, s.max_fds.map(|n| Value::Gauge(n as i64)));
        one(
            &OPEN,
            Kind::Gauge,
            s.open_fds.map(|n| Value::Gauge(n as i64)),
        );
        one(
            &RSS,
            Kind::Gauge,
            s.resident_memory_bytes.map(|n| Value::Gauge(n as i64)),
        );
        one(
            &START,
            Kind::Gauge,
            s.start_time_seconds.map(Value::GaugeF64),
        );
        one(
            &THREADS,
            Kind::Gauge,
            s.threads.map(|n| Value::Gauge(n as i64)),
        );
        one(
            &VSZ,
            Kind::Gauge,
            s.virtual_memory_bytes.map(|n| Value::Gauge(n as i64)),
        );
    }
}

/// The process start time in Unix seconds, if the OS reports it.
///
/// ```
/// let t = nanometrics::process::start_time_seconds();
/// if cfg!(target_os = "linux") {
///     assert!(t.unwrap() > 1.6e9);
/// }
/// ```
pub fn start_time_seconds() -> Option<f64> {
    imp::start_time_seconds()
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io::Read;

    use super::ProcessStats;

    pub(super) fn stats() -> ProcessStats {
        let mut buf = [0u8; 4096];
        let stat = read_into("/proc/self/stat", &mut buf);
        let field = |n: usize| stat.and_then(|s| stat_field(s, n)).and_then(parse_u64);
        let ticks = clock_ticks();
        // SAFETY: sysconf only reads a configuration value; no pointers.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = (page > 0).then_some(page as u64);
        ProcessStats {
            cpu_seconds: match (field(14), field(15), ticks) {
                (Some(u), Some(s), Some(t)) => Some((u + s) as f64 / t as f64),
                _ => None,
            },
            resident_memory_bytes: field(24).zip(page).map(|(p, size)| p.saturating_mul(size)),
            virtual_memory_bytes: field(23),
            open_fds: open_fds(),
            max_fds: max_fds(),
            start_time_seconds: start_time_seconds(),
            threads: field(20),
        }
    }

    /// Entries of /proc/self/fd, read with getdents64 into a stack buffer
    /// (std's `read_dir` allocates per entry). The directory's own descriptor
    /// is not counted.
    fn open_fds() -> Option<u64> {
        // SAFETY: the path is a NUL-terminated literal; open returns -1 or a
        // descriptor we own and close below.
        let fd = unsafe {
            libc::open(
                c"/proc/self/fd".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        let mut buf = [0u8; 4096];
        let mut count: u64 = 0;
        let mut ok = true;
        loop {
            // SAFETY: `buf` is a writable buffer of `buf.len()` bytes that
            // outlives the call; `fd` is an open directory descriptor.
            let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
            if n < 0 {
                ok = false;
                break;
            }
            if n == 0 {
                break;
            }
            let filled = buf.get(..n as usize).unwrap_or(&[]);
            let mut off = 0usize;
            // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name.
            while let Some(rec) = filled.get(off..) {
                let Some(&[lo, hi]) = rec.get(16..18) else {
                    break;
                };
                let reclen = u16::from_ne_bytes([lo, hi]) as usize;
                if reclen == 0 {
                    break;
                }
                let name = rec.get(19..reclen.min(rec.len())).unwrap_or(&[]);
                let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
                if name != b"." && name != b".." {
                    count += 1;
                }
                off += reclen;
            }
        }
        // SAFETY: `fd` is ours and closed exactly once.
        unsafe { libc::close(fd) };
        // Do not count the descriptor used to read the directory.
        ok.then(|| count.saturating_sub(1))
    }

    fn max_fds() -> Option<u64> {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
    }

    /// Reads `path` into `buf`, returning the filled prefix.
    pub(super) fn read_into<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        let mut f = std::fs::File::open(path).ok()?;
        let mut n = 0;
        while n < buf.len() {
            match f.read(buf.get_mut(n..)?) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        buf.get(..n)
    }

    /// Field `n` (1-based, as in proc(5)) of /proc/self/stat, counted after the
    /// parenthesised command name, which may itself contain spaces.
    pub(super) fn stat_field(stat: &[u8], n: usize) -> Option<&[u8]> {
        let close = stat.iter().rposition(|&b| b == b')')?;
        // Fields after ")" start at field 3.
        stat.get(close + 1..)?
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty())
            .nth(n.checked_sub(3)?)
    }

    pub(super) fn parse_u64(s: &[u8]) -> Option<u64> {
        std::str::from_utf8(s).ok()?.trim().parse().ok()
    }

    fn boot_time() -> Option<u64> {
        let mut buf = [0u8; 16 * 1024];
        let stat = read_into("/proc/stat", &mut buf)?;
        let line = stat
            .split(|&b| b == b'\n')
            .find(|l| l.starts_with(b"btime "))?;
        parse_u64(line.get(6..)?)
    }

    pub(super) fn clock_ticks() -> Option<u64> {
        // SAFETY: sysconf only reads a configuration value; no pointers.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (t > 0).then_some(t as u64)
    }

    pub(super) fn start_time_seconds() -> Option<f64> {
        let mut buf = [0u8; 4096];
        let stat = read_into("/proc/self/stat", &mut buf)?;
        let ticks = parse_u64(stat_field(stat, 22)?)?;
        Some(boot_time()? as f64 + ticks as f64 / clock_ticks()? as f64)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        #[cfg_attr(miri, ignore = "reads /proc: real I/O, which Miri does not support")]
        fn open_fds_counts_a_new_descriptor() {
            let before = open_fds().unwrap();
            let files: Vec<_> = (0..16)
                .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
                .collect();
            let during = open_fds().unwrap();
            drop(files);
            // Other test threads may close a descriptor or two meanwhile.
            assert!(during >= before + 12, "{before} -> {during}");
            let s = stats();
            assert!(s.cpu_seconds.unwrap() >= 0.0);
            assert!(s.virtual_memory_bytes.unwrap() >= s.resident_memory_bytes.unwrap());
            assert!(s.max_fds.unwrap() >= 3);
        }

        #[test]
        fn stat_fields_skip_tricky_comm() {
            let stat = b"42 (a ) b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 99 21";
            assert_eq!(stat_field(stat, 3), Some(&b"S"[..]));
            assert_eq!(stat_field(stat, 22), Some(&b"19"[..]));
            assert_eq!(stat_field(stat, 23), Some(&b"99"[..]));
            assert_eq!(stat_field(b"no paren", 3), None);
            assert_eq!(stat_field(stat, 1), None);
        }
    }
}

#[cfg(all(test, target_os = "linux", not(nanometrics_loom)))]
mod tests {
    use super::*;
    use crate::Registry;

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc: real I/O, which Miri does not support")]
    fn collector_exports_every_family_on_linux() {
        struct Names(Vec<(String, Kind)>);
        impl Visitor for Names {
            fn family(&mut self, m: &Meta, k: Kind) {
                self.0.push((m.name().to_owned(), k));
            }
            fn series(&mut self, l: &Labels<'_>, _: Value<'_>) {
                assert!(l.is_empty());
            }
        }
        let r = Registry::new();
        r.register_collector(ProcessCollector::new());
        let mut n = Names(Vec::new());
        r.visit(&mut n);
        let names: Vec<&str> = n.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "process_cpu_seconds_total",
                "process_max_fds",
                "process_open_fds",
                "process_resident_memory_bytes",
                "process_start_time_seconds",
                "process_threads",
                "process_virtual_memory_bytes"
            ]
        );
        assert_eq!(n.0[0].1, Kind::Counter);
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn start_time_seconds() -> Option<f64> {
        None
    }

    pub(super) fn stats() -> super::ProcessStats {
        super::ProcessStats::default()
    }
}
