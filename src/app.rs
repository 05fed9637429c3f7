//! Composition root: one supervised mirror per `source -> target` pair, each made of a topic sync
//! task and a record path thread joined by a watch channel of routes; shutdown through one
//! cancellation token.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::checkpoint::CheckpointEmitter;
use crate::config::{Config, MirrorConfig, OffsetSyncsLocation};
use crate::flow::{OffsetMaps, RouteSet};
use crate::heartbeat::HeartbeatEmitter;
use crate::kafka::{self, ClientError};
use crate::mirror::{self, MirrorStats, OffsetSyncsSpec, RecordPathSpec};
use crate::runtime::spawn_named;
use crate::telemetry::error_chain;
use crate::telemetry::health;
use crate::telemetry::http::{Endpoint, HttpError};
use crate::telemetry::metrics::metrics;
use crate::topics::{self, TopicSync};

/// Wait before a mirror whose record path failed is started again.
const RESTART_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Runs every mirror (and the HTTP endpoint) until `cancel` fires, then waits for the mirrors
/// to drain.
pub async fn run(config: Config, cancel: CancellationToken) -> Result<(), AppError> {
    let config = Arc::new(config);
    let endpoint = match config.http.clone() {
        Some(http) => Some(Endpoint::bind(Arc::clone(&config), http).await?),
        None => None,
    };
    let http_task = endpoint.map(|e| tokio::spawn(e.serve(cancel.clone())));
    let tracker = TaskTracker::new();
    for mirror in &config.mirrors {
        let m = Mirror::new(&config, mirror)?;
        let cancel = cancel.clone();
        tracker.spawn(async move { m.supervise(cancel).await });
    }
    tracker.close();
    tracing::info!(mirrors = config.mirrors.len(), "strait running");
    tracker.wait().await;
    tracing::info!("all mirrors stopped");
    if let Some(t) = http_task {
        t.abort();
        let _ = t.await;
    }
    Ok(())
}

struct Mirror {
    config: MirrorConfig,
    spec: RecordPathSpec,
    source_admin: Arc<rdkafka::admin::AdminClient<kafka::LogContext>>,
    target_admin: Arc<rdkafka::admin::AdminClient<kafka::LogContext>>,
    stats: Arc<MirrorStats>,
}

impl Mirror {
    fn new(config: &Config, mirror: &MirrorConfig) -> Result<Self, AppError> {
        let name = mirror.name();
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
        // MM2 names the offset-syncs topic after the cluster it does not live on.
        let offset_syncs = mirror.emit_offset_syncs.then(|| {
            let on_source = mirror.offset_syncs_location == OffsetSyncsLocation::Source;
            let other = if on_source {
                &mirror.target
            } else {
                &mirror.source
            };
            OffsetSyncsSpec {
                topic: mirror.replication_policy.offset_syncs_topic(other),
                on_source,
            }
        });
        Ok(Mirror {
            config: mirror.clone(),
            spec: RecordPathSpec {
                name,
                source,
                target,
                progress_topic,
                throttle: mirror.throttle.clone(),
                // Leave a margin inside the overall shutdown budget for the final progress write.
                drain_timeout: config.shutdown_timeout.mul_f32(0.8),
                offset_syncs,
                maps: OffsetMaps::default(),
                stamp_provenance: mirror.stamp_provenance,
            },
            source_admin,
            target_admin,
            stats: Arc::new(MirrorStats::default()),
        })
    }

    /// Starts topic sync and the record path; restarts the record path after a fatal error,
    /// resuming from the persisted positions.
    async fn supervise(self, cancel: CancellationToken) {
        let name = self.spec.name.clone();
        // Known (not up yet) from the start, so /readyz waits for every mirror.
        health::mirror(&name);
        metrics().mirror_up.with_label_values(&[&name]).set(0);
        let (routes_tx, routes_rx) = watch::channel::<RouteSet>(Arc::new(Vec::new()));
        let sync = TopicSync {
            mirror: self.config.clone(),
            source_admin: Arc::clone(&self.source_admin),
            target_admin: Arc::clone(&self.target_admin),
        };
        let sync_task = tokio::spawn(sync.run(routes_tx, cancel.clone()));
        let metadata_sync = crate::topics::sync::MetadataSync {
            mirror: self.config.clone(),
            source_admin: Arc::clone(&self.source_admin),
            target_admin: Arc::clone(&self.target_admin),
        };
        let metadata_task = tokio::spawn(metadata_sync.run(cancel.clone()));
        let checkpoint_task = match self.checkpoints() {
            Ok(Some(c)) => Some(tokio::spawn(c.run(cancel.clone()))),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(mirror = %name, error = %error_chain(&e), "checkpoints disabled: cannot create their producer");
                None
            }
        };
        let heartbeat_task = match self.heartbeats() {
            Ok(Some(hb)) => Some(tokio::spawn(hb.run(cancel.clone()))),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(mirror = %name, error = %error_chain(&e), "heartbeats disabled: cannot create their producer");
                None
            }
        };

        loop {
            if cancel.is_cancelled() {
                break;
            }
            let positions = match self.prepare().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(mirror = %name, error = %e, "cannot start the record path yet; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(RESTART_BACKOFF) => continue,
                    }
                }
            };
            tracing::info!(mirror = %name, stored_positions = positions.len(), "record path starting");
            health::mirror(&name)
                .up
                .store(true, std::sync::atomic::Ordering::Relaxed);
            metrics().mirror_up.with_label_values(&[&name]).set(1);
            let spec = self.spec.clone();
            let rx = routes_rx.clone();
            let c = cancel.clone();
            let stats = Arc::clone(&self.stats);
            let result = spawn_named(format!("mirror {name}"), move || {
                mirror::run_record_path(spec, positions, rx, c, stats)
            })
            .await;
            match result {
                Ok(()) => break,
                Err(e) => {
                    health::mirror(&name)
                        .up
                        .store(false, std::sync::atomic::Ordering::Relaxed);
                    metrics().mirror_up.with_label_values(&[&name]).set(0);
                    tracing::error!(mirror = %name, error = %error_chain(&e),
                        "record path failed; restarting from the persisted positions");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(RESTART_BACKOFF) => {}
                    }
                }
            }
        }
        sync_task.abort();
        let _ = sync_task.await;
        for task in [heartbeat_task, checkpoint_task, Some(metadata_task)]
            .into_iter()
            .flatten()
        {
            task.abort();
            let _ = task.await;
        }
    }

    fn checkpoints(&self) -> Result<Option<CheckpointEmitter>, ClientError> {
        if !self.config.emit_checkpoints {
            return Ok(None);
        }
        Ok(Some(CheckpointEmitter {
            mirror: self.spec.name.clone(),
            source: self.spec.source.clone(),
            target: self.spec.target.clone(),
            topic: self
                .config
                .replication_policy
                .checkpoints_topic(&self.config.source),
            interval: self.config.emit_checkpoints_interval,
            groups: self.config.groups.clone(),
            maps: Arc::clone(&self.spec.maps),
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
            mirror: self.spec.name.clone(),
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

    /// Ensures strait's internal topics and reads the stored positions.
    async fn prepare(&self) -> Result<mirror::Positions, String> {
        topics::ensure_internal_topic(
            &self.target_admin,
            &self.spec.progress_topic,
            self.config.replication_factor,
        )
        .await
        .map_err(|e| error_chain(&e))?;
        if self.config.emit_checkpoints {
            let topic = self
                .config
                .replication_policy
                .checkpoints_topic(&self.config.source);
            topics::ensure_internal_topic(
                &self.target_admin,
                &topic,
                self.config.replication_factor,
            )
            .await
            .map_err(|e| error_chain(&e))?;
        }
        if let Some(syncs) = &self.spec.offset_syncs {
            let admin = if syncs.on_source {
                &self.source_admin
            } else {
                &self.target_admin
            };
            topics::ensure_internal_topic(admin, &syncs.topic, None)
                .await
                .map_err(|e| error_chain(&e))?;
        }
        let spec = self.spec.clone();
        spawn_named(format!("progress {}", self.spec.name), move || {
            mirror::load_positions(&spec)
        })
        .await
        .map_err(|e| error_chain(&e))
    }
}
