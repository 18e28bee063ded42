//! Configuration of the HTTP responder: a builder with safe defaults, and the
//! environment variables soketi, sockudo and signaling-server operators
//! already use.
//!
//! (Over 700 lines as one concept, `HttpConfig`: the variable reference
//! below, which rustdoc publishes, the builder, and the variables' checks,
//! each naming its variable; reading the variables is `vars.rs`.)
//!
//! | Variable | Default | Accepted values |
//! |---|---|---|
//! | `METRICS_ENABLED` | `true` | `true`, `false`, `1`, `0` (any case) |
//! | `METRICS_HOST` | `127.0.0.1` | an IPv4 or IPv6 address (`0.0.0.0`, `::`, `[::1]`), or `localhost` |
//! | `METRICS_PORT` | `9601` | `0`–`65535` (`0`: an ephemeral port) |
//! | `METRICS_PATH` | `/metrics` | an absolute path: `/` then visible ASCII, no `?` or `#` |
//! | `METRICS_PROMETHEUS_PREFIX` | none | a metric-name prefix such as `soketi_` (`[a-zA-Z_:][a-zA-Z0-9_:]*`) |
//! | `PROMETHEUS_METRICS_PREFIX` | none | sockudo's name for the same; if both are set they must agree |
//! | `METRICS_ALLOWED_IPS` | none (every client) | comma- or space-separated IPs and CIDR ranges: `127.0.0.1, 10.0.0.0/8, ::1, fd00::/8` |
//! | `METRICS_AUTH_TOKEN` | none | a bearer token (RFC 6750 `token68` characters) |
//! | `METRICS_AUTH_USERNAME` | none | a basic-auth user (no `:`, no control characters); needs the password |
//! | `METRICS_AUTH_PASSWORD` | none | the basic-auth password (no control characters); needs the user |
//! | `METRICS_SELF_METRICS` | `true` | `true`, `false`, `1`, `0` (any case): whether the responder exports its own `nanometrics_http_*` families |
//!
//! A variable set to the empty string (or only whitespace) counts as unset,
//! except the security settings, which fail closed: `METRICS_ALLOWED_IPS`
//! that lists no address (`""`, `", ,"`) or has an empty entry (`a,,b`), and
//! a blank `METRICS_AUTH_TOKEN`, `METRICS_AUTH_USERNAME` or
//! `METRICS_AUTH_PASSWORD`, are errors rather than "every client" or "no
//! authentication". An invalid value is an [`Error::Config`] naming the
//! variable and the value (tokens and passwords are shown as `<redacted>`),
//! never a silent default.
//!
//! [`HttpConfig::security_warnings`] lists what is valid but risky (an
//! address other hosts reach with neither allow-list nor authentication, a
//! secret shorter than 16 bytes); the responder prints it on stderr when it
//! starts.
//!
//! `METRICS_ENABLED=false` means the `serve_*if_enabled` functions start no
//! listener and no thread; recording does not depend on the responder at all,
//! so it stays exactly as cheap.
//!
//! # Limits
//!
//! The responder is one poll thread, which owns every socket, plus a small
//! pool of render workers (see [`crate::http`]). The defaults of the limits below keep a misbehaving
//! client to one slot for a few seconds and bound memory whatever arrives:
//!
//! | Limit | Default | What happens past it |
//! |---|---|---|
//! | [`max_connections`](HttpConfig::max_connections) | 256 | the oldest connection least worth keeping is closed to make room: one draining after a refusal, else an idle keep-alive one, else one that has sent nothing, else one still sending its request head; if none can be (every one is being answered), the newcomer gets `503` |
//! | [`max_head_bytes`](HttpConfig::max_head_bytes) | 8 KiB | `431 Request Header Fields Too Large`, then close |
//! | [`head_timeout`](HttpConfig::head_timeout) | 5 s | for the whole request head from the connection's first byte (or accept): `408` and close (a silent close if nothing arrived) |
//! | [`idle_timeout`](HttpConfig::idle_timeout) | 60 s | an idle keep-alive connection is closed |
//! | [`write_timeout`](HttpConfig::write_timeout) | 5 s | without the client taking any byte of its response: the connection is closed |
//! | [`workers`](HttpConfig::workers) | 2 | renders at once (one per format and encoding asked for); other scrapes wait for a render, never refused |
//! | [`coalesce_window`](HttpConfig::coalesce_window) | 0 | how long a finished render still answers new scrapes (0: only those that arrived while it was made) |
//!
//! Memory: at most `max_connections × max_head_bytes` for partial request
//! heads (2 MiB by default; a connection holds a head buffer only while a
//! head is incomplete), plus per worker a deflate state and one uncompressed
//! copy, and up to 8 pooled renders (each one body), reused between scrapes.
//! A connection being written holds a reference to a shared render, not a
//! copy; a render still held by a slow reader when a new one is needed is
//! left to that reader, and freed when it finishes or is closed.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::Error;

mod ip_net;
#[cfg(test)]
mod tests;
mod vars;

pub(crate) use ip_net::canonical;
use ip_net::parse_ip;
pub use ip_net::{parse_allow_list, IpNet, IpNetParseError};
pub(crate) use vars::{
    check_env_utf8, config_err, parse_bool, redact as redact_secret, Vars, REDACTED,
};

/// Default TCP port, as sockudo's.
pub const DEFAULT_PORT: u16 = 9601;
/// Default path of the metrics endpoint.
pub const DEFAULT_PATH: &str = "/metrics";

/// The environment variables [`HttpConfig::from_env`] reads, in the order it
/// reads them.
pub const ENV_VARS: [&str; 11] = [
    "METRICS_ENABLED",
    "METRICS_HOST",
    "METRICS_PORT",
    "METRICS_PATH",
    "METRICS_PROMETHEUS_PREFIX",
    "PROMETHEUS_METRICS_PREFIX",
    "METRICS_ALLOWED_IPS",
    "METRICS_AUTH_TOKEN",
    "METRICS_AUTH_USERNAME",
    "METRICS_AUTH_PASSWORD",
    "METRICS_SELF_METRICS",
];

/// Configuration of the HTTP responder; build it with the setters, or read it
/// from the environment with [`from_env`](Self::from_env).
///
/// ```
/// use std::time::Duration;
/// use nanometrics::config::HttpConfig;
/// let cfg = HttpConfig::new()
///     .host("0.0.0.0".parse().unwrap())
///     .port(6001)
///     .prefix("soketi_").unwrap()
///     .allowed_ips("10.0.0.0/8, 127.0.0.1").unwrap()
///     .bearer_token("s3cr3t").unwrap()
///     .head_timeout(Duration::from_secs(2));
/// assert_eq!(cfg.bind_addr().to_string(), "0.0.0.0:6001");
/// assert_eq!(cfg.get_prefix(), "soketi_");
/// assert!(cfg.is_enabled());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub(crate) enabled: bool,
    pub(crate) host: IpAddr,
    pub(crate) port: u16,
    pub(crate) path: String,
    pub(crate) prefix: String,
    pub(crate) allowed: Vec<IpNet>,
    /// The bearer token.
    pub(crate) bearer: Option<String>,
    /// `base64(user:password)`, as a client sends it after `Basic `.
    pub(crate) basic: Option<String>,
    /// Length in bytes of the basic-auth password (for the start-up warning).
    pub(crate) password_len: usize,
    pub(crate) max_connections: usize,
    pub(crate) max_head_bytes: usize,
    pub(crate) head_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) coalesce_window: Duration,
    pub(crate) workers: usize,
    pub(crate) backlog: i32,
    pub(crate) gzip: bool,
    pub(crate) gzip_min_bytes: usize,
    pub(crate) self_metrics: bool,
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("enabled", &self.enabled)
            .field("bind", &self.bind_addr())
            .field("path", &self.path)
            .field("prefix", &self.prefix)
            .field("allowed", &self.allowed)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("basic", &self.basic.as_ref().map(|_| "<redacted>"))
            .field("max_connections", &self.max_connections)
            .field("max_head_bytes", &self.max_head_bytes)
            .field("head_timeout", &self.head_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("coalesce_window", &self.coalesce_window)
            .field("workers", &self.workers)
            .field("backlog", &self.backlog)
            .field("gzip", &self.gzip)
            .field("gzip_min_bytes", &self.gzip_min_bytes)
            .field("self_metrics", &self.self_metrics)
            .finish()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpConfig {
    /// The defaults: enabled, `127.0.0.1:9601`, `/metrics`, no prefix, every
    /// client allowed, no authentication, gzip on, and the limits in the
    /// [module docs](self).
    pub fn new() -> Self {
        HttpConfig {
            enabled: true,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            path: DEFAULT_PATH.to_owned(),
            prefix: String::new(),
            allowed: Vec::new(),
            bearer: None,
            basic: None,
            password_len: 0,
            max_connections: 256,
            max_head_bytes: 8 * 1024,
            head_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(5),
            coalesce_window: Duration::ZERO,
            workers: 2,
            backlog: 128,
            gzip: true,
            gzip_min_bytes: 1024,
            self_metrics: true,
        }
    }

    /// The defaults overridden by the environment (see the [module
    /// docs](self) for the variables).
    ///
    /// ```
    /// // With none of the variables set, this is `HttpConfig::new()`.
    /// let cfg = nanometrics::config::HttpConfig::from_env()?;
    /// # let _ = cfg;
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn from_env() -> Result<Self, Error> {
        Self::new().with_env()
    }

    /// `self` overridden by the environment variables that are set: an
    /// application sets its own defaults (soketi's port 6001, say) and lets
    /// operators override them.
    pub fn with_env(self) -> Result<Self, Error> {
        vars::check_env_utf8(&ENV_VARS, &SECRETS)?;
        self.with_lookup(|key| std::env::var(key).ok())
    }

    /// The defaults overridden by `lookup(variable)`: [`from_env`](Self::from_env)
    /// without the process environment, for tests and for configuration read
    /// from elsewhere (a file of `KEY=VALUE` lines, say).
    ///
    /// ```
    /// use nanometrics::config::HttpConfig;
    /// let env = [("METRICS_PORT", "9100"), ("PROMETHEUS_METRICS_PREFIX", "sockudo_")];
    /// let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    /// let cfg = HttpConfig::from_lookup(lookup)?;
    /// assert_eq!((cfg.bind_addr().port(), cfg.get_prefix()), (9100, "sockudo_"));
    ///
    /// let err = HttpConfig::from_lookup(|k| (k == "METRICS_PORT").then(|| "http".to_string()))
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), r#"METRICS_PORT="http": expected a port number from 0 to 65535"#);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn from_lookup(lookup: impl FnMut(&str) -> Option<String>) -> Result<Self, Error> {
        Self::new().with_lookup(lookup)
    }

    /// `self` overridden by `lookup(variable)` for each variable it returns a
    /// value for. An empty or blank value counts as unset, except for the
    /// security settings, where it is an error (see the [module docs](self)).
    pub fn with_lookup(
        mut self,
        lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        // Every variable read once, in order. `set` gives a value as set;
        // `get` reads a blank one as unset, which only the settings that are
        // not about security do.
        let vars = Vars::read(ENV_VARS, lookup);
        let set = |key: &str| vars.set(key);
        let get = |key: &str| vars.get(key);

        if let Some(v) = get("METRICS_ENABLED") {
            self.enabled = parse_bool(&v)
                .ok_or_else(|| config_err("METRICS_ENABLED", &v, "expected true, false, 1 or 0"))?;
        }
        if let Some(v) = get("METRICS_HOST") {
            self.host = parse_host(&v).ok_or_else(|| {
                config_err(
                    "METRICS_HOST",
                    &v,
                    "expected an IP address (127.0.0.1, 0.0.0.0, ::) or localhost",
                )
            })?;
        }
        if let Some(v) = get("METRICS_PORT") {
            self.port = v
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|_| !v.trim().starts_with('+'))
                .ok_or_else(|| {
                    config_err("METRICS_PORT", &v, "expected a port number from 0 to 65535")
                })?;
        }
        if let Some(v) = get("METRICS_PATH") {
            self = self.path_checked("METRICS_PATH", &v)?;
        }
        let ours = get("METRICS_PROMETHEUS_PREFIX");
        let sockudo = get("PROMETHEUS_METRICS_PREFIX");
        match (ours, sockudo) {
            (Some(a), Some(b)) if a != b => {
                return Err(config_err(
                    "METRICS_PROMETHEUS_PREFIX",
                    &a,
                    format!("conflicts with PROMETHEUS_METRICS_PREFIX={b:?}; set one of them"),
                ))
            }
            (Some(p), _) => self = self.prefix_checked("METRICS_PROMETHEUS_PREFIX", &p)?,
            (None, Some(p)) => self = self.prefix_checked("PROMETHEUS_METRICS_PREFIX", &p)?,
            (None, None) => {}
        }
        // Set but listing no address is an error (parse_allow_list says so),
        // not "every client".
        if let Some(v) = set("METRICS_ALLOWED_IPS") {
            self.allowed = parse_allow_list(&v)
                .map_err(|e| config_err("METRICS_ALLOWED_IPS", &v, e.to_string()))?;
        }
        if let Some(v) = not_blank("METRICS_AUTH_TOKEN", set("METRICS_AUTH_TOKEN"))? {
            self = self.bearer_checked("METRICS_AUTH_TOKEN", &v)?;
        }
        let user = not_blank("METRICS_AUTH_USERNAME", set("METRICS_AUTH_USERNAME"))?;
        let password = not_blank("METRICS_AUTH_PASSWORD", set("METRICS_AUTH_PASSWORD"))?;
        match (user, password) {
            (Some(u), Some(p)) => {
                self =
                    self.basic_checked(("METRICS_AUTH_USERNAME", "METRICS_AUTH_PASSWORD"), &u, &p)?
            }
            (Some(u), None) => {
                return Err(config_err(
                    "METRICS_AUTH_USERNAME",
                    &u,
                    "METRICS_AUTH_PASSWORD must be set too",
                ))
            }
            (None, Some(_)) => {
                return Err(config_err(
                    "METRICS_AUTH_PASSWORD",
                    REDACTED,
                    "METRICS_AUTH_USERNAME must be set too",
                ))
            }
            (None, None) => {}
        }
        if let Some(v) = get("METRICS_SELF_METRICS") {
            self.self_metrics = parse_bool(&v).ok_or_else(|| {
                config_err("METRICS_SELF_METRICS", &v, "expected true, false, 1 or 0")
            })?;
        }
        Ok(self)
    }

    /// Whether the `serve_*if_enabled` functions start a listener.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Whether the responder registers and exports its own metrics, the
    /// `nanometrics_http_*` families (default `true`). Off, it still counts
    /// them, in metrics no registry holds, and a scrape shows only the
    /// application's families.
    ///
    /// ```
    /// use nanometrics::config::HttpConfig;
    /// let cfg = HttpConfig::from_lookup(|k| (k == "METRICS_SELF_METRICS").then(|| "0".into()))?;
    /// assert!(!cfg.get_self_metrics());
    /// assert!(HttpConfig::new().self_metrics(false).get_self_metrics() == false);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn self_metrics(mut self, on: bool) -> Self {
        self.self_metrics = on;
        self
    }

    /// The address to listen on (default `127.0.0.1`; `0.0.0.0` for every
    /// IPv4 interface, `::` for every interface, IPv4 and IPv6).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The TCP port (default 9601; 0 picks a free one, see
    /// [`Server::local_addr`](crate::http::Server::local_addr)).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets host and port.
    pub fn bind(self, addr: SocketAddr) -> Self {
        self.host(addr.ip()).port(addr.port())
    }

    /// The metrics path (default `/metrics`): `/` followed by visible ASCII,
    /// without `?` or `#`. The query string of a request is ignored.
    pub fn path(self, path: &str) -> Result<Self, Error> {
        self.path_checked("path", path)
    }

    fn path_checked(mut self, key: &str, path: &str) -> Result<Self, Error> {
        let ok = path.starts_with('/')
            && path.len() <= 1024
            && path
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
        if !ok {
            return Err(config_err(
                key,
                path,
                "expected an absolute path: / followed by visible ASCII, without ? or #",
            ));
        }
        self.path = path.to_owned();
        Ok(self)
    }

    /// A prefix for every exposed metric name (`soketi_`, `sockudo_`); empty
    /// for none.
    pub fn prefix(self, prefix: &str) -> Result<Self, Error> {
        self.prefix_checked("prefix", prefix)
    }

    fn prefix_checked(mut self, key: &str, prefix: &str) -> Result<Self, Error> {
        if !prefix.is_empty() && !crate::name::is_valid_metric_name(prefix) {
            return Err(config_err(
                key,
                prefix,
                "expected a metric name prefix: [a-zA-Z_:][a-zA-Z0-9_:]*",
            ));
        }
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    /// Only clients whose address lies in one of `nets` are served; others get
    /// `403`. Without an allow-list (the default) every client is served; an
    /// empty `nets` is an error (key `allow`), never "every client".
    ///
    /// ```
    /// use nanometrics::config::{HttpConfig, IpNet};
    /// let net: IpNet = "10.0.0.0/8".parse().unwrap();
    /// assert_eq!(HttpConfig::new().allow([net])?.get_allowed(), [net]);
    /// assert!(HttpConfig::new().allow([]).is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn allow(mut self, nets: impl IntoIterator<Item = IpNet>) -> Result<Self, Error> {
        let nets: Vec<IpNet> = nets.into_iter().collect();
        if nets.is_empty() {
            return Err(config_err("allow", "", ip_net::NO_ADDRESS));
        }
        self.allowed = nets;
        Ok(self)
    }

    /// [`allow`](Self::allow) from a comma- or space-separated list such as
    /// `"127.0.0.1, 10.0.0.0/8, ::1"`; a list with no address or with an
    /// empty entry is an error (see [`parse_allow_list`]).
    pub fn allowed_ips(mut self, list: &str) -> Result<Self, Error> {
        self.allowed =
            parse_allow_list(list).map_err(|e| config_err("allowed_ips", list, e.to_string()))?;
        Ok(self)
    }

    /// Requires `Authorization: Bearer <token>` (compared in constant time);
    /// others get `401` with `WWW-Authenticate`. With basic auth also set,
    /// either credential is accepted.
    pub fn bearer_token(self, token: &str) -> Result<Self, Error> {
        self.bearer_checked("bearer_token", token)
    }

    fn bearer_checked(mut self, key: &str, token: &str) -> Result<Self, Error> {
        // RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        let body = token.trim_end_matches('=');
        let ok = !body.is_empty()
            && token.len() <= 1024
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if !ok {
            return Err(config_err(
                key,
                REDACTED,
                "expected a bearer token of letters, digits and -._~+/ (optionally =-padded), at most 1024 bytes",
            ));
        }
        self.bearer = Some(token.to_owned());
        Ok(self)
    }

    /// Requires `Authorization: Basic …` with this user and password (compared
    /// in constant time); others get `401` with `WWW-Authenticate`.
    pub fn basic_auth(self, user: &str, password: &str) -> Result<Self, Error> {
        self.basic_checked(("basic_auth.user", "basic_auth.password"), user, password)
    }

    fn basic_checked(
        mut self,
        keys: (&str, &str),
        user: &str,
        password: &str,
    ) -> Result<Self, Error> {
        if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
            return Err(config_err(
                keys.0,
                user,
                "expected a user name without ':' or control characters",
            ));
        }
        if password.chars().any(char::is_control) || user.len() + password.len() > 1024 {
            return Err(config_err(
                keys.1,
                REDACTED,
                "expected a password without control characters, at most 1024 bytes with the user",
            ));
        }
        let mut plain = String::with_capacity(user.len() + 1 + password.len());
        plain.push_str(user);
        plain.push(':');
        plain.push_str(password);
        let mut expected = String::new();
        base64_encode(plain.as_bytes(), &mut expected);
        self.basic = Some(expected);
        self.password_len = password.len();
        Ok(self)
    }

    /// Most connections open at once (default 256, at least 1); see the
    /// [module docs](self) for what happens past it.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Largest request head in bytes (default 8 KiB, at least 256); larger
    /// heads get `431`.
    pub fn max_head_bytes(mut self, n: usize) -> Self {
        self.max_head_bytes = n.clamp(256, 1 << 20);
        self
    }

    /// Time allowed for a whole request head (default 5 s).
    pub fn head_timeout(mut self, d: Duration) -> Self {
        self.head_timeout = d.max(Duration::from_millis(1));
        self
    }

    /// How long an idle keep-alive connection is kept (default 60 s).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d.max(Duration::from_millis(1));
        self
    }

    /// How long a connection may go without taking any byte of its response
    /// before it is closed (default 5 s). A minimum-progress rule, not a
    /// deadline for the whole response: a slow reader that keeps reading is
    /// served, one that stops is dropped.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d.max(Duration::from_millis(1));
        self
    }

    /// How long after a render finishes a scrape of the same format and
    /// encoding is answered from it rather than from a fresh one (default 0:
    /// only scrapes that arrive while a render is under way share it).
    ///
    /// ```
    /// use std::time::Duration;
    /// let cfg = nanometrics::http::HttpConfig::new().coalesce_window(Duration::from_millis(250));
    /// assert_eq!(cfg.get_coalesce_window(), Duration::from_millis(250));
    /// ```
    pub fn coalesce_window(mut self, d: Duration) -> Self {
        self.coalesce_window = d;
        self
    }

    /// The coalescing window (see [`coalesce_window`](Self::coalesce_window)).
    pub fn get_coalesce_window(&self) -> Duration {
        self.coalesce_window
    }

    /// Scrape worker threads (default 2, 1 to 16).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.clamp(1, 16);
        self
    }

    /// The listen backlog (default 128; the OS may cap it).
    pub fn backlog(mut self, n: i32) -> Self {
        self.backlog = n.max(1);
        self
    }

    /// Whether to gzip bodies of at least `min_bytes` for scrapers that send
    /// `Accept-Encoding: gzip` (default on, 1024 bytes). Needs the `gzip`
    /// feature; without it, responses are never compressed.
    pub fn gzip(mut self, on: bool, min_bytes: usize) -> Self {
        self.gzip = on;
        self.gzip_min_bytes = min_bytes;
        self
    }

    /// Whether the responder exports its own metrics (see
    /// [`self_metrics`](Self::self_metrics)).
    pub fn get_self_metrics(&self) -> bool {
        self.self_metrics
    }

    /// Whether the `serve_*if_enabled` functions start a listener.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Address and port to listen on.
    pub fn bind_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// The metrics path.
    pub fn get_path(&self) -> &str {
        &self.path
    }

    /// The metric name prefix ("" for none).
    pub fn get_prefix(&self) -> &str {
        &self.prefix
    }

    /// The allow-list (empty: every client).
    pub fn get_allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// Whether requests must authenticate.
    pub fn requires_auth(&self) -> bool {
        self.bearer.is_some() || self.basic.is_some()
    }

    /// What is valid but risky in this configuration, one sentence each: an
    /// address other hosts can reach with neither an allow-list nor
    /// authentication, and a bearer token or basic-auth password shorter than
    /// 16 bytes. [`serve`](crate::http::serve) prints each on stderr once,
    /// when the responder starts; an application may log them its own way.
    ///
    /// ```
    /// use nanometrics::config::HttpConfig;
    /// assert!(HttpConfig::new().security_warnings().is_empty()); // 127.0.0.1
    /// let open = HttpConfig::new().host("0.0.0.0".parse().unwrap());
    /// assert_eq!(open.security_warnings().len(), 1);
    /// let weak = open.bearer_token("s3cr3t")?;
    /// assert!(weak.security_warnings()[0].contains("6 bytes"));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn security_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !canonical(self.host).is_loopback() && self.allowed.is_empty() && !self.requires_auth() {
            warnings.push(format!(
                "the metrics responder listens on {}, which other hosts can reach, with no IP \
                 allow-list and no authentication: anyone who can connect reads the metrics; set \
                 METRICS_ALLOWED_IPS, or METRICS_AUTH_TOKEN, or METRICS_AUTH_USERNAME and \
                 METRICS_AUTH_PASSWORD, or listen on 127.0.0.1",
                self.bind_addr()
            ));
        }
        let short = [
            (
                "bearer token (METRICS_AUTH_TOKEN)",
                self.bearer.as_ref().map(String::len),
            ),
            (
                "basic-auth password (METRICS_AUTH_PASSWORD)",
                self.basic.as_ref().map(|_| self.password_len),
            ),
        ];
        for (what, len) in short {
            if let Some(n) = len.filter(|&n| n < MIN_SECRET_BYTES) {
                warnings.push(format!(
                    "the {what} is {n} bytes long: use at least {MIN_SECRET_BYTES} random bytes \
                     (such as the 32 characters of `openssl rand -hex 16`)"
                ));
            }
        }
        warnings
    }
}

/// Shortest token or password that starts without a warning.
const MIN_SECRET_BYTES: usize = 16;

/// A security setting's value: set but empty or blank is an error, so that a
/// template whose variable expanded to nothing cannot turn authentication off.
fn not_blank(key: &str, value: Option<String>) -> Result<Option<String>, Error> {
    match value {
        Some(v) if v.trim().is_empty() => Err(config_err(
            key,
            &redact(key, &v),
            "set but empty: unset it to run without authentication",
        )),
        v => Ok(v),
    }
}

/// The variables whose values errors never show.
const SECRETS: [&str; 2] = ["METRICS_AUTH_TOKEN", "METRICS_AUTH_PASSWORD"];

fn redact<'a>(key: &str, value: &'a str) -> std::borrow::Cow<'a, str> {
    vars::redact(&SECRETS, key, value)
}

fn parse_host(v: &str) -> Option<IpAddr> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    parse_ip(v)
}

/// Standard base64 with padding (RFC 4648 §4), appended to `out`.
pub(crate) fn base64_encode(input: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |i: u32| char::from(ALPHABET.get((i & 63) as usize).copied().unwrap_or(b'='));
    for chunk in input.chunks(3) {
        let (a, b, c) = match *chunk {
            [a, b, c] => (a, Some(b), Some(c)),
            [a, b] => (a, Some(b), None),
            [a] => (a, None, None),
            _ => continue,
        };
        let n = u32::from(a) << 16 | u32::from(b.unwrap_or(0)) << 8 | u32::from(c.unwrap_or(0));
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if b.is_some() { sym(n >> 6) } else { '=' });
        out.push(if c.is_some() { sym(n) } else { '=' });
    }
}
