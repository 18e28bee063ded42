#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use super::backoff::Backoff;
use super::config::hostname;
use super::env::{parse_duration, parse_grouping};
use super::url::{base64_url_encode, parse_http_url, pushgateway_path, TLS_REFUSED, URL_EXPECTED};
use super::{Driver, Method, PushConfig};

fn env(pairs: &[(&str, &str)]) -> Result<Option<PushConfig>, crate::Error> {
    PushConfig::from_lookup(|k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
}

fn env_err(pairs: &[(&str, &str)]) -> String {
    env(pairs).unwrap_err().to_string()
}

const GW: [(&str, &str); 3] = [
    ("METRICS_DRIVER", "pushgateway"),
    ("METRICS_PUSHGATEWAY_URL", "http://127.0.0.1:9091"),
    ("METRICS_PUSHGATEWAY_JOB", "soketi"),
];

fn gw_with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = GW.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn urls() {
    let u = parse_http_url("http://pgw:9091", false).unwrap();
    assert_eq!(
        (u.host.as_str(), u.port, u.path.as_str()),
        ("pgw", 9091, "/")
    );
    assert_eq!(u.ip, None);
    let u = parse_http_url(
        "HTTP://[::1]:8428/api/v1/import/prometheus?extra_label=a=b",
        true,
    )
    .unwrap();
    assert_eq!(u.socket_addr().unwrap().to_string(), "[::1]:8428");
    assert_eq!(u.authority, "[::1]:8428");
    assert_eq!(u.path, "/api/v1/import/prometheus?extra_label=a=b");
    let u = parse_http_url("http://10.0.0.1", false).unwrap();
    assert_eq!(u.socket_addr().unwrap().to_string(), "10.0.0.1:80");
    for bad in [
        "",
        "pgw:9091",
        "ftp://pgw",
        "http://",
        "http://:9091",
        "http://pgw:0",
        "http://pgw:65536",
        "http://pgw:+80",
        "http://pgw:80x",
        "http://user:pw@pgw",
        "http://pgw/a b",
        "http://pgw/#frag",
        "http://pg_w",
        "http://-pgw",
        "http://[::1",
        "http://[zz]:1",
        "http://pgw/metrics?x=1", // no query for a Pushgateway base
    ] {
        assert_eq!(parse_http_url(bad, false), Err(URL_EXPECTED), "{bad}");
    }
    assert_eq!(parse_http_url("https://pgw", true), Err(TLS_REFUSED));
    assert_eq!(parse_http_url("HTTPS://pgw", true), Err(TLS_REFUSED));
    assert!(parse_http_url("http://pgw/metrics?x=1", true).is_ok());
}

#[test]
fn base64_is_url_safe_and_padded() {
    let enc = |b: &[u8]| {
        let mut s = String::new();
        base64_url_encode(b, &mut s);
        s
    };
    assert_eq!(enc(b"/var/tmp"), "L3Zhci90bXA=");
    assert_eq!(enc("Προμηθεύς".as_bytes()), "zqDPgc6_zrzOt864zrXPjc-C");
    assert_eq!(enc(b"\xfb\xff"), "-_8=");
    assert_eq!(enc(b"a"), "YQ==");
    assert_eq!(enc(b""), "");
}

#[test]
fn grouping_paths_follow_the_pushgateway_readme() {
    let g = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    // The README's examples.
    assert_eq!(
        pushgateway_path("/", "directory_cleaner", &g(&[("path", "/var/tmp")])),
        "/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA="
    );
    assert_eq!(
        pushgateway_path(
            "/",
            "example",
            &g(&[("first_label", ""), ("second_label", "foobar")])
        ),
        "/metrics/job/example/first_label@base64/=/second_label/foobar"
    );
    assert_eq!(
        pushgateway_path("/", "titan", &g(&[("name", "Προμηθεύς")])),
        "/metrics/job/titan/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82"
    );
    // A job with a slash, a base path, spaces and reserved characters.
    assert_eq!(
        pushgateway_path("/pgw/", "a/b", &g(&[("instance", "host:9601 x?")])),
        "/pgw/metrics/job@base64/YS9i/instance/host%3A9601%20x%3F"
    );
}

#[test]
fn builder() {
    let cfg = PushConfig::pushgateway("http://pgw:9091/", "job")
        .unwrap()
        .grouping("instance", "a")
        .unwrap()
        .grouping("zone", "")
        .unwrap()
        .grouping("instance", "b")
        .unwrap();
    assert_eq!(
        cfg.target().to_string(),
        "http://pgw:9091/metrics/job/job/instance/b/zone@base64/="
    );
    assert_eq!(cfg.get_method(), Method::Put);
    let cfg = cfg.without_grouping("instance").without_grouping("zone");
    assert_eq!(cfg.target().to_string(), "http://pgw:9091/metrics/job/job");
    for bad in ["job", "__x", "1a", "a-b", ""] {
        let err = PushConfig::pushgateway("http://pgw", "j")
            .unwrap()
            .grouping(bad, "v")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("grouping={bad:?}: expected a grouping label name: [a-zA-Z_][a-zA-Z0-9_]*, not job, not starting with __")
        );
    }
    let cfg = PushConfig::url("http://vm:8428/api/v1/import/prometheus").unwrap();
    assert_eq!(cfg.get_method(), Method::Post);
    assert_eq!(cfg.driver(), Driver::Push);
    let cfg = cfg
        .interval(Duration::ZERO)
        .timeout(Duration::from_secs(100_000));
    assert_eq!(cfg.get_interval(), Duration::from_millis(1));
    assert_eq!(cfg.get_timeout(), Duration::from_secs(24 * 3600));
    let shown = format!("{:?}", cfg.basic_auth("u", "pa55word").unwrap());
    assert!(shown.contains("<redacted>") && !shown.contains("pa55word"));
    assert_eq!(
        PushConfig::url("http://vm")
            .unwrap()
            .prefix("my-app")
            .unwrap_err()
            .to_string(),
        r#"prefix="my-app": expected a metric name prefix: [a-zA-Z_:][a-zA-Z0-9_:]*"#
    );
}

#[test]
fn instance_defaults_to_the_host_name() {
    let host = hostname().expect("a host name");
    let cfg = PushConfig::pushgateway("http://pgw", "j").unwrap();
    assert_eq!(cfg.get_grouping(), &[("instance".to_string(), host)]);
}

#[test]
fn env_defaults_and_overrides() {
    assert!(env(&[]).unwrap().is_none());
    assert!(env(&[("METRICS_DRIVER", "Prometheus")]).unwrap().is_none());
    let cfg = env(&GW).unwrap().unwrap();
    assert_eq!(cfg.driver(), Driver::Pushgateway);
    assert_eq!(cfg.get_job(), "soketi");
    assert_eq!(cfg.get_interval(), Duration::from_secs(15));
    assert_eq!(cfg.get_timeout(), Duration::from_secs(10));
    assert_eq!(cfg.get_max_backoff(), Duration::from_secs(30));
    assert!(!cfg.get_delete_on_shutdown() && !cfg.has_auth() && !cfg.get_gzip());

    let cfg = env(&gw_with(&[
        (
            "METRICS_PUSHGATEWAY_GROUPING",
            "instance=n1, region = eu-west/1,empty=",
        ),
        ("METRICS_PUSHGATEWAY_DELETE_ON_SHUTDOWN", "TRUE"),
        ("METRICS_PUSH_INTERVAL", "500ms"),
        ("METRICS_PUSH_TIMEOUT", "2"),
        ("METRICS_PUSH_MAX_BACKOFF", "1m"),
        ("METRICS_PUSH_METHOD", "post"),
        ("METRICS_PUSH_USERNAME", "pusher"),
        ("METRICS_PUSH_PASSWORD", "s3cr3t: x"),
        ("METRICS_PUSH_GZIP", "1"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        cfg.target().to_string(),
        "http://127.0.0.1:9091/metrics/job/soketi/instance/n1/region@base64/IGV1LXdlc3QvMQ==/empty@base64/="
    );
    assert_eq!(cfg.get_interval(), Duration::from_millis(500));
    assert_eq!(cfg.get_timeout(), Duration::from_secs(2));
    assert_eq!(cfg.get_max_backoff(), Duration::from_secs(60));
    assert_eq!(cfg.get_method(), Method::Post);
    assert!(cfg.get_delete_on_shutdown() && cfg.get_gzip());
    assert_eq!(
        cfg.authorization.as_deref(),
        Some("Basic cHVzaGVyOnMzY3IzdDogeA==")
    );

    let cfg = env(&[
        ("METRICS_DRIVER", " PUSH "),
        (
            "METRICS_PUSH_URL",
            "http://127.0.0.1:8428/api/v1/import/prometheus",
        ),
        ("METRICS_PUSH_TOKEN", "abc.DEF-123=="),
        ("METRICS_PUSH_METHOD", " "), // blank: unset
    ])
    .unwrap()
    .unwrap();
    assert_eq!(cfg.driver(), Driver::Push);
    assert_eq!(cfg.get_method(), Method::Post);
    assert_eq!(cfg.authorization.as_deref(), Some("Bearer abc.DEF-123=="));
}

#[test]
fn env_errors_name_the_variable_and_value() {
    let d = "expected a duration from 1ms to 24h: a whole number with a unit ms, s, m or h (15s, 500ms, 1m), or seconds alone (15)";
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (vec![("METRICS_DRIVER", "statsd")], r#"METRICS_DRIVER="statsd": expected prometheus, pushgateway or push"#.into()),
        (vec![("METRICS_DRIVER", "pushgateway")], r#"METRICS_PUSHGATEWAY_URL="": must be set with METRICS_DRIVER=pushgateway (http://host:9091)"#.into()),
        (
            vec![("METRICS_DRIVER", "pushgateway"), ("METRICS_PUSHGATEWAY_URL", "http://pgw:9091")],
            r#"METRICS_PUSHGATEWAY_JOB="": must be set with METRICS_DRIVER=pushgateway (the job label of the pushed group)"#.into(),
        ),
        (
            vec![("METRICS_DRIVER", "pushgateway"), ("METRICS_PUSHGATEWAY_URL", "https://pgw:9091"), ("METRICS_PUSHGATEWAY_JOB", "j")],
            format!(r#"METRICS_PUSHGATEWAY_URL="https://pgw:9091": {TLS_REFUSED}"#),
        ),
        (
            vec![("METRICS_DRIVER", "pushgateway"), ("METRICS_PUSHGATEWAY_URL", "pgw:9091"), ("METRICS_PUSHGATEWAY_JOB", "j")],
            format!(r#"METRICS_PUSHGATEWAY_URL="pgw:9091": {URL_EXPECTED}"#),
        ),
        (
            gw_with(&[("METRICS_PUSH_URL", "http://vm")]),
            r#"METRICS_PUSH_URL="http://vm": is for METRICS_DRIVER=push; with METRICS_DRIVER=pushgateway set METRICS_PUSHGATEWAY_URL"#.into(),
        ),
        (
            gw_with(&[("METRICS_PUSHGATEWAY_GROUPING", "instance")]),
            r#"METRICS_PUSHGATEWAY_GROUPING="instance": expected name=value pairs separated by commas (instance=node-1,region=eu); "instance" has no ="#.into(),
        ),
        (
            gw_with(&[("METRICS_PUSHGATEWAY_GROUPING", "a=1,job=x")]),
            r#"METRICS_PUSHGATEWAY_GROUPING="a=1,job=x": "job" is not a grouping label name: expected [a-zA-Z_][a-zA-Z0-9_]*, not job, not starting with __"#.into(),
        ),
        (
            gw_with(&[("METRICS_PUSHGATEWAY_GROUPING", "a=1,a=2")]),
            r#"METRICS_PUSHGATEWAY_GROUPING="a=1,a=2": "a" is given twice"#.into(),
        ),
        (
            gw_with(&[("METRICS_PUSHGATEWAY_DELETE_ON_SHUTDOWN", "yes")]),
            r#"METRICS_PUSHGATEWAY_DELETE_ON_SHUTDOWN="yes": expected true, false, 1 or 0"#.into(),
        ),
        (gw_with(&[("METRICS_PUSH_INTERVAL", "0s")]), format!(r#"METRICS_PUSH_INTERVAL="0s": {d}"#)),
        (gw_with(&[("METRICS_PUSH_TIMEOUT", "1.5s")]), format!(r#"METRICS_PUSH_TIMEOUT="1.5s": {d}"#)),
        (gw_with(&[("METRICS_PUSH_MAX_BACKOFF", "25h")]), format!(r#"METRICS_PUSH_MAX_BACKOFF="25h": {d}"#)),
        (gw_with(&[("METRICS_PUSH_METHOD", "PATCH")]), r#"METRICS_PUSH_METHOD="PATCH": expected PUT or POST"#.into()),
        (
            gw_with(&[("METRICS_PUSH_TOKEN", " ")]),
            r#"METRICS_PUSH_TOKEN="<redacted>": set but empty: unset it to push without authentication"#.into(),
        ),
        (
            gw_with(&[("METRICS_PUSH_TOKEN", "a b")]),
            r#"METRICS_PUSH_TOKEN="<redacted>": expected a bearer token of letters, digits and -._~+/ (optionally =-padded), at most 1024 bytes"#.into(),
        ),
        (
            gw_with(&[("METRICS_PUSH_USERNAME", "u")]),
            r#"METRICS_PUSH_USERNAME="u": METRICS_PUSH_PASSWORD must be set too"#.into(),
        ),
        (
            gw_with(&[("METRICS_PUSH_PASSWORD", "p")]),
            r#"METRICS_PUSH_PASSWORD="<redacted>": METRICS_PUSH_USERNAME must be set too"#.into(),
        ),
        (
            gw_with(&[("METRICS_PUSH_USERNAME", "a:b"), ("METRICS_PUSH_PASSWORD", "p")]),
            r#"METRICS_PUSH_USERNAME="a:b": expected a user name without ':' or control characters"#.into(),
        ),
        (
            gw_with(&[("METRICS_PUSH_USERNAME", "u"), ("METRICS_PUSH_PASSWORD", "p"), ("METRICS_PUSH_TOKEN", "t")]),
            r#"METRICS_PUSH_USERNAME="u": conflicts with METRICS_PUSH_TOKEN: a request carries one Authorization header; set the token or the user and password"#.into(),
        ),
        (gw_with(&[("METRICS_PUSH_GZIP", "on")]), r#"METRICS_PUSH_GZIP="on": expected true, false, 1 or 0"#.into()),
        (
            vec![("METRICS_DRIVER", "push")],
            r#"METRICS_PUSH_URL="": must be set with METRICS_DRIVER=push (http://host:8428/api/v1/import/prometheus)"#.into(),
        ),
        (
            vec![("METRICS_DRIVER", "push"), ("METRICS_PUSH_URL", "http://vm"), ("METRICS_PUSHGATEWAY_JOB", "j")],
            r#"METRICS_PUSHGATEWAY_JOB="j": only applies to METRICS_DRIVER=pushgateway; with METRICS_DRIVER=push unset it"#.into(),
        ),
        // Validated while the driver is prometheus, too.
        (vec![("METRICS_PUSH_URL", "https://vm")], format!(r#"METRICS_PUSH_URL="https://vm": {TLS_REFUSED}"#)),
        (vec![("METRICS_PUSH_INTERVAL", "soon")], format!(r#"METRICS_PUSH_INTERVAL="soon": {d}"#)),
    ];
    for (pairs, want) in cases {
        assert_eq!(env_err(&pairs), want, "{pairs:?}");
    }
}

#[test]
fn durations() {
    assert_eq!(parse_duration("15s"), Some(Duration::from_secs(15)));
    assert_eq!(parse_duration(" 15 "), Some(Duration::from_secs(15)));
    assert_eq!(parse_duration("1ms"), Some(Duration::from_millis(1)));
    assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86_400)));
    for bad in [
        "",
        "s",
        "0",
        "0ms",
        "-1s",
        "+1s",
        "1 s",
        "1.5s",
        "1d",
        "25h",
        "99999999999999s",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn grouping_parse() {
    assert_eq!(
        parse_grouping("k", "a=1,b==2, c =x y").unwrap(),
        vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "=2".to_string()),
            ("c".to_string(), "x y".to_string())
        ]
    );
}

#[test]
fn backoff_is_capped_full_jitter() {
    let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(2), 42);
    let bounds: Vec<_> = (0..6)
        .map(|_| {
            let bound = b.bound();
            let d = b.next_delay();
            assert!(d <= bound);
            bound.as_millis()
        })
        .collect();
    assert_eq!(bounds, [250, 500, 1000, 2000, 2000, 2000]);
    assert_eq!(b.failures(), 6);
    b.reset();
    assert_eq!(b.bound(), Duration::from_millis(250));
    // Jitter spreads the delays over the whole range.
    let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1), 7);
    let draws: Vec<_> = (0..200).map(|_| b.next_delay().as_millis()).collect();
    assert!(draws.iter().any(|&d| d < 250) && draws.iter().any(|&d| d > 750));
    // A huge failure count saturates at the cap.
    let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(30), 1);
    for _ in 0..100 {
        b.next_delay();
    }
    assert_eq!(b.bound(), Duration::from_secs(30));
}

/// A server answering each connection's first request with `reply`
/// (then closing); returns a client for it.
fn canned(reply: Vec<u8>) -> super::client::Client {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 4096];
            let mut n = 0;
            while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf[n..]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
            }
            let _ = s.write_all(&reply);
        }
    });
    let url = parse_http_url(&format!("http://{addr}"), false).unwrap();
    super::client::Client::new(url, Duration::from_secs(5))
}

#[test]
fn client_reads_every_framing() {
    use super::client::{Failure, Request, EXCERPT_BYTES, MAX_BODY_BYTES};
    let send = |reply: &[u8]| {
        let mut c = canned(reply.to_vec());
        let r = c.send("DELETE", "/x", Request::default(), b"");
        (r, String::from_utf8_lossy(c.excerpt()).into_owned())
    };
    // Interim 100, then a Content-Length body.
    let (r, body) =
        send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!((r, body.as_str()), (Ok(202), "ok"));
    // HTTP/1.0 without a length: the body ends with the connection.
    let (r, body) = send(b"HTTP/1.0 400 Bad Request\r\n\r\nbad metric");
    assert_eq!((r, body.as_str()), (Ok(400), "bad metric"));
    // Chunked with an extension and a trailer.
    let (r, body) = send(b"HTTP/1.1 500 X\r\ntransfer-encoding: gzip, Chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n");
    assert_eq!((r, body.as_str()), (Ok(500), "abc"));
    // 204 has no body whatever it says.
    let (r, _) = send(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(r, Ok(204));
    // Malformed: a bad chunk size, a bad length, not HTTP, a length over the limit.
    for bad in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        )
        .as_bytes(),
    ] {
        assert_eq!(
            send(bad).0,
            Err(Failure::BadResponse),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // A head that never ends within 16 KiB.
    let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b"X-A: b\r\n".as_slice(), 3000).flatten());
    assert_eq!(send(&huge).0, Err(Failure::BadResponse));
    // The excerpt keeps the start of a long body only.
    let long = format!(
        "HTTP/1.1 400 X\r\nContent-Length: 5000\r\n\r\n{}",
        "e".repeat(5000)
    );
    let (r, body) = send(long.as_bytes());
    assert_eq!((r, body.len()), (Ok(400), EXCERPT_BYTES));
    // Closed before answering, on a fresh connection: an I/O failure.
    assert_eq!(send(b"").0, Err(Failure::Io));
}

#[test]
fn client_connect_failures() {
    use super::client::{Client, Failure, Request};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = parse_http_url(&format!("http://127.0.0.1:{port}"), false).unwrap();
    let mut c = Client::new(url, Duration::from_millis(500));
    assert_eq!(
        c.send("PUT", "/", Request::default(), b"x"),
        Err(Failure::Connect)
    );
    let url = parse_http_url("http://name.invalid:9091", false).unwrap();
    let mut c = Client::new(url, Duration::from_millis(500));
    assert_eq!(
        c.send("PUT", "/", Request::default(), b"x"),
        Err(Failure::Connect)
    );
}
