//! Topic discovery and remote-topic management for one mirror: list the source topics, decide per
//! topic with the policy (filters, internal, cycle), create missing remote topics with the
//! source's partition count, grow partitions, and publish the resulting routes to the record path.
//! Runs at start and then every `refresh_topics_interval`, and at once when a check of the
//! source's topic list (every `watch_topics_interval`) finds a new replicated topic or partition.

pub mod permissions;
pub mod sync;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::MirrorConfig;
use crate::flow::{Route, RouteSet, TopicId};
use crate::kafka::admin::{self, AdminError, ClusterMetadata, Ensured};
use crate::kafka::native_admin::{self, NativeAdminError};
use crate::kafka::LogContext;
use crate::policy::{decide_topic, SkipReason, TopicDecision};
use crate::telemetry::error_chain;

/// One line of the replication plan: a source topic and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTopic {
    pub source_topic: String,
    pub partitions: i32,
    pub decision: TopicDecision,
}

/// Decides, for every topic on the source, whether and under which name it is replicated.
pub fn plan(mirror: &MirrorConfig, source: &ClusterMetadata) -> Vec<PlannedTopic> {
    source
        .topics
        .iter()
        .map(|(name, &partitions)| PlannedTopic {
            source_topic: name.clone(),
            partitions,
            decision: match &mirror.canary {
                // The canary's topic passes the includes (as heartbeats do), not the excludes.
                Some(c) if c.topic == *name => match mirror.topics.excluded_by(name) {
                    Some(pattern) => TopicDecision::Skip(SkipReason::Excluded {
                        pattern: pattern.to_owned(),
                    }),
                    None => TopicDecision::Replicate {
                        remote: mirror
                            .replication_policy
                            .format_remote_topic(&mirror.source, name),
                    },
                },
                _ => decide_topic(
                    &mirror.replication_policy,
                    mirror.topic_rules,
                    &mirror.topics,
                    &mirror.source,
                    &mirror.target,
                    name,
                ),
            },
        })
        .collect()
}

/// The clients and settings of one mirror's topic sync.
pub struct TopicSync {
    pub mirror: MirrorConfig,
    /// The mirror's settings read again (a config reload): a change re-plans at once.
    pub updates: watch::Receiver<Arc<MirrorConfig>>,
    pub source_admin: Arc<AdminClient<LogContext>>,
    pub target_admin: Arc<AdminClient<LogContext>>,
    /// What strait's principal may do, checked every round (shared with the checkpoint task,
    /// which tells what it finds refused for the groups).
    pub permissions: Arc<permissions::Permissions>,
    /// Whether this instance creates and grows remote topics: the one with the mirror's
    /// singleton duties (always, unless several instances share the mirror). The others copy
    /// into the remote topics it creates, once the target's metadata shows them.
    pub creates: watch::Receiver<bool>,
}

/// The replicated source topics of a plan and their partition counts, in name order.
fn replicated(planned: &[PlannedTopic]) -> Vec<(String, i32)> {
    planned
        .iter()
        .filter(|p| matches!(p.decision, TopicDecision::Replicate { .. }))
        .map(|p| (p.source_topic.clone(), p.partitions))
        .collect()
}

/// What one refresh round did.
#[derive(Debug, Default)]
struct Round {
    /// The replicated source topics and their partition counts it saw.
    replicated: Vec<(String, i32)>,
    routes: Vec<Route>,
    created: usize,
    failed: usize,
    /// Remote topics or partitions requested but not yet visible in the target's metadata.
    pending: usize,
    /// Remote topics or partitions another instance creates, not yet visible.
    awaited: usize,
}

/// At most this many remote topics per CreateTopics request (and their source configs per
/// DescribeConfigs request).
const CREATE_BATCH: usize = 100;

/// What became of a remote topic a round set out to create.
enum Creation {
    /// Its source topic's configs could not be read, so it was not created.
    Unreadable(AdminError),
    /// Asked for with this many configs.
    Sent {
        configs: usize,
        result: Result<Ensured, AdminError>,
    },
    /// The request for its batch failed (logged once for the batch).
    RequestFailed,
}

/// How soon a round re-checks after creating topics or partitions.
const PENDING_RECHECK: Duration = Duration::from_millis(250);
/// How soon an instance that does not create topics re-checks for the ones it waits for.
const AWAITED_RECHECK: Duration = Duration::from_secs(2);

/// Why a refresh round did not finish (it is tried again at the next interval).
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// Routes carry the source topics' ids (a re-created topic is recognised by its new id), so
    /// a round does not publish routes without them.
    #[error("cannot read the source topics' ids")]
    TopicIds(#[source] NativeAdminError),
}

impl TopicSync {
    /// Runs refresh rounds until cancelled, publishing routes whenever they change.
    pub async fn run(mut self, routes: watch::Sender<RouteSet>, cancel: CancellationToken) {
        let mut skipped_logged = std::collections::BTreeSet::new();
        let mut wait = Duration::ZERO;
        // The replicated source topics and their partition counts as of the last round.
        let mut seen: Option<Vec<(String, i32)>> = None;
        loop {
            // Until the next round is due, the source's topic list is checked every
            // `watch_topics_interval`: a new replicated topic or partition starts it at once.
            let due = tokio::time::Instant::now() + wait;
            loop {
                let now = tokio::time::Instant::now();
                if now >= due {
                    break;
                }
                let step = self.mirror.watch_topics_interval.min(due - now);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(step) => {}
                    Ok(()) = self.updates.changed() => {
                        self.mirror = self.updates.borrow_and_update().as_ref().clone();
                        skipped_logged.clear();
                        tracing::debug!("topic filters and intervals read again: refreshing the routes");
                        break;
                    }
                }
                if tokio::time::Instant::now() >= due {
                    break;
                }
                if let Some(seen) = &seen {
                    if self.replicated_changed(seen).await {
                        tracing::debug!("new source topics or partitions: refreshing the routes");
                        break;
                    }
                }
            }
            wait = self.mirror.refresh_topics_interval;
            match self.round(&mut skipped_logged).await {
                Ok(round) => {
                    seen = Some(round.replicated.clone());
                    if round.pending > 0 {
                        // Topics or partitions were just created: publish them as soon as the
                        // metadata shows them rather than a whole interval later.
                        wait = wait.min(PENDING_RECHECK);
                    }
                    if round.awaited > 0 {
                        wait = wait.min(AWAITED_RECHECK);
                    }
                    if round.created > 0 || round.failed > 0 {
                        tracing::info!(
                            topics = round.routes.len(),
                            created = round.created,
                            failed = round.failed,
                            "topic refresh"
                        );
                    }
                    routes.send_if_modified(|current| {
                        if **current == round.routes {
                            false
                        } else {
                            *current = Arc::new(round.routes);
                            true
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e),
                        "topic refresh failed; retrying at the next interval");
                }
            }
        }
    }

    /// Whether the source's replicated topics or their partition counts differ from `seen`
    /// (one metadata request; a failed one counts as no change, the round at the interval
    /// tells).
    async fn replicated_changed(&self, seen: &[(String, i32)]) -> bool {
        match admin::cluster_metadata(&self.source_admin).await {
            Ok(source) => replicated(&plan(&self.mirror, &source)) != seen,
            Err(e) => {
                tracing::debug!(error = %error_chain(&e), "cannot check the source's topics");
                false
            }
        }
    }

    /// Creates the remote topics of `planned` that `target` does not have, in batches of
    /// [`CREATE_BATCH`] (their source configs read in one request per batch): per remote topic,
    /// what became of it.
    async fn create_missing(
        &self,
        planned: &[PlannedTopic],
        target: &ClusterMetadata,
        rf: i16,
    ) -> HashMap<String, Creation> {
        let missing: Vec<(&str, &str, i32)> = planned
            .iter()
            .filter_map(|p| match &p.decision {
                TopicDecision::Replicate { remote } if !target.topics.contains_key(remote) => {
                    Some((p.source_topic.as_str(), remote.as_str(), p.partitions))
                }
                _ => None,
            })
            .collect();
        let mut out = HashMap::with_capacity(missing.len());
        for batch in missing.chunks(CREATE_BATCH) {
            let sources: Vec<String> = batch.iter().map(|(s, _, _)| s.to_string()).collect();
            let configs =
                sync::creation_configs_of(&self.mirror, &self.source_admin, &sources).await;
            let mut topics = Vec::new();
            for ((_, remote, partitions), configs) in batch.iter().zip(configs) {
                match configs {
                    Ok(configs) => topics.push(admin::TopicToCreate {
                        name: remote.to_string(),
                        partitions: *partitions,
                        replication_factor: rf,
                        configs,
                    }),
                    Err(e) => {
                        out.insert(remote.to_string(), Creation::Unreadable(e));
                    }
                }
            }
            match admin::create_topics(&self.target_admin, &topics).await {
                Ok(results) => {
                    for (topic, result) in topics.iter().zip(results) {
                        let configs = topic.configs.len();
                        out.insert(topic.name.clone(), Creation::Sent { configs, result });
                    }
                }
                Err(e) => {
                    // The request failed as a whole: the next round tries again.
                    tracing::error!(topics = topics.len(), error = %error_chain(&e),
                        "cannot create remote topics; their records are not copied until this succeeds");
                    for topic in topics {
                        out.insert(topic.name, Creation::RequestFailed);
                    }
                }
            }
        }
        out
    }

    async fn round(
        &mut self,
        skipped_logged: &mut std::collections::BTreeSet<String>,
    ) -> Result<Round, RoundError> {
        let source = admin::cluster_metadata(&self.source_admin).await?;
        let target = admin::cluster_metadata(&self.target_admin).await?;
        let rf = self
            .mirror
            .replication_factor
            .unwrap_or_else(|| admin::default_replication_factor(target.broker_count));
        let planned_topics = plan(&self.mirror, &source);
        let mut round = Round {
            replicated: replicated(&planned_topics),
            ..Round::default()
        };
        let replicated: Vec<String> = planned_topics
            .iter()
            .filter(|p| matches!(p.decision, TopicDecision::Replicate { .. }))
            .map(|p| p.source_topic.clone())
            .collect();
        let facts = self.topic_facts(replicated, skipped_logged).await?;
        let ids: Option<HashMap<String, Option<TopicId>>> = facts.as_ref().map(|f| {
            f.iter()
                .map(|(name, facts)| (name.clone(), facts.id.clone()))
                .collect()
        });
        let mirror_name = self.mirror.name();
        let creates = *self.creates.borrow();
        let mut creations = if creates {
            self.create_missing(&planned_topics, &target, rf).await
        } else {
            HashMap::new()
        };
        for planned in planned_topics {
            let remote = match planned.decision {
                TopicDecision::Replicate { remote } => remote,
                TopicDecision::Skip(reason) => {
                    if !matches!(reason, SkipReason::Internal)
                        && skipped_logged.insert(planned.source_topic.clone())
                    {
                        tracing::debug!(topic = %planned.source_topic, reason = %reason,
                            "topic not replicated");
                    }
                    continue;
                }
            };
            let want = planned.partitions;
            let have = match target.topics.get(&remote) {
                Some(&n) => n,
                None if !creates => {
                    round.awaited += 1;
                    continue;
                }
                None => {
                    let (configs, result) = match creations.remove(&remote) {
                        Some(Creation::Unreadable(e)) => {
                            // Never with the target's defaults: a compacted source would get a
                            // remote topic that deletes by age. Tried again next round.
                            tracing::warn!(topic = %planned.source_topic, remote = %remote,
                                error = %error_chain(&e),
                                "cannot read the source topic's configs; the remote topic is created once they can be read");
                            round.failed += 1;
                            round.pending += 1;
                            continue;
                        }
                        Some(Creation::Sent { configs, result }) => (configs, result),
                        Some(Creation::RequestFailed) => {
                            round.failed += 1;
                            round.pending += 1;
                            continue;
                        }
                        None => {
                            round.pending += 1;
                            continue;
                        }
                    };
                    match result {
                        Ok(Ensured::Created) => {
                            tracing::info!(topic = %planned.source_topic, remote = %remote,
                                partitions = want, replication_factor = rf, configs,
                                "created remote topic");
                            round.created += 1;
                            self.permissions.created(&mirror_name, &remote);
                        }
                        Ok(Ensured::Existed) => {}
                        Err(AdminError::CreateTopic {
                            code: rdkafka::types::RDKafkaErrorCode::TopicAuthorizationFailed,
                            ..
                        }) => {
                            let lack = self.permissions.lack(
                                false,
                                native_admin::AclOperation::Create,
                                "topic",
                                &remote,
                                "creating remote topics",
                            );
                            self.permissions.refused(&mirror_name, lack);
                            round.failed += 1;
                        }
                        Err(e) => {
                            tracing::error!(topic = %planned.source_topic, remote = %remote,
                                error = %e, "cannot create remote topic; its records are not copied until this succeeds");
                            round.failed += 1;
                        }
                    }
                    // Copy only once the metadata shows the partitions (next round).
                    round.pending += 1;
                    continue;
                }
            };
            if have < want && !creates {
                round.awaited += 1;
            } else if have < want {
                match admin::ensure_partitions(&self.target_admin, &remote, want).await {
                    Ok(()) => {
                        round.pending += 1;
                        tracing::info!(remote = %remote, from = have, to = want,
                            "grew remote topic partitions")
                    }
                    Err(e) => {
                        tracing::error!(remote = %remote, error = %e,
                            "cannot add partitions to remote topic; new source partitions are not copied until this succeeds");
                        round.failed += 1;
                    }
                }
            } else if have > want
                && skipped_logged.insert(format!("excess partitions {remote} {have} {want}"))
            {
                tracing::warn!(topic = %planned.source_topic, remote = %remote,
                    source_partitions = want, target_partitions = have,
                    "remote topic has more partitions than its source; strait never shrinks topics");
            }
            let topic_id = match &ids {
                Some(ids) => match ids.get(&planned.source_topic) {
                    Some(id) => id.clone(),
                    // Gone between the two requests: its route goes with the next round.
                    None => continue,
                },
                None => None,
            };
            round.routes.push(Route {
                source_topic: Arc::from(planned.source_topic.as_str()),
                remote_topic: Arc::from(remote.as_str()),
                partitions: want.min(have),
                topic_id,
            });
        }
        let remote: Vec<String> = round
            .routes
            .iter()
            .map(|r| r.remote_topic.to_string())
            .collect();
        if let Some(facts) = &facts {
            let source_facts: std::collections::BTreeMap<String, native_admin::TopicFacts> =
                facts.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            self.permissions
                .check(
                    &self.mirror,
                    &mirror_name,
                    &source_facts,
                    remote,
                    &self.source_admin,
                    &self.target_admin,
                )
                .await;
        }
        Ok(round)
    }

    /// The ids of the replicated source topics and the principal's operations on them; `None`
    /// when the source cannot tell them (a cluster older than Kafka 2.8, said once).
    async fn topic_facts(
        &self,
        topics: Vec<String>,
        logged: &mut std::collections::BTreeSet<String>,
    ) -> Result<Option<HashMap<String, native_admin::TopicFacts>>, RoundError> {
        let admin = Arc::clone(&self.source_admin);
        let described = crate::runtime::blocking(move || {
            native_admin::describe_topics(admin.inner(), &topics, true)
        })
        .await
        .expect("DescribeTopics task panicked");
        match described {
            Ok(facts) => Ok(Some(
                facts
                    .into_iter()
                    .filter_map(|(name, f)| f.ok().map(|f| (name, f)))
                    .collect(),
            )),
            Err(NativeAdminError::Request {
                code: rdkafka::types::RDKafkaErrorCode::UnsupportedFeature,
                ..
            }) => {
                if logged.insert("topic ids unsupported".to_string()) {
                    tracing::warn!("the source cluster does not report topic ids (Kafka before 2.8): \
                        a topic deleted and re-created under the same name is recognised only when its \
                        log ends before strait's position");
                }
                Ok(None)
            }
            Err(e) => Err(RoundError::TopicIds(e)),
        }
    }
}

/// Compacted, with 10-minute segments so that compaction keeps these small topics small (with
/// the default 7-day segments the head, never compacted, would hold a week of writes and make
/// every start and `strait status` read all of it).
pub const INTERNAL_TOPIC_CONFIGS: &[(&str, &str)] =
    &[("cleanup.policy", "compact"), ("segment.ms", "600000")];

/// Ensures one of strait's or MM2's internal topics exists (compacted, one partition, as MM2
/// creates its own) and is visible in metadata.
pub async fn ensure_internal_topic(
    target_admin: &Arc<AdminClient<LogContext>>,
    topic: &str,
    replication_factor: Option<i16>,
) -> Result<(), AdminError> {
    let rf = admin::replication_factor(target_admin, replication_factor).await?;
    admin::ensure_topic(target_admin, topic, 1, rf, INTERNAL_TOPIC_CONFIGS).await?;
    // Wait until the topic is visible in metadata, so the first progress read and write find it.
    for _ in 0..100 {
        if admin::cluster_metadata(target_admin)
            .await?
            .topics
            .contains_key(topic)
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Ensures the coordination topic of a shared mirror (`deployment`) exists on the target with
/// `shards` partitions (compacted; never written) and returns its partition count as the
/// target's metadata shows it: a topic created earlier keeps its count, which every instance
/// then uses.
pub async fn ensure_shards_topic(
    target_admin: &Arc<AdminClient<LogContext>>,
    topic: &str,
    shards: u32,
    replication_factor: Option<i16>,
) -> Result<u32, AdminError> {
    let rf = admin::replication_factor(target_admin, replication_factor).await?;
    let want = i32::try_from(shards).unwrap_or(i32::MAX);
    admin::ensure_topic(target_admin, topic, want, rf, INTERNAL_TOPIC_CONFIGS).await?;
    for _ in 0..100 {
        if let Some(&n) = admin::cluster_metadata(target_admin)
            .await?
            .topics
            .get(topic)
        {
            let n = u32::try_from(n).unwrap_or(0);
            if n != shards {
                tracing::warn!(topic, partitions = n, configured = shards,
                    "the coordination topic exists with another partition count than deployment.shards; its own count is used (a topic's partitions cannot shrink, and every instance must agree)");
            }
            return Ok(n.max(1));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(shards)
}
