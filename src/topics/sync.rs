//! Keeps remote topics in line with their source topics: topic configs and topic ACLs (each
//! `enforce`, `report` or `off` per mirror), and reports remote topics with more partitions than
//! their source (never shrunk). The comparison — the drift — is also what `strait validate
//! --connect` prints.
//!
//! Rules (MM2's, `config.properties.exclude` and `sync.topic.acls`, with two deliberate choices):
//! - configs: the remote topic should carry every config the source topic sets explicitly
//!   (topic-level overrides), except read-only, sensitive and excluded ones; a topic-level
//!   override on the remote topic for a name the source leaves at the broker default is reset
//!   (deleted), so the target's default applies; excluded names are never touched on either side.
//!   Values the source inherits from its brokers are not forced onto the target.
//! - ACLs: LITERAL topic ACLs of replicated topics are recreated on the remote topic; ALLOW WRITE
//!   is refused (only strait writes to remote topics), ALLOW ALL is narrowed to ALLOW READ; other
//!   bindings (DENY anything, ALLOW READ/DESCRIBE/...) are copied as they are. PREFIXED bindings
//!   and the literal wildcard `*` are not copied. Nothing is ever deleted from the target.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use rdkafka::admin::AdminClient;
use tokio_util::sync::CancellationToken;

use crate::config::{MirrorConfig, SyncMode};
use crate::kafka::admin::{self, AdminError, TopicConfigEntry};
use crate::kafka::native_admin::{
    self, AclOperation, AclPermission, ConfigOp, NativeAdminError, PatternType, TopicAcl,
};
use crate::kafka::LogContext;
use crate::policy::{decide_topic, TopicDecision, TopicFilter};
use crate::telemetry::error_chain;
use crate::telemetry::metrics::metrics;

/// The configs a remote topic should carry: the source topic's explicit, writable, non-sensitive
/// entries whose names the filter accepts.
pub fn desired_configs(
    source: &[TopicConfigEntry],
    filter: &TopicFilter,
) -> BTreeMap<String, String> {
    source
        .iter()
        .filter(|e| e.explicit && !e.read_only && !e.sensitive && filter.matches(&e.name))
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect()
}

/// One config difference between a source topic and its remote topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDiff {
    pub name: String,
    /// The source's explicit value; `None` when the source leaves the name at the broker default.
    pub source: Option<String>,
    /// The remote topic's current value (explicit or inherited).
    pub target: Option<String>,
}

impl ConfigDiff {
    /// The change that removes this difference.
    pub fn op(&self) -> ConfigOp {
        match &self.source {
            Some(value) => ConfigOp::Set {
                name: self.name.clone(),
                value: value.clone(),
            },
            None => ConfigOp::Delete {
                name: self.name.clone(),
            },
        }
    }
}

impl fmt::Display for ConfigDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = self.target.as_deref().unwrap_or("(unset)");
        match &self.source {
            Some(v) => write!(f, "config {}: source {v}, target {target}", self.name),
            None => write!(
                f,
                "config {}: source uses the broker default, target overrides it with {target}",
                self.name
            ),
        }
    }
}

/// Differences between a source topic's and its remote topic's configs (see the module docs).
pub fn config_diffs(
    source: &[TopicConfigEntry],
    target: &[TopicConfigEntry],
    filter: &TopicFilter,
) -> Vec<ConfigDiff> {
    let desired = desired_configs(source, filter);
    let current: BTreeMap<&str, &TopicConfigEntry> =
        target.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut diffs = Vec::new();
    for (name, value) in &desired {
        let have = current.get(name.as_str()).and_then(|e| e.value.clone());
        if have.as_deref() != Some(value.as_str()) {
            diffs.push(ConfigDiff {
                name: name.clone(),
                source: Some(value.clone()),
                target: have,
            });
        }
    }
    for e in target {
        if e.explicit
            && !e.read_only
            && !e.sensitive
            && filter.matches(&e.name)
            && !desired.contains_key(&e.name)
        {
            diffs.push(ConfigDiff {
                name: e.name.clone(),
                source: None,
                target: e.value.clone(),
            });
        }
    }
    diffs.sort_by(|a, b| a.name.cmp(&b.name));
    diffs
}

/// The ACLs the target should have for the source's topic ACLs, and the source bindings refused
/// (ALLOW WRITE). `remote` maps a source topic to its remote name, or `None` when the topic is
/// not replicated.
pub fn remote_acls(
    source: &[TopicAcl],
    remote: impl Fn(&str) -> Option<String>,
) -> (BTreeSet<TopicAcl>, Vec<TopicAcl>) {
    let mut expected = BTreeSet::new();
    let mut refused = Vec::new();
    for acl in source {
        if acl.pattern != PatternType::Literal || acl.topic == "*" {
            continue;
        }
        let Some(remote_topic) = remote(&acl.topic) else {
            continue;
        };
        if acl.permission == AclPermission::Allow && acl.operation == AclOperation::Write {
            refused.push(acl.clone());
            continue;
        }
        let operation =
            if acl.permission == AclPermission::Allow && acl.operation == AclOperation::All {
                AclOperation::Read
            } else {
                acl.operation
            };
        expected.insert(TopicAcl {
            topic: remote_topic,
            operation,
            ..acl.clone()
        });
    }
    (expected, refused)
}

/// What differs between one source topic and its remote topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicDrift {
    pub source_topic: String,
    pub remote_topic: String,
    pub configs: Vec<ConfigDiff>,
    /// (source, target) partition counts when the target has more.
    pub excess_partitions: Option<(i32, i32)>,
    pub missing_acls: Vec<TopicAcl>,
}

impl TopicDrift {
    fn is_empty(&self) -> bool {
        self.configs.is_empty() && self.excess_partitions.is_none() && self.missing_acls.is_empty()
    }
}

/// The drift of one mirror: per remote topic, and what could not be compared.
#[derive(Debug, Clone, Default)]
pub struct MirrorDrift {
    pub topics: Vec<TopicDrift>,
    /// Source ACL bindings that are never copied (ALLOW WRITE).
    pub refused_acls: Vec<TopicAcl>,
    /// Why ACLs were not compared (no authorizer on a cluster, or not asked for).
    pub acls_not_compared: Option<String>,
}

impl MirrorDrift {
    pub fn config_count(&self) -> usize {
        self.topics.iter().map(|t| t.configs.len()).sum()
    }
    pub fn acl_count(&self) -> usize {
        self.topics.iter().map(|t| t.missing_acls.len()).sum()
    }
    pub fn excess_partition_count(&self) -> usize {
        self.topics
            .iter()
            .filter(|t| t.excess_partitions.is_some())
            .count()
    }

    /// One line per difference, for logs and `validate --connect`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.topics {
            for c in &t.configs {
                out.push(format!("{} -> {}: {c}", t.source_topic, t.remote_topic));
            }
            if let Some((s, r)) = t.excess_partitions {
                out.push(format!(
                    "{} -> {}: target has {r} partitions, source {s} (strait never shrinks topics)",
                    t.source_topic, t.remote_topic
                ));
            }
            for a in &t.missing_acls {
                out.push(format!(
                    "{} -> {}: ACL missing on the target: {a}",
                    t.source_topic, t.remote_topic
                ));
            }
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Native(#[from] NativeAdminError),
}

/// What to compare.
#[derive(Debug, Clone, Copy)]
pub struct Compare {
    pub configs: bool,
    pub acls: bool,
}

/// Compares every replicated source topic that has a remote topic with it.
pub async fn mirror_drift(
    mirror: &MirrorConfig,
    source_admin: &Arc<AdminClient<LogContext>>,
    target_admin: &Arc<AdminClient<LogContext>>,
    compare: Compare,
) -> Result<MirrorDrift, SyncError> {
    let source = admin::cluster_metadata(source_admin).await?;
    let target = admin::cluster_metadata(target_admin).await?;
    let remote_of = |topic: &str| match decide_topic(
        &mirror.replication_policy,
        mirror.topic_rules,
        &mirror.topics,
        &mirror.source,
        &mirror.target,
        topic,
    ) {
        TopicDecision::Replicate { remote } => Some(remote),
        TopicDecision::Skip(_) => None,
    };
    let mut topics: BTreeMap<String, TopicDrift> = BTreeMap::new();
    for (name, &partitions) in &source.topics {
        let Some(remote) = remote_of(name) else {
            continue;
        };
        let Some(&have) = target.topics.get(&remote) else {
            continue;
        };
        topics.insert(
            name.clone(),
            TopicDrift {
                source_topic: name.clone(),
                remote_topic: remote,
                excess_partitions: (have > partitions).then_some((partitions, have)),
                ..TopicDrift::default()
            },
        );
    }
    if compare.configs && !topics.is_empty() {
        let names: Vec<String> = topics.keys().cloned().collect();
        let remotes: Vec<String> = topics.values().map(|t| t.remote_topic.clone()).collect();
        let src = admin::describe_topic_configs(source_admin, &names).await?;
        let dst = admin::describe_topic_configs(target_admin, &remotes).await?;
        for ((name, s), (_, d)) in src.iter().zip(dst.iter()) {
            if let Some(t) = topics.get_mut(name) {
                t.configs = config_diffs(s, d, &mirror.topic_configs);
            }
        }
    }
    let mut drift = MirrorDrift::default();
    if compare.acls {
        match acl_sets(mirror, source_admin, target_admin, &remote_of).await? {
            Ok((missing, refused)) => {
                let by_remote: BTreeMap<String, String> = topics
                    .values()
                    .map(|t| (t.remote_topic.clone(), t.source_topic.clone()))
                    .collect();
                for acl in missing {
                    // ACLs of replicated topics whose remote topic does not exist yet are
                    // created all the same (as MM2 does); they show under their source topic.
                    let source_topic = by_remote
                        .get(&acl.topic)
                        .cloned()
                        .unwrap_or_else(|| mirror.replication_policy.original_topic(&acl.topic));
                    let entry = topics
                        .entry(source_topic.clone())
                        .or_insert_with(|| TopicDrift {
                            source_topic,
                            remote_topic: acl.topic.clone(),
                            ..TopicDrift::default()
                        });
                    entry.missing_acls.push(acl);
                }
                drift.refused_acls = refused;
            }
            Err(reason) => drift.acls_not_compared = Some(reason),
        }
    } else {
        drift.acls_not_compared = Some("ACL sync is off for this mirror".into());
    }
    drift.topics = topics.into_values().filter(|t| !t.is_empty()).collect();
    Ok(drift)
}

/// (ACLs missing on the target, refused source ACLs), or why ACLs cannot be compared.
async fn acl_sets(
    mirror: &MirrorConfig,
    source_admin: &Arc<AdminClient<LogContext>>,
    target_admin: &Arc<AdminClient<LogContext>>,
    remote_of: &impl Fn(&str) -> Option<String>,
) -> Result<Result<(Vec<TopicAcl>, Vec<TopicAcl>), String>, SyncError> {
    let source_acls = match native_admin::describe_topic_acls(source_admin).await {
        Ok(acls) => acls,
        Err(e) if e.is_security_disabled() => {
            return Ok(Err(format!(
                "cluster {} has no authorizer (no ACLs to copy); set sync_topic_acls: off to skip this check",
                mirror.source
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let (expected, refused) = remote_acls(&source_acls, remote_of);
    if expected.is_empty() {
        return Ok(Ok((Vec::new(), refused)));
    }
    let target_acls: BTreeSet<TopicAcl> =
        match native_admin::describe_topic_acls(target_admin).await {
            Ok(acls) => acls.into_iter().collect(),
            Err(e) if e.is_security_disabled() => {
                return Ok(Err(format!(
            "cluster {} has no authorizer, so the source's topic ACLs cannot be recreated there",
            mirror.target
        )))
            }
            Err(e) => return Err(e.into()),
        };
    let missing = expected.difference(&target_acls).cloned().collect();
    Ok(Ok((missing, refused)))
}

/// The periodic config and ACL sync of one mirror.
pub struct MetadataSync {
    pub mirror: MirrorConfig,
    pub source_admin: Arc<AdminClient<LogContext>>,
    pub target_admin: Arc<AdminClient<LogContext>>,
}

impl MetadataSync {
    /// Runs until cancelled: configs every `sync_topic_configs_interval`, ACLs every
    /// `sync_topic_acls_interval`, each first right at start.
    pub async fn run(self, cancel: CancellationToken) {
        let m = &self.mirror;
        if m.sync_topic_configs == SyncMode::Off && m.sync_topic_acls == SyncMode::Off {
            return;
        }
        let name = m.name();
        let mut next_configs = tokio::time::Instant::now();
        let mut next_acls = tokio::time::Instant::now();
        let mut last_report: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        let mut no_authorizer_logged = false;
        loop {
            let due = if m.sync_topic_configs == SyncMode::Off {
                next_acls
            } else if m.sync_topic_acls == SyncMode::Off {
                next_configs
            } else {
                next_configs.min(next_acls)
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(due) => {}
            }
            let now = tokio::time::Instant::now();
            let configs = m.sync_topic_configs != SyncMode::Off && next_configs <= now;
            let acls = m.sync_topic_acls != SyncMode::Off && next_acls <= now;
            if configs {
                next_configs = now + m.sync_topic_configs_interval;
            }
            if acls {
                next_acls = now + m.sync_topic_acls_interval;
            }
            let compare = Compare { configs, acls };
            let drift = match mirror_drift(m, &self.source_admin, &self.target_admin, compare).await
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e),
                        "remote topic sync failed; retrying at the next interval");
                    continue;
                }
            };
            let metrics = metrics();
            metrics
                .remote_topic_drift
                .with_label_values(&[&name, "partitions"])
                .set(drift.excess_partition_count() as i64);
            self.report(
                &mut last_report,
                "partitions",
                drift
                    .lines()
                    .into_iter()
                    .filter(|l| l.contains(" partitions, source "))
                    .collect(),
                false,
            );
            if configs {
                let left = self.sync_configs(&drift).await;
                metrics
                    .remote_topic_drift
                    .with_label_values(&[&self.mirror.name(), "config"])
                    .set(left.len() as i64);
                self.report(
                    &mut last_report,
                    "config",
                    left,
                    m.sync_topic_configs == SyncMode::Report,
                );
            }
            if acls {
                if let Some(reason) = &drift.acls_not_compared {
                    if !no_authorizer_logged {
                        tracing::info!("topic ACLs not synced: {reason}");
                        no_authorizer_logged = true;
                    }
                    continue;
                }
                for r in &drift.refused_acls {
                    tracing::debug!(acl = %r,
                        "source ACL not copied: WRITE is never granted on a remote topic");
                }
                let left = self.sync_acls(&drift).await;
                metrics
                    .remote_topic_drift
                    .with_label_values(&[&self.mirror.name(), "acl"])
                    .set(left.len() as i64);
                self.report(
                    &mut last_report,
                    "acl",
                    left,
                    m.sync_topic_acls == SyncMode::Report,
                );
            }
        }
    }

    /// Logs drift lines when they change from the last round (not every round).
    fn report(
        &self,
        last: &mut BTreeMap<&'static str, Vec<String>>,
        kind: &'static str,
        lines: Vec<String>,
        report_mode: bool,
    ) {
        if last.get(kind) == Some(&lines) {
            return;
        }
        for line in &lines {
            if report_mode {
                tracing::warn!(
                    kind,
                    "remote topic drift (report mode, not changed): {line}"
                );
            } else {
                tracing::warn!(kind, "remote topic drift: {line}");
            }
        }
        last.insert(kind, lines);
    }

    /// Applies config differences (enforce) and returns the lines of what is left.
    async fn sync_configs(&self, drift: &MirrorDrift) -> Vec<String> {
        let mut left = Vec::new();
        for t in drift.topics.iter().filter(|t| !t.configs.is_empty()) {
            let lines = t
                .configs
                .iter()
                .map(|c| format!("{} -> {}: {c}", t.source_topic, t.remote_topic));
            if self.mirror.sync_topic_configs != SyncMode::Enforce {
                left.extend(lines);
                continue;
            }
            let ops = t.configs.iter().map(ConfigDiff::op).collect();
            match native_admin::alter_topic_configs(&self.target_admin, &t.remote_topic, ops).await
            {
                Ok(()) => {
                    for c in &t.configs {
                        tracing::info!(topic = %t.source_topic, remote = %t.remote_topic,
                            config = %c.name, from = c.target.as_deref().unwrap_or("(unset)"),
                            to = c.source.as_deref().unwrap_or("(target default)"),
                            "synced remote topic config");
                    }
                    metrics()
                        .remote_topic_changes
                        .with_label_values(&[&self.mirror.name(), "config"])
                        .inc_by(t.configs.len() as u64);
                }
                Err(e) => {
                    tracing::error!(remote = %t.remote_topic, error = %error_chain(&e),
                        "cannot alter the remote topic's configs; retrying at the next interval");
                    left.extend(lines);
                }
            }
        }
        left
    }

    /// Creates missing ACLs (enforce) and returns the lines of what is left.
    async fn sync_acls(&self, drift: &MirrorDrift) -> Vec<String> {
        let missing: Vec<TopicAcl> = drift
            .topics
            .iter()
            .flat_map(|t| t.missing_acls.iter().cloned())
            .collect();
        if missing.is_empty() {
            return Vec::new();
        }
        if self.mirror.sync_topic_acls != SyncMode::Enforce {
            return missing
                .iter()
                .map(|a| format!("ACL missing on the target: {a}"))
                .collect();
        }
        match native_admin::create_topic_acls(&self.target_admin, missing.clone()).await {
            Ok(results) => {
                let mut left = Vec::new();
                for (acl, result) in missing.iter().zip(results) {
                    match result {
                        Ok(()) => {
                            tracing::info!(acl = %acl, "created ACL on the remote topic");
                            metrics()
                                .remote_topic_changes
                                .with_label_values(&[&self.mirror.name(), "acl"])
                                .inc();
                        }
                        Err(e) => {
                            tracing::error!(acl = %acl, error = %e,
                                "cannot create ACL on the remote topic; retrying at the next interval");
                            left.push(format!("ACL missing on the target: {acl}"));
                        }
                    }
                }
                left
            }
            Err(e) => {
                tracing::error!(error = %error_chain(&e),
                    "cannot create ACLs on the target; retrying at the next interval");
                missing
                    .iter()
                    .map(|a| format!("ACL missing on the target: {a}"))
                    .collect()
            }
        }
    }
}

/// The configs a remote topic is created with: the source topic's desired configs (see
/// [`desired_configs`]) with `enforce`, and with every mode its retention kind (see
/// [`retention_kind`]). An error when the source topic cannot be described: the remote topic
/// then waits, rather than being created with the target's defaults.
pub async fn creation_configs(
    mirror: &MirrorConfig,
    source_admin: &AdminClient<LogContext>,
    source_topic: &str,
) -> Result<Vec<(String, String)>, AdminError> {
    let described =
        admin::describe_topic_configs(source_admin, &[source_topic.to_string()]).await?;
    let entries = described
        .into_iter()
        .next()
        .map(|(_, entries)| entries)
        .unwrap_or_default();
    Ok(created_with(mirror, &entries))
}

/// The configs a remote topic is created with, from its source topic's `entries`.
fn created_with(mirror: &MirrorConfig, entries: &[TopicConfigEntry]) -> Vec<(String, String)> {
    let mut configs = match mirror.sync_topic_configs {
        SyncMode::Off | SyncMode::Report => BTreeMap::new(),
        SyncMode::Enforce => desired_configs(entries, &mirror.topic_configs),
    };
    configs.extend(retention_kind(entries));
    configs.into_iter().collect()
}

/// [`creation_configs`] of many source topics: one DescribeConfigs request for all of them,
/// and one per topic only if that request fails (so that one topic whose configs cannot be
/// read does not hold the others back).
pub async fn creation_configs_of(
    mirror: &MirrorConfig,
    source_admin: &AdminClient<LogContext>,
    source_topics: &[String],
) -> Vec<Result<Vec<(String, String)>, AdminError>> {
    if let Ok(described) = admin::describe_topic_configs(source_admin, source_topics).await {
        if described.len() == source_topics.len() {
            return described
                .into_iter()
                .map(|(_, entries)| Ok(created_with(mirror, &entries)))
                .collect();
        }
    }
    let mut out = Vec::with_capacity(source_topics.len());
    for topic in source_topics {
        out.push(creation_configs(mirror, source_admin, topic).await);
    }
    out
}

/// Topic configs that decide what a log keeps, which every remote topic is created with
/// whatever `sync_topic_configs` says: a compacted source copied into a topic that deletes by
/// age would lose its keys after retention.
pub const RETENTION_KIND: &[&str] = &[
    "cleanup.policy",
    "min.compaction.lag.ms",
    "max.compaction.lag.ms",
    "min.cleanable.dirty.ratio",
    "delete.retention.ms",
];

/// The source's retention-kind configs to create a remote topic with: those set on the topic,
/// and its cleanup policy also when it comes from the source broker's default and is not
/// Kafka's (`delete`).
pub fn retention_kind(source: &[TopicConfigEntry]) -> BTreeMap<String, String> {
    source
        .iter()
        .filter(|e| RETENTION_KIND.contains(&e.name.as_str()) && !e.sensitive)
        .filter(|e| {
            e.explicit || (e.name == "cleanup.policy" && e.value.as_deref() != Some("delete"))
        })
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, value: &str, explicit: bool) -> TopicConfigEntry {
        TopicConfigEntry {
            name: name.into(),
            value: Some(value.into()),
            explicit,
            read_only: false,
            sensitive: false,
        }
    }

    fn filter(extra: &[&str]) -> TopicFilter {
        let mut ex: Vec<String> = crate::policy::DEFAULT_CONFIG_EXCLUDES
            .iter()
            .map(|s| s.to_string())
            .collect();
        ex.extend(extra.iter().map(|s| s.to_string()));
        TopicFilter::new(&[".*".to_string()], &ex).unwrap()
    }

    #[test]
    fn remote_topics_are_created_with_the_sources_retention_kind_whatever_the_filter() {
        let source = vec![
            entry("cleanup.policy", "compact", true),
            entry("min.compaction.lag.ms", "60000", true),
            entry("delete.retention.ms", "86400000", false),
            entry("retention.ms", "123", true),
        ];
        assert_eq!(
            retention_kind(&source).into_iter().collect::<Vec<_>>(),
            vec![
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("min.compaction.lag.ms".to_string(), "60000".to_string()),
            ]
        );
        // A source broker that compacts by default: the policy goes along too.
        let inherited = vec![entry("cleanup.policy", "compact,delete", false)];
        assert_eq!(
            retention_kind(&inherited).into_iter().collect::<Vec<_>>(),
            vec![("cleanup.policy".to_string(), "compact,delete".to_string())]
        );
        // Kafka's own default is the target's too: nothing to say.
        assert!(retention_kind(&[entry("cleanup.policy", "delete", false)]).is_empty());
    }

    #[test]
    fn desired_configs_are_explicit_writable_and_not_excluded() {
        let mut secret = entry("sasl.secret", "x", true);
        secret.sensitive = true;
        let mut ro = entry("some.read.only", "x", true);
        ro.read_only = true;
        let source = vec![
            entry("retention.ms", "123", true),
            entry("cleanup.policy", "compact", true),
            entry("segment.bytes", "1048576", false),
            entry("min.insync.replicas", "2", true),
            entry("max.message.bytes", "2000000", true),
            secret,
            ro,
        ];
        let got = desired_configs(&source, &filter(&[r"max\.message\..*"]));
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            vec![
                ("cleanup.policy".to_string(), "compact".to_string()),
                ("retention.ms".to_string(), "123".to_string()),
            ]
        );
    }

    #[test]
    fn diffs_set_changed_values_and_reset_target_only_overrides() {
        let source = vec![
            entry("retention.ms", "123", true),
            entry("cleanup.policy", "delete", false),
            entry("segment.ms", "1000", true),
        ];
        let target = vec![
            entry("retention.ms", "604800000", false),
            // Same value: no diff.
            entry("segment.ms", "1000", true),
            // Target-only override of a synced name: reset.
            entry("retention.bytes", "1000", true),
            // Target-only override of an excluded name: left alone.
            entry("message.timestamp.type", "LogAppendTime", true),
            entry("cleanup.policy", "delete", false),
        ];
        let diffs = config_diffs(&source, &target, &filter(&[]));
        assert_eq!(
            diffs,
            vec![
                ConfigDiff {
                    name: "retention.bytes".into(),
                    source: None,
                    target: Some("1000".into())
                },
                ConfigDiff {
                    name: "retention.ms".into(),
                    source: Some("123".into()),
                    target: Some("604800000".into())
                },
            ]
        );
        assert_eq!(
            diffs[0].op(),
            ConfigOp::Delete {
                name: "retention.bytes".into()
            }
        );
        assert_eq!(
            diffs[1].op(),
            ConfigOp::Set {
                name: "retention.ms".into(),
                value: "123".into()
            }
        );
    }

    fn acl(topic: &str, pattern: PatternType, op: AclOperation, perm: AclPermission) -> TopicAcl {
        TopicAcl {
            topic: topic.into(),
            pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: op,
            permission: perm,
        }
    }

    #[test]
    fn acls_follow_mm2_rules() {
        use AclOperation::*;
        use AclPermission::*;
        use PatternType::*;
        let source = vec![
            acl("orders", Literal, Read, Allow),
            acl("orders", Literal, Describe, Allow),
            acl("orders", Literal, Write, Allow),
            acl("orders", Literal, All, Allow),
            acl("orders", Literal, Write, Deny),
            acl("orders", Prefixed, Read, Allow),
            acl("*", Literal, Read, Allow),
            acl("skipped", Literal, Read, Allow),
        ];
        let remote = |t: &str| (t != "skipped").then(|| format!("A.{t}"));
        let (expected, refused) = remote_acls(&source, remote);
        let expected: Vec<_> = expected
            .into_iter()
            .map(|a| (a.topic, a.operation, a.permission))
            .collect();
        assert_eq!(
            expected,
            vec![
                ("A.orders".to_string(), Read, Allow),
                ("A.orders".to_string(), Write, Deny),
                ("A.orders".to_string(), Describe, Allow),
            ]
        );
        assert_eq!(refused, vec![acl("orders", Literal, Write, Allow)]);
    }
}
