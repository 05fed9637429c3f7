//! Configuration: YAML in, validated typed [`Config`] out. Nothing else in the crate parses YAML.
//!
//! Loading happens in two steps: the file is deserialized into raw structs that mirror the YAML
//! (`deny_unknown_fields`), then validated into the typed structs below. Validation collects
//! **every** problem with its key path (`mirrors[0].topics[1]`) instead of stopping at the first.
//!
//! Every default is in [`defaults`]. The librdkafka settings strait forces on its clients are
//! one table, [`forced`]: validation refuses them in the pass-through sections and the client
//! factory applies them.
//!
//! Every key is documented in `config/strait.example.yaml`. String values may contain
//! `${env:NAME}` and `${file:PATH}` references (`$${` for a literal `${`), so that secrets stay
//! out of the file.
//!
//! [`import_mm2`] reads a MirrorMaker 2 properties file into this YAML (`strait import-mm2`);
//! [`check_offline`] validates a configuration written for another machine.

mod changes;
mod choice;
pub mod defaults;
mod error;
pub mod forced;
pub mod import_mm2;
mod interpolate;
pub mod librdkafka;
mod raw;
mod suggest;
mod units;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::policy::{ReplicationPolicy, TopicFilter, TopicRules};

pub use changes::{mirror_change, Changes, MirrorChange, LIVE_KEYS};
pub use error::{ConfigError, Problem};
pub use units::{parse_duration, parse_size};

use interpolate::Resolver;

/// Reads and validates the YAML file at `path`, noting in [`Config::files`] every other file
/// it reads.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::single(&origin, "", format!("cannot read the file: {e}")))?;
    let files = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let system = Resolver::system();
    let read_file = |p: &str| {
        files.borrow_mut().insert(p.to_owned());
        (system.read_file)(p)
    };
    let check_file = |p: &str| {
        files.borrow_mut().insert(p.to_owned());
        (system.check_file)(p)
    };
    let resolver = Resolver {
        env: system.env,
        read_file: &read_file,
        check_file: &check_file,
    };
    let mut config = from_str_with(&text, &origin, &resolver)?;
    config.files = files.into_inner().into_iter().collect();
    Ok(config)
}

/// Validates YAML text; `origin` names it in error messages (a file path or a label).
pub fn from_str(yaml: &str, origin: &str) -> Result<Config, ConfigError> {
    from_str_with(yaml, origin, &Resolver::system())
}

/// The value every reference stands for in [`check_offline`].
const OFFLINE_PLACEHOLDER: &str = "strait-offline-placeholder";

/// What [`check_offline`] found the configuration to reference, none of it read.
#[derive(Debug, Clone)]
pub struct OfflineCheck {
    /// The configuration, with a placeholder wherever a reference stands (for its shape only:
    /// never run it).
    pub config: Config,
    /// The environment variables of `${env:}` references, by name.
    pub env: Vec<String>,
    /// The files of `${file:}` references and of path keys (`ca_file`, ...), by path.
    pub files: Vec<String>,
}

/// Validates YAML text without reading the environment or any file: every `${env:}` and
/// `${file:}` reference stands for a placeholder, every file a path key names counts as
/// readable, and a pass-through property written as a reference has only its name checked.
/// For a configuration written for another machine (`strait import-mm2`): what `strait
/// validate` checks there, less what only that machine can tell.
pub fn check_offline(yaml: &str, origin: &str) -> Result<OfflineCheck, ConfigError> {
    let env = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let files = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let lookup = |name: &str| {
        env.borrow_mut().insert(name.to_owned());
        Some(OFFLINE_PLACEHOLDER.to_owned())
    };
    let read_file = |p: &str| {
        files.borrow_mut().insert(p.to_owned());
        Ok(OFFLINE_PLACEHOLDER.to_owned())
    };
    let check_file = |p: &str| {
        files.borrow_mut().insert(p.to_owned());
        Ok(())
    };
    let resolver = Resolver {
        env: &lookup,
        read_file: &read_file,
        check_file: &check_file,
    };
    let config = from_str_checked(yaml, origin, &resolver, true)?;
    Ok(OfflineCheck {
        config,
        env: env.into_inner().into_iter().collect(),
        files: files.into_inner().into_iter().collect(),
    })
}

fn from_str_with(yaml: &str, origin: &str, resolver: &Resolver<'_>) -> Result<Config, ConfigError> {
    from_str_checked(yaml, origin, resolver, false)
}

fn from_str_checked(
    yaml: &str,
    origin: &str,
    resolver: &Resolver<'_>,
    offline: bool,
) -> Result<Config, ConfigError> {
    let raw = parse(yaml, origin)?;
    let mut config =
        validate::validate_with(raw, resolver, offline).map_err(|problems| ConfigError {
            origin: origin.to_owned(),
            problems,
        })?;
    // The flow graph: which mirrors stamp the provenance header; cycles that would loop.
    let edges: Vec<crate::policy::graph::Edge<'_>> = config
        .mirrors
        .iter()
        .map(|m| crate::policy::graph::Edge {
            source: &m.source,
            target: &m.target,
            policy: &m.replication_policy,
            stamp: match m.provenance_header {
                ProvenanceHeader::Auto => None,
                ProvenanceHeader::Always => Some(true),
                ProvenanceHeader::Never => Some(false),
            },
        })
        .collect();
    match crate::policy::graph::plan(&edges) {
        Ok(stamps) => {
            for (m, stamp) in config.mirrors.iter_mut().zip(stamps) {
                m.stamp_provenance = stamp;
            }
            Ok(config)
        }
        Err(messages) => Err(ConfigError {
            origin: origin.to_owned(),
            problems: messages
                .into_iter()
                .map(|message| Problem {
                    path: "mirrors".to_owned(),
                    message,
                })
                .collect(),
        }),
    }
}

/// YAML to raw structs. serde stops at the first problem, so this reports one at most: syntax
/// errors, unknown keys and wrong shapes, with the key path and the line.
fn parse(yaml: &str, origin: &str) -> Result<raw::RawConfig, ConfigError> {
    let deserializer = serde_yaml::Deserializer::from_str(yaml);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let dotted = e.path().to_string();
        let mut path = key_path(e.path());
        let inner = e.into_inner();
        let mut message = inner.to_string();
        // serde_yaml writes `<its path>: <message> at line L column C`, where its path is ours
        // or (for an unknown key) our path's parent; keep only the message.
        if let Some((prefix, rest)) = message.split_once(": ") {
            if !prefix.is_empty() && !prefix.contains(' ') && dotted.starts_with(prefix) {
                message = rest.to_owned();
            }
        }
        let location = inner.location();
        if let Some(l) = &location {
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(at) = message.find(&suffix) {
                message.replace_range(at..at + suffix.len(), "");
            }
        }
        if message.starts_with("EOF while parsing") {
            message = "the file has no settings; see config/strait.example.yaml".to_owned();
        }
        let mut separator = None;
        if message.starts_with("deserializing from YAML containing more than one document") {
            message = "the file holds more than one YAML document; strait reads one, so remove \
                       the `---` or `...` line that starts another"
                .to_owned();
            separator = document_separator(yaml);
        }
        if let Some(field) = quoted_after(&message, "duplicate field `") {
            // serde names the mapping, not the key written twice.
            path = if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            message = format!("duplicate key `{field}`; each key is set once");
        }
        if let Some(field) = quoted_after(&message, "unknown field `") {
            let expected = message
                .split_once(", expected ")
                .map(|(_, e)| e)
                .unwrap_or_default();
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let hint = suggest::did_you_mean(field, candidates);
            let unknown = format!("unknown field `{field}`");
            message = message.replacen(&unknown, &format!("unknown key `{field}`{hint}"), 1);
        }
        if message.starts_with("invalid type:") && message.ends_with("expected a sequence") {
            message.push_str("; write a list: `[a, b]`, or one `- ` line per item");
        }
        if path.is_empty() && message.starts_with("invalid type:") {
            message.push_str(
                "; the file is a mapping of settings (`clusters:`, `mirrors:`, ...), \
                 see config/strait.example.yaml",
            );
        }
        if let Some(plain) = plain_syntax_error(&message, yaml, location.as_ref()) {
            message = plain;
        }
        if let Some(l) = &location {
            message = format!("{message} (line {}, column {})", l.line(), l.column());
        } else if let Some(line) = separator {
            message = format!("{message} (line {line}, column 1)");
        }
        ConfigError::single(origin, path, message)
    })
}

/// serde's path in the validator's notation: `clusters.A.consumer["fetch.max.bytes"]` for a
/// pass-through property (whose names contain dots), `mirrors[0].topics`; a segment not read
/// yet (a syntax error inside a key) is left out.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let name = |i: usize| match segments.get(i) {
        Some(Segment::Map { key }) => Some(key.as_str()),
        _ => None,
    };
    let mut out = String::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                let property = i == 3
                    && name(0) == Some("clusters")
                    && name(2).is_some_and(|s| forced::Section::ALL.iter().any(|x| x.key() == s));
                if property {
                    out.push_str(&format!("[\"{key}\"]"));
                } else {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
            }
            Segment::Unknown => break,
        }
    }
    out
}

/// libyaml's syntax errors in the words of someone writing the file: what is missing or wrong,
/// and where it started (the location of the error itself is appended by the caller).
fn plain_syntax_error(
    message: &str,
    yaml: &str,
    location: Option<&serde_yaml::Location>,
) -> Option<String> {
    let started = |context: &str| {
        let (_, at) = message.split_once(context)?;
        let at = at.trim_start().strip_prefix("at ")?;
        let (line, column) = at.trim().split_once(" column ")?;
        Some(format!("{} column {column}", line.trim()))
    };
    if message.starts_with("did not find expected ',' or '}'") {
        let at = started("while parsing a flow mapping")?;
        return Some(format!(
            "the `{{` at {at} is not closed: a `}}` is missing, or a `,` between its entries"
        ));
    }
    if message.starts_with("did not find expected ',' or ']'") {
        let at = started("while parsing a flow sequence")?;
        return Some(format!(
            "the `[` at {at} is not closed: a `]` is missing, or a `,` between its items"
        ));
    }
    if message.starts_with("did not find expected key") {
        let at = started("while parsing a block mapping")?;
        return Some(format!(
            "this line does not line up with the keys of the mapping at {at}: the keys of one \
             mapping start in the same column (YAML nests by indentation, with spaces)"
        ));
    }
    if message.starts_with("found unexpected end of stream") {
        let at = started("while scanning a quoted scalar")?;
        return Some(format!(
            "the quoted string that starts at {at} is not closed"
        ));
    }
    if message.starts_with("mapping values are not allowed in this context") {
        return Some("a `: ` where no key can start; quote a value that contains `: `".to_owned());
    }
    if message.starts_with("found character that cannot start any token") {
        let l = location?;
        let c = yaml
            .lines()
            .nth(l.line().checked_sub(1)?)?
            .chars()
            .nth(l.column().checked_sub(1)?)?;
        return Some(if c == '\t' {
            "a tab character: YAML indents with spaces only".to_owned()
        } else {
            format!("`{c}` cannot start a value here; quote the value")
        });
    }
    None
}

/// The line (1-based) of the first `---` or `...` that follows content: where a second
/// document starts.
fn document_separator(yaml: &str) -> Option<usize> {
    let mut content = false;
    for (i, line) in yaml.lines().enumerate() {
        let marker = line.starts_with("---") || line.starts_with("...");
        if marker && content {
            return Some(i + 1);
        }
        let trimmed = line.trim();
        if !marker && !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('%')
        {
            content = true;
        }
    }
    None
}

/// The text between `prefix` and the next backtick in `message`, if `message` starts so.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// A value that must never be printed: passwords, key passphrases, pass-through properties whose
/// names look secret. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The clear-text value, for handing to librdkafka only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Clusters by alias, in alias order.
    pub clusters: BTreeMap<String, ClusterConfig>,
    pub mirrors: Vec<MirrorConfig>,
    /// How long a graceful shutdown may take before in-flight work is abandoned (default 30s).
    pub shutdown_timeout: Duration,
    /// The HTTP endpoint (`/metrics`, `/healthz`, `/readyz`, `/status`); `None` when disabled.
    pub http: Option<HttpConfig>,
    /// How often the files the config reads (`${file:}` references, certificates, keys) are
    /// checked for changes (default 10s); `None` (`off`) never.
    pub secret_files_check_interval: Option<Duration>,
    /// Several instances share the mirrors (`deployment`, docs/scaling.md); `None`: this
    /// instance runs every mirror alone.
    pub deployment: Option<DeploymentConfig>,
    /// Every file the config read besides itself, in path order: `${file:}` references and the
    /// files named by path keys (`ca_file`, `http.tls.cert_file`, ...). Filled by [`load`].
    pub files: Vec<String>,
}

/// `deployment`: the instances started with the same name share each mirror's source
/// partitions through a consumer group on the mirror's target (docs/scaling.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentConfig {
    /// Instances with the same name share the work.
    pub name: String,
    /// This instance's name in `strait status` and the logs (default: host name and process id).
    pub instance: String,
    /// Partitions of a coordination topic created for a mirror (fixed once created: the topic's
    /// own count is used).
    pub shards: u32,
    /// How long a vanished instance keeps its partitions before another takes them over.
    pub session_timeout: Duration,
}

impl DeploymentConfig {
    /// The consumer group of the instances sharing the mirror from `source` (on its target).
    pub fn group(&self, source: &str) -> String {
        format!("strait.{}.{source}", self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    pub alias: String,
    pub bootstrap_servers: String,
    pub security: Security,
    /// librdkafka properties applied to every client of this cluster.
    pub client: BTreeMap<String, Secret>,
    /// librdkafka properties for the consumer, producer and admin roles (after `client`).
    pub consumer: BTreeMap<String, Secret>,
    pub producer: BTreeMap<String, Secret>,
    pub admin: BTreeMap<String, Secret>,
}

impl ClusterConfig {
    /// Whether a client of this cluster reads the file at `path` itself (librdkafka reads
    /// certificates, keys and CAs when a client is created): `security`'s files and pass-through
    /// `*.location` properties. Files read through `${file:}` show in the settings' values.
    pub fn reads_file(&self, path: &str) -> bool {
        let s = &self.security;
        [&s.ca_file, &s.cert_file, &s.key_file]
            .into_iter()
            .flatten()
            .any(|f| f == path)
            || [&self.client, &self.consumer, &self.producer, &self.admin]
                .into_iter()
                .flat_map(|m| m.iter())
                .any(|(k, v)| k.ends_with(".location") && v.expose() == path)
    }

    /// The principal the brokers see for strait, as far as strait can tell: `User:<name>` with
    /// PLAIN, SCRAM or an unsecured JWT, the client certificate's with mutual TLS (the
    /// broker's `ssl.principal.mapping.rules` decide its name), `User:ANONYMOUS` without
    /// authentication.
    pub fn principal(&self) -> String {
        if let Some(p) = self.security.sasl.as_ref().and_then(Sasl::principal) {
            return p;
        }
        if self.security.sasl.is_some() {
            return "strait's OAUTHBEARER principal".to_string();
        }
        match &self.security.cert_file {
            Some(cert) => format!("the principal of client certificate {cert}"),
            None => "User:ANONYMOUS".to_string(),
        }
    }
}

#[cfg(test)]
impl ClusterConfig {
    /// A plaintext cluster at `bootstrap` with no pass-through properties (unit tests against
    /// librdkafka's mock cluster).
    pub fn plaintext(alias: &str, bootstrap: &str) -> ClusterConfig {
        ClusterConfig {
            alias: alias.to_owned(),
            bootstrap_servers: bootstrap.to_owned(),
            security: Security::default(),
            client: BTreeMap::new(),
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
            admin: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// The librdkafka `security.protocol` value.
    pub fn as_librdkafka(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    pub protocol: SecurityProtocol,
    /// PEM CA bundle to verify brokers (`ssl.ca.location`).
    pub ca_file: Option<String>,
    /// PEM client certificate and key for mutual TLS.
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub key_password: Option<Secret>,
    pub sasl: Option<Sasl>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sasl {
    /// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` or `OAUTHBEARER` (librdkafka's spelling).
    pub mechanism: String,
    pub credentials: SaslCredentials,
}

/// How strait proves who it is over SASL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslCredentials {
    /// PLAIN and SCRAM.
    Password { username: String, password: Secret },
    /// OAUTHBEARER with tokens from an OpenID Connect provider (client credentials grant,
    /// librdkafka `sasl.oauthbearer.method=oidc`).
    Oidc {
        token_endpoint_url: String,
        client_id: String,
        client_secret: Secret,
        scope: Option<String>,
    },
    /// OAUTHBEARER with librdkafka's unsigned JWT for `principal`: only for brokers that run
    /// Kafka's unsecured validator (tests, development).
    UnsecuredJwt {
        principal: String,
        /// librdkafka `sasl.oauthbearer.config`: `principal=<principal>`.
        librdkafka_config: String,
    },
}

impl Sasl {
    /// The user name of PLAIN and SCRAM.
    pub fn username(&self) -> Option<&str> {
        match &self.credentials {
            SaslCredentials::Password { username, .. } => Some(username),
            _ => None,
        }
    }

    /// The secret strait holds: the password, or the OIDC client secret.
    pub fn secret(&self) -> Option<&Secret> {
        match &self.credentials {
            SaslCredentials::Password { password, .. } => Some(password),
            SaslCredentials::Oidc { client_secret, .. } => Some(client_secret),
            SaslCredentials::UnsecuredJwt { .. } => None,
        }
    }

    /// The Kafka principal the broker sees, where strait can know it: `User:<name>` for PLAIN,
    /// SCRAM and an unsecured JWT (the broker's own principal builder may map it otherwise).
    pub fn principal(&self) -> Option<String> {
        match &self.credentials {
            SaslCredentials::Password { username, .. } => Some(format!("User:{username}")),
            SaslCredentials::UnsecuredJwt { principal, .. } => Some(format!("User:{principal}")),
            SaslCredentials::Oidc { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Throttle {
    pub bytes_per_second: Option<u64>,
    pub records_per_second: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MirrorConfig {
    pub source: String,
    pub target: String,
    /// Topic include/exclude (the built-in MM2 excludes already added to `exclude`).
    pub topics: TopicFilter,
    /// Which MirrorMaker 2 version's internal-topic rule and built-in excludes apply (`topics`
    /// already holds that version's excludes).
    pub topic_rules: TopicRules,
    /// Group include/exclude (the built-in MM2 excludes already added); used by checkpoints.
    pub groups: TopicFilter,
    pub replication_policy: ReplicationPolicy,
    /// Replication factor of created remote topics; `None` = min(3, number of target brokers).
    pub replication_factor: Option<i16>,
    /// How often source topics and partitions are re-discovered (default 10s; MM2: 600s).
    pub refresh_topics_interval: Duration,
    /// How often the source's topic list is checked between refreshes (one metadata request);
    /// a new replicated topic or partition refreshes at once (default 1s).
    pub watch_topics_interval: Duration,
    pub throttle: Throttle,
    /// Write MM2-format heartbeats (key source, target) to `heartbeats` on the target.
    pub emit_heartbeats: bool,
    /// How often (default 1s, as in MM2).
    pub emit_heartbeats_interval: Duration,
    /// Write MM2-format checkpoints of the source's consumer groups (MM2 `emit.checkpoints.enabled`).
    pub emit_checkpoints: bool,
    /// How often (default 5s; MM2: 60s).
    pub emit_checkpoints_interval: Duration,
    /// Commit the translated offsets to the same groups on the target while they have no
    /// active members there (MM2 `sync.group.offsets.enabled`, default false there).
    pub sync_group_offsets: bool,
    /// How often (default 5s; MM2: 60s).
    pub sync_group_offsets_interval: Duration,
    /// Write MM2-format offset syncs for the replicated partitions (MM2 `emit.offset-syncs.enabled`).
    pub emit_offset_syncs: bool,
    /// Which cluster holds the offset-syncs topic (MM2 `offset-syncs.topic.location`).
    pub offset_syncs_location: OffsetSyncsLocation,
    /// Whether replicated records carry the provenance header (see `policy::graph`).
    pub provenance_header: ProvenanceHeader,
    /// Computed from the flow graph at load: this mirror stamps the provenance header.
    pub stamp_provenance: bool,
    /// Topic config sync to remote topics (MM2 `sync.topic.configs.enabled`).
    pub sync_topic_configs: SyncMode,
    /// How often (default 30s; MM2: 600s).
    pub sync_topic_configs_interval: Duration,
    /// Which topic config names are never synced: MM2's `config.properties.exclude` defaults
    /// plus the user's `topic_configs_exclude` (include is everything).
    pub topic_configs: TopicFilter,
    /// Topic ACL sync to remote topics (MM2 `sync.topic.acls.enabled`).
    pub sync_topic_acls: SyncMode,
    /// How often (default 30s; MM2: 600s).
    pub sync_topic_acls_interval: Duration,
    /// What a partition does when the source no longer holds records it had not copied yet.
    pub on_data_gap: OnDataGap,
    /// Bytes the offset maps of all the mirror's partitions may hold (default 64 MiB): beyond,
    /// the largest maps drop their oldest runs.
    pub offset_map_memory: u64,
    /// At-least-once (default) or exactly-once (records, positions and offset syncs on the
    /// target written in one transaction).
    pub delivery: Delivery,
    /// Exactly-once: how long one transaction collects records before it is committed (what
    /// read_committed consumers of the target wait at most, plus the commit).
    pub transaction_interval: Duration,
    /// Exactly-once: the target's `transaction.timeout.ms` for strait's transactions (the
    /// longest an open transaction of a crashed instance holds back read_committed consumers
    /// of the partitions it wrote, when no successor fences it first).
    pub transaction_timeout: Duration,
    /// The canary (opt-in): probes produced to a topic on the source and timed on the target.
    pub canary: Option<CanaryConfig>,
    /// Take over a stopped MirrorMaker 2's positions at start (opt-in).
    pub take_over_mm2: Option<TakeOverConfig>,
}

/// `mirrors[].take_over_mm2`: at start, every source partition strait has no position for
/// resumes after the last record MirrorMaker 2 stored as copied (its Connect source offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeOverConfig {
    /// The Connect offsets topic on the target (`mm2-offsets.<source>.internal`).
    pub offsets_topic: String,
    /// The namespace of the positions: MM2's source connector name.
    pub connector: String,
    /// MM2's alias of the source cluster (the `cluster` of its partition keys).
    pub cluster: String,
}

/// `mirrors[].canary`: every `interval` a probe record goes to `topic` on the source; its copy
/// on the target is timed (end-to-end latency) and counted (completeness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryConfig {
    /// On the source; replicated by this mirror whatever its `topics` (its excludes apply).
    pub topic: String,
    pub interval: Duration,
    /// A probe not on the target this long after it was sent counts as late.
    pub late_after: Duration,
}

/// `delivery`: what a mirror promises for every source record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Never lost; after a crash, records copied since the last stored position are copied
    /// again.
    AtLeastOnce,
    /// Never lost and, for read_committed consumers of the target, never twice: records and
    /// the positions they advance are committed in one transaction on the target.
    ExactlyOnce,
}

/// `on_data_gap`: what a source partition does when the source no longer holds records strait
/// had not copied yet (retention or DeleteRecords ran past its position). Either way the lost
/// offsets are counted and logged with their range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDataGap {
    /// Copy on from the earliest offset the source still holds (a DR replica keeps going).
    Continue,
    /// Stop the partition at the gap: nothing after it is copied until the operator decides.
    Stop,
}

impl OnDataGap {
    pub fn as_str(self) -> &'static str {
        match self {
            OnDataGap::Continue => "continue",
            OnDataGap::Stop => "stop",
        }
    }
}

/// What a sync of remote-topic metadata (configs, ACLs) does with a difference it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Change the target to match the source.
    Enforce,
    /// Report the difference (log, metric, `validate --connect`); change nothing.
    Report,
    /// Neither look nor change.
    Off,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Enforce => "enforce",
            SyncMode::Report => "report",
            SyncMode::Off => "off",
        }
    }
}

/// `provenance_header`: `auto` stamps (and honours) the header where the flow graph needs it —
/// identity-policy mirrors and mirrors in cycles that renaming alone cannot break; `always` on
/// every record; `never` keeps records byte for byte (refused where a cycle needs the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvenanceHeader {
    Auto,
    Always,
    Never,
}

/// Where MM2's offset-syncs topic lives: on the source as `mm2-offset-syncs.<target>.internal`
/// (MM2's default) or on the target as `mm2-offset-syncs.<source>.internal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSyncsLocation {
    Source,
    Target,
}

impl MirrorConfig {
    /// `source->target`, the flow name used in logs and metrics (MM2 style).
    pub fn name(&self) -> String {
        format!("{}->{}", self.source, self.target)
    }

    /// The MM2 offset-syncs topic this mirror writes, and whether it lives on the source;
    /// `None` without offset syncs. MM2 names it after the cluster it does not live on.
    pub fn offset_syncs_topic(&self) -> Option<(String, bool)> {
        self.emit_offset_syncs.then(|| {
            let on_source = self.offset_syncs_location == OffsetSyncsLocation::Source;
            let other = if on_source {
                &self.target
            } else {
                &self.source
            };
            (self.replication_policy.offset_syncs_topic(other), on_source)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: std::net::SocketAddr,
    pub tls: Option<HttpTls>,
    /// Required as `Authorization: Bearer <token>` on `/metrics` and `/status` when set.
    pub bearer_token: Option<Secret>,
    /// `/readyz` fails while a mirror lags more than this many records.
    pub ready_max_lag_records: u64,
    /// The time a client has for its TLS handshake, and then for each request's headers,
    /// before it is disconnected.
    pub header_read_timeout: Duration,
    /// Connections served at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTls {
    pub cert_file: String,
    pub key_file: String,
    /// With it, clients must present a certificate signed by this CA (mutual TLS).
    pub client_ca_file: Option<String>,
}

#[cfg(test)]
mod key_paths;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
