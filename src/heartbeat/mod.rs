//! Heartbeats: every `emit_heartbeats_interval`, one MM2-format Heartbeat record (key: source and
//! target alias; value: version 0 and the wall-clock time) to `heartbeats` on the target, as MM2's
//! `MirrorHeartbeatTask` does. The topic replicates onward like any heartbeat topic
//! (`A.heartbeats` downstream), so tools can tell which clusters feed a cluster and over how many
//! hops, and how fresh the flow is.

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

pub struct HeartbeatEmitter {
    pub mirror: String,
    pub source_alias: String,
    pub target_alias: String,
    pub interval: Duration,
    pub replication_factor: Option<i16>,
    pub target_admin: Arc<AdminClient<LogContext>>,
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
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
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
            match self
                .producer
                .send(record, self.interval.max(Duration::from_secs(5)))
                .await
            {
                Ok(_) => {
                    if failing {
                        tracing::info!(mirror = %self.mirror, "heartbeats flowing again");
                        failing = false;
                    }
                }
                Err((e, _)) => {
                    if !failing {
                        tracing::warn!(mirror = %self.mirror, topic, error = %e, "heartbeat not written");
                        failing = true;
                    }
                }
            }
        }
    }

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
            &[("cleanup.policy", "compact")],
        )
        .await?;
        Ok(())
    }
}
