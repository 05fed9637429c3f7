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

/// The auto-create option does what it says: a single-topic metadata request from a client that
/// allows auto-creation creates the topic on `auto-A`, and not on the shared `A` (checked once a
/// marker topic created after the request is visible there).
#[test]
fn harness_auto_create_clusters_create_topics_on_metadata_requests() {
    let (auto, _) = shared_auto_create_clusters();
    let (a, _) = shared_clusters();
    assert!(auto.auto_create_topics() && !a.auto_create_topics());

    let created = unique_name("selftest-autocreate");
    request_topic_metadata(&auto.bootstrap(), &created);
    wait_until(T, "the requested topic created on auto-A", || {
        list_topics(&auto.bootstrap()).contains(&created)
    });

    let absent = unique_name("selftest-no-autocreate");
    request_topic_metadata(&a.bootstrap(), &absent);
    let marker = unique_name("selftest-marker");
    create_topic(&a.bootstrap(), &marker, 1, &[]);
    let topics = list_topics(&a.bootstrap());
    assert!(topics.contains(&marker));
    assert!(
        !topics.contains(&absent),
        "a metadata request created {absent} on a cluster without auto-creation"
    );
}

/// A shell that reports on its output and environment, ends with exit code 7 half a second
/// after SIGTERM, and otherwise runs until killed.
fn shell_child() -> Launch {
    Launch::new("selftest shell", "sh")
        .arg("-c")
        .arg(
            "echo \"run with FOO=$FOO\"; echo to-stderr >&2; \
             trap 'sleep 0.5; echo got TERM; exit 7' TERM; \
             while :; do sleep 0.05; done",
        )
        .env("FOO", "first")
}

/// The process layer: stdout and stderr in one log that survives a restart, environment for
/// the child (changeable for the restart), SIGTERM with the exit status and the time from the
/// signal, SIGKILL.
#[test]
fn harness_child_process_lifecycle() {
    let mut p = shell_child().spawn_logged();
    wait_until(T, "both streams in the log", || {
        let log = p.log_contents();
        log.contains("run with FOO=first") && log.contains("to-stderr")
    });
    p.assert_running();
    assert!(p.exit_within(Duration::from_millis(200)).is_none());

    assert!(p.sigterm());
    let exited = p.wait_exit(T);
    assert_eq!(exited.code(), Some(7), "{exited}");
    let since = exited.since_last_signal.expect("time since SIGTERM");
    assert!(
        since >= Duration::from_millis(500) && since < Duration::from_secs(10),
        "exit {since:?} after SIGTERM (the trap sleeps 0.5 s)"
    );
    assert!(p.log_contents().contains("got TERM"));
    assert!(!p.sigterm(), "no signal to an exited process");

    p.set_env("FOO", Some("second"));
    p.restart();
    wait_until(T, "the second run in the same log", || {
        p.log_contents().contains("run with FOO=second")
    });
    assert!(
        p.log_contents().contains("run with FOO=first"),
        "the log keeps the first run"
    );
    let status = p.kill();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert_eq!(p.wait_exit(Duration::ZERO).signal(), Some(libc::SIGKILL));
}

/// One-shot runs: stdout and stderr apart, and a run past its deadline is killed and reported.
#[test]
fn harness_one_shot_runs() {
    let out = Launch::new("selftest echo", "sh")
        .args(["-c", "echo out; echo err >&2; exit 3"])
        .run(T)
        .expect("finishes");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b"out\n"[..], &b"err\n"[..])
    );
    let t0 = std::time::Instant::now();
    let late = Launch::new("selftest sleep", "sh")
        .args(["-c", "echo started >&2; exec sleep 30"])
        .run(Duration::from_millis(500))
        .expect_err("killed at the deadline");
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(late.stderr, b"started\n");
}

/// The config builder writes exactly the keys it was given, in order, a key set twice once.
#[test]
fn harness_config_builder_writes_the_yaml_it_is_told() {
    let config = StraitConfig::new()
        .cluster(
            "P",
            ClusterConfig::new("127.0.0.1:1")
                .client("socket.keepalive.enable", true)
                .consumer("fetch.max.bytes", 1024),
        )
        .cluster("Q", ClusterConfig::new("127.0.0.1:2"))
        .mirror(
            MirrorConfig::new("P", "Q")
                .topics(&["a\\..*", "it's"])
                .refresh_topics_interval("1s")
                .throttle("1MiB", 20)
                .policy(Policy::Identity)
                .set("sync_topic_configs", "off")
                .refresh_topics_interval("3s"),
        )
        .shutdown_timeout("5s")
        .http(HttpConfig::listen("127.0.0.1:0").bearer_token("t"));
    let want: serde_yaml::Value = serde_yaml::from_str(
        r#"
clusters:
  P:
    bootstrap_servers: "127.0.0.1:1"
    client: { "socket.keepalive.enable": true }
    consumer: { "fetch.max.bytes": 1024 }
  Q: { bootstrap_servers: "127.0.0.1:2" }
mirrors:
  - source: P
    target: Q
    topics: ['a\..*', "it's"]
    refresh_topics_interval: 3s
    throttle: { bytes_per_second: 1MiB, records_per_second: 20 }
    replication_policy: { kind: identity }
    sync_topic_configs: "off"
shutdown_timeout: 5s
http: { listen: "127.0.0.1:0", bearer_token: t }
"#,
    )
    .unwrap();
    let yaml = config.to_yaml();
    let got: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(got, want, "{yaml}");
    // serde_yaml's Mapping keeps the document's order.
    let keys: Vec<&str> = got["mirrors"][0]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "source",
            "target",
            "topics",
            "refresh_topics_interval",
            "throttle",
            "replication_policy",
            "sync_topic_configs"
        ],
        "a key set again keeps its place"
    );
}

/// strait itself accepts what the builder's helpers write (a misspelt key would be refused).
#[test]
fn harness_config_builder_keys_are_strait_keys() {
    let config = StraitConfig::new()
        .cluster(
            "A",
            ClusterConfig::new("127.0.0.1:19092").producer("linger.ms", 5),
        )
        .cluster(
            "B",
            ClusterConfig::new("127.0.0.1:29092").admin("request.timeout.ms", 30000),
        )
        .mirror(
            MirrorConfig::a_to_b(&["orders"])
                .groups(&["g.*"])
                .groups_exclude(&["g-tmp"])
                .throttle("1MiB", 20)
                .emit_checkpoints_interval("500ms")
                .sync_group_offsets_interval("500ms")
                .emit_heartbeats_interval("300ms")
                .sync_topic_configs_interval("1s")
                .sync_topic_acls_interval("1s")
                .emit_checkpoints(true)
                .emit_heartbeats(true)
                .sync_group_offsets(false),
        )
        .mirror(MirrorConfig::new("B", "A").policy(Policy::Identity))
        .shutdown_timeout("30s")
        .http(HttpConfig::listen("127.0.0.1:0").bearer_token("s3cret"));
    let out = validate(&config.to_yaml(), false);
    assert_eq!(
        out.code,
        Some(0),
        "{}\nstdout: {}\nstderr: {}",
        config.to_yaml(),
        out.stdout,
        out.stderr
    );
}

/// MM2 properties: aliases first, then keys in the order set, a key set twice once.
#[test]
fn harness_mm2_properties_render() {
    let props = Mm2Properties::new()
        .cluster("X", "127.0.0.1:1")
        .cluster("Y", "127.0.0.1:2")
        .set("tasks.max", "1")
        .flow("X", "Y", "enabled", "true")
        .for_cluster("Y", "offset.flush.interval.ms", "1000")
        .set("tasks.max", "2");
    assert_eq!(
        props.render(),
        "clusters = X, Y\nX.bootstrap.servers = 127.0.0.1:1\nY.bootstrap.servers = 127.0.0.1:2\n\
         tasks.max = 2\nX->Y.enabled = true\nY.offset.flush.interval.ms = 1000\n"
    );
}
