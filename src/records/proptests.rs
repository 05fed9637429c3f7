//! Property tests of the decoders on hostile bytes: anything at all decodes or fails with a
//! `DecodeError` (never a panic); every valid record round-trips; a valid encoding cut short
//! fails with `Truncated` at every length, one with bytes appended reads as the same record,
//! and a version byte pair other than 0 reads as v0 when >= 0 and is refused when negative.
//!
//! Case counts: proptest's default (256) in CI; `bench/proptest_long.sh` runs them with
//! `PROPTEST_CASES` raised.

use proptest::prelude::*;

use super::*;

/// One record of any of the three types.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Record {
    Heartbeat(Heartbeat),
    Checkpoint(Checkpoint),
    OffsetSync(OffsetSync),
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Heartbeat,
    Checkpoint,
    OffsetSync,
}

impl Kind {
    fn decode(self, key: &[u8], value: &[u8]) -> Result<Record, DecodeError> {
        Ok(match self {
            Kind::Heartbeat => Record::Heartbeat(Heartbeat::decode(key, value)?),
            Kind::Checkpoint => Record::Checkpoint(Checkpoint::decode(key, value)?),
            Kind::OffsetSync => Record::OffsetSync(OffsetSync::decode(key, value)?),
        })
    }
}

impl Record {
    fn kind(&self) -> Kind {
        match self {
            Record::Heartbeat(_) => Kind::Heartbeat,
            Record::Checkpoint(_) => Kind::Checkpoint,
            Record::OffsetSync(_) => Kind::OffsetSync,
        }
    }

    fn encode(&self) -> (Vec<u8>, Vec<u8>) {
        let (k, v) = match self {
            Record::Heartbeat(r) => (r.encode_key(), r.encode_value()),
            Record::Checkpoint(r) => (r.encode_key(), r.encode_value()),
            Record::OffsetSync(r) => (r.encode_key(), r.encode_value()),
        };
        (
            k.expect("strings within the limit"),
            v.expect("strings within the limit"),
        )
    }

    /// Whether the value starts with an INT16 version.
    fn versioned(&self) -> bool {
        !matches!(self, Record::OffsetSync(_))
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Heartbeat),
        Just(Kind::Checkpoint),
        Just(Kind::OffsetSync)
    ]
}

/// Names as they come: any Unicode, empty included.
fn name() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,40}", Just(String::new()), "[A-Za-z0-9._-]{1,20}"]
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        versioned_record(),
        (name(), any::<i32>(), any::<i64>(), any::<i64>()).prop_map(|(t, p, u, d)| {
            Record::OffsetSync(OffsetSync {
                topic: t,
                partition: p,
                upstream_offset: u,
                downstream_offset: d,
            })
        }),
    ]
}

/// A record whose value starts with a version: a heartbeat or a checkpoint.
fn versioned_record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (name(), name(), any::<i64>()).prop_map(|(s, t, ts)| Record::Heartbeat(Heartbeat {
            source_alias: s,
            target_alias: t,
            timestamp_ms: ts,
        })),
        (
            name(),
            name(),
            any::<i32>(),
            any::<i64>(),
            any::<i64>(),
            name()
        )
            .prop_map(|(g, t, p, u, d, m)| Record::Checkpoint(Checkpoint {
                group: g,
                topic: t,
                partition: p,
                upstream_offset: u,
                downstream_offset: d,
                metadata: m,
            })),
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

proptest! {
    /// Arbitrary bytes never panic any decoder; an error names its record type.
    #[test]
    fn arbitrary_bytes_decode_or_fail_cleanly(kind in kind(), key in bytes(80), value in bytes(80)) {
        match kind.decode(&key, &value) {
            Ok(r) => {
                // Whatever decoded encodes again and decodes to the same record.
                let (k, v) = r.encode();
                prop_assert_eq!(kind.decode(&k, &v), Ok(r));
            }
            Err(e) => {
                let text = e.to_string();
                let record = match kind {
                    Kind::Heartbeat => "Heartbeat",
                    Kind::Checkpoint => "Checkpoint",
                    Kind::OffsetSync => "OffsetSync",
                };
                prop_assert!(text.starts_with(record), "{}", text);
            }
        }
    }

    /// String lengths that claim more (or negative) bytes than there are.
    #[test]
    fn string_lengths_that_lie_fail_cleanly(
        kind in kind(),
        len in any::<i16>(),
        rest in bytes(40),
        value in bytes(40),
    ) {
        let mut key = len.to_be_bytes().to_vec();
        key.extend_from_slice(&rest);
        if let Err(e) = kind.decode(&key, &value) {
            let clean = matches!(
                e,
                DecodeError::Truncated { .. }
                    | DecodeError::NegativeStringLength { .. }
                    | DecodeError::InvalidUtf8 { .. }
                    | DecodeError::UnsupportedVersion { .. }
            );
            prop_assert!(clean);
            if len < 0 {
                let negative = matches!(e, DecodeError::NegativeStringLength { length, .. } if length == len);
                prop_assert!(negative, "{:?}", e);
            }
        } else {
            prop_assert!(len >= 0 && (len as usize) <= rest.len());
        }
    }

    #[test]
    fn valid_records_round_trip(r in record()) {
        let (k, v) = r.encode();
        prop_assert_eq!(r.kind().decode(&k, &v), Ok(r));
    }

    /// A valid encoding cut short, at every length of the key and of the value, is `Truncated`.
    #[test]
    fn truncated_encodings_are_truncated_errors(r in record(), cut_key in any::<prop::sample::Index>(), cut_value in any::<prop::sample::Index>()) {
        let (k, v) = r.encode();
        let kind = r.kind();
        let short_key = &k[..cut_key.index(k.len())];
        let truncated = matches!(kind.decode(short_key, &v), Err(DecodeError::Truncated { part: Part::Key, .. }));
        prop_assert!(truncated);
        let short_value = &v[..cut_value.index(v.len())];
        let truncated = matches!(kind.decode(&k, short_value), Err(DecodeError::Truncated { part: Part::Value, .. }));
        prop_assert!(truncated);
    }

    /// Bytes appended to a valid key or value are ignored (as Java's readers ignore them).
    #[test]
    fn extended_encodings_read_as_the_same_record(r in record(), more_key in bytes(40), more_value in bytes(40)) {
        let (mut k, mut v) = r.encode();
        k.extend_from_slice(&more_key);
        v.extend_from_slice(&more_value);
        prop_assert_eq!(r.kind().decode(&k, &v), Ok(r));
    }

    /// Another version in a versioned value: >= 0 reads the v0 body, < 0 is refused.
    #[test]
    fn other_versions(r in versioned_record(), version in any::<i16>()) {
        prop_assert!(r.versioned());
        let (k, mut v) = r.encode();
        v[..2].copy_from_slice(&version.to_be_bytes());
        let decoded = r.kind().decode(&k, &v);
        if version >= 0 {
            prop_assert_eq!(decoded, Ok(r));
        } else {
            let refused = matches!(decoded, Err(DecodeError::UnsupportedVersion { version: v, .. }) if v == version);
            prop_assert!(refused);
        }
    }

    /// One byte of a valid encoding changed: decodes to something or fails cleanly.
    #[test]
    fn corrupted_encodings_never_panic(
        r in record(),
        in_key in any::<bool>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let (mut k, mut v) = r.encode();
        let target = if in_key { &mut k } else { &mut v };
        let i = at.index(target.len());
        target[i] = byte;
        if let Ok(d) = r.kind().decode(&k, &v) {
            let (k2, v2) = d.encode();
            prop_assert_eq!(r.kind().decode(&k2, &v2), Ok(d));
        }
    }
}
