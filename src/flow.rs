//! Values passed between the stages over channels (see the data flow in the crate docs). Stages
//! depend on these types, never on each other.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use crate::offset_map::{self, OffsetMap};

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
    pub map: OffsetMap,
    /// Runs were dropped for lack of room (the memory cap, or the size of a progress record):
    /// committed offsets below this upstream offset lost their exact translation.
    pub lost_below: Option<i64>,
    /// Heap bytes of the record path's map when it was published (what counts against the
    /// memory cap; the published copy shares its chunks).
    pub bytes: usize,
}

/// Offset maps by source (topic, partition): written by the record path with every progress
/// write (so they only cover what is acknowledged), read by checkpoints. Checkpoints tell it
/// the committed offsets of the groups they translate, so that the record path keeps exactly
/// the history those groups need ([`OffsetMaps::publish`]), within the mirror's memory cap
/// (`offset_map_memory`).
#[derive(Debug, Clone)]
pub struct OffsetMaps {
    shared: Arc<RwLock<Shared>>,
    memory_cap: usize,
}

impl Default for OffsetMaps {
    fn default() -> Self {
        OffsetMaps::new(crate::config::defaults::OFFSET_MAP_MEMORY)
    }
}

/// (source topic, partition)
pub type PartitionKey = (String, i32);

/// The committed offsets of the selected groups on one partition, ascending.
pub type GroupOffsets = Vec<(i64, Arc<str>)>;

#[derive(Debug, Default)]
struct Shared {
    maps: HashMap<PartitionKey, PartitionMap>,
    /// Heap bytes and runs of the maps in `maps`.
    bytes: usize,
    runs: usize,
    /// The per-partition limit while the maps exceed the memory cap, and how many publishes
    /// ago it was computed: computed again once every partition could have published since
    /// (sorting every map's size at each publish would cost O(partitions²) a second).
    limit: Option<(usize, usize)>,
    /// From the last checkpoint round that read every selected group: per partition it asked
    /// about, the groups' committed offsets (empty: no group has one). A partition missing here
    /// is not known yet, and keeps its history.
    groups: HashMap<PartitionKey, GroupOffsets>,
    /// Per partition, the groups named by the last warning about lost history.
    warned: HashMap<PartitionKey, Vec<Arc<str>>>,
}

/// What [`OffsetMaps::publish`] did to a map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kept {
    /// Runs dropped because no selected group's committed offset needs them.
    pub pruned: usize,
    /// Runs dropped because the mirror's maps exceed `offset_map_memory`.
    pub over_memory: usize,
    /// Runs dropped because the map would not fit in a progress record.
    pub over_record: usize,
    /// When runs were dropped for lack of room: the groups whose committed offset is now older
    /// than the map (they get no checkpoint until they catch up with it).
    pub lost_groups: Vec<Arc<str>>,
    /// The first upstream offset the map still translates.
    pub first: Option<i64>,
    /// The partition lost history for the first time, or `lost_groups` names a group the last
    /// warning did not (warn again).
    pub changed: bool,
    /// The mirror's maps after this one: runs and heap bytes.
    pub total_runs: usize,
    pub total_bytes: usize,
}

impl OffsetMaps {
    /// Maps of one mirror, all together held to `memory_cap` bytes.
    pub fn new(memory_cap: u64) -> Self {
        OffsetMaps {
            shared: Arc::default(),
            memory_cap: usize::try_from(memory_cap).unwrap_or(usize::MAX),
        }
    }

    /// Trims `map` (the record path's own) to what is needed and what fits, then publishes a
    /// copy for checkpoints (chunks are shared, so the copy costs little):
    /// 1. runs below the lowest committed offset of the selected groups go (once checkpoints
    ///    have read every group; a partition no group has committed on keeps only its last run);
    /// 2. if the mirror's maps exceed the memory cap, the largest give up their oldest runs
    ///    first ([`offset_map::fair_limit`]);
    /// 3. what is left must fit in one progress record ([`offset_map::MAX_ENCODED_BYTES`]).
    pub fn publish(
        &self,
        topic: &str,
        partition: i32,
        remote_topic: &Arc<str>,
        map: &mut OffsetMap,
    ) -> Kept {
        let key = (topic.to_string(), partition);
        let mut shared = self.shared.write().expect("maps lock");
        let start = map.first_upstream();
        let mut kept = Kept::default();
        if let Some(offsets) = shared.groups.get(&key) {
            let lowest = offsets.first().map_or(i64::MAX, |(o, _)| *o);
            kept.pruned = map.prune_below(lowest);
        }
        let (own, own_runs) = shared
            .maps
            .get(&key)
            .map_or((0, 0), |p| (p.bytes, p.map.len()));
        let others = shared.bytes - own;
        if others + map.heap_bytes() > self.memory_cap {
            let limit = match shared.limit {
                Some((limit, age)) if age < shared.maps.len() => {
                    shared.limit = Some((limit, age + 1));
                    limit
                }
                _ => {
                    let mut sizes: Vec<usize> = shared
                        .maps
                        .iter()
                        .filter(|(k, _)| **k != key)
                        .map(|(_, p)| p.bytes)
                        .chain([map.heap_bytes()])
                        .collect();
                    let limit =
                        offset_map::fair_limit(&mut sizes, self.memory_cap).unwrap_or(usize::MAX);
                    shared.limit = Some((limit, 0));
                    limit
                }
            };
            kept.over_memory = map.drop_to_bytes(limit);
        } else {
            shared.limit = None;
        }
        kept.over_record = map.fit_encoded(offset_map::MAX_ENCODED_BYTES);
        kept.first = map.first_upstream();
        let mut lost_below = shared.maps.get(&key).and_then(|p| p.lost_below);
        if kept.over_memory + kept.over_record > 0 {
            lost_below = kept.first;
            let from = start.unwrap_or(i64::MIN);
            let below = kept.first.unwrap_or(i64::MAX);
            kept.lost_groups = shared
                .groups
                .get(&key)
                .map(|offsets| {
                    offsets
                        .iter()
                        .filter(|(o, _)| (from..below).contains(o))
                        .map(|(_, g)| Arc::clone(g))
                        .collect()
                })
                .unwrap_or_default();
            let first_time = !shared.warned.contains_key(&key);
            let warned = shared.warned.entry(key.clone()).or_default();
            kept.changed = first_time || kept.lost_groups.iter().any(|g| !warned.contains(g));
            if kept.changed {
                *warned = kept.lost_groups.clone();
            }
        }
        shared.bytes = others + map.heap_bytes();
        shared.runs = shared.runs - own_runs + map.len();
        shared.maps.insert(
            key,
            PartitionMap {
                remote_topic: Arc::clone(remote_topic),
                map: map.clone(),
                lost_below,
                bytes: map.heap_bytes(),
            },
        );
        kept.total_bytes = shared.bytes;
        kept.total_runs = shared.runs;
        kept
    }

    /// Withdraws the published map of a partition (its topic was deleted and created again:
    /// checkpoints must not translate through the old topic's offsets).
    pub fn withdraw(&self, topic: &str, partition: i32) {
        let key = (topic.to_string(), partition);
        let mut shared = self.shared.write().expect("maps lock");
        if let Some(old) = shared.maps.remove(&key) {
            shared.bytes -= old.bytes;
            shared.runs -= old.map.len();
        }
    }

    /// The partitions with a published map.
    pub fn partitions(&self) -> Vec<PartitionKey> {
        let shared = self.shared.read().expect("maps lock");
        shared.maps.keys().cloned().collect()
    }

    /// Runs `f` on the published maps (under the lock: keep it short).
    pub fn with<R>(&self, f: impl FnOnce(&HashMap<PartitionKey, PartitionMap>) -> R) -> R {
        f(&self.shared.read().expect("maps lock").maps)
    }

    /// The committed offsets of every selected group, per partition asked about, from a
    /// checkpoint round that read them all: the next publish of each of those partitions keeps
    /// only the runs at and above the lowest.
    pub fn set_group_offsets(&self, mut offsets: HashMap<PartitionKey, GroupOffsets>) {
        for o in offsets.values_mut() {
            o.sort();
        }
        self.shared.write().expect("maps lock").groups = offsets;
    }
}

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

    /// One record per transaction: record `i` at upstream `2i`, downstream `i`.
    fn transactions(n: i64) -> OffsetMap {
        let mut m = OffsetMap::default();
        for i in 0..n {
            m.record(2 * i, i);
        }
        m
    }

    fn groups(pairs: &[(i64, &str)]) -> GroupOffsets {
        pairs.iter().map(|(o, g)| (*o, Arc::from(*g))).collect()
    }

    #[test]
    fn publish_prunes_below_the_lowest_group_once_groups_are_known() {
        let maps = OffsetMaps::new(u64::MAX);
        let remote: Arc<str> = Arc::from("A.t");
        let mut m = transactions(1000);
        // No checkpoint round yet: everything stays.
        assert_eq!(maps.publish("t", 0, &remote, &mut m).pruned, 0);
        assert_eq!(m.len(), 1000);
        let mut offsets = HashMap::new();
        offsets.insert(
            ("t".to_string(), 0),
            groups(&[(1201, "slow"), (1900, "fast")]),
        );
        offsets.insert(("t".to_string(), 1), GroupOffsets::new());
        maps.set_group_offsets(offsets);
        let kept = maps.publish("t", 0, &remote, &mut m);
        assert_eq!(kept.pruned, 600, "runs below the slowest group's offset go");
        assert_eq!(kept.first, Some(1200));
        assert!(kept.lost_groups.is_empty());
        assert_eq!(m.translate(1201), Some(offset_map::Translation::Exact(601)));
        maps.with(|p| assert_eq!(p[&("t".to_string(), 0)].map, m));
        // A partition no group has committed on keeps only its last run; an unknown one all.
        let mut p1 = transactions(50);
        assert_eq!(maps.publish("t", 1, &remote, &mut p1).pruned, 49);
        let mut p2 = transactions(50);
        assert_eq!(maps.publish("t", 2, &remote, &mut p2).pruned, 0);
    }

    #[test]
    fn the_memory_cap_takes_from_the_largest_map_and_names_the_groups_it_cuts_off() {
        let one = transactions(10_000).heap_bytes() as u64;
        // Room for a bit more than one large map: two of them must share it.
        let maps = OffsetMaps::new(one + one / 2);
        let remote: Arc<str> = Arc::from("A.t");
        let mut offsets = HashMap::new();
        offsets.insert(
            ("t".to_string(), 0),
            groups(&[(10, "behind"), (19_000, "ahead")]),
        );
        maps.set_group_offsets(offsets);
        let mut small = transactions(100);
        let mut big = transactions(10_000);
        let mut other = transactions(10_000);
        assert_eq!(
            maps.publish("s", 0, &remote, &mut small),
            Kept {
                total_runs: 100,
                total_bytes: small.heap_bytes(),
                first: Some(0),
                ..Kept::default()
            }
        );
        let kept = maps.publish("t", 0, &remote, &mut big);
        assert_eq!(kept.over_memory, 0, "fits");
        let kept = maps.publish("u", 0, &remote, &mut other);
        assert!(kept.over_memory > 0, "the third map does not fit whole");
        let cap = (one + one / 2) as usize;
        let limit = (cap - small.heap_bytes()) / 2;
        assert!(
            other.heap_bytes() <= limit,
            "cut to an equal share: {} > {limit}",
            other.heap_bytes()
        );
        assert_eq!(
            kept.total_bytes,
            small.heap_bytes() + big.heap_bytes() + other.heap_bytes()
        );
        assert!(kept.lost_groups.is_empty(), "no group on u");
        assert!(kept.changed, "the first loss of u is news");
        // The next publish of t cuts it too, and says who lost exact translation.
        let kept = maps.publish("t", 0, &remote, &mut big);
        assert!(kept.over_memory > 0);
        assert_eq!(kept.lost_groups, vec![Arc::<str>::from("behind")]);
        assert!(kept.changed, "first warning");
        assert!(kept.total_bytes <= cap, "{kept:?}");
        assert_eq!(small.len(), 100, "the small map keeps everything");
        maps.with(|p| {
            assert_eq!(p[&("t".to_string(), 0)].lost_below, kept.first);
        });
        // The same loss again is not news.
        big.record(20_000, 10_000);
        let again = maps.publish("t", 0, &remote, &mut big);
        assert!(!again.changed);
    }
}
