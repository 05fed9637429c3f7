//! What can go wrong in the operator commands. Each variant keeps its cause and the cluster it
//! concerns, so that callers can tell a cluster that did not answer (exit code 4, status
//! `source-unreachable` / `target-unreachable`) from one that answered with an error
//! (authorization, unknown topic, bad data) or from a local problem (configuration, journal).

use std::path::PathBuf;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::kafka::read::ReadError;
use crate::kafka::ClientError;

/// The causes from librdkafka are boxed: they are large, and these errors travel through every
/// `Result` of the commands.
#[derive(Debug, thiserror::Error)]
pub enum DrError {
    /// The command line names something the configuration does not have.
    #[error("{0}")]
    Usage(String),
    /// A client could not be built from the cluster's settings.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A request to a cluster failed; `request` says what was asked, in plain words.
    #[error("{request} on cluster `{cluster}` failed")]
    Kafka {
        cluster: String,
        request: String,
        #[source]
        source: Box<KafkaError>,
    },
    /// An internal topic (progress, checkpoints, heartbeats) could not be read to its end.
    #[error("cannot read from cluster `{cluster}`")]
    Read {
        cluster: String,
        #[source]
        source: Box<ReadError>,
    },
    /// The source of a failover did not answer, and was not declared lost.
    #[error("source cluster `{cluster}` did not answer")]
    SourceUnreachable {
        cluster: String,
        /// The target, where the checkpoints a `--source-lost` run would use are.
        checkpoints_on: String,
        #[source]
        source: Box<KafkaError>,
    },
    #[error("journal {}", path.display())]
    JournalIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {}, line {line}: not a journal entry", path.display())]
    JournalLine {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("journal {}: cannot encode an entry", path.display())]
    JournalEncode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("journal {}: groups were applied but the plan line is unreadable", path.display())]
    JournalWithoutPlan { path: PathBuf },
}

impl DrError {
    /// A failed request to `cluster`.
    pub fn kafka(cluster: &str, request: impl Into<String>, source: KafkaError) -> DrError {
        DrError::Kafka {
            cluster: cluster.to_string(),
            request: request.into(),
            source: Box::new(source),
        }
    }

    /// A failed read of an internal topic on `cluster`.
    pub fn read(cluster: &str, source: ReadError) -> DrError {
        DrError::Read {
            cluster: cluster.to_string(),
            source: Box::new(source),
        }
    }

    /// The cluster the error concerns, if any.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            DrError::Client(e) => Some(&e.cluster),
            DrError::Kafka { cluster, .. }
            | DrError::Read { cluster, .. }
            | DrError::SourceUnreachable { cluster, .. } => Some(cluster),
            DrError::Usage(_)
            | DrError::JournalIo { .. }
            | DrError::JournalLine { .. }
            | DrError::JournalEncode { .. }
            | DrError::JournalWithoutPlan { .. } => None,
        }
    }

    /// Whether the cluster named by [`cluster`](Self::cluster) did not answer (as opposed to
    /// answering with an error, or a local problem).
    pub fn is_unreachable(&self) -> bool {
        match self {
            DrError::Kafka { source, .. } => did_not_answer(source),
            DrError::Read { source, .. } => match source.as_ref() {
                ReadError::Kafka { source, .. } => did_not_answer(source),
                // The cluster did not deliver the topic's records within the read deadline.
                ReadError::Timeout { .. } => true,
                // The cluster answered: without the topic, or with an error for it.
                ReadError::Missing { .. } | ReadError::Metadata { .. } => false,
            },
            DrError::SourceUnreachable { .. } => true,
            DrError::Usage(_)
            | DrError::Client(_)
            | DrError::JournalIo { .. }
            | DrError::JournalLine { .. }
            | DrError::JournalEncode { .. }
            | DrError::JournalWithoutPlan { .. } => false,
        }
    }

    /// What the operator can do about it, in plain words; printed after the error chain.
    pub fn hint(&self) -> Option<String> {
        match self {
            DrError::SourceUnreachable {
                cluster,
                checkpoints_on,
                ..
            } => Some(format!(
                "if {cluster} is lost, run again with --source-lost to fail over from the checkpoints on {checkpoints_on}"
            )),
            DrError::Client(e) => Some(format!(
                "check the settings of cluster `{}` in the configuration",
                e.cluster
            )),
            e if e.is_unreachable() => e.cluster().map(|c| {
                format!("check that cluster `{c}` is up and that its bootstrap_servers are right")
            }),
            DrError::JournalLine { .. } | DrError::JournalWithoutPlan { .. } => Some(
                "the journal is damaged: keep a copy, check the groups' offsets on the target, and give another --journal to plan anew".into(),
            ),
            _ => None,
        }
    }
}

/// Whether a Kafka error means that the cluster did not answer: transport failures, all brokers
/// down, names that do not resolve, requests that timed out. Errors the cluster answered with
/// (authorization, unknown topic or group, invalid requests) and bad data are not.
pub fn did_not_answer(e: &KafkaError) -> bool {
    let code = match e {
        // rust-rdkafka does not report the code of a failed admin operation through
        // `rdkafka_error_code`.
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    };
    code.is_some_and(code_means_unreachable)
}

fn code_means_unreachable(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::Resolve
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::TimedOutQueue
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::NetworkException
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::error_chain;

    #[test]
    fn only_errors_of_a_cluster_that_did_not_answer_count_as_unreachable() {
        use RDKafkaErrorCode as C;
        let cases = [
            (KafkaError::MetadataFetch(C::BrokerTransportFailure), true),
            (KafkaError::MetadataFetch(C::AllBrokersDown), true),
            (KafkaError::MetadataFetch(C::Resolve), true),
            (KafkaError::MetadataFetch(C::OperationTimedOut), true),
            (KafkaError::OffsetFetch(C::RequestTimedOut), true),
            (KafkaError::GroupListFetch(C::TimedOutQueue), true),
            (KafkaError::ConsumerCommit(C::NetworkException), true),
            (KafkaError::MessageConsumption(C::MessageTimedOut), true),
            (KafkaError::AdminOp(C::OperationTimedOut), true),
            (
                KafkaError::MetadataFetch(C::TopicAuthorizationFailed),
                false,
            ),
            (KafkaError::OffsetFetch(C::GroupAuthorizationFailed), false),
            (
                KafkaError::GroupListFetch(C::ClusterAuthorizationFailed),
                false,
            ),
            (
                KafkaError::MetadataFetch(C::SaslAuthenticationFailed),
                false,
            ),
            (KafkaError::MetadataFetch(C::Authentication), false),
            (KafkaError::MetadataFetch(C::SSL), false),
            (KafkaError::MetadataFetch(C::UnknownTopicOrPartition), false),
            (KafkaError::MetadataFetch(C::UnknownTopic), false),
            (KafkaError::MessageConsumption(C::BadMessage), false),
            (KafkaError::MessageConsumption(C::InvalidMessage), false),
            (KafkaError::ConsumerCommit(C::UnknownMemberId), false),
            (KafkaError::AdminOp(C::InvalidArgument), false),
            (KafkaError::ClientCreation("bad".into()), false),
            (KafkaError::NoMessageReceived, false),
        ];
        for (e, want) in cases {
            assert_eq!(did_not_answer(&e), want, "{e:?}");
            let wrapped = DrError::kafka("A", "listing the consumer groups", e);
            assert_eq!(wrapped.is_unreachable(), want, "{wrapped:?}");
            assert_eq!(wrapped.cluster(), Some("A"));
        }
    }

    #[test]
    fn read_errors_keep_their_kind() {
        let read = |source| DrError::read("B", source);
        let down = read(ReadError::Kafka {
            topic: "heartbeats".into(),
            source: KafkaError::MetadataFetch(RDKafkaErrorCode::AllBrokersDown),
        });
        assert!(down.is_unreachable());
        let denied = read(ReadError::Kafka {
            topic: "heartbeats".into(),
            source: KafkaError::MetadataFetch(RDKafkaErrorCode::TopicAuthorizationFailed),
        });
        assert!(!denied.is_unreachable());
        assert_eq!(denied.cluster(), Some("B"));
        assert!(error_chain(&denied)
            .starts_with("cannot read from cluster `B`: cannot read topic `heartbeats`: "));
        let slow = read(ReadError::Timeout {
            topic: "heartbeats".into(),
            remaining: 3,
        });
        assert!(slow.is_unreachable());
    }

    #[test]
    fn local_problems_name_no_unreachable_cluster() {
        let io = DrError::JournalIo {
            path: "j".into(),
            source: std::io::Error::other("disk full"),
        };
        assert!(!io.is_unreachable());
        assert_eq!(io.cluster(), None);
        assert_eq!(error_chain(&io), "journal j: disk full");
        assert!(!DrError::Usage("no cluster `x`".into()).is_unreachable());
    }

    #[test]
    fn a_source_that_did_not_answer_hints_at_source_lost() {
        let e = DrError::SourceUnreachable {
            cluster: "A".into(),
            checkpoints_on: "B".into(),
            source: Box::new(KafkaError::MetadataFetch(
                RDKafkaErrorCode::BrokerTransportFailure,
            )),
        };
        assert!(e.is_unreachable());
        assert_eq!(
            e.hint().as_deref(),
            Some(
                "if A is lost, run again with --source-lost to fail over from the checkpoints on B"
            )
        );
        let denied = DrError::kafka(
            "A",
            "metadata request",
            KafkaError::MetadataFetch(RDKafkaErrorCode::ClusterAuthorizationFailed),
        );
        assert_eq!(denied.hint(), None);
    }
}
