//! A real Prometheus server (the `prometheus` binary of Debian's package, from PATH or
//! `$PROMETHEUS`) scraping a running strait with alert rules: started without systemd, with
//! its own configuration and TSDB in a scratch directory, on a free port, with 1 s scrape and
//! rule evaluation intervals; read back through its HTTP API.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::http::curl;
use super::process::{ChildProcess, Launch};
use super::util::{scratch_dir, wait_for};

/// The `prometheus` binary: `$PROMETHEUS`, or `prometheus` on PATH.
pub fn prometheus_bin() -> PathBuf {
    std::env::var_os("PROMETHEUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("prometheus"))
}

/// A port nobody listens on right now on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running Prometheus server; killed on drop.
pub struct PrometheusServer {
    // Declared first: killed before its directory is removed.
    process: ChildProcess,
    addr: String,
    _dir: tempfile::TempDir,
}

impl PrometheusServer {
    /// Starts Prometheus scraping `target` (`host:port`, plain HTTP, path `/metrics`) as job
    /// `strait` every second, evaluating `rules` (the text of a rule file) every second, and
    /// waits until its API answers.
    pub fn start(target: &str, rules: &str) -> PrometheusServer {
        let dir = scratch_dir("prometheus");
        let rules_path = dir.path().join("rules.yml");
        std::fs::write(&rules_path, rules).expect("write rules");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: strait\n    static_configs:\n      - targets: ['{target}']\n",
            rules_path.display()
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let addr = format!("127.0.0.1:{}", free_port());
        let process = Launch::new("prometheus", prometheus_bin())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .tail_on_panic(40)
            .spawn_logged();
        let server = PrometheusServer {
            process,
            addr,
            _dir: dir,
        };
        wait_for(Duration::from_secs(60), "prometheus to be ready", || {
            (curl(&server.url("/-/ready"), &[]).status == 200).then_some(())
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET /api/v1/<path>`'s `data`, panicking unless Prometheus answers with success.
    pub fn api(&self, path: &str) -> Value {
        let r = curl(&self.url(&format!("/api/v1/{path}")), &[]);
        assert_eq!(r.status, 200, "GET /api/v1/{path}: {}", r.body);
        let v: Value = serde_json::from_str(&r.body).expect("API JSON");
        assert_eq!(v["status"], "success", "{v}");
        v["data"].clone()
    }

    /// The alerts named `name` in `state` (`pending` or `firing`), each as its label set.
    pub fn alerts(&self, name: &str, state: &str) -> Vec<Value> {
        self.api("alerts")["alerts"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|a| a["labels"]["alertname"] == name && a["state"] == state)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the scrape target is up (Prometheus' `up` series for job `strait` is 1).
    pub fn target_up(&self) -> bool {
        self.api("query?query=up%7Bjob%3D%22strait%22%7D")["result"]
            .as_array()
            .is_some_and(|r| r.iter().any(|s| s["value"][1] == "1"))
    }

    pub fn log_contents(&self) -> String {
        self.process.log_contents()
    }
}
