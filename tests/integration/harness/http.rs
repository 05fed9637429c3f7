//! strait's HTTP endpoint seen from outside: requests with a real HTTP client (curl) and the
//! Prometheus text format read back.

use std::collections::BTreeMap;
use std::process::Command;

use super::util::scratch_dir;

/// `curl` result: exit code, HTTP status (0 when no response), body.
pub struct Curl {
    pub exit: i32,
    pub status: u16,
    pub body: String,
}

pub fn curl(url: &str, extra: &[&str]) -> Curl {
    let dir = scratch_dir("curl");
    let body = dir.path().join("body");
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-o"])
        .arg(&body)
        .args(["-w", "%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .expect("run curl");
    Curl {
        exit: out.status.code().unwrap_or(-1),
        status: String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0),
        body: std::fs::read_to_string(&body).unwrap_or_default(),
    }
}

/// The value of each sample of `name` whose labels contain every `k="v"` in `labels`, keyed by
/// the sample's full label text.
pub fn samples(text: &str, name: &str, labels: &[(&str, &str)]) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the sample of `name` without labels (`name 3`).
pub fn unlabeled_sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = samples(text, name, labels);
    assert!(
        found.len() <= 1,
        "several series of {name} match {labels:?}: {found:?}"
    );
    found.into_values().next()
}

/// `GET http://<addr><path>` (plain HTTP); panics unless strait answers 200.
pub fn get_ok(addr: &str, path: &str) -> String {
    let r = curl(&format!("http://{addr}{path}"), &[]);
    assert_eq!(
        r.status, 200,
        "GET {path}: curl exit {}, body {}",
        r.exit, r.body
    );
    r.body
}
