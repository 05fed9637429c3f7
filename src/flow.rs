//! Values passed between the stages over channels (see the data flow in the crate docs). Stages
//! depend on these types, never on each other.

use std::fmt;
use std::sync::Arc;

/// A Kafka topic id (KIP-516, in metadata since Kafka 2.8): the identity of one incarnation of a
/// topic. A topic deleted and created again under the same name gets a new id, and its offsets
/// start again, so a position is only meaningful together with the id of the log it was taken
/// in. Kept in Kafka's own text form (the 16 bytes in URL-safe base64 without padding, as
/// `kafka-topics.sh --describe` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicId(Arc<str>);

impl TopicId {
    /// The id from its two halves, as librdkafka gives them; `None` for Kafka's zero id (a
    /// broker that does not know topic ids).
    pub fn from_bits(most_significant: i64, least_significant: i64) -> Option<TopicId> {
        if most_significant == 0 && least_significant == 0 {
            return None;
        }
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&most_significant.to_be_bytes());
        bytes[8..].copy_from_slice(&least_significant.to_be_bytes());
        Some(TopicId(Arc::from(base64_url(&bytes).as_str())))
    }

    /// An id as written (in the progress topic); `None` for an empty one.
    pub fn parse(text: &str) -> Option<TopicId> {
        let text = text.trim();
        (!text.is_empty()).then(|| TopicId(Arc::from(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// URL-safe base64 without padding (Java's `Base64.getUrlEncoder().withoutPadding()`, which
/// Kafka's `Uuid.toString` uses; librdkafka's own `rd_kafka_Uuid_base64str` uses the standard
/// alphabet, which spells some ids differently from Kafka's tools).
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// One replicated topic: where it comes from, where it goes, how many partitions the record
/// path may copy (partitions that exist on both sides), and which incarnation of the source
/// topic it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub source_topic: Arc<str>,
    pub remote_topic: Arc<str>,
    pub partitions: i32,
    /// The source topic's id; `None` when the source cluster does not report topic ids.
    pub topic_id: Option<TopicId>,
}

/// The full set of routes of one mirror, published by topic sync whenever it changes.
pub type RouteSet = Arc<Vec<Route>>;

/// The latest offset map of one replicated source partition.
#[derive(Debug, Clone)]
pub struct PartitionMap {
    pub remote_topic: Arc<str>,
    pub map: crate::offset_map::OffsetMap,
}

/// Offset maps by source (topic, partition): written by the record path with every progress
/// write (so they only cover what is acknowledged), read by checkpoints.
pub type OffsetMaps =
    Arc<std::sync::RwLock<std::collections::HashMap<(String, i32), PartitionMap>>>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids as Kafka's `Uuid.toString` spells them: big-endian halves, URL-safe alphabet (the
    /// last id needs `-` and `_`), no padding.
    #[test]
    fn topic_ids_are_spelled_as_kafka_spells_them() {
        let id = |msb: u64, lsb: u64| {
            TopicId::from_bits(msb as i64, lsb as i64)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        assert_eq!(id(0, 0), "", "the zero id means no id");
        assert_eq!(id(0, 1), "AAAAAAAAAAAAAAAAAAAAAQ");
        assert_eq!(id(u64::MAX, u64::MAX), "_____________________w");
        assert_eq!(
            id(0xfbfb_fbfb_fbfb_fbfb, 0xf8f8_f8f8_f8f8_f8f8),
            "-_v7-_v7-_v4-Pj4-Pj4-A"
        );
        assert_eq!(TopicId::parse(" x "), TopicId::parse("x"));
        assert_eq!(TopicId::parse(""), None);
    }
}
