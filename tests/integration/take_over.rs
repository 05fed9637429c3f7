//! Taking over from MirrorMaker 2 in place (`mirrors[].take_over_mm2`): a real MM2 (dedicated
//! mode) mirrors a topic while records stream and checkpoints a consumer group; it is killed
//! (SIGKILL: its last Connect offsets are up to `offset.flush.interval.ms` behind what it
//! copied), and strait starts on the same aliases with the take-over on.
//!
//! What is checked, exactly: every source record on the target; the duplicates are exactly the
//! records MM2 copied after the last position it stored (strait resumes at that position + 1,
//! as MM2 would); nothing before MM2's stored position is copied again (no full re-copy); the
//! group's checkpoints never go backwards across the change of writer, and the group's
//! translated offset on the target moves forward only and points at the right record; the
//! positions taken over are in strait's progress topic, so a restart does not read MM2's again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ::strait::records::Checkpoint;

use crate::harness::*;

const PARTITIONS: i32 = 2;
/// Records per second over all partitions.
const RATE: u64 = 200;
const FIRST_RECORD: Duration = Duration::from_secs(120);
const CONVERGE: Duration = Duration::from_secs(90);
const READ: Duration = Duration::from_secs(60);

/// MM2's stored next offsets (last copied + 1) per partition of `topic` for alias `cluster`,
/// read from the Connect offsets topic as the test's own decoder sees it (JSON key
/// `["MirrorSourceConnector",{"cluster":..,"partition":..,"topic":..}]`, value `{"offset":n}`).
fn mm2_stored(
    b: &KafkaCluster,
    offsets_topic: &str,
    cluster: &str,
    topic: &str,
) -> BTreeMap<i32, i64> {
    let mut stored = BTreeMap::new();
    for r in read_all(&b.bootstrap(), offsets_topic, READ) {
        let Some(key) = r.key.as_deref() else {
            continue;
        };
        let Ok((name, p)) = serde_json::from_slice::<(String, serde_json::Value)>(key) else {
            continue;
        };
        if name != "MirrorSourceConnector" || p["cluster"] != cluster || p["topic"] != topic {
            continue;
        }
        let partition = p["partition"].as_i64().expect("partition") as i32;
        match r.value.as_deref() {
            None => {
                stored.remove(&partition);
            }
            Some(v) => {
                let v: serde_json::Value = serde_json::from_slice(v).expect("offset value");
                stored.insert(partition, v["offset"].as_i64().expect("offset") + 1);
            }
        }
    }
    stored
}

/// The group's checkpoints for `remote` in topic order, per partition: (upstream, downstream).
fn checkpoints_of(
    b: &KafkaCluster,
    topic: &str,
    group: &str,
    remote: &str,
) -> BTreeMap<i32, Vec<(i64, i64)>> {
    let mut by_partition: BTreeMap<i32, Vec<(i64, i64)>> = BTreeMap::new();
    for r in read_all(&b.bootstrap(), topic, READ) {
        let (Some(k), Some(v)) = (r.key.as_deref(), r.value.as_deref()) else {
            continue;
        };
        let Ok(c) = Checkpoint::decode(k, v) else {
            continue;
        };
        if c.group == group && c.topic == remote {
            by_partition
                .entry(c.partition)
                .or_default()
                .push((c.upstream_offset, c.downstream_offset));
        }
    }
    by_partition
}

#[test]
fn strait_takes_over_from_a_killed_mirror_maker_2_without_loss_or_a_full_recopy() {
    let (a, b) = shared_clusters();
    take_over_from_mm2(a, b, DEFAULT_KAFKA_VERSION);
}

/// The take-over from the MirrorMaker 2 of Kafka `mm2_version`, between `a` and `b` (also used
/// by the version matrix, `versions.rs`).
pub fn take_over_from_mm2(a: &KafkaCluster, b: &KafkaCluster, mm2_version: &str) {
    let suffix = random_u64() as u32;
    let (m, n) = (format!("M{suffix:08x}"), format!("N{suffix:08x}"));
    let topic = unique_name("takeover");
    let group = unique_name("takeover-group");
    let remote = format!("{m}.{topic}");
    let checkpoints_topic = format!("{m}.checkpoints.internal");
    let offsets_topic = format!("mm2-offsets.{m}.internal");
    create_topic(&a.bootstrap(), &topic, PARTITIONS, &[]);
    let stream = RecordStream::start(&a.bootstrap(), &topic, PARTITIONS, RATE);

    // 1. MirrorMaker 2 copies while the stream runs; Connect stores its positions every 3 s.
    let properties = Mm2Properties::one_way((&m, a), (&n, b))
        .flow(&m, &n, "topics", &topic)
        .flow(&m, &n, "groups", &group)
        .flow(&m, &n, "heartbeats.replication.enabled", "false")
        .for_cluster(&n, "offset.flush.interval.ms", "3000");
    let mut mm2 = Mm2Process::start_version(&properties, mm2_version);
    let mut follower = Follower::new(&b.bootstrap(), &remote, PARTITIONS);
    follower.wait_covers(
        &[100, 100],
        FIRST_RECORD,
        "MM2's first 100 records per partition",
    );
    // The group commits at 50 on A; MM2 checkpoints it.
    commit_group_offsets(&a.bootstrap(), &group, &[(&topic, 0, 50), (&topic, 1, 50)]);
    wait_until(CONVERGE, "MM2's checkpoints of the group", || {
        mm2.assert_running();
        checkpoints_of(b, &checkpoints_topic, &group, &remote).len() == PARTITIONS as usize
    });
    wait_until(CONVERGE, "MM2's sync of the group to B", || {
        group_offsets(&b.bootstrap(), &group, &remote, PARTITIONS)
            .iter()
            .all(Option::is_some)
    });
    wait_until(
        CONVERGE,
        "MM2's stored positions of both partitions",
        || mm2_stored(b, &offsets_topic, &m, &topic).len() == PARTITIONS as usize,
    );
    // More copying after the last flush, then a crash.
    follower.wait_covers(
        &[300, 300],
        CONVERGE,
        "300 records per partition copied by MM2",
    );
    mm2.kill();

    let stored = mm2_stored(b, &offsets_topic, &m, &topic);
    let by_mm2 = read_all(&b.bootstrap(), &remote, READ);
    // The records MM2 copied beyond its stored positions: copied again by any resume.
    let mut beyond = [0usize; PARTITIONS as usize];
    for r in &by_mm2 {
        let (p, seq) = parse_stream_key(r.key.as_deref()).expect("a stream record");
        if seq as i64 >= stored[&p] {
            beyond[p as usize] += 1;
        }
    }
    let mm2_checkpoints = checkpoints_of(b, &checkpoints_topic, &group, &remote);
    let mm2_synced = group_offsets(&b.bootstrap(), &group, &remote, PARTITIONS);
    eprintln!(
        "take_over (MM2 {mm2_version}): MM2 killed with {} records on the target, stored next offsets {stored:?}, \
         {beyond:?} copied beyond them; its checkpoints {mm2_checkpoints:?}, group on B at \
         {mm2_synced:?}",
        by_mm2.len()
    );

    // 2. strait on the same aliases, with the take-over.
    let config = StraitConfig::new()
        .cluster(&m, ClusterConfig::of(a))
        .cluster(&n, ClusterConfig::of(b))
        .mirror(
            MirrorConfig::new(&m, &n)
                .topics(&[&topic])
                .groups(&[&group])
                .replication_factor(1)
                .refresh_topics_interval("1s")
                .emit_checkpoints_interval("1s")
                .sync_group_offsets(true)
                .sync_group_offsets_interval("1s")
                .set("take_over_mm2", yaml_map(&[("enabled", true)])),
        );
    let mut strait = StraitProcess::start(&config);
    let started = Instant::now();
    // The group moves on past the take-over point.
    let summary_so_far = stream.sent_per_partition();
    let later: Vec<i64> = summary_so_far.iter().map(|&c| c as i64).collect();
    wait_until(CONVERGE, "strait copying after the take-over", || {
        strait.assert_running();
        end_offsets(&b.bootstrap(), &remote).iter().sum::<i64>() > by_mm2.len() as i64 + 100
    });
    commit_group_offsets(
        &a.bootstrap(),
        &group,
        &[(&topic, 0, later[0]), (&topic, 1, later[1])],
    );
    let summary = stream.finish();
    follower.wait_covers(
        &summary.per_partition,
        CONVERGE,
        "the whole stream on the target",
    );
    let caught_up = started.elapsed();
    wait_until(
        CONVERGE,
        "strait's checkpoints of the group's new offsets",
        || {
            let c = checkpoints_of(b, &checkpoints_topic, &group, &remote);
            (0..PARTITIONS).all(|p| {
                c.get(&p)
                    .is_some_and(|v| v.last().unwrap().0 == later[p as usize])
            })
        },
    );
    let synced = wait_for(CONVERGE, "the group's new offsets synced to B", || {
        let now = group_offsets(&b.bootstrap(), &group, &remote, PARTITIONS);
        let c = checkpoints_of(b, &checkpoints_topic, &group, &remote);
        (0..PARTITIONS)
            .all(|p| now[p as usize] == Some(c[&p].last().unwrap().1))
            .then_some(now)
    });
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(40)).code(), Some(0));

    // 3. Every record, the duplicates exactly MM2's copies beyond its stored positions.
    let source = read_all(&a.bootstrap(), &topic, READ);
    let target = follower.read_to_end(READ);
    let copy = check_copy(&source, &target, &summary.per_partition);
    let want_duplicates: usize = beyond.iter().sum();
    eprintln!(
        "take_over (MM2 {mm2_version}): {} source records, {} on the target, {} duplicates ({} expected: MM2's \
         copies past its stored positions), the whole stream on the target {:.1}s after strait \
         started",
        copy.source_records,
        copy.target_records,
        copy.duplicates,
        want_duplicates,
        caught_up.as_secs_f64()
    );
    assert_eq!(copy.lost, 0);
    assert_eq!(
        copy.duplicates, want_duplicates,
        "duplicates: strait resumes exactly at MM2's stored positions (no full re-copy)"
    );
    assert_eq!(copy.target_records, copy.source_records + want_duplicates);

    // 4. Checkpoints forward only across the change of writer, and the final translation exact.
    let all = checkpoints_of(b, &checkpoints_topic, &group, &remote);
    for (p, list) in &all {
        for pair in list.windows(2) {
            assert!(
                pair[1].0 >= pair[0].0 && pair[1].1 >= pair[0].1,
                "partition {p}: checkpoint {:?} after {:?} goes backwards",
                pair[1],
                pair[0]
            );
        }
        let mm2_last = mm2_checkpoints[p].last().unwrap();
        assert!(
            list.last().unwrap().1 > mm2_last.1,
            "partition {p}: strait's checkpoint moved on"
        );
    }
    for p in 0..PARTITIONS {
        let before = mm2_synced[p as usize].expect("MM2 synced the group to B");
        let after = synced[p as usize].expect("strait synced the group to B");
        assert!(
            after > before,
            "partition {p}: the group on B moved forward ({before} -> {after})"
        );
        // A consumer resuming there reads the record the group committed at on A next.
        let at = target
            .iter()
            .find(|r| r.partition == p && r.offset == after)
            .expect("the record at the translated offset");
        assert_eq!(
            parse_stream_key(at.key.as_deref()),
            Some((p, later[p as usize] as u64)),
            "partition {p}: the translated offset {after} points at the group's next record"
        );
    }

    // 5. The positions taken over were stored: a second start does not take over again.
    let log = strait.log_contents();
    assert!(
        log.contains("take-over from MirrorMaker 2: 2 partition position(s) taken over, 0 kept"),
        "{log}"
    );
    strait.restart();
    wait_until(CONVERGE, "the second start's take-over summary", || {
        strait.log_contents().contains("taken over, 2 kept")
    });
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(40)).code(), Some(0));
}
