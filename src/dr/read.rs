//! Readers of the state a mirror leaves on its target: checkpoints and heartbeats (whether
//! strait or MirrorMaker 2 wrote them) and strait's progress topic. Blocking.
//!
//! A topic that does not exist reads as empty. Naming it in a metadata request creates nothing,
//! also on brokers with `auto.create.topics.enable=true`: every client strait builds has
//! `allow.auto.create.topics=false` (`config::forced`).

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use rdkafka::message::{BorrowedMessage, Message, Timestamp};

use crate::config::ClusterConfig;
use crate::kafka::read::{read_tail, read_to_end};
use crate::kafka::{self, LogContext};
use crate::mirror::{progress, Positions};
use crate::policy::ReplicationPolicy;
use crate::records::{Checkpoint, Heartbeat};

use super::DrError;

/// How long reading one internal topic to its end may take.
pub const READ_DEADLINE: Duration = Duration::from_secs(120);

/// Heartbeats are read from this many last records: a mirror writes one per interval (1 s by
/// default), so this covers hours even with dozens of mirrors writing to one cluster.
pub const HEARTBEAT_TAIL: i64 = 200_000;

/// A checkpoint with the time it was written (the record timestamp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenCheckpoint {
    pub checkpoint: Checkpoint,
    pub written_ms: i64,
}

/// (group, downstream topic, partition) -> the latest checkpoint.
pub type Checkpoints = HashMap<(String, String, i32), SeenCheckpoint>;

/// (topic, partition) -> when its position was last written (ms since the epoch).
pub type WrittenAt = HashMap<(String, i32), i64>;

/// A plain reader of `cluster`.
pub fn reader(cluster: &ClusterConfig, what: &str) -> Result<BaseConsumer<LogContext>, DrError> {
    Ok(kafka::reader_consumer(cluster, &format!("cli|{what}"))?)
}

/// Reads `topic` on `cluster` to its end (or only its last `tail` records per partition),
/// handing each record to `each`; a topic that does not exist reads as empty.
fn read_topic(
    cluster: &ClusterConfig,
    what: &str,
    topic: &str,
    tail: Option<i64>,
    each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<(), DrError> {
    let consumer = reader(cluster, what)?;
    let read = match tail {
        Some(last) => read_tail(&consumer, topic, last, READ_DEADLINE, each),
        None => read_to_end(&consumer, topic, READ_DEADLINE, each),
    };
    read.map(|_| ())
        .map_err(|source| DrError::read(&cluster.alias, source))
}

fn record_time(ts: Timestamp) -> i64 {
    ts.to_millis().unwrap_or(0)
}

/// The latest checkpoint per (group, partition) in `topic` on `cluster`, for the groups `keep`
/// accepts. Records that do not decode are counted in the second value, not fatal.
pub fn checkpoints(
    cluster: &ClusterConfig,
    topic: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<(Checkpoints, usize), DrError> {
    let mut latest = Checkpoints::new();
    let mut unreadable = 0;
    read_topic(cluster, "checkpoints", topic, None, |m| {
        let (Some(k), Some(v)) = (m.key(), m.payload()) else {
            return;
        };
        match Checkpoint::decode(k, v) {
            Ok(c) if keep(&c.group) => {
                let key = (c.group.clone(), c.topic.clone(), c.partition);
                latest.insert(
                    key,
                    SeenCheckpoint {
                        checkpoint: c,
                        written_ms: record_time(m.timestamp()),
                    },
                );
            }
            Ok(_) => {}
            Err(_) => unreadable += 1,
        }
    })?;
    Ok((latest, unreadable))
}

/// The latest heartbeat per (source alias, target alias) in the `heartbeats` topic of `cluster`.
pub fn heartbeats(cluster: &ClusterConfig) -> Result<HashMap<(String, String), i64>, DrError> {
    let mut latest: HashMap<(String, String), i64> = HashMap::new();
    read_topic(
        cluster,
        "heartbeats",
        ReplicationPolicy::heartbeats_topic(),
        Some(HEARTBEAT_TAIL),
        |m| {
            let (Some(k), Some(v)) = (m.key(), m.payload()) else {
                return;
            };
            if let Ok(h) = Heartbeat::decode(k, v) {
                let at = latest.entry((h.source_alias, h.target_alias)).or_default();
                *at = (*at).max(h.timestamp_ms);
            }
        },
    )?;
    Ok(latest)
}

/// What the mirror from `source_alias` persisted in `progress_topic` on `target`, with the time
/// each partition's position was last written.
pub fn positions(
    target: &ClusterConfig,
    progress_topic: &str,
    source_alias: &str,
) -> Result<(Positions, WrittenAt), DrError> {
    let mut positions = Positions::new();
    let mut written = HashMap::new();
    read_topic(target, "progress", progress_topic, None, |m| {
        if let Some(key) = m.key() {
            if let Some((tp, stored)) = progress::decode(source_alias, key, m.payload()) {
                written.insert(tp.clone(), record_time(m.timestamp()));
                positions.insert(tp, stored);
            }
        }
    })?;
    Ok((positions, written))
}
