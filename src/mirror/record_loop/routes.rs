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
        self.routes = Arc::clone(set);
        let mut seen: HashSet<&str> = HashSet::new();
        for route in set.iter() {
            seen.insert(&route.source_topic);
            for p in 0..route.partitions {
                if !self.owns(&route.source_topic, p) {
                    // Another instance's (scale-out): a slot left from when this one owned it
                    // was revoked when it was released.
                    continue;
                }
                match self.index.get(&route.source_topic, p) {
                    Some(slot) => self.route_again(slot, route),
                    None => self.add(route, p),
                }
            }
            // Fewer partitions than before (the topic was re-created smaller): the others go.
            for slot in self.index.from(&route.source_topic, route.partitions) {
                let s = &mut self.slots[slot];
                if let Some(change) = s.part.route_removed() {
                    announce(&self.telemetry, &s.part, &change, None, 0);
                    self.dirty = true;
                }
            }
        }
        for (topic, _, slot) in self.index.iter() {
            if seen.contains(&**topic) {
                continue;
            }
            let s = &mut self.slots[slot];
            if let Some(change) = s.part.route_removed() {
                announce(&self.telemetry, &s.part, &change, None, 0);
                self.dirty = true;
            }
        }
    }

    /// A partition the loop does not have yet.
    fn add(&mut self, route: &Route, p: i32) {
        let (part, written) = self.start(route, p);
        let slot = self.push_slot(part, written);
        self.index.set(&route.source_topic, p, slot);
    }

    /// Partition `p` of `route`, starting at its stored position (told as assigned), and what
    /// the progress topic has of it.
    pub(super) fn start(&self, route: &Route, p: i32) -> (Partition, Written) {
        let stored = self.positions.get(&(route.source_topic.to_string(), p));
        let (part, change) = Partition::start(
            Arc::clone(&route.source_topic),
            p,
            Arc::clone(&route.remote_topic),
            stored,
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
        // A position taken over from MM2 is not in the progress topic yet: written at the next
        // persist, whether or not records follow.
        let persisted = stored.is_some_and(|s| !s.from_mm2);
        let written =
            Written::starting_at(part.track().filter(|_| persisted).map(|t| t.committed()));
        (part, written)
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
                self.replace(slot, *successor, Written::starting_at(None));
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
    pub(super) fn replace(&mut self, slot: usize, successor: Partition, written: Written) {
        let (topic, p) = (Arc::clone(&successor.source_topic), successor.partition);
        let new = self.push_slot(successor, written);
        debug_assert_eq!(
            self.index.get(&topic, p),
            Some(slot),
            "the replaced slot is the partition's"
        );
        self.index.set(&topic, p, new);
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
        let saved = match &self.txn {
            Some(_) => super::transaction::Saved {
                track: part.savepoint(),
                written,
            },
            None => super::transaction::Saved::default(),
        };
        self.slots.push(Slot {
            written,
            part,
            held: Held::default(),
            telemetry,
            moved_ms: 0,
            saved,
        });
        self.dirty = true;
        self.slots.len() - 1
    }
}
