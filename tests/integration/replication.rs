//! The source pipeline end to end: what arrives on the target, exactly; topics and partitions
//! that appear while strait runs; transactions; a record the target refuses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::Timestamp;
use regex::Regex;

use crate::harness::*;

/// Generous upper bound for data to show up on the target (2 cores, 2 brokers, parallel tests).
const ARRIVAL: Duration = Duration::from_secs(60);
/// The `refresh_topics_interval` of [`MirrorConfig::a_to_b`].
const REFRESH: Duration = Duration::from_secs(2);

/// What must survive replication unchanged: everything but topic and offset.
type Content = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
    Timestamp,
);

fn content(r: &Rec) -> Content {
    (
        r.key.clone(),
        r.value.clone(),
        r.headers.clone(),
        r.timestamp,
    )
}

/// Per partition, the record contents in offset order.
fn contents_by_partition(records: &[Rec]) -> BTreeMap<i32, Vec<Content>> {
    by_partition(records)
        .into_iter()
        .map(|(p, rs)| (p, rs.into_iter().map(content).collect()))
        .collect()
}

fn values_of_partition(records: &[Rec], partition: i32) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.partition == partition)
        .map(Rec::value_str)
        .collect()
}

fn headers(list: &[(&str, Option<&[u8]>)]) -> Vec<(String, Option<Vec<u8>>)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.map(<[u8]>::to_vec)))
        .collect()
}

/// (a) Key, value, headers (duplicate keys, null and empty values), CreateTime timestamp and
/// partition arrive unchanged under the remote name, in the source order of each partition.
#[test]
fn records_arrive_byte_for_byte_in_order() {
    let (a, b) = shared_clusters();
    let topic = unique_name("exact");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 3, &[]);

    // Timestamps in the past (4.x brokers reject CreateTime more than 1 h in the future) and
    // deliberately not monotonic within a partition.
    let base_ts = now_ms() - 3_600_000;
    let all_bytes: Vec<u8> = (0..=255).collect();
    let records: Vec<OutRecord> = (0..300usize)
        .map(|i| OutRecord {
            partition: Some((i % 3) as i32),
            key: match i % 5 {
                0 => None,
                1 => Some(Vec::new()),
                2 => Some(all_bytes.clone()),
                _ => Some(format!("key-{i}").into_bytes()),
            },
            value: match i % 7 {
                0 => Some(Vec::new()),
                1 => None,
                2 => Some(all_bytes.iter().rev().copied().collect()),
                _ => Some(format!("value-{i}|").repeat(i % 40 + 1).into_bytes()),
            },
            headers: match i % 4 {
                0 => Vec::new(),
                1 => headers(&[
                    ("dup", Some(b"1")),
                    ("dup", Some(b"2")),
                    ("dup", None),
                    ("x", Some(b"y")),
                ]),
                2 => headers(&[
                    ("empty", Some(b"")),
                    ("null", None),
                    ("bin", Some(&[0, 255, 10, 13])),
                ]),
                _ => vec![("seq".to_string(), Some(i.to_string().into_bytes()))],
            },
            timestamp: Some(base_ts + ((i as i64 * 7919) % 100_000)),
        })
        .collect();
    produce(&a.bootstrap(), &topic, &records);

    // What the source really holds (also checks the producer wrote what we meant).
    let source = read_all(&a.bootstrap(), &topic, ARRIVAL);
    assert_eq!(source.len(), records.len());
    let mut expected_p0: Vec<Content> = Vec::new();
    for r in records.iter().filter(|r| r.partition == Some(0)) {
        let ts = Timestamp::CreateTime(r.timestamp.unwrap());
        expected_p0.push((r.key.clone(), r.value.clone(), r.headers.clone(), ts));
    }
    assert_eq!(
        contents_by_partition(&source)[&0],
        expected_p0,
        "source partition 0 as produced"
    );

    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(records.len(), ARRIVAL);
    target.read_to_end(ARRIVAL);
    strait.assert_running();

    assert_eq!(
        partition_count(&b.bootstrap(), &remote),
        Some(3),
        "partition count of {remote}"
    );
    assert_eq!(
        target.records().len(),
        records.len(),
        "no record twice, none missing"
    );
    let got = contents_by_partition(target.records());
    let want = contents_by_partition(&source);
    for p in 0..3 {
        assert_eq!(
            got.get(&p).map(Vec::len),
            want.get(&p).map(Vec::len),
            "count in partition {p}"
        );
        for (i, (g, w)) in got[&p].iter().zip(&want[&p]).enumerate() {
            assert_eq!(g, w, "partition {p}, record {i}");
        }
    }
    assert!(
        target.records().iter().all(|r| r.topic == remote),
        "records come from {remote}"
    );

    strait.sigterm();
    let status = strait.wait_exit(Duration::from_secs(40));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
}

/// strait started with `mirror` after a topic `<prefix>-first` with one record: returned once
/// that record is on the target (its first topic refresh is done).
fn replicating_a_first_topic(
    a: &KafkaCluster,
    b: &KafkaCluster,
    prefix: &str,
    mirror: MirrorConfig,
) -> StraitProcess {
    let first = format!("{prefix}-first");
    create_topic(&a.bootstrap(), &first, 1, &[]);
    produce(
        &a.bootstrap(),
        &first,
        &[OutRecord::to_partition(0, "first")],
    );
    let strait = StraitProcess::start(&StraitConfig::one_way(a, b, mirror));
    TopicReader::new(&b.bootstrap(), &format!("A.{first}")).wait_for_count(1, ARRIVAL);
    strait
}

/// (d) A topic created on the source while strait runs is picked up by the next topic refresh.
#[test]
fn topic_created_later_is_replicated_within_refresh_interval() {
    let (a, b) = shared_clusters();
    let prefix = unique_name("late");
    let late = format!("{prefix}-late");
    let mirror = MirrorConfig::a_to_b(&[&format!("{prefix}-.*")]);
    let mut strait = replicating_a_first_topic(a, b, &prefix, mirror);

    create_topic(&a.bootstrap(), &late, 2, &[]);
    let created = Instant::now();
    let late_records: Vec<OutRecord> = (0..10)
        .map(|i| OutRecord::to_partition(i % 2, format!("late-{i}")))
        .collect();
    produce(&a.bootstrap(), &late, &late_records);
    let mut target = TopicReader::new(&b.bootstrap(), &format!("A.{late}"));
    target.wait_for_count(late_records.len(), ARRIVAL);
    let delay = created.elapsed();
    eprintln!(
        "topic created on A -> all records on B after {:.2}s (refresh interval {REFRESH:?})",
        delay.as_secs_f64()
    );
    strait.assert_running();

    // One refresh interval, plus the time to create the remote topic and copy 10 records.
    let budget = REFRESH + Duration::from_secs(8);
    assert!(
        delay <= budget,
        "new topic took {delay:?} to replicate, budget {budget:?}"
    );
    assert_eq!(
        partition_count(&b.bootstrap(), &format!("A.{late}")),
        Some(2)
    );
    for p in 0..2 {
        let want: Vec<String> = (0..10)
            .filter(|i| i % 2 == p)
            .map(|i| format!("late-{i}"))
            .collect();
        assert_eq!(
            values_of_partition(target.records(), p),
            want,
            "partition {p}"
        );
    }
}

/// A new topic and new partitions are seen by the check of the source's topic list
/// (`watch_topics_interval`, default 1 s), not only at the next refresh: with a refresh
/// interval of 10 minutes, both are copied within the arrival bound.
#[test]
fn a_new_topic_and_new_partitions_are_copied_without_waiting_for_the_refresh() {
    let (a, b) = shared_clusters();
    let prefix = unique_name("watch");
    let late = format!("{prefix}-late");
    let mirror = MirrorConfig::a_to_b(&[&format!("{prefix}-.*")]).refresh_topics_interval("10m");
    let mut strait = replicating_a_first_topic(a, b, &prefix, mirror);

    create_topic(&a.bootstrap(), &late, 1, &[]);
    let created = Instant::now();
    produce(
        &a.bootstrap(),
        &late,
        &[OutRecord::to_partition(0, "late-0")],
    );
    let mut target = TopicReader::new(&b.bootstrap(), &format!("A.{late}"));
    target.wait_for_count(1, ARRIVAL);
    let new_topic = created.elapsed();

    add_partitions(&a.bootstrap(), &late, 2);
    let grown = Instant::now();
    produce(
        &a.bootstrap(),
        &late,
        &[OutRecord::to_partition(1, "late-1")],
    );
    target.wait_for_count(2, ARRIVAL);
    let new_partition = grown.elapsed();
    strait.assert_running();
    eprintln!(
        "refresh every 10 min: new topic on B after {:.2}s, new partition after {:.2}s",
        new_topic.as_secs_f64(),
        new_partition.as_secs_f64()
    );
    assert_eq!(values_of_partition(target.records(), 0), vec!["late-0"]);
    assert_eq!(values_of_partition(target.records(), 1), vec!["late-1"]);
}

/// (e) Partitions added on the source (2 -> 4) are added on the target, and records produced
/// to the new partitions arrive in them.
#[test]
fn partition_increase_is_replicated() {
    let (a, b) = shared_clusters();
    let topic = unique_name("grow");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    let before: Vec<OutRecord> = (0..20)
        .map(|i| OutRecord::to_partition(i % 2, format!("before-{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &before);

    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(before.len(), ARRIVAL);
    assert_eq!(partition_count(&b.bootstrap(), &remote), Some(2));

    add_partitions(&a.bootstrap(), &topic, 4);
    let after: Vec<OutRecord> = (0..40)
        .map(|i| OutRecord::to_partition(i % 4, format!("after-{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &after);

    let grown = Instant::now();
    wait_until(ARRIVAL, &format!("{remote} to have 4 partitions"), || {
        partition_count(&b.bootstrap(), &remote) == Some(4)
    });
    target.wait_for_count(before.len() + after.len(), ARRIVAL);
    eprintln!(
        "partition increase replicated after {:.2}s",
        grown.elapsed().as_secs_f64()
    );
    target.read_to_end(ARRIVAL);
    strait.assert_running();

    assert_eq!(target.records().len(), before.len() + after.len());
    for p in 0..4 {
        let want: Vec<String> = before
            .iter()
            .chain(&after)
            .filter(|r| r.partition == Some(p))
            .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
            .collect();
        assert_eq!(
            values_of_partition(target.records(), p),
            want,
            "partition {p}"
        );
    }
}

/// (h) Records of aborted transactions are not copied; committed ones are, in order.
#[test]
fn aborted_transactions_are_not_copied() {
    let (a, b) = shared_clusters();
    let topic = unique_name("txn");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    let batch = |tag: &str, n: i32| -> Vec<OutRecord> {
        (0..n)
            .map(|i| OutRecord::to_partition(i % 2, format!("{tag}-{i}")))
            .collect()
    };

    // Before strait starts: committed, aborted, committed.
    produce_transactions(
        &a.bootstrap(),
        &topic,
        &[
            (batch("c0", 10), true),
            (batch("aborted0", 10), false),
            (batch("c1", 10), true),
        ],
    );
    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(20, ARRIVAL);

    // While it runs: aborted, then committed (arrives only after the aborted ones were passed).
    produce_transactions(
        &a.bootstrap(),
        &topic,
        &[(batch("aborted1", 6), false), (batch("c2", 10), true)],
    );
    target.wait_until(ARRIVAL, "the last committed record", |rs| {
        rs.iter().any(|r| r.value_str() == "c2-9")
    });
    target.read_to_end(ARRIVAL);
    strait.assert_running();

    for p in 0..2 {
        let want: Vec<String> = ["c0", "c1", "c2"]
            .iter()
            .flat_map(|tag| {
                (0..10)
                    .filter(move |i| i % 2 == p)
                    .map(move |i| format!("{tag}-{i}"))
            })
            .collect();
        assert_eq!(
            values_of_partition(target.records(), p),
            want,
            "partition {p}"
        );
    }
    assert!(
        !target
            .records()
            .iter()
            .any(|r| r.value_str().starts_with("aborted")),
        "aborted records were copied"
    );
}

/// A log line at ERROR level that names `topic`, `partition` and `offset` (plain or JSON
/// formatting: `partition=3`, `"partition":3`, `partition: 3`).
fn error_line_about(log: &str, topic: &str, partition: i32, offset: i64) -> Option<String> {
    let p = Regex::new(&format!(r"partition\W{{0,3}}{partition}\b")).unwrap();
    let o = Regex::new(&format!(r"offset\W{{0,3}}{offset}\b")).unwrap();
    let is_error =
        |l: &str| l.contains("ERROR") || l.to_ascii_lowercase().contains(r#""level":"error""#);
    log.lines()
        .find(|l| is_error(l) && l.contains(topic) && p.is_match(l) && o.is_match(l))
        .map(str::to_string)
}

/// (k) A record larger than the target topic's `max.message.bytes`: strait logs an error naming
/// topic, partition and offset, copies everything before it, does not skip it (nothing after it
/// in that partition arrives, also not after a restart), and the other partitions keep flowing.
#[test]
fn oversized_record_blocks_its_partition_only() {
    oversized_record_blocks_its_partition("A", "B", false);
}

/// (k) with `delivery: exactly_once`: the refused record is found by committing each record
/// of its partition alone, so the partition stops exactly there with every record before it
/// committed once (a read_committed reader sees them exactly once), and nothing after it.
#[test]
fn exactly_once_stops_a_partition_at_a_record_too_large_for_the_target() {
    // Aliases of this test's own: the transactional id (`strait.<source>`) is no other test's.
    let suffix = unique_name("x").replace(['-', '_'], "");
    oversized_record_blocks_its_partition(&format!("S{suffix}"), &format!("T{suffix}"), true);
}

fn oversized_record_blocks_its_partition(src: &str, dst: &str, exactly_once: bool) {
    let (a, b) = shared_clusters();
    let topic = unique_name("oversize");
    let remote = format!("{src}.{topic}");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    create_topic(&b.bootstrap(), &remote, 2, &[("max.message.bytes", "2000")]);

    let small = |tag: String| OutRecord::to_partition(0, format!("{tag:-<100}").into_bytes());
    // Partition 0: 10 small records (offsets 0-9, well below 2000 bytes together), the big one
    // at offset 10, then 10 more small ones.
    let mut p0: Vec<OutRecord> = (0..10).map(|i| small(format!("p0-{i}-"))).collect();
    p0.push(OutRecord::to_partition(0, vec![b'X'; 5000]));
    p0.extend((11..21).map(|i| small(format!("p0-{i}-"))));
    let delivered = produce(&a.bootstrap(), &topic, &p0);
    let big_offset = delivered[10].1;
    assert_eq!(delivered[10], (0, 10), "the big record's position");
    let p1 = |range: std::ops::Range<i32>| -> Vec<OutRecord> {
        range
            .map(|i| OutRecord::to_partition(1, format!("p1-{i}")))
            .collect()
    };
    produce(&a.bootstrap(), &topic, &p1(0..10));

    // The target-only max.message.bytes override is what this test is about: keep config sync
    // (which would reset it to the target's default) away from it.
    let mut mirror = MirrorConfig::new(src, dst)
        .topics(&[&topic])
        .topics_exclude(&[])
        .policy(Policy::Default)
        .replication_factor(1)
        .refresh_topics_interval("2s")
        .set("sync_topic_configs", "off");
    if exactly_once {
        mirror = mirror.set("delivery", "exactly_once");
    }
    let config = StraitConfig::new()
        .cluster(src, ClusterConfig::of(a))
        .cluster(dst, ClusterConfig::of(b))
        .mirror(mirror)
        .shutdown_timeout("5s");
    let mut strait = StraitProcess::start(&config);
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    let prefix: Vec<String> = p0[..10]
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    target.wait_until(
        ARRIVAL,
        "partition 0 up to the big record, partition 1 complete",
        |rs| {
            rs.iter().filter(|r| r.partition == 0).count() >= 10
                && rs.iter().filter(|r| r.partition == 1).count() >= 10
        },
    );
    let error = wait_for(
        ARRIVAL,
        "an error naming topic, partition 0 and the offset",
        || error_line_about(&strait.log_contents(), &topic, 0, big_offset),
    );
    eprintln!("strait reported: {error}");
    strait.assert_running();

    // Partition 1 keeps flowing; once its new records are on B, partition 0 has had every chance
    // to (wrongly) move past the big record.
    produce(&a.bootstrap(), &topic, &p1(10..20));
    target.wait_until(
        ARRIVAL,
        "partition 1 records produced after the error",
        |rs| rs.iter().filter(|r| r.partition == 1).count() >= 20,
    );
    target.read_to_end(ARRIVAL);
    assert_eq!(
        values_of_partition(target.records(), 0),
        prefix,
        "partition 0 stops before offset 10"
    );
    let want_p1: Vec<String> = (0..20).map(|i| format!("p1-{i}")).collect();
    assert_eq!(values_of_partition(target.records(), 1), want_p1);

    // After a restart it is still stuck at the same record and says so again.
    strait.sigterm();
    let status = strait.wait_exit(Duration::from_secs(30));
    eprintln!("strait stopped with {status} while partition 0 was blocked");
    let log_len = strait.log_contents().len();
    strait.restart();
    let error = wait_for(ARRIVAL, "the error again after the restart", || {
        error_line_about(&strait.log_contents()[log_len..], &topic, 0, big_offset)
    });
    eprintln!("after restart strait reported: {error}");
    produce(&a.bootstrap(), &topic, &p1(20..25));
    target.wait_until(
        ARRIVAL,
        "partition 1 records produced after the restart",
        |rs| rs.iter().filter(|r| r.partition == 1).count() >= 25,
    );
    target.read_to_end(ARRIVAL);
    strait.assert_running();
    assert_eq!(
        values_of_partition(target.records(), 0),
        prefix,
        "partition 0 still stops before offset 10"
    );
    let want_p1: Vec<String> = (0..25).map(|i| format!("p1-{i}")).collect();
    assert_eq!(values_of_partition(target.records(), 1), want_p1);
}

/// A stored position that retention deleted before strait copied it (here DeleteRecords, which
/// moves the log start as retention does): the loss is counted exactly in
/// `strait_data_gap_offsets_total{reason="out_of_range"}`, logged with its range, and copying
/// continues at the log start with nothing else skipped.
#[test]
fn a_stored_position_deleted_by_retention_is_a_counted_data_gap() {
    let (a, b) = shared_clusters();
    let topic = unique_name("gap");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let batch = |range: std::ops::Range<i64>| -> Vec<OutRecord> {
        range
            .map(|i| OutRecord::to_partition(0, format!("v{i:03}")))
            .collect()
    };
    produce(&a.bootstrap(), &topic, &batch(0..100));
    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(100, ARRIVAL);
    // The position 100 is persisted (a graceful stop writes it at the latest).
    strait.sigterm();
    assert_eq!(strait.wait_exit(ARRIVAL).code(), Some(0));

    // While strait is stopped, 100..200 arrive and everything below 150 is deleted.
    produce(&a.bootstrap(), &topic, &batch(100..200));
    delete_records(&a.bootstrap(), &topic, 0, 150);
    assert_eq!(log_start(&a.bootstrap(), &topic, 0), 150);

    strait.restart();
    target.wait_for_count(150, ARRIVAL);
    let addr = strait.http_addr();
    let gaps = wait_for(ARRIVAL, "the data gap on /metrics", || {
        let text = get_ok(&addr, "/metrics");
        sample(
            &text,
            "strait_data_gap_offsets_total",
            &[("mirror", "A->B"), ("reason", "out_of_range")],
        )
    });
    assert_eq!(gaps, 50.0, "offsets 100..=149 were lost");
    let log = strait.log_contents();
    let line = log
        .lines()
        .find(|l| l.contains("data gap:") && l.contains(&topic))
        .unwrap_or_else(|| panic!("no data gap line for {topic}:\n{log}"));
    assert!(
        line.contains("from_offset=100")
            && line.contains("to_offset=149")
            && line.contains("lost=50"),
        "{line}"
    );
    target.read_to_end(ARRIVAL);
    let want: Vec<String> = (0..100)
        .chain(150..200)
        .map(|i| format!("v{i:03}"))
        .collect();
    let got: Vec<String> = target.records().iter().map(Rec::value_str).collect();
    assert_eq!(
        got, want,
        "everything before the gap once, then the log from its start"
    );
}
