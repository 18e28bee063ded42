// The sample lines: a series' value checked against its family (kind,
// counter rules, duplicate label sets) and written after its labels, or the
// line cut back; a histogram's buckets, sum and count.
//
// Every integer value ends its line through `copy::put_u64_line`.

/// A scalar sample value.
#[derive(Clone, Copy)]
enum Scalar {
    U(u64),
    I(i64),
    F(f64),
}

impl Scalar {
    /// Whether OpenMetrics accepts it as a counter total.
    fn counter_ok(self) -> bool {
        match self {
            Scalar::U(_) => true,
            Scalar::I(v) => v >= 0,
            Scalar::F(v) => v >= 0.0,
        }
    }
}

impl Writer<'_> {
    /// Ends the line just written (with its newline) with the exemplar
    /// reported for sample `sample` of this series, if any:
    /// ` # {labels} value timestamp`.
    #[inline]
    fn put_exemplar(&mut self, sample: usize) {
        if self.st.exemplars.is_empty() {
            return;
        }
        self.put_exemplar_slow(sample);
    }

    #[inline(never)]
    fn put_exemplar_slow(&mut self, sample: usize) {
        let st = &*self.st;
        let Some(&(_, a, b, value, timestamp)) = st.exemplars.iter().find(|e| e.0 == sample)
        else {
            return;
        };
        if self.out.buf.last() == Some(&b'\n') {
            self.out.buf.pop();
        }
        self.out.put(b" # {");
        self.out.put(st.exemplar_text.get(a..b).unwrap_or_default());
        self.out.put(b"} ");
        number::with_f64(value, |b| self.out.put(b));
        self.out.put(b" ");
        number::with_f64(timestamp, |b| self.out.put(b));
        self.out.put(b"\n");
    }

    /// Forgets the exemplars reported for a series once it is written (or
    /// left out).
    #[inline]
    fn drop_exemplars(&mut self) {
        if !self.st.exemplars.is_empty() {
            self.st.exemplars.clear();
            self.st.exemplar_text.clear();
        }
    }

    /// Writes `name{labels[,le="…"]` (or just `name`) and returns what
    /// separates it from the value: `} ` (or ` `).
    fn sample_start(&mut self, suffix: &str, le: Option<&[u8]>) -> &'static [u8] {
        let head = self.st.known.head.as_slice();
        let name = head.split_last().map_or(head, |(_, name)| name);
        let labels = !self.st.labels.is_empty();
        if labels || le.is_some() {
            if suffix.is_empty() {
                self.out.put(head);
            } else {
                self.out.put(name);
                self.out.put(suffix.as_bytes());
                self.out.put(b"{");
            }
            self.out.put(&self.st.labels);
            if let Some(le) = le {
                self.out.put(if labels { b",le=\"" } else { b"le=\"" });
                self.out.put(le);
                self.out.put(b"\"");
            }
            b"} "
        } else {
            self.out.put(name);
            self.out.put(suffix.as_bytes());
            b" "
        }
    }

    fn histogram(&mut self, h: HistogramView<'_>) {
        let totals = h.read(&mut self.st.buckets);
        let bounds = h.bounds();
        let mut buckets = std::mem::take(&mut self.st.buckets);
        self.render_bounds(bounds);
        let (text, ends) = (
            std::mem::take(&mut self.st.le_text),
            std::mem::take(&mut self.st.le_ends),
        );
        let mut start = 0;
        for (i, (&end, count)) in ends.iter().zip(buckets.iter()).enumerate() {
            let le = text.get(start..end).unwrap_or_default();
            start = end;
            let lead = self.sample_start("_bucket", Some(le));
            copy::put_u64_line(self.out.buf, lead, *count);
            self.put_exemplar(i);
        }
        (self.st.le_text, self.st.le_ends) = (text, ends);
        let lead = self.sample_start("_bucket", Some(b"+Inf"));
        copy::put_u64_line(self.out.buf, lead, totals.count);
        self.put_exemplar(bounds.len());
        // OpenMetrics: the sum is a counter (never NaN or negative) and must be
        // left out, with the count, when buckets below zero exist.
        let with_sum = self.format == Format::Prometheus
            || (self.sum_allowed && !totals.sum.is_nan() && totals.sum >= 0.0);
        if with_sum {
            let lead = self.sample_start("_sum", None);
            self.out.put(lead);
            number::with_f64(totals.sum, |b| self.out.put(b));
            self.out.put(b"\n");
            let lead = self.sample_start("_count", None);
            copy::put_u64_line(self.out.buf, lead, totals.count);
        }
        buckets.clear();
        std::mem::swap(&mut self.st.buckets, &mut buckets);
    }

    /// Renders `bounds` as `le` values into the state's cache, unless the
    /// cache holds these very values already.
    fn render_bounds(&mut self, bounds: &[f64]) {
        let st = &mut *self.st;
        let same = st.le_bits.len() == bounds.len()
            && st.le_bits.iter().zip(bounds).all(|(&b, v)| b == v.to_bits());
        if same {
            return;
        }
        st.le_bits.clear();
        st.le_text.clear();
        st.le_ends.clear();
        for v in bounds {
            st.le_bits.push(v.to_bits());
            st.le_text
                .extend_from_slice(number::canonical(*v).as_bytes());
            st.le_ends.push(st.le_text.len());
        }
    }

    /// [`sample`](Self::sample) after labels rendered from `start` up to the
    /// last value's closing quote (out of line: the fast path keeps fewer
    /// registers).
    #[inline(never)]
    fn sample_slow(&mut self, start: usize, value: Value<'_>) {
        self.out.buf.push(b'"');
        self.sample(start, true, value);
    }

    /// Ends the sample line whose labels (if `labeled`) are rendered from
    /// `start` on: checks the value against the family, writes it, or cuts
    /// the line back to `start`.
    #[inline(always)]
    fn sample(&mut self, start: usize, labeled: bool, value: Value<'_>) {
        let from = start + self.st.known.head.len();
        let rendered = self.out.buf.get(from..).unwrap_or_default();
        // Histogram values belong to histogram families only, in any format.
        // A label set already written in this family (a collector reporting
        // it twice) would make the exposition invalid: the first one stands,
        // even where this format cannot carry its value.
        let histogram = matches!(value, Value::Histogram(_));
        if histogram != (self.mode == Mode::Histogram)
            || (!self.unique && !self.st.series.insert(rendered))
        {
            self.out.buf.truncate(start);
            return;
        }
        let scalar = match value {
            Value::Histogram(h) => {
                self.st.labels.clear();
                self.st.labels.extend_from_slice(rendered);
                self.out.buf.truncate(start);
                self.sum_allowed = h.bounds().first().is_none_or(|b| *b >= 0.0);
                self.histogram(h);
                self.out.boundary();
                return;
            }
            Value::Info => Scalar::U(1),
            Value::Counter(v) if self.mode != Mode::Info => Scalar::U(v),
            Value::Gauge(v) if self.mode != Mode::Info => Scalar::I(v),
            Value::CounterF64(v) | Value::GaugeF64(v) if self.mode != Mode::Info => Scalar::F(v),
            _ => {
                self.out.buf.truncate(start);
                return;
            }
        };
        if self.mode == Mode::Counter && !scalar.counter_ok() {
            self.out.buf.truncate(start);
            return;
        }
        let lead: &[u8] = if labeled {
            b"} "
        } else {
            let head = self.st.known.head.as_slice();
            self.out
                .put(head.split_last().map_or(head, |(_, name)| name));
            b" "
        };
        // Every integer value, whatever its kind, ends the line through
        // `put_u64_line`; a negative gauge writes its sign first.
        match scalar {
            Scalar::U(v) => {
                copy::put_u64_line(self.out.buf, lead, v);
                if self.mode == Mode::Counter {
                    self.put_exemplar(0);
                }
            }
            Scalar::I(v) if v < 0 => {
                self.out.put(lead);
                copy::put_u64_line(self.out.buf, b"-", v.unsigned_abs());
            }
            Scalar::I(v) => copy::put_u64_line(self.out.buf, lead, v.unsigned_abs()),
            Scalar::F(v) => {
                self.out.put(lead);
                number::with_f64(v, |b| self.out.put(b));
                self.out.put(b"\n");
            }
        }
        self.out.boundary();
    }
}
