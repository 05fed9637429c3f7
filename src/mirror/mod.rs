//! The record path of one mirror: consume from the source, rename, produce to the target, track
//! acknowledgements and persist progress.
//!
//! It runs on one dedicated OS thread per mirror: the source consumer is polled, each record is
//! handed to an idempotent producer (`acks=all`) with an opaque that names its source partition and
//! offset, and delivery reports (served by the same thread) advance each partition's acknowledged
//! position. Positions go to the progress topic on the target only once everything before them is
//! acknowledged, so a crash at any point loses nothing (records after the position are copied
//! again: at-least-once). Memory is bounded by the consumer's prefetch limit and the producer's
//! queue limit; when the producer queue is full the loop waits.

pub mod progress;
mod throttle;
mod tracker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{ClusterConfig, Throttle};
use crate::flow::{OffsetMaps, PartitionMap, RouteSet};
use crate::kafka::{self, LogContext, ADMIN_TIMEOUT};
use crate::policy::graph;
use crate::records::OffsetSync;
use crate::telemetry::health;
use crate::telemetry::metrics::{code_label, metrics};
use prometheus::{Gauge, Histogram, IntCounter, IntGauge};

pub use progress::{Positions, Stored};
use throttle::Throttler;
use tracker::PartitionTrack;

/// How often acknowledged positions are written to the progress topic.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// The longest the record loop polls before serving progress, routes and retries.
const BATCH_TIME: Duration = Duration::from_millis(100);
/// How often a summary of the work done is logged.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(30);
/// First wait before a partition whose delivery failed for a transient reason is retried.
const RETRY_BACKOFF: Duration = Duration::from_secs(2);
const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// The opaque value of progress records (data records pack slot and offset, see `pack`; slots
/// stay below 2^20 - 1, so packed values never reach these two).
const PROGRESS_OPAQUE: usize = usize::MAX;
/// The opaque value of offset-sync records.
const SYNC_OPAQUE: usize = usize::MAX - 1;
const OFFSET_BITS: u32 = 44;
const OFFSET_MASK: usize = (1 << OFFSET_BITS) - 1;

/// Everything the record path of one mirror needs.
#[derive(Debug, Clone)]
pub struct RecordPathSpec {
    /// `source->target`.
    pub name: String,
    pub source: ClusterConfig,
    pub target: ClusterConfig,
    /// strait's progress topic on the target for this source.
    pub progress_topic: String,
    pub throttle: Throttle,
    /// Time allowed to drain in-flight records on shutdown.
    pub drain_timeout: Duration,
    /// Where to write MM2-format offset syncs, if at all.
    pub offset_syncs: Option<OffsetSyncsSpec>,
    /// Where the acknowledged offset maps are published for checkpoints.
    pub maps: OffsetMaps,
    /// Stamp the provenance header on every copied record (see `policy::graph`). The header is
    /// honoured either way: a record is never copied into a cluster it lists.
    pub stamp_provenance: bool,
}

/// MM2's offset-syncs topic of this mirror and the cluster it lives on.
#[derive(Debug, Clone)]
pub struct OffsetSyncsSpec {
    pub topic: String,
    /// On the source (MM2's default) rather than the target.
    pub on_source: bool,
}

/// Counters shared with the rest of the process (status, logs).
#[derive(Debug, Default)]
pub struct MirrorStats {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    /// Partitions stopped by a record the target refuses for good.
    pub stopped_partitions: AtomicU64,
    /// Source offsets that could not be copied because they were gone (retention).
    pub gap_offsets: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error(transparent)]
    Client(#[from] kafka::ClientError),
    #[error(transparent)]
    Progress(#[from] crate::kafka::read::ReadError),
    #[error("consumer assignment failed")]
    Assign(#[source] KafkaError),
    #[error("the target producer hit a fatal error ({code}): {reason}")]
    ProducerFatal {
        code: RDKafkaErrorCode,
        reason: String,
    },
}

/// Loads the persisted positions of `source` from the progress topic on the target. Blocking.
pub fn load_positions(spec: &RecordPathSpec) -> Result<Positions, MirrorError> {
    let consumer = kafka::reader_consumer(&spec.target, &format!("{}|progress-reader", spec.name))?;
    Ok(progress::load(
        &consumer,
        &spec.progress_topic,
        &spec.source.alias,
        Duration::from_secs(120),
    )?)
}

struct Report {
    opaque: usize,
    /// The downstream offset, or why the record was not written.
    result: Result<i64, KafkaError>,
    /// Size of key + value of the record (metrics, error messages).
    size: usize,
    /// The record's timestamp (the source's), for replication latency.
    ts_ms: Option<i64>,
}

/// Producer context: collects delivery reports for the record loop, which applies them in
/// batches on its own thread.
struct DeliveryContext {
    log: LogContext,
    reports: Mutex<Vec<Report>>,
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.log.log(level, fac, log_message);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(error, reason);
    }
    fn stats(&self, statistics: rdkafka::Statistics) {
        self.log.stats(statistics);
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let (result, m) = match result {
            Ok(m) => (Ok(m.offset()), m),
            Err((e, m)) => (Err(e.clone()), m),
        };
        let size = m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len);
        let ts_ms = m.timestamp().to_millis();
        self.reports.lock().expect("reports lock").push(Report {
            opaque,
            result,
            size,
            ts_ms,
        });
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn pack(slot: usize, offset: i64) -> usize {
    (slot << OFFSET_BITS) | (offset as usize & OFFSET_MASK)
}

fn unpack(opaque: usize) -> (usize, i64) {
    (opaque >> OFFSET_BITS, (opaque & OFFSET_MASK) as i64)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PartState {
    Active,
    /// The target refused a batch as too large: records are re-sent one at a time, each waited
    /// for, up to and including `until` (the last offset that was in flight), so that the one
    /// record the target really refuses is found and nothing before it is held back.
    Isolating {
        until: i64,
    },
    /// Not copied until strait restarts: the target refuses a record for good (paused).
    Stopped,
    /// A delivery failed for a transient reason; fetch again from the acknowledged position at
    /// the given time (paused until then).
    RetryAt(Instant, Duration),
    /// Its topic is no longer replicated (unassigned).
    Removed,
}

impl PartState {
    fn copies(&self) -> bool {
        matches!(self, PartState::Active | PartState::Isolating { .. })
    }
}

struct Part {
    source_topic: Arc<str>,
    partition: i32,
    remote_topic: Arc<str>,
    /// `None` until the position is known: a partition without stored progress starts at the
    /// beginning of the log and learns its position from the first record.
    track: Option<PartitionTrack>,
    persisted: i64,
    /// The last upstream offset written as an MM2 offset sync (-1: none yet in this run).
    synced: i64,
    state: PartState,
    /// What the consumer currently has for this partition (see `RecordLoop::sync_consumer`).
    assigned: bool,
    paused: bool,
    /// The fetch position moved back (rewind) and the consumer must seek to it.
    needs_seek: bool,
    metrics: PartMetrics,
}

/// A partition's metric series (removed when the partition is no longer replicated here).
struct PartMetrics {
    records: IntCounter,
    bytes: IntCounter,
    record_age: Gauge,
    lag_records: IntGauge,
    lag_seconds: Gauge,
}

impl PartMetrics {
    fn new(mirror: &str, topic: &str, partition: i32) -> PartMetrics {
        let m = metrics();
        let p = partition.to_string();
        let l = [mirror, topic, p.as_str()];
        PartMetrics {
            records: m.records_replicated.with_label_values(&l),
            bytes: m.bytes_replicated.with_label_values(&l),
            record_age: m.record_age.with_label_values(&l),
            lag_records: m.lag_records.with_label_values(&l),
            lag_seconds: m.lag_seconds.with_label_values(&l),
        }
    }
}

impl Part {
    fn offset_for_assign(&self) -> Offset {
        match &self.track {
            Some(t) => Offset::Offset(t.next_fetch()),
            None => Offset::Beginning,
        }
    }

    /// Forgets what is in flight and fetches again from the acknowledged position.
    fn rewind(&mut self) {
        if let Some(t) = &mut self.track {
            t.rewind();
            self.needs_seek = true;
        }
    }
}

/// What `forward` did with a record.
#[derive(Debug, PartialEq, Eq)]
enum Forwarded {
    Sent,
    /// Sent while isolating: wait for its report before the next record of the partition.
    SentAlone,
    /// Not sent (not replicated here, stale, or cancelled while throttled).
    Skipped,
    /// The record failed before leaving and changed the partition's state.
    Failed,
}

/// The record path's mutable state, owned by its thread.
struct RecordLoop {
    spec: RecordPathSpec,
    consumer: BaseConsumer<LogContext>,
    producer: BaseProducer<DeliveryContext>,
    /// Writes offset syncs to the source when they live there.
    source_producer: Option<BaseProducer<DeliveryContext>>,
    parts: Vec<Part>,
    /// Source topic -> (remote topic, slot per partition).
    index: HashMap<Arc<str>, Vec<usize>>,
    positions: Positions,
    stats: Arc<MirrorStats>,
    throttle: Option<Throttler>,
    reports: Vec<Report>,
    /// Some part's state changed and the consumer must follow (`sync_consumer`).
    consumer_dirty: bool,
    health: Arc<health::MirrorHealth>,
    latency: Histogram,
}

/// Runs the record path until `cancel` fires (then drains and persists) or a fatal error.
/// Blocking: call from a dedicated thread.
pub fn run_record_path(
    spec: RecordPathSpec,
    positions: Positions,
    mut routes: watch::Receiver<RouteSet>,
    cancel: CancellationToken,
    stats: Arc<MirrorStats>,
) -> Result<(), MirrorError> {
    let name = spec.name.clone();
    let consumer = kafka::record_consumer(&spec.source, &format!("{}|consumer", spec.name))?;
    let ctx = DeliveryContext {
        log: LogContext {
            client_name: format!("{}|producer", spec.name),
        },
        reports: Mutex::new(Vec::new()),
    };
    let producer = kafka::record_producer(&spec.target, &format!("{}|producer", spec.name), ctx)?;
    let throttle = Throttler::new(&spec.throttle);
    let source_producer = match &spec.offset_syncs {
        Some(o) if o.on_source => {
            let name = format!("{}|offset-syncs", spec.name);
            let ctx = DeliveryContext {
                log: LogContext {
                    client_name: name.clone(),
                },
                reports: Mutex::new(Vec::new()),
            };
            Some(kafka::record_producer(&spec.source, &name, ctx)?)
        }
        _ => None,
    };
    let mut rl = RecordLoop {
        spec,
        consumer,
        producer,
        source_producer,
        parts: Vec::new(),
        index: HashMap::new(),
        positions,
        stats,
        throttle,
        reports: Vec::new(),
        consumer_dirty: false,
        health: health::mirror(&name),
        latency: metrics().replication_latency.with_label_values(&[&name]),
    };
    routes.mark_changed();
    let result = rl.run(&mut routes, &cancel);
    let drained = rl.drain();
    tracing::info!(mirror = %rl.spec.name, drained, "record path stopped");
    result
}

impl RecordLoop {
    fn run(
        &mut self,
        routes: &mut watch::Receiver<RouteSet>,
        cancel: &CancellationToken,
    ) -> Result<(), MirrorError> {
        let mut last_progress = Instant::now();
        let mut last_summary = Instant::now();
        let mut summary_records = self.stats.records.load(Ordering::Relaxed);
        while !cancel.is_cancelled() {
            if routes.has_changed().unwrap_or(false) {
                let set = routes.borrow_and_update().clone();
                self.apply_routes(&set);
            }
            self.retry_due();
            if self.consumer_dirty {
                self.sync_consumer()?;
            }
            self.health.tick();
            if last_progress.elapsed() >= PROGRESS_INTERVAL {
                self.write_progress();
                self.update_lag();
                last_progress = Instant::now();
            }
            if last_summary.elapsed() >= SUMMARY_INTERVAL {
                let now = self.stats.records.load(Ordering::Relaxed);
                let rate = (now - summary_records) as f64 / last_summary.elapsed().as_secs_f64();
                let copying = self.parts.iter().filter(|p| p.state.copies()).count();
                tracing::info!(mirror = %self.spec.name, records_total = now, records_per_second = rate.round(),
                    partitions = copying, "replicating");
                summary_records = now;
                last_summary = Instant::now();
            }
            self.check_fatal()?;

            // Poll in a tight inner loop so the per-iteration checks above stay cheap, bounded in
            // records and in time (a throttle or backpressure can make each record slow, and
            // progress, routes and retries must still be served).
            let mut wait_for_reports = false;
            let batch_started = Instant::now();
            for _ in 0..1024 {
                if batch_started.elapsed() >= BATCH_TIME {
                    break;
                }
                let msg = match self.consumer.poll(Duration::from_millis(100)) {
                    None => break,
                    Some(Err(e)) => {
                        self.consumer_error(e);
                        break;
                    }
                    Some(Ok(m)) => m,
                };
                let done = forward(
                    &self.spec,
                    &msg,
                    &mut self.parts,
                    &self.index,
                    &self.producer,
                    &mut self.throttle,
                    &self.stats,
                    cancel,
                );
                drop(msg);
                self.producer.poll(Duration::ZERO);
                match done {
                    Forwarded::Sent | Forwarded::Skipped => {}
                    Forwarded::SentAlone => {
                        wait_for_reports = true;
                        break;
                    }
                    Forwarded::Failed => {
                        self.consumer_dirty = true;
                        break;
                    }
                }
                if cancel.is_cancelled() {
                    break;
                }
            }
            if wait_for_reports {
                // Isolating a partition: its record must be resolved before the next one goes.
                let _ = self.producer.flush(Duration::from_secs(30));
            }
            self.producer.poll(Duration::ZERO);
            self.apply_reports();
        }
        Ok(())
    }

    fn check_fatal(&self) -> Result<(), MirrorError> {
        if let Some((code, reason)) = self.producer.client().fatal_error() {
            return Err(MirrorError::ProducerFatal { code, reason });
        }
        Ok(())
    }

    /// Brings the partition table in line with the published routes.
    fn apply_routes(&mut self, set: &RouteSet) {
        let mut seen: HashMap<&str, ()> = HashMap::new();
        let mut grown: Vec<Arc<str>> = Vec::new();
        for route in set.iter() {
            seen.insert(&route.source_topic, ());
            let slots = self
                .index
                .entry(Arc::clone(&route.source_topic))
                .or_default();
            let had = slots.len();
            for p in 0..route.partitions {
                if let Some(&slot) = slots.get(p as usize) {
                    let part = &mut self.parts[slot];
                    if part.state == PartState::Removed {
                        part.state = PartState::Active;
                        part.metrics = PartMetrics::new(&self.spec.name, &part.source_topic, p);
                        self.consumer_dirty = true;
                    }
                    continue;
                }
                let key = (route.source_topic.to_string(), p);
                let track = self
                    .positions
                    .get(&key)
                    .map(|s| PartitionTrack::with_map(s.next_offset, s.map.clone()));
                let persisted = track.as_ref().map_or(-1, |t| t.committed());
                if let Some(t) = &track {
                    // Translation works from the start, before any new record is copied.
                    self.spec.maps.write().expect("maps lock").insert(
                        key.clone(),
                        PartitionMap {
                            remote_topic: Arc::clone(&route.remote_topic),
                            map: t.map().clone(),
                        },
                    );
                }
                tracing::info!(mirror = %self.spec.name, topic = %route.source_topic, partition = p,
                    remote = %route.remote_topic,
                    from = track.as_ref().map_or("beginning".to_string(), |t| t.next_fetch().to_string()),
                    "replicating partition");
                slots.push(self.parts.len());
                self.parts.push(Part {
                    source_topic: Arc::clone(&route.source_topic),
                    partition: p,
                    remote_topic: Arc::clone(&route.remote_topic),
                    track,
                    persisted,
                    synced: -1,
                    state: PartState::Active,
                    assigned: false,
                    paused: false,
                    needs_seek: false,
                    metrics: PartMetrics::new(&self.spec.name, &route.source_topic, p),
                });
                self.consumer_dirty = true;
            }
            if had > 0 && slots.len() > had {
                grown.push(Arc::clone(&route.remote_topic));
            }
        }
        // The producer learns new partitions of a known topic only from metadata; ask now
        // rather than failing the first records with "unknown partition".
        for remote in grown {
            if let Err(e) = self
                .producer
                .client()
                .fetch_metadata(Some(&remote), ADMIN_TIMEOUT)
            {
                tracing::warn!(mirror = %self.spec.name, remote = %remote, error = %e,
                    "cannot refresh producer metadata; records to new partitions are retried");
            }
        }
        for (topic, slots) in &self.index {
            if seen.contains_key(&**topic) {
                continue;
            }
            for &slot in slots {
                let part = &mut self.parts[slot];
                if part.state != PartState::Removed {
                    tracing::info!(mirror = %self.spec.name, topic = %topic, partition = part.partition,
                        "partition no longer replicated");
                    // Keep what is known so that a returning topic resumes where it stopped.
                    if let Some(t) = &part.track {
                        let stored = progress::Stored {
                            next_offset: t.committed(),
                            map: t.map().clone(),
                        };
                        self.positions
                            .insert((topic.to_string(), part.partition), stored);
                    }
                    part.state = PartState::Removed;
                    metrics().remove_partition(&self.spec.name, topic, part.partition);
                    self.consumer_dirty = true;
                }
            }
        }
    }

    fn retry_due(&mut self) {
        let now = Instant::now();
        for part in &mut self.parts {
            if let PartState::RetryAt(at, _) = part.state {
                if now >= at {
                    part.rewind();
                    tracing::info!(mirror = %self.spec.name, topic = %part.source_topic, partition = part.partition,
                        from = part.track.as_ref().map(|t| t.next_fetch()), "retrying partition");
                    // The failure may have been a stale view of the remote topic.
                    let _ = self
                        .producer
                        .client()
                        .fetch_metadata(Some(&part.remote_topic), ADMIN_TIMEOUT);
                    part.state = PartState::Active;
                    self.consumer_dirty = true;
                }
            }
        }
    }

    /// Makes the consumer follow the partitions' states. Assignment changes are incremental
    /// and rare (a partition is added once and removed once); stops and retries use pause and
    /// resume, rewinds use seek. Re-assigning the whole set repeatedly races in librdkafka
    /// 2.12 (an assertion on duplicate fetch stops, librdkafka issue 5573).
    fn sync_consumer(&mut self) -> Result<(), MirrorError> {
        let mut add = TopicPartitionList::new();
        let mut remove = TopicPartitionList::new();
        let mut pause = TopicPartitionList::new();
        let mut resume = TopicPartitionList::new();
        let mut seeks = Vec::new();
        for (slot, part) in self.parts.iter_mut().enumerate() {
            let want_assigned = part.state != PartState::Removed;
            let want_paused = matches!(part.state, PartState::Stopped | PartState::RetryAt(..));
            if want_assigned && !part.assigned {
                add.add_partition_offset(
                    &part.source_topic,
                    part.partition,
                    part.offset_for_assign(),
                )
                .map_err(MirrorError::Assign)?;
                part.assigned = true;
                part.paused = false;
                part.needs_seek = false;
            } else if !want_assigned && part.assigned {
                remove.add_partition(&part.source_topic, part.partition);
                part.assigned = false;
                part.paused = false;
                part.needs_seek = false;
                continue;
            }
            if !part.assigned {
                continue;
            }
            if part.needs_seek && !want_paused {
                seeks.push(slot);
                part.needs_seek = false;
            }
            if want_paused != part.paused {
                let list = if want_paused { &mut pause } else { &mut resume };
                list.add_partition(&part.source_topic, part.partition);
                part.paused = want_paused;
            }
        }
        if remove.count() > 0 {
            self.consumer
                .incremental_unassign(&remove)
                .map_err(MirrorError::Assign)?;
        }
        if add.count() > 0 {
            self.consumer
                .incremental_assign(&add)
                .map_err(MirrorError::Assign)?;
        }
        if pause.count() > 0 {
            self.consumer.pause(&pause).map_err(MirrorError::Assign)?;
        }
        for slot in seeks {
            let part = &self.parts[slot];
            self.consumer
                .seek(
                    &part.source_topic,
                    part.partition,
                    part.offset_for_assign(),
                    ADMIN_TIMEOUT,
                )
                .map_err(MirrorError::Assign)?;
        }
        if resume.count() > 0 {
            self.consumer.resume(&resume).map_err(MirrorError::Assign)?;
        }
        self.consumer_dirty = false;
        Ok(())
    }

    fn consumer_error(&mut self, e: KafkaError) {
        metrics()
            .fetch_errors
            .with_label_values(&[&self.spec.name, &code_label(&e)])
            .inc();
        match e.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AutoOffsetReset) => self.reconcile_out_of_range(),
            _ => {
                tracing::warn!(mirror = %self.spec.name, error = %e, "source consumer error; retrying")
            }
        }
    }

    /// Some partition's position is outside the source log. Find which, and say what is lost.
    fn reconcile_out_of_range(&mut self) {
        for part in self.parts.iter_mut().filter(|p| p.assigned && !p.paused) {
            let Some(track) = &part.track else { continue };
            let next = track.next_fetch();
            let (low, high) = match self.consumer.fetch_watermarks(
                &part.source_topic,
                part.partition,
                ADMIN_TIMEOUT,
            ) {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(mirror = %self.spec.name, topic = %part.source_topic,
                        partition = part.partition, error = %e, "cannot read source watermarks");
                    continue;
                }
            };
            if next < low {
                let lost = (low - next) as u64;
                self.stats.gap_offsets.fetch_add(lost, Ordering::Relaxed);
                metrics()
                    .data_gaps
                    .with_label_values(&[&self.spec.name, "out_of_range"])
                    .inc_by(lost);
                tracing::error!(mirror = %self.spec.name, topic = %part.source_topic, partition = part.partition,
                    from_offset = next, to_offset = low - 1, lost,
                    "data gap: source records were deleted (retention) before strait copied them; \
                     continuing at the log start. Raise the source topic's retention or strait's throughput to avoid this");
                part.track = Some(PartitionTrack::new(low));
                part.needs_seek = true;
            } else if next > high {
                tracing::warn!(mirror = %self.spec.name, topic = %part.source_topic, partition = part.partition,
                    position = next, log_end = high,
                    "source partition ends before strait's position (topic re-created or truncated); copying it from its start");
                part.track = Some(PartitionTrack::new(low));
                part.needs_seek = true;
            } else {
                continue;
            }
            self.consumer_dirty = true;
        }
    }

    fn apply_reports(&mut self) {
        std::mem::swap(
            &mut self.reports,
            &mut *self
                .producer
                .context()
                .reports
                .lock()
                .expect("reports lock"),
        );
        let mut reports = std::mem::take(&mut self.reports);
        for report in reports.drain(..) {
            if report.opaque == SYNC_OPAQUE {
                if let Err(e) = report.result {
                    tracing::warn!(mirror = %self.spec.name, error = %e,
                        "offset sync not written; it is written again with the next change");
                }
                continue;
            }
            if report.opaque == PROGRESS_OPAQUE {
                if let Err(e) = report.result {
                    tracing::warn!(mirror = %self.spec.name, topic = %self.spec.progress_topic, error = %e,
                        "progress write failed; positions will be written again");
                    for part in &mut self.parts {
                        part.persisted = -1;
                    }
                }
                continue;
            }
            let (slot, offset) = unpack(report.opaque);
            let Some(part) = self.parts.get_mut(slot) else {
                continue;
            };
            let Some(track) = &mut part.track else {
                continue;
            };
            match report.result {
                Ok(downstream) => {
                    if track.acked(offset, downstream) {
                        part.metrics.records.inc();
                        part.metrics.bytes.inc_by(report.size as u64);
                        if let Some(ts) = report.ts_ms {
                            self.latency
                                .observe(((now_ms() - ts).max(0) as f64) / 1000.0);
                        }
                    }
                    if let PartState::Isolating { until } = part.state {
                        if track.committed() > until {
                            tracing::info!(mirror = %self.spec.name, topic = %part.source_topic,
                                partition = part.partition, "no record refused; back to batches");
                            part.state = PartState::Active;
                        }
                    }
                }
                Err(e) => {
                    if !track.is_inflight(offset) || !part.state.copies() {
                        continue; // already handled: a later failure of the same burst
                    }
                    let code = e.rdkafka_error_code();
                    metrics()
                        .produce_errors
                        .with_label_values(&[&self.spec.name, &code_label(&e)])
                        .inc();
                    fail_partition(
                        &self.spec.name,
                        part,
                        offset,
                        code,
                        &e,
                        report.size,
                        &self.stats,
                    );
                    self.consumer_dirty = true;
                }
            }
        }
        self.reports = reports;
    }

    /// Lag per partition from the source end offsets in the consumer's librdkafka statistics:
    /// records not yet acknowledged, and the age of the oldest of them.
    fn update_lag(&mut self) {
        // Transaction markers at the end of a partition are never delivered; the consumer's
        // position still moves past them (librdkafka advances it over control records and
        // resets it on seek), and so does the partition's safe position.
        if let Ok(positions) = self.consumer.position() {
            for e in positions.elements() {
                let Offset::Offset(pos) = e.offset() else {
                    continue;
                };
                let Some(&slot) = self
                    .index
                    .get(e.topic())
                    .and_then(|slots| slots.get(e.partition() as usize))
                else {
                    continue;
                };
                let part = &mut self.parts[slot];
                if part.state.copies() && !part.needs_seek {
                    if let Some(track) = &mut part.track {
                        track.passed(pos);
                    }
                }
            }
        }
        let client = format!("{}|consumer", self.spec.name);
        let now = now_ms();
        let mut total = 0;
        let mut assigned = 0;
        for part in &self.parts {
            if part.state == PartState::Removed {
                continue;
            }
            assigned += 1;
            let Some(track) = &part.track else { continue };
            let Some(end) = metrics().source_end(&client, &part.source_topic, part.partition)
            else {
                continue;
            };
            let lag = (end - track.committed()).max(0);
            total += lag;
            part.metrics.lag_records.set(lag);
            let seconds = if lag == 0 {
                0.0
            } else {
                // The oldest record in flight; with nothing in flight the newest copied
                // record's time (an upper bound: what waits is younger).
                match track.oldest_inflight_ts().or(track.last_ts()) {
                    Some(ts) if ts > 0 => ((now - ts).max(0) as f64) / 1000.0,
                    _ => 0.0,
                }
            };
            part.metrics.lag_seconds.set(seconds);
        }
        self.health
            .lag_records
            .store(total, std::sync::atomic::Ordering::Relaxed);
        metrics()
            .partitions_assigned
            .with_label_values(&[&self.spec.name])
            .set(assigned);
    }

    fn write_progress(&mut self) {
        for part in &mut self.parts {
            let Some(track) = &part.track else { continue };
            let committed = track.committed();
            if committed == part.persisted {
                continue;
            }
            let (key, value) = progress::encode(
                &self.spec.source.alias,
                &part.source_topic,
                part.partition,
                committed,
                track.map(),
            );
            let record = BaseRecord::with_opaque_to(&self.spec.progress_topic, PROGRESS_OPAQUE)
                .partition(0)
                .key(&key)
                .payload(&value);
            self.spec.maps.write().expect("maps lock").insert(
                (part.source_topic.to_string(), part.partition),
                PartitionMap {
                    remote_topic: Arc::clone(&part.remote_topic),
                    map: track.map().clone(),
                },
            );
            match self.producer.send(record) {
                Ok(()) => part.persisted = committed,
                Err((e, _)) => {
                    // Queue full or similar: try again next interval; nothing is lost.
                    tracing::debug!(mirror = %self.spec.name, error = %e, "progress write deferred");
                    return;
                }
            }
            if let Some(spec) = &self.spec.offset_syncs {
                let producer = self.source_producer.as_ref().unwrap_or(&self.producer);
                part.synced = write_offset_syncs(producer, &spec.topic, part, part.synced);
            }
        }
        if let Some(p) = &self.source_producer {
            p.poll(Duration::ZERO);
            let reports = std::mem::take(&mut *p.context().reports.lock().expect("reports lock"));
            if let Some(Err(e)) = reports.into_iter().map(|r| r.result).find(Result::is_err) {
                tracing::warn!(mirror = %self.spec.name, error = %e, "offset sync not written; it is written again with the next change");
            }
        }
    }

    /// Waits for in-flight records (bounded by the drain timeout), then persists the final
    /// positions. Returns whether everything in flight was acknowledged.
    fn drain(&mut self) -> bool {
        let deadline = Instant::now() + self.spec.drain_timeout;
        let flushed = self.producer.flush(self.spec.drain_timeout).is_ok();
        self.apply_reports();
        self.write_progress();
        let remaining = deadline.saturating_duration_since(Instant::now());
        let persisted = self
            .producer
            .flush(remaining.max(Duration::from_secs(5)))
            .is_ok();
        if let Some(p) = &self.source_producer {
            if p.flush(Duration::from_secs(5)).is_err() {
                tracing::warn!(mirror = %self.spec.name, "offset syncs still in flight at shutdown; they are written again after a restart");
            }
        }
        self.apply_reports();
        if !(flushed && persisted) {
            tracing::warn!(mirror = %self.spec.name,
                "shutdown deadline reached with records in flight; they will be copied again on restart");
        }
        flushed && persisted
    }
}

/// Writes MM2 offset syncs for what `part`'s map learned since upstream offset `synced`: the
/// first record of every new run (where the map changes) and the last acknowledged record, so
/// that MM2's readers (which assume +1 between syncs) never translate past the true position.
/// Returns the new `synced`.
fn write_offset_syncs(
    producer: &BaseProducer<DeliveryContext>,
    topic: &str,
    part: &Part,
    synced: i64,
) -> i64 {
    let Some(track) = &part.track else {
        return synced;
    };
    // Zero-length runs mark offsets without records before a first copied record; MM2's
    // readers would take a sync there as a record and translate the next offsets one past it.
    let runs: Vec<_> = track.map().runs().iter().filter(|r| r.len > 0).collect();
    let mut pairs: Vec<(i64, i64)> = runs
        .iter()
        .filter(|r| r.u > synced)
        .map(|r| (r.u, r.d))
        .collect();
    if let Some(last) = runs.last() {
        let end = (last.u + last.len - 1, last.d + last.len - 1);
        if end.0 > synced && pairs.last() != Some(&end) {
            pairs.push(end);
        }
    }
    let mut done = synced;
    for (u, d) in pairs {
        let sync = OffsetSync {
            topic: part.source_topic.to_string(),
            partition: part.partition,
            upstream_offset: u,
            downstream_offset: d,
        };
        let (Ok(key), Ok(value)) = (sync.encode_key(), sync.encode_value()) else {
            tracing::error!(topic = %part.source_topic, "topic name too long for an MM2 offset sync");
            return synced;
        };
        let record = BaseRecord::with_opaque_to(topic, SYNC_OPAQUE)
            .partition(0)
            .key(&key)
            .payload(&value);
        if producer.send(record).is_err() {
            break; // queue full: the rest goes with the next progress write
        }
        done = u;
    }
    done
}

fn fail_partition(
    mirror: &str,
    part: &mut Part,
    offset: i64,
    code: Option<RDKafkaErrorCode>,
    error: &KafkaError,
    size: usize,
    stats: &MirrorStats,
) {
    let too_large = matches!(
        code,
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::MessageBatchTooLarge)
    );
    if too_large && part.state == PartState::Active {
        // The broker refuses whole batches: any record of the batch may be the large one.
        let until = part.track.as_ref().map_or(offset, |t| t.next_fetch() - 1);
        tracing::warn!(mirror, topic = %part.source_topic, partition = part.partition, from = offset, until,
            remote_topic = %part.remote_topic, error = %error,
            "the target refused a batch as too large; re-sending its records one at a time to find the refused record");
        part.rewind();
        part.state = PartState::Isolating { until };
    } else if let Some(hint) = code.and_then(permanent_error_hint) {
        stats.stopped_partitions.fetch_add(1, Ordering::Relaxed);
        metrics()
            .data_gaps
            .with_label_values(&[
                mirror,
                if too_large {
                    "record_too_large"
                } else {
                    "refused"
                },
            ])
            .inc();
        tracing::error!(mirror, topic = %part.source_topic, partition = part.partition, offset,
            remote_topic = %part.remote_topic, record_bytes = size, error = %error,
            "the target refuses this record for good; partition {}-{} is stopped at offset {offset} and \
             nothing after it is copied until this is fixed: {hint}; then restart strait, which resumes at this offset",
            part.source_topic, part.partition);
        part.state = PartState::Stopped;
    } else {
        let backoff = match part.state {
            PartState::RetryAt(_, b) => (b * 2).min(RETRY_BACKOFF_MAX),
            _ => RETRY_BACKOFF,
        };
        tracing::warn!(mirror, topic = %part.source_topic, partition = part.partition, offset,
            remote_topic = %part.remote_topic, error = %error, retry_in = ?backoff,
            "delivery failed; the partition will be copied again from its acknowledged position");
        part.state = PartState::RetryAt(Instant::now() + backoff, backoff);
    }
}

/// For errors retrying cannot fix, the fix to tell the operator.
fn permanent_error_hint(code: RDKafkaErrorCode) -> Option<&'static str> {
    use RDKafkaErrorCode as C;
    Some(match code {
        C::MessageSizeTooLarge | C::MessageBatchTooLarge => {
            "raise `max.message.bytes` of the remote topic on the target (and, above 1 MB, the target \
             producer's `message.max.bytes` under clusters.<target>.producer) to at least the record size"
        }
        C::TopicAuthorizationFailed | C::ClusterAuthorizationFailed => {
            "grant strait's target principal WRITE and DESCRIBE on the remote topic"
        }
        C::InvalidRecord | C::InvalidMessage | C::InvalidTimestamp | C::PolicyViolation => {
            "the target's topic configuration rejects this record; compare the remote topic's configs \
             with the source topic's"
        }
        _ => return None,
    })
}

/// Sends one source record to the target. Returns false when it stopped a partition.
#[allow(clippy::too_many_arguments)]
fn forward(
    spec: &RecordPathSpec,
    msg: &BorrowedMessage<'_>,
    parts: &mut [Part],
    index: &HashMap<Arc<str>, Vec<usize>>,
    producer: &BaseProducer<DeliveryContext>,
    throttle: &mut Option<Throttler>,
    stats: &MirrorStats,
    cancel: &CancellationToken,
) -> Forwarded {
    let Some(&slot) = index
        .get(msg.topic())
        .and_then(|slots| slots.get(msg.partition() as usize))
    else {
        return Forwarded::Skipped;
    };
    let part = &mut parts[slot];
    if !part.state.copies() {
        return Forwarded::Skipped;
    }
    let mirror = spec.name.as_str();
    let offset = msg.offset();
    if let Some(track) = &part.track {
        if offset < track.next_fetch() {
            return Forwarded::Skipped; // fetched before a seek; librdkafka's barrier should drop these
        }
    }
    let provenance = msg.headers().and_then(|hs| {
        hs.iter()
            .find(|h| h.key == graph::PROVENANCE_HEADER)
            .map(|h| h.value.unwrap_or_default())
    });
    if provenance.is_some_and(|v| graph::visited(v, &spec.target.alias)) {
        // The record has been on the target already: copying it would loop.
        part.track
            .get_or_insert_with(|| PartitionTrack::from_log_start(offset))
            .skip(offset);
        metrics().loop_skipped.with_label_values(&[mirror]).inc();
        return Forwarded::Skipped;
    }
    let key = msg.key();
    let payload = msg.payload();
    let size = key.map_or(0, <[u8]>::len) + payload.map_or(0, <[u8]>::len);
    let ts = msg.timestamp().to_millis();
    if let Some(ts) = ts {
        part.metrics
            .record_age
            .set(((now_ms() - ts).max(0) as f64) / 1000.0);
    }
    if let Some(t) = throttle {
        let started = Instant::now();
        let sent = t.wait(size, 1, cancel, || producer.poll(Duration::ZERO));
        let waited = started.elapsed();
        if waited >= Duration::from_millis(1) {
            metrics()
                .throttle_wait
                .with_label_values(&[mirror])
                .inc_by(waited.as_secs_f64());
        }
        if !sent {
            return Forwarded::Skipped; // cancelled while throttled: the record was not sent
        }
    }
    let mut record = BaseRecord::with_opaque_to(&part.remote_topic, pack(slot, offset))
        .partition(msg.partition());
    if let Some(k) = key {
        record = record.key(k);
    }
    if let Some(p) = payload {
        record = record.payload(p);
    }
    if let Some(ts) = ts {
        record = record.timestamp(ts);
    }
    let stamped;
    if spec.stamp_provenance {
        stamped = graph::extend(provenance, &spec.source.alias);
        let count = msg.headers().map_or(0, |h| h.count());
        let mut owned = OwnedHeaders::new_with_capacity(count + 1);
        if let Some(headers) = msg.headers() {
            for h in headers.iter().filter(|h| h.key != graph::PROVENANCE_HEADER) {
                owned = owned.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        owned = owned.insert(Header {
            key: graph::PROVENANCE_HEADER,
            value: Some(stamped.as_slice()),
        });
        record = record.headers(owned);
    } else if let Some(headers) = msg.headers() {
        let mut owned = OwnedHeaders::new_with_capacity(headers.count());
        for h in headers.iter() {
            owned = owned.insert(Header {
                key: h.key,
                value: h.value,
            });
        }
        record = record.headers(owned);
    }
    loop {
        match producer.send(record) {
            Ok(()) => break,
            Err((e, rec)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                // Backpressure: the target is slower than the source. Serve delivery reports
                // and try again; never drop.
                producer.poll(Duration::from_millis(10));
                if cancel.is_cancelled() {
                    return Forwarded::Skipped;
                }
                record = rec;
            }
            Err((e, _)) => {
                // Refused before it left (e.g. larger than the producer's message.max.bytes):
                // this very record is the one, so no isolation is needed; the position stays
                // at it.
                let track = part
                    .track
                    .get_or_insert_with(|| PartitionTrack::from_log_start(offset));
                if track.inflight() > 0 {
                    // Records before it may still fail; wait for them by retrying from the
                    // acknowledged position instead of judging now.
                    part.state = PartState::Isolating { until: offset };
                    part.rewind();
                    return Forwarded::Failed;
                }
                part.state = PartState::Isolating { until: offset };
                fail_partition(
                    mirror,
                    part,
                    offset,
                    e.rdkafka_error_code(),
                    &e,
                    size,
                    stats,
                );
                return Forwarded::Failed;
            }
        }
    }
    part.track
        .get_or_insert_with(|| PartitionTrack::from_log_start(offset))
        .produced(offset, ts.unwrap_or(0));
    stats.records.fetch_add(1, Ordering::Relaxed);
    stats.bytes.fetch_add(size as u64, Ordering::Relaxed);
    if matches!(part.state, PartState::Isolating { .. }) {
        Forwarded::SentAlone
    } else {
        Forwarded::Sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_packs_slot_and_offset() {
        for (slot, offset) in [(0, 0), (1, 5), (4095, (1i64 << 44) - 1), (17, 123_456_789)] {
            let packed = pack(slot, offset);
            assert_ne!(packed, PROGRESS_OPAQUE);
            assert_eq!(unpack(packed), (slot, offset));
        }
    }

    #[test]
    fn size_errors_are_permanent_and_transport_errors_are_not() {
        assert!(permanent_error_hint(RDKafkaErrorCode::MessageSizeTooLarge).is_some());
        assert!(permanent_error_hint(RDKafkaErrorCode::TopicAuthorizationFailed).is_some());
        assert!(permanent_error_hint(RDKafkaErrorCode::BrokerTransportFailure).is_none());
        assert!(permanent_error_hint(RDKafkaErrorCode::UnknownTopicOrPartition).is_none());
    }
}
