//! Heartbeats: every `emit_heartbeats_interval`, one MM2-format Heartbeat record (key: source and
//! target alias; value: version 0 and the wall-clock time) to `heartbeats` on the target, as MM2's
//! `MirrorHeartbeatTask` does. The topic replicates onward like any heartbeat topic
//! (`A.heartbeats` downstream), so tools can tell which clusters feed a cluster and over how many
//! hops, and how fresh the flow is.
//!
//! Unlike MM2, a heartbeat is written only while the source cluster answers a metadata request
//! (made just before each heartbeat): the age of the last `A->B` heartbeat on B is then how long
//! ago the mirror last saw A, which is what `strait status` and `strait failover` preflight show.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

use crate::kafka::admin::{self, AdminError};
use crate::kafka::LogContext;
use crate::policy::ReplicationPolicy;
use crate::records::Heartbeat;
use crate::telemetry::error_chain;
use crate::telemetry::health;
use crate::telemetry::metrics::metrics;
use std::sync::atomic::Ordering;

pub struct HeartbeatEmitter {
    pub mirror: String,
    pub source_alias: String,
    pub target_alias: String,
    pub interval: Duration,
    pub replication_factor: Option<i16>,
    pub target_admin: Arc<AdminClient<LogContext>>,
    /// Probed before each heartbeat.
    pub source_admin: Arc<AdminClient<LogContext>>,
    pub producer: FutureProducer<LogContext>,
}

impl HeartbeatEmitter {
    /// Emits heartbeats until cancelled. Failures are logged and retried at the next tick: a
    /// missing heartbeat is exactly what monitoring should notice, so nothing is queued up.
    pub async fn run(self, cancel: CancellationToken) {
        let topic = ReplicationPolicy::heartbeats_topic();
        loop {
            match self.ensure_topic(topic).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(mirror = %self.mirror, topic, error = %error_chain(&e),
                        "cannot create the heartbeats topic; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(self.interval.max(Duration::from_secs(5))) => {}
                    }
                }
            }
        }
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut failing = false;
        let mut source_down = false;
        let health = health::mirror(&self.mirror);
        let m = metrics();
        let reachable = m.source_reachable.with_label_values(&[&self.mirror]);
        let written = m.heartbeats.with_label_values(&[&self.mirror]);
        let last = m.heartbeat_last.with_label_values(&[&self.mirror]);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let target_ok = probe(&self.target_admin, self.interval).await.is_ok();
            health.target_reachable.store(target_ok, Ordering::Relaxed);
            if !target_ok {
                if !failing {
                    tracing::warn!(mirror = %self.mirror, "target cluster unreachable; heartbeats paused until it answers");
                    failing = true;
                }
                continue;
            }
            let source = probe(&self.source_admin, self.interval).await;
            health
                .source_reachable
                .store(source.is_ok(), Ordering::Relaxed);
            reachable.set(i64::from(source.is_ok()));
            match source {
                Ok(()) if source_down => {
                    tracing::info!(mirror = %self.mirror, "source cluster reachable again; heartbeats resumed");
                    source_down = false;
                }
                Ok(()) => {}
                Err(e) => {
                    if !source_down {
                        tracing::warn!(mirror = %self.mirror, error = %e,
                            "source cluster unreachable; heartbeats paused until it answers");
                        source_down = true;
                    }
                    continue;
                }
            }
            let now = chrono::Utc::now().timestamp_millis();
            let hb = Heartbeat {
                source_alias: self.source_alias.clone(),
                target_alias: self.target_alias.clone(),
                timestamp_ms: now,
            };
            let (key, value) = match (hb.encode_key(), hb.encode_value()) {
                (Ok(k), Ok(v)) => (k, v),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(mirror = %self.mirror, error = %e, "cannot encode heartbeat");
                    return;
                }
            };
            // MM2 stamps the record with the same time as the value.
            let record = FutureRecord::to(topic)
                .partition(0)
                .key(&key)
                .payload(&value)
                .timestamp(now);
            // Bounded: a heartbeat stuck towards a target that went away must not stop the
            // probes (its delivery may still complete later; that is harmless).
            let wait = self.interval.max(Duration::from_secs(5));
            let sent = match tokio::time::timeout(wait, self.producer.send(record, wait)).await {
                Ok(r) => r.map(|_| ()).map_err(|(e, _)| e.to_string()),
                Err(_) => Err(format!("not acknowledged within {wait:?}")),
            };
            match sent {
                Ok(()) => {
                    written.inc();
                    last.set(now as f64 / 1000.0);
                    if failing {
                        tracing::info!(mirror = %self.mirror, "heartbeats flowing again");
                        failing = false;
                    }
                }
                Err(e) => {
                    health.target_reachable.store(false, Ordering::Relaxed);
                    if !failing {
                        tracing::warn!(mirror = %self.mirror, topic, error = %e, "heartbeat not written");
                        failing = true;
                    }
                }
            }
        }
    }
}

/// One metadata request (for the heartbeats topic only, so it stays cheap on large clusters).
async fn probe(admin: &Arc<AdminClient<LogContext>>, interval: Duration) -> Result<(), String> {
    {
        let admin = Arc::clone(admin);
        let timeout = interval.max(Duration::from_secs(2));
        tokio::task::spawn_blocking(move || {
            admin
                .inner()
                .fetch_metadata(Some(ReplicationPolicy::heartbeats_topic()), timeout)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

impl HeartbeatEmitter {
    async fn ensure_topic(&self, topic: &str) -> Result<(), AdminError> {
        let rf = match self.replication_factor {
            Some(rf) => rf,
            None => admin::default_replication_factor(
                admin::cluster_metadata(&self.target_admin)
                    .await?
                    .broker_count,
            ),
        };
        admin::ensure_topic(
            &self.target_admin,
            topic,
            1,
            rf,
            crate::topics::INTERNAL_TOPIC_CONFIGS,
        )
        .await?;
        Ok(())
    }
}
