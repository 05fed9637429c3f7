//! Table-driven tests: the worked examples of the MM2 layouts byte for byte, round trips,
//! truncation at every byte of every field, and the Java readers' leniency (trailing bytes,
//! versions above 0).

use super::*;

/// Test-local union, so one table covers all three record types.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Any {
    Hb(Heartbeat),
    Cp(Checkpoint),
    Os(OffsetSync),
}

impl Any {
    fn encode(&self) -> (Vec<u8>, Vec<u8>) {
        let (k, v) = match self {
            Any::Hb(r) => (r.encode_key(), r.encode_value()),
            Any::Cp(r) => (r.encode_key(), r.encode_value()),
            Any::Os(r) => (r.encode_key(), r.encode_value()),
        };
        (k.expect("encode key"), v.expect("encode value"))
    }

    /// Decodes `key`/`value` as the same record type as `self`.
    fn decode_same(&self, key: &[u8], value: &[u8]) -> Result<Any, DecodeError> {
        Ok(match self {
            Any::Hb(_) => Any::Hb(Heartbeat::decode(key, value)?),
            Any::Cp(_) => Any::Cp(Checkpoint::decode(key, value)?),
            Any::Os(_) => Any::Os(OffsetSync::decode(key, value)?),
        })
    }
}

fn hb(source: &str, target: &str, ts: i64) -> Any {
    Any::Hb(Heartbeat {
        source_alias: source.into(),
        target_alias: target.into(),
        timestamp_ms: ts,
    })
}

fn cp(group: &str, topic: &str, partition: i32, up: i64, down: i64, metadata: &str) -> Any {
    Any::Cp(Checkpoint {
        group: group.into(),
        topic: topic.into(),
        partition,
        upstream_offset: up,
        downstream_offset: down,
        metadata: metadata.into(),
    })
}

fn os(topic: &str, partition: i32, up: i64, down: i64) -> Any {
    Any::Os(OffsetSync {
        topic: topic.into(),
        partition,
        upstream_offset: up,
        downstream_offset: down,
    })
}

/// Hex digits; spaces and `|` are only for reading.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits in {s:?}");
    digits
        .chunks(2)
        .map(|d| u8::from_str_radix(std::str::from_utf8(d).unwrap(), 16).unwrap())
        .collect()
}

struct Example {
    name: &'static str,
    record: Any,
    key: &'static str,
    value: &'static str,
    /// (field, encoded size) in wire order: the field a truncation at any byte must name.
    key_fields: &'static [(&'static str, usize)],
    value_fields: &'static [(&'static str, usize)],
}

/// The worked examples of the MM2 fact sheet (§2.1–2.3), plus a non-ASCII one.
fn examples() -> Vec<Example> {
    vec![
        Example {
            name: "heartbeat A->B at 1700000000000",
            record: hb("A", "B", 1_700_000_000_000),
            key: "00 01 41 | 00 01 42",
            value: "00 00 | 00 00 01 8b cf e5 68 00",
            key_fields: &[("sourceClusterAlias", 3), ("targetClusterAlias", 3)],
            value_fields: &[("version", 2), ("timestamp", 8)],
        },
        Example {
            name: "checkpoint g1 A.t1-0 100->95, no metadata",
            record: cp("g1", "A.t1", 0, 100, 95, ""),
            key: "00 02 67 31 | 00 04 41 2e 74 31 | 00 00 00 00",
            value: "00 00 | 00 00 00 00 00 00 00 64 | 00 00 00 00 00 00 00 5f | 00 00",
            key_fields: &[("group", 4), ("topic", 6), ("partition", 4)],
            value_fields: &[
                ("version", 2),
                ("upstreamOffset", 8),
                ("offset", 8),
                ("metadata", 2),
            ],
        },
        Example {
            name: "checkpoint g1 A.t1-0 4->5, metadata m",
            record: cp("g1", "A.t1", 0, 4, 5, "m"),
            key: "00 02 67 31 | 00 04 41 2e 74 31 | 00 00 00 00",
            value: "00 00 | 00 00 00 00 00 00 00 04 | 00 00 00 00 00 00 00 05 | 00 01 6d",
            key_fields: &[("group", 4), ("topic", 6), ("partition", 4)],
            value_fields: &[
                ("version", 2),
                ("upstreamOffset", 8),
                ("offset", 8),
                ("metadata", 3),
            ],
        },
        Example {
            name: "offset sync t1-0 100->95",
            record: os("t1", 0, 100, 95),
            key: "00 02 74 31 | 00 00 00 00",
            value: "00 00 00 00 00 00 00 64 | 00 00 00 00 00 00 00 5f",
            key_fields: &[("topic", 4), ("partition", 4)],
            value_fields: &[("upstreamOffset", 8), ("offset", 8)],
        },
        Example {
            name: "offset sync orders-3 1234->1200",
            record: os("orders", 3, 1234, 1200),
            key: "00 06 6f 72 64 65 72 73 | 00 00 00 03",
            value: "00 00 00 00 00 00 04 d2 | 00 00 00 00 00 00 04 b0",
            key_fields: &[("topic", 8), ("partition", 4)],
            value_fields: &[("upstreamOffset", 8), ("offset", 8)],
        },
        Example {
            // "é" is c3 a9: lengths count bytes, not characters.
            name: "checkpoint with non-ASCII group and metadata, negative offsets",
            record: cp("é", "A.é", -1, -1, i64::MAX, "é"),
            key: "00 02 c3 a9 | 00 04 41 2e c3 a9 | ff ff ff ff",
            value: "00 00 | ff ff ff ff ff ff ff ff | 7f ff ff ff ff ff ff ff | 00 02 c3 a9",
            key_fields: &[("group", 4), ("topic", 6), ("partition", 4)],
            value_fields: &[
                ("version", 2),
                ("upstreamOffset", 8),
                ("offset", 8),
                ("metadata", 4),
            ],
        },
    ]
}

#[test]
fn worked_examples_encode_byte_for_byte() {
    for ex in examples() {
        let (key, value) = ex.record.encode();
        assert_eq!(key, hex(ex.key), "{}: key", ex.name);
        assert_eq!(value, hex(ex.value), "{}: value", ex.name);
    }
}

#[test]
fn worked_examples_decode() {
    for ex in examples() {
        let decoded = ex.record.decode_same(&hex(ex.key), &hex(ex.value));
        assert_eq!(decoded, Ok(ex.record.clone()), "{}", ex.name);
    }
}

#[test]
fn field_tables_cover_the_examples() {
    // Guards the truncation test below against a stale layout table.
    for ex in examples() {
        let sum = |fields: &[(&str, usize)]| fields.iter().map(|(_, n)| n).sum::<usize>();
        assert_eq!(sum(ex.key_fields), hex(ex.key).len(), "{}: key", ex.name);
        assert_eq!(
            sum(ex.value_fields),
            hex(ex.value).len(),
            "{}: value",
            ex.name
        );
    }
}

/// The field that a buffer cut after `len` bytes is truncated in.
fn field_at(fields: &[(&'static str, usize)], len: usize) -> &'static str {
    let mut end = 0;
    for (name, size) in fields {
        end += size;
        if len < end {
            return name;
        }
    }
    panic!("cut at {len} is past the last field");
}

#[test]
fn truncation_at_every_byte_names_the_field() {
    for ex in examples() {
        let (key, value) = (hex(ex.key), hex(ex.value));
        for (part, bytes, fields) in [
            (Part::Key, &key, ex.key_fields),
            (Part::Value, &value, ex.value_fields),
        ] {
            for cut in 0..bytes.len() {
                let (k, v) = match part {
                    Part::Key => (&key[..cut], &value[..]),
                    Part::Value => (&key[..], &value[..cut]),
                };
                let err = ex
                    .record
                    .decode_same(k, v)
                    .expect_err(&format!("{}: {part} cut at {cut}", ex.name));
                match err {
                    DecodeError::Truncated { part: p, field, .. } => {
                        assert_eq!(p, part, "{}: {part} cut at {cut}", ex.name);
                        assert_eq!(
                            field,
                            field_at(fields, cut),
                            "{}: {part} cut at {cut}",
                            ex.name
                        );
                    }
                    other => panic!("{}: {part} cut at {cut}: {other:?}", ex.name),
                }
            }
        }
    }
}

#[test]
fn truncated_error_reports_sizes_and_reads_well() {
    // Offset sync value cut in the middle of `offset`: 8 needed, 3 left.
    let err = OffsetSync::decode(&hex("00 02 74 31 00 00 00 00"), &[0; 11]).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Truncated {
            record: "OffsetSync",
            part: Part::Value,
            field: "offset",
            needed: 8,
            remaining: 3,
        }
    );
    assert_eq!(
        err.to_string(),
        "OffsetSync value truncated in field `offset`: needs 8 more bytes, 3 left"
    );
    // A string whose length prefix promises more than is there.
    let err = Checkpoint::decode(&hex("00 05 67 31"), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Checkpoint key truncated in field `group`: needs 5 more bytes, 2 left"
    );
}

#[test]
fn trailing_bytes_are_ignored() {
    for ex in examples() {
        let (mut key, mut value) = (hex(ex.key), hex(ex.value));
        key.extend_from_slice(b"\x00\x07trailer");
        value.extend_from_slice(&[0xff; 9]);
        assert_eq!(
            ex.record.decode_same(&key, &value),
            Ok(ex.record.clone()),
            "{}",
            ex.name
        );
    }
}

#[test]
fn later_versions_are_read_with_the_v0_body() {
    let cases: &[(&str, Any, &str, &str)] = &[
        (
            // A hypothetical v1 that appends an INT32 leader epoch.
            "checkpoint v1 with an appended field",
            cp("g1", "A.t1", 0, 4, 5, "m"),
            "00 02 67 31 00 04 41 2e 74 31 00 00 00 00",
            "00 01 | 00 00 00 00 00 00 00 04 | 00 00 00 00 00 00 00 05 | 00 01 6d | 00 00 00 07",
        ),
        (
            "heartbeat v1",
            hb("A", "B", 1_700_000_000_000),
            "00 01 41 00 01 42",
            "00 01 | 00 00 01 8b cf e5 68 00",
        ),
        (
            "heartbeat v32767",
            hb("A", "B", 1_700_000_000_000),
            "00 01 41 00 01 42",
            "7f ff | 00 00 01 8b cf e5 68 00",
        ),
    ];
    for (name, record, key, value) in cases {
        assert_eq!(
            record.decode_same(&hex(key), &hex(value)),
            Ok(record.clone()),
            "{name}"
        );
    }
}

#[test]
fn negative_versions_are_rejected() {
    for (name, record, value, version) in [
        (
            "heartbeat",
            hb("A", "B", 0),
            "ff ff 00 00 00 00 00 00 00 00",
            -1,
        ),
        (
            "checkpoint",
            cp("g", "t", 0, 0, 0, ""),
            "80 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
            i16::MIN,
        ),
    ] {
        let (key, _) = record.encode();
        let err = record.decode_same(&key, &hex(value)).unwrap_err();
        let expected_record = match record {
            Any::Hb(_) => "Heartbeat",
            _ => "Checkpoint",
        };
        assert_eq!(
            err,
            DecodeError::UnsupportedVersion {
                record: expected_record,
                version
            },
            "{name}"
        );
    }
    assert_eq!(
        Heartbeat::decode(&hex("00 01 41 00 01 42"), &hex("ff ff"))
            .unwrap_err()
            .to_string(),
        "Heartbeat value has unsupported version -1; versions >= 0 are read with the v0 body"
    );
}

#[test]
fn negative_string_lengths_are_rejected() {
    let cases: &[(Any, &str, &str, Part, &str, i16)] = &[
        (
            hb("", "", 0),
            "ff ff 41",
            "00 00 00 00 00 00 00 00 00 00",
            Part::Key,
            "sourceClusterAlias",
            -1,
        ),
        (
            hb("", "", 0),
            "00 00 80 00",
            "00 00 00 00 00 00 00 00 00 00",
            Part::Key,
            "targetClusterAlias",
            i16::MIN,
        ),
        (
            cp("", "", 0, 0, 0, ""),
            "00 00 ff fe 00 00 00 00",
            "",
            Part::Key,
            "topic",
            -2,
        ),
        (
            cp("", "", 0, 0, 0, ""),
            "00 00 00 00 00 00 00 00",
            "00 00 | 00 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 | ff ff",
            Part::Value,
            "metadata",
            -1,
        ),
        (os("", 0, 0, 0), "ff ff", "", Part::Key, "topic", -1),
    ];
    for (record, key, value, part, field, length) in cases {
        let err = record.decode_same(&hex(key), &hex(value)).unwrap_err();
        match err {
            DecodeError::NegativeStringLength {
                part: p,
                field: f,
                length: l,
                ..
            } => assert_eq!((p, f, l), (*part, *field, *length), "{record:?}"),
            other => panic!("{record:?}: {other:?}"),
        }
    }
    assert_eq!(
        OffsetSync::decode(&hex("ff ff"), &[])
            .unwrap_err()
            .to_string(),
        "OffsetSync key field `topic` has a negative string length (-1)"
    );
}

#[test]
fn invalid_utf8_is_rejected() {
    // c3 28: a two-byte lead followed by a non-continuation byte.
    let cases: &[(Any, &str, &str, Part, &str, usize)] = &[
        (
            hb("", "", 0),
            "00 02 c3 28 00 01 42",
            "00 00 00 00 00 00 00 00 00 00",
            Part::Key,
            "sourceClusterAlias",
            0,
        ),
        (
            cp("", "", 0, 0, 0, ""),
            "00 01 67 00 03 41 2e ff 00 00 00 00",
            "",
            Part::Key,
            "topic",
            2,
        ),
        (
            cp("", "", 0, 0, 0, ""),
            "00 01 67 00 01 74 00 00 00 00",
            "00 00 | 00 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 | 00 03 6d c3 28",
            Part::Value,
            "metadata",
            1,
        ),
        (
            os("", 0, 0, 0),
            "00 01 80 00 00 00 00",
            "",
            Part::Key,
            "topic",
            0,
        ),
    ];
    for (record, key, value, part, field, valid_up_to) in cases {
        let err = record.decode_same(&hex(key), &hex(value)).unwrap_err();
        match err {
            DecodeError::InvalidUtf8 {
                part: p,
                field: f,
                valid_up_to: v,
                ..
            } => assert_eq!((p, f, v), (*part, *field, *valid_up_to), "{record:?}"),
            other => panic!("{record:?}: {other:?}"),
        }
    }
}

#[test]
fn round_trips() {
    let long = "x".repeat(MAX_STRING_LEN);
    let records = [
        hb("", "", 0),
        hb("us-east", "eu-west", i64::MIN),
        hb("données", "目标", i64::MAX),
        hb(&long, &long, 1),
        cp("", "", 0, 0, 0, ""),
        cp(
            "grüppe-日本",
            "A.tøpic-🙂",
            i32::MAX,
            i64::MAX,
            i64::MIN,
            "meta {data}, ✓",
        ),
        cp("g", "B.A.t", i32::MIN, -1, -1, &long),
        os("", 0, 0, 0),
        os("orders.v2", 1023, 1 << 40, (1 << 40) - 17),
        os("tøpic-🙂", -1, i64::MIN, i64::MAX),
        os(&long, 7, 3, 2),
    ];
    for record in records {
        let (key, value) = record.encode();
        assert_eq!(record.decode_same(&key, &value), Ok(record.clone()));
        let expected_len = match &record {
            Any::Hb(h) => (4 + h.source_alias.len() + h.target_alias.len(), 10),
            Any::Cp(c) => (8 + c.group.len() + c.topic.len(), 20 + c.metadata.len()),
            Any::Os(o) => (6 + o.topic.len(), 16),
        };
        assert_eq!((key.len(), value.len()), expected_len, "{record:?}");
    }
}

#[test]
fn strings_longer_than_32767_bytes_are_encode_errors() {
    let long = "é".repeat(MAX_STRING_LEN / 2 + 1); // 32768 bytes
    let base_hb = Heartbeat {
        source_alias: "A".into(),
        target_alias: "B".into(),
        timestamp_ms: 0,
    };
    let base_cp = Checkpoint {
        group: "g".into(),
        topic: "t".into(),
        partition: 0,
        upstream_offset: 0,
        downstream_offset: 0,
        metadata: String::new(),
    };
    let base_os = OffsetSync {
        topic: "t".into(),
        partition: 0,
        upstream_offset: 0,
        downstream_offset: 0,
    };
    type Encoded = Result<Vec<u8>, EncodeError>;
    let cases: Vec<(Encoded, &str, Part, &str)> = vec![
        (
            Heartbeat {
                source_alias: long.clone(),
                ..base_hb.clone()
            }
            .encode_key(),
            "Heartbeat",
            Part::Key,
            "sourceClusterAlias",
        ),
        (
            Heartbeat {
                target_alias: long.clone(),
                ..base_hb.clone()
            }
            .encode_key(),
            "Heartbeat",
            Part::Key,
            "targetClusterAlias",
        ),
        (
            Checkpoint {
                group: long.clone(),
                ..base_cp.clone()
            }
            .encode_key(),
            "Checkpoint",
            Part::Key,
            "group",
        ),
        (
            Checkpoint {
                topic: long.clone(),
                ..base_cp.clone()
            }
            .encode_key(),
            "Checkpoint",
            Part::Key,
            "topic",
        ),
        (
            Checkpoint {
                metadata: long.clone(),
                ..base_cp.clone()
            }
            .encode_value(),
            "Checkpoint",
            Part::Value,
            "metadata",
        ),
        (
            OffsetSync {
                topic: long.clone(),
                ..base_os.clone()
            }
            .encode_key(),
            "OffsetSync",
            Part::Key,
            "topic",
        ),
    ];
    for (result, record, part, field) in cases {
        assert_eq!(
            result,
            Err(EncodeError::StringTooLong {
                record,
                part,
                field,
                len: 32768
            })
        );
    }
    assert_eq!(
        Checkpoint {
            metadata: long,
            ..base_cp
        }
        .encode_value()
        .unwrap_err()
        .to_string(),
        "Checkpoint value field `metadata` is 32768 bytes of UTF-8, more than a Kafka STRING \
         holds (32767); shorten the name or value"
    );
}
