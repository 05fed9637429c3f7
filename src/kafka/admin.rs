//! Idempotent admin helpers: "ensure" operations treat already-done as success. Metadata is always
//! fetched for all topics at once, never for a single missing topic (that request can auto-create
//! the topic on brokers with `auto.create.topics.enable=true`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::{LogContext, ADMIN_TIMEOUT};

/// What a cluster's metadata says, reduced to what strait uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetadata {
    pub broker_count: usize,
    /// Topic name -> partition count, for topics without a metadata error.
    pub topics: BTreeMap<String, i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("metadata request failed")]
    Metadata(#[source] KafkaError),
    #[error("cannot create topic `{topic}`: {code}")]
    CreateTopic {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error("cannot add partitions to topic `{topic}`: {code}")]
    CreatePartitions {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error("admin request failed")]
    Request(#[source] KafkaError),
    #[error("cannot describe the configs of topic `{topic}`: {code}")]
    DescribeConfigs {
        topic: String,
        code: RDKafkaErrorCode,
    },
}

/// One topic config entry, reduced to what config sync needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfigEntry {
    pub name: String,
    pub value: Option<String>,
    /// Set on the topic itself (a topic-level override), not inherited from the broker.
    pub explicit: bool,
    pub read_only: bool,
    pub sensitive: bool,
}

/// Describes the configs of `topics` (one DescribeConfigs request). Topics are answered in order.
pub async fn describe_topic_configs(
    admin: &AdminClient<LogContext>,
    topics: &[String],
) -> Result<Vec<(String, Vec<TopicConfigEntry>)>, AdminError> {
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    let specs: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let results = admin
        .describe_configs(specs.iter(), &options())
        .await
        .map_err(AdminError::Request)?;
    let mut out = Vec::with_capacity(topics.len());
    for (topic, result) in topics.iter().zip(results) {
        let resource = result.map_err(|code| AdminError::DescribeConfigs {
            topic: topic.clone(),
            code,
        })?;
        let entries = resource
            .entries
            .into_iter()
            .map(|e| TopicConfigEntry {
                explicit: e.source == ConfigSource::DynamicTopic,
                name: e.name,
                value: e.value,
                read_only: e.is_read_only,
                sensitive: e.is_sensitive,
            })
            .collect();
        out.push((topic.clone(), entries));
    }
    Ok(out)
}

/// Fetches metadata for all topics (blocking call run off the async threads).
pub async fn cluster_metadata(
    admin: &Arc<AdminClient<LogContext>>,
) -> Result<ClusterMetadata, AdminError> {
    let admin = Arc::clone(admin);
    tokio::task::spawn_blocking(move || {
        let md = admin
            .inner()
            .fetch_metadata(None, ADMIN_TIMEOUT)
            .map_err(AdminError::Metadata)?;
        let topics = md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len() as i32))
            .collect();
        Ok(ClusterMetadata {
            broker_count: md.brokers().len(),
            topics,
        })
    })
    .await
    .expect("metadata task panicked")
}

fn options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT))
}

/// Whether `ensure_topic` created the topic or found it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Created,
    Existed,
}

/// Creates `name` with `partitions` and `replication_factor` and topic `configs`, or does nothing
/// if it exists.
pub async fn ensure_topic(
    admin: &AdminClient<LogContext>,
    name: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[(&str, &str)],
) -> Result<Ensured, AdminError> {
    let topic = TopicToCreate {
        name: name.to_string(),
        partitions,
        replication_factor,
        configs: configs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    create_topics(admin, std::slice::from_ref(&topic))
        .await?
        .pop()
        .unwrap_or(Ok(Ensured::Created))
}

/// One topic for [`create_topics`].
pub struct TopicToCreate {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

/// Creates `topics` in one CreateTopics request; per topic, in order, whether it was created or
/// already there, or why not. `Err` when the request itself failed.
pub async fn create_topics(
    admin: &AdminClient<LogContext>,
    topics: &[TopicToCreate],
) -> Result<Vec<Result<Ensured, AdminError>>, AdminError> {
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            t.configs.iter().fold(
                NewTopic::new(
                    &t.name,
                    t.partitions,
                    TopicReplication::Fixed(t.replication_factor as i32),
                ),
                |topic, (k, v)| topic.set(k, v),
            )
        })
        .collect();
    let results = admin
        .create_topics(new.iter(), &options())
        .await
        .map_err(AdminError::Request)?;
    let mut by_name: std::collections::HashMap<String, Result<Ensured, AdminError>> = results
        .into_iter()
        .map(|r| match r {
            Ok(name) => (name, Ok(Ensured::Created)),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => (name, Ok(Ensured::Existed)),
            Err((name, code)) => (
                name.clone(),
                Err(AdminError::CreateTopic { topic: name, code }),
            ),
        })
        .collect();
    Ok(topics
        .iter()
        .map(|t| by_name.remove(&t.name).unwrap_or(Ok(Ensured::Created)))
        .collect())
}

/// Grows `name` to `count` partitions. A topic that already has at least that many is fine.
pub async fn ensure_partitions(
    admin: &AdminClient<LogContext>,
    name: &str,
    count: i32,
) -> Result<(), AdminError> {
    let np = NewPartitions::new(name, count as usize);
    let results = admin
        .create_partitions([&np], &options())
        .await
        .map_err(AdminError::Request)?;
    match results.into_iter().next() {
        Some(Err((topic, code))) if code != RDKafkaErrorCode::InvalidPartitions => {
            Err(AdminError::CreatePartitions { topic, code })
        }
        _ => Ok(()),
    }
}

/// Whether the cluster answers, and with how many brokers: one small metadata request that names
/// only the `heartbeats` topic, so that it stays cheap on clusters with many topics. Naming a
/// topic that does not exist creates nothing: every client strait builds has
/// `allow.auto.create.topics=false`. Blocking.
pub fn probe(admin: &AdminClient<LogContext>, timeout: Duration) -> Result<usize, KafkaError> {
    let topic = crate::policy::ReplicationPolicy::heartbeats_topic();
    Ok(admin
        .inner()
        .fetch_metadata(Some(topic), timeout)?
        .brokers()
        .len())
}

/// The replication factor for topics strait creates when the user did not set one: as many
/// replicas as the target has brokers, at most 3.
pub fn default_replication_factor(broker_count: usize) -> i16 {
    broker_count.clamp(1, 3) as i16
}

/// `configured`, or else [`default_replication_factor`] of the cluster `admin` talks to.
pub async fn replication_factor(
    admin: &Arc<AdminClient<LogContext>>,
    configured: Option<i16>,
) -> Result<i16, AdminError> {
    match configured {
        Some(rf) => Ok(rf),
        None => Ok(default_replication_factor(
            cluster_metadata(admin).await?.broker_count,
        )),
    }
}
