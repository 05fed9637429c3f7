//! Making the source consumer follow the partitions' states: which partitions it has assigned,
//! which are paused, where each fetches from. [`plan`] is pure (what to change, given what the
//! consumer has); [`apply`] makes the calls, none of which waits on the network.
//!
//! Assignment changes are incremental and rare (a partition is added once and removed once);
//! stops and retries use pause and resume, rewinds use seek; a partition whose fetcher librdkafka
//! stopped (position out of range) is unassigned and assigned again, since librdkafka refuses a
//! seek in that state. Re-assigning the whole set
//! repeatedly races in librdkafka 2.12 (an assertion on duplicate fetch stops, librdkafka issue
//! 5573).

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use super::partitions::{Partition, Reposition};

/// What the consumer has of one partition.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub assigned: bool,
    pub paused: bool,
}

/// The calls that bring the consumer in line, by slot. Seeks run while the partition is still
/// paused, before it is resumed, so that nothing is fetched from the old position.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Slots to assign, at their fetch position (`None`: the log start).
    pub assign: Vec<(usize, Option<i64>)>,
    pub unassign: Vec<usize>,
    pub pause: Vec<usize>,
    pub seek: Vec<(usize, i64)>,
    pub resume: Vec<usize>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.assign.is_empty()
            && self.unassign.is_empty()
            && self.pause.is_empty()
            && self.seek.is_empty()
            && self.resume.is_empty()
    }
}

/// The changes that make the consumer's `held` view match what each partition wants; updates
/// `held` and marks the partitions positioned as if the changes had been applied.
pub fn plan<'a>(slots: impl Iterator<Item = (&'a mut Partition, &'a mut Held)>) -> Changes {
    let mut c = Changes::default();
    for (slot, (part, held)) in slots.enumerate() {
        let want_assigned = part.wants_assigned();
        let want_paused = part.wants_paused();
        if want_assigned && !held.assigned {
            c.assign.push((slot, part.fetch_from()));
            *held = Held {
                assigned: true,
                paused: false,
            };
            part.positioned();
        } else if !want_assigned && held.assigned {
            c.unassign.push(slot);
            *held = Held::default();
            continue;
        }
        if !held.assigned {
            continue;
        }
        if part.reposition() == Some(Reposition::Reassign) {
            c.unassign.push(slot);
            c.assign.push((slot, part.fetch_from()));
            held.paused = false;
            part.positioned();
        }
        if part.reposition() == Some(Reposition::Seek) && !want_paused {
            if let Some(from) = part.fetch_from() {
                c.seek.push((slot, from));
            }
            part.positioned();
        }
        if want_paused != held.paused {
            if want_paused {
                c.pause.push(slot);
            } else {
                c.resume.push(slot);
            }
            held.paused = want_paused;
        }
    }
    c
}

/// Applies `changes` to `consumer`; `part(slot)` names a slot's partition.
pub fn apply<'a, C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    changes: &Changes,
    part: impl Fn(usize) -> &'a Partition,
) -> Result<(), KafkaError> {
    let list = |slots: &mut dyn Iterator<Item = (usize, Option<Offset>)>| {
        let mut tpl = TopicPartitionList::new();
        for (slot, offset) in slots {
            let p = part(slot);
            match offset {
                Some(o) => tpl.add_partition_offset(&p.source_topic, p.partition, o)?,
                None => {
                    tpl.add_partition(&p.source_topic, p.partition);
                }
            }
        }
        Ok::<_, KafkaError>(tpl)
    };
    if !changes.unassign.is_empty() {
        consumer.incremental_unassign(&list(&mut changes.unassign.iter().map(|&s| (s, None)))?)?;
    }
    if !changes.assign.is_empty() {
        let mut assign = changes
            .assign
            .iter()
            .map(|&(s, from)| (s, Some(from.map_or(Offset::Beginning, Offset::Offset))));
        consumer.incremental_assign(&list(&mut assign)?)?;
    }
    if !changes.pause.is_empty() {
        consumer.pause(&list(&mut changes.pause.iter().map(|&s| (s, None)))?)?;
    }
    for &(slot, from) in &changes.seek {
        let p = part(slot);
        // Asynchronous (timeout 0): the seek raises the partition's version barrier at once, so
        // records fetched from the old position are dropped, and nothing waits on the broker.
        consumer.seek(
            &p.source_topic,
            p.partition,
            Offset::Offset(from),
            std::time::Duration::ZERO,
        )?;
    }
    if !changes.resume.is_empty() {
        consumer.resume(&list(&mut changes.resume.iter().map(|&s| (s, None)))?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use rdkafka::types::RDKafkaErrorCode;

    use super::*;
    use crate::mirror::progress::Stored;

    fn parts(n: usize) -> Vec<(Partition, Held)> {
        (0..n)
            .map(|i| {
                let stored = Stored {
                    next_offset: 10,
                    map: Default::default(),
                    topic_id: None,
                    from_mm2: false,
                };
                (
                    Partition::new("t".into(), i as i32, "A.t".into(), Some(&stored)),
                    Held::default(),
                )
            })
            .collect()
    }

    fn plan_all(slots: &mut [(Partition, Held)]) -> Changes {
        plan(slots.iter_mut().map(|(p, h)| (p, h)))
    }

    #[test]
    fn partitions_are_assigned_once_paused_seeked_and_resumed_as_their_state_asks() {
        let now = Instant::now();
        let mut slots = parts(3);
        let c = plan_all(&mut slots);
        assert_eq!(c.assign, [(0, Some(10)), (1, Some(10)), (2, Some(10))]);
        assert!(plan_all(&mut slots).is_empty(), "nothing changed: no calls");

        // Slot 0 fails transiently (paused), slot 1 is removed.
        slots[0].0.produced(10, 0);
        slots[0]
            .0
            .delivery_failed(10, Some(RDKafkaErrorCode::BrokerTransportFailure), now);
        slots[1].0.route_removed();
        let c = plan_all(&mut slots);
        assert_eq!(c.pause, [0]);
        assert_eq!(c.unassign, [1]);
        assert!(c.assign.is_empty() && c.seek.is_empty() && c.resume.is_empty());

        // The retry is due: seek to the acknowledged position, then resume. Slot 1 returns and
        // is assigned again at its position.
        slots[0]
            .0
            .retry_due(now + std::time::Duration::from_secs(5));
        slots[1].0.route_readded();
        let c = plan_all(&mut slots);
        assert_eq!(c.seek, [(0, 10)]);
        assert_eq!(c.resume, [0]);
        assert_eq!(c.assign, [(1, Some(10))]);
        assert_eq!(slots[1].0.reposition(), None, "assigning positions it");
        assert!(plan_all(&mut slots).is_empty());
    }

    #[test]
    fn a_position_out_of_range_is_assigned_again_not_seeked() {
        let mut slots = parts(1);
        plan_all(&mut slots);
        slots[0].0.produced(10, 0);
        // The log now starts at 50: librdkafka stopped fetching the partition.
        let log = crate::mirror::partitions::SourceLog {
            low: 50,
            high: 90,
            topic_id: None,
        };
        let outcome = slots[0]
            .0
            .offset_out_of_range(&log, crate::config::OnDataGap::Continue);
        assert!(matches!(
            outcome,
            crate::mirror::partitions::Outcome::Changed(_)
        ));
        let c = plan_all(&mut slots);
        assert_eq!(c.unassign, [0]);
        assert_eq!(c.assign, [(0, Some(50))], "fetched again at the log start");
        assert!(c.seek.is_empty() && c.pause.is_empty() && c.resume.is_empty());
        assert!(plan_all(&mut slots).is_empty());
    }

    #[test]
    fn a_partition_without_a_position_starts_at_the_log_start() {
        let mut slots = vec![(
            Partition::new("t".into(), 0, "A.t".into(), None),
            Held::default(),
        )];
        assert_eq!(plan_all(&mut slots).assign, [(0, None)]);
    }
}
