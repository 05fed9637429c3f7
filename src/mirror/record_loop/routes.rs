//! Routes from topic sync, applied to the record loop's partition table: a new replicated
//! partition gets a slot (starting at its stored position if that belongs to the topic as it
//! is now), a partition whose topic is no longer replicated, or that its topic no longer has, is
//! removed (and resumes from its acknowledged position if it returns), and a partition whose
//! topic came back with another id (deleted and created again) is replaced by a new slot that
//! copies the new topic from its first offset.

use std::collections::HashSet;
use std::sync::Arc;

use super::announce::announce;
use super::persist::publish_map;
use super::{Core, Slot};
use crate::flow::{Route, RouteSet};
use crate::mirror::assignment::Held;
use crate::mirror::partitions::{Outcome, Partition};
use crate::mirror::progress::Written;
use crate::telemetry::events::{Event, PartitionAssigned, PartitionTelemetry};

impl Core {
    /// Brings the partition table in line with the published routes.
    pub(super) fn apply_routes(&mut self, set: &RouteSet) {
        let mut seen: HashSet<&str> = HashSet::new();
        for route in set.iter() {
            seen.insert(&route.source_topic);
            for p in 0..route.partitions {
                let existing = self
                    .index
                    .get(&route.source_topic)
                    .and_then(|slots| slots.get(p as usize))
                    .copied();
                match existing {
                    Some(slot) => self.route_again(slot, route),
                    None => self.add(route, p),
                }
            }
            // Fewer partitions than before (the topic was re-created smaller): the others go.
            let beyond: Vec<usize> = self
                .index
                .get(&route.source_topic)
                .map(|slots| {
                    slots
                        .iter()
                        .skip(route.partitions.max(0) as usize)
                        .copied()
                        .collect()
                })
                .unwrap_or_default();
            for slot in beyond {
                let s = &mut self.slots[slot];
                if let Some(change) = s.part.route_removed() {
                    announce(&self.telemetry, &s.part, &change, None, 0);
                    self.dirty = true;
                }
            }
        }
        for (topic, slots) in &self.index {
            if seen.contains(&**topic) {
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

    /// A partition the loop does not have yet.
    fn add(&mut self, route: &Route, p: i32) {
        let key = (route.source_topic.to_string(), p);
        let (part, change) = Partition::start(
            Arc::clone(&route.source_topic),
            p,
            Arc::clone(&route.remote_topic),
            self.positions.get(&key),
            route.topic_id.as_ref(),
        );
        if let Some(change) = &change {
            announce(&self.telemetry, &part, change, None, 0);
        }
        PartitionAssigned {
            topic: &route.source_topic,
            partition: p,
            remote: &route.remote_topic,
            from: part.fetch_from(),
        }
        .emit();
        let written = Written::starting_at(part.track().map(|t| t.committed()));
        let slot = self.push_slot(part, written);
        self.index
            .entry(Arc::clone(&route.source_topic))
            .or_default()
            .push(slot);
    }

    /// A partition the loop has, in the routes again: its topic's id is checked (a new id
    /// replaces the slot), and a removed partition comes back.
    fn route_again(&mut self, slot: usize, route: &Route) {
        let s = &mut self.slots[slot];
        match s.part.topic_seen(route.topic_id.as_ref()) {
            Outcome::Unchanged => {}
            Outcome::Changed(change) => announce(&self.telemetry, &s.part, &change, None, 0),
            Outcome::Replaced { change, successor } => {
                announce(&self.telemetry, &s.part, &change, None, 0);
                self.replace(slot, *successor);
                return;
            }
        }
        let s = &mut self.slots[slot];
        if let Some(change) = s.part.route_readded() {
            s.telemetry = PartitionTelemetry::new(
                &self.telemetry.name,
                &route.source_topic,
                s.part.partition,
            );
            announce(&self.telemetry, &s.part, &change, None, 0);
            self.dirty = true;
        }
    }

    /// The partition in `slot` was replaced (its source log is not the one its position was
    /// taken in): `successor` copies the source partition from now on, in a new slot, so that
    /// delivery reports still arriving for the old slot only reach the revoked partition. The
    /// consumer unassigns the old slot's partition and assigns it again at the successor's
    /// position. A slot is left behind per replacement (a few bytes; replacements are rare).
    pub(super) fn replace(&mut self, slot: usize, successor: Partition) {
        let (topic, p) = (Arc::clone(&successor.source_topic), successor.partition);
        let new = self.push_slot(successor, Written::starting_at(None));
        if let Some(slots) = self.index.get_mut(&topic) {
            if let Some(entry) = slots.get_mut(p as usize) {
                debug_assert_eq!(*entry, slot, "the replaced slot is the partition's");
                *entry = new;
            }
        }
        self.dirty = true;
    }

    /// Adds a slot for `part`, publishing its offset map for checkpoints (or withdrawing a map
    /// of an earlier incarnation of the topic: checkpoints never translate through it).
    fn push_slot(&mut self, mut part: Partition, written: Written) -> usize {
        if part.track().is_some() {
            // Translation works from the start, before any new record is copied.
            publish_map(&self.spec.maps, &self.telemetry, &mut part);
        } else {
            self.spec.maps.withdraw(&part.source_topic, part.partition);
        }
        let telemetry =
            PartitionTelemetry::new(&self.telemetry.name, &part.source_topic, part.partition);
        self.slots.push(Slot {
            written,
            part,
            held: Held::default(),
            telemetry,
            moved_ms: 0,
        });
        self.dirty = true;
        self.slots.len() - 1
    }
}
