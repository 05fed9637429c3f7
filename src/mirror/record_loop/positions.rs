//! Positions outside the source log: a consumer error says a position fell out of range (not
//! which); the control plane reads the watermarks of the partitions that may be affected and
//! their topics' ids, and the answer moves each affected partition (a data gap, a truncated or
//! re-created source log, see `partitions::Partition::offset_out_of_range`).

use std::sync::Arc;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::announce::announce;
use super::Core;
use crate::mirror::control::{Handle, Request};
use crate::mirror::error::MirrorError;
use crate::mirror::partitions::{Outcome, SourceLog};
use crate::mirror::progress::Written;
use crate::telemetry::events::{Event, FetchFailed};

impl Core {
    /// A source consumer error. A position out of range asks the control plane for the
    /// watermarks of the partitions that may be affected (librdkafka does not say which).
    pub(super) fn consumer_error(
        &mut self,
        control: &Handle,
        e: &KafkaError,
    ) -> Result<(), MirrorError> {
        let out_of_range = e.rdkafka_error_code() == Some(RDKafkaErrorCode::AutoOffsetReset);
        FetchFailed {
            mirror: &self.telemetry,
            error: e,
            logged: !out_of_range,
        }
        .emit();
        if out_of_range && !self.watermarks_pending {
            // Some partition's position is outside the source log: find which, and what is lost.
            let ask: Vec<(Arc<str>, i32)> = self
                .slots
                .iter()
                .filter(|s| s.held.assigned && !s.held.paused && s.part.track().is_some())
                .map(|s| (Arc::clone(&s.part.source_topic), s.part.partition))
                .collect();
            self.watermarks_pending = control.request(Request::Watermarks(ask))?;
        }
        Ok(())
    }

    /// The source log of a partition whose position fell out of range was read.
    pub(super) fn out_of_range(&mut self, topic: &str, partition: i32, log: SourceLog) {
        let Some(slot) = self.index.get(topic, partition) else {
            return;
        };
        let s = &mut self.slots[slot];
        match s.part.offset_out_of_range(&log, self.spec.on_data_gap) {
            Outcome::Unchanged => {}
            Outcome::Changed(change) => {
                announce(&self.telemetry, &s.part, &change, None, 0);
                self.dirty = true;
            }
            Outcome::Replaced { change, successor } => {
                announce(&self.telemetry, &s.part, &change, None, 0);
                self.replace(slot, *successor, Written::starting_at(None));
            }
        }
    }
}
