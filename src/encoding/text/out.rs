// Where the text goes (`Out`): a caller's `Vec`, or a buffer drained into
// an `io::Write` only at the boundaries the writer marks, between series.

/// Where the text goes: a caller's `Vec`, or a buffer drained into an
/// `io::Write` at the first series boundary past a limit.
///
/// Pieces are appended with no check; only [`boundary`](Self::boundary),
/// called between series and after each family's metadata, may drain. A
/// streaming buffer therefore holds at most `limit` bytes plus one series (or
/// one family's metadata) before it is written out.
pub(crate) struct Out<'a> {
    buf: &'a mut Vec<u8>,
    sink: Option<&'a mut dyn io::Write>,
    /// Drain once this many bytes are buffered (`usize::MAX`: never).
    limit: usize,
    error: Option<io::Error>,
}

impl<'a> Out<'a> {
    /// Appends to `buf`, growing it as needed.
    pub(crate) fn vec(buf: &'a mut Vec<u8>) -> Self {
        Self {
            buf,
            sink: None,
            limit: usize::MAX,
            error: None,
        }
    }

    /// Fills `buf` until it holds at least `limit` bytes at a boundary, then
    /// drains it into `sink`.
    pub(crate) fn streaming(
        buf: &'a mut Vec<u8>,
        sink: &'a mut dyn io::Write,
        limit: usize,
    ) -> Self {
        Self {
            buf,
            sink: Some(sink),
            limit,
            error: None,
        }
    }

    /// Appends `bytes`: names, keywords and help pieces are mostly short,
    /// which `copy::put` writes without a `memcpy` call.
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        copy::put(self.buf, bytes);
    }

    /// A place where the text may be cut: drains the buffer if it holds
    /// `limit` bytes or more (streaming only; `limit` is `usize::MAX` else).
    #[inline]
    fn boundary(&mut self) {
        if self.buf.len() >= self.limit {
            self.drain();
        }
    }

    /// Writes out what is buffered (streaming only); after an error, drops it.
    #[cold]
    fn drain(&mut self) {
        if let Some(sink) = self.sink.as_mut() {
            if self.error.is_none() && !self.buf.is_empty() {
                if let Err(e) = sink.write_all(self.buf) {
                    self.error = Some(e);
                }
            }
            self.buf.clear();
        }
    }

    fn failed(&self) -> bool {
        self.error.is_some()
    }
}
