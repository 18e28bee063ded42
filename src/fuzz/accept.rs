//! `Accept` negotiation properties (target `accept_negotiation`), over header
//! values built from the media-range grammar's tokens.

/// Builds an `Accept` header value from fuzz input: bytes with the high bit
/// set pick a token of the media-range grammar (so random input reaches the
/// interesting cases), the others are taken as characters.
pub fn accept_header(data: &[u8]) -> String {
    const TOKENS: [&str; 24] = [
        "application/openmetrics-text",
        "text/plain",
        "application/vnd.google.protobuf",
        "*/*",
        ";",
        ",",
        "version=",
        "1.0.0",
        "0.0.1",
        "0.0.4",
        "q=",
        "0",
        "0.5",
        "1",
        "0.001",
        "1.001",
        "\"",
        " ",
        "APPLICATION/OpenMetrics-Text",
        "Q=",
        "VERSION=",
        "charset=utf-8",
        "escaping=underscores",
        "=",
    ];
    let mut out = String::new();
    for &b in data {
        if b & 0x80 != 0 {
            out.push_str(
                TOKENS
                    .get(usize::from(b & 0x7f) % TOKENS.len())
                    .copied()
                    .unwrap_or(""),
            );
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// `Accept` negotiation properties: for any header value `h`,
/// - the answer does not depend on ASCII case;
/// - a media range nobody can serve, or any range with `q=0`, appended to `h`
///   changes nothing;
/// - `application/openmetrics-text` put first (q=1) always wins, as does
///   `text/plain;version=0.0.4` put first;
/// - a header that never names `openmetrics-text` gets text 0.0.4;
/// - each format's own `Content-Type` negotiates back to it.
pub fn accept_negotiation(data: &[u8]) {
    use crate::Format;
    let h = accept_header(data);
    let f = Format::negotiate(&h);
    assert_eq!(f, Format::negotiate(&h.to_ascii_lowercase()), "case: {h:?}");
    assert_eq!(f, Format::negotiate(&h.to_ascii_uppercase()), "case: {h:?}");
    for tail in [
        ",image/png",
        ",application/openmetrics-text;version=1.0.0;q=0",
        ",text/plain;q=0",
        ",application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
    ] {
        let mut longer = h.clone();
        longer.push_str(tail);
        assert_eq!(f, Format::negotiate(&longer), "appending {tail:?} to {h:?}");
    }
    let om_first = format!("application/openmetrics-text;version=1.0.0,{h}");
    assert_eq!(
        Format::negotiate(&om_first),
        Format::OpenMetrics,
        "{om_first:?}"
    );
    let text_first = format!("text/plain;version=0.0.4,{h}");
    assert_eq!(
        Format::negotiate(&text_first),
        Format::Prometheus,
        "{text_first:?}"
    );
    if !h.to_ascii_lowercase().contains("openmetrics-text") {
        assert_eq!(f, Format::Prometheus, "{h:?}");
    }
    for g in [Format::OpenMetrics, Format::Prometheus] {
        assert_eq!(Format::negotiate(g.content_type()), g);
    }
}
