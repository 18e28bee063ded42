//! The responder refuses to start while the global registry has a declaration
//! error (two `declare!`d metrics with one name, found at link time).
#![cfg(all(feature = "http", unix))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nanometrics::{declare, Error, Gauge};

declare! {
    static SESSIONS_A: Gauge = Gauge::new("signaling_proxy_sessions", "Current sessions.");
    static SESSIONS_B: Gauge = Gauge::new("signaling_proxy_sessions", "Declared twice by mistake.");
}

#[test]
fn serve_refuses_a_registry_with_declaration_errors() {
    let _ = (&SESSIONS_A, &SESSIONS_B);
    let cfg = nanometrics::http::HttpConfig::new().port(0);
    let err = nanometrics::http::serve(&cfg, nanometrics::global()).unwrap_err();
    assert_eq!(
        err,
        Error::Duplicate {
            name: "signaling_proxy_sessions".into()
        }
    );
}
