//! On brokers that keep Kafka's default `auto.create.topics.enable=true`, a metadata request that
//! names a missing topic creates it. strait must create only the topics it means to: a one-way
//! mirror running (with heartbeats, checkpoints, group offset sync and offset syncs), then
//! `strait status` and `strait failover --dry-run`, leave no `heartbeats` topic on the source and
//! no probe topic anywhere; the default configuration creates no topic on the source at all
//! (offset syncs live on the target).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(120);
const CLI: Duration = Duration::from_secs(120);

fn user_topics(bootstrap: &str) -> BTreeSet<String> {
    list_topics(bootstrap)
        .into_iter()
        .filter(|t| !t.starts_with("__"))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn strait_creates_no_topic_it_did_not_mean_to_on_brokers_that_auto_create() {
    // Dedicated clusters: the shared ones turn auto-creation off, and on shared auto-creating
    // clusters another test's mirror could create `heartbeats` legitimately.
    let [a, b] = start_clusters([
        ClusterSpec::new("auto-src").auto_create_topics(true),
        ClusterSpec::new("auto-dst").auto_create_topics(true),
    ]);
    assert!(a.auto_create_topics() && b.auto_create_topics());
    // The clusters really create topics on a single-topic metadata request.
    request_topic_metadata(&a.bootstrap(), "created-by-asking");
    wait_until(ARRIVAL, "the broker to auto-create a topic", || {
        list_topics(&a.bootstrap()).contains("created-by-asking")
    });

    let topic = "orders";
    let group = "auto-create-group";
    create_topic(&a.bootstrap(), topic, 2, &[]);
    let records: Vec<OutRecord> = (0..20)
        .map(|i| OutRecord::to_partition(i % 2, format!("r{i}")))
        .collect();
    produce(&a.bootstrap(), topic, &records);
    commit_group_offsets(&a.bootstrap(), group, &[(topic, 0, 4), (topic, 1, 6)]);

    let mirror = MirrorConfig::a_to_b(&[topic])
        .emit_checkpoints_interval("1s")
        .sync_group_offsets_interval("1s")
        .emit_heartbeats_interval("1s");
    let config = StraitConfig::one_way(&a, &b, mirror);
    let strait = StraitProcess::start(&config);
    TopicReader::new(&b.bootstrap(), "A.orders").wait_for_count(20, ARRIVAL);
    // A checkpoint of the group and heartbeats on the target: every pipeline has run.
    TopicReader::new(&b.bootstrap(), "A.checkpoints.internal").wait_for_count(2, ARRIVAL);
    TopicReader::new(&b.bootstrap(), "heartbeats").wait_for_count(3, ARRIVAL);

    let path = config_file(&strait);
    let status = StraitCli::new(&["status", "--config", &path, "--output", "json"]).run(CLI);
    assert_eq!(status.code, Some(0), "{}{}", status.stdout, status.stderr);
    let dry = StraitCli::new(&[
        "failover",
        "--config",
        &path,
        "--from",
        "A",
        "--to",
        "B",
        "--dry-run",
        "--journal",
        &format!("{path}.journal"),
    ])
    .run(CLI);
    assert_eq!(dry.code, Some(0), "{}{}", dry.stdout, dry.stderr);
    drop(strait);

    assert_eq!(
        user_topics(&a.bootstrap()),
        set(&["created-by-asking", "orders"]),
        "topics on the source (the default configuration writes nothing there)"
    );
    assert_eq!(
        user_topics(&b.bootstrap()),
        set(&[
            "A.orders",
            "A.checkpoints.internal",
            "heartbeats",
            "mm2-offset-syncs.A.internal",
            "strait-offsets.A.internal"
        ]),
        "topics on the target"
    );
}

/// The configuration file of a running strait, as a string argument.
fn config_file(strait: &StraitProcess) -> String {
    strait.config_path().to_string_lossy().into_owned()
}
