//! The push configuration's property (target `push_config`; replayed by
//! `tests/fuzz_corpus_push.rs`).

/// Reads an environment from `data` (lines; each line's first byte picks a
/// variable of [`push::ENV_VARS`](crate::push::ENV_VARS), the rest is its
/// value) and checks that:
///
/// - reading it never panics, and an error names a known variable, never
///   shows the token or the password, and for an `https://` URL says that
///   TLS is not supported;
/// - an accepted configuration, written back as variables, reads back equal;
/// - its Pushgateway path decodes back to the job and the grouping labels:
///   each value plain (percent-decoded) or, where it is empty or holds a
///   `/`, in the base64 form.
#[deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
pub fn push_config(data: &[u8]) {
    use crate::push::config::{Driver, PushConfig, ENV_VARS};
    use crate::Error;

    let vars = super::input::env_lines(data, &ENV_VARS);
    let get = |vars: &[(&str, String)], k: &str| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    };
    let cfg = match PushConfig::from_lookup(|k| get(&vars, k)) {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(Error::Config { key, value, reason }) => {
            assert!(ENV_VARS.contains(&key.as_str()), "unknown key {key}");
            if key == "METRICS_PUSH_TOKEN" || key == "METRICS_PUSH_PASSWORD" {
                assert_eq!(value, "<redacted>");
            }
            // An https:// URL is refused as such, not as a malformed URL.
            let https = |v: &str| {
                v.get(..8)
                    .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
            };
            if key.ends_with("_URL") && get(&vars, &key).is_some_and(|v| https(&v)) {
                assert!(!reason.starts_with("expected an http:// URL"), "{reason}");
            }
            return;
        }
        Err(e) => panic!("unexpected error {e}"),
    };

    // Written back as variables (credentials as given), read back equal.
    let ms = |d: std::time::Duration| format!("{}ms", d.as_millis());
    let url = format!("http://{}{}", cfg.url.authority, cfg.url.path);
    let mut back: Vec<(&str, String)> = vec![
        ("METRICS_DRIVER", cfg.driver().as_str().to_owned()),
        ("METRICS_PUSH_INTERVAL", ms(cfg.get_interval())),
        ("METRICS_PUSH_TIMEOUT", ms(cfg.get_timeout())),
        ("METRICS_PUSH_MAX_BACKOFF", ms(cfg.get_max_backoff())),
        ("METRICS_PUSH_METHOD", cfg.get_method().as_str().to_owned()),
        ("METRICS_PUSH_GZIP", cfg.get_gzip().to_string()),
    ];
    if cfg.driver() == Driver::Pushgateway {
        back.push(("METRICS_PUSHGATEWAY_URL", url));
        back.push(("METRICS_PUSHGATEWAY_JOB", cfg.get_job().to_owned()));
        back.push((
            "METRICS_PUSHGATEWAY_DELETE_ON_SHUTDOWN",
            cfg.get_delete_on_shutdown().to_string(),
        ));
        let grouping: Vec<String> = cfg
            .get_grouping()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !grouping.is_empty() {
            back.push(("METRICS_PUSHGATEWAY_GROUPING", grouping.join(",")));
        }
    } else {
        back.push(("METRICS_PUSH_URL", url));
    }
    for k in [
        "METRICS_PUSH_TOKEN",
        "METRICS_PUSH_USERNAME",
        "METRICS_PUSH_PASSWORD",
    ] {
        if let Some(v) = get(&vars, k) {
            back.push((k, v));
        }
    }
    match PushConfig::from_lookup(|k| get(&back, k)) {
        Ok(Some(again)) => assert!(again == cfg, "{cfg:?} read back as {again:?}"),
        other => panic!("{cfg:?} written back as {back:?} reads as {other:?}"),
    }

    if cfg.driver() != Driver::Pushgateway {
        return;
    }
    // The grouping path decodes back to the job and the labels.
    let path = cfg.path();
    let base = cfg.url.path.trim_end_matches('/');
    let rest = path
        .strip_prefix(base)
        .and_then(|p| p.strip_prefix("/metrics/"))
        .unwrap_or_else(|| panic!("{path} does not start with {base}/metrics/"));
    let segments: Vec<&str> = rest.split('/').collect();
    let mut decoded = Vec::new();
    for pair in segments.chunks(2) {
        let [name, value] = pair else {
            panic!("odd number of segments in {path}");
        };
        let (name, value) = match name.strip_suffix("@base64") {
            Some(n) => (n, base64_url_decode(value)),
            None => (*name, percent_decode(value)),
        };
        decoded.push((name.to_owned(), value));
    }
    let mut want = vec![("job".to_owned(), cfg.get_job().to_owned())];
    want.extend(cfg.get_grouping().iter().cloned());
    assert_eq!(decoded, want, "{path}");
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let v = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(v.unwrap_or_else(|| panic!("bad escape in {s}")));
            i += 3;
        } else {
            assert!(
                c.is_ascii_alphanumeric() || b"-._~".contains(&c),
                "{s}: unescaped {c}"
            );
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn base64_url_decode(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = A.iter().position(|&a| a == c);
        let v = v.unwrap_or_else(|| panic!("{s}: not URL-safe base64"));
        bits = bits << 6 | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| panic!("{s}: {e}"))
}
