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
        .and_then(info))
}

/// What the coordinator says of a listed group; `None` for one being deleted.
fn info(g: &rdkafka::groups::GroupInfo) -> Option<GroupInfo> {
    (g.state() != "Dead").then(|| GroupInfo {
        members: g.members().len(),
        state: g.state().to_string(),
    })
}

/// Every consumer group the cluster lists, by name, as its coordinator describes it (one
/// listing for all of them; a group being deleted is left out).
pub fn describe_all(
    admin: &AdminClient<LogContext>,
) -> Result<HashMap<String, GroupInfo>, KafkaError> {
    let list = admin.inner().fetch_group_list(None, ADMIN_TIMEOUT)?;
    Ok(list
        .groups()
        .iter()
        .filter_map(|g| Some((g.name().to_string(), info(g)?)))
        .collect())
}

/// One member of a classic consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub client_id: String,
    pub host: String,
    /// Its assigned topics and partitions; `None` when the assignment does not decode.
    pub assignment: Option<Vec<(String, Vec<i32>)>>,
}

/// The members of `group` and their assignments (empty when the cluster does not know it).
pub fn members<C: rdkafka::client::ClientContext>(
    client: &rdkafka::client::Client<C>,
    group: &str,
) -> Result<Vec<GroupMember>, KafkaError> {
    let list = client.fetch_group_list(Some(group), ADMIN_TIMEOUT)?;
    Ok(list
        .groups()
        .iter()
        .filter(|g| g.name() == group)
        .flat_map(|g| g.members())
        .map(|m| GroupMember {
            client_id: m.client_id().to_string(),
            host: m.client_host().trim_start_matches('/').to_string(),
            assignment: m.assignment().and_then(decode_assignment),
        })
        .collect())
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

/// The topics and partitions of a classic group member's assignment, as the consumer protocol
/// encodes it (`ConsumerProtocolAssignment`, versions 0 to 3: int16 version, then an array of
/// (string topic, array of int32 partitions), then user data, which is not read). `None` for
/// bytes that do not decode.
pub fn decode_assignment(bytes: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if b.len() < n {
            return None;
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Some(head)
    }
    fn int16(b: &mut &[u8]) -> Option<i16> {
        Some(i16::from_be_bytes(take(b, 2)?.try_into().ok()?))
    }
    fn int32(b: &mut &[u8]) -> Option<i32> {
        Some(i32::from_be_bytes(take(b, 4)?.try_into().ok()?))
    }
    let mut b = bytes;
    if int16(&mut b)? < 0 {
        return None;
    }
    let topics = usize::try_from(int32(&mut b)?.max(0)).ok()?;
    let mut out = Vec::new();
    for _ in 0..topics {
        let len = usize::try_from(int16(&mut b)?).ok()?;
        let topic = String::from_utf8(take(&mut b, len)?.to_vec()).ok()?;
        let n = usize::try_from(int32(&mut b)?.max(0)).ok()?;
        let mut partitions = Vec::with_capacity(n.min(b.len() / 4));
        for _ in 0..n {
            partitions.push(int32(&mut b)?);
        }
        out.push((topic, partitions));
    }
    Some(out)
}

#[cfg(test)]
mod assignment_tests {
    use super::decode_assignment;

    #[test]
    fn a_members_assignment_decodes_as_the_consumer_protocol_writes_it() {
        // Version 1: topic "t" with partitions 0 and 5, then 4 bytes of user data.
        let mut bytes = vec![0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2];
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&5i32.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            decode_assignment(&bytes),
            Some(vec![("t".to_string(), vec![0, 5])])
        );
        assert_eq!(decode_assignment(&[0, 0, 0, 0, 0, 0]), Some(vec![]));
        assert_eq!(decode_assignment(&bytes[..10]), None, "cut short");
        assert_eq!(decode_assignment(&[]), None);
    }
}
