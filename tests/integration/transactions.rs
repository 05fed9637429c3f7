//! Transactional source topics (issue 14, "offset map history bounded by memory, not by 256"):
//! every committed transaction leaves a commit marker in the log, so each transaction is a gap
//! in the source offsets and a run of its own in strait's offset map. A group far behind the end
//! of such a topic still gets an exact checkpoint, also after strait restarts, and a consumer
//! that resumes on the target from the synced offset reads exactly the records the group had
//! not read: none skipped, none replayed. (With the old cap of 256 runs a partition, a group
//! more than 256 transactions behind got no checkpoint at all.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ::strait::records::Checkpoint;

use crate::harness::*;

const TRANSACTIONS: usize = 10_000;
/// How far behind the end the group has committed.
const BEHIND: usize = 5_000;
/// Transactional producers writing at once (one alone commits too slowly on a busy host).
const PRODUCERS: usize = 16;
const DEADLINE: Duration = Duration::from_secs(90);

/// 1, 2 or 3 records a transaction (runs of different lengths), values naming the transaction.
fn transactions(tag: &str, range: std::ops::Range<usize>) -> Vec<Vec<OutRecord>> {
    range
        .map(|t| {
            (0..1 + t % 3)
                .map(|i| OutRecord::to_partition(0, format!("{tag}{t}-{i}")))
                .collect()
        })
        .collect()
}

/// The source log as produced: offset -> value, and the last offset of each transaction in
/// the order they were committed (the log order of their last records).
#[derive(Default)]
struct Source {
    values: BTreeMap<i64, String>,
    ends: Vec<i64>,
}

impl Source {
    fn add(&mut self, batches: &[Vec<OutRecord>], offsets: &[(i32, i64)]) {
        let mut at = offsets.iter();
        let mut ends = Vec::new();
        for batch in batches {
            let mut last = 0;
            for r in batch {
                let &(p, o) = at.next().expect("an offset per record");
                assert_eq!(p, 0);
                let value = String::from_utf8(r.value.clone().expect("a value")).unwrap();
                self.values.insert(o, value);
                last = o;
            }
            ends.push(last);
        }
        ends.sort();
        self.ends.extend(ends);
    }

    /// The offset a group commits once it has read through the `t`th transaction to end in
    /// the log: the offset after its last record (its commit marker, or another producer's
    /// record).
    fn after(&self, t: usize) -> i64 {
        self.ends[t] + 1
    }

    /// The stretches of consecutive offsets holding records (between them: commit markers):
    /// (first offset, length). strait's map has one run for each.
    fn stretches(&self) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = Vec::new();
        for &o in self.values.keys() {
            match out.last_mut() {
                Some((first, len)) if *first + *len == o => *len += 1,
                _ => out.push((o, 1)),
            }
        }
        out
    }

    /// The first record at or after `u`.
    fn first_from(&self, u: i64) -> &String {
        self.values.range(u..).next().expect("a record after").1
    }

    /// The values from upstream offset `u` on.
    fn from(&self, u: i64) -> Vec<String> {
        self.values.range(u..).map(|(_, v)| v.clone()).collect()
    }
}

/// The latest progress record of `topic`-0: (stored position, first run's upstream offset,
/// number of runs holding records, bytes of the encoded runs). Decoded here, independently of
/// strait. (A restart may add a run of no records, where copying resumed.)
fn stored_runs(b: &KafkaCluster, topic: &str) -> Option<(i64, i64, usize, usize)> {
    let key = format!(r#"{{"source":"A","topic":"{topic}","partition":0}}"#);
    let records = read_all(&b.bootstrap(), "strait-offsets.A.internal", DEADLINE);
    let last = records
        .iter()
        .rev()
        .find(|r| r.key.as_deref() == Some(key.as_bytes()))?;
    let value: serde_json::Value =
        serde_json::from_slice(last.value.as_deref().expect("a value")).expect("progress JSON");
    let runs = value["runs"].as_array().expect("delta-encoded runs");
    let numbers: Vec<i64> = runs.iter().map(|n| n.as_i64().expect("a number")).collect();
    assert_eq!(numbers.len() % 3, 0, "three numbers a run");
    let bytes = serde_json::to_string(&value["runs"]).unwrap().len();
    let with_records = numbers.chunks(3).filter(|r| r[2] > 0).count();
    let position = value["next_offset"].as_i64().expect("a position");
    // The first run's upstream offset is relative to 0.
    Some((position, *numbers.first()?, with_records, bytes))
}

/// The latest checkpoint of `group` for `remote`-0, once it is for upstream offset `upstream`
/// and has reached downstream offset `exact`. Checkpoints written while replication had not
/// reached the group's offset yet stop at the end of what was copied (nothing skipped); the
/// next round after the copy passed it must write the exact offset (or one beyond, which the
/// caller's assertion rejects).
fn checkpoint_at(
    b: &KafkaCluster,
    group: &str,
    remote: &str,
    upstream: i64,
    exact: i64,
) -> Checkpoint {
    let mut reader = TopicReader::new(&b.bootstrap(), "A.checkpoints.internal");
    let latest = |recs: &[Rec]| -> Option<Checkpoint> {
        recs.iter()
            .filter_map(|r| Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
            .rfind(|c| c.group == group && c.topic == remote && c.partition == 0)
    };
    reader.wait_until(
        DEADLINE,
        &format!(
            "the checkpoint of {group} at upstream offset {upstream} to reach downstream {exact}"
        ),
        |recs| {
            latest(recs)
                .is_some_and(|c| c.upstream_offset == upstream && c.downstream_offset >= exact)
        },
    );
    latest(reader.records()).expect("the checkpoint")
}

/// The target offset of the record whose value is `value`.
fn target_offset(target: &TopicReader, value: &str) -> i64 {
    target
        .records()
        .iter()
        .find(|r| r.value_str() == value)
        .unwrap_or_else(|| panic!("{value} on the target"))
        .offset
}

#[test]
fn a_group_thousands_of_transactions_behind_keeps_an_exact_checkpoint() {
    let started = Instant::now();
    let (a, b) = shared_clusters();
    let topic = unique_name("txn");
    let remote = format!("A.{topic}");
    let group = unique_name("txn-group");
    create_topic(&a.bootstrap(), &topic, 1, &[]);

    let mut source = Source::default();
    let first = transactions("a", 0..TRANSACTIONS);
    let offsets = produce_committed_transactions(&a.bootstrap(), &topic, &first, PRODUCERS);
    source.add(&first, &offsets);
    eprintln!(
        "{TRANSACTIONS} transactions produced in {:?}",
        started.elapsed()
    );

    // The group read until the end of the 5,000th transaction: 5,000 transactions behind the
    // end, thousands of commit markers (gaps, runs of the map) after its committed offset.
    let lagging = source.after(TRANSACTIONS - BEHIND - 1);
    let gaps_after = source.stretches().iter().filter(|s| s.0 >= lagging).count();
    eprintln!("{gaps_after} stretches of records after the group's offset {lagging}");
    assert!(gaps_after > 1_000, "far more runs than the old cap of 256");
    commit_group_offsets(&a.bootstrap(), &group, &[(&topic, 0, lagging)]);

    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic])
            .groups(&[&group])
            .emit_checkpoints_interval("500ms")
            .sync_group_offsets_interval("500ms"),
    );
    let mut strait = StraitProcess::start(&config);
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(source.values.len(), DEADLINE);

    // Exact: the target offset of the first record the group has not read.
    let exact = target_offset(&target, source.first_from(lagging));
    let c = checkpoint_at(b, &group, &remote, lagging, exact);
    assert_eq!(
        c.downstream_offset, exact,
        "checkpoint of a group {BEHIND} transactions behind"
    );

    // A restart keeps the history the group needs: after it, the group moves on by another
    // 1,000 transactions and more are written; its new checkpoint is exact too.
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(40)).code(), Some(0));
    let moved = source.after(TRANSACTIONS - BEHIND + 999);
    commit_group_offsets(&a.bootstrap(), &group, &[(&topic, 0, moved)]);
    let more = transactions("b", TRANSACTIONS..TRANSACTIONS + 100);
    let offsets = produce_committed_transactions(&a.bootstrap(), &topic, &more, 1);
    source.add(&more, &offsets);
    let mut strait = StraitProcess::start(&config);
    target.wait_for_count(source.values.len(), DEADLINE);
    let translated = target_offset(&target, source.first_from(moved));
    let c = checkpoint_at(b, &group, &remote, moved, translated);
    assert_eq!(
        c.downstream_offset, translated,
        "checkpoint after a restart"
    );

    // The history below the group's offset is gone from the progress record (the next write
    // after checkpoints read the group), what it needs is there, and it is compact.
    let last = transactions("c", TRANSACTIONS + 100..TRANSACTIONS + 101);
    let offsets = produce_committed_transactions(&a.bootstrap(), &topic, &last, 1);
    source.add(&last, &offsets);
    target.wait_for_count(source.values.len(), DEADLINE);
    let stretches = source.stretches();
    // The stretch holding the group's offset, or the one before it when that is a marker.
    let kept_from = stretches
        .iter()
        .rposition(|s| s.0 <= moved)
        .expect("a stretch at or before the group's offset");
    let want_first = stretches[kept_from].0;
    // Progress is written once a second: wait for the record past the last source record.
    let end = *source.values.keys().next_back().expect("records");
    let (_, _, runs, bytes) = wait_for(
        DEADLINE,
        &format!(
            "the stored map to start at {want_first}, the run that translates the group's \
             offset {moved}, with the position past {end}"
        ),
        || stored_runs(b, &topic).filter(|&(p, u, _, _)| u == want_first && p > end),
    );
    assert_eq!(
        runs,
        stretches.len() - kept_from,
        "one run per stretch of records from there on"
    );
    eprintln!(
        "progress record: {runs} runs in {bytes} bytes ({:.1} bytes a run)",
        bytes as f64 / runs as f64
    );
    assert!(bytes <= 8 * runs, "{bytes} bytes for {runs} runs");

    // A consumer resuming on the target from the offset synced there reads exactly the records
    // the group has not read on the source.
    wait_until(DEADLINE, "the group's offset synced to the target", || {
        group_offsets(&b.bootstrap(), &group, &remote, 1) == [Some(translated)]
    });
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(40)).code(), Some(0));
    let resumed: Vec<String> = resume_as_group(&b.bootstrap(), &group, &remote, 1, DEADLINE)
        .iter()
        .map(Rec::value_str)
        .collect();
    let unread = source.from(moved);
    let read: std::collections::HashSet<&String> = resumed.iter().collect();
    let skipped = unread.iter().filter(|v| !read.contains(v)).count();
    let replayed = resumed.len() as i64 - (unread.len() - skipped) as i64;
    eprintln!(
        "resumed on the target: {} records, {skipped} skipped, {replayed} replayed ({:?} in all)",
        resumed.len(),
        started.elapsed()
    );
    assert_eq!(resumed, unread, "nothing skipped, nothing replayed");
}
