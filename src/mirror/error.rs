//! Why the record path of a mirror stopped.

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::kafka;

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
