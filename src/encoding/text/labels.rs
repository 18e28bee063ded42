// A series' labels: their names checked (valid, not repeated, no `le` on a
// histogram) and the labels rendered after the family's sample name.
//
// `'static` names are checked once per family: a series whose names are all
// `'static` and had to be checked records them, with their rendered pieces,
// in `Known`; a later series whose names are the same strings, position by
// position, copies the pieces with no check.

/// Scratch for checking one series' label names.
#[derive(Default)]
struct Check {
    /// The names so far, each followed by 0xFF, to find repeats.
    names: Vec<u8>,
    /// The `'static` names so far (become `Known::names`).
    checked: Vec<&'static str>,
}

impl Writer<'_> {
    /// Checks the labels and appends them to the output, rendered and after
    /// `head` (`name{a="x",b="y"`), or nothing if there are none; `false` if a
    /// name is invalid, repeated, or `le` on a histogram (the output then
    /// holds part of them: the caller cuts it).
    ///
    /// `'static` names that match, position by position, a sequence already
    /// checked in this family are not checked again: such a name is the same
    /// string, so the same verdict (validity, `le`, repeats) holds.
    fn render_labels(&mut self, labels: &Labels<'_>) -> bool {
        let st = &mut *self.st;
        let mut r = Render {
            out: &mut *self.out.buf,
            known: &st.known,
            check: &mut st.check,
            histogram: self.mode == Mode::Histogram,
            k: 0,
            fast: true,
            ok: true,
            all_static: true,
        };
        labels.for_each_sourced(|name, value| r.label(name, value));
        let Render {
            ok,
            fast,
            all_static,
            ..
        } = r;
        if ok && !fast && all_static {
            let known = &mut st.known;
            // Copied, not swapped: a swap would hand the check a list that
            // never grew, which a later scrape then grows (an allocation in a
            // scrape after the first, with one labeled family).
            known.names.clear();
            known.names.extend_from_slice(&st.check.checked);
            known.pieces.clear();
            known.spans.clear();
            for (i, n) in known.names.iter().enumerate() {
                let a = known.pieces.len();
                if i > 0 {
                    known.pieces.push(b',');
                } else {
                    known.pieces.extend_from_slice(&known.head);
                }
                known.pieces.extend_from_slice(n.as_bytes());
                known.pieces.extend_from_slice(b"=\"");
                known.spans.push((n, a, known.pieces.len()));
            }
        }
        ok
    }
}

/// One series' labels being checked and written (see
/// [`Writer::render_labels`]).
struct Render<'s> {
    out: &'s mut Vec<u8>,
    known: &'s Known,
    check: &'s mut Check,
    histogram: bool,
    /// Labels so far.
    k: usize,
    /// Whether all of them matched `known`.
    fast: bool,
    /// Whether all of them were valid.
    ok: bool,
    /// Whether all of them were `'static`.
    all_static: bool,
}

impl Render<'_> {
    #[inline]
    fn label(&mut self, name: LabelName<'_>, value: &str) {
        if let (true, LabelName::Static(s)) = (self.fast, name) {
            if let Some(piece) = self.known.piece(self.k, s) {
                self.k += 1;
                copy::put(self.out, piece);
                escape_value(self.out, value);
                self.out.push(b'"');
                return;
            }
        }
        self.checked_label(name, value);
    }

    /// A label past the names already known for this family: checked.
    #[inline(never)]
    fn checked_label(&mut self, name: LabelName<'_>, value: &str) {
        if !self.ok {
            return;
        }
        let text = match name {
            LabelName::Static(s) => s,
            LabelName::Borrowed(s) => s,
        };
        let k = self.k;
        if self.fast {
            // Leaving the checked prefix: seed the repeat check with it.
            self.fast = false;
            self.check.names.clear();
            self.check.checked.clear();
            for c in self.known.names.iter().take(k) {
                self.check.names.extend_from_slice(c.as_bytes());
                self.check.names.push(0xFF);
                self.check.checked.push(c);
            }
        }
        if !is_valid_label_name(text)
            || (self.histogram && text == "le")
            || (k > 0 && repeated(&self.check.names, text))
        {
            self.ok = false;
            return;
        }
        self.check.names.extend_from_slice(text.as_bytes());
        self.check.names.push(0xFF);
        match name {
            LabelName::Static(s) => self.check.checked.push(s),
            LabelName::Borrowed(_) => self.all_static = false,
        }
        if k > 0 {
            self.out.push(b',');
        } else {
            self.out.extend_from_slice(&self.known.head);
        }
        self.k += 1;
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"=\"");
        escape_value(self.out, value);
        self.out.push(b'"');
    }
}

/// Whether `name` is among the 0xFF-terminated names in `seen`.
fn repeated(seen: &[u8], name: &str) -> bool {
    seen.split(|&b| b == 0xFF).any(|n| n == name.as_bytes())
}
