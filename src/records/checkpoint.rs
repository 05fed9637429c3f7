use super::wire::{Reader, Writer};
use super::{DecodeError, EncodeError, Part};

const RECORD: &str = "Checkpoint";

/// One MM2 checkpoint: consumer group `group`, committed at `upstream_offset` of a source
/// partition, should resume at `downstream_offset` of `topic`/`partition` on the target. Written
/// to `<source>.checkpoints.internal` (partition 0) on the target; compacted by
/// (group, topic, partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub group: String,
    /// The downstream (renamed) topic as it exists on the target, e.g. `A.orders`.
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
    /// The source commit's metadata; `""` when there was none (the wire has no null).
    pub metadata: String,
}

impl Checkpoint {
    /// The value version this crate writes.
    pub const VERSION: i16 = 0;

    /// `group` STRING, `topic` STRING, `partition` INT32.
    pub fn encode_key(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(
            Writer::new(RECORD, Part::Key, 8 + self.group.len() + self.topic.len())
                .string("group", &self.group)?
                .string("topic", &self.topic)?
                .i32(self.partition)
                .finish(),
        )
    }

    /// `version` INT16 (0), `upstreamOffset` INT64, `offset` INT64, `metadata` STRING.
    pub fn encode_value(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(Writer::new(RECORD, Part::Value, 20 + self.metadata.len())
            .i16(Self::VERSION)
            .i64(self.upstream_offset)
            .i64(self.downstream_offset)
            .string("metadata", &self.metadata)?
            .finish())
    }

    /// Decodes a record; trailing bytes are ignored and any version >= 0 is read as v0.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Checkpoint, DecodeError> {
        let mut k = Reader::new(RECORD, Part::Key, key);
        let group = k.string("group")?;
        let topic = k.string("topic")?;
        let partition = k.i32("partition")?;
        let mut v = Reader::new(RECORD, Part::Value, value);
        v.version()?;
        let upstream_offset = v.i64("upstreamOffset")?;
        let downstream_offset = v.i64("offset")?;
        let metadata = v.string("metadata")?;
        Ok(Checkpoint {
            group,
            topic,
            partition,
            upstream_offset,
            downstream_offset,
            metadata,
        })
    }
}
