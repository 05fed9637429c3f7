//! Checkpoints: every `emit_checkpoints_interval`, read the committed offsets of the source's
//! consumer groups that pass the group filters, translate each through the exact offset map of
//! its partition, and write MM2-format Checkpoint records to `<source>.checkpoints.internal` on
//! the target, where MM2's `RemoteClusterUtils.translateOffsets` and Kafka's formatters read
//! them. A translation is the downstream offset of the first copied record at or after the
//! committed offset, so resuming there skips nothing; an offset older than the map yields no
//! checkpoint rather than a wrong one. Per (group, partition) a checkpoint never goes backwards,
//! also across restarts (the topic's latest records are read at start).
//!
//! Group offset sync (`sync_group_offsets`) commits the same translations to the same group on
//! the target, only while that group has no active members there (a running consumer owns its
//! offsets) and never moving a partition's committed offset backwards.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::config::ClusterConfig;
use crate::flow::{GroupOffsets, OffsetMaps, PartitionKey};
use crate::kafka::groups::{self, GroupInfo};
use crate::kafka::native_admin::AclOperation;
use crate::kafka::read::{read_to_end, LogEnds, ReadError, Trust};
use crate::kafka::{self, ClientError, LogContext, ADMIN_TIMEOUT};
use crate::policy::TopicFilter;
use crate::records::{Checkpoint, EncodeError};
use crate::runtime::{self, Exit, TaskSet};
use crate::telemetry::error_chain;
use crate::telemetry::events::{
    CheckpointWritten, Event, GroupCheckpointed, GroupGone, GroupNotCheckpointed,
    GroupOffsetsSynced, GroupSyncSkipped, MirrorTelemetry, Untranslatable,
};
use crate::telemetry::metrics::now_seconds;
use crate::topics::permissions::Permissions;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot read the existing checkpoints")]
    Read(#[from] ReadError),
    #[error("cannot list the source's consumer groups")]
    ListGroups(#[source] KafkaError),
    #[error("cannot read the committed offsets of group `{group}` on the {side}")]
    Committed {
        group: String,
        side: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("cannot describe group `{group}` on the target")]
    Describe {
        group: String,
        #[source]
        source: KafkaError,
    },
    #[error("the target refused the offsets of group `{group}`")]
    Commit {
        group: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot encode a checkpoint")]
    Encode(#[from] EncodeError),
    #[error("checkpoint not written to `{topic}`")]
    Write {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("a blocking call did not finish: {0}")]
    Aborted(String),
}

/// The broker refused the request for the group's permissions.
fn denied(e: &KafkaError) -> bool {
    e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::GroupAuthorizationFailed)
}

fn aborted(e: tokio::task::JoinError) -> CheckpointError {
    CheckpointError::Aborted(e.to_string())
}

/// (group, downstream topic, partition)
type Key = (String, String, i32);

/// How many groups' committed offsets are read at the same time.
const QUERY_CONCURRENCY: usize = 16;

pub struct CheckpointEmitter {
    pub telemetry: Arc<MirrorTelemetry>,
    pub source: ClusterConfig,
    pub target: ClusterConfig,
    /// `<source>.checkpoints.internal` on the target.
    pub topic: String,
    pub interval: Duration,
    pub groups: TopicFilter,
    /// Told what the brokers refuse for a group (and when they answer again).
    pub permissions: Arc<Permissions>,
    pub maps: OffsetMaps,
    pub source_admin: Arc<AdminClient<LogContext>>,
    pub target_admin: Arc<AdminClient<LogContext>>,
    pub producer: FutureProducer<LogContext>,
    /// Commit translated offsets to idle target groups this often (`None`: off).
    pub sync_group_offsets: Option<Duration>,
}

/// The state of group offset sync across rounds.
#[derive(Default)]
struct GroupSync {
    last_run: Option<std::time::Instant>,
    target_consumers: HashMap<String, Arc<BaseConsumer<LogContext>>>,
    /// Groups skipped last time because they had active members (logged on change only).
    skipped: std::collections::HashSet<String>,
}

/// What the emitter remembers across rounds.
#[derive(Default)]
struct Rounds {
    /// The latest checkpoint per key (read at start, then as written).
    last: HashMap<Key, i64>,
    /// Per group, the timestamp (ms) of its latest checkpoint in the topic at start.
    written_ms: HashMap<String, i64>,
    /// Groups whose checkpoint age this process has set.
    aged: std::collections::HashSet<String>,
    /// Per group, the partitions whose committed offset did not translate last round.
    untranslatable: HashMap<String, Vec<(String, i32)>>,
    consumers: HashMap<String, Arc<BaseConsumer<LogContext>>>,
    sync: GroupSync,
    /// Per group, what failed last round: a failure is logged at WARN the first round it
    /// happens, at DEBUG while it goes on (a missing permission fails every round until
    /// granted; the permission monitor names the grant).
    failing: std::collections::HashSet<(String, GroupStep)>,
}

/// What a round does for a group that can fail on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GroupStep {
    /// Read its committed offsets on the source.
    Read,
    /// Sync its offsets to the target.
    Sync,
}

impl Rounds {
    /// Whether `step` of `group` failed (`Some(error)`) or succeeded this round; logs a failure
    /// only the first round in a row.
    fn outcome(&mut self, group: &str, step: GroupStep, error: Option<&CheckpointError>) {
        let key = (group.to_string(), step);
        let Some(e) = error else {
            self.failing.remove(&key);
            return;
        };
        let first = self.failing.insert(key);
        let message = match step {
            GroupStep::Read => "no checkpoints for the group this round",
            GroupStep::Sync => "group offset sync failed; retrying at the next interval",
        };
        if first {
            tracing::warn!(group, error = %error_chain(e), "{message} (said once until it succeeds)");
        } else {
            tracing::debug!(group, error = %error_chain(e), "{message}");
        }
    }
}

/// One committed offset of a group, translated under the maps' lock.
struct Translated {
    topic: String,
    partition: i32,
    remote: Arc<str>,
    upstream: i64,
    metadata: String,
    translation: Option<crate::offset_map::Translation>,
    map_from: Option<i64>,
    dropped: bool,
}

impl CheckpointEmitter {
    /// Emits checkpoints until cancelled; errors are logged and retried at the next interval.
    pub async fn run(self, cancel: CancellationToken) {
        let (last, written_ms) = loop {
            match self.load().await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(topic = %self.topic, error = %error_chain(&e),
                        "cannot read existing checkpoints; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                }
            }
        };
        let mut state = Rounds {
            last,
            written_ms,
            ..Rounds::default()
        };
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.round(&mut state).await {
                tracing::warn!(error = %error_chain(&e), "checkpoint round failed; retrying at the next interval");
            }
        }
    }

    /// The latest checkpoint per key already in the topic (for monotonicity across restarts),
    /// and per group the timestamp (ms) of its latest checkpoint record.
    async fn load(&self) -> Result<(HashMap<Key, i64>, HashMap<String, i64>), CheckpointError> {
        let target = self.target.clone();
        let topic = self.topic.clone();
        let name = format!("{}|checkpoint-reader", self.telemetry.name);
        runtime::blocking(move || {
            let consumer = kafka::reader_consumer(&target, &name)?;
            let mut ends = LogEnds::new(&consumer);
            let mut last = HashMap::new();
            let mut written_ms: HashMap<String, i64> = HashMap::new();
            read_to_end(&consumer, &topic, Duration::from_secs(60), |m| {
                if let Trust::Trusted(c) = kafka::read::checkpoint(m, &mut ends, |_| true) {
                    if let Some(ts) = rdkafka::Message::timestamp(m).to_millis() {
                        let at = written_ms.entry(c.group.clone()).or_insert(ts);
                        *at = (*at).max(ts);
                    }
                    last.insert((c.group, c.topic, c.partition), c.downstream_offset);
                }
            })?;
            Ok((last, written_ms))
        })
        .await
        .map_err(aborted)?
    }

    async fn round(&self, state: &mut Rounds) -> Result<(), CheckpointError> {
        let sync_due = self
            .sync_group_offsets
            .is_some_and(|every| state.sync.last_run.is_none_or(|at| at.elapsed() >= every));
        if sync_due {
            state.sync.last_run = Some(std::time::Instant::now());
        }
        let round_started = std::time::Instant::now();
        let mirror = &*self.telemetry;
        let partitions = self.maps.partitions();
        if partitions.is_empty() {
            return Ok(());
        }
        let admin = Arc::clone(&self.source_admin);
        let groups: Vec<String> = runtime::blocking(move || groups::list(&admin))
            .await
            .map_err(aborted)?
            .map_err(CheckpointError::ListGroups)?;

        let selected: Vec<String> = groups
            .into_iter()
            .filter(|g| self.groups.matches(g))
            .collect();
        // Groups gone from the source (deleted, or no longer selected): drop their reader and
        // their metric series, so that a deleted group does not look like a stale checkpoint.
        let gone: Vec<String> = state
            .consumers
            .keys()
            .filter(|g| !selected.contains(g))
            .cloned()
            .collect();
        for group in gone {
            state.consumers.remove(&group);
            state.failing.retain(|(g, _)| *g != group);
            for on_source in [true, false] {
                self.permissions.group_allowed(
                    &mirror.name,
                    on_source,
                    &group,
                    &[AclOperation::Read, AclOperation::Describe],
                );
            }
            state.sync.skipped.remove(&group);
            state.aged.remove(&group);
            state.untranslatable.remove(&group);
            GroupGone {
                mirror,
                group: &group,
            }
            .emit();
        }

        let partitions: Arc<Vec<(String, i32)>> = Arc::new(partitions);
        let mut written = 0;
        // Read every selected group's offsets concurrently (each call waits on the group's
        // coordinator), at most QUERY_CONCURRENCY at a time.
        type Committed = Result<Vec<(String, i32, i64, String)>, KafkaError>;
        let mut results: Vec<(String, Committed)> = Vec::new();
        let mut queries: TaskSet<(String, Committed)> = TaskSet::default();
        let mut running = 0;
        let mut pending = selected.into_iter();
        loop {
            while running < QUERY_CONCURRENCY {
                let Some(group) = pending.next() else { break };
                let consumer = match state.consumers.get(&group) {
                    Some(c) => Arc::clone(c),
                    None => {
                        let c = Arc::new(kafka::group_offsets_consumer(
                            &self.source,
                            &group,
                            &format!("{}|checkpoints", mirror.name),
                        )?);
                        state.consumers.insert(group.clone(), Arc::clone(&c));
                        c
                    }
                };
                let request = Arc::clone(&partitions);
                // Plain values out of the blocking call: librdkafka's lists are not Send.
                queries.spawn_blocking(format!("committed offsets of {group}"), move || {
                    let mut tpl = TopicPartitionList::new();
                    for (topic, partition) in request.iter() {
                        tpl.add_partition(topic, *partition);
                    }
                    let committed = consumer.committed_offsets(tpl, ADMIN_TIMEOUT).map(|c| {
                        c.elements()
                            .iter()
                            .filter_map(|e| match e.offset() {
                                Offset::Offset(o) => Some((
                                    e.topic().to_string(),
                                    e.partition(),
                                    o,
                                    e.metadata().to_string(),
                                )),
                                _ => None,
                            })
                            .collect::<Vec<_>>()
                    });
                    (group, committed)
                });
                running += 1;
            }
            let Some((name, exit)) = queries.join_next().await else {
                break;
            };
            running -= 1;
            match exit {
                Exit::Returned(r) => results.push(r),
                Exit::Panicked(m) => return Err(CheckpointError::Aborted(format!("{name}: {m}"))),
                Exit::Aborted => return Err(CheckpointError::Aborted(name)),
            }
        }
        results.sort_by(|x, y| x.0.cmp(&y.0));
        // Every selected group's committed offset per partition asked about, for the record
        // path to keep the history they need: only from a round that read them all, and before
        // translating (the runs those offsets need stay, so nothing this round needs goes).
        let mut offsets: HashMap<PartitionKey, GroupOffsets> = partitions
            .iter()
            .map(|k| (k.clone(), GroupOffsets::new()))
            .collect();
        let mut complete = true;
        for (group, committed) in &results {
            let Ok(committed) = committed else {
                complete = false;
                continue;
            };
            let name: Arc<str> = Arc::from(group.as_str());
            for (topic, partition, upstream, _) in committed {
                if let Some(o) = offsets.get_mut(&(topic.clone(), *partition)) {
                    o.push((*upstream, Arc::clone(&name)));
                }
            }
        }
        if complete {
            self.maps.set_group_offsets(offsets);
        }
        for (group, committed) in results {
            let committed = match committed {
                Ok(c) => {
                    state.outcome(&group, GroupStep::Read, None);
                    self.permissions.group_allowed(
                        &mirror.name,
                        true,
                        &group,
                        &[AclOperation::Describe],
                    );
                    c
                }
                Err(source) => {
                    if denied(&source) {
                        let lack = self.permissions.lack(
                            true,
                            AclOperation::Describe,
                            "group",
                            &group,
                            "checkpoints",
                        );
                        self.permissions.refused(&mirror.name, lack);
                    }
                    let e = CheckpointError::Committed {
                        group: group.clone(),
                        side: "source",
                        source,
                    };
                    state.outcome(&group, GroupStep::Read, Some(&e));
                    continue;
                }
            };
            // Translated under the lock, written after it.
            let translated: Vec<Translated> = self.maps.with(|maps| {
                committed
                    .into_iter()
                    .filter_map(|(topic, partition, upstream, metadata)| {
                        let pm = maps.get(&(topic.clone(), partition))?;
                        Some(Translated {
                            remote: Arc::clone(&pm.remote_topic),
                            translation: pm.map.translate(upstream),
                            map_from: pm.map.first_upstream(),
                            dropped: pm.lost_below.is_some_and(|below| upstream < below),
                            topic,
                            partition,
                            upstream,
                            metadata,
                        })
                    })
                    .collect()
            });
            let mut translations: Vec<(String, i32, i64)> = Vec::new();
            let mut untranslatable: Vec<Untranslatable> = Vec::new();
            // Records the group moved on since its previous checkpoints (replayed by a failover
            // from checkpoints had the source died just before this round).
            let mut replay = 0;
            for t in translated {
                let Some(translation) = t.translation else {
                    untranslatable.push(Untranslatable {
                        topic: t.topic,
                        partition: t.partition,
                        committed: t.upstream,
                        map_from: t.map_from,
                        dropped: t.dropped,
                    });
                    continue;
                };
                let downstream = translation.offset();
                translations.push((t.remote.to_string(), t.partition, downstream));
                let key = (group.clone(), t.remote.to_string(), t.partition);
                match state.last.get(&key) {
                    Some(&prev) if prev >= downstream => continue, // unchanged, or would go backwards
                    Some(&prev) => replay += downstream - prev,
                    None => {}
                }
                let checkpoint = Checkpoint {
                    group: group.clone(),
                    topic: t.remote.to_string(),
                    partition: t.partition,
                    upstream_offset: t.upstream,
                    downstream_offset: downstream,
                    metadata: t.metadata,
                };
                self.write(&checkpoint).await?;
                CheckpointWritten {
                    mirror,
                    latency: round_started.elapsed(),
                }
                .emit();
                state.last.insert(key, downstream);
                written += 1;
            }
            if untranslatable.is_empty() {
                if !translations.is_empty() {
                    state.aged.insert(group.clone());
                    GroupCheckpointed {
                        mirror,
                        group: &group,
                        partitions: translations.len(),
                        replay,
                        recovered: state.untranslatable.remove(&group).is_some(),
                    }
                    .emit();
                }
            } else {
                // The age starts where the group's checkpoints were last current: its latest
                // checkpoint, or (never checkpointed) now, and is not refreshed from then on.
                let since = state.aged.insert(group.clone()).then(|| {
                    state
                        .written_ms
                        .get(&group)
                        .map_or_else(now_seconds, |&ms| ms as f64 / 1000.0)
                });
                let now: Vec<(String, i32)> = untranslatable
                    .iter()
                    .map(|u| (u.topic.clone(), u.partition))
                    .collect();
                let changed = state.untranslatable.get(&group) != Some(&now);
                GroupNotCheckpointed {
                    mirror,
                    group: &group,
                    partitions: translations.len(),
                    untranslatable: &untranslatable,
                    since,
                    changed,
                }
                .emit();
                state.untranslatable.insert(group.clone(), now);
            }
            if sync_due && !translations.is_empty() {
                let synced = self.sync_group(&group, translations, &mut state.sync).await;
                state.outcome(&group, GroupStep::Sync, synced.as_ref().err());
                self.told_sync(&group, &synced);
            }
        }
        if written > 0 {
            tracing::debug!(written, "checkpoints written");
        }
        Ok(())
    }

    /// Commits `translations` (remote topic, partition, offset) to `group` on the target if the
    /// group has no active members there, never moving an offset backwards. Whether anything
    /// was committed.
    async fn sync_group(
        &self,
        group: &str,
        translations: Vec<(String, i32, i64)>,
        sync: &mut GroupSync,
    ) -> Result<bool, CheckpointError> {
        let mirror = &*self.telemetry;
        let admin = Arc::clone(&self.target_admin);
        let g = group.to_string();
        let described = runtime::blocking(move || groups::describe(&admin, &g))
            .await
            .map_err(aborted)?
            .map_err(|source| CheckpointError::Describe {
                group: group.to_string(),
                source,
            })?;
        if let Some(GroupInfo { members, state }) = described.filter(|g| g.members > 0) {
            GroupSyncSkipped {
                mirror,
                group,
                members: Some((members, &state)),
                changed: sync.skipped.insert(group.to_string()),
            }
            .emit();
            return Ok(false);
        }
        GroupSyncSkipped {
            mirror,
            group,
            members: None,
            changed: sync.skipped.remove(group),
        }
        .emit();
        let consumer = match sync.target_consumers.get(group) {
            Some(c) => Arc::clone(c),
            None => {
                let c = Arc::new(kafka::group_offsets_consumer(
                    &self.target,
                    group,
                    &format!("{}|group-sync", mirror.name),
                )?);
                sync.target_consumers
                    .insert(group.to_string(), Arc::clone(&c));
                c
            }
        };
        let g = group.to_string();
        let committed = runtime::blocking(move || {
            let request: Vec<(String, i32)> = translations
                .iter()
                .map(|(t, p, _)| (t.clone(), *p))
                .collect();
            let current = groups::committed(&consumer, &request).map_err(|source| {
                CheckpointError::Committed {
                    group: g.clone(),
                    side: "target",
                    source,
                }
            })?;
            // Never backwards (the target group may be ahead: it ran there).
            let commit: Vec<(String, i32, i64)> = translations
                .into_iter()
                .filter(|(t, p, o)| current.get(&(t.clone(), *p)).is_none_or(|now| now < o))
                .collect();
            if !commit.is_empty() {
                groups::commit(&consumer, &commit)
                    .map_err(|source| CheckpointError::Commit { group: g, source })?;
            }
            Ok::<_, CheckpointError>(commit.len())
        })
        .await
        .map_err(aborted)??;
        if committed > 0 {
            GroupOffsetsSynced {
                group,
                partitions: committed,
            }
            .emit();
        }
        Ok(committed > 0)
    }

    /// Tells the permissions what a group offset sync of `group` showed: READ and DESCRIBE
    /// there (something committed), DESCRIBE there, or one of them refused.
    fn told_sync(&self, group: &str, synced: &Result<bool, CheckpointError>) {
        let name = &self.telemetry.name;
        let permissions = &self.permissions;
        let refused = |op| {
            let lack = permissions.lack(false, op, "group", group, "group offset sync");
            permissions.refused(name, lack);
        };
        match synced {
            Ok(true) => permissions.group_allowed(
                name,
                false,
                group,
                &[AclOperation::Read, AclOperation::Describe],
            ),
            Ok(false) => permissions.group_allowed(name, false, group, &[AclOperation::Describe]),
            Err(CheckpointError::Commit { source, .. }) if denied(source) => {
                refused(AclOperation::Read)
            }
            Err(
                CheckpointError::Committed { source, .. }
                | CheckpointError::Describe { source, .. },
            ) if denied(source) => {
                // Not even DESCRIBE: READ, which implies it, is missing too.
                refused(AclOperation::Read);
                refused(AclOperation::Describe);
            }
            Err(_) => {}
        }
    }

    async fn write(&self, c: &Checkpoint) -> Result<(), CheckpointError> {
        let key = c.encode_key()?;
        let value = c.encode_value()?;
        let record = FutureRecord::to(&self.topic)
            .partition(0)
            .key(&key)
            .payload(&value)
            .timestamp(chrono::Utc::now().timestamp_millis());
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(source, _)| CheckpointError::Write {
                topic: self.topic.clone(),
                source,
            })
    }
}
