//! Taking over from a stopped MirrorMaker 2: the source positions MM2's `MirrorSourceTask`
//! stored through Kafka Connect, read from the Connect offsets topic on the target
//! (`mm2-offsets.<source>.internal` in dedicated mode).
//!
//! Connect stores them as JSON without schemas: key
//! `["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"t1"}]` (the connector name,
//! then the source partition), value `{"offset":41}`, where 41 is the upstream offset of the
//! last record MM2 copied; a null value (tombstone) forgets it. MM2 resumes at offset + 1, and
//! so does strait. The latest record of a key wins; keys are compared by their decoded fields
//! (Connect itself compares the key bytes, which for one writer are always the same).
//!
//! Only partitions strait has no position of its own for are taken over, and what was taken
//! over is written to strait's progress topic before the record path starts: later starts
//! read strait's positions, whatever MM2's topic holds by then.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use serde::Deserialize;

use crate::kafka::read::{latest_per_key, Latest, ReadError, Rejection};
use crate::kafka::LogContext;

/// One record of the Connect offsets topic, as far as a take-over is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// The next source offset of one partition (MM2's stored offset + 1).
    Position((String, i32), i64),
    /// A tombstone for one partition: MM2 forgot its position.
    Forgotten((String, i32)),
    /// Another connector's or cluster's record (checkpoint and heartbeat connectors store
    /// offsets too).
    Ignored,
    /// A record that cannot be trusted, and why (never quoting its bytes).
    Rejected(Rejection, String),
}

#[derive(Deserialize)]
struct SourcePartition {
    cluster: String,
    topic: String,
    partition: i32,
}

#[derive(Deserialize)]
struct SourceOffset {
    offset: i64,
}

/// Reads one record of the Connect offsets topic for `connector` and MM2's alias `cluster`.
pub fn read(connector: &str, cluster: &str, key: Option<&[u8]>, value: Option<&[u8]>) -> Read {
    let Some(key) = key else {
        return match value {
            None => Read::Ignored,
            Some(_) => Read::Rejected(Rejection::NoKey, "a value without a key".into()),
        };
    };
    // The namespace first: other connectors' keys need not have MM2's shape.
    let Ok((namespace, partition)) = serde_json::from_slice::<(String, serde_json::Value)>(key)
    else {
        return Read::Rejected(
            Rejection::Undecodable,
            "key is not a Connect offset key [connector, partition]".into(),
        );
    };
    if namespace != connector {
        return Read::Ignored;
    }
    let Ok(p) = serde_json::from_value::<SourcePartition>(partition) else {
        return Read::Rejected(
            Rejection::Undecodable,
            "key has no MM2 source partition {cluster, topic, partition}".into(),
        );
    };
    if p.cluster != cluster {
        return Read::Ignored;
    }
    if p.partition < 0 {
        return Read::Rejected(Rejection::Negative, format!("partition {}", p.partition));
    }
    let tp = (p.topic, p.partition);
    let Some(value) = value else {
        return Read::Forgotten(tp);
    };
    match serde_json::from_slice::<SourceOffset>(value) {
        Err(_) => Read::Rejected(
            Rejection::Undecodable,
            format!("value of partition {} is not {{\"offset\": n}}", tp.1),
        ),
        Ok(o) if o.offset < 0 => Read::Rejected(
            Rejection::Negative,
            format!("offset {} of partition {}", o.offset, tp.1),
        ),
        Ok(o) => match o.offset.checked_add(1) {
            Some(next) => Read::Position(tp, next),
            None => Read::Rejected(
                Rejection::Inconsistent,
                format!("offset of partition {} overflows", tp.1),
            ),
        },
    }
}

/// MM2's next source offset per (topic, partition) of `cluster`, from the whole Connect
/// offsets `topic`. Blocking. A missing topic is an error that names it: a take-over that
/// finds nothing to take over must not pass for one that did.
pub fn load(
    consumer: &BaseConsumer<LogContext>,
    topic: &str,
    connector: &str,
    cluster: &str,
    deadline: Duration,
) -> Result<HashMap<(String, i32), i64>, ReadError> {
    latest_per_key(consumer, topic, deadline, |key, value| {
        match read(connector, cluster, key, value) {
            Read::Position(tp, next) => Latest::Set(tp, next),
            Read::Forgotten(tp) => Latest::Forgotten(tp),
            Read::Ignored => Latest::Ignored,
            Read::Rejected(why, detail) => Latest::Rejected(why, detail),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> (String, i32) {
        (t.to_string(), p)
    }

    /// The bytes MM2 3.9 and 4.x write (Java `HashMap` order: cluster, partition, topic).
    #[test]
    fn mm2s_own_records_are_read_as_the_next_offset() {
        let key = br#"["MirrorSourceConnector",{"cluster":"A","partition":3,"topic":"orders"}]"#;
        assert_eq!(
            read(
                "MirrorSourceConnector",
                "A",
                Some(key),
                Some(br#"{"offset":41}"#)
            ),
            Read::Position(tp("orders", 3), 42)
        );
        assert_eq!(
            read("MirrorSourceConnector", "A", Some(key), None),
            Read::Forgotten(tp("orders", 3))
        );
        // Another alias, another connector (checkpoints, heartbeats), or another name.
        assert_eq!(
            read(
                "MirrorSourceConnector",
                "B",
                Some(key),
                Some(br#"{"offset":41}"#)
            ),
            Read::Ignored
        );
        let checkpoint =
            br#"["MirrorCheckpointConnector",{"partition":0,"topic":"orders","group":"g"}]"#;
        assert_eq!(
            read(
                "MirrorSourceConnector",
                "A",
                Some(checkpoint),
                Some(br#"{"offset":0}"#)
            ),
            Read::Ignored
        );
        let heartbeat =
            br#"["MirrorHeartbeatConnector",{"sourceClusterAlias":"A","targetClusterAlias":"B"}]"#;
        assert_eq!(
            read(
                "MirrorSourceConnector",
                "A",
                Some(heartbeat),
                Some(br#"{"offset":0}"#)
            ),
            Read::Ignored
        );
        assert_eq!(
            read("mm2-source-a", "A", Some(key), Some(br#"{"offset":41}"#)),
            Read::Ignored
        );
    }

    #[test]
    fn hostile_records_are_rejected_with_their_reason() {
        let c = "MirrorSourceConnector";
        let key = br#"["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"t"}]"#;
        let rejected = |k: Option<&[u8]>, v: Option<&[u8]>| match read(c, "A", k, v) {
            Read::Rejected(why, _) => Some(why),
            _ => None,
        };
        assert_eq!(rejected(None, Some(b"{}")), Some(Rejection::NoKey));
        assert_eq!(read(c, "A", None, None), Read::Ignored);
        assert_eq!(
            rejected(Some(b"\xff\xfe"), Some(b"{}")),
            Some(Rejection::Undecodable)
        );
        assert_eq!(
            rejected(Some(b"{}"), Some(b"{}")),
            Some(Rejection::Undecodable)
        );
        assert_eq!(
            rejected(
                Some(br#"["MirrorSourceConnector",{"cluster":"A"}]"#),
                Some(b"{}")
            ),
            Some(Rejection::Undecodable)
        );
        assert_eq!(
            rejected(
                Some(br#"["MirrorSourceConnector",{"cluster":"A","partition":-1,"topic":"t"}]"#),
                Some(br#"{"offset":1}"#)
            ),
            Some(Rejection::Negative)
        );
        assert_eq!(
            rejected(Some(key), Some(b"41")),
            Some(Rejection::Undecodable)
        );
        assert_eq!(
            rejected(Some(key), Some(br#"{"offset":"41"}"#)),
            Some(Rejection::Undecodable)
        );
        assert_eq!(
            rejected(Some(key), Some(br#"{"offset":-5}"#)),
            Some(Rejection::Negative)
        );
        assert_eq!(
            rejected(
                Some(key),
                Some(format!(r#"{{"offset":{}}}"#, i64::MAX).as_bytes())
            ),
            Some(Rejection::Inconsistent)
        );
    }

    /// Key order and spacing do not matter (another writer's JSON).
    #[test]
    fn keys_are_compared_by_their_fields() {
        let key =
            br#"[ "MirrorSourceConnector", { "topic": "t", "partition": 1, "cluster": "A" } ]"#;
        assert_eq!(
            read(
                "MirrorSourceConnector",
                "A",
                Some(key),
                Some(br#"{"offset":0}"#)
            ),
            Read::Position(tp("t", 1), 1)
        );
    }
}
