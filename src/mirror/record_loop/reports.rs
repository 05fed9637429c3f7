//! Delivery reports applied to the partitions: acknowledgements move positions on, failures
//! change the partition's state; reports of progress records and offset syncs are checked.

use rdkafka::producer::Producer;
use rdkafka::types::RDKafkaErrorCode;

use super::announce::announce;
use super::persist::write_failed;
use super::{Core, Slot};
use crate::mirror::delivery::{Report, Sent};
use crate::telemetry::events::{
    Event, MirrorTelemetry, OffsetSyncNotWritten, ProduceFailed, RecordAcknowledged,
    TargetLogWentBack,
};
use crate::telemetry::health::now_ms;

impl Core {
    /// Applies the delivery reports collected since the last turn.
    pub(super) fn apply_reports(&mut self) {
        self.producer.context().take_reports(&mut self.reports);
        let mut reports = std::mem::take(&mut self.reports);
        let now = now_ms();
        for report in reports.drain(..) {
            if report.result.is_err() {
                // Exactly-once: the open transaction cannot commit any more.
                if let Some(txn) = &mut self.txn {
                    txn.record_failed();
                }
            }
            match report.sent {
                Sent::Record { slot, offset } => {
                    let Some(s) = self.slots.get_mut(slot) else {
                        continue;
                    };
                    if apply(&self.telemetry, s, offset, report, now) {
                        self.dirty = true;
                    }
                }
                Sent::Progress => {
                    if let (Err(e), None) = (report.result, &self.txn) {
                        write_failed(
                            &self.telemetry,
                            &self.spec.progress_topic,
                            &e,
                            &mut self.slots,
                        );
                    }
                }
                Sent::OffsetSync => {
                    // Offset syncs have a producer of their own (`persist`).
                    if let Err(e) = report.result {
                        OffsetSyncNotWritten {
                            mirror: &self.telemetry,
                            error: &e,
                            count: 1,
                        }
                        .emit();
                    }
                }
            }
        }
        self.reports = reports;
    }
}

/// Applies the report of the data record at `offset` to its partition. Returns true when the
/// partition's state changed in a way the consumer must follow.
fn apply(
    mirror: &MirrorTelemetry,
    slot: &mut Slot,
    offset: i64,
    report: Report,
    now_ms: i64,
) -> bool {
    match report.result {
        Ok(downstream) => {
            let acked = slot.part.acknowledged(offset, downstream);
            if let Some((written_to, now_at)) = slot.part.take_target_reset() {
                TargetLogWentBack {
                    mirror,
                    remote_topic: &slot.part.remote_topic,
                    partition: slot.part.partition,
                    written_to,
                    now_at,
                }
                .emit();
            }
            if acked.counted {
                slot.moved_ms = now_ms;
                RecordAcknowledged {
                    mirror,
                    partition: &slot.telemetry,
                    bytes: report.size,
                    ts_ms: report.ts_ms,
                    now_ms,
                }
                .emit();
            }
            if let Some(change) = &acked.change {
                announce(mirror, &slot.part, change, None, report.size);
            }
            false
        }
        Err(e) => {
            let code = e.rdkafka_error_code();
            if matches!(
                code,
                Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight)
            ) {
                // Exactly-once: purged because its transaction failed or is aborted (only then
                // does anything purge); the failure that caused it is judged on its own, and
                // the record is copied again from the rolled-back position.
                return false;
            }
            let Some(change) = slot
                .part
                .delivery_failed(offset, code, std::time::Instant::now())
            else {
                return false; // already handled: a later failure of the same burst
            };
            ProduceFailed { mirror, error: &e }.emit();
            announce(mirror, &slot.part, &change, Some(&e), report.size);
            true
        }
    }
}
