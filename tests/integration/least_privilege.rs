//! Least privilege: strait's principal is granted exactly the ACLs `docs/security.md` lists
//! (the table below, which the docs must show row for row) and nothing more, and every feature
//! and command works; with the default configuration the source needs only read-type access.

use std::time::Duration;

use crate::harness::secure::{
    allow, grant, revoke, AclBinding, AclOperation as Op, AclResource as Res, PatternType,
};
use crate::harness::*;
use crate::secured::{every_feature, records, Names};

const ARRIVAL: Duration = Duration::from_secs(120);

/// Which cluster an ACL is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

/// One row of the ACL table: on `side`, `operations` on `resource` `name` (`{source}` is the
/// source alias, `{topic}` a replicated topic, `{group}` a replicated group; `pattern`), for
/// `feature`.
pub struct Need {
    pub side: Side,
    pub resource: Res,
    pub name: &'static str,
    pub pattern: PatternType,
    pub operations: &'static [Op],
    pub feature: &'static str,
}

/// The ACLs of strait's principal with the default configuration (mirror `{source}` -> target,
/// default replication policy, offset syncs on the target).
pub const REQUIRED: &[Need] = &[
    Need {
        side: Side::Source,
        resource: Res::Topic,
        name: "{topic}",
        pattern: PatternType::Literal,
        operations: &[Op::Read, Op::Describe, Op::DescribeConfigs],
        feature: "record copy, topic creation and config sync",
    },
    Need {
        side: Side::Source,
        resource: Res::Topic,
        name: "heartbeats",
        pattern: PatternType::Literal,
        operations: &[Op::Read, Op::Describe, Op::DescribeConfigs],
        feature: "heartbeats replicated onward (as MM2 does)",
    },
    Need {
        side: Side::Source,
        resource: Res::Group,
        name: "{group}",
        pattern: PatternType::Literal,
        operations: &[Op::Describe],
        feature: "checkpoints (committed offsets of the groups)",
    },
    Need {
        side: Side::Source,
        resource: Res::Group,
        name: "strait",
        pattern: PatternType::Literal,
        operations: &[Op::Describe],
        feature: "strait's consumers (librdkafka assigns partitions only in a named group; it is never joined, nothing is committed)",
    },
    Need {
        side: Side::Source,
        resource: Res::Cluster,
        name: "kafka-cluster",
        pattern: PatternType::Literal,
        operations: &[Op::Describe],
        feature: "ACL sync (reading the source topics' ACLs)",
    },
    Need {
        side: Side::Target,
        resource: Res::Topic,
        name: "{source}.",
        pattern: PatternType::Prefixed,
        operations: &[
            Op::Create,
            Op::Write,
            Op::Read,
            Op::Describe,
            Op::DescribeConfigs,
            Op::AlterConfigs,
            Op::Alter,
        ],
        feature: "remote topics: creation, copy, partitions, config sync, group offset sync",
    },
    Need {
        side: Side::Target,
        resource: Res::Topic,
        name: "strait-offsets.{source}.internal",
        pattern: PatternType::Literal,
        operations: &[Op::Create, Op::Write, Op::Read, Op::Describe],
        feature: "stored positions",
    },
    Need {
        side: Side::Target,
        resource: Res::Topic,
        name: "mm2-offset-syncs.{source}.internal",
        pattern: PatternType::Literal,
        operations: &[Op::Create, Op::Write, Op::Read, Op::Describe],
        feature: "offset syncs",
    },
    Need {
        side: Side::Target,
        resource: Res::Topic,
        name: "{source}.checkpoints.internal",
        pattern: PatternType::Literal,
        operations: &[Op::Create, Op::Write, Op::Read, Op::Describe],
        feature: "checkpoints",
    },
    Need {
        side: Side::Target,
        resource: Res::Topic,
        name: "heartbeats",
        pattern: PatternType::Literal,
        operations: &[Op::Create, Op::Write, Op::Read, Op::Describe],
        feature: "heartbeats",
    },
    Need {
        side: Side::Target,
        resource: Res::Group,
        name: "{group}",
        pattern: PatternType::Literal,
        operations: &[Op::Read, Op::Describe],
        feature: "group offset sync, failover",
    },
    Need {
        side: Side::Target,
        resource: Res::Group,
        name: "strait",
        pattern: PatternType::Literal,
        operations: &[Op::Describe],
        feature: "strait's readers of its own topics (as on the source)",
    },
    Need {
        side: Side::Target,
        resource: Res::Cluster,
        name: "kafka-cluster",
        pattern: PatternType::Literal,
        operations: &[Op::Alter, Op::Describe],
        feature: "ACL sync (creating the remote topics' ACLs)",
    },
];

/// The bindings of `REQUIRED` on `side` for `principal`, with the test's names.
fn bindings(side: Side, principal: &str, names: &Names, reverse: bool) -> Vec<AclBinding> {
    // The reverse mirror y -> x (for failback) needs the same on the other side, with the
    // aliases swapped.
    let source = if reverse { &names.y } else { &names.x };
    REQUIRED
        .iter()
        .filter(|n| n.side == side)
        .flat_map(|n| {
            let name = n
                .name
                .replace("{source}", source)
                .replace("{topic}", &names.topic)
                .replace("{group}", &names.group);
            n.operations
                .iter()
                .map(move |&op| allow(principal, op, n.resource, &name, n.pattern))
        })
        .collect()
}

/// The exact list, and nothing more: every feature and command works (records, topic creation,
/// config and ACL sync, offset syncs, checkpoints, group offset sync, heartbeats, validate,
/// status, translate, failover, failback), and strait logs no authorization failure.
#[test]
fn the_documented_acls_and_nothing_more_are_enough_for_every_feature() {
    let (a, b) = shared_secure_clusters();
    let names = Names::new();
    let principal = "User:least";
    // x -> y: source a, target b. y -> x (failback): its source is b, its target a; it copies
    // the records produced on b (none here) and needs the target side's ACLs on a.
    let mut on_a = bindings(Side::Source, principal, &names, false);
    on_a.extend(bindings(Side::Target, principal, &names, true));
    let mut on_b = bindings(Side::Target, principal, &names, false);
    on_b.extend(bindings(Side::Source, principal, &names, true));
    grant(a, &on_a);
    grant(b, &on_b);
    eprintln!(
        "[least_privilege] {} ACLs on the source, {} on the target for {principal}",
        on_a.len(),
        on_b.len()
    );
    let log = every_feature(
        a,
        b,
        &names,
        Listener::ScramSha512,
        Listener::ScramSha256,
        "least",
    );
    let denied: Vec<&str> = log
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("authoriz"))
        .collect();
    assert!(
        denied.is_empty(),
        "authorization failures:\n{}",
        denied.join("\n")
    );
}

/// `docs/security.md` shows every row of [`REQUIRED`].
#[test]
fn docs_security_lists_exactly_the_acls_the_test_grants() {
    let docs =
        std::fs::read_to_string(repo_root().join("docs/security.md")).expect("docs/security.md");
    for n in REQUIRED {
        let side = match n.side {
            Side::Source => "source",
            Side::Target => "target",
        };
        let ops: Vec<String> = n.operations.iter().map(|o| op_name(*o)).collect();
        let row = format!(
            "| {side} | {} | `{}` | {} | {} | {} |",
            resource_name(n.resource),
            n.name,
            pattern_name(n.pattern),
            ops.join(", "),
            n.feature
        );
        assert!(docs.contains(&row), "docs/security.md lacks the row\n{row}");
    }
}

/// The binding of `op` on a `res` in `acls`, named `name` (or the first such).
fn binding_of(acls: &[AclBinding], res: Res, op: Op, name: Option<&str>) -> AclBinding {
    acls.iter()
        .find(|acl| {
            acl.resource == res && acl.operation == op && name.is_none_or(|n| acl.name == n)
        })
        .cloned()
        .unwrap_or_else(|| panic!("{res:?} {op:?} {name:?} in the table"))
}

pub fn op_name(op: Op) -> String {
    match op {
        Op::DescribeConfigs => "DESCRIBE_CONFIGS".into(),
        Op::AlterConfigs => "ALTER_CONFIGS".into(),
        Op::ClusterAction => "CLUSTER_ACTION".into(),
        Op::IdempotentWrite => "IDEMPOTENT_WRITE".into(),
        other => format!("{other:?}").to_ascii_uppercase(),
    }
}

fn resource_name(r: Res) -> &'static str {
    match r {
        Res::Topic => "topic",
        Res::Group => "group",
        Res::Cluster => "cluster",
        Res::TransactionalId => "transactional id",
    }
}

fn pattern_name(p: PatternType) -> &'static str {
    match p {
        PatternType::Literal => "literal",
        PatternType::Prefixed => "prefixed",
        PatternType::Unknown => "?",
    }
}

/// Each permission of the table, taken away while strait runs: strait names the principal, the
/// operation, the resource and the cluster once (with how to grant it) and shows it in
/// `strait_permission_missing` until it is granted again; a write the target denies is copied
/// once WRITE is granted again, without a restart. (A DESCRIBE or DESCRIBE_CONFIGS that another
/// granted operation implies cannot be taken away alone: each row's other operations are
/// taken away instead.)
#[test]
fn a_missing_permission_is_named_once_with_the_grant_that_fixes_it() {
    // A principal of its own: the cluster, `strait` group and `heartbeats` bindings are the
    // same for every test's principal, and the other test's grants would put back what this
    // one takes away.
    let (a, b) = shared_secure_clusters();
    let principal = "User:lacking";
    // A prefix of topics, so that a topic created later is replicated too.
    let prefix = unique_name("lp");
    let names = Names {
        topic: prefix.clone(),
        ..Names::new()
    };
    let (x, y) = (names.x.as_str(), names.y.as_str());
    let group_name = names.group.as_str();
    let topic = format!("{prefix}-first");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    produce(
        &a.bootstrap(),
        &topic,
        &[OutRecord::to_partition(0, "first")],
    );
    // A group on the source that read the record, to be checkpointed and synced.
    commit_group_offsets(&a.bootstrap(), group_name, &[(&topic, 0, 1)]);
    let prefixed = |mut acl: AclBinding| {
        if acl.name == names.topic {
            acl.pattern = PatternType::Prefixed;
        }
        acl
    };
    let on_a: Vec<AclBinding> = bindings(Side::Source, principal, &names, false)
        .into_iter()
        .map(prefixed)
        .collect();
    let on_b = bindings(Side::Target, principal, &names, false);
    grant(a, &on_a);
    grant(b, &on_b);
    let config = StraitConfig::new()
        .cluster(
            x,
            ClusterConfig::secured(a, Listener::ScramSha512, "lacking"),
        )
        .cluster(
            y,
            ClusterConfig::secured(b, Listener::ScramSha256, "lacking"),
        )
        .mirror(
            MirrorConfig::new(x, y)
                .topics(&[&format!("{prefix}-.*")])
                .groups(&[group_name])
                .replication_factor(1)
                .refresh_topics_interval("1s")
                .emit_checkpoints_interval("1s")
                .sync_group_offsets_interval("1s")
                .emit_heartbeats_interval("1s"),
        );
    let strait = StraitProcess::start(&config);
    let addr = strait.http_addr();
    let remote = format!("{x}.{topic}");
    TopicReader::new(&b.bootstrap(), &remote).wait_for_count(1, ARRIVAL);
    wait_until(ARRIVAL, "the group synced to the target", || {
        group_offsets(&b.bootstrap(), group_name, &remote, 1) == [Some(1)]
    });

    let remote_prefix = format!("{x}.");
    // One case per permission taken away: on the source (`true`) or the target, the table's
    // binding of `op` on a `res` (named `name`, or the first such), and how the log names it.
    let case = |on_source: bool, res: Res, op: Op, name: Option<&str>, what: String| {
        let (cluster, alias, acls) = if on_source {
            (a, x, &on_a)
        } else {
            (b, y, &on_b)
        };
        (cluster, alias, binding_of(acls, res, op, name), what)
    };
    let internal = |name: &str| {
        let what = format!("topic {name} on cluster {y}");
        case(false, Res::Topic, Op::Write, Some(name), what)
    };
    let group_case = |on_source: bool, op: Op, name: &str| {
        let what = format!("group {name} on cluster {}", if on_source { x } else { y });
        case(on_source, Res::Group, op, Some(name), what)
    };
    let remote_what = format!("topic {x}.{topic} on cluster {y}");
    let cases = vec![
        internal(&format!("strait-offsets.{x}.internal")),
        internal(&format!("mm2-offset-syncs.{x}.internal")),
        // (`{x}.checkpoints.internal` is covered by the `{x}.` prefix of the remote topics
        // too: taking its own row away takes nothing away.)
        internal("heartbeats"),
        group_case(true, Op::Describe, group_name),
        group_case(true, Op::Describe, "strait"),
        group_case(false, Op::Read, group_name),
        group_case(false, Op::Describe, "strait"),
        case(
            true,
            Res::Topic,
            Op::Read,
            None,
            format!("topic {topic} on cluster {x}"),
        ),
        case(
            true,
            Res::Topic,
            Op::DescribeConfigs,
            None,
            format!("topic {topic} on cluster {x}"),
        ),
        case(
            true,
            Res::Cluster,
            Op::Describe,
            None,
            format!("cluster {x}"),
        ),
        case(false, Res::Topic, Op::Write, None, remote_what.clone()),
        case(false, Res::Topic, Op::AlterConfigs, None, remote_what),
        case(false, Res::Cluster, Op::Alter, None, format!("cluster {y}")),
    ];
    let series = |cluster: &str, op: &str, resource: &str| {
        sample(
            &get_ok(&addr, "/metrics"),
            "strait_permission_missing",
            &[
                ("cluster", cluster),
                ("operation", op),
                ("resource", resource),
            ],
        )
    };
    for (cluster, alias, acl, what) in cases {
        let op = op_name(acl.operation);
        let resource = if acl.resource == Res::Cluster {
            "kafka-cluster".to_string()
        } else {
            what.split(' ').nth(1).unwrap().to_string()
        };
        let line = format!("{principal} may not {op} {what} (");
        revoke(cluster, std::slice::from_ref(&acl));
        if acl.resource == Res::Group && acl.operation == Op::Read {
            // Group offset sync meets the refusal when it has an offset to commit: the group
            // reads on on the source.
            let (partition, offset) = produce(
                &a.bootstrap(),
                &topic,
                &[OutRecord::to_partition(0, "group-moves")],
            )[0];
            commit_group_offsets(
                &a.bootstrap(),
                group_name,
                &[(&topic, partition, offset + 1)],
            );
        }
        wait_until(ARRIVAL, &format!("{line} logged and counted"), || {
            series(alias, &op, &resource) == Some(1.0) && strait.log_contents().contains(&line)
        });
        let remote_write = acl.operation == Op::Write && acl.name == remote_prefix;
        if remote_write {
            // A record copied while the target denies the write: the partition waits for the
            // grant instead of stopping for good.
            produce(
                &a.bootstrap(),
                &topic,
                &[OutRecord::to_partition(0, "while-denied")],
            );
            wait_until(ARRIVAL, "the denied write seen by the record path", || {
                strait
                    .log_contents()
                    .contains("the target denies strait's writes to the remote topic")
            });
        }
        grant(cluster, std::slice::from_ref(&acl));
        wait_until(
            ARRIVAL,
            &format!("{op} on {resource} granted again"),
            || series(alias, &op, &resource).is_none(),
        );
        if remote_write {
            let source: Vec<String> = read_all(&a.bootstrap(), &topic, ARRIVAL)
                .iter()
                .map(|r| r.value_str())
                .collect();
            assert_eq!(source.last().map(String::as_str), Some("while-denied"));
            let mut reader = TopicReader::new(&b.bootstrap(), &remote);
            reader.wait_for_count(source.len(), ARRIVAL);
            reader.read_to_end(ARRIVAL);
            let values: Vec<String> = reader.records().iter().map(|r| r.value_str()).collect();
            assert_eq!(values, source, "copied once WRITE is granted, once");
        }
        let log = strait.log_contents();
        let times = log.lines().filter(|l| l.contains(&line)).count();
        assert_eq!(times, 1, "once per cause: {line}\n{log}");
        let message = log.lines().find(|l| l.contains(&line)).unwrap();
        assert!(
            message.contains("kafka-acls --bootstrap-server")
                && message.contains(&format!("--allow-principal {principal}")),
            "{message}"
        );
        eprintln!("[least_privilege] {message}");
    }

    // CREATE is seen when a remote topic is to be created.
    let create = binding_of(&on_b, Res::Topic, Op::Create, None);
    assert_eq!(create.name, remote_prefix);
    revoke(b, std::slice::from_ref(&create));
    let later = format!("{prefix}-later");
    create_topic(&a.bootstrap(), &later, 1, &[]);
    let line = format!("{principal} may not CREATE topic {x}.{later} on cluster {y} (");
    wait_until(ARRIVAL, "the refused creation named", || {
        series(y, "CREATE", &format!("{x}.{later}")) == Some(1.0)
            && strait.log_contents().contains(&line)
    });
    grant(b, &[create]);
    wait_until(ARRIVAL, "the topic created once CREATE is granted", || {
        series(y, "CREATE", &format!("{x}.{later}")).is_none()
            && partition_count(&b.bootstrap(), &format!("{x}.{later}")) == Some(1)
    });
    let log = strait.log_contents();
    assert_eq!(
        log.lines().filter(|l| l.contains(&line)).count(),
        1,
        "{log}"
    );
    // Nor do the tasks that meet a missing permission repeat it: each warning or error is
    // said at most a few times over the whole run (one per case and side at most).
    let mut said: std::collections::BTreeMap<String, usize> = Default::default();
    for l in log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
    {
        // One cause: the whole line but its time (message and fields: another ACL or group is
        // another cause, and is said once too).
        let cause = l.get(28..).unwrap_or(l);
        *said.entry(cause.to_string()).or_default() += 1;
    }
    for (cause, times) in &said {
        let short: String = cause.chars().take(160).collect();
        eprintln!("[least_privilege] {times:>3} x {short}");
    }
    let repeated: Vec<_> = said.iter().filter(|(_, &times)| times > 3).collect();
    assert!(repeated.is_empty(), "said again and again: {repeated:?}");
}

/// Exactly-once needs WRITE and DESCRIBE on strait's transactional id on the target. Without
/// them strait says so at start, naming the id and the grant, and copies nothing; once granted,
/// it starts (the mirror's restart after its backoff) and copies every record exactly once.
#[test]
fn exactly_once_names_the_missing_transactional_id_grant_at_start() {
    let (a, b) = shared_secure_clusters();
    let names = Names::new();
    let principal = "User:least";
    grant(a, &bindings(Side::Source, principal, &names, false));
    grant(b, &bindings(Side::Target, principal, &names, false));
    let (x, y, topic) = (names.x.as_str(), names.y.as_str(), names.topic.as_str());
    let remote = format!("{x}.{topic}");
    create_topic(&a.bootstrap(), topic, 2, &[]);
    produce(&a.bootstrap(), topic, &records(topic, 100, 2));
    let config = StraitConfig::new()
        .cluster(x, ClusterConfig::secured(a, Listener::ScramSha512, "least"))
        .cluster(y, ClusterConfig::secured(b, Listener::ScramSha256, "least"))
        .mirror(
            MirrorConfig::new(x, y)
                .topics(&[topic])
                .groups(&[])
                .replication_factor(1)
                .set("delivery", "exactly_once"),
        )
        .shutdown_timeout("30s");
    let mut strait = StraitProcess::start(&config);
    let id = format!("strait.{x}");
    let named = format!(
        "refuses transactional id `{id}`: grant strait's principal WRITE and DESCRIBE on TransactionalId `{id}`"
    );
    wait_until(
        ARRIVAL,
        "strait to name the missing transactional id grant",
        || strait.log_contents().contains(&named),
    );
    assert_eq!(
        end_offsets(&b.bootstrap(), &remote).iter().sum::<i64>(),
        0,
        "records copied without transactions"
    );
    grant(
        b,
        &[
            allow(
                principal,
                Op::Write,
                Res::TransactionalId,
                &id,
                PatternType::Literal,
            ),
            allow(
                principal,
                Op::Describe,
                Res::TransactionalId,
                &id,
                PatternType::Literal,
            ),
        ],
    );
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(100, ARRIVAL);
    strait.assert_running();
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(60)).code(), Some(0));
    target.read_to_end(ARRIVAL);
    // Key and value of each record, per partition in order.
    type Contents = Vec<(i32, Vec<(Option<Vec<u8>>, Option<Vec<u8>>)>)>;
    let contents = |records: &[Rec]| -> Contents {
        by_partition(records)
            .into_iter()
            .map(|(p, rs)| {
                (
                    p,
                    rs.iter()
                        .map(|r| (r.key.clone(), r.value.clone()))
                        .collect(),
                )
            })
            .collect()
    };
    let source = read_all(&a.bootstrap(), topic, ARRIVAL);
    assert_eq!(target.records().len(), 100, "records on the target");
    assert!(
        contents(target.records()) == contents(&source),
        "the target's records differ from the source's (every record once, in order)"
    );
}
