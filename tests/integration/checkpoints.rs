//! Checkpoints (issue: offset syncs, exact translation, checkpoints): a group's committed
//! offsets on the source become MM2-format checkpoints in `A.checkpoints.internal` on the
//! target, with the exact downstream offset; a consumer resuming there on the target skips
//! nothing and replays nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use ::strait::records::Checkpoint;

use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(90);

/// Partition 0: plain records. Partition 1: committed, aborted, committed transactions, so the
/// committed offset of the group falls inside the gap the aborted records left.
#[test]
fn checkpoint_translates_exactly_and_the_group_resumes_without_skipping() {
    let (a, b) = shared_clusters();
    let topic = unique_name("ckpt");
    let remote = format!("A.{topic}");
    let group = unique_name("ckpt-group");
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
    let source = read_all(&a.bootstrap(), &topic, ARRIVAL);
    let source_of = |p: i32| -> BTreeMap<i64, String> {
        source
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| (r.offset, r.value_str()))
            .collect()
    };
    let (s0, s1) = (source_of(0), source_of(1));
    // Partition 1: c0 at 0..10, commit marker 10, aborted 11..16, abort marker 16, c1 17..27.
    assert_eq!(
        s1.keys().copied().collect::<Vec<_>>(),
        (0..10).chain(17..27).collect::<Vec<_>>()
    );

    // The group read 25 records of partition 0, and partition 1 up to the aborted records.
    let committed = [(topic.as_str(), 0, 25), (topic.as_str(), 1, 13)];
    commit_group_offsets(&a.bootstrap(), &group, &committed);

    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic]).emit_checkpoints_interval("500ms"),
    );
    let strait = StraitProcess::start(&config);
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(60, ARRIVAL);

    let mut checkpoints = TopicReader::new(&b.bootstrap(), "A.checkpoints.internal");
    let ours = |recs: &[Rec]| -> BTreeMap<i32, Checkpoint> {
        recs.iter()
            .filter_map(|r| Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
            .filter(|c| c.group == group && c.topic == remote)
            .map(|c| (c.partition, c))
            .collect()
    };
    checkpoints.wait_until(ARRIVAL, "checkpoints for both partitions", |recs| {
        ours(recs).len() == 2
    });
    let got = ours(checkpoints.records());

    // Group offset sync: the group has no members on the target, so the same offsets are
    // committed there.
    let want: Vec<Option<i64>> = (0..2).map(|p| Some(got[&p].downstream_offset)).collect();
    wait_until(ARRIVAL, "the group's offsets synced to the target", || {
        group_offsets(&b.bootstrap(), &group, &remote, 2) == want
    });
    drop(strait);

    for (p, src, upstream) in [(0, &s0, 25i64), (1, &s1, 13i64)] {
        let c = &got[&p];
        assert_eq!(
            c.upstream_offset, upstream,
            "partition {p}: upstream offset"
        );
        // The exact answer from the data: where the first source record at or after the
        // committed offset landed on the target.
        let (_, first_value) = src
            .range(upstream..)
            .next()
            .expect("records after the commit");
        let want = target
            .records()
            .iter()
            .find(|r| r.partition == p && &r.value_str() == first_value)
            .expect("that record on the target")
            .offset;
        assert_eq!(
            c.downstream_offset, want,
            "partition {p}: translated offset"
        );

        // Resume on the target at the checkpoint: exactly the source records from the commit on.
        let resumed: Vec<String> = target
            .records()
            .iter()
            .filter(|r| r.partition == p && r.offset >= c.downstream_offset)
            .map(|r| r.value_str())
            .collect();
        let rest: Vec<String> = src.range(upstream..).map(|(_, v)| v.clone()).collect();
        assert_eq!(
            resumed, rest,
            "partition {p}: nothing skipped, nothing replayed"
        );
    }
    eprintln!("checkpoints: {got:?}");
}

/// Group offset sync leaves a target group with an active member alone (it owns its offsets),
/// and says so in the log.
#[test]
fn group_offset_sync_skips_a_target_group_with_an_active_member() {
    let (a, b) = shared_clusters();
    let topic = unique_name("busy");
    let remote = format!("A.{topic}");
    let group = unique_name("busy-group");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let records: Vec<OutRecord> = (0..20)
        .map(|i| OutRecord::to_partition(0, format!("r-{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &records);
    commit_group_offsets(&a.bootstrap(), &group, &[(topic.as_str(), 0, 10)]);
    // The remote topic must exist before a member can subscribe to it.
    create_topic(&b.bootstrap(), &remote, 1, &[]);
    let member = ActiveMember::join(&b.bootstrap(), &group, &remote);

    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic])
            .emit_checkpoints_interval("500ms")
            .sync_group_offsets_interval("500ms"),
    );
    let strait = StraitProcess::start(&config);
    let mut checkpoints = TopicReader::new(&b.bootstrap(), "A.checkpoints.internal");
    checkpoints.wait_until(ARRIVAL, "a checkpoint of the busy group", |recs| {
        recs.iter().any(|r| {
            r.key
                .as_deref()
                .and_then(|k| r.value.as_deref().map(|v| (k, v)))
                .and_then(|(k, v)| Checkpoint::decode(k, v).ok())
                .is_some_and(|c| c.group == group)
        })
    });
    wait_until(ARRIVAL, "strait to log that it skipped the group", || {
        strait
            .log_contents()
            .lines()
            .any(|l| l.contains("group offset sync skipped") && l.contains(&group))
    });
    assert_eq!(
        group_offsets(&b.bootstrap(), &group, &remote, 1),
        vec![None],
        "nothing committed to a group with an active member"
    );
    drop(member);
    drop(strait);
}

fn checkpoints_of(recs: &[Rec], group: &str) -> Vec<Checkpoint> {
    recs.iter()
        .filter_map(|r| Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
        .filter(|c| c.group == group)
        .collect()
}

/// While replication lags behind the group, the checkpoint is the end of what has been copied
/// (resuming there skips nothing), never the position the group has reached upstream; once
/// replication catches up it is exact.
#[test]
fn checkpoint_is_never_ahead_of_replication() {
    let (a, b) = shared_clusters();
    let topic = unique_name("lag");
    let remote = format!("A.{topic}");
    let group = unique_name("lag-group");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let records: Vec<OutRecord> = (0..300)
        .map(|i| OutRecord::to_partition(0, format!("r-{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &records);
    commit_group_offsets(&a.bootstrap(), &group, &[(topic.as_str(), 0, 250)]);

    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic])
            // 20 records/s after a one-second burst: about 14 s to reach the group's offset.
            .throttle("1MiB", 20)
            .emit_checkpoints_interval("200ms"),
    );
    let strait = StraitProcess::start(&config);
    let mut checkpoints = TopicReader::new(&b.bootstrap(), "A.checkpoints.internal");
    checkpoints.wait_until(ARRIVAL, "a checkpoint while replication lags", |recs| {
        !checkpoints_of(recs, &group).is_empty()
    });
    let early = checkpoints_of(checkpoints.records(), &group)[0].clone();
    let copied = end_offsets(&b.bootstrap(), &remote)[0];
    eprintln!("lagging: first checkpoint {early:?}, {copied} records on the target after it");
    assert_eq!(early.upstream_offset, 250);
    assert!(
        early.downstream_offset < 250 && early.downstream_offset <= copied,
        "a lagging checkpoint must not be ahead of replication: {early:?}, target end {copied}"
    );
    checkpoints.wait_until(ARRIVAL, "the exact checkpoint once caught up", |recs| {
        checkpoints_of(recs, &group)
            .iter()
            .any(|c| c.downstream_offset == 250)
    });
    let all = checkpoints_of(checkpoints.records(), &group);
    for w in all.windows(2) {
        assert!(
            w[0].downstream_offset <= w[1].downstream_offset,
            "checkpoints go forward: {all:?}"
        );
    }
    assert!(all.iter().all(|c| c.downstream_offset <= 250), "{all:?}");
    drop(strait);
}

/// A restart of strait does not move a group's checkpoint backwards, even if the group's
/// committed offset on the source went back meanwhile.
#[test]
fn checkpoints_stay_monotonic_across_restarts() {
    let (a, b) = shared_clusters();
    let topic = unique_name("mono");
    let group = unique_name("mono-group");
    let marker_group = unique_name("mono-marker");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let records: Vec<OutRecord> = (0..50)
        .map(|i| OutRecord::to_partition(0, format!("r-{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &records);
    commit_group_offsets(&a.bootstrap(), &group, &[(topic.as_str(), 0, 40)]);
    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic]).emit_checkpoints_interval("300ms"),
    );
    let mut strait = StraitProcess::start(&config);
    let mut checkpoints = TopicReader::new(&b.bootstrap(), "A.checkpoints.internal");
    checkpoints.wait_until(ARRIVAL, "the group's checkpoint at 40", |recs| {
        checkpoints_of(recs, &group)
            .iter()
            .any(|c| c.downstream_offset == 40)
    });
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(40)).code(), Some(0));
    let before = checkpoints_of(checkpoints.records(), &group).len();

    // The group went back on the source while strait was down; another group appears.
    commit_group_offsets(&a.bootstrap(), &group, &[(topic.as_str(), 0, 10)]);
    commit_group_offsets(&a.bootstrap(), &marker_group, &[(topic.as_str(), 0, 20)]);
    strait.restart();
    // Once the marker group has its checkpoint, strait has seen both groups after the restart.
    checkpoints.wait_until(ARRIVAL, "the marker group's checkpoint", |recs| {
        !checkpoints_of(recs, &marker_group).is_empty()
    });
    let after = checkpoints_of(checkpoints.records(), &group);
    assert_eq!(
        after.len(),
        before,
        "no checkpoint written for the group after the restart: {after:?}"
    );
    assert_eq!(after.last().map(|c| c.downstream_offset), Some(40));
    drop(strait);
}

/// A compacted source topic: offsets the log cleaner removed are gaps in the offset map; a
/// group committed inside such a gap resumes on the target at the next surviving record.
#[test]
fn checkpoint_is_exact_for_a_compacted_source_topic() {
    let (a, b) = shared_clusters();
    let topic = unique_name("compact");
    let remote = format!("A.{topic}");
    let group = unique_name("compact-group");
    create_topic(
        &a.bootstrap(),
        &topic,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.ms", "100"),
            ("min.cleanable.dirty.ratio", "0.001"),
            ("min.compaction.lag.ms", "0"),
            ("delete.retention.ms", "100"),
        ],
    );
    // Ten rounds over five keys, then k0 and k2 once more and a last record to close the
    // segment: after compaction k1, k3, k4 of round 9 and the newer k0, k2 survive, with gaps
    // between them.
    let record = |key: String, value: String| OutRecord {
        partition: Some(0),
        key: Some(key.into_bytes()),
        value: Some(value.into_bytes()),
        ..OutRecord::default()
    };
    let mut rounds: Vec<Vec<OutRecord>> = (0..10)
        .map(|round| {
            (0..5)
                .map(|k| record(format!("k{k}"), format!("round{round}-k{k}")))
                .collect()
        })
        .collect();
    rounds.push(vec![
        record("k0".into(), "last-k0".into()),
        record("k2".into(), "last-k2".into()),
    ]);
    rounds.push(vec![record("end".into(), "end".into())]);
    let total: usize = rounds.iter().map(Vec::len).sum();
    for round in &rounds {
        produce(&a.bootstrap(), &topic, round);
        // Let the 100 ms segment roll so that earlier rounds become cleanable.
        std::thread::sleep(Duration::from_millis(150));
    }
    // The cleaner runs on its own schedule (15 s back-off): wait until it has finished.
    let mut source = BTreeMap::new();
    wait_until(
        Duration::from_secs(120),
        "the log cleaner to compact the topic",
        || {
            source = read_all(&a.bootstrap(), &topic, ARRIVAL)
                .into_iter()
                .map(|r| (r.offset, r.value_str()))
                .collect::<BTreeMap<i64, String>>();
            // Fully compacted: one record per key (k0..k4 and `end`).
            source.len() == 6
        },
    );
    // A removed offset between two surviving records: a gap inside the map.
    let first = *source.keys().next().expect("surviving records");
    let gap = (first..total as i64)
        .find(|o| !source.contains_key(o) && source.range(o..).next().is_some())
        .expect("a compacted offset");
    commit_group_offsets(&a.bootstrap(), &group, &[(topic.as_str(), 0, gap)]);

    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic]).emit_checkpoints_interval("300ms"),
    );
    let strait = StraitProcess::start(&config);
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(source.len(), ARRIVAL);
    let mut checkpoints = TopicReader::new(&b.bootstrap(), "A.checkpoints.internal");
    checkpoints.wait_until(ARRIVAL, "the group's checkpoint", |recs| {
        !checkpoints_of(recs, &group).is_empty()
    });
    let c = checkpoints_of(checkpoints.records(), &group)[0].clone();
    drop(strait);
    let (_, first_after) = source.range(gap..).next().expect("a record after the gap");
    let want = target
        .records()
        .iter()
        .find(|r| &r.value_str() == first_after)
        .expect("that record on the target")
        .offset;
    eprintln!(
        "compacted: {} of {total} records left, group at {gap} (compacted away) -> {c:?}",
        source.len()
    );
    assert_eq!(c.upstream_offset, gap);
    assert_eq!(c.downstream_offset, want, "the next surviving record");
}

/// Many groups (300, which took strait 1,249 threads when it kept a consumer per group): every
/// one gets its exact checkpoint and its offsets synced to the target, while strait's thread
/// count stays bounded (the offsets are read and committed in batches through one admin client
/// per cluster, not a client per group).
#[test]
fn many_groups_are_checkpointed_and_synced_through_one_client_per_cluster() {
    const GROUPS: usize = 300;
    let (a, b) = shared_clusters();
    let topic = unique_name("many-groups");
    let remote = format!("A.{topic}");
    let prefix = unique_name("mg");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let records: Vec<OutRecord> = (0..300)
        .map(|i| OutRecord::to_partition(0, format!("r-{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &records);
    // Group i committed offset 1 + i % 250 (a fresh remote topic holds the same offsets, so
    // that is also its exact translation).
    let committed = |i: usize| 1 + (i % 250) as i64;
    let groups: Vec<String> = (0..GROUPS).map(|i| format!("{prefix}-{i:03}")).collect();
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", a.bootstrap())
            .create()
            .expect("admin client");
    let commits: Vec<::strait::kafka::native_admin::OffsetsCommit> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.clone(), vec![(topic.clone(), 0, committed(i))]))
        .collect();
    for (g, r) in groups
        .iter()
        .zip(::strait::kafka::native_admin::alter_group_offsets(
            admin.inner(),
            &commits,
        ))
    {
        r.unwrap_or_else(|e| panic!("commit offsets of {g}: {e}"));
    }

    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic])
            .groups(&[&format!("{prefix}-.*")])
            .emit_checkpoints_interval("1s")
            .sync_group_offsets_interval("1s"),
    );
    let strait = StraitProcess::start(&config);
    let threads = || -> usize {
        std::fs::read_to_string(format!("/proc/{}/status", strait.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    };
    let mut most_threads = 0;
    let mut checkpoints = TopicReader::new(&b.bootstrap(), "A.checkpoints.internal");
    let latest = |recs: &[Rec]| -> BTreeMap<String, Checkpoint> {
        recs.iter()
            .filter_map(|r| Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
            .filter(|c| c.topic == remote && c.group.starts_with(&prefix))
            .map(|c| (c.group.clone(), c))
            .collect()
    };
    checkpoints.wait_until(ARRIVAL, "a checkpoint of every group", |recs| {
        most_threads = most_threads.max(threads());
        latest(recs).len() == GROUPS
    });
    let got = latest(checkpoints.records());
    for (i, g) in groups.iter().enumerate() {
        let c = &got[g];
        assert_eq!(
            (c.upstream_offset, c.downstream_offset),
            (committed(i), committed(i)),
            "{g}: checkpoint"
        );
    }
    // Every tenth group read back on the target with a consumer of its own.
    for (i, g) in groups.iter().enumerate().step_by(10) {
        wait_until(
            ARRIVAL,
            &format!("{g}'s offsets synced to the target"),
            || {
                most_threads = most_threads.max(threads());
                group_offsets(&b.bootstrap(), g, &remote, 1) == vec![Some(committed(i))]
            },
        );
    }
    most_threads = most_threads.max(threads());
    drop(strait);
    eprintln!("{GROUPS} groups checkpointed and synced; strait's threads at most {most_threads}");
    assert!(
        most_threads <= 64,
        "strait ran {most_threads} threads for {GROUPS} groups"
    );
}
