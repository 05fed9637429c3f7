//! Reading a whole (small, usually compacted) topic from its start to the end offsets seen when
//! reading began: strait's progress topic, checkpoints, heartbeats and offset syncs, whether
//! strait or MirrorMaker 2 wrote them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};

use super::{LogContext, ADMIN_TIMEOUT};
use crate::records::{Checkpoint, DecodeError};
use crate::telemetry::events::{Event, InternalRecordRejected};

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

/// What one record of a compacted topic says about its key, for [`latest_per_key`].
pub enum Latest<K, V> {
    /// The key's value (a later record of the key replaces it).
    Set(K, V),
    /// A tombstone: the key is forgotten.
    Forgotten(K),
    /// A record for someone else (another source, another connector).
    Ignored,
    /// A record that cannot be trusted, and why (never quoting its bytes): counted and logged.
    Rejected(Rejection, String),
}

/// Reads the whole compacted `topic` (see [`read_to_end`]) into the latest trusted value per
/// key, `decode` saying what each record's key and value are. A topic that does not exist is
/// [`ReadError::Missing`], never "empty". Blocking.
pub fn latest_per_key<K: std::hash::Hash + Eq, V>(
    consumer: &BaseConsumer<LogContext>,
    topic: &str,
    deadline: Duration,
    mut decode: impl FnMut(Option<&[u8]>, Option<&[u8]>) -> Latest<K, V>,
) -> Result<HashMap<K, V>, ReadError> {
    let mut latest = HashMap::new();
    let found = read_to_end(consumer, topic, deadline, |m| {
        match decode(m.key(), m.payload()) {
            Latest::Set(k, v) => {
                latest.insert(k, v);
            }
            Latest::Forgotten(k) => {
                latest.remove(&k);
            }
            Latest::Ignored => {}
            Latest::Rejected(why, detail) => reject(m, why, &detail),
        }
    })?;
    if !found {
        return Err(ReadError::Missing {
            topic: topic.to_string(),
        });
    }
    Ok(latest)
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

// ---- records that are not trusted -----------------------------------------------------------
//
// Anything can write to these topics: an operator's console producer, a bug, another tool. A
// reader takes what decodes and makes sense, and skips the rest with a warning and a count
// (`strait_internal_records_rejected_total`), so that the latest trusted record of each key
// stands: a garbage record never becomes a position, a checkpoint or a heartbeat.

/// Why a record of an internal topic is not trusted: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not the topic's record format.
    Undecodable,
    /// A format version this strait does not read.
    UnsupportedVersion,
    /// A value without a key.
    NoKey,
    /// A negative offset, partition or timestamp.
    Negative,
    /// Fields that contradict each other (an offset map that overlaps itself or runs past its
    /// position).
    Inconsistent,
    /// An offset past the end of the partition it points into.
    BeyondLogEnd,
    /// A time too far ahead of this host's clock.
    Future,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Undecodable => "undecodable",
            Rejection::UnsupportedVersion => "unsupported_version",
            Rejection::NoKey => "no_key",
            Rejection::Negative => "negative",
            Rejection::Inconsistent => "inconsistent",
            Rejection::BeyondLogEnd => "beyond_log_end",
            Rejection::Future => "future",
        }
    }

    /// The rejection of an MM2 record that does not decode.
    pub fn of(e: &DecodeError) -> Rejection {
        match e {
            DecodeError::UnsupportedVersion { .. } => Rejection::UnsupportedVersion,
            _ => Rejection::Undecodable,
        }
    }
}

/// Skips `m`: logged at `warn` with its topic, partition and offset, and counted. `detail` must
/// not quote the record's bytes, nor names decoded from them (anyone may have written them).
pub fn reject(m: &BorrowedMessage<'_>, why: Rejection, detail: &str) {
    InternalRecordRejected {
        topic: m.topic(),
        partition: m.partition(),
        offset: m.offset(),
        reason: why.as_str(),
        detail,
    }
    .emit();
}

/// The end offsets (high watermarks) of a cluster's partitions, each asked once, for checking
/// that an offset a record points to exists. One metadata request first tells which partitions
/// exist, so that a record naming a topic that does not exist costs no request.
pub struct LogEnds<'a> {
    consumer: &'a BaseConsumer<LogContext>,
    /// Topic -> partition count; `None` until asked.
    partitions: Option<HashMap<String, usize>>,
    ends: HashMap<(String, i32), Option<i64>>,
}

impl<'a> LogEnds<'a> {
    pub fn new(consumer: &'a BaseConsumer<LogContext>) -> Self {
        LogEnds {
            consumer,
            partitions: None,
            ends: HashMap::new(),
        }
    }

    /// The high watermark of `topic`/`partition` now; `None` when the partition does not exist
    /// or its end cannot be read (then nothing can be checked against it).
    pub fn high(&mut self, topic: &str, partition: i32) -> Option<i64> {
        let consumer = self.consumer;
        let partitions = self.partitions.get_or_insert_with(|| {
            match consumer.fetch_metadata(None, ADMIN_TIMEOUT) {
                Ok(md) => md
                    .topics()
                    .iter()
                    .filter(|t| t.error().is_none())
                    .map(|t| (t.name().to_owned(), t.partitions().len()))
                    .collect(),
                Err(e) => {
                    tracing::debug!(error = %e, "no metadata: offsets in records are not checked against log ends");
                    HashMap::new()
                }
            }
        });
        let exists = partitions
            .get(topic)
            .is_some_and(|&n| usize::try_from(partition).is_ok_and(|p| p < n));
        if !exists {
            return None;
        }
        *self
            .ends
            .entry((topic.to_owned(), partition))
            .or_insert_with(|| {
                consumer
                    .fetch_watermarks(topic, partition, ADMIN_TIMEOUT)
                    .map(|(_, high)| high)
                    .ok()
            })
    }
}

/// What a reader makes of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust<T> {
    Trusted(T),
    /// Nothing to take: a tombstone, or a record the reader does not want.
    Skipped,
    /// Rejected (logged and counted).
    Rejected,
}

/// The checkpoint `m` holds, if it is one to trust: decodes, its group passes `keep`, its
/// offsets and partition are not negative, and its downstream offset is not past the end of
/// its remote partition (`ends`, on the cluster the checkpoints are on). Anything else but a
/// tombstone (or a group not kept) is rejected.
pub fn checkpoint(
    m: &BorrowedMessage<'_>,
    ends: &mut LogEnds<'_>,
    keep: impl Fn(&str) -> bool,
) -> Trust<Checkpoint> {
    let (key, value) = match (m.key(), m.payload()) {
        (_, None) => return Trust::Skipped, // a tombstone, or nothing at all
        (None, Some(_)) => {
            reject(m, Rejection::NoKey, "a checkpoint value without a key");
            return Trust::Rejected;
        }
        (Some(k), Some(v)) => (k, v),
    };
    let c = match Checkpoint::decode(key, value) {
        Ok(c) => c,
        Err(e) => {
            reject(m, Rejection::of(&e), &e.to_string());
            return Trust::Rejected;
        }
    };
    if !keep(&c.group) {
        return Trust::Skipped;
    }
    if c.partition < 0 || c.upstream_offset < 0 || c.downstream_offset < 0 {
        let detail = format!(
            "a checkpoint with a negative partition or offset (partition {}, upstream offset \
             {}, downstream offset {})",
            c.partition, c.upstream_offset, c.downstream_offset
        );
        reject(m, Rejection::Negative, &detail);
        return Trust::Rejected;
    }
    if let Some(high) = ends.high(&c.topic, c.partition) {
        if c.downstream_offset > high {
            let detail = format!(
                "a checkpoint pointing at offset {} of partition {} of its remote topic, whose \
                 log ends at {high}",
                c.downstream_offset, c.partition
            );
            reject(m, Rejection::BeyondLogEnd, &detail);
            return Trust::Rejected;
        }
    }
    Trust::Trusted(c)
}

#[cfg(test)]
mod tests {
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::ClientConfig;

    use super::*;
    use crate::config::ClusterConfig;

    fn reader(bootstrap: &str) -> BaseConsumer<LogContext> {
        let cluster = ClusterConfig::plaintext("A", bootstrap);
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
