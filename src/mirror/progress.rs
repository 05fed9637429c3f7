//! Where each source partition's replication stands, persisted in a compacted topic on the target
//! (`strait-offsets<sep><source><sep>internal`). A position is written only after the target has
//! acknowledged every record before it, so resuming from it never loses a record.
//!
//! Record format (version 1, JSON so that operators can read it with any console consumer):
//! key `{"source":"A","topic":"orders","partition":3}`, value
//! `{"v":1,"next_offset":1234,"runs":[0,0,1230,1,0,3],"topic_id":"3vTcYpnZS0mt0XEi0V2ZTA"}`,
//! where `next_offset` is the first source offset not yet known to be on the target, `runs` the
//! partition's exact upstream→downstream offset runs up to it, delta-encoded
//! (`OffsetMap::to_deltas`: per run the upstream and downstream offsets relative to the end of
//! the run before, and the length; here 0..1230 went to 0..1230, a marker at 1230, 1231..1234 to
//! 1230..1233; records of older versions have `map`, the runs as `{"u","d","len"}` objects, or
//! neither; both still load) and `topic_id` the Kafka topic id of the source topic the position
//! was taken in (absent in older records, and when the source does not report ids: identity
//! unknown). A position is only meaningful in the log it was taken in: a topic deleted and
//! created again under the same name has a new id, and the stored position says nothing about
//! its log.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use serde::{Deserialize, Serialize};

use crate::flow::TopicId;
use crate::kafka::read::{latest_per_key, Latest, ReadError, Rejection};
use crate::kafka::LogContext;
use crate::offset_map::{OffsetMap, Run};

/// What was persisted for one source partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The next source offset to copy.
    pub next_offset: i64,
    pub map: OffsetMap,
    /// The id of the source topic the position belongs to; `None`: not known (written by a
    /// version before topic ids, or by a source without them).
    pub topic_id: Option<TopicId>,
    /// Taken over from MirrorMaker 2 at this start ([`super::take_over`]): not in the progress
    /// topic yet, so the record path writes it first thing.
    pub from_mm2: bool,
}

/// Source (topic, partition) -> what was persisted.
pub type Positions = HashMap<(String, i32), Stored>;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Key<'a> {
    source: &'a str,
    topic: &'a str,
    partition: i32,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Value {
    v: u16,
    next_offset: i64,
    /// Older records: the runs as objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    map: Vec<Run>,
    /// The runs, delta-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runs: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic_id: Option<String>,
}

pub fn encode(
    source: &str,
    topic: &str,
    partition: i32,
    next_offset: i64,
    map: &OffsetMap,
    topic_id: Option<&TopicId>,
) -> (Vec<u8>, Vec<u8>) {
    let key = serde_json::to_vec(&Key {
        source,
        topic,
        partition,
    })
    .expect("serializable");
    let value = serde_json::to_vec(&Value {
        v: 1,
        next_offset,
        map: Vec::new(),
        runs: Some(map.to_deltas()),
        topic_id: topic_id.map(|id| id.as_str().to_string()),
    })
    .expect("serializable");
    (key, value)
}

/// What one record of the progress topic says for a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// The position of one partition of the source.
    Position((String, i32), Stored),
    /// A tombstone for one partition of the source: its position is forgotten.
    Forgotten((String, i32)),
    /// Nothing for this source: another source's record, or a tombstone without a key.
    Ignored,
    /// A record that cannot be trusted, and why (never quoting its bytes).
    Rejected(Rejection, String),
}

/// Reads one progress record (`key` and `value` as the consumer returned them).
pub fn read(source: &str, key: Option<&[u8]>, value: Option<&[u8]>) -> Read {
    let key = match (key, value) {
        (Some(k), _) => k,
        (None, None) => return Read::Ignored,
        (None, Some(_)) => {
            return Read::Rejected(Rejection::NoKey, "a progress value without a key".into())
        }
    };
    let key: Key<'_> = match serde_json::from_slice(key) {
        Ok(k) => k,
        Err(e) => return Read::Rejected(Rejection::Undecodable, json_problem("key", &e)),
    };
    if key.source != source {
        return Read::Ignored;
    }
    let Some(value) = value else {
        // A tombstone: the partition's position was deleted.
        return Read::Forgotten((key.topic.to_string(), key.partition));
    };
    let value: Value = match serde_json::from_slice(value) {
        Ok(v) => v,
        Err(e) => return Read::Rejected(Rejection::Undecodable, json_problem("value", &e)),
    };
    if value.v != 1 {
        return Read::Rejected(
            Rejection::UnsupportedVersion,
            format!(
                "progress record of version {}; this strait reads version 1",
                value.v
            ),
        );
    }
    if let Err((why, detail)) = plausible(key.partition, &value) {
        return Read::Rejected(why, detail);
    }
    let map = match value.runs {
        None => OffsetMap::from_runs(value.map),
        Some(deltas) => OffsetMap::from_deltas(&deltas).unwrap_or_else(|e| {
            // The position stands; without a map, older offsets translate to nothing.
            tracing::warn!(topic = key.topic, partition = key.partition, error = %e,
                "ignoring the unreadable offset map of a progress record");
            OffsetMap::default()
        }),
    };
    let stored = Stored {
        next_offset: value.next_offset,
        map,
        topic_id: value.topic_id.as_deref().and_then(TopicId::parse),
        from_mm2: false,
    };
    Read::Position((key.topic.to_string(), key.partition), stored)
}

/// Decodes one progress record: `Some` only for a position of `source` that can be trusted.
pub fn decode(source: &str, key: &[u8], value: Option<&[u8]>) -> Option<((String, i32), Stored)> {
    match read(source, Some(key), value) {
        Read::Position(tp, stored) => Some((tp, stored)),
        Read::Forgotten(_) | Read::Ignored | Read::Rejected(..) => None,
    }
}

/// What strait writes can be true: a partition and a position of at least 0, and an offset map
/// of runs in upstream order, none negative, overlapping the one before or reaching past the
/// position. (A position past the source log's end is not judged here: the record path finds
/// it out of range and starts again at the log start.)
fn plausible(partition: i32, value: &Value) -> Result<(), (Rejection, String)> {
    if partition < 0 {
        return Err((Rejection::Negative, format!("partition {partition}")));
    }
    if value.next_offset < 0 {
        return Err((
            Rejection::Negative,
            format!("position {} of partition {partition}", value.next_offset),
        ));
    }
    let mut covered = 0_i64;
    for (i, r) in value.map.iter().enumerate() {
        if r.u < 0 || r.d < 0 || r.len < 0 {
            return Err((
                Rejection::Negative,
                format!("run {i} of the offset map of partition {partition} has a negative field"),
            ));
        }
        let (Some(end), Some(_)) = (r.u.checked_add(r.len), r.d.checked_add(r.len)) else {
            return Err((
                Rejection::Inconsistent,
                format!("run {i} of the offset map of partition {partition} overflows"),
            ));
        };
        if r.u < covered {
            return Err((
                Rejection::Inconsistent,
                format!(
                    "run {i} of the offset map of partition {partition} overlaps the one before"
                ),
            ));
        }
        if end > value.next_offset {
            return Err((
                Rejection::Inconsistent,
                format!(
                    "the offset map of partition {partition} reaches offset {end}, past its \
                     position {}",
                    value.next_offset
                ),
            ));
        }
        covered = end;
    }
    Ok(())
}

/// What is wrong with a JSON key or value, without quoting it (serde_json's messages can).
fn json_problem(part: &str, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax | Category::Eof => "is not JSON",
        Category::Data => "is JSON of another shape",
        Category::Io => "cannot be read",
    };
    format!(
        "the progress record's {part} {what} (line {}, column {})",
        e.line(),
        e.column()
    )
}

/// What this run has written for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The position last handed to the producer for the progress topic (-1: none yet).
    pub position: i64,
    /// The last upstream offset written as an MM2 offset sync (-1: none yet).
    pub synced: i64,
}

impl Written {
    /// A partition starting at a position already in the progress topic (or `None`).
    pub fn starting_at(stored: Option<i64>) -> Self {
        Written {
            position: stored.unwrap_or(-1),
            synced: -1,
        }
    }
}

/// The MM2 offset syncs `(upstream, downstream)` to write for what `map` learned since upstream
/// offset `synced`: the first record of every new run (where the map changes) and the last
/// acknowledged record, so that MM2's readers (which assume +1 between syncs) never translate
/// past the true position.
pub fn offset_syncs(map: &OffsetMap, synced: i64) -> Vec<(i64, i64)> {
    // Zero-length runs mark offsets without records before a first copied record; MM2's
    // readers would take a sync there as a record and translate the next offsets one past it.
    let mut pairs: Vec<(i64, i64)> = Vec::new();
    let mut last = None;
    for r in map.runs().filter(|r| r.len > 0) {
        if r.u > synced {
            pairs.push((r.u, r.d));
        }
        last = Some(r);
    }
    if let Some(last) = last {
        let end = (last.u + last.len - 1, last.d + last.len - 1);
        if end.0 > synced && pairs.last() != Some(&end) {
            pairs.push(end);
        }
    }
    pairs
}

/// Reads the whole progress topic and returns the latest position per partition of `source`.
/// Blocking. A missing or unreadable topic is an error (the caller retries), never "no
/// progress".
pub fn load(
    consumer: &BaseConsumer<LogContext>,
    topic: &str,
    source: &str,
    deadline: Duration,
) -> Result<Positions, ReadError> {
    // The topic was ensured before: not finding it (a broker that has not seen it yet) is an
    // error to retry, never "nothing copied yet". A tombstone forgets the partition's position
    // (the runbook's way to copy a partition again from the log start).
    latest_per_key(consumer, topic, deadline, |key, value| {
        match read(source, key, value) {
            Read::Position(tp, stored) => Latest::Set(tp, stored),
            Read::Forgotten(tp) => Latest::Forgotten(tp),
            Read::Ignored => Latest::Ignored,
            Read::Rejected(why, detail) => Latest::Rejected(why, detail),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let map = OffsetMap::from_runs(vec![Run {
            u: 0,
            d: 7,
            len: 1234,
        }]);
        let id = TopicId::parse("3vTcYpnZS0mt0XEi0V2ZTA");
        let (k, v) = encode("A", "orders", 3, 1234, &map, id.as_ref());
        assert_eq!(
            std::str::from_utf8(&k).unwrap(),
            r#"{"source":"A","topic":"orders","partition":3}"#
        );
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"v":1,"next_offset":1234,"runs":[0,7,1234],"topic_id":"3vTcYpnZS0mt0XEi0V2ZTA"}"#
        );
        let stored = Stored {
            next_offset: 1234,
            map: map.clone(),
            topic_id: id,
            from_mm2: false,
        };
        assert_eq!(
            decode("A", &k, Some(&v)),
            Some((("orders".to_string(), 3), stored))
        );
        // Without an id (a source without topic ids) the field is left out.
        let (_, v) = encode("A", "orders", 3, 1234, &map, None);
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"v":1,"next_offset":1234,"runs":[0,7,1234]}"#
        );
        // Records written before the map and the id existed still load: identity unknown.
        let old = decode("A", &k, Some(br#"{"v":1,"next_offset":5}"#)).unwrap();
        assert_eq!(old.1.next_offset, 5);
        assert_eq!(old.1.map, OffsetMap::default());
        assert_eq!(old.1.topic_id, None);
        let old = decode("A", &k, Some(br#"{"v":1,"next_offset":5,"map":[]}"#)).unwrap();
        assert_eq!(old.1.topic_id, None);
        // And those with the runs as objects.
        let objects =
            br#"{"v":1,"next_offset":9,"map":[{"u":0,"d":7,"len":3},{"u":4,"d":10,"len":5}]}"#;
        let old = decode("A", &k, Some(objects)).unwrap();
        assert_eq!(old.1.map.to_deltas(), [0, 7, 3, 1, 0, 5]);
        // An unreadable map leaves the position standing, without translations.
        let bad = decode("A", &k, Some(br#"{"v":1,"next_offset":9,"runs":[0,7]}"#)).unwrap();
        assert_eq!((bad.1.next_offset, bad.1.map), (9, OffsetMap::default()));
    }

    #[test]
    fn offset_syncs_mark_each_run_and_the_last_acknowledged_record() {
        let map = OffsetMap::from_runs(vec![
            Run { u: 0, d: 0, len: 0 },
            Run {
                u: 5,
                d: 0,
                len: 10,
            },
            Run {
                u: 20,
                d: 10,
                len: 5,
            },
        ]);
        assert_eq!(offset_syncs(&map, -1), [(5, 0), (20, 10), (24, 14)]);
        assert_eq!(offset_syncs(&map, 20), [(24, 14)]);
        assert_eq!(offset_syncs(&map, 24), []);
        assert_eq!(offset_syncs(&OffsetMap::default(), -1), []);
    }

    #[test]
    fn other_source_tombstone_and_garbage_are_ignored() {
        let (k, v) = encode("A", "orders", 0, 1, &OffsetMap::default(), None);
        assert_eq!(decode("B", &k, Some(&v)), None);
        assert_eq!(decode("A", &k, None), None);
        assert_eq!(decode("A", b"nope", Some(&v)), None);
        assert_eq!(decode("A", &k, Some(br#"{"v":2,"next_offset":5}"#)), None);
    }

    /// Garbage and impossible values are rejected with a reason, and the reason never quotes
    /// the record.
    #[test]
    fn untrusted_records_are_rejected_with_their_reason() {
        let key = br#"{"source":"A","topic":"orders","partition":0}"#;
        let value = |v: &str| Some(v.as_bytes().to_vec());
        // (key, value, reason, detail)
        type Case<'a> = (Option<&'a [u8]>, Option<Vec<u8>>, Rejection, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                None,
                value("{}"),
                Rejection::NoKey,
                "a progress value without a key",
            ),
            (
                Some(b"\x00\xff SECRET-BYTES"),
                value("{}"),
                Rejection::Undecodable,
                "the progress record's key is not JSON (line 1, column 1)",
            ),
            (
                Some(br#"{"source":"A","topic":"orders","partition":"SECRET-BYTES"}"#),
                value("{}"),
                Rejection::Undecodable,
                "the progress record's key is JSON of another shape (line 1, column 57)",
            ),
            (
                Some(key),
                value(r#"{"v":1,"next_offset":"SECRET-BYTES"}"#),
                Rejection::Undecodable,
                "the progress record's value is JSON of another shape (line 1, column 35)",
            ),
            (
                Some(key),
                value(r#"{"v":7,"next_offset":5}"#),
                Rejection::UnsupportedVersion,
                "progress record of version 7; this strait reads version 1",
            ),
            (
                Some(br#"{"source":"A","topic":"orders","partition":-1}"#),
                value(r#"{"v":1,"next_offset":5}"#),
                Rejection::Negative,
                "partition -1",
            ),
            (
                Some(key),
                value(r#"{"v":1,"next_offset":-1}"#),
                Rejection::Negative,
                "position -1 of partition 0",
            ),
            (
                Some(key),
                value(r#"{"v":1,"next_offset":10,"map":[{"u":0,"d":-4,"len":3}]}"#),
                Rejection::Negative,
                "run 0 of the offset map of partition 0 has a negative field",
            ),
            (
                Some(key),
                value(
                    r#"{"v":1,"next_offset":9223372036854775807,"map":[{"u":5,"d":0,"len":9223372036854775807}]}"#,
                ),
                Rejection::Inconsistent,
                "run 0 of the offset map of partition 0 overflows",
            ),
            (
                Some(key),
                value(
                    r#"{"v":1,"next_offset":10,"map":[{"u":0,"d":0,"len":5},{"u":3,"d":9,"len":2}]}"#,
                ),
                Rejection::Inconsistent,
                "run 1 of the offset map of partition 0 overlaps the one before",
            ),
            (
                Some(key),
                value(r#"{"v":1,"next_offset":4,"map":[{"u":0,"d":0,"len":5}]}"#),
                Rejection::Inconsistent,
                "the offset map of partition 0 reaches offset 5, past its position 4",
            ),
        ];
        for (k, v, why, detail) in cases {
            let got = read("A", k, v.as_deref());
            assert_eq!(got, Read::Rejected(why, detail.to_owned()), "{v:?}");
        }
        // Plausible values load, a position past the log end included (the record path judges
        // that), and so does a position without a map or with a zero-length first run.
        for v in [
            r#"{"v":1,"next_offset":9223372036854775807}"#,
            r#"{"v":1,"next_offset":10,"map":[{"u":0,"d":4,"len":0},{"u":2,"d":4,"len":8}]}"#,
        ] {
            assert!(
                matches!(read("A", Some(key), Some(v.as_bytes())), Read::Position(..)),
                "{v}"
            );
        }
        assert_eq!(read("A", None, None), Read::Ignored);
    }
}
