// How a family is written: its `Mode`, the sample names it claims in this
// exposition, its `# TYPE` keyword and its metadata lines.
//
// A family claims every sample name it may write (with the suffixes of its
// type in the format) before any of its lines; a family whose names are
// taken is skipped whole, so no two families ever write the same sample name.

/// How the current family is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Left out (its names are taken); its series are ignored.
    Skip,
    /// Scalar samples named as the family, values as they are.
    Plain,
    /// OpenMetrics counter: NaN and negative totals cannot be written.
    Counter,
    /// OpenMetrics info: only `Value::Info` (1).
    Info,
    /// Buckets, sum and count.
    Histogram,
}

impl Writer<'_> {
    /// Claims the names a family will use; `false` if one is taken.
    fn claim<const K: usize>(&mut self, base: &str, suffixes: [&str; K]) -> bool {
        let st = &mut *self.st;
        let key = |k: &mut Vec<u8>, s: &str| {
            k.clear();
            copy::put(k, base.as_bytes());
            copy::put(k, s.as_bytes());
        };
        if let [s] = suffixes.as_slice() {
            // One name (every family in the Prometheus format but
            // histograms): the insert is the check, one hash and one probe.
            key(&mut st.key, s);
            return st.names.insert(&st.key);
        }
        // All or none: every name checked before any is taken, each hashed
        // once.
        let mut hashes = [0u64; K];
        for (s, h) in suffixes.iter().zip(&mut hashes) {
            key(&mut st.key, s);
            *h = KeySet::hash(&st.key);
            if st.names.contains_hashed(&st.key, *h) {
                return false;
            }
        }
        for (s, h) in suffixes.iter().zip(hashes) {
            key(&mut st.key, s);
            st.names.insert_hashed(&st.key, h);
        }
        true
    }

    /// Decides the family's mode, its metadata name and `# TYPE` keyword.
    fn plan(&mut self, name: &str, kind: Kind) -> (Mode, usize, &'static str) {
        let len = name.len();
        if self.format == Format::Prometheus {
            let ok = match kind {
                Kind::Histogram => self.claim(name, ["", "_bucket", "_count", "_sum"]),
                _ => self.claim(name, [""]),
            };
            return match (ok, kind) {
                (false, _) => (Mode::Skip, len, ""),
                (true, Kind::Counter) => (Mode::Plain, len, "counter"),
                (true, Kind::Gauge | Kind::Info) => (Mode::Plain, len, "gauge"),
                (true, Kind::Histogram) => (Mode::Histogram, len, "histogram"),
            };
        }
        match kind {
            Kind::Counter => {
                if let Some(base) = strip(name, "_total") {
                    if self.claim(base, ["", "_total", "_created"]) {
                        return (Mode::Counter, base.len(), "counter");
                    }
                }
            }
            Kind::Info => {
                if let Some(base) = strip(name, "_info") {
                    if self.claim(base, ["", "_info"]) {
                        return (Mode::Info, base.len(), "info");
                    }
                } else if self.claim(name, [""]) {
                    return (Mode::Plain, len, "gauge");
                }
            }
            Kind::Gauge => {
                if self.claim(name, [""]) {
                    return (Mode::Plain, len, "gauge");
                }
            }
            Kind::Histogram => {
                return if self.claim(name, ["", "_bucket", "_count", "_sum", "_created"]) {
                    (Mode::Histogram, len, "histogram")
                } else {
                    (Mode::Skip, len, "")
                };
            }
        }
        // Legacy or clashing: keep the sample name, drop the type.
        if self.claim(name, [""]) {
            (Mode::Plain, len, "unknown")
        } else {
            (Mode::Skip, len, "")
        }
    }

    /// Writes `prefix`, the first `len` bytes of the family name, `suffix`.
    fn put_name(&mut self, len: usize, suffix: &str) {
        self.out.put(self.prefix.as_bytes());
        let name = self.st.family.as_bytes();
        self.out.put(name.get(..len).unwrap_or(name));
        self.out.put(suffix.as_bytes());
    }

    fn metadata(&mut self, keyword: &[u8], len: usize) {
        self.out.put(keyword);
        self.put_name(len, "");
        self.out.put(b" ");
    }

    /// Writes `text` escaped: backslash and newline always, double quote
    /// when `quote` is set.
    fn escaped(out: &mut Out<'_>, text: &str, quote: bool) {
        if quote {
            escape::<true>(text, |b| out.put(b));
        } else {
            escape::<false>(text, |b| out.put(b));
        }
    }
}

/// `name` without `suffix`, if it ends with it and something precedes it.
fn strip<'n>(name: &'n str, suffix: &str) -> Option<&'n str> {
    name.strip_suffix(suffix).filter(|b| !b.is_empty())
}
