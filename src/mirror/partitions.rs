//! The state of one source partition in the record path, as a pure state machine.
//!
//! Every transition is a method named after the event that causes it (a record acknowledged,
//! a delivery that failed with an error code, a record the producer refused to take, a retry
//! that is due, the partition's route removed or re-added, the source topic's id seen, its
//! position found outside the source log, the partition revoked). A method returns the
//! [`Change`] worth telling the operator about, if any; the record loop turns it into a
//! telemetry event and makes the consumer follow [`Partition::wants_assigned`],
//! [`Partition::wants_paused`] and [`Partition::reposition`]. No I/O here and no clock: the
//! caller passes `now`.
//!
//! ```text
//!            acked past `until`                 delivery failed (too large)
//!   Copying ◀──────────────────── Isolating ◀───────────────────────────── Copying
//!     │  ▲                          │  refused alone, too large or for good
//!     │  │ retry due (rewind)       ▼
//!     │  └──────────────────── Retrying ◀── delivery failed (transient), any copying state
//!     │                                     Stopped ◀── delivery failed (permanent),
//!     │                                                 or a data gap with on_data_gap: stop
//!     └── route removed ──▶ Removed ── route re-added (rewind) ──▶ Copying
//! ```
//!
//! **Identity.** A partition knows the Kafka topic id of the log its position was taken in.
//! When the source topic turns out to be another one under the same name (its id changed: it
//! was deleted and created again, seen in the routes or with the watermarks of a position out
//! of range), or when its log moved under the position (ended before it), the partition is
//! [`Outcome::Replaced`]: it is revoked, and a successor copies the new log. The successor is a
//! new slot of the record loop, so that delivery reports of records still in flight from the
//! old log (which carry the old slot) can never be taken for records of the new log with the
//! same offsets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::types::RDKafkaErrorCode;

use super::delivery::{classify, refusal_of, ErrorClass, Refusal};
use super::progress::Stored;
use super::tracker::PartitionTrack;
use crate::config::OnDataGap;
use crate::flow::TopicId;
use crate::offset_map::{OffsetMap, Run};

/// First wait before a partition whose delivery failed for a transient reason is retried.
pub const RETRY_BACKOFF: Duration = Duration::from_secs(2);
/// The longest wait between retries of a partition that keeps failing.
pub const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Records are copied in batches.
    Copying,
    /// The target refused a batch as too large (or refused one record before it was sent while
    /// others were in flight): records are re-sent one at a time, each waited for, up to and
    /// including `until` (the last offset that was in flight), so that the one record the
    /// target really refuses is found and nothing before it is held back.
    Isolating { until: i64 },
    /// Nothing from `offset` on is copied until strait restarts (paused): the target refuses
    /// the record there for good, or the source deleted records from there on before they
    /// were copied and the mirror has `on_data_gap: stop`.
    Stopped { offset: i64, cause: StopCause },
    /// A delivery failed for a transient reason; copying starts again from the acknowledged
    /// position at `at` (paused until then).
    Retrying { at: Instant },
    /// Its topic is no longer replicated here (unassigned).
    Removed,
}

/// Why a partition stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// The target refuses the record at the stop offset for good.
    Refused(Refusal),
    /// The source no longer holds the offsets from the stop offset to `to` (inclusive), which
    /// were never copied, and the mirror has `on_data_gap: stop`.
    DataGap { to: i64 },
}

/// The source log of a partition as read after its position fell out of range: its first and
/// next offsets (the watermarks) and the topic's current id (`None`: not known, not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLog {
    pub low: i64,
    pub high: i64,
    pub topic_id: Option<TopicId>,
}

/// What an event did to a partition.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing worth telling.
    Unchanged,
    Changed(Change),
    /// The partition's source log is not the one its position was taken in: this partition is
    /// revoked (what is in flight is forgotten; its reports are ignored) and `successor` copies
    /// the source partition from now on, in a slot of its own.
    Replaced {
        change: Change,
        successor: Box<Partition>,
    },
}

/// How the consumer must be moved to [`Partition::fetch_from`] before it fetches more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reposition {
    /// The position moved back (a rewind): seek.
    Seek,
    /// librdkafka stopped fetching the partition (its position was out of range and
    /// `auto.offset.reset=error`): it refuses a seek in that state, so the partition is assigned
    /// again at the new position.
    Reassign,
}

/// What the partition makes of a record the consumer fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// Copy it.
    Copy,
    /// Fetched before the position moved back (librdkafka's seek barrier drops these; this is
    /// the second line of defence): not copied now, fetched again.
    Stale,
    /// The partition is not copying (stopped, waiting for a retry, removed).
    NotCopying,
}

/// A change the operator should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Records from `from` on are re-sent one at a time up to `until`. `refused_before_send`:
    /// the producer refused a record before sending it while earlier ones were in flight
    /// (rather than the target refusing a batch).
    Isolating {
        from: i64,
        until: i64,
        refused_before_send: bool,
    },
    /// Isolation found no record the target refuses: copying in batches again.
    BackToBatches,
    /// The target refuses the record at `offset` for good: the partition stops there.
    Stopped { offset: i64, refusal: Refusal },
    /// A transient failure at `offset`: the partition is copied again from its acknowledged
    /// position after `backoff`.
    RetryScheduled { offset: i64, backoff: Duration },
    /// The retry is due: copying again from `from`.
    Retrying { from: i64 },
    /// The partition's topic is no longer replicated here.
    Removed,
    /// The partition's topic is replicated again: copying from `from` (the acknowledged
    /// position; `None`: from the log start, nothing was ever copied).
    Readded { from: Option<i64> },
    /// The source deleted `from..=to` (retention, DeleteRecords) before strait copied it: lost
    /// for the target. `lost` of them were not counted in an earlier gap (usually all).
    /// Copying continues at the log start `to + 1`, or, `stopped` (`on_data_gap: stop`), the
    /// partition stops at `from`.
    DataGap {
        from: i64,
        to: i64,
        lost: i64,
        stopped: bool,
    },
    /// The position lies beyond the end of the source log, and the topic's id cannot tell
    /// whether it is still the same topic (the position was stored without an id, or the
    /// source reports none): copying starts again at the log start `from`, so that nothing of
    /// a re-created topic is skipped (records already copied may be copied again).
    LogReset {
        position: i64,
        log_end: i64,
        from: i64,
    },
    /// The source log of the same topic (same id) now ends at `log_end`, before the position:
    /// it lost `log_end..position` after strait had copied them (an unclean leader election, a
    /// broker that lost its data). Those records stay on the target; copying goes on at
    /// `from` (`log_end`, or the acknowledged position if that is lower), where the source's
    /// new records will be.
    SourceTruncated {
        position: i64,
        log_end: i64,
        from: i64,
    },
    /// The source topic was deleted and created again under its name (its id changed from
    /// `old` to `new`): the position `position` (of the old topic; `None`: none yet) says
    /// nothing about the new log, which is copied from its first offset. Records of the new
    /// topic below the old position are copied too; its records are appended to the remote
    /// topic after the old topic's.
    Recreated {
        old: TopicId,
        new: TopicId,
        position: Option<i64>,
    },
    /// A position stored without a topic id (by a version before topic ids) was taken to
    /// belong to the source topic as it is now, `id`.
    IdentityAdopted { id: TopicId, position: i64 },
    /// The partition is no longer this process's: everything in flight is forgotten; its last
    /// acknowledged position was `committed`.
    Revoked { committed: Option<i64> },
}

/// What an acknowledgement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    /// The record was in flight (a report from before a rewind is not counted).
    pub counted: bool,
    pub change: Option<Change>,
}

/// One source partition.
#[derive(Debug)]
pub struct Partition {
    pub source_topic: Arc<str>,
    pub partition: i32,
    pub remote_topic: Arc<str>,
    /// `None` until the position is known: a partition without stored progress starts at the
    /// beginning of the log and learns its position from the first record.
    track: Option<PartitionTrack>,
    state: State,
    /// The consumer must be moved to `fetch_from` before fetching more.
    reposition: Option<Reposition>,
    /// The wait before the last retry, doubled when the retried partition fails again before
    /// anything was acknowledged.
    backoff: Option<Duration>,
    /// The id of the source topic whose log the position belongs to; `None`: not known.
    topic_id: Option<TopicId>,
    /// `topic_id` is known to be the position's: it was stored with the position, or records
    /// of this log were acknowledged since. An id adopted for a position stored without one
    /// proves nothing about that position.
    id_verified: bool,
    /// The offsets `start..end` last counted as lost in a data gap: a later gap that reaches
    /// back into them (a retry of records that were in flight when the first was found goes
    /// back below it) counts only what it adds.
    gap_counted: (i64, i64),
}

impl Partition {
    /// A partition starting at its stored position, or at the log start without one.
    pub fn new(
        source_topic: Arc<str>,
        partition: i32,
        remote_topic: Arc<str>,
        stored: Option<&Stored>,
    ) -> Partition {
        Partition {
            source_topic,
            partition,
            remote_topic,
            track: stored.map(|s| PartitionTrack::with_map(s.next_offset, s.map.clone())),
            state: State::Copying,
            reposition: None,
            backoff: None,
            topic_id: stored.and_then(|s| s.topic_id.clone()),
            id_verified: stored.is_some_and(|s| s.topic_id.is_some()),
            gap_counted: (0, 0),
        }
    }

    /// A partition of the source topic with id `current` (`None`: the source reports none),
    /// starting where `stored` says if that position belongs to this topic: a position stored
    /// with another id belongs to a topic since deleted, and the partition starts at the log
    /// start instead ([`Change::Recreated`]); one stored without an id is taken to be this
    /// topic's ([`Change::IdentityAdopted`]).
    pub fn start(
        source_topic: Arc<str>,
        partition: i32,
        remote_topic: Arc<str>,
        stored: Option<&Stored>,
        current: Option<&TopicId>,
    ) -> (Partition, Option<Change>) {
        let stored_id = stored.and_then(|s| s.topic_id.as_ref());
        let (stored, change) = match (stored, stored_id, current) {
            (Some(s), Some(old), Some(new)) if old != new => (
                None,
                Some(Change::Recreated {
                    old: old.clone(),
                    new: new.clone(),
                    position: Some(s.next_offset),
                }),
            ),
            (Some(s), None, Some(id)) => (
                Some(s),
                Some(Change::IdentityAdopted {
                    id: id.clone(),
                    position: s.next_offset,
                }),
            ),
            _ => (stored, None),
        };
        let mut part = Partition::new(source_topic, partition, remote_topic, stored);
        if let Some(id) = current {
            if part.topic_id.is_none() {
                part.topic_id = Some(id.clone());
                // Starting at the log start, whatever is copied is this topic's.
                part.id_verified = stored.is_none();
            }
        }
        (part, change)
    }

    /// The id to store with the position: the id of the source topic whose log the position
    /// belongs to, once that is known. An id adopted for a position stored without one is
    /// stored only after records of that topic were acknowledged.
    pub fn topic_id(&self) -> Option<&TopicId> {
        self.topic_id.as_ref().filter(|_| self.id_verified)
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn track(&self) -> Option<&PartitionTrack> {
        self.track.as_ref()
    }

    /// Whether the target's log of the remote partition went back below what was written to
    /// it (see `PartitionTrack::take_target_reset`), since last asked.
    pub fn take_target_reset(&mut self) -> Option<(i64, i64)> {
        self.track.as_mut()?.take_target_reset()
    }

    /// The track, to trim its offset map when it is published.
    pub fn track_mut(&mut self) -> Option<&mut PartitionTrack> {
        self.track.as_mut()
    }

    /// Whether fetched records are copied.
    pub fn copies(&self) -> bool {
        matches!(self.state, State::Copying | State::Isolating { .. })
    }

    /// Whether the consumer should have the partition assigned.
    pub fn wants_assigned(&self) -> bool {
        self.state != State::Removed
    }

    /// Whether the consumer should hold the partition paused.
    pub fn wants_paused(&self) -> bool {
        matches!(self.state, State::Stopped { .. } | State::Retrying { .. })
    }

    /// Where to fetch from; `None`: the log start.
    pub fn fetch_from(&self) -> Option<i64> {
        self.track.as_ref().map(PartitionTrack::next_fetch)
    }

    /// Whether (and how) the consumer must be moved before fetching more.
    pub fn reposition(&self) -> Option<Reposition> {
        self.reposition
    }

    /// The consumer was positioned at [`fetch_from`](Self::fetch_from) (by a seek, or by
    /// assigning the partition).
    pub fn positioned(&mut self) {
        self.reposition = None;
    }

    /// Whether the partition re-sends records one at a time to find one the target refuses.
    pub fn isolating(&self) -> bool {
        matches!(self.state, State::Isolating { .. })
    }

    /// Isolating with a record in flight: nothing more of the partition may be sent before its
    /// report.
    pub fn awaits_report(&self) -> bool {
        matches!(self.state, State::Isolating { .. })
            && self.track.as_ref().is_some_and(|t| t.inflight() > 0)
    }

    /// What to do with a record fetched at `offset`.
    pub fn fetched(&self, offset: i64) -> Fetched {
        if !self.copies() {
            return Fetched::NotCopying;
        }
        match &self.track {
            Some(t) if offset < t.next_fetch() => Fetched::Stale,
            _ => Fetched::Copy,
        }
    }

    /// The record at `offset` with source timestamp `ts` was handed to the producer.
    pub fn produced(&mut self, offset: i64, ts: i64) {
        self.track_from(offset).produced(offset, ts);
    }

    /// The record at `offset` is not copied because it would loop (its provenance header lists
    /// the target): passed over like a gap upstream.
    pub fn loop_skipped(&mut self, offset: i64) {
        self.track_from(offset).skip(offset);
    }

    /// The consumer's position moved to `position` without delivering records (transaction
    /// markers, aborted records).
    pub fn passed(&mut self, position: i64) {
        if self.copies() && self.reposition.is_none() {
            if let Some(t) = &mut self.track {
                t.passed(position);
            }
        }
    }

    /// The target acknowledged the record at `offset`, written at `downstream`.
    pub fn acknowledged(&mut self, offset: i64, downstream: i64) -> Acked {
        let Some(track) = &mut self.track else {
            return Acked {
                counted: false,
                change: None,
            };
        };
        let counted = track.acked(offset, downstream);
        if counted {
            self.backoff = None;
            self.id_verified = self.topic_id.is_some();
        }
        let change = match self.state {
            State::Isolating { until } if track.committed() > until => {
                self.state = State::Copying;
                Some(Change::BackToBatches)
            }
            _ => None,
        };
        Acked { counted, change }
    }

    /// The target did not take the record at `offset` (error `code`).
    pub fn delivery_failed(
        &mut self,
        offset: i64,
        code: Option<RDKafkaErrorCode>,
        now: Instant,
    ) -> Option<Change> {
        let track = self.track.as_ref()?;
        if !track.is_inflight(offset) || !self.copies() {
            // Already handled (a later failure of the same burst, or a report from before a
            // rewind), or the partition is removed: re-adding it rewinds to the acknowledged
            // position, so the failed record is copied again then.
            return None;
        }
        let next_fetch = track.next_fetch();
        Some(match (classify(code), self.state) {
            (ErrorClass::TooLarge(_), State::Copying) => {
                // The broker refuses whole batches: any record of the batch may be the large
                // one. Re-send everything in flight one at a time.
                let until = next_fetch - 1;
                self.rewind();
                self.state = State::Isolating { until };
                Change::Isolating {
                    from: offset,
                    until,
                    refused_before_send: false,
                }
            }
            (ErrorClass::TooLarge(refusal) | ErrorClass::Permanent(refusal), _) => {
                self.stop(offset, refusal)
            }
            (ErrorClass::Transient, _) => self.schedule_retry(offset, now),
        })
    }

    /// The producer refused to take the record at `offset` (error `code`, not a full queue):
    /// this very record is the one, unless records before it are still in flight and may fail
    /// too.
    pub fn send_refused(
        &mut self,
        offset: i64,
        code: Option<RDKafkaErrorCode>,
        now: Instant,
    ) -> Option<Change> {
        if !self.copies() {
            return None;
        }
        if self.track_from(offset).inflight() > 0 {
            // Judge only once what is in flight before it has resolved: retry from the
            // acknowledged position, one record at a time up to this one.
            self.rewind();
            self.state = State::Isolating { until: offset };
            return Some(Change::Isolating {
                from: offset,
                until: offset,
                refused_before_send: true,
            });
        }
        Some(match refusal_of(code) {
            Some(refusal) => self.stop(offset, refusal),
            None => self.schedule_retry(offset, now),
        })
    }

    /// Time passed: a scheduled retry may be due.
    pub fn retry_due(&mut self, now: Instant) -> Option<Change> {
        match self.state {
            State::Retrying { at } if now >= at => {
                self.rewind();
                self.state = State::Copying;
                Some(Change::Retrying {
                    from: self.fetch_from().unwrap_or(0),
                })
            }
            _ => None,
        }
    }

    /// The partition's topic is no longer replicated. What is in flight stays tracked, so that
    /// acknowledgements still arriving move the position on.
    pub fn route_removed(&mut self) -> Option<Change> {
        if self.state == State::Removed {
            return None;
        }
        self.state = State::Removed;
        Some(Change::Removed)
    }

    /// The partition's topic is replicated again. Copying resumes from the last acknowledged
    /// position: whatever was in flight when it was removed may have failed since.
    pub fn route_readded(&mut self) -> Option<Change> {
        if self.state != State::Removed {
            return None;
        }
        self.rewind();
        self.backoff = None;
        self.state = State::Copying;
        Some(Change::Readded {
            from: self.fetch_from(),
        })
    }

    /// Topic sync saw the source topic with id `current` (`None`: the source reports none). A
    /// different id than the position's means the topic was deleted and created again: the
    /// partition is replaced by one copying the new topic from its first offset, whatever
    /// state it was in. A partition without an id adopts this one.
    pub fn topic_seen(&mut self, current: Option<&TopicId>) -> Outcome {
        let Some(current) = current else {
            return Outcome::Unchanged;
        };
        match &self.topic_id {
            Some(known) if known != current => {
                let change = Change::Recreated {
                    old: known.clone(),
                    new: current.clone(),
                    position: self.track.as_ref().map(PartitionTrack::committed),
                };
                let successor = self.successor(None, Some(current.clone()));
                Outcome::Replaced { change, successor }
            }
            Some(_) => Outcome::Unchanged,
            None => {
                self.topic_id = Some(current.clone());
                match &self.track {
                    Some(t) => Outcome::Changed(Change::IdentityAdopted {
                        id: current.clone(),
                        position: t.committed(),
                    }),
                    None => {
                        self.id_verified = true;
                        Outcome::Unchanged
                    }
                }
            }
        }
    }

    /// The consumer reported the position out of range, and the source log is `log` now:
    ///
    /// - another topic id: the topic was re-created, as in [`topic_seen`](Self::topic_seen);
    /// - the log starts after the position: the offsets in between were deleted before they
    ///   were copied, a [`Change::DataGap`]; copying goes on at the log start (records in
    ///   flight stay tracked, so the stored position never passes one before it is
    ///   acknowledged), or with `on_data_gap: stop` the partition stops at the gap;
    /// - the log ends before the position, same id: the log was truncated below it
    ///   ([`Change::SourceTruncated`]), the partition is replaced by one fetching from the new
    ///   end;
    /// - the log ends before the position and the id cannot tell: [`Change::LogReset`], the
    ///   partition is replaced by one copying from the log start.
    pub fn offset_out_of_range(&mut self, log: &SourceLog, on_gap: OnDataGap) -> Outcome {
        if !self.wants_assigned() || self.wants_paused() {
            return Outcome::Unchanged;
        }
        let Some(track) = &self.track else {
            return Outcome::Unchanged;
        };
        let (next, committed) = (track.next_fetch(), track.committed());
        if let (Some(known), Some(current)) = (&self.topic_id, &log.topic_id) {
            if known != current {
                let change = Change::Recreated {
                    old: known.clone(),
                    new: current.clone(),
                    position: Some(committed),
                };
                let successor = self.successor(None, Some(current.clone()));
                return Outcome::Replaced { change, successor };
            }
        }
        let same_topic =
            self.id_verified && self.topic_id.is_some() && log.topic_id == self.topic_id;
        if next < log.low {
            let (from, to) = (next, log.low - 1);
            let lost = self.count_gap(from, log.low);
            if on_gap == OnDataGap::Stop {
                self.state = State::Stopped {
                    offset: from,
                    cause: StopCause::DataGap { to },
                };
            } else {
                self.jump_to(log.low);
            }
            return Outcome::Changed(Change::DataGap {
                from,
                to,
                lost,
                stopped: on_gap == OnDataGap::Stop,
            });
        }
        if next <= log.high {
            return Outcome::Unchanged;
        }
        if same_topic {
            let from = log.high.min(committed);
            let kept = truncated(track.map(), from);
            let change = Change::SourceTruncated {
                position: next,
                log_end: log.high,
                from,
            };
            let successor = self.successor(
                Some(PartitionTrack::with_map(from, kept)),
                log.topic_id.clone(),
            );
            return Outcome::Replaced { change, successor };
        }
        let change = Change::LogReset {
            position: next,
            log_end: log.high,
            from: log.low,
        };
        let id = log.topic_id.clone().or_else(|| self.topic_id.clone());
        let mut successor = self.successor(None, id);
        successor.id_verified = log.topic_id.is_some();
        Outcome::Replaced { change, successor }
    }

    /// The offsets `from..end` are found lost: how many of them no earlier gap counted.
    fn count_gap(&mut self, from: i64, end: i64) -> i64 {
        let (start, stop) = self.gap_counted;
        let overlap = (end.min(stop) - from.max(start)).max(0);
        self.gap_counted = if overlap > 0 || end == start || from == stop {
            (from.min(start), end.max(stop))
        } else {
            (from, end)
        };
        end - from - overlap
    }

    /// Fetching goes on at `position` (the log start after a gap); what is in flight stays
    /// tracked. librdkafka stopped the partition's fetcher: it is assigned again there.
    fn jump_to(&mut self, position: i64) {
        if let Some(t) = &mut self.track {
            t.jump_to(position);
            self.reposition = Some(Reposition::Reassign);
        }
    }

    /// Revokes this partition and returns the one that copies the source partition from now on,
    /// from `track` (`None`: the log start), in the topic with id `topic_id`.
    fn successor(
        &mut self,
        track: Option<PartitionTrack>,
        topic_id: Option<TopicId>,
    ) -> Box<Partition> {
        self.revoked();
        let verified = topic_id.is_some();
        Box::new(Partition {
            source_topic: Arc::clone(&self.source_topic),
            partition: self.partition,
            remote_topic: Arc::clone(&self.remote_topic),
            track,
            state: State::Copying,
            reposition: None,
            backoff: None,
            topic_id,
            id_verified: verified,
            gap_counted: (0, 0),
        })
    }

    /// Why the partition is stopped, with what to do about it; `None` while it is not.
    pub fn stopped(&self) -> Option<String> {
        let State::Stopped { offset, cause } = self.state else {
            return None;
        };
        Some(match cause {
            StopCause::Refused(refusal) => format!(
                "stopped at offset {offset}: the target refuses this record for good; {}; \
                 then restart strait, which resumes at this offset",
                refusal.hint
            ),
            StopCause::DataGap { to } => format!(
                "stopped at offset {offset} (on_data_gap: stop): the source deleted offsets \
                 {offset}..={to} before they were copied; to copy on from offset {}, set \
                 on_data_gap: continue for this mirror and restart strait",
                to + 1
            ),
        })
    }

    /// The partition is no longer this process's to copy (another instance takes it over):
    /// in-flight tracking is dropped and nothing more is copied; the next owner resumes from
    /// the persisted position.
    pub fn revoked(&mut self) -> Option<Change> {
        if self.state == State::Removed && self.track.is_none() {
            return None;
        }
        let committed = self.track.take().map(|t| t.committed());
        self.state = State::Removed;
        self.reposition = None;
        self.backoff = None;
        Some(Change::Revoked { committed })
    }

    /// Exactly-once: the position and offset map as they are now, after a committed
    /// transaction, for [`roll_back`](Self::roll_back) to restore should the next one abort.
    pub fn savepoint(&self) -> Option<PartitionTrack> {
        self.track.clone()
    }

    /// Exactly-once: the open transaction was aborted, so nothing this partition copied in it
    /// reached the target's read_committed consumers. Its position and offset map go back to
    /// `saved` (taken at the last commit), what was in flight is forgotten (later reports of it
    /// are ignored), and the consumer fetches again from there. The state stays: a partition
    /// isolating a refused record goes on isolating from the saved position, one that was
    /// stopped or waits for a retry stays so. A revoked partition has nothing to restore.
    pub fn roll_back(&mut self, saved: Option<PartitionTrack>) {
        if self.state == State::Removed && self.track.is_none() {
            return;
        }
        let at_start = saved.is_none();
        self.track = saved;
        if let Some(t) = &mut self.track {
            t.rewind();
        }
        // Without a position the partition is read from its log start again: assigned anew
        // (a seek needs an offset).
        self.reposition = Some(match self.reposition {
            Some(Reposition::Reassign) => Reposition::Reassign,
            _ if at_start => Reposition::Reassign,
            _ => Reposition::Seek,
        });
    }

    fn track_from(&mut self, offset: i64) -> &mut PartitionTrack {
        self.track
            .get_or_insert_with(|| PartitionTrack::from_log_start(offset))
    }

    /// Forgets what is in flight and fetches again from the acknowledged position.
    fn rewind(&mut self) {
        if let Some(t) = &mut self.track {
            t.rewind();
            // A pending re-assign repositions too.
            self.reposition.get_or_insert(Reposition::Seek);
        }
    }

    fn stop(&mut self, offset: i64, refusal: Refusal) -> Change {
        self.state = State::Stopped {
            offset,
            cause: StopCause::Refused(refusal),
        };
        Change::Stopped { offset, refusal }
    }

    fn schedule_retry(&mut self, offset: i64, now: Instant) -> Change {
        let backoff = self
            .backoff
            .map_or(RETRY_BACKOFF, |b| (b * 2).min(RETRY_BACKOFF_MAX));
        self.backoff = Some(backoff);
        self.state = State::Retrying { at: now + backoff };
        Change::RetryScheduled { offset, backoff }
    }
}

/// `map` without what it says from upstream offset `from` on (a source log truncated there
/// holds other records from there on).
fn truncated(map: &OffsetMap, from: i64) -> OffsetMap {
    OffsetMap::from_runs(
        map.runs()
            .filter(|r| r.u < from)
            .map(|r| Run {
                len: r.len.min(from - r.u),
                ..r
            })
            .collect(),
    )
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offset_map::OffsetMap;
    use RDKafkaErrorCode as C;

    const TOO_LARGE: Option<C> = Some(C::MessageBatchTooLarge);
    const REFUSED: Option<C> = Some(C::PolicyViolation);
    const TRANSIENT: Option<C> = Some(C::BrokerTransportFailure);

    fn at(position: i64) -> Partition {
        let stored = Stored {
            next_offset: position,
            map: OffsetMap::default(),
            topic_id: None,
            from_mm2: false,
        };
        Partition::new("t".into(), 0, "A.t".into(), Some(&stored))
    }

    /// Copying from 100 with 100..=104 in flight.
    fn copying() -> Partition {
        let mut p = at(100);
        for o in 100..105 {
            p.produced(o, o * 10);
        }
        p
    }

    fn committed(p: &Partition) -> i64 {
        p.track().expect("a track").committed()
    }

    /// Exactly-once: an aborted transaction takes the partition back to what the last commit
    /// saved (position, map, nothing in flight) and the consumer seeks there; its state stays.
    #[test]
    fn roll_back_restores_the_saved_position_and_map_and_keeps_the_state() {
        let mut p = copying();
        for o in 100..105 {
            p.acknowledged(o, o + 900);
        }
        assert_eq!(committed(&p), 105);
        let saved = p.savepoint();
        let map_then = p.track().unwrap().map().clone();
        // The next transaction copies 105..=109, 105..=107 acknowledged, then aborts.
        for o in 105..110 {
            p.produced(o, o);
        }
        for o in 105..108 {
            p.acknowledged(o, o + 901);
        }
        assert_eq!(committed(&p), 108);
        assert!(p.delivery_failed(108, TOO_LARGE, Instant::now()).is_some());
        assert!(p.isolating());
        p.roll_back(saved);
        assert_eq!(committed(&p), 105, "back to the committed position");
        assert_eq!(p.fetch_from(), Some(105));
        assert_eq!(
            inflight(&p),
            0,
            "nothing of the aborted transaction in flight"
        );
        assert_eq!(
            p.track().unwrap().map().runs().collect::<Vec<_>>(),
            map_then.runs().collect::<Vec<_>>()
        );
        assert_eq!(p.reposition(), Some(Reposition::Seek));
        assert!(
            p.isolating(),
            "the state stays: isolation goes on from the saved position"
        );
        // Reports of the aborted records are ignored.
        assert!(!p.acknowledged(108, 2000).counted);
        assert_eq!(committed(&p), 105);
    }

    #[test]
    fn roll_back_to_no_position_reads_the_log_start_again_and_a_revoked_partition_stays_revoked() {
        let mut p = Partition::new("t".into(), 0, "A.t".into(), None);
        let saved = p.savepoint();
        assert!(saved.is_none());
        p.produced(7, 0);
        p.acknowledged(7, 0);
        assert_eq!(committed(&p), 8);
        p.roll_back(saved);
        assert!(p.track().is_none(), "no position: the log start");
        assert_eq!(p.fetch_from(), None);
        assert_eq!(
            p.reposition(),
            Some(Reposition::Reassign),
            "assigned again at the log start"
        );

        let mut p = copying();
        let saved = p.savepoint();
        p.revoked();
        p.roll_back(saved);
        assert!(
            p.track().is_none() && p.state() == State::Removed,
            "revoked stays revoked"
        );
    }

    fn inflight(p: &Partition) -> usize {
        p.track().map_or(0, PartitionTrack::inflight)
    }

    /// A partition in each state, with records 100..=104 sent and 100 acknowledged first.
    fn in_state(name: &str, now: Instant) -> Partition {
        let mut p = copying();
        assert!(p.acknowledged(100, 1000).counted);
        match name {
            "copying" => {}
            "isolating" => {
                p.delivery_failed(101, TOO_LARGE, now);
                // Re-sent alone: 101 in flight.
                p.produced(101, 0);
            }
            "stopped" => {
                p.delivery_failed(101, REFUSED, now);
            }
            "retrying" => {
                p.delivery_failed(101, TRANSIENT, now);
            }
            "removed" => {
                p.route_removed();
            }
            other => panic!("no state {other}"),
        }
        p
    }

    #[derive(Debug, Clone, Copy)]
    enum Event {
        Acked(i64),
        Failed(i64, Option<C>),
        Refused(i64, Option<C>),
        RetryDue(Duration),
        RouteRemoved,
        RouteReadded,
        OutOfRange(i64, i64),
        Revoked,
    }

    fn apply(p: &mut Partition, e: Event, now: Instant) -> Option<Change> {
        match e {
            Event::Acked(o) => p.acknowledged(o, o + 900).change,
            Event::Failed(o, code) => p.delivery_failed(o, code, now),
            Event::Refused(o, code) => p.send_refused(o, code, now),
            Event::RetryDue(after) => p.retry_due(now + after),
            Event::RouteRemoved => p.route_removed(),
            Event::RouteReadded => p.route_readded(),
            Event::OutOfRange(low, high) => {
                let log = SourceLog {
                    low,
                    high,
                    topic_id: None,
                };
                change_of(p.offset_out_of_range(&log, OnDataGap::Continue))
            }
            Event::Revoked => p.revoked(),
        }
    }

    fn change_of(outcome: Outcome) -> Option<Change> {
        match outcome {
            Outcome::Unchanged => None,
            Outcome::Changed(c) | Outcome::Replaced { change: c, .. } => Some(c),
        }
    }

    fn state_name(s: State) -> &'static str {
        match s {
            State::Copying => "copying",
            State::Isolating { .. } => "isolating",
            State::Stopped { .. } => "stopped",
            State::Retrying { .. } => "retrying",
            State::Removed => "removed",
        }
    }

    fn change_name(c: &Option<Change>) -> &'static str {
        match c {
            None => "-",
            Some(Change::Isolating {
                refused_before_send: false,
                ..
            }) => "isolating",
            Some(Change::Isolating {
                refused_before_send: true,
                ..
            }) => "isolating-before-send",
            Some(Change::BackToBatches) => "back-to-batches",
            Some(Change::Stopped { .. }) => "stopped",
            Some(Change::RetryScheduled { .. }) => "retry-scheduled",
            Some(Change::Retrying { .. }) => "retrying",
            Some(Change::Removed) => "removed",
            Some(Change::Readded { .. }) => "readded",
            Some(Change::DataGap { stopped: false, .. }) => "data-gap",
            Some(Change::DataGap { stopped: true, .. }) => "data-gap-stopped",
            Some(Change::LogReset { .. }) => "log-reset",
            Some(Change::SourceTruncated { .. }) => "truncated",
            Some(Change::Recreated { .. }) => "recreated",
            Some(Change::IdentityAdopted { .. }) => "adopted",
            Some(Change::Revoked { .. }) => "revoked",
        }
    }

    /// Every (state, event) pair: the state after it, the change reported, the committed
    /// position, what is in flight, and what the consumer must do.
    #[test]
    fn every_state_and_event() {
        use Event as E;
        let s = Duration::from_secs;
        // (state, event, state after, change, committed after, in flight after, paused,
        // repositioned: by a seek S, a re-assign R, not N)
        type Row = (
            &'static str,
            Event,
            &'static str,
            &'static str,
            i64,
            usize,
            bool,
            Option<Reposition>,
        );
        const S: Option<Reposition> = Some(Reposition::Seek);
        const R: Option<Reposition> = Some(Reposition::Reassign);
        const N: Option<Reposition> = None;
        #[rustfmt::skip]
        let table: &[Row] = &[
            ("copying", E::Acked(101), "copying", "-", 102, 3, false, N),
            ("copying", E::Acked(103), "copying", "-", 101, 4, false, N),
            ("copying", E::Failed(101, TOO_LARGE), "isolating", "isolating", 101, 0, false, S),
            ("copying", E::Failed(101, REFUSED), "stopped", "stopped", 101, 4, true, N),
            ("copying", E::Failed(101, TRANSIENT), "retrying", "retry-scheduled", 101, 4, true, N),
            ("copying", E::Failed(99, TRANSIENT), "copying", "-", 101, 4, false, N),
            ("copying", E::Refused(105, TOO_LARGE), "isolating", "isolating-before-send", 101, 0, false, S),
            ("copying", E::RetryDue(s(3600)), "copying", "-", 101, 4, false, N),
            ("copying", E::RouteRemoved, "removed", "removed", 101, 4, false, N),
            ("copying", E::RouteReadded, "copying", "-", 101, 4, false, N),
            // What is in flight stays owed: the position passes the gap once it is acknowledged.
            ("copying", E::OutOfRange(200, 300), "copying", "data-gap", 101, 4, false, R),
            // Replaced by a successor copying from the log start: this one is revoked.
            ("copying", E::OutOfRange(0, 50), "removed", "log-reset", -1, 0, false, N),
            ("copying", E::OutOfRange(0, 300), "copying", "-", 101, 4, false, N),
            ("copying", E::Revoked, "removed", "revoked", -1, 0, false, N),

            ("isolating", E::Acked(101), "isolating", "-", 102, 0, false, S),
            ("isolating", E::Failed(101, TOO_LARGE), "stopped", "stopped", 101, 1, true, S),
            ("isolating", E::Failed(101, REFUSED), "stopped", "stopped", 101, 1, true, S),
            ("isolating", E::Failed(101, TRANSIENT), "retrying", "retry-scheduled", 101, 1, true, S),
            ("isolating", E::Failed(103, TOO_LARGE), "isolating", "-", 101, 1, false, S),
            ("isolating", E::Refused(102, TOO_LARGE), "isolating", "isolating-before-send", 101, 0, false, S),
            ("isolating", E::RetryDue(s(3600)), "isolating", "-", 101, 1, false, S),
            ("isolating", E::RouteRemoved, "removed", "removed", 101, 1, false, S),
            ("isolating", E::RouteReadded, "isolating", "-", 101, 1, false, S),
            ("isolating", E::OutOfRange(200, 300), "isolating", "data-gap", 101, 1, false, R),
            ("isolating", E::Revoked, "removed", "revoked", -1, 0, false, N),

            ("stopped", E::Acked(102), "stopped", "-", 101, 4, true, N),
            ("stopped", E::Failed(102, REFUSED), "stopped", "-", 101, 4, true, N),
            ("stopped", E::Refused(105, REFUSED), "stopped", "-", 101, 4, true, N),
            ("stopped", E::RetryDue(s(3600)), "stopped", "-", 101, 4, true, N),
            ("stopped", E::RouteRemoved, "removed", "removed", 101, 4, false, N),
            ("stopped", E::RouteReadded, "stopped", "-", 101, 4, true, N),
            ("stopped", E::OutOfRange(200, 300), "stopped", "-", 101, 4, true, N),
            ("stopped", E::Revoked, "removed", "revoked", -1, 0, false, N),

            ("retrying", E::Acked(102), "retrying", "-", 101, 4, true, N),
            ("retrying", E::Refused(105, TRANSIENT), "retrying", "-", 101, 4, true, N),
            ("retrying", E::Failed(102, TRANSIENT), "retrying", "-", 101, 4, true, N),
            ("retrying", E::RetryDue(s(1)), "retrying", "-", 101, 4, true, N),
            ("retrying", E::RetryDue(s(2)), "copying", "retrying", 101, 0, false, S),
            ("retrying", E::RouteRemoved, "removed", "removed", 101, 4, false, N),
            ("retrying", E::RouteReadded, "retrying", "-", 101, 4, true, N),
            ("retrying", E::OutOfRange(200, 300), "retrying", "-", 101, 4, true, N),
            ("retrying", E::Revoked, "removed", "revoked", -1, 0, false, N),

            ("removed", E::Acked(101), "removed", "-", 102, 3, false, N),
            ("removed", E::Failed(101, TRANSIENT), "removed", "-", 101, 4, false, N),
            ("removed", E::Refused(105, TRANSIENT), "removed", "-", 101, 4, false, N),
            ("removed", E::RetryDue(s(3600)), "removed", "-", 101, 4, false, N),
            ("removed", E::RouteRemoved, "removed", "-", 101, 4, false, N),
            ("removed", E::RouteReadded, "copying", "readded", 101, 0, false, S),
            ("removed", E::OutOfRange(200, 300), "removed", "-", 101, 4, false, N),
            ("removed", E::Revoked, "removed", "revoked", -1, 0, false, N),
        ];
        let now = Instant::now();
        for &(from, event, to, change, committed_after, inflight_after, paused, seek) in table {
            let mut p = in_state(from, now);
            assert_eq!(state_name(p.state()), from, "fixture {from}");
            let got = apply(&mut p, event, now);
            let row = format!("{from} + {event:?}");
            assert_eq!(state_name(p.state()), to, "{row}: state");
            assert_eq!(change_name(&got), change, "{row}: change {got:?}");
            assert_eq!(
                p.track().map_or(-1, PartitionTrack::committed),
                committed_after,
                "{row}: committed"
            );
            assert_eq!(inflight(&p), inflight_after, "{row}: in flight");
            assert_eq!(p.wants_paused(), paused, "{row}: paused");
            assert_eq!(p.reposition(), seek, "{row}: reposition");
            assert_eq!(p.wants_assigned(), to != "removed", "{row}: assigned");
        }
    }

    fn id(s: &str) -> TopicId {
        TopicId::parse(s).expect("an id")
    }

    fn stored_at(position: i64, topic_id: Option<&str>) -> Stored {
        Stored {
            next_offset: position,
            map: OffsetMap::from_runs(vec![Run {
                u: 0,
                d: 0,
                len: position,
            }]),
            topic_id: topic_id.map(id),
            from_mm2: false,
        }
    }

    fn log(low: i64, high: i64, topic_id: Option<&str>) -> SourceLog {
        SourceLog {
            low,
            high,
            topic_id: topic_id.map(id),
        }
    }

    fn replaced(outcome: Outcome) -> (Change, Partition) {
        match outcome {
            Outcome::Replaced { change, successor } => (change, *successor),
            other => panic!("not replaced: {other:?}"),
        }
    }

    #[test]
    fn a_position_stored_for_another_topic_id_is_not_used() {
        let start = |stored: Option<&Stored>, current: Option<&str>| {
            let current = current.map(id);
            Partition::start("t".into(), 0, "A.t".into(), stored, current.as_ref())
        };
        // Re-created while strait was stopped: from the log start, the old position reported.
        let (p, change) = start(Some(&stored_at(500, Some("old"))), Some("new"));
        assert_eq!(
            change,
            Some(Change::Recreated {
                old: id("old"),
                new: id("new"),
                position: Some(500)
            })
        );
        assert_eq!(p.fetch_from(), None, "the new topic from its first offset");
        assert_eq!(p.topic_id(), Some(&id("new")));
        // The same topic: resumes where it was.
        let (p, change) = start(Some(&stored_at(500, Some("old"))), Some("old"));
        assert_eq!((p.fetch_from(), change), (Some(500), None));
        assert_eq!(p.topic_id(), Some(&id("old")));
        // A position written before topic ids: adopted (said), but not stored with the id
        // before records of this topic were copied.
        let (mut p, change) = start(Some(&stored_at(500, None)), Some("now"));
        assert_eq!(
            change,
            Some(Change::IdentityAdopted {
                id: id("now"),
                position: 500
            })
        );
        assert_eq!((p.fetch_from(), p.topic_id()), (Some(500), None));
        p.produced(500, 0);
        assert!(p.acknowledged(500, 900).counted);
        assert_eq!(p.topic_id(), Some(&id("now")));
        // A source without topic ids: the stored one stays, nothing to compare.
        let (p, change) = start(Some(&stored_at(500, Some("old"))), None);
        assert_eq!((p.fetch_from(), change), (Some(500), None));
        assert_eq!(p.topic_id(), Some(&id("old")));
        // Nothing stored.
        let (p, change) = start(None, Some("new"));
        assert_eq!(
            (p.fetch_from(), change, p.topic_id()),
            (None, None, Some(&id("new")))
        );
    }

    #[test]
    fn a_topic_re_created_while_copying_is_copied_by_a_successor_from_its_first_offset() {
        let mut p = Partition::new(
            "t".into(),
            0,
            "A.t".into(),
            Some(&stored_at(100, Some("old"))),
        );
        for o in 100..105 {
            p.produced(o, 0);
        }
        p.acknowledged(100, 100);
        assert!(matches!(p.topic_seen(Some(&id("old"))), Outcome::Unchanged));
        assert!(matches!(p.topic_seen(None), Outcome::Unchanged));
        let (change, mut next) = replaced(p.topic_seen(Some(&id("new"))));
        assert_eq!(
            change,
            Change::Recreated {
                old: id("old"),
                new: id("new"),
                position: Some(101)
            }
        );
        // The old partition is revoked: its late reports change nothing.
        assert!(!p.wants_assigned());
        assert!(p.track().is_none());
        assert!(!p.acknowledged(101, 101).counted);
        assert_eq!(p.delivery_failed(102, TRANSIENT, Instant::now()), None);
        // The successor copies the new topic from its first offset, under the new id.
        assert_eq!(next.state(), State::Copying);
        assert!(next.wants_assigned() && !next.wants_paused());
        assert_eq!(next.fetch_from(), None);
        assert_eq!(next.topic_id(), Some(&id("new")));
        assert_eq!(next.fetched(0), Fetched::Copy);
        next.produced(0, 0);
        assert!(next.acknowledged(0, 101).counted);
        assert_eq!(committed(&next), 1);
        assert_eq!(
            next.track().unwrap().map().runs().collect::<Vec<_>>(),
            [Run {
                u: 0,
                d: 101,
                len: 1
            }],
            "a new offset map: nothing of the old topic's translates the new log"
        );
        // Removed (the topic was deleted), then back under a new id: replaced too.
        let mut p = Partition::new(
            "t".into(),
            0,
            "A.t".into(),
            Some(&stored_at(100, Some("old"))),
        );
        p.route_removed();
        let (_, next) = replaced(p.topic_seen(Some(&id("new"))));
        assert_eq!((next.state(), next.fetch_from()), (State::Copying, None));
        // Stopped on a refused record: the new topic is copied all the same.
        let mut p = Partition::new(
            "t".into(),
            0,
            "A.t".into(),
            Some(&stored_at(100, Some("old"))),
        );
        p.produced(100, 0);
        p.delivery_failed(100, REFUSED, Instant::now());
        let (_, next) = replaced(p.topic_seen(Some(&id("new"))));
        assert_eq!(next.stopped(), None);
        // A partition without an id adopts the first one seen.
        let mut p = at(7);
        assert_eq!(
            match p.topic_seen(Some(&id("x"))) {
                Outcome::Changed(c) => Some(c),
                _ => None,
            },
            Some(Change::IdentityAdopted {
                id: id("x"),
                position: 7
            })
        );
    }

    #[test]
    fn a_position_out_of_range_is_judged_by_the_topic_id_first() {
        let on = OnDataGap::Continue;
        // Another id with the watermarks: re-created, whatever the offsets say.
        let mut p = Partition::new(
            "t".into(),
            0,
            "A.t".into(),
            Some(&stored_at(100, Some("old"))),
        );
        let (change, next) = replaced(p.offset_out_of_range(&log(0, 500, Some("new")), on));
        assert!(matches!(
            change,
            Change::Recreated {
                position: Some(100),
                ..
            }
        ));
        assert_eq!(
            (next.fetch_from(), next.topic_id()),
            (None, Some(&id("new")))
        );

        // The same (stored) id, the log ends before the position: truncated below it. Copying
        // goes on at the new end, the map forgets what it said from there on.
        let mut p = Partition::new(
            "t".into(),
            0,
            "A.t".into(),
            Some(&stored_at(100, Some("old"))),
        );
        let (change, next) = replaced(p.offset_out_of_range(&log(0, 60, Some("old")), on));
        assert_eq!(
            change,
            Change::SourceTruncated {
                position: 100,
                log_end: 60,
                from: 60
            }
        );
        assert_eq!(next.fetch_from(), Some(60));
        assert_eq!(
            next.track().unwrap().map().runs().collect::<Vec<_>>(),
            [Run {
                u: 0,
                d: 0,
                len: 60
            }]
        );
        assert!(!p.wants_assigned(), "the old partition is revoked");

        // Records in flight reach below the new end: fetched again from the acknowledged
        // position (they are still on the source).
        let mut p = Partition::new(
            "t".into(),
            0,
            "A.t".into(),
            Some(&stored_at(50, Some("old"))),
        );
        for o in 50..100 {
            p.produced(o, 0);
        }
        let (change, next) = replaced(p.offset_out_of_range(&log(0, 60, Some("old")), on));
        assert!(matches!(change, Change::SourceTruncated { from: 50, .. }));
        assert_eq!(next.fetch_from(), Some(50));

        // An adopted id proves nothing about the position (it may be a re-created topic's):
        // copied again from the log start, nothing skipped.
        let (mut p, _) = Partition::start(
            "t".into(),
            0,
            "A.t".into(),
            Some(&stored_at(100, None)),
            Some(&id("now")),
        );
        let (change, next) = replaced(p.offset_out_of_range(&log(0, 60, Some("now")), on));
        assert_eq!(
            change,
            Change::LogReset {
                position: 100,
                log_end: 60,
                from: 0
            }
        );
        assert_eq!(
            (next.fetch_from(), next.topic_id()),
            (None, Some(&id("now")))
        );
        assert!(next.track().is_none(), "no map of the old log");

        // No id at all: the same.
        let mut p = at(100);
        let (change, _) = replaced(p.offset_out_of_range(&log(0, 60, None), on));
        assert!(matches!(change, Change::LogReset { from: 0, .. }));
    }

    #[test]
    fn a_data_gap_is_counted_once_and_in_flight_records_stay_owed() {
        let now = Instant::now();
        let mut p = Partition::new(
            "t".into(),
            0,
            "A.t".into(),
            Some(&stored_at(100, Some("x"))),
        );
        for o in 100..105 {
            p.produced(o, 0);
        }
        // 105..=149 deleted before they were fetched.
        let gap = p.offset_out_of_range(&log(150, 200, Some("x")), OnDataGap::Continue);
        assert_eq!(
            change_of(gap),
            Some(Change::DataGap {
                from: 105,
                to: 149,
                lost: 45,
                stopped: false
            })
        );
        assert_eq!(p.fetch_from(), Some(150));
        assert_eq!(p.reposition(), Some(Reposition::Reassign));
        assert_eq!(committed(&p), 100, "100..=104 are not acknowledged yet");
        p.positioned();
        // 104 fails: retried from the acknowledged position 100, which the source deleted too.
        p.acknowledged(100, 0);
        p.acknowledged(101, 1);
        p.acknowledged(102, 2);
        p.acknowledged(103, 3);
        p.delivery_failed(104, TRANSIENT, now);
        assert_eq!(committed(&p), 104);
        p.retry_due(now + Duration::from_secs(3));
        assert_eq!(p.fetch_from(), Some(104));
        let gap = p.offset_out_of_range(&log(150, 200, Some("x")), OnDataGap::Continue);
        assert_eq!(
            change_of(gap),
            Some(Change::DataGap {
                from: 104,
                to: 149,
                lost: 1,
                stopped: false
            }),
            "only 104 is newly lost"
        );
        p.positioned();
        p.produced(150, 0);
        p.acknowledged(150, 4);
        assert_eq!(committed(&p), 151);
    }

    #[test]
    fn with_on_data_gap_stop_the_partition_stops_at_the_gap() {
        let mut p = Partition::new(
            "t".into(),
            0,
            "A.t".into(),
            Some(&stored_at(100, Some("x"))),
        );
        let gap = p.offset_out_of_range(&log(150, 200, Some("x")), OnDataGap::Stop);
        assert_eq!(
            change_of(gap),
            Some(Change::DataGap {
                from: 100,
                to: 149,
                lost: 50,
                stopped: true
            })
        );
        assert_eq!(
            p.state(),
            State::Stopped {
                offset: 100,
                cause: StopCause::DataGap { to: 149 }
            }
        );
        assert!(p.wants_assigned() && p.wants_paused());
        assert_eq!(p.fetched(150), Fetched::NotCopying);
        assert_eq!(
            committed(&p),
            100,
            "the stored position stays before the gap"
        );
        let why = p.stopped().expect("a reason");
        assert!(
            why.contains("offsets 100..=149") && why.contains("on_data_gap: continue"),
            "{why}"
        );
        // Stopped: another out-of-range report changes nothing.
        assert!(matches!(
            p.offset_out_of_range(&log(150, 200, Some("x")), OnDataGap::Stop),
            Outcome::Unchanged
        ));
    }

    #[test]
    fn removed_with_records_in_flight_then_readded_resumes_from_the_acknowledged_position() {
        let now = Instant::now();
        let mut p = copying();
        assert!(p.acknowledged(100, 1000).counted);
        assert_eq!(p.route_removed(), Some(Change::Removed));
        // Still arriving for records sent before the removal: 101 acknowledged, 102 failed.
        assert!(p.acknowledged(101, 1001).counted);
        assert_eq!(p.delivery_failed(102, TRANSIENT, now), None);
        assert!(p.acknowledged(103, 1003).counted);
        assert_eq!(committed(&p), 102, "102 failed: the position stays at it");
        assert_eq!(p.fetched(105), Fetched::NotCopying);

        assert_eq!(p.route_readded(), Some(Change::Readded { from: Some(102) }));
        assert_eq!(
            p.fetch_from(),
            Some(102),
            "re-fetched from the failed record"
        );
        assert_eq!(p.reposition(), Some(Reposition::Seek));
        p.positioned();
        // The old report of 104 (forgotten by the rewind) does not count.
        assert!(!p.acknowledged(104, 1004).counted);
        assert_eq!(p.fetched(101), Fetched::Stale);
        for o in 102..106 {
            assert_eq!(p.fetched(o), Fetched::Copy);
            p.produced(o, 0);
        }
        for o in 102..106 {
            assert!(p.acknowledged(o, o + 1000).counted);
        }
        assert_eq!(
            committed(&p),
            106,
            "never frozen: every record acknowledged"
        );
        assert_eq!(inflight(&p), 0);
    }

    #[test]
    fn a_failure_after_removal_leaves_the_position_below_the_failed_record() {
        let now = Instant::now();
        let mut p = copying();
        p.route_removed();
        assert_eq!(p.delivery_failed(100, REFUSED, now), None);
        for o in 101..105 {
            assert!(p.acknowledged(o, o).counted);
        }
        assert_eq!(
            committed(&p),
            100,
            "what is persisted never passes a lost record"
        );
        assert_eq!(p.state(), State::Removed);
    }

    #[test]
    fn an_isolated_oversized_record_stops_its_partition_at_that_record() {
        let now = Instant::now();
        let mut p = copying(); // 100..=104 in flight
        assert_eq!(
            p.delivery_failed(102, TOO_LARGE, now),
            Some(Change::Isolating {
                from: 102,
                until: 104,
                refused_before_send: false
            })
        );
        // The rest of the refused batch fails too: already handled.
        assert_eq!(p.delivery_failed(103, TOO_LARGE, now), None);
        assert_eq!(p.fetch_from(), Some(100));
        // One at a time: 100 and 101 are fine.
        for o in [100, 101] {
            assert!(!p.awaits_report());
            p.produced(o, 0);
            assert!(p.awaits_report(), "nothing more while {o} is in flight");
            assert_eq!(p.acknowledged(o, o + 1000).change, None);
        }
        // 102 alone is refused: it is the one.
        p.produced(102, 0);
        let change = p.delivery_failed(102, Some(C::MessageSizeTooLarge), now);
        match change {
            Some(Change::Stopped {
                offset: 102,
                refusal,
            }) => {
                assert!(refusal.too_large);
                assert_eq!(refusal.gap_reason(), "record_too_large");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(committed(&p), 102);
        assert!(p.wants_paused());
        assert_eq!(p.fetched(103), Fetched::NotCopying);
    }

    #[test]
    fn isolation_without_a_refused_record_returns_to_batches_after_until() {
        let now = Instant::now();
        let mut p = copying();
        p.delivery_failed(100, TOO_LARGE, now);
        for o in 100..104 {
            p.produced(o, 0);
            assert_eq!(p.acknowledged(o, o).change, None);
        }
        p.produced(104, 0);
        assert_eq!(p.acknowledged(104, 104).change, Some(Change::BackToBatches));
        assert_eq!(p.state(), State::Copying);
    }

    #[test]
    fn a_record_refused_before_sending_with_nothing_in_flight_is_judged_at_once() {
        let now = Instant::now();
        let mut p = at(7);
        match p.send_refused(7, Some(C::MessageSizeTooLarge), now) {
            Some(Change::Stopped { offset: 7, refusal }) => assert!(refusal.too_large),
            other => panic!("{other:?}"),
        }
        let mut p = at(7);
        assert_eq!(
            p.send_refused(7, Some(C::UnknownPartition), now),
            Some(Change::RetryScheduled {
                offset: 7,
                backoff: RETRY_BACKOFF
            })
        );
        // Without a stored position the record itself is the first known offset.
        let mut p = Partition::new("t".into(), 0, "A.t".into(), None);
        assert_eq!(p.fetch_from(), None);
        p.send_refused(42, REFUSED, now);
        assert_eq!(committed(&p), 42);
    }

    #[test]
    fn retries_back_off_exponentially_until_a_record_is_acknowledged() {
        let mut now = Instant::now();
        let mut p = at(0);
        let mut waits = Vec::new();
        for _ in 0..7 {
            p.produced(p.fetch_from().unwrap(), 0);
            match p.delivery_failed(0, TRANSIENT, now) {
                Some(Change::RetryScheduled { backoff, .. }) => waits.push(backoff.as_secs()),
                other => panic!("{other:?}"),
            }
            now += Duration::from_secs(120);
            assert_eq!(p.retry_due(now), Some(Change::Retrying { from: 0 }));
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60]);
        p.produced(0, 0);
        p.acknowledged(0, 0);
        p.produced(1, 0);
        assert_eq!(
            p.delivery_failed(1, TRANSIENT, now),
            Some(Change::RetryScheduled {
                offset: 1,
                backoff: RETRY_BACKOFF
            })
        );
    }

    #[test]
    fn a_write_the_target_denies_is_retried_until_granted_not_stopped() {
        // The remote topic's WRITE ACL is taken away, then granted again: the partition waits
        // and copies on from its acknowledged position, without a restart, losing nothing.
        let denied = Some(C::TopicAuthorizationFailed);
        let mut now = Instant::now();
        let mut p = at(10);
        for o in 10..14 {
            p.produced(o, 0);
        }
        p.acknowledged(10, 10);
        assert_eq!(
            p.delivery_failed(11, denied, now),
            Some(Change::RetryScheduled {
                offset: 11,
                backoff: RETRY_BACKOFF
            })
        );
        assert_eq!(p.stopped(), None);
        // The rest of the refused batch changes nothing.
        for o in 12..14 {
            assert_eq!(p.delivery_failed(o, denied, now), None);
        }
        now += RETRY_BACKOFF;
        assert_eq!(p.retry_due(now), Some(Change::Retrying { from: 11 }));
        // Granted: what was refused is copied again and the position moves on.
        for o in 11..14 {
            p.produced(o, 0);
        }
        for o in 11..14 {
            assert!(p.acknowledged(o, o).counted);
        }
        assert_eq!(committed(&p), 14);
        assert_eq!(p.stopped(), None);
    }

    #[test]
    fn control_records_and_looping_records_move_the_position() {
        let mut p = at(10);
        p.loop_skipped(10);
        assert_eq!(committed(&p), 11);
        p.passed(15);
        assert_eq!(committed(&p), 15);
        // Not while the position is about to move back.
        p.produced(15, 0);
        p.delivery_failed(15, TOO_LARGE, Instant::now());
        p.passed(30);
        assert_eq!(p.fetch_from(), Some(15));
    }
}
