//! Raw YAML structs in, typed [`Config`] out. Every check runs even after an earlier one failed,
//! so that one run reports every problem with its key path.

use std::collections::BTreeMap;
use std::time::Duration;

use super::choice::{Choice, PolicyKind, SaslMechanism};
use super::defaults;
use super::error::Problem;
use super::forced::{self, Section};
use super::interpolate::Resolver;
use super::librdkafka;
use super::raw::{
    RawCanary, RawCluster, RawConfig, RawDeployment, RawHttp, RawMirror, RawOidc, RawPolicy,
    RawSasl, RawSecurity, RawTakeOver, RawThrottle, Scalar,
};
use super::suggest;
use super::units::{parse_duration, parse_size};
use super::{
    CanaryConfig, ClusterConfig, Config, DeploymentConfig, HttpConfig, HttpTls, MirrorConfig, Sasl,
    SaslCredentials, Secret, Security, SecurityProtocol, TakeOverConfig, Throttle,
};
use crate::policy::{
    PatternList, ReplicationPolicy, TopicFilter, DEFAULT_CONFIG_EXCLUDES, DEFAULT_GROUP_EXCLUDES,
};

const REGEX_HINT: &str =
    "patterns are Rust regexes matched against the whole name (no look-around or back-references)";

/// `offline`: `resolver` stands placeholders in for the references (`super::check_offline`), so
/// a pass-through value written as a reference has only its name checked by librdkafka.
pub(super) fn validate_with(
    raw: RawConfig,
    resolver: &Resolver<'_>,
    offline: bool,
) -> Result<Config, Vec<Problem>> {
    let mut v = Validator {
        resolver,
        problems: Vec::new(),
        offline,
    };
    let config = v.config(raw);
    if v.problems.is_empty() {
        Ok(config)
    } else {
        Err(v.problems)
    }
}

struct Validator<'a> {
    resolver: &'a Resolver<'a>,
    problems: Vec<Problem>,
    /// References resolve to placeholders: values written as references are not checked.
    offline: bool,
}

impl Validator<'_> {
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// A string value with `${env:..}` / `${file:..}` resolved.
    fn string(&mut self, path: &str, raw: &str) -> Option<String> {
        match self.resolver.interpolate(raw) {
            Ok(value) => Some(value),
            Err(messages) => {
                for message in messages {
                    self.problem(path, message);
                }
                None
            }
        }
    }

    /// A required, non-empty (after trimming) string.
    fn required(&mut self, path: &str, raw: Option<String>, what: &str) -> Option<String> {
        let Some(raw) = raw else {
            self.problem(path, format!("missing: {what}"));
            return None;
        };
        self.non_empty(path, &raw, what)
    }

    /// An optional string that must not be empty when given.
    fn optional(&mut self, path: &str, raw: Option<String>, what: &str) -> Option<String> {
        self.non_empty(path, &raw?, what)
    }

    fn non_empty(&mut self, path: &str, raw: &str, what: &str) -> Option<String> {
        let value = self.string(path, raw)?;
        if value.trim().is_empty() {
            self.problem(path, format!("is empty: {what}"));
            return None;
        }
        Some(value)
    }

    /// A path key's file exists and can be read (checked at load: a client would fail later
    /// with librdkafka's words and without the key path).
    fn readable(&mut self, path: &str, file: &str) {
        if let Err(message) = self.resolver.file(file) {
            self.problem(path, message);
        }
    }

    /// An enum-valued key: `default` when absent, otherwise one of `T`'s spellings.
    fn choice<T: Choice>(&mut self, path: &str, raw: Option<&str>, default: T) -> Option<T> {
        let Some(raw) = raw else {
            return Some(default);
        };
        let text = self.string(path, raw)?;
        self.choice_text(path, &text)
    }

    /// `text` (already interpolated) as one of `T`'s spellings.
    fn choice_text<T: Choice>(&mut self, path: &str, text: &str) -> Option<T> {
        let value = T::parse(text);
        if value.is_none() {
            self.problem(path, T::unknown(text));
        }
        value
    }

    /// A scalar as text: pass-through properties, counts and units.
    fn scalar_text(&mut self, path: &str, scalar: &Scalar) -> Option<String> {
        match scalar {
            Scalar::Str(s) => self.string(path, s),
            Scalar::Int(n) => Some(n.to_string()),
            Scalar::Float(x) => Some(x.to_string()),
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Null => {
                self.problem(path, "has no value; expected a string, number or boolean");
                None
            }
        }
    }

    fn duration(
        &mut self,
        path: &str,
        scalar: Option<&Scalar>,
        default: Duration,
    ) -> Option<Duration> {
        let Some(scalar) = scalar else {
            return Some(default);
        };
        let parsed = match scalar {
            Scalar::Int(n) if *n < 0 => Err(format!(
                "invalid duration `{n}`: a duration cannot be negative; write for example `5s` or `500ms`"
            )),
            Scalar::Int(n) => Err(format!(
                "`{n}` has no unit; write for example `{n}s` or `{n}ms`"
            )),
            Scalar::Str(_) => {
                let text = self.scalar_text(path, scalar)?;
                parse_duration(&text)
            }
            _ => Err("expected a duration such as `500ms`, `5s`, `10m` or `1h`".to_owned()),
        };
        match parsed {
            Ok(d) if d.is_zero() => {
                self.problem(path, "must be greater than 0");
                None
            }
            Ok(d) => Some(d),
            Err(message) => {
                self.problem(path, message);
                None
            }
        }
    }

    /// A positive byte size (`50MiB`, or a plain number of bytes).
    fn size(&mut self, path: &str, scalar: &Scalar) -> Option<u64> {
        let parsed = match scalar {
            Scalar::Int(n) => u64::try_from(*n).map_err(|_| {
                if *n < 0 {
                    format!("invalid size `{n}`: a size cannot be negative")
                } else {
                    format!("size `{n}` is too large")
                }
            }),
            Scalar::Str(_) => parse_size(&self.scalar_text(path, scalar)?),
            _ => Err("expected a size such as `50MiB`, `10MB` or `1048576` (bytes)".to_owned()),
        };
        self.positive(path, parsed)
    }

    /// A whole number (YAML integer, or a string holding one after interpolation).
    fn integer(&mut self, path: &str, scalar: &Scalar) -> Option<i128> {
        let parsed = match scalar {
            Scalar::Int(n) => Ok(*n),
            Scalar::Str(_) => {
                let text = self.scalar_text(path, scalar)?;
                text.trim()
                    .parse::<i128>()
                    .map_err(|_| format!("expected a whole number, got `{}`", text.trim()))
            }
            Scalar::Float(x) => Err(format!("expected a whole number, got `{x}`")),
            Scalar::Bool(b) => Err(format!("expected a whole number, got `{b}`")),
            Scalar::Null => Err("has no value; expected a whole number".to_owned()),
        };
        match parsed {
            Ok(n) => Some(n),
            Err(message) => {
                self.problem(path, message);
                None
            }
        }
    }

    fn positive(&mut self, path: &str, parsed: Result<u64, String>) -> Option<u64> {
        match parsed {
            Ok(0) => {
                self.problem(
                    path,
                    "must be greater than 0; leave the key out for no limit",
                );
                None
            }
            Ok(n) => Some(n),
            Err(message) => {
                self.problem(path, message);
                None
            }
        }
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        if raw.clusters.is_empty() {
            self.problem(
                "clusters",
                "no clusters defined; define the source and target of every mirror, \
                 for example `clusters: { A: { bootstrap_servers: \"kafka-a:9092\" } }`",
            );
        }
        // Every alias written under `clusters`, even one whose settings have problems, so that
        // mirrors naming it get no second, misleading "unknown alias" error.
        let defined: Vec<String> = {
            let mut aliases: Vec<String> = raw.clusters.iter().map(|(a, _)| a.clone()).collect();
            aliases.sort();
            aliases
        };
        let mut clusters = BTreeMap::new();
        for (alias, raw_cluster) in raw.clusters {
            let path = format!("clusters.{alias}");
            if !valid_alias(&alias) {
                self.problem(
                    &path,
                    format!(
                        "invalid cluster alias \"{alias}\": use only letters, digits, `_` and `-` \
                         (the alias becomes the prefix of remote topic names)"
                    ),
                );
            }
            let cluster = self.cluster(&alias, &path, raw_cluster);
            clusters.insert(alias, cluster);
        }

        let mut mirrors = Vec::new();
        match raw.mirrors {
            Some(raw_mirrors) if !raw_mirrors.is_empty() => {
                let mut pairs: Vec<(String, String, usize)> = Vec::new();
                for (index, raw_mirror) in raw_mirrors.into_iter().enumerate() {
                    if let Some(mirror) = self.mirror(index, raw_mirror, &defined, &mut pairs) {
                        mirrors.push(mirror);
                    }
                }
            }
            _ => self.problem(
                "mirrors",
                "no mirrors defined; add at least one, for example `mirrors: [{ source: A, target: B }]`",
            ),
        }

        let shutdown_timeout = self
            .duration(
                "shutdown_timeout",
                raw.shutdown_timeout.as_ref(),
                defaults::SHUTDOWN_TIMEOUT,
            )
            .unwrap_or(defaults::SHUTDOWN_TIMEOUT);

        let http = self.http(raw.http.unwrap_or_default());

        let key = "secret_files_check_interval";
        let secret_files_check_interval = match raw.secret_files_check_interval.as_ref() {
            Some(Scalar::Str(s)) if s.trim() == "off" => None,
            scalar => self.duration(key, scalar, defaults::SECRET_FILES_CHECK_INTERVAL),
        };

        let deployment = raw.deployment.and_then(|d| self.deployment(d));

        Config {
            clusters,
            mirrors,
            shutdown_timeout,
            http,
            secret_files_check_interval,
            deployment,
            files: Vec::new(),
        }
    }

    fn deployment(&mut self, raw: RawDeployment) -> Option<DeploymentConfig> {
        let name = self.required(
            "deployment.name",
            raw.name,
            "a name shared by the instances, such as `dr-east`",
        );
        let name = name.filter(|n| {
            let ok = n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                self.problem(
                    "deployment.name",
                    format!("`{n}` may hold only letters, digits, `.`, `_` and `-` (it names a consumer group)"),
                );
            }
            ok
        });
        let instance = match raw.instance {
            Some(i) => self.non_empty("deployment.instance", &i, "a name for this instance"),
            None => Some(default_instance()),
        };
        let shards = match raw.shards.as_ref() {
            None => Some(defaults::DEPLOYMENT_SHARDS),
            Some(s) => self
                .integer("deployment.shards", s)
                .and_then(|n| match u32::try_from(n) {
                    Ok(n) if (1..=MAX_SHARDS).contains(&n) => Some(n),
                    _ => {
                        self.problem(
                            "deployment.shards",
                            format!("must be between 1 and {MAX_SHARDS}, got {n}"),
                        );
                        None
                    }
                }),
        };
        let session_timeout = self
            .duration(
                "deployment.session_timeout",
                raw.session_timeout.as_ref(),
                defaults::DEPLOYMENT_SESSION_TIMEOUT,
            )
            .filter(|t| {
                let ok = (MIN_SESSION_TIMEOUT..=MAX_SESSION_TIMEOUT).contains(t);
                if !ok {
                    self.problem(
                        "deployment.session_timeout",
                        "must be between 6s and 30m (the brokers' default group.min.session.timeout.ms and group.max.session.timeout.ms)",
                    );
                }
                ok
            });
        Some(DeploymentConfig {
            name: name?,
            instance: instance?,
            shards: shards?,
            session_timeout: session_timeout?,
        })
    }

    fn http(&mut self, raw: RawHttp) -> Option<HttpConfig> {
        let listen_text = match raw.listen {
            Some(l) => self.non_empty("http.listen", &l, "an address such as `0.0.0.0:9464`"),
            None => Some(defaults::HTTP_LISTEN.to_string()),
        };
        let listen = listen_text.and_then(|l| match l.parse::<std::net::SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.problem("http.listen", listen_problem(&l));
                None
            }
        });
        let tls = raw.tls.and_then(|t| {
            let what = "a path to a PEM file";
            let cert = self.required("http.tls.cert_file", t.cert_file, what);
            let key = self.required("http.tls.key_file", t.key_file, what);
            let ca = self.optional("http.tls.client_ca_file", t.client_ca_file, what);
            for (path, file) in [
                ("http.tls.cert_file", &cert),
                ("http.tls.key_file", &key),
                ("http.tls.client_ca_file", &ca),
            ] {
                if let Some(file) = file {
                    self.readable(path, file);
                }
            }
            Some(HttpTls {
                cert_file: cert?,
                key_file: key?,
                client_ca_file: ca,
            })
        });
        let bearer_token = raw
            .bearer_token
            .and_then(|t| self.non_empty("http.bearer_token", &t, "a token"))
            .map(Secret::new);
        let ready_max_lag_records = match raw.ready_max_lag_records.as_ref() {
            None => defaults::HTTP_READY_MAX_LAG_RECORDS,
            Some(s) => self
                .integer("http.ready_max_lag_records", s)
                .and_then(|n| match u64::try_from(n) {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.problem(
                            "http.ready_max_lag_records",
                            format!("must be 0 or more, got {n}"),
                        );
                        None
                    }
                })
                .unwrap_or(defaults::HTTP_READY_MAX_LAG_RECORDS),
        };
        let header_read_timeout = self
            .duration(
                "http.header_read_timeout",
                raw.header_read_timeout.as_ref(),
                defaults::HTTP_HEADER_READ_TIMEOUT,
            )
            .unwrap_or(defaults::HTTP_HEADER_READ_TIMEOUT);
        let max_connections = match raw.max_connections.as_ref() {
            None => defaults::HTTP_MAX_CONNECTIONS,
            Some(s) => self
                .integer("http.max_connections", s)
                .and_then(|n| match usize::try_from(n) {
                    Ok(n) if (1..=defaults::HTTP_MAX_CONNECTIONS_LIMIT).contains(&n) => Some(n),
                    _ => {
                        self.problem(
                            "http.max_connections",
                            format!(
                                "must be between 1 and {}, got {n}",
                                defaults::HTTP_MAX_CONNECTIONS_LIMIT
                            ),
                        );
                        None
                    }
                })
                .unwrap_or(defaults::HTTP_MAX_CONNECTIONS),
        };
        if !raw.enabled.unwrap_or(defaults::HTTP_ENABLED) {
            return None;
        }
        Some(HttpConfig {
            listen: listen?,
            tls,
            bearer_token,
            ready_max_lag_records,
            header_read_timeout,
            max_connections,
        })
    }

    fn cluster(&mut self, alias: &str, path: &str, raw: RawCluster) -> ClusterConfig {
        let bootstrap_path = format!("{path}.bootstrap_servers");
        let what = "the brokers to connect to, for example \"kafka-1:9092,kafka-2:9092\"";
        let bootstrap_servers = self
            .required(&bootstrap_path, raw.bootstrap_servers, what)
            .and_then(|s| {
                // librdkafka wants `host:port,host:port`; be lenient about spaces.
                let list = s
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(",");
                if list.is_empty() {
                    self.problem(&bootstrap_path, format!("is empty: {what}"));
                    return None;
                }
                Some(list)
            })
            .unwrap_or_default();
        let security = self.security(&format!("{path}.security"), raw.security);
        ClusterConfig {
            alias: alias.to_owned(),
            bootstrap_servers,
            security,
            client: self.properties(path, Section::Client, raw.client),
            consumer: self.properties(path, Section::Consumer, raw.consumer),
            producer: self.properties(path, Section::Producer, raw.producer),
            admin: self.properties(path, Section::Admin, raw.admin),
        }
    }

    fn security(&mut self, path: &str, raw: Option<RawSecurity>) -> Security {
        let raw = raw.unwrap_or_default();
        let protocol_path = format!("{path}.protocol");
        let protocol = self.choice(
            &protocol_path,
            raw.protocol.as_deref(),
            defaults::SECURITY_PROTOCOL,
        );

        let ca_path = format!("{path}.ca_file");
        let cert_path = format!("{path}.cert_file");
        let key_path = format!("{path}.key_file");
        let key_password_path = format!("{path}.key_password");
        let sasl_path = format!("{path}.sasl");
        let file_what = "a path to a PEM file";
        let ca_file = self.optional(&ca_path, raw.ca_file, file_what);
        let cert_file = self.optional(&cert_path, raw.cert_file, file_what);
        let key_file = self.optional(&key_path, raw.key_file, file_what);
        let key_password_given = raw.key_password.is_some();
        let key_password = raw
            .key_password
            .and_then(|p| self.string(&key_password_path, &p))
            .map(Secret::new);

        if let Some(protocol) = protocol {
            let tls = matches!(protocol, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl);
            if tls {
                for (key, file) in [
                    (&ca_path, &ca_file),
                    (&cert_path, &cert_file),
                    (&key_path, &key_file),
                ] {
                    if let Some(file) = file {
                        self.readable(key, file);
                    }
                }
            }
            if !tls {
                let given = [
                    (&ca_path, ca_file.is_some()),
                    (&cert_path, cert_file.is_some()),
                    (&key_path, key_file.is_some()),
                    (&key_password_path, key_password_given),
                ];
                for (key, is_set) in given {
                    if is_set {
                        self.problem(
                            key.as_str(),
                            format!(
                                "is set, but protocol {} does not use TLS; set `protocol: ssl` or `protocol: sasl_ssl`",
                                protocol.as_librdkafka()
                            ),
                        );
                    }
                }
            }
            let sasl_protocol = matches!(
                protocol,
                SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
            );
            if sasl_protocol && raw.sasl.is_none() {
                self.problem(
                    &sasl_path,
                    format!(
                        "missing: protocol {} needs `sasl: {{ mechanism, username, password }}`",
                        protocol.as_librdkafka()
                    ),
                );
            }
            if !sasl_protocol && raw.sasl.is_some() {
                self.problem(
                    &sasl_path,
                    format!(
                        "is set, but protocol {} does not use SASL; set `protocol: sasl_ssl` or `protocol: sasl_plaintext`",
                        protocol.as_librdkafka()
                    ),
                );
            }
        }
        match (cert_file.is_some(), key_file.is_some()) {
            (true, false) => self.problem(
                &key_path,
                "missing: cert_file is set; a client certificate needs both cert_file and key_file",
            ),
            (false, true) => self.problem(
                &cert_path,
                "missing: key_file is set; a client certificate needs both cert_file and key_file",
            ),
            _ => {}
        }
        if key_password_given && key_file.is_none() {
            self.problem(&key_password_path, "is set, but key_file is not");
        }
        let sasl = raw.sasl.and_then(|s| self.sasl(&sasl_path, s));

        Security {
            protocol: protocol.unwrap_or(defaults::SECURITY_PROTOCOL),
            ca_file,
            cert_file,
            key_file,
            key_password,
            sasl,
        }
    }

    fn sasl(&mut self, path: &str, raw: RawSasl) -> Option<Sasl> {
        let mechanism_path = format!("{path}.mechanism");
        let supported = SaslMechanism::names().join(", ");
        let mechanism = self
            .required(
                &mechanism_path,
                raw.mechanism,
                &format!("the SASL mechanism, one of {supported}"),
            )
            .and_then(|m| {
                if m.trim().eq_ignore_ascii_case("GSSAPI") {
                    self.problem(
                        &mechanism_path,
                        format!(
                            "SASL mechanism \"{m}\" is not supported: strait authenticates with \
                             a user name and password or with OAUTHBEARER tokens ({supported})"
                        ),
                    );
                    return None;
                }
                self.choice_text::<SaslMechanism>(&mechanism_path, &m)
            });
        let credentials = if mechanism == Some(SaslMechanism::OAuthBearer) {
            for (key, given) in [
                ("username", raw.username.is_some()),
                ("password", raw.password.is_some()),
            ] {
                if given {
                    self.problem(
                        format!("{path}.{key}"),
                        "is set, but OAUTHBEARER authenticates with tokens: set `oidc` (an \
                         OpenID Connect provider) or `unsecured_jwt` instead",
                    );
                }
            }
            match (raw.oidc, raw.unsecured_jwt) {
                (Some(oidc), None) => self.oidc(&format!("{path}.oidc"), oidc),
                (None, Some(jwt)) => {
                    let principal = self.required(
                        &format!("{path}.unsecured_jwt.principal"),
                        jwt.principal,
                        "the principal the unsigned token names (its `sub`)",
                    )?;
                    Some(SaslCredentials::UnsecuredJwt {
                        librdkafka_config: format!("principal={principal}"),
                        principal,
                    })
                }
                (None, None) => {
                    self.problem(
                        path,
                        "missing: OAUTHBEARER needs `oidc: { token_endpoint_url, client_id, \
                         client_secret }` (or, for a broker with Kafka's unsecured validator, \
                         `unsecured_jwt: { principal }`)",
                    );
                    None
                }
                (Some(_), Some(_)) => {
                    self.problem(
                        format!("{path}.unsecured_jwt"),
                        "is set together with `oidc`; set one of them",
                    );
                    None
                }
            }
        } else {
            for (key, given) in [
                ("oidc", raw.oidc.is_some()),
                ("unsecured_jwt", raw.unsecured_jwt.is_some()),
            ] {
                if given {
                    self.problem(
                        format!("{path}.{key}"),
                        format!(
                            "is set, but mechanism {} authenticates with `username` and \
                             `password`; `{key}` goes with mechanism OAUTHBEARER",
                            mechanism.map_or("(unknown)", SaslMechanism::as_str)
                        ),
                    );
                }
            }
            let username = self.required(
                &format!("{path}.username"),
                raw.username,
                "the SASL user name",
            );
            // Never quote the password itself.
            let password = self.required(
                &format!("{path}.password"),
                raw.password,
                "the SASL password",
            );
            Some(SaslCredentials::Password {
                username: username?,
                password: Secret::new(password?),
            })
        };
        Some(Sasl {
            mechanism: mechanism?.as_str().to_owned(),
            credentials: credentials?,
        })
    }

    fn oidc(&mut self, path: &str, raw: RawOidc) -> Option<SaslCredentials> {
        // librdkafka fetches the tokens itself, with libcurl (strait builds it with libcurl);
        // a librdkafka built without it would refuse the method only when a client is
        // created, so ask it here.
        if librdkafka::check("sasl.oauthbearer.method", "oidc").is_err() {
            self.problem(
                path,
                "this build of strait cannot fetch OpenID Connect tokens (its librdkafka was \
                 built without libcurl); use `unsecured_jwt` only against a development broker, \
                 or SCRAM or mutual TLS (docs/security.md)",
            );
        }
        let url_path = format!("{path}.token_endpoint_url");
        let url = self.required(
            &url_path,
            raw.token_endpoint_url,
            "the OIDC provider's token endpoint (https://...)",
        );
        if let Some(u) = &url {
            if !u.starts_with("https://") && !u.starts_with("http://") {
                self.problem(&url_path, "is not an http(s) URL");
            }
        }
        let client_id = self.required(
            &format!("{path}.client_id"),
            raw.client_id,
            "the OIDC client id",
        );
        let client_secret = self.required(
            &format!("{path}.client_secret"),
            raw.client_secret,
            "the OIDC client secret",
        );
        let scope = self.optional(&format!("{path}.scope"), raw.scope, "the OIDC scope");
        Some(SaslCredentials::Oidc {
            token_endpoint_url: url?,
            client_id: client_id?,
            client_secret: Secret::new(client_secret?),
            scope,
        })
    }

    fn properties(
        &mut self,
        cluster_path: &str,
        section: Section,
        raw: Vec<(String, Scalar)>,
    ) -> BTreeMap<String, Secret> {
        let mut out = BTreeMap::new();
        for (key, value) in raw {
            let path = format!("{cluster_path}.{}[\"{key}\"]", section.key());
            if key.trim().is_empty() {
                self.problem(&path, "empty property name");
                continue;
            }
            if let Some(row) = forced::refusal(section, &key) {
                self.problem(&path, format!("not allowed: {}", row.reason));
                continue;
            }
            let reference = matches!(&value, Scalar::Str(s) if s.contains("${"));
            let Some(value) = self.scalar_text(&path, &value) else {
                continue;
            };
            if self.offline && reference {
                if !librdkafka::knows(&key) {
                    self.problem(&path, format!("librdkafka has no property `{key}`"));
                }
                continue;
            }
            // Checked by librdkafka itself, so that a name or value it refuses is reported here
            // with its key path (never quoting the value) instead of when a client is built.
            if let Err(message) = librdkafka::check(&key, &value) {
                self.problem(&path, message);
                continue;
            }
            out.insert(key, Secret::new(value));
        }
        out
    }

    fn alias_ref(&mut self, path: &str, raw: Option<String>, defined: &[String]) -> Option<String> {
        let alias = self.required(path, raw, "the alias of a cluster defined under `clusters`")?;
        if defined.contains(&alias) {
            return Some(alias);
        }
        let known = if defined.is_empty() {
            "no clusters are defined".to_owned()
        } else {
            format!("defined: {}", defined.join(", "))
        };
        let hint = suggest::did_you_mean(&alias, defined.iter().map(String::as_str));
        self.problem(
            path,
            format!("unknown cluster alias \"{alias}\"{hint}; {known}"),
        );
        None
    }

    fn mirror(
        &mut self,
        index: usize,
        raw: RawMirror,
        defined: &[String],
        pairs: &mut Vec<(String, String, usize)>,
    ) -> Option<MirrorConfig> {
        let path = format!("mirrors[{index}]");
        let source = self.alias_ref(&format!("{path}.source"), raw.source, defined);
        let target = self.alias_ref(&format!("{path}.target"), raw.target, defined);
        if let (Some(s), Some(t)) = (&source, &target) {
            if s == t {
                self.problem(
                    format!("{path}.target"),
                    format!("\"{t}\" is also the source; a mirror copies between two different clusters"),
                );
            } else if let Some((_, _, first)) = pairs.iter().find(|(ps, pt, _)| ps == s && pt == t)
            {
                let first = *first;
                self.problem(
                    &path,
                    format!(
                        "duplicate mirror {s}->{t}: mirrors[{first}] already replicates {s} to {t}; \
                         merge the two entries (their topic and group lists can be combined)"
                    ),
                );
            } else {
                pairs.push((s.clone(), t.clone(), index));
            }
        }

        let replication_policy = self.policy(
            &format!("{path}.replication_policy"),
            raw.replication_policy.unwrap_or_default(),
            source.as_deref(),
            target.as_deref(),
        );
        let topic_rules = self.choice(
            &format!("{path}.topic_rules"),
            raw.topic_rules.as_deref(),
            defaults::TOPIC_RULES,
        );
        let topics = self.filter(
            &path,
            ("topics", raw.topics, defaults::TOPICS),
            (
                "topics_exclude",
                raw.topics_exclude,
                defaults::TOPICS_EXCLUDE,
            ),
            topic_rules
                .unwrap_or(defaults::TOPIC_RULES)
                .default_topic_excludes(),
        );
        let groups = self.filter(
            &path,
            ("groups", raw.groups, defaults::GROUPS),
            (
                "groups_exclude",
                raw.groups_exclude,
                defaults::GROUPS_EXCLUDE,
            ),
            &DEFAULT_GROUP_EXCLUDES,
        );

        let replication_factor = match raw.replication_factor.as_ref() {
            None => Some(defaults::REPLICATION_FACTOR),
            Some(scalar) => self
                .replication_factor(&format!("{path}.replication_factor"), scalar)
                .map(Some),
        };

        let refresh_topics_interval = self.duration(
            &format!("{path}.refresh_topics_interval"),
            raw.refresh_topics_interval.as_ref(),
            defaults::REFRESH_TOPICS_INTERVAL,
        );
        let watch_topics_interval = self.duration(
            &format!("{path}.watch_topics_interval"),
            raw.watch_topics_interval.as_ref(),
            defaults::WATCH_TOPICS_INTERVAL,
        );
        let throttle = self.throttle(
            &format!("{path}.throttle"),
            raw.throttle.unwrap_or_default(),
        );
        let offset_syncs_location = self.choice(
            &format!("{path}.offset_syncs_location"),
            raw.offset_syncs_location.as_deref(),
            defaults::OFFSET_SYNCS_LOCATION,
        );
        let provenance_header = self.choice(
            &format!("{path}.provenance_header"),
            raw.provenance_header.as_deref(),
            defaults::PROVENANCE_HEADER,
        );
        let sync_topic_configs = self.choice(
            &format!("{path}.sync_topic_configs"),
            raw.sync_topic_configs.as_deref(),
            defaults::SYNC_TOPIC_CONFIGS,
        );
        let sync_topic_configs_interval = self.duration(
            &format!("{path}.sync_topic_configs_interval"),
            raw.sync_topic_configs_interval.as_ref(),
            defaults::SYNC_TOPIC_CONFIGS_INTERVAL,
        );
        let topic_configs = self.filter(
            &path,
            // No include key: every config name not excluded is synced.
            ("topic_configs", None, &[".*"]),
            (
                "topic_configs_exclude",
                raw.topic_configs_exclude,
                defaults::TOPIC_CONFIGS_EXCLUDE,
            ),
            &DEFAULT_CONFIG_EXCLUDES,
        );
        let sync_topic_acls = self.choice(
            &format!("{path}.sync_topic_acls"),
            raw.sync_topic_acls.as_deref(),
            defaults::SYNC_TOPIC_ACLS,
        );
        let sync_topic_acls_interval = self.duration(
            &format!("{path}.sync_topic_acls_interval"),
            raw.sync_topic_acls_interval.as_ref(),
            defaults::SYNC_TOPIC_ACLS_INTERVAL,
        );
        let on_data_gap = self.choice(
            &format!("{path}.on_data_gap"),
            raw.on_data_gap.as_deref(),
            defaults::ON_DATA_GAP,
        );
        let emit_checkpoints_interval = self.duration(
            &format!("{path}.emit_checkpoints_interval"),
            raw.emit_checkpoints_interval.as_ref(),
            defaults::EMIT_CHECKPOINTS_INTERVAL,
        );
        let sync_group_offsets_interval = self.duration(
            &format!("{path}.sync_group_offsets_interval"),
            raw.sync_group_offsets_interval.as_ref(),
            defaults::SYNC_GROUP_OFFSETS_INTERVAL,
        );
        let offset_map_memory = match raw.offset_map_memory.as_ref() {
            None => Some(defaults::OFFSET_MAP_MEMORY),
            Some(s) => self.size(&format!("{path}.offset_map_memory"), s),
        };
        let emit_heartbeats_interval = self.duration(
            &format!("{path}.emit_heartbeats_interval"),
            raw.emit_heartbeats_interval.as_ref(),
            defaults::EMIT_HEARTBEATS_INTERVAL,
        );
        let delivery = self.choice(
            &format!("{path}.delivery"),
            raw.delivery.as_deref(),
            defaults::DELIVERY,
        );
        let (transaction_interval, transaction_timeout) = self.transactions(
            &path,
            raw.transaction_interval.as_ref(),
            raw.transaction_timeout.as_ref(),
        );
        let canary = self.canary(&format!("{path}.canary"), raw.canary.unwrap_or_default());
        let take_over_mm2 = source.as_deref().and_then(|s| {
            self.take_over(
                &format!("{path}.take_over_mm2"),
                s,
                raw.take_over_mm2.unwrap_or_default(),
            )
        });

        Some(MirrorConfig {
            source: source?,
            target: target?,
            topics: topics?,
            topic_rules: topic_rules?,
            groups: groups?,
            replication_policy: replication_policy?,
            replication_factor: replication_factor?,
            refresh_topics_interval: refresh_topics_interval?,
            watch_topics_interval: watch_topics_interval?,
            throttle: throttle?,
            emit_heartbeats: raw.emit_heartbeats.unwrap_or(defaults::EMIT_HEARTBEATS),
            emit_heartbeats_interval: emit_heartbeats_interval?,
            emit_checkpoints: raw.emit_checkpoints.unwrap_or(defaults::EMIT_CHECKPOINTS),
            emit_checkpoints_interval: emit_checkpoints_interval?,
            sync_group_offsets: raw
                .sync_group_offsets
                .unwrap_or(defaults::SYNC_GROUP_OFFSETS),
            sync_group_offsets_interval: sync_group_offsets_interval?,
            emit_offset_syncs: raw.emit_offset_syncs.unwrap_or(defaults::EMIT_OFFSET_SYNCS),
            offset_syncs_location: offset_syncs_location?,
            provenance_header: provenance_header?,
            stamp_provenance: false,
            sync_topic_configs: sync_topic_configs?,
            sync_topic_configs_interval: sync_topic_configs_interval?,
            topic_configs: topic_configs?,
            sync_topic_acls: sync_topic_acls?,
            sync_topic_acls_interval: sync_topic_acls_interval?,
            on_data_gap: on_data_gap?,
            offset_map_memory: offset_map_memory?,
            delivery: delivery?,
            transaction_interval: transaction_interval?,
            transaction_timeout: transaction_timeout?,
            canary: canary?,
            take_over_mm2: take_over_mm2?,
        })
    }

    /// `take_over_mm2` of a mirror from `source`: `Some(None)` when it is off (the default).
    fn take_over(
        &mut self,
        path: &str,
        source: &str,
        raw: RawTakeOver,
    ) -> Option<Option<TakeOverConfig>> {
        let text = |v: &mut Self, key: &str, value: Option<String>, default: String| {
            let value = match value {
                None => return Some(default),
                Some(t) => v.string(&format!("{path}.{key}"), &t)?,
            };
            if value.is_empty() {
                v.problem(format!("{path}.{key}"), "is empty");
                return None;
            }
            Some(value)
        };
        let offsets_topic = text(
            self,
            "offsets_topic",
            raw.offsets_topic,
            defaults::take_over_offsets_topic(source),
        );
        let connector = text(
            self,
            "connector",
            raw.connector,
            defaults::TAKE_OVER_CONNECTOR.to_owned(),
        );
        let cluster = text(self, "cluster", raw.cluster, source.to_owned());
        let (offsets_topic, connector, cluster) = (offsets_topic?, connector?, cluster?);
        Some(raw.enabled.unwrap_or(false).then_some(TakeOverConfig {
            offsets_topic,
            connector,
            cluster,
        }))
    }

    /// `canary` of a mirror: `Some(None)` when it is off (the default).
    fn canary(&mut self, path: &str, raw: RawCanary) -> Option<Option<CanaryConfig>> {
        let topic = match raw.topic {
            None => Some(defaults::CANARY_TOPIC.to_owned()),
            Some(t) => {
                let t = self.string(&format!("{path}.topic"), &t)?;
                if t.is_empty()
                    || t.len() > 249
                    || !t
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                {
                    self.problem(format!("{path}.topic"), format!("`{t}` is not a Kafka topic name (1 to 249 of a-z, A-Z, 0-9, `.`, `_`, `-`)"));
                    None
                } else {
                    Some(t)
                }
            }
        };
        let interval = self.duration(
            &format!("{path}.interval"),
            raw.interval.as_ref(),
            defaults::CANARY_INTERVAL,
        );
        let late_after = self.duration(
            &format!("{path}.late_after"),
            raw.late_after.as_ref(),
            defaults::CANARY_LATE_AFTER,
        );
        let (topic, interval, late_after) = (topic?, interval?, late_after?);
        Some(raw.enabled.unwrap_or(false).then_some(CanaryConfig {
            topic,
            interval,
            late_after,
        }))
    }

    /// `transaction_interval` and `transaction_timeout` of the mirror at `path`: a transaction
    /// is committed well within its timeout (the commit waits for the target too).
    fn transactions(
        &mut self,
        path: &str,
        interval: Option<&Scalar>,
        timeout: Option<&Scalar>,
    ) -> (Option<Duration>, Option<Duration>) {
        let interval_path = format!("{path}.transaction_interval");
        let timeout_path = format!("{path}.transaction_timeout");
        let interval = self
            .duration(&interval_path, interval, defaults::TRANSACTION_INTERVAL)
            .filter(|i| {
                let ok = (MIN_TRANSACTION_INTERVAL..=MAX_TRANSACTION_INTERVAL).contains(i);
                if !ok {
                    self.problem(&interval_path, "must be between 10ms and 60s");
                }
                ok
            });
        let timeout = self
            .duration(&timeout_path, timeout, defaults::TRANSACTION_TIMEOUT)
            .filter(|t| {
                let ok = (MIN_TRANSACTION_TIMEOUT..=MAX_TRANSACTION_TIMEOUT).contains(t);
                if !ok {
                    self.problem(
                        &timeout_path,
                        "must be between 5s and 15m (the brokers' default transaction.max.timeout.ms)",
                    );
                }
                ok
            });
        if let (Some(i), Some(t)) = (interval, timeout) {
            if i * 4 > t {
                self.problem(
                    &timeout_path,
                    format!(
                        "must be at least four times transaction_interval ({} ms): a transaction's commit waits for the target too",
                        i.as_millis()
                    ),
                );
                return (Some(i), None);
            }
        }
        (interval, timeout)
    }

    fn replication_factor(&mut self, path: &str, scalar: &Scalar) -> Option<i16> {
        let n = self.integer(path, scalar)?;
        match i16::try_from(n) {
            Ok(rf) if rf >= 1 => Some(rf),
            _ => {
                self.problem(
                    path,
                    format!(
                        "must be between 1 and 32767, got {n}; leave the key out for \
                         min(3, number of target brokers)"
                    ),
                );
                None
            }
        }
    }

    fn policy(
        &mut self,
        path: &str,
        raw: RawPolicy,
        source: Option<&str>,
        target: Option<&str>,
    ) -> Option<ReplicationPolicy> {
        let separator_path = format!("{path}.separator");
        let separator = match raw.separator {
            None => Some(defaults::REPLICATION_POLICY_SEPARATOR.to_owned()),
            Some(text) => self.string(&separator_path, &text).and_then(|sep| {
                if sep.is_empty() {
                    self.problem(
                        &separator_path,
                        "is empty; remote topics are named <source><separator><topic> (default \".\")",
                    );
                    return None;
                }
                if !sep.chars().all(is_topic_char) {
                    self.problem(
                        &separator_path,
                        format!(
                            "separator \"{sep}\" has characters not allowed in topic names; \
                             use letters, digits, `.`, `_` or `-`"
                        ),
                    );
                    return None;
                }
                for alias in [source, target].into_iter().flatten() {
                    if valid_alias(alias) && alias.contains(sep.as_str()) {
                        self.problem(
                            &separator_path,
                            format!(
                                "separator \"{sep}\" occurs in cluster alias \"{alias}\", so remote topic \
                                 names could not be traced back to their cluster; choose another separator \
                                 or rename the cluster"
                            ),
                        );
                        return None;
                    }
                }
                Some(sep)
            }),
        };
        let kind = self.choice(
            &format!("{path}.kind"),
            raw.kind.as_deref(),
            defaults::REPLICATION_POLICY_KIND,
        )?;
        match kind {
            PolicyKind::Default => Some(ReplicationPolicy::Default {
                separator: separator?,
            }),
            PolicyKind::Identity => Some(ReplicationPolicy::Identity {
                source_alias: source?.to_owned(),
                separator: separator?,
            }),
        }
    }

    /// Include patterns and the built-in excludes plus the user's, each list given as (key,
    /// value as written, default).
    fn filter(
        &mut self,
        path: &str,
        (include_key, include, include_default): (&str, Option<Vec<String>>, &[&str]),
        (exclude_key, exclude, exclude_default): (&str, Option<Vec<String>>, &[&str]),
        builtin_excludes: &[&str],
    ) -> Option<TopicFilter> {
        let mut ok = true;
        let mut resolve = |v: &mut Self, key: &str, patterns: Vec<String>| -> Vec<String> {
            patterns
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    v.string(&format!("{path}.{key}[{i}]"), p)
                        .unwrap_or_else(|| {
                            ok = false;
                            // A placeholder that compiles, to keep the indices of the others.
                            String::new()
                        })
                })
                .collect()
        };
        let owned =
            |patterns: &[&str]| -> Vec<String> { patterns.iter().map(|p| p.to_string()).collect() };
        let include = resolve(
            self,
            include_key,
            include.unwrap_or_else(|| owned(include_default)),
        );
        let user_excludes = resolve(
            self,
            exclude_key,
            exclude.unwrap_or_else(|| owned(exclude_default)),
        );
        let mut all_excludes: Vec<String> =
            builtin_excludes.iter().map(|p| p.to_string()).collect();
        all_excludes.extend(user_excludes);
        match TopicFilter::new(&include, &all_excludes) {
            Ok(filter) => ok.then_some(filter),
            Err(errors) => {
                for e in errors {
                    let key_path = match e.list {
                        PatternList::Include => format!("{path}.{include_key}[{}]", e.index),
                        PatternList::Exclude => {
                            format!("{path}.{exclude_key}[{}]", e.index - builtin_excludes.len())
                        }
                    };
                    self.problem(key_path, format!("{e}; {REGEX_HINT}"));
                }
                None
            }
        }
    }

    fn throttle(&mut self, path: &str, raw: RawThrottle) -> Option<Throttle> {
        let mut ok = true;
        let bytes_per_second = match raw.bytes_per_second.as_ref() {
            None => defaults::THROTTLE_BYTES_PER_SECOND,
            Some(s) => {
                let size = self.size(&format!("{path}.bytes_per_second"), s);
                ok &= size.is_some();
                size
            }
        };
        let records_per_second = match raw.records_per_second.as_ref() {
            None => defaults::THROTTLE_RECORDS_PER_SECOND,
            Some(s) => {
                let records_path = format!("{path}.records_per_second");
                let n = self.integer(&records_path, s);
                let parsed = n.map(|n| {
                    u64::try_from(n).map_err(|_| format!("must be greater than 0, got {n}"))
                });
                let records = parsed.and_then(|p| self.positive(&records_path, p));
                ok &= records.is_some();
                records
            }
        };
        ok.then_some(Throttle {
            bytes_per_second,
            records_per_second,
        })
    }
}

/// Why `text` is not an `ip:port` address.
/// The most shards a mirror may have (partitions of its coordination topic).
const MAX_SHARDS: u32 = 1000;
/// Kafka's default `group.min.session.timeout.ms` and `group.max.session.timeout.ms`.
const MIN_SESSION_TIMEOUT: Duration = Duration::from_secs(6);
const MAX_SESSION_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Bounds of `transaction_interval`.
const MIN_TRANSACTION_INTERVAL: Duration = Duration::from_millis(10);
const MAX_TRANSACTION_INTERVAL: Duration = Duration::from_secs(60);
/// Bounds of `transaction_timeout`: Kafka's default `transaction.max.timeout.ms` is 15 minutes.
const MIN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// This instance's default name: the host name (a pod's name in Kubernetes) and the process id.
fn default_instance() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "strait".to_string());
    format!("{host}-{}", std::process::id())
}

fn listen_problem(text: &str) -> String {
    const EXPECTED: &str = "expected `ip:port` such as `0.0.0.0:9464` or `127.0.0.1:9464`";
    let Some((host, port)) = text.rsplit_once(':') else {
        return format!("invalid address `{text}`: no port; {EXPECTED}");
    };
    if port.parse::<u16>().is_err() {
        return format!(
            "invalid address `{text}`: port `{port}` is not a number from 0 to 65535; {EXPECTED}"
        );
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.parse::<std::net::IpAddr>().is_err() {
        return format!(
            "invalid address `{text}`: `{host}` is not an IP address (host names are not resolved \
             here); {EXPECTED}"
        );
    }
    format!("invalid address `{text}`; {EXPECTED} (IPv6 in brackets: `[::1]:9464`)")
}

/// Aliases become topic-name prefixes and metric labels: keep them to `[A-Za-z0-9_-]+`.
fn valid_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Characters Kafka allows in topic names.
fn is_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}
