//! The one table of client settings strait forces: for each kind of client strait builds, the
//! librdkafka properties it sets whatever the user writes, with their aliases, values and the
//! reason a user is shown. The client factory (`kafka::client_config`) applies the table and the
//! config validator refuses the same keys in the pass-through sections that feed those clients,
//! so a forced setting is never accepted at load and then silently overridden.
//!
//! The table lives here rather than in `kafka/` because `kafka/` imports `config/`, not the
//! other way round.

use super::{ClusterConfig, SaslCredentials, Secret};

/// The group name of strait's record consumers and readers of its own topics: librdkafka needs
/// one for assign(), the group is never joined and nothing is committed for it (strait's
/// principal needs DESCRIBE on it).
pub const STRAIT_GROUP: &str = "strait";

/// Each kind of client strait builds; each takes its pass-through properties from one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// The source consumer of a mirror's record path (manual assignment, no commits).
    RecordConsumer,
    /// Reads strait's own topics and MM2's (progress, checkpoints, heartbeats) from the start.
    ReaderConsumer,
    /// Reads one consumer group's committed offsets (never joins the group or commits).
    GroupOffsetsConsumer,
    /// Joins the group of the instances sharing a mirror (`deployment`) on its target, for the
    /// shards it is assigned; reads and commits nothing.
    CoordinationConsumer,
    /// The target producer of a mirror's record path.
    RecordProducer,
    /// Writes strait's own low-volume records (heartbeats, checkpoints, offset syncs).
    ControlProducer,
    /// Admin requests and metadata (librdkafka's admin client is a producer handle).
    Admin,
}

impl ClientKind {
    pub const ALL: [ClientKind; 7] = [
        RecordConsumer,
        ReaderConsumer,
        GroupOffsetsConsumer,
        CoordinationConsumer,
        RecordProducer,
        ControlProducer,
        ClientKind::Admin,
    ];

    /// The pass-through section (besides `client`) whose properties this kind receives.
    pub fn section(self) -> Section {
        match self {
            RecordConsumer | ReaderConsumer | GroupOffsetsConsumer | CoordinationConsumer => {
                Section::Consumer
            }
            RecordProducer | ControlProducer => Section::Producer,
            ClientKind::Admin => Section::Admin,
        }
    }

    /// The rows of the table that apply to this kind.
    pub fn forced(self) -> impl Iterator<Item = &'static Forced> {
        FORCED.iter().filter(move |row| row.kinds.contains(&self))
    }
}

/// A cluster's pass-through property sections, as written in the YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `client`: every client of the cluster.
    Client,
    Consumer,
    Producer,
    Admin,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::Client,
        Section::Consumer,
        Section::Producer,
        Section::Admin,
    ];

    /// The key of the section under `clusters.<alias>`.
    pub fn key(self) -> &'static str {
        match self {
            Section::Client => "client",
            Section::Consumer => "consumer",
            Section::Producer => "producer",
            Section::Admin => "admin",
        }
    }

    /// Whether properties written in this section reach clients of `kind`.
    pub fn feeds(self, kind: ClientKind) -> bool {
        self == Section::Client || kind.section() == self
    }
}

/// What a forced property is set to.
#[derive(Clone, Copy)]
pub enum Value {
    /// The same fixed value for every client of the row's kinds.
    Fixed(&'static str),
    /// The consumer group the client reads, given when the client is built.
    Group,
    /// Taken from the cluster's dedicated key (`key`, under `clusters.<alias>`); not set at all
    /// when that key is not (`get` returns `None`).
    Cluster {
        key: &'static str,
        get: fn(&ClusterConfig) -> Option<&str>,
    },
    /// Left unset: strait does not use the feature and does not let it be turned on.
    Unset,
}

impl Value {
    /// The value for one client: `None` means the property is removed.
    pub fn resolve<'a>(
        &self,
        cluster: &'a ClusterConfig,
        group: Option<&'a str>,
    ) -> Option<&'a str> {
        match *self {
            Value::Fixed(value) => Some(value),
            Value::Group => group,
            Value::Cluster { get, .. } => get(cluster),
            Value::Unset => None,
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Fixed(value) => write!(f, "{value}"),
            Value::Group => f.write_str("the group read"),
            Value::Cluster { key, .. } => write!(f, "from `{key}`"),
            Value::Unset => f.write_str("unset"),
        }
    }
}

/// One row: `key` (and its `aliases`) on clients of `kinds` is set to `value`; a user trying to
/// set it is told `not allowed: <reason>`. A key may have several rows when its value differs
/// by kind; those rows then agree on aliases and reason.
#[derive(Debug)]
pub struct Forced {
    pub kinds: &'static [ClientKind],
    /// The name strait sets.
    pub key: &'static str,
    /// librdkafka's other names for the same property (its CONFIGURATION.md "Alias for").
    pub aliases: &'static [&'static str],
    pub value: Value,
    pub reason: &'static str,
}

impl Forced {
    /// The key and its aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.key).chain(self.aliases.iter().copied())
    }
}

/// The row that makes `key` not allowed in `section`, if one does. librdkafka matches property
/// names exactly (case included), and so does this.
pub fn refusal(section: Section, key: &str) -> Option<&'static Forced> {
    FORCED.iter().find(|row| {
        row.names().any(|name| name == key) && row.kinds.iter().any(|&k| section.feeds(k))
    })
}

use ClientKind::{
    ControlProducer, CoordinationConsumer, GroupOffsetsConsumer, ReaderConsumer, RecordConsumer,
    RecordProducer,
};

const ALL: &[ClientKind] = &ClientKind::ALL;
const CONSUMERS: &[ClientKind] = &[
    RecordConsumer,
    ReaderConsumer,
    GroupOffsetsConsumer,
    CoordinationConsumer,
];
const PRODUCERS: &[ClientKind] = &[RecordProducer, ControlProducer];

const NO_COMMITS: &str =
    "strait controls this for correctness: it commits no mirroring progress to the \
     source; positions are stored on the target after the target acknowledged the records";
const GROUPS: &str = "strait names the consumer groups it uses itself";
const OFFSET_RESET: &str = "strait controls this for correctness: a source position that fell out \
     of range (retention ran past it) is reported as a data gap, never silently reset, and \
     strait's own topics are always read from their start";
const SASL: &str = "set the cluster's `security.sasl` instead";
const SHARING: &str = "strait's instances share a mirror's shards with the classic group protocol \
     and the cooperative-sticky assignor, so that a rebalance moves only the shards that must move";

fn sasl(cluster: &ClusterConfig) -> Option<&super::Sasl> {
    cluster.security.sasl.as_ref()
}

fn oidc(cluster: &ClusterConfig) -> Option<(&str, &str, &Secret, Option<&str>)> {
    match &sasl(cluster)?.credentials {
        SaslCredentials::Oidc {
            token_endpoint_url,
            client_id,
            client_secret,
            scope,
        } => Some((
            token_endpoint_url,
            client_id,
            client_secret,
            scope.as_deref(),
        )),
        _ => None,
    }
}

fn unsecured_jwt(cluster: &ClusterConfig) -> Option<&str> {
    match &sasl(cluster)?.credentials {
        SaslCredentials::UnsecuredJwt {
            librdkafka_config, ..
        } => Some(librdkafka_config),
        _ => None,
    }
}

/// The table. Values are the ones librdkafka must hold for strait's guarantees; the comment on
/// a row says why where the reason does not.
pub static FORCED: &[Forced] = &[
    // Connection and security come from the cluster's own keys, which validation checks as a
    // whole (a TLS file without a TLS protocol, SASL without credentials, ...).
    Forced {
        kinds: ALL,
        key: "bootstrap.servers",
        aliases: &["metadata.broker.list"],
        value: Value::Cluster {
            key: "bootstrap_servers",
            get: |c| Some(&c.bootstrap_servers),
        },
        reason: "set the cluster's `bootstrap_servers` instead",
    },
    Forced {
        kinds: ALL,
        key: "security.protocol",
        aliases: &[],
        value: Value::Cluster {
            key: "security.protocol",
            get: |c| Some(c.security.protocol.as_librdkafka()),
        },
        reason: "set the cluster's `security.protocol` instead",
    },
    Forced {
        kinds: ALL,
        key: "ssl.ca.location",
        aliases: &[],
        value: Value::Cluster {
            key: "security.ca_file",
            get: |c| c.security.ca_file.as_deref(),
        },
        reason: "set the cluster's `security.ca_file` instead",
    },
    Forced {
        kinds: ALL,
        key: "ssl.certificate.location",
        aliases: &[],
        value: Value::Cluster {
            key: "security.cert_file",
            get: |c| c.security.cert_file.as_deref(),
        },
        reason: "set the cluster's `security.cert_file` instead",
    },
    Forced {
        kinds: ALL,
        key: "ssl.key.location",
        aliases: &[],
        value: Value::Cluster {
            key: "security.key_file",
            get: |c| c.security.key_file.as_deref(),
        },
        reason: "set the cluster's `security.key_file` instead",
    },
    Forced {
        kinds: ALL,
        key: "ssl.key.password",
        aliases: &[],
        value: Value::Cluster {
            key: "security.key_password",
            get: |c| c.security.key_password.as_ref().map(Secret::expose),
        },
        reason: "set the cluster's `security.key_password` instead",
    },
    Forced {
        kinds: ALL,
        key: "sasl.mechanisms",
        aliases: &["sasl.mechanism"],
        value: Value::Cluster {
            key: "security.sasl.mechanism",
            get: |c| sasl(c).map(|s| s.mechanism.as_str()),
        },
        reason: SASL,
    },
    Forced {
        kinds: ALL,
        key: "sasl.username",
        aliases: &[],
        value: Value::Cluster {
            key: "security.sasl.username",
            get: |c| sasl(c)?.username(),
        },
        reason: SASL,
    },
    Forced {
        kinds: ALL,
        key: "sasl.password",
        aliases: &[],
        value: Value::Cluster {
            key: "security.sasl.password",
            get: |c| match &sasl(c)?.credentials {
                SaslCredentials::Password { password, .. } => Some(password.expose()),
                _ => None,
            },
        },
        reason: SASL,
    },
    Forced {
        kinds: ALL,
        key: "sasl.oauthbearer.method",
        aliases: &[],
        value: Value::Cluster {
            key: "security.sasl.oidc.token_endpoint_url",
            get: |c| oidc(c).map(|_| "oidc"),
        },
        reason: SASL,
    },
    Forced {
        kinds: ALL,
        key: "sasl.oauthbearer.token.endpoint.url",
        aliases: &[],
        value: Value::Cluster {
            key: "security.sasl.oidc.token_endpoint_url",
            get: |c| oidc(c).map(|o| o.0),
        },
        reason: SASL,
    },
    Forced {
        kinds: ALL,
        key: "sasl.oauthbearer.client.id",
        aliases: &[],
        value: Value::Cluster {
            key: "security.sasl.oidc.client_id",
            get: |c| oidc(c).map(|o| o.1),
        },
        reason: SASL,
    },
    Forced {
        kinds: ALL,
        key: "sasl.oauthbearer.client.secret",
        aliases: &[],
        value: Value::Cluster {
            key: "security.sasl.oidc.client_secret",
            get: |c| oidc(c).map(|o| o.2.expose()),
        },
        reason: SASL,
    },
    Forced {
        kinds: ALL,
        key: "sasl.oauthbearer.scope",
        aliases: &[],
        value: Value::Cluster {
            key: "security.sasl.oidc.scope",
            get: |c| oidc(c).and_then(|o| o.3),
        },
        reason: SASL,
    },
    Forced {
        kinds: ALL,
        key: "enable.sasl.oauthbearer.unsecure.jwt",
        aliases: &[],
        value: Value::Cluster {
            key: "security.sasl.unsecured_jwt.principal",
            get: |c| unsecured_jwt(c).map(|_| "true"),
        },
        reason: SASL,
    },
    Forced {
        kinds: ALL,
        key: "sasl.oauthbearer.config",
        aliases: &[],
        value: Value::Cluster {
            key: "security.sasl.unsecured_jwt.principal",
            get: unsecured_jwt,
        },
        reason: SASL,
    },
    // Producers (and so admin clients) default to true: a metadata request for one missing
    // topic, such as a heartbeat or failover probe, would then create it on brokers that keep
    // Kafka's default `auto.create.topics.enable=true`.
    Forced {
        kinds: ALL,
        key: "allow.auto.create.topics",
        aliases: &[],
        value: Value::Fixed("false"),
        reason: "strait never creates topics by asking for their metadata; it creates the \
                 topics it needs explicitly",
    },
    // Consumers: strait assigns partitions itself and never commits or joins a group, so the
    // group stays empty and the source cluster read-only.
    Forced {
        kinds: CONSUMERS,
        key: "enable.auto.commit",
        aliases: &["auto.commit.enable"],
        value: Value::Fixed("false"),
        reason: NO_COMMITS,
    },
    Forced {
        kinds: CONSUMERS,
        key: "enable.auto.offset.store",
        aliases: &[],
        value: Value::Fixed("false"),
        reason: NO_COMMITS,
    },
    Forced {
        kinds: CONSUMERS,
        key: "isolation.level",
        aliases: &[],
        value: Value::Fixed("read_committed"),
        reason: "strait controls this for correctness: the offset map and checkpoints depend on \
                 which records are mirrored",
    },
    Forced {
        kinds: CONSUMERS,
        key: "enable.partition.eof",
        aliases: &[],
        value: Value::Fixed("false"),
        reason: "strait controls this for correctness: its read loops take every event a \
                 consumer returns for a record or an error, and find the end of a partition \
                 from its watermarks",
    },
    // librdkafka needs a group.id for assign() even when no group is joined.
    Forced {
        kinds: &[RecordConsumer, ReaderConsumer],
        key: "group.id",
        aliases: &[],
        value: Value::Fixed(STRAIT_GROUP),
        reason: GROUPS,
    },
    Forced {
        kinds: &[GroupOffsetsConsumer, CoordinationConsumer],
        key: "group.id",
        aliases: &[],
        value: Value::Group,
        reason: GROUPS,
    },
    Forced {
        kinds: &[RecordConsumer, GroupOffsetsConsumer],
        key: "auto.offset.reset",
        aliases: &[],
        value: Value::Fixed("error"),
        reason: OFFSET_RESET,
    },
    Forced {
        kinds: &[ReaderConsumer],
        key: "auto.offset.reset",
        aliases: &[],
        value: Value::Fixed("earliest"),
        reason: OFFSET_RESET,
    },
    // The coordination topic is never written: its partitions are the shards, assigned and
    // paused, never read.
    Forced {
        kinds: &[CoordinationConsumer],
        key: "auto.offset.reset",
        aliases: &[],
        value: Value::Fixed("latest"),
        reason: OFFSET_RESET,
    },
    Forced {
        kinds: &[CoordinationConsumer],
        key: "partition.assignment.strategy",
        aliases: &[],
        value: Value::Fixed("cooperative-sticky"),
        reason: SHARING,
    },
    Forced {
        kinds: &[CoordinationConsumer],
        key: "group.protocol",
        aliases: &[],
        value: Value::Fixed("classic"),
        reason: SHARING,
    },
    // Set from `deployment.session_timeout` when the client is built.
    Forced {
        kinds: &[CoordinationConsumer],
        key: "session.timeout.ms",
        aliases: &[],
        value: Value::Unset,
        reason: "set `deployment.session_timeout` instead",
    },
    // Producers: zero loss and per-partition order. With idempotence and acks=all librdkafka
    // allows up to 5 requests in flight and keeps them in order.
    Forced {
        kinds: PRODUCERS,
        key: "enable.idempotence",
        aliases: &[],
        value: Value::Fixed("true"),
        reason: "strait controls this for correctness: the idempotent producer keeps retries \
                 from duplicating or reordering records",
    },
    Forced {
        kinds: PRODUCERS,
        key: "acks",
        aliases: &["request.required.acks"],
        value: Value::Fixed("all"),
        reason: "strait controls this for correctness: a record counts as replicated only when \
                 all in-sync replicas of the target have it (acks=all)",
    },
    Forced {
        kinds: PRODUCERS,
        key: "transactional.id",
        aliases: &[],
        value: Value::Unset,
        reason: "strait manages producer transactions itself",
    },
    Forced {
        kinds: &[RecordProducer],
        key: "message.timeout.ms",
        aliases: &["delivery.timeout.ms"],
        value: Value::Fixed("0"),
        reason: "strait controls this for correctness: a record is never given up because of \
                 time; a target outage is waited out (MM2: delivery.timeout.ms = \
                 Integer.MAX_VALUE)",
    },
    Forced {
        kinds: &[RecordProducer],
        key: "delivery.report.only.error",
        aliases: &[],
        value: Value::Fixed("false"),
        reason: "strait controls this for correctness: the delivery report of every record \
                 carries its offset on the target, which progress and the offset map are built \
                 from",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_one_key_agree_and_never_overlap() {
        for (i, a) in FORCED.iter().enumerate() {
            assert!(!a.kinds.is_empty(), "{} applies to no client", a.key);
            for b in &FORCED[i + 1..] {
                let shared = a.names().any(|n| b.names().any(|m| m == n));
                if !shared {
                    continue;
                }
                assert_eq!(a.key, b.key, "`{}` and `{}` share a name", a.key, b.key);
                assert_eq!(
                    a.aliases, b.aliases,
                    "rows of `{}` disagree on aliases",
                    a.key
                );
                assert_eq!(
                    a.reason, b.reason,
                    "rows of `{}` disagree on the reason",
                    a.key
                );
                let twice = a.kinds.iter().find(|k| b.kinds.contains(k));
                assert_eq!(twice, None, "`{}` is forced twice on one kind", a.key);
            }
        }
    }

    #[test]
    fn every_client_refuses_topic_auto_creation() {
        for kind in ClientKind::ALL {
            let row = kind
                .forced()
                .find(|row| row.key == "allow.auto.create.topics")
                .unwrap_or_else(|| panic!("{kind:?} does not force allow.auto.create.topics"));
            assert!(matches!(row.value, Value::Fixed("false")), "{kind:?}");
        }
    }

    #[test]
    fn sections_feed_their_kinds_and_client_feeds_all() {
        for kind in ClientKind::ALL {
            let feeding: Vec<Section> =
                Section::ALL.into_iter().filter(|s| s.feeds(kind)).collect();
            assert_eq!(feeding, [Section::Client, kind.section()], "{kind:?}");
        }
    }
}
