//! What happened, as types. Each event's `emit()` writes its log line, updates its metrics and the
//! mirror's in-process state (health, `/status`) together, so that the three never disagree and a
//! pipeline says each thing once. Events of one mirror are emitted inside its span
//! ([`MirrorTelemetry::span`]), which names the mirror on every line; they carry no `mirror` field
//! of their own.
//!
//! Metric handles that the hot path uses per record are created once per mirror
//! ([`MirrorTelemetry`]) and per partition ([`PartitionTelemetry`]); per-partition series are
//! removed when the partition stops being replicated here, so label sets stay bounded.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus::{Counter, Gauge, Histogram, IntCounter, IntGauge};
use rdkafka::error::KafkaError;

use super::health::{self, MirrorHealth, PartitionSnapshot};
use super::metrics::{code_label, metrics, now_seconds};
use crate::flow::TopicId;
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
    partitions_stopped: IntGauge,
    source_reachable: IntGauge,
    heartbeats: IntCounter,
    heartbeat_last: Gauge,
    checkpoints: IntCounter,
    checkpoint_latency: Histogram,
    offset_syncs_failed: IntCounter,
    /// When a failed offset sync was last logged (ms since the epoch).
    offset_syncs_logged_ms: AtomicI64,
    /// When a failed progress write was last logged (ms since the epoch).
    progress_logged_ms: AtomicI64,
    /// A long wait for the target was logged and its end is still to be.
    backpressure_warned: AtomicBool,
    /// Source topic -> the id of its last re-creation counted, so that one re-creation seen by
    /// every partition of the topic (and by both topic sync and the record path) counts once.
    recreations: std::sync::Mutex<std::collections::HashMap<String, TopicId>>,
    offset_map_runs: IntGauge,
    offset_map_bytes: IntGauge,
    offset_map_dropped_memory: IntCounter,
    offset_map_dropped_record: IntCounter,
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
            partitions_stopped: m.partitions_stopped.with_label_values(&l),
            source_reachable: m.source_reachable.with_label_values(&l),
            heartbeats: m.heartbeats.with_label_values(&l),
            heartbeat_last: m.heartbeat_last.with_label_values(&l),
            checkpoints: m.checkpoints.with_label_values(&l),
            checkpoint_latency: m.checkpoint_latency.with_label_values(&l),
            offset_syncs_failed: m.offset_syncs_failed.with_label_values(&l),
            offset_syncs_logged_ms: AtomicI64::new(0),
            progress_logged_ms: AtomicI64::new(0),
            backpressure_warned: AtomicBool::new(false),
            recreations: Default::default(),
            offset_map_runs: m.offset_map_runs.with_label_values(&l),
            offset_map_bytes: m.offset_map_bytes.with_label_values(&l),
            offset_map_dropped_memory: m
                .offset_map_runs_dropped
                .with_label_values(&[name, "memory"]),
            offset_map_dropped_record: m
                .offset_map_runs_dropped
                .with_label_values(&[name, "record_size"]),
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
        let h = &self.mirror.health;
        h.up.store(false, Ordering::Relaxed);
        h.waiting_since_ms.store(0, Ordering::Relaxed);
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

/// The record loop has waited `waited` so far for room in the target producer's queue: it is
/// alive (ticks the health), and after a while the mirror is not ready and a warning says why.
pub struct Backpressured<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub waited: Duration,
}

/// A wait this long is worth a warning (shorter ones are the target being slower than the source).
const BACKPRESSURE_WARN_AFTER: Duration = Duration::from_secs(10);

impl Event for Backpressured<'_> {
    fn emit(self) {
        let h = &self.mirror.health;
        h.tick();
        if h.waiting_since_ms.load(Ordering::Relaxed) == 0 {
            let since = health::now_ms() - self.waited.as_millis() as i64;
            h.waiting_since_ms.store(since, Ordering::Relaxed);
        }
        if self.waited >= BACKPRESSURE_WARN_AFTER
            && !self
                .mirror
                .backpressure_warned
                .swap(true, Ordering::Relaxed)
        {
            tracing::warn!(waited = ?self.waited,
                "the target has not taken records for a while (producer queue full); waiting \
                 for it, nothing is dropped");
        }
    }
}

/// The record loop waited `waited` for room in the target producer's queue and has it now.
pub struct BackpressureEnded<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub waited: Duration,
}

impl Event for BackpressureEnded<'_> {
    fn emit(self) {
        self.mirror
            .health
            .waiting_since_ms
            .store(0, Ordering::Relaxed);
        if self
            .mirror
            .backpressure_warned
            .swap(false, Ordering::Relaxed)
        {
            tracing::info!(waited = ?self.waited, "the target takes records again");
        }
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

/// Exactly-once: a transaction of `records` records (and the positions they advance) was
/// committed on the target, `took` after it began.
pub struct TransactionCommitted<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub records: u64,
    pub took: Duration,
}

impl Event for TransactionCommitted<'_> {
    fn emit(self) {
        let m = metrics();
        m.transactions
            .with_label_values(&[&self.mirror.name, "committed"])
            .inc();
        m.transaction_seconds
            .with_label_values(&[&self.mirror.name])
            .observe(self.took.as_secs_f64());
        tracing::trace!(
            records = self.records,
            took_ms = self.took.as_millis() as u64,
            "exactly-once: transaction committed"
        );
    }
}

/// Exactly-once: the open transaction was aborted (`why`): its `records` records never reach
/// read_committed consumers and are copied again from the last committed positions, after
/// `backoff` (`None`: the abort itself is still to complete).
pub struct TransactionAborted<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub why: &'a str,
    pub records: u64,
    pub backoff: Option<Duration>,
}

impl Event for TransactionAborted<'_> {
    fn emit(self) {
        let _in = self.mirror.span.enter();
        let m = metrics();
        m.transactions
            .with_label_values(&[&self.mirror.name, "aborted"])
            .inc();
        m.transaction_records_aborted
            .with_label_values(&[&self.mirror.name])
            .inc_by(self.records);
        tracing::warn!(
            why = self.why,
            records = self.records,
            retry_in_ms = self.backoff.map(|b| b.as_millis() as u64),
            "exactly-once: transaction aborted; its records are copied again from the last committed positions (none of them reached read_committed consumers)"
        );
    }
}

/// Shards of a shared mirror given to this instance by the group, with the positions read for
/// them.
pub struct ShardsGained<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub shards: &'a [u32],
    /// Stored positions of their partitions.
    pub positions: usize,
    /// From the assignment until the positions were read and handed to the record path.
    pub took: Duration,
    pub state: &'a health::SharingState,
}

impl Event for ShardsGained<'_> {
    fn emit(self) {
        let _in = self.mirror.span.enter();
        tracing::info!(
            shards = %crate::mirror::shards::ranges(self.shards),
            owned = self.state.owned.len(),
            of = self.state.shards,
            positions = self.positions,
            took_ms = self.took.as_millis() as u64,
            "shards gained: copying their partitions from their stored positions"
        );
        share_changed(self.mirror, self.state, "gained", self.shards.len());
    }
}

/// A hand-over of `moved` shards of `kind` changed this instance's share to `state`: its
/// metrics and `/status`.
fn share_changed(mirror: &MirrorTelemetry, state: &health::SharingState, kind: &str, moved: usize) {
    let m = metrics();
    m.shards_owned
        .with_label_values(&[&mirror.name])
        .set(state.owned.len() as i64);
    m.shard_handovers
        .with_label_values(&[&mirror.name, kind])
        .inc_by(moved as u64);
    *mirror.health.sharing.lock().expect("status lock") = Some(state.clone());
}

/// Shards of a shared mirror this instance let go.
pub struct ShardsReleased<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub shards: &'a [u32],
    /// Source partitions let go.
    pub partitions: usize,
    /// Everything in flight was acknowledged and every final position stored.
    pub stored: bool,
    /// The group had already given them to another instance (this one was cut off for longer
    /// than the session timeout).
    pub lost: bool,
    pub took: Duration,
    pub state: &'a health::SharingState,
}

impl Event for ShardsReleased<'_> {
    fn emit(self) {
        let _in = self.mirror.span.enter();
        let (shards, owned, took_ms) = (
            crate::mirror::shards::ranges(self.shards),
            self.state.owned.len(),
            self.took.as_millis() as u64,
        );
        if self.stored && !self.lost {
            tracing::info!(%shards, owned, partitions = self.partitions, took_ms,
                "shards released: their partitions' final positions are stored for the next owner");
        } else {
            tracing::warn!(%shards, owned, partitions = self.partitions, took_ms, lost = self.lost,
                stored = self.stored,
                "shards let go without storing every final position: their next owner copies again the records after the last stored one (duplicates on the target, nothing lost)");
        }
        let kind = if self.lost { "lost" } else { "released" };
        share_changed(self.mirror, self.state, kind, self.shards.len());
    }
}

/// This instance took up or handed over the mirror's singleton duties.
pub struct DutiesChanged<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub held: bool,
    /// (handing over) the duties stopped within the bound.
    pub stopped: bool,
}

impl Event for DutiesChanged<'_> {
    fn emit(self) {
        let _in = self.mirror.span.enter();
        match (self.held, self.stopped) {
            (true, _) => tracing::info!("singleton duties taken (topic creation, config and ACL sync, checkpoints, group offset sync, heartbeats)"),
            (false, true) => tracing::info!("singleton duties handed over"),
            (false, false) => tracing::warn!("singleton duties did not stop within the bound; handing them over regardless"),
        }
        if let Some(s) = self
            .mirror
            .health
            .sharing
            .lock()
            .expect("status lock")
            .as_mut()
        {
            s.duties = self.held;
        }
    }
}

/// The mirror's singleton duties run on this instance from now on, or no longer.
pub struct DutiesRunning<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub running: bool,
}

impl Event for DutiesRunning<'_> {
    fn emit(self) {
        metrics()
            .singleton_duties
            .with_label_values(&[&self.mirror.name])
            .set(i64::from(self.running));
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

/// The target wrote a record of `remote_topic`/`partition` at `now_at`, below the offset
/// `written_to` that strait had already written up to: the remote topic was deleted and
/// re-created, or its log truncated (unclean leader election), and records acknowledged before
/// are gone from the target. Copying goes on into the new log; the offset map starts afresh.
pub struct TargetLogWentBack<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub remote_topic: &'a str,
    pub partition: i32,
    pub written_to: i64,
    pub now_at: i64,
}

impl Event for TargetLogWentBack<'_> {
    fn emit(self) {
        metrics()
            .target_log_resets
            .with_label_values(&[&*self.mirror.name, self.remote_topic])
            .inc();
        tracing::error!(
            remote_topic = self.remote_topic,
            partition = self.partition,
            written_to = self.written_to,
            now_at = self.now_at,
            "the target lost replicated records: the remote partition's log went back from \
             offset {} to {} (remote topic deleted and re-created, or truncated). Records \
             acknowledged before are no longer on the target; strait copies on from where it \
             was, so the lost ones are not copied again by themselves (see the runbook: \
             \"Target lost replicated records\"). Checkpoints of this partition restart from the \
             new log.",
            self.written_to,
            self.now_at,
        );
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
        let p = partition.to_string();
        metrics()
            .data_gaps
            .with_label_values(&[&*self.mirror.name, self.reason, topic, &p])
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
    /// The target denied the write (authorization): said once per series of retries.
    pub denied: bool,
}

impl Event for RetryScheduled<'_> {
    fn emit(self) {
        let At {
            topic,
            partition,
            remote,
        } = self.at;
        if !self.denied {
            tracing::warn!(topic, partition, offset = self.offset, remote_topic = remote, error = %self.error,
                retry_in = ?self.backoff,
                "delivery failed; the partition will be copied again from its acknowledged position");
        } else if self.backoff == crate::mirror::partitions::RETRY_BACKOFF {
            // The permission monitor names the missing grant once; the partition waits.
            tracing::warn!(topic, partition, offset = self.offset, remote_topic = remote, error = %self.error,
                "the target denies strait's writes to the remote topic; the partition waits and is \
                 copied again from its acknowledged position once WRITE is granted (no restart needed)");
        } else {
            tracing::debug!(topic, partition, offset = self.offset, retry_in = ?self.backoff,
                "writes still denied; retrying");
        }
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

/// Source records were deleted (retention, DeleteRecords) before strait copied them: lost for
/// the target. `lost` of `from..=to` were not counted before.
pub struct DataGap<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub at: At<'a>,
    pub from: i64,
    pub to: i64,
    pub lost: i64,
    /// `on_data_gap: stop`: the partition stops at `from`.
    pub stopped: bool,
}

impl Event for DataGap<'_> {
    fn emit(self) {
        let At {
            topic, partition, ..
        } = self.at;
        let p = partition.to_string();
        metrics()
            .data_gaps
            .with_label_values(&[&*self.mirror.name, "out_of_range", topic, &p])
            .inc_by(self.lost.max(0) as u64);
        let (from, to, lost) = (self.from, self.to, self.lost);
        let resume = to + 1;
        if self.stopped {
            tracing::error!(topic, partition, from_offset = from, to_offset = to, lost,
                "data gap: source records were deleted (retention or DeleteRecords) before strait copied them; \
                 partition {topic}-{partition} is stopped at offset {from} (on_data_gap: stop) and nothing after it is copied. \
                 To copy on from offset {resume}, the earliest the source still holds, set on_data_gap: continue \
                 for mirror {} and restart strait", self.mirror.name);
        } else {
            tracing::error!(topic, partition, from_offset = from, to_offset = to, lost,
                "data gap: source records were deleted (retention or DeleteRecords) before strait copied them; \
                 copying on from offset {resume}, the earliest the source still holds. Raise the source topic's \
                 retention or strait's throughput to avoid this");
        }
    }
}

/// The position lies beyond the source log's end, and the topic's id cannot tell whether it is
/// still the same topic: the partition is copied again from the log start `from`.
pub struct SourceLogReset<'a> {
    pub at: At<'a>,
    pub position: i64,
    pub log_end: i64,
    pub from: i64,
}

impl Event for SourceLogReset<'_> {
    fn emit(self) {
        tracing::warn!(topic = self.at.topic, partition = self.at.partition,
            position = self.position, log_end = self.log_end, from_offset = self.from,
            "source partition ends before strait's position and no topic id tells whether it is the topic \
             the position was taken in (re-created, or truncated); copying it again from its start, so that \
             nothing is skipped (records already on the target may be copied twice)");
    }
}

/// The source log of the same topic ends before the position: it lost records strait had
/// already copied (an unclean leader election, a broker that lost its data).
pub struct SourceTruncated<'a> {
    pub at: At<'a>,
    pub position: i64,
    pub log_end: i64,
    pub from: i64,
}

impl Event for SourceTruncated<'_> {
    fn emit(self) {
        let last = self.position - 1;
        tracing::error!(topic = self.at.topic, partition = self.at.partition,
            position = self.position, log_end = self.log_end, from_offset = self.from,
            "source log truncated below strait's position (unclean leader election, or a broker lost its data): \
             offsets {}..={last} were copied to the target and are no longer on the source; they stay on the \
             target, and the records the source writes at these offsets from now on are copied after them. \
             Check the source cluster", self.log_end);
    }
}

/// The source topic was deleted and created again under its name (its topic id changed).
pub struct TopicRecreated<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub at: At<'a>,
    pub old: &'a TopicId,
    pub new: &'a TopicId,
    /// Where the old topic's position stood.
    pub position: Option<i64>,
}

impl Event for TopicRecreated<'_> {
    fn emit(self) {
        let first = self
            .mirror
            .recreations
            .lock()
            .expect("recreations lock")
            .insert(self.at.topic.to_string(), self.new.clone())
            .as_ref()
            != Some(self.new);
        if first {
            metrics()
                .topic_recreated
                .with_label_values(&[&*self.mirror.name, self.at.topic])
                .inc();
        }
        tracing::warn!(topic = self.at.topic, partition = self.at.partition, remote_topic = self.at.remote,
            old_topic_id = %self.old, new_topic_id = %self.new, old_position = self.position,
            "source topic was deleted and created again (its topic id changed); copying the new topic from its \
             first offset, appended to the remote topic after the old topic's records; the old position does \
             not apply to the new log");
    }
}

/// A position stored without a topic id was taken to belong to the source topic as it is now.
pub struct TopicIdentityAdopted<'a> {
    pub at: At<'a>,
    pub id: &'a TopicId,
    pub position: i64,
}

impl Event for TopicIdentityAdopted<'_> {
    fn emit(self) {
        tracing::info!(topic = self.at.topic, partition = self.at.partition, topic_id = %self.id,
            position = self.position,
            "stored position has no topic id (written before strait knew topic ids); taking it to be this topic's");
    }
}

/// The source's watermarks of a partition whose position fell out of range could not be read.
pub struct WatermarksUnavailable<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub error: &'a KafkaError,
    pub retry_in: Duration,
}

impl Event for WatermarksUnavailable<'_> {
    fn emit(self) {
        tracing::warn!(topic = self.topic, partition = self.partition, error = %self.error,
            retry_in = ?self.retry_in,
            "cannot read source watermarks for a position out of range; the partition waits \
             (copies nothing) until they are read");
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
/// at the next interval) or its delivery failed. A failed delivery is logged at most once a
/// minute (each partition's record fails alike, every interval, while the target refuses them).
pub struct ProgressNotWritten<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub topic: &'a str,
    pub error: &'a KafkaError,
    pub deferred: bool,
}

impl Event for ProgressNotWritten<'_> {
    fn emit(self) {
        if self.deferred {
            tracing::debug!(error = %self.error, "progress write deferred");
            return;
        }
        let now = health::now_ms();
        let last = self.mirror.progress_logged_ms.load(Ordering::Relaxed);
        if now - last >= 60_000 {
            self.mirror.progress_logged_ms.store(now, Ordering::Relaxed);
            tracing::warn!(topic = self.topic, error = %self.error,
                "progress write failed; positions will be written again (said at most once a minute)");
        } else {
            tracing::debug!(topic = self.topic, error = %self.error, "progress write failed");
        }
    }
}

/// Reading the stored positions at start-up failed; read again in `retry_in`. The record path
/// does not start without them (re-copying from the log start would be the alternative).
pub struct ProgressNotRead<'a> {
    pub topic: &'a str,
    pub error: &'a dyn std::error::Error,
    pub attempt: u32,
    pub retry_in: Duration,
}

impl Event for ProgressNotRead<'_> {
    fn emit(self) {
        tracing::warn!(topic = self.topic, error = %error_chain(self.error), attempt = self.attempt,
            retry_in = ?self.retry_in,
            "cannot read the stored positions; the record path waits for them and reads again");
    }
}

/// The offset-syncs topic could not be created or found at start-up; the mirror starts anyway.
pub struct OffsetSyncsTopicUnavailable<'a> {
    pub topic: &'a str,
    pub cluster: &'a str,
    pub error: &'a dyn std::error::Error,
}

impl Event for OffsetSyncsTopicUnavailable<'_> {
    fn emit(self) {
        tracing::warn!(topic = self.topic, cluster = self.cluster, error = %error_chain(self.error),
            "offset-syncs topic unavailable; records are copied regardless and offset syncs are \
             counted as not written until the topic can be written (grant strait Create and Write \
             on it, or set `offset_syncs_location: target`)");
    }
}

/// `count` MM2 offset syncs were not written (the first failed with `error`). Records go on
/// regardless; a lost sync only makes MM2's translation of offsets before the next one less
/// exact (never past the true position). Logged at most once a minute, counted always.
pub struct OffsetSyncNotWritten<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub error: &'a dyn std::fmt::Display,
    pub count: u64,
}

impl Event for OffsetSyncNotWritten<'_> {
    fn emit(self) {
        self.mirror.offset_syncs_failed.inc_by(self.count);
        let now = health::now_ms();
        let last = self.mirror.offset_syncs_logged_ms.load(Ordering::Relaxed);
        if now - last >= 60_000 {
            self.mirror
                .offset_syncs_logged_ms
                .store(now, Ordering::Relaxed);
            tracing::warn!(error = %self.error, failed_total = self.mirror.offset_syncs_failed.get(),
                "offset syncs not written (records are copied regardless; the next syncs are \
                 written as positions move); check that the offset-syncs topic exists and that \
                 strait may write to it, or set `offset_syncs_location: target`");
        }
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
        let stopped = self
            .partitions
            .iter()
            .filter(|p| p.status.stopped.is_some())
            .count();
        self.mirror.partitions_stopped.set(stopped as i64);
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

/// The mirror stops to start again on new connections: the settings of `clusters` changed
/// (a rotated secret or certificate). Emitted in the mirror's span.
pub struct MirrorReconnecting<'a> {
    pub clusters: &'a [&'a str],
}

impl Event for MirrorReconnecting<'_> {
    fn emit(self) {
        tracing::info!(clusters = ?self.clusters,
            "cluster settings changed: stopping the mirror, storing its positions, and starting it again on new connections");
    }
}

/// The new settings of a cluster could not be made into clients; the mirror goes on with the
/// ones it had. Emitted in the mirror's span.
pub struct MirrorReconnectFailed<'a> {
    pub error: &'a dyn std::error::Error,
}

impl Event for MirrorReconnectFailed<'_> {
    fn emit(self) {
        tracing::error!(error = %error_chain(self.error),
            "cannot create clients with the changed cluster settings; the mirror goes on with the previous ones");
    }
}

// ---- canary --------------------------------------------------------------------------------

/// A canary probe was handed to the source's producer.
pub struct CanarySent<'a> {
    pub mirror: &'a MirrorTelemetry,
}

impl Event for CanarySent<'_> {
    fn emit(self) {
        metrics()
            .canary_sent
            .with_label_values(&[&self.mirror.name])
            .inc();
    }
}

/// A canary probe was read on the target, `latency` after it was written.
pub struct CanaryArrived<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub latency: Duration,
    pub at_ms: i64,
}

impl Event for CanaryArrived<'_> {
    fn emit(self) {
        let m = metrics();
        let l = [&*self.mirror.name];
        m.canary_arrived.with_label_values(&l).inc();
        m.canary_latency
            .with_label_values(&l)
            .observe(self.latency.as_secs_f64());
        m.canary_last_arrival
            .with_label_values(&l)
            .set(self.at_ms as f64 / 1000.0);
    }
}

/// How many canary probes are late now (`before`: at the last look); logged when that starts
/// and when it ends.
pub struct CanaryLate<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub late: usize,
    pub before: usize,
    pub late_after: Duration,
}

impl Event for CanaryLate<'_> {
    fn emit(self) {
        metrics()
            .canary_late
            .with_label_values(&[&self.mirror.name])
            .set(self.late.try_into().unwrap_or(i64::MAX));
        if self.late > 0 && self.before == 0 {
            tracing::warn!(late_after = ?self.late_after,
                "canary probes late: a probe written to the source is not on the target after late_after");
        } else if self.late == 0 && self.before > 0 {
            tracing::info!("canary probes arriving in time again");
        }
    }
}

/// Canary probes not on the target after `after`: counted lost, no longer waited for.
pub struct CanaryLost<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub count: usize,
    pub after: Duration,
}

impl Event for CanaryLost<'_> {
    fn emit(self) {
        metrics()
            .canary_lost
            .with_label_values(&[&self.mirror.name])
            .inc_by(self.count as u64);
        tracing::warn!(count = self.count, after = ?self.after,
            "canary probes lost: not on the target long after they were written to the source");
    }
}

/// The source did not acknowledge a canary probe.
pub struct CanarySendFailed<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub topic: &'a str,
    pub error: &'a str,
}

impl Event for CanarySendFailed<'_> {
    fn emit(self) {
        metrics()
            .canary_send_failed
            .with_label_values(&[&self.mirror.name])
            .inc();
        tracing::warn!(
            topic = self.topic,
            error = self.error,
            "canary probe not written to the source"
        );
    }
}

// ---- config reload -------------------------------------------------------------------------

/// The config file was read at start: the running config is the file's.
pub struct ConfigLoaded;

impl Event for ConfigLoaded {
    fn emit(self) {
        let m = metrics();
        m.config_reload_last_success.set(now_seconds());
        m.config_reload_errors.set(0);
        m.config_restart_pending.set(0);
    }
}

/// SIGHUP arrived but strait runs without a config file to read again.
pub struct ConfigReloadWithoutFile;

impl Event for ConfigReloadWithoutFile {
    fn emit(self) {
        tracing::warn!("SIGHUP: strait was started without a config file, nothing to read again");
    }
}

/// The config file read again on SIGHUP validates; `changes` are applied.
pub struct ConfigReloaded<'a> {
    pub path: &'a std::path::Path,
    pub changes: &'a crate::config::Changes,
}

impl Event for ConfigReloaded<'_> {
    fn emit(self) {
        let c = self.changes;
        let m = metrics();
        m.config_reloads
            .with_label_values(&[if c.is_empty() { "unchanged" } else { "applied" }])
            .inc();
        m.config_reload_errors.set(0);
        m.config_reload_last_success.set(now_seconds());
        m.config_restart_pending
            .set(i64::from(!c.at_next_start.is_empty()));
        let path = self.path.display().to_string();
        if c.is_empty() {
            tracing::info!(config = %path, "SIGHUP: config file read again, nothing changed");
            return;
        }
        let added: Vec<String> = c.added.iter().map(|m| m.name()).collect();
        let live: Vec<String> = c
            .changed
            .iter()
            .filter(|m| m.restart.is_empty())
            .map(|m| format!("{} ({})", m.config.name(), m.live.join(", ")))
            .collect();
        let restarted: Vec<String> = c
            .changed
            .iter()
            .filter(|m| !m.restart.is_empty())
            .map(|m| format!("{} ({})", m.config.name(), m.restart.join(", ")))
            .collect();
        tracing::info!(config = %path, added = ?added, removed = ?c.removed,
            applied_live = ?live, restarting_for = ?restarted, clusters_reconnecting = ?c.clusters,
            "SIGHUP: config file read again and applied");
        if !c.at_next_start.is_empty() {
            tracing::warn!(keys = ?c.at_next_start,
                "SIGHUP: these settings changed in the config file but apply only when strait starts again; the running values stay");
        }
    }
}

/// The config file read again on SIGHUP does not validate: the running config stays.
pub struct ConfigReloadRejected<'a> {
    pub error: &'a crate::config::ConfigError,
}

impl Event for ConfigReloadRejected<'_> {
    fn emit(self) {
        let m = metrics();
        m.config_reloads.with_label_values(&["rejected"]).inc();
        m.config_reload_errors
            .set(self.error.problems.len().try_into().unwrap_or(i64::MAX));
        tracing::error!(
            "SIGHUP: the config file does not validate; strait goes on with the running config:\n{}",
            self.error
        );
    }
}

/// A mirror took settings read again without a pause. Emitted in the mirror's span.
pub struct MirrorSettingsApplied<'a> {
    pub keys: &'a [&'static str],
}

impl Event for MirrorSettingsApplied<'_> {
    fn emit(self) {
        tracing::info!(keys = ?self.keys, "settings read again taken by the running mirror");
    }
}

/// A mirror stops (positions stored) and starts again on them with settings read again.
/// Emitted in the mirror's span.
pub struct MirrorRestartingForSettings<'a> {
    pub keys: &'a [&'static str],
}

impl Event for MirrorRestartingForSettings<'_> {
    fn emit(self) {
        tracing::info!(keys = ?self.keys,
            "settings read again need a new start of the mirror: stopping it, storing its positions, and starting it again on them");
    }
}

/// A mirror removed from the config file stopped (its positions stored); it no longer counts
/// for /readyz and /status. Emitted in the mirror's span.
pub struct MirrorRemoved<'a> {
    pub mirror: &'a MirrorTelemetry,
}

impl Event for MirrorRemoved<'_> {
    fn emit(self) {
        self.mirror.up.set(0);
        health::unregister(&self.mirror.name);
        tracing::info!("mirror removed from the config file: stopped, its positions stored");
    }
}

/// The record thread took new throttle limits. Emitted in the mirror's span.
pub struct ThrottleChanged<'a> {
    pub limits: &'a crate::config::Throttle,
}

impl Event for ThrottleChanged<'_> {
    fn emit(self) {
        tracing::info!(bytes_per_second = ?self.limits.bytes_per_second,
            records_per_second = ?self.limits.records_per_second, "throttle changed");
    }
}

// ---- secret files -------------------------------------------------------------------------

/// Files the config reads changed, the config was read again, and the mirrors of `clusters`
/// (possibly none) reconnect.
pub struct SecretFilesApplied<'a> {
    pub files: &'a [&'a str],
    pub clusters: &'a [&'a str],
}

impl Event for SecretFilesApplied<'_> {
    fn emit(self) {
        metrics()
            .secret_file_reloads
            .with_label_values(&["applied"])
            .inc();
        if self.clusters.is_empty() {
            tracing::info!(files = ?self.files,
                "files the config reads changed, but no cluster's settings: nothing to reconnect (the HTTP endpoint's certificate and token are read at start)");
        } else {
            tracing::info!(files = ?self.files, clusters = ?self.clusters,
                "files the config reads changed: the mirrors of these clusters reconnect with the new settings");
        }
    }
}

/// Files the config reads changed, but the config read again did not validate: the running
/// settings stay.
pub struct SecretFilesRejected<'a> {
    pub files: &'a [&'a str],
    pub error: &'a crate::config::ConfigError,
}

impl Event for SecretFilesRejected<'_> {
    fn emit(self) {
        metrics()
            .secret_file_reloads
            .with_label_values(&["rejected"])
            .inc();
        tracing::error!(files = ?self.files,
            "files the config reads changed, but the config does not validate with them; strait goes on with the running settings until it does:\n{}", self.error);
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

/// A group's checkpoints are current as of now: every replicated partition it has a committed
/// offset for is checkpointed at that offset's translation (written this round, or already
/// there). Only then does its checkpoint age go back to 0. `replay` records would be read again
/// by a failover from checkpoints had the source died just before this round. `recovered`: the
/// last round could not translate some of its offsets.
pub struct GroupCheckpointed<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub group: &'a str,
    pub partitions: usize,
    pub replay: i64,
    pub recovered: bool,
}

impl Event for GroupCheckpointed<'_> {
    fn emit(self) {
        let now = now_seconds();
        let m = metrics();
        let l = [&*self.mirror.name, self.group];
        m.checkpoint_last.with_label_values(&l).set(now);
        m.failover_replay.with_label_values(&l).set(self.replay);
        m.checkpoint_untranslatable.with_label_values(&l).set(0);
        if self.recovered {
            tracing::info!(
                group = self.group,
                "every committed offset of the group translates again; its checkpoints are current"
            );
        }
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

/// One partition of a group whose committed offset has no translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslatable {
    pub topic: String,
    pub partition: i32,
    pub committed: i64,
    /// The first upstream offset the partition's map translates.
    pub map_from: Option<i64>,
    /// The map had the history once and dropped it for lack of room (`offset_map_memory`).
    pub dropped: bool,
}

/// Some of a group's committed offsets are older than the offset map: those partitions get no
/// checkpoint, and the group's checkpoint age is not refreshed, so that its alert fires.
/// `since` (Unix seconds) starts the age of a group this process has not seen current yet: its
/// latest checkpoint in the topic, or now. `changed`: other partitions than the last round.
pub struct GroupNotCheckpointed<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub group: &'a str,
    pub partitions: usize,
    pub untranslatable: &'a [Untranslatable],
    pub since: Option<f64>,
    pub changed: bool,
}

impl Event for GroupNotCheckpointed<'_> {
    fn emit(self) {
        let m = metrics();
        let l = [&*self.mirror.name, self.group];
        m.checkpoint_untranslatable
            .with_label_values(&l)
            .set(self.untranslatable.len() as i64);
        if let Some(since) = self.since {
            m.checkpoint_last.with_label_values(&l).set(since);
            self.mirror
                .health
                .groups
                .lock()
                .expect("status lock")
                .insert(
                    self.group.to_string(),
                    ((since * 1000.0) as i64, self.partitions),
                );
        }
        let detail = |u: &Untranslatable| {
            let from = u.map_from.map_or("nothing".to_string(), |f| f.to_string());
            let why = if u.dropped {
                "dropped for lack of room (offset_map_memory)"
            } else {
                "not kept"
            };
            format!(
                "{}:{} at {} (the map starts at {from}; older history {why})",
                u.topic, u.partition, u.committed
            )
        };
        let partitions: Vec<String> = self.untranslatable.iter().take(10).map(detail).collect();
        if self.changed {
            tracing::warn!(
                group = self.group,
                count = self.untranslatable.len(),
                partitions = %partitions.join(", "),
                "committed offsets older than the offset map: no checkpoint for these partitions \
                 until the group reaches the map, so a failover would fall back to \
                 auto.offset.reset there; the group's checkpoint age keeps growing"
            );
        } else {
            tracing::debug!(
                group = self.group,
                count = self.untranslatable.len(),
                "committed offsets still older than the offset map"
            );
        }
    }
}

// ---- offset maps --------------------------------------------------------------------------

/// A partition's offset map was published for checkpoints, after dropping the history no group
/// needs and what does not fit ([`crate::flow::OffsetMaps::publish`]).
pub struct OffsetMapKept<'a> {
    pub mirror: &'a MirrorTelemetry,
    pub topic: &'a str,
    pub partition: i32,
    pub kept: &'a crate::flow::Kept,
}

impl Event for OffsetMapKept<'_> {
    fn emit(self) {
        let k = self.kept;
        let mirror = self.mirror;
        mirror.offset_map_runs.set(k.total_runs as i64);
        mirror.offset_map_bytes.set(k.total_bytes as i64);
        mirror
            .offset_map_dropped_memory
            .inc_by(k.over_memory as u64);
        mirror
            .offset_map_dropped_record
            .inc_by(k.over_record as u64);
        let dropped = k.over_memory + k.over_record;
        if dropped == 0 {
            return;
        }
        let reason = if k.over_memory > 0 {
            "the mirror's maps fill offset_map_memory"
        } else {
            "a progress record holds no more"
        };
        let groups: Vec<&str> = k.lost_groups.iter().take(20).map(|g| &**g).collect();
        if k.changed {
            tracing::warn!(
                topic = self.topic,
                partition = self.partition,
                dropped,
                map_from = ?k.first,
                lost_groups = k.lost_groups.len(),
                groups = %groups.join(", "),
                "offset map history dropped for lack of room ({reason}): committed offsets below \
                 map_from no longer translate, so the groups named get no checkpoint there until \
                 they catch up; raise offset_map_memory"
            );
        } else {
            tracing::debug!(topic = self.topic, partition = self.partition, dropped,
                map_from = ?k.first, "offset map history dropped for lack of room");
        }
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

/// strait's principal lacks a permission one of its features needs (logged once per cause;
/// `strait_permission_missing` is 1 until it is granted).
pub struct PermissionMissing<'a> {
    pub mirror: &'a str,
    pub principal: &'a str,
    pub cluster: &'a str,
    pub operation: &'a str,
    pub resource_type: &'a str,
    pub resource: &'a str,
    pub needed_for: &'a str,
    /// The command that grants it.
    pub grant: &'a str,
}

impl Event for PermissionMissing<'_> {
    fn emit(self) {
        metrics()
            .permission_missing
            .with_label_values(&[
                self.mirror,
                self.cluster,
                self.operation,
                self.resource_type,
                self.resource,
            ])
            .set(1);
        let what = if self.resource_type == "cluster" {
            format!("cluster {}", self.cluster)
        } else {
            format!(
                "{} {} on cluster {}",
                self.resource_type, self.resource, self.cluster
            )
        };
        tracing::error!(
            principal = self.principal,
            cluster = self.cluster,
            operation = self.operation,
            resource_type = self.resource_type,
            resource = self.resource,
            needed_for = self.needed_for,
            "{} may not {} {what} ({} needs it): grant it, for example `{}`",
            self.principal,
            self.operation,
            self.needed_for,
            self.grant
        );
    }
}

/// A permission reported missing is there now.
pub struct PermissionGranted<'a> {
    pub mirror: &'a str,
    pub cluster: &'a str,
    pub operation: &'a str,
    pub resource_type: &'a str,
    pub resource: &'a str,
}

impl Event for PermissionGranted<'_> {
    fn emit(self) {
        let _ = metrics().permission_missing.remove_label_values(&[
            self.mirror,
            self.cluster,
            self.operation,
            self.resource_type,
            self.resource,
        ]);
        tracing::info!(
            cluster = self.cluster,
            operation = self.operation,
            resource_type = self.resource_type,
            resource = self.resource,
            "permission granted now"
        );
    }
}
