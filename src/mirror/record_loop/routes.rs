//! Routes from topic sync, applied to the record loop's partition table: a new replicated
//! partition gets a slot (starting at its stored position), a partition whose topic is no longer
//! replicated is removed (and resumes from its acknowledged position if it returns).

use std::collections::HashMap;
use std::sync::Arc;

use super::announce::announce;
use super::persist::publish_map;
use super::{Core, Slot};
use crate::flow::RouteSet;
use crate::mirror::assignment::Held;
use crate::mirror::partitions::Partition;
use crate::mirror::progress::Written;
use crate::telemetry::events::{Event, PartitionAssigned, PartitionTelemetry};

impl Core {
    /// Brings the partition table in line with the published routes.
    pub(super) fn apply_routes(&mut self, set: &RouteSet) {
        let mirror = Arc::clone(&self.telemetry.name);
        let mut seen: HashMap<&str, ()> = HashMap::new();
        for route in set.iter() {
            seen.insert(&route.source_topic, ());
            let slots = self
                .index
                .entry(Arc::clone(&route.source_topic))
                .or_default();
            for p in 0..route.partitions {
                if let Some(&slot) = slots.get(p as usize) {
                    let s = &mut self.slots[slot];
                    if let Some(change) = s.part.route_readded() {
                        s.telemetry = PartitionTelemetry::new(&mirror, &route.source_topic, p);
                        announce(&self.telemetry, &s.part, &change, None, 0);
                        self.dirty = true;
                    }
                    continue;
                }
                let key = (route.source_topic.to_string(), p);
                let stored = self.positions.get(&key);
                let mut part = Partition::new(
                    Arc::clone(&route.source_topic),
                    p,
                    Arc::clone(&route.remote_topic),
                    stored,
                );
                // Translation works from the start, before any new record is copied.
                publish_map(&self.spec.maps, &self.telemetry, &mut part);
                PartitionAssigned {
                    topic: &route.source_topic,
                    partition: p,
                    remote: &route.remote_topic,
                    from: part.fetch_from(),
                }
                .emit();
                slots.push(self.slots.len());
                self.slots.push(Slot {
                    written: Written::starting_at(part.track().map(|t| t.committed())),
                    part,
                    held: Held::default(),
                    telemetry: PartitionTelemetry::new(&mirror, &route.source_topic, p),
                    moved_ms: 0,
                });
                self.dirty = true;
            }
        }
        for (topic, slots) in &self.index {
            if seen.contains_key(&**topic) {
                continue;
            }
            for &slot in slots {
                let s = &mut self.slots[slot];
                if let Some(change) = s.part.route_removed() {
                    announce(&self.telemetry, &s.part, &change, None, 0);
                    self.dirty = true;
                }
            }
        }
    }
}
