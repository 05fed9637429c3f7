//! Composition root: one supervised mirror per `source -> target` pair, and the HTTP endpoint.
//!
//! A mirror is a set of named tasks — topic sync, metadata sync, the record path's control plane,
//! checkpoints, heartbeats — and the record path's own thread, joined by channels. They start
//! together and stop together: if any of them fails or panics (or ends before the mirror was
//! asked to stop), the others are cancelled, the mirror counts as down (`strait_mirror_up` 0, no
//! heartbeats), and it starts again from its persisted positions after a capped, jittered
//! exponential backoff. Shutdown flows through one cancellation token.

use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::CheckpointEmitter;
use crate::config::{Config, Delivery, DeploymentConfig, MirrorConfig};
use crate::coordination::{self, CoordinationError, Coordinator, DutiesTask};
use crate::flow::{OffsetMaps, RouteSet};
use crate::heartbeat::{HeartbeatEmitter, HeartbeatError};
use crate::kafka::admin::AdminError;
use crate::kafka::{self, ClientError, LogContext};
use crate::mirror::shards::{Owned, Sharing};
use crate::mirror::transaction::{
    self, ExactlyOnceSpec, GroupMember, TransactionGroup, Transactional,
};
use crate::mirror::{self, MirrorError, OffsetSyncsSpec, RecordPathSpec};
use crate::runtime::{self, Exit, TaskSet};
use crate::secret_files::{ClusterSettings, SecretFiles};
use crate::telemetry::error_chain;
use crate::telemetry::events::{
    DutiesRunning, Event, MirrorFailed, MirrorReconnectFailed, MirrorReconnecting, MirrorTelemetry,
    OffsetSyncsTopicUnavailable, ProgressNotRead,
};
use crate::telemetry::http::{Endpoint, HttpError};
use crate::topics::{self, TopicSync};

/// Reads of the stored positions at start-up before the mirror counts as failed (waits of 1, 2,
/// 4 and 8 s between them).
const PROGRESS_READ_ATTEMPTS: u32 = 5;
/// The first wait before a failed mirror starts again; doubled per failure in a row.
const RESTART_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between restarts.
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A mirror that ran this long before failing starts over from the first backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("task `{task}` panicked: {message}")]
    Panicked { task: String, message: String },
}

/// Why one task of a mirror stopped the mirror.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("cannot create internal topic `{topic}`")]
    InternalTopic {
        topic: String,
        #[source]
        source: AdminError,
    },
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    #[error(transparent)]
    Heartbeat(#[from] HeartbeatError),
    #[error(transparent)]
    Coordination(#[from] CoordinationError),
    #[error("{task}: {source}")]
    Duty {
        task: String,
        #[source]
        source: Box<TaskError>,
    },
    #[error("panicked: {0}")]
    Panicked(String),
    #[error("ended before the mirror was asked to stop")]
    Ended,
}

/// Runs every mirror (and the HTTP endpoint) until `cancel` fires, then waits for the mirrors
/// to drain. With `config_path` (where `config` was loaded from) the files the config reads are
/// watched, and the mirrors of a cluster whose settings they change reconnect
/// ([`crate::secret_files`]).
pub async fn run(
    config: Config,
    config_path: Option<PathBuf>,
    cancel: CancellationToken,
) -> Result<(), AppError> {
    let config = Arc::new(config);
    let mut tasks: TaskSet<()> = TaskSet::default();
    if let Some(http) = config.http.clone() {
        let endpoint = Endpoint::bind(Arc::clone(&config), http).await?;
        tasks.spawn("http endpoint", endpoint.serve(cancel.clone()));
    }
    let (watcher, settings) = SecretFiles::new(&config, config_path);
    if let Some(watcher) = watcher {
        tasks.spawn("secret files", watcher.run(cancel.clone()));
    }
    for mirror in &config.mirrors {
        let m = Mirror::new(&config, mirror)?;
        let span = m.telemetry.span().clone();
        let _in = span.enter();
        let watches = Settings {
            source: settings[&mirror.source].clone(),
            target: settings[&mirror.target].clone(),
        };
        tasks.spawn(
            format!("mirror {}", mirror.name()),
            m.supervise(watches, cancel.clone()),
        );
    }
    tracing::info!(mirrors = config.mirrors.len(), "strait running");
    while let Some((task, exit)) = tasks.join_next().await {
        if let Exit::Panicked(message) = exit {
            // A supervisor itself must never panic; stop everything rather than run half.
            cancel.cancel();
            return Err(AppError::Panicked { task, message });
        }
    }
    tracing::info!("all mirrors stopped");
    Ok(())
}

struct Mirror {
    config: MirrorConfig,
    /// Several instances share the mirror; `None`: this one runs it alone.
    deployment: Option<DeploymentConfig>,
    spec: RecordPathSpec,
    source_admin: Arc<rdkafka::admin::AdminClient<LogContext>>,
    target_admin: Arc<rdkafka::admin::AdminClient<LogContext>>,
    telemetry: Arc<MirrorTelemetry>,
}

impl Mirror {
    fn new(config: &Config, mirror: &MirrorConfig) -> Result<Self, AppError> {
        let name = mirror.name();
        // Known (not up yet) from the start, so /readyz waits for every mirror.
        let telemetry = MirrorTelemetry::new(&name, &mirror.source, &mirror.target);
        let _in = telemetry.span().enter();
        let source = config.clusters[&mirror.source].clone();
        let target = config.clusters[&mirror.target].clone();
        let source_admin = Arc::new(kafka::admin_client(
            &source,
            &format!("{name}|source-admin"),
        )?);
        let target_admin = Arc::new(kafka::admin_client(
            &target,
            &format!("{name}|target-admin"),
        )?);
        let progress_topic = mirror.replication_policy.progress_topic(&mirror.source);
        let offset_syncs = mirror
            .offset_syncs_topic()
            .map(|(topic, on_source)| OffsetSyncsSpec { topic, on_source });
        drop(_in);
        Ok(Mirror {
            config: mirror.clone(),
            deployment: config.deployment.clone(),
            spec: RecordPathSpec {
                name,
                source,
                target,
                progress_topic,
                throttle: mirror.throttle.clone(),
                // Inside the overall shutdown budget, with a margin for the tasks to end.
                drain_timeout: config.shutdown_timeout.mul_f32(0.8),
                offset_syncs,
                maps: OffsetMaps::new(mirror.offset_map_memory),
                stamp_provenance: mirror.stamp_provenance,
                on_data_gap: mirror.on_data_gap,
                exactly_once: (mirror.delivery == Delivery::ExactlyOnce).then(|| ExactlyOnceSpec {
                    transactional_id: transaction::transactional_id(
                        &mirror.source,
                        config
                            .deployment
                            .as_ref()
                            .map(|d| (d.name.as_str(), d.instance.as_str())),
                    ),
                    interval: mirror.transaction_interval,
                    timeout: mirror.transaction_timeout,
                }),
            },
            source_admin,
            target_admin,
            telemetry,
        })
    }

    /// Runs the mirror until `cancel` fires, restarting it after every failure, and on new
    /// clients whenever its clusters' `settings` change.
    async fn supervise(mut self, mut settings: Settings, cancel: CancellationToken) {
        let mut failures = 0;
        loop {
            let started = Instant::now();
            let this_run = cancel.child_token();
            let outcome = {
                let run = self.run_once(&this_run);
                tokio::pin!(run);
                tokio::select! {
                    outcome = &mut run => Some(outcome),
                    changed = settings.changed() => {
                        MirrorReconnecting { clusters: &changed }.emit();
                        this_run.cancel();
                        if let Some((task, error)) = run.await {
                            tracing::warn!(task, error = %error_chain(&error), "a task failed while the mirror stopped to reconnect");
                        }
                        None
                    }
                }
            };
            let Some(outcome) = outcome else {
                if cancel.is_cancelled() {
                    return;
                }
                self.reconnect(&mut settings);
                continue;
            };
            let Some((task, error)) = outcome else {
                return; // stopped on request
            };
            if cancel.is_cancelled() {
                return;
            }
            failures = if started.elapsed() >= HEALTHY_AFTER {
                1
            } else {
                failures + 1
            };
            let wait = restart_backoff(failures, jitter());
            MirrorFailed {
                mirror: &self.telemetry,
                task: &task,
                error: &error,
                restart_in: wait,
            }
            .emit();
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                changed = settings.changed() => {
                    MirrorReconnecting { clusters: &changed }.emit();
                    self.reconnect(&mut settings);
                }
            }
        }
    }

    /// New admin clients and record path settings from the clusters' current `settings`; on a
    /// failure the mirror keeps its clients.
    fn reconnect(&mut self, settings: &mut Settings) {
        let source = settings.source.borrow_and_update().as_ref().clone();
        let target = settings.target.borrow_and_update().as_ref().clone();
        let name = &self.spec.name;
        let admins = kafka::admin_client(&source, &format!("{name}|source-admin")).and_then(|s| {
            Ok((
                s,
                kafka::admin_client(&target, &format!("{name}|target-admin"))?,
            ))
        });
        match admins {
            Ok((source_admin, target_admin)) => {
                self.source_admin = Arc::new(source_admin);
                self.target_admin = Arc::new(target_admin);
                self.spec.source = source;
                self.spec.target = target;
            }
            Err(e) => MirrorReconnectFailed { error: &e }.emit(),
        }
    }

    /// Starts every task of the mirror and waits until they have all ended. Returns the first
    /// failure, or `None` when the mirror stopped because `cancel` fired.
    async fn run_once(&self, cancel: &CancellationToken) -> Option<(String, TaskError)> {
        let token = cancel.child_token();
        let mut tasks: TaskSet<Result<(), TaskError>> = TaskSet::default();
        // Alone, this instance runs the singleton duties from the start; sharing the mirror, the
        // owner of shard 0 does, from when the group assigns it.
        let (duties, duties_task) = coordination::duties(self.deployment.is_none());
        // Topic sync first, so that remote topics are created while the start-up reads the
        // stored positions.
        let (routes_tx, routes_rx) = watch::channel::<RouteSet>(RouteSet::default());
        let permissions = Arc::new(topics::permissions::Permissions::new(
            &self.spec.source,
            &self.spec.target,
        ));
        let sync = TopicSync {
            mirror: self.config.clone(),
            source_admin: Arc::clone(&self.source_admin),
            target_admin: Arc::clone(&self.target_admin),
            permissions: Arc::clone(&permissions),
            creates: duties_task.lead.clone(),
        };
        let t = token.clone();
        tasks.spawn(
            "topic sync",
            until(token.clone(), async move {
                sync.run(routes_tx, t).await;
                Ok(())
            }),
        );
        let prepared = tokio::select! {
            _ = token.cancelled() => None,
            prepared = self.prepare() => Some(prepared),
        };
        let (positions, shards, producer) = match prepared {
            Some(Ok(prepared)) => prepared,
            Some(Err(e)) => return stop_all(&token, tasks, Some(("start-up".into(), e))).await,
            None => return stop_all(&token, tasks, None).await,
        };
        let (owned_tx, owned_rx) = watch::channel(Owned::new(shards.unwrap_or(1)));
        // Exactly-once and shared: the coordination group's generation goes with every
        // transaction.
        let group_member =
            (producer.is_some() && self.deployment.is_some()).then(GroupMember::default);
        let shards_topic = self
            .config
            .replication_policy
            .shards_topic(&self.config.source);
        let transactional = producer.map(|producer| Transactional {
            producer,
            group: group_member.clone().map(|member| TransactionGroup {
                member,
                topic: shards_topic.clone(),
            }),
        });
        let (sharing, coordinator) = match (&self.deployment, shards) {
            (Some(deployment), Some(count)) => {
                let (handover_tx, handover_rx) = tokio::sync::mpsc::channel(16);
                let member = coordination::Member {
                    topic: shards_topic.clone(),
                    shards: count,
                    group_member: group_member.clone(),
                    handover: handover_tx,
                    duties,
                    owned: owned_tx,
                    linger: self.spec.drain_timeout + Duration::from_secs(5),
                };
                let coordinator =
                    Coordinator::new(&self.spec, deployment, member, Arc::clone(&self.telemetry));
                match coordinator {
                    Ok(c) => (
                        Some(Sharing {
                            count,
                            handover: handover_rx,
                        }),
                        Some(c),
                    ),
                    Err(e) => {
                        let failure = Some(("coordination".into(), MirrorError::from(e).into()));
                        return stop_all(&token, tasks, failure).await;
                    }
                }
            }
            _ => (None, None),
        };
        let (record_path, control) = match mirror::record_path(
            self.spec.clone(),
            positions,
            sharing,
            transactional,
            routes_rx,
            Arc::clone(&self.telemetry),
        ) {
            Ok(parts) => parts,
            Err(e) => {
                let failure = Some(("record path".into(), e.into()));
                return stop_all(&token, tasks, failure).await;
            }
        };
        let t = token.clone();
        tasks.spawn("control plane", async move { Ok(control.run(t).await?) });
        let runner = DutiesRunner {
            config: self.config.clone(),
            spec: self.spec.clone(),
            source_admin: Arc::clone(&self.source_admin),
            target_admin: Arc::clone(&self.target_admin),
            telemetry: Arc::clone(&self.telemetry),
            permissions,
            owned: self.deployment.is_some().then_some(owned_rx),
        };
        tasks.spawn("singleton duties", runner.run(duties_task, token.clone()));
        let t = token.clone();
        let thread = tasks.spawn_thread(format!("records {}", self.spec.name), move || {
            Ok(record_path.run(t)?)
        });
        let mut failure = thread.err().map(|e| {
            (
                "record path".to_string(),
                TaskError::Panicked(e.to_string()),
            )
        });
        if let (Some(coordinator), None) = (coordinator, &failure) {
            let t = token.clone();
            let thread = tasks
                .spawn_thread(format!("coordination {}", self.spec.name), move || {
                    Ok(coordinator.run(t)?)
                });
            if let Err(e) = thread {
                failure = Some(("coordination".into(), TaskError::Panicked(e.to_string())));
            }
        }
        if failure.is_some() {
            token.cancel();
        }
        while let Some((task, exit)) = tasks.join_next().await {
            let error = match exit {
                Exit::Returned(Ok(())) | Exit::Aborted if token.is_cancelled() => continue,
                Exit::Returned(Ok(())) | Exit::Aborted => TaskError::Ended,
                Exit::Returned(Err(e)) => e,
                Exit::Panicked(message) => TaskError::Panicked(message),
            };
            if failure.is_none() {
                tracing::debug!(task, still_running = ?tasks.running(), "stopping the mirror's tasks");
                failure = Some((task, error));
                token.cancel();
            } else {
                tracing::warn!(task, error = %error_chain(&error), "another task failed while the mirror stopped");
            }
        }
        failure
    }

    /// Ensures strait's internal topics and reads the stored positions; sharing the mirror, also
    /// its coordination topic, and returns its shard count. An exactly-once mirror's
    /// transactional producer is started first (returned too): it fences the producer of an
    /// earlier run and ends the transaction that run left open, whose progress records would
    /// otherwise hold back the read.
    async fn prepare(&self) -> Result<Prepared, TaskError> {
        let ensure = |admin: &Arc<rdkafka::admin::AdminClient<LogContext>>, topic: String, rf| {
            let admin = Arc::clone(admin);
            async move {
                topics::ensure_internal_topic(&admin, &topic, rf)
                    .await
                    .map_err(|source| TaskError::InternalTopic { topic, source })
            }
        };
        let rf = self.config.replication_factor;
        ensure(&self.target_admin, self.spec.progress_topic.clone(), rf).await?;
        let shards = match &self.deployment {
            Some(d) => {
                let topic = self
                    .config
                    .replication_policy
                    .shards_topic(&self.config.source);
                let count = topics::ensure_shards_topic(&self.target_admin, &topic, d.shards, rf)
                    .await
                    .map_err(|source| TaskError::InternalTopic { topic, source })?;
                Some(count)
            }
            None => None,
        };
        if self.config.emit_checkpoints {
            let topic = self
                .config
                .replication_policy
                .checkpoints_topic(&self.config.source);
            ensure(&self.target_admin, topic, rf).await?;
        }
        if let Some(syncs) = &self.spec.offset_syncs {
            let (admin, cluster) = if syncs.on_source {
                (&self.source_admin, &self.config.source)
            } else {
                (&self.target_admin, &self.config.target)
            };
            // Offset syncs never hold back records: without their topic the mirror copies on,
            // and each sync that cannot be written is counted.
            if let Err(e) = ensure(admin, syncs.topic.clone(), None).await {
                OffsetSyncsTopicUnavailable {
                    topic: &syncs.topic,
                    cluster,
                    error: &e,
                }
                .emit();
            }
        }
        let producer = match &self.spec.exactly_once {
            Some(eos) => {
                let (spec, eos) = (self.spec.clone(), eos.clone());
                let started = runtime::blocking(move || transaction::start_producer(&spec, &eos))
                    .await
                    .map_err(|e| TaskError::Panicked(e.to_string()))?;
                Some(started?)
            }
            None => None,
        };
        // A failed read is retried a few times here (a broker restarting, a leader moving)
        // before the mirror counts as failed; it never starts without its positions.
        let mut attempt = 1;
        loop {
            let spec = self.spec.clone();
            let read = runtime::blocking(move || mirror::load_positions(&spec))
                .await
                .map_err(|e| TaskError::Panicked(e.to_string()))?;
            match read {
                Ok(positions) => return Ok((positions, shards, producer)),
                Err(e) if attempt < PROGRESS_READ_ATTEMPTS => {
                    let retry_in = RESTART_BACKOFF * 2u32.pow(attempt - 1);
                    ProgressNotRead {
                        topic: &self.spec.progress_topic,
                        error: &e,
                        attempt,
                        retry_in,
                    }
                    .emit();
                    tokio::time::sleep(retry_in).await;
                    attempt += 1;
                }
                Err(e) => return Err(TaskError::from(e)),
            }
        }
    }
}

/// What a mirror's start-up prepared: the stored positions, the shard count when shared, and
/// the initialized transactional producer when exactly-once.
type Prepared = (
    mirror::Positions,
    Option<u32>,
    Option<Arc<rdkafka::producer::BaseProducer<mirror::DeliveryContext>>>,
);

/// The mirror's singleton duties — config and ACL sync, checkpoints and group offset sync,
/// heartbeats and (sharing the mirror) the offset maps of the partitions other instances copy —
/// run while this instance leads the mirror, each term on new clients. Topic creation follows
/// the same switch inside topic sync.
struct DutiesRunner {
    config: MirrorConfig,
    spec: RecordPathSpec,
    source_admin: Arc<rdkafka::admin::AdminClient<LogContext>>,
    target_admin: Arc<rdkafka::admin::AdminClient<LogContext>>,
    telemetry: Arc<MirrorTelemetry>,
    permissions: Arc<topics::permissions::Permissions>,
    /// The shards this instance owns, when it shares the mirror.
    owned: Option<watch::Receiver<Owned>>,
}

impl DutiesRunner {
    /// Runs a term of the duties each time `task.lead` turns on, until it turns off (then the
    /// term's tasks are stopped before `task.running` says so) or `cancel` fires. A duty that
    /// fails fails the mirror.
    async fn run(self, mut task: DutiesTask, cancel: CancellationToken) -> Result<(), TaskError> {
        loop {
            // Wait to lead.
            while !*task.lead.borrow_and_update() {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    changed = task.lead.changed() => if changed.is_err() { return Ok(()) },
                }
            }
            let term = cancel.child_token();
            let mut duties: TaskSet<Result<(), TaskError>> = TaskSet::default();
            self.start_term(&mut duties, &term);
            task.running.send_replace(true);
            DutiesRunning {
                mirror: &self.telemetry,
                running: true,
            }
            .emit();
            let failure = loop {
                tokio::select! {
                    _ = cancel.cancelled() => break None,
                    changed = task.lead.changed() => {
                        if changed.is_err() || !*task.lead.borrow_and_update() {
                            break None;
                        }
                    }
                    Some((name, exit)) = duties.join_next() => {
                        let error = match exit {
                            Exit::Returned(Ok(())) | Exit::Aborted => TaskError::Ended,
                            Exit::Returned(Err(e)) => e,
                            Exit::Panicked(message) => TaskError::Panicked(message),
                        };
                        break Some(TaskError::Duty { task: name, source: Box::new(error) });
                    }
                }
            };
            term.cancel();
            while duties.join_next().await.is_some() {}
            DutiesRunning {
                mirror: &self.telemetry,
                running: false,
            }
            .emit();
            task.running.send_replace(false);
            if let Some(e) = failure {
                return Err(e);
            }
            if cancel.is_cancelled() {
                return Ok(());
            }
        }
    }

    fn start_term(&self, duties: &mut TaskSet<Result<(), TaskError>>, term: &CancellationToken) {
        let metadata_sync = topics::sync::MetadataSync {
            mirror: self.config.clone(),
            source_admin: Arc::clone(&self.source_admin),
            target_admin: Arc::clone(&self.target_admin),
        };
        let t = term.clone();
        duties.spawn(
            "metadata sync",
            until(term.clone(), async move {
                metadata_sync.run(t).await;
                Ok(())
            }),
        );
        match self.checkpoints() {
            Ok(Some(c)) => {
                let t = term.clone();
                duties.spawn(
                    "checkpoints",
                    until(term.clone(), async move {
                        c.run(t).await;
                        Ok(())
                    }),
                );
                if let Some(owned) = &self.owned {
                    let (spec, owned, t) = (self.spec.clone(), owned.clone(), term.clone());
                    let policy = self.config.replication_policy.clone();
                    let source = self.config.source.clone();
                    let name = format!("maps {}", self.spec.name);
                    let started = duties.spawn_thread(name, move || {
                        let remote = |topic: &str| policy.format_remote_topic(&source, topic);
                        Ok(coordination::follow_maps(&spec, remote, owned, t)?)
                    });
                    if let Err(e) = started {
                        tracing::error!(error = %e, "checkpoints cannot translate the partitions other instances copy: cannot start a thread");
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "checkpoints disabled: cannot create their producer")
            }
        }
        match self.heartbeats() {
            Ok(Some(hb)) => {
                let t = term.clone();
                duties.spawn("heartbeats", async move { Ok(hb.run(t).await?) });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "heartbeats disabled: cannot create their producer")
            }
        }
    }

    fn checkpoints(&self) -> Result<Option<CheckpointEmitter>, ClientError> {
        if !self.config.emit_checkpoints {
            return Ok(None);
        }
        Ok(Some(CheckpointEmitter {
            telemetry: Arc::clone(&self.telemetry),
            source: self.spec.source.clone(),
            target: self.spec.target.clone(),
            topic: self
                .config
                .replication_policy
                .checkpoints_topic(&self.config.source),
            interval: self.config.emit_checkpoints_interval,
            groups: self.config.groups.clone(),
            permissions: Arc::clone(&self.permissions),
            maps: self.spec.maps.clone(),
            source_admin: Arc::clone(&self.source_admin),
            target_admin: Arc::clone(&self.target_admin),
            producer: kafka::control_producer(
                &self.spec.target,
                &format!("{}|checkpoints", self.spec.name),
            )?,
            sync_group_offsets: self
                .config
                .sync_group_offsets
                .then_some(self.config.sync_group_offsets_interval),
        }))
    }

    fn heartbeats(&self) -> Result<Option<HeartbeatEmitter>, ClientError> {
        if !self.config.emit_heartbeats {
            return Ok(None);
        }
        Ok(Some(HeartbeatEmitter {
            telemetry: Arc::clone(&self.telemetry),
            source_alias: self.config.source.clone(),
            target_alias: self.config.target.clone(),
            interval: self.config.emit_heartbeats_interval,
            replication_factor: self.config.replication_factor,
            target_admin: Arc::clone(&self.target_admin),
            source_admin: Arc::clone(&self.source_admin),
            producer: kafka::control_producer(
                &self.spec.target,
                &format!("{}|heartbeats", self.spec.name),
            )?,
        }))
    }
}

/// The settings of a mirror's two clusters.
struct Settings {
    source: ClusterSettings,
    target: ClusterSettings,
}

impl Settings {
    /// Waits until the settings of either cluster change; returns the aliases of those that did.
    /// Never returns when they cannot change (no watcher).
    async fn changed(&mut self) -> Vec<&'static str> {
        let (source, target) = (&mut self.source, &mut self.target);
        let which = tokio::select! {
            Ok(()) = source.changed() => "source",
            Ok(()) = target.changed() => "target",
            else => std::future::pending().await,
        };
        let mut changed = vec![which];
        // Both may have changed in one reload.
        for (name, rx) in [("source", &self.source), ("target", &self.target)] {
            if name != which && rx.has_changed().unwrap_or(false) {
                changed.push(name);
            }
        }
        changed
    }
}

/// Stops the tasks started so far and returns `failure`.
async fn stop_all(
    token: &CancellationToken,
    mut tasks: TaskSet<Result<(), TaskError>>,
    failure: Option<(String, TaskError)>,
) -> Option<(String, TaskError)> {
    token.cancel();
    while tasks.join_next().await.is_some() {}
    failure
}

/// Runs `task` until it ends or `cancel` fires, whichever comes first: a task in the middle of
/// a request to a cluster that went away does not hold up a shutdown or a restart (what it was
/// doing is idempotent and done again next time).
async fn until(
    cancel: CancellationToken,
    task: impl std::future::Future<Output = Result<(), TaskError>>,
) -> Result<(), TaskError> {
    tokio::select! {
        _ = cancel.cancelled() => Ok(()),
        ended = task => ended,
    }
}

/// The wait before restart number `failures` (1 for the first failure in a row): exponential
/// from [`RESTART_BACKOFF`], capped at [`RESTART_BACKOFF_MAX`], and spread by `jitter` (in
/// `0.0..1.0`) over its upper half, so that many mirrors failing together do not restart
/// together.
fn restart_backoff(failures: u32, jitter: f64) -> Duration {
    let exp = RESTART_BACKOFF.saturating_mul(1 << failures.clamp(1, 16).saturating_sub(1));
    let cap = exp.min(RESTART_BACKOFF_MAX);
    cap.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// A number in `0.0..1.0`, different each call (not for cryptography).
fn jitter() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_back_off_exponentially_with_jitter_up_to_a_cap() {
        let secs = |f, j| restart_backoff(f, j).as_secs_f64();
        assert_eq!(secs(1, 1.0), 1.0);
        assert_eq!(secs(1, 0.0), 0.5);
        assert_eq!(secs(2, 1.0), 2.0);
        assert_eq!(secs(4, 1.0), 8.0);
        assert_eq!(secs(7, 1.0), 60.0);
        assert_eq!(secs(7, 0.0), 30.0);
        assert_eq!(secs(1000, 0.5), 45.0);
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
