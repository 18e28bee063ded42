//! Configuration of the HTTP responder: a builder with safe defaults, and the
//! environment variables soketi, sockudo and signaling-server operators
//! already use.
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
//!
//! A variable set to the empty string counts as unset. An invalid value is an
//! [`Error::Config`] naming the variable and the value (tokens and passwords
//! are shown as `<redacted>`), never a silent default.
//!
//! `METRICS_ENABLED=false` means the `serve_*if_enabled` functions start no
//! listener and no thread; recording does not depend on the responder at all,
//! so it stays exactly as cheap.
//!
//! # Limits
//!
//! The responder is one poll thread plus a small pool of scrape workers (see
//! [`crate::http`]). The defaults of the limits below keep a misbehaving
//! client to one slot for a few seconds and bound memory whatever arrives:
//!
//! | Limit | Default | What happens past it |
//! |---|---|---|
//! | [`max_connections`](HttpConfig::max_connections) | 256 | the oldest connection least worth keeping is closed to make room: one draining after a refusal, else an idle keep-alive one, else one that has sent nothing, else one still sending its request head; if none can be (all busy in workers), the newcomer gets `503` |
//! | [`max_head_bytes`](HttpConfig::max_head_bytes) | 8 KiB | `431 Request Header Fields Too Large`, then close |
//! | [`head_timeout`](HttpConfig::head_timeout) | 5 s | for the whole request head from the connection's first byte (or accept): `408` and close (a silent close if nothing arrived) |
//! | [`idle_timeout`](HttpConfig::idle_timeout) | 60 s | an idle keep-alive connection is closed |
//! | [`write_timeout`](HttpConfig::write_timeout) | 10 s | for the whole response: the connection is closed |
//! | [`workers`](HttpConfig::workers) | 2 | each scrape goes to the least busy worker, where up to 4 may wait; past that on every worker, `503` |
//!
//! Memory: at most `max_connections × max_head_bytes` for partial request
//! heads (2 MiB by default; a connection holds a head buffer only while a
//! head is incomplete), plus per worker one encoded body, one gzip copy and a
//! deflate state (about 300 KiB), reused between scrapes.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use crate::Error;

/// Default TCP port, as sockudo's.
pub const DEFAULT_PORT: u16 = 9601;
/// Default path of the metrics endpoint.
pub const DEFAULT_PATH: &str = "/metrics";

/// The environment variables [`HttpConfig::from_env`] reads, in the order it
/// reads them.
pub const ENV_VARS: [&str; 10] = [
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
];

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `::1/128`).
///
/// Host bits below the prefix are cleared, as `ip route` does. A client
/// connecting over IPv6 with an IPv4-mapped address (`::ffff:10.1.2.3`, what a
/// dual-stack `::` listener sees for IPv4 clients) is matched as the IPv4
/// address it carries.
///
/// ```
/// use nanometrics::config::IpNet;
/// let net: IpNet = "10.1.2.3/8".parse().unwrap();
/// assert_eq!(net.to_string(), "10.0.0.0/8");
/// assert!(net.contains("10.200.0.1".parse().unwrap()));
/// assert!(net.contains("::ffff:10.9.9.9".parse().unwrap()));
/// assert!(!net.contains("11.0.0.1".parse().unwrap()));
/// let one: IpNet = "::1".parse().unwrap();
/// assert_eq!(one.prefix(), 128);
/// assert!("10.0.0.0/33".parse::<IpNet>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// The network of `addr` with `prefix` leading bits; `None` if `prefix`
    /// exceeds 32 (IPv4) or 128 (IPv6). An IPv4-mapped IPv6 network of prefix
    /// 96 or more is stored as the IPv4 network it denotes.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<IpNet> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let addr = match addr {
            IpAddr::V4(a) if prefix <= 32 => {
                IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & mask32(prefix)))
            }
            IpAddr::V6(a) if prefix <= 128 => {
                IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & mask128(prefix)))
            }
            _ => return None,
        };
        Some(IpNet { addr, prefix })
    }

    /// The network address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this network (IPv4-mapped IPv6 addresses count as
    /// IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                ip.to_bits() & mask32(self.prefix) == net.to_bits()
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                ip.to_bits() & mask128(self.prefix) == net.to_bits()
            }
            _ => false,
        }
    }
}

/// `ip`, with an IPv4-mapped IPv6 address turned into its IPv4 address.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

/// Why an [`IpNet`] did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpNetParseError(&'static str);

impl fmt::Display for IpNetParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for IpNetParseError {}

impl FromStr for IpNet {
    type Err = IpNetParseError;

    /// `ADDR` (a single host) or `ADDR/PREFIX`; IPv6 addresses may be bracketed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = parse_ip(addr).ok_or(IpNetParseError(
            "expected an IP address or CIDR range (10.0.0.0/8, ::1, fd00::/8)",
        ))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // `u8::from_str` accepts a leading `+`; a CIDR prefix never has one.
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && !p.starts_with('+') => n,
                _ => {
                    return Err(IpNetParseError(if addr.is_ipv4() {
                        "the prefix length of an IPv4 range must be 0 to 32"
                    } else {
                        "the prefix length of an IPv6 range must be 0 to 128"
                    }))
                }
            },
        };
        IpNet::new(addr, prefix).ok_or(IpNetParseError("invalid prefix length"))
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An IP address, optionally bracketed (`[::1]`).
fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// Parses an allow-list: IPs and CIDR ranges separated by commas and/or
/// whitespace. Empty: no list (every client allowed).
///
/// ```
/// let list = nanometrics::config::parse_allow_list("127.0.0.1, 10.0.0.0/8 ::1").unwrap();
/// assert_eq!(list.len(), 3);
/// assert!(nanometrics::config::parse_allow_list("10.0.0.0/8, nope").is_err());
/// ```
pub fn parse_allow_list(s: &str) -> Result<Vec<IpNet>, IpNetParseError> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

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
    pub(crate) max_connections: usize,
    pub(crate) max_head_bytes: usize,
    pub(crate) head_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) workers: usize,
    pub(crate) backlog: i32,
    pub(crate) gzip: bool,
    pub(crate) gzip_min_bytes: usize,
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
            .field("workers", &self.workers)
            .field("backlog", &self.backlog)
            .field("gzip", &self.gzip)
            .field("gzip_min_bytes", &self.gzip_min_bytes)
            .finish()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self::new()
    }
}

fn config_err(key: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Shown instead of secrets in errors.
const REDACTED: &str = "<redacted>";

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
            max_connections: 256,
            max_head_bytes: 8 * 1024,
            head_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            workers: 2,
            backlog: 128,
            gzip: true,
            gzip_min_bytes: 1024,
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
        // A value that is not UTF-8 cannot be valid for any variable; report it
        // rather than read it lossily.
        for key in ENV_VARS {
            if let Some(v) = std::env::var_os(key) {
                if v.to_str().is_none() {
                    let shown = redact(key, &v.to_string_lossy()).into_owned();
                    return Err(config_err(key, &shown, "not valid UTF-8"));
                }
            }
        }
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
    /// non-empty value for.
    pub fn with_lookup(
        mut self,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let mut get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());

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
        if let Some(v) = get("METRICS_ALLOWED_IPS") {
            self.allowed = parse_allow_list(&v)
                .map_err(|e| config_err("METRICS_ALLOWED_IPS", &v, e.to_string()))?;
        }
        if let Some(v) = get("METRICS_AUTH_TOKEN") {
            self = self.bearer_checked("METRICS_AUTH_TOKEN", &v)?;
        }
        match (get("METRICS_AUTH_USERNAME"), get("METRICS_AUTH_PASSWORD")) {
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
        Ok(self)
    }

    /// Whether the `serve_*if_enabled` functions start a listener.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
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
    /// `403`. An empty list (the default) allows every client.
    pub fn allow(mut self, nets: impl IntoIterator<Item = IpNet>) -> Self {
        self.allowed = nets.into_iter().collect();
        self
    }

    /// [`allow`](Self::allow) from a comma- or space-separated list such as
    /// `"127.0.0.1, 10.0.0.0/8, ::1"`.
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

    /// Time allowed to write a whole response (default 10 s).
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d.max(Duration::from_millis(1));
        self
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
}

fn redact<'a>(key: &str, value: &'a str) -> std::borrow::Cow<'a, str> {
    if key == "METRICS_AUTH_TOKEN" || key == "METRICS_AUTH_PASSWORD" {
        REDACTED.into()
    } else {
        value.into()
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    let v = v.trim();
    if v == "1" || v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v == "0" || v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<HttpConfig, Error> {
        HttpConfig::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn err(pairs: &[(&str, &str)]) -> (String, String, String) {
        match env(pairs) {
            Err(Error::Config { key, value, reason }) => (key, value, reason),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = env(&[]).unwrap();
        assert_eq!(c, HttpConfig::new());
        assert!(c.is_enabled());
        assert_eq!(c.bind_addr().to_string(), "127.0.0.1:9601");
        assert_eq!(c.get_path(), "/metrics");
        assert_eq!(c.get_prefix(), "");
        assert!(c.get_allowed().is_empty());
        assert!(!c.requires_auth());
    }

    #[test]
    fn every_variable() {
        let c = env(&[
            ("METRICS_ENABLED", "TRUE"),
            ("METRICS_HOST", "::"),
            ("METRICS_PORT", "6001"),
            ("METRICS_PATH", "/stats/metrics"),
            ("METRICS_PROMETHEUS_PREFIX", "soketi_"),
            ("METRICS_ALLOWED_IPS", "127.0.0.1,10.0.0.0/8  fd00::/8"),
            ("METRICS_AUTH_TOKEN", "abc.DEF-123=="),
            ("METRICS_AUTH_USERNAME", "prom"),
            ("METRICS_AUTH_PASSWORD", "pa:ss word"),
        ])
        .unwrap();
        assert_eq!(c.bind_addr().to_string(), "[::]:6001");
        assert_eq!(c.get_path(), "/stats/metrics");
        assert_eq!(c.get_prefix(), "soketi_");
        assert_eq!(c.get_allowed().len(), 3);
        assert_eq!(c.bearer.as_deref(), Some("abc.DEF-123=="));
        // printf 'prom:pa:ss word' | base64
        assert_eq!(c.basic.as_deref(), Some("cHJvbTpwYTpzcyB3b3Jk"));
        for (v, want) in [("1", true), ("0", false), ("false", false), ("True", true)] {
            assert_eq!(env(&[("METRICS_ENABLED", v)]).unwrap().enabled, want);
        }
        assert_eq!(
            env(&[("METRICS_HOST", "localhost")]).unwrap().host,
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            env(&[("METRICS_HOST", "[::1]")])
                .unwrap()
                .bind_addr()
                .to_string(),
            "[::1]:9601"
        );
        let c = env(&[("PROMETHEUS_METRICS_PREFIX", "sockudo_")]).unwrap();
        assert_eq!(c.get_prefix(), "sockudo_");
        let c = env(&[
            ("PROMETHEUS_METRICS_PREFIX", "same_"),
            ("METRICS_PROMETHEUS_PREFIX", "same_"),
        ])
        .unwrap();
        assert_eq!(c.get_prefix(), "same_");
        // Empty counts as unset.
        assert_eq!(
            env(&[("METRICS_PORT", ""), ("METRICS_HOST", " ")]).unwrap(),
            HttpConfig::new()
        );
    }

    #[test]
    fn invalid_values_name_variable_and_value() {
        let cases: &[(&str, &str)] = &[
            ("METRICS_ENABLED", "yes"),
            ("METRICS_ENABLED", "2"),
            ("METRICS_HOST", "example.com"),
            ("METRICS_HOST", "300.1.1.1"),
            ("METRICS_PORT", "65536"),
            ("METRICS_PORT", "-1"),
            ("METRICS_PORT", "+80"),
            ("METRICS_PORT", "http"),
            ("METRICS_PATH", "metrics"),
            ("METRICS_PATH", "/a b"),
            ("METRICS_PATH", "/metrics?x=1"),
            ("METRICS_PROMETHEUS_PREFIX", "my-app_"),
            ("PROMETHEUS_METRICS_PREFIX", "1x"),
            ("METRICS_ALLOWED_IPS", "10.0.0.0/8, bogus"),
            ("METRICS_ALLOWED_IPS", "10.0.0.0/33"),
            ("METRICS_ALLOWED_IPS", "::1/129"),
            ("METRICS_ALLOWED_IPS", "10.0.0.0/+8"),
        ];
        for (k, v) in cases {
            let (key, value, reason) = err(&[(k, v)]);
            assert_eq!((key.as_str(), value.as_str()), (*k, *v), "{reason}");
            let msg = env(&[(k, v)]).unwrap_err().to_string();
            assert!(msg.starts_with(&format!("{k}={v:?}: ")), "{msg}");
        }
    }

    #[test]
    fn secrets_are_redacted_and_pairs_checked() {
        let (k, v, _) = err(&[("METRICS_AUTH_TOKEN", "has space")]);
        assert_eq!((k.as_str(), v.as_str()), ("METRICS_AUTH_TOKEN", REDACTED));
        let (k, _, _) = err(&[("METRICS_AUTH_USERNAME", "prom")]);
        assert_eq!(k, "METRICS_AUTH_USERNAME");
        let (k, v, _) = err(&[("METRICS_AUTH_PASSWORD", "x")]);
        assert_eq!(
            (k.as_str(), v.as_str()),
            ("METRICS_AUTH_PASSWORD", REDACTED)
        );
        let (k, v, _) = err(&[
            ("METRICS_AUTH_USERNAME", "a:b"),
            ("METRICS_AUTH_PASSWORD", "x"),
        ]);
        assert_eq!((k.as_str(), v.as_str()), ("METRICS_AUTH_USERNAME", "a:b"));
        let (k, _, reason) = err(&[
            ("METRICS_PROMETHEUS_PREFIX", "a_"),
            ("PROMETHEUS_METRICS_PREFIX", "b_"),
        ]);
        assert_eq!(k, "METRICS_PROMETHEUS_PREFIX");
        assert!(reason.contains("PROMETHEUS_METRICS_PREFIX"));
        assert!(!format!("{:?}", env(&[("METRICS_AUTH_TOKEN", "tok")]).unwrap()).contains("tok"));
    }

    #[test]
    fn ip_nets() {
        let n: IpNet = "192.168.1.77/24".parse().unwrap();
        assert_eq!(n.to_string(), "192.168.1.0/24");
        assert!(n.contains("192.168.1.1".parse().unwrap()));
        assert!(!n.contains("192.168.2.1".parse().unwrap()));
        assert!(n.contains("::ffff:192.168.1.200".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(!all.contains("2001:db8::1".parse().unwrap()));
        let v6: IpNet = "[fd00::]/8".parse().unwrap();
        assert!(v6.contains("fdff::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        let any6: IpNet = "::/0".parse().unwrap();
        assert!(any6.contains("2001:db8::1".parse().unwrap()));
        let mapped: IpNet = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        assert!(mapped.contains("10.1.1.1".parse().unwrap()));
        let host: IpNet = "127.0.0.1".parse().unwrap();
        assert!(host.contains("127.0.0.1".parse().unwrap()));
        assert!(!host.contains("127.0.0.2".parse().unwrap()));
        for bad in [
            "",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/x",
            "1.2.3",
            "::1/200",
            "10.0.0.0/8/8",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn base64() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ] {
            let mut s = String::new();
            base64_encode(plain.as_bytes(), &mut s);
            assert_eq!(s, enc);
        }
    }
}
