//! The only place that builds rdkafka clients. Every client of a cluster is assembled here from the
//! cluster's connection and security settings, the user's pass-through properties for its role,
//! and the settings strait forces for correctness (each with a comment saying why). librdkafka's
//! own log and error callbacks are routed into `tracing`.

// This module is the one place allowed to construct clients (see clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod admin;
pub mod groups;
pub mod native_admin;
pub mod read;

use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, FutureProducer, ProducerContext};

use crate::config::ClusterConfig;

/// Timeout for metadata and admin requests made on behalf of the control plane.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Which kind of client is being built; selects the user's pass-through properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Consumer,
    Producer,
    Admin,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Consumer => "consumer",
            Role::Producer => "producer",
            Role::Admin => "admin",
        }
    }
}

/// librdkafka log lines and client-level errors go to `tracing`, tagged with the client's name,
/// inside the span the client was built in (a mirror's span names the mirror on every line,
/// although librdkafka logs from its own threads).
#[derive(Debug, Clone)]
pub struct LogContext {
    pub client_name: String,
    span: tracing::Span,
}

impl LogContext {
    /// A context for the client `client_name`, logging in the current span.
    pub fn new(client_name: impl Into<String>) -> Self {
        LogContext {
            client_name: client_name.into(),
            span: tracing::Span::current(),
        }
    }
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let _in = self.span.enter();
        log_librdkafka(&self.client_name, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let _in = self.span.enter();
        log_client_error(&self.client_name, &error, reason);
    }

    /// librdkafka statistics (only for clients with `statistics.interval.ms` set) → metrics.
    fn stats(&self, statistics: rdkafka::Statistics) {
        crate::telemetry::metrics::metrics().client_stats(&self.client_name, &statistics);
    }
}

impl ConsumerContext for LogContext {}

pub(crate) fn log_librdkafka(client: &str, level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", client, fac, "{message}")
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", client, fac, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", client, fac, "{message}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", client, fac, "{message}"),
    }
}

pub(crate) fn log_client_error(client: &str, error: &KafkaError, reason: &str) {
    // Broker connection drops and "all brokers down" are retried by librdkafka itself: degraded,
    // recovering. Anything else at client level deserves an operator's eye.
    use rdkafka::types::RDKafkaErrorCode as C;
    match error.rdkafka_error_code() {
        Some(C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve) => {
            tracing::warn!(target: "librdkafka", client, error = %error, "{reason}")
        }
        _ => tracing::error!(target: "librdkafka", client, error = %error, "{reason}"),
    }
}

/// Builds the `ClientConfig` for one role of one cluster. Order of layers: connection and
/// security from the cluster, strait's defaults for the role, the user's `client` properties,
/// the user's role properties, then the settings strait forces (the config loader rejects user
/// attempts to override those).
pub fn client_config(
    cluster: &ClusterConfig,
    role: Role,
    client_name: &str,
    defaults: &[(&str, &str)],
    forced: &[(&str, &str)],
) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &cluster.bootstrap_servers);
    cfg.set("client.id", format!("strait|{client_name}"));
    let sec = &cluster.security;
    cfg.set("security.protocol", sec.protocol.as_librdkafka());
    if let Some(ca) = &sec.ca_file {
        cfg.set("ssl.ca.location", ca);
    }
    if let Some(cert) = &sec.cert_file {
        cfg.set("ssl.certificate.location", cert);
    }
    if let Some(key) = &sec.key_file {
        cfg.set("ssl.key.location", key);
    }
    if let Some(pw) = &sec.key_password {
        cfg.set("ssl.key.password", pw.expose());
    }
    if let Some(sasl) = &sec.sasl {
        cfg.set("sasl.mechanisms", &sasl.mechanism);
        cfg.set("sasl.username", &sasl.username);
        cfg.set("sasl.password", sasl.password.expose());
    }
    for (k, v) in defaults {
        cfg.set(*k, *v);
    }
    for (k, v) in &cluster.client {
        cfg.set(k, v.expose());
    }
    let role_props = match role {
        Role::Consumer => &cluster.consumer,
        Role::Producer => &cluster.producer,
        Role::Admin => &cluster.admin,
    };
    for (k, v) in role_props {
        cfg.set(k, v.expose());
    }
    for (k, v) in forced {
        cfg.set(*k, *v);
    }
    // librdkafka logs through the context (not to stderr) at this level; tracing filters further.
    // A user who sets librdkafka's `debug` property gets its debug lines too (target
    // `librdkafka`, shown with STRAIT_LOG=info,librdkafka=debug).
    let level = if cfg.get("debug").is_some() {
        RDKafkaLogLevel::Debug
    } else {
        RDKafkaLogLevel::Info
    };
    cfg.set_log_level(level);
    tracing::debug!(cluster = %cluster.alias, role = role.as_str(), client = client_name, "building client");
    cfg
}

fn create_error(cluster: &ClusterConfig, role: Role, e: KafkaError) -> ClientError {
    ClientError {
        cluster: cluster.alias.clone(),
        role: role.as_str(),
        source: e,
    }
}

/// A client could not be built (bad pass-through property, unreadable certificate, ...).
#[derive(Debug, thiserror::Error)]
#[error("cannot create the {role} client for cluster `{cluster}`")]
pub struct ClientError {
    pub cluster: String,
    pub role: &'static str,
    #[source]
    pub source: KafkaError,
}

/// Settings every strait consumer gets: strait assigns partitions itself and never commits or
/// joins a group (librdkafka needs a group.id for assign() all the same), so the group stays
/// empty and the cluster read-only; aborted transactions are never read.
const CONSUMER_FORCED: [(&str, &str); 5] = [
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("isolation.level", "read_committed"),
    ("enable.partition.eof", "false"),
    ("group.id", "strait"),
];

fn consumer(
    cluster: &ClusterConfig,
    client_name: &str,
    defaults: &[(&str, &str)],
    auto_offset_reset: &str,
) -> Result<BaseConsumer<LogContext>, ClientError> {
    let mut forced = CONSUMER_FORCED.to_vec();
    forced.push(("auto.offset.reset", auto_offset_reset));
    let cfg = client_config(cluster, Role::Consumer, client_name, defaults, &forced);
    let ctx = LogContext::new(client_name);
    cfg.create_with_context(ctx)
        .map_err(|e| create_error(cluster, Role::Consumer, e))
}

/// The source consumer of a mirror's record path: manual assignment, no commits.
pub fn record_consumer(
    cluster: &ClusterConfig,
    client_name: &str,
) -> Result<BaseConsumer<LogContext>, ClientError> {
    // Bounded prefetch (librdkafka's default of 64 MiB is more memory than a replicator needs)
    // refilled without pausing: with a full prefetch queue librdkafka postpones the next fetch
    // by fetch.queue.backoff.ms (1 s by default), and a replicator drains a small queue long
    // before that and then starves. Fetches coalesced to at least 64 KiB or 20 ms: with
    // fetch.min.bytes 1 a steady stream moves in pieces of a few records, each a fetch here and
    // produce requests onward, and that request handling is what made the latency tail on a
    // busy host. A record waits at most 20 ms more; an idle mirror fetches every 20 ms.
    // Measurements behind every value: docs/benchmarks.md ("Where the latency tail came from",
    // "Tuned defaults, and why").
    let defaults = [
        ("fetch.queue.backoff.ms", "20"),
        ("queued.max.messages.kbytes", "8192"),
        ("fetch.max.bytes", "8388608"),
        ("fetch.min.bytes", "65536"),
        ("fetch.wait.max.ms", "20"),
        // Statistics every second: source end offsets for lag, queue sizes, broker RTT.
        ("statistics.interval.ms", "1000"),
    ];
    // A position that fell out of range (retention ran past it) must be noticed and reported as
    // a data gap, never silently reset.
    consumer(cluster, client_name, &defaults, "error")
}

/// A consumer whose only use is reading `group`'s committed offsets on `cluster` (it never
/// joins the group or commits).
pub fn group_offsets_consumer(
    cluster: &ClusterConfig,
    group: &str,
    client_name: &str,
) -> Result<BaseConsumer<LogContext>, ClientError> {
    let mut forced: Vec<(&str, &str)> = CONSUMER_FORCED
        .iter()
        .copied()
        .filter(|(k, _)| *k != "group.id")
        .collect();
    forced.push(("group.id", group));
    forced.push(("auto.offset.reset", "error"));
    let cfg = client_config(cluster, Role::Consumer, client_name, &[], &forced);
    let ctx = LogContext::new(client_name);
    cfg.create_with_context(ctx)
        .map_err(|e| create_error(cluster, Role::Consumer, e))
}

/// A plain consumer for reading strait's own topics (progress) from the start.
pub fn reader_consumer(
    cluster: &ClusterConfig,
    client_name: &str,
) -> Result<BaseConsumer<LogContext>, ClientError> {
    consumer(cluster, client_name, &[], "earliest")
}

/// The target producer of a mirror's record path, with the caller's delivery context.
pub fn record_producer<C: ProducerContext>(
    cluster: &ClusterConfig,
    client_name: &str,
    context: C,
) -> Result<BaseProducer<C>, ClientError> {
    let cfg = client_config(
        cluster,
        Role::Producer,
        client_name,
        &[
            // Throughput: let batches fill for a few ms (librdkafka default 5 ms, kept) and
            // allow large batches.
            ("linger.ms", "5"),
            ("batch.size", "1000000"),
            // Bounded memory: at most this many records / KiB wait in the producer queue;
            // when full, the record path waits (backpressure) instead of buffering more.
            // 16 MiB covers the requests in flight on a link of up to ~100 ms round trip at
            // 150 MB/s; raise it through `producer:` for longer links.
            ("queue.buffering.max.messages", "100000"),
            ("queue.buffering.max.kbytes", "16384"),
            ("compression.type", "none"),
            // Statistics for metrics: queue sizes and broker RTT.
            ("statistics.interval.ms", "5000"),
        ],
        &[
            // Zero loss and per-partition order: idempotent producer with acks from all
            // in-sync replicas (librdkafka then allows up to 5 in-flight requests in order).
            ("enable.idempotence", "true"),
            ("acks", "all"),
            // Never give up on a record because of time: a target outage is waited out
            // (MM2: delivery.timeout.ms = Integer.MAX_VALUE).
            ("message.timeout.ms", "0"),
            // Delivery reports carry the downstream offset of each record.
            ("delivery.report.only.error", "false"),
        ],
    );
    cfg.create_with_context(context)
        .map_err(|e| create_error(cluster, Role::Producer, e))
}

/// A producer for strait's own low-volume records (heartbeats, checkpoints, offset syncs) on
/// `cluster`: idempotent, acks from all in-sync replicas, sent without lingering.
pub fn control_producer(
    cluster: &ClusterConfig,
    client_name: &str,
) -> Result<FutureProducer<LogContext>, ClientError> {
    let cfg = client_config(
        cluster,
        Role::Producer,
        client_name,
        &[("linger.ms", "0")],
        &[("enable.idempotence", "true"), ("acks", "all")],
    );
    let ctx = LogContext::new(client_name);
    cfg.create_with_context(ctx)
        .map_err(|e| create_error(cluster, Role::Producer, e))
}

/// An admin client (also used for metadata requests).
pub fn admin_client(
    cluster: &ClusterConfig,
    client_name: &str,
) -> Result<AdminClient<LogContext>, ClientError> {
    let cfg = client_config(cluster, Role::Admin, client_name, &[], &[]);
    let ctx = LogContext::new(client_name);
    cfg.create_with_context(ctx)
        .map_err(|e| create_error(cluster, Role::Admin, e))
}
