//! Secured test clusters: one single-node KRaft cluster whose broker has a listener per way of
//! authenticating, with the KRaft `StandardAuthorizer` and `allow.everyone.if.no.acl.found=false`,
//! and certificates generated per run (`harness/certs.sh`):
//!
//! | listener | protocol | authentication |
//! |---|---|---|
//! | `SASL_SSL` | SASL_SSL | SCRAM-SHA-512 or PLAIN |
//! | `SSL` | SSL | mutual TLS (client certificate required; `CN=mirror` is `User:mirror`) |
//! | `SASL_PLAINTEXT` | SASL_PLAINTEXT | SCRAM-SHA-256 or OAUTHBEARER (the broker's unsecured-JWT validator) |
//! | `WRONGHOST` | SSL | a certificate for `wrong.example`: clients that verify host names refuse it |
//! | `PLAINTEXT` | PLAINTEXT | none: `User:ANONYMOUS`, a super user, for the tests' own clients |
//!
//! SCRAM (both hashes) and PLAIN know three users, `mirror`, `least` and `lacking`, each with a
//! password made for the run. `User:ANONYMOUS` must be a super user anyway (the CONTROLLER listener is
//! PLAINTEXT); the tests' helpers (`produce`, `TopicReader`, ...) use the PLAINTEXT listener, so
//! only strait meets the authorizer. Re-authentication is on: `connections.max.reauth.ms` is
//! [`REAUTH_MS`], so every SASL connection re-authenticates every few seconds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::{Mapping, Value};

use super::config::ClusterConfig;
use super::kafka::KafkaCluster;
use super::process::Launch;
use super::util::{random_u64, repo_root};

/// How often a SASL connection must authenticate again.
pub const REAUTH_MS: u64 = 10_000;

/// The users SCRAM and PLAIN know (their passwords are [`Secured::password`]).
pub const USERS: [&str; 3] = ["mirror", "least", "lacking"];

/// One way to reach a secured cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// SASL_SSL with SCRAM-SHA-512.
    ScramSha512,
    /// SASL_SSL with PLAIN.
    Plain,
    /// SSL with a client certificate.
    MutualTls,
    /// SASL_PLAINTEXT with SCRAM-SHA-256.
    ScramSha256,
    /// SASL_PLAINTEXT with OAUTHBEARER (an unsecured JWT, sub = the user).
    OAuthBearer,
    /// SSL to a broker certificate made for another host.
    WrongHost,
}

impl Listener {
    pub const ALL: [Listener; 5] = [
        Listener::ScramSha512,
        Listener::Plain,
        Listener::MutualTls,
        Listener::ScramSha256,
        Listener::OAuthBearer,
    ];

    /// The broker listener it uses.
    pub fn listener_name(self) -> &'static str {
        match self {
            Listener::ScramSha512 | Listener::Plain => "SASL_SSL",
            Listener::MutualTls => "SSL",
            Listener::ScramSha256 | Listener::OAuthBearer => "SASL_PLAINTEXT",
            Listener::WrongHost => "WRONGHOST",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Listener::ScramSha512 => "SASL_SSL/SCRAM-SHA-512",
            Listener::Plain => "SASL_SSL/PLAIN",
            Listener::MutualTls => "SSL/mutual TLS",
            Listener::ScramSha256 => "SASL_PLAINTEXT/SCRAM-SHA-256",
            Listener::OAuthBearer => "SASL_PLAINTEXT/OAUTHBEARER",
            Listener::WrongHost => "SSL/wrong host",
        }
    }
}

/// The broker listeners besides PLAINTEXT and CONTROLLER, in port order.
pub(super) const LISTENERS: [(&str, &str); 4] = [
    ("SASL_SSL", "SASL_SSL"),
    ("SSL", "SSL"),
    ("SASL_PLAINTEXT", "SASL_PLAINTEXT"),
    ("WRONGHOST", "SSL"),
];

/// What a secured cluster has beyond a plaintext one: its ports per listener, certificates and
/// the run's passwords.
#[derive(Debug, Clone)]
pub struct Secured {
    /// Port per entry of [`LISTENERS`].
    pub(super) ports: [u16; 4],
    pub(super) certs: PathBuf,
    password: String,
}

/// harness/certs.sh's throwaway certificates in `dir`; panics if it fails.
pub fn make_certificates(dir: &Path) {
    let out = Launch::new("certs.sh", "bash")
        .arg(repo_root().join("harness/certs.sh"))
        .arg(dir)
        .run(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "harness/certs.sh failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Secured {
    /// Certificates in `dir/certs` and fresh passwords; `ports` from the caller.
    pub(super) fn generate(dir: &Path, ports: [u16; 4]) -> Secured {
        let certs = dir.join("certs");
        make_certificates(&certs);
        Secured {
            ports,
            certs,
            password: format!("pw{:016x}", random_u64()),
        }
    }

    /// The password of `user` (one of [`USERS`]) for SCRAM and PLAIN.
    pub fn password(&self, user: &str) -> String {
        assert!(USERS.contains(&user), "no user {user}");
        format!("{user}-{}", self.password)
    }

    pub fn certs(&self) -> &Path {
        &self.certs
    }

    pub fn port(&self, listener: Listener) -> u16 {
        let name = listener.listener_name();
        let i = LISTENERS.iter().position(|(n, _)| *n == name).unwrap();
        self.ports[i]
    }

    /// `StorageTool format` arguments that create the SCRAM users.
    pub(super) fn format_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for user in USERS {
            for mechanism in ["SCRAM-SHA-512", "SCRAM-SHA-256"] {
                args.push("--add-scram".to_string());
                args.push(format!(
                    "{mechanism}=[name={user},password={}]",
                    self.password(user)
                ));
            }
        }
        args
    }

    /// The broker settings of the secured listeners (appended to the plaintext ones).
    pub(super) fn properties(&self) -> Vec<(&'static str, String)> {
        let certs = self.certs.display();
        let plain_users: String = USERS
            .iter()
            .map(|u| format!(" user_{u}=\"{}\"", self.password(u)))
            .collect();
        vec![
            ("sasl.enabled.mechanisms", "SCRAM-SHA-512,PLAIN,SCRAM-SHA-256,OAUTHBEARER".into()),
            ("listener.name.sasl_ssl.sasl.enabled.mechanisms", "SCRAM-SHA-512,PLAIN".into()),
            (
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;".into(),
            ),
            (
                "listener.name.sasl_ssl.plain.sasl.jaas.config",
                format!("org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};"),
            ),
            (
                "listener.name.sasl_plaintext.sasl.enabled.mechanisms",
                "SCRAM-SHA-256,OAUTHBEARER".into(),
            ),
            (
                "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;".into(),
            ),
            (
                "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config",
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
                 unsecuredLoginStringClaim_sub=\"broker\";"
                    .into(),
            ),
            ("ssl.keystore.type", "PEM".into()),
            ("ssl.keystore.location", format!("{certs}/broker.pem")),
            ("ssl.truststore.type", "PEM".into()),
            ("ssl.truststore.location", format!("{certs}/ca.crt")),
            ("listener.name.ssl.ssl.client.auth", "required".into()),
            ("listener.name.wronghost.ssl.keystore.type", "PEM".into()),
            (
                "listener.name.wronghost.ssl.keystore.location",
                format!("{certs}/wronghost.pem"),
            ),
            ("ssl.principal.mapping.rules", "RULE:^CN=([^,]+).*$/$1/,DEFAULT".into()),
            ("connections.max.reauth.ms", REAUTH_MS.to_string()),
            ("allow.everyone.if.no.acl.found", "false".into()),
        ]
    }
}

impl KafkaCluster {
    /// The secured listeners (panics on a plaintext cluster).
    pub fn secured(&self) -> &Secured {
        self.secure
            .as_ref()
            .unwrap_or_else(|| panic!("cluster {} is not secured", self.name()))
    }

    /// `127.0.0.1:<port>` of `listener`.
    pub fn secured_bootstrap(&self, listener: Listener) -> String {
        format!("127.0.0.1:{}", self.secured().port(listener))
    }
}

impl ClusterConfig {
    /// strait's `clusters` entry for `cluster` through `listener`, authenticating as `user`
    /// (mutual TLS: the certificate of `CN=mirror`).
    pub fn secured(cluster: &KafkaCluster, listener: Listener, user: &str) -> ClusterConfig {
        let s = cluster.secured();
        let certs = s.certs().display().to_string();
        let mut security = Mapping::new();
        let put = |m: &mut Mapping, k: &str, v: Value| {
            m.insert(Value::from(k), v);
        };
        let sasl = |mechanism: &str| {
            let mut m = Mapping::new();
            m.insert("mechanism".into(), mechanism.into());
            m.insert("username".into(), user.into());
            m.insert("password".into(), s.password(user).into());
            Value::Mapping(m)
        };
        match listener {
            Listener::ScramSha512 | Listener::Plain => {
                put(&mut security, "protocol", "sasl_ssl".into());
                put(&mut security, "ca_file", format!("{certs}/ca.crt").into());
                let mechanism = if listener == Listener::Plain {
                    "PLAIN"
                } else {
                    "SCRAM-SHA-512"
                };
                put(&mut security, "sasl", sasl(mechanism));
            }
            Listener::MutualTls | Listener::WrongHost => {
                assert_eq!(user, "mirror", "the client certificate is CN=mirror");
                put(&mut security, "protocol", "ssl".into());
                put(&mut security, "ca_file", format!("{certs}/ca.crt").into());
                put(
                    &mut security,
                    "cert_file",
                    format!("{certs}/mirror.crt").into(),
                );
                put(
                    &mut security,
                    "key_file",
                    format!("{certs}/mirror.key").into(),
                );
            }
            Listener::ScramSha256 => {
                put(&mut security, "protocol", "sasl_plaintext".into());
                put(&mut security, "sasl", sasl("SCRAM-SHA-256"));
            }
            Listener::OAuthBearer => {
                put(&mut security, "protocol", "sasl_plaintext".into());
                let mut jwt = Mapping::new();
                jwt.insert("principal".into(), user.into());
                let mut m = Mapping::new();
                m.insert("mechanism".into(), "OAUTHBEARER".into());
                m.insert("unsecured_jwt".into(), Value::Mapping(jwt));
                put(&mut security, "sasl", Value::Mapping(m));
            }
        }
        ClusterConfig::new(&cluster.secured_bootstrap(listener))
            .set("security", Value::Mapping(security))
    }
}

pub use ::strait::kafka::native_admin::{
    AclBinding, AclOperation, AclPermission, AclResource, PatternType,
};

/// An ALLOW binding for `principal` from any host.
pub fn allow(
    principal: &str,
    operation: AclOperation,
    resource: AclResource,
    name: &str,
    pattern: PatternType,
) -> AclBinding {
    AclBinding {
        resource,
        name: name.to_string(),
        pattern,
        principal: principal.to_string(),
        host: "*".to_string(),
        operation,
        permission: AclPermission::Allow,
    }
}

fn super_admin(
    cluster: &KafkaCluster,
) -> rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap())
        .create()
        .expect("admin client")
}

/// Creates the bindings (as `User:ANONYMOUS`, a super user, on the PLAINTEXT listener); panics
/// on any failure. New ACLs reach the authorizer through the metadata log within moments.
pub fn grant(cluster: &KafkaCluster, acls: &[AclBinding]) {
    let results = ::strait::kafka::native_admin::create_acls(&super_admin(cluster), acls)
        .unwrap_or_else(|e| panic!("CreateAcls on {}: {e}", cluster.name()));
    for (acl, r) in acls.iter().zip(results) {
        r.unwrap_or_else(|e| panic!("CreateAcls {acl:?} on {}: {e}", cluster.name()));
    }
}

/// Deletes exactly the bindings; panics unless each one existed.
pub fn revoke(cluster: &KafkaCluster, acls: &[AclBinding]) {
    let results = ::strait::kafka::native_admin::delete_acls(&super_admin(cluster), acls)
        .unwrap_or_else(|e| panic!("DeleteAcls on {}: {e}", cluster.name()));
    for (acl, r) in acls.iter().zip(results) {
        let n = r.unwrap_or_else(|e| panic!("DeleteAcls {acl:?} on {}: {e}", cluster.name()));
        assert_eq!(
            n,
            1,
            "DeleteAcls {acl:?} on {}: {n} matched",
            cluster.name()
        );
    }
}
