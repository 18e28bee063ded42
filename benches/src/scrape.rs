//! The scrape workloads: the same series in every library, encoded as
//! Prometheus text, and a loopback HTTP scrape.
//!
//! `n` series are spread over [`FAMILIES`] counter families with one label
//! (`user="user-00042"`), series `i` holding the value `i + 1`. Every library
//! registers them the way its documentation shows and encodes with its own
//! text encoder into a buffer the caller reuses between scrapes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use crate::workload::distinct_values;

/// Counter families the series are spread over.
pub const FAMILIES: usize = 10;

const NAMES: [&str; FAMILIES] = [
    "bench_family_0_total",
    "bench_family_1_total",
    "bench_family_2_total",
    "bench_family_3_total",
    "bench_family_4_total",
    "bench_family_5_total",
    "bench_family_6_total",
    "bench_family_7_total",
    "bench_family_8_total",
    "bench_family_9_total",
];

/// prometheus-client's label set for the scrape families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct PcUser {
    /// The user label.
    pub user: String,
}

/// measured's label group for the scrape families (run-time strings).
#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredUserSet)]
pub struct MeasuredUser<'a> {
    /// The user label.
    #[label(dynamic_with = measured::lasso::ThreadedRodeo)]
    pub user: &'a str,
}

/// A fresh interner for [`MeasuredUser`]'s run-time `user` values.
pub fn measured_users() -> MeasuredUserSet {
    MeasuredUserSet {
        user: measured::lasso::ThreadedRodeo::new(),
    }
}

type MeasuredVec = measured::CounterVec<MeasuredUserSet>;

/// The same `n` series registered in every library.
pub struct ScrapeSet {
    /// nanometrics' registry (leaked: its HTTP responder wants `'static`).
    pub nm: &'static nanometrics::Registry,
    /// prometheus' registry.
    pub prom: prometheus::Registry,
    /// prometheus-client's registry.
    pub pc: prometheus_client::registry::Registry,
    /// metrics-exporter-prometheus' recorder (not installed globally).
    pub metrics: metrics_exporter_prometheus::PrometheusRecorder,
    /// measured's families (measured has no registry: a group is a struct).
    pub measured: Vec<MeasuredVec>,
    /// Number of series.
    pub series: usize,
}

impl ScrapeSet {
    /// Registers `n` series (a multiple of [`FAMILIES`]) in every library.
    pub fn new(n: usize) -> Self {
        let per = n / FAMILIES;
        let users = distinct_values("user", per);

        let nm: &'static nanometrics::Registry = Box::leak(Box::new(nanometrics::Registry::new()));
        let prom = prometheus::Registry::new();
        let mut pc = prometheus_client::registry::Registry::default();
        let metrics = crate::peers::metrics_builder().build_recorder();
        let mut measured = Vec::with_capacity(FAMILIES);

        for (f, name) in NAMES.iter().enumerate() {
            let nm_family = nm
                .register(
                    nanometrics::Family::<nanometrics::Counter, 1>::try_new(
                        nanometrics::Meta::try_new(*name, "Bench family.").expect("valid name"),
                        ["user"],
                        (),
                    )
                    .expect("valid family"),
                )
                .expect("registered");
            let prom_family = prometheus::IntCounterVec::new(
                prometheus::Opts::new(*name, "Bench family."),
                &["user"],
            )
            .expect("valid family");
            prom.register(Box::new(prom_family.clone()))
                .expect("registered");
            let pc_family = prometheus_client::metrics::family::Family::<
                PcUser,
                prometheus_client::metrics::counter::Counter,
            >::default();
            // prometheus-client appends `_total` to counters itself.
            pc.register(
                name.trim_end_matches("_total"),
                "Bench family.",
                pc_family.clone(),
            );
            let measured_family = MeasuredVec::with_label_set(measured_users());
            for (k, user) in users.iter().enumerate() {
                let value = (f * per + k + 1) as u64;
                nm_family.with([user.as_str()]).inc_by(value);
                prom_family
                    .with_label_values(&[user.as_str()])
                    .inc_by(value);
                pc_family
                    .get_or_create(&PcUser { user: user.clone() })
                    .inc_by(value);
                metrics::with_local_recorder(&metrics, || {
                    metrics::counter!(*name, "user" => user.clone()).absolute(value)
                });
                measured_family.inc_by(MeasuredUser { user }, value);
            }
            measured.push(measured_family);
        }
        Self {
            nm,
            prom,
            pc,
            metrics,
            measured,
            series: n,
        }
    }
}

/// One library's encoder with its reusable state; `encode` replaces `out`'s
/// contents with a full Prometheus-text scrape.
pub enum Scraper<'a> {
    /// nanometrics' `Encoder` (Prometheus text 0.0.4).
    Nanometrics(&'a ScrapeSet, nanometrics::Encoder),
    /// nanometrics' `Encoder` writing OpenMetrics 1.0.
    NanometricsOpenMetrics(&'a ScrapeSet, nanometrics::Encoder),
    /// prometheus' `gather()` + `TextEncoder`.
    Prometheus(&'a ScrapeSet),
    /// prometheus-client's `encoding::text::encode` into a reused `String`.
    PrometheusClient(&'a ScrapeSet, String),
    /// metrics-exporter-prometheus' `render_to_write`.
    Metrics(&'a ScrapeSet, metrics_exporter_prometheus::PrometheusHandle),
    /// measured's `TextEncoder` over every family.
    Measured(&'a ScrapeSet),
}

/// The libraries' scraper names, in report order.
pub const SCRAPERS: [&str; 6] = [
    "nanometrics",
    "nanometrics_openmetrics",
    "prometheus",
    "prometheus_client",
    "metrics",
    "measured",
];

/// The scraper called `name` (one of [`SCRAPERS`]) over `set`.
pub fn scraper<'a>(set: &'a ScrapeSet, name: &str) -> Scraper<'a> {
    match name {
        "nanometrics" => Scraper::Nanometrics(set, nanometrics::Encoder::new()),
        "nanometrics_openmetrics" => {
            Scraper::NanometricsOpenMetrics(set, nanometrics::Encoder::new())
        }
        "prometheus" => Scraper::Prometheus(set),
        "prometheus_client" => Scraper::PrometheusClient(set, String::new()),
        "metrics" => Scraper::Metrics(set, set.metrics.handle()),
        "measured" => Scraper::Measured(set),
        other => panic!("unknown scraper {other}"),
    }
}

impl Scraper<'_> {
    /// Encodes a full scrape into `out` (cleared first).
    pub fn encode(&mut self, out: &mut Vec<u8>) {
        out.clear();
        match self {
            Scraper::Nanometrics(set, enc) => {
                enc.encode(set.nm, nanometrics::Format::Prometheus, out)
            }
            Scraper::NanometricsOpenMetrics(set, enc) => {
                enc.encode(set.nm, nanometrics::Format::OpenMetrics, out)
            }
            Scraper::Prometheus(set) => {
                use prometheus::Encoder as _;
                prometheus::TextEncoder::new()
                    .encode(&set.prom.gather(), out)
                    .expect("encodes");
            }
            Scraper::PrometheusClient(set, text) => {
                text.clear();
                prometheus_client::encoding::text::encode(text, &set.pc).expect("encodes");
                out.extend_from_slice(text.as_bytes());
            }
            Scraper::Metrics(_, handle) => handle.render_to_write(out).expect("encodes"),
            Scraper::Measured(set) => {
                use measured::metric::MetricFamilyEncoding as _;
                let mut enc = measured::text::TextEncoder::new(&mut *out);
                for (family, name) in set.measured.iter().zip(NAMES) {
                    family
                        .collect_family_into(
                            measured::metric::name::MetricName::from_str(name),
                            &mut enc,
                        )
                        .expect("encodes");
                }
                enc.flush().expect("encodes");
            }
        }
    }
}

/// A minimal blocking HTTP/1.1 responder for the peers, which ship none
/// (metrics-exporter-prometheus' listener needs its `http-listener` feature,
/// left off): answers every request on one kept-alive connection with the
/// scraper `name`'s encoding of `set`, until the client closes. Loopback only.
pub fn serve_peer(
    set: Arc<ScrapeSet>,
    name: &'static str,
) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let handle = std::thread::spawn(move || {
        let mut scraper = scraper(&set, name);
        let mut body = Vec::new();
        let mut head = Vec::new();
        // One client connection per benchmark; it ends when that client closes.
        if let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_nodelay(true);
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut writer = stream;
            let mut line = String::new();
            loop {
                // Read one request head (no body is ever sent).
                let mut blank = false;
                while !blank {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => blank = line == "\r\n",
                    }
                }
                scraper.encode(&mut body);
                head.clear();
                write!(
                    head,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .expect("write to Vec");
                if writer.write_all(&head).is_err() || writer.write_all(&body).is_err() {
                    return;
                }
            }
        }
    });
    (addr, handle)
}

/// A kept-alive loopback client that GETs `/metrics` and reads the whole
/// response (head and `Content-Length` body).
pub struct ScrapeClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
    body: Vec<u8>,
}

impl ScrapeClient {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect loopback");
        let _ = stream.set_nodelay(true);
        Self {
            reader: BufReader::with_capacity(64 * 1024, stream.try_clone().expect("clone stream")),
            writer: stream,
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// One scrape; returns the body length.
    pub fn scrape(&mut self) -> usize {
        self.writer
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n")
            .expect("send request");
        let mut len = None;
        loop {
            self.line.clear();
            let n = self.reader.read_line(&mut self.line).expect("read head");
            assert!(n > 0, "server closed the connection");
            if self.line == "\r\n" {
                break;
            }
            let lower = self.line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse::<usize>().ok();
            }
        }
        let len = len.expect("Content-Length");
        self.body.resize(len, 0);
        self.reader.read_exact(&mut self.body).expect("read body");
        len
    }
}

/// Keeps a library's server alive for as long as the benchmark scrapes it.
pub enum Server {
    /// nanometrics' own responder.
    Nanometrics(nanometrics::http::Server),
    /// A peer behind [`serve_peer`].
    Peer(std::thread::JoinHandle<()>),
}

/// Starts every library's server over `set`: nanometrics' own responder, and
/// [`serve_peer`] around each peer's encoder.
pub fn servers(set: Arc<ScrapeSet>) -> Vec<(&'static str, SocketAddr, Server)> {
    let mut out = Vec::new();
    let nm = nanometrics::http::serve(&nanometrics::config::HttpConfig::new().port(0), set.nm)
        .expect("nanometrics responder");
    out.push(("nanometrics", nm.local_addr(), Server::Nanometrics(nm)));
    let names = ["prometheus", "prometheus_client", "metrics", "measured"];
    for name in names {
        let (addr, handle) = serve_peer(Arc::clone(&set), name);
        out.push((name, addr, Server::Peer(handle)));
    }
    out
}
