//! Three-node Apache Kafka 4.1.1 KRaft clusters for the fault tests, each node a broker and a
//! controller in one JVM (a quorum of three voters survives the loss of one), with replication
//! factor 3 and `min.insync.replicas=2` for every topic (the offsets and transaction-state
//! topics too), and a [`Toxiproxy`] in front of every node.
//!
//! Every node has two client listeners: `PLAINTEXT` (advertised at itself) for inter-broker
//! traffic and the harness's own clients ([`MultiCluster::bootstrap`]), and `EXTERNAL`
//! (advertised at the node's proxy port) for strait ([`MultiCluster::proxied_bootstrap`]). A
//! client gets the addresses of the listener it connected to in metadata, so a client that
//! bootstraps through the proxies stays behind them, and [`MultiCluster::cut`] or
//! [`MultiCluster::add_latency`] touch only that client.
//!
//! Per-node control ([`MultiCluster::kill`], [`MultiCluster::stop`], [`MultiCluster::restart`]),
//! whole-cluster control ([`MultiCluster::stop_all`], [`MultiCluster::start_all`]),
//! [`MultiCluster::rolling_restart`], and [`MultiCluster::leader_of`] to find the node that leads
//! a partition. [`fault_clusters`] hands out a pair of such clusters to one fault test at a
//! time.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::metadata::Metadata;
use rdkafka::ClientConfig;

use super::kafka::{broker_properties, new_cluster_id, BrokerJvm};
use super::toxiproxy::{free_port, Toxiproxy};
use super::util::{scratch_dir, wait_for};

/// Nodes per cluster.
pub const NODES: i32 = 3;
/// JVM flags of each node: six of them (two clusters) run next to strait and the other tests
/// on two cores, so a small heap, the serial collector and C1 only (a JVM starts in half the
/// CPU time; the tests' few thousand records per second need no C2).
const NODE_JVM: &[&str] = &[
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
];
/// How long a node may take to log "Kafka Server started": twice a single-node cluster's limit,
/// as a node restarted in a running cluster first catches up with the metadata log, and the
/// six JVMs share two cores with the rest of the test run.
const START_TIMEOUT: Duration = Duration::from_secs(180);
/// Attempts with fresh ports when a cluster cannot start (a port was taken meanwhile).
const START_ATTEMPTS: usize = 3;
/// How long the cluster may take to show a restarted node as a live broker and to have every
/// partition fully replicated again.
const RECOVER_TIMEOUT: Duration = Duration::from_secs(120);
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The latency toxic's name on every proxy.
const LATENCY_TOXIC: &str = "latency";

/// One node: its ports and its JVM.
struct Node {
    id: i32,
    /// `PLAINTEXT`: inter-broker traffic and the harness's clients.
    port: u16,
    /// `EXTERNAL`: what the node's proxy forwards to.
    external_port: u16,
    controller_port: u16,
    /// Where the node's proxy listens (the `EXTERNAL` listener's advertised port).
    proxy_port: u16,
    jvm: BrokerJvm,
}

impl Node {
    fn proxy_name(&self, cluster: &str) -> String {
        format!("{cluster}-{}", self.id)
    }
}

/// A cluster of [`NODES`] combined broker/controller nodes on 127.0.0.1 behind a toxiproxy. All
/// methods take `&self`, so a pair can be shared in a `static`.
pub struct MultiCluster {
    name: String,
    nodes: Vec<Node>,
    // Declared after the nodes: the JVMs go first, then the proxies, then the directory.
    toxiproxy: Toxiproxy,
    scratch: Mutex<Option<tempfile::TempDir>>,
}

impl MultiCluster {
    /// Starts a fresh cluster (toxiproxy first, then every node at once) and waits until
    /// every node is a live broker.
    pub fn start(name: &str) -> MultiCluster {
        let t0 = Instant::now();
        let mut last_error = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let cluster = MultiCluster::prepare(name);
            match cluster.start_nodes() {
                Ok(()) => {
                    eprintln!(
                        "[harness] {NODES}-node kafka cluster {name} ready at {} (proxied {}) in \
                         {:.1}s",
                        cluster.bootstrap(),
                        cluster.proxied_bootstrap(),
                        t0.elapsed().as_secs_f64()
                    );
                    return cluster;
                }
                Err(e) => {
                    eprintln!("[harness] kafka cluster {name}, attempt {attempt}: {e}");
                    last_error = e;
                    cluster.destroy();
                }
            }
        }
        panic!("kafka cluster {name} did not start after {START_ATTEMPTS} attempts: {last_error}");
    }

    /// Ports, toxiproxy with one proxy per node, properties, formatted storage: everything but
    /// the JVMs.
    fn prepare(name: &str) -> MultiCluster {
        let scratch = scratch_dir(&format!("kafka-{name}"));
        let toxiproxy = Toxiproxy::start(name);
        let mut taken = BTreeSet::new();
        let mut next_port = || loop {
            let p = free_port();
            if taken.insert(p) {
                return p;
            }
        };
        let mut nodes = Vec::new();
        for id in 1..=NODES {
            let dir = scratch.path().join(format!("node-{id}"));
            std::fs::create_dir_all(&dir).expect("create node dir");
            let (port, external_port, controller_port) = (next_port(), next_port(), next_port());
            // The proxy binds its port at creation: a port taken meanwhile is replaced here,
            // before any broker advertises it.
            let proxy_port = (0..5)
                .find_map(|_| {
                    let p = next_port();
                    let upstream = format!("127.0.0.1:{external_port}");
                    match toxiproxy.create_proxy(&format!("{name}-{id}"), p, &upstream) {
                        Ok(()) => Some(p),
                        Err(e) => {
                            eprintln!("[harness] {name}: {e}; trying another port");
                            None
                        }
                    }
                })
                .unwrap_or_else(|| panic!("{name}: no proxy for node {id} after 5 ports"));
            nodes.push(Node {
                id,
                port,
                external_port,
                controller_port,
                proxy_port,
                jvm: BrokerJvm::new(
                    &format!("kafka cluster {name} node {id}"),
                    &dir,
                    NODE_JVM.to_vec(),
                ),
            });
        }
        let cluster = MultiCluster {
            name: name.to_string(),
            nodes,
            toxiproxy,
            scratch: Mutex::new(Some(scratch)),
        };
        let cluster_id = new_cluster_id();
        for node in &cluster.nodes {
            node.jvm.write_properties(&cluster.properties(node));
            node.jvm.format(&cluster_id);
        }
        cluster
    }

    fn properties(&self, node: &Node) -> String {
        let voters: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect();
        let rf = NODES.to_string();
        let min_isr = "2".to_string();
        broker_properties(&[
            ("node.id", node.id.to_string()),
            ("controller.quorum.voters", voters.join(",")),
            (
                "listeners",
                format!(
                    "PLAINTEXT://127.0.0.1:{},EXTERNAL://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                    node.port, node.external_port, node.controller_port
                ),
            ),
            (
                "advertised.listeners",
                format!(
                    "PLAINTEXT://127.0.0.1:{},EXTERNAL://127.0.0.1:{}",
                    node.port, node.proxy_port
                ),
            ),
            (
                "listener.security.protocol.map",
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT".to_string(),
            ),
            (
                "log.dirs",
                node.jvm.dir().join("data").display().to_string(),
            ),
            ("default.replication.factor", rf.clone()),
            ("min.insync.replicas", min_isr.clone()),
            ("offsets.topic.replication.factor", rf.clone()),
            ("offsets.topic.num.partitions", "3".to_string()),
            ("transaction.state.log.replication.factor", rf.clone()),
            ("transaction.state.log.min.isr", min_isr.clone()),
            ("share.coordinator.state.topic.replication.factor", rf),
            ("share.coordinator.state.topic.min.isr", min_isr),
        ])
    }

    /// Spawns every node that is not running, then waits for all of them (a node alone has no
    /// quorum: they must start together).
    fn start_nodes(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut started = Vec::new();
        for node in &self.nodes {
            if !node.jvm.is_running() {
                started.push((node, node.jvm.spawn()?));
            }
        }
        for (node, log_offset) in started {
            node.jvm.wait_started(log_offset, deadline)?;
        }
        self.wait_brokers(&self.node_ids(), deadline)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node ids, `1..=NODES`.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    fn node(&self, id: i32) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("{} has no node {id}", self.name))
    }

    /// Every node's direct (`PLAINTEXT`) address: for the harness's clients.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every node's proxy address: for strait.
    pub fn proxied_bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.proxy_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The scratch directory (one `node-N` sub-directory per node).
    pub fn dir(&self) -> std::path::PathBuf {
        self.nodes[0]
            .jvm
            .dir()
            .parent()
            .expect("node dir has a parent")
            .to_path_buf()
    }

    /// `logs/server.log` of node `id`.
    pub fn server_log(&self, id: i32) -> std::path::PathBuf {
        self.node(id).jvm.server_log()
    }

    pub fn toxiproxy_log(&self) -> &Path {
        self.toxiproxy.log_path()
    }

    /// Whether node `id`'s JVM runs.
    pub fn is_running(&self, id: i32) -> bool {
        self.node(id).jvm.is_running()
    }

    /// SIGKILL of node `id`: no controlled shutdown, no flush.
    pub fn kill(&self, id: i32) {
        eprintln!("[harness] {}: SIGKILL of node {id}", self.name);
        self.node(id).jvm.kill();
    }

    /// Controlled shutdown of node `id` (SIGTERM, SIGKILL after 30 s).
    pub fn stop(&self, id: i32) {
        let t0 = Instant::now();
        self.node(id).jvm.stop();
        eprintln!(
            "[harness] {}: node {id} stopped in {:.1}s",
            self.name,
            t0.elapsed().as_secs_f64()
        );
    }

    /// Starts node `id` (stopped or killed) on its ports and data, and waits until the cluster
    /// shows it as a live broker.
    pub fn start_node(&self, id: i32) {
        let t0 = Instant::now();
        let node = self.node(id);
        let deadline = Instant::now() + START_TIMEOUT;
        node.jvm
            .spawn()
            .and_then(|offset| node.jvm.wait_started(offset, deadline))
            .and_then(|()| self.wait_brokers(&[id], deadline))
            .unwrap_or_else(|e| panic!("start of {} node {id}: {e}", self.name));
        eprintln!(
            "[harness] {}: node {id} started in {:.1}s",
            self.name,
            t0.elapsed().as_secs_f64()
        );
    }

    /// Stops node `id` cleanly and starts it again.
    pub fn restart(&self, id: i32) {
        self.stop(id);
        self.start_node(id);
    }

    /// Restarts one node after the other; before the next, waits until the restarted node is
    /// a live broker again and no partition is under-replicated.
    pub fn rolling_restart(&self) {
        let t0 = Instant::now();
        for id in self.node_ids() {
            self.restart(id);
            self.wait_fully_replicated(RECOVER_TIMEOUT);
        }
        eprintln!(
            "[harness] {}: rolling restart done in {:.1}s",
            self.name,
            t0.elapsed().as_secs_f64()
        );
    }

    /// The whole cluster down: SIGTERM to every node at once, then waits until all exited.
    pub fn stop_all(&self) {
        let t0 = Instant::now();
        for node in &self.nodes {
            node.jvm.sigterm();
        }
        std::thread::scope(|s| {
            for node in &self.nodes {
                s.spawn(|| node.jvm.stop());
            }
        });
        eprintln!(
            "[harness] {}: all nodes stopped in {:.1}s",
            self.name,
            t0.elapsed().as_secs_f64()
        );
    }

    /// Starts every node that is not running (all at once) and waits until every node is a
    /// live broker.
    pub fn start_all(&self) {
        let t0 = Instant::now();
        self.start_nodes()
            .unwrap_or_else(|e| panic!("start of {}: {e}", self.name));
        eprintln!(
            "[harness] {}: all nodes started in {:.1}s",
            self.name,
            t0.elapsed().as_secs_f64()
        );
    }

    /// Full metadata through the direct listeners.
    pub fn metadata(&self) -> Result<Metadata, String> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(|e| format!("metadata client: {e}"))?;
        client
            .fetch_metadata(None, METADATA_TIMEOUT)
            .map_err(|e| format!("metadata of {}: {e}", self.name))
    }

    /// Full metadata through the proxies (what strait sees), with a deadline of `timeout`.
    pub fn proxied_metadata(&self, timeout: Duration) -> Result<Metadata, String> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.proxied_bootstrap())
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(|e| format!("metadata client: {e}"))?;
        client
            .fetch_metadata(None, timeout)
            .map_err(|e| format!("metadata of {} through its proxies: {e}", self.name))
    }

    /// The time of a metadata round trip through the proxies on an established connection
    /// (the first request also connects; the second is timed).
    pub fn proxied_round_trip(&self) -> Duration {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.proxied_bootstrap())
            .set("allow.auto.create.topics", "false")
            .create()
            .expect("metadata client");
        client
            .fetch_metadata(None, METADATA_TIMEOUT)
            .unwrap_or_else(|e| panic!("metadata of {} through its proxies: {e}", self.name));
        let t0 = Instant::now();
        client
            .fetch_metadata(None, METADATA_TIMEOUT)
            .unwrap_or_else(|e| panic!("metadata of {} through its proxies: {e}", self.name));
        t0.elapsed()
    }

    /// The id of the node that leads `topic`'s `partition`, `None` without a leader.
    pub fn leader_of(&self, topic: &str, partition: i32) -> Option<i32> {
        let md = self.metadata().unwrap_or_else(|e| panic!("{e}"));
        let t = md.topics().iter().find(|t| t.name() == topic)?;
        let p = t.partitions().iter().find(|p| p.id() == partition)?;
        (p.leader() >= 0).then_some(p.leader())
    }

    /// Partitions (`topic-partition`) without a leader or with fewer in-sync replicas than
    /// replicas, internal topics included.
    pub fn under_replicated(&self) -> Result<Vec<String>, String> {
        let md = self.metadata()?;
        Ok(md
            .topics()
            .iter()
            .flat_map(|t| {
                t.partitions()
                    .iter()
                    .filter(|p| p.leader() < 0 || p.isr().len() < p.replicas().len())
                    .map(move |p| format!("{}-{}", t.name(), p.id()))
            })
            .collect())
    }

    /// Waits until no partition is under-replicated (see [`MultiCluster::under_replicated`]).
    pub fn wait_fully_replicated(&self, timeout: Duration) {
        let mut last: Vec<String>;
        let took = Instant::now();
        let deadline = Instant::now() + timeout;
        loop {
            match self.under_replicated() {
                Ok(urp) if urp.is_empty() => break,
                Ok(urp) => last = urp,
                Err(e) => last = vec![e],
            }
            assert!(
                Instant::now() < deadline,
                "{}: partitions still under-replicated after {timeout:?}: {last:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let took = took.elapsed();
        if took > Duration::from_secs(1) {
            eprintln!(
                "[harness] {}: fully replicated again after {:.1}s",
                self.name,
                took.as_secs_f64()
            );
        }
    }

    /// Waits until the metadata lists every node of `ids` as a broker.
    fn wait_brokers(&self, ids: &[i32], deadline: Instant) -> Result<(), String> {
        let mut last: String;
        loop {
            match self.metadata() {
                Ok(md) => {
                    let live: BTreeSet<i32> = md.brokers().iter().map(|b| b.id()).collect();
                    if ids.iter().all(|id| live.contains(id)) {
                        return Ok(());
                    }
                    last = format!("live brokers {live:?}");
                }
                Err(e) => last = e,
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "nodes {ids:?} not all live brokers before the deadline ({last})"
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Creates `topic` with `partitions` partitions, replication factor [`NODES`], and waits
    /// until every partition has a leader and all its replicas in sync.
    pub fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("admin client");
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(NODES));
        let options = AdminOptions::new()
            .request_timeout(Some(ADMIN_TIMEOUT))
            .operation_timeout(Some(ADMIN_TIMEOUT));
        let results = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(admin.create_topics([&new], &options))
            .unwrap_or_else(|e| panic!("create topic {topic} on {}: {e}", self.name));
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("create topic {t} on {}: {e}", self.name));
        }
        wait_for(
            ADMIN_TIMEOUT,
            &format!(
                "{topic} on {} with {partitions} fully replicated partitions",
                self.name
            ),
            || {
                let md = self.metadata().ok()?;
                let t = md.topics().iter().find(|t| t.name() == topic)?;
                let ready = t.partitions().len() == partitions as usize
                    && t.partitions()
                        .iter()
                        .all(|p| p.leader() >= 0 && p.isr().len() == NODES as usize);
                ready.then_some(())
            },
        );
    }

    /// Cuts the network between the proxied clients and every node: each proxy closes its
    /// connections and refuses new ones until [`MultiCluster::heal`].
    pub fn cut(&self) {
        eprintln!(
            "[harness] {}: network to the proxied clients cut",
            self.name
        );
        for node in &self.nodes {
            self.toxiproxy
                .set_enabled(&node.proxy_name(&self.name), false);
        }
    }

    /// Restores the network cut by [`MultiCluster::cut`].
    pub fn heal(&self) {
        for node in &self.nodes {
            self.toxiproxy
                .set_enabled(&node.proxy_name(&self.name), true);
        }
        eprintln!(
            "[harness] {}: network to the proxied clients restored",
            self.name
        );
    }

    /// Adds `latency_ms` to every answer of every node to the proxied clients (a `latency`
    /// toxic on each proxy's downstream: each request/response round trip takes that much
    /// longer).
    pub fn add_latency(&self, latency_ms: u64) {
        for node in &self.nodes {
            self.toxiproxy.add_latency(
                &node.proxy_name(&self.name),
                LATENCY_TOXIC,
                "downstream",
                latency_ms,
            );
        }
        eprintln!(
            "[harness] {}: {latency_ms} ms latency added for the proxied clients",
            self.name
        );
    }

    /// Removes the latency of [`MultiCluster::add_latency`].
    pub fn remove_latency(&self) {
        for node in &self.nodes {
            self.toxiproxy
                .remove_toxic(&node.proxy_name(&self.name), LATENCY_TOXIC);
        }
        eprintln!("[harness] {}: latency removed", self.name);
    }

    /// Undoes whatever an earlier (failed) test left: starts stopped nodes, enables the
    /// proxies, removes toxics, waits until every partition is fully replicated.
    pub fn ensure_healthy(&self) {
        if self.nodes.iter().any(|n| !n.jvm.is_running()) {
            eprintln!(
                "[harness] {}: starting the nodes an earlier test left down",
                self.name
            );
            self.start_all();
        }
        for node in &self.nodes {
            let proxy = node.proxy_name(&self.name);
            self.toxiproxy.set_enabled(&proxy, true);
            for toxic in self.toxiproxy.toxics(&proxy) {
                self.toxiproxy.remove_toxic(&proxy, &toxic);
            }
        }
        self.wait_fully_replicated(RECOVER_TIMEOUT);
    }

    /// Kills every JVM and the toxiproxy and deletes the directory (used at process exit for
    /// the shared pair, which lives in a `static`; an owned cluster does this on drop).
    pub fn destroy(&self) {
        for node in &self.nodes {
            node.jvm.kill();
        }
        self.toxiproxy.kill();
        if let Ok(mut scratch) = self.scratch.try_lock() {
            scratch.take();
        }
    }
}

impl Drop for MultiCluster {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// How many pairs of fault clusters a test process may start. One: a fault test with its six
/// JVMs, strait, the stream and the readers keeps about one of the machine's two cores busy,
/// and two of them side by side (with a second pair) starved each other of CPU, so the fault
/// tests take turns on one pair.
const FAULT_PAIRS: usize = 1;

static PAIRS: [OnceLock<(MultiCluster, MultiCluster)>; FAULT_PAIRS] =
    [const { OnceLock::new() }; FAULT_PAIRS];
/// Which pairs a test holds right now.
static BUSY: Mutex<[bool; FAULT_PAIRS]> = Mutex::new([false; FAULT_PAIRS]);
static FREED: Condvar = Condvar::new();

/// A pair of [`NODES`]-node clusters for one fault test: `source` (alias `A` in the tests) and
/// `target` (`B`). Every fault touches a whole cluster, so a pair serves one test at a time:
/// the guard holds it until dropped (also when the test panics), and a test that asks while
/// every pair is busy waits. A pair is started on first use (a further one only when a test
/// asks while the started ones are busy, up to [`FAULT_PAIRS`]); all are destroyed when the
/// test process exits. A test that
/// failed may have left a node down, the network cut or latency on: before a pair is handed
/// out again, [`MultiCluster::ensure_healthy`] repairs both clusters.
pub fn fault_clusters() -> FaultClusters {
    let index = {
        let mut busy = BUSY.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(i) = busy.iter().position(|b| !b) {
                busy[i] = true;
                break i;
            }
            busy = FREED.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
    };
    // From here on the guard frees the pair, whatever happens.
    let mut guard = FaultClusters {
        index,
        source: None,
        target: None,
    };
    let mut fresh = false;
    let pair = PAIRS[index].get_or_init(|| {
        fresh = true;
        let names = [format!("fault{index}-A"), format!("fault{index}-B")];
        std::thread::scope(|s| {
            let a = s.spawn(|| MultiCluster::start(&names[0]));
            let b = s.spawn(|| MultiCluster::start(&names[1]));
            (
                a.join()
                    .expect("start of the fault source cluster panicked"),
                b.join()
                    .expect("start of the fault target cluster panicked"),
            )
        })
    });
    if fresh {
        static AT_EXIT: std::sync::Once = std::sync::Once::new();
        // SAFETY: registering a plain extern "C" function without arguments.
        AT_EXIT.call_once(|| unsafe {
            libc::atexit(destroy_fault_clusters);
        });
    } else {
        std::thread::scope(|s| {
            s.spawn(|| pair.0.ensure_healthy());
            s.spawn(|| pair.1.ensure_healthy());
        });
    }
    guard.source = Some(&pair.0);
    guard.target = Some(&pair.1);
    guard
}

extern "C" fn destroy_fault_clusters() {
    for pair in PAIRS.iter().filter_map(OnceLock::get) {
        pair.0.destroy();
        pair.1.destroy();
    }
}

/// One test's turn with a pair of fault clusters (see [`fault_clusters`]).
pub struct FaultClusters {
    index: usize,
    source: Option<&'static MultiCluster>,
    target: Option<&'static MultiCluster>,
}

impl FaultClusters {
    /// The source cluster (alias `A`).
    pub fn source(&self) -> &'static MultiCluster {
        self.source.expect("fault clusters started")
    }

    /// The target cluster (alias `B`).
    pub fn target(&self) -> &'static MultiCluster {
        self.target.expect("fault clusters started")
    }
}

impl Drop for FaultClusters {
    fn drop(&mut self) {
        let mut busy = BUSY.lock().unwrap_or_else(|p| p.into_inner());
        busy[self.index] = false;
        FREED.notify_all();
    }
}
