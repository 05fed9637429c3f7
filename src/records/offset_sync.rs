use super::wire::{Reader, Writer};
use super::{DecodeError, EncodeError, Part};

const RECORD: &str = "OffsetSync";

/// One MM2 offset sync: the record at `upstream_offset` of source `topic`/`partition` was
/// written at `downstream_offset` on the target. Written to `mm2-offset-syncs.<alias>.internal`
/// (partition 0); compacted by (topic, partition). Unversioned: any change is a breaking one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSync {
    /// The upstream (source-cluster) topic name.
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
}

impl OffsetSync {
    /// `topic` STRING, `partition` INT32.
    pub fn encode_key(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(Writer::new(RECORD, Part::Key, 6 + self.topic.len())
            .string("topic", &self.topic)?
            .i32(self.partition)
            .finish())
    }

    /// `upstreamOffset` INT64, `offset` INT64: always 16 bytes, no version header. Never
    /// fails; a `Result` like every other encoder, so callers handle all record types alike.
    pub fn encode_value(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(Writer::new(RECORD, Part::Value, 16)
            .i64(self.upstream_offset)
            .i64(self.downstream_offset)
            .finish())
    }

    /// Decodes a record; trailing bytes are ignored.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<OffsetSync, DecodeError> {
        let mut k = Reader::new(RECORD, Part::Key, key);
        let topic = k.string("topic")?;
        let partition = k.i32("partition")?;
        let mut v = Reader::new(RECORD, Part::Value, value);
        let upstream_offset = v.i64("upstreamOffset")?;
        let downstream_offset = v.i64("offset")?;
        Ok(OffsetSync {
            topic,
            partition,
            upstream_offset,
            downstream_offset,
        })
    }
}
