//! Running the real `strait` binary: `strait run` as a child process with its output in a file
//! the test can search, and one-shot CLI calls (`strait validate`) with captured output.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::kafka::{tail_of, KafkaCluster};
use super::util::{scratch_dir, spawn_watchdog, wait_for};

/// The binary cargo built for this test run.
pub fn strait_bin() -> &'static str {
    env!("CARGO_BIN_EXE_strait")
}

/// `replication_policy` of a mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `{ kind: default, separator: "." }`: `T` on A becomes `A.T` on B.
    Default,
    /// `{ kind: identity }`: same name on both sides.
    Identity,
}

/// One A→B mirror in the YAML configuration format. Tests restrict `topics` to their own
/// unique prefix, so that several strait processes can share the clusters.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    pub source_bootstrap: String,
    pub target_bootstrap: String,
    pub topics: Vec<String>,
    pub topics_exclude: Vec<String>,
    pub policy: Policy,
    pub refresh_topics_interval: String,
    /// `(bytes_per_second, records_per_second)`, e.g. `("1MiB", "1000")`.
    pub throttle: Option<(String, String)>,
    pub shutdown_timeout: String,
    /// More keys of the mirror, each a `key: value` line.
    pub extra: Vec<String>,
}

impl MirrorConfig {
    /// A→B with the default policy, a 2 s refresh interval and a 30 s shutdown timeout,
    /// replicating the topics that fully match one of `topics`.
    pub fn new(a: &KafkaCluster, b: &KafkaCluster, topics: &[&str]) -> MirrorConfig {
        MirrorConfig {
            source_bootstrap: a.bootstrap(),
            target_bootstrap: b.bootstrap(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            topics_exclude: Vec::new(),
            policy: Policy::Default,
            refresh_topics_interval: "2s".to_string(),
            throttle: None,
            shutdown_timeout: "30s".to_string(),
            extra: Vec::new(),
        }
    }

    /// Adds a `key: value` line to the mirror.
    pub fn with(mut self, line: &str) -> MirrorConfig {
        self.extra.push(line.to_string());
        self
    }

    pub fn exclude(mut self, patterns: &[&str]) -> MirrorConfig {
        self.topics_exclude = patterns.iter().map(|t| t.to_string()).collect();
        self
    }

    pub fn shutdown_timeout(mut self, timeout: &str) -> MirrorConfig {
        self.shutdown_timeout = timeout.to_string();
        self
    }

    pub fn yaml(&self) -> String {
        let list = |items: &[String]| {
            let quoted: Vec<String> = items.iter().map(|i| yaml_str(i)).collect();
            format!("[{}]", quoted.join(", "))
        };
        let policy = match self.policy {
            Policy::Default => r#"{ kind: default, separator: "." }"#,
            Policy::Identity => "{ kind: identity }",
        };
        let throttle = match &self.throttle {
            Some((bytes, records)) => format!(
                "    throttle: {{ bytes_per_second: {bytes}, records_per_second: {records} }}\n"
            ),
            None => String::new(),
        };
        format!(
            "clusters:
  A: {{ bootstrap_servers: {a} }}
  B: {{ bootstrap_servers: {b} }}
mirrors:
  - source: A
    target: B
    topics: {topics}
    topics_exclude: {exclude}
    replication_policy: {policy}
    replication_factor: 1
    refresh_topics_interval: {refresh}
{throttle}{extra}shutdown_timeout: {shutdown}
",
            a = yaml_str(&self.source_bootstrap),
            b = yaml_str(&self.target_bootstrap),
            topics = list(&self.topics),
            exclude = list(&self.topics_exclude),
            refresh = self.refresh_topics_interval,
            shutdown = self.shutdown_timeout,
            extra = self
                .extra
                .iter()
                .map(|l| format!("    {l}\n"))
                .collect::<String>(),
        )
    }
}

/// A YAML single-quoted scalar (no escapes are processed inside, so regexes stay intact).
pub fn yaml_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A running (or exited) `strait run --config FILE`. Output (stdout and stderr) goes to one
/// file that survives restarts; killed on drop.
pub struct StraitProcess {
    scratch: tempfile::TempDir,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    watchdog: Option<Child>,
    started: Instant,
}

impl StraitProcess {
    /// Writes `config_yaml` to a scratch file and starts `strait run` on it.
    pub fn start(config_yaml: &str) -> StraitProcess {
        let scratch = scratch_dir("strait");
        let config = scratch.path().join("strait.yaml");
        // Many strait processes share this machine: each gets its own HTTP port unless the
        // test configures the endpoint itself (see `http_addr`).
        let config_yaml = if config_yaml.contains("\nhttp:") || config_yaml.starts_with("http:") {
            config_yaml.to_string()
        } else {
            format!("{config_yaml}http: {{ listen: \"127.0.0.1:0\" }}\n")
        };
        std::fs::write(&config, config_yaml).expect("write strait config");
        let log = scratch.path().join("strait.log");
        let mut p = StraitProcess {
            scratch,
            config,
            log,
            child: None,
            watchdog: None,
            started: Instant::now(),
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "strait is already running");
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open strait.log");
        let err = out.try_clone().expect("clone log handle");
        let child = Command::new(strait_bin())
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn strait");
        self.watchdog = Some(spawn_watchdog(child.id(), &self.config.to_string_lossy()));
        self.child = Some(child);
        self.started = Instant::now();
    }

    /// The address the HTTP endpoint listens on (from strait's log line), waiting for it.
    pub fn http_addr(&self) -> String {
        wait_for(
            Duration::from_secs(60),
            "the http endpoint's address in strait's log",
            || {
                let log = strip_ansi(&self.log_contents());
                log.lines()
                    .rev()
                    .find(|l| l.contains("http endpoint listening"))
                    .and_then(|l| l.split("address=").nth(1))
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string)
            },
        )
    }

    /// Starts strait again with the same configuration (after it exited or was killed).
    pub fn restart(&mut self) {
        if let Some(child) = self.child.as_mut() {
            assert!(
                child.try_wait().expect("try_wait").is_some(),
                "restart() while strait is still running"
            );
            self.child = None;
        }
        self.reap_watchdog();
        self.spawn();
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("strait not started").id()
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Asks for a graceful shutdown (drain, commit progress, exit 0).
    pub fn sigterm(&self) {
        // SAFETY: kill(2) on our unreaped child.
        unsafe {
            libc::kill(self.pid() as i32, libc::SIGTERM);
        }
    }

    /// SIGKILL: no chance to flush or persist anything.
    pub fn kill9(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("strait not started");
        let _ = child.kill();
        let status = child.wait().expect("wait for strait");
        self.reap_watchdog();
        status
    }

    /// Waits for the process to exit; panics (with the log tail) after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("strait not started");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.reap_watchdog();
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "strait did not exit within {timeout:?}\n{}",
                    tail_of(&self.log, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"))
    }

    /// Asserts the daemon is still running (it must not die of errors it should survive).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.exited() {
            panic!(
                "strait exited unexpectedly ({status})\n{}",
                tail_of(&self.log, 60)
            );
        }
    }

    /// Everything strait wrote to stdout and stderr so far (all runs), without ANSI colour
    /// codes (tracing's fmt layer colours field names even when writing to a file).
    pub fn log_contents(&self) -> String {
        let raw =
            String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned();
        strip_ansi(&raw)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Time since the last (re)start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn reap_watchdog(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for StraitProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.reap_watchdog();
        if std::thread::panicking() {
            eprintln!("{}", tail_of(&self.log, 80));
        }
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Outcome of a one-shot CLI call.
#[derive(Debug)]
pub struct CliOutput {
    /// `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `strait ARGS...` to completion (killed and failed after `timeout`).
pub fn strait_cli(args: &[&str], timeout: Duration) -> CliOutput {
    let scratch = scratch_dir("cli");
    let out_path = scratch.path().join("stdout");
    let err_path = scratch.path().join("stderr");
    let mut child = Command::new(strait_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("create stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("create stderr file"))
        .spawn()
        .expect("spawn strait");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`strait {}` did not finish within {timeout:?}; stderr so far:\n{}",
                args.join(" "),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CliOutput {
        code: status.code(),
        stdout: strip_ansi(&std::fs::read_to_string(&out_path).unwrap_or_default()),
        stderr: strip_ansi(&std::fs::read_to_string(&err_path).unwrap_or_default()),
    }
}

/// `strait validate --config FILE [--connect]` on `config_yaml`.
pub fn validate(config_yaml: &str, connect: bool) -> CliOutput {
    let scratch = scratch_dir("validate");
    let config = scratch.path().join("strait.yaml");
    std::fs::write(&config, config_yaml).expect("write config");
    let config = config.to_string_lossy().into_owned();
    let mut args = vec!["validate", "--config", config.as_str()];
    if connect {
        args.push("--connect");
    }
    strait_cli(&args, Duration::from_secs(90))
}
