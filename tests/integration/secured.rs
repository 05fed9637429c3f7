//! strait on secured clusters (`harness::secure`): every way of authenticating, on both sides,
//! with the KRaft authorizer denying what no ACL allows; the features and the operator commands
//! over SASL and mutual TLS; a broker certificate for another host refused.
//!
//! The tests share the secured pair `SA`/`SB`. strait's principal in these tests is
//! `User:mirror` with broad ACLs (granted once, [`broad_grants`]); what strait needs at least is
//! the subject of `least_privilege.rs`, with another principal.

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::Duration;

use crate::dr::json_cli;
use crate::harness::secure::{
    self, allow, grant, AclOperation as Op, AclResource as Res, PatternType,
};
use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(120);

/// `User:mirror` may do anything on both secured clusters (a super user by ACLs, not by
/// `super.users`: the authorizer still runs for every request).
pub(crate) fn broad_grants() -> &'static (KafkaCluster, KafkaCluster) {
    static GRANTED: Once = Once::new();
    let pair = shared_secure_clusters();
    GRANTED.call_once(|| {
        for cluster in [&pair.0, &pair.1] {
            grant(
                cluster,
                &[
                    allow(
                        "User:mirror",
                        Op::All,
                        Res::Topic,
                        "*",
                        PatternType::Literal,
                    ),
                    allow(
                        "User:mirror",
                        Op::All,
                        Res::Group,
                        "*",
                        PatternType::Literal,
                    ),
                    allow(
                        "User:mirror",
                        Op::All,
                        Res::Cluster,
                        "kafka-cluster",
                        PatternType::Literal,
                    ),
                    allow(
                        "User:mirror",
                        Op::All,
                        Res::TransactionalId,
                        "*",
                        PatternType::Literal,
                    ),
                ],
            );
        }
    });
    pair
}

pub(crate) fn records(prefix: &str, n: usize, partitions: i32) -> Vec<OutRecord> {
    (0..n)
        .map(|i| {
            let mut r = OutRecord::to_partition(i as i32 % partitions, format!("{prefix}-{i:04}"));
            r.key = Some(format!("k{i}").into_bytes());
            r.headers = vec![("h".to_string(), Some(format!("{i}").into_bytes()))];
            r
        })
        .collect()
}

/// Key, value, headers and timestamp per partition, in order.
type Copy = BTreeMap<
    i32,
    Vec<(
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Vec<(String, Option<Vec<u8>>)>,
        String,
    )>,
>;

fn by_partition(recs: &[Rec]) -> Copy {
    let mut out = Copy::new();
    for r in recs {
        out.entry(r.partition).or_default().push((
            r.key.clone(),
            r.value.clone(),
            r.headers
                .iter()
                .filter(|(k, _)| !k.starts_with("strait."))
                .cloned()
                .collect(),
            format!("{:?}", r.timestamp),
        ));
    }
    out
}

/// One mirror per way of authenticating, each with the source and the target reached in two
/// different ways (so every listener is a source once and a target once): the records of each
/// arrive byte for byte, `validate --connect` passes, and a stream keeps flowing across
/// several re-authentications (`connections.max.reauth.ms` is 10 s) with nothing lost.
#[test]
fn every_authentication_method_on_both_sides_copies_byte_for_byte() {
    let (a, b) = broad_grants();
    let listeners = Listener::ALL;
    let mut config = StraitConfig::new().shutdown_timeout("10s");
    let mut plan = Vec::new();
    // Records streamed through the first mirror while the others are checked.
    let streamed = unique_name("sec_stream");
    create_topic(&a.bootstrap(), &streamed, 2, &[]);
    for (i, &source) in listeners.iter().enumerate() {
        let target = listeners[(i + 1) % listeners.len()];
        let (s, t) = (format!("S{i}"), format!("T{i}"));
        let topic = unique_name(&format!("sec{i}"));
        create_topic(&a.bootstrap(), &topic, 2, &[]);
        produce(&a.bootstrap(), &topic, &records(&topic, 40, 2));
        let topics = if i == 0 {
            vec![topic.as_str(), streamed.as_str()]
        } else {
            vec![topic.as_str()]
        };
        config = config
            .cluster(&s, ClusterConfig::secured(a, source, "mirror"))
            .cluster(&t, ClusterConfig::secured(b, target, "mirror"))
            .mirror(
                MirrorConfig::new(&s, &t)
                    .topics(&topics)
                    .groups(&[])
                    .replication_factor(1)
                    .refresh_topics_interval("1s"),
            );
        plan.push((source, target, topic, format!("{s}.")));
    }
    let checked = validate(&config.to_yaml(), true);
    assert_eq!(
        checked.code,
        Some(0),
        "{}\n{}",
        checked.stdout,
        checked.stderr
    );

    let strait = StraitProcess::start(&config);
    for (source, target, topic, prefix) in &plan {
        let remote = format!("{prefix}{topic}");
        let mut reader = TopicReader::new(&b.bootstrap(), &remote);
        reader.wait_for_count(40, ARRIVAL);
        let want = read_all(&a.bootstrap(), topic, ARRIVAL);
        assert_eq!(
            by_partition(reader.records()),
            by_partition(&want),
            "{} -> {}",
            source.label(),
            target.label()
        );
    }

    // A stream through the first mirror for three re-authentication periods, once every mirror
    // runs (what start-up logs is not the subject here).
    let stream_started = log_time_now();
    let stream = RecordStream::start(&a.bootstrap(), &streamed, 2, 200);
    wait_until(
        Duration::from_secs(90),
        "three re-authentication periods of streaming",
        || stream.started().elapsed() >= Duration::from_millis(3 * secure::REAUTH_MS),
    );
    let summary = stream.finish();
    let remote = format!("{}{streamed}", plan[0].3);
    let mut copy = TopicReader::new(&b.bootstrap(), &remote);
    copy.wait_for_count(summary.total as usize, ARRIVAL);
    let source = read_all(&a.bootstrap(), &streamed, ARRIVAL);
    let report = check_copy(&source, copy.records(), &summary.per_partition);
    eprintln!(
        "[secured] {} records streamed over {:.0}s across re-authentications: {report:?}",
        summary.total,
        summary.duration.as_secs_f64()
    );
    assert_eq!(report.lost, 0, "{report:?}");
    let log = strait.log_contents();
    let trouble: Vec<&str> = warnings_since(&log, &stream_started)
        .into_iter()
        // Authentication trouble (a loaded machine may log other transient warnings).
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            ["auth", "sasl", "ssl", "certificate", "credential", "token"]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    assert!(
        trouble.is_empty(),
        "authentication warnings or errors while streaming:\n{}",
        trouble.join("\n")
    );
}

/// A broker whose certificate was made for another host is refused (host names are verified),
/// and `validate --connect` says why in words.
#[test]
fn a_broker_certificate_for_another_host_is_refused() {
    let (a, b) = broad_grants();
    let config = StraitConfig::new()
        .cluster(
            "A",
            ClusterConfig::secured(a, Listener::WrongHost, "mirror"),
        )
        .cluster(
            "B",
            ClusterConfig::secured(b, Listener::MutualTls, "mirror"),
        )
        .mirror(MirrorConfig::new("A", "B").groups(&[]));
    let out = validate(&config.to_yaml(), true);
    eprintln!("[secured] wrong host:\n{}\n{}", out.stdout, out.stderr);
    assert_ne!(out.code, Some(0));
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("certificate") && text.contains("127.0.0.1"),
        "the refusal names the certificate and the host: {text}"
    );
}

/// Every feature and every operator command with the source over SASL_SSL (SCRAM-SHA-512) and
/// the target over mutual TLS: records, topic creation, config and ACL sync, offset syncs,
/// checkpoints, group offset sync, heartbeats; `validate --connect`, `status`, `translate`,
/// `failover` and `failback`.
#[test]
fn every_feature_and_command_with_sasl_on_one_side_and_mutual_tls_on_the_other() {
    let (a, b) = broad_grants();
    let names = Names::new();
    every_feature(
        a,
        b,
        &names,
        Listener::ScramSha512,
        Listener::MutualTls,
        "mirror",
    );
}

/// The names one run of [`every_feature`] uses (unique aliases, so that its internal topics
/// are its own).
pub(crate) struct Names {
    pub x: String,
    pub y: String,
    pub topic: String,
    pub group: String,
}

impl Names {
    pub(crate) fn new() -> Names {
        let id = unique_name("f").replace(['-', '_'], "");
        Names {
            x: format!("X{id}"),
            y: format!("Y{id}"),
            topic: unique_name("secfeat"),
            group: unique_name("secfeat-group"),
        }
    }
}

/// Runs every feature and command of mirrors `x -> y` (and `y -> x` for failback) with the
/// source `a` reached through `source` and the target `b` through `target` as `user`; returns
/// strait's log.
pub(crate) fn every_feature(
    a: &KafkaCluster,
    b: &KafkaCluster,
    names: &Names,
    source: Listener,
    target: Listener,
    user: &str,
) -> String {
    let Names { x, y, topic, group } = names;
    let (x, y, topic, group) = (x.as_str(), y.as_str(), topic.as_str(), group.as_str());
    let remote = format!("{x}.{topic}");
    create_topic(&a.bootstrap(), topic, 2, &[("retention.ms", "123456789")]);
    grant(
        a,
        &[allow(
            "User:alice",
            Op::Read,
            Res::Topic,
            topic,
            PatternType::Literal,
        )],
    );
    produce(&a.bootstrap(), topic, &records(topic, 100, 2));
    commit_group_offsets(&a.bootstrap(), group, &[(topic, 0, 30), (topic, 1, 20)]);

    let mirror = |s: &str, t: &str| {
        MirrorConfig::new(s, t)
            .topics(&[topic])
            .groups(&[group])
            .replication_factor(1)
            .refresh_topics_interval("1s")
            .emit_checkpoints_interval("500ms")
            .sync_group_offsets_interval("1s")
            .sync_topic_configs_interval("1s")
            .sync_topic_acls_interval("1s")
    };
    let config = StraitConfig::new()
        .cluster(x, ClusterConfig::secured(a, source, user))
        .cluster(y, ClusterConfig::secured(b, target, user))
        .mirror(mirror(x, y))
        .mirror(mirror(y, x))
        .shutdown_timeout("30s");
    let checked = validate(&config.to_yaml(), true);
    assert_eq!(
        checked.code,
        Some(0),
        "{}\n{}",
        checked.stdout,
        checked.stderr
    );
    let mut strait = StraitProcess::start(&config);
    let path = strait.config_path().to_path_buf();

    // Records and the created remote topic, with the source's config and topic ACL.
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(100, ARRIVAL);
    assert_eq!(
        by_partition(target.records()),
        by_partition(&read_all(&a.bootstrap(), topic, ARRIVAL))
    );
    wait_until(
        ARRIVAL,
        "the source's retention.ms on the remote topic",
        || {
            topic_overrides(&b.bootstrap(), &remote).get("retention.ms")
                == Some(&"123456789".to_string())
        },
    );
    wait_until(ARRIVAL, "alice's READ ACL on the remote topic", || {
        crate::topic_sync::acls_listed(&b.bootstrap(), &remote)
            .iter()
            .any(|(p, _, op, perm)| p == "User:alice" && op == "READ" && perm == "ALLOW")
    });
    // Offset syncs, checkpoints and heartbeats on the target.
    let syncs = format!("mm2-offset-syncs.{x}.internal");
    TopicReader::new(&b.bootstrap(), &syncs).wait_for_count(1, ARRIVAL);
    let mut checkpoints = TopicReader::new(&b.bootstrap(), &format!("{x}.checkpoints.internal"));
    checkpoints.wait_until(ARRIVAL, "checkpoints of the group at 30 and 20", |recs| {
        let got: BTreeMap<i32, i64> = recs
            .iter()
            .filter_map(|r| {
                ::strait::records::Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok()
            })
            .filter(|c| c.group == group && c.topic == remote)
            .map(|c| (c.partition, c.downstream_offset))
            .collect();
        got == BTreeMap::from([(0, 30), (1, 20)])
    });
    let mut beats = TopicReader::new(&b.bootstrap(), "heartbeats");
    beats.wait_until(ARRIVAL, "a heartbeat of the mirror", |recs| {
        recs.iter().any(|r| {
            r.key.as_deref().is_some_and(|k| {
                ::strait::records::Heartbeat::decode(k, r.value.as_deref().unwrap_or_default())
                    .is_ok_and(|h| h.source_alias == x && h.target_alias == y)
            })
        })
    });
    // Group offsets synced to the target while the group has no member there.
    wait_until(ARRIVAL, "the group's offsets on the target", || {
        group_offsets(&b.bootstrap(), group, &remote, 2) == vec![Some(30), Some(20)]
    });

    // The commands.
    wait_until(ARRIVAL, "status: replicating and caught up", || {
        let st = json_cli(&path, &["status"], 0);
        st["mirrors"].as_array().unwrap().iter().any(|m| {
            m["mirror"] == format!("{x}->{y}").as_str()
                && m["state"] == "replicating"
                && m["lag_records"] == 0
        })
    });
    let translated = json_cli(
        &path,
        &["translate", "--group", group, "--from", x, "--to", y],
        0,
    );
    let offsets: Vec<(i64, i64)> = translated["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partition"].as_i64().unwrap(),
                p["to_offset"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(offsets, vec![(0, 30), (1, 20)], "{translated}");
    let dry = json_cli(&path, &["failover", "--from", x, "--to", y, "--dry-run"], 0);
    assert_eq!(dry["result"], "dry-run", "{dry}");
    // The journal in the test's own directory, not in the working directory (the checkout).
    let journal = path
        .with_extension("journal")
        .to_string_lossy()
        .into_owned();
    let applied = json_cli(
        &path,
        &["failover", "--from", x, "--to", y, "--journal", &journal],
        0,
    );
    assert_eq!(applied["result"], "applied", "{applied}");
    let back = json_cli(&path, &["failback", "--from", y, "--to", x, "--dry-run"], 0);
    assert_eq!(back["result"], "dry-run", "{back}");
    strait.assert_running();
    strait.sigterm();
    let exit = strait.wait_exit(Duration::from_secs(90));
    let log = strait.log_contents();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    assert_eq!(
        exit.code(),
        Some(0),
        "strait's exit after SIGTERM; its last lines:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    log
}
