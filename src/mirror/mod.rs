//! The record path of one mirror: consume from the source, rename, produce to the target, track
//! acknowledgements and persist progress.
//!
//! One dedicated OS thread per mirror runs the record loop (`record_loop`) on a `BaseConsumer` and
//! a `BaseProducer`: each record goes to an idempotent producer (`acks=all`) with an opaque that
//! names its source partition and offset, and delivery reports (served by the same thread)
//! advance each partition's acknowledged position. Positions go to the progress topic on the
//! target only once everything before them is acknowledged, so a crash at any point loses
//! nothing (records after the position are copied again: at-least-once). Memory is bounded by
//! the consumer's prefetch limit and the producer's queue limit; when the producer queue is full
//! the loop waits. Calls that wait on the network run on the mirror's control plane (`control`).
//!
//! - [`partitions`]: the state machine of one source partition (pure);
//! - `tracker`: acknowledgement tracking and the safe position of one partition (pure);
//! - `transform`: what a source record becomes on the target (pure);
//! - `delivery`: delivery reports and what their error codes mean;
//! - `assignment`: making the consumer follow the partitions' states;
//! - [`progress`]: the progress topic, and the MM2 offset syncs written with it;
//! - `lag`: lag per partition;
//! - `throttle`: bytes/s and records/s limits;
//! - `routes`: routes from topic sync applied to the partition table;
//! - `control`: the control plane; `record_loop`: the loop itself.

mod assignment;
mod control;
mod delivery;
mod lag;
pub mod partitions;
pub mod progress;
mod record_loop;
mod routes;
mod throttle;
mod tracker;
mod transform;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{ClusterConfig, Throttle};
use crate::flow::{OffsetMaps, PartitionMap, RouteSet};
use crate::kafka::{self, LogContext};
use crate::telemetry::events::{
    At, BackToBatches, DataGap, Event, Isolating, MirrorTelemetry, PartitionAssigned,
    PartitionRemoved, PartitionStopped, RecordPathEnded, RecordPathStarted, RetryScheduled,
    Retrying, SourceLogReset,
};

pub use control::ControlPlane;
use delivery::DeliveryContext;
use partitions::{Change, Partition};
pub use progress::{Positions, Stored};
use record_loop::RecordLoop;
use tracker::PartitionTrack;

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
    /// Time allowed to drain in-flight records and write the final positions on shutdown.
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

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error(transparent)]
    Client(#[from] kafka::ClientError),
    #[error("cannot read the stored positions")]
    Progress(#[from] kafka::read::ReadError),
    #[error("consumer assignment failed")]
    Assign(#[source] KafkaError),
    #[error("the target producer hit a fatal error ({code}): {reason}")]
    ProducerFatal {
        code: RDKafkaErrorCode,
        reason: String,
    },
    #[error("the record path's control plane stopped")]
    ControlGone,
    #[error("the record path's control plane failed: {0}")]
    ControlPanicked(String),
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

/// One run of a mirror's record path: the loop (for a dedicated thread) and its control plane
/// (for a task).
pub struct RecordPath {
    record_loop: RecordLoop,
    telemetry: Arc<MirrorTelemetry>,
    stored: usize,
}

/// Builds the record path's clients and splits it into the loop and its control plane. Builds
/// clients but does not wait on the network.
pub fn record_path(
    spec: RecordPathSpec,
    positions: Positions,
    routes: watch::Receiver<RouteSet>,
    telemetry: Arc<MirrorTelemetry>,
) -> Result<(RecordPath, ControlPlane), MirrorError> {
    let name = &spec.name;
    let consumer = kafka::record_consumer(&spec.source, &format!("{name}|consumer"))?;
    let producer = Arc::new(kafka::record_producer(
        &spec.target,
        &format!("{name}|producer"),
        DeliveryContext::new(LogContext::new(format!("{name}|producer"))),
    )?);
    let syncs = match &spec.offset_syncs {
        Some(o) if o.on_source => {
            let client = format!("{name}|offset-syncs");
            Some(Arc::new(kafka::record_producer(
                &spec.source,
                &client,
                DeliveryContext::new(LogContext::new(client.clone())),
            )?))
        }
        _ => None,
    };
    let watermarks: BaseConsumer<LogContext> =
        kafka::reader_consumer(&spec.source, &format!("{name}|watermarks"))?;
    let (control, handle) = control::channels(Arc::clone(&producer), watermarks, routes);
    let stored = positions.len();
    let record_loop = RecordLoop::new(
        spec,
        consumer,
        producer,
        syncs,
        handle,
        positions,
        Arc::clone(&telemetry),
    );
    Ok((
        RecordPath {
            record_loop,
            telemetry,
            stored,
        },
        control,
    ))
}

impl RecordPath {
    /// Runs the loop until `cancel` fires (then drains and persists) or a fatal error. Blocking:
    /// call from a dedicated thread. The mirror counts as up while this runs.
    pub fn run(mut self, cancel: CancellationToken) -> Result<(), MirrorError> {
        /// Marks the mirror down however the loop ends, a panic included.
        struct Down<'a>(&'a MirrorTelemetry);
        impl Drop for Down<'_> {
            fn drop(&mut self) {
                RecordPathEnded { mirror: self.0 }.emit();
            }
        }
        RecordPathStarted {
            mirror: &self.telemetry,
            stored: self.stored,
        }
        .emit();
        let _down = Down(&self.telemetry);
        self.record_loop.run(&cancel)
    }
}

/// Publishes a partition's acknowledged offset map for checkpoints.
fn publish_map(maps: &OffsetMaps, part: &Partition, track: &PartitionTrack) {
    maps.write().expect("maps lock").insert(
        (part.source_topic.to_string(), part.partition),
        PartitionMap {
            remote_topic: Arc::clone(&part.remote_topic),
            map: track.map().clone(),
        },
    );
}

/// Tells the operator about a partition's change: `error` caused it, on a record of `size`
/// bytes.
fn announce(
    mirror: &MirrorTelemetry,
    part: &Partition,
    change: &Change,
    error: Option<&KafkaError>,
    size: usize,
) {
    let at = At {
        topic: &part.source_topic,
        partition: part.partition,
        remote: &part.remote_topic,
    };
    let error: &dyn std::fmt::Display = match error {
        Some(e) => e,
        None => &"-",
    };
    match *change {
        Change::Isolating {
            from,
            until,
            refused_before_send,
        } => Isolating {
            at,
            from,
            until,
            refused_before_send,
            error,
        }
        .emit(),
        Change::BackToBatches => BackToBatches { at }.emit(),
        Change::Stopped { offset, refusal } => PartitionStopped {
            mirror,
            at,
            offset,
            record_bytes: size,
            error,
            reason: refusal.gap_reason(),
            hint: refusal.hint,
        }
        .emit(),
        Change::RetryScheduled { offset, backoff } => RetryScheduled {
            at,
            offset,
            backoff,
            error,
        }
        .emit(),
        Change::Retrying { from } => Retrying { at, from }.emit(),
        Change::Removed => PartitionRemoved {
            mirror,
            topic: at.topic,
            partition: at.partition,
        }
        .emit(),
        Change::Readded { from } => PartitionAssigned {
            topic: at.topic,
            partition: at.partition,
            remote: at.remote,
            from,
        }
        .emit(),
        Change::DataGap { from, to } => DataGap {
            mirror,
            at,
            from,
            to,
        }
        .emit(),
        Change::LogReset {
            position,
            log_end,
            from: _,
        } => SourceLogReset {
            at,
            position,
            log_end,
        }
        .emit(),
        Change::Revoked { committed } => {
            tracing::info!(
                topic = at.topic,
                partition = at.partition,
                committed,
                "partition revoked"
            )
        }
    }
}
