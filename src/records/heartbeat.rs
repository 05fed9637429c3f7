use super::wire::{Reader, Writer};
use super::{DecodeError, EncodeError, Part};

const RECORD: &str = "Heartbeat";

/// One MM2 heartbeat: flow `source_alias -> target_alias` was alive at `timestamp_ms`. Written
/// to `heartbeats` (partition 0) on the target; compacted by (source, target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub source_alias: String,
    pub target_alias: String,
    /// Milliseconds since the Unix epoch (also the record's timestamp in MM2).
    pub timestamp_ms: i64,
}

impl Heartbeat {
    /// The value version this crate writes.
    pub const VERSION: i16 = 0;

    /// `sourceClusterAlias` STRING, `targetClusterAlias` STRING.
    pub fn encode_key(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(Writer::new(
            RECORD,
            Part::Key,
            4 + self.source_alias.len() + self.target_alias.len(),
        )
        .string("sourceClusterAlias", &self.source_alias)?
        .string("targetClusterAlias", &self.target_alias)?
        .finish())
    }

    /// `version` INT16 (0), `timestamp` INT64: always 10 bytes. Never fails; a `Result` like
    /// every other encoder, so callers handle all record types alike.
    pub fn encode_value(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(Writer::new(RECORD, Part::Value, 10)
            .i16(Self::VERSION)
            .i64(self.timestamp_ms)
            .finish())
    }

    /// Decodes a record; trailing bytes are ignored and any version >= 0 is read as v0.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Heartbeat, DecodeError> {
        let mut k = Reader::new(RECORD, Part::Key, key);
        let source_alias = k.string("sourceClusterAlias")?;
        let target_alias = k.string("targetClusterAlias")?;
        let mut v = Reader::new(RECORD, Part::Value, value);
        v.version()?;
        let timestamp_ms = v.i64("timestamp")?;
        Ok(Heartbeat {
            source_alias,
            target_alias,
            timestamp_ms,
        })
    }
}
