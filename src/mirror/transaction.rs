//! Exactly-once delivery (`delivery: exactly_once`): the records of a batch, the progress
//! records of the positions they advance and the MM2 offset syncs kept on the target are
//! written by one transactional producer in one transaction on the target, and the source is
//! read `read_committed`. A crash at any moment leaves either the whole transaction or none of
//! it for the target's read_committed consumers, and the next run resumes from the positions
//! of the last committed one.
//!
//! **Fencing.** The transactional id is stable for the unit of work it writes for: the mirror
//! when one instance copies it (`strait.<source>`), the instance's share of the mirror when
//! several do (`strait.<deployment>.<source>.<instance>`). Starting a producer with the id
//! fences its previous incarnation (the broker refuses its writes from then on) and aborts the
//! transaction it left open, or waits for the one it was committing. Between instances the
//! shards move through the coordination group, and each transaction also commits the
//! coordination group's offsets of the shards this instance owns, with its group generation
//! (Kafka's KIP-447): an instance the group has left behind (a zombie after a rebalance) has its
//! commit refused by the group coordinator, so it can only abort. The new owner of a shard reads
//! its positions only after the group's offsets of the shard are stable: a commit of the old
//! owner that was under way has completed or was aborted.
//!
//! The part of the record loop that opens, commits and aborts transactions is
//! `record_loop::transaction`; this module holds what the mirror's start and its coordinator
//! need as well.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer};

use super::delivery::DeliveryContext;
use super::error::MirrorError;
use super::spec::RecordPathSpec;
use crate::kafka::{self, LogContext};

/// What the record path of an exactly-once mirror is given.
#[derive(Debug, Clone)]
pub struct ExactlyOnceSpec {
    /// The transactional id of this instance's producer for the mirror.
    pub transactional_id: String,
    /// How long one transaction collects records before it is committed.
    pub interval: Duration,
    /// The transaction timeout (the producer's `transaction.timeout.ms`).
    pub timeout: Duration,
}

/// The transactional id for the mirror from `source`: one per mirror alone, one per instance
/// when the instances of `deployment` (name, instance) share it.
pub fn transactional_id(source: &str, deployment: Option<(&str, &str)>) -> String {
    match deployment {
        None => format!("strait.{source}"),
        Some((name, instance)) => format!("strait.{name}.{source}.{instance}"),
    }
}

/// The transactional producer of an exactly-once mirror, its transactions initialized, and,
/// when the mirror is shared, its coordination group.
pub struct Transactional {
    pub producer: Arc<BaseProducer<DeliveryContext>>,
    pub group: Option<TransactionGroup>,
}

/// What a shared exactly-once mirror's transactions commit with: the coordination group's
/// member (its generation) and topic (whose partitions are the shards).
#[derive(Debug, Clone)]
pub struct TransactionGroup {
    pub member: GroupMember,
    pub topic: String,
}

/// The coordination group's current member metadata (member id and generation), kept fresh by
/// the coordinator and sent with every transaction of a shared exactly-once mirror.
#[derive(Clone, Default)]
pub struct GroupMember(Arc<Mutex<Option<Arc<ConsumerGroupMetadata>>>>);

impl GroupMember {
    pub fn set(&self, metadata: Option<ConsumerGroupMetadata>) {
        *self.0.lock().expect("group member lock") = metadata.map(Arc::new);
    }

    pub fn get(&self) -> Option<Arc<ConsumerGroupMetadata>> {
        self.0.lock().expect("group member lock").clone()
    }
}

impl std::fmt::Debug for GroupMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupMember")
    }
}

/// The transactional producer of the mirror, its transactions initialized: any earlier
/// producer with the same id is fenced and its open transaction ended before this returns.
/// Blocking: waits for the target's transaction coordinator (bounded by the transaction
/// timeout, since it may have to wait for a commit of the fenced producer to complete).
pub fn start_producer(
    spec: &RecordPathSpec,
    eos: &ExactlyOnceSpec,
) -> Result<Arc<BaseProducer<DeliveryContext>>, MirrorError> {
    let producer = init_producer(spec, eos, &eos.transactional_id, "producer", false)?;
    tracing::info!(transactional_id = %eos.transactional_id,
        "exactly-once: transactions initialized on the target (an earlier producer with this id is fenced)");
    Ok(Arc::new(producer))
}

/// Fences the producers with transactional id `id` (those of an instance that left the
/// mirror's group; one that left gracefully has committed already, and loses nothing):
/// starting a producer with the id bumps its epoch, so the broker refuses the
/// old producer's writes from now on, and ends the transaction it left open at once instead of
/// at its timeout (a commit under way completes first). Another instance fencing the same id
/// at the same moment fences this fence in turn: that is the same outcome. Blocking, bounded
/// like [`start_producer`].
pub fn fence(spec: &RecordPathSpec, eos: &ExactlyOnceSpec, id: &str) -> Result<(), MirrorError> {
    init_producer(spec, eos, id, "fence", true).map(drop)
}

/// A producer of the mirror's target with transactional id `id`, its transactions
/// initialized (client name `<mirror>|<role>`); with `fenced_is_done`, a producer fenced while
/// it initialized counts as initialized.
fn init_producer(
    spec: &RecordPathSpec,
    eos: &ExactlyOnceSpec,
    id: &str,
    role: &str,
    fenced_is_done: bool,
) -> Result<BaseProducer<DeliveryContext>, MirrorError> {
    let client = format!("{}|{role}", spec.name);
    let producer = kafka::transactional_producer(
        &spec.target,
        &client,
        id,
        eos.timeout,
        DeliveryContext::new(LogContext::new(client.clone())),
    )?;
    let wait = eos.timeout + Duration::from_secs(10);
    match producer.init_transactions(wait) {
        Ok(()) => Ok(producer),
        Err(e) if fenced_is_done && fenced(&e) => Ok(producer),
        Err(e) => Err(MirrorError::Transactions {
            id: id.to_string(),
            problem: init_problem(&e, &spec.target.alias, id, wait),
        }),
    }
}

/// What an operator must know about a failed `init_transactions`.
fn init_problem(e: &KafkaError, target: &str, id: &str, waited: Duration) -> String {
    use RDKafkaErrorCode as C;
    match e.rdkafka_error_code() {
        Some(C::TransactionalIdAuthorizationFailed) => format!(
            "{target} refuses transactional id `{id}`: grant strait's principal WRITE and DESCRIBE on \
             TransactionalId `{id}` (or on the prefix `strait.`), see docs/security.md"
        ),
        Some(C::ClusterAuthorizationFailed) => format!(
            "{target} refuses strait's principal the IdempotentWrite operation on the cluster, which \
             brokers before Kafka 2.8 require for transactions: grant it, see docs/security.md"
        ),
        Some(C::InvalidTransactionTimeout) => format!(
            "{target} refuses the transaction timeout: `transaction_timeout` is longer than the \
             brokers' `transaction.max.timeout.ms`; lower it or raise theirs"
        ),
        Some(C::UnsupportedVersion) => format!(
            "{target} does not support transactions (Kafka 0.11 or newer is needed; strait is tested \
             with 3.9 and 4.x)"
        ),
        Some(C::MessageTimedOut | C::RequestTimedOut | C::OperationTimedOut) | None => format!(
            "{target}'s transaction coordinator did not answer within {}s: the target does not \
             support transactions, or cannot host them (its `__transaction_state` topic needs \
             `transaction.state.log.replication.factor` brokers, 3 by default, and \
             `transaction.state.log.min.isr` of them in sync), or it is unreachable ({e})",
            waited.as_secs()
        ),
        Some(_) => format!("{target} could not start transactions for `{id}`: {e}"),
    }
}

/// Whether a transaction error means another producer with this transactional id took over:
/// this one can never write again.
pub fn fenced(e: &KafkaError) -> bool {
    e.rdkafka_error_code().is_some_and(fenced_code)
}

/// Whether an error code (of a call, or a producer's fatal error) means the producer was
/// fenced.
pub fn fenced_code(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
    )
}

/// Why the record path of the producer with transactional id `id` stops for good: fenced
/// (another producer took the id) or another fatal error, in librdkafka's words `reason`.
pub fn fatal_error(id: &str, fenced: bool, reason: String) -> MirrorError {
    let id = id.to_string();
    if fenced {
        MirrorError::Fenced { id, reason }
    } else {
        MirrorError::TransactionFatal { id, reason }
    }
}

/// Whether a failed commit or offset commit came from the coordination group: this instance's
/// generation is over (a rebalance, or it was left behind), and its transaction must abort.
pub fn group_refused(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::UnknownMemberId
                | RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::FencedInstanceId
        )
    )
}

/// What to do after a transactional call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Call it again (a timeout, a coordinator moving).
    Retry,
    /// Abort the transaction and copy its records again.
    Abort,
    /// The producer can never be used again (fenced, or another fatal error).
    Fatal,
}

/// Classifies a failed `send_offsets_to_transaction`, `commit_transaction` or
/// `abort_transaction`.
pub fn failure(e: &KafkaError) -> Failure {
    // librdkafka's own classification first: a transaction the broker timed out is abortable
    // (the producer's epoch is bumped), a fenced producer is fatal.
    match e {
        KafkaError::Transaction(t) if t.is_fatal() => Failure::Fatal,
        KafkaError::Transaction(t) if t.txn_requires_abort() => Failure::Abort,
        KafkaError::Transaction(t) if t.is_retriable() => Failure::Retry,
        _ if fenced(e) => Failure::Fatal,
        _ => Failure::Abort,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_mirror_alone_and_per_instance_when_shared() {
        assert_eq!(transactional_id("A", None), "strait.A");
        assert_eq!(
            transactional_id("A", Some(("orders-dr", "pod-1"))),
            "strait.orders-dr.A.pod-1"
        );
    }

    #[test]
    fn fencing_is_fatal_and_a_refused_generation_aborts() {
        for code in [
            RDKafkaErrorCode::ProducerFenced,
            RDKafkaErrorCode::InvalidProducerEpoch,
        ] {
            assert!(fenced(&KafkaError::MessageProduction(code)));
            assert_eq!(
                failure(&KafkaError::MessageProduction(code)),
                Failure::Fatal
            );
        }
        for code in [
            RDKafkaErrorCode::IllegalGeneration,
            RDKafkaErrorCode::UnknownMemberId,
            RDKafkaErrorCode::RebalanceInProgress,
        ] {
            assert!(group_refused(&KafkaError::MessageProduction(code)));
            assert_eq!(
                failure(&KafkaError::MessageProduction(code)),
                Failure::Abort
            );
        }
    }
}
