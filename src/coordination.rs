//! Scale-out: the instances of one deployment share each mirror through Kafka's own group
//! protocol (docs/scaling.md). Per mirror, every instance joins the consumer group
//! `strait.<deployment>.<source>` on the mirror's target, subscribed to the coordination topic
//! `strait-shards.<source>.internal`, whose partitions are the shards. The group (classic
//! protocol, cooperative-sticky assignor) gives each instance a share of the shards, and moves
//! only the shards that must move when instances come and go. Owning a shard means copying the
//! source partitions in it ([`crate::mirror::shards::shard_of`]); owning shard 0 means running
//! the mirror's singleton duties. Nothing is written to the coordination topic, nothing is
//! committed, and the source stays read-only.
//!
//! The rebalance callbacks do the hand-over, on the coordinator's thread, while the group waits:
//! - revoked: the singleton duties stop first (when shard 0 goes), then the record path stops
//!   fetching the shards' partitions, waits for what is in flight and stores their positions;
//!   only then does the callback return and the group give the shards to another instance;
//! - assigned: the positions are read from the progress topic (so they include what the last
//!   owner stored) and handed to the record path; with shard 0 the duties start.
//!
//! An instance that vanishes keeps its shards until the session timeout; their next owner
//! resumes from the last stored positions (records after them are copied again: duplicates,
//! never loss; with `delivery: exactly_once` none reach read_committed consumers, see
//! `mirror::transaction`). Exactly-once, the coordinator keeps the record path's copy of the
//! group's member metadata fresh (its transactions carry the generation), and a gained shard's
//! positions are read only once the group's offsets of the shard are stable: a transaction of
//! its last owner that was being committed has ended.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::TopicPartitionList;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::DeploymentConfig;
use crate::kafka::{self, ClientError, LogContext};
use crate::mirror::shards::{Handover, Released, RELEASE_TIMEOUT};
use crate::mirror::transaction::GroupMember;
use crate::mirror::{self, MirrorError, RecordPathSpec};
use crate::telemetry::error_chain;
use crate::telemetry::events::{
    DutiesChanged, Event, MirrorTelemetry, ShardsGained, ShardsReleased,
};
use crate::telemetry::health::SharingState;

/// How long one poll of the group consumer waits.
const POLL: Duration = Duration::from_millis(200);
/// Reads of the positions for gained shards before the mirror counts as failed (1, 2, 4, 8 s
/// apart): a partition never starts without its stored position.
const POSITION_READS: u32 = 5;
/// The longest the singleton duties take to stop before they are handed over regardless.
const DUTIES_STOP: Duration = Duration::from_secs(10);

/// Why the coordinator stopped the mirror.
#[derive(Debug, thiserror::Error)]
pub enum CoordinationError {
    #[error("cannot subscribe to the coordination topic `{topic}`")]
    Subscribe {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot read the stored positions of the shards the group assigned")]
    Positions(#[source] MirrorError),
}

/// The switch of the singleton duties: the coordinator turns them on and off, the duties' task
/// says whether they run.
#[derive(Clone)]
pub struct Duties {
    lead: Arc<watch::Sender<bool>>,
    running: watch::Receiver<bool>,
}

/// The duties' end of the switch.
pub struct DutiesTask {
    /// Whether this instance should run the duties.
    pub lead: watch::Receiver<bool>,
    /// Whether they run.
    pub running: watch::Sender<bool>,
}

/// A switch, starting with the duties on (`lead`) or off.
pub fn duties(lead: bool) -> (Duties, DutiesTask) {
    let (lead_tx, lead_rx) = watch::channel(lead);
    let (running_tx, running_rx) = watch::channel(false);
    (
        Duties {
            lead: Arc::new(lead_tx),
            running: running_rx,
        },
        DutiesTask {
            lead: lead_rx,
            running: running_tx,
        },
    )
}

impl Duties {
    fn start(&self) {
        self.lead.send_replace(true);
    }

    /// Turns the duties off and waits (at most `within`) until they have stopped; whether they
    /// did. Blocking.
    fn stop(&self, within: Duration) -> bool {
        self.lead.send_replace(false);
        let deadline = Instant::now() + within;
        while *self.running.borrow() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

/// How one instance takes part in sharing a mirror.
pub struct Member {
    /// The mirror's coordination topic, and its partition count.
    pub topic: String,
    pub shards: u32,
    /// Exactly-once: the record path's copy of the group's member metadata.
    pub group_member: Option<GroupMember>,
    /// Where gained and released shards go: the record path.
    pub handover: mpsc::Sender<Handover>,
    pub duties: Duties,
    /// The shards owned, for the maps follower.
    pub owned: watch::Sender<mirror::shards::Owned>,
    /// How long the member stays in the group at shutdown, waiting for the record path to
    /// store its final positions.
    pub linger: Duration,
}

/// The group member of one mirror, with the hand-over in its rebalance callbacks.
pub struct Coordinator {
    consumer: BaseConsumer<Rebalancer>,
    /// How long the member stays in the group at shutdown, waiting for the record path to store
    /// its final positions.
    linger: Duration,
}

/// The rebalance callbacks and what they need.
pub struct Rebalancer {
    log: LogContext,
    /// The shards owned, for the maps follower.
    owned: watch::Sender<mirror::shards::Owned>,
    spec: RecordPathSpec,
    handover: mpsc::Sender<Handover>,
    duties: Duties,
    telemetry: Arc<MirrorTelemetry>,
    state: Mutex<SharingState>,
    failed: Mutex<Option<CoordinationError>>,
    /// Exactly-once: the record path's copy of the group's member metadata.
    group_member: Option<GroupMember>,
    /// The coordination topic.
    topic: String,
    /// The group, and the deployment's name.
    group: String,
    deployment: String,
    /// Exactly-once: the instances in the group at the last rebalance (`None`: not known yet).
    instances_seen: Mutex<Option<BTreeSet<String>>>,
}

impl Coordinator {
    /// The member for the mirror of `spec`, taking part as `member` says. Builds a client; does
    /// not wait on the network.
    pub fn new(
        spec: &RecordPathSpec,
        deployment: &DeploymentConfig,
        member: Member,
        telemetry: Arc<MirrorTelemetry>,
    ) -> Result<Coordinator, ClientError> {
        let Member {
            topic,
            shards,
            group_member,
            handover,
            duties,
            owned,
            linger,
        } = member;
        let group = deployment.group(&spec.source.alias);
        let name = format!("{}|coordination|{}", spec.name, deployment.instance);
        let state = SharingState {
            deployment: deployment.name.clone(),
            instance: deployment.instance.clone(),
            group: group.clone(),
            shards,
            owned: BTreeSet::new(),
            duties: false,
        };
        *telemetry.health().sharing.lock().expect("status lock") = Some(state.clone());
        let context = Rebalancer {
            log: LogContext::new(name.clone()),
            owned,
            spec: spec.clone(),
            handover,
            duties,
            telemetry,
            state: Mutex::new(state),
            failed: Mutex::new(None),
            group_member,
            topic,
            group: group.clone(),
            deployment: deployment.name.clone(),
            instances_seen: Mutex::new(None),
        };
        let consumer = kafka::coordination_consumer(
            &spec.target,
            &group,
            &name,
            deployment.session_timeout,
            context,
        )?;
        Ok(Coordinator { consumer, linger })
    }

    /// Takes part in the group until `cancel` fires, then stays until the record path has
    /// ended (it stores its final positions first) and leaves. Blocking: call from a dedicated
    /// thread.
    pub fn run(self, cancel: CancellationToken) -> Result<(), CoordinationError> {
        let topic = &self.consumer.context().topic;
        self.consumer
            .subscribe(&[topic])
            .map_err(|source| CoordinationError::Subscribe {
                topic: topic.clone(),
                source,
            })?;
        let mut warned = None;
        while !cancel.is_cancelled() {
            if let Some(Err(e)) = self.consumer.poll(POLL) {
                // Errors of the group's own (a coordinator moving, a broker restarting) are
                // retried by librdkafka; each kind is said once in a row.
                let kind = e.to_string();
                if warned.as_ref() != Some(&kind) {
                    tracing::warn!(error = %e, "the coordination group reported an error; retrying");
                    warned = Some(kind);
                }
            }
            if let Some(e) = self.consumer.context().failed.lock().expect("lock").take() {
                return Err(e);
            }
            // Besides the rebalance callbacks: the member metadata is whatever the consumer has
            // now, so a generation that changed without a callback reaches the record path too.
            self.consumer.context().refresh_member(&self.consumer);
        }
        let deadline = Instant::now() + self.linger;
        while !self.consumer.context().handover.is_closed() && Instant::now() < deadline {
            self.consumer.poll(Duration::from_millis(50));
        }
        // Dropping the consumer leaves the group: the shards move at once, not after the
        // session timeout.
        Ok(())
    }
}

impl Rebalancer {
    /// The mirror's exactly-once settings (the coordinator has the record path's copy of the
    /// member metadata only then); `None`: at-least-once.
    fn exactly_once(&self) -> Option<&mirror::transaction::ExactlyOnceSpec> {
        self.group_member.as_ref()?;
        self.spec.exactly_once.as_ref()
    }

    /// Exactly-once: the record path's transactions go with the member's current generation.
    fn refresh_member(&self, consumer: &BaseConsumer<Self>) {
        if let Some(m) = &self.group_member {
            m.set(consumer.group_metadata());
        }
    }

    /// Exactly-once: waits until the group's offsets of `shards` are stable (no transaction
    /// that sent them is still being committed or aborted), so that the positions read next
    /// include what the shards' last owner committed. Bounded by the transaction timeout, after
    /// which the broker has aborted any transaction left open.
    fn wait_stable(&self, consumer: &BaseConsumer<Self>, shards: &[u32]) {
        let Some(eos) = self.exactly_once() else {
            return;
        };
        let mut list = TopicPartitionList::new();
        for &s in shards {
            list.add_partition(&self.topic, s as i32);
        }
        let started = Instant::now();
        // A read_committed consumer asks for stable offsets, and librdkafka asks again while
        // the broker answers that they are not.
        match consumer.committed_offsets(list, eos.timeout + Duration::from_secs(10)) {
            Ok(_) => tracing::debug!(
                shards = %mirror::shards::ranges(shards),
                waited_ms = started.elapsed().as_millis() as u64,
                "exactly-once: no transaction of the shards' last owner is pending"
            ),
            Err(e) => tracing::warn!(error = %e, shards = %mirror::shards::ranges(shards),
                "exactly-once: cannot tell whether a transaction of the shards' last owner is still pending; reading their positions regardless (read_committed)"),
        }
    }

    /// Exactly-once: the instances now in the group, from the coordination consumers' client
    /// ids (`…|coordination|<instance>`); `None` when they cannot be listed.
    fn instances_now(&self, consumer: &BaseConsumer<Self>) -> Option<BTreeSet<String>> {
        match kafka::groups::members(consumer.client(), &self.group) {
            Ok(members) => Some(
                members
                    .iter()
                    .filter_map(|m| m.client_id.split_once("|coordination|"))
                    .map(|(_, instance)| instance.to_string())
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, group = %self.group, "exactly-once: cannot list the coordination group's members");
                None
            }
        }
    }

    /// Exactly-once: fences the transactional ids of the instances that left the group since
    /// the last rebalance (killed, or left behind by the group: a zombie; one that left
    /// gracefully has committed its last transaction and loses nothing), so that a
    /// transaction one of them left open ends now, not at its timeout, and none of them can
    /// commit what it copied of the shards that moved. Keeps the instances seen.
    fn fence_departed(&self, consumer: &BaseConsumer<Self>) {
        let Some(eos) = self.exactly_once() else {
            return;
        };
        let Some(now) = self.instances_now(consumer) else {
            return;
        };
        let before = self
            .instances_seen
            .lock()
            .expect("lock")
            .replace(now.clone());
        let Some(before) = before else {
            return;
        };
        for instance in before.difference(&now) {
            let id = mirror::transaction::transactional_id(
                &self.spec.source.alias,
                Some((&self.deployment, instance)),
            );
            let started = Instant::now();
            match mirror::transaction::fence(&self.spec, eos, &id) {
                Ok(()) => tracing::info!(instance = %instance, transactional_id = %id,
                    took_ms = started.elapsed().as_millis() as u64,
                    "exactly-once: fenced an instance that left the group; a transaction it left open is aborted"),
                Err(e) => tracing::warn!(instance = %instance, error = %error_chain(&e),
                    "exactly-once: cannot fence an instance that left the group; a transaction it left open ends at its timeout"),
            }
        }
    }

    fn gained(&self, consumer: &BaseConsumer<Self>, shards: Vec<u32>) {
        let started = Instant::now();
        self.wait_stable(consumer, &shards);
        let mut attempt = 1;
        let positions = loop {
            match mirror::load_positions(&self.spec) {
                Ok(p) => break p,
                Err(e) if attempt < POSITION_READS => {
                    let wait = Duration::from_secs(1 << (attempt - 1));
                    tracing::warn!(error = %error_chain(&e), attempt, retry_in_s = wait.as_secs(),
                        "cannot read the stored positions of the shards assigned; reading again");
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                Err(e) => {
                    *self.failed.lock().expect("lock") = Some(CoordinationError::Positions(e));
                    return;
                }
            }
        };
        let count = positions.len();
        if self
            .handover
            .blocking_send(Handover::Gain {
                shards: shards.clone(),
                positions,
            })
            .is_err()
        {
            return; // the record path ended: the mirror is stopping
        }
        let state = {
            let mut state = self.state.lock().expect("lock");
            state.owned.extend(&shards);
            state.clone()
        };
        self.owned
            .send_modify(|o| o.shards.extend(shards.iter().copied()));
        ShardsGained {
            mirror: &self.telemetry,
            shards: &shards,
            positions: count,
            took: started.elapsed(),
            state: &state,
        }
        .emit();
        if shards.contains(&0) {
            self.duties.start();
            self.state.lock().expect("lock").duties = true;
            DutiesChanged {
                mirror: &self.telemetry,
                held: true,
                stopped: true,
            }
            .emit();
        }
    }

    fn revoked(&self, shards: Vec<u32>, lost: bool) {
        let started = Instant::now();
        if shards.contains(&0) {
            let stopped = self.duties.stop(DUTIES_STOP);
            self.state.lock().expect("lock").duties = false;
            DutiesChanged {
                mirror: &self.telemetry,
                held: false,
                stopped,
            }
            .emit();
        }
        let (done, answer) = std::sync::mpsc::sync_channel(1);
        let released = match self.handover.blocking_send(Handover::Release {
            shards: shards.clone(),
            done,
        }) {
            // A margin over the record path's own bound, for the turn it is in.
            Ok(()) => match answer.recv_timeout(RELEASE_TIMEOUT + Duration::from_secs(5)) {
                Ok(released) => Some(released),
                Err(_) => {
                    tracing::warn!(shards = %mirror::shards::ranges(&shards),
                        "the record path did not let the shards go in time (it may be waiting for the target to take records); they go to their next owner regardless, which copies again what was not stored (duplicates, nothing lost)");
                    None
                }
            },
            Err(_) => None,
        };
        let state = {
            let mut state = self.state.lock().expect("lock");
            for s in &shards {
                state.owned.remove(s);
            }
            state.clone()
        };
        self.owned.send_modify(|o| {
            for s in &shards {
                o.shards.remove(s);
            }
        });
        let Some(Released { partitions, stored }) = released else {
            // The record path ended (it stored what it could at its end) or did not answer.
            return;
        };
        ShardsReleased {
            mirror: &self.telemetry,
            shards: &shards,
            partitions,
            stored,
            lost,
            took: started.elapsed(),
            state: &state,
        }
        .emit();
    }
}

/// The partition numbers of `list`: the shards.
fn shards_of(list: &TopicPartitionList) -> Vec<u32> {
    list.elements()
        .iter()
        .filter_map(|e| u32::try_from(e.partition()).ok())
        .collect()
}

impl ClientContext for Rebalancer {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.log.log(level, fac, log_message);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(error, reason);
    }
}

impl ConsumerContext for Rebalancer {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let _in = self.telemetry.span().enter();
        match rebalance {
            Rebalance::Revoke(list) => {
                let shards = shards_of(list);
                // The last transaction of the shards goes with this generation.
                self.refresh_member(consumer);
                if !shards.is_empty() {
                    self.revoked(shards, consumer.assignment_lost());
                }
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => {
                tracing::warn!(error = %e, "the coordination group's rebalance failed; librdkafka joins again")
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let _in = self.telemetry.span().enter();
        let Rebalance::Assign(list) = rebalance else {
            return;
        };
        self.refresh_member(consumer);
        self.fence_departed(consumer);
        let shards = shards_of(list);
        if shards.is_empty() {
            return;
        }
        // The shards are never read: paused, they cost no fetches.
        if let Err(e) = consumer.pause(list) {
            tracing::debug!(error = %e, "cannot pause the coordination partitions");
        }
        self.gained(consumer, shards);
    }
}

/// How often the maps read from the progress topic are published for checkpoints.
const PUBLISH_MAPS: Duration = Duration::from_secs(1);

/// Follows the mirror's progress topic (on its target) until `cancel` fires and publishes, for
/// checkpoints, the offset map of every partition another instance copies, from the progress
/// records that instance writes every second (the partitions this instance copies publish their
/// own). Run by the instance with the singleton duties of a shared mirror. Blocking: call from
/// a dedicated thread.
pub fn follow_maps(
    spec: &RecordPathSpec,
    remote_topic: impl Fn(&str) -> String,
    owned: watch::Receiver<mirror::shards::Owned>,
    cancel: CancellationToken,
) -> Result<(), MirrorError> {
    use rdkafka::message::Message;
    use std::collections::{HashMap, HashSet};

    let consumer = kafka::reader_consumer(&spec.target, &format!("{}|maps", spec.name))?;
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(&spec.progress_topic, 0, rdkafka::Offset::Beginning)
        .map_err(MirrorError::Assign)?;
    consumer.assign(&list).map_err(MirrorError::Assign)?;
    let mut latest: HashMap<(String, i32), mirror::Stored> = HashMap::new();
    // Partitions whose map was published as last read; a partition changed since, or copied
    // here meanwhile, is published again.
    let mut published: HashSet<(String, i32)> = HashSet::new();
    let mut last_publish = Instant::now();
    while !cancel.is_cancelled() {
        match consumer.poll(POLL) {
            Some(Ok(m)) => match mirror::progress::read(&spec.source.alias, m.key(), m.payload()) {
                mirror::progress::Read::Position(key, stored) => {
                    published.remove(&key);
                    latest.insert(key, stored);
                }
                mirror::progress::Read::Forgotten(key) => {
                    latest.remove(&key);
                    published.remove(&key);
                }
                mirror::progress::Read::Ignored | mirror::progress::Read::Rejected(..) => {}
            },
            Some(Err(e)) => {
                tracing::debug!(error = %e, "reading the progress topic for offset maps")
            }
            None => {}
        }
        if last_publish.elapsed() < PUBLISH_MAPS {
            continue;
        }
        last_publish = Instant::now();
        let owned = owned.borrow().clone();
        for (key, stored) in &latest {
            if owned.owns(&key.0, key.1) {
                // Copied here: the record path publishes it; published again once let go.
                published.remove(key);
                continue;
            }
            if !published.insert(key.clone()) {
                continue;
            }
            let remote: Arc<str> = Arc::from(remote_topic(&key.0));
            let mut map = stored.map.clone();
            spec.maps.publish(&key.0, key.1, &remote, &mut map);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duties_hand_over_only_once_they_have_stopped() {
        let (switch, task) = duties(false);
        assert!(!*task.lead.borrow());
        switch.start();
        assert!(*task.lead.borrow());
        task.running.send_replace(true);
        // The duties stop a moment after they are told to.
        let task = std::thread::scope(|scope| {
            let stopper = scope.spawn(move || {
                while *task.lead.borrow() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                std::thread::sleep(Duration::from_millis(50));
                task.running.send_replace(false);
                task
            });
            let t0 = Instant::now();
            assert!(
                switch.stop(Duration::from_secs(10)),
                "stopped within the bound"
            );
            assert!(t0.elapsed() >= Duration::from_millis(50), "waited for them");
            stopper.join().unwrap()
        });
        assert!(!*task.lead.borrow());
        // Duties that do not stop are handed over after the bound, said so.
        switch.start();
        task.running.send_replace(true);
        assert!(!switch.stop(Duration::from_millis(100)));
    }
}
