//! Apache Kafka's MirrorMaker 2 in dedicated mode as a child process, on the same 4.1.1 jars as
//! the brokers: `java -cp "<kafka libs>/*" org.apache.kafka.connect.mirror.MirrorMaker
//! mm2.properties`, as `harness/kafka.sh mm2` runs it. The properties file, MM2's own log
//! (`mm2.log`, from `harness/conf/mm2-log4j2.xml`) and the JVM's stdout/stderr (`stdout.log`)
//! live in a scratch directory per process.
//!
//! MM2 is killed on drop; [`Mm2Process::stop`] is the graceful way (SIGTERM, then SIGKILL after
//! a deadline).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::kafka::{kafka_libs, tail_of, JVM_PERF};
use super::util::{repo_root, scratch_dir, spawn_watchdog};

/// SIGTERM grace period before SIGKILL (MM2's shutdown hook stops every herder and its tasks).
pub const MM2_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running (or exited) MirrorMaker 2 in dedicated mode.
pub struct Mm2Process {
    scratch: tempfile::TempDir,
    properties: PathBuf,
    child: Option<Child>,
    watchdog: Option<Child>,
    started: Instant,
}

impl Mm2Process {
    /// Writes `properties` (an `mm2.properties` text) to a scratch file and starts MM2 on it.
    /// Returns at once: readiness is for the test to check on the clusters (MM2's own "started"
    /// line only means its herders started, not that any connector runs).
    pub fn start(properties: &str) -> Mm2Process {
        let scratch = scratch_dir("mm2");
        let props = scratch.path().join("mm2.properties");
        std::fs::write(&props, properties).expect("write mm2.properties");
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(scratch.path().join("stdout.log"))
            .expect("open mm2 stdout.log");
        let err = out.try_clone().expect("clone stdout.log handle");
        let child = Command::new("java")
            .args(["-Xms256m", "-Xmx1g"])
            .args(JVM_PERF)
            .arg(format!("-Dkafka.logs.dir={}", scratch.path().display()))
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                repo_root().join("harness/conf/mm2-log4j2.xml").display()
            ))
            .arg("-cp")
            .arg(format!("{}/*", kafka_libs().display()))
            .arg("org.apache.kafka.connect.mirror.MirrorMaker")
            .arg(&props)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn java (MirrorMaker)");
        // The properties path is unique and on MM2's command line: the watchdog's marker.
        let watchdog = spawn_watchdog(child.id(), &props.to_string_lossy());
        eprintln!(
            "[harness] MirrorMaker 2 started (pid {}, dir {})",
            child.id(),
            scratch.path().display()
        );
        Mm2Process {
            scratch,
            properties: props,
            child: Some(child),
            watchdog: Some(watchdog),
            started: Instant::now(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("MM2 not running").id()
    }

    /// The scratch directory (properties, logs).
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    pub fn properties_path(&self) -> &Path {
        &self.properties
    }

    /// MM2's log (`mm2.log`, INFO and above).
    pub fn log_path(&self) -> PathBuf {
        self.scratch.path().join("mm2.log")
    }

    /// The JVM's stdout and stderr (start-up failures before logging is set up end up here).
    pub fn stdout_path(&self) -> PathBuf {
        self.scratch.path().join("stdout.log")
    }

    /// Everything MM2 logged so far.
    pub fn log_contents(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log_path()).unwrap_or_default()).into_owned()
    }

    /// The last `n` lines of `stdout.log` and of `mm2.log`, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        tail_of(&self.stdout_path(), n) + &tail_of(&self.log_path(), n)
    }

    /// Time since the start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait on MM2"))
    }

    /// Panics with the log tail if MM2 has exited (it exits 2 or 3 when it cannot start).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.exited() {
            panic!(
                "MirrorMaker 2 exited unexpectedly ({status})\n{}",
                self.log_tail(60)
            );
        }
    }

    /// Graceful stop: SIGTERM, SIGKILL after [`MM2_STOP_TIMEOUT`]. Returns the exit status and
    /// whether MM2 exited by itself within the deadline (false: it had to be killed).
    pub fn stop(&mut self) -> (ExitStatus, bool) {
        let mut child = self.child.take().expect("MM2 not running");
        // SAFETY: kill(2) on our own child, not reaped yet (a zombie pid cannot be reused).
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + MM2_STOP_TIMEOUT;
        let result = loop {
            if let Some(status) = child.try_wait().expect("wait for MM2") {
                break (status, true);
            }
            if Instant::now() >= deadline {
                eprintln!(
                    "[harness] MirrorMaker 2 ignored SIGTERM for {MM2_STOP_TIMEOUT:?}; SIGKILL"
                );
                let _ = child.kill();
                break (child.wait().expect("wait for MM2"), false);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.reap_watchdog();
        result
    }

    fn reap_watchdog(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for Mm2Process {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.reap_watchdog();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail(80));
        }
    }
}
