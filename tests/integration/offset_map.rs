//! The exact offset map (issue: offset syncs, exact translation, checkpoints): strait persists,
//! per source partition, the runs `(u, d, len)` of upstream offsets `u..u+len` written at
//! downstream offsets `d..d+len`, in its progress topic on the target (delta-encoded: per run
//! `u` and `d` relative to the end of the run before, then `len`). Checked here against the
//! real data on both clusters, with gaps made by aborted transactions.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::*;
use crate::mm2_formats::java_formatted;

const ARRIVAL: Duration = Duration::from_secs(90);

#[derive(Debug, serde::Deserialize)]
struct Run {
    u: i64,
    d: i64,
    len: i64,
}

#[derive(Debug)]
struct Stored {
    next_offset: i64,
    map: Vec<Run>,
}

#[derive(Debug, serde::Deserialize)]
struct StoredValue {
    next_offset: i64,
    runs: Vec<i64>,
}

/// The runs of the delta encoding, decoded here (independently of strait).
fn decode_runs(deltas: &[i64]) -> Vec<Run> {
    assert_eq!(deltas.len() % 3, 0, "three numbers a run: {deltas:?}");
    let (mut pu, mut pd) = (0, 0);
    deltas
        .chunks(3)
        .map(|t| {
            let run = Run {
                u: pu + t[0],
                d: pd + t[1],
                len: t[2],
            };
            (pu, pd) = (run.u + run.len, run.d + run.len);
            run
        })
        .collect()
}

/// Reads the latest stored value for (topic, partition) from `strait-offsets.A.internal`.
fn stored(b: &KafkaCluster, topic: &str, partition: i32) -> Stored {
    let key = format!(r#"{{"source":"A","topic":"{topic}","partition":{partition}}}"#);
    let records = read_all(&b.bootstrap(), "strait-offsets.A.internal", ARRIVAL);
    let last = records
        .iter()
        .rev()
        .find(|r| r.key.as_deref() == Some(key.as_bytes()))
        .unwrap_or_else(|| panic!("no stored position for {key}"));
    let value: StoredValue =
        serde_json::from_slice(last.value.as_deref().expect("a value")).expect("progress JSON");
    Stored {
        next_offset: value.next_offset,
        map: decode_runs(&value.runs),
    }
}

/// Committed, aborted, committed, aborted, committed transactions on one partition: the map has
/// one run per committed stretch, each run's records are byte-equal on both sides, the aborted
/// offsets (and transaction markers) are exactly the gaps, and the map ends at the stored
/// position.
/// offset -> value of one partition.
type Log = BTreeMap<i64, Vec<u8>>;

/// Source topic with committed/aborted transactions, replicated by strait until SIGTERM.
/// Returns the topic and the (offset -> value) of the source and of the remote topic.
fn replicate_with_gaps(name: &str) -> (String, Log, Log) {
    let (a, b) = shared_clusters();
    let topic = unique_name(name);
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let batch = |tag: &str, n: i32| -> Vec<OutRecord> {
        (0..n)
            .map(|i| OutRecord::to_partition(0, format!("{tag}-{i}")))
            .collect()
    };
    produce_transactions(
        &a.bootstrap(),
        &topic,
        &[
            (batch("c0", 7), true),
            (batch("x0", 4), false),
            (batch("c1", 5), true),
            (batch("x1", 3), false),
            (batch("c2", 6), true),
        ],
    );
    let source: BTreeMap<i64, Vec<u8>> = read_all(&a.bootstrap(), &topic, ARRIVAL)
        .into_iter()
        .map(|r| (r.offset, r.value.unwrap_or_default()))
        .collect();
    assert_eq!(source.len(), 18, "committed records readable on the source");

    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(18, ARRIVAL);
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(40)).code(), Some(0));
    let downstream: BTreeMap<i64, Vec<u8>> = target
        .records()
        .iter()
        .map(|r| (r.offset, r.value.clone().unwrap_or_default()))
        .collect();
    (topic, source, downstream)
}

#[test]
fn offset_map_is_exact_across_transaction_gaps() {
    let (_, b) = shared_clusters();
    let (topic, source, downstream) = replicate_with_gaps("omap");
    let s = stored(b, &topic, 0);
    eprintln!("offset map: {:?}", s);
    assert_eq!(
        s.map.len(),
        3,
        "one run per committed transaction: {:?}",
        s.map
    );
    let mut covered = 0;
    for run in &s.map {
        for i in 0..run.len {
            let up = source
                .get(&(run.u + i))
                .unwrap_or_else(|| panic!("run {run:?}: no source record at {}", run.u + i));
            let down = downstream
                .get(&(run.d + i))
                .unwrap_or_else(|| panic!("run {run:?}: no target record at {}", run.d + i));
            assert_eq!(up, down, "run {run:?} at +{i}");
            covered += 1;
        }
    }
    assert_eq!(covered, 18, "the runs cover every committed record");
    for w in s.map.windows(2) {
        let gap = w[1].u - (w[0].u + w[0].len);
        assert!(
            gap > 0,
            "runs are separated by the aborted records: {:?}",
            s.map
        );
        assert_eq!(w[1].d, w[0].d + w[0].len, "downstream is contiguous");
    }
    let last = s.map.last().expect("runs");
    assert!(
        s.next_offset >= last.u + last.len,
        "stored position {} is not before the end of the map",
        s.next_offset
    );
}

/// MM2-format offset syncs, in `mm2-offset-syncs.A.internal` on the target (strait's default
/// location; MM2's is the source), as Kafka's own `OffsetSyncFormatter` reads them: one per run start plus the last
/// copied record, each naming a source record and the target offset of the same record.
#[test]
fn offset_syncs_are_exact_and_read_by_mm2s_formatter() {
    let (_, b) = shared_clusters();
    let (topic, source, downstream) = replicate_with_gaps("osync");
    let sync_topic = "mm2-offset-syncs.A.internal";
    // Other tests write syncs here too; ours are all in before strait stopped.
    let count = read_all(&b.bootstrap(), sync_topic, ARRIVAL).len();
    let prefix = format!("OffsetSync{{topicPartition={topic}-0, ");
    let syncs: Vec<(i64, i64)> =
        java_formatted(&b.bootstrap(), sync_topic, "OffsetSyncFormatter", count)
            .iter()
            .filter_map(|line| line.strip_prefix(&prefix))
            .map(|rest| {
                // "upstreamOffset=U, downstreamOffset=D}"
                let nums: Vec<i64> = rest
                    .trim_end_matches('}')
                    .split(", ")
                    .map(|kv| {
                        kv.split('=')
                            .nth(1)
                            .expect("key=value")
                            .parse()
                            .expect("number")
                    })
                    .collect();
                (nums[0], nums[1])
            })
            .collect();
    eprintln!("offset syncs read by Java: {syncs:?}");
    for (u, d) in &syncs {
        assert_eq!(
            source.get(u),
            downstream.get(d),
            "sync {u} -> {d} names the same record on both sides"
        );
        assert!(
            source.contains_key(u),
            "sync {u} -> {d} names a source record"
        );
    }
    for want in [(0, 0), (13, 7), (23, 12), (28, 17)] {
        assert!(
            syncs.contains(&want),
            "sync {want:?} missing from {syncs:?}"
        );
    }
}
