//! Checks of the harness itself, without strait: if one of these fails, the failures of the
//! strait tests say nothing about strait.

use std::time::Duration;

use crate::harness::*;

const T: Duration = Duration::from_secs(30);

#[test]
fn harness_round_trip_on_one_cluster() {
    let (a, b) = shared_clusters();
    assert_ne!(a.bootstrap(), b.bootstrap());
    let topic = unique_name("selftest");
    create_topic(&a.bootstrap(), &topic, 2, &[("max.message.bytes", "2000")]);
    assert_eq!(
        topic_config(&a.bootstrap(), &topic, "max.message.bytes").as_deref(),
        Some("2000")
    );
    assert!(list_topics(&a.bootstrap()).contains(&topic));
    assert!(!list_topics(&b.bootstrap()).contains(&topic));

    let records = vec![
        OutRecord {
            partition: Some(1),
            key: None,
            value: Some(Vec::new()),
            headers: vec![("d".into(), Some(b"1".to_vec())), ("d".into(), None)],
            timestamp: Some(1_700_000_000_000),
        },
        OutRecord::to_partition(0, "zero"),
        OutRecord::to_partition(1, "one"),
    ];
    let delivered = produce(&a.bootstrap(), &topic, &records);
    assert_eq!(delivered, vec![(1, 0), (0, 0), (1, 1)]);
    assert_eq!(end_offsets(&a.bootstrap(), &topic), vec![1, 2]);

    let got = read_all(&a.bootstrap(), &topic, T);
    assert_eq!(got.len(), 3);
    let first = got
        .iter()
        .find(|r| r.partition == 1 && r.offset == 0)
        .unwrap();
    assert_eq!(first.key, None);
    assert_eq!(
        first.value,
        Some(Vec::new()),
        "empty value stays empty (not null)"
    );
    assert_eq!(
        first.headers,
        vec![
            ("d".to_string(), Some(b"1".to_vec())),
            ("d".to_string(), None)
        ]
    );
    assert_eq!(
        first.timestamp,
        rdkafka::Timestamp::CreateTime(1_700_000_000_000)
    );

    // Growing topic: the reader picks up new partitions.
    let mut reader = TopicReader::new(&a.bootstrap(), &topic);
    reader.wait_for_count(3, T);
    add_partitions(&a.bootstrap(), &topic, 3);
    produce(&a.bootstrap(), &topic, &[OutRecord::to_partition(2, "two")]);
    reader.wait_for_count(4, T);
    reader.read_to_end(T);
    assert_eq!(reader.records().len(), 4);
}

#[test]
fn harness_transactions_are_read_committed() {
    let (a, _) = shared_clusters();
    let topic = unique_name("selftest-txn");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let batch = |tag: &str| {
        (0..3)
            .map(|i| OutRecord::to_partition(0, format!("{tag}{i}")))
            .collect::<Vec<_>>()
    };
    let delivered = produce_transactions(
        &a.bootstrap(),
        &topic,
        &[(batch("c"), true), (batch("a"), false)],
    );
    assert_eq!(delivered.len(), 6);
    // 3 committed + marker, 3 aborted + marker.
    assert_eq!(end_offsets(&a.bootstrap(), &topic), vec![8]);
    let values: Vec<String> = read_all(&a.bootstrap(), &topic, T)
        .iter()
        .map(Rec::value_str)
        .collect();
    assert_eq!(values, vec!["c0", "c1", "c2"]);
}

#[test]
fn harness_cluster_restart_keeps_data() {
    let cluster = KafkaCluster::start("R");
    let topic = unique_name("selftest-restart");
    create_topic(&cluster.bootstrap(), &topic, 1, &[]);
    produce(
        &cluster.bootstrap(),
        &topic,
        &[OutRecord::to_partition(0, "before")],
    );
    let port = cluster.port();
    cluster.restart();
    assert_eq!(cluster.port(), port);
    produce(
        &cluster.bootstrap(),
        &topic,
        &[OutRecord::to_partition(0, "after")],
    );
    let values: Vec<String> = read_all(&cluster.bootstrap(), &topic, T)
        .iter()
        .map(Rec::value_str)
        .collect();
    assert_eq!(values, vec!["before", "after"]);
    cluster.kill();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after kill"
    );
}
