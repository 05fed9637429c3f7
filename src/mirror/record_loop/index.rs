//! Which slot of the loop holds each source partition. A partition's number is its place in its
//! topic's row; a partition without a slot here (another instance copies it, when several
//! share the mirror) leaves a hole.

use std::collections::HashMap;
use std::sync::Arc;

/// A hole in a topic's row.
const NONE: usize = usize::MAX;

/// Source topic -> slot per partition number.
#[derive(Debug, Default)]
pub struct Index(HashMap<Arc<str>, Vec<usize>>);

impl Index {
    /// The slot of `partition` of `topic`.
    pub fn get(&self, topic: &str, partition: i32) -> Option<usize> {
        let slot = *self.0.get(topic)?.get(usize::try_from(partition).ok()?)?;
        (slot != NONE).then_some(slot)
    }

    /// Puts `partition` of `topic` in `slot`.
    pub fn set(&mut self, topic: &Arc<str>, partition: i32, slot: usize) {
        let Ok(p) = usize::try_from(partition) else {
            return;
        };
        let row = self.0.entry(Arc::clone(topic)).or_default();
        if row.len() <= p {
            row.resize(p + 1, NONE);
        }
        row[p] = slot;
    }

    /// The slots of `topic`'s partitions from number `from` on.
    pub fn from(&self, topic: &str, from: i32) -> Vec<usize> {
        let skip = usize::try_from(from.max(0)).unwrap_or(0);
        self.0.get(topic).map_or_else(Vec::new, |row| {
            row.iter()
                .skip(skip)
                .copied()
                .filter(|s| *s != NONE)
                .collect()
        })
    }

    /// Every (topic, partition, slot).
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, i32, usize)> + '_ {
        self.0.iter().flat_map(|(topic, row)| {
            row.iter()
                .enumerate()
                .filter(|(_, s)| **s != NONE)
                .map(move |(p, s)| (topic, p as i32, *s))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_keep_their_numbers_with_holes_between() {
        let t: Arc<str> = Arc::from("t");
        let mut index = Index::default();
        index.set(&t, 4, 0);
        index.set(&t, 1, 1);
        assert_eq!(index.get("t", 4), Some(0));
        assert_eq!(index.get("t", 1), Some(1));
        assert_eq!(index.get("t", 0), None);
        assert_eq!(index.get("t", 9), None);
        assert_eq!(index.get("t", -1), None);
        assert_eq!(index.get("u", 1), None);
        assert_eq!(index.from("t", 2), [0]);
        let mut all: Vec<_> = index
            .iter()
            .map(|(t, p, s)| (t.to_string(), p, s))
            .collect();
        all.sort();
        assert_eq!(all, [("t".to_string(), 1, 1), ("t".to_string(), 4, 0)]);
        index.set(&t, 4, 7);
        assert_eq!(
            index.get("t", 4),
            Some(7),
            "a successor takes the partition's place"
        );
    }
}
