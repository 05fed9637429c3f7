//! Remote topics kept in line with their source on real clusters (both with the KRaft
//! `StandardAuthorizer`): configs synced with the excluded ones left alone, report mode changing
//! nothing while `validate --connect` and the metrics show the drift, and topic ACLs recreated
//! with WRITE refused — read back with Kafka's own `AclCommand`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::harness::*;

const SYNC: Duration = Duration::from_secs(60);

/// A→B over `topic`, with topics, configs and ACLs synced every second.
fn sync_mirror(topic: &str) -> MirrorConfig {
    MirrorConfig::new("A", "B")
        .topics(&[topic])
        .replication_factor(1)
        .refresh_topics_interval("1s")
        .sync_topic_configs_interval("1s")
        .sync_topic_acls_interval("1s")
}

fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// GET `path` from strait's HTTP endpoint (plain HTTP/1.0, the whole body).
fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn config_sync_copies_explicit_configs_and_leaves_excluded_ones_alone() {
    let (a, b) = shared_clusters();
    let topic = unique_name("cfg_enforce");
    let remote = format!("A.{topic}");
    create_topic(
        &a.bootstrap(),
        &topic,
        2,
        &[
            ("retention.ms", "123456789"),
            ("cleanup.policy", "compact"),
            // Excluded by the user (topic_configs_exclude below).
            ("max.message.bytes", "2000000"),
            // Excluded by MM2's default list.
            ("min.insync.replicas", "1"),
            ("message.timestamp.type", "LogAppendTime"),
        ],
    );
    let config = StraitConfig::pair(a, b)
        .mirror(sync_mirror(&topic).set("topic_configs_exclude", vec!["max\\.message\\..*"]));
    let strait = StraitProcess::start(&config);

    // Created with the source's explicit configs, minus the excluded ones.
    wait_until(SYNC, "remote topic created", || {
        partition_count(&b.bootstrap(), &remote) == Some(2)
    });
    assert_eq!(
        topic_overrides(&b.bootstrap(), &remote),
        overrides(&[("cleanup.policy", "compact"), ("retention.ms", "123456789")]),
        "remote topic overrides right after creation"
    );

    // The target grows an override of a synced name and one of an excluded name; the source
    // changes a value. The next round resets the first, keeps the second, follows the third.
    set_topic_configs(
        &b.bootstrap(),
        &remote,
        &[
            ("retention.ms", "123456789"),
            ("cleanup.policy", "compact"),
            ("retention.bytes", "1048576"),
            ("message.timestamp.type", "LogAppendTime"),
        ],
    );
    set_topic_configs(
        &a.bootstrap(),
        &topic,
        &[
            ("retention.ms", "987654321"),
            ("cleanup.policy", "compact"),
            ("max.message.bytes", "2000000"),
            ("min.insync.replicas", "1"),
            ("message.timestamp.type", "LogAppendTime"),
        ],
    );
    let expected = overrides(&[
        ("cleanup.policy", "compact"),
        ("message.timestamp.type", "LogAppendTime"),
        ("retention.ms", "987654321"),
    ]);
    let mut last = BTreeMap::new();
    wait_until(SYNC, "remote topic configs to follow the source", || {
        last = topic_overrides(&b.bootstrap(), &remote);
        last == expected
    });
    assert!(
        strait.log_contents().contains("synced remote topic config"),
        "the sync is logged"
    );
    // The excluded names were never touched on the source side either.
    assert_eq!(
        topic_overrides(&a.bootstrap(), &topic).get("max.message.bytes"),
        Some(&"2000000".to_string())
    );
}

#[test]
fn report_mode_changes_nothing_and_the_drift_is_reported() {
    let (a, b) = shared_clusters();
    let topic = unique_name("cfg_report");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 1, &[("retention.ms", "111111")]);
    // The remote topic exists already, with other configs and more partitions.
    create_topic(
        &b.bootstrap(),
        &remote,
        3,
        &[("retention.ms", "222222"), ("retention.bytes", "1048576")],
    );
    let before = topic_overrides(&b.bootstrap(), &remote);
    let config = StraitConfig::pair(a, b).mirror(
        sync_mirror(&topic)
            .set("sync_topic_configs", "report")
            .set("sync_topic_acls", "report"),
    );

    // validate --connect lists the drift.
    let out = validate(&config.to_yaml(), true);
    assert_eq!(out.code, Some(0), "validate --connect: {}", out.stderr);
    for line in [
        format!("{topic} -> {remote}: config retention.ms: source 111111, target 222222"),
        format!("{topic} -> {remote}: config retention.bytes: source uses the broker default, target overrides it with 1048576"),
        format!("{topic} -> {remote}: target has 3 partitions, source 1 (strait never shrinks topics)"),
    ] {
        assert!(
            out.stdout.contains(&line),
            "validate --connect should list `{line}`:\n{}",
            out.stdout
        );
    }

    let strait = StraitProcess::start(&config);
    let addr = strait.http_addr();
    let drift = wait_for(SYNC, "config drift on /metrics", || {
        let body = get_ok(&addr, "/metrics");
        let configs = metric(
            &body,
            r#"strait_remote_topic_drift{kind="config",mirror="A->B"}"#,
        )?;
        let partitions = metric(
            &body,
            r#"strait_remote_topic_drift{kind="partitions",mirror="A->B"}"#,
        )?;
        (configs > 0.0).then_some((configs, partitions))
    });
    assert_eq!(
        drift,
        (2.0, 1.0),
        "(config entries, topics with excess partitions)"
    );
    let log = strait.log_contents();
    assert!(
        log.contains("report mode, not changed")
            && log.contains("retention.ms: source 111111, target 222222"),
        "report mode logs the drift:\n{log}"
    );
    // Records still flow into the remote topic (partition 0 of 3).
    produce(
        &a.bootstrap(),
        &topic,
        &[OutRecord::to_partition(0, "still replicated")],
    );
    wait_until(SYNC, "record copied", || {
        end_offsets(&b.bootstrap(), &remote) == vec![1, 0, 0]
    });
    // Nothing changed on the target.
    assert_eq!(topic_overrides(&b.bootstrap(), &remote), before);
    assert_eq!(partition_count(&b.bootstrap(), &remote), Some(3));
}

/// With config sync `off` or `report`, a remote topic is still created with its source's
/// cleanup policy and compaction settings (and only those): a compacted source never gets a
/// copy that deletes by age.
#[test]
fn remote_topics_keep_their_cleanup_policy_whatever_the_config_sync_mode() {
    let (a, b) = shared_clusters();
    let compacted = [
        ("cleanup.policy", "compact"),
        ("min.compaction.lag.ms", "60000"),
        ("retention.ms", "111111"),
    ];
    let mut topics = Vec::new();
    for mode in ["off", "report"] {
        let topic = unique_name(&format!("cleanup_{mode}"));
        create_topic(&a.bootstrap(), &topic, 1, &compacted);
        topics.push((mode, topic));
    }
    // One strait per mode (a configuration has one mirror per cluster pair).
    for (mode, topic) in &topics {
        let config = StraitConfig::pair(a, b).mirror(
            sync_mirror(topic)
                .set("sync_topic_configs", *mode)
                .set("sync_topic_acls", "off"),
        );
        let strait = StraitProcess::start(&config);
        let remote = format!("A.{topic}");
        wait_until(SYNC, &format!("{remote} created"), || {
            partition_count(&b.bootstrap(), &remote).is_some()
        });
        assert_eq!(
            topic_overrides(&b.bootstrap(), &remote),
            overrides(&[
                ("cleanup.policy", "compact"),
                ("min.compaction.lag.ms", "60000")
            ]),
            "sync_topic_configs: {mode}: retention.ms is not synced, the cleanup policy is"
        );
        drop(strait);
    }
}

/// `(principal, host, operation, permission)` of the LITERAL ACLs on `topic`, as Kafka's
/// AclCommand lists them.
pub(crate) fn acls_listed(
    bootstrap: &str,
    topic: &str,
) -> BTreeSet<(String, String, String, String)> {
    let out = java_tool(
        JavaMain::Class("org.apache.kafka.tools.AclCommand"),
        &["--bootstrap-server", bootstrap, "--list", "--topic", topic],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "AclCommand --list failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |line: &str, key: &str| -> String {
        line.split(&format!("{key}="))
            .nth(1)
            .and_then(|rest| rest.split([',', ')']).next())
            .unwrap_or_default()
            .to_string()
    };
    stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("(principal="))
        .map(|l| {
            (
                field(l, "principal"),
                field(l, "host"),
                field(l, "operation"),
                field(l, "permissionType"),
            )
        })
        .collect()
}

fn add_acl(bootstrap: &str, args: &[&str]) {
    let mut all = vec!["--bootstrap-server", bootstrap, "--add", "--force"];
    all.extend_from_slice(args);
    let out = java_tool(
        JavaMain::Class("org.apache.kafka.tools.AclCommand"),
        &all,
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "AclCommand --add {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn acl_sync_recreates_topic_acls_and_never_grants_write() {
    let (a, b) = shared_clusters();
    let topic = unique_name("acl_sync");
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let src = a.bootstrap();
    for (principal, op) in [
        ("User:alice", "Read"),
        ("User:bob", "Describe"),
        ("User:carol", "Write"),
        ("User:dave", "All"),
    ] {
        add_acl(
            &src,
            &[
                "--allow-principal",
                principal,
                "--operation",
                op,
                "--topic",
                &topic,
            ],
        );
    }
    add_acl(
        &src,
        &[
            "--deny-principal",
            "User:mallory",
            "--operation",
            "Read",
            "--topic",
            &topic,
        ],
    );
    // A PREFIXED binding (not copied, as in MM2).
    add_acl(
        &src,
        &[
            "--allow-principal",
            "User:erin",
            "--operation",
            "Read",
            "--topic",
            &topic,
            "--resource-pattern-type",
            "prefixed",
        ],
    );
    let expected: BTreeSet<(String, String, String, String)> = [
        ("User:alice", "READ", "ALLOW"),
        ("User:bob", "DESCRIBE", "ALLOW"),
        // ALL narrowed to READ.
        ("User:dave", "READ", "ALLOW"),
        ("User:mallory", "READ", "DENY"),
    ]
    .iter()
    .map(|(p, o, k)| (p.to_string(), "*".to_string(), o.to_string(), k.to_string()))
    .collect();

    let strait = StraitProcess::start(&StraitConfig::pair(a, b).mirror(sync_mirror(&topic)));
    wait_until(SYNC, "remote topic created", || {
        partition_count(&b.bootstrap(), &remote) == Some(1)
    });
    let addr = strait.http_addr();
    wait_until(SYNC, "4 ACLs created on the target", || {
        let body = get_ok(&addr, "/metrics");
        metric(
            &body,
            r#"strait_remote_topic_changes_total{kind="acl",mirror="A->B"}"#,
        ) == Some(4.0)
    });
    assert_eq!(acls_listed(&b.bootstrap(), &remote), expected);
    // The source's WRITE and PREFIXED bindings stay where they are, untouched.
    assert_eq!(acls_listed(&src, &topic).len(), 5);
    // A later round finds nothing missing and creates nothing more.
    wait_until(SYNC, "no ACL drift left", || {
        let body = get_ok(&addr, "/metrics");
        metric(
            &body,
            r#"strait_remote_topic_drift{kind="acl",mirror="A->B"}"#,
        ) == Some(0.0)
    });
    let body = get_ok(&addr, "/metrics");
    assert_eq!(
        metric(
            &body,
            r#"strait_remote_topic_changes_total{kind="acl",mirror="A->B"}"#
        ),
        Some(4.0)
    );
    assert!(!strait
        .log_contents()
        .contains("cannot create ACL on the remote topic"));
}
