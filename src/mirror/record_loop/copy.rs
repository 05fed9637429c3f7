//! Copying one fetched record: is it the partition's to copy, would it loop, the throttle,
//! the record for the target (`transform`), and handing it to the producer (waiting while its
//! queue is full, never dropping).

use std::time::{Duration, Instant};

use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::types::RDKafkaErrorCode;
use tokio_util::sync::CancellationToken;

use super::announce::announce;
use super::{Core, Forwarded};
use crate::mirror::delivery::Sent;
use crate::mirror::partitions::Fetched;
use crate::mirror::transform;
use crate::runtime::failpoint;
use crate::telemetry::events::{
    BackpressureEnded, Backpressured, Event, LoopRecordSkipped, RecordFetched, Throttled,
};
use crate::telemetry::health::now_ms;

/// How long one wait for room in a full producer queue lasts at most before the loop tells it
/// is alive (a delivery report ends it sooner).
const BACKPRESSURE_POLL: Duration = Duration::from_millis(100);

impl Core {
    /// Sends one source record to the target.
    pub(super) fn forward(
        &mut self,
        msg: &BorrowedMessage<'_>,
        cancel: &CancellationToken,
    ) -> Forwarded {
        let Some(slot) = self.index.get(msg.topic(), msg.partition()) else {
            return Forwarded::Skipped;
        };
        let s = &mut self.slots[slot];
        let offset = msg.offset();
        if s.part.fetched(offset) != Fetched::Copy {
            return Forwarded::Skipped;
        }
        if transform::visited(msg, &self.spec.target.alias) {
            s.part.loop_skipped(offset);
            LoopRecordSkipped {
                mirror: &self.telemetry,
            }
            .emit();
            return Forwarded::Skipped;
        }
        let size = transform::size(msg);
        let ts = msg.timestamp().to_millis();
        if let Some(ts_ms) = ts {
            RecordFetched {
                partition: &s.telemetry,
                ts_ms,
                now_ms: now_ms(),
            }
            .emit();
        }
        if let Some(t) = &mut self.throttle {
            let started = Instant::now();
            let producer = &self.producer;
            let passed = t.wait(size, 1, cancel, || {
                producer.poll(Duration::ZERO);
            });
            let waited = started.elapsed();
            if waited >= Duration::from_millis(1) {
                Throttled {
                    mirror: &self.telemetry,
                    waited,
                }
                .emit();
            }
            if !passed {
                return Forwarded::Skipped; // cancelled while throttled: the record was not sent
            }
        }
        let stamp = self
            .spec
            .stamp_provenance
            .then_some(self.spec.source.alias.as_str());
        let opaque = Sent::Record { slot, offset }.opaque();
        let mut record = transform::outgoing(msg, &s.part.remote_topic, opaque, stamp);
        let mut waiting: Option<Instant> = None;
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((e, rec)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    // Backpressure: the target is slower than the source, or away. Serve
                    // delivery reports (the poll returns as soon as one arrives) and try again;
                    // never drop. Waiting is not being wedged: the loop is alive and says so.
                    let since = *waiting.get_or_insert_with(Instant::now);
                    self.producer.poll(BACKPRESSURE_POLL);
                    Backpressured {
                        mirror: &self.telemetry,
                        waited: since.elapsed(),
                    }
                    .emit();
                    if cancel.is_cancelled() {
                        BackpressureEnded {
                            mirror: &self.telemetry,
                            waited: since.elapsed(),
                        }
                        .emit();
                        return Forwarded::Skipped;
                    }
                    record = rec;
                }
                Err((e, _)) => {
                    // Refused before it left (e.g. larger than the producer's message.max.bytes).
                    let code = e.rdkafka_error_code();
                    if let Some(change) = s.part.send_refused(offset, code, Instant::now()) {
                        announce(&self.telemetry, &s.part, &change, Some(&e), size);
                    }
                    self.dirty = true;
                    return Forwarded::Failed;
                }
            }
        }
        if let Some(since) = waiting {
            BackpressureEnded {
                mirror: &self.telemetry,
                waited: since.elapsed(),
            }
            .emit();
        }
        s.part.produced(offset, ts.unwrap_or(0));
        self.copied += 1;
        if let Some(txn) = &mut self.txn {
            txn.sent();
        }
        if let Some(n) = self.panic_after {
            if self.copied >= n && failpoint::first_time() {
                panic!("failpoint record-path-panic-after:{n}: the record path panics once");
            }
        }
        if s.part.awaits_report() {
            Forwarded::SentAlone
        } else {
            Forwarded::Sent
        }
    }
}
