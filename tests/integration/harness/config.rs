//! strait's YAML configuration for tests, built key by key: [`StraitConfig`] with its
//! [`ClusterConfig`]s, [`MirrorConfig`]s and [`HttpConfig`]. Keys keep the order they were set
//! in, and setting a key again replaces its value in place, so a variant of a configuration is
//! built by setting what differs, never by editing YAML text. The YAML is written by serde_yaml,
//! which quotes what needs quoting (regexes, `off`, addresses).
//!
//! The builder knows the key names, not their rules: it writes whatever a test sets, so a test
//! of the validator can build a broken configuration too.

use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::kafka::KafkaCluster;

/// An ordered set of keys: a later [`Keys::set`] of a key replaces its value where it stands.
#[derive(Debug, Clone, Default, PartialEq)]
struct Keys(Vec<(String, Value)>);

impl Keys {
    fn set(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn to_mapping(&self) -> Mapping {
        self.0
            .iter()
            .map(|(k, v)| (Value::from(k.as_str()), v.clone()))
            .collect()
    }
}

/// A YAML sequence of strings.
fn strings(items: &[&str]) -> Value {
    Value::Sequence(items.iter().map(|s| Value::from(*s)).collect())
}

/// A YAML mapping from `(key, value)` pairs, in order (for nested values such as `security`).
pub fn yaml_map<V: Into<Value> + Clone>(pairs: &[(&str, V)]) -> Value {
    Value::Mapping(
        pairs
            .iter()
            .map(|(k, v)| (Value::from(*k), v.clone().into()))
            .collect(),
    )
}

/// `replication_policy` of a mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `{ kind: default, separator: "." }`: `T` on A becomes `A.T` on B.
    Default,
    /// `{ kind: identity }`: same name on both sides.
    Identity,
}

impl Policy {
    fn to_value(self) -> Value {
        match self {
            Policy::Default => yaml_map(&[("kind", "default"), ("separator", ".")]),
            Policy::Identity => yaml_map(&[("kind", "identity")]),
        }
    }
}

/// One entry of `clusters`: `bootstrap_servers`, the librdkafka pass-through maps per role
/// and any other key (`security`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    keys: Keys,
}

impl ClusterConfig {
    pub fn new(bootstrap_servers: &str) -> ClusterConfig {
        let mut keys = Keys::default();
        keys.set("bootstrap_servers", bootstrap_servers.into());
        ClusterConfig { keys }
    }

    /// The cluster's `bootstrap_servers`.
    pub fn of(cluster: &KafkaCluster) -> ClusterConfig {
        ClusterConfig::new(&cluster.bootstrap())
    }

    /// Sets any key of the cluster.
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> ClusterConfig {
        self.keys.set(key, value.into());
        self
    }

    fn pass_through(mut self, role: &str, property: &str, value: Value) -> ClusterConfig {
        let mut map = match self.keys.get(role) {
            Some(Value::Mapping(m)) => m.clone(),
            _ => Mapping::new(),
        };
        map.insert(property.into(), value);
        self.keys.set(role, Value::Mapping(map));
        self
    }

    /// A librdkafka property for every client of the cluster (`client:`).
    pub fn client(self, property: &str, value: impl Into<Value>) -> ClusterConfig {
        self.pass_through("client", property, value.into())
    }

    /// A librdkafka property for the record path's consumer (`consumer:`).
    pub fn consumer(self, property: &str, value: impl Into<Value>) -> ClusterConfig {
        self.pass_through("consumer", property, value.into())
    }

    /// A librdkafka property for producers writing to the cluster (`producer:`).
    pub fn producer(self, property: &str, value: impl Into<Value>) -> ClusterConfig {
        self.pass_through("producer", property, value.into())
    }

    /// A librdkafka property for admin clients (`admin:`).
    pub fn admin(self, property: &str, value: impl Into<Value>) -> ClusterConfig {
        self.pass_through("admin", property, value.into())
    }
}

/// One entry of `mirrors`.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorConfig {
    keys: Keys,
}

impl MirrorConfig {
    /// `source -> target` with no other key (strait's defaults apply).
    pub fn new(source: &str, target: &str) -> MirrorConfig {
        let mut keys = Keys::default();
        keys.set("source", source.into());
        keys.set("target", target.into());
        MirrorConfig { keys }
    }

    /// The harness's usual A→B mirror: the topics that fully match one of `topics`, no extra
    /// excludes, the default policy, replication factor 1 (single-broker clusters) and a 2 s
    /// topic refresh. Tests restrict `topics` to their own unique names, so that several strait
    /// processes can share the clusters.
    pub fn a_to_b(topics: &[&str]) -> MirrorConfig {
        MirrorConfig::new("A", "B")
            .topics(topics)
            .topics_exclude(&[])
            .policy(Policy::Default)
            .replication_factor(1)
            .refresh_topics_interval("2s")
    }

    /// Sets any key of the mirror (replacing its value if it is set already).
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> MirrorConfig {
        self.keys.set(key, value.into());
        self
    }

    /// Removes a key, so that strait's default applies (or, in a validator test, so that
    /// another key can take its place).
    pub fn remove(mut self, key: &str) -> MirrorConfig {
        self.keys.remove(key);
        self
    }

    pub fn topics(self, patterns: &[&str]) -> MirrorConfig {
        self.set("topics", strings(patterns))
    }

    pub fn topics_exclude(self, patterns: &[&str]) -> MirrorConfig {
        self.set("topics_exclude", strings(patterns))
    }

    pub fn groups(self, patterns: &[&str]) -> MirrorConfig {
        self.set("groups", strings(patterns))
    }

    pub fn groups_exclude(self, patterns: &[&str]) -> MirrorConfig {
        self.set("groups_exclude", strings(patterns))
    }

    pub fn policy(self, policy: Policy) -> MirrorConfig {
        self.set("replication_policy", policy.to_value())
    }

    pub fn replication_factor(self, factor: i64) -> MirrorConfig {
        self.set("replication_factor", factor)
    }

    /// `throttle: { bytes_per_second, records_per_second }`, e.g. `("1MiB", 20)`.
    pub fn throttle(self, bytes_per_second: &str, records_per_second: i64) -> MirrorConfig {
        let throttle = Value::Mapping(
            [
                ("bytes_per_second".into(), bytes_per_second.into()),
                ("records_per_second".into(), records_per_second.into()),
            ]
            .into_iter()
            .collect(),
        );
        self.set("throttle", throttle)
    }

    pub fn refresh_topics_interval(self, interval: &str) -> MirrorConfig {
        self.set("refresh_topics_interval", interval)
    }

    pub fn emit_checkpoints_interval(self, interval: &str) -> MirrorConfig {
        self.set("emit_checkpoints_interval", interval)
    }

    pub fn sync_group_offsets_interval(self, interval: &str) -> MirrorConfig {
        self.set("sync_group_offsets_interval", interval)
    }

    pub fn emit_heartbeats_interval(self, interval: &str) -> MirrorConfig {
        self.set("emit_heartbeats_interval", interval)
    }

    pub fn sync_topic_configs_interval(self, interval: &str) -> MirrorConfig {
        self.set("sync_topic_configs_interval", interval)
    }

    pub fn sync_topic_acls_interval(self, interval: &str) -> MirrorConfig {
        self.set("sync_topic_acls_interval", interval)
    }

    pub fn emit_checkpoints(self, enabled: bool) -> MirrorConfig {
        self.set("emit_checkpoints", enabled)
    }

    pub fn emit_heartbeats(self, enabled: bool) -> MirrorConfig {
        self.set("emit_heartbeats", enabled)
    }

    pub fn sync_group_offsets(self, enabled: bool) -> MirrorConfig {
        self.set("sync_group_offsets", enabled)
    }
}

/// The `http` section.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    keys: Keys,
}

impl HttpConfig {
    /// `listen: <addr>` (`127.0.0.1:0`: a free port, read back with `StraitProcess::http_addr`).
    pub fn listen(addr: &str) -> HttpConfig {
        let mut keys = Keys::default();
        keys.set("listen", addr.into());
        HttpConfig { keys }
    }

    /// `enabled: false`: no endpoint.
    pub fn disabled() -> HttpConfig {
        let mut keys = Keys::default();
        keys.set("enabled", false.into());
        HttpConfig { keys }
    }

    pub fn bearer_token(self, token: &str) -> HttpConfig {
        self.set("bearer_token", token)
    }

    /// `tls: { cert_file, key_file[, client_ca_file] }`.
    pub fn tls(
        self,
        cert_file: &Path,
        key_file: &Path,
        client_ca_file: Option<&Path>,
    ) -> HttpConfig {
        let path = |p: &Path| Value::from(p.to_string_lossy().into_owned());
        let mut tls = Mapping::new();
        tls.insert("cert_file".into(), path(cert_file));
        tls.insert("key_file".into(), path(key_file));
        if let Some(ca) = client_ca_file {
            tls.insert("client_ca_file".into(), path(ca));
        }
        self.set("tls", Value::Mapping(tls))
    }

    /// Sets any key of the section.
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> HttpConfig {
        self.keys.set(key, value.into());
        self
    }
}

/// A whole strait configuration file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StraitConfig {
    clusters: Vec<(String, ClusterConfig)>,
    mirrors: Vec<MirrorConfig>,
    http: Option<HttpConfig>,
    /// Top-level keys other than `clusters`, `mirrors` and `http`, e.g. `shutdown_timeout`.
    top: Keys,
}

impl StraitConfig {
    /// No cluster, no mirror, no key.
    pub fn new() -> StraitConfig {
        StraitConfig::default()
    }

    /// Clusters `A` = `a` and `B` = `b`, nothing else.
    pub fn pair(a: &KafkaCluster, b: &KafkaCluster) -> StraitConfig {
        StraitConfig::new()
            .cluster("A", ClusterConfig::of(a))
            .cluster("B", ClusterConfig::of(b))
    }

    /// Clusters `A` and `B`, `mirror` and a 30 s shutdown timeout.
    pub fn one_way(a: &KafkaCluster, b: &KafkaCluster, mirror: MirrorConfig) -> StraitConfig {
        StraitConfig::pair(a, b)
            .mirror(mirror)
            .shutdown_timeout("30s")
    }

    /// The usual test configuration: [`StraitConfig::one_way`] with
    /// [`MirrorConfig::a_to_b`]`(topics)`.
    pub fn a_to_b(a: &KafkaCluster, b: &KafkaCluster, topics: &[&str]) -> StraitConfig {
        StraitConfig::one_way(a, b, MirrorConfig::a_to_b(topics))
    }

    /// Adds a cluster, or replaces the one with the same alias where it stands.
    pub fn cluster(mut self, alias: &str, cluster: ClusterConfig) -> StraitConfig {
        match self.clusters.iter_mut().find(|(a, _)| a == alias) {
            Some((_, c)) => *c = cluster,
            None => self.clusters.push((alias.to_string(), cluster)),
        }
        self
    }

    /// Appends a mirror.
    pub fn mirror(mut self, mirror: MirrorConfig) -> StraitConfig {
        self.mirrors.push(mirror);
        self
    }

    pub fn shutdown_timeout(self, timeout: &str) -> StraitConfig {
        self.set("shutdown_timeout", timeout)
    }

    pub fn http(mut self, http: HttpConfig) -> StraitConfig {
        self.http = Some(http);
        self
    }

    pub fn has_http(&self) -> bool {
        self.http.is_some()
    }

    /// Sets any other top-level key.
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> StraitConfig {
        self.top.set(key, value.into());
        self
    }

    /// The configuration as a YAML value (`clusters`, `mirrors`, the other keys, `http`).
    pub fn to_value(&self) -> Value {
        let mut root = Mapping::new();
        if !self.clusters.is_empty() {
            let clusters: Mapping = self
                .clusters
                .iter()
                .map(|(alias, c)| {
                    (
                        Value::from(alias.as_str()),
                        Value::Mapping(c.keys.to_mapping()),
                    )
                })
                .collect();
            root.insert("clusters".into(), Value::Mapping(clusters));
        }
        if !self.mirrors.is_empty() {
            let mirrors = self
                .mirrors
                .iter()
                .map(|m| Value::Mapping(m.keys.to_mapping()))
                .collect();
            root.insert("mirrors".into(), Value::Sequence(mirrors));
        }
        for (k, v) in &self.top.0 {
            root.insert(k.as_str().into(), v.clone());
        }
        if let Some(http) = &self.http {
            root.insert("http".into(), Value::Mapping(http.keys.to_mapping()));
        }
        Value::Mapping(root)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(&self.to_value()).expect("serialize the strait config")
    }

    /// Writes the YAML to `path`.
    pub fn write_to(&self, path: &Path) {
        std::fs::write(path, self.to_yaml())
            .unwrap_or_else(|e| panic!("write strait config {}: {e}", path.display()));
    }
}
