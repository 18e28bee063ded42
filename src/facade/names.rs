//! Name sanitizing: what the `metrics` facade hands over becomes a valid
//! Prometheus name the way metrics-exporter-prometheus (0.18,
//! `formatting.rs`) makes it one: every character outside the allowed set
//! becomes `_`, so `http.requests` is `http_requests` and `1xx` is `_xx`.
//! Label values need nothing: the encoder escapes them.

use std::borrow::Cow;

/// `name` with every character outside `[a-zA-Z_:]` (first) and
/// `[a-zA-Z0-9_:]` (the rest) replaced by `_`; borrowed when already valid.
/// An empty name stays empty (and invalid).
pub(crate) fn metric_name(name: &str) -> Cow<'_, str> {
    sanitize(
        name,
        |c| c.is_ascii_alphabetic() || c == '_' || c == ':',
        |c| c.is_ascii_alphanumeric() || c == '_' || c == ':',
    )
}

/// `key` with every character outside `[a-zA-Z_]` (first) and
/// `[a-zA-Z0-9_]` (the rest) replaced by `_`; borrowed when already valid.
pub(crate) fn label_key(key: &str) -> Cow<'_, str> {
    sanitize(
        key,
        |c| c.is_ascii_alphabetic() || c == '_',
        |c| c.is_ascii_alphanumeric() || c == '_',
    )
}

fn sanitize(s: &str, first: impl Fn(char) -> bool, rest: impl Fn(char) -> bool) -> Cow<'_, str> {
    let ok = |(i, c): (usize, char)| if i == 0 { first(c) } else { rest(c) };
    if s.chars().enumerate().all(ok) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .enumerate()
            .map(|p| if ok(p) { p.1 } else { '_' })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_the_exporter() {
        use metrics_exporter_prometheus::formatting as exporter;
        // metrics-exporter-prometheus 0.18.3's known cases, and a few more.
        let names = [
            "*",
            "\"",
            "foo_bar",
            "foo1:bar2",
            "1foobar",
            "123",
            "http.requests",
            "héllo",
        ];
        for raw in names {
            assert_eq!(
                metric_name(raw),
                exporter::sanitize_metric_name(raw),
                "{raw}"
            );
            assert_eq!(label_key(raw), exporter::sanitize_label_key(raw), "{raw}");
        }
        assert_eq!(metric_name("1foobar"), "_foobar");
        assert_eq!(metric_name("héllo"), "h_llo");
        assert_eq!(label_key("foo1:bar2"), "foo1_bar2");
        assert!(matches!(metric_name("ok_name"), Cow::Borrowed(_)));
        assert_eq!(metric_name(""), "");
    }
}
