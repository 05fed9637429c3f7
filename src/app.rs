//! Composition root: one supervised mirror per `source -> target` pair, and the HTTP endpoint.
//!
//! A mirror is a set of named tasks — topic sync, metadata sync, the record path's control plane,
//! checkpoints, heartbeats — and the record path's own thread, joined by channels. They start
//! together and stop together: if any of them fails or panics (or ends before the mirror was
//! asked to stop), the others are cancelled, the mirror counts as down (`strait_mirror_up` 0, no
//! heartbeats), and it starts again from its persisted positions after a capped, jittered
//! exponential backoff. Shutdown flows through one cancellation token.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::CheckpointEmitter;
use crate::config::{
    self, ClusterConfig, Config, Delivery, DeploymentConfig, MirrorConfig, Throttle,
};
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
use crate::secret_files::{ClusterChannels, ClusterSettings, SecretFiles};
use crate::telemetry::error_chain;
use crate::telemetry::events::{
    ConfigLoaded, ConfigReloadRejected, ConfigReloadWithoutFile, ConfigReloaded, DutiesRunning,
    Event, MirrorFailed, MirrorReconnectFailed, MirrorReconnecting, MirrorRemoved,
    MirrorRestartingForSettings, MirrorSettingsApplied, MirrorTelemetry,
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
    #[error("cannot install the SIGHUP handler (config reload)")]
    Signal(#[source] std::io::Error),
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
/// ([`crate::secret_files`]); and SIGHUP reads the file again and applies it (`Mirrors::reload`).
pub async fn run(
    config: Config,
    config_path: Option<PathBuf>,
    cancel: CancellationToken,
) -> Result<(), AppError> {
    let (running, running_rx) = watch::channel(Arc::new(config));
    let config = Arc::clone(&running_rx.borrow());
    ConfigLoaded.emit();
    // Installed first: SIGHUP's default action ends the process.
    let mut hangup = signal(SignalKind::hangup()).map_err(AppError::Signal)?;
    let clusters = ClusterChannels::new(&config);
    let mut mirrors = Mirrors {
        tasks: TaskSet::default(),
        running: BTreeMap::new(),
        clusters: clusters.clone(),
        cancel: cancel.clone(),
    };
    if let Some(http) = config.http.clone() {
        let endpoint = Endpoint::bind(running_rx.clone(), http).await?;
        mirrors
            .tasks
            .spawn("http endpoint", endpoint.serve(cancel.clone()));
    }
    if let Some(watcher) = SecretFiles::new(running_rx, config_path.clone(), clusters) {
        mirrors
            .tasks
            .spawn("secret files", watcher.run(cancel.clone()));
    }
    for mirror in &config.mirrors {
        mirrors.start(&config, mirror)?;
    }
    tracing::info!(mirrors = config.mirrors.len(), "strait running");
    loop {
        tokio::select! {
            joined = mirrors.tasks.join_next() => match joined {
                None => break,
                Some((task, Exit::Panicked(message))) => {
                    // A supervisor itself must never panic; stop everything rather than run half.
                    cancel.cancel();
                    return Err(AppError::Panicked { task, message });
                }
                Some(_) => {} // a removed mirror, or a task that ended on shutdown
            },
            Some(()) = hangup.recv(), if !cancel.is_cancelled() => {
                mirrors.reload(config_path.as_deref(), &running).await;
            }
        }
    }
    tracing::info!("all mirrors stopped");
    Ok(())
}

/// The running mirrors, by name, and what a reload needs to start and stop them.
struct Mirrors {
    tasks: TaskSet<()>,
    running: BTreeMap<String, Running>,
    clusters: ClusterChannels,
    cancel: CancellationToken,
}

/// The handles of one running mirror.
struct Running {
    /// Its settings: a reload sends the new ones.
    config: watch::Sender<Arc<MirrorConfig>>,
    /// Stops it (removed from the config).
    stop: CancellationToken,
    /// Cancelled once it has stopped.
    stopped: CancellationToken,
}

impl Mirrors {
    /// Starts supervising `mirror` of `config`.
    fn start(&mut self, config: &Config, mirror: &MirrorConfig) -> Result<(), AppError> {
        let m = Mirror::new(config, mirror)?;
        let span = m.telemetry.span().clone();
        let _in = span.enter();
        let settings = Settings {
            source: self.clusters.subscribe(&mirror.source),
            target: self.clusters.subscribe(&mirror.target),
        };
        let (config_tx, updates) = watch::channel(Arc::new(mirror.clone()));
        let stop = self.cancel.child_token();
        let stopped = CancellationToken::new();
        let (removed, all, done) = (stop.clone(), self.cancel.clone(), stopped.clone());
        self.tasks
            .spawn(format!("mirror {}", mirror.name()), async move {
                let _done = done.drop_guard();
                let telemetry = Arc::clone(&m.telemetry);
                m.supervise(settings, updates, removed.clone()).await;
                if removed.is_cancelled() && !all.is_cancelled() {
                    MirrorRemoved { mirror: &telemetry }.emit();
                }
            });
        self.running.insert(
            mirror.name(),
            Running {
                config: config_tx,
                stop,
                stopped,
            },
        );
        Ok(())
    }

    /// Reads the config file again (SIGHUP) and applies it: clusters with other settings
    /// reconnect their mirrors, removed mirrors stop (positions stored), each kept mirror
    /// takes its changed settings (live, or by starting again on its stored positions), and
    /// added mirrors start. A file that does not validate changes nothing and is reported with
    /// every problem; settings read only at start are reported and keep their running values.
    async fn reload(&mut self, path: Option<&Path>, running: &watch::Sender<Arc<Config>>) {
        let Some(path) = path else {
            ConfigReloadWithoutFile.emit();
            return;
        };
        let file = path.to_owned();
        let new = match runtime::blocking(move || config::load(&file)).await {
            Ok(Ok(new)) => new,
            Ok(Err(error)) => return ConfigReloadRejected { error: &error }.emit(),
            Err(panic) => {
                tracing::error!(error = %panic, "SIGHUP: reading the config file failed; the running config stays");
                return;
            }
        };
        let old = Arc::clone(&running.borrow());
        let changes = old.changes_to(&new);
        ConfigReloaded {
            path,
            changes: &changes,
        }
        .emit();
        // What runs from now on: the file, but with the settings read only at start as they run.
        let mut applied = new;
        applied.http = old.http.clone();
        applied.deployment = old.deployment.clone();
        applied.shutdown_timeout = old.shutdown_timeout;
        applied.secret_files_check_interval = old.secret_files_check_interval;
        // Clusters first: the mirrors started or restarted below connect with their settings.
        for alias in &changes.clusters {
            self.clusters.update(alias, &applied.clusters[alias], false);
        }
        for name in &changes.removed {
            if let Some(r) = self.running.remove(name) {
                r.stop.cancel();
                r.stopped.cancelled().await;
            }
        }
        for change in &changes.changed {
            if let Some(r) = self.running.get(&change.config.name()) {
                r.config.send_replace(Arc::new(change.config.clone()));
            }
        }
        for mirror in &changes.added {
            if let Err(e) = self.start(&applied, mirror) {
                tracing::error!(mirror = %mirror.name(), error = %error_chain(&e),
                    "SIGHUP: cannot start the added mirror; it starts at the next SIGHUP that can");
                applied.mirrors.retain(|m| m.name() != mirror.name());
            }
        }
        running.send_replace(Arc::new(applied));
    }
}

struct Mirror {
    config: MirrorConfig,
    /// Several instances share the mirror; `None`: this one runs it alone.
    deployment: Option<DeploymentConfig>,
    spec: RecordPathSpec,
    /// The record thread's throttle limits (`spec.throttle` follows them).
    throttle: watch::Sender<Throttle>,
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
        let (throttle, limits) = watch::channel(mirror.throttle.clone());
        // Inside the overall shutdown budget, with a margin for the tasks to end.
        let drain_timeout = config.shutdown_timeout.mul_f32(0.8);
        let spec = record_path_spec(
            mirror,
            config.deployment.as_ref(),
            (source, target),
            drain_timeout,
            limits,
        );
        drop(_in);
        Ok(Mirror {
            config: mirror.clone(),
            deployment: config.deployment.clone(),
            spec,
            throttle,
            source_admin,
            target_admin,
            telemetry,
        })
    }

    /// Runs the mirror until `cancel` fires, restarting it after every failure, on new clients
    /// whenever its clusters' `settings` change, and with the settings a reload sends on
    /// `updates`: those the running tasks follow without a pause, the others by a new start on
    /// the stored positions.
    async fn supervise(
        mut self,
        mut settings: Settings,
        mut updates: watch::Receiver<Arc<MirrorConfig>>,
        cancel: CancellationToken,
    ) {
        let mut failures = 0;
        loop {
            // Settings read again while the mirror was stopped (or that stopped it).
            let latest = Arc::clone(&updates.borrow_and_update());
            if *latest != self.config {
                self.rebuild(latest.as_ref().clone());
            }
            let started = Instant::now();
            let this_run = cancel.child_token();
            let outcome = {
                let run = self.run_once(&this_run, updates.clone());
                tokio::pin!(run);
                let mut seen = Arc::clone(&latest);
                let stop = loop {
                    tokio::select! {
                        outcome = &mut run => break Ok(outcome),
                        changed = settings.changed() => {
                            MirrorReconnecting { clusters: &changed }.emit();
                            break Err(Restart::Reconnect);
                        }
                        Ok(()) = updates.changed() => {
                            let new = Arc::clone(&updates.borrow_and_update());
                            if self.take_live(&seen, &new) {
                                seen = new;
                            } else {
                                break Err(Restart::Settings);
                            }
                        }
                    }
                };
                match stop {
                    Ok(outcome) => Ok(outcome),
                    Err(restart) => {
                        this_run.cancel();
                        if let Some((task, error)) = run.await {
                            tracing::warn!(task, error = %error_chain(&error), "a task failed while the mirror stopped to start again");
                        }
                        Err(restart)
                    }
                }
            };
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(restart) => {
                    if cancel.is_cancelled() {
                        return;
                    }
                    // Settings read again are taken at the top of the loop; new cluster settings
                    // (seen by `changed` above, or since) need new clients.
                    if restart == Restart::Reconnect || settings.has_changed() {
                        self.reconnect(&mut settings);
                    }
                    continue;
                }
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
                // Applied at the top of the loop.
                Ok(()) = updates.changed() => {}
            }
        }
    }

    /// Takes settings read again into the running mirror when it can (the throttle here, the
    /// rest by the tasks that follow the updates themselves); false when `new` differs from
    /// the settings the run started with in a key that needs a new start. `seen` is what the
    /// run last took (for the log).
    fn take_live(&self, seen: &MirrorConfig, new: &MirrorConfig) -> bool {
        if let Some(change) = config::mirror_change(&self.config, new) {
            if !change.restart.is_empty() {
                MirrorRestartingForSettings {
                    keys: &change.restart,
                }
                .emit();
                return false;
            }
        }
        if let Some(change) = config::mirror_change(seen, new) {
            self.throttle.send_if_modified(|limits| {
                let differs = *limits != new.throttle;
                if differs {
                    *limits = new.throttle.clone();
                }
                differs
            });
            MirrorSettingsApplied { keys: &change.live }.emit();
        }
        true
    }

    /// The mirror's spec for `config` (a reload), on the clients it has.
    fn rebuild(&mut self, config: MirrorConfig) {
        self.throttle.send_replace(config.throttle.clone());
        self.spec = record_path_spec(
            &config,
            self.deployment.as_ref(),
            (self.spec.source.clone(), self.spec.target.clone()),
            self.spec.drain_timeout,
            self.throttle.subscribe(),
        );
        self.config = config;
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
    async fn run_once(
        &self,
        cancel: &CancellationToken,
        updates: watch::Receiver<Arc<MirrorConfig>>,
    ) -> Option<(String, TaskError)> {
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
            updates: updates.clone(),
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
            updates,
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

/// What the record path of `mirror` runs with, on the clusters' settings `clusters`.
fn record_path_spec(
    mirror: &MirrorConfig,
    deployment: Option<&DeploymentConfig>,
    (source, target): (ClusterConfig, ClusterConfig),
    drain_timeout: Duration,
    throttle: watch::Receiver<Throttle>,
) -> RecordPathSpec {
    RecordPathSpec {
        name: mirror.name(),
        source,
        target,
        progress_topic: mirror.replication_policy.progress_topic(&mirror.source),
        throttle,
        drain_timeout,
        offset_syncs: mirror
            .offset_syncs_topic()
            .map(|(topic, on_source)| OffsetSyncsSpec { topic, on_source }),
        maps: OffsetMaps::new(mirror.offset_map_memory),
        stamp_provenance: mirror.stamp_provenance,
        on_data_gap: mirror.on_data_gap,
        take_over_mm2: mirror.take_over_mm2.clone(),
        exactly_once: (mirror.delivery == Delivery::ExactlyOnce).then(|| ExactlyOnceSpec {
            transactional_id: transaction::transactional_id(
                &mirror.source,
                deployment.map(|d| (d.name.as_str(), d.instance.as_str())),
            ),
            interval: mirror.transaction_interval,
            timeout: mirror.transaction_timeout,
        }),
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
    /// Settings read again (a reload): a change starts a new term with them.
    updates: watch::Receiver<Arc<MirrorConfig>>,
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
    async fn run(
        mut self,
        mut task: DutiesTask,
        cancel: CancellationToken,
    ) -> Result<(), TaskError> {
        // A new term on settings read again: the duties stop and start on them at once, and
        // this instance goes on leading (no `running` change).
        let mut renew = false;
        loop {
            // Wait to lead.
            while !renew && !*task.lead.borrow_and_update() {
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    changed = task.lead.changed() => if changed.is_err() { return Ok(()) },
                    Ok(()) = self.updates.changed() => {
                        self.config = self.updates.borrow_and_update().as_ref().clone();
                    }
                }
            }
            let term = cancel.child_token();
            let mut duties: TaskSet<Result<(), TaskError>> = TaskSet::default();
            self.start_term(&mut duties, &term);
            if !renew {
                task.running.send_replace(true);
                DutiesRunning {
                    mirror: &self.telemetry,
                    running: true,
                }
                .emit();
            }
            renew = false;
            let failure = loop {
                tokio::select! {
                    _ = cancel.cancelled() => break None,
                    changed = task.lead.changed() => {
                        if changed.is_err() || !*task.lead.borrow_and_update() {
                            break None;
                        }
                    }
                    Ok(()) = self.updates.changed() => {
                        renew = true;
                        break None;
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
            if renew {
                self.config = self.updates.borrow_and_update().as_ref().clone();
                tracing::debug!(
                    "the mirror's duties start a new term with the settings read again"
                );
                continue;
            }
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
        match self.canary() {
            Ok(Some(canary)) => {
                let t = term.clone();
                duties.spawn(
                    "canary",
                    until(term.clone(), async move {
                        canary.run(t).await;
                        Ok(())
                    }),
                );
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "canary disabled: cannot create its clients")
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

    fn canary(&self) -> Result<Option<crate::canary::Canary>, ClientError> {
        let Some(config) = self.config.canary.clone() else {
            return Ok(None);
        };
        let name = &self.spec.name;
        Ok(Some(crate::canary::Canary {
            telemetry: Arc::clone(&self.telemetry),
            remote: self
                .config
                .replication_policy
                .format_remote_topic(&self.config.source, &config.topic),
            config,
            replication_factor: self.config.replication_factor,
            source_admin: Arc::clone(&self.source_admin),
            producer: kafka::control_producer(&self.spec.source, &format!("{name}|canary"))?,
            consumer: Arc::new(kafka::reader_consumer(
                &self.spec.target,
                &format!("{name}|canary-reader"),
            )?),
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

/// Why a mirror's run was stopped to start again at once.
#[derive(Debug, PartialEq, Eq)]
enum Restart {
    /// Its clusters' settings changed: new clients.
    Reconnect,
    /// Settings read again (a reload) need a new start.
    Settings,
}

/// The settings of a mirror's two clusters.
struct Settings {
    source: ClusterSettings,
    target: ClusterSettings,
}

impl Settings {
    /// Whether either cluster's settings changed since they were last taken.
    fn has_changed(&self) -> bool {
        self.source.has_changed().unwrap_or(false) || self.target.has_changed().unwrap_or(false)
    }

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
