//! MM2's internal record formats, encoded and decoded byte for byte: [`Heartbeat`] (topic
//! `heartbeats`), [`Checkpoint`] (`<source>.checkpoints.internal`) and [`OffsetSync`]
//! (`mm2-offset-syncs.<alias>.internal`). Pure functions over byte slices, no I/O; depends on
//! nothing else in the crate. Topic names live in [`crate::policy`], not here.
//!
//! # Layouts
//!
//! These are Kafka's legacy `org.apache.kafka.common.protocol.types` schemas as MM2 declares them
//! in `connect/mirror-client` (`Heartbeat`, `Checkpoint`) and `connect/mirror` (`OffsetSync`).
//! A struct is its fields concatenated in order; all integers are big-endian and signed; a
//! STRING is an INT16 byte length (0..=32767, never null) followed by that many bytes of UTF-8.
//! Field names below are MM2's schema field names, which the errors quote.
//!
//! | record | key | value |
//! |---|---|---|
//! | Heartbeat | `sourceClusterAlias` STRING, `targetClusterAlias` STRING | `version` INT16 = 0, `timestamp` INT64 (ms) |
//! | Checkpoint | `group` STRING, `topic` STRING (downstream name), `partition` INT32 | `version` INT16 = 0, `upstreamOffset` INT64, `offset` INT64 (downstream), `metadata` STRING |
//! | OffsetSync | `topic` STRING (upstream name), `partition` INT32 | `upstreamOffset` INT64, `offset` INT64 (downstream); no version |
//!
//! Example: Heartbeat A→B at 1700000000000 is key `00 01 41 00 01 42`, value
//! `00 00 00 00 01 8b cf e5 68 00`. The unit tests pin every worked example byte for byte, and
//! the integration test `mm2_formats` has Kafka's own Java deserializers read what we write.
//!
//! # Versions and leniency (matching the deployed Java readers)
//!
//! Keys carry no version and are frozen (they are the compaction identity). Heartbeat and
//! Checkpoint values start with an INT16 version; only v0 exists. Java selects the body with an
//! `assert version == 0`, which is disabled in production JVMs, so Java reads *any* version with
//! the v0 body and never checks that the buffer is exhausted. We do the same: a version >= 0 is
//! read with the v0 body and trailing bytes (in keys and values) are ignored, so a future version
//! that only appends fields stays readable. Two deliberate differences, both stricter: a
//! negative version is rejected ([`DecodeError::UnsupportedVersion`]; no writer produces one),
//! and invalid UTF-8 is an error where Java would substitute U+FFFD. We always write version 0.

mod checkpoint;
mod heartbeat;
mod offset_sync;
mod wire;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use checkpoint::Checkpoint;
pub use heartbeat::Heartbeat;
pub use offset_sync::OffsetSync;
pub use wire::MAX_STRING_LEN;

/// Which half of a Kafka record a field sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Key,
    Value,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Key => "key",
            Part::Value => "value",
        })
    }
}

/// Why bytes are not a valid MM2 record. `record` is `Heartbeat`, `Checkpoint` or `OffsetSync`;
/// `field` is MM2's schema field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "{record} {part} truncated in field `{field}`: needs {needed} more bytes, {remaining} left"
    )]
    Truncated {
        record: &'static str,
        part: Part,
        field: &'static str,
        needed: usize,
        remaining: usize,
    },
    #[error("{record} {part} field `{field}` has a negative string length ({length})")]
    NegativeStringLength {
        record: &'static str,
        part: Part,
        field: &'static str,
        length: i16,
    },
    #[error("{record} {part} field `{field}` is not valid UTF-8 (bad byte at index {valid_up_to} of the string)")]
    InvalidUtf8 {
        record: &'static str,
        part: Part,
        field: &'static str,
        valid_up_to: usize,
    },
    #[error(
        "{record} value has unsupported version {version}; versions >= 0 are read with the v0 body"
    )]
    UnsupportedVersion { record: &'static str, version: i16 },
}

/// Why a record cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error(
        "{record} {part} field `{field}` is {len} bytes of UTF-8, more than a Kafka STRING holds \
         ({MAX_STRING_LEN}); shorten the name or value"
    )]
    StringTooLong {
        record: &'static str,
        part: Part,
        field: &'static str,
        len: usize,
    },
}
