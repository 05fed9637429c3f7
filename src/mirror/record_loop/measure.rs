//! Measuring lag once a second: per partition from the source's end offsets in the record
//! consumer's statistics, into metrics, health and the `/status` snapshot.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Offset;

use super::Core;
use crate::dr::status::PartitionStatus;
use crate::kafka::LogContext;
use crate::mirror::lag::lag;
use crate::telemetry::events::{Event, LagMeasured, PartitionLag};
use crate::telemetry::health::{now_ms, PartitionSnapshot};
use crate::telemetry::metrics::metrics;

impl Core {
    /// Measures every partition's lag (metrics, health and the `/status` snapshot). Local
    /// calls only: positions from the consumer, end offsets from its statistics.
    pub(super) fn measure_lag(&mut self, consumer: &BaseConsumer<LogContext>) {
        // Transaction markers at the end of a partition are never delivered; the consumer's
        // position still moves past them (librdkafka advances it over control records and
        // resets it on seek), and so does the partition's safe position.
        if let Ok(positions) = consumer.position() {
            for e in positions.elements() {
                let Offset::Offset(pos) = e.offset() else {
                    continue;
                };
                if let Some(slot) = self.index.get(e.topic(), e.partition()) {
                    self.slots[slot].part.passed(pos);
                }
            }
        }
        let client = format!("{}|consumer", self.spec.name);
        let now = now_ms();
        let mut total = 0;
        let mut assigned = 0;
        let mut snapshot = Vec::new();
        for s in &self.slots {
            if !s.part.wants_assigned() {
                continue;
            }
            assigned += 1;
            let Some(track) = s.part.track() else {
                continue;
            };
            let end = metrics().source_end(&client, &s.part.source_topic, s.part.partition);
            let measured = end.map(|end| lag(track, end, now));
            if let Some(l) = measured {
                total += l.records;
                PartitionLag {
                    partition: &s.telemetry,
                    records: l.records,
                    seconds: l.seconds,
                }
                .emit();
            }
            snapshot.push(PartitionSnapshot {
                status: PartitionStatus {
                    topic: s.part.source_topic.to_string(),
                    partition: s.part.partition,
                    remote_topic: s.part.remote_topic.to_string(),
                    copied_to: track.committed(),
                    source_end: end,
                    lag_records: measured.map(|l| l.records),
                    lag_seconds: measured.map(|l| l.seconds),
                    progress_age_ms: None,
                    stopped: s.part.stopped(),
                    instance: None,
                },
                moved_ms: s.moved_ms,
            });
        }
        LagMeasured {
            mirror: &self.telemetry,
            total_records: total,
            assigned,
            partitions: snapshot,
        }
        .emit();
    }
}
