//! Sharing a mirror between instances (`deployment`, docs/scaling.md): each source partition
//! belongs to one shard, a partition of the mirror's coordination topic on the target, and an
//! instance copies the partitions of the shards the group assigned it. What moves between
//! instances moves by [`Handover`]: gained shards come with their stored positions, released
//! ones are stopped, drained and stored before the instance lets them go.
//!
//! The shard of a partition is fixed by its topic's name, its number and the shard count, so
//! every instance computes the same one: the partitions of one topic step around the shards
//! from a hash of its name (golden-ratio spacing), and so spread over the instances.

use std::collections::BTreeSet;
use std::time::Duration;

use super::progress::Positions;

/// The longest a release waits for the records in flight and the final positions (the group
/// waits for the release; the next owner copies again what was not stored).
pub const RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

/// The shard of source partition `partition` of `topic`, of `shards` (at least 1): FNV-1a (32
/// bits) of the topic's name, plus the partition times [`stride`], modulo the shard count. A
/// topic's partitions thus step around the shards by about `shards / φ` (golden-ratio, or
/// Fibonacci, spacing), so that any run of consecutive shards, as the group may hand an
/// instance, and any shards dealt round-robin hold a share of every topic's partitions close to
/// their share of the shards; with a stride coprime to the count, `shards` consecutive partitions
/// land on `shards` different shards. Stable forever: the same partition is in the same shard in
/// every version and on every instance.
pub fn shard_of(topic: &str, partition: i32, shards: u32) -> u32 {
    let shards = shards.max(1);
    let mut h: u32 = 0x811c_9dc5;
    for b in topic.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let step = u64::from(partition.max(0).unsigned_abs()) * u64::from(stride(shards));
    ((u64::from(h) + step) % u64::from(shards)) as u32
}

/// The step between a topic's consecutive partitions: the whole number nearest `shards / φ`
/// that has no common divisor with `shards`, preferring one with none with 6 either (so that
/// shards dealt round-robin to two, three or four instances do not put a topic's partitions on
/// one of them), the nearer below on a tie.
pub fn stride(shards: u32) -> u32 {
    if shards <= 2 {
        return 1;
    }
    let ideal = (f64::from(shards) / 1.618_033_988_749_895).round() as i64;
    let near = || (0..i64::from(shards)).flat_map(|d| [ideal - d, ideal + d]);
    let coprime = |k: i64| k > 0 && k < i64::from(shards) && gcd(k as u32, shards) == 1;
    near()
        .find(|k| coprime(*k) && gcd(*k as u32, 6) == 1)
        .or_else(|| near().find(|k| coprime(*k)))
        .map_or(1, |k| k as u32)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Shards as ranges: `0-3,7,9-10`.
pub fn ranges(shards: &[u32]) -> String {
    let mut sorted = shards.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// The shards this instance owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owned {
    /// The number of shards of the mirror (partitions of its coordination topic).
    pub count: u32,
    pub shards: BTreeSet<u32>,
}

impl Owned {
    pub fn new(count: u32) -> Owned {
        Owned {
            count,
            shards: BTreeSet::new(),
        }
    }

    /// Whether this instance copies `partition` of `topic`.
    pub fn owns(&self, topic: &str, partition: i32) -> bool {
        self.shards
            .contains(&shard_of(topic, partition, self.count))
    }
}

/// What the coordinator tells the record path.
#[derive(Debug)]
pub enum Handover {
    /// Copy the partitions of `shards` from now on, each from its position in `positions` (read
    /// from the progress topic after the group assigned the shards, so it includes what their
    /// previous owner stored), or from its log start without one.
    Gain {
        shards: Vec<u32>,
        positions: Positions,
    },
    /// Stop fetching the partitions of `shards`, wait (bounded) for the records in flight, store
    /// their positions, forget them, and answer on `done`.
    Release {
        shards: Vec<u32>,
        done: std::sync::mpsc::SyncSender<Released>,
    },
}

/// What a release did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    /// Source partitions let go.
    pub partitions: usize,
    /// Every record in flight was acknowledged and their final positions were written and acknowledged: the next owner resumes exactly
    /// there. Otherwise it resumes from an earlier stored position and copies some records
    /// again (never fewer).
    pub stored: bool,
}

/// The record path's end of the coordinator's channel, with the mirror's shard count.
pub struct Sharing {
    pub count: u32,
    pub handover: tokio::sync::mpsc::Receiver<Handover>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topics_partitions_step_around_the_shards_from_its_hash() {
        // The hash of "" is FNV-1a's offset basis: 0x811c9dc5 = 2166136261.
        assert_eq!(shard_of("", 0, 64), (2_166_136_261u64 % 64) as u32);
        let strides: Vec<u32> = [3, 6, 8, 16, 24, 64, 100, 1000].map(stride).to_vec();
        assert_eq!(strides, [1, 5, 5, 11, 13, 41, 61, 617]);
        let first = shard_of("orders", 0, 64);
        for p in 0..100 {
            assert_eq!(shard_of("orders", p, 64), (first + 41 * p as u32) % 64);
        }
        // Coprime: 8 partitions on 8 shards, one each.
        let on: BTreeSet<u32> = (0..8).map(|p| shard_of("t", p, 8)).collect();
        assert_eq!(on.len(), 8);
        assert_eq!(shard_of("orders", 5, 1), 0);
        assert_eq!(shard_of("orders", 5, 0), 0, "no shards counts as one");
    }

    /// Golden-ratio spacing: any block of consecutive shards (what the cooperative-sticky
    /// assignor may move to a joining instance) holds close to its share of a topic.
    #[test]
    fn a_block_of_shards_holds_its_share_of_every_topic() {
        for (partitions, block) in [(24, 32), (24, 21), (100, 16), (12, 32)] {
            let held = (0..partitions)
                .filter(|p| shard_of("payments", *p, 64) < block)
                .count() as f64;
            let share = f64::from(partitions) * f64::from(block) / 64.0;
            assert!(
                (held - share).abs() <= 2.0,
                "{partitions} partitions, shards 0..{block}: {held} held, share {share}"
            );
        }
    }

    /// The values are part of the deployment's contract: instances of different versions must
    /// agree on every partition's shard during a rolling upgrade.
    #[test]
    fn the_shard_of_a_partition_never_changes() {
        assert_eq!(shard_of("orders", 0, 64), 44);
        assert_eq!(shard_of("payments", 3, 64), 33);
        assert_eq!(shard_of("A.orders", 7, 1000), 758);
    }

    #[test]
    fn shards_are_told_as_ranges() {
        assert_eq!(ranges(&[7, 0, 1, 2, 3, 9, 10, 3]), "0-3,7,9-10");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn an_instance_owns_the_partitions_of_its_shards() {
        let mut owned = Owned::new(8);
        assert!(!owned.owns("t", 0));
        owned.shards.insert(shard_of("t", 0, 8));
        assert!(owned.owns("t", 0));
        assert!(owned.owns("t", 8), "partition 8 is on the same shard of 8");
        assert!(!owned.owns("t", 1));
    }
}
