//! The record loop: the one thread of a mirror that moves records. Each turn it takes what the
//! control plane sent (routes, watermarks), starts due retries, makes the consumer follow the
//! partitions, writes progress and measures lag once a second, then polls the source for a
//! bounded batch (or, while a partition isolates a refused record, only waits for its report)
//! and applies the delivery reports. Nothing in a turn waits on the network for longer than a
//! poll: lookups go to the control plane.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::{BaseProducer, Producer};
use tokio_util::sync::CancellationToken;

mod announce;
mod copy;
mod handover;
mod index;
mod measure;
mod persist;
mod positions;
mod reports;
mod routes;
mod transaction;

use announce::announce;

use super::assignment::{self, Held};
use super::control::{Handle, Request};
use super::delivery::{DeliveryContext, Report};
use super::error::MirrorError;
use super::partitions::Partition;
use super::progress::{Positions, Written};
use super::shards::{Handover, Owned, Sharing};
use super::spec::RecordPathSpec;
use super::throttle::Throttler;
use super::transaction::{self as eos, TransactionGroup};
use crate::flow::RouteSet;
use crate::kafka::LogContext;
use crate::runtime::failpoint;
use crate::telemetry::events::{
    Event, LoopTurned, MirrorTelemetry, PartitionTelemetry, Replicating,
};

/// How often acknowledged positions are written to the progress topic and lag is measured.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a turn polls before serving progress, routes and retries.
const BATCH_TIME: Duration = Duration::from_millis(100);
/// At most this many records per turn.
const BATCH_RECORDS: usize = 1024;
/// How often a summary of the work done is logged.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(30);

/// One source partition of the loop: its state machine, what the consumer has of it, what was
/// written for it, its metric series.
pub struct Slot {
    pub part: Partition,
    pub held: Held,
    pub written: Written,
    pub telemetry: PartitionTelemetry,
    /// When its acknowledged position last moved (ms since the epoch; 0: not in this run).
    pub moved_ms: i64,
    /// Exactly-once: what it falls back to if the open transaction aborts.
    pub saved: transaction::Saved,
}

/// Everything of the loop but the consumer (whose messages borrow it while they are copied).
pub struct Core {
    pub spec: RecordPathSpec,
    pub producer: Arc<BaseProducer<DeliveryContext>>,
    /// Writes offset syncs to the source when they live there.
    pub syncs: Option<Arc<BaseProducer<DeliveryContext>>>,
    pub slots: Vec<Slot>,
    /// Source (topic, partition) -> slot.
    pub index: index::Index,
    pub positions: Positions,
    /// The shards this instance owns when several share the mirror; `None`: it copies every
    /// partition.
    pub owned: Option<Owned>,
    /// The routes last applied (gained shards are applied against them).
    pub routes: RouteSet,
    pub telemetry: Arc<MirrorTelemetry>,
    /// Exactly-once: the transactions of the record producer.
    pub(super) txn: Option<transaction::Transactions>,
    /// Exactly-once with offset syncs on the target: they go through the record producer, in
    /// the transactions.
    pub(super) syncs_in_transaction: bool,
    pub(super) throttle: Option<Throttler>,
    pub(super) reports: Vec<Report>,
    /// Some partition changed and the consumer must follow.
    pub(super) dirty: bool,
    /// Watermarks were asked for and not answered yet.
    pub(super) watermarks_pending: bool,
    /// Records handed to the producer in this run.
    pub(super) copied: u64,
    pub(super) panic_after: Option<u64>,
}

/// What became of one fetched record.
enum Forwarded {
    Sent,
    /// Sent while isolating: nothing more of the partition before its report.
    SentAlone,
    /// Not sent (not replicated here, stale, would loop, or cancelled while waiting).
    Skipped,
    /// It failed before leaving and changed the partition's state.
    Failed,
}

pub struct RecordLoop {
    consumer: BaseConsumer<LogContext>,
    control: Handle,
    /// Shards gained and released, when several instances share the mirror.
    handover: Option<tokio::sync::mpsc::Receiver<Handover>>,
    core: Core,
}

/// The record loop's clients: the source consumer, the target producer (transactional with
/// `delivery: exactly_once`) and, when offset syncs are written apart from the records, their
/// producer.
pub struct Clients {
    pub consumer: BaseConsumer<LogContext>,
    pub producer: Arc<BaseProducer<DeliveryContext>>,
    pub syncs: Option<Arc<BaseProducer<DeliveryContext>>>,
    /// Exactly-once and shared: the coordination group the transactions commit with. (The
    /// producer is transactional, its transactions initialized, when the spec says
    /// `exactly_once`.)
    pub group: Option<TransactionGroup>,
}

impl RecordLoop {
    pub(super) fn new(
        spec: RecordPathSpec,
        clients: Clients,
        control: Handle,
        positions: Positions,
        sharing: Option<Sharing>,
        telemetry: Arc<MirrorTelemetry>,
    ) -> RecordLoop {
        let Clients {
            consumer,
            producer,
            syncs,
            group,
        } = clients;
        let txn = spec
            .exactly_once
            .clone()
            .map(|eos| transaction::Transactions::new(eos, group));
        let syncs_in_transaction =
            txn.is_some() && spec.offset_syncs.as_ref().is_some_and(|o| !o.on_source);
        let throttle = Throttler::new(&spec.throttle.borrow());
        let (owned, handover) = match sharing {
            Some(s) => (Some(Owned::new(s.count)), Some(s.handover)),
            None => (None, None),
        };
        RecordLoop {
            consumer,
            control,
            handover,
            core: Core {
                owned,
                routes: RouteSet::default(),
                spec,
                producer,
                syncs,
                slots: Vec::new(),
                index: index::Index::default(),
                positions,
                telemetry,
                txn,
                syncs_in_transaction,
                throttle,
                reports: Vec::new(),
                dirty: false,
                watermarks_pending: false,
                copied: 0,
                panic_after: failpoint::armed("record-path-panic-after"),
            },
        }
    }

    /// Runs until `cancel` fires (then drains and persists) or a fatal error.
    pub fn run(&mut self, cancel: &CancellationToken) -> Result<(), MirrorError> {
        let mut last_progress = Instant::now();
        let mut summary = (Instant::now(), 0u64);
        let result = loop {
            if cancel.is_cancelled() {
                break Ok(());
            }
            if let Err(e) = self.turn(cancel, &mut last_progress, &mut summary) {
                break Err(e);
            }
        };
        let drained = self
            .core
            .drain(Instant::now() + self.core.spec.drain_timeout);
        crate::telemetry::events::RecordPathStopped { drained }.emit();
        result
    }

    fn turn(
        &mut self,
        cancel: &CancellationToken,
        last_progress: &mut Instant,
        summary: &mut (Instant, u64),
    ) -> Result<(), MirrorError> {
        let c = &mut self.core;
        if c.spec.throttle.has_changed().unwrap_or(false) {
            let limits = c.spec.throttle.borrow_and_update().clone();
            c.throttle = Throttler::new(&limits);
            crate::telemetry::events::ThrottleChanged { limits: &limits }.emit();
        }
        if self.control.routes.has_changed().unwrap_or(false) {
            let set = self.control.routes.borrow_and_update().clone();
            c.apply_routes(&set);
        }
        if let Some(handover) = &mut self.handover {
            while let Ok(command) = handover.try_recv() {
                match command {
                    Handover::Gain { shards, positions } => c.gain(shards, positions),
                    Handover::Release { shards, done } => {
                        let released = c.release(&self.consumer, &shards)?;
                        // The coordinator may have stopped waiting (bounded); nothing to undo.
                        let _ = done.send(released);
                    }
                }
            }
        }
        while let Some(answer) = self.control.answer()? {
            c.watermarks_pending = false;
            for ((topic, partition), result) in answer {
                c.out_of_range(&topic, partition, result);
            }
        }
        c.retries_due(&self.control)?;
        c.follow(&self.consumer)?;
        LoopTurned {
            mirror: &c.telemetry,
        }
        .emit();
        if last_progress.elapsed() >= PROGRESS_INTERVAL {
            // Exactly-once: positions go with the transactions instead.
            if c.txn.is_none() {
                c.write_progress();
            }
            c.measure_lag(&self.consumer);
            *last_progress = Instant::now();
        }
        if summary.0.elapsed() >= SUMMARY_INTERVAL {
            Replicating {
                records_total: c.copied,
                records_per_second: (c.copied - summary.1) as f64
                    / summary.0.elapsed().as_secs_f64(),
                partitions: c.slots.iter().filter(|s| s.part.copies()).count(),
            }
            .emit();
            *summary = (Instant::now(), c.copied);
        }
        if let Some((code, reason)) = c.producer.client().fatal_error() {
            return Err(match &c.txn {
                Some(txn) if eos::fenced_code(code) => {
                    eos::fatal_error(&txn.spec.transactional_id, true, reason)
                }
                _ => MirrorError::ProducerFatal { code, reason },
            });
        }
        if c.slots.iter().any(|s| s.part.awaits_report()) {
            // Isolating a partition: its record must be resolved before anything else goes.
            c.producer.poll(BATCH_TIME);
        } else if c.begin()? {
            self.copy_batch(cancel)?;
        } else {
            // Exactly-once, after an abort: waiting out the backoff (reports still served).
            c.producer.poll(BATCH_TIME);
        }
        let c = &mut self.core;
        c.producer.poll(Duration::ZERO);
        c.apply_reports();
        if c.transaction_due() {
            let deadline = Instant::now() + c.spec.drain_timeout;
            c.end_transaction(deadline)?;
        }
        Ok(())
    }

    /// Polls the source for a batch bounded in records and in time (a throttle or
    /// backpressure can make each record slow, and the rest of the turn must still be served).
    fn copy_batch(&mut self, cancel: &CancellationToken) -> Result<(), MirrorError> {
        // Exactly-once: no longer than the open transaction has left, so that it is committed
        // on time.
        let until = Instant::now()
            + self
                .core
                .transaction_left()
                .unwrap_or(BATCH_TIME)
                .min(BATCH_TIME);
        for _ in 0..BATCH_RECORDS {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let msg = match self.consumer.poll(left) {
                None => break,
                Some(Err(e)) => {
                    self.core.consumer_error(&self.control, &e)?;
                    break;
                }
                Some(Ok(m)) => m,
            };
            let done = self.core.forward(&msg, cancel);
            drop(msg);
            self.core.producer.poll(Duration::ZERO);
            match done {
                Forwarded::Sent | Forwarded::Skipped => {}
                Forwarded::SentAlone | Forwarded::Failed => break,
            }
            if cancel.is_cancelled() {
                break;
            }
        }
        Ok(())
    }
}

impl Core {
    /// Makes the consumer follow the partitions, if any changed.
    fn follow(&mut self, consumer: &BaseConsumer<LogContext>) -> Result<(), MirrorError> {
        if !self.dirty {
            return Ok(());
        }
        self.dirty = false;
        let changes = assignment::plan(self.slots.iter_mut().map(|s| (&mut s.part, &mut s.held)));
        if !changes.is_empty() {
            let slots = &self.slots;
            assignment::apply(consumer, &changes, |i| &slots[i].part)
                .map_err(MirrorError::Assign)?;
        }
        Ok(())
    }

    fn retries_due(&mut self, control: &Handle) -> Result<(), MirrorError> {
        let now = Instant::now();
        for s in &mut self.slots {
            if let Some(change) = s.part.retry_due(now) {
                announce(&self.telemetry, &s.part, &change, None, 0);
                self.dirty = true;
                // The failure may have come from a stale view of the remote topic.
                control.request(Request::RefreshMetadata(Arc::clone(&s.part.remote_topic)))?;
            }
        }
        Ok(())
    }
}
