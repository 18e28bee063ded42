//! A gzip member writer whose deflate state is reused from one render to the
//! next (the output buffer is the render's).

/// Reused deflate and CRC state.
#[cfg(feature = "gzip")]
pub(super) struct Gzip {
    deflate: flate2::Compress,
    crc: flate2::Crc,
}

#[cfg(feature = "gzip")]
impl Gzip {
    pub(super) fn new() -> Self {
        Gzip {
            // Level 1: most of the size gain on metrics text for a fraction of
            // the time of the default level (docs/design.md).
            deflate: flate2::Compress::new(flate2::Compression::fast(), false),
            crc: flate2::Crc::new(),
        }
    }

    /// Replaces `out` with `input` as one gzip member (RFC 1952); false (and
    /// `out` unspecified) if deflate failed.
    pub(super) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        // ID1 ID2, CM = deflate, no flags, no mtime, no extra flags, OS unknown.
        const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        out.clear();
        out.extend_from_slice(&HEADER);
        self.deflate.reset();
        // Metrics text shrinks 5-10×; start with room for a third and grow
        // (amortised, kept for the next render) if that is not enough.
        out.reserve(input.len() / 3 + 64);
        loop {
            let consumed = usize::try_from(self.deflate.total_in()).unwrap_or(usize::MAX);
            let rest = input.get(consumed..).unwrap_or(&[]);
            match self
                .deflate
                .compress_vec(rest, out, flate2::FlushCompress::Finish)
            {
                Ok(flate2::Status::StreamEnd) => break,
                Ok(_) => out.reserve(out.capacity().max(4096)),
                Err(_) => return false,
            }
        }
        self.crc.reset();
        self.crc.update(input);
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        // ISIZE: the input length modulo 2^32.
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        true
    }
}

/// Without the `gzip` feature: never compresses.
#[cfg(not(feature = "gzip"))]
pub(super) struct Gzip;

#[cfg(not(feature = "gzip"))]
impl Gzip {
    pub(super) fn new() -> Self {
        Gzip
    }

    pub(super) fn compress(&mut self, _input: &[u8], _out: &mut Vec<u8>) -> bool {
        false
    }
}
