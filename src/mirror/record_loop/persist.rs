//! Persisting progress: acknowledged positions to the progress topic (with their offset maps,
//! also published for checkpoints) and MM2 offset syncs (through their own producer), every
//! second and at shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::transaction::Ended;
use super::{Core, Slot};
use crate::flow::OffsetMaps;
use crate::mirror::delivery::{DeliveryContext, Sent};
use crate::mirror::partitions::Partition;
use crate::mirror::progress;
use crate::records::OffsetSync;
use crate::telemetry::events::{
    Event, MirrorTelemetry, OffsetMapKept, OffsetSyncNotWritten, ProgressNotWritten,
};

/// Publishes a partition's acknowledged offset map for checkpoints, after dropping the history
/// no group needs or that does not fit (`OffsetMaps::publish`).
pub(super) fn publish_map(maps: &OffsetMaps, mirror: &MirrorTelemetry, part: &mut Partition) {
    let (topic, remote) = (
        Arc::clone(&part.source_topic),
        Arc::clone(&part.remote_topic),
    );
    let partition = part.partition;
    let Some(track) = part.track_mut() else {
        return;
    };
    let kept = maps.publish(&topic, partition, &remote, track.map_mut());
    OffsetMapKept {
        mirror,
        topic: &topic,
        partition,
        kept: &kept,
    }
    .emit();
}

impl Core {
    /// Hands every partition's acknowledged position that moved to the producer for the
    /// progress topic, publishes its offset map for checkpoints, and writes the MM2 offset syncs
    /// of what the map learned. A full producer queue defers the rest to the next interval:
    /// nothing is lost.
    pub(super) fn write_progress(&mut self) {
        for i in 0..self.slots.len() {
            if !self.position_moved(i) {
                continue;
            }
            publish_map(&self.spec.maps, &self.telemetry, &mut self.slots[i].part);
            if let Err(error) = self.write_position(i) {
                ProgressNotWritten {
                    mirror: &self.telemetry,
                    topic: &self.spec.progress_topic,
                    error: &error,
                    deferred: true,
                }
                .emit();
                return;
            }
        }
        if let Some(p) = &self.syncs {
            p.poll(Duration::ZERO);
            let mut reports = Vec::new();
            p.context().take_reports(&mut reports);
            let failed: Vec<_> = reports.into_iter().filter_map(|r| r.result.err()).collect();
            if let Some(e) = failed.first() {
                OffsetSyncNotWritten {
                    mirror: &self.telemetry,
                    error: e,
                    count: failed.len() as u64,
                }
                .emit();
            }
        }
    }

    /// Exactly-once: adds the position of every partition that moved (and the offset syncs
    /// kept on the target) to the open transaction. Returns the slots written; a record that
    /// cannot be queued fails the transaction (its positions must all go with it). Their maps
    /// are published once the transaction is committed.
    pub(super) fn write_progress_in_transaction(&mut self) -> Vec<usize> {
        let mut written = Vec::new();
        for i in 0..self.slots.len() {
            if !self.position_moved(i) {
                continue;
            }
            match self.write_position(i) {
                Ok(()) => written.push(i),
                Err(error) => {
                    ProgressNotWritten {
                        mirror: &self.telemetry,
                        topic: &self.spec.progress_topic,
                        error: &error,
                        deferred: false,
                    }
                    .emit();
                    if let Some(txn) = &mut self.txn {
                        txn.record_failed();
                    }
                    break;
                }
            }
        }
        written
    }

    /// Whether the acknowledged position of `slot` moved since it was last written.
    fn position_moved(&self, slot: usize) -> bool {
        let s = &self.slots[slot];
        s.part
            .track()
            .is_some_and(|t| t.committed() != s.written.position)
    }

    /// Hands the position of `slot` to the producer for the progress topic, with the MM2 offset
    /// syncs of what its map learned.
    fn write_position(&mut self, slot: usize) -> Result<(), KafkaError> {
        let s = &mut self.slots[slot];
        let track = s.part.track().expect("a tracked partition");
        let committed = track.committed();
        let (key, value) = progress::encode(
            &self.spec.source.alias,
            &s.part.source_topic,
            s.part.partition,
            committed,
            track.map(),
            s.part.topic_id(),
        );
        let record = BaseRecord::with_opaque_to(&self.spec.progress_topic, Sent::Progress.opaque())
            .partition(0)
            .key(&key)
            .payload(&value);
        self.producer.send(record).map_err(|(error, _)| error)?;
        s.written.position = committed;
        let syncs = if self.syncs_in_transaction {
            Some(&self.producer)
        } else {
            self.syncs.as_ref()
        };
        if let (Some(spec), Some(producer)) = (&self.spec.offset_syncs, syncs) {
            s.written.synced = write_offset_syncs(producer, &spec.topic, s);
        }
        Ok(())
    }

    /// Waits (until `deadline`) for what is in flight, then persists the final positions.
    /// Returns whether everything in flight was acknowledged and the positions written.
    pub(super) fn drain(&mut self, deadline: Instant) -> bool {
        if self.txn.is_some() {
            return match self.end_transaction(deadline) {
                Ok(Ended::Committed | Ended::Nothing) => true,
                Ok(Ended::Aborted) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "exactly-once: the last transaction could not be committed; its records are copied again by the next run of their partitions");
                    false
                }
            };
        }
        let budget = deadline.saturating_duration_since(Instant::now());
        // Most of the budget for the records in flight, the rest for the final progress write.
        let reserve = (budget / 4).min(Duration::from_secs(5));
        let flushed = self.producer.flush(budget - reserve).is_ok();
        self.apply_reports();
        self.write_progress();
        let persisted = self
            .producer
            .flush(deadline.saturating_duration_since(Instant::now()))
            .is_ok();
        if let Some(p) = &self.syncs {
            if p.flush(deadline.saturating_duration_since(Instant::now()))
                .is_err()
            {
                tracing::warn!("offset syncs still in flight at shutdown or hand-over; they are written again by the next run of their partitions");
            }
        }
        self.apply_reports();
        flushed && persisted
    }
}

/// A progress record was not written: every position is written again at the next interval.
pub(super) fn write_failed(
    mirror: &MirrorTelemetry,
    topic: &str,
    error: &KafkaError,
    slots: &mut [Slot],
) {
    ProgressNotWritten {
        mirror,
        topic,
        error,
        deferred: false,
    }
    .emit();
    for s in slots {
        s.written.position = -1;
    }
}

/// Writes the MM2 offset syncs for what `slot`'s map learned since its last sync. Returns the
/// new last synced upstream offset.
fn write_offset_syncs(producer: &BaseProducer<DeliveryContext>, topic: &str, slot: &Slot) -> i64 {
    let synced = slot.written.synced;
    let Some(track) = slot.part.track() else {
        return synced;
    };
    let mut done = synced;
    for (u, d) in progress::offset_syncs(track.map(), synced) {
        let sync = OffsetSync {
            topic: slot.part.source_topic.to_string(),
            partition: slot.part.partition,
            upstream_offset: u,
            downstream_offset: d,
        };
        let (Ok(key), Ok(value)) = (sync.encode_key(), sync.encode_value()) else {
            tracing::error!(topic = %slot.part.source_topic, "topic name too long for an MM2 offset sync");
            return synced;
        };
        let record = BaseRecord::with_opaque_to(topic, Sent::OffsetSync.opaque())
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
