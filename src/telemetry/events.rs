//! What happened, as types. Each event's `emit()` writes its log line, updates its metrics and the
//! mirror's in-process state (health, `/status`) together, so that the three never disagree and a
//! pipeline says each thing once. Events of one mirror are emitted inside its span
//! ([`MirrorTelemetry::span`]), which names the mirror on every line; they carry no `mirror` field
//! of their own.
//!
//! Metric handles that the hot path uses per record are created once per mirror
//! ([`MirrorTelemetry`]) and per partition ([`PartitionTelemetry`]); per-partition series are
//! removed when the partition stops being replicated here, so label sets stay bounded.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{Counter, Gauge, Histogram, IntCounter, IntGauge};
use rdkafka::error::KafkaError;

use super::health::{self, MirrorHealth, PartitionSnapshot};
use super::metrics::{code_label, metrics, now_seconds};
use crate::telemetry::error_chain;

/// Something that happened.
pub trait Event {
    fn emit(self);
}

/// The telemetry of one mirror: its span, its per-mirror metric handles and its health.
pub struct MirrorTelemetry {
    pub name: Arc<str>,
    span: tracing::Span,
    health: Arc<MirrorHealth>,
    latency: Histogram,
    loop_skipped: IntCounter,
    throttle_wait: Counter,
    up: IntGauge,
    restarts: IntCounter,
    partitions_assigned: IntGauge,
    source_reachable: IntGauge,
    heartbeats: IntCounter,
    heartbeat_last: Gauge,
    checkpoints: IntCounter,
    checkpoint_latency: Histogram,
}

impl MirrorTelemetry {
    pub fn new(name: &str, source: &str, target: &str) -> Arc<MirrorTelemetry> {
        let m = metrics();
        let l = [name];
        Arc::new(MirrorTelemetry {
            name: Arc::from(name),
            span: tracing::info_span!("mirror", mirror = %name),
            health: health::register(name, source, target),
            latency: m.replication_latency.with_label_values(&l),
            loop_skipped: m.loop_skipped.with_label_values(&l),
            throttle_wait: m.throttle_wait.with_label_values(&l),
            up: m.mirror_up.with_label_values(&l),
            restarts: m.mirror_restarts.with_label_values(&l),
            partitions_assigned: m.partitions_assigned.with_label_values(&l),
            source_reachable: m.source_reachable.with_label_values(&l),
            heartbeats: m.heartbeats.with_label_values(&l),
            heartbeat_last: m.heartbeat_last.with_label_values(&l),
            checkpoints: m.checkpoints.with_label_values(&l),
            checkpoint_latency: m.checkpoint_latency.with_label_values(&l),
        })
    }

    /// The mirror's span: every line logged inside names the mirror.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    pub fn health(&self) -> &MirrorHealth {
        &self.health
    }

    /// Whether the mirror's record path runs (heartbeats are written only while it does).
    pub fn is_up(&self) -> bool {
        self.health.up.load(Ordering::Relaxed)
    }
}

/// The metric series of one replicated partition (removed by [`PartitionRemoved`]).
pub struct PartitionTelemetry {
    records: IntCounter,
    bytes: IntCounter,
    record_age: Gauge,
    lag_records: IntGauge,
    lag_seconds: Gauge,
}

impl PartitionTelemetry {
    pub fn new(mirror: &str, topic: &str, partition: i32) -> PartitionTelemetry {
        let m = metrics();
        let p = partition.to_string();
        let l = [mirror, topic, p.as_str()];
        PartitionTelemetry {
            records: m.records_replicated.with_label_values(&l),
            bytes: m.bytes_replicated.with_label_values(&l),
            record_age: m.record_age.with_label_values(&l),
            lag_records: m.lag_records.with_label_values(&l),
            lag_seconds: m.lag_seconds.with_label_values(&l),
        }
    }
}

// ---- the record path ----------------------------------------------------------------------

/// The record path started with `stored` persisted positions: the mirror is up.
pub struct RecordPathStarted<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub stored: usize,
}

impl Event for RecordPathStarted<'_> {
    fn emit(self) {
        tracing::info!(stored_positions = self.stored, "record path starting");
        self.mirror.health.tick();
        self.mirror.health.up.store(true, Ordering::Relaxed);
        self.mirror.up.set(1);
    }
}

/// The record path ended (stopped, failed or panicked): the mirror is down until it restarts.
pub struct RecordPathEnded<'a> {
    pub mirror: &'a MirrorTelemetry,
}

impl Event for RecordPathEnded<'_> {
    fn emit(self) {
        self.mirror.health.up.store(false, Ordering::Relaxed);
        self.mirror.up.set(0);
    }
}

/// The record path stopped on request; `drained`: everything in flight was acknowledged and
/// the final positions written.
pub struct RecordPathStopped {
    pub drained: bool,
}

impl Event for RecordPathStopped {
    fn emit(self) {
        if self.drained {
            tracing::info!("record path stopped");
        } else {
            tracing::warn!(
                "shutdown deadline reached with records in flight; they will be copied again on restart"
            );
        }
    }
}

/// The record loop turned (what `/healthz` watches).
pub struct LoopTurned<'a> {
    pub mirror: &'a MirrorTelemetry,
}

impl Event for LoopTurned<'_> {
    fn emit(self) {
        self.mirror.health.tick();
    }
}

/// The summary logged every half minute.
pub struct Replicating {
    pub records_total: u64,
    pub records_per_second: f64,
    pub partitions: usize,
}

impl Event for Replicating {
    fn emit(self) {
        tracing::info!(
            records_total = self.records_total,
            records_per_second = self.records_per_second.round(),
            partitions = self.partitions,
            "replicating"
        );
    }
}

/// A partition is replicated here from now on (or again).
pub struct PartitionAssigned<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub remote: &'a str,
    /// The first offset to copy; `None`: from the beginning of the log.
    pub from: Option<i64>,
}

impl Event for PartitionAssigned<'_> {
    fn emit(self) {
        tracing::info!(
            topic = self.topic,
            partition = self.partition,
            remote = self.remote,
            from = self.from.map_or("beginning".to_string(), |o| o.to_string()),
            "replicating partition"
        );
    }
}

/// A partition is no longer replicated here: its metric series go.
pub struct PartitionRemoved<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub topic: &'a str,
    pub partition: i32,
}

impl Event for PartitionRemoved<'_> {
    fn emit(self) {
        tracing::info!(
            topic = self.topic,
            partition = self.partition,
            "partition no longer replicated"
        );
        metrics().remove_partition(&self.mirror.name, self.topic, self.partition);
    }
}

/// A record was fetched; `ts_ms` is its source timestamp.
pub struct RecordFetched<'a> {
    pub partition: &'a PartitionTelemetry,
    pub ts_ms: i64,
    pub now_ms: i64,
}

impl Event for RecordFetched<'_> {
    #[inline]
    fn emit(self) {
        self.partition
            .record_age
            .set(((self.now_ms - self.ts_ms).max(0) as f64) / 1000.0);
    }
}

/// The target acknowledged a copied record of `bytes` (key + value) with source timestamp
/// `ts_ms`.
pub struct RecordAcknowledged<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub partition: &'a PartitionTelemetry,
    pub bytes: usize,
    pub ts_ms: Option<i64>,
    pub now_ms: i64,
}

impl Event for RecordAcknowledged<'_> {
    #[inline]
    fn emit(self) {
        self.partition.records.inc();
        self.partition.bytes.inc_by(self.bytes as u64);
        if let Some(ts) = self.ts_ms {
            self.mirror
                .latency
                .observe(((self.now_ms - ts).max(0) as f64) / 1000.0);
        }
    }
}

/// A record was not copied because its provenance header lists the target.
pub struct LoopRecordSkipped<'a> {
    pub mirror: &'a MirrorTelemetry,
}

impl Event for LoopRecordSkipped<'_> {
    fn emit(self) {
        self.mirror.loop_skipped.inc();
    }
}

/// The record path waited for the throttle.
pub struct Throttled<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub waited: Duration,
}

impl Event for Throttled<'_> {
    fn emit(self) {
        self.mirror.throttle_wait.inc_by(self.waited.as_secs_f64());
    }
}

/// A delivery to the target failed (what happens next is a partition event).
pub struct ProduceFailed<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub error: &'a KafkaError,
}

impl Event for ProduceFailed<'_> {
    fn emit(self) {
        metrics()
            .produce_errors
            .with_label_values(&[&*self.mirror.name, &code_label(self.error)])
            .inc();
    }
}

/// The source consumer reported an error. `logged`: said in the log too (an offset out of range
/// is said by the data-gap or log-reset event that follows instead).
pub struct FetchFailed<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub error: &'a KafkaError,
    pub logged: bool,
}

impl Event for FetchFailed<'_> {
    fn emit(self) {
        metrics()
            .fetch_errors
            .with_label_values(&[&*self.mirror.name, &code_label(self.error)])
            .inc();
        if self.logged {
            tracing::warn!(error = %self.error, "source consumer error; retrying");
        }
    }
}

/// Which partition an event is about.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub remote: &'a str,
}

/// The target refused a batch as too large (or the producer refused a record while others
/// were in flight): records are re-sent one at a time.
pub struct Isolating<'a> {
    pub at: At<'a>,
    pub from: i64,
    pub until: i64,
    pub refused_before_send: bool,
    pub error: &'a dyn std::fmt::Display,
}

impl Event for Isolating<'_> {
    fn emit(self) {
        let At {
            topic,
            partition,
            remote,
        } = self.at;
        if self.refused_before_send {
            tracing::warn!(topic, partition, remote, offset = self.from, error = %self.error,
                "the producer refused a record while earlier ones were in flight; re-sending from the acknowledged position one at a time");
        } else {
            tracing::warn!(topic, partition, from = self.from, until = self.until, remote, error = %self.error,
                "the target refused a batch as too large; re-sending its records one at a time to find the refused record");
        }
    }
}

/// Isolation found no refused record.
pub struct BackToBatches<'a> {
    pub at: At<'a>,
}

impl Event for BackToBatches<'_> {
    fn emit(self) {
        tracing::info!(
            topic = self.at.topic,
            partition = self.at.partition,
            "no record refused; back to batches"
        );
    }
}

/// The target refuses a record for good: its partition stops there.
pub struct PartitionStopped<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub at: At<'a>,
    pub offset: i64,
    pub record_bytes: usize,
    pub error: &'a dyn std::fmt::Display,
    pub reason: &'static str,
    pub hint: &'static str,
}

impl Event for PartitionStopped<'_> {
    fn emit(self) {
        let At {
            topic,
            partition,
            remote,
        } = self.at;
        let offset = self.offset;
        metrics()
            .data_gaps
            .with_label_values(&[&*self.mirror.name, self.reason])
            .inc();
        tracing::error!(topic, partition, offset, remote_topic = remote, record_bytes = self.record_bytes,
            error = %self.error,
            "the target refuses this record for good; partition {topic}-{partition} is stopped at offset {offset} and \
             nothing after it is copied until this is fixed: {}; then restart strait, which resumes at this offset",
            self.hint);
    }
}

/// A transient delivery failure: the partition is copied again after `backoff`.
pub struct RetryScheduled<'a> {
    pub at: At<'a>,
    pub offset: i64,
    pub backoff: Duration,
    pub error: &'a dyn std::fmt::Display,
}

impl Event for RetryScheduled<'_> {
    fn emit(self) {
        let At {
            topic,
            partition,
            remote,
        } = self.at;
        tracing::warn!(topic, partition, offset = self.offset, remote_topic = remote, error = %self.error,
            retry_in = ?self.backoff,
            "delivery failed; the partition will be copied again from its acknowledged position");
    }
}

/// A scheduled retry started.
pub struct Retrying<'a> {
    pub at: At<'a>,
    pub from: i64,
}

impl Event for Retrying<'_> {
    fn emit(self) {
        tracing::info!(
            topic = self.at.topic,
            partition = self.at.partition,
            from = self.from,
            "retrying partition"
        );
    }
}

/// Source records were deleted (retention) before strait copied them.
pub struct DataGap<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub at: At<'a>,
    pub from: i64,
    pub to: i64,
}

impl Event for DataGap<'_> {
    fn emit(self) {
        let lost = (self.to - self.from + 1).max(0) as u64;
        metrics()
            .data_gaps
            .with_label_values(&[&*self.mirror.name, "out_of_range"])
            .inc_by(lost);
        tracing::error!(topic = self.at.topic, partition = self.at.partition,
            from_offset = self.from, to_offset = self.to, lost,
            "data gap: source records were deleted (retention) before strait copied them; \
             continuing at the log start. Raise the source topic's retention or strait's throughput to avoid this");
    }
}

/// The position lies beyond the source log's end.
pub struct SourceLogReset<'a> {
    pub at: At<'a>,
    pub position: i64,
    pub log_end: i64,
}

impl Event for SourceLogReset<'_> {
    fn emit(self) {
        tracing::warn!(topic = self.at.topic, partition = self.at.partition,
            position = self.position, log_end = self.log_end,
            "source partition ends before strait's position (topic re-created or truncated); copying it from its start");
    }
}

/// The source's watermarks of a partition whose position fell out of range could not be read.
pub struct WatermarksUnavailable<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub error: &'a KafkaError,
}

impl Event for WatermarksUnavailable<'_> {
    fn emit(self) {
        tracing::warn!(topic = self.topic, partition = self.partition, error = %self.error,
            "cannot read source watermarks");
    }
}

/// The producer's view of a remote topic could not be refreshed.
pub struct ProducerMetadataStale<'a> {
    pub remote: &'a str,
    pub error: &'a KafkaError,
}

impl Event for ProducerMetadataStale<'_> {
    fn emit(self) {
        tracing::warn!(remote = self.remote, error = %self.error,
            "cannot refresh producer metadata; records to new partitions are retried");
    }
}

/// A progress record was not written (`deferred`: the producer queue was full; it is written
/// at the next interval) or its delivery failed.
pub struct ProgressNotWritten<'a> {
    pub topic: &'a str,
    pub error: &'a KafkaError,
    pub deferred: bool,
}

impl Event for ProgressNotWritten<'_> {
    fn emit(self) {
        if self.deferred {
            tracing::debug!(error = %self.error, "progress write deferred");
        } else {
            tracing::warn!(topic = self.topic, error = %self.error,
                "progress write failed; positions will be written again");
        }
    }
}

/// An MM2 offset sync was not written.
pub struct OffsetSyncNotWritten<'a> {
    pub error: &'a dyn std::fmt::Display,
}

impl Event for OffsetSyncNotWritten<'_> {
    fn emit(self) {
        tracing::warn!(error = %self.error,
            "offset sync not written; it is written again with the next change");
    }
}

/// Lag measured across the mirror's partitions; the snapshot feeds `/status`.
pub struct LagMeasured<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub total_records: i64,
    pub assigned: usize,
    pub partitions: Vec<PartitionSnapshot>,
}

impl Event for LagMeasured<'_> {
    fn emit(self) {
        let h = &self.mirror.health;
        h.lag_records.store(self.total_records, Ordering::Relaxed);
        self.mirror.partitions_assigned.set(self.assigned as i64);
        *h.partitions.lock().expect("status lock") = self.partitions;
    }
}

/// One partition's lag.
pub struct PartitionLag<'a> {
    pub partition: &'a PartitionTelemetry,
    pub records: i64,
    pub seconds: f64,
}

impl Event for PartitionLag<'_> {
    fn emit(self) {
        self.partition.lag_records.set(self.records);
        self.partition.lag_seconds.set(self.seconds);
    }
}

// ---- supervision --------------------------------------------------------------------------

/// A task of the mirror failed or panicked: every task of the mirror stops and the mirror
/// restarts after `restart_in`.
pub struct MirrorFailed<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub task: &'a str,
    pub error: &'a dyn std::error::Error,
    pub restart_in: Duration,
}

impl Event for MirrorFailed<'_> {
    fn emit(self) {
        self.mirror.health.up.store(false, Ordering::Relaxed);
        self.mirror.up.set(0);
        self.mirror.restarts.inc();
        tracing::error!(task = self.task, error = %error_chain(self.error), restart_in = ?self.restart_in,
            "mirror failed; stopping its tasks and restarting it from the persisted positions");
    }
}

// ---- heartbeats ---------------------------------------------------------------------------

/// A heartbeat was written at `at_ms`.
pub struct HeartbeatWritten<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub at_ms: i64,
    /// The first after failures.
    pub recovered: bool,
}

impl Event for HeartbeatWritten<'_> {
    fn emit(self) {
        let h = &self.mirror.health;
        h.target_reachable.store(true, Ordering::Relaxed);
        h.last_heartbeat_ms.store(self.at_ms, Ordering::Relaxed);
        self.mirror.heartbeats.inc();
        self.mirror.heartbeat_last.set(self.at_ms as f64 / 1000.0);
        if self.recovered {
            tracing::info!("heartbeats flowing again");
        }
    }
}

/// A heartbeat was not written because the target did not answer or refused it.
/// `first`: the first failure after heartbeats were flowing (logged).
pub struct HeartbeatFailed<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub error: &'a dyn std::fmt::Display,
    pub target_unreachable: bool,
    pub first: bool,
}

impl Event for HeartbeatFailed<'_> {
    fn emit(self) {
        self.mirror
            .health
            .target_reachable
            .store(false, Ordering::Relaxed);
        if self.first {
            if self.target_unreachable {
                tracing::warn!(error = %self.error, "target cluster unreachable; heartbeats paused until it answers");
            } else {
                tracing::warn!(error = %self.error, "heartbeat not written");
            }
        }
    }
}

/// The target answered the probe before a heartbeat.
pub struct TargetAnswered<'a> {
    pub mirror: &'a MirrorTelemetry,
}

impl Event for TargetAnswered<'_> {
    fn emit(self) {
        self.mirror
            .health
            .target_reachable
            .store(true, Ordering::Relaxed);
    }
}

/// The source answered (or not) the probe before a heartbeat. `changed`: differs from the last
/// probe (logged).
pub struct SourceProbed<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub error: Option<&'a dyn std::fmt::Display>,
    pub changed: bool,
}

impl Event for SourceProbed<'_> {
    fn emit(self) {
        let reachable = self.error.is_none();
        self.mirror
            .health
            .source_reachable
            .store(reachable, Ordering::Relaxed);
        self.mirror.source_reachable.set(i64::from(reachable));
        if self.changed {
            match self.error {
                None => tracing::info!("source cluster reachable again; heartbeats resumed"),
                Some(e) => tracing::warn!(error = %e,
                    "source cluster unreachable; heartbeats paused until it answers"),
            }
        }
    }
}

// ---- internal topics ----------------------------------------------------------------------

/// A record of an internal topic strait reads (its progress topic, checkpoints, heartbeats)
/// was skipped: it does not decode, or holds values that cannot be true (`reason`, a fixed
/// label; `detail` says which, never quoting the record's bytes).
pub struct InternalRecordRejected<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub reason: &'static str,
    pub detail: &'a str,
}

impl Event for InternalRecordRejected<'_> {
    fn emit(self) {
        tracing::warn!(
            topic = self.topic,
            partition = self.partition,
            offset = self.offset,
            reason = self.reason,
            "skipping a record of an internal topic: {}",
            self.detail
        );
        metrics()
            .internal_records_rejected
            .with_label_values(&[self.topic, self.reason])
            .inc();
    }
}

// ---- checkpoints --------------------------------------------------------------------------

/// A checkpoint record was acknowledged, `latency` after its round started.
pub struct CheckpointWritten<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub latency: Duration,
}

impl Event for CheckpointWritten<'_> {
    fn emit(self) {
        self.mirror.checkpoints.inc();
        self.mirror
            .checkpoint_latency
            .observe(self.latency.as_secs_f64());
    }
}

/// A group's checkpoints are current as of now (written, or unchanged); `replay` records would
/// be read again by a failover from checkpoints had the source died just before this round.
pub struct GroupCheckpointed<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub group: &'a str,
    pub partitions: usize,
    pub replay: i64,
}

impl Event for GroupCheckpointed<'_> {
    fn emit(self) {
        let now = now_seconds();
        let m = metrics();
        let l = [&*self.mirror.name, self.group];
        m.checkpoint_last.with_label_values(&l).set(now);
        m.failover_replay.with_label_values(&l).set(self.replay);
        self.mirror
            .health
            .groups
            .lock()
            .expect("status lock")
            .insert(
                self.group.to_string(),
                ((now * 1000.0) as i64, self.partitions),
            );
    }
}

/// A group is gone from the source (deleted, or no longer selected).
pub struct GroupGone<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub group: &'a str,
}

impl Event for GroupGone<'_> {
    fn emit(self) {
        metrics().remove_group(&self.mirror.name, self.group);
        self.mirror
            .health
            .groups
            .lock()
            .expect("status lock")
            .remove(self.group);
        tracing::info!(group = self.group,
            "consumer group no longer on the source (or no longer selected); its checkpoints stay, its metrics are removed");
    }
}

/// Group offset sync skips (or no longer skips) a group with active members on the target.
/// `changed`: differs from the last round (logged).
pub struct GroupSyncSkipped<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub group: &'a str,
    /// `Some((members, state))` while skipped.
    pub members: Option<(usize, &'a str)>,
    pub changed: bool,
}

impl Event for GroupSyncSkipped<'_> {
    fn emit(self) {
        metrics()
            .group_sync_skipped
            .with_label_values(&[&*self.mirror.name, self.group])
            .set(i64::from(self.members.is_some()));
        if self.changed {
            match self.members {
                Some((members, state)) => tracing::info!(
                    group = self.group,
                    members,
                    state,
                    "group offset sync skipped: the group has active members on the target"
                ),
                None => tracing::info!(
                    group = self.group,
                    "group has no active members on the target any more; syncing its offsets"
                ),
            }
        }
    }
}

/// Translated offsets were committed to a target group.
pub struct GroupOffsetsSynced<'a> {
    pub group: &'a str,
    pub partitions: usize,
}

impl Event for GroupOffsetsSynced<'_> {
    fn emit(self) {
        tracing::info!(
            group = self.group,
            partitions = self.partitions,
            "synced group offsets to the target"
        );
    }
}
