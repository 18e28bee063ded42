//! HTTP responder and configuration properties (targets `http_request`,
//! `config_env`; replayed by `tests/fuzz_corpus_http.rs`).

/// Feeds `data` to the responder's request handling as one connection would
/// receive it, and checks that every answer is well-formed, that each step
/// consumes bytes or waits for more, and that memory stays bounded.
///
/// Byte 0 picks the configuration (bearer auth, client refused by the
/// allow-list, a 256-byte head limit), byte 1 the read size (1 to 256 bytes
/// per read); the rest is the byte stream.
#[deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#[cfg(all(feature = "http", unix, not(nanometrics_loom)))]
pub fn http_request(data: &[u8]) {
    use crate::http::{decide, request, write_reject, write_scrape_head, Decision};

    let (flags, chunk, stream) = match data {
        [f, c, rest @ ..] => (*f, usize::from(*c) + 1, rest),
        _ => (0, 256, data),
    };
    let mut cfg = crate::config::HttpConfig::new();
    if flags & 1 != 0 {
        cfg = match cfg.bearer_token("t0k3n") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
    }
    if flags & 4 != 0 {
        cfg = cfg.max_head_bytes(256);
    }
    let allowed = flags & 2 == 0;

    // The parser alone, on the whole input.
    if let request::Parsed::Complete(r) = request::parse(stream) {
        assert!(r.len <= stream.len());
        assert!(r.path.len() < r.len);
    }
    let _ = request::accepts_gzip(stream);
    let _ = crate::http::auth::authorized(&cfg, Some(stream));

    // A connection: a buffer of max_head_bytes filled `chunk` bytes at a time.
    let mut buf = vec![0u8; cfg.max_head_bytes];
    let mut filled = 0usize;
    let mut fed = 0usize;
    let mut out = Vec::new();
    loop {
        let decision = decide(
            &cfg,
            allowed,
            buf.get(..filled).unwrap_or(&[]),
            filled == buf.len(),
        );
        out.clear();
        let consumed = match decision {
            Decision::NeedMore => {
                let room = buf.len() - filled;
                let n = chunk.min(room).min(stream.len() - fed);
                if n == 0 {
                    assert!(
                        fed == stream.len(),
                        "waits with room left only when input is exhausted"
                    );
                    return;
                }
                let (Some(dst), Some(src)) =
                    (buf.get_mut(filled..filled + n), stream.get(fed..fed + n))
                else {
                    panic!("bounds");
                };
                dst.copy_from_slice(src);
                filled += n;
                fed += n;
                continue;
            }
            Decision::Reject {
                reason,
                len,
                keep_alive,
                head_only,
            } => {
                write_reject(&cfg, reason, keep_alive, head_only, 1, &mut out);
                check_response(&out, head_only);
                match len {
                    Some(len) if keep_alive => len,
                    _ => return,
                }
            }
            Decision::Scrape(s) => {
                assert!(allowed);
                write_scrape_head(&s, s.gzip, 1234, &mut out);
                assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
                assert!(out.ends_with(b"\r\n\r\n"));
                if !s.keep_alive {
                    return;
                }
                s.len
            }
        };
        assert!(
            consumed > 0 && consumed <= filled,
            "progress: {consumed} of {filled}"
        );
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
}

/// A response the responder writes for a refusal: a status line, headers, a
/// blank line, and exactly `Content-Length` body bytes (none for `HEAD`).
#[deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#[cfg(all(feature = "http", unix, not(nanometrics_loom)))]
fn check_response(out: &[u8], head_only: bool) {
    assert!(out.starts_with(b"HTTP/1.1 "));
    assert!(out.len() < 1024);
    let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        panic!("no end of head");
    };
    let head = std::str::from_utf8(out.get(..end).unwrap_or(&[])).unwrap_or("");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let body = out.len() - end - 4;
    assert_eq!(body, if head_only { 0 } else { len });
}

/// Reads an environment from `data` (lines; each line's first byte picks a
/// variable of [`ENV_VARS`](crate::config::ENV_VARS), the rest is its value)
/// and checks that configuration never panics, that errors name a known
/// variable, and that an accepted configuration, written back as variables,
/// reads back equal.
///
/// The allow-list fails closed: the same environment with
/// `METRICS_ALLOWED_IPS` made only of separators (commas and whitespace
/// chosen by the input, or nothing) is never accepted, and an accepted
/// allow-list written back with an empty entry is refused, both naming
/// `METRICS_ALLOWED_IPS` (or a variable read before it).
#[deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#[cfg(all(feature = "http", not(nanometrics_loom)))]
pub fn config_env(data: &[u8]) {
    use crate::config::{HttpConfig, ENV_VARS};
    use crate::Error;

    let vars = super::input::env_lines(data, &ENV_VARS);
    let get = |vars: &[(&str, String)], k: &str| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    };
    // Refused, naming the allow-list or a variable read before it.
    let refuses_allow_list = |vars: &[(&str, String)]| {
        const ALLOWED: &str = "METRICS_ALLOWED_IPS";
        let order = |k: &str| ENV_VARS.iter().position(|n| *n == k);
        match HttpConfig::from_lookup(|k| get(vars, k)) {
            Ok(c) => panic!("accepted an allow-list with no address or an empty entry: {c:?}"),
            Err(Error::Config { key, .. }) => {
                assert!(key == ALLOWED || order(&key) < order(ALLOWED), "{key}");
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    };
    const SEPARATORS: [char; 7] = [',', ' ', '\t', '\n', '\r', '\u{3000}', '\u{85}'];
    let only_separators: String = data
        .iter()
        .take(64)
        .map(|&b| {
            let i = usize::from(b) % SEPARATORS.len();
            SEPARATORS.get(i).copied().unwrap_or(',')
        })
        .collect();
    let mut separated = vars.clone();
    separated.retain(|(n, _)| *n != "METRICS_ALLOWED_IPS");
    separated.push(("METRICS_ALLOWED_IPS", only_separators));
    refuses_allow_list(&separated);

    let cfg = match HttpConfig::from_lookup(|k| get(&vars, k)) {
        Ok(c) => c,
        Err(Error::Config { key, .. }) => {
            assert!(ENV_VARS.contains(&key.as_str()), "unknown key {key}");
            return;
        }
        Err(e) => panic!("unexpected error {e}"),
    };
    // Write the accepted configuration back as variables (secrets as given).
    let mut back: Vec<(&str, String)> = vec![
        ("METRICS_ENABLED", cfg.is_enabled().to_string()),
        ("METRICS_HOST", cfg.bind_addr().ip().to_string()),
        ("METRICS_PORT", cfg.bind_addr().port().to_string()),
        ("METRICS_PATH", cfg.get_path().to_owned()),
        ("METRICS_PROMETHEUS_PREFIX", cfg.get_prefix().to_owned()),
        ("METRICS_SELF_METRICS", cfg.get_self_metrics().to_string()),
    ];
    let list = cfg
        .get_allowed()
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",");
    if !list.is_empty() {
        // With an empty entry (two commas, or a leading or trailing one).
        let holed = match data.len() % 3 {
            0 => format!(",{list}"),
            1 => format!("{list},"),
            _ => list.replacen(',', ", ,", 1) + ",",
        };
        let mut with_hole = back.clone();
        with_hole.push(("METRICS_ALLOWED_IPS", holed));
        refuses_allow_list(&with_hole);
        back.push(("METRICS_ALLOWED_IPS", list));
    }
    for k in [
        "METRICS_AUTH_TOKEN",
        "METRICS_AUTH_USERNAME",
        "METRICS_AUTH_PASSWORD",
    ] {
        if let Some(v) = get(&vars, k) {
            back.push((k, v));
        }
    }
    match HttpConfig::from_lookup(|k| get(&back, k)) {
        Ok(again) => assert!(again == cfg, "round trip: {cfg:?} became {again:?}"),
        Err(e) => panic!("round trip of {cfg:?} failed: {e}"),
    }
}
