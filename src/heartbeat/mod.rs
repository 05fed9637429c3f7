//! Heartbeats: every `emit_heartbeats_interval`, one MM2-format Heartbeat record (key: source and
//! target alias; value: version 0 and the wall-clock time) to `heartbeats` on the target, as MM2's
//! `MirrorHeartbeatTask` does. The topic replicates onward like any heartbeat topic
//! (`A.heartbeats` downstream), so tools can tell which clusters feed a cluster and over how many
//! hops, and how fresh the flow is.
//!
//! Unlike MM2, a heartbeat is written only while the mirror's record path runs and the source
//! cluster answers a metadata request (made just before each heartbeat): the age of the last
//! `A->B` heartbeat on B is then how long ago the mirror last worked and saw A, which is what
//! `strait status` and `strait failover` preflight show. A dead mirror never looks alive.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

use crate::kafka::admin::{self, AdminError};
use crate::kafka::LogContext;
use crate::policy::ReplicationPolicy;
use crate::records::{EncodeError, Heartbeat};
use crate::runtime;
use crate::telemetry::error_chain;
use crate::telemetry::events::{
    Event, HeartbeatFailed, HeartbeatWritten, MirrorTelemetry, SourceProbed, TargetAnswered,
};

#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    #[error("cannot encode the heartbeat")]
    Encode(#[from] EncodeError),
}

/// Why a cluster did not answer a probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("metadata request failed")]
    Metadata(#[source] KafkaError),
    #[error("the probe did not finish: {0}")]
    Aborted(String),
}

/// Why a heartbeat was not written.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error("the target refused it")]
    Refused(#[source] KafkaError),
    #[error("not acknowledged within {0:?}")]
    Timeout(Duration),
}

pub struct HeartbeatEmitter {
    pub telemetry: Arc<MirrorTelemetry>,
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
    pub async fn run(self, cancel: CancellationToken) -> Result<(), HeartbeatError> {
        let topic = ReplicationPolicy::heartbeats_topic();
        let hb = Heartbeat {
            source_alias: self.source_alias.clone(),
            target_alias: self.target_alias.clone(),
            timestamp_ms: 0,
        };
        let key = hb.encode_key()?;
        loop {
            match self.ensure_topic(topic).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(topic, error = %error_chain(&e), "cannot create the heartbeats topic; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(self.interval.max(Duration::from_secs(5))) => {}
                    }
                }
            }
        }
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut failing = false;
        let mut source_down = false;
        let mirror = &*self.telemetry;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            if !mirror.is_up() {
                continue; // the record path is not running: the mirror must not look alive
            }
            if let Err(e) = probe(&self.target_admin, self.interval).await {
                HeartbeatFailed {
                    mirror,
                    error: &error_chain(&e),
                    target_unreachable: true,
                    first: !failing,
                }
                .emit();
                failing = true;
                continue;
            }
            TargetAnswered { mirror }.emit();
            let source = probe(&self.source_admin, self.interval).await;
            let source_error = source.as_ref().err().map(|e| error_chain(e));
            SourceProbed {
                mirror,
                error: source_error.as_ref().map(|e| e as &dyn std::fmt::Display),
                changed: source.is_err() != source_down,
            }
            .emit();
            source_down = source.is_err();
            if source_down {
                continue;
            }
            let now = chrono::Utc::now().timestamp_millis();
            let value = Heartbeat {
                timestamp_ms: now,
                ..hb.clone()
            }
            .encode_value()?;
            match self.write(topic, &key, &value, now).await {
                Ok(()) => {
                    HeartbeatWritten {
                        mirror,
                        at_ms: now,
                        recovered: failing,
                    }
                    .emit();
                    failing = false;
                }
                Err(e) => {
                    HeartbeatFailed {
                        mirror,
                        error: &error_chain(&e),
                        target_unreachable: false,
                        first: !failing,
                    }
                    .emit();
                    failing = true;
                }
            }
        }
    }

    async fn write(
        &self,
        topic: &str,
        key: &[u8],
        value: &[u8],
        now: i64,
    ) -> Result<(), WriteError> {
        // MM2 stamps the record with the same time as the value.
        let record = FutureRecord::to(topic)
            .partition(0)
            .key(key)
            .payload(value)
            .timestamp(now);
        // Bounded: a heartbeat stuck towards a target that went away must not stop the probes
        // (its delivery may still complete later; that is harmless).
        let wait = self.interval.max(Duration::from_secs(5));
        match tokio::time::timeout(wait, self.producer.send(record, wait)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(WriteError::Refused(e)),
            Err(_) => Err(WriteError::Timeout(wait)),
        }
    }

    async fn ensure_topic(&self, topic: &str) -> Result<(), AdminError> {
        let rf = admin::replication_factor(&self.target_admin, self.replication_factor).await?;
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

/// Whether the cluster answers ([`admin::probe`]) within the interval (at least 2 s).
async fn probe(admin: &Arc<AdminClient<LogContext>>, interval: Duration) -> Result<(), ProbeError> {
    let admin = Arc::clone(admin);
    let timeout = interval.max(Duration::from_secs(2));
    runtime::blocking(move || {
        admin::probe(&admin, timeout)
            .map(|_| ())
            .map_err(ProbeError::Metadata)
    })
    .await
    .map_err(|e| ProbeError::Aborted(e.to_string()))?
}
