//! Real Apache Kafka 4.1.1 brokers for the tests: single-node KRaft clusters (broker and
//! controller in one JVM) on 127.0.0.1, run from the Maven jars that `harness/kafka.sh resolve`
//! caches. Same recipe as `harness/kafka.sh start`, but with free ports and a scratch directory
//! per cluster, so test runs never collide with the demo clusters or with each other.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

use super::util::{random_u64, remove_stale_dirs, repo_root, scratch_dir, spawn_watchdog};

/// How long a broker may take to log "Kafka Server started" (3 JVMs on 2 cores can be slow).
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// SIGTERM grace period before SIGKILL, as in `harness/kafka.sh stop`.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
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

/// The directory with the Kafka jars; resolved once per test process by `harness/kafka.sh
/// resolve` (instant once the cache is filled).
pub fn kafka_libs() -> &'static Path {
    static LIBS: OnceLock<PathBuf> = OnceLock::new();
    LIBS.get_or_init(|| {
        remove_stale_dirs();
        let script = repo_root().join("harness/kafka.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("resolve")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`harness/kafka.sh resolve` failed ({}); Java 17 and Maven are required.\n{}{}",
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
    })
}

fn conf_file(name: &str) -> PathBuf {
    repo_root().join("harness/conf").join(name)
}

fn classpath() -> String {
    format!("{}/*", kafka_libs().display())
}

struct Jvm {
    child: Child,
    watchdog: Child,
}

/// One single-node KRaft cluster. All methods take `&self` so shared clusters can live in a
/// `static`; the JVM handle sits behind a mutex.
pub struct KafkaCluster {
    name: String,
    port: u16,
    controller_port: u16,
    dir: PathBuf,
    scratch: Mutex<Option<tempfile::TempDir>>,
    jvm: Mutex<Option<Jvm>>,
}

impl KafkaCluster {
    /// Starts a fresh cluster and waits until it serves metadata requests.
    pub fn start(name: &str) -> KafkaCluster {
        let t0 = Instant::now();
        let mut last_error = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let (port, controller_port) = pick_port_pair();
            let scratch = scratch_dir(&format!("kafka-{name}"));
            let cluster = KafkaCluster {
                name: name.to_string(),
                port,
                controller_port,
                dir: scratch.path().to_path_buf(),
                scratch: Mutex::new(Some(scratch)),
                jvm: Mutex::new(None),
            };
            cluster.write_properties();
            cluster.format();
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
        &self.name
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
        self.dir.join("logs/server.log")
    }

    /// SIGTERM (controlled shutdown), SIGKILL after 30 s.
    pub fn stop(&self) {
        if let Some(mut jvm) = self.jvm.lock().unwrap().take() {
            signal(jvm.child.id(), libc::SIGTERM);
            let deadline = Instant::now() + STOP_TIMEOUT;
            while jvm.child.try_wait().ok().flatten().is_none() {
                if Instant::now() >= deadline {
                    eprintln!(
                        "[harness] {} ignored SIGTERM for {STOP_TIMEOUT:?}; SIGKILL",
                        self.name
                    );
                    let _ = jvm.child.kill();
                    let _ = jvm.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            reap(&mut jvm.watchdog);
        }
    }

    /// SIGKILL, no shutdown at all.
    pub fn kill(&self) {
        // try_lock: this also runs from the atexit handler, where a test thread may have died
        // holding the lock; the watchdog covers that case.
        if let Ok(mut guard) = self.jvm.try_lock() {
            if let Some(mut jvm) = guard.take() {
                reap(&mut jvm.child);
                reap(&mut jvm.watchdog);
            }
        }
    }

    /// Stops the broker cleanly and starts it again on the same ports and data directory.
    pub fn restart(&self) {
        self.stop();
        self.spawn_and_wait()
            .unwrap_or_else(|e| panic!("restart of kafka cluster {}: {e}", self.name));
    }

    /// Kills the JVM and deletes the directory (used at process exit for shared clusters,
    /// which live in a `static` and are never dropped).
    pub fn destroy(&self) {
        self.kill();
        if let Ok(mut scratch) = self.scratch.try_lock() {
            scratch.take();
        }
    }

    fn write_properties(&self) {
        // The shared settings are harness/conf/broker-base.properties, as for harness/kafka.sh.
        let props = format!(
            "{base}controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
log.dirs={data}
# The KRaft authorizer, so that ACL sync meets real ACLs. Every client of the tests connects
# without authentication (User:ANONYMOUS) and is a super user, so nothing else is restricted.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
",
            base = include_str!("../../../harness/conf/broker-base.properties"),
            port = self.port,
            cport = self.controller_port,
            data = self.dir.join("data").display(),
        );
        std::fs::create_dir_all(self.dir.join("logs")).expect("create logs dir");
        std::fs::write(self.dir.join("server.properties"), props).expect("write server.properties");
    }

    /// `kafka.tools.StorageTool format` with a fresh cluster id (writes meta.properties and the
    /// bootstrap checkpoint into `data/`).
    fn format(&self) {
        let out = Command::new("java")
            .args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                conf_file("tools-log4j2.xml").display()
            ))
            .arg("-cp")
            .arg(classpath())
            .args(["kafka.tools.StorageTool", "format", "--config"])
            .arg(self.dir.join("server.properties"))
            .arg("--cluster-id")
            .arg(new_cluster_id())
            .stdin(Stdio::null())
            .output()
            .expect("run java (StorageTool)");
        assert!(
            out.status.success(),
            "StorageTool format of {} failed: {}{}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn spawn_and_wait(&self) -> Result<(), String> {
        let server_log = self.server_log();
        // server.log appends across restarts: only look at what this start writes.
        let log_offset = std::fs::metadata(&server_log).map(|m| m.len()).unwrap_or(0);
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stdout.log"))
            .expect("open stdout.log");
        let err = out.try_clone().expect("clone stdout.log handle");
        let child = Command::new("java")
            .args(["-Xms256m", "-Xmx768m"])
            .args(JVM_PERF)
            .arg(format!(
                "-Dkafka.logs.dir={}",
                self.dir.join("logs").display()
            ))
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                conf_file("broker-log4j2.xml").display()
            ))
            .arg("-cp")
            .arg(classpath())
            .arg("kafka.Kafka")
            .arg(self.dir.join("server.properties"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot spawn java: {e}"))?;
        let watchdog = spawn_watchdog(child.id(), &self.dir.to_string_lossy());
        let mut guard = self.jvm.lock().unwrap();
        *guard = Some(Jvm { child, watchdog });
        let jvm = guard.as_mut().unwrap();

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = jvm.child.try_wait() {
                let tail = tail_of(&self.dir.join("stdout.log"), 20) + &tail_of(&server_log, 20);
                reap(&mut jvm.watchdog);
                *guard = None;
                return Err(format!(
                    "broker exited ({status}) before it was ready:\n{tail}"
                ));
            }
            if read_from(&server_log, log_offset).contains(STARTED_LINE) {
                break;
            }
            if Instant::now() >= deadline {
                drop(guard);
                self.kill();
                return Err(format!(
                    "no '{STARTED_LINE}' in {} after {START_TIMEOUT:?}",
                    server_log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(guard);
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

/// A Kafka `Uuid` string: URL-safe base64 of 16 random bytes, no padding, not starting with
/// '-' (Kafka's own generator avoids that too, it would read as a command-line flag).
fn new_cluster_id() -> String {
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

fn signal(pid: u32, sig: i32) {
    // SAFETY: plain kill(2) on a child we spawned and have not reaped yet.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// SIGKILL and reap (no zombie left behind).
fn reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn read_from(path: &Path, offset: u64) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let mut buf = Vec::new();
            let _ = f.read_to_end(&mut buf);
            s = String::from_utf8_lossy(&buf).into_owned();
        }
    }
    s
}

/// The last `n` lines of a file, for failure messages.
pub fn tail_of(path: &Path, n: usize) -> String {
    let text = read_from(path, 0);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = format!("--- {} (last {n} lines) ---\n", path.display());
    for line in &lines[lines.len().saturating_sub(n)..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}
