//! TEMPORARY stand-in for `crate::encoding` (branch `encoding`), with the
//! same API contract, so that the responder builds and is tested before the
//! merge. It writes plain Prometheus 0.0.4 text without escaping and is
//! deleted when the real encoder lands.

use crate::{Error, Kind, Labels, Meta, Registry, Value, Visitor};

/// Exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    OpenMetrics,
    Prometheus,
}

impl Format {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The shim writes only 0.0.4 text, so it always picks it.
    pub(crate) fn negotiate(_accept: &str) -> Format {
        Format::Prometheus
    }
}

/// Encoder with reused buffers.
pub(crate) struct Encoder {
    prefix: String,
    buf: Vec<u64>,
    name: String,
}

impl Encoder {
    pub(crate) fn new() -> Encoder {
        Encoder {
            prefix: String::new(),
            buf: Vec::new(),
            name: String::new(),
        }
    }

    pub(crate) fn with_prefix(mut self, prefix: &str) -> Result<Encoder, Error> {
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    pub(crate) fn encode(&mut self, registry: &Registry, format: Format, out: &mut Vec<u8>) {
        enum Num {
            U(u64),
            I(i64),
            F(f64),
        }
        struct W<'a> {
            prefix: &'a str,
            out: &'a mut Vec<u8>,
            buf: &'a mut Vec<u64>,
            name: &'a mut String,
        }
        impl W<'_> {
            fn line(&mut self, suffix: &str, labels: &Labels<'_>, le: Option<f64>, v: Num) {
                self.out.extend_from_slice(self.prefix.as_bytes());
                self.out.extend_from_slice(self.name.as_bytes());
                self.out.extend_from_slice(suffix.as_bytes());
                let mut first = true;
                let out = &mut *self.out;
                let mut sep = |out: &mut Vec<u8>| {
                    out.push(if first { b'{' } else { b',' });
                    first = false;
                };
                labels.for_each(|n, v| {
                    sep(out);
                    out.extend_from_slice(n.as_bytes());
                    out.extend_from_slice(b"=\"");
                    out.extend_from_slice(v.as_bytes());
                    out.push(b'"');
                });
                if let Some(le) = le {
                    sep(out);
                    out.extend_from_slice(b"le=\"");
                    if le.is_infinite() {
                        out.extend_from_slice(b"+Inf");
                    } else {
                        out.extend_from_slice(ryu::Buffer::new().format(le).as_bytes());
                    }
                    out.push(b'"');
                }
                if !first {
                    out.push(b'}');
                }
                out.push(b' ');
                match v {
                    Num::U(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
                    Num::I(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
                    Num::F(v) => out.extend_from_slice(ryu::Buffer::new().format(v).as_bytes()),
                }
                out.push(b'\n');
            }
        }
        impl Visitor for W<'_> {
            fn family(&mut self, meta: &Meta, kind: Kind) {
                self.name.clear();
                self.name.push_str(meta.name());
                let t = match kind {
                    Kind::Counter => "counter",
                    Kind::Gauge | Kind::Info => "gauge",
                    Kind::Histogram => "histogram",
                };
                self.out.extend_from_slice(b"# TYPE ");
                self.out.extend_from_slice(self.prefix.as_bytes());
                self.out.extend_from_slice(meta.name().as_bytes());
                self.out.push(b' ');
                self.out.extend_from_slice(t.as_bytes());
                self.out.push(b'\n');
            }
            fn series(&mut self, labels: &Labels<'_>, value: Value<'_>) {
                match value {
                    Value::Counter(v) => self.line("", labels, None, Num::U(v)),
                    Value::CounterF64(v) | Value::GaugeF64(v) => {
                        self.line("", labels, None, Num::F(v))
                    }
                    Value::Gauge(v) => self.line("", labels, None, Num::I(v)),
                    Value::Info => self.line("", labels, None, Num::U(1)),
                    Value::Histogram(h) => {
                        let mut buf = std::mem::take(self.buf);
                        let t = h.read(&mut buf);
                        let bounds = h.bounds().iter().copied().chain([f64::INFINITY]);
                        for (le, c) in bounds.zip(buf.iter()) {
                            self.line("_bucket", labels, Some(le), Num::U(*c));
                        }
                        self.line("_sum", labels, None, Num::F(t.sum));
                        self.line("_count", labels, None, Num::U(t.count));
                        *self.buf = buf;
                    }
                }
            }
        }
        let mut w = W {
            prefix: &self.prefix,
            out,
            buf: &mut self.buf,
            name: &mut self.name,
        };
        registry.visit(&mut w);
        if format == Format::OpenMetrics {
            out.extend_from_slice(b"# EOF\n");
        }
    }
}
