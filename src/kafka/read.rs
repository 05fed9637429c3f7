//! Reading a whole (small, usually compacted) topic from its start to the end offsets seen when
//! reading began: strait's progress topic, checkpoints, heartbeats and offset syncs, whether
//! strait or MirrorMaker 2 wrote them.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};

use super::{LogContext, ADMIN_TIMEOUT};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read topic `{topic}`")]
    Kafka {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("timed out reading topic `{topic}` to its end ({remaining} records left)")]
    Timeout { topic: String, remaining: i64 },
    #[error("topic `{topic}` does not exist")]
    Missing { topic: String },
    /// The cluster knows the topic but could not describe it (no leader yet, not authorized,
    /// ...): whatever it holds is unknown, which is not the same as empty.
    #[error("cannot read topic `{topic}`: its metadata has error {code:?}")]
    Metadata { topic: String, code: RDKafkaRespErr },
}

/// Reads every partition of `topic` from the low to the high watermark (taken when reading
/// starts) and hands each record to `each`. Returns `Ok(false)` when the topic does not exist;
/// any other metadata error of the topic is an error (never taken for "empty").
/// Blocking; gives up after `deadline`. The consumer's assignment is cleared afterwards.
pub fn read_to_end(
    consumer: &BaseConsumer<LogContext>,
    topic: &str,
    deadline: Duration,
    each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<bool, ReadError> {
    read_range(consumer, topic, None, deadline, each)
}

/// Like [`read_to_end`], but only the last `last` records of each partition: for topics where
/// only recent records matter (heartbeats) and whose uncompacted head can be long.
pub fn read_tail(
    consumer: &BaseConsumer<LogContext>,
    topic: &str,
    last: i64,
    deadline: Duration,
    each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<bool, ReadError> {
    read_range(consumer, topic, Some(last), deadline, each)
}

fn read_range(
    consumer: &BaseConsumer<LogContext>,
    topic: &str,
    tail: Option<i64>,
    deadline: Duration,
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<bool, ReadError> {
    let kerr = |source| ReadError::Kafka {
        topic: topic.to_string(),
        source,
    };
    let metadata = consumer
        .fetch_metadata(Some(topic), ADMIN_TIMEOUT)
        .map_err(kerr)?;
    let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(false);
    };
    match t.error() {
        None if !t.partitions().is_empty() => {}
        Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) => return Ok(false),
        // A topic without partitions in metadata is one the cluster has not finished creating.
        None => {
            return Err(ReadError::Metadata {
                topic: topic.to_string(),
                code: RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            })
        }
        Some(code) => {
            return Err(ReadError::Metadata {
                topic: topic.to_string(),
                code,
            })
        }
    }
    let started = Instant::now();
    // partition -> (next offset to see, end)
    let mut pending: Vec<(i32, i64, i64)> = Vec::new();
    let mut tpl = TopicPartitionList::new();
    for p in t.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), ADMIN_TIMEOUT)
            .map_err(kerr)?;
        let low = tail.map_or(low, |n| low.max(high - n));
        if high > low {
            pending.push((p.id(), low, high));
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(low))
                .map_err(kerr)?;
        }
    }
    if pending.is_empty() {
        return Ok(true);
    }
    consumer.assign(&tpl).map_err(kerr)?;
    let remaining = |pending: &[(i32, i64, i64)]| -> i64 {
        pending
            .iter()
            .map(|(_, next, end)| (end - next).max(0))
            .sum()
    };
    while remaining(&pending) > 0 {
        if started.elapsed() > deadline {
            let _ = consumer.unassign();
            return Err(ReadError::Timeout {
                topic: topic.to_string(),
                remaining: remaining(&pending),
            });
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Err(e)) => {
                let _ = consumer.unassign();
                return Err(kerr(e));
            }
            Some(Ok(m)) => {
                if let Some(p) = pending.iter_mut().find(|p| p.0 == m.partition()) {
                    if m.offset() < p.2 {
                        each(&m);
                    }
                    p.1 = p.1.max(m.offset() + 1);
                }
            }
            None => {
                // Transaction markers and aborted records are never delivered: the position
                // moves past them without a message.
                if let Ok(positions) = consumer.position() {
                    for e in positions.elements_for_topic(topic) {
                        if let (Offset::Offset(o), Some(p)) = (
                            e.offset(),
                            pending.iter_mut().find(|p| p.0 == e.partition()),
                        ) {
                            p.1 = p.1.max(o);
                        }
                    }
                }
            }
        }
    }
    consumer.unassign().map_err(kerr)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::ClientConfig;

    use super::*;
    use crate::config::ClusterConfig;

    fn reader(bootstrap: &str) -> BaseConsumer<LogContext> {
        let cluster = ClusterConfig {
            alias: "A".to_owned(),
            bootstrap_servers: bootstrap.to_owned(),
            security: Default::default(),
            client: Default::default(),
            consumer: Default::default(),
            producer: Default::default(),
            admin: Default::default(),
        };
        super::super::reader_consumer(&cluster, "test|reader").expect("reader")
    }

    /// librdkafka's mock cluster, for what a real broker does not do on demand: a topic whose
    /// metadata carries an error.
    #[test]
    fn a_topic_error_is_an_error_and_only_an_unknown_topic_is_missing() {
        let mock = MockCluster::new(1).expect("mock cluster");
        mock.create_topic("progress", 1, 1).expect("topic");
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", mock.bootstrap_servers())
            .create()
            .expect("producer");
        producer
            .send(BaseRecord::to("progress").key("k").payload("v"))
            .expect("send");
        producer.flush(Duration::from_secs(10)).expect("flush");
        let consumer = reader(&mock.bootstrap_servers());

        let mut seen = 0;
        let found = read_to_end(&consumer, "progress", Duration::from_secs(10), |_| {
            seen += 1
        });
        assert!(matches!(found, Ok(true)), "{found:?}");
        assert_eq!(seen, 1);

        assert!(matches!(
            read_to_end(&consumer, "nothing-here", Duration::from_secs(10), |_| {}),
            Ok(false)
        ));

        // A leader election in progress: the records are there, just not readable now.
        mock.topic_error(
            "progress",
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        )
        .expect("topic error");
        let read = read_to_end(&consumer, "progress", Duration::from_secs(10), |_| {});
        assert!(
            matches!(
                read,
                Err(ReadError::Metadata {
                    code: RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                    ..
                })
            ),
            "{read:?}"
        );
    }
}
