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
//! - [`shards`]: which partitions this instance copies when several share the mirror, and the
//!   hand-over of shards between them;
//! - `lag`: lag per partition;
//! - `throttle`: bytes/s and records/s limits;
//! - `control`: the control plane;
//! - `record_loop`: the loop itself, with the glue that applies reports, routes and watermarks
//!   to the partition table and persists progress;
//! - [`transaction`]: exactly-once delivery (transactional ids, fencing, what failures mean);
//!   the record loop's transactions are `record_loop::transaction`;
//! - `spec`, `error`: what the record path is given, and why it stops.

mod assignment;
mod control;
mod delivery;
mod error;
mod lag;
pub mod partitions;
pub mod progress;
mod record_loop;
pub mod shards;
mod spec;
pub mod take_over;
mod throttle;
mod tracker;
pub mod transaction;
mod transform;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::flow::RouteSet;
use crate::kafka::{self, LogContext};
use crate::telemetry::events::{Event, MirrorTelemetry, RecordPathEnded, RecordPathStarted};

pub use control::ControlPlane;
pub use delivery::DeliveryContext;
pub use error::MirrorError;
pub use progress::{Positions, Stored};
use record_loop::RecordLoop;
pub use spec::{OffsetSyncsSpec, RecordPathSpec};

/// Loads the persisted positions of `source` from the progress topic on the target, and with
/// `take_over_mm2` MirrorMaker 2's for the partitions that have none (marked
/// [`Stored::from_mm2`]). Blocking.
pub fn load_positions(spec: &RecordPathSpec) -> Result<Positions, MirrorError> {
    let consumer = kafka::reader_consumer(&spec.target, &format!("{}|progress-reader", spec.name))?;
    let mut positions = progress::load(
        &consumer,
        &spec.progress_topic,
        &spec.source.alias,
        Duration::from_secs(120),
    )?;
    if let Some(t) = &spec.take_over_mm2 {
        let mm2 = take_over::load(
            &consumer,
            &t.offsets_topic,
            &t.connector,
            &t.cluster,
            Duration::from_secs(120),
        )
        .map_err(|e| MirrorError::TakeOver {
            topic: t.offsets_topic.clone(),
            source: Box::new(e),
        })?;
        let (mut taken, mut kept) = (0usize, 0usize);
        let mut sorted: Vec<_> = mm2.into_iter().collect();
        sorted.sort();
        for (tp, next_offset) in sorted {
            if let Some(own) = positions.get(&tp) {
                kept += 1;
                tracing::debug!(
                    topic = tp.0,
                    partition = tp.1,
                    mm2_next = next_offset,
                    strait_next = own.next_offset,
                    "take-over: strait's own position kept"
                );
                continue;
            }
            tracing::info!(
                topic = tp.0,
                partition = tp.1,
                next_offset,
                "take-over: resuming after the last record MirrorMaker 2 stored as copied"
            );
            positions.insert(
                tp,
                Stored {
                    next_offset,
                    map: crate::offset_map::OffsetMap::default(),
                    topic_id: None,
                    from_mm2: true,
                },
            );
            taken += 1;
        }
        tracing::warn!(
            taken,
            kept,
            topic = t.offsets_topic,
            connector = t.connector,
            cluster = t.cluster,
            "take-over from MirrorMaker 2: {taken} partition position(s) taken over, {kept} \
             kept (strait had its own); records MM2 copied after its last stored offset are \
             copied again; make sure MM2 is stopped"
        );
    }
    Ok(positions)
}

/// One run of a mirror's record path: the loop (for a dedicated thread) and its control plane
/// (for a task).
pub struct RecordPath {
    record_loop: RecordLoop,
    telemetry: Arc<MirrorTelemetry>,
    stored: usize,
}

/// Builds the record path's clients and splits it into the loop and its control plane. Builds
/// clients but does not wait on the network. An exactly-once mirror brings its transactional
/// producer, initialized ([`transaction::start_producer`]).
pub fn record_path(
    spec: RecordPathSpec,
    positions: Positions,
    sharing: Option<shards::Sharing>,
    transactional: Option<transaction::Transactional>,
    routes: watch::Receiver<RouteSet>,
    telemetry: Arc<MirrorTelemetry>,
) -> Result<(RecordPath, ControlPlane), MirrorError> {
    let name = &spec.name;
    let consumer = kafka::record_consumer(&spec.source, &format!("{name}|consumer"))?;
    debug_assert_eq!(
        transactional.is_some(),
        spec.exactly_once.is_some(),
        "an exactly-once mirror, and only one, brings its transactional producer"
    );
    let exactly_once = transactional.is_some();
    let (producer, group) = match transactional {
        Some(t) => (t.producer, t.group),
        None => (
            Arc::new(kafka::record_producer(
                &spec.target,
                &format!("{name}|producer"),
                DeliveryContext::new(LogContext::new(format!("{name}|producer"))),
            )?),
            None,
        ),
    };
    // Offset syncs go through a producer of their own, on whichever cluster they live: a sync
    // that cannot be written (no topic, no ACL) never takes room in the records' queue. With
    // exactly-once, those kept on the target go in the record producer's transactions.
    let syncs = match &spec.offset_syncs {
        Some(o) if exactly_once && !o.on_source => None,
        Some(o) => {
            let client = format!("{name}|offset-syncs");
            let cluster = if o.on_source {
                &spec.source
            } else {
                &spec.target
            };
            Some(Arc::new(kafka::offset_sync_producer(
                cluster,
                &client,
                DeliveryContext::new(LogContext::new(client.clone())),
            )?))
        }
        None => None,
    };
    let watermarks: BaseConsumer<LogContext> =
        kafka::reader_consumer(&spec.source, &format!("{name}|watermarks"))?;
    let (control, handle) = control::channels(Arc::clone(&producer), watermarks, routes);
    let stored = positions.len();
    let record_loop = RecordLoop::new(
        spec,
        record_loop::Clients {
            consumer,
            producer,
            syncs,
            group,
        },
        handle,
        positions,
        sharing,
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
