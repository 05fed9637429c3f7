//! Delivery reports: what the target said about each record the record path handed to the
//! producer. The producer's context collects the reports (on librdkafka's thread) for the record
//! loop, which applies them in batches on its own thread; the opaque value of each record names
//! what it was (a data record's partition slot and source offset, a progress record, an offset
//! sync); the error codes are classified here into what the partition state machine does with
//! them.

use std::sync::Mutex;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;

use crate::kafka::LogContext;

/// The opaque value of progress records (data records pack slot and offset, see [`pack`]; slots
/// stay below 2^20 - 1, so packed values never reach these two).
const PROGRESS_OPAQUE: usize = usize::MAX;
/// The opaque value of offset-sync records.
const SYNC_OPAQUE: usize = usize::MAX - 1;
const OFFSET_BITS: u32 = 44;
const OFFSET_MASK: usize = (1 << OFFSET_BITS) - 1;

/// What a produced record was, from its opaque value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// A copied source record: the partition's slot in the record loop and its source offset.
    Record { slot: usize, offset: i64 },
    /// A record of the progress topic.
    Progress,
    /// An MM2 offset sync.
    OffsetSync,
}

impl Sent {
    /// The opaque value to produce a record with.
    pub fn opaque(self) -> usize {
        match self {
            Sent::Record { slot, offset } => {
                (slot << OFFSET_BITS) | (offset as usize & OFFSET_MASK)
            }
            Sent::Progress => PROGRESS_OPAQUE,
            Sent::OffsetSync => SYNC_OPAQUE,
        }
    }

    pub fn from_opaque(opaque: usize) -> Sent {
        match opaque {
            PROGRESS_OPAQUE => Sent::Progress,
            SYNC_OPAQUE => Sent::OffsetSync,
            packed => Sent::Record {
                slot: packed >> OFFSET_BITS,
                offset: (packed & OFFSET_MASK) as i64,
            },
        }
    }
}

/// One delivery report.
pub struct Report {
    pub sent: Sent,
    /// The downstream offset, or why the record was not written.
    pub result: Result<i64, KafkaError>,
    /// Size of key + value of the record (metrics, error messages).
    pub size: usize,
    /// The record's timestamp (the source's), for replication latency.
    pub ts_ms: Option<i64>,
}

/// Producer context: collects delivery reports for the record loop.
pub struct DeliveryContext {
    pub log: LogContext,
    reports: Mutex<Vec<Report>>,
}

impl DeliveryContext {
    pub fn new(log: LogContext) -> Self {
        DeliveryContext {
            log,
            reports: Mutex::new(Vec::new()),
        }
    }

    /// Moves the reports collected so far into `into` (which should be empty), leaving its
    /// allocation to the context for the next batch.
    pub fn take_reports(&self, into: &mut Vec<Report>) {
        std::mem::swap(into, &mut *self.reports.lock().expect("reports lock"));
    }
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
            sent: Sent::from_opaque(opaque),
            result,
            size,
            ts_ms,
        });
    }
}

/// What a failed delivery means for its partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The target refused the record's batch as too large: any record of the batch may be the
    /// large one (alone, the refusal is this one).
    TooLarge(Refusal),
    /// Retrying cannot help; the operator must act (the hint says how).
    Permanent(Refusal),
    /// Worth retrying from the acknowledged position.
    Transient,
}

/// Why the target refuses a record for good, and what the operator can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The record is larger than the target accepts.
    pub too_large: bool,
    pub hint: &'static str,
}

impl Refusal {
    /// The `reason` label of `strait_data_gap_offsets_total`.
    pub fn gap_reason(self) -> &'static str {
        if self.too_large {
            "record_too_large"
        } else {
            "refused"
        }
    }
}

/// Classifies a delivery error code. An authorization failure is transient: the operator
/// fixes it by granting WRITE on the remote topic (the permission monitor names the grant), and
/// the partition copies on from its acknowledged position once granted, without a restart.
pub fn classify(code: Option<RDKafkaErrorCode>) -> ErrorClass {
    use RDKafkaErrorCode as C;
    match code {
        Some(C::MessageSizeTooLarge | C::MessageBatchTooLarge) => ErrorClass::TooLarge(Refusal {
            too_large: true,
            hint: TOO_LARGE_HINT,
        }),
        Some(code) => match permanent_error_hint(code) {
            Some(hint) => ErrorClass::Permanent(Refusal {
                too_large: false,
                hint,
            }),
            None => ErrorClass::Transient,
        },
        None => ErrorClass::Transient,
    }
}

/// The refusal of one record the target would not take even alone (too large, or refused for
/// good).
pub fn refusal_of(code: Option<RDKafkaErrorCode>) -> Option<Refusal> {
    match classify(code) {
        ErrorClass::TooLarge(r) | ErrorClass::Permanent(r) => Some(r),
        ErrorClass::Transient => None,
    }
}

/// What to do about a record too large for the target.
const TOO_LARGE_HINT: &str = "raise `max.message.bytes` of the remote topic on the target (and, above 1 MB, \
     the target producer's `message.max.bytes` under clusters.<target>.producer) to at least the record size";

/// For other errors retrying cannot fix, the fix to tell the operator.
fn permanent_error_hint(code: RDKafkaErrorCode) -> Option<&'static str> {
    use RDKafkaErrorCode as C;
    Some(match code {
        C::InvalidRecord | C::InvalidMessage | C::InvalidTimestamp | C::PolicyViolation => {
            "the target's topic configuration rejects this record; compare the remote topic's configs \
             with the source topic's"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use RDKafkaErrorCode as C;

    #[test]
    fn opaque_packs_slot_and_offset_and_names_strait_records() {
        for (slot, offset) in [(0, 0), (1, 5), (4095, (1i64 << 44) - 1), (17, 123_456_789)] {
            let sent = Sent::Record { slot, offset };
            assert_ne!(sent.opaque(), PROGRESS_OPAQUE);
            assert_ne!(sent.opaque(), SYNC_OPAQUE);
            assert_eq!(Sent::from_opaque(sent.opaque()), sent);
        }
        assert_eq!(Sent::from_opaque(Sent::Progress.opaque()), Sent::Progress);
        assert_eq!(
            Sent::from_opaque(Sent::OffsetSync.opaque()),
            Sent::OffsetSync
        );
    }

    #[test]
    fn size_errors_are_too_large_policy_is_permanent_authorization_and_transport_are_transient() {
        assert_eq!(
            classify(Some(C::MessageSizeTooLarge)),
            ErrorClass::TooLarge(Refusal {
                too_large: true,
                hint: TOO_LARGE_HINT
            })
        );
        assert_eq!(
            classify(Some(C::MessageBatchTooLarge)),
            ErrorClass::TooLarge(Refusal {
                too_large: true,
                hint: TOO_LARGE_HINT
            })
        );
        for code in [C::InvalidRecord, C::InvalidTimestamp, C::PolicyViolation] {
            assert!(
                matches!(classify(Some(code)), ErrorClass::Permanent(r) if !r.too_large),
                "{code:?}"
            );
        }
        for code in [
            C::TopicAuthorizationFailed,
            C::ClusterAuthorizationFailed,
            C::BrokerTransportFailure,
            C::UnknownTopicOrPartition,
            C::NotLeaderForPartition,
            C::RequestTimedOut,
        ] {
            assert_eq!(classify(Some(code)), ErrorClass::Transient, "{code:?}");
        }
        assert_eq!(classify(None), ErrorClass::Transient);
        let alone = refusal_of(Some(C::MessageSizeTooLarge)).expect("too large alone");
        assert!(alone.too_large);
        assert_eq!(alone.gap_reason(), "record_too_large");
        assert_eq!(
            refusal_of(Some(C::PolicyViolation)).map(Refusal::gap_reason),
            Some("refused")
        );
        assert_eq!(refusal_of(Some(C::TopicAuthorizationFailed)), None);
        assert_eq!(refusal_of(Some(C::BrokerTransportFailure)), None);
    }
}
