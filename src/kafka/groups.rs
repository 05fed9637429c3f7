//! Consumer-group calls shared by group offset sync and the failover commands. Blocking.

use std::collections::HashMap;

use rdkafka::admin::AdminClient;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use super::{LogContext, ADMIN_TIMEOUT};

/// A consumer group as the coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub members: usize,
    pub state: String,
}

/// Describes `group`; `None` when the cluster does not know it.
pub fn describe(
    admin: &AdminClient<LogContext>,
    group: &str,
) -> Result<Option<GroupInfo>, KafkaError> {
    let list = admin.inner().fetch_group_list(Some(group), ADMIN_TIMEOUT)?;
    Ok(list
        .groups()
        .iter()
        .find(|g| g.name() == group)
        .filter(|g| g.state() != "Dead")
        .map(|g| GroupInfo {
            members: g.members().len(),
            state: g.state().to_string(),
        }))
}

/// The names of all consumer groups of the cluster.
pub fn list(admin: &AdminClient<LogContext>) -> Result<Vec<String>, KafkaError> {
    let list = admin.inner().fetch_group_list(None, ADMIN_TIMEOUT)?;
    Ok(list.groups().iter().map(|g| g.name().to_string()).collect())
}

/// The committed offsets of the consumer's group for `partitions` (those without one are left
/// out).
pub fn committed(
    consumer: &BaseConsumer<LogContext>,
    partitions: &[(String, i32)],
) -> Result<HashMap<(String, i32), i64>, KafkaError> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    if tpl.count() == 0 {
        return Ok(HashMap::new());
    }
    let committed = consumer.committed_offsets(tpl, ADMIN_TIMEOUT)?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
            _ => None,
        })
        .collect())
}

/// Commits `offsets` (topic, partition, offset) for the consumer's group. Kafka accepts this
/// only while the group has no active members.
pub fn commit(
    consumer: &BaseConsumer<LogContext>,
    offsets: &[(String, i32, i64)],
) -> Result<(), KafkaError> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, offset) in offsets {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
    }
    if tpl.count() == 0 {
        return Ok(());
    }
    consumer.commit(&tpl, CommitMode::Sync)
}
