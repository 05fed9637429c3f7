//! Loss on the target side: a remote topic deleted on the target while strait runs is noticed
//! (error log, `strait_target_log_resets_total`), copying goes on into the re-created topic, and
//! the runbook's way to copy the partition again (a tombstone for its stored position) restores
//! every record.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::http::samples;
use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(120);

#[test]
fn a_remote_topic_deleted_on_the_target_is_reported_and_the_runbook_copies_it_again() {
    const FIRST: usize = 50;
    const AFTER: usize = 10;
    let (a, b) = shared_clusters();
    let topic = unique_name("target_loss");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let batch = |from: usize, to: usize| -> Vec<OutRecord> {
        (from..to)
            .map(|i| OutRecord::to_partition(0, format!("r{i:04}")))
            .collect()
    };
    produce(&a.bootstrap(), &topic, &batch(0, FIRST));
    let config = StraitConfig::pair(a, b).mirror(
        MirrorConfig::a_to_b(&[&topic])
            .refresh_topics_interval("1s")
            .emit_checkpoints(false),
    );
    let mut strait = StraitProcess::start(&config);
    let addr = strait.http_addr();
    TopicReader::new(&b.bootstrap(), &remote).wait_for_count(FIRST, ARRIVAL);
    // Everything acknowledged is stored before the topic goes.
    wait_until(ARRIVAL, "the position stored", || {
        stored_position(b, &topic) == Some(FIRST as i64)
    });

    // strait's topic sync creates it again (empty), within a refresh interval: too soon, at
    // times, for a metadata poll to see it gone; the second creation in strait's log is what
    // says that the deletion happened.
    request_topic_deletion(&b.bootstrap(), &remote);
    let created = |log: &str| {
        log.lines()
            .filter(|l| {
                l.contains("created remote topic") && l.contains(&format!("remote={remote} "))
            })
            .count()
    };
    wait_until(ARRIVAL, "the remote topic created again by strait", || {
        created(&strait.log_contents()) == 2
    });
    // The new records land in the new log from offset 0.
    produce(&a.bootstrap(), &topic, &batch(FIRST, FIRST + AFTER));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(AFTER, ARRIVAL);
    let values: Vec<String> = target.records().iter().map(Rec::value_str).collect();
    let want: Vec<String> = (FIRST..FIRST + AFTER).map(|i| format!("r{i:04}")).collect();
    assert_eq!(
        values, want,
        "the new records, from offset 0 of the new log"
    );

    let resets = wait_for(ARRIVAL, "the reset counted", || {
        let text = get_ok(&addr, "/metrics");
        sample(
            &text,
            "strait_target_log_resets_total",
            &[("mirror", "A->B"), ("topic", &remote)],
        )
    });
    assert_eq!(resets, 1.0);
    let log = strait.log_contents();
    let line = log
        .lines()
        .find(|l| l.contains("the target lost replicated records"))
        .unwrap_or_else(|| panic!("no error line about the lost records:\n{log}"));
    assert!(
        line.contains("ERROR") && line.contains(&format!("from offset {FIRST} to 0")),
        "{line}"
    );

    // The runbook: stop, forget the stored position with a tombstone, start again.
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(60)).code(), Some(0));
    let key = format!(r#"{{"source":"A","topic":"{topic}","partition":0}}"#);
    produce(
        &b.bootstrap(),
        "strait-offsets.A.internal",
        &[OutRecord {
            partition: Some(0),
            key: Some(key.into_bytes()),
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }],
    );
    let strait = StraitProcess::start(&config);
    target.wait_until(ARRIVAL, "every source record on the target again", |rs| {
        rs.iter().map(Rec::value_str).collect::<BTreeSet<_>>().len() == FIRST + AFTER
    });
    // Copied again from the log start, in order, after the records already there.
    let again: Vec<String> = target.records()[AFTER..]
        .iter()
        .map(Rec::value_str)
        .collect();
    let all: Vec<String> = (0..FIRST + AFTER).map(|i| format!("r{i:04}")).collect();
    assert_eq!(again, all, "the copy after the tombstone");
    drop(strait);
}

/// The latest stored position of `topic`-0 in `strait-offsets.A.internal` (tombstones
/// included: `None`).
fn stored_position(b: &KafkaCluster, topic: &str) -> Option<i64> {
    let key = format!(r#"{{"source":"A","topic":"{topic}","partition":0}}"#);
    let records = read_all(&b.bootstrap(), "strait-offsets.A.internal", ARRIVAL);
    let last = records
        .iter()
        .rev()
        .find(|r| r.key.as_deref() == Some(key.as_bytes()))?;
    let value: serde_json::Value = serde_json::from_slice(last.value.as_deref()?).ok()?;
    value["next_offset"].as_i64()
}

/// A source topic deleted while strait runs: its partitions are released (no longer assigned,
/// no metric series left), the other topic of the mirror goes on.
#[test]
fn a_deleted_source_topic_releases_its_partitions_and_their_metric_series() {
    let (a, b) = shared_clusters();
    let gone = unique_name("src_deleted");
    let kept = unique_name("src_kept");
    create_topic(&a.bootstrap(), &gone, 2, &[]);
    create_topic(&a.bootstrap(), &kept, 1, &[]);
    for t in [&gone, &kept] {
        produce(&a.bootstrap(), t, &[OutRecord::to_partition(0, "first")]);
    }
    let config = StraitConfig::pair(a, b).mirror(
        MirrorConfig::a_to_b(&[&gone, &kept])
            .refresh_topics_interval("1s")
            .emit_checkpoints(false),
    );
    let strait = StraitProcess::start(&config);
    let addr = strait.http_addr();
    let series = |text: &str, topic: &str| {
        samples(
            text,
            "strait_replication_lag_records",
            &[("mirror", "A->B"), ("topic", topic)],
        )
        .len()
    };
    // Per topic, not the mirror's total: the mirror also copies A's `heartbeats` topic once
    // another test's mirror to A has written it.
    wait_until(ARRIVAL, "three partitions measured", || {
        let text = get_ok(&addr, "/metrics");
        series(&text, &gone) == 2 && series(&text, &kept) == 1
    });

    delete_topic(&a.bootstrap(), &gone);
    wait_until(ARRIVAL, "the deleted topic's partitions released", || {
        let text = get_ok(&addr, "/metrics");
        series(&text, &gone) == 0 && series(&text, &kept) == 1
    });
    let log = strait.log_contents();
    let released = log
        .lines()
        .filter(|l| l.contains("partition no longer replicated") && l.contains(&gone))
        .count();
    assert_eq!(released, 2, "{log}");
    // The other topic is still copied.
    produce(
        &a.bootstrap(),
        &kept,
        &[OutRecord::to_partition(0, "second")],
    );
    TopicReader::new(&b.bootstrap(), &format!("A.{kept}")).wait_for_count(2, ARRIVAL);
}
