//! Wire compatibility of [`strait::records`] with Apache Kafka's own MM2 code: strait encodes
//! heartbeats, checkpoints and offset syncs, the harness produces the bytes to a fresh topic on
//! cluster A, and Kafka 4.1.1's `ConsoleConsumer` reads them back with MM2's formatters
//! (`org.apache.kafka.connect.mirror.formatters.{Heartbeat,Checkpoint,OffsetSync}Formatter`).
//! Each formatter calls `<Type>.deserializeRecord` and prints the object's `toString()`, so a
//! test passes only if the Java deserializer sees exactly the values strait encoded.
//!
//! Every record list also holds one record with trailing bytes in key and value (and, where
//! there is a version, a version above 0 with an appended field): Java and strait must both read
//! it as the v0 record, which is the leniency `strait::records` documents.

use std::time::Instant;

use ::strait::records::{Checkpoint, Heartbeat, OffsetSync, MAX_STRING_LEN};

use crate::harness::{create_topic, now_ms, produce, shared_clusters, unique_name, OutRecord};
// Moved to the harness; re-exported for the tests that import it from here.
pub use crate::harness::java_formatted;

/// Produces `records` (key, value) to partition 0 of a fresh topic on cluster A, then runs
/// Kafka's ConsoleConsumer with `formatter` over it and returns stdout, one line per record.
fn java_prints(test: &str, formatter: &str, records: &[(Vec<u8>, Vec<u8>)]) -> Vec<String> {
    let (a, _) = shared_clusters();
    let topic = unique_name(test);
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let out: Vec<OutRecord> = records
        .iter()
        .map(|(k, v)| OutRecord {
            partition: Some(0),
            key: Some(k.clone()),
            value: Some(v.clone()),
            ..OutRecord::default()
        })
        .collect();
    let delivered = produce(&a.bootstrap(), &topic, &out);
    let want: Vec<(i32, i64)> = (0..records.len() as i64).map(|o| (0, o)).collect();
    assert_eq!(delivered, want, "produced offsets");

    let t0 = Instant::now();
    let lines = java_formatted(&a.bootstrap(), &topic, formatter, records.len());
    eprintln!(
        "[mm2_formats] {formatter}: {} records read by Java in {:.1}s",
        records.len(),
        t0.elapsed().as_secs_f64()
    );
    if let Some(first) = lines.first() {
        eprintln!(
            "[mm2_formats] {formatter} printed, first line: {}",
            clip(first)
        );
    }
    lines
}

/// Line-by-line comparison with a readable failure (some lines are 32 KiB long).
fn assert_lines(got: &[String], want: &[String]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "line {i} differs:\n java: {}\n want: {}",
            clip(g),
            clip(w)
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "Java printed {} lines for {} records",
        got.len(),
        want.len()
    );
}

fn clip(s: &str) -> String {
    if s.len() <= 300 {
        return s.to_string();
    }
    let mut end = 300;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// `Heartbeat.toString()` in Kafka 4.1.1.
fn java_heartbeat(h: &Heartbeat) -> String {
    format!(
        "Heartbeat{{sourceClusterAlias={}, targetClusterAlias={}, timestamp={}}}",
        h.source_alias, h.target_alias, h.timestamp_ms
    )
}

/// `Checkpoint.toString()`; a `TopicPartition` prints as `topic-partition`.
fn java_checkpoint(c: &Checkpoint) -> String {
    format!(
        "Checkpoint{{consumerGroupId={}, topicPartition={}-{}, upstreamOffset={}, \
         downstreamOffset={}, metadata={}}}",
        c.group, c.topic, c.partition, c.upstream_offset, c.downstream_offset, c.metadata
    )
}

/// `OffsetSync.toString()`.
fn java_offset_sync(o: &OffsetSync) -> String {
    format!(
        "OffsetSync{{topicPartition={}-{}, upstreamOffset={}, downstreamOffset={}}}",
        o.topic, o.partition, o.upstream_offset, o.downstream_offset
    )
}

/// `bytes` with `extra` appended.
fn with(mut bytes: Vec<u8>, extra: &[u8]) -> Vec<u8> {
    bytes.extend_from_slice(extra);
    bytes
}

/// Sets the INT16 version header at the start of a versioned value.
fn with_version(mut value: Vec<u8>, version: i16) -> Vec<u8> {
    value[..2].copy_from_slice(&version.to_be_bytes());
    value
}

#[test]
fn java_heartbeat_formatter_reads_strait_heartbeats() {
    let hb = |s: &str, t: &str, ts: i64| Heartbeat {
        source_alias: s.into(),
        target_alias: t.into(),
        timestamp_ms: ts,
    };
    let heartbeats = [
        hb("A", "B", 1_700_000_000_000),
        hb("us-east-1", "eu-west-1", now_ms()),
        hb("données", "目标-🙂", i64::MAX),
        hb("", "", i64::MIN),
        hb("B", "A", -1),
    ];
    let mut records: Vec<(Vec<u8>, Vec<u8>)> = heartbeats
        .iter()
        .map(|h| (h.encode_key().unwrap(), h.encode_value().unwrap()))
        .collect();
    // A "v1" with an appended INT32 and a key with trailing bytes: both sides read it as v0.
    let lenient = hb("lenient", "ünïcode", 42);
    let key = with(lenient.encode_key().unwrap(), b"\x00\x05extra");
    let value = with(
        with_version(lenient.encode_value().unwrap(), 1),
        &[0, 0, 0, 7],
    );
    assert_eq!(Heartbeat::decode(&key, &value), Ok(lenient.clone()));
    records.push((key, value));

    let got = java_prints("mm2-formats-heartbeat", "HeartbeatFormatter", &records);
    let want: Vec<String> = heartbeats
        .iter()
        .chain([&lenient])
        .map(java_heartbeat)
        .collect();
    assert_lines(&got, &want);
}

#[test]
fn java_checkpoint_formatter_reads_strait_checkpoints() {
    let cp = |g: &str, t: &str, p: i32, up: i64, down: i64, m: &str| Checkpoint {
        group: g.into(),
        topic: t.into(),
        partition: p,
        upstream_offset: up,
        downstream_offset: down,
        metadata: m.into(),
    };
    // A metadata of exactly 32767 bytes: the INT16 length 0x7fff must not read as negative.
    let longest = format!("{}é", "m".repeat(MAX_STRING_LEN - 2));
    let checkpoints = [
        cp("g1", "A.t1", 0, 100, 95, ""),
        cp("g1", "A.t1", 0, 4, 5, "m"),
        cp(
            "grüppe-日本",
            "A.tøpic-🙂",
            7,
            1 << 40,
            (1 << 40) - 3,
            "meta {data}, ✓",
        ),
        cp(
            "orders-app",
            "A.orders",
            i32::MAX,
            i64::MAX,
            0,
            &"é".repeat(300),
        ),
        cp("", "B.A.t", 2, -1, -1, "x=1, y=2"),
        cp("g-long-metadata", "A.t", 1, 12, 11, &longest),
    ];
    let mut records: Vec<(Vec<u8>, Vec<u8>)> = checkpoints
        .iter()
        .map(|c| (c.encode_key().unwrap(), c.encode_value().unwrap()))
        .collect();
    // The fact sheet's hypothetical v1 (an INT32 leader epoch appended), plus trailing key
    // bytes: both sides read it as v0.
    let lenient = cp("lenient-ü", "A.t1", 3, 4, 5, "m");
    let key = with(lenient.encode_key().unwrap(), &[0xff; 3]);
    let value = with(
        with_version(lenient.encode_value().unwrap(), 1),
        &[0, 0, 0, 9],
    );
    assert_eq!(Checkpoint::decode(&key, &value), Ok(lenient.clone()));
    records.push((key, value));

    let got = java_prints("mm2-formats-checkpoint", "CheckpointFormatter", &records);
    let want: Vec<String> = checkpoints
        .iter()
        .chain([&lenient])
        .map(java_checkpoint)
        .collect();
    assert_lines(&got, &want);
}

#[test]
fn java_offset_sync_formatter_reads_strait_offset_syncs() {
    let os = |t: &str, p: i32, up: i64, down: i64| OffsetSync {
        topic: t.into(),
        partition: p,
        upstream_offset: up,
        downstream_offset: down,
    };
    let syncs = [
        os("t1", 0, 100, 95),
        os("orders", 3, 1234, 1200),
        os("tøpic-🙂-日本", i32::MAX, i64::MAX, i64::MIN),
        os("orders.v2", 1023, 1 << 40, (1 << 40) - 17),
        os(&"t".repeat(249), 0, 0, 0),
    ];
    let mut records: Vec<(Vec<u8>, Vec<u8>)> = syncs
        .iter()
        .map(|o| (o.encode_key().unwrap(), o.encode_value().unwrap()))
        .collect();
    // No version to bump: only trailing bytes.
    let lenient = os("lenient-ü", 5, 77, 70);
    let key = with(lenient.encode_key().unwrap(), &[1, 2, 3]);
    let value = with(lenient.encode_value().unwrap(), &[0xff; 8]);
    assert_eq!(OffsetSync::decode(&key, &value), Ok(lenient.clone()));
    records.push((key, value));

    let got = java_prints("mm2-formats-offset-sync", "OffsetSyncFormatter", &records);
    let want: Vec<String> = syncs
        .iter()
        .chain([&lenient])
        .map(java_offset_sync)
        .collect();
    assert_lines(&got, &want);
}
