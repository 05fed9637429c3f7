//! Least privilege: strait's principal is granted exactly the ACLs `docs/security.md` lists
//! (the table below, which the docs must show row for row) and nothing more, and every feature
//! and command works; with the default configuration the source needs only read-type access.

use crate::harness::secure::{
    allow, grant, AclBinding, AclOperation as Op, AclResource as Res, PatternType,
};
use crate::harness::*;
use crate::secured::{every_feature, Names};

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
