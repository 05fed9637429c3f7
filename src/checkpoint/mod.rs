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
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::config::ClusterConfig;
use crate::flow::OffsetMaps;
use crate::kafka::groups::{self, GroupInfo};
use crate::kafka::read::read_to_end;
use crate::kafka::{self, LogContext, ADMIN_TIMEOUT};
use crate::policy::TopicFilter;
use crate::records::Checkpoint;
use crate::telemetry::error_chain;
use crate::telemetry::metrics::{metrics, now_seconds};

/// (group, downstream topic, partition)
type Key = (String, String, i32);

/// How many groups' committed offsets are read at the same time.
const QUERY_CONCURRENCY: usize = 16;

pub struct CheckpointEmitter {
    pub mirror: String,
    pub source: ClusterConfig,
    pub target: ClusterConfig,
    /// `<source>.checkpoints.internal` on the target.
    pub topic: String,
    pub interval: Duration,
    pub groups: TopicFilter,
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

impl CheckpointEmitter {
    /// Emits checkpoints until cancelled; errors are logged and retried at the next interval.
    pub async fn run(self, cancel: CancellationToken) {
        let mut last: HashMap<Key, i64> = loop {
            match self.load().await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(mirror = %self.mirror, topic = %self.topic, error = %e,
                        "cannot read existing checkpoints; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                }
            }
        };
        let mut consumers: HashMap<String, Arc<BaseConsumer<LogContext>>> = HashMap::new();
        let mut sync = GroupSync::default();
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.round(&mut last, &mut consumers, &mut sync).await {
                tracing::warn!(mirror = %self.mirror, error = %e, "checkpoint round failed; retrying at the next interval");
            }
        }
    }

    /// The latest checkpoint per key already in the topic (for monotonicity across restarts).
    async fn load(&self) -> Result<HashMap<Key, i64>, String> {
        let target = self.target.clone();
        let topic = self.topic.clone();
        let name = format!("{}|checkpoint-reader", self.mirror);
        tokio::task::spawn_blocking(move || {
            let consumer = kafka::reader_consumer(&target, &name).map_err(|e| error_chain(&e))?;
            let mut last = HashMap::new();
            read_to_end(&consumer, &topic, Duration::from_secs(60), |m| {
                if let (Some(k), Some(v)) = (m.key(), m.payload()) {
                    if let Ok(c) = Checkpoint::decode(k, v) {
                        last.insert((c.group, c.topic, c.partition), c.downstream_offset);
                    }
                }
            })
            .map_err(|e| error_chain(&e))?;
            Ok(last)
        })
        .await
        .map_err(|e| e.to_string())?
    }

    async fn round(
        &self,
        last: &mut HashMap<Key, i64>,
        consumers: &mut HashMap<String, Arc<BaseConsumer<LogContext>>>,
        sync: &mut GroupSync,
    ) -> Result<(), String> {
        let sync_due = self
            .sync_group_offsets
            .is_some_and(|every| sync.last_run.is_none_or(|at| at.elapsed() >= every));
        if sync_due {
            sync.last_run = Some(std::time::Instant::now());
        }
        let round_started = std::time::Instant::now();
        let m = metrics();
        let snapshot = self.maps.read().expect("maps lock").clone();
        if snapshot.is_empty() {
            return Ok(());
        }
        let admin = Arc::clone(&self.source_admin);
        let groups: Vec<String> = tokio::task::spawn_blocking(move || {
            admin
                .inner()
                .fetch_group_list(None, ADMIN_TIMEOUT)
                .map(|list| list.groups().iter().map(|g| g.name().to_string()).collect())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot list source consumer groups: {e}"))?;

        let selected: Vec<String> = groups
            .into_iter()
            .filter(|g| self.groups.matches(g))
            .collect();
        // Groups gone from the source (deleted, or no longer selected): drop their reader and
        // their metric series, so that a deleted group does not look like a stale checkpoint.
        let gone: Vec<String> = consumers
            .keys()
            .filter(|g| !selected.contains(g))
            .cloned()
            .collect();
        for group in gone {
            consumers.remove(&group);
            sync.skipped.remove(&group);
            m.remove_group(&self.mirror, &group);
            tracing::info!(mirror = %self.mirror, group = %group,
                "consumer group no longer on the source (or no longer selected); its checkpoints stay, its metrics are removed");
        }

        let partitions: Arc<Vec<(String, i32)>> = Arc::new(snapshot.keys().cloned().collect());
        let mut written = 0;
        // Read every selected group's offsets concurrently (each call waits on the group's
        // coordinator), at most QUERY_CONCURRENCY at a time.
        let limit = Arc::new(tokio::sync::Semaphore::new(QUERY_CONCURRENCY));
        let mut queries = tokio::task::JoinSet::new();
        for group in selected {
            let consumer = match consumers.get(&group) {
                Some(c) => Arc::clone(c),
                None => {
                    let c = Arc::new(
                        kafka::group_offsets_consumer(
                            &self.source,
                            &group,
                            &format!("{}|checkpoints", self.mirror),
                        )
                        .map_err(|e| error_chain(&e))?,
                    );
                    consumers.insert(group.clone(), Arc::clone(&c));
                    c
                }
            };
            let request = Arc::clone(&partitions);
            let limit = Arc::clone(&limit);
            queries.spawn(async move {
                let _permit = limit.acquire_owned().await;
                // Plain values out of the blocking call: librdkafka's lists are not Send.
                let committed = tokio::task::spawn_blocking(move || {
                    let mut tpl = TopicPartitionList::new();
                    for (topic, partition) in request.iter() {
                        tpl.add_partition(topic, *partition);
                    }
                    consumer.committed_offsets(tpl, ADMIN_TIMEOUT).map(|c| {
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
                    })
                })
                .await;
                (group, committed)
            });
        }
        let mut results = Vec::new();
        while let Some(done) = queries.join_next().await {
            let (group, committed) = done.map_err(|e| e.to_string())?;
            results.push((group, committed.map_err(|e| e.to_string())?));
        }
        results.sort_by(|x, y| x.0.cmp(&y.0));
        for (group, committed) in results {
            let committed = match committed {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(mirror = %self.mirror, group, error = %e, "cannot read the group's committed offsets");
                    continue;
                }
            };
            let mut translations: Vec<(String, i32, i64)> = Vec::new();
            // Records the group moved on since its previous checkpoints (replayed by a failover
            // from checkpoints had the source died just before this round).
            let mut replay = 0;
            for (topic, partition, upstream, metadata) in committed {
                let Some(pm) = snapshot.get(&(topic.clone(), partition)) else {
                    continue;
                };
                let Some(translated) = pm.map.translate(upstream) else {
                    tracing::debug!(mirror = %self.mirror, group, topic, partition,
                        upstream, "committed offset is older than the offset map: no checkpoint");
                    continue;
                };
                let downstream = translated.offset();
                translations.push((pm.remote_topic.to_string(), partition, downstream));
                let key = (group.clone(), pm.remote_topic.to_string(), partition);
                match last.get(&key) {
                    Some(&prev) if prev >= downstream => continue, // unchanged, or would go backwards
                    Some(&prev) => replay += downstream - prev,
                    None => {}
                }
                let checkpoint = Checkpoint {
                    group: group.clone(),
                    topic: pm.remote_topic.to_string(),
                    partition,
                    upstream_offset: upstream,
                    downstream_offset: downstream,
                    metadata,
                };
                self.write(&checkpoint).await?;
                m.checkpoints.with_label_values(&[&self.mirror]).inc();
                m.checkpoint_latency
                    .with_label_values(&[&self.mirror])
                    .observe(round_started.elapsed().as_secs_f64());
                last.insert(key, downstream);
                written += 1;
            }
            // The group's checkpoints are current as of now (written, or unchanged).
            m.checkpoint_last
                .with_label_values(&[&self.mirror, &group])
                .set(now_seconds());
            m.failover_replay
                .with_label_values(&[&self.mirror, &group])
                .set(replay);
            if sync_due && !translations.is_empty() {
                if let Err(e) = self.sync_group(&group, translations, sync).await {
                    tracing::warn!(mirror = %self.mirror, group, error = %e, "group offset sync failed; retrying at the next interval");
                }
            }
        }
        if written > 0 {
            tracing::debug!(mirror = %self.mirror, written, "checkpoints written");
        }
        Ok(())
    }

    /// Commits `translations` (remote topic, partition, offset) to `group` on the target if the
    /// group has no active members there, never moving an offset backwards.
    async fn sync_group(
        &self,
        group: &str,
        translations: Vec<(String, i32, i64)>,
        sync: &mut GroupSync,
    ) -> Result<(), String> {
        let admin = Arc::clone(&self.target_admin);
        let g = group.to_string();
        let described = tokio::task::spawn_blocking(move || groups::describe(&admin, &g))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot describe the group on the target: {e}"))?;
        if let Some(GroupInfo { members, state }) = described {
            if members > 0 {
                metrics()
                    .group_sync_skipped
                    .with_label_values(&[&self.mirror, group])
                    .set(1);
                if sync.skipped.insert(group.to_string()) {
                    tracing::info!(mirror = %self.mirror, group, members, state,
                        "group offset sync skipped: the group has active members on the target");
                }
                return Ok(());
            }
        }
        metrics()
            .group_sync_skipped
            .with_label_values(&[&self.mirror, group])
            .set(0);
        if sync.skipped.remove(group) {
            tracing::info!(mirror = %self.mirror, group, "group has no active members on the target any more; syncing its offsets");
        }
        let consumer = match sync.target_consumers.get(group) {
            Some(c) => Arc::clone(c),
            None => {
                let c = Arc::new(
                    kafka::group_offsets_consumer(
                        &self.target,
                        group,
                        &format!("{}|group-sync", self.mirror),
                    )
                    .map_err(|e| error_chain(&e))?,
                );
                sync.target_consumers
                    .insert(group.to_string(), Arc::clone(&c));
                c
            }
        };
        let mirror = self.mirror.clone();
        let g = group.to_string();
        tokio::task::spawn_blocking(move || {
            let request: Vec<(String, i32)> = translations
                .iter()
                .map(|(t, p, _)| (t.clone(), *p))
                .collect();
            let current = groups::committed(&consumer, &request)
                .map_err(|e| format!("cannot read the group's offsets on the target: {e}"))?;
            // Never backwards (the target group may be ahead: it ran there).
            let commit: Vec<(String, i32, i64)> = translations
                .into_iter()
                .filter(|(t, p, o)| current.get(&(t.clone(), *p)).is_none_or(|now| now < o))
                .collect();
            if commit.is_empty() {
                return Ok(());
            }
            groups::commit(&consumer, &commit)
                .map_err(|e| format!("commit to the target group refused: {e}"))?;
            tracing::info!(mirror = %mirror, group = %g, partitions = commit.len(), "synced group offsets to the target");
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    async fn write(&self, c: &Checkpoint) -> Result<(), String> {
        let key = c.encode_key().map_err(|e| e.to_string())?;
        let value = c.encode_value().map_err(|e| e.to_string())?;
        let record = FutureRecord::to(&self.topic)
            .partition(0)
            .key(&key)
            .payload(&value)
            .timestamp(chrono::Utc::now().timestamp_millis());
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(e, _)| format!("checkpoint not written to {}: {e}", self.topic))
    }
}
