//! The broker version matrix (a smoke set per extra version, to keep CI short): the core
//! replication and checkpoints against Apache Kafka 3.9 (the last 3.x line) and the newest 4.x
//! on Maven Central, and a mixed pair (3.9 source, newest 4.x target); and the MirrorMaker 2
//! interop that matters for a move from 3.9: a take-over from a real MM2 3.9.1 ([`take_over`]).
//! The newest 4.x has no MirrorMaker 2 jar on Maven Central (its connect-mirror artifact is not
//! served), so MM2 interop runs on 4.1.1 (the rest of the suite) and 3.9.1.
//!
//! Each test starts its own pair (the shared clusters run the default version).

use std::collections::BTreeMap;
use std::time::Duration;

use ::strait::records::Checkpoint;

use crate::harness::*;
use crate::take_over::take_over_from_mm2;

const PARTITIONS: i32 = 3;
const PER_PARTITION: i64 = 200;
const CONVERGE: Duration = Duration::from_secs(90);
const READ: Duration = Duration::from_secs(60);

fn pair(name: &str, source: &'static str, target: &'static str) -> [KafkaCluster; 2] {
    start_clusters([
        ClusterSpec::new(&format!("{name}-A")).version(source),
        ClusterSpec::new(&format!("{name}-B")).version(target),
    ])
}

/// Every record copied exactly, in order, to `A.<topic>`; a group committed on A checkpointed
/// with its exact translation; heartbeats written.
fn replicate_and_checkpoint(a: &KafkaCluster, b: &KafkaCluster, label: &str) {
    let topic = unique_name("versions");
    let group = unique_name("versions-group");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, PARTITIONS, &[]);
    let records: Vec<OutRecord> = (0..PARTITIONS)
        .flat_map(|p| {
            (0..PER_PARTITION).map(move |o| OutRecord::to_partition(p, format!("{label}-p{p}-{o}")))
        })
        .collect();
    produce(&a.bootstrap(), &topic, &records);
    let committed = [17_i64, 100, PER_PARTITION];
    let commits: Vec<(&str, i32, i64)> = (0..PARTITIONS)
        .map(|p| (topic.as_str(), p, committed[p as usize]))
        .collect();
    commit_group_offsets(&a.bootstrap(), &group, &commits);

    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic])
            .groups(&[&group])
            .emit_checkpoints_interval("1s")
            .emit_heartbeats_interval("1s"),
    );
    let mut strait = StraitProcess::start(&config);
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count((PARTITIONS as i64 * PER_PARTITION) as usize, CONVERGE);
    let checkpoints = wait_for(CONVERGE, "checkpoints of the group", || {
        strait.assert_running();
        let mut latest: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
        for r in read_all(&b.bootstrap(), "A.checkpoints.internal", READ) {
            let (Some(k), Some(v)) = (r.key.as_deref(), r.value.as_deref()) else {
                continue;
            };
            if let Ok(c) = Checkpoint::decode(k, v) {
                if c.group == group && c.topic == remote {
                    latest.insert(c.partition, (c.upstream_offset, c.downstream_offset));
                }
            }
        }
        (latest.len() == PARTITIONS as usize).then_some(latest)
    });
    wait_until(CONVERGE, "a heartbeat of A on B", || {
        !read_all(&b.bootstrap(), "heartbeats", READ).is_empty()
    });
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(40)).code(), Some(0));

    let source = by_values(&read_all(&a.bootstrap(), &topic, READ));
    let copied = by_values(&read_all(&b.bootstrap(), &remote, READ));
    assert_eq!(
        copied, source,
        "{label}: every record, once, in source order per partition"
    );
    for p in 0..PARTITIONS {
        let c = committed[p as usize];
        // A fresh topic is copied one to one: the translation is the committed offset itself.
        assert_eq!(
            checkpoints[&p],
            (c, c),
            "{label}: checkpoint of partition {p}"
        );
    }
    eprintln!(
        "versions ({label}): {} records copied exactly, {PARTITIONS} checkpoints exact",
        source.values().map(Vec::len).sum::<usize>()
    );
}

fn by_values(records: &[Rec]) -> BTreeMap<i32, Vec<String>> {
    let mut out: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for r in records {
        out.entry(r.partition).or_default().push(r.value_str());
    }
    out
}

#[test]
fn kafka_3_9_replication_checkpoints_and_take_over_from_its_mirror_maker_2() {
    let [a, b] = pair("v39", KAFKA_3_9, KAFKA_3_9);
    replicate_and_checkpoint(&a, &b, "3.9.1");
    take_over_from_mm2(&a, &b, KAFKA_3_9);
}

#[test]
fn newest_kafka_4_replication_and_checkpoints() {
    let [a, b] = pair("v4new", KAFKA_NEWEST, KAFKA_NEWEST);
    replicate_and_checkpoint(&a, &b, KAFKA_NEWEST);
}

#[test]
fn mixed_pair_3_9_source_newest_4_target() {
    let [a, b] = pair("vmixed", KAFKA_3_9, KAFKA_NEWEST);
    replicate_and_checkpoint(&a, &b, "3.9.1 -> newest 4.x");
}
