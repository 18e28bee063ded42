//! Exemplars: the latest observation of a series, or of one histogram
//! bucket, with the labels that point at its trace, kept beside the series'
//! cells for OpenMetrics scrapes.
//!
//! A metric that offers exemplars holds one [`Exemplars`]: a pointer to its
//! slots, allocated (and published with a CAS) at the first exemplar set, so
//! a metric that never gets one costs a null pointer, and updates without an
//! exemplar do not touch it at all.
//!
//! Each slot is a sequence lock whose writers never wait: a writer takes the
//! slot by moving its sequence from even to odd with a CAS, and one that
//! finds it odd (or loses the CAS) drops its exemplar, which is no older than
//! the one being written. Readers (scrapes) copy the slot and keep the copy
//! only if the sequence was even and unchanged around it; the fences make a
//! copy that saw any of a newer write see the odd sequence too (the seqlock
//! of Boehm, "Can seqlocks get along with programming language memory
//! models?", 2012). Every word is an atomic, so a torn copy is a discarded
//! value, never a data race. Loom model: `loom-tests/tests/exemplar.rs`.

use crate::metric::Visitor;
use crate::sync::{fence, loom_const_fn, AtomicPtr, AtomicU64, Ordering};
use crate::Error;

/// Words of rendered labels per slot (fewer under loom, so that a model's
/// writes stay short).
#[cfg(not(nanometrics_loom))]
const WORDS: usize = 32;
#[cfg(nanometrics_loom)]
const WORDS: usize = 2;
/// Bytes of rendered labels (`name="value",…`) a slot holds.
const TEXT: usize = WORDS * 8;

/// OpenMetrics' bound on an exemplar's label names and values together, in
/// code points.
pub const MAX_EXEMPLAR_RUNES: usize = 128;

/// One exemplar as a scrape reads it (see [`Visitor::exemplar`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar<'a> {
    /// The labels, rendered and escaped as they appear between the braces:
    /// `trace_id="4bf92f3577b34da6"`.
    pub labels: &'a str,
    /// The observation: the increment of a counter, the observed value of a
    /// histogram.
    pub value: f64,
    /// When it was set, in seconds since the Unix epoch.
    pub timestamp: f64,
}

/// One exemplar's storage: a sequence lock over its words.
struct Slot {
    /// Even: stable (0: never written); odd: being written.
    seq: AtomicU64,
    value: AtomicU64,
    timestamp: AtomicU64,
    len: AtomicU64,
    text: [AtomicU64; WORDS],
}

impl Slot {
    fn new() -> Self {
        Slot {
            seq: AtomicU64::new(0),
            value: AtomicU64::new(0),
            timestamp: AtomicU64::new(0),
            len: AtomicU64::new(0),
            text: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Writes an exemplar; `false` (and nothing written) if another writer
    /// holds the slot.
    fn write(&self, text: &[u8; TEXT], len: usize, value: f64, timestamp: f64) -> bool {
        let s = self.seq.load(Ordering::Relaxed);
        if s & 1 == 1
            || self
                .seq
                // Acquire: the previous writer's words (before its Release
                // store of `s`) come before ours in every word's order.
                .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        // Release: a reader whose copy sees any word below also sees the odd
        // sequence after its Acquire fence (see the module docs).
        fence(Ordering::Release);
        self.value.store(value.to_bits(), Ordering::Relaxed);
        self.timestamp.store(timestamp.to_bits(), Ordering::Relaxed);
        self.len.store(len as u64, Ordering::Relaxed);
        for (w, chunk) in self.text.iter().zip(text.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
        // Release: the words above are visible to a reader that reads this.
        self.seq.store(s + 2, Ordering::Release);
        true
    }

    /// A consistent copy of the slot into `text`: its length, value and
    /// timestamp, or `None` if never written or written throughout the
    /// attempts.
    fn read(&self, text: &mut [u8; TEXT]) -> Option<(usize, f64, f64)> {
        for _ in 0..4 {
            // Acquire: pairs with the writer's Release store of the sequence.
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 == 0 {
                return None;
            }
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let value = f64::from_bits(self.value.load(Ordering::Relaxed));
            let timestamp = f64::from_bits(self.timestamp.load(Ordering::Relaxed));
            let len = self.len.load(Ordering::Relaxed) as usize;
            for (w, chunk) in self.text.iter().zip(text.chunks_exact_mut(8)) {
                chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
            // Acquire: pairs with the writer's Release fence, so that a copy
            // holding a newer write's word reads a changed sequence below.
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 && len <= TEXT {
                return Some((len, value, timestamp));
            }
        }
        None
    }
}

/// A metric's exemplar slots, one per sample that can carry one.
pub(crate) struct Exemplars {
    /// The first of `len` slots (a leaked `Box<[Slot]>`), or null before
    /// the first exemplar.
    slots: AtomicPtr<Slot>,
    len: usize,
}

impl Exemplars {
    loom_const_fn! {
        /// Room for `len` exemplars, allocated at the first one set.
        pub(crate) const fn new(len: usize) -> Self {
            Exemplars { slots: AtomicPtr::new(std::ptr::null_mut()), len }
        }
    }

    fn slots(&self) -> Option<&[Slot]> {
        // Acquire pairs with the Release CAS in `slots_or_alloc`: the slots
        // are initialised.
        let p = self.slots.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null `slots` is the first of `len` initialised slots
        // from `Box::into_raw` (below), freed only in `drop`, which `&self`
        // precedes.
        Some(unsafe { std::slice::from_raw_parts(p, self.len) })
    }

    #[cold]
    fn slots_or_alloc(&self) -> &[Slot] {
        if let Some(s) = self.slots() {
            return s;
        }
        let fresh: Box<[Slot]> = (0..self.len).map(|_| Slot::new()).collect();
        let fresh = Box::into_raw(fresh).cast::<Slot>();
        // Release publishes the initialised slots; Acquire on failure sees
        // the winner's.
        match self.slots.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // SAFETY: we just published `fresh`, `len` slots, freed only
                // in `drop`.
                unsafe { std::slice::from_raw_parts(fresh, self.len) }
            }
            Err(winner) => {
                // SAFETY: `fresh` lost the race, so nobody else has seen it;
                // it is the `Box<[Slot]>` of `len` slots made above.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(fresh, self.len)) });
                // SAFETY: the winner's slots, as in `slots`.
                unsafe { std::slice::from_raw_parts(winner, self.len) }
            }
        }
    }

    /// Keeps `labels` with `value` as the exemplar of sample `sample`
    /// (dropped, with `Ok`, while another thread writes the same one).
    pub(crate) fn set(
        &self,
        sample: usize,
        labels: &[(&str, &str)],
        value: f64,
    ) -> Result<(), Error> {
        let mut text = [0u8; TEXT];
        let len = render(labels, &mut text)?;
        // Miri's isolation has no wall clock.
        #[cfg(miri)]
        let timestamp = 0.0;
        #[cfg(not(miri))]
        let timestamp = crate::metric::unix_now();
        if let Some(slot) = self.slots_or_alloc().get(sample) {
            slot.write(&text, len, value, timestamp);
        }
        Ok(())
    }

    /// Reports the exemplars of series `series`, whose samples are slots
    /// `series × per` onwards, to `v` (sample indices from 0).
    pub(crate) fn visit_series(&self, series: usize, per: usize, v: &mut dyn Visitor) {
        let Some(slots) = self.slots() else { return };
        let Some(slots) = slots.get(series * per..(series + 1) * per) else {
            return;
        };
        let mut text = [0u8; TEXT];
        for (i, slot) in slots.iter().enumerate() {
            let Some((len, value, timestamp)) = slot.read(&mut text) else {
                continue;
            };
            // Always valid: the bytes were rendered from `&str`s and the
            // copy is consistent.
            if let Ok(labels) = std::str::from_utf8(text.get(..len).unwrap_or_default()) {
                v.exemplar(
                    i,
                    &Exemplar {
                        labels,
                        value,
                        timestamp,
                    },
                );
            }
        }
    }
}

impl Drop for Exemplars {
    fn drop(&mut self) {
        let p = crate::sync::ptr_get_mut(&mut self.slots);
        if !p.is_null() {
            // SAFETY: `p` is the `Box<[Slot]>` of `len` slots published in
            // `slots_or_alloc`; `&mut self` means no reference into it is left.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, self.len)) });
        }
    }
}

/// Renders `labels` as `name="value",…` into `out`; its length, or an error
/// naming what is wrong: an invalid or repeated label name, a double quote
/// in a value, more than
/// [`MAX_EXEMPLAR_RUNES`] code points of names and values, or more than the
/// slot's bytes once escaped.
fn render(labels: &[(&str, &str)], out: &mut [u8; TEXT]) -> Result<usize, Error> {
    let bad = |reason: String| Error::InvalidExemplar { reason };
    let mut runes = 0;
    let mut len = 0;
    let mut put = |bytes: &[u8], len: &mut usize| -> Result<(), Error> {
        let end = *len + bytes.len();
        match out.get_mut(*len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                *len = end;
                Ok(())
            }
            None => Err(bad(format!("labels longer than {TEXT} bytes once escaped"))),
        }
    };
    for (i, (name, value)) in labels.iter().enumerate() {
        if !crate::name::is_valid_label_name(name) {
            return Err(bad(format!("invalid label name `{name}`")));
        }
        if labels
            .get(..i)
            .is_some_and(|b| b.iter().any(|(n, _)| n == name))
        {
            return Err(bad(format!("label `{name}` repeated")));
        }
        runes += name.chars().count() + value.chars().count();
        if runes > MAX_EXEMPLAR_RUNES {
            return Err(bad(format!(
                "labels longer than {MAX_EXEMPLAR_RUNES} code points (OpenMetrics' limit)"
            )));
        }
        if i > 0 {
            put(b",", &mut len)?;
        }
        put(name.as_bytes(), &mut len)?;
        put(b"=\"", &mut len)?;
        for c in value.bytes() {
            match c {
                b'\\' => put(b"\\\\", &mut len)?,
                // Valid OpenMetrics escaped, but Python prometheus_client's
                // strict parser refuses an escaped quote in an exemplar, and
                // a trace id never needs one.
                b'"' => {
                    return Err(bad(format!(
                        "a double quote in the value of `{name}` (not accepted in exemplars)"
                    )))
                }
                b'\n' => put(b"\\n", &mut len)?,
                c => put(&[c], &mut len)?,
            }
        }
        put(b"\"", &mut len)?;
    }
    Ok(len)
}

#[cfg(all(test, not(nanometrics_loom)))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn rendered(labels: &[(&str, &str)]) -> Result<String, Error> {
        let mut out = [0u8; TEXT];
        let n = render(labels, &mut out)?;
        Ok(String::from_utf8(out[..n].to_vec()).unwrap())
    }

    #[test]
    fn labels_render_escaped() {
        assert_eq!(
            rendered(&[("trace_id", "abc"), ("q", "a\\c\nd")]).unwrap(),
            r#"trace_id="abc",q="a\\c\nd""#
        );
        assert_eq!(rendered(&[]).unwrap(), "");
    }

    #[test]
    fn bad_labels_are_errors() {
        let long = "x".repeat(121); // with `trace_id`, 129 code points
        for (labels, what) in [
            (vec![("1x", "v")], "invalid label name `1x`"),
            (vec![("a", "1"), ("a", "2")], "label `a` repeated"),
            (vec![("q", "a\"b")], "double quote in the value of `q`"),
            (vec![("trace_id", long.as_str())], "128 code points"),
        ] {
            let e = rendered(&labels).unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        }
        // 128 code points of which many escape: past the slot's bytes.
        let slashes = "\\".repeat(127);
        let e = rendered(&[("q", slashes.as_str())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("bytes once escaped"), "{e}");
    }

    #[test]
    fn a_slot_reads_back_what_was_written_last() {
        let e = Exemplars::new(2);
        let mut seen = Vec::new();
        struct Seen<'a>(&'a mut Vec<(usize, String, f64)>);
        impl Visitor for Seen<'_> {
            fn family(&mut self, _: &crate::Meta, _: crate::Kind) {}
            fn series(&mut self, _: &crate::Labels<'_>, _: crate::Value<'_>) {}
            fn exemplar(&mut self, sample: usize, ex: &Exemplar<'_>) {
                self.0.push((sample, ex.labels.to_owned(), ex.value));
            }
        }
        e.visit_series(0, 2, &mut Seen(&mut seen));
        assert!(seen.is_empty(), "no exemplar yet");
        e.set(1, &[("trace_id", "a")], 0.5).unwrap();
        e.set(1, &[("trace_id", "b")], 0.25).unwrap();
        e.visit_series(0, 2, &mut Seen(&mut seen));
        assert_eq!(seen, [(1, "trace_id=\"b\"".to_owned(), 0.25)]);
    }
}
