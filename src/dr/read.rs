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
use crate::kafka::read::{read_tail, read_to_end, reject, LogEnds, Rejection, Trust};
use crate::kafka::{self, LogContext};
use crate::mirror::{progress, Positions};
use crate::policy::ReplicationPolicy;
use crate::records::{Checkpoint, Heartbeat};

use super::DrError;

/// How long reading one internal topic to its end may take.
pub const READ_DEADLINE: Duration = Duration::from_secs(120);

/// How far ahead of this host's clock a heartbeat may be dated and still be believed (clock
/// differences between hosts); later ones are skipped.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

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

/// The latest trusted checkpoint per (group, partition) in `topic` on `cluster`, for the groups
/// `keep` accepts. Records not to trust (that do not decode, or point at offsets that cannot
/// exist: `kafka::read::checkpoint`) are skipped, logged and counted in the second value, so
/// that the checkpoint before them stands.
pub fn checkpoints(
    cluster: &ClusterConfig,
    topic: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<(Checkpoints, usize), DrError> {
    let consumer = reader(cluster, "checkpoints")?;
    let mut ends = LogEnds::new(&consumer);
    let mut latest = Checkpoints::new();
    let mut untrusted = 0;
    read_to_end(
        &consumer,
        topic,
        READ_DEADLINE,
        |m| match kafka::read::checkpoint(m, &mut ends, &keep) {
            Trust::Trusted(c) => {
                let key = (c.group.clone(), c.topic.clone(), c.partition);
                latest.insert(
                    key,
                    SeenCheckpoint {
                        checkpoint: c,
                        written_ms: record_time(m.timestamp()),
                    },
                );
            }
            Trust::Skipped => {}
            Trust::Rejected => untrusted += 1,
        },
    )
    .map_err(|source| DrError::read(&cluster.alias, source))?;
    Ok((latest, untrusted))
}

/// The latest heartbeat per (source alias, target alias) in the `heartbeats` topic of `cluster`.
/// A heartbeat that does not decode, or is dated before 1970 or more than [`MAX_CLOCK_SKEW`]
/// ahead of this host's clock, is skipped (logged and counted): it would make a dead flow look
/// alive.
pub fn heartbeats(cluster: &ClusterConfig) -> Result<HashMap<(String, String), i64>, DrError> {
    let mut latest: HashMap<(String, String), i64> = HashMap::new();
    let newest_believable = now_ms() + MAX_CLOCK_SKEW.as_millis() as i64;
    read_topic(
        cluster,
        "heartbeats",
        ReplicationPolicy::heartbeats_topic(),
        Some(HEARTBEAT_TAIL),
        |m| {
            let (key, value) = match (m.key(), m.payload()) {
                (_, None) => return,
                (None, Some(_)) => {
                    return reject(m, Rejection::NoKey, "a heartbeat value without a key")
                }
                (Some(k), Some(v)) => (k, v),
            };
            let h = match Heartbeat::decode(key, value) {
                Ok(h) => h,
                Err(e) => return reject(m, Rejection::of(&e), &e.to_string()),
            };
            if h.timestamp_ms < 0 {
                let detail = format!("a heartbeat dated {} ms before 1970", -h.timestamp_ms);
                return reject(m, Rejection::Negative, &detail);
            }
            if h.timestamp_ms > newest_believable {
                let detail = format!(
                    "a heartbeat dated {} s ahead of this host's clock",
                    (h.timestamp_ms - now_ms()) / 1000
                );
                return reject(m, Rejection::Future, &detail);
            }
            let at = latest.entry((h.source_alias, h.target_alias)).or_default();
            *at = (*at).max(h.timestamp_ms);
        },
    )?;
    Ok(latest)
}

/// What the mirror from `source_alias` persisted in `progress_topic` on `target`, with the time
/// each partition's position was last written. Records not to trust are skipped, logged and
/// counted (`mirror::progress::read`).
pub fn positions(
    target: &ClusterConfig,
    progress_topic: &str,
    source_alias: &str,
) -> Result<(Positions, WrittenAt), DrError> {
    let mut positions = Positions::new();
    let mut written = HashMap::new();
    read_topic(
        target,
        "progress",
        progress_topic,
        None,
        |m| match progress::read(source_alias, m.key(), m.payload()) {
            progress::Read::Position(tp, stored) => {
                written.insert(tp.clone(), record_time(m.timestamp()));
                positions.insert(tp, stored);
            }
            progress::Read::Forgotten(tp) => {
                written.remove(&tp);
                positions.remove(&tp);
            }
            progress::Read::Ignored => {}
            progress::Read::Rejected(why, detail) => reject(m, why, &detail),
        },
    )?;
    Ok((positions, written))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
