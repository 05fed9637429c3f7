//! Apache Kafka's own Java code as the independent other side of a test: short-lived JVMs on the
//! Kafka 4.1.1 jars (see [`kafka_libs`]) that run a tool class (`ConsoleConsumer` with MM2's
//! formatters) or a small Java source file of the tests (`tests/integration/java/*.java`,
//! compiled once per test process).
//!
//! Every JVM gets the tools' logging config (WARN and above to stderr, so stdout stays
//! parseable), UTF-8 output whatever the machine's locale, and runs through
//! [`Launch::run`](super::process::Launch::run): a watchdog for a killed test process and a
//! time limit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::kafka::kafka_libs;
use super::process::Launch;
use super::util::{random_u64, repo_root, scratch_root};

/// The package of MM2's `ConsoleConsumer` formatters.
pub const MM2_FORMATTERS: &str = "org.apache.kafka.connect.mirror.formatters";
/// `--timeout-ms` of [`java_formatted`]: ConsoleConsumer stops after this long without a
/// record. It exits 0 then, so a record Java never printed shows up as a missing line, not as a
/// hang.
pub const CONSOLE_IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Time limit of compiling one test source file.
const JAVAC_TIMEOUT: Duration = Duration::from_secs(180);
/// Time limit of one ConsoleConsumer run (JVM start, reading, the idle timeout).
const CONSOLE_TIMEOUT: Duration = Duration::from_secs(120);

/// What a JVM runs.
#[derive(Debug, Clone, Copy)]
pub enum JavaMain<'a> {
    /// A main class on the Kafka classpath, e.g. `org.apache.kafka.tools.consumer.ConsoleConsumer`.
    Class(&'a str),
    /// A Java source file (absolute, or relative to the repository root) whose public class is
    /// named after the file; compiled against the Kafka jars on first use ([`compile_java`]).
    Source(&'a Path),
}

/// Compiles `source` (relative to the repository root unless absolute) against the Kafka jars,
/// once per test process, and returns the directory with its classes. Compilation takes a few
/// seconds: a test may call this early on a thread so it overlaps with other set-up.
pub fn compile_java(source: &Path) -> PathBuf {
    static COMPILED: OnceLock<Mutex<HashMap<PathBuf, Arc<OnceLock<PathBuf>>>>> = OnceLock::new();
    let source = repo_root().join(source);
    // One slot per source file, so different files compile in parallel and the same file once.
    let slot = COMPILED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap()
        .entry(source.clone())
        .or_default()
        .clone();
    slot.get_or_init(|| {
        let stem = source
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("java source file name");
        // Under the scratch root with this process's pid as prefix, so stale runs are removed.
        let dir = scratch_root().join(format!(
            "{}-java-classes-{stem}-{:08x}",
            std::process::id(),
            random_u64() as u32
        ));
        std::fs::create_dir_all(&dir).expect("create java classes dir");
        let t0 = Instant::now();
        let out = Launch::new("javac", "javac")
            .arg("-cp")
            .arg(format!("{}/*", kafka_libs().display()))
            .arg("-d")
            .arg(&dir)
            .arg(&source)
            .run(JAVAC_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "javac {} failed ({}):\n{}{}",
            source.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "[harness] compiled {stem}.java in {:.1}s",
            t0.elapsed().as_secs_f64()
        );
        dir
    })
    .clone()
}

/// Runs `main` with `args` in a short-lived JVM on the Kafka classpath and returns its exit
/// status and output. Panics (with what the JVM wrote to stderr) if it runs longer than
/// `timeout`; a non-zero exit is for the caller to judge.
pub fn java_tool(main: JavaMain<'_>, args: &[&str], timeout: Duration) -> Output {
    let libs = format!("{}/*", kafka_libs().display());
    let (classpath, class, label) = match main {
        JavaMain::Class(class) => (libs, class.to_string(), class.to_string()),
        JavaMain::Source(source) => {
            let classes = compile_java(source);
            let class = source
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("java source file name")
                .to_string();
            (
                format!("{}:{libs}", classes.display()),
                class.clone(),
                format!("{class}.java"),
            )
        }
    };
    Launch::new(&format!("java {label}"), "java")
        .args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            repo_root().join("harness/conf/tools-log4j2.xml").display()
        ))
        // Non-ASCII names must come out as UTF-8 whatever the test machine's locale, and
        // `String.format("%d")` must print ASCII digits.
        .args([
            "-Dfile.encoding=UTF-8",
            "-Dsun.stdout.encoding=UTF-8",
            "-Duser.language=en",
            "-Duser.country=US",
        ])
        .arg("-cp")
        .arg(classpath)
        .arg(class)
        .args(args)
        .dump_on_timeout(libc::SIGQUIT)
        .run(timeout)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Reads `max_messages` records of all partitions of `topic` from the beginning with Kafka's
/// `ConsoleConsumer` and MM2's `formatter` (simple class name, e.g. `CheckpointFormatter`),
/// returning stdout line by line (one line per record).
pub fn java_formatted(
    bootstrap: &str,
    topic: &str,
    formatter: &str,
    max_messages: usize,
) -> Vec<String> {
    console_formatted(bootstrap, topic, None, formatter, max_messages)
}

/// As [`java_formatted`], for one partition only: the lines come in offset order, so they can be
/// matched record for record with what an rdkafka reader got from that partition.
pub fn java_formatted_partition(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    formatter: &str,
    max_messages: usize,
) -> Vec<String> {
    console_formatted(bootstrap, topic, Some(partition), formatter, max_messages)
}

fn console_formatted(
    bootstrap: &str,
    topic: &str,
    partition: Option<i32>,
    formatter: &str,
    max_messages: usize,
) -> Vec<String> {
    let max = max_messages.to_string();
    let idle = CONSOLE_IDLE_TIMEOUT.as_millis().to_string();
    let formatter_class = format!("{MM2_FORMATTERS}.{formatter}");
    let partition = partition.map(|p| p.to_string());
    let mut args = vec!["--bootstrap-server", bootstrap, "--topic", topic];
    match &partition {
        Some(p) => args.extend(["--partition", p, "--offset", "earliest"]),
        None => args.push("--from-beginning"),
    }
    args.extend([
        // As the harness's rdkafka readers: aborted transactional records are not records.
        "--isolation-level",
        "read_committed",
        "--max-messages",
        &max,
        "--timeout-ms",
        &idle,
        "--formatter",
        &formatter_class,
    ]);
    let output = java_tool(
        JavaMain::Class("org.apache.kafka.tools.consumer.ConsoleConsumer"),
        &args,
        CONSOLE_TIMEOUT,
    );
    assert!(
        output.status.success(),
        "ConsoleConsumer with {formatter} on {topic} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("ConsoleConsumer stdout is UTF-8");
    stdout.lines().map(str::to_owned).collect()
}
