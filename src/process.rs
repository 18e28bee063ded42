//! Facts about the running process read from the operating system.
//!
//! On Linux the values come from `/proc/self` through stack buffers (no
//! allocation per read); elsewhere the functions return `None` and the
//! metrics built on them are absent rather than wrong.

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

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn start_time_seconds() -> Option<f64> {
        None
    }
}
