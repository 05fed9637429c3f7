//! Per-partition acknowledgement tracking: which source offsets are in flight to the target, and
//! the position that is safe to persist (every record before it was acknowledged by the target).
//! Pure data structure; the record loop drives it.

use std::collections::VecDeque;

use crate::offset_map::OffsetMap;

/// The state of one source partition in the record path.
#[derive(Debug, Clone)]
pub struct PartitionTrack {
    /// Produced but not yet resolved, in produce order (ascending offsets), with the downstream
    /// offset once acknowledged and the record's source timestamp (ms).
    inflight: VecDeque<(i64, Option<i64>, i64)>,
    /// The source timestamp of the last record acknowledged.
    last_ts: Option<i64>,
    /// The offset to fetch next (after the last record handed to the producer).
    next_fetch: i64,
    /// Every record below this offset is acknowledged by the target (or was never there).
    committed: i64,
    /// Upstream -> downstream offsets of the acknowledged records, fed in upstream order.
    map: OffsetMap,
    /// Where copying (re)started, until the first acknowledgement: no record lies between it
    /// and the first copied record, so those offsets translate to that record.
    floor: Option<i64>,
    /// The target's log went back: (downstream end the map had reached, offset of the record
    /// acknowledged below it). Taken by the partition.
    target_reset: Option<(i64, i64)>,
}

impl PartitionTrack {
    /// Starts tracking at `position` (the next offset to fetch; nothing before it is owed).
    pub fn new(position: i64) -> Self {
        PartitionTrack {
            inflight: VecDeque::new(),
            next_fetch: position,
            committed: position,
            map: OffsetMap::default(),
            floor: Some(position),
            last_ts: None,
            target_reset: None,
        }
    }

    /// Starts at `first`, the first record read from the beginning of the log: nothing that
    /// still exists lies before it.
    pub fn from_log_start(first: i64) -> Self {
        PartitionTrack {
            floor: Some(0),
            ..PartitionTrack::new(first)
        }
    }

    /// Starts at `position` with the offset map persisted with it.
    pub fn with_map(position: i64, map: OffsetMap) -> Self {
        PartitionTrack {
            map,
            ..PartitionTrack::new(position)
        }
    }

    pub fn map(&self) -> &OffsetMap {
        &self.map
    }

    /// The map, to drop history no one needs (`flow::OffsetMaps::publish`).
    pub fn map_mut(&mut self) -> &mut OffsetMap {
        &mut self.map
    }

    pub fn next_fetch(&self) -> i64 {
        self.next_fetch
    }

    pub fn committed(&self) -> i64 {
        self.committed
    }

    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    /// The source timestamp of the oldest record in flight.
    pub fn oldest_inflight_ts(&self) -> Option<i64> {
        self.inflight.front().map(|e| e.2)
    }

    /// The source timestamp of the last record acknowledged.
    pub fn last_ts(&self) -> Option<i64> {
        self.last_ts
    }

    /// A record at `offset` with source timestamp `ts` was handed to the producer.
    pub fn produced(&mut self, offset: i64, ts: i64) {
        debug_assert!(offset >= self.next_fetch, "offsets go forward");
        self.inflight.push_back((offset, None, ts));
        self.next_fetch = offset + 1;
    }

    /// The target acknowledged the record at `offset`, written at `downstream`. Returns false if
    /// the offset was not in flight (a report from before a rewind), which is ignored.
    pub fn acked(&mut self, offset: i64, downstream: i64) -> bool {
        let Some(idx) = self.find(offset) else {
            return false;
        };
        self.inflight[idx].1 = Some(downstream);
        while let Some(&(off, Some(d), ts)) = self.inflight.front() {
            self.inflight.pop_front();
            self.committed = off + 1;
            self.last_ts = Some(ts);
            // The target's log only grows (a second copy lands after the first): a record
            // written below what the map reached means that log was deleted and re-created,
            // or truncated. The old map describes records that are gone; it is forgotten so
            // that no offset is translated into the new log through it.
            let end = self.map.last().map(|r| r.d + r.len);
            if let Some(end) = end.filter(|&end| d < end) {
                self.target_reset = Some((end, d));
                self.map = OffsetMap::default();
                self.floor = None;
            }
            match self.floor.take() {
                Some(floor) => self.map.record_first(floor, off, d),
                None => self.map.record(off, d),
            }
        }
        if self.inflight.is_empty() {
            // Gaps after the last acked record (transaction markers, compacted offsets) are
            // covered too: nothing below next_fetch is owed.
            self.committed = self.next_fetch;
        }
        true
    }

    /// Whether (and how far) the target's log went back since last asked: (downstream end the
    /// map had reached, offset the target wrote a record at below it).
    pub fn take_target_reset(&mut self) -> Option<(i64, i64)> {
        self.target_reset.take()
    }

    /// The consumer's position moved to `position` without delivering records (transaction
    /// markers, aborted records): with nothing in flight, nothing below it is owed.
    pub fn passed(&mut self, position: i64) {
        if self.inflight.is_empty() && position > self.next_fetch {
            self.next_fetch = position;
            self.committed = position;
        }
    }

    /// The record at `offset` is deliberately not copied (it would loop): like a gap upstream,
    /// it translates to the next copied record and the position moves past it.
    pub fn skip(&mut self, offset: i64) {
        debug_assert!(offset >= self.next_fetch, "offsets go forward");
        self.next_fetch = offset + 1;
        if self.inflight.is_empty() {
            self.committed = self.next_fetch;
        }
    }

    /// The source no longer holds the offsets from the next fetch up to `position` (deleted
    /// before they were copied): fetching goes on at `position`. Records in flight stay
    /// tracked, so the committed position passes the deleted offsets only once every record
    /// before them is acknowledged; in the map the deleted offsets translate to the next copied
    /// record.
    pub fn jump_to(&mut self, position: i64) {
        if position <= self.next_fetch {
            return;
        }
        if self.inflight.is_empty() {
            self.floor.get_or_insert(self.next_fetch);
            self.committed = position;
        }
        self.next_fetch = position;
    }

    /// Forgets everything in flight and resumes fetching at the committed position: used to
    /// retry after a failed delivery. Later reports for the forgotten offsets are ignored.
    pub fn rewind(&mut self) {
        self.inflight.clear();
        self.next_fetch = self.committed;
        self.floor = Some(self.committed);
    }

    /// Whether `offset` is still in flight.
    pub fn is_inflight(&self, offset: i64) -> bool {
        self.find(offset).is_some()
    }

    fn find(&self, offset: i64) -> Option<usize> {
        let (a, b) = self.inflight.as_slices();
        if let Ok(i) = a.binary_search_by_key(&offset, |e| e.0) {
            return Some(i);
        }
        b.binary_search_by_key(&offset, |e| e.0)
            .ok()
            .map(|i| i + a.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_log_that_goes_back_is_reported_once_and_the_map_starts_afresh() {
        let mut t = PartitionTrack::with_map(
            10,
            OffsetMap::from_runs(vec![crate::offset_map::Run {
                u: 0,
                d: 100,
                len: 10,
            }]),
        );
        for o in 10..13 {
            t.produced(o, 0);
        }
        // The remote topic was re-created: the next record lands at 0, not at 110.
        assert!(t.acked(10, 0));
        assert_eq!(t.take_target_reset(), Some((110, 0)));
        assert_eq!(t.take_target_reset(), None);
        assert!(t.acked(11, 1));
        assert!(t.acked(12, 2));
        assert_eq!(t.take_target_reset(), None);
        assert_eq!(
            t.map().runs().collect::<Vec<_>>(),
            [crate::offset_map::Run {
                u: 10,
                d: 0,
                len: 3
            }]
        );
        assert_eq!(t.committed(), 13);
    }

    #[test]
    fn a_growing_target_log_is_no_reset() {
        let mut t = PartitionTrack::new(0);
        for o in 0..3 {
            t.produced(o, 0);
        }
        assert!(t.acked(0, 5));
        assert!(t.acked(1, 6));
        t.rewind(); // a retry copies 2 again, later in the log
        t.produced(2, 0);
        assert!(t.acked(2, 9));
        assert_eq!(t.take_target_reset(), None);
    }

    #[test]
    fn in_order_acks_advance_committed() {
        let mut t = PartitionTrack::new(10);
        for o in 10..15 {
            t.produced(o, 0);
        }
        assert_eq!(t.committed(), 10);
        assert!(t.acked(10, 1010));
        assert_eq!(t.committed(), 11);
        assert!(t.acked(11, 1011));
        assert!(t.acked(12, 1012));
        assert_eq!(t.committed(), 13);
        assert!(t.acked(13, 1013));
        assert!(t.acked(14, 1014));
        assert_eq!(t.committed(), 15);
        assert_eq!(t.inflight(), 0);
    }

    #[test]
    fn out_of_order_ack_waits_for_the_gap() {
        let mut t = PartitionTrack::new(0);
        t.produced(0, 0);
        t.produced(1, 0);
        t.produced(2, 0);
        assert!(t.acked(2, 1002));
        assert!(t.acked(1, 1001));
        assert_eq!(t.committed(), 0, "offset 0 is still owed");
        assert!(t.acked(0, 1000));
        assert_eq!(t.committed(), 3);
    }

    #[test]
    fn gaps_in_source_offsets_are_covered() {
        let mut t = PartitionTrack::new(0);
        t.produced(0, 0);
        t.produced(5, 0); // 1..5 were a transaction marker and aborted records
        assert!(t.acked(0, 1000));
        assert_eq!(t.committed(), 1);
        assert!(t.acked(5, 1001));
        assert_eq!(t.committed(), 6);
        // The map has the gap: 0 -> 1000, then 5 -> 1001; offsets 1..=5 translate to 1001.
        use crate::offset_map::Translation;
        assert_eq!(t.map().translate(0), Some(Translation::Exact(1000)));
        assert_eq!(t.map().translate(3), Some(Translation::Exact(1001)));
        assert_eq!(
            t.map().translate(6),
            Some(Translation::BehindReplication(1002))
        );
    }

    #[test]
    fn failed_record_pins_the_position_and_rewind_retries_it() {
        let mut t = PartitionTrack::new(100);
        t.produced(100, 0);
        t.produced(101, 0);
        t.produced(102, 0);
        assert!(t.acked(100, 1100));
        // 101 failed: never acked. 102 succeeded.
        assert!(t.acked(102, 1102));
        assert_eq!(t.committed(), 101);
        t.rewind();
        assert_eq!(t.next_fetch(), 101);
        assert_eq!(t.inflight(), 0);
        assert!(
            !t.acked(102, 1102),
            "reports from before the rewind are ignored"
        );
        assert_eq!(t.committed(), 101);
    }

    #[test]
    fn a_jump_over_deleted_offsets_keeps_what_is_in_flight_owed() {
        use crate::offset_map::Translation;
        let mut t = PartitionTrack::new(10);
        t.produced(10, 0);
        t.produced(11, 0);
        assert!(t.acked(10, 100));
        // 12..=49 were deleted before they were fetched; 11 is still in flight.
        t.jump_to(50);
        assert_eq!(
            (t.committed(), t.next_fetch()),
            (11, 50),
            "11 is still owed"
        );
        assert!(t.acked(11, 101));
        assert_eq!(t.committed(), 50);
        t.produced(50, 0);
        assert!(t.acked(50, 102));
        assert_eq!(t.committed(), 51);
        assert_eq!(t.map().translate(11), Some(Translation::Exact(101)));
        assert_eq!(
            t.map().translate(30),
            Some(Translation::Exact(102)),
            "a deleted offset translates to the next copied record"
        );

        // Nothing in flight: the position moves at once, and the deleted offsets before the
        // first record copied since translate to it.
        let mut t = PartitionTrack::new(5);
        t.jump_to(9);
        assert_eq!((t.committed(), t.next_fetch()), (9, 9));
        t.produced(9, 0);
        assert!(t.acked(9, 70));
        assert_eq!(t.map().translate(5), Some(Translation::Exact(70)));
        t.jump_to(3);
        assert_eq!(t.next_fetch(), 10, "never backwards");
    }

    #[test]
    fn find_works_across_wrapped_deque() {
        let mut t = PartitionTrack::new(0);
        for o in 0..8 {
            t.produced(o, 0);
        }
        for o in 0..6 {
            assert!(t.acked(o, o + 1000));
        }
        for o in 8..20 {
            t.produced(o, 0);
        }
        assert!(t.is_inflight(7));
        assert!(t.is_inflight(19));
        assert!(!t.is_inflight(3));
        assert!(t.acked(15, 1015));
        assert_eq!(t.committed(), 6);
    }

    #[test]
    fn passing_control_records_moves_the_position_only_when_nothing_is_in_flight() {
        let mut t = PartitionTrack::new(0);
        t.produced(0, 0);
        t.passed(3); // a commit marker at 1..3, but record 0 is still in flight
        assert_eq!((t.committed(), t.next_fetch()), (0, 1));
        assert!(t.acked(0, 10));
        assert_eq!(t.committed(), 1);
        t.passed(3);
        assert_eq!((t.committed(), t.next_fetch()), (3, 3));
        t.passed(2); // never backwards
        assert_eq!(t.committed(), 3);
        t.skip(3); // a record that would loop
        assert_eq!((t.committed(), t.next_fetch()), (4, 4));
    }
}
