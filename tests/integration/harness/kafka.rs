//! Real Apache Kafka 4.1.1 brokers for the tests: single-node KRaft clusters (broker and
//! controller in one JVM) on 127.0.0.1, run from the Maven jars that `harness/kafka.sh resolve`
//! caches. Same recipe as `harness/kafka.sh start`, but with free ports and a scratch directory
//! per cluster, so test runs never collide with the demo clusters or with each other.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

use super::process::{read_from, tail_of, ChildProcess, Launch};
use super::secure::{Secured, LISTENERS};
use super::util::{random_u64, remove_stale_dirs, repo_root, scratch_dir};

/// How long a broker may take to log "Kafka Server started" (3 JVMs on 2 cores can be slow).
pub(super) const START_TIMEOUT: Duration = Duration::from_secs(90);
/// SIGTERM grace period before SIGKILL, as in `harness/kafka.sh stop`.
pub(super) const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Time limit of `harness/kafka.sh resolve` (a cold cache downloads the jars with Maven).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(900);
/// Time limit of `StorageTool format` (a short-lived JVM).
const FORMAT_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts with fresh ports when a broker cannot bind (another process took a port between
/// our probe and the broker's bind).
const START_ATTEMPTS: usize = 3;
/// Port range for listeners: below Linux's ephemeral range (32768-60999), so that a listener
/// never collides with the source port of some outgoing connection.
const PORT_RANGE: std::ops::Range<u16> = 20_000..32_000;

/// The log line `KafkaRaftServer.startup()` writes once the broker is unfenced and serving.
const STARTED_LINE: &str = "Kafka Server started";

/// Same GC/JIT flags as Kafka's `kafka-run-class.sh` (also used for MirrorMaker 2).
pub const JVM_PERF: &[&str] = &[
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
];

/// The Kafka version of the harness's clusters, tools and MirrorMaker 2 unless a test picks
/// another ([`ClusterSpec::version`]).
pub const DEFAULT_KAFKA_VERSION: &str = "4.1.1";

/// The other versions of the version matrix: the last 3.x line, and the newest 4.x on Maven
/// Central (brokers and tools only: its connect-mirror jar is not served).
pub const KAFKA_3_9: &str = "3.9.1";
pub const KAFKA_NEWEST: &str = "4.4.0";

/// The directory with the jars of the default Kafka version; resolved once per test process
/// by `harness/kafka.sh resolve` (instant once the cache is filled).
pub fn kafka_libs() -> &'static Path {
    static LIBS: OnceLock<PathBuf> = OnceLock::new();
    LIBS.get_or_init(|| {
        remove_stale_dirs();
        resolve(DEFAULT_KAFKA_VERSION)
    })
}

/// The jars of Kafka `version`, resolved once per test process and version.
pub fn kafka_libs_of(version: &str) -> PathBuf {
    if version == DEFAULT_KAFKA_VERSION {
        return kafka_libs().to_path_buf();
    }
    static OTHERS: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut others = OTHERS.lock().unwrap();
    others
        .entry(version.to_string())
        .or_insert_with(|| resolve(version))
        .clone()
}

fn resolve(version: &str) -> PathBuf {
    let script = repo_root().join("harness/kafka.sh");
    let out = Launch::new("kafka.sh resolve", "bash")
        .arg(&script)
        .arg("resolve")
        .env("STRAIT_KAFKA_VERSION", version)
        .run(RESOLVE_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "`harness/kafka.sh resolve` of Kafka {version} failed ({}); Java 17 and Maven are \
         required.\n{}{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let libs = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    assert!(
        libs.is_dir(),
        "kafka.sh resolve printed no libs dir: {stdout:?}"
    );
    libs
}

pub(super) fn conf_file(name: &str) -> PathBuf {
    repo_root().join("harness/conf").join(name)
}

pub(super) fn classpath() -> String {
    format!("{}/*", kafka_libs().display())
}

/// The classpath of Kafka `version`.
pub(super) fn classpath_of(version: &str) -> String {
    format!("{}/*", kafka_libs_of(version).display())
}

/// The JVM flag that points Kafka `version`'s logging at `harness/conf/<base>-log4j2.xml`
/// (4.x, log4j 2) or `<base>-log4j.properties` (3.x, reload4j).
pub fn log_config_flag(version: &str, base: &str) -> String {
    if version.starts_with("3.") {
        format!(
            "-Dlog4j.configuration=file:{}",
            conf_file(&format!("{base}-log4j.properties")).display()
        )
    } else {
        format!(
            "-Dlog4j2.configurationFile={}",
            conf_file(&format!("{base}-log4j2.xml")).display()
        )
    }
}

/// How to start a cluster: its name and the broker settings a test may choose.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    name: String,
    auto_create_topics: bool,
    secured: bool,
    /// Broker settings over harness/conf/broker-base.properties.
    properties: Vec<(String, String)>,
    /// The Kafka version of the broker.
    version: &'static str,
}

impl ClusterSpec {
    /// A cluster like the shared ones: `auto.create.topics.enable=false`.
    pub fn new(name: &str) -> ClusterSpec {
        ClusterSpec {
            name: name.to_string(),
            auto_create_topics: false,
            secured: false,
            properties: Vec::new(),
            version: DEFAULT_KAFKA_VERSION,
        }
    }

    /// The broker's Kafka version (default [`DEFAULT_KAFKA_VERSION`]).
    pub fn version(mut self, version: &'static str) -> ClusterSpec {
        self.version = version;
        self
    }

    /// A broker setting over harness/conf/broker-base.properties (for a test of how strait
    /// meets a broker configured otherwise).
    pub fn broker_property(mut self, key: &str, value: &str) -> ClusterSpec {
        self.properties.push((key.to_string(), value.to_string()));
        self
    }

    /// Secured listeners besides the plaintext one, with the authorizer denying what no ACL
    /// allows (see `harness::secure`).
    pub fn secured(mut self) -> ClusterSpec {
        self.secured = true;
        self
    }

    /// `auto.create.topics.enable` (Kafka's default is true; harness/conf/broker-base.properties
    /// turns it off). With true, a metadata request for a missing topic creates it, so a test
    /// can check that a client creates no topic it did not mean to.
    pub fn auto_create_topics(mut self, enabled: bool) -> ClusterSpec {
        self.auto_create_topics = enabled;
        self
    }

    /// Starts the cluster and waits until it serves metadata requests.
    pub fn start(self) -> KafkaCluster {
        KafkaCluster::start_spec(self)
    }
}

/// Starts the clusters of `names` (default settings) in parallel:
/// `let [a, b] = clusters(["drill-A", "drill-B"]);`.
pub fn clusters<const N: usize>(names: [&str; N]) -> [KafkaCluster; N] {
    start_clusters(names.map(ClusterSpec::new))
}

/// Starts the clusters of `specs` in parallel (the JVMs start in a few seconds each, most of it
/// waiting: in parallel a pair is ready in the time of one).
pub fn start_clusters<const N: usize>(specs: [ClusterSpec; N]) -> [KafkaCluster; N] {
    std::thread::scope(|s| {
        specs
            .map(|spec| {
                let name = spec.name.clone();
                (name, s.spawn(move || spec.start()))
            })
            .map(|(name, started)| {
                started
                    .join()
                    .unwrap_or_else(|_| panic!("start of kafka cluster {name} panicked"))
            })
    })
}

/// Clusters `A` (source) and `B` (target) shared by the tests of one test process: started in
/// parallel on first use, killed and deleted when the test process exits. Auto-creation of
/// topics is off.
pub fn shared_clusters() -> &'static (KafkaCluster, KafkaCluster) {
    static SHARED: OnceLock<(KafkaCluster, KafkaCluster)> = OnceLock::new();
    shared(&SHARED, || {
        start_clusters([ClusterSpec::new("A"), ClusterSpec::new("B")])
    })
}

/// A second shared pair, `auto-A` and `auto-B`, with Kafka's default
/// `auto.create.topics.enable=true`: for tests that check which topics strait creates. Other
/// tests create topics there too, so such a test looks only at names it can tell apart (unique
/// aliases and topic names, or the topics that appeared during the test).
pub fn shared_auto_create_clusters() -> &'static (KafkaCluster, KafkaCluster) {
    static SHARED: OnceLock<(KafkaCluster, KafkaCluster)> = OnceLock::new();
    shared(&SHARED, || {
        start_clusters([
            ClusterSpec::new("auto-A").auto_create_topics(true),
            ClusterSpec::new("auto-B").auto_create_topics(true),
        ])
    })
}

/// A shared secured pair, `SA` and `SB` (see `harness::secure`): the tests of strait on
/// secured clusters share it (unique topic, group and alias names; ACLs for their own names).
pub fn shared_secure_clusters() -> &'static (KafkaCluster, KafkaCluster) {
    static SHARED: OnceLock<(KafkaCluster, KafkaCluster)> = OnceLock::new();
    shared(&SHARED, || {
        start_clusters([
            ClusterSpec::new("SA").secured(),
            ClusterSpec::new("SB").secured(),
        ])
    })
}

/// Every shared cluster started so far, for the exit handler.
static SHARED_STARTED: Mutex<Vec<&'static KafkaCluster>> = Mutex::new(Vec::new());

fn shared(
    cell: &'static OnceLock<(KafkaCluster, KafkaCluster)>,
    start: impl FnOnce() -> [KafkaCluster; 2],
) -> &'static (KafkaCluster, KafkaCluster) {
    let mut fresh = false;
    let pair = cell.get_or_init(|| {
        fresh = true;
        let [a, b] = start();
        (a, b)
    });
    if fresh {
        static AT_EXIT: std::sync::Once = std::sync::Once::new();
        // SAFETY: registering a plain extern "C" function without arguments.
        AT_EXIT.call_once(|| unsafe {
            libc::atexit(destroy_shared_clusters);
        });
        SHARED_STARTED.lock().unwrap().extend([&pair.0, &pair.1]);
    }
    pair
}

extern "C" fn destroy_shared_clusters() {
    // try_lock: a test thread may have died holding the lock; the watchdogs cover that case.
    if let Ok(started) = SHARED_STARTED.try_lock() {
        for cluster in started.iter() {
            cluster.destroy();
        }
    }
}

/// One single-node KRaft cluster. All methods take `&self` so shared clusters can live in a
/// `static`; the JVM handle sits behind a mutex.
pub struct KafkaCluster {
    spec: ClusterSpec,
    port: u16,
    controller_port: u16,
    dir: PathBuf,
    scratch: Mutex<Option<tempfile::TempDir>>,
    node: BrokerJvm,
    /// The secured listeners of a secured cluster.
    pub(super) secure: Option<Secured>,
}

impl KafkaCluster {
    /// Starts a fresh cluster with default settings (see [`ClusterSpec`]) and waits until it
    /// serves metadata requests.
    pub fn start(name: &str) -> KafkaCluster {
        ClusterSpec::new(name).start()
    }

    fn start_spec(spec: ClusterSpec) -> KafkaCluster {
        let name = spec.name.clone();
        let t0 = Instant::now();
        let mut last_error = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let (port, controller_port) = pick_port_pair();
            let scratch = scratch_dir(&format!("kafka-{name}"));
            let dir = scratch.path().to_path_buf();
            let secure = spec.secured.then(|| {
                let ports = pick_ports::<4>(&[port, controller_port]);
                Secured::generate(&dir, ports)
            });
            let cluster = KafkaCluster {
                secure,
                spec: spec.clone(),
                port,
                controller_port,
                node: BrokerJvm::new(
                    &format!("kafka cluster {name}"),
                    &dir,
                    [SINGLE_NODE_HEAP.as_slice(), JVM_PERF].concat(),
                )
                .of_version(spec.version),
                dir,
                scratch: Mutex::new(Some(scratch)),
            };
            cluster.write_properties();
            let scram = cluster
                .secure
                .as_ref()
                .map(Secured::format_args)
                .unwrap_or_default();
            cluster.node.format_with(&new_cluster_id(), &scram);
            match cluster.spawn_and_wait() {
                Ok(()) => {
                    eprintln!(
                        "[harness] kafka cluster {name} ready at {} in {:.1}s (dir {})",
                        cluster.bootstrap(),
                        t0.elapsed().as_secs_f64(),
                        cluster.dir.display()
                    );
                    return cluster;
                }
                Err(e) => {
                    eprintln!("[harness] kafka cluster {name}, attempt {attempt}: {e}");
                    last_error = e;
                    // Dropping `cluster` kills the JVM and removes its directory.
                }
            }
        }
        panic!("kafka cluster {name} did not start after {START_ATTEMPTS} attempts: {last_error}");
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Whether the broker creates topics on metadata requests (see
    /// [`ClusterSpec::auto_create_topics`]).
    pub fn auto_create_topics(&self) -> bool {
        self.spec.auto_create_topics
    }

    /// `127.0.0.1:<client port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The broker's own log (`logs/server.log`).
    pub fn server_log(&self) -> PathBuf {
        self.node.server_log()
    }

    /// SIGTERM (controlled shutdown), SIGKILL after 30 s.
    pub fn stop(&self) {
        self.node.stop();
    }

    /// SIGKILL, no shutdown at all.
    pub fn kill(&self) {
        self.node.kill();
    }

    /// Stops the broker cleanly and starts it again on the same ports and data directory.
    pub fn restart(&self) {
        self.stop();
        self.spawn_and_wait()
            .unwrap_or_else(|e| panic!("restart of kafka cluster {}: {e}", self.name()));
    }

    /// Kills the JVM and deletes the directory (used at process exit for shared clusters,
    /// which live in a `static` and are never dropped; an owned cluster does this on drop).
    pub fn destroy(&self) {
        self.kill();
        if let Ok(mut scratch) = self.scratch.try_lock() {
            scratch.take();
        }
    }

    fn write_properties(&self) {
        // The shared settings are harness/conf/broker-base.properties, as for harness/kafka.sh,
        // except auto-creation, which is the spec's choice.
        let mut listeners = vec![format!("PLAINTEXT://127.0.0.1:{}", self.port)];
        let mut protocols = vec![
            "CONTROLLER:PLAINTEXT".to_string(),
            "PLAINTEXT:PLAINTEXT".into(),
        ];
        if let Some(secure) = &self.secure {
            for ((name, protocol), port) in LISTENERS.iter().zip(secure.ports) {
                listeners.push(format!("{name}://127.0.0.1:{port}"));
                protocols.push(format!("{name}:{protocol}"));
            }
        }
        let mut overrides = vec![
            (
                "controller.quorum.voters",
                format!("1@127.0.0.1:{}", self.controller_port),
            ),
            (
                "listeners",
                format!(
                    "{},CONTROLLER://127.0.0.1:{}",
                    listeners.join(","),
                    self.controller_port
                ),
            ),
            ("advertised.listeners", listeners.join(",")),
            ("listener.security.protocol.map", protocols.join(",")),
            ("log.dirs", self.dir.join("data").display().to_string()),
            (
                "auto.create.topics.enable",
                self.spec.auto_create_topics.to_string(),
            ),
        ];
        if let Some(secure) = &self.secure {
            overrides.extend(secure.properties());
        }
        for (key, value) in &self.spec.properties {
            overrides.push((key.as_str(), value.clone()));
        }
        let props = broker_properties(&overrides);
        self.node.write_properties(&props);
    }

    fn spawn_and_wait(&self) -> Result<(), String> {
        let log_offset = self.node.spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        self.node.wait_started(log_offset, deadline)?;
        self.probe_metadata(deadline)
    }

    /// An rdkafka metadata round trip: the broker answers and advertises the expected address.
    fn probe_metadata(&self, deadline: Instant) -> Result<(), String> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .map_err(|e| format!("metadata probe client: {e}"))?;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match consumer.fetch_metadata(None, remaining.min(Duration::from_secs(5))) {
                Ok(md)
                    if md
                        .brokers()
                        .iter()
                        .any(|b| b.port() == i32::from(self.port)) =>
                {
                    return Ok(())
                }
                Ok(_) | Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Ok(md) => {
                    return Err(format!(
                        "metadata probe: unexpected brokers {:?}",
                        md.brokers().len()
                    ))
                }
                Err(e) => return Err(format!("metadata probe: {e}")),
            }
        }
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Heap of a single-node cluster's JVM (its other flags are [`JVM_PERF`]).
const SINGLE_NODE_HEAP: [&str; 2] = ["-Xms256m", "-Xmx768m"];

/// harness/conf/broker-base.properties with the keys of `overrides` replaced (or added): every
/// base line that sets one of them is dropped, and the overrides are appended, followed by the
/// authorizer settings every test cluster uses.
pub(super) fn broker_properties(overrides: &[(&str, String)]) -> String {
    const BASE: &str = include_str!("../../../harness/conf/broker-base.properties");
    for (key, _) in overrides {
        assert!(
            !key.contains('='),
            "override key {key:?} must be a bare property name"
        );
    }
    assert!(
        BASE.lines().any(|l| l == "auto.create.topics.enable=false"),
        "broker-base.properties no longer sets auto.create.topics.enable=false: adapt ClusterSpec"
    );
    let mut props: String = BASE
        .lines()
        .filter(|l| {
            let key = l.split_once('=').map(|(k, _)| k.trim());
            !overrides.iter().any(|(k, _)| Some(*k) == key)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    for (k, v) in overrides {
        props.push_str(&format!("{k}={v}\n"));
    }
    props.push_str(
        "# The KRaft authorizer, so that ACL sync meets real ACLs. Every client of the tests connects
# without authentication (User:ANONYMOUS) and is a super user, so nothing else is restricted.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
",
    );
    props
}

/// One Kafka JVM (a KRaft node, broker and controller) and its directory: `server.properties`,
/// `data/`, `logs/server.log`, `stdout.log`. Single-node clusters have one, multi-node clusters
/// (`harness::multi`) one per node. All methods take `&self`; the process sits behind a mutex.
pub(super) struct BrokerJvm {
    label: String,
    dir: PathBuf,
    jvm_flags: Vec<&'static str>,
    /// The Kafka version it runs.
    version: &'static str,
    jvm: Mutex<Option<ChildProcess>>,
}

impl BrokerJvm {
    /// A node in `dir` (created by the caller), not started, run with `jvm_flags` (heap, GC,
    /// JIT). `label` names it in messages.
    pub(super) fn new(label: &str, dir: &Path, jvm_flags: Vec<&'static str>) -> BrokerJvm {
        BrokerJvm {
            label: label.to_string(),
            dir: dir.to_path_buf(),
            jvm_flags,
            version: DEFAULT_KAFKA_VERSION,
            jvm: Mutex::new(None),
        }
    }

    /// The node runs Kafka `version` instead of [`DEFAULT_KAFKA_VERSION`].
    pub(super) fn of_version(mut self, version: &'static str) -> BrokerJvm {
        self.version = version;
        self
    }

    pub(super) fn label(&self) -> &str {
        &self.label
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node's own log (`logs/server.log`, appended across restarts).
    pub(super) fn server_log(&self) -> PathBuf {
        self.dir.join("logs/server.log")
    }

    /// Writes `server.properties` (and creates `logs/`).
    pub(super) fn write_properties(&self, props: &str) {
        std::fs::create_dir_all(self.dir.join("logs")).expect("create logs dir");
        std::fs::write(self.dir.join("server.properties"), props).expect("write server.properties");
    }

    /// `kafka.tools.StorageTool format` with `cluster_id` (writes meta.properties and the
    /// bootstrap checkpoint into `data/`).
    pub(super) fn format(&self, cluster_id: &str) {
        self.format_with(cluster_id, &[]);
    }

    /// [`BrokerJvm::format`] with more `StorageTool format` arguments (`--add-scram ...`).
    pub(super) fn format_with(&self, cluster_id: &str, extra: &[String]) {
        let out = Launch::new("StorageTool", "java")
            .args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg(log_config_flag(self.version, "tools"))
            .arg("-cp")
            .arg(classpath_of(self.version))
            .args(["kafka.tools.StorageTool", "format", "--config"])
            .arg(self.dir.join("server.properties"))
            .arg("--cluster-id")
            .arg(cluster_id)
            .args(extra)
            .run(FORMAT_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "StorageTool format of {} failed: {}{}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn launch(&self) -> Launch {
        Launch::new(&self.label, "java")
            .args(&self.jvm_flags)
            .arg(format!(
                "-Dkafka.logs.dir={}",
                self.dir.join("logs").display()
            ))
            .arg(log_config_flag(self.version, "broker"))
            .arg("-cp")
            .arg(classpath_of(self.version))
            .arg("kafka.Kafka")
            .arg(self.dir.join("server.properties"))
    }

    /// Starts the JVM; returns the length of `server.log` before it, for
    /// [`BrokerJvm::wait_started`]. Panics if the node runs already.
    pub(super) fn spawn(&self) -> Result<u64, String> {
        let mut guard = self.jvm.lock().unwrap();
        assert!(guard.is_none(), "{} is running already", self.label);
        // server.log appends across restarts: only look at what this start writes.
        let log_offset = std::fs::metadata(self.server_log())
            .map(|m| m.len())
            .unwrap_or(0);
        let jvm = self
            .launch()
            .spawn(&self.dir.join("stdout.log"))
            .map_err(|e| format!("cannot spawn java: {e}"))?;
        *guard = Some(jvm);
        Ok(log_offset)
    }

    /// Waits until the start of [`BrokerJvm::spawn`] logged "Kafka Server started" (the broker
    /// is unfenced and serving). On failure the JVM is gone (exited, or killed at the deadline).
    pub(super) fn wait_started(&self, log_offset: u64, deadline: Instant) -> Result<(), String> {
        let server_log = self.server_log();
        loop {
            {
                let mut guard = self.jvm.lock().unwrap();
                let Some(jvm) = guard.as_mut() else {
                    return Err(format!("{} was stopped while starting", self.label));
                };
                if let Some(status) = jvm.exited() {
                    let tail =
                        tail_of(&self.dir.join("stdout.log"), 20) + &tail_of(&server_log, 20);
                    *guard = None;
                    return Err(format!(
                        "{} exited ({status}) before it was ready:\n{tail}",
                        self.label
                    ));
                }
            }
            if read_from(&server_log, log_offset).contains(STARTED_LINE) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "no '{STARTED_LINE}' in {} before the deadline; its last lines:\n{}",
                    server_log.display(),
                    tail_of(&server_log, 15)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the JVM was started and has not exited.
    pub(super) fn is_running(&self) -> bool {
        let mut guard = self.jvm.lock().unwrap();
        let exited = guard.as_mut().map(|jvm| jvm.exited().is_some());
        if exited == Some(true) {
            *guard = None;
        }
        exited == Some(false)
    }

    /// SIGTERM (controlled shutdown), SIGKILL after 30 s.
    pub(super) fn stop(&self) {
        let jvm = self.jvm.lock().unwrap().take();
        if let Some(mut jvm) = jvm {
            jvm.stop(STOP_TIMEOUT);
        }
    }

    /// SIGTERM without waiting; [`BrokerJvm::stop`] then waits for the exit. For stopping
    /// several nodes at once.
    pub(super) fn sigterm(&self) {
        if let Some(jvm) = self.jvm.lock().unwrap().as_mut() {
            jvm.sigterm();
        }
    }

    /// SIGKILL, no shutdown at all.
    pub(super) fn kill(&self) {
        // try_lock: this also runs from the atexit handler, where a test thread may have died
        // holding the lock; the watchdog covers that case.
        if let Ok(mut guard) = self.jvm.try_lock() {
            if let Some(mut jvm) = guard.take() {
                jvm.kill();
            }
        }
    }
}

/// Two consecutive free ports (client, controller) in [`PORT_RANGE`].
fn pick_port_pair() -> (u16, u16) {
    let span = u64::from(PORT_RANGE.end - PORT_RANGE.start - 1);
    for _ in 0..200 {
        let port = PORT_RANGE.start + (random_u64() % span) as u16;
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 1) {
            return (port, port + 1);
        }
    }
    panic!("no two consecutive free ports in {PORT_RANGE:?} on 127.0.0.1");
}

/// `N` free ports in [`PORT_RANGE`], none of them in `taken`.
fn pick_ports<const N: usize>(taken: &[u16]) -> [u16; N] {
    let span = u64::from(PORT_RANGE.end - PORT_RANGE.start);
    let mut out = [0u16; N];
    let mut found = 0;
    for _ in 0..1000 {
        let port = PORT_RANGE.start + (random_u64() % span) as u16;
        if taken.contains(&port) || out[..found].contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            out[found] = port;
            found += 1;
            if found == N {
                return out;
            }
        }
    }
    panic!("no {N} free ports in {PORT_RANGE:?} on 127.0.0.1");
}

/// A Kafka `Uuid` string: URL-safe base64 of 16 random bytes, no padding, not starting with
/// '-' (Kafka's own generator avoids that too, it would read as a command-line flag).
pub(super) fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    loop {
        let bytes = super::util::random_bytes::<16>();
        let mut bits = 0u32;
        let mut nbits = 0;
        let mut id = String::with_capacity(22);
        for b in bytes {
            bits = (bits << 8) | u32::from(b);
            nbits += 8;
            while nbits >= 6 {
                nbits -= 6;
                id.push(ALPHABET[((bits >> nbits) & 63) as usize] as char);
            }
        }
        if nbits > 0 {
            id.push(ALPHABET[((bits << (6 - nbits)) & 63) as usize] as char);
        }
        if !id.starts_with('-') {
            return id;
        }
    }
}
