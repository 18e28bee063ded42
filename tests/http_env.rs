//! `serve_global_from_env` against the real process environment. One test in
//! this binary: it sets variables, which no other thread may read meanwhile.
#![cfg(all(feature = "http", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;

use nanometrics::{declare, Counter, Error};

declare! {
    static FROM_ENV: Counter = Counter::new("from_env_total", "A declared counter.");
}

fn clear() {
    for k in nanometrics::config::ENV_VARS {
        std::env::remove_var(k);
    }
}

#[test]
fn serve_global_from_env() {
    clear();
    // METRICS_ENABLED=false: no listener, no thread, recording unaffected.
    std::env::set_var("METRICS_ENABLED", "false");
    std::env::set_var("METRICS_PORT", "0");
    assert!(nanometrics::http::serve_global_from_env()
        .unwrap()
        .is_none());
    FROM_ENV.inc();
    assert_eq!(FROM_ENV.get(), 1);

    // An invalid value names the variable and the value.
    std::env::set_var("METRICS_ENABLED", "maybe");
    let err = nanometrics::http::serve_global_from_env().unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, value, .. } if key == "METRICS_ENABLED" && value == "maybe"),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("METRICS_ENABLED=\"maybe\": "),
        "{err}"
    );
    std::env::set_var("METRICS_ENABLED", "1");
    std::env::set_var("METRICS_HOST", "not-an-ip");
    let err = nanometrics::http::serve_global_from_env().unwrap_err();
    assert!(
        err.to_string().starts_with("METRICS_HOST=\"not-an-ip\": "),
        "{err}"
    );

    // Security settings fail closed: set but listing no address, or blank,
    // is an error naming the variable, not "every client" or "no auth".
    std::env::set_var("METRICS_HOST", "127.0.0.1");
    for (key, value, shown) in [
        ("METRICS_ALLOWED_IPS", ", ,", ", ,"),
        ("METRICS_ALLOWED_IPS", "", ""),
        ("METRICS_ALLOWED_IPS", "127.0.0.1,,::1", "127.0.0.1,,::1"),
        ("METRICS_AUTH_TOKEN", " ", "<redacted>"),
    ] {
        std::env::set_var(key, value);
        let err = nanometrics::http::serve_global_from_env().unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("{key}={shown:?}: ")),
            "{err}"
        );
        std::env::remove_var(key);
    }

    // Enabled, sockudo's prefix variable, an allow-list and a path.
    std::env::set_var("PROMETHEUS_METRICS_PREFIX", "sockudo_");
    std::env::set_var("METRICS_ALLOWED_IPS", "127.0.0.1/32, ::1");
    std::env::set_var("METRICS_PATH", "/stats");
    let server = nanometrics::http::serve_global_from_env()
        .unwrap()
        .expect("enabled");
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.write_all(b"GET /stats HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\nsockudo_from_env_total 1\n"), "{text}");
    drop(server);
    clear();
}
