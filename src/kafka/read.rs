//! Reading a whole (small, usually compacted) topic from its start to the end offsets seen when
//! reading began: strait's progress topic, checkpoints, heartbeats and offset syncs, whether
//! strait or MirrorMaker 2 wrote them.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
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
}

/// Reads every partition of `topic` from the low to the high watermark (taken when reading
/// starts) and hands each record to `each`. Returns `Ok(false)` when the topic does not exist.
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
    if t.error().is_some() || t.partitions().is_empty() {
        return Ok(false);
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
