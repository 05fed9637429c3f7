//! Where each source partition's replication stands, persisted in a compacted topic on the target
//! (`strait-offsets<sep><source><sep>internal`). A position is written only after the target has
//! acknowledged every record before it, so resuming from it never loses a record.
//!
//! Record format (version 1, JSON so that operators can read it with any console consumer):
//! key `{"source":"A","topic":"orders","partition":3}`, value
//! `{"v":1,"next_offset":1234,"map":[{"u":0,"d":0,"len":1234}]}`, where `next_offset` is the
//! first source offset not yet known to be on the target and `map` the partition's exact
//! upstream→downstream offset runs up to it (see `offset_map`; absent in older records).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde::{Deserialize, Serialize};

use super::delivery::{DeliveryContext, Sent};
use super::record_loop::{Core, Slot};
use crate::kafka::read::{read_to_end, ReadError};
use crate::kafka::LogContext;
use crate::offset_map::{OffsetMap, Run};
use crate::records::OffsetSync;
use crate::telemetry::events::{Event, OffsetSyncNotWritten, ProgressNotWritten};

/// What was persisted for one source partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The next source offset to copy.
    pub next_offset: i64,
    pub map: OffsetMap,
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
    #[serde(default)]
    map: Vec<Run>,
}

pub fn encode(
    source: &str,
    topic: &str,
    partition: i32,
    next_offset: i64,
    map: &OffsetMap,
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
        map: map.runs().to_vec(),
    })
    .expect("serializable");
    (key, value)
}

/// Decodes one progress record; `None` for records of another source alias, tombstones, or
/// records this version cannot read (logged).
pub fn decode(source: &str, key: &[u8], value: Option<&[u8]>) -> Option<((String, i32), Stored)> {
    let key: Key<'_> = match serde_json::from_slice(key) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring unreadable progress record key");
            return None;
        }
    };
    if key.source != source {
        return None;
    }
    let value: Value = match serde_json::from_slice(value?) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(topic = key.topic, partition = key.partition, error = %e,
                "ignoring unreadable progress record value");
            return None;
        }
    };
    if value.v != 1 {
        tracing::warn!(
            version = value.v,
            "ignoring progress record of an unknown version"
        );
        return None;
    }
    let stored = Stored {
        next_offset: value.next_offset,
        map: OffsetMap::from_runs(value.map),
    };
    Some(((key.topic.to_string(), key.partition), stored))
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
    let runs: Vec<&Run> = map.runs().iter().filter(|r| r.len > 0).collect();
    let mut pairs: Vec<(i64, i64)> = runs
        .iter()
        .filter(|r| r.u > synced)
        .map(|r| (r.u, r.d))
        .collect();
    if let Some(last) = runs.last() {
        let end = (last.u + last.len - 1, last.d + last.len - 1);
        if end.0 > synced && pairs.last() != Some(&end) {
            pairs.push(end);
        }
    }
    pairs
}

impl Core {
    /// Hands every partition's acknowledged position that moved to the producer for the
    /// progress topic, publishes its offset map for checkpoints, and writes the MM2 offset syncs
    /// of what the map learned. A full producer queue defers the rest to the next interval:
    /// nothing is lost.
    pub(super) fn write_progress(&mut self) {
        for s in &mut self.slots {
            let Some(track) = s.part.track() else {
                continue;
            };
            let committed = track.committed();
            if committed == s.written.position {
                continue;
            }
            let (key, value) = encode(
                &self.spec.source.alias,
                &s.part.source_topic,
                s.part.partition,
                committed,
                track.map(),
            );
            let record =
                BaseRecord::with_opaque_to(&self.spec.progress_topic, Sent::Progress.opaque())
                    .partition(0)
                    .key(&key)
                    .payload(&value);
            super::publish_map(&self.spec.maps, &s.part, track);
            if let Err((error, _)) = self.producer.send(record) {
                ProgressNotWritten {
                    topic: &self.spec.progress_topic,
                    error: &error,
                    deferred: true,
                }
                .emit();
                return;
            }
            s.written.position = committed;
            if let Some(spec) = &self.spec.offset_syncs {
                let producer = self.syncs.as_deref().unwrap_or(self.producer.as_ref());
                s.written.synced = write_offset_syncs(producer, &spec.topic, s);
            }
        }
        if let Some(p) = &self.syncs {
            p.poll(Duration::ZERO);
            let mut reports = Vec::new();
            p.context().take_reports(&mut reports);
            if let Some(Err(e)) = reports.into_iter().map(|r| r.result).find(Result::is_err) {
                OffsetSyncNotWritten { error: &e }.emit();
            }
        }
    }

    /// Waits (until `deadline`) for what is in flight, then persists the final positions.
    /// Returns whether everything in flight was acknowledged and the positions written.
    pub(super) fn drain(&mut self, deadline: Instant) -> bool {
        let budget = deadline.saturating_duration_since(Instant::now());
        // Most of the budget for the records in flight, the rest for the final progress write.
        let reserve = (budget / 4).min(Duration::from_secs(5));
        let flushed = self.producer.flush(budget - reserve).is_ok();
        self.apply_reports();
        self.write_progress();
        let persisted = self
            .producer
            .flush(deadline.saturating_duration_since(Instant::now()))
            .is_ok();
        if let Some(p) = &self.syncs {
            if p.flush(deadline.saturating_duration_since(Instant::now()))
                .is_err()
            {
                tracing::warn!("offset syncs still in flight at shutdown; they are written again after a restart");
            }
        }
        self.apply_reports();
        flushed && persisted
    }
}

/// A progress record was not written: every position is written again at the next interval.
pub(super) fn write_failed(topic: &str, error: &KafkaError, slots: &mut [Slot]) {
    ProgressNotWritten {
        topic,
        error,
        deferred: false,
    }
    .emit();
    for s in slots {
        s.written.position = -1;
    }
}

/// Writes the MM2 offset syncs for what `slot`'s map learned since its last sync. Returns the
/// new last synced upstream offset.
fn write_offset_syncs(producer: &BaseProducer<DeliveryContext>, topic: &str, slot: &Slot) -> i64 {
    let synced = slot.written.synced;
    let Some(track) = slot.part.track() else {
        return synced;
    };
    let mut done = synced;
    for (u, d) in offset_syncs(track.map(), synced) {
        let sync = OffsetSync {
            topic: slot.part.source_topic.to_string(),
            partition: slot.part.partition,
            upstream_offset: u,
            downstream_offset: d,
        };
        let (Ok(key), Ok(value)) = (sync.encode_key(), sync.encode_value()) else {
            tracing::error!(topic = %slot.part.source_topic, "topic name too long for an MM2 offset sync");
            return synced;
        };
        let record = BaseRecord::with_opaque_to(topic, Sent::OffsetSync.opaque())
            .partition(0)
            .key(&key)
            .payload(&value);
        if producer.send(record).is_err() {
            break; // queue full: the rest goes with the next progress write
        }
        done = u;
    }
    done
}

/// Reads the whole progress topic and returns the latest position per partition of `source`.
/// Blocking. A missing topic means nothing was copied yet.
pub fn load(
    consumer: &BaseConsumer<LogContext>,
    topic: &str,
    source: &str,
    deadline: Duration,
) -> Result<Positions, ReadError> {
    let mut positions = Positions::new();
    read_to_end(consumer, topic, deadline, |m| {
        if let Some(key) = m.key() {
            if let Some((tp, next)) = decode(source, key, m.payload()) {
                positions.insert(tp, next);
            }
        } else if m.payload().is_some() {
            tracing::warn!(offset = m.offset(), "ignoring progress record without key");
        }
    })?;
    Ok(positions)
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
        let (k, v) = encode("A", "orders", 3, 1234, &map);
        assert_eq!(
            std::str::from_utf8(&k).unwrap(),
            r#"{"source":"A","topic":"orders","partition":3}"#
        );
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"v":1,"next_offset":1234,"map":[{"u":0,"d":7,"len":1234}]}"#
        );
        let stored = Stored {
            next_offset: 1234,
            map,
        };
        assert_eq!(
            decode("A", &k, Some(&v)),
            Some((("orders".to_string(), 3), stored))
        );
        // Records written before the map existed still load.
        let old = decode("A", &k, Some(br#"{"v":1,"next_offset":5}"#)).unwrap();
        assert_eq!(old.1.next_offset, 5);
        assert_eq!(old.1.map, OffsetMap::default());
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
        let (k, v) = encode("A", "orders", 0, 1, &OffsetMap::default());
        assert_eq!(decode("B", &k, Some(&v)), None);
        assert_eq!(decode("A", &k, None), None);
        assert_eq!(decode("A", b"nope", Some(&v)), None);
        assert_eq!(decode("A", &k, Some(br#"{"v":2,"next_offset":5}"#)), None);
    }
}
