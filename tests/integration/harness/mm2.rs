//! Apache Kafka's MirrorMaker 2 in dedicated mode: its properties ([`Mm2Properties`], the one
//! place tests write them) and the process ([`Mm2Process`]), on the same 4.1.1 jars as the
//! brokers: `java -cp "<kafka libs>/*" org.apache.kafka.connect.mirror.MirrorMaker
//! mm2.properties`, as `harness/kafka.sh mm2` runs it. The properties file, MM2's own log
//! (`mm2.log`, from `harness/conf/mm2-log4j2.xml`) and the JVM's stdout/stderr (`stdout.log`)
//! live in a scratch directory per process.
//!
//! MM2 is killed on drop; [`Mm2Process::stop`] is the graceful way (SIGTERM, then SIGKILL after
//! a deadline).

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use super::kafka::{kafka_libs_of, log_config_flag, KafkaCluster, DEFAULT_KAFKA_VERSION, JVM_PERF};
use super::process::{tail_of, ChildProcess, Launch};
use super::util::scratch_dir;

/// SIGTERM grace period before SIGKILL (MM2's shutdown hook stops every herder and its tasks).
pub const MM2_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// An `mm2.properties` text, built key by key: cluster aliases with their bootstrap servers,
/// then the other keys in the order they were set (setting a key again replaces its value where
/// it stands).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mm2Properties {
    clusters: Vec<(String, String)>,
    entries: Vec<(String, String)>,
}

impl Mm2Properties {
    pub fn new() -> Mm2Properties {
        Mm2Properties::default()
    }

    /// The one-way flow `source -> target` (each an alias and its cluster), set up as the
    /// harness reference (§4.1) runs MM2 in tests: the reverse flow off and without
    /// heartbeats, replication factor 1 for every topic MM2 creates (single-broker clusters),
    /// heartbeats, checkpoints and group offset sync every second, topics and groups refreshed
    /// every 2 s, topic config sync on, ACL sync off, one task, and the Connect worker of the
    /// target flushing offsets every second without rebalance delay. Topics and groups are for
    /// the caller to restrict ([`Mm2Properties::flow`] `topics` / `groups`).
    pub fn one_way(
        (source, a): (&str, &KafkaCluster),
        (target, b): (&str, &KafkaCluster),
    ) -> Mm2Properties {
        let (m, n) = (source, target);
        Mm2Properties::new()
            .cluster(m, &a.bootstrap())
            .cluster(n, &b.bootstrap())
            .flow(m, n, "enabled", "true")
            .flow(n, m, "enabled", "false")
            .flow(n, m, "emit.heartbeats.enabled", "false")
            .single_broker_replication()
            .set("emit.heartbeats.enabled", "true")
            .set("emit.heartbeats.interval.seconds", "1")
            .set("emit.checkpoints.enabled", "true")
            .set("emit.checkpoints.interval.seconds", "1")
            .set("sync.group.offsets.enabled", "true")
            .set("sync.group.offsets.interval.seconds", "1")
            .set("refresh.topics.interval.seconds", "2")
            .set("refresh.groups.interval.seconds", "2")
            .set("sync.topic.configs.enabled", "true")
            .set("sync.topic.acls.enabled", "false")
            .set("tasks.max", "1")
            .for_cluster(n, "offset.flush.interval.ms", "1000")
            .for_cluster(n, "scheduled.rebalance.max.delay.ms", "0")
    }

    /// Replication factor 1 for the remote topics and every internal topic MM2 creates (its
    /// defaults are 2 or 3, which a single broker cannot host).
    pub fn single_broker_replication(self) -> Mm2Properties {
        [
            "replication.factor",
            "offset-syncs.topic.replication.factor",
            "checkpoints.topic.replication.factor",
            "heartbeats.topic.replication.factor",
            "offset.storage.replication.factor",
            "status.storage.replication.factor",
            "config.storage.replication.factor",
        ]
        .into_iter()
        .fold(self, |p, key| p.set(key, "1"))
    }

    /// Adds a cluster alias (`clusters = ...`) with its `<alias>.bootstrap.servers`.
    pub fn cluster(mut self, alias: &str, bootstrap: &str) -> Mm2Properties {
        match self.clusters.iter_mut().find(|(a, _)| a == alias) {
            Some((_, b)) => *b = bootstrap.to_string(),
            None => self
                .clusters
                .push((alias.to_string(), bootstrap.to_string())),
        }
        self
    }

    /// A top-level key (applies to every flow and cluster unless overridden).
    pub fn set(mut self, key: &str, value: &str) -> Mm2Properties {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_string(),
            None => self.entries.push((key.to_string(), value.to_string())),
        }
        self
    }

    /// `<source>-><target>.<key>`, a key of one flow.
    pub fn flow(self, source: &str, target: &str, key: &str, value: &str) -> Mm2Properties {
        self.set(&format!("{source}->{target}.{key}"), value)
    }

    /// `<alias>.<key>`, a key of one cluster (client and, for targets, Connect worker settings).
    pub fn for_cluster(self, alias: &str, key: &str, value: &str) -> Mm2Properties {
        self.set(&format!("{alias}.{key}"), value)
    }

    /// The value set for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `mm2.properties` text.
    pub fn render(&self) -> String {
        let aliases: Vec<&str> = self.clusters.iter().map(|(a, _)| a.as_str()).collect();
        let mut out = format!("clusters = {}\n", aliases.join(", "));
        for (alias, bootstrap) in &self.clusters {
            out.push_str(&format!("{alias}.bootstrap.servers = {bootstrap}\n"));
        }
        for (k, v) in &self.entries {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out
    }
}

/// A running (or exited) MirrorMaker 2 in dedicated mode.
pub struct Mm2Process {
    // Declared first: dropped (killed) before the scratch directory is removed.
    process: ChildProcess,
    scratch: tempfile::TempDir,
    properties: PathBuf,
}

impl Mm2Process {
    /// Writes `properties` to a scratch file and starts MM2 on it. Returns at once: readiness
    /// is for the test to check on the clusters (MM2's own "started" line only means its
    /// herders started, not that any connector runs).
    pub fn start(properties: &Mm2Properties) -> Mm2Process {
        Mm2Process::start_version(properties, DEFAULT_KAFKA_VERSION)
    }

    /// [`Mm2Process::start`] with the MirrorMaker 2 of Kafka `version`.
    pub fn start_version(properties: &Mm2Properties, version: &str) -> Mm2Process {
        let scratch = scratch_dir("mm2");
        let props = scratch.path().join("mm2.properties");
        std::fs::write(&props, properties.render()).expect("write mm2.properties");
        let process = Launch::new("MirrorMaker 2", "java")
            .args(["-Xms256m", "-Xmx1g"])
            .args(JVM_PERF)
            .arg(format!("-Dkafka.logs.dir={}", scratch.path().display()))
            .arg(log_config_flag(version, "mm2"))
            .arg("-cp")
            .arg(format!("{}/*", kafka_libs_of(version).display()))
            .arg("org.apache.kafka.connect.mirror.MirrorMaker")
            .arg(&props)
            .spawn(&scratch.path().join("stdout.log"))
            .expect("spawn java (MirrorMaker)");
        eprintln!(
            "[harness] MirrorMaker 2 of Kafka {version} started (pid {}, dir {})",
            process.pid(),
            scratch.path().display()
        );
        Mm2Process {
            process,
            scratch,
            properties: props,
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
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
    pub fn stdout_path(&self) -> &Path {
        self.process.log_path()
    }

    /// Everything MM2 logged so far.
    pub fn log_contents(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log_path()).unwrap_or_default()).into_owned()
    }

    /// The last `n` lines of `stdout.log` and of `mm2.log`, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        tail_of(self.stdout_path(), n) + &tail_of(&self.log_path(), n)
    }

    /// Time since the start.
    pub fn uptime(&self) -> Duration {
        self.process.uptime()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.process.exited()
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
        let (exited, graceful) = self.process.stop(MM2_STOP_TIMEOUT);
        (exited.status, graceful)
    }

    /// SIGKILL: MM2 gone without committing its Connect offsets (a crash, an OOM kill).
    pub fn kill(&mut self) {
        self.process.kill();
    }
}

impl Drop for Mm2Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.process.kill();
            eprintln!("{}", self.log_tail(80));
        }
    }
}
