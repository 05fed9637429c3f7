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
    #[error(
        "take_over_mm2: cannot read MirrorMaker 2's positions from `{topic}` on the target \
         (check `take_over_mm2.offsets_topic`: MM2's dedicated mode uses \
         mm2-offsets.<source>.internal, MM2 in a Connect cluster its offset.storage.topic; or \
         turn take_over_mm2 off)"
    )]
    TakeOver {
        topic: String,
        #[source]
        source: Box<kafka::read::ReadError>,
    },
    #[error("consumer assignment failed")]
    Assign(#[source] KafkaError),
    #[error("the target producer hit a fatal error ({code}): {reason}")]
    ProducerFatal {
        code: RDKafkaErrorCode,
        reason: String,
    },
    #[error("exactly-once: transactions with id `{id}` cannot start: {problem}")]
    Transactions { id: String, problem: String },
    #[error(
        "exactly-once: the producer with transactional id `{id}` was fenced ({reason}): a \
             newer producer took the id (the instance that took over this one's shards after \
             it fell out of its group, a second strait copying this mirror without sharing a \
             `deployment` with this one, or two instances with the same \
             `deployment.instance`), or the target aborted its transaction and bumped the \
             producer's epoch (a transaction that outlived `transaction_timeout`, e.g. across \
             a broker restart); the mirror starts again from the last committed positions"
    )]
    Fenced { id: String, reason: String },
    #[error("exactly-once: a transaction with id `{id}` failed for good: {reason}")]
    TransactionFatal { id: String, reason: String },
    #[error("the record path's control plane stopped")]
    ControlGone,
    #[error("the record path's control plane failed: {0}")]
    ControlPanicked(String),
}
