//! The push driver's settings from `METRICS_*` variables
//! ([`PushConfig::from_env`], [`PushConfig::from_lookup`]), read and checked
//! as the responder's are (`crate::config`'s shared reader).

use std::time::Duration;

use super::config::{set_grouping, Driver, Method, PushConfig, ENV_VARS, MAX_DURATION};
use super::url::{parse_http_url, HttpUrl};
use crate::config::{
    check_env_utf8, config_err, parse_bool, redact_secret as redact, Vars, REDACTED,
};
use crate::Error;

/// The variables whose values errors never show.
const SECRETS: [&str; 2] = ["METRICS_PUSH_TOKEN", "METRICS_PUSH_PASSWORD"];

impl PushConfig {
    /// The driver and push configuration the process environment asks for:
    /// `Ok(None)` when `METRICS_DRIVER` is unset or `prometheus` (the set
    /// push variables are validated all the same).
    ///
    /// ```
    /// // With METRICS_DRIVER unset, there is nothing to push.
    /// # if std::env::var_os("METRICS_DRIVER").is_none() {
    /// assert!(nanometrics::push::PushConfig::from_env()?.is_none());
    /// # }
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn from_env() -> Result<Option<Self>, Error> {
        check_env_utf8(&ENV_VARS, &SECRETS)?;
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`from_env`](Self::from_env) with `lookup(variable)` in place of the
    /// environment. A variable that is empty or blank counts as unset,
    /// except the credentials, which fail closed.
    ///
    /// ```
    /// use nanometrics::push::{Driver, PushConfig};
    /// let env = [
    ///     ("METRICS_DRIVER", "pushgateway"),
    ///     ("METRICS_PUSHGATEWAY_URL", "http://127.0.0.1:9091"),
    ///     ("METRICS_PUSHGATEWAY_JOB", "soketi"),
    ///     ("METRICS_PUSHGATEWAY_GROUPING", "instance=node-1,region=eu"),
    ///     ("METRICS_PUSH_INTERVAL", "5s"),
    /// ];
    /// let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    /// let cfg = PushConfig::from_lookup(lookup)?.unwrap();
    /// assert_eq!(cfg.driver(), Driver::Pushgateway);
    /// assert_eq!(
    ///     cfg.target().to_string(),
    ///     "http://127.0.0.1:9091/metrics/job/soketi/instance/node-1/region/eu"
    /// );
    ///
    /// let err = PushConfig::from_lookup(|k| (k == "METRICS_DRIVER").then(|| "statsd".into()))
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), r#"METRICS_DRIVER="statsd": expected prometheus, pushgateway or push"#);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn from_lookup(lookup: impl FnMut(&str) -> Option<String>) -> Result<Option<Self>, Error> {
        let vars = Vars::read(ENV_VARS, lookup);
        let set = |key: &str| vars.set(key);
        let get = |key: &str| vars.get(key);

        let driver = match get("METRICS_DRIVER") {
            None => Driver::Prometheus,
            Some(v) => Driver::parse(&v).ok_or_else(|| {
                config_err(
                    "METRICS_DRIVER",
                    &v,
                    "expected prometheus, pushgateway or push",
                )
            })?,
        };
        // Each URL variable belongs to one driver: one set for the other
        // driver is a mistake worth stopping for.
        let push_url = get("METRICS_PUSH_URL");
        let gateway_url = get("METRICS_PUSHGATEWAY_URL");
        let job = get("METRICS_PUSHGATEWAY_JOB");
        let grouping = get("METRICS_PUSHGATEWAY_GROUPING");
        let delete = get("METRICS_PUSHGATEWAY_DELETE_ON_SHUTDOWN");
        let mut cfg = match driver {
            Driver::Pushgateway => {
                if let Some(v) = &push_url {
                    return Err(config_err(
                        "METRICS_PUSH_URL",
                        v,
                        "is for METRICS_DRIVER=push; with METRICS_DRIVER=pushgateway set METRICS_PUSHGATEWAY_URL",
                    ));
                }
                let url = gateway_url.ok_or_else(|| {
                    config_err(
                        "METRICS_PUSHGATEWAY_URL",
                        "",
                        "must be set with METRICS_DRIVER=pushgateway (http://host:9091)",
                    )
                })?;
                let job = job.ok_or_else(|| {
                    config_err(
                        "METRICS_PUSHGATEWAY_JOB",
                        "",
                        "must be set with METRICS_DRIVER=pushgateway (the job label of the pushed group)",
                    )
                })?;
                let mut cfg = Self::pushgateway_checked(
                    ("METRICS_PUSHGATEWAY_URL", "METRICS_PUSHGATEWAY_JOB"),
                    &url,
                    &job,
                )?;
                if let Some(v) = &grouping {
                    for (name, value) in parse_grouping("METRICS_PUSHGATEWAY_GROUPING", v)? {
                        set_grouping(&mut cfg.grouping, &name, &value);
                    }
                }
                if let Some(v) = &delete {
                    cfg.delete_on_shutdown = parse_bool(v).ok_or_else(|| {
                        config_err(
                            "METRICS_PUSHGATEWAY_DELETE_ON_SHUTDOWN",
                            v,
                            "expected true, false, 1 or 0",
                        )
                    })?;
                }
                Some(cfg)
            }
            Driver::Push => {
                let gateway_only = [
                    ("METRICS_PUSHGATEWAY_URL", &gateway_url),
                    ("METRICS_PUSHGATEWAY_JOB", &job),
                    ("METRICS_PUSHGATEWAY_GROUPING", &grouping),
                    ("METRICS_PUSHGATEWAY_DELETE_ON_SHUTDOWN", &delete),
                ];
                if let Some((k, Some(v))) = gateway_only.iter().find(|(_, v)| v.is_some()) {
                    return Err(config_err(
                        k,
                        v,
                        "only applies to METRICS_DRIVER=pushgateway; with METRICS_DRIVER=push unset it",
                    ));
                }
                let url = push_url.ok_or_else(|| {
                    config_err(
                        "METRICS_PUSH_URL",
                        "",
                        "must be set with METRICS_DRIVER=push (http://host:8428/api/v1/import/prometheus)",
                    )
                })?;
                Some(Self::url_checked("METRICS_PUSH_URL", &url)?)
            }
            Driver::Prometheus => {
                // Checked all the same, so that a typo is found before the
                // driver is switched.
                if let Some(v) = &push_url {
                    parse_http_url(v, true).map_err(|r| config_err("METRICS_PUSH_URL", v, r))?;
                }
                if let Some(v) = &gateway_url {
                    parse_http_url(v, false)
                        .map_err(|r| config_err("METRICS_PUSHGATEWAY_URL", v, r))?;
                }
                if let Some(v) = &grouping {
                    parse_grouping("METRICS_PUSHGATEWAY_GROUPING", v)?;
                }
                if let Some(v) = &delete {
                    parse_bool(v).ok_or_else(|| {
                        config_err(
                            "METRICS_PUSHGATEWAY_DELETE_ON_SHUTDOWN",
                            v,
                            "expected true, false, 1 or 0",
                        )
                    })?;
                }
                None
            }
        };
        // The settings shared by both push drivers; a scratch config holds
        // them when nothing will be pushed.
        let mut scratch = Self::base(Driver::Push, HttpUrl::placeholder());
        let c = cfg.as_mut().unwrap_or(&mut scratch);
        for (key, slot) in [
            ("METRICS_PUSH_INTERVAL", &mut c.interval),
            ("METRICS_PUSH_TIMEOUT", &mut c.timeout),
            ("METRICS_PUSH_MAX_BACKOFF", &mut c.max_backoff),
        ] {
            if let Some(v) = get(key) {
                *slot = parse_duration(&v).ok_or_else(|| {
                    config_err(
                        key,
                        &v,
                        "expected a duration from 1ms to 24h: a whole number with a unit ms, s, m or h (15s, 500ms, 1m), or seconds alone (15)",
                    )
                })?;
            }
        }
        if let Some(v) = get("METRICS_PUSH_METHOD") {
            c.method = match v.trim() {
                m if m.eq_ignore_ascii_case("put") => Method::Put,
                m if m.eq_ignore_ascii_case("post") => Method::Post,
                _ => {
                    return Err(config_err(
                        "METRICS_PUSH_METHOD",
                        &v,
                        "expected PUT or POST",
                    ))
                }
            };
        }
        let token = not_blank("METRICS_PUSH_TOKEN", set("METRICS_PUSH_TOKEN"))?;
        let user = not_blank("METRICS_PUSH_USERNAME", set("METRICS_PUSH_USERNAME"))?;
        let password = not_blank("METRICS_PUSH_PASSWORD", set("METRICS_PUSH_PASSWORD"))?;
        match (token, user, password) {
            (Some(_), Some(u), _) => {
                return Err(config_err(
                    "METRICS_PUSH_USERNAME",
                    &u,
                    "conflicts with METRICS_PUSH_TOKEN: a request carries one Authorization header; set the token or the user and password",
                ))
            }
            (Some(t), None, None) => *c = c.clone().bearer_checked("METRICS_PUSH_TOKEN", &t)?,
            (Some(_), None, Some(_)) | (None, None, Some(_)) => {
                return Err(config_err(
                    "METRICS_PUSH_PASSWORD",
                    REDACTED,
                    "METRICS_PUSH_USERNAME must be set too",
                ))
            }
            (None, Some(u), Some(p)) => {
                *c = c.clone().basic_checked(
                    ("METRICS_PUSH_USERNAME", "METRICS_PUSH_PASSWORD"),
                    &u,
                    &p,
                )?
            }
            (None, Some(u), None) => {
                return Err(config_err(
                    "METRICS_PUSH_USERNAME",
                    &u,
                    "METRICS_PUSH_PASSWORD must be set too",
                ))
            }
            (None, None, None) => {}
        }
        if let Some(v) = get("METRICS_PUSH_GZIP") {
            c.gzip = parse_bool(&v).ok_or_else(|| {
                config_err("METRICS_PUSH_GZIP", &v, "expected true, false, 1 or 0")
            })?;
        }
        Ok(cfg)
    }
}

/// `name=value,name2=value2`: names trimmed of spaces, values as given
/// (after the first `=`, up to the next `,`), no name twice.
pub(crate) fn parse_grouping(key: &str, v: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in v.split(',') {
        let Some((name, value)) = entry.split_once('=') else {
            return Err(config_err(
                key,
                v,
                format!(
                    "expected name=value pairs separated by commas (instance=node-1,region=eu); {:?} has no =",
                    entry
                ),
            ));
        };
        let name = name.trim();
        if !crate::name::is_valid_label_name(name) || name.starts_with("__") || name == "job" {
            return Err(config_err(
                key,
                v,
                format!(
                    "{name:?} is not a grouping label name: expected [a-zA-Z_][a-zA-Z0-9_]*, not job, not starting with __"
                ),
            ));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(config_err(key, v, format!("{name:?} is given twice")));
        }
        out.push((name.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// `15s`, `500ms`, `1m`, `2h`, or whole seconds alone (`15`); 1 ms to 24 h.
pub(crate) fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = v.split_at(digits);
    if num.is_empty() || num.len() > 12 {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    let ms = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    }?;
    let d = Duration::from_millis(ms);
    (Duration::from_millis(1)..=MAX_DURATION)
        .contains(&d)
        .then_some(d)
}

/// A credential set but blank is an error, not "no authentication".
fn not_blank(key: &str, value: Option<String>) -> Result<Option<String>, Error> {
    match value {
        Some(v) if v.trim().is_empty() => Err(config_err(
            key,
            &redact(&SECRETS, key, &v),
            "set but empty: unset it to push without authentication",
        )),
        v => Ok(v),
    }
}
