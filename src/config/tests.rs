//! Unit tests of the configuration: environment variables, the builder's
//! checks, IP networks, base64.

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
