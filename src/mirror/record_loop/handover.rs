//! Shards gained and released when several instances share the mirror (`deployment`): a gained
//! shard's partitions start from the positions read after the group assigned it; a released
//! shard's partitions stop fetching at once, and are let go only after what was in flight is
//! acknowledged (bounded) and their final positions are stored, so that the next owner resumes
//! exactly where this instance stopped.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use rdkafka::consumer::BaseConsumer;

use super::announce::announce;
use super::Core;
use crate::kafka::LogContext;
use crate::mirror::error::MirrorError;
use crate::mirror::progress::Positions;
use crate::mirror::shards::{shard_of, Released, RELEASE_TIMEOUT};

impl Core {
    /// Whether this instance copies `partition` of `topic` (always, unless shared).
    pub(super) fn owns(&self, topic: &str, partition: i32) -> bool {
        self.owned.as_ref().is_none_or(|o| o.owns(topic, partition))
    }

    /// The partitions of `shards` are this instance's from now on, from `positions`.
    pub(super) fn gain(&mut self, shards: Vec<u32>, positions: Positions) {
        let Some(owned) = &mut self.owned else {
            return;
        };
        let gained: BTreeSet<u32> = shards.into_iter().collect();
        owned.shards.extend(&gained);
        let count = owned.count;
        let in_gained = |topic: &str, p: i32| gained.contains(&shard_of(topic, p, count));
        // What was read now replaces what this instance knew of them (their last owner may have
        // moved them on since).
        self.positions.retain(|(t, p), _| !in_gained(t, *p));
        self.positions
            .extend(positions.into_iter().filter(|((t, p), _)| in_gained(t, *p)));
        let routes = Arc::clone(&self.routes);
        for route in routes.iter() {
            for p in 0..route.partitions {
                if !in_gained(&route.source_topic, p) {
                    continue;
                }
                let Some(slot) = self.index.get(&route.source_topic, p) else {
                    continue; // new to this instance: added with the routes below
                };
                // Copied here before and released since: a new slot from the position read.
                let (part, written) = self.start(route, p);
                self.replace(slot, part, written);
            }
        }
        self.apply_routes(&routes);
    }

    /// Lets the partitions of `shards` go: no more fetches, the records in flight acknowledged
    /// and every position stored (within [`RELEASE_TIMEOUT`]), then they are forgotten.
    pub(super) fn release(
        &mut self,
        consumer: &BaseConsumer<LogContext>,
        shards: &[u32],
    ) -> Result<Released, MirrorError> {
        let Some(owned) = &mut self.owned else {
            return Ok(Released::default());
        };
        let released: BTreeSet<u32> = shards.iter().copied().collect();
        for s in &released {
            owned.shards.remove(s);
        }
        let count = owned.count;
        let slots: Vec<usize> = self
            .index
            .iter()
            .filter(|(topic, p, _)| released.contains(&shard_of(topic, *p, count)))
            .map(|(_, _, slot)| slot)
            .collect();
        for &slot in &slots {
            let s = &mut self.slots[slot];
            if let Some(change) = s.part.route_removed() {
                announce(&self.telemetry, &s.part, &change, None, 0);
                self.dirty = true;
            }
        }
        // Unassigned before the wait: nothing more is fetched of them.
        self.follow(consumer)?;
        let stored = self.drain(Instant::now() + RELEASE_TIMEOUT);
        let mut partitions = 0;
        for &slot in &slots {
            let s = &mut self.slots[slot];
            if let Some(change) = s.part.revoked() {
                partitions += 1;
                announce(&self.telemetry, &s.part, &change, None, 0);
            }
            // Their next owner's progress records carry their maps from now on.
            self.spec
                .maps
                .withdraw(&s.part.source_topic, s.part.partition);
        }
        Ok(Released { partitions, stored })
    }
}
