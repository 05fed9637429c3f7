//! The only place that builds rdkafka clients. Every client of a cluster is assembled here from
//! strait's defaults for its kind (each with a comment saying why), the user's pass-through
//! properties for its section, and the settings strait forces, which are one table shared with
//! the config validator ([`crate::config::forced`]): connection and security from the cluster's
//! keys, and what strait's guarantees depend on. librdkafka's own log and error callbacks are
//! routed into `tracing`.

// This module is the one place allowed to construct clients (see clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod admin;
pub mod groups;
pub mod native_admin;
pub mod read;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, FutureProducer, ProducerContext};

use crate::config::forced::ClientKind;
use crate::config::{librdkafka, ClusterConfig, Secret};

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
    /// The reason of the client's last client-level error (a refused TLS handshake, a failed
    /// authentication): what a request that only says "transport failure" failed of.
    last_error: Arc<Mutex<Option<String>>>,
    /// Keeps errors for [`LogContext::last_error`] without logging anything (a diagnosis
    /// that reports what it found itself).
    quiet: bool,
}

impl LogContext {
    /// A context for the client `client_name`, logging in the current span.
    pub fn new(client_name: impl Into<String>) -> Self {
        LogContext {
            client_name: client_name.into(),
            span: tracing::Span::current(),
            last_error: Arc::default(),
            quiet: false,
        }
    }

    /// Keeps `reason` as the last error, unless it only says "disconnected" and the one kept
    /// says why (a TLS or SASL failure is followed by the disconnection it causes).
    fn note_error(&self, reason: &str) {
        let telling = |r: &str| {
            let r = r.to_ascii_lowercase();
            r.contains("failed") || r.contains("authentication") || r.contains("certificate")
        };
        if let Ok(mut last) = self.last_error.lock() {
            if telling(reason) || !last.as_deref().is_some_and(telling) {
                *last = Some(reason.to_owned());
            }
        }
    }

    /// The reason librdkafka gave for the client's last client-level error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok()?.clone()
    }
}

/// What an operator should check, for a connection failure librdkafka explained with `reason`.
pub fn connection_hint(reason: &str) -> Option<&'static str> {
    let r = reason.to_ascii_lowercase();
    if r.contains("hostname mismatch")
        || r.contains("certificate verify failed") && r.contains("host")
    {
        Some(
            "the broker's certificate was issued for another host name: connect with a name \
              the certificate lists (its subject alternative names), or have the broker's \
              certificate reissued",
        )
    } else if r.contains("certificate verify failed") {
        Some(
            "the broker's certificate is not signed by a CA strait trusts: set the cluster's \
              security.ca_file to the CA that issued it",
        )
    } else if r.contains("authentication failed") || r.contains("invalid credentials") {
        Some(
            "the broker refused strait's credentials: check the cluster's security.sasl \
              (mechanism, username, password) and that the user exists for that mechanism",
        )
    } else if r.contains("ssl handshake failed") || r.contains("handshake failure") {
        Some(
            "the TLS handshake failed: check that the listener speaks the cluster's \
              security.protocol, and the client certificate if the broker requires one",
        )
    } else if r.contains("disconnected while requesting apiversion")
        || r.contains("sasl") && r.contains("handshake")
    {
        Some(
            "the broker closed the connection during set-up: the listener may expect another \
              security.protocol or SASL mechanism",
        )
    } else {
        None
    }
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let _in = self.span.enter();
        if !self.quiet {
            log_librdkafka(&self.client_name, level, fac, log_message);
        }
        // A broker connection failed, with librdkafka's reason (TLS, SASL, refused, ...).
        if fac == "FAIL" && (level as i32) <= RDKafkaLogLevel::Warning as i32 {
            self.note_error(log_message);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let _in = self.span.enter();
        if !self.quiet {
            log_client_error(&self.client_name, &error, reason);
        }
        self.note_error(reason);
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

/// Builds the `ClientConfig` for one kind of client of one cluster. Layers, each over the one
/// before: strait's defaults for the kind, the user's `client` properties, the user's properties
/// for the kind's section, then every row of the forced table for the kind
/// ([`crate::config::forced::FORCED`]: its key set, its aliases removed; the config loader
/// already refused user attempts at either). `group` is the group a
/// [`ClientKind::GroupOffsetsConsumer`] reads, `None` for every other kind.
pub fn client_config(
    cluster: &ClusterConfig,
    kind: ClientKind,
    client_name: &str,
    group: Option<&str>,
) -> ClientConfig {
    debug_assert_eq!(
        group.is_some(),
        matches!(
            kind,
            ClientKind::GroupOffsetsConsumer | ClientKind::CoordinationConsumer
        ),
        "only the group-offsets and coordination consumers are built for a group"
    );
    let role = role(kind);
    let mut cfg = ClientConfig::new();
    cfg.set("client.id", format!("strait|{client_name}"));
    for (k, v) in defaults(kind) {
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
    for row in kind.forced() {
        // librdkafka keeps an alias and its property apart in the map handed to it, and which
        // of the two wins would then depend on map order.
        for alias in row.aliases {
            cfg.remove(alias);
        }
        match row.value.resolve(cluster, group) {
            Some(value) => cfg.set(row.key, value),
            None => cfg.remove(row.key),
        };
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

/// The librdkafka role of each kind of client, named in errors.
fn role(kind: ClientKind) -> Role {
    match kind {
        ClientKind::RecordConsumer
        | ClientKind::ReaderConsumer
        | ClientKind::GroupOffsetsConsumer
        | ClientKind::CoordinationConsumer => Role::Consumer,
        ClientKind::RecordProducer | ClientKind::ControlProducer => Role::Producer,
        ClientKind::Admin => Role::Admin,
    }
}

/// strait's defaults for a kind of client where they differ from librdkafka's. Unlike the forced
/// settings, users may override them in the kind's section.
fn defaults(kind: ClientKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        ClientKind::RecordConsumer => &RECORD_CONSUMER_DEFAULTS,
        ClientKind::RecordProducer => &RECORD_PRODUCER_DEFAULTS,
        // Heartbeats, checkpoints and offset syncs are sent at once, not lingered over.
        ClientKind::ControlProducer => &[("linger.ms", "0")],
        ClientKind::ReaderConsumer
        | ClientKind::GroupOffsetsConsumer
        | ClientKind::CoordinationConsumer
        | ClientKind::Admin => &[],
    }
}

// Bounded prefetch (librdkafka's default of 64 MiB is more memory than a replicator needs)
// refilled without pausing: with a full prefetch queue librdkafka postpones the next fetch
// by fetch.queue.backoff.ms (1 s by default), and a replicator drains a small queue long
// before that and then starves. Fetches coalesced to at least 64 KiB or 20 ms: with
// fetch.min.bytes 1 a steady stream moves in pieces of a few records, each a fetch here and
// produce requests onward, and that request handling is what made the latency tail on a
// busy host. A record waits at most 20 ms more; an idle mirror fetches every 20 ms.
// Measurements behind every value: docs/benchmarks.md ("Where the latency tail came from",
// "Tuned defaults, and why").
const RECORD_CONSUMER_DEFAULTS: [(&str, &str); 6] = [
    ("fetch.queue.backoff.ms", "20"),
    ("queued.max.messages.kbytes", "8192"),
    ("fetch.max.bytes", "8388608"),
    ("fetch.min.bytes", "65536"),
    ("fetch.wait.max.ms", "20"),
    // Statistics every second: source end offsets for lag, queue sizes, broker RTT.
    ("statistics.interval.ms", "1000"),
];

const RECORD_PRODUCER_DEFAULTS: [(&str, &str); 6] = [
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
];

/// Why librdkafka would not build a client, in words without any value the user gave: its
/// error text quotes a refused property's value (and rust-rdkafka's `ClientConfig` error adds
/// it again), and every pass-through value may be a secret.
fn create_error(cluster: &ClusterConfig, role: Role, e: KafkaError) -> ClientError {
    ClientError {
        cluster: cluster.alias.clone(),
        role: role.as_str(),
        reason: librdkafka::refusal(&e, &user_values(cluster)),
    }
}

/// Every value of the cluster's pass-through sections and its secrets.
fn user_values(cluster: &ClusterConfig) -> Vec<&str> {
    let sections = [
        &cluster.client,
        &cluster.consumer,
        &cluster.producer,
        &cluster.admin,
    ];
    let mut values: Vec<&str> = sections
        .iter()
        .flat_map(|s| s.values().map(Secret::expose))
        .collect();
    values.extend(cluster.security.key_password.as_ref().map(Secret::expose));
    values.extend(
        cluster
            .security
            .sasl
            .as_ref()
            .and_then(|s| s.secret())
            .map(Secret::expose),
    );
    values
}

/// A client could not be built (bad pass-through property, unreadable certificate, ...). The
/// reason names the property and what librdkafka objects to, never a value.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the {role} client for cluster `{cluster}`: {reason}")]
pub struct ClientError {
    pub cluster: String,
    pub role: &'static str,
    pub reason: String,
}

fn consumer(
    cluster: &ClusterConfig,
    kind: ClientKind,
    client_name: &str,
    group: Option<&str>,
) -> Result<BaseConsumer<LogContext>, ClientError> {
    let cfg = client_config(cluster, kind, client_name, group);
    let ctx = LogContext::new(client_name);
    cfg.create_with_context(ctx)
        .map_err(|e| create_error(cluster, Role::Consumer, e))
}

/// The source consumer of a mirror's record path: manual assignment, no commits, and a position
/// that fell out of range is an error (a data gap to report), never silently reset.
pub fn record_consumer(
    cluster: &ClusterConfig,
    client_name: &str,
) -> Result<BaseConsumer<LogContext>, ClientError> {
    consumer(cluster, ClientKind::RecordConsumer, client_name, None)
}

/// A consumer whose only use is reading `group`'s committed offsets on `cluster` (it never
/// joins the group or commits).
pub fn group_offsets_consumer(
    cluster: &ClusterConfig,
    group: &str,
    client_name: &str,
) -> Result<BaseConsumer<LogContext>, ClientError> {
    consumer(
        cluster,
        ClientKind::GroupOffsetsConsumer,
        client_name,
        Some(group),
    )
}

/// The member of the group `group` on `cluster` through which this instance shares a mirror
/// with the other instances of its deployment (cooperative-sticky; commits nothing), with the
/// caller's rebalance context. A vanished member's shards move after `session_timeout`.
pub fn coordination_consumer<C: ConsumerContext>(
    cluster: &ClusterConfig,
    group: &str,
    client_name: &str,
    session_timeout: Duration,
    context: C,
) -> Result<BaseConsumer<C>, ClientError> {
    let mut cfg = client_config(
        cluster,
        ClientKind::CoordinationConsumer,
        client_name,
        Some(group),
    );
    let session = session_timeout.as_millis();
    cfg.set("session.timeout.ms", session.to_string());
    // Kafka's rule of thumb: heartbeats at a third of the session timeout at most.
    cfg.set("heartbeat.interval.ms", (session / 3).max(100).to_string());
    cfg.create_with_context(context)
        .map_err(|e| create_error(cluster, Role::Consumer, e))
}

/// A plain consumer for reading strait's own topics (progress) from the start.
pub fn reader_consumer(
    cluster: &ClusterConfig,
    client_name: &str,
) -> Result<BaseConsumer<LogContext>, ClientError> {
    consumer(cluster, ClientKind::ReaderConsumer, client_name, None)
}

/// A reader whose watermark queries return the high watermark: `read_uncommitted`, where every
/// other consumer of strait's is `read_committed` (whose queries return the last stable offset,
/// since librdkafka 1.7.1). Only for comparing the two: it never reads records.
pub fn high_watermark_consumer(
    cluster: &ClusterConfig,
    client_name: &str,
) -> Result<BaseConsumer<LogContext>, ClientError> {
    let mut cfg = client_config(cluster, ClientKind::ReaderConsumer, client_name, None);
    cfg.set("isolation.level", "read_uncommitted");
    cfg.create_with_context(LogContext::new(client_name))
        .map_err(|e| create_error(cluster, Role::Consumer, e))
}

/// Why a connection to `cluster` fails, in librdkafka's words (a refused TLS handshake, a
/// failed authentication), or `None` if it connects or says nothing. A consumer makes one
/// metadata request and is then polled briefly: its log lines and client errors arrive through
/// its queue (an admin client's never do). Blocking, at most about `timeout` plus a second.
pub fn diagnose_connection(cluster: &ClusterConfig, timeout: Duration) -> Option<String> {
    use rdkafka::consumer::Consumer;
    let name = format!("{}|diagnose", cluster.alias);
    let ctx = LogContext {
        quiet: true,
        ..LogContext::new(name.as_str())
    };
    let consumer: BaseConsumer<LogContext> =
        client_config(cluster, ClientKind::ReaderConsumer, &name, None)
            .create_with_context(ctx)
            .ok()?;
    if consumer.fetch_metadata(None, timeout).is_ok() {
        // It connects now: nothing to explain.
        return None;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < deadline {
        let _ = consumer.poll(Duration::from_millis(100));
        if consumer.context().last_error().is_some() {
            break;
        }
    }
    consumer.context().last_error()
}

/// The target producer of a mirror's record path, with the caller's delivery context.
pub fn record_producer<C: ProducerContext>(
    cluster: &ClusterConfig,
    client_name: &str,
    context: C,
) -> Result<BaseProducer<C>, ClientError> {
    let cfg = client_config(cluster, ClientKind::RecordProducer, client_name, None);
    cfg.create_with_context(context)
        .map_err(|e| create_error(cluster, Role::Producer, e))
}

/// The target producer of an exactly-once mirror's record path: the record producer's settings
/// with `transactional.id` `id` and its transactions timing out after `timeout` (a record is
/// given up with its transaction, which is then aborted and copied again: librdkafka requires
/// `message.timeout.ms` within the transaction timeout).
pub fn transactional_producer<C: ProducerContext>(
    cluster: &ClusterConfig,
    client_name: &str,
    id: &str,
    timeout: Duration,
    context: C,
) -> Result<BaseProducer<C>, ClientError> {
    let mut cfg = client_config(cluster, ClientKind::RecordProducer, client_name, None);
    let ms = timeout.as_millis().to_string();
    cfg.set("transactional.id", id);
    cfg.set("transaction.timeout.ms", &ms);
    cfg.set("message.timeout.ms", &ms);
    cfg.create_with_context(context)
        .map_err(|e| create_error(cluster, Role::Producer, e))
}

/// The producer of a mirror's MM2 offset syncs on `cluster`, with the caller's delivery context:
/// the control producer's settings (a sync not delivered within `message.timeout.ms` is given up
/// and counted), and a queue of its own, so that syncs that cannot be written never hold up
/// records.
pub fn offset_sync_producer<C: ProducerContext>(
    cluster: &ClusterConfig,
    client_name: &str,
    context: C,
) -> Result<BaseProducer<C>, ClientError> {
    let cfg = client_config(cluster, ClientKind::ControlProducer, client_name, None);
    cfg.create_with_context(context)
        .map_err(|e| create_error(cluster, Role::Producer, e))
}

/// A producer for strait's own low-volume records (heartbeats, checkpoints, offset syncs) on
/// `cluster`: idempotent, acks from all in-sync replicas, sent without lingering.
pub fn control_producer(
    cluster: &ClusterConfig,
    client_name: &str,
) -> Result<FutureProducer<LogContext>, ClientError> {
    let cfg = client_config(cluster, ClientKind::ControlProducer, client_name, None);
    let ctx = LogContext::new(client_name);
    cfg.create_with_context(ctx)
        .map_err(|e| create_error(cluster, Role::Producer, e))
}

/// An admin client (also used for metadata requests).
pub fn admin_client(
    cluster: &ClusterConfig,
    client_name: &str,
) -> Result<AdminClient<LogContext>, ClientError> {
    let cfg = client_config(cluster, ClientKind::Admin, client_name, None);
    let ctx = LogContext::new(client_name);
    cfg.create_with_context(ctx)
        .map_err(|e| create_error(cluster, Role::Admin, e))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::forced::{Value, FORCED};
    use crate::config::{Sasl, SaslCredentials, Secret, Security, SecurityProtocol};

    const GROUP: &str = "orders-app";

    /// A cluster with every dedicated key set, whose pass-through sections all try to set every
    /// forced key and alias (as if validation had been skipped), plus one ordinary property.
    fn cluster() -> ClusterConfig {
        let mut tries: BTreeMap<String, Secret> = FORCED
            .iter()
            .flat_map(|row| row.names())
            .map(|name| (name.to_owned(), Secret::new("user-value")))
            .collect();
        tries.insert("linger.ms".to_owned(), Secret::new("7"));
        ClusterConfig {
            alias: "A".to_owned(),
            bootstrap_servers: "a1:9092,a2:9092".to_owned(),
            security: Security {
                protocol: SecurityProtocol::SaslSsl,
                ca_file: Some("ca.pem".to_owned()),
                cert_file: Some("client.pem".to_owned()),
                key_file: Some("client.key".to_owned()),
                key_password: Some(Secret::new("key-pass")),
                sasl: Some(Sasl {
                    mechanism: "SCRAM-SHA-512".to_owned(),
                    credentials: SaslCredentials::Password {
                        username: "mirror".to_owned(),
                        password: Secret::new("sasl-pass"),
                    },
                }),
            },
            client: tries.clone(),
            consumer: tries.clone(),
            producer: tries.clone(),
            admin: tries,
        }
    }

    fn build(cluster: &ClusterConfig, kind: ClientKind) -> ClientConfig {
        let group = matches!(
            kind,
            ClientKind::GroupOffsetsConsumer | ClientKind::CoordinationConsumer
        )
        .then_some(GROUP);
        client_config(cluster, kind, "test", group)
    }

    #[test]
    fn every_forced_row_wins_over_the_users_properties() {
        let cluster = cluster();
        for kind in ClientKind::ALL {
            let cfg = build(&cluster, kind);
            let mut applied = 0;
            for row in kind.forced() {
                let want = match row.value {
                    Value::Fixed(value) => Some(value),
                    Value::Group => Some(GROUP),
                    // The OAUTHBEARER rows are unset with a password: the user's value goes.
                    Value::Cluster { get, .. } => get(&cluster),
                    Value::Unset => None,
                };
                assert_eq!(cfg.get(row.key), want, "{kind:?} {}", row.key);
                for alias in row.aliases {
                    assert_eq!(cfg.get(alias), None, "{kind:?} alias {alias}");
                }
                applied += 1;
            }
            assert!(applied > 0, "{kind:?}");
            // What the table does not force still comes through.
            assert_eq!(cfg.get("linger.ms"), Some("7"), "{kind:?}");
        }
    }

    /// The values themselves, spelled out, so that a change to the table is a visible change.
    #[test]
    fn forced_values_per_kind() {
        let cluster = cluster();
        let get = |kind, key| build(&cluster, kind).get(key).map(str::to_owned);
        for kind in ClientKind::ALL {
            assert_eq!(
                get(kind, "allow.auto.create.topics").as_deref(),
                Some("false")
            );
            assert_eq!(
                get(kind, "bootstrap.servers").as_deref(),
                Some("a1:9092,a2:9092")
            );
            assert_eq!(get(kind, "security.protocol").as_deref(), Some("sasl_ssl"));
            assert_eq!(get(kind, "ssl.ca.location").as_deref(), Some("ca.pem"));
            assert_eq!(
                get(kind, "ssl.certificate.location").as_deref(),
                Some("client.pem")
            );
            assert_eq!(get(kind, "ssl.key.location").as_deref(), Some("client.key"));
            assert_eq!(get(kind, "ssl.key.password").as_deref(), Some("key-pass"));
            assert_eq!(
                get(kind, "sasl.mechanisms").as_deref(),
                Some("SCRAM-SHA-512")
            );
            assert_eq!(get(kind, "sasl.username").as_deref(), Some("mirror"));
            assert_eq!(get(kind, "sasl.password").as_deref(), Some("sasl-pass"));
        }
        use ClientKind::*;
        for kind in [RecordConsumer, ReaderConsumer, GroupOffsetsConsumer] {
            assert_eq!(get(kind, "enable.auto.commit").as_deref(), Some("false"));
            assert_eq!(
                get(kind, "enable.auto.offset.store").as_deref(),
                Some("false")
            );
            assert_eq!(
                get(kind, "isolation.level").as_deref(),
                Some("read_committed")
            );
            assert_eq!(get(kind, "enable.partition.eof").as_deref(), Some("false"));
        }
        assert_eq!(get(RecordConsumer, "group.id").as_deref(), Some("strait"));
        assert_eq!(get(ReaderConsumer, "group.id").as_deref(), Some("strait"));
        assert_eq!(
            get(GroupOffsetsConsumer, "group.id").as_deref(),
            Some(GROUP)
        );
        assert_eq!(
            get(RecordConsumer, "auto.offset.reset").as_deref(),
            Some("error")
        );
        assert_eq!(
            get(GroupOffsetsConsumer, "auto.offset.reset").as_deref(),
            Some("error")
        );
        assert_eq!(
            get(ReaderConsumer, "auto.offset.reset").as_deref(),
            Some("earliest")
        );
        for kind in [RecordProducer, ControlProducer] {
            assert_eq!(get(kind, "enable.idempotence").as_deref(), Some("true"));
            assert_eq!(get(kind, "acks").as_deref(), Some("all"));
            assert_eq!(get(kind, "transactional.id"), None);
        }
        assert_eq!(
            get(RecordProducer, "message.timeout.ms").as_deref(),
            Some("0")
        );
        assert_eq!(
            get(RecordProducer, "delivery.report.only.error").as_deref(),
            Some("false")
        );
        // Not forced where the table does not say so: the user's value stays.
        assert_eq!(
            get(ControlProducer, "message.timeout.ms").as_deref(),
            Some("user-value")
        );
        assert_eq!(get(Admin, "acks").as_deref(), Some("user-value"));
    }

    /// OAUTHBEARER: the OIDC client credentials, or librdkafka's unsecured JWT; never a
    /// user name or password.
    #[test]
    fn oauthbearer_credentials_become_librdkafka_properties() {
        let mut cluster = cluster();
        let with = |cluster: &mut ClusterConfig, credentials| {
            cluster.security.sasl = Some(Sasl {
                mechanism: "OAUTHBEARER".to_owned(),
                credentials,
            });
        };
        with(
            &mut cluster,
            SaslCredentials::Oidc {
                token_endpoint_url: "https://idp.example/token".to_owned(),
                client_id: "strait".to_owned(),
                client_secret: Secret::new("oidc-secret"),
                scope: Some("kafka".to_owned()),
            },
        );
        let cfg = build(&cluster, ClientKind::Admin);
        for (key, want) in [
            ("sasl.mechanisms", Some("OAUTHBEARER")),
            ("sasl.oauthbearer.method", Some("oidc")),
            (
                "sasl.oauthbearer.token.endpoint.url",
                Some("https://idp.example/token"),
            ),
            ("sasl.oauthbearer.client.id", Some("strait")),
            ("sasl.oauthbearer.client.secret", Some("oidc-secret")),
            ("sasl.oauthbearer.scope", Some("kafka")),
            ("enable.sasl.oauthbearer.unsecure.jwt", None),
            ("sasl.oauthbearer.config", None),
            ("sasl.username", None),
            ("sasl.password", None),
        ] {
            assert_eq!(cfg.get(key), want, "oidc {key}");
        }
        with(
            &mut cluster,
            SaslCredentials::UnsecuredJwt {
                principal: "mirror".to_owned(),
                librdkafka_config: "principal=mirror".to_owned(),
            },
        );
        let cfg = build(&cluster, ClientKind::RecordConsumer);
        for (key, want) in [
            ("enable.sasl.oauthbearer.unsecure.jwt", Some("true")),
            ("sasl.oauthbearer.config", Some("principal=mirror")),
            ("sasl.oauthbearer.method", None),
            ("sasl.oauthbearer.client.secret", None),
            ("sasl.password", None),
        ] {
            assert_eq!(cfg.get(key), want, "unsecured {key}");
        }
    }

    #[test]
    fn security_keys_the_cluster_leaves_out_are_not_set() {
        let mut cluster = cluster();
        cluster.security = Security::default();
        let cfg = build(&cluster, ClientKind::Admin);
        assert_eq!(cfg.get("security.protocol"), Some("plaintext"));
        for key in [
            "ssl.ca.location",
            "ssl.key.password",
            "sasl.mechanisms",
            "sasl.password",
        ] {
            assert_eq!(cfg.get(key), None, "{key}");
        }
    }

    #[test]
    fn defaults_are_overridable_and_never_forced() {
        for kind in ClientKind::ALL {
            for (key, _) in defaults(kind) {
                let forced = kind.forced().any(|row| row.names().any(|n| n == *key));
                assert!(!forced, "{kind:?}: default {key} is also forced");
            }
        }
        let mut cluster = cluster();
        cluster.producer.clear();
        cluster.client.clear();
        let cfg = build(&cluster, ClientKind::RecordProducer);
        assert_eq!(cfg.get("linger.ms"), Some("5"));
        cluster
            .producer
            .insert("linger.ms".to_owned(), Secret::new("20"));
        let cfg = build(&cluster, ClientKind::RecordProducer);
        assert_eq!(cfg.get("linger.ms"), Some("20"));
    }

    /// A value librdkafka refuses, a property it does not know and key material it cannot
    /// read: the error names the property and the reason, and none of the values (nor any
    /// part of the key) appears in its text or its debug form.
    #[test]
    fn client_errors_never_carry_a_value() {
        const SECRET: &str = "s3cr3t-Value-Never-Shown";
        let mut base = cluster();
        base.security = Security::default();
        base.client.clear();
        base.consumer.clear();
        base.admin.clear();
        let cases: [(&str, String, &str); 3] = [
            (
                "compression.type",
                SECRET.to_owned(),
                "cannot create the producer client for cluster `A`: librdkafka refuses the value of `compression.type`: Invalid value \"***\" for configuration property \"compression.codec\"",
            ),
            (
                "sasl.oauthbearer.secret",
                SECRET.to_owned(),
                "cannot create the producer client for cluster `A`: librdkafka has no property `sasl.oauthbearer.secret`; see librdkafka's CONFIGURATION.md for the names",
            ),
            (
                "ssl.key.pem",
                format!("-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n"),
                "",
            ),
        ];
        for (key, value, want) in cases {
            let mut c = base.clone();
            if key == "ssl.key.pem" {
                c.security.protocol = SecurityProtocol::Ssl;
            }
            c.producer = BTreeMap::from([(key.to_owned(), Secret::new(value.clone()))]);
            let Err(e) = control_producer(&c, "test") else {
                panic!("{key}: librdkafka took the value");
            };
            let text = crate::telemetry::error_chain(&e);
            let debug = format!("{e:?}");
            for shown in [&text, &debug] {
                assert!(!shown.contains(SECRET), "{key}: {shown}");
                assert!(!shown.contains("PRIVATE KEY"), "{key}: {shown}");
            }
            if want.is_empty() {
                assert!(text.contains("ssl.key"), "{key}: {text}");
            } else {
                assert_eq!(text, want, "{key}");
            }
        }
    }

    #[test]
    fn each_kind_takes_its_sections_properties() {
        for kind in ClientKind::ALL {
            assert_eq!(role(kind).as_str(), kind.section().key(), "{kind:?}");
        }
    }
}
