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

#[test]
fn allow_list_with_no_address_fails_closed() {
    // Set but listing no address: an error naming the variable, never
    // "every client".
    for v in ["", " ", ",", ", ,", " \t,\n, ", ",,,"] {
        let (key, value, reason) = err(&[("METRICS_ALLOWED_IPS", v)]);
        assert_eq!((key.as_str(), value.as_str()), ("METRICS_ALLOWED_IPS", v));
        assert!(reason.starts_with("lists no address"), "{v:?}: {reason}");
    }
    let e = HttpConfig::new()
        .allowed_ips(" , ")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(r#"allowed_ips=" , ": lists no address"#),
        "{e}"
    );
    let e = HttpConfig::new().allow([]).unwrap_err().to_string();
    assert!(e.starts_with(r#"allow="": lists no address"#), "{e}");
    assert!(parse_allow_list("").is_err());
}

#[test]
fn allow_list_with_an_empty_entry_fails_closed() {
    for v in [
        "10.0.0.1,,10.0.0.2",
        "10.0.0.1, ,10.0.0.2",
        ",10.0.0.1",
        "10.0.0.1,",
        "10.0.0.1 ,\t",
    ] {
        let (key, value, reason) = err(&[("METRICS_ALLOWED_IPS", v)]);
        assert_eq!((key.as_str(), value.as_str()), ("METRICS_ALLOWED_IPS", v));
        assert!(reason.starts_with("has an empty entry"), "{v:?}: {reason}");
    }
    // Commas, whitespace, or both between entries are all one separator.
    for v in [
        "10.0.0.1 10.0.0.2",
        "10.0.0.1 , 10.0.0.2",
        "10.0.0.1,\t10.0.0.2",
    ] {
        assert_eq!(env(&[("METRICS_ALLOWED_IPS", v)]).unwrap().allowed.len(), 2);
    }
}

#[test]
fn blank_credentials_fail_closed() {
    let secret = |k: &str| k != "METRICS_AUTH_USERNAME";
    for k in [
        "METRICS_AUTH_TOKEN",
        "METRICS_AUTH_USERNAME",
        "METRICS_AUTH_PASSWORD",
    ] {
        for blank in ["", "  ", "\t"] {
            // The other half of the basic pair set (`env` takes the first
            // pair of a key), so that the blank value is what is refused.
            let (key, value, reason) = err(&[
                (k, blank),
                ("METRICS_AUTH_USERNAME", "prom"),
                ("METRICS_AUTH_PASSWORD", "0123456789abcdef"),
            ]);
            assert_eq!(key, k);
            assert_eq!(value, if secret(k) { REDACTED } else { blank });
            assert!(reason.starts_with("set but empty"), "{reason}");
        }
    }
    // Both halves blank: the user is named first.
    let (key, _, _) = err(&[("METRICS_AUTH_USERNAME", ""), ("METRICS_AUTH_PASSWORD", "")]);
    assert_eq!(key, "METRICS_AUTH_USERNAME");
    // The builder refuses an empty token or user too.
    assert!(HttpConfig::new().bearer_token("").is_err());
    assert!(HttpConfig::new().basic_auth("", "x").is_err());
}

#[test]
fn security_warnings() {
    let w = |c: &HttpConfig| c.security_warnings();
    // Loopback, however it is spelt: no warning.
    for host in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
        assert!(w(&HttpConfig::new().host(host.parse().unwrap())).is_empty());
    }
    // Reachable from other hosts with neither allow-list nor auth.
    for host in ["0.0.0.0", "::", "10.0.0.5"] {
        let open = HttpConfig::new().host(host.parse().unwrap()).port(6001);
        let found = w(&open);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("no IP allow-list and no authentication"));
        assert!(found[0].contains(&open.bind_addr().to_string()));
        // Either protection silences it.
        assert!(w(&open.clone().allowed_ips("10.0.0.0/8").unwrap()).is_empty());
        let strong = open.clone().bearer_token("0123456789abcdef").unwrap();
        assert!(w(&strong).is_empty());
    }
    // Secrets shorter than 16 bytes, on loopback too; 16 is enough.
    let short = HttpConfig::new().bearer_token("s3cr3t").unwrap();
    let found = w(&short);
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("bearer token (METRICS_AUTH_TOKEN) is 6 bytes"));
    assert!(!found[0].contains("s3cr3t"), "never the secret itself");
    let basic = HttpConfig::new().basic_auth("prom", "pw").unwrap();
    assert!(w(&basic)[0].contains("password (METRICS_AUTH_PASSWORD) is 2 bytes"));
    let both = HttpConfig::new()
        .host("0.0.0.0".parse().unwrap())
        .bearer_token("a")
        .unwrap()
        .basic_auth("prom", "")
        .unwrap();
    assert_eq!(w(&both).len(), 2, "{:?}", w(&both));
    let fine = HttpConfig::new()
        .bearer_token("0123456789abcdef")
        .unwrap()
        .basic_auth("prom", "0123456789abcdef")
        .unwrap();
    assert!(w(&fine).is_empty());
}
