//! Reading a fixed set of `METRICS_*` variables, shared by the responder's
//! settings ([`HttpConfig`](super::HttpConfig)) and the push driver's
//! ([`PushConfig`](crate::push::PushConfig)): each variable read once,
//! secrets never shown in errors, blank values read as unset where the
//! setting allows it.

use std::borrow::Cow;

use crate::Error;

/// Shown instead of a secret's value in errors.
pub(crate) const REDACTED: &str = "<redacted>";

/// The error for variable `key` set to `value`.
pub(crate) fn config_err(key: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// `value`, or [`REDACTED`] if `key` is one of `secrets`.
pub(crate) fn redact<'a>(secrets: &[&str], key: &str, value: &'a str) -> Cow<'a, str> {
    if secrets.contains(&key) {
        REDACTED.into()
    } else {
        value.into()
    }
}

/// `true`, `false` (any case), `1` or `0`, around spaces.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    let v = v.trim();
    [("1", true), ("true", true), ("0", false), ("false", false)]
        .into_iter()
        .find(|(s, _)| v.eq_ignore_ascii_case(s))
        .map(|(_, b)| b)
}

/// Fails on the first of `keys` set in the process environment to
/// something that is not UTF-8 (no variable accepts it: it is reported
/// rather than read lossily), its value shown unless it is one of
/// `secrets`.
pub(crate) fn check_env_utf8(keys: &[&'static str], secrets: &[&str]) -> Result<(), Error> {
    for &key in keys {
        if let Some(v) = std::env::var_os(key) {
            if v.to_str().is_none() {
                let shown = redact(secrets, key, &v.to_string_lossy()).into_owned();
                return Err(config_err(key, &shown, "not valid UTF-8"));
            }
        }
    }
    Ok(())
}

/// The values of the variables `keys`, each looked up once.
pub(crate) struct Vars<const K: usize> {
    keys: [&'static str; K],
    values: [Option<String>; K],
}

impl<const K: usize> Vars<K> {
    /// Each of `keys` through `lookup`.
    pub(crate) fn read(
        keys: [&'static str; K],
        lookup: impl FnMut(&str) -> Option<String>,
    ) -> Self {
        Self {
            keys,
            values: keys.map(lookup),
        }
    }

    /// The value of `key` as set (a blank one too: for the settings where
    /// blank is an error).
    pub(crate) fn set(&self, key: &str) -> Option<String> {
        self.keys
            .iter()
            .zip(&self.values)
            .find(|(k, _)| **k == key)
            .and_then(|(_, v)| v.clone())
    }

    /// The value of `key`, a blank one read as unset.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.set(key).filter(|v| !v.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_keeps_blank_values_get_drops_them() {
        let env = [("A", " "), ("B", "x")];
        let vars = Vars::read(["A", "B", "C"], |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        });
        assert_eq!(vars.set("A").as_deref(), Some(" "));
        assert_eq!(vars.get("A"), None);
        assert_eq!(vars.get("B").as_deref(), Some("x"));
        assert_eq!(vars.set("C"), None);
    }

    #[test]
    fn secrets_are_redacted_and_booleans_parse() {
        assert_eq!(redact(&["T"], "T", "s3cret"), REDACTED);
        assert_eq!(redact(&["T"], "U", "shown"), "shown");
        assert_eq!(parse_bool(" TRUE "), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
