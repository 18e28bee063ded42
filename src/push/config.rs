//! [`PushConfig`]: where, how often and how to push, from a builder or from
//! the `METRICS_DRIVER`, `METRICS_PUSH_*` and `METRICS_PUSHGATEWAY_*`
//! variables.

use std::fmt;
use std::time::Duration;

use super::url::{parse_http_url, pushgateway_path, HttpUrl};
use crate::config::{config_err, HttpConfig, REDACTED};
use crate::Error;

/// What exports the metrics (`METRICS_DRIVER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// The `/metrics` responder, scraped by Prometheus (`prometheus`, the default).
    Prometheus,
    /// Pushes to a Prometheus Pushgateway (`pushgateway`).
    Pushgateway,
    /// Pushes the text body to a URL (`push`), such as VictoriaMetrics'
    /// `/api/v1/import/prometheus`.
    Push,
}

impl Driver {
    /// The value `METRICS_DRIVER` takes for this driver.
    pub const fn as_str(self) -> &'static str {
        match self {
            Driver::Prometheus => "prometheus",
            Driver::Pushgateway => "pushgateway",
            Driver::Push => "push",
        }
    }

    /// Reads a `METRICS_DRIVER` value: `prometheus`, `pushgateway` or `push`,
    /// in any case, surrounding whitespace ignored.
    pub fn parse(v: &str) -> Option<Driver> {
        let v = v.trim();
        [Driver::Prometheus, Driver::Pushgateway, Driver::Push]
            .into_iter()
            .find(|d| v.eq_ignore_ascii_case(d.as_str()))
    }
}

/// The HTTP method of a push (`METRICS_PUSH_METHOD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `PUT`: the Pushgateway replaces the whole group (its default here).
    Put,
    /// `POST`: the Pushgateway replaces only the families pushed (the
    /// default of the `push` driver).
    Post,
}

impl Method {
    /// `PUT` or `POST`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Put => "PUT",
            Method::Post => "POST",
        }
    }
}

/// The variables [`PushConfig::from_env`] reads, in the order it reads them.
pub const ENV_VARS: [&str; 14] = [
    "METRICS_DRIVER",
    "METRICS_PUSH_URL",
    "METRICS_PUSHGATEWAY_URL",
    "METRICS_PUSHGATEWAY_JOB",
    "METRICS_PUSHGATEWAY_GROUPING",
    "METRICS_PUSHGATEWAY_DELETE_ON_SHUTDOWN",
    "METRICS_PUSH_INTERVAL",
    "METRICS_PUSH_METHOD",
    "METRICS_PUSH_TIMEOUT",
    "METRICS_PUSH_MAX_BACKOFF",
    "METRICS_PUSH_TOKEN",
    "METRICS_PUSH_USERNAME",
    "METRICS_PUSH_PASSWORD",
    "METRICS_PUSH_GZIP",
];

/// Default time between pushes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// Default connect, read and write timeout of a push.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default longest wait between retries of a failed push.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);
/// First retry delay bound; doubled each failure up to the maximum back-off.
pub(crate) const BASE_BACKOFF: Duration = Duration::from_millis(250);
/// The longest duration a variable or setter takes (one day).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Where and how to push the registry: built with [`pushgateway`](Self::pushgateway)
/// or [`url`](Self::url) and the setters, or read from the environment with
/// [`from_env`](Self::from_env).
///
/// ```
/// use std::time::Duration;
/// use nanometrics::push::{Method, PushConfig};
/// let cfg = PushConfig::pushgateway("http://pushgateway:9091", "pubsub")?
///     .grouping("instance", "node-1")?
///     .grouping("path", "/var/tmp")?
///     .method(Method::Post)
///     .interval(Duration::from_secs(10));
/// assert_eq!(
///     cfg.target().to_string(),
///     "http://pushgateway:9091/metrics/job/pubsub/instance/node-1/path@base64/L3Zhci90bXA="
/// );
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PushConfig {
    pub(crate) driver: Driver,
    pub(crate) url: HttpUrl,
    pub(crate) job: String,
    pub(crate) grouping: Vec<(String, String)>,
    pub(crate) method: Method,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_backoff: Duration,
    /// The whole `Authorization` header value (`Bearer …`, `Basic …`).
    pub(crate) authorization: Option<String>,
    pub(crate) delete_on_shutdown: bool,
    pub(crate) gzip: bool,
    pub(crate) prefix: String,
    pub(crate) self_metrics: bool,
}

impl fmt::Debug for PushConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushConfig")
            .field("driver", &self.driver)
            .field("target", &self.target().to_string())
            .field("method", &self.method)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("max_backoff", &self.max_backoff)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| REDACTED),
            )
            .field("delete_on_shutdown", &self.delete_on_shutdown)
            .field("gzip", &self.gzip)
            .field("prefix", &self.prefix)
            .field("self_metrics", &self.self_metrics)
            .finish()
    }
}

/// The URL a push goes to, as [`PushConfig::target`] shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target(pub(crate) String);

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PushConfig {
    pub(super) fn base(driver: Driver, url: HttpUrl) -> Self {
        PushConfig {
            driver,
            url,
            job: String::new(),
            grouping: Vec::new(),
            method: if driver == Driver::Pushgateway {
                Method::Put
            } else {
                Method::Post
            },
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            max_backoff: DEFAULT_MAX_BACKOFF,
            authorization: None,
            delete_on_shutdown: false,
            gzip: false,
            prefix: String::new(),
            self_metrics: true,
        }
    }

    /// Pushes to the Pushgateway at `url` (`http://host[:port][/path]`, the
    /// gateway's base URL) as job `job`, with the grouping label `instance`
    /// set to this host's name (replace it with [`grouping`](Self::grouping)).
    /// Defaults: `PUT`, every 15 s, 10 s timeouts, back-off up to 30 s.
    ///
    /// ```
    /// use nanometrics::push::PushConfig;
    /// let err = PushConfig::pushgateway("https://pgw:9091", "job").unwrap_err();
    /// assert!(err.to_string().starts_with(r#"pushgateway_url="https://pgw:9091": https is not supported"#));
    /// let err = PushConfig::pushgateway("http://pgw:9091", "").unwrap_err();
    /// assert_eq!(err.to_string(), r#"job="": expected a job name: not empty"#);
    /// ```
    pub fn pushgateway(url: &str, job: &str) -> Result<Self, Error> {
        Self::pushgateway_checked(("pushgateway_url", "job"), url, job)
    }

    pub(super) fn pushgateway_checked(
        keys: (&str, &str),
        url: &str,
        job: &str,
    ) -> Result<Self, Error> {
        let url = parse_http_url(url, false).map_err(|r| config_err(keys.0, url, r))?;
        if job.is_empty() {
            return Err(config_err(keys.1, job, "expected a job name: not empty"));
        }
        let mut cfg = Self::base(Driver::Pushgateway, url);
        cfg.job = job.to_owned();
        if let Some(host) = hostname() {
            cfg.grouping.push(("instance".to_owned(), host));
        }
        Ok(cfg)
    }

    /// Pushes the text body to `url` (`http://host[:port][/path][?query]`)
    /// with `POST`, every 15 s: VictoriaMetrics'
    /// `/api/v1/import/prometheus`, or any endpoint that takes Prometheus text.
    ///
    /// ```
    /// use nanometrics::push::PushConfig;
    /// let cfg = PushConfig::url("http://127.0.0.1:8428/api/v1/import/prometheus")?;
    /// assert_eq!(cfg.target().to_string(), "http://127.0.0.1:8428/api/v1/import/prometheus");
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn url(url: &str) -> Result<Self, Error> {
        Self::url_checked("url", url)
    }

    pub(super) fn url_checked(key: &str, url: &str) -> Result<Self, Error> {
        let parsed = parse_http_url(url, true).map_err(|r| config_err(key, url, r))?;
        Ok(Self::base(Driver::Push, parsed))
    }

    /// Adds (or replaces) the grouping label `name=value` (Pushgateway only;
    /// ignored by the `push` driver). `name` must be a label name other than
    /// `job` and not start with `__`; any value is allowed, the empty one
    /// and values with `/` included (they go into the URL in the
    /// Pushgateway's base64 form).
    pub fn grouping(mut self, name: &str, value: &str) -> Result<Self, Error> {
        check_grouping_name("grouping", name)?;
        set_grouping(&mut self.grouping, name, value);
        Ok(self)
    }

    /// Removes the grouping label `name` (such as the default `instance`).
    pub fn without_grouping(mut self, name: &str) -> Self {
        self.grouping.retain(|(n, _)| n != name);
        self
    }

    /// `PUT` (replace the group) or `POST` (replace only the pushed families).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Time between pushes, clamped to 1 ms ..= 24 h.
    pub fn interval(mut self, d: Duration) -> Self {
        self.interval = clamp(d);
        self
    }

    /// Connect, read and write timeout of each request, clamped to 1 ms ..= 24 h.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = clamp(d);
        self
    }

    /// Longest wait between retries of a push that failed, clamped to
    /// 1 ms ..= 24 h. Waits start below 250 ms and double per failure, each
    /// a random fraction of its bound (full jitter).
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = clamp(d);
        self
    }

    /// Sends `Authorization: Bearer <token>` (letters, digits and `-._~+/`,
    /// optionally `=`-padded, at most 1024 bytes). Replaces basic auth.
    pub fn bearer_token(self, token: &str) -> Result<Self, Error> {
        self.bearer_checked("bearer_token", token)
    }

    pub(super) fn bearer_checked(mut self, key: &str, token: &str) -> Result<Self, Error> {
        // The responder's rules for a token, so one value suits both.
        let checked = HttpConfig::new()
            .bearer_token(token)
            .map_err(|e| rekey(e, key))?;
        self.authorization = checked.bearer.map(|t| format!("Bearer {t}"));
        Ok(self)
    }

    /// Sends `Authorization: Basic <base64(user:password)>`. The user has
    /// no `:` and neither has control characters. Replaces a bearer token.
    pub fn basic_auth(self, user: &str, password: &str) -> Result<Self, Error> {
        self.basic_checked(("basic_auth.user", "basic_auth.password"), user, password)
    }

    pub(super) fn basic_checked(
        mut self,
        keys: (&str, &str),
        user: &str,
        password: &str,
    ) -> Result<Self, Error> {
        let checked = HttpConfig::new()
            .basic_auth(user, password)
            .map_err(|e| match &e {
                Error::Config { key, .. } if key == "basic_auth.user" => rekey(e, keys.0),
                _ => rekey(e, keys.1),
            })?;
        self.authorization = checked.basic.map(|b| format!("Basic {b}"));
        Ok(self)
    }

    /// Whether shutting the pusher down deletes its group from the
    /// Pushgateway (after the final push); off by default, so the last
    /// values stay visible.
    pub fn delete_on_shutdown(mut self, on: bool) -> Self {
        self.delete_on_shutdown = on;
        self
    }

    /// Whether request bodies are gzip-compressed (`Content-Encoding: gzip`;
    /// VictoriaMetrics and Pushgateway 1.x accept it). Off by default; has
    /// no effect without the `gzip` feature.
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// A prefix written before every metric name, as the responder's
    /// `METRICS_PROMETHEUS_PREFIX`.
    pub fn prefix(mut self, prefix: &str) -> Result<Self, Error> {
        if !prefix.is_empty() && !crate::name::is_valid_metric_name(prefix) {
            return Err(config_err(
                "prefix",
                prefix,
                "expected a metric name prefix: [a-zA-Z_:][a-zA-Z0-9_:]*",
            ));
        }
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    /// Whether the pusher registers and pushes its own `nanometrics_push_*`
    /// families (on by default).
    pub fn self_metrics(mut self, on: bool) -> Self {
        self.self_metrics = on;
        self
    }

    /// [`Driver::Pushgateway`] or [`Driver::Push`].
    pub fn driver(&self) -> Driver {
        self.driver
    }

    /// The URL each push goes to (for the Pushgateway, the group's URL).
    pub fn target(&self) -> Target {
        Target(format!("http://{}{}", self.url.authority, self.path()))
    }

    /// The job (empty for the `push` driver).
    pub fn get_job(&self) -> &str {
        &self.job
    }

    /// The grouping labels after `job`, in URL order.
    pub fn get_grouping(&self) -> &[(String, String)] {
        &self.grouping
    }

    /// The push method.
    pub fn get_method(&self) -> Method {
        self.method
    }

    /// The time between pushes.
    pub fn get_interval(&self) -> Duration {
        self.interval
    }

    /// The connect, read and write timeout.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// The longest wait between retries.
    pub fn get_max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// Whether shutdown deletes the group.
    pub fn get_delete_on_shutdown(&self) -> bool {
        self.delete_on_shutdown
    }

    /// Whether bodies are gzip-compressed.
    pub fn get_gzip(&self) -> bool {
        self.gzip
    }

    /// Whether a request carries credentials.
    pub fn has_auth(&self) -> bool {
        self.authorization.is_some()
    }

    /// The request path (with the query of a `push` URL).
    pub(crate) fn path(&self) -> String {
        match self.driver {
            Driver::Pushgateway => pushgateway_path(&self.url.path, &self.job, &self.grouping),
            _ => self.url.path.clone(),
        }
    }
}

impl HttpUrl {
    /// A URL that is never used: the holder of shared settings read while
    /// the driver is `prometheus`.
    pub(super) fn placeholder() -> HttpUrl {
        HttpUrl {
            host: String::new(),
            ip: None,
            port: 80,
            path: "/".to_owned(),
            authority: String::new(),
        }
    }
}

fn clamp(d: Duration) -> Duration {
    d.clamp(Duration::from_millis(1), MAX_DURATION)
}

pub(super) fn set_grouping(grouping: &mut Vec<(String, String)>, name: &str, value: &str) {
    match grouping.iter_mut().find(|(n, _)| n == name) {
        Some((_, v)) => *v = value.to_owned(),
        None => grouping.push((name.to_owned(), value.to_owned())),
    }
}

fn check_grouping_name(key: &str, name: &str) -> Result<(), Error> {
    if !crate::name::is_valid_label_name(name) || name.starts_with("__") || name == "job" {
        return Err(config_err(
            key,
            name,
            "expected a grouping label name: [a-zA-Z_][a-zA-Z0-9_]*, not job, not starting with __",
        ));
    }
    Ok(())
}

/// The same error about another setting.
fn rekey(e: Error, key: &str) -> Error {
    match e {
        Error::Config { value, reason, .. } => Error::Config {
            key: key.to_owned(),
            value,
            reason,
        },
        e => e,
    }
}

/// This host's name (`gethostname(2)`), if it is valid UTF-8 and not empty.
#[allow(unsafe_code)]
pub(crate) fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole
    // call, and gethostname writes at most that many bytes into it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast::<libc::c_char>(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // POSIX leaves a truncated name possibly unterminated: stop at the first
    // NUL or at the end of the buffer.
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(buf.get(..len)?).ok()?;
    (!name.is_empty()).then(|| name.to_owned())
}
