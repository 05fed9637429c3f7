//! Apache Kafka's own MM2 client reads strait's checkpoints: `RemoteClusterUtils.translateOffsets`
//! (connect-mirror-client 4.1.1), run on Java 17 against the target cluster B, returns exactly
//! the translated offsets strait wrote to `A.checkpoints.internal` for the group.
//!
//! `tests/integration/java/TranslateOffsets.java` is compiled once per test process against the
//! Kafka jars and prints one `topic partition offset` line per translated partition, sorted.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use ::strait::records::Checkpoint;

use crate::harness::java::compile_java;
use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(90);
/// Time limit of the Java run (JVM start plus `translateOffsets`' own 30 s timeout).
const JAVA_TIMEOUT: Duration = Duration::from_secs(120);

/// The Java side, relative to the repository root.
const TRANSLATE_OFFSETS: &str = "tests/integration/java/TranslateOffsets.java";

/// Runs `RemoteClusterUtils.translateOffsets` against `bootstrap` for `group` and the
/// upstream cluster `remote_alias`; returns the printed `topic partition offset` lines.
fn java_translate_offsets(bootstrap: &str, remote_alias: &str, group: &str) -> Vec<String> {
    let output = java_tool(
        JavaMain::Source(Path::new(TRANSLATE_OFFSETS)),
        &[bootstrap, remote_alias, group],
        JAVA_TIMEOUT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "TranslateOffsets failed ({}):\n{stderr}",
        output.status
    );
    let stdout = String::from_utf8(output.stdout).expect("TranslateOffsets stdout is UTF-8");
    stdout.lines().map(str::to_owned).collect()
}

/// Partition 0: plain records. Partition 1: committed, aborted, committed transactions, so the
/// group's committed offset falls inside the gap the aborted records left.
#[test]
fn java_remote_cluster_utils_translates_offsets_to_strait_checkpoints() {
    let (a, b) = shared_clusters();
    let topic = unique_name("rcu");
    let remote = format!("A.{topic}");
    let group = unique_name("rcu-group");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    let plain: Vec<OutRecord> = (0..40)
        .map(|i| OutRecord::to_partition(0, format!("p0-{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &plain);
    let batch = |tag: &str, n: i32| -> Vec<OutRecord> {
        (0..n)
            .map(|i| OutRecord::to_partition(1, format!("p1-{tag}-{i}")))
            .collect()
    };
    produce_transactions(
        &a.bootstrap(),
        &topic,
        &[
            (batch("c0", 10), true),
            (batch("x", 5), false),
            (batch("c1", 10), true),
        ],
    );
    // Partition 1: c0 at 0..10, commit marker 10, aborted 11..16, abort marker 16, c1 17..27;
    // the group's offset 13 lies inside the aborted records.
    commit_group_offsets(
        &a.bootstrap(),
        &group,
        &[(topic.as_str(), 0, 25), (topic.as_str(), 1, 13)],
    );

    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic]).emit_checkpoints_interval("500ms"),
    );
    // Compile while strait starts replicating.
    let classes = std::thread::spawn(|| compile_java(Path::new(TRANSLATE_OFFSETS)));
    let strait = StraitProcess::start(&config);

    // The latest checkpoint per partition of ours, in topic order: what a reader of the whole
    // checkpoint topic (as translateOffsets is) ends up with.
    let ours = |recs: &[Rec]| -> BTreeMap<i32, Checkpoint> {
        recs.iter()
            .filter_map(|r| Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
            .filter(|c| c.group == group && c.topic == remote)
            .map(|c| (c.partition, c))
            .collect()
    };
    let t0 = Instant::now();
    let mut checkpoints = TopicReader::new(&b.bootstrap(), "A.checkpoints.internal");
    checkpoints.wait_until(ARRIVAL, "checkpoints for both partitions", |recs| {
        ours(recs).len() == 2
    });
    eprintln!(
        "[remote_cluster_utils] checkpoints of both partitions on B after {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    // Stop strait, so the checkpoint topic no longer changes under the Java reader, then read
    // it to its end.
    drop(strait);
    checkpoints.read_to_end(ARRIVAL);
    let got = ours(checkpoints.records());
    assert_eq!(got[&0].upstream_offset, 25, "partition 0: upstream offset");
    assert_eq!(got[&1].upstream_offset, 13, "partition 1: upstream offset");
    let want: Vec<String> = got
        .values()
        .map(|c| format!("{} {} {}", c.topic, c.partition, c.downstream_offset))
        .collect();

    classes.join().expect("compile TranslateOffsets.java");
    let t0 = Instant::now();
    let lines = java_translate_offsets(&b.bootstrap(), "A", &group);
    eprintln!(
        "[remote_cluster_utils] RemoteClusterUtils.translateOffsets ran in {:.1}s and printed: {lines:?}",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(
        lines, want,
        "Java's RemoteClusterUtils.translateOffsets against B vs strait's checkpoints"
    );
}
