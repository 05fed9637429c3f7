//! Sharing a mirror between instances (`deployment`, docs/scaling.md): each source partition
//! belongs to one shard, a partition of the mirror's coordination topic on the target, and an
//! instance copies the partitions of the shards the group assigned it. What moves between
//! instances moves by [`Handover`]: gained shards come with their stored positions, released
//! ones are stopped, drained and stored before the instance lets them go.
//!
//! The shard of a partition is fixed by its topic's name, its number and the shard count, so
//! every instance computes the same one: the partitions of one topic sit on consecutive shards
//! from a hash of its name, and so spread over the instances.

use std::collections::BTreeSet;
use std::time::Duration;

use super::progress::Positions;

/// The longest a release waits for the records in flight and the final positions (the group
/// waits for the release; the next owner copies again what was not stored).
pub const RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

/// The shard of source partition `partition` of `topic`, of `shards` (at least 1): FNV-1a (32
/// bits) of the topic's name, plus the partition, modulo the shard count. Stable forever: the
/// same partition is in the same shard in every version and on every instance.
pub fn shard_of(topic: &str, partition: i32, shards: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in topic.as_bytes() {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let sum = u64::from(h) + u64::from(partition.max(0).unsigned_abs());
    (sum % u64::from(shards.max(1))) as u32
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
    fn a_topics_partitions_sit_on_consecutive_shards_from_its_hash() {
        // The hash of "" is FNV-1a's offset basis: 0x811c9dc5 = 2166136261.
        assert_eq!(shard_of("", 0, 64), (2_166_136_261u64 % 64) as u32);
        let first = shard_of("orders", 0, 64);
        for p in 0..100 {
            assert_eq!(shard_of("orders", p, 64), (first + p as u32) % 64);
        }
        assert_eq!(shard_of("orders", 5, 1), 0);
        assert_eq!(shard_of("orders", 5, 0), 0, "no shards counts as one");
    }

    /// The values are part of the deployment's contract: instances of different versions must
    /// agree on every partition's shard during a rolling upgrade.
    #[test]
    fn the_shard_of_a_partition_never_changes() {
        assert_eq!(shard_of("orders", 0, 64), 44);
        assert_eq!(shard_of("payments", 3, 64), 41);
        assert_eq!(shard_of("A.orders", 7, 1000), 446);
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
