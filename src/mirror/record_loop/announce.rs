//! A partition's changes, told to the operator as telemetry events.

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::mirror::partitions::{Change, Partition};
use crate::telemetry::events::{
    At, BackToBatches, DataGap, Event, Isolating, MirrorTelemetry, PartitionAssigned,
    PartitionRemoved, PartitionStopped, RetryScheduled, Retrying, SourceLogReset, SourceTruncated,
    TopicIdentityAdopted, TopicRecreated,
};

/// Tells the operator about a partition's change: `error` caused it, on a record of `size`
/// bytes.
pub(super) fn announce(
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
    let denied = error
        .and_then(KafkaError::rdkafka_error_code)
        .is_some_and(|c| {
            matches!(
                c,
                RDKafkaErrorCode::TopicAuthorizationFailed
                    | RDKafkaErrorCode::ClusterAuthorizationFailed
            )
        });
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
            denied,
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
        Change::DataGap {
            from,
            to,
            lost,
            stopped,
        } => DataGap {
            mirror,
            at,
            from,
            to,
            lost,
            stopped,
        }
        .emit(),
        Change::LogReset {
            position,
            log_end,
            from,
        } => SourceLogReset {
            at,
            position,
            log_end,
            from,
        }
        .emit(),
        Change::SourceTruncated {
            position,
            log_end,
            from,
        } => SourceTruncated {
            at,
            position,
            log_end,
            from,
        }
        .emit(),
        Change::Recreated {
            ref old,
            ref new,
            position,
        } => TopicRecreated {
            mirror,
            at,
            old,
            new,
            position,
        }
        .emit(),
        Change::IdentityAdopted { ref id, position } => {
            TopicIdentityAdopted { at, id, position }.emit()
        }
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
