//! The canary (opt-in, `mirrors[].canary`): every `interval` a small probe record goes to the
//! canary topic on the source, the mirror copies it like any record, and a reader of its remote
//! topic on the target times its arrival. End-to-end latency (the source's write, the copy and
//! the target's write, as a consumer of the target would see them) and completeness (probes
//! sent, arrived, late, lost) become metrics; an alert watches the late ones.
//!
//! Each term of the mirror's duties sends probes under a run id of its own and counts only
//! those: another instance's or an earlier run's probes in the topic are read and passed over.
//! A probe not arrived `late_after` after it was sent is late; one not arrived after ten times
//! that is counted lost and forgotten (so the pending set stays bounded).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::config::CanaryConfig;
use crate::kafka::admin;
use crate::kafka::LogContext;
use crate::runtime;
use crate::telemetry::error_chain;
use crate::telemetry::events::{
    CanaryArrived, CanaryLate, CanaryLost, CanarySendFailed, CanarySent, Event, MirrorTelemetry,
};

/// The canary topic's retention on the source: probes are useless after their lost-after time.
const RETENTION_MS: &str = "3600000";
/// The longest one read of the target waits (also how soon a cancel is seen).
const POLL_MAX: Duration = Duration::from_millis(200);

/// One probe as written: JSON, so that it reads well in a console consumer.
#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Probe {
    pub mirror: String,
    pub run: String,
    pub seq: u64,
    pub sent_ms: i64,
}

/// The canary of one mirror, for one term of its duties.
pub struct Canary {
    pub telemetry: Arc<MirrorTelemetry>,
    pub config: CanaryConfig,
    /// The canary topic's name on the target.
    pub remote: String,
    pub replication_factor: Option<i16>,
    pub source_admin: Arc<AdminClient<LogContext>>,
    /// Writes the probes to the source.
    pub producer: FutureProducer<LogContext>,
    /// Reads their copies on the target.
    pub consumer: Arc<BaseConsumer<LogContext>>,
}

impl Canary {
    /// Sends probes and times their copies until cancelled.
    pub async fn run(self, cancel: CancellationToken) {
        let topic = self.config.topic.clone();
        loop {
            match self.ensure_topic().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(topic, error = %error_chain(&e), "cannot create the canary topic on the source; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(self.config.interval.max(Duration::from_secs(5))) => {}
                    }
                }
            }
        }
        let mut assignment = TopicPartitionList::new();
        if let Err(e) = assignment
            .add_partition_offset(&self.remote, 0, Offset::Beginning)
            .and_then(|()| self.consumer.assign(&assignment))
        {
            tracing::error!(topic = %self.remote, error = %error_chain(&e), "canary disabled: cannot read its remote topic");
            return;
        }
        let run = format!("{:016x}", run_id());
        let name = self.telemetry.name.to_string();
        let lost_after = self.config.late_after * 10;
        let mut pending: BTreeMap<u64, i64> = BTreeMap::new();
        let mut seq = 0u64;
        let mut next_send = tokio::time::Instant::now();
        let mut late_before = 0;
        while !cancel.is_cancelled() {
            let now = tokio::time::Instant::now();
            if now >= next_send {
                let sent_ms = now_ms();
                let probe = Probe {
                    mirror: name.clone(),
                    run: run.clone(),
                    seq,
                    sent_ms,
                };
                self.send(&probe);
                pending.insert(seq, sent_ms);
                CanarySent {
                    mirror: &self.telemetry,
                }
                .emit();
                seq += 1;
                next_send = (next_send + self.config.interval).max(now);
            }
            let wait = (next_send - tokio::time::Instant::now()).min(POLL_MAX);
            let consumer = Arc::clone(&self.consumer);
            let arrived = runtime::blocking(move || read(&consumer, wait))
                .await
                .unwrap_or_default();
            for (bytes, at_ms) in arrived {
                let Ok(probe) = serde_json::from_slice::<Probe>(&bytes) else {
                    continue; // not a probe: someone else writes to the topic
                };
                if probe.run != run || probe.mirror != name {
                    continue;
                }
                if pending.remove(&probe.seq).is_some() {
                    CanaryArrived {
                        mirror: &self.telemetry,
                        latency: Duration::from_millis((at_ms - probe.sent_ms).max(0) as u64),
                        at_ms,
                    }
                    .emit();
                }
            }
            let now_ms = now_ms();
            let lost_before = now_ms - lost_after.as_millis() as i64;
            let lost = pending.iter().filter(|(_, &t)| t < lost_before).count();
            if lost > 0 {
                pending.retain(|_, t| *t >= lost_before);
                CanaryLost {
                    mirror: &self.telemetry,
                    count: lost,
                    after: lost_after,
                }
                .emit();
            }
            let late_since = now_ms - self.config.late_after.as_millis() as i64;
            let late = pending.values().filter(|&&t| t < late_since).count();
            CanaryLate {
                mirror: &self.telemetry,
                late,
                before: late_before,
                late_after: self.config.late_after,
            }
            .emit();
            late_before = late;
        }
    }

    /// Hands `probe` to the producer; its acknowledgement is awaited off the loop (bounded), a
    /// failure counted.
    fn send(&self, probe: &Probe) {
        let value = serde_json::to_vec(probe).expect("a probe serializes");
        let topic = self.config.topic.clone();
        let key = probe.mirror.clone();
        let producer = self.producer.clone();
        let telemetry = Arc::clone(&self.telemetry);
        let wait = self.config.late_after;
        runtime::spawn_detached("canary probe", async move {
            let record = FutureRecord::to(&topic)
                .partition(0)
                .key(&key)
                .payload(&value);
            let result = tokio::time::timeout(wait, producer.send(record, wait)).await;
            let error = match result {
                Ok(Ok(_)) => return,
                Ok(Err((e, _))) => e.to_string(),
                Err(_) => format!("not acknowledged within {wait:?}"),
            };
            CanarySendFailed {
                mirror: &telemetry,
                topic: &topic,
                error: &error,
            }
            .emit();
        });
    }

    async fn ensure_topic(&self) -> Result<(), admin::AdminError> {
        let rf = admin::replication_factor(&self.source_admin, self.replication_factor).await?;
        admin::ensure_topic(
            &self.source_admin,
            &self.config.topic,
            1,
            rf,
            &[("cleanup.policy", "delete"), ("retention.ms", RETENTION_MS)],
        )
        .await?;
        Ok(())
    }
}

/// The values ready within `wait` (at most a few hundred), each with the time it was read.
fn read(consumer: &BaseConsumer<LogContext>, wait: Duration) -> Vec<(Vec<u8>, i64)> {
    let mut out = Vec::new();
    let mut deadline = std::time::Instant::now() + wait;
    while out.len() < 500 {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        match consumer.poll(remaining) {
            Some(Ok(m)) => {
                out.push((m.payload().unwrap_or_default().to_vec(), now_ms()));
                // The first one is here: take what else is ready, without waiting.
                deadline = std::time::Instant::now();
            }
            // Reported by librdkafka once per event (the remote topic not created yet, a
            // broker down); the read goes on.
            Some(Err(e)) => tracing::debug!(error = %e, "canary read"),
            None => break,
        }
    }
    out
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A number different for each term (not for cryptography).
fn run_id() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_reads_back_as_written() {
        let p = Probe {
            mirror: "A->B".into(),
            run: "00ff".into(),
            seq: 7,
            sent_ms: 1_700_000_000_000,
        };
        let bytes = serde_json::to_vec(&p).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"mirror":"A->B","run":"00ff","seq":7,"sent_ms":1700000000000}"#
        );
        assert_eq!(serde_json::from_slice::<Probe>(&bytes).unwrap(), p);
    }
}
