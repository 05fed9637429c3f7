//! Replication lag of one partition, from the source's end offset (the record consumer's
//! librdkafka statistics, so no request per partition) and what the target acknowledged.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Offset;

use super::record_loop::Core;
use super::tracker::PartitionTrack;
use crate::kafka::LogContext;
use crate::telemetry::events::{Event, LagMeasured, PartitionLag};
use crate::telemetry::health::{now_ms, PartitionSnapshot};
use crate::telemetry::metrics::metrics;

/// How far one partition is behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    /// Source records not yet acknowledged by the target.
    pub records: i64,
    /// Age of the oldest of them. With nothing in flight an upper bound: the age of the newest
    /// acknowledged record (what waits is younger). 0 when caught up.
    pub seconds: f64,
}

/// The lag of a partition whose source log ends at `end`, at wall-clock time `now_ms`.
pub fn lag(track: &PartitionTrack, end: i64, now_ms: i64) -> Lag {
    let records = (end - track.committed()).max(0);
    let seconds = if records == 0 {
        0.0
    } else {
        match track.oldest_inflight_ts().or(track.last_ts()) {
            Some(ts) if ts > 0 => ((now_ms - ts).max(0) as f64) / 1000.0,
            _ => 0.0,
        }
    };
    Lag { records, seconds }
}

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
                if let Some(&slot) = self
                    .index
                    .get(e.topic())
                    .and_then(|slots| slots.get(e.partition() as usize))
                {
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
                topic: s.part.source_topic.to_string(),
                partition: s.part.partition,
                remote_topic: s.part.remote_topic.to_string(),
                copied_to: track.committed(),
                source_end: end,
                lag_records: measured.map(|l| l.records),
                lag_seconds: measured.map(|l| l.seconds),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_unacknowledged_records_and_the_age_of_the_oldest() {
        let mut t = PartitionTrack::new(100);
        assert_eq!(
            lag(&t, 100, 5_000),
            Lag {
                records: 0,
                seconds: 0.0
            }
        );
        // 100 and 101 in flight, written at 1 s and 2 s; the log ends at 110.
        t.produced(100, 1_000);
        t.produced(101, 2_000);
        assert_eq!(
            lag(&t, 110, 5_000),
            Lag {
                records: 10,
                seconds: 4.0
            }
        );
        t.acked(100, 0);
        assert_eq!(lag(&t, 110, 5_000).seconds, 3.0);
        t.acked(101, 1);
        // Nothing in flight: the newest acknowledged record's age bounds what waits.
        assert_eq!(
            lag(&t, 110, 5_000),
            Lag {
                records: 8,
                seconds: 3.0
            }
        );
        // A position past the (stale) end never reads as negative lag.
        assert_eq!(lag(&t, 90, 5_000).records, 0);
    }
}
