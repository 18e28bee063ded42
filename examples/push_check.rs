//! Pushes to a real Pushgateway or VictoriaMetrics and checks what they
//! stored; run by `.ci/stages/62-pushgateway.sh`, which starts both.
//!
//! ```sh
//! # a Pushgateway with basic auth (user, password), results under <dir>
//! cargo run --example push_check -- pushgateway http://127.0.0.1:9091 user password <dir>
//! # VictoriaMetrics' import endpoint
//! cargo run --example push_check -- push http://127.0.0.1:8428/api/v1/import/prometheus <dir>
//! ```
//!
//! `pushgateway`: pushes sockudo's documented metric set (`tests/seeds`) as
//! job `nanometrics-ci` with grouping labels that need the Pushgateway's
//! base64 form (`/`) and percent-encoding (spaces, Unicode), reads the
//! gateway's `/metrics` back and compares every sample's value; then checks
//! that `PUT` replaces a group, `POST` merges into it, `DELETE` (on shutdown)
//! removes it, and that pushes without or with wrong credentials are refused
//! (`401`) while the right ones are accepted. Writes `<dir>/expected.prom`
//! (the pushed text) and `<dir>/grouping.txt` (the group's labels) for the
//! stage's check of `/api/v1/metrics`.
//!
//! `push`: pushes the same set to the URL, shuts the pusher down (a final
//! push) and writes `<dir>/expected.prom` for the stage's query.

#[path = "../tests/seeds/mod.rs"]
mod seeds;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nanometrics::push::{self, Method, PushConfig, Pusher};
use nanometrics::{Counter, Encoder, Format, Gauge, Registry};

type Sample = (String, BTreeMap<String, String>);
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const JOB: &str = "nanometrics-ci";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["pushgateway", url, user, password, dir] => pushgateway(url, user, password, dir),
        ["push", url, dir] => push_url(url, dir),
        _ => Err(
            "usage: push_check pushgateway <url> <user> <password> <dir> | push <url> <dir>".into(),
        ),
    }
}

fn leak(r: Registry) -> &'static Registry {
    Box::leak(Box::new(r))
}

/// sockudo's metric set with its values, and its text 0.0.4 exposition.
fn seed_registry() -> Result<(&'static Registry, String)> {
    let r = leak(Registry::new());
    seeds::register(r, &seeds::SOCKUDO)?;
    let mut text = Vec::new();
    Encoder::new()
        .with_prefix(seeds::SOCKUDO.prefix)?
        .encode(r, Format::Prometheus, &mut text);
    Ok((r, String::from_utf8(text)?))
}

/// Waits (at most 10 s) until `p` has made `n` accepted pushes or has
/// failed `failures` times.
fn wait(p: &Pusher, n: u64, failures: u64) -> nanometrics::push::Stats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = p.stats();
        if s.pushes >= n || s.failures >= failures || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn pushgateway(url: &str, user: &str, password: &str, dir: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let group = [("instance", "ci/node 1"), ("site", "Προμηθεύς")];
    let base = |job: &str| -> Result<PushConfig> {
        let mut c = PushConfig::pushgateway(url, job)?
            .interval(Duration::from_secs(3600))
            .timeout(Duration::from_secs(5))
            .self_metrics(false);
        for (k, v) in group {
            c = c.grouping(k, v)?;
        }
        Ok(c)
    };

    // Credentials: none and wrong ones are refused, the right ones accepted.
    let (seed, expected) = seed_registry()?;
    for (what, cfg) in [
        ("no credentials", base(JOB)?),
        ("a wrong password", base(JOB)?.basic_auth(user, "wrong")?),
    ] {
        let p = push::push(&cfg, leak(Registry::new()))?;
        let s = wait(&p, 1, 1);
        drop(p);
        if s.last_status != 401 || s.pushes != 0 {
            return Err(format!("a push with {what} was not refused with 401: {s:?}").into());
        }
    }
    println!("pushgateway: pushes without or with wrong credentials get 401");
    let cfg = base(JOB)?.basic_auth(user, password)?;
    println!("pushing sockudo's set to {}", cfg.target());
    let p = push::push(&cfg.clone().prefix(seeds::SOCKUDO.prefix)?, seed)?;
    let s = wait(&p, 1, 1);
    if s.pushes != 1 || s.failures != 0 {
        return Err(format!("push not accepted: {s:?}").into());
    }
    drop(p); // the final push: the same values

    // Every sample, read back with the group's labels.
    let mut want = parse(&expected)?;
    let extra: Vec<(String, String)> = [("job", JOB)]
        .into_iter()
        .chain(group)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    want = want
        .into_iter()
        .map(|((name, mut labels), v)| {
            labels.extend(extra.iter().cloned());
            ((name, labels), v)
        })
        .collect();
    let got = parse(&get(url, "/metrics", Some((user, password)))?)?;
    let mut checked = 0;
    for (key, v) in &want {
        match got.get(key) {
            Some(g) if same(*g, *v) => checked += 1,
            Some(g) => return Err(format!("{key:?}: pushed {v}, the gateway has {g}").into()),
            None => return Err(format!("{key:?} (pushed {v}) missing from the gateway").into()),
        }
    }
    println!("pushgateway /metrics: all {checked} pushed samples read back with their values");
    std::fs::write(format!("{dir}/expected.prom"), &expected)?;
    let grouping: String = extra.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
    std::fs::write(format!("{dir}/grouping.txt"), grouping)?;

    // PUT replaces, POST merges, DELETE removes: job `nanometrics-ci-merge`.
    let job = "nanometrics-ci-merge";
    let one = |name: &'static str, method: Method, delete: bool| -> Result<()> {
        let r = leak(Registry::new());
        r.register(Counter::new(name, "A family."))?.inc_by(5);
        let cfg = base(job)?
            .basic_auth(user, password)?
            .method(method)
            .delete_on_shutdown(delete);
        let p = push::push(&cfg, r)?;
        let s = wait(&p, 1, 1);
        p.shutdown();
        if s.pushes != 1 {
            return Err(format!("{name} not pushed: {s:?}").into());
        }
        Ok(())
    };
    let families = || -> Result<Vec<String>> {
        let text = get(url, "/metrics", Some((user, password)))?;
        let mut names: Vec<String> = parse(&text)?
            .into_keys()
            .filter(|(_, l)| l.get("job").map(String::as_str) == Some(job))
            .map(|(n, _)| n)
            .filter(|n| n.starts_with("ci_"))
            .collect();
        names.dedup();
        Ok(names)
    };
    one("ci_a_total", Method::Put, false)?;
    one("ci_b_total", Method::Put, false)?;
    let after_put = families()?;
    one("ci_c_total", Method::Post, false)?;
    let after_post = families()?;
    one("ci_d_total", Method::Post, true)?;
    // The gateway queues a DELETE (202) rather than applying it at once.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after_delete = families()?;
    while !after_delete.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        after_delete = families()?;
    }
    if after_put != ["ci_b_total"]
        || after_post != ["ci_b_total", "ci_c_total"]
        || !after_delete.is_empty()
    {
        return Err(format!(
            "PUT/POST/DELETE: after PUT {after_put:?}, after POST {after_post:?}, after DELETE {after_delete:?}"
        )
        .into());
    }
    println!("pushgateway: PUT replaced the group, POST merged into it, DELETE removed it");

    // A family the gateway finds inconsistent (a gauge where the group has a
    // counter): 400, reported, not retried at once.
    let r = leak(Registry::new());
    r.register(Gauge::new("sockudo_cache_hits_total", "Not a counter."))?
        .set(1);
    let cfg = base("nanometrics-ci-bad")?
        .basic_auth(user, password)?
        .interval(Duration::from_secs(3600));
    let p = push::push(&cfg, r)?;
    let s = wait(&p, 1, 1);
    std::thread::sleep(Duration::from_millis(300));
    let later = p.stats();
    drop(p);
    if s.last_status != 400 || later.failures != 1 {
        return Err(format!("an inconsistent push: {s:?}, then {later:?}").into());
    }
    println!("pushgateway: an inconsistent family is refused with 400 and not retried");

    // A gzip-compressed body (Content-Encoding: gzip).
    let r = leak(Registry::new());
    r.register(Counter::new("ci_gzip_total", "Pushed gzipped."))?
        .inc_by(11);
    let cfg = base("nanometrics-ci-gzip")?
        .basic_auth(user, password)?
        .gzip(true);
    let p = push::push(&cfg, r)?;
    let s = wait(&p, 1, 1);
    drop(p);
    let got = parse(&get(url, "/metrics", Some((user, password)))?)?;
    let value = got
        .iter()
        .find(|((n, l), _)| {
            n == "ci_gzip_total" && l.get("job").map(String::as_str) == Some("nanometrics-ci-gzip")
        })
        .map(|(_, v)| *v);
    if s.pushes != 1 || value != Some(11.0) {
        return Err(format!("a gzipped push: {s:?}, ci_gzip_total = {value:?}").into());
    }
    println!("pushgateway: a gzipped push is read back");
    Ok(())
}

fn push_url(url: &str, dir: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let (seed, expected) = seed_registry()?;
    let cfg = PushConfig::url(url)?
        .prefix(seeds::SOCKUDO.prefix)?
        .self_metrics(false)
        .interval(Duration::from_secs(3600));
    let p = push::push(&cfg, seed)?;
    let s = wait(&p, 1, 1);
    p.shutdown();
    if s.pushes != 1 || s.failures != 0 {
        return Err(format!("push to {url} not accepted: {s:?}").into());
    }
    println!("pushed sockudo's set to {url} (status {})", s.last_status);
    // And a gzip-compressed body, read back by the stage's query.
    let r = leak(Registry::new());
    r.register(Counter::new("nanometrics_ci_gzip_total", "Pushed gzipped."))?
        .inc_by(13);
    let p = push::push(&PushConfig::url(url)?.gzip(true).self_metrics(false), r)?;
    let s = wait(&p, 1, 1);
    p.shutdown();
    if s.pushes != 1 || s.failures != 0 {
        return Err(format!("gzipped push to {url} not accepted: {s:?}").into());
    }
    std::fs::write(format!("{dir}/expected.prom"), &expected)?;
    Ok(())
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// `GET path` over HTTP/1.0; the body of a 200.
fn get(base: &str, path: &str, auth: Option<(&str, &str)>) -> Result<String> {
    let authority = base
        .strip_prefix("http://")
        .ok_or("not http")?
        .split('/')
        .next()
        .ok_or("no host")?;
    let mut s = TcpStream::connect(authority)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n");
    if let Some((u, p)) = auth {
        req += &format!(
            "Authorization: Basic {}\r\n",
            b64(format!("{u}:{p}").as_bytes())
        );
    }
    req += "\r\n";
    s.write_all(req.as_bytes())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let resp = String::from_utf8(resp)?;
    let (head, body) = resp.split_once("\r\n\r\n").ok_or("no head")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!("GET {path}: {}", head.lines().next().unwrap_or("")).into());
    }
    Ok(body.to_owned())
}

fn b64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sample lines of a text exposition: (name, labels) → value; `le` and
/// `quantile` values normalised through `f64`.
fn parse(text: &str) -> Result<BTreeMap<Sample, f64>> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or("no value")?;
        let name = line[..name_end].to_owned();
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                rest = rest.trim_start_matches(',');
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                let eq = rest.find("=\"").ok_or("bad label")?;
                let key = rest[..eq].to_owned();
                let mut value = String::new();
                let mut chars = rest[eq + 2..].char_indices();
                let end = loop {
                    match chars.next().ok_or("unterminated")? {
                        (i, '"') => break i,
                        (_, '\\') => match chars.next().ok_or("bad escape")?.1 {
                            'n' => value.push('\n'),
                            c => value.push(c),
                        },
                        (_, c) => value.push(c),
                    }
                };
                rest = &rest[eq + 2 + end + 1..];
                if key == "le" || key == "quantile" {
                    value = value.parse::<f64>()?.to_string();
                }
                labels.insert(key, value);
            }
        }
        let value = rest.split_whitespace().next().ok_or("no value")?;
        out.insert((name, labels), value.parse::<f64>()?);
    }
    Ok(out)
}
