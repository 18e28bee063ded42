//! [`Input`]: fuzz input read as bytes, numbers, text and names built to
//! collide; past its end it reads zeros, so every input decodes to something.

/// A reader of fuzz input that yields zeros once exhausted.
pub(super) struct Input<'a>(pub(super) &'a [u8]);

impl Input<'_> {
    pub(super) fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    pub(super) fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.byte()))
    }

    fn bytes(&mut self, max: usize) -> &[u8] {
        let n = (self.byte() as usize % (max + 1)).min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }

    pub(super) fn text(&mut self, max: usize) -> String {
        String::from_utf8_lossy(self.bytes(max)).into_owned()
    }

    pub(super) fn f64(&mut self) -> f64 {
        match self.byte() % 8 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => -0.0,
            4 => f64::from(self.byte()) / 8.0 - 4.0,
            _ => f64::from_bits(self.u64()),
        }
    }

    /// A metric name built to collide: pieces that are, or look like, the
    /// suffixes the formats add; sometimes an arbitrary (often invalid) one.
    pub(super) fn metric_name(&mut self) -> String {
        const PIECES: [&str; 12] = [
            "a", "b", "x", "_total", "_info", "_bucket", "_count", "_sum", "_created", "c:d", "_",
            "bytes",
        ];
        if self.byte() % 16 == 0 {
            return self.text(8);
        }
        let n = 1 + self.byte() % 3;
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(PIECES[self.byte() as usize % PIECES.len()]);
        }
        s
    }

    pub(super) fn label_name(&mut self) -> &'static str {
        const NAMES: [&str; 8] = ["a", "b", "app_id", "le", "__r", "0x", "x-y", "channel_type"];
        NAMES[self.byte() as usize % NAMES.len()]
    }
}

/// An environment read from fuzz input: one variable per line, the line's
/// first byte picking one of `keys` (modulo their number), the rest its
/// value (decoded lossily); a later line for the same variable replaces it.
#[cfg(all(feature = "http", not(nanometrics_loom)))]
pub(super) fn env_lines<'k>(data: &[u8], keys: &[&'k str]) -> Vec<(&'k str, String)> {
    let mut vars: Vec<(&str, String)> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let Some((&k, v)) = line.split_first() else {
            continue;
        };
        let Some(key) = keys.get(usize::from(k) % keys.len().max(1)) else {
            continue;
        };
        vars.retain(|(n, _)| n != key);
        vars.push((key, String::from_utf8_lossy(v).into_owned()));
    }
    vars
}
