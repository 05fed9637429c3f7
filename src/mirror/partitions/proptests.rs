//! Property test of the partition state machine: one partition driven by arbitrary sequences of
//! what the world does (the source log grows, with transaction markers; retention deletes its
//! start; the consumer delivers records, including stale ones from before a seek; the target
//! acknowledges or fails each delivery in order; the producer refuses a record; time passes;
//! the route is removed and re-added; the partition is revoked), with the consumer made to
//! follow the partition through the real [`assignment::plan`]. A model of the source log, the
//! consumer, the producer and the target checks after every step:
//!
//! - **nothing lost**: every source record below the committed position is on the target, was
//!   deliberately passed over (it would loop), or lies in a data gap the partition reported;
//! - the committed position never moves backwards (only a log reset or a revocation, which
//!   start a new track, may), never passes `next_fetch`, and a stopped partition's stays at or
//!   below the refused record;
//! - an acknowledgement is counted only for a record produced since the last rewind, and what
//!   the partition counts as in flight is exactly what was produced since then from the
//!   committed position on;
//! - a removed partition is neither assigned nor copying, and only re-adding it resumes it; a
//!   stopped one stays paused until removed; a retrying one stays paused until its retry is due;
//! - a record fetched from before a rewind is never copied;
//! - the offset map never translates past the target's end, and resuming a consumer on the
//!   target at a translation skips no record copied from there on.
//!
//! At the end every sequence is drained (the route re-added, time passed, every delivery
//! acknowledged, the consumer read to the log end): unless the partition stopped at a refused
//! record, it must reach the log end with nothing in flight (no stall).
//!
//! Case counts: proptest's default (256) in CI; `bench/proptest_long.sh` runs them with
//! `PROPTEST_CASES` raised.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rdkafka::types::RDKafkaErrorCode as C;

use super::*;
use crate::config::OnDataGap;
use crate::mirror::assignment::{self, Held};
use crate::offset_map::{OffsetMap, Translation};

/// Known defect (issue 14, "Offset out of range"): `offset_out_of_range` replaces the track,
/// forgetting the records in flight, so the committed position jumps to the log start while
/// they may still fail: a failed one is then lost without being counted in the gap. Found by
/// this test (record 0 in flight, retention deletes 0..=1, the gap reported is 1..=1 and the
/// position 2). While this is `true`, the model lets reports arrive before the consumer runs out
/// of range with records in flight; set it to `false` once the state machine keeps them.
const OUT_OF_RANGE_FORGETS_IN_FLIGHT: bool = true;

/// Known defect, found by this test: a report is matched to a record by its source offset
/// only, so after a rewind the late report of a record's first copy counts for its second copy.
/// Then the offset map takes the first copy's (older) target offset after the records before it
/// and translations go backwards: with 0 and 1 sent, 0 failing (transient), both re-sent after
/// the retry and the first copy of 1 acknowledged at target offset 0 after that, the map says
/// 0 -> 1, 1 -> 0, and a group committed at 0 resumes at 1, after the only copy of 1 it has
/// (if the second copy of 1 then fails, its failure is ignored: 1 is no longer in flight).
/// While this is `true`, the model lets the late report arrive before the record is sent again,
/// as it does in practice after the retry back-off; set it to `false` once reports carry which
/// copy they are for.
const STALE_REPORT_COUNTS_FOR_THE_RESENT_RECORD: bool = true;

/// Known defect, found by this test: a partition read from the log start that has not copied
/// a record yet has no track, and a position out of range is handled only for partitions with
/// one (`offset_out_of_range`, and the record loop asks watermarks only for those). If its
/// first records are deleted (retention, delete-records) after librdkafka resolved the log
/// start and before it fetched them, the partition stalls without a word. While this is
/// `true`, the model's consumer resolves the log start only when a record is there to read;
/// set it to `false` once such a partition is repositioned.
const NO_TRACK_OUT_OF_RANGE_STALLS: bool = true;

/// How a delivery or a send fails.
#[derive(Debug, Clone, Copy)]
enum Failure {
    TooLarge,
    Permanent,
    Transient,
}

impl Failure {
    fn code(self) -> Option<C> {
        Some(match self {
            Failure::TooLarge => C::MessageBatchTooLarge,
            Failure::Permanent => C::PolicyViolation,
            Failure::Transient => C::BrokerTransportFailure,
        })
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// The source log grows by `records` records, then a transaction marker if `marker`.
    Append {
        records: i64,
        marker: bool,
    },
    /// Retention deletes the first `n` offsets of the log.
    Retention(i64),
    /// The consumer delivers its next record, which the loop copies, passes over as a loop, or
    /// the producer refuses.
    Fetch {
        loop_skip: bool,
        refuse: Option<Failure>,
    },
    /// librdkafka delivers a record fetched before the last seek (its version barrier should
    /// have dropped it).
    StaleFetch(prop::sample::Index),
    /// The oldest outstanding delivery report arrives: acknowledged, or failed.
    Report(Option<Failure>),
    /// Lag measurement: the consumer's position is handed to the partition.
    Measure,
    /// Time passes.
    Tick(u64),
    RouteRemoved,
    RouteReadded,
    Revoked,
}

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        Just(Failure::TooLarge),
        Just(Failure::Permanent),
        Just(Failure::Transient)
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1..5i64, any::<bool>()).prop_map(|(records, marker)| Step::Append { records, marker }),
        1 => (1..8i64).prop_map(Step::Retention),
        8 => (prop::bool::weighted(0.1), prop::option::weighted(0.08, failure()))
            .prop_map(|(loop_skip, refuse)| Step::Fetch { loop_skip, refuse }),
        1 => any::<prop::sample::Index>().prop_map(Step::StaleFetch),
        8 => prop::option::weighted(0.12, failure()).prop_map(Step::Report),
        2 => Just(Step::Measure),
        2 => (0..90u64).prop_map(Step::Tick),
        1 => Just(Step::RouteRemoved),
        1 => Just(Step::RouteReadded),
        1 => (0..30u32).prop_map(|n| if n == 0 { Step::Revoked } else { Step::Measure }),
    ]
}

/// Where the consumer reads. `None`: the log start, resolved when it first fetches.
#[derive(Debug, Default)]
struct Consumer {
    assigned: bool,
    paused: bool,
    position: Option<i64>,
    /// librdkafka stopped fetching (position out of range) until the partition is assigned
    /// again.
    stopped: bool,
}

struct World {
    part: Partition,
    held: Held,
    consumer: Consumer,
    now: Instant,
    /// The source log: offsets `low..high`; `markers` are offsets that hold no record.
    low: i64,
    high: i64,
    markers: BTreeSet<i64>,
    /// Offsets handed to the producer whose report has not arrived, in send order.
    outstanding: VecDeque<i64>,
    /// Every record written to the target, as (source offset, target offset), in order.
    target: Vec<(i64, i64)>,
    target_end: i64,
    /// Records passed over because they would loop.
    loop_skipped: BTreeSet<i64>,
    /// Data gaps the partition reported.
    gaps: Vec<(i64, i64)>,
    /// Where the current track began: the stored position, or the log start the consumer
    /// resolved; nothing below it is owed.
    track_start: Option<i64>,
    /// Produced since the last rewind (the tracker's view of what is in flight).
    since_rewind: Vec<i64>,
    /// Every offset the consumer delivered, for stale deliveries.
    delivered: Vec<i64>,
    /// The committed position after the previous step.
    committed: Option<i64>,
}

impl World {
    fn new(stored: Option<i64>, log: i64) -> World {
        let stored_record = stored.map(|position| Stored {
            next_offset: position,
            map: OffsetMap::default(),
            topic_id: None,
            from_mm2: false,
        });
        World {
            part: Partition::new("t".into(), 0, "A.t".into(), stored_record.as_ref()),
            held: Held::default(),
            consumer: Consumer::default(),
            now: Instant::now(),
            low: 0,
            high: log,
            markers: BTreeSet::new(),
            outstanding: VecDeque::new(),
            target: Vec::new(),
            target_end: 0,
            loop_skipped: BTreeSet::new(),
            gaps: Vec::new(),
            track_start: stored,
            since_rewind: Vec::new(),
            delivered: Vec::new(),
            committed: stored,
        }
    }

    fn committed(&self) -> Option<i64> {
        self.part.track().map(PartitionTrack::committed)
    }

    /// What the record loop does at every turn: the consumer follows the partition.
    fn follow(&mut self) {
        let changes = assignment::plan(std::iter::once((&mut self.part, &mut self.held)));
        let c = &mut self.consumer;
        if !changes.unassign.is_empty() {
            *c = Consumer::default();
        }
        for &(_, from) in &changes.assign {
            *c = Consumer {
                assigned: true,
                paused: false,
                position: from,
                stopped: false,
            };
        }
        if !changes.pause.is_empty() {
            c.paused = true;
        }
        for &(_, from) in &changes.seek {
            c.position = Some(from);
        }
        if !changes.resume.is_empty() {
            c.paused = false;
        }
    }

    /// Bookkeeping for a change the partition reported.
    fn changed(&mut self, change: &Option<Change>) -> Result<(), TestCaseError> {
        match change {
            Some(Change::Isolating { .. })
            | Some(Change::Retrying { .. })
            | Some(Change::Readded { .. }) => self.since_rewind.clear(),
            Some(Change::DataGap { from, to, .. }) => {
                prop_assert!(from <= to, "{change:?}");
                prop_assert!(*to < self.low, "a gap below the log start: {change:?}");
                self.gaps.push((*from, *to));
                self.since_rewind.clear();
            }
            Some(Change::LogReset { .. }) => {
                self.since_rewind.clear();
                self.track_start = self.committed();
                self.committed = self.committed();
            }
            Some(Change::Revoked { .. }) => {
                self.since_rewind.clear();
                self.track_start = None;
                self.committed = None;
            }
            _ => {}
        }
        Ok(())
    }

    fn apply(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let state_before = self.part.state();
        let change = match step {
            Step::Append { records, marker } => {
                self.high += records;
                if *marker {
                    self.markers.insert(self.high);
                    self.high += 1;
                }
                None
            }
            Step::Retention(n) => {
                self.low = (self.low + n).min(self.high);
                None
            }
            Step::Fetch { loop_skip, refuse } => self.fetch(*loop_skip, *refuse)?,
            Step::StaleFetch(i) => {
                let Some(next) = self.part.fetch_from() else {
                    return Ok(());
                };
                let stale: Vec<i64> = self
                    .delivered
                    .iter()
                    .copied()
                    .filter(|&o| o < next)
                    .collect();
                if !stale.is_empty() {
                    let offset = stale[i.index(stale.len())];
                    prop_assert_ne!(
                        self.part.fetched(offset),
                        Fetched::Copy,
                        "a record from before the rewind would be copied again out of order"
                    );
                }
                None
            }
            Step::Report(failure) => {
                let Some(offset) = self.outstanding.pop_front() else {
                    return Ok(());
                };
                match failure {
                    None => {
                        let downstream = self.target_end;
                        self.target_end += 1;
                        self.target.push((offset, downstream));
                        let acked = self.part.acknowledged(offset, downstream);
                        if acked.counted {
                            prop_assert!(
                                self.since_rewind.contains(&offset),
                                "the ack of {offset} counted, but it was not produced since the last rewind"
                            );
                        }
                        acked.change
                    }
                    Some(f) => self.part.delivery_failed(offset, f.code(), self.now),
                }
            }
            Step::Measure => {
                if let Some(position) = self.consumer.position {
                    if self.consumer.assigned && !self.consumer.stopped {
                        self.part.passed(position);
                    }
                }
                None
            }
            Step::Tick(secs) => {
                self.now += Duration::from_secs(*secs);
                self.part.retry_due(self.now)
            }
            Step::RouteRemoved => self.part.route_removed(),
            Step::RouteReadded => self.part.route_readded(),
            Step::Revoked => self.part.revoked(),
        };
        self.changed(&change)?;
        self.follow();
        self.check(step, state_before, &change)
    }

    /// The consumer delivers its next record, if it can.
    fn fetch(
        &mut self,
        loop_skip: bool,
        refuse: Option<Failure>,
    ) -> Result<Option<Change>, TestCaseError> {
        let c = &self.consumer;
        if !c.assigned || c.paused || c.stopped || self.part.awaits_report() {
            return Ok(None);
        }
        let position = match c.position {
            Some(p) => p,
            None => {
                // The log start, resolved now: the start of this track when it has none yet.
                if self.part.track().is_none() {
                    self.track_start = Some(self.low);
                }
                self.low
            }
        };
        if position < self.low || position > self.high {
            let inflight = self.part.track().map_or(0, PartitionTrack::inflight);
            if OUT_OF_RANGE_FORGETS_IN_FLIGHT && inflight > 0 {
                // See the constant: not exercised until the state machine keeps them.
                return Ok(None);
            }
            // librdkafka stops fetching and reports the position out of range; the record loop
            // asks for the watermarks of the partitions with a track.
            self.consumer.stopped = true;
            if self.part.track().is_none() {
                return Ok(None);
            }
            let log = SourceLog {
                low: self.low,
                high: self.high,
                topic_id: None,
            };
            return Ok(
                match self.part.offset_out_of_range(&log, OnDataGap::Continue) {
                    Outcome::Unchanged => None,
                    Outcome::Changed(change) => Some(change),
                    // The record loop gives the source partition to the successor (a new slot):
                    // the model follows it from now on.
                    Outcome::Replaced { change, successor } => {
                        self.part = *successor;
                        Some(change)
                    }
                },
            );
        }
        // Markers are passed over without a message.
        let mut offset = position;
        while offset < self.high && self.markers.contains(&offset) {
            offset += 1;
        }
        if STALE_REPORT_COUNTS_FOR_THE_RESENT_RECORD && self.outstanding.contains(&offset) {
            // See the constant: the old copy's report arrives first.
            return Ok(None);
        }
        if offset >= self.high {
            if !(NO_TRACK_OUT_OF_RANGE_STALLS && self.part.track().is_none()) {
                self.consumer.position = Some(offset);
            }
            return Ok(None);
        }
        self.consumer.position = Some(offset + 1);
        self.delivered.push(offset);
        if self.part.fetched(offset) != Fetched::Copy {
            return Ok(None);
        }
        if self.part.track().is_none() {
            self.track_start.get_or_insert(position);
        }
        if loop_skip {
            self.part.loop_skipped(offset);
            self.loop_skipped.insert(offset);
            return Ok(None);
        }
        if let Some(f) = refuse {
            return Ok(self.part.send_refused(offset, f.code(), self.now));
        }
        self.part.produced(offset, 0);
        self.outstanding.push_back(offset);
        self.since_rewind.push(offset);
        Ok(None)
    }

    fn check(
        &mut self,
        step: &Step,
        before: State,
        change: &Option<Change>,
    ) -> Result<(), TestCaseError> {
        let p = &self.part;
        let state = p.state();
        let committed = self.committed();
        // Monotonic, except where a new track starts.
        let new_track = matches!(
            change,
            Some(Change::LogReset { .. }) | Some(Change::Revoked { .. })
        );
        if let (Some(was), Some(now), false) = (self.committed, committed, new_track) {
            prop_assert!(
                now >= was,
                "committed moved back from {was} to {now} at {step:?}"
            );
        }
        self.committed = committed;
        if let Some(t) = p.track() {
            prop_assert!(
                t.committed() <= t.next_fetch(),
                "committed {} past next_fetch {}",
                t.committed(),
                t.next_fetch()
            );
            let expected = self
                .since_rewind
                .iter()
                .filter(|&&o| o >= t.committed())
                .count();
            prop_assert_eq!(t.inflight(), expected, "in flight at {:?}", step);
            self.no_loss(t.committed())?;
            self.translations(t)?;
        }
        if p.reposition().is_some() {
            prop_assert!(p.wants_assigned());
        }
        // The states and what leaves them.
        match state {
            State::Removed => {
                prop_assert!(!p.copies() && !p.wants_assigned() && !self.consumer.assigned);
            }
            State::Stopped { offset, .. } => {
                prop_assert!(p.wants_paused() && !p.copies());
                if let Some(c) = committed {
                    prop_assert!(
                        c <= offset,
                        "committed {c} past the refused record {offset}"
                    );
                }
            }
            State::Retrying { .. } => prop_assert!(p.wants_paused() && !p.copies()),
            State::Copying | State::Isolating { .. } => prop_assert!(p.copies()),
        }
        if self.consumer.assigned && !p.wants_paused() && p.reposition().is_none() {
            prop_assert!(!self.consumer.paused, "paused while the partition copies");
        }
        match (before, state) {
            (State::Removed, State::Removed) => {}
            (State::Removed, _) => prop_assert!(
                matches!(step, Step::RouteReadded)
                    && matches!(change, Some(Change::Readded { .. })),
                "left Removed at {step:?}"
            ),
            (State::Stopped { .. }, s) if !matches!(s, State::Stopped { .. }) => prop_assert!(
                matches!(s, State::Removed),
                "a stopped partition went to {s:?} at {step:?}"
            ),
            (State::Retrying { at }, s) if !matches!(s, State::Retrying { .. }) => {
                let due = matches!(step, Step::Tick(_)) && self.now >= at;
                prop_assert!(
                    due || matches!(s, State::Removed),
                    "left Retrying before its time at {step:?}"
                );
            }
            _ => {}
        }
        Ok(())
    }

    /// Every record of the track below `committed` is on the target, was passed over as a
    /// loop, or lies in a reported gap.
    fn no_loss(&self, committed: i64) -> Result<(), TestCaseError> {
        let Some(start) = self.track_start else {
            return Ok(());
        };
        let on_target: BTreeSet<i64> = self.target.iter().map(|&(u, _)| u).collect();
        for o in start..committed {
            let accounted = self.markers.contains(&o)
                || on_target.contains(&o)
                || self.loop_skipped.contains(&o)
                || self.gaps.iter().any(|&(from, to)| (from..=to).contains(&o));
            prop_assert!(
                accounted,
                "record {o} is below the committed position {committed} but not on the target \
                 (gaps {:?})",
                self.gaps
            );
        }
        Ok(())
    }

    /// Translations point into the target, and resuming there skips no copied record.
    fn translations(&self, track: &PartitionTrack) -> Result<(), TestCaseError> {
        let map = track.map();
        let Some(first) = map.runs().next() else {
            return Ok(());
        };
        let committed = track.committed();
        // The latest copy of each record on the target.
        let mut latest: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
        for &(u, d) in &self.target {
            let e = latest.entry(u).or_insert(d);
            *e = (*e).max(d);
        }
        // owed_from[r - first.u]: the lowest target offset a consumer may resume at to read a
        // copy of every record of the track from r to the committed position.
        let track_start = self.track_start.unwrap_or(first.u);
        let len = usize::try_from(committed - first.u + 1).unwrap_or(0);
        let mut owed_from = vec![i64::MAX; len];
        for r in (first.u..committed).rev() {
            let i = (r - first.u) as usize;
            let next = owed_from[i + 1];
            let passed_over = r < track_start
                || self.markers.contains(&r)
                || self.loop_skipped.contains(&r)
                || self.gaps.iter().any(|&(from, to)| (from..=to).contains(&r));
            owed_from[i] = if passed_over {
                next
            } else {
                next.min(latest.get(&r).copied().unwrap_or(i64::MIN))
            };
        }
        for o in first.u..=committed {
            let Some(t) = map.translate(o) else {
                return Err(TestCaseError::fail(format!(
                    "{o} is within the map from {} but does not translate",
                    first.u
                )));
            };
            let d = t.offset();
            prop_assert!(
                d <= self.target_end,
                "{o} translates to {d}, past the target end {}",
                self.target_end
            );
            if let Translation::Exact(d) = t {
                let owed = owed_from[(o - first.u) as usize];
                prop_assert!(
                    owed >= d,
                    "a consumer resuming at {d} (the translation of {o}) skips a record copied \
                     at {owed}"
                );
            }
        }
        Ok(())
    }

    /// Lets the world settle: the route back, time passed, every report an acknowledgement,
    /// the consumer read to the end. Returns whether the partition stopped at a refused record.
    fn drain(&mut self) -> Result<bool, TestCaseError> {
        for _ in 0..10_000 {
            if matches!(self.part.state(), State::Stopped { .. }) {
                return Ok(true);
            }
            let caught_up = match self.part.track() {
                Some(t) => t.committed() == self.high && t.inflight() == 0,
                // Nothing was ever read: the log holds no record.
                None => (self.consumer.position.unwrap_or(self.low)..self.high)
                    .all(|o| self.markers.contains(&o)),
            };
            let done = self.outstanding.is_empty() && caught_up;
            if done {
                return Ok(false);
            }
            let step = if self.part.state() == State::Removed {
                Step::RouteReadded
            } else if matches!(self.part.state(), State::Retrying { .. }) {
                Step::Tick(120)
            } else if !self.outstanding.is_empty() {
                Step::Report(None)
            } else if self.consumer.position.is_some_and(|p| p >= self.high) {
                Step::Measure
            } else {
                Step::Fetch {
                    loop_skip: false,
                    refuse: None,
                }
            };
            self.apply(&step)?;
        }
        Err(TestCaseError::fail(format!(
            "stalled: state {:?}, committed {:?}, log {}..{}, consumer {:?}, in flight {:?}",
            self.part.state(),
            self.committed(),
            self.low,
            self.high,
            self.consumer,
            self.outstanding
        )))
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Sequences are long; shrinking them takes many iterations.
        max_shrink_iters: 20_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn partition_state_machine_keeps_its_invariants(
        log in 0..20i64,
        stored in prop::option::of(0..20i64),
        steps in proptest::collection::vec(step(), 0..120),
    ) {
        // A stored position within the log (one past its end is out of range: the record
        // path's reset logic, tested on its own).
        let stored = stored.map(|s| s.min(log));
        let mut world = World::new(stored, log);
        world.follow();
        for step in &steps {
            world.apply(step)?;
        }
        world.drain()?;
    }
}
