//! Running the real `strait` binary: `strait run` as a [`StraitProcess`] (a [`ChildProcess`]
//! with its configuration in a scratch directory and its output in a log file the test can
//! search), one-shot CLI calls with captured output ([`strait_cli`], [`StraitCli`]), and
//! `strait validate` on a YAML text ([`validate`]).

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use super::config::{HttpConfig, StraitConfig};
use super::process::{ChildProcess, Exited, Launch};
use super::util::{scratch_dir, wait_for};

/// Lines of strait's log printed when a test panics while strait runs.
const TAIL_ON_PANIC: usize = 80;

/// The binary cargo built for this test run.
pub fn strait_bin() -> &'static str {
    env!("CARGO_BIN_EXE_strait")
}

/// How to start `strait run`: the configuration plus environment for the child (failpoints,
/// `STRAIT_LOG` filters). [`StraitProcess::start`] is the short form without either.
#[derive(Debug, Clone)]
pub struct StraitRun {
    config: StraitConfig,
    env: Vec<(String, String)>,
}

impl StraitRun {
    /// Sets an environment variable of the strait process (kept across restarts).
    pub fn env(mut self, key: &str, value: &str) -> StraitRun {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// `STRAIT_LOG`: the tracing filter, e.g. `info,strait::mirror=debug`.
    pub fn log_filter(self, filter: &str) -> StraitRun {
        self.env("STRAIT_LOG", filter)
    }

    /// Writes the configuration to a scratch file and starts `strait run` on it.
    pub fn start(self) -> StraitProcess {
        let scratch = scratch_dir("strait");
        let config_path = scratch.path().join("strait.yaml");
        let config = with_default_http(&self.config);
        config.write_to(&config_path);
        let mut launch = Launch::new("strait", strait_bin())
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .tail_on_panic(TAIL_ON_PANIC);
        for (k, v) in &self.env {
            launch = launch.env(k, v);
        }
        let process = launch
            .spawn(&scratch.path().join("strait.log"))
            .expect("spawn strait");
        StraitProcess {
            process,
            config,
            config_path,
            scratch,
        }
    }
}

/// Many strait processes share this machine: each gets its own HTTP port unless the test
/// configures the endpoint itself (see [`StraitProcess::http_addr`]).
fn with_default_http(config: &StraitConfig) -> StraitConfig {
    if config.has_http() {
        config.clone()
    } else {
        config.clone().http(HttpConfig::listen("127.0.0.1:0"))
    }
}

/// A running (or exited) `strait run --config FILE`. Output (stdout and stderr) goes to one
/// file that survives restarts; killed on drop.
pub struct StraitProcess {
    // Declared first: dropped (killed) before the scratch directory is removed.
    process: ChildProcess,
    config: StraitConfig,
    config_path: PathBuf,
    scratch: tempfile::TempDir,
}

impl StraitProcess {
    /// Starts `strait run` on `config` (with an HTTP endpoint on a free port unless `config`
    /// has an `http` section).
    pub fn start(config: &StraitConfig) -> StraitProcess {
        StraitProcess::launch(config).start()
    }

    /// A [`StraitRun`] to add environment variables before starting.
    pub fn launch(config: &StraitConfig) -> StraitRun {
        StraitRun {
            config: config.clone(),
            env: Vec::new(),
        }
    }

    /// The address the HTTP endpoint listens on (from strait's log line), waiting for it.
    pub fn http_addr(&self) -> String {
        wait_for(
            Duration::from_secs(60),
            "the http endpoint's address in strait's log",
            || {
                let log = self.log_contents();
                log.lines()
                    .rev()
                    .find(|l| l.contains("http endpoint listening"))
                    .and_then(|l| l.split("address=").nth(1))
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string)
            },
        )
    }

    /// Starts strait again with the same configuration file (after it exited or was killed).
    pub fn restart(&mut self) {
        self.process.restart();
    }

    /// Replaces the configuration file; strait reads it at its next [`StraitProcess::restart`].
    pub fn set_config(&mut self, config: &StraitConfig) {
        self.config = with_default_http(config);
        self.config.write_to(&self.config_path);
    }

    /// Sets (`Some`) or removes (`None`) an environment variable for the next restart.
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.process.set_env(key, value);
    }

    /// The configuration strait runs with (including the added `http` section).
    pub fn config(&self) -> &StraitConfig {
        &self.config
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Asks for a graceful shutdown (drain, commit progress, exit 0).
    pub fn sigterm(&mut self) {
        assert!(self.process.sigterm(), "SIGTERM: strait has exited already");
    }

    /// Ctrl-C: the same graceful shutdown as SIGTERM.
    pub fn sigint(&mut self) {
        assert!(self.process.sigint(), "SIGINT: strait has exited already");
    }

    /// Sends any signal; false if strait has exited already (nothing is sent then).
    pub fn signal(&mut self, signal: i32) -> bool {
        self.process.signal(signal)
    }

    /// SIGKILL: no chance to flush or persist anything.
    pub fn kill9(&mut self) -> ExitStatus {
        self.process.kill()
    }

    /// Waits for the process to exit; panics (with the log tail) after `timeout`. The result
    /// has the exit status and the time since the last signal ([`Exited`]).
    pub fn wait_exit(&mut self, timeout: Duration) -> Exited {
        self.process.wait_exit(timeout)
    }

    /// As [`StraitProcess::wait_exit`], `None` if strait still runs after `timeout`.
    pub fn exit_within(&mut self, timeout: Duration) -> Option<Exited> {
        self.process.exit_within(timeout)
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.process.exited()
    }

    /// Asserts the daemon is still running (it must not die of errors it should survive).
    pub fn assert_running(&mut self) {
        self.process.assert_running();
    }

    /// Everything strait wrote to stdout and stderr so far (all runs), without ANSI colour
    /// codes (tracing's fmt layer colours field names even when writing to a file).
    pub fn log_contents(&self) -> String {
        strip_ansi(&self.process.log_contents())
    }

    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// Time since the last (re)start.
    pub fn uptime(&self) -> Duration {
        self.process.uptime()
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

/// A one-shot `strait ARGS...`, with environment variables if needed.
#[derive(Debug, Clone)]
pub struct StraitCli {
    launch: Launch,
}

impl StraitCli {
    pub fn new<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> StraitCli {
        let label = format!(
            "strait {}",
            args.first()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        StraitCli {
            launch: Launch::new(label.trim(), strait_bin()).args(args),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> StraitCli {
        self.launch = self.launch.env(key, value);
        self
    }

    /// Runs to completion; panics (with stderr so far) if it takes longer than `timeout`.
    pub fn run(&self, timeout: Duration) -> CliOutput {
        let out = self.launch.run(timeout).unwrap_or_else(|e| panic!("{e}"));
        CliOutput {
            code: out.status.code(),
            stdout: strip_ansi(&String::from_utf8_lossy(&out.stdout)),
            stderr: strip_ansi(&String::from_utf8_lossy(&out.stderr)),
        }
    }

    /// Starts in the background (output in a log file of its own), e.g. to kill it midway.
    pub fn spawn(&self) -> ChildProcess {
        self.launch.spawn_logged()
    }
}

/// Now, as strait's log lines begin (RFC 3339, microseconds): a bound for [`warnings_since`].
pub fn log_time_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The WARN and ERROR lines of strait's `log` written at or after `since` ([`log_time_now`]).
pub fn warnings_since<'a>(log: &'a str, since: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.get(..27).is_some_and(|at| at >= since))
        .filter(|l| l.contains(" ERROR ") || l.contains(" WARN "))
        .collect()
}

/// Runs `strait ARGS...` to completion (killed and failed after `timeout`).
pub fn strait_cli(args: &[&str], timeout: Duration) -> CliOutput {
    StraitCli::new(args).run(timeout)
}

/// `strait validate --config FILE [--connect]` on `config_yaml` (literal YAML, for tests of the
/// validator; `StraitConfig::to_yaml` for built configurations).
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
