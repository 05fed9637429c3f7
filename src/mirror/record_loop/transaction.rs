//! Exactly-once: the record loop's transactions (see `mirror::transaction`). A transaction is
//! begun before the first record of a turn, collects records for `transaction_interval`, and
//! is then ended: every record in it acknowledged (or the transaction aborted), the progress
//! records of the positions they advance and the offset syncs kept on the target added to it,
//! the coordination group's offsets of the owned shards sent with it (when shared), and
//! committed. Only a committed transaction moves what the partitions fall back to
//! ([`Saved`]) and what checkpoints translate through; an aborted one rolls every partition
//! back to its last committed position and map, and its records are copied again in the next.

use std::time::{Duration, Instant};

use rdkafka::producer::{Producer, PurgeConfig};
use rdkafka::{Offset, TopicPartitionList};

use super::persist::publish_map;
use super::Core;
use crate::mirror::error::MirrorError;
use crate::mirror::progress::Written;
use crate::mirror::tracker::PartitionTrack;
use crate::mirror::transaction::{self, ExactlyOnceSpec, Failure, TransactionGroup};
use crate::telemetry::events::{Event, TransactionAborted, TransactionCommitted};

/// After an aborted transaction, the first wait before the next one begins (doubled on each
/// abort in a row, up to [`ABORT_BACKOFF_MAX`]).
const ABORT_BACKOFF: Duration = Duration::from_millis(200);
const ABORT_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// What a partition falls back to when a transaction aborts: its position, map and writes as
/// of the last commit.
#[derive(Debug)]
pub struct Saved {
    pub track: Option<PartitionTrack>,
    pub written: Written,
}

impl Default for Saved {
    fn default() -> Self {
        Saved {
            track: None,
            written: Written::starting_at(None),
        }
    }
}

/// The transactions of an exactly-once record loop.
pub struct Transactions {
    pub spec: ExactlyOnceSpec,
    /// Shared mirror: the coordination group whose offsets (with this member's generation) go
    /// with each commit.
    pub group: Option<TransactionGroup>,
    /// When the open transaction began; `None`: none is open.
    begun: Option<Instant>,
    /// A record or progress record of the open transaction failed: it must abort.
    failed: bool,
    /// Records handed to the producer in the open transaction.
    records: u64,
    /// No transaction begins before this (after an abort).
    resume_at: Option<Instant>,
    aborts_in_row: u32,
    /// The abort of a failed transaction did not complete (the target away): tried again.
    abort_pending: bool,
}

impl Transactions {
    pub fn new(spec: ExactlyOnceSpec, group: Option<TransactionGroup>) -> Self {
        Transactions {
            spec,
            group,
            begun: None,
            failed: false,
            records: 0,
            resume_at: None,
            aborts_in_row: 0,
            abort_pending: false,
        }
    }

    /// A record or progress record of the open transaction was not written.
    pub fn record_failed(&mut self) {
        if self.begun.is_some() {
            self.failed = true;
        }
    }

    /// A record went into the open transaction.
    pub fn sent(&mut self) {
        self.records += 1;
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// None was open.
    Nothing,
    Committed,
    /// Aborted: its records are copied again.
    Aborted,
}

impl Core {
    /// Exactly-once: begins a transaction unless one is open (or an abort is waited out).
    /// Returns whether records may be sent now.
    pub(super) fn begin(&mut self) -> Result<bool, MirrorError> {
        let Some(txn) = &mut self.txn else {
            return Ok(true);
        };
        if txn.begun.is_some() {
            return Ok(!txn.failed);
        }
        if txn.abort_pending {
            return Ok(false);
        }
        if txn.resume_at.is_some_and(|at| Instant::now() < at) {
            return Ok(false);
        }
        txn.resume_at = None;
        self.producer
            .begin_transaction()
            .map_err(|e| MirrorError::TransactionFatal {
                id: txn.spec.transactional_id.clone(),
                reason: e.to_string(),
            })?;
        txn.begun = Some(Instant::now());
        txn.failed = false;
        txn.records = 0;
        Ok(true)
    }

    /// Exactly-once: how long the open transaction has left to collect records.
    pub(super) fn transaction_left(&self) -> Option<Duration> {
        let txn = self.txn.as_ref()?;
        let begun = txn.begun?;
        Some(txn.spec.interval.saturating_sub(begun.elapsed()))
    }

    /// Exactly-once: whether the open transaction should end now: its interval is over, a
    /// record of it failed, or a partition isolating a refused record has its report (each
    /// record of an isolating partition is committed alone, so that the refused one is found
    /// and everything before it stays copied).
    pub(super) fn transaction_due(&self) -> bool {
        let Some(txn) = &self.txn else {
            return false;
        };
        if txn.abort_pending {
            return true;
        }
        let Some(begun) = txn.begun else {
            return false;
        };
        txn.failed
            || begun.elapsed() >= txn.spec.interval
            || (txn.records > 0
                && self.slots.iter().any(|s| s.part.isolating())
                && !self.slots.iter().any(|s| s.part.awaits_report()))
    }

    /// Ends the open transaction: commits it if every record in it was written, aborts it
    /// otherwise (and rolls the partitions back). `deadline` bounds the wait for the records
    /// in flight.
    pub(super) fn end_transaction(&mut self, deadline: Instant) -> Result<Ended, MirrorError> {
        let Some(txn) = &self.txn else {
            return Ok(Ended::Nothing);
        };
        if txn.abort_pending {
            return self.abort("the abort of the last transaction did not complete");
        }
        let Some(begun) = txn.begun else {
            return Ok(Ended::Nothing);
        };
        // Every record of the transaction acknowledged first: the positions written with it
        // must cover only records in it. Within the transaction's own timeout.
        let limit = deadline.min(begun + txn.spec.timeout.mul_f32(0.9));
        let flushed = self.wait_delivered(limit);
        self.apply_reports();
        let txn = self.txn.as_ref().expect("transactions");
        let records = txn.records;
        if txn.failed {
            return self.abort("a record of the transaction was not written");
        }
        if !flushed {
            return self
                .abort("the target did not acknowledge every record of the transaction in time");
        }
        let written = self.write_progress_in_transaction();
        if self.txn.as_ref().expect("transactions").failed {
            return self.abort("a progress record of the transaction could not be queued");
        }
        // An idle turn's transaction wrote nothing: its commit stays local to the producer,
        // without the group's offsets (which would make it a real one, every interval).
        let wrote = records > 0 || !written.is_empty();
        if wrote {
            if let Some(why) = self.send_group_offsets()? {
                return self.abort(&why);
            }
        }
        let id = self
            .txn
            .as_ref()
            .expect("transactions")
            .spec
            .transactional_id
            .clone();
        // The progress records delivered first: the commit's own flush would wait for them in
        // rounds of up to 100 ms (rust-rdkafka's `flush`).
        self.wait_delivered(limit);
        loop {
            let left = limit.saturating_duration_since(Instant::now());
            match self
                .producer
                .commit_transaction(left.max(Duration::from_secs(1)))
            {
                Ok(()) => break,
                Err(e) => match transaction::failure(&e) {
                    Failure::Retry if Instant::now() < limit => continue,
                    Failure::Retry | Failure::Abort => {
                        self.apply_reports();
                        return self.abort(&format!("the commit failed: {e}"));
                    }
                    Failure::Fatal => return Err(fatal(&id, &e)),
                },
            }
        }
        self.apply_reports();
        // Committed: what the partitions fall back to moves on, and checkpoints may translate
        // through what was committed.
        for slot in written {
            let s = &mut self.slots[slot];
            publish_map(&self.spec.maps, &self.telemetry, &mut s.part);
            s.saved = Saved {
                track: s.part.savepoint(),
                written: s.written,
            };
        }
        let txn = self.txn.as_mut().expect("transactions");
        txn.begun = None;
        txn.aborts_in_row = 0;
        if wrote {
            TransactionCommitted {
                mirror: &self.telemetry,
                records,
                took: begun.elapsed(),
            }
            .emit();
        }
        Ok(Ended::Committed)
    }

    /// Waits until every record handed to the producer is delivered (acknowledged or failed)
    /// and its report collected, or until `limit`; whether they all were. What lingers in the
    /// producer is sent at once (`rd_kafka_flush` without a wait), and the reports are served
    /// as they come: rust-rdkafka's `flush` polls in rounds of up to 100 ms, which made each
    /// transaction about 200 ms longer.
    fn wait_delivered(&self, limit: Instant) -> bool {
        let _ = self.producer.flush(Duration::ZERO);
        while self.producer.in_flight_count() > 0 {
            let left = limit.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.producer.poll(left.min(Duration::from_millis(10)));
        }
        true
    }

    /// Shared: the coordination group's offsets of the owned shards go with the transaction,
    /// with this instance's generation, so that the group coordinator refuses the commit of an
    /// instance it has left behind. `Some(why)`: the transaction must abort.
    fn send_group_offsets(&mut self) -> Result<Option<String>, MirrorError> {
        let Some(txn) = &self.txn else {
            return Ok(None);
        };
        let (Some(group), Some(owned)) = (&txn.group, &self.owned) else {
            return Ok(None);
        };
        if owned.shards.is_empty() {
            return Ok(None);
        }
        let Some(metadata) = group.member.get() else {
            return Ok(Some("not a member of the coordination group yet".into()));
        };
        let mut offsets = TopicPartitionList::new();
        for &shard in &owned.shards {
            let _ = offsets.add_partition_offset(&group.topic, shard as i32, Offset::Offset(0));
        }
        let timeout = txn.spec.timeout / 2;
        let Err(e) = self
            .producer
            .send_offsets_to_transaction(&offsets, &metadata, timeout)
        else {
            return Ok(None);
        };
        match transaction::failure(&e) {
            Failure::Fatal => Err(fatal(&txn.spec.transactional_id, &e)),
            _ if transaction::group_refused(&e) => Ok(Some(format!(
                "the coordination group refused this instance's generation (a rebalance, or the group left it behind): {e}"
            ))),
            _ => Ok(Some(format!(
                "the coordination group's offsets could not go with the transaction: {e}"
            ))),
        }
    }

    /// Aborts the open (or failed) transaction and rolls every partition back to its last
    /// committed position and map; the consumer fetches their records again. If the target
    /// cannot be reached to abort, the abort is tried again on the next turns and nothing new
    /// is sent meanwhile.
    pub(super) fn abort(&mut self, why: &str) -> Result<Ended, MirrorError> {
        let Some(txn) = &mut self.txn else {
            return Ok(Ended::Nothing);
        };
        let id = txn.spec.transactional_id.clone();
        let records = txn.records;
        let first = !txn.abort_pending;
        let timeout = txn.spec.timeout / 2;
        if first {
            // Rolled back at once: nothing of the transaction counts from here on, whether or
            // not the target has heard of the abort yet.
            for s in &mut self.slots {
                s.part.roll_back(s.saved.track.clone());
                s.written = s.saved.written;
            }
            self.dirty = true;
        }
        // librdkafka's abort waits until the delivery report of every record of the
        // transaction was served, and only this thread serves them: what is queued or in
        // flight is purged (it is aborted anyway) and the reports served first.
        self.producer
            .purge(PurgeConfig::default().queue().inflight().non_blocking());
        self.wait_delivered(Instant::now() + timeout);
        match self.producer.abort_transaction(timeout) {
            Ok(()) if !first => tracing::info!(
                "exactly-once: the aborted transaction is over; copying again from the last committed positions"
            ),
            Ok(()) => {}
            Err(e) => match transaction::failure(&e) {
                Failure::Fatal => return Err(fatal(&id, &e)),
                Failure::Retry | Failure::Abort => {
                    let txn = self.txn.as_mut().expect("transactions");
                    txn.abort_pending = true;
                    if first {
                        TransactionAborted {
                            mirror: &self.telemetry,
                            why,
                            records,
                            backoff: None,
                        }
                        .emit();
                        tracing::warn!(error = %e, "exactly-once: the transaction could not be aborted yet (the target is away?); trying again every few seconds, nothing is sent meanwhile");
                    }
                    return Ok(Ended::Aborted);
                }
            },
        }
        // Reports of the aborted records (purged or refused) are served and dropped now, before
        // any record is copied again with the same offsets.
        self.wait_delivered(Instant::now() + timeout);
        let mut stale = Vec::new();
        self.producer.context().take_reports(&mut stale);
        let txn = self.txn.as_mut().expect("transactions");
        txn.abort_pending = false;
        txn.begun = None;
        txn.failed = false;
        txn.aborts_in_row = txn.aborts_in_row.saturating_add(1);
        let backoff = ABORT_BACKOFF
            .saturating_mul(1 << (txn.aborts_in_row - 1).min(6))
            .min(ABORT_BACKOFF_MAX);
        txn.resume_at = Some(Instant::now() + backoff);
        if first {
            TransactionAborted {
                mirror: &self.telemetry,
                why,
                records,
                backoff: Some(backoff),
            }
            .emit();
        }
        Ok(Ended::Aborted)
    }
}

fn fatal(id: &str, e: &rdkafka::error::KafkaError) -> MirrorError {
    transaction::fatal_error(id, transaction::fenced(e), e.to_string())
}
