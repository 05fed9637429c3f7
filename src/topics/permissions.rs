//! What strait's principal may do, checked every topic refresh from what the brokers say
//! (DescribeTopics and DescribeCluster with the principal's authorized operations; an OffsetFetch
//! for strait's own group name), against
//! what the mirror's features need (the table of `docs/security.md`). A missing permission is
//! logged once, with the principal, the operation, the resource, the cluster and how to grant
//! it, and shows in `strait_permission_missing` until it is granted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use rdkafka::admin::AdminClient;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;

use crate::config::forced::STRAIT_GROUP;
use crate::config::{ClusterConfig, MirrorConfig, SyncMode};
use crate::kafka::native_admin::{self, AclOperation, TopicFacts};
use crate::kafka::LogContext;
use crate::telemetry::events::{Event, PermissionGranted, PermissionMissing};

/// One permission strait lacks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lack {
    /// The cluster's alias.
    pub cluster: String,
    pub operation: AclOperation,
    /// `topic`, `group` or `cluster`.
    pub resource_type: &'static str,
    pub resource: String,
    pub needed_for: &'static str,
    /// Found by a request the broker refused (a topic creation, a group's offsets), not by the
    /// periodic check: it stands until the task that met it says it is over.
    pub from_request: bool,
}

/// Who strait is on each cluster of a mirror, and which permissions it lacks now. Shared by
/// the tasks that meet refusals (topic sync, checkpoints).
pub struct Permissions {
    source: Side,
    target: Side,
    missing: Mutex<BTreeSet<Lack>>,
}

struct Side {
    alias: String,
    principal: String,
    bootstrap: String,
    cluster: ClusterConfig,
    /// A reader in strait's own group (built at the first check), whose OffsetFetch tells
    /// whether strait may DESCRIBE that group.
    probe: Mutex<Option<Arc<BaseConsumer<LogContext>>>>,
}

impl Side {
    fn of(cluster: &ClusterConfig) -> Side {
        Side {
            alias: cluster.alias.clone(),
            principal: cluster.principal(),
            bootstrap: cluster.bootstrap_servers.clone(),
            cluster: cluster.clone(),
            probe: Mutex::new(None),
        }
    }
}

/// What strait's own topics need (CREATE only while one is missing: a refused creation is
/// reported by the task that creates it).
const INTERNAL: &[AclOperation] = &[
    AclOperation::Write,
    AclOperation::Read,
    AclOperation::Describe,
];

/// strait's own topics of `mirror`: (topic, whether it lives on the source, what needs it).
fn internal_topics(mirror: &MirrorConfig) -> Vec<(String, bool, &'static str)> {
    let policy = &mirror.replication_policy;
    let mut out = vec![(
        policy.progress_topic(&mirror.source),
        false,
        "stored positions",
    )];
    if let Some((topic, on_source)) = mirror.offset_syncs_topic() {
        out.push((topic, on_source, "offset syncs"));
    }
    if mirror.emit_checkpoints {
        out.push((
            policy.checkpoints_topic(&mirror.source),
            false,
            "checkpoints",
        ));
    }
    if mirror.emit_heartbeats {
        let topic = crate::policy::ReplicationPolicy::heartbeats_topic();
        out.push((topic.to_string(), false, "heartbeats"));
    }
    out
}

const READ_SOURCE: &[(AclOperation, &str)] = &[
    (AclOperation::Read, "record copy"),
    (
        AclOperation::DescribeConfigs,
        "topic creation and config sync",
    ),
];

impl Permissions {
    pub fn new(source: &ClusterConfig, target: &ClusterConfig) -> Permissions {
        Permissions {
            source: Side::of(source),
            target: Side::of(target),
            missing: Mutex::new(BTreeSet::new()),
        }
    }

    fn side(&self, on_source: bool) -> &Side {
        if on_source {
            &self.source
        } else {
            &self.target
        }
    }

    /// What the operations on each topic and cluster, and strait's own group, say against what
    /// `mirror` needs; logs and counts what changed since the last check. `source_topics` are
    /// the replicated topics (with their facts from DescribeTopics), `remote` the remote topics
    /// the target has. (The checkpointed groups' permissions are told by the checkpoint task,
    /// from the broker's answers to its requests: [`Self::refused`], [`Self::group_allowed`].)
    pub async fn check(
        &self,
        mirror: &MirrorConfig,
        mirror_name: &str,
        source_topics: &BTreeMap<String, TopicFacts>,
        remote: Vec<String>,
        source_admin: &Arc<AdminClient<LogContext>>,
        target_admin: &Arc<AdminClient<LogContext>>,
    ) {
        let mut now = BTreeSet::new();
        // What this check could see (cluster, resource type): a lack of a part it could not
        // see (a request failed) stands as it was.
        let mut seen: BTreeSet<(String, &'static str)> = BTreeSet::new();
        seen.insert((self.source.alias.clone(), "topic"));
        for (topic, facts) in source_topics {
            if let Some(ops) = &facts.authorized {
                for &(op, why) in READ_SOURCE {
                    if !ops.contains(&op) {
                        now.insert(self.lack(true, op, "topic", topic, why));
                    }
                }
            }
        }
        let mut remote_needs: Vec<(AclOperation, &'static str)> = vec![
            (AclOperation::Write, "record copy"),
            (AclOperation::Describe, "record copy"),
        ];
        if mirror.sync_group_offsets {
            remote_needs.push((AclOperation::Read, "group offset sync"));
        }
        if mirror.sync_topic_configs != SyncMode::Off {
            remote_needs.push((AclOperation::DescribeConfigs, "config sync"));
        }
        if mirror.sync_topic_configs == SyncMode::Enforce {
            remote_needs.push((AclOperation::AlterConfigs, "config sync"));
        }
        // Per topic asked about on each side: what it needs.
        let mut on_target: BTreeMap<String, Vec<(AclOperation, &'static str)>> = remote
            .into_iter()
            .map(|t| (t, remote_needs.clone()))
            .collect();
        let mut on_source: BTreeMap<String, Vec<(AclOperation, &'static str)>> = BTreeMap::new();
        for (topic, source_side, why) in internal_topics(mirror) {
            let needs = INTERNAL.iter().map(|&op| (op, why)).collect();
            if source_side {
                on_source.insert(topic, needs);
            } else {
                on_target.insert(topic, needs);
            }
        }
        for (source_side, needs) in [(false, on_target), (true, on_source)] {
            if needs.is_empty() {
                continue;
            }
            let admin = Arc::clone(if source_side {
                source_admin
            } else {
                target_admin
            });
            let topics: Vec<String> = needs.keys().cloned().collect();
            let described = crate::runtime::blocking(move || {
                native_admin::describe_topics(admin.inner(), &topics, true)
            })
            .await
            .expect("DescribeTopics task panicked");
            let Ok(described) = described else {
                // Not seen this round: what was missing on these topics stands. On the target
                // through `seen`; on the source, whose replicated topics were seen, here.
                if source_side {
                    now.extend(
                        self.missing
                            .lock()
                            .expect("permissions lock")
                            .iter()
                            .filter(|l| {
                                l.cluster == self.source.alias && needs.contains_key(&l.resource)
                            })
                            .cloned(),
                    );
                }
                continue;
            };
            if !source_side {
                seen.insert((self.target.alias.clone(), "topic"));
            }
            for (topic, facts) in described {
                let Some(wanted) = needs.get(&topic) else {
                    continue;
                };
                let missing: Vec<(AclOperation, &'static str)> = match facts {
                    Ok(TopicFacts {
                        authorized: Some(ops),
                        ..
                    }) => wanted
                        .iter()
                        .filter(|(op, _)| !ops.contains(op))
                        .copied()
                        .collect(),
                    // May not even describe it: all it needs is missing (READ and WRITE imply
                    // DESCRIBE, so they are missing too).
                    Err(RDKafkaErrorCode::TopicAuthorizationFailed) => wanted.clone(),
                    _ => Vec::new(),
                };
                for (op, why) in missing {
                    now.insert(self.lack(source_side, op, "topic", &topic, why));
                }
            }
        }
        let first_source_topic = source_topics.keys().next().cloned();
        let progress = mirror.replication_policy.progress_topic(&mirror.source);
        for (on_source, topic, why) in [
            (true, first_source_topic, "strait's consumers"),
            (false, Some(progress), "strait's readers of its own topics"),
        ] {
            let Some(topic) = topic else { continue };
            match self.own_group_allowed(on_source, topic, mirror_name).await {
                Some(true) => {}
                Some(false) => {
                    now.insert(self.lack(
                        on_source,
                        AclOperation::Describe,
                        "group",
                        STRAIT_GROUP,
                        why,
                    ));
                }
                None => continue,
            }
            let side = self.side(on_source);
            seen.insert((side.alias.clone(), "group"));
        }
        if mirror.sync_topic_acls != SyncMode::Off {
            let cluster_needs = [
                (true, AclOperation::Describe, "ACL sync"),
                (false, AclOperation::Describe, "ACL sync"),
            ]
            .into_iter()
            .chain((mirror.sync_topic_acls == SyncMode::Enforce).then_some((
                false,
                AclOperation::Alter,
                "ACL sync",
            )));
            let (src, tgt) = (Arc::clone(source_admin), Arc::clone(target_admin));
            let ops = crate::runtime::blocking(move || {
                (
                    native_admin::cluster_operations(src.inner()).ok().flatten(),
                    native_admin::cluster_operations(tgt.inner()).ok().flatten(),
                )
            })
            .await
            .expect("DescribeCluster task panicked");
            for (on_source, op, why) in cluster_needs {
                let known = if on_source { &ops.0 } else { &ops.1 };
                if known.is_some() {
                    let side = self.side(on_source);
                    seen.insert((side.alias.clone(), "cluster"));
                }
                if known.as_ref().is_some_and(|ops| !ops.contains(&op)) {
                    now.insert(self.lack(on_source, op, "cluster", "kafka-cluster", why));
                }
            }
        }
        self.report(mirror_name, now, &seen);
    }

    /// Whether strait may DESCRIBE its own group on the source or the target (an OffsetFetch
    /// of `topic`'s partition 0 in that group, which Kafka refuses as a whole without it);
    /// `None` when the answer says neither (the cluster is unreachable, the topic is gone).
    /// Not DescribeConsumerGroups with authorized operations: librdkafka's admin requests to a
    /// group coordinator can abort the process when the coordinator moves (an assertion in
    /// `rd_kafka_enq_once_del_source_return`, librdkafka issue 4605, met here during a rolling
    /// restart of the target); a consumer's OffsetFetch takes another path.
    async fn own_group_allowed(
        &self,
        on_source: bool,
        topic: String,
        mirror_name: &str,
    ) -> Option<bool> {
        let side = self.side(on_source);
        let probe = {
            let mut probe = side.probe.lock().expect("probe lock");
            if probe.is_none() {
                let name = format!("{mirror_name}|permission-probe");
                *probe = crate::kafka::reader_consumer(&side.cluster, &name)
                    .ok()
                    .map(Arc::new);
            }
            Arc::clone(probe.as_ref()?)
        };
        crate::runtime::blocking(move || {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(&topic, 0);
            match probe.committed_offsets(tpl, crate::kafka::ADMIN_TIMEOUT) {
                Ok(_) => Some(true),
                Err(e)
                    if e.rdkafka_error_code()
                        == Some(RDKafkaErrorCode::GroupAuthorizationFailed) =>
                {
                    Some(false)
                }
                Err(_) => None,
            }
        })
        .await
        .expect("OffsetFetch task panicked")
    }

    /// A permission strait lacks, found by a request the broker refused (a topic creation, a
    /// group's offsets): named once, until the task that met it says it is over.
    pub fn refused(&self, mirror_name: &str, mut lack: Lack) {
        lack.from_request = true;
        let new = self
            .missing
            .lock()
            .expect("permissions lock")
            .insert(lack.clone());
        if new {
            self.emit_missing(mirror_name, &lack);
        }
    }

    /// `group` on the source (`on_source`) or the target answered a request that needs `ops`:
    /// what a refused request found missing of them is there now.
    pub fn group_allowed(
        &self,
        mirror_name: &str,
        on_source: bool,
        group: &str,
        ops: &[AclOperation],
    ) {
        let cluster = &self.side(on_source).alias;
        self.clear(mirror_name, |l| {
            l.from_request
                && l.resource_type == "group"
                && l.resource == group
                && l.cluster == *cluster
                && ops.contains(&l.operation)
        });
    }

    /// Ends the refusals that `done` picks.
    fn clear(&self, mirror_name: &str, done: impl Fn(&Lack) -> bool) {
        let ended: Vec<Lack> = {
            let mut missing = self.missing.lock().expect("permissions lock");
            let ended: Vec<Lack> = missing.iter().filter(|l| done(l)).cloned().collect();
            for l in &ended {
                missing.remove(l);
            }
            ended
        };
        for lack in ended {
            emit_granted(mirror_name, &lack);
        }
    }

    /// The lack of `op` on a topic or the cluster, on the source or the target.
    pub fn lack(
        &self,
        on_source: bool,
        operation: AclOperation,
        resource_type: &'static str,
        resource: &str,
        needed_for: &'static str,
    ) -> Lack {
        let side = self.side(on_source);
        Lack {
            cluster: side.alias.clone(),
            operation,
            resource_type,
            resource: resource.to_string(),
            needed_for,
            from_request: false,
        }
    }

    fn report(
        &self,
        mirror_name: &str,
        now: BTreeSet<Lack>,
        seen: &BTreeSet<(String, &'static str)>,
    ) {
        // Refusals found by requests are kept until their task says they are over; lacks of
        // what this check could not see stand.
        let (new, gone) = {
            let mut missing = self.missing.lock().expect("permissions lock");
            let (kept, checked): (BTreeSet<Lack>, BTreeSet<Lack>) =
                std::mem::take(&mut *missing).into_iter().partition(|l| {
                    l.from_request || !seen.contains(&(l.cluster.clone(), l.resource_type))
                });
            let new: Vec<Lack> = now.difference(&checked).cloned().collect();
            let gone: Vec<Lack> = checked.difference(&now).cloned().collect();
            *missing = now.into_iter().chain(kept).collect();
            (new, gone)
        };
        for lack in &new {
            self.emit_missing(mirror_name, lack);
        }
        for lack in &gone {
            emit_granted(mirror_name, lack);
        }
    }

    /// A CREATE refusal is over (the topic exists now).
    pub fn created(&self, mirror_name: &str, remote: &str) {
        self.clear(mirror_name, |l| {
            l.operation == AclOperation::Create && l.resource == remote
        });
    }

    fn emit_missing(&self, mirror_name: &str, lack: &Lack) {
        let side = if lack.cluster == self.source.alias {
            &self.source
        } else {
            &self.target
        };
        let op = op_name(lack.operation);
        let resource_flag = match lack.resource_type {
            "cluster" => "--cluster".to_string(),
            kind => format!("--{kind} {}", lack.resource),
        };
        let grant = format!(
            "kafka-acls --bootstrap-server {} --add --allow-principal {} --operation {} {resource_flag}",
            side.bootstrap,
            side.principal,
            acl_tool_name(lack.operation),
        );
        PermissionMissing {
            mirror: mirror_name,
            principal: &side.principal,
            cluster: &lack.cluster,
            operation: op,
            resource_type: lack.resource_type,
            resource: &lack.resource,
            needed_for: lack.needed_for,
            grant: &grant,
        }
        .emit();
    }
}

fn emit_granted(mirror_name: &str, lack: &Lack) {
    PermissionGranted {
        mirror: mirror_name,
        cluster: &lack.cluster,
        operation: op_name(lack.operation),
        resource_type: lack.resource_type,
        resource: &lack.resource,
    }
    .emit();
}

/// The operation as Kafka's tools print it (`READ`, `DESCRIBE_CONFIGS`).
pub fn op_name(op: AclOperation) -> &'static str {
    match op {
        AclOperation::All => "ALL",
        AclOperation::Read => "READ",
        AclOperation::Write => "WRITE",
        AclOperation::Create => "CREATE",
        AclOperation::Delete => "DELETE",
        AclOperation::Alter => "ALTER",
        AclOperation::Describe => "DESCRIBE",
        AclOperation::ClusterAction => "CLUSTER_ACTION",
        AclOperation::DescribeConfigs => "DESCRIBE_CONFIGS",
        AclOperation::AlterConfigs => "ALTER_CONFIGS",
        AclOperation::IdempotentWrite => "IDEMPOTENT_WRITE",
        AclOperation::Unknown => "UNKNOWN",
    }
}

/// The operation as `kafka-acls --operation` takes it.
fn acl_tool_name(op: AclOperation) -> &'static str {
    match op {
        AclOperation::DescribeConfigs => "DescribeConfigs",
        AclOperation::AlterConfigs => "AlterConfigs",
        AclOperation::ClusterAction => "ClusterAction",
        AclOperation::IdempotentWrite => "IdempotentWrite",
        AclOperation::Read => "Read",
        AclOperation::Write => "Write",
        AclOperation::Create => "Create",
        AclOperation::Delete => "Delete",
        AclOperation::Alter => "Alter",
        AclOperation::Describe => "Describe",
        AclOperation::All => "All",
        AclOperation::Unknown => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::metrics;

    /// The series' value in the exposition, if the series is there.
    fn gauge(mirror: &str, cluster: &str, op: &str, kind: &str, resource: &str) -> Option<i64> {
        let labels = [
            format!("cluster=\"{cluster}\""),
            format!("mirror=\"{mirror}\""),
            format!("operation=\"{op}\""),
            format!("resource=\"{resource}\""),
            format!("resource_type=\"{kind}\""),
        ];
        metrics()
            .render()
            .lines()
            .find(|l| {
                l.starts_with("strait_permission_missing{") && labels.iter().all(|x| l.contains(x))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    /// A lack is reported when it appears, cleared when a check no longer finds it; a refused
    /// CREATE stays until the topic is created.
    #[test]
    fn lacks_come_and_go_with_the_checks() {
        let p = Permissions::new(
            &ClusterConfig::plaintext("A", "a:9092"),
            &ClusterConfig::plaintext("B", "b:9092"),
        );
        let m = "A->B|perm-test";
        let read = p.lack(
            true,
            AclOperation::Read,
            "topic",
            "perm-orders",
            "record copy",
        );
        let create = p.lack(
            false,
            AclOperation::Create,
            "topic",
            "A.perm-new",
            "creating",
        );
        let seen = BTreeSet::from([("A".to_string(), "topic"), ("B".to_string(), "topic")]);
        p.report(m, BTreeSet::from([read.clone()]), &seen);
        p.refused(m, create.clone());
        assert_eq!(gauge(m, "A", "READ", "topic", "perm-orders"), Some(1));
        assert_eq!(gauge(m, "B", "CREATE", "topic", "A.perm-new"), Some(1));
        let created = Lack {
            from_request: true,
            ..create.clone()
        };
        let missing = || p.missing.lock().unwrap().clone();
        assert_eq!(missing(), BTreeSet::from([read.clone(), created.clone()]));
        // A check that could not see the source's topics leaves READ as it was.
        p.report(
            m,
            BTreeSet::new(),
            &BTreeSet::from([("B".to_string(), "topic")]),
        );
        assert_eq!(gauge(m, "A", "READ", "topic", "perm-orders"), Some(1));
        // Checked again: READ is there now; CREATE is not a check's to clear.
        p.report(m, BTreeSet::new(), &seen);
        assert_eq!(missing(), BTreeSet::from([created]));
        assert_eq!(gauge(m, "A", "READ", "topic", "perm-orders"), None);
        p.created(m, "A.perm-new");
        assert!(missing().is_empty());
        assert_eq!(gauge(m, "B", "CREATE", "topic", "A.perm-new"), None);
        assert_eq!(p.source.principal, "User:ANONYMOUS");
    }
}
