//! Every default of strait's configuration keys, in one place: validation takes each default
//! from here, and each names the MirrorMaker 2 (MM2) or librdkafka default it mirrors or departs
//! from. `config/strait.example.yaml` documents the same values.
//!
//! Not here: the librdkafka properties strait sets on its clients (`kafka::client_config` has
//! those, each with its reason) and the built-in exclude lists (`policy`).

use std::time::Duration;

use super::choice::PolicyKind;
use super::{
    Delivery, OffsetSyncsLocation, OnDataGap, ProvenanceHeader, SecurityProtocol, SyncMode,
};
use crate::policy::TopicRules;

/// `shutdown_timeout`: 30s. MM2 has no single equivalent (Kafka Connect gives each task 5s,
/// `task.shutdown.graceful.timeout.ms`); strait drains and stores progress within this bound.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// `secret_files_check_interval`: 10s, inside Kafka's usual re-authentication windows and well
/// under the minute a Kubernetes Secret takes to reach its mounted files. MM2 re-reads nothing
/// (a worker restart picks up new secrets).
pub const SECRET_FILES_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// `deployment.shards`: 64 coordination partitions per mirror, so that up to 64 instances can
/// share a mirror and a few instances get even shares (MM2 has no equivalent: Connect balances
/// `tasks.max` tasks).
pub const DEPLOYMENT_SHARDS: u32 = 64;
/// `deployment.session_timeout`: 10s, Kafka Connect's worker `session.timeout.ms` (the
/// consumer default is 45s): a vanished instance's partitions move after this long.
pub const DEPLOYMENT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// `clusters.<alias>.security.protocol`: plaintext, librdkafka's and Kafka's default.
pub const SECURITY_PROTOCOL: SecurityProtocol = SecurityProtocol::Plaintext;

/// `mirrors[].topics`: every topic, as MM2's `topics` (`.*`).
pub const TOPICS: &[&str] = &[".*"];
/// `mirrors[].topics_exclude`: none beyond the built-in MM2 excludes, which are always added
/// (MM2's `topics.exclude` replaces its defaults instead).
pub const TOPICS_EXCLUDE: &[&str] = &[];
/// `mirrors[].groups`: every group, as MM2's `groups` (`.*`).
pub const GROUPS: &[&str] = &[".*"];
/// `mirrors[].groups_exclude`: none beyond the built-in MM2 excludes (as for topics).
pub const GROUPS_EXCLUDE: &[&str] = &[];
/// `mirrors[].topic_configs_exclude`: none beyond MM2's `config.properties.exclude` defaults.
pub const TOPIC_CONFIGS_EXCLUDE: &[&str] = &[];

/// `mirrors[].replication_policy.kind`: default, MM2's `DefaultReplicationPolicy`.
pub(super) const REPLICATION_POLICY_KIND: PolicyKind = PolicyKind::Default;
/// `mirrors[].replication_policy.separator`: `.`, MM2's `replication.policy.separator`.
pub const REPLICATION_POLICY_SEPARATOR: &str = crate::policy::DEFAULT_SEPARATOR;
/// `mirrors[].replication_factor`: none given, which means min(3, number of target brokers)
/// at topic creation (MM2's `replication.factor` is 2).
pub const REPLICATION_FACTOR: Option<i16> = None;

/// `mirrors[].refresh_topics_interval`: 10s (MM2's `refresh.topics.interval.seconds` is 600).
pub const REFRESH_TOPICS_INTERVAL: Duration = Duration::from_secs(10);

/// `mirrors[].watch_topics_interval`: 1s, so that a new topic is copied within about 2 s of its
/// creation (MM2 has no equivalent: it waits for the next refresh).
pub const WATCH_TOPICS_INTERVAL: Duration = Duration::from_secs(1);

/// `mirrors[].throttle.bytes_per_second`: no limit (MM2 has no equivalent).
pub const THROTTLE_BYTES_PER_SECOND: Option<u64> = None;
/// `mirrors[].throttle.records_per_second`: no limit (MM2 has no equivalent).
pub const THROTTLE_RECORDS_PER_SECOND: Option<u64> = None;

/// `mirrors[].emit_heartbeats`: on, as MM2's `emit.heartbeats.enabled`.
pub const EMIT_HEARTBEATS: bool = true;
/// `mirrors[].emit_heartbeats_interval`: 1s, as MM2's `emit.heartbeats.interval.seconds`.
pub const EMIT_HEARTBEATS_INTERVAL: Duration = Duration::from_secs(1);

/// `mirrors[].emit_checkpoints`: on, as MM2's `emit.checkpoints.enabled`.
pub const EMIT_CHECKPOINTS: bool = true;
/// `mirrors[].emit_checkpoints_interval`: 5s (MM2's `emit.checkpoints.interval.seconds` is 60).
pub const EMIT_CHECKPOINTS_INTERVAL: Duration = Duration::from_secs(5);

/// `mirrors[].sync_group_offsets`: on (MM2's `sync.group.offsets.enabled` is false): a
/// failover should find the groups' offsets already on the target.
pub const SYNC_GROUP_OFFSETS: bool = true;
/// `mirrors[].sync_group_offsets_interval`: 5s (MM2's `sync.group.offsets.interval.seconds`
/// is 60).
pub const SYNC_GROUP_OFFSETS_INTERVAL: Duration = Duration::from_secs(5);

/// `mirrors[].emit_offset_syncs`: on, as MM2's `emit.offset-syncs.enabled`.
pub const EMIT_OFFSET_SYNCS: bool = true;
/// `mirrors[].offset_syncs_location`: the target (MM2's `offset-syncs.topic.location` defaults to
/// the source), so that the default configuration needs only read access on the source.
pub const OFFSET_SYNCS_LOCATION: OffsetSyncsLocation = OffsetSyncsLocation::Target;

/// `mirrors[].offset_map_memory`: 64 MiB for the offset maps of all the mirror's partitions
/// (MM2 has no equivalent: its OffsetSyncStore keeps 64 syncs a partition, so translation of a
/// lagging group becomes inexact instead). A run costs 12 bytes (`offset_map::BYTES_PER_RUN`):
/// about 5.5 million transactions of history.
pub const OFFSET_MAP_MEMORY: u64 = 64 * 1024 * 1024;

/// `mirrors[].provenance_header`: auto, where the flow graph needs it (MM2 has no such header).
pub const PROVENANCE_HEADER: ProvenanceHeader = ProvenanceHeader::Auto;

/// `mirrors[].sync_topic_configs`: enforce, as MM2's `sync.topic.configs.enabled` (true).
pub const SYNC_TOPIC_CONFIGS: SyncMode = SyncMode::Enforce;
/// `mirrors[].sync_topic_configs_interval`: 30s (MM2's `sync.topic.configs.interval.seconds`
/// is 600).
pub const SYNC_TOPIC_CONFIGS_INTERVAL: Duration = Duration::from_secs(30);
/// `mirrors[].sync_topic_acls`: enforce, as MM2's `sync.topic.acls.enabled` (true).
pub const SYNC_TOPIC_ACLS: SyncMode = SyncMode::Enforce;
/// `mirrors[].sync_topic_acls_interval`: 30s (MM2's `sync.topic.acls.interval.seconds` is 600).
pub const SYNC_TOPIC_ACLS_INTERVAL: Duration = Duration::from_secs(30);

/// `mirrors[].on_data_gap`: continue, copying on from the earliest offset the source still holds
/// after counting and logging the lost offsets: a disaster-recovery replica keeps going, loudly.
/// MM2 has no such setting: its consumer's `auto.offset.reset` (`earliest` in MM2) resets
/// silently.
pub const ON_DATA_GAP: OnDataGap = OnDataGap::Continue;

/// `mirrors[].topic_rules`: MirrorMaker 2's topic rules as of Kafka 4.0 (KIP-1074).
pub const TOPIC_RULES: TopicRules = TopicRules::Mm2_4_0;

/// `mirrors[].delivery`: at-least-once, as MM2 without `exactly.once.source.support`.
pub const DELIVERY: Delivery = Delivery::AtLeastOnce;
/// `mirrors[].transaction_interval`: 200ms (see docs/benchmarks.md for the trade-off measured:
/// shorter transactions mean more commits, longer ones latency for read_committed consumers).
pub const TRANSACTION_INTERVAL: Duration = Duration::from_millis(200);
/// `mirrors[].transaction_timeout`: 10s, as Kafka Streams' exactly-once default: the longest
/// an open transaction of an instance that vanished unfenced holds back read_committed
/// consumers (plus up to the brokers' 10 s abort check).
pub const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(10);

/// `http.enabled`: on (MM2 has no HTTP endpoint of its own; its metrics go through JMX).
pub const HTTP_ENABLED: bool = true;
/// `http.listen`: all interfaces, port 9464 (in Prometheus' range for exporters).
pub const HTTP_LISTEN: &str = "0.0.0.0:9464";
/// `http.ready_max_lag_records`: `/readyz` fails beyond 100,000 records of lag.
pub const HTTP_READY_MAX_LAG_RECORDS: u64 = 100_000;
/// `http.header_read_timeout`: 10s for a client's TLS handshake and then for each request's
/// headers (hyper's own default is 30s); a client that sends nothing, or its headers a byte at a
/// time, is disconnected then.
pub const HTTP_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// `http.max_connections`: 64 connections at once; more are closed as soon as they are accepted
/// (and counted in `strait_http_connections_refused_total`).
pub const HTTP_MAX_CONNECTIONS: usize = 64;
/// The largest `http.max_connections` accepted.
pub const HTTP_MAX_CONNECTIONS_LIMIT: usize = 1_000_000;

/// `mirrors[].take_over_mm2.connector`: the name MM2's dedicated mode gives its source connector
/// (the namespace of its stored positions).
pub const TAKE_OVER_CONNECTOR: &str = "MirrorSourceConnector";

/// `mirrors[].take_over_mm2.offsets_topic`: MM2 dedicated mode's Connect offsets topic of the
/// herder `source->target`, on the target.
pub fn take_over_offsets_topic(source: &str) -> String {
    format!("mm2-offsets.{source}.internal")
}

/// `mirrors[].canary.topic`: the topic on the source the probes go to.
pub const CANARY_TOPIC: &str = "strait-canary";
/// `mirrors[].canary.interval`: one probe every 5s.
pub const CANARY_INTERVAL: Duration = Duration::from_secs(5);
/// `mirrors[].canary.late_after`: a probe not on the target 30s after it was sent is late.
pub const CANARY_LATE_AFTER: Duration = Duration::from_secs(30);
