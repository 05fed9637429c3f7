//! The YAML as written: serde structs with `deny_unknown_fields`, almost no types beyond strings
//! and scalars, so that validation (not serde) can report every problem at once with its path.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawConfig {
    #[serde(default, deserialize_with = "cluster_map")]
    pub clusters: Vec<(String, RawCluster)>,
    #[serde(default)]
    pub mirrors: Option<Vec<RawMirror>>,
    #[serde(default)]
    pub shutdown_timeout: Option<Scalar>,
    #[serde(default)]
    pub http: Option<RawHttp>,
    #[serde(default)]
    pub secret_files_check_interval: Option<Scalar>,
    #[serde(default)]
    pub deployment: Option<RawDeployment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawDeployment {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub instance: Option<String>,
    #[serde(default)]
    pub shards: Option<Scalar>,
    #[serde(default)]
    pub session_timeout: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawHttp {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default)]
    pub tls: Option<RawHttpTls>,
    #[serde(default)]
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub ready_max_lag_records: Option<Scalar>,
    #[serde(default)]
    pub header_read_timeout: Option<Scalar>,
    #[serde(default)]
    pub max_connections: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawHttpTls {
    #[serde(default)]
    pub cert_file: Option<String>,
    #[serde(default)]
    pub key_file: Option<String>,
    #[serde(default)]
    pub client_ca_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawCluster {
    #[serde(default)]
    pub bootstrap_servers: Option<String>,
    #[serde(default)]
    pub security: Option<RawSecurity>,
    #[serde(default, deserialize_with = "property_map")]
    pub client: Vec<(String, Scalar)>,
    #[serde(default, deserialize_with = "property_map")]
    pub consumer: Vec<(String, Scalar)>,
    #[serde(default, deserialize_with = "property_map")]
    pub producer: Vec<(String, Scalar)>,
    #[serde(default, deserialize_with = "property_map")]
    pub admin: Vec<(String, Scalar)>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawSecurity {
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub ca_file: Option<String>,
    #[serde(default)]
    pub cert_file: Option<String>,
    #[serde(default)]
    pub key_file: Option<String>,
    #[serde(default)]
    pub key_password: Option<String>,
    #[serde(default)]
    pub sasl: Option<RawSasl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawSasl {
    #[serde(default)]
    pub mechanism: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub oidc: Option<RawOidc>,
    #[serde(default)]
    pub unsecured_jwt: Option<RawUnsecuredJwt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawOidc {
    #[serde(default)]
    pub token_endpoint_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawUnsecuredJwt {
    #[serde(default)]
    pub principal: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawMirror {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    #[serde(default)]
    pub topics_exclude: Option<Vec<String>>,
    #[serde(default)]
    pub topic_rules: Option<String>,
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    #[serde(default)]
    pub groups_exclude: Option<Vec<String>>,
    #[serde(default)]
    pub replication_policy: Option<RawPolicy>,
    #[serde(default)]
    pub replication_factor: Option<Scalar>,
    #[serde(default)]
    pub refresh_topics_interval: Option<Scalar>,
    #[serde(default)]
    pub watch_topics_interval: Option<Scalar>,
    #[serde(default)]
    pub throttle: Option<RawThrottle>,
    #[serde(default)]
    pub emit_heartbeats: Option<bool>,
    #[serde(default)]
    pub emit_heartbeats_interval: Option<Scalar>,
    #[serde(default)]
    pub emit_checkpoints: Option<bool>,
    #[serde(default)]
    pub emit_checkpoints_interval: Option<Scalar>,
    #[serde(default)]
    pub sync_group_offsets: Option<bool>,
    #[serde(default)]
    pub sync_group_offsets_interval: Option<Scalar>,
    #[serde(default)]
    pub emit_offset_syncs: Option<bool>,
    #[serde(default)]
    pub offset_syncs_location: Option<String>,
    #[serde(default)]
    pub provenance_header: Option<String>,
    #[serde(default)]
    pub sync_topic_configs: Option<String>,
    #[serde(default)]
    pub sync_topic_configs_interval: Option<Scalar>,
    #[serde(default)]
    pub topic_configs_exclude: Option<Vec<String>>,
    #[serde(default)]
    pub sync_topic_acls: Option<String>,
    #[serde(default)]
    pub sync_topic_acls_interval: Option<Scalar>,
    #[serde(default)]
    pub on_data_gap: Option<String>,
    pub offset_map_memory: Option<Scalar>,
    #[serde(default)]
    pub delivery: Option<String>,
    #[serde(default)]
    pub transaction_interval: Option<Scalar>,
    #[serde(default)]
    pub transaction_timeout: Option<Scalar>,
    #[serde(default)]
    pub canary: Option<RawCanary>,
    #[serde(default)]
    pub take_over_mm2: Option<RawTakeOver>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawTakeOver {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub offsets_topic: Option<String>,
    #[serde(default)]
    pub connector: Option<String>,
    #[serde(default)]
    pub cluster: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawCanary {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub interval: Option<Scalar>,
    #[serde(default)]
    pub late_after: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawPolicy {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub separator: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawThrottle {
    #[serde(default)]
    pub bytes_per_second: Option<Scalar>,
    #[serde(default)]
    pub records_per_second: Option<Scalar>,
}

/// A YAML scalar of any type. Pass-through properties accept strings, numbers and booleans;
/// durations, sizes and counts are checked by validation so that their errors are collected.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;

        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Scalar, E> {
                i128::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}

fn cluster_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, RawCluster)>, D::Error> {
    d.deserialize_map(UniqueMap {
        what: "cluster alias",
        hint: "each cluster is defined once",
        marker: PhantomData,
    })
}

fn property_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Scalar)>, D::Error> {
    d.deserialize_map(UniqueMap {
        what: "property",
        hint: "each property is set once",
        marker: PhantomData,
    })
}

/// A mapping that keeps its order and rejects duplicate keys. serde's own maps silently keep
/// the last value, which would hide a second definition of a cluster.
struct UniqueMap<V> {
    what: &'static str,
    hint: &'static str,
    marker: PhantomData<V>,
}

impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueMap<V> {
    type Value = Vec<(String, V)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        // `consumer:` with nothing after it.
        Ok(Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(String, V)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!(
                    "duplicate {} \"{key}\" ({})",
                    self.what, self.hint
                )));
            }
            let value = map.next_value::<V>()?;
            entries.push((key, value));
        }
        Ok(entries)
    }
}
