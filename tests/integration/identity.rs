//! Topic identity and data gaps at the edges of the source log, with exact counts: records
//! deleted (retention, DeleteRecords) while strait is stopped, a source topic deleted and
//! created again under its name (while strait is stopped, and while it runs), a stored position
//! beyond the end of the source log, and `on_data_gap: stop`.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::harness::*;

/// Generous upper bound for data to show up on the target (2 cores, shared brokers).
const ARRIVAL: Duration = Duration::from_secs(60);
/// strait's progress topic for source `A` on `B`.
const PROGRESS: &str = "strait-offsets.A.internal";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

fn options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
}

/// Deletes `topic` and creates it again with `partitions` (the broker refuses the creation
/// while the deletion is still in progress: tried again until it is done, with a deadline).
fn recreate_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin = admin(bootstrap);
    for r in block_on(admin.delete_topics(&[topic], &options())).expect("delete topic") {
        r.unwrap_or_else(|(t, e)| panic!("delete topic {t}: {e}"));
    }
    wait_until(ARRIVAL, &format!("{topic} deleted"), || {
        !list_topics(bootstrap).contains(topic)
    });
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    wait_for(ARRIVAL, &format!("{topic} created again"), || {
        let results = block_on(admin.create_topics([&new], &options())).expect("create topic");
        match results.into_iter().next() {
            Some(Ok(_)) => Some(()),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => None,
            Some(Err((t, e))) => panic!("create topic {t}: {e}"),
            None => panic!("no result creating {topic}"),
        }
    });
    wait_until(
        ARRIVAL,
        &format!("{topic} with {partitions} partitions"),
        || partition_count(bootstrap, topic) == Some(partitions as usize),
    );
}

fn batch(partition: i32, prefix: &str, range: std::ops::Range<i64>) -> Vec<OutRecord> {
    range
        .map(|i| OutRecord::to_partition(partition, format!("{prefix}{i:03}")))
        .collect()
}

fn values(prefix: &str, range: std::ops::Range<i64>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:03}")).collect()
}

/// Per partition, the values on the target in offset order.
fn values_by_partition(target: &TopicReader) -> BTreeMap<i32, Vec<String>> {
    by_partition(target.records())
        .into_iter()
        .map(|(p, rs)| (p, rs.into_iter().map(Rec::value_str).collect()))
        .collect()
}

/// strait's current metrics.
fn metrics_of(strait: &StraitProcess) -> String {
    get_ok(&strait.http_addr(), "/metrics")
}

/// Every `strait_data_gap_offsets_total` series of `topic`: (reason, partition) -> offsets.
fn gaps(text: &str, topic: &str) -> BTreeMap<(String, String), f64> {
    samples(text, "strait_data_gap_offsets_total", &[("topic", topic)])
        .into_iter()
        .map(|(series, v)| {
            let label = |name: &str| {
                series
                    .split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap_or_default()
                    .to_string()
            };
            ((label("reason"), label("partition")), v)
        })
        .collect()
}

fn recreated(text: &str, topic: &str) -> Option<f64> {
    sample(
        text,
        "strait_topic_recreated_total",
        &[("mirror", "A->B"), ("topic", topic)],
    )
}

/// The latest progress record of `topic`-`partition` (source A) as JSON, if any.
fn progress_of(b: &KafkaCluster, topic: &str, partition: i32) -> Option<serde_json::Value> {
    let key = format!(r#"{{"source":"A","topic":"{topic}","partition":{partition}}}"#);
    read_all(&b.bootstrap(), PROGRESS, ARRIVAL)
        .into_iter()
        .rev()
        .find(|r| r.key.as_deref() == Some(key.as_bytes()))
        .and_then(|r| serde_json::from_slice(r.value.as_deref()?).ok())
}

/// Writes a progress record for `topic`-`partition` (source A), as strait would.
fn write_progress(b: &KafkaCluster, topic: &str, partition: i32, value: &serde_json::Value) {
    let key = format!(r#"{{"source":"A","topic":"{topic}","partition":{partition}}}"#);
    produce(
        &b.bootstrap(),
        PROGRESS,
        &[OutRecord {
            partition: Some(0),
            key: Some(key.into_bytes()),
            value: Some(serde_json::to_vec(value).unwrap()),
            ..OutRecord::default()
        }],
    );
}

/// The log lines of strait that contain every one of `parts`.
fn lines_with(strait: &StraitProcess, parts: &[&str]) -> Vec<String> {
    strait
        .log_contents()
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .map(str::to_string)
        .collect()
}

fn stop(strait: &mut StraitProcess) {
    strait.sigterm();
    assert_eq!(strait.wait_exit(ARRIVAL).code(), Some(0));
}

/// Retention (here DeleteRecords, which moves the log start as retention does) deletes records
/// of one partition while strait is stopped: exactly the deleted offsets are counted, for that
/// partition only, their range is logged, copying goes on at the log start, and no other
/// record is lost or copied twice.
#[test]
fn records_deleted_while_stopped_are_an_exact_per_partition_gap() {
    let (a, b) = shared_clusters();
    let topic = unique_name("gap-p");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    for p in 0..2 {
        produce(&a.bootstrap(), &topic, &batch(p, &format!("p{p}-"), 0..100));
    }
    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(200, ARRIVAL);
    stop(&mut strait);

    for p in 0..2 {
        produce(
            &a.bootstrap(),
            &topic,
            &batch(p, &format!("p{p}-"), 100..200),
        );
    }
    delete_records(&a.bootstrap(), &topic, 0, 150);
    assert_eq!(log_start(&a.bootstrap(), &topic, 0), 150);

    strait.restart();
    target.wait_for_count(350, ARRIVAL);
    let found = wait_for(ARRIVAL, "the data gap on /metrics", || {
        let g = gaps(&metrics_of(&strait), &topic);
        (!g.is_empty()).then_some(g)
    });
    assert_eq!(
        found,
        BTreeMap::from([(("out_of_range".to_string(), "0".to_string()), 50.0)]),
        "offsets 100..=149 of partition 0 were lost, nothing of partition 1"
    );
    let lines = lines_with(&strait, &["data gap:", &topic]);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("ERROR")
            && lines[0].contains("partition=0")
            && lines[0].contains("from_offset=100")
            && lines[0].contains("to_offset=149")
            && lines[0].contains("lost=50"),
        "{}",
        lines[0]
    );
    target.read_to_end(ARRIVAL);
    let got = values_by_partition(&target);
    let p0: Vec<String> = values("p0-", 0..100)
        .into_iter()
        .chain(values("p0-", 150..200))
        .collect();
    assert_eq!(
        got[&0], p0,
        "partition 0: before the gap once, then from the log start"
    );
    assert_eq!(
        got[&1],
        values("p1-", 0..200),
        "partition 1: everything, once"
    );
    assert_eq!(recreated(&metrics_of(&strait), &topic), None);
}

/// The issue's first report: a source topic deleted and created again under its name while
/// strait is stopped. Partition 0 of the new topic holds more records than the old position
/// (the old code resumed there and skipped everything below it, silently), partition 1 fewer.
/// Every record of the new topic is copied from offset 0, after the old topic's records on the
/// remote topic; the re-creation is counted once, logged at WARN, and no gap is counted.
#[test]
fn a_topic_recreated_while_strait_is_stopped_is_copied_from_its_first_offset() {
    let (a, b) = shared_clusters();
    let topic = unique_name("recreated");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    for p in 0..2 {
        produce(
            &a.bootstrap(),
            &topic,
            &batch(p, &format!("old{p}-"), 0..100),
        );
    }
    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(200, ARRIVAL);
    stop(&mut strait);
    let old = progress_of(b, &topic, 0).expect("a progress record");
    assert_eq!(old["next_offset"], 100, "{old}");
    let old_id = old["topic_id"]
        .as_str()
        .expect("the topic id stored")
        .to_string();
    assert_eq!(
        old_id.len(),
        22,
        "Kafka's text form of a topic id: {old_id}"
    );

    recreate_topic(&a.bootstrap(), &topic, 2);
    produce(&a.bootstrap(), &topic, &batch(0, "new0-", 0..150));
    produce(&a.bootstrap(), &topic, &batch(1, "new1-", 0..30));

    strait.restart();
    target.wait_for_count(200 + 180, ARRIVAL);
    target.read_to_end(ARRIVAL);
    let got = values_by_partition(&target);
    let want = |p: i32, new: i64| -> Vec<String> {
        values(&format!("old{p}-"), 0..100)
            .into_iter()
            .chain(values(&format!("new{p}-"), 0..new))
            .collect()
    };
    assert_eq!(
        got[&0],
        want(0, 150),
        "nothing below the old position skipped"
    );
    assert_eq!(got[&1], want(1, 30));
    let text = metrics_of(&strait);
    assert_eq!(
        recreated(&text, &topic),
        Some(1.0),
        "one re-creation, two partitions"
    );
    assert_eq!(
        gaps(&text, &topic),
        BTreeMap::new(),
        "no record of the new topic is lost"
    );
    let warned = lines_with(&strait, &["deleted and created again", &topic]);
    assert_eq!(warned.len(), 2, "one line per partition: {warned:#?}");
    assert!(
        warned.iter().all(|l| l.contains("WARN")
            && l.contains(&format!("old_topic_id={old_id}"))
            && !l.contains(&format!("new_topic_id={old_id}"))),
        "{warned:#?}"
    );
    assert!(
        warned.iter().any(|l| l.contains("old_position=100")),
        "{warned:#?}"
    );
    // The new position is stored with the new topic's id.
    stop(&mut strait);
    let new = progress_of(b, &topic, 0).expect("a progress record");
    assert_eq!(new["next_offset"], 150, "{new}");
    let new_id = new["topic_id"].as_str().expect("the new id stored");
    assert_ne!(new_id, old_id);
}

/// A source topic deleted and created again while strait copies it: strait sees the topic
/// gone (its partitions are released), then back with a new id, and copies the new topic from
/// offset 0 (again with more records than the old position). A second re-creation, done
/// before strait's next topic refresh could see the topic gone, is caught by the changed id
/// all the same: nothing of the third topic is skipped.
#[test]
fn a_topic_recreated_while_strait_runs_is_copied_from_its_first_offset() {
    let (a, b) = shared_clusters();
    let topic = unique_name("recreated-live");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    produce(&a.bootstrap(), &topic, &batch(0, "first-", 0..100));
    let strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(100, ARRIVAL);

    let admin = admin(&a.bootstrap());
    for r in block_on(admin.delete_topics(&[&topic], &options())).expect("delete topic") {
        r.unwrap_or_else(|(t, e)| panic!("delete topic {t}: {e}"));
    }
    // strait releases the partition once its topic refresh (2 s) sees the topic gone.
    wait_until(
        ARRIVAL,
        "strait to release the deleted topic's partition",
        || lines_with(&strait, &["partition no longer replicated", &topic]).len() == 1,
    );
    recreate_topic_after_delete(&a.bootstrap(), &topic, 1);
    produce(&a.bootstrap(), &topic, &batch(0, "second-", 0..150));
    target.wait_for_count(250, ARRIVAL);
    wait_until(ARRIVAL, "the re-creation counted", || {
        recreated(&metrics_of(&strait), &topic) == Some(1.0)
    });

    // Again, without waiting for strait to see the topic gone.
    recreate_topic(&a.bootstrap(), &topic, 1);
    produce(&a.bootstrap(), &topic, &batch(0, "third-", 0..200));
    wait_until(ARRIVAL, "the second re-creation counted", || {
        recreated(&metrics_of(&strait), &topic) == Some(2.0)
    });
    let third = values("third-", 0..200);
    target.wait_until(ARRIVAL, "every record of the third topic", |records| {
        let got: Vec<String> = records.iter().map(Rec::value_str).collect();
        third.iter().all(|v| got.contains(v))
    });
    target.read_to_end(ARRIVAL);
    let got: Vec<String> = target.records().iter().map(Rec::value_str).collect();
    let want: Vec<String> = values("first-", 0..100)
        .into_iter()
        .chain(values("second-", 0..150))
        .collect();
    assert_eq!(
        got[..250],
        want[..],
        "the first two topics exactly once, in order"
    );
    // The third topic: every record, in order from offset 0. Records the consumer fetched at
    // the old position before the new id was seen may come before them (copied twice then,
    // never skipped).
    let tail = &got[250..];
    let start = tail.len() - 200;
    assert_eq!(
        tail[start..],
        third[..],
        "the third topic from offset 0: {tail:?}"
    );
    assert!(
        tail[..start].iter().all(|v| v.starts_with("third-")),
        "only records of the third topic before it: {tail:?}"
    );
    eprintln!(
        "re-created while running without a pause: {} record(s) copied twice",
        start
    );
    assert_eq!(gaps(&metrics_of(&strait), &topic), BTreeMap::new());
}

/// Creates `topic` after it was deleted (waits for the deletion to finish first).
fn recreate_topic_after_delete(bootstrap: &str, topic: &str, partitions: i32) {
    wait_until(ARRIVAL, &format!("{topic} deleted"), || {
        !list_topics(bootstrap).contains(topic)
    });
    let admin = admin(bootstrap);
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    wait_for(ARRIVAL, &format!("{topic} created again"), || {
        let results = block_on(admin.create_topics([&new], &options())).expect("create topic");
        match results.into_iter().next() {
            Some(Ok(_)) => Some(()),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => None,
            Some(Err((t, e))) => panic!("create topic {t}: {e}"),
            None => panic!("no result creating {topic}"),
        }
    });
}

/// A stored position beyond the end of the source log. With the topic's own id stored, the log
/// was truncated below the position after strait had copied it (what an unclean leader
/// election does): nothing is copied again, nothing is counted lost, an ERROR says which
/// offsets the source lost, and the records the source writes from its new end on are copied.
/// Stored without an id (a record of a version before topic ids), strait cannot tell a
/// truncated log from a re-created topic: it copies the partition again from its start, so
/// that nothing is skipped, and says so at WARN.
#[test]
fn a_stored_position_past_the_log_end() {
    let (a, b) = shared_clusters();
    let topic = unique_name("past-end");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    produce(&a.bootstrap(), &topic, &batch(0, "v", 0..100));
    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(100, ARRIVAL);
    stop(&mut strait);
    let mut stored = progress_of(b, &topic, 0).expect("a progress record");
    assert_eq!(stored["next_offset"], 100);
    assert!(stored["topic_id"].is_string(), "{stored}");

    // Same id, position 500: the log (ending at 100) lost 100..=499.
    stored["next_offset"] = 500.into();
    write_progress(b, &topic, 0, &stored);
    strait.restart();
    wait_until(ARRIVAL, "the truncation reported", || {
        !lines_with(&strait, &["source log truncated", &topic]).is_empty()
    });
    let line = lines_with(&strait, &["source log truncated", &topic]).remove(0);
    assert!(
        line.contains("ERROR")
            && line.contains("offsets 100..=499")
            && line.contains("from_offset=100"),
        "{line}"
    );
    produce(&a.bootstrap(), &topic, &batch(0, "v", 100..120));
    target.wait_for_count(120, ARRIVAL);
    target.read_to_end(ARRIVAL);
    let got: Vec<String> = target.records().iter().map(Rec::value_str).collect();
    assert_eq!(
        got,
        values("v", 0..120),
        "nothing copied again, nothing skipped"
    );
    assert_eq!(gaps(&metrics_of(&strait), &topic), BTreeMap::new());
    stop(&mut strait);
    assert_eq!(progress_of(b, &topic, 0).unwrap()["next_offset"], 120);

    // No id (an old record), position 500: copied again from the start.
    write_progress(
        b,
        &topic,
        0,
        &serde_json::json!({"v": 1, "next_offset": 500}),
    );
    strait.restart();
    target.wait_for_count(240, ARRIVAL);
    target.read_to_end(ARRIVAL);
    let got: Vec<String> = target.records().iter().map(Rec::value_str).collect();
    let want: Vec<String> = values("v", 0..120)
        .into_iter()
        .chain(values("v", 0..120))
        .collect();
    assert_eq!(got, want, "the whole partition once more, nothing skipped");
    let reset = lines_with(&strait, &["copying it again from its start", &topic]);
    assert_eq!(reset.len(), 1, "{reset:#?}");
    assert!(
        reset[0].contains("WARN") && reset[0].contains("position=500"),
        "{}",
        reset[0]
    );
    let text = metrics_of(&strait);
    assert_eq!(gaps(&text, &topic), BTreeMap::new());
    assert_eq!(recreated(&text, &topic), None);
}

/// `on_data_gap: stop`: the partition whose records were deleted before they were copied stops
/// at the gap (nothing after it is copied, the stored position stays before it), says so in
/// the log, in /status (with how to go on) and in `strait_partitions_stopped`; the other
/// partition goes on. Set to `continue` and restarted, strait copies on from the log start.
#[test]
fn on_data_gap_stop_stops_the_partition_at_the_gap() {
    let (a, b) = shared_clusters();
    let topic = unique_name("gap-stop");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    for p in 0..2 {
        produce(&a.bootstrap(), &topic, &batch(p, &format!("p{p}-"), 0..100));
    }
    let stopping = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&topic]).set("on_data_gap", "stop"),
    );
    let mut strait = StraitProcess::start(&stopping);
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(200, ARRIVAL);
    stop(&mut strait);
    for p in 0..2 {
        produce(
            &a.bootstrap(),
            &topic,
            &batch(p, &format!("p{p}-"), 100..200),
        );
    }
    delete_records(&a.bootstrap(), &topic, 0, 150);

    strait.restart();
    // Partition 1 goes on.
    target.wait_for_count(300, ARRIVAL);
    let addr = strait.http_addr();
    let stopped = wait_for(ARRIVAL, "the stopped partition in /status", || {
        let status: serde_json::Value =
            serde_json::from_str(&get_ok(&addr, "/status")).expect("status JSON");
        status["mirrors"][0]["partitions"]
            .as_array()?
            .iter()
            .find(|p| p["topic"] == topic.as_str() && p["partition"] == 0)?
            .get("stopped")?
            .as_str()
            .map(str::to_string)
    });
    assert!(
        stopped.contains("offsets 100..=149")
            && stopped.contains("on_data_gap: continue")
            && stopped.contains("restart strait"),
        "{stopped}"
    );
    let text = metrics_of(&strait);
    assert_eq!(
        sample(&text, "strait_partitions_stopped", &[("mirror", "A->B")]),
        Some(1.0)
    );
    assert_eq!(
        gaps(&text, &topic),
        BTreeMap::from([(("out_of_range".to_string(), "0".to_string()), 50.0)])
    );
    let line = lines_with(&strait, &["data gap:", &topic]).remove(0);
    assert!(
        line.contains("ERROR") && line.contains("is stopped at offset 100"),
        "{line}"
    );
    // Nothing of partition 0 after the gap, however long we look (the other partition's
    // records arrived after the stop, so the loop has run past it).
    target.read_to_end(ARRIVAL);
    let got = values_by_partition(&target);
    assert_eq!(got[&0], values("p0-", 0..100), "nothing past the gap");
    assert_eq!(got[&1], values("p1-", 0..200));
    stop(&mut strait);
    assert_eq!(
        progress_of(b, &topic, 0).unwrap()["next_offset"],
        100,
        "the stored position stays before the gap"
    );

    // What the message says to do.
    strait.set_config(&StraitConfig::a_to_b(a, b, &[&topic]));
    strait.restart();
    target.wait_for_count(350, ARRIVAL);
    target.read_to_end(ARRIVAL);
    let got = values_by_partition(&target);
    let p0: Vec<String> = values("p0-", 0..100)
        .into_iter()
        .chain(values("p0-", 150..200))
        .collect();
    assert_eq!(got[&0], p0);
    assert_eq!(got[&1], values("p1-", 0..200));
    let text = metrics_of(&strait);
    assert_eq!(
        sample(&text, "strait_partitions_stopped", &[("mirror", "A->B")]),
        Some(0.0)
    );
}
