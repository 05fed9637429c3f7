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

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use tokio_util::sync::CancellationToken;

use crate::config::ClusterConfig;
use crate::flow::{GroupOffsets, OffsetMaps, PartitionKey};
use crate::kafka::groups::{self, GroupInfo};
use crate::kafka::native_admin::{
    self, AclOperation, GroupOffsets as GroupOffsetList, NativeAdminError, OffsetsCommit,
    OffsetsQuery,
};
use crate::kafka::read::{read_to_end, LogEnds, ReadError, Trust};
use crate::kafka::{self, ClientError, LogContext};
use crate::policy::TopicFilter;
use crate::records::{Checkpoint, EncodeError};
use crate::runtime;
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
        source: NativeAdminError,
    },
    #[error("cannot list the consumer groups on the target (for group `{group}`)")]
    Describe {
        group: String,
        #[source]
        source: KafkaError,
    },
    #[error("the target refused the offsets of group `{group}`")]
    Commit {
        group: String,
        #[source]
        source: NativeAdminError,
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
fn denied(e: &NativeAdminError) -> bool {
    matches!(e, NativeAdminError::Request { code, .. } if *code == RDKafkaErrorCode::GroupAuthorizationFailed)
}

/// The broker refused the listing for the principal's permissions.
fn denied_listing(e: &KafkaError) -> bool {
    e.rdkafka_error_code() == Some(RDKafkaErrorCode::GroupAuthorizationFailed)
}

fn aborted(e: tokio::task::JoinError) -> CheckpointError {
    CheckpointError::Aborted(e.to_string())
}

/// (group, downstream topic, partition)
type Key = (String, String, i32);

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
    /// Groups skipped last time because they had active members (logged on change only).
    skipped: HashSet<String>,
}

/// What the emitter remembers across rounds.
#[derive(Default)]
struct Rounds {
    /// The latest checkpoint per key (read at start, then as written).
    last: HashMap<Key, i64>,
    /// Per group, the timestamp (ms) of its latest checkpoint in the topic at start.
    written_ms: HashMap<String, i64>,
    /// Groups whose checkpoint age this process has set.
    aged: HashSet<String>,
    /// Per group, the partitions whose committed offset did not translate last round.
    untranslatable: HashMap<String, Vec<(String, i32)>>,
    /// The groups selected last round (one gone since is forgotten).
    known: HashSet<String>,
    sync: GroupSync,
    /// Per group, what failed last round: a failure is logged at WARN the first round it
    /// happens, at DEBUG while it goes on (a missing permission fails every round until
    /// granted; the permission monitor names the grant).
    failing: HashSet<(String, GroupStep)>,
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

/// One group's part of a round: what it translated and which of the round's checkpoints are
/// its own.
struct GroupRound {
    group: String,
    /// (remote topic, partition, downstream offset) of every partition that translated.
    translations: Vec<(String, i32, i64)>,
    untranslatable: Vec<Untranslatable>,
    replay: i64,
    /// Its checkpoints among the round's.
    writes: Range<usize>,
}

/// Waits for every delivery in `waiting` and files its outcome in `out`.
async fn settle(
    topic: &str,
    waiting: &mut Vec<(usize, DeliveryFuture)>,
    out: &mut [Option<Result<(), CheckpointError>>],
) {
    for (i, delivery) in waiting.drain(..) {
        let failed = match delivery.await {
            Ok(Ok(_)) => None,
            Ok(Err((e, _))) => Some(e),
            Err(_) => Some(KafkaError::Canceled),
        };
        out[i] = Some(match failed {
            None => Ok(()),
            Some(source) => Err(CheckpointError::Write {
                topic: topic.to_string(),
                source,
            }),
        });
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

        let mut selected: Vec<String> = groups
            .into_iter()
            .filter(|g| self.groups.matches(g))
            .collect();
        selected.sort();
        selected.dedup();
        // Groups gone from the source (deleted, or no longer selected): forget them and drop
        // their metric series, so that a deleted group does not look like a stale checkpoint.
        let now_selected: HashSet<String> = selected.iter().cloned().collect();
        let gone: Vec<String> = state.known.difference(&now_selected).cloned().collect();
        for group in gone {
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
        state.known = now_selected;

        // Every selected group's committed offsets through the one admin client, many groups
        // in flight at a time (no client per group): each group is asked for all its offsets,
        // and those of partitions this mirror copies are kept.
        let mirrored: Arc<HashSet<(String, i32)>> = Arc::new(partitions.iter().cloned().collect());
        let admin = Arc::clone(&self.source_admin);
        let requests: Vec<OffsetsQuery> = selected.iter().map(|g| (g.clone(), None)).collect();
        let keep = Arc::clone(&mirrored);
        let answers = runtime::blocking(move || {
            native_admin::list_group_offsets(admin.inner(), &requests)
                .into_iter()
                .map(|r| {
                    r.map(|offsets| {
                        offsets
                            .into_iter()
                            .filter(|(t, p, _, _)| keep.contains(&(t.clone(), *p)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(aborted)?;
        let results: Vec<(String, Result<GroupOffsetList, NativeAdminError>)> =
            selected.into_iter().zip(answers).collect();
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

        // Translate every group, then write the round's checkpoints together (each write
        // waits for the target's acknowledgement; one after the other they would take a
        // round trip per checkpoint), then tell per group what became of it.
        let mut rounds: Vec<GroupRound> = Vec::new();
        let mut checkpoints: Vec<Checkpoint> = Vec::new();
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
            let mut g = GroupRound {
                group,
                translations: Vec::new(),
                untranslatable: Vec::new(),
                replay: 0,
                writes: checkpoints.len()..checkpoints.len(),
            };
            for t in translated {
                let Some(translation) = t.translation else {
                    g.untranslatable.push(Untranslatable {
                        topic: t.topic,
                        partition: t.partition,
                        committed: t.upstream,
                        map_from: t.map_from,
                        dropped: t.dropped,
                    });
                    continue;
                };
                let downstream = translation.offset();
                g.translations
                    .push((t.remote.to_string(), t.partition, downstream));
                let key = (g.group.clone(), t.remote.to_string(), t.partition);
                match state.last.get(&key) {
                    Some(&prev) if prev >= downstream => continue, // unchanged, or would go backwards
                    // Records the group moved on since its previous checkpoints (replayed by a
                    // failover from checkpoints had the source died just before this round).
                    Some(&prev) => g.replay += downstream - prev,
                    None => {}
                }
                checkpoints.push(Checkpoint {
                    group: g.group.clone(),
                    topic: t.remote.to_string(),
                    partition: t.partition,
                    upstream_offset: t.upstream,
                    downstream_offset: downstream,
                    metadata: t.metadata,
                });
            }
            g.writes.end = checkpoints.len();
            rounds.push(g);
        }

        let mut outcomes = self.write_all(&checkpoints).await;
        let mut written = 0;
        let mut first_failure = None;
        let mut to_sync: Vec<OffsetsCommit> = Vec::new();
        for g in rounds {
            let mut all_written = true;
            for i in g.writes.clone() {
                match std::mem::replace(&mut outcomes[i], Ok(())) {
                    Ok(()) => {
                        let c = &checkpoints[i];
                        CheckpointWritten {
                            mirror,
                            latency: round_started.elapsed(),
                        }
                        .emit();
                        state.last.insert(
                            (c.group.clone(), c.topic.clone(), c.partition),
                            c.downstream_offset,
                        );
                        written += 1;
                    }
                    Err(e) => {
                        all_written = false;
                        first_failure.get_or_insert(e);
                    }
                }
            }
            if !all_written {
                // Written again next round (what was written stays: never backwards).
                continue;
            }
            let group = g.group;
            if g.untranslatable.is_empty() {
                if !g.translations.is_empty() {
                    state.aged.insert(group.clone());
                    GroupCheckpointed {
                        mirror,
                        group: &group,
                        partitions: g.translations.len(),
                        replay: g.replay,
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
                let now: Vec<(String, i32)> = g
                    .untranslatable
                    .iter()
                    .map(|u| (u.topic.clone(), u.partition))
                    .collect();
                let changed = state.untranslatable.get(&group) != Some(&now);
                GroupNotCheckpointed {
                    mirror,
                    group: &group,
                    partitions: g.translations.len(),
                    untranslatable: &g.untranslatable,
                    since,
                    changed,
                }
                .emit();
                state.untranslatable.insert(group.clone(), now);
            }
            if sync_due && !g.translations.is_empty() {
                to_sync.push((group, g.translations));
            }
        }
        if written > 0 {
            tracing::debug!(written, "checkpoints written");
        }
        if !to_sync.is_empty() {
            let groups: Vec<String> = to_sync.iter().map(|(g, _)| g.clone()).collect();
            let synced = self.sync_groups(to_sync, &mut state.sync).await?;
            for (group, synced) in groups.iter().zip(synced) {
                state.outcome(group, GroupStep::Sync, synced.as_ref().err());
                self.told_sync(group, &synced);
            }
        }
        match first_failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Commits each group's translations (remote topic, partition, offset) to the same group
    /// on the target if it has no active members there, never moving an offset backwards.
    /// Per group, in order, whether anything was committed. One listing of the target's
    /// groups, then their offsets read and committed through the target's admin client, many
    /// groups at a time.
    async fn sync_groups(
        &self,
        groups: Vec<OffsetsCommit>,
        sync: &mut GroupSync,
    ) -> Result<Vec<Result<bool, CheckpointError>>, CheckpointError> {
        let mirror = &*self.telemetry;
        let admin = Arc::clone(&self.target_admin);
        let described = runtime::blocking(move || groups::describe_all(&admin))
            .await
            .map_err(aborted)?;
        let described = match described {
            Ok(d) => d,
            Err(source) => {
                return Ok(groups
                    .into_iter()
                    .map(|(group, _)| {
                        Err(CheckpointError::Describe {
                            group,
                            source: source.clone(),
                        })
                    })
                    .collect())
            }
        };
        let mut out: Vec<Option<Result<bool, CheckpointError>>> =
            (0..groups.len()).map(|_| None).collect();
        // (index in `groups`, group, translations) of the groups without members there.
        let mut idle: Vec<(usize, OffsetsCommit)> = Vec::new();
        for (i, (group, translations)) in groups.into_iter().enumerate() {
            if let Some(GroupInfo { members, state }) =
                described.get(&group).filter(|g| g.members > 0)
            {
                GroupSyncSkipped {
                    mirror,
                    group: &group,
                    members: Some((*members, state)),
                    changed: sync.skipped.insert(group.clone()),
                }
                .emit();
                out[i] = Some(Ok(false));
                continue;
            }
            GroupSyncSkipped {
                mirror,
                group: &group,
                members: None,
                changed: sync.skipped.remove(&group),
            }
            .emit();
            idle.push((i, (group, translations)));
        }
        let admin = Arc::clone(&self.target_admin);
        let committed = runtime::blocking(move || {
            let requests: Vec<OffsetsQuery> = idle
                .iter()
                .map(|(_, (g, t))| {
                    (
                        g.clone(),
                        Some(t.iter().map(|(t, p, _)| (t.clone(), *p)).collect()),
                    )
                })
                .collect();
            let current = native_admin::list_group_offsets(admin.inner(), &requests);
            let mut results: Vec<(usize, String, Result<usize, CheckpointError>)> = Vec::new();
            let mut commits: Vec<(usize, OffsetsCommit)> = Vec::new();
            for ((i, (group, translations)), current) in idle.into_iter().zip(current) {
                let current: HashMap<(String, i32), i64> = match current {
                    Ok(c) => c.into_iter().map(|(t, p, o, _)| ((t, p), o)).collect(),
                    Err(source) => {
                        let e = CheckpointError::Committed {
                            group: group.clone(),
                            side: "target",
                            source,
                        };
                        results.push((i, group, Err(e)));
                        continue;
                    }
                };
                // Never backwards (the target group may be ahead: it ran there).
                let commit: Vec<(String, i32, i64)> = translations
                    .into_iter()
                    .filter(|(t, p, o)| current.get(&(t.clone(), *p)).is_none_or(|now| now < o))
                    .collect();
                if commit.is_empty() {
                    results.push((i, group, Ok(0)));
                } else {
                    commits.push((i, (group, commit)));
                }
            }
            let requests: Vec<OffsetsCommit> = commits.iter().map(|(_, c)| c.clone()).collect();
            let done = native_admin::alter_group_offsets(admin.inner(), &requests);
            for ((i, (group, commit)), done) in commits.into_iter().zip(done) {
                let r = done
                    .map(|()| commit.len())
                    .map_err(|source| CheckpointError::Commit {
                        group: group.clone(),
                        source,
                    });
                results.push((i, group, r));
            }
            results
        })
        .await
        .map_err(aborted)?;
        for (i, group, result) in committed {
            if let Ok(partitions) = result {
                if partitions > 0 {
                    GroupOffsetsSynced {
                        group: &group,
                        partitions,
                    }
                    .emit();
                }
            }
            out[i] = Some(result.map(|n| n > 0));
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or(Err(CheckpointError::Aborted("group offset sync".into()))))
            .collect())
    }

    /// Writes the round's checkpoints, all in flight together (as many as the producer's queue
    /// holds): per checkpoint, in order, whether the target acknowledged it.
    async fn write_all(&self, checkpoints: &[Checkpoint]) -> Vec<Result<(), CheckpointError>> {
        let mut out: Vec<Option<Result<(), CheckpointError>>> =
            (0..checkpoints.len()).map(|_| None).collect();
        let mut waiting: Vec<(usize, DeliveryFuture)> = Vec::new();
        for (i, c) in checkpoints.iter().enumerate() {
            let (key, value) = match (c.encode_key(), c.encode_value()) {
                (Ok(k), Ok(v)) => (k, v),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(group = %c.group, topic = %c.topic, partition = c.partition,
                        error = %e, "checkpoint not encodable; not written");
                    out[i] = Some(Err(CheckpointError::Encode(e)));
                    continue;
                }
            };
            loop {
                let record = FutureRecord::to(&self.topic)
                    .partition(0)
                    .key(&key)
                    .payload(&value)
                    .timestamp(chrono::Utc::now().timestamp_millis());
                match self.producer.send_result(record) {
                    Ok(delivery) => {
                        waiting.push((i, delivery));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                        if !waiting.is_empty() =>
                    {
                        // The producer's queue is full: wait for what is in flight first.
                        settle(&self.topic, &mut waiting, &mut out).await;
                    }
                    Err((source, _)) => {
                        out[i] = Some(Err(self.write_error(source)));
                        break;
                    }
                }
            }
        }
        settle(&self.topic, &mut waiting, &mut out).await;
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(self.write_error(KafkaError::Canceled))))
            .collect()
    }

    fn write_error(&self, source: KafkaError) -> CheckpointError {
        CheckpointError::Write {
            topic: self.topic.clone(),
            source,
        }
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
            Err(CheckpointError::Committed { source, .. }) if denied(source) => {
                // Not even DESCRIBE: READ, which implies it, is missing too.
                refused(AclOperation::Read);
                refused(AclOperation::Describe);
            }
            Err(CheckpointError::Describe { source, .. }) if denied_listing(source) => {
                refused(AclOperation::Read);
                refused(AclOperation::Describe);
            }
            Err(_) => {}
        }
    }
}
