//! The clusters of the MM2 file: connection, security (SASL from the JAAS line, TLS stores
//! converted to PEM files) and the clients' properties as librdkafka's.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::clients::{self, Translation};
use super::jaas;
use super::{env_alias, escape, is_client_key, scalar, simple_class, split_list};
use super::{Importer, Outcome, Used};
use crate::config::forced::Section;

impl Importer {
    pub(super) fn clusters_list(&mut self) -> Vec<String> {
        let Some(used) = self.used("clusters") else {
            self.notes.push(
                "the file has no `clusters` key, which MM2 requires: no cluster or mirror was \
                 written"
                    .to_owned(),
            );
            return Vec::new();
        };
        let mut aliases: Vec<String> = Vec::new();
        for a in split_list(&used.value) {
            if !aliases.contains(&a) {
                aliases.push(a);
            }
        }
        let to: Vec<String> = aliases.iter().map(|a| format!("clusters.{a}")).collect();
        let bad: Vec<&String> = aliases
            .iter()
            .filter(|a| {
                !a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
            .collect();
        if bad.is_empty() {
            self.decide(
                "clusters",
                Outcome::Mapped,
                &to,
                "one entry per alias",
                None,
            );
        } else {
            let list = bad
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ");
            self.decide(
                "clusters",
                Outcome::NotMapped,
                &to,
                format!("strait aliases use letters, digits, `_` and `-` only: {list}"),
                Some(
                    "rename the cluster (its alias prefixes remote topic names: renaming it \
                     renames them)"
                        .to_owned(),
                ),
            );
        }
        aliases
    }

    /// The alias a cluster-level key starts with (the longest one).
    pub(super) fn cluster_of<'a>(&'a self, key: &str) -> Option<(&'a str, String)> {
        self.aliases
            .iter()
            .filter(|a| key.starts_with(&format!("{a}.")))
            .max_by_key(|a| a.len())
            .map(|a| (a.as_str(), key[a.len() + 1..].to_owned()))
    }

    /// `source->target.rest` for aliases of the file.
    pub(super) fn flow_of(&self, key: &str) -> Option<(String, String, String)> {
        let (source, right) = key.split_once("->")?;
        if !self.aliases.iter().any(|a| a == source) {
            return None;
        }
        let target = self
            .aliases
            .iter()
            .filter(|a| right.starts_with(&format!("{a}.")))
            .max_by_key(|a| a.len())?;
        Some((
            source.to_owned(),
            target.clone(),
            right[target.len() + 1..].to_owned(),
        ))
    }

    /// A connection or security key of cluster `alias`: its own, else the file's default.
    fn cluster_key(&self, alias: &str, key: &str) -> Option<Used> {
        self.used(&format!("{alias}.{key}"))
            .or_else(|| self.used(key))
    }

    pub(super) fn cluster(&mut self, alias: &str) -> Mapping {
        let path = format!("clusters.{alias}");
        let mut c = Mapping::new();
        let upper = env_alias(alias);
        self.touched.clear();

        match self.cluster_key(alias, "bootstrap.servers") {
            Some(u) => {
                if let Some(v) = self.plain(&u) {
                    c.insert("bootstrap_servers".into(), v.into());
                    self.mapped(&u.key, format!("{path}.bootstrap_servers"), "");
                }
            }
            None => self.notes.push(format!(
                "cluster `{alias}` has no `{alias}.bootstrap.servers` (nor a `bootstrap.servers` \
                 for every cluster): write `{path}.bootstrap_servers`"
            )),
        }

        let mut sections: BTreeMap<&'static str, Mapping> = BTreeMap::new();
        let security = self.security(alias, &path, &upper, &mut sections);
        if !security.is_empty() {
            c.insert("security".into(), Value::Mapping(security));
        }
        self.pass_through(alias, &path, &upper, &mut sections);
        for section in ["client", "consumer", "producer", "admin"] {
            if let Some(m) = sections.remove(section) {
                if !m.is_empty() {
                    c.insert(section.into(), Value::Mapping(m));
                }
            }
        }

        // The cluster's other keys: Connect worker settings in MM2.
        for key in self.keys() {
            let Some((a, rest)) = self.cluster_of(&key) else {
                continue;
            };
            if a != alias || self.decided(&key) || is_client_key(&rest) {
                continue;
            }
            if rest == "exactly.once.source.support" || rest == "offset.storage.topic" {
                continue; // decided with the mirrors that target this cluster
            }
            if ["consumer.", "producer.", "admin."]
                .iter()
                .any(|p| rest.starts_with(p))
            {
                continue;
            }
            self.decide(
                &key,
                Outcome::NotNeeded,
                &[],
                format!(
                    "MM2 reads a cluster key other than the connection, security and client \
                     keys as a setting of the Connect worker of the flows into `{alias}` (its \
                     own group membership and internal topics); strait has no Connect worker"
                ),
                Some(format!(
                    "if you meant it for the clients, set its librdkafka equivalent under \
                     `{path}.client`"
                )),
            );
        }
        c
    }

    fn security(
        &mut self,
        alias: &str,
        path: &str,
        upper: &str,
        sections: &mut BTreeMap<&'static str, Mapping>,
    ) -> Mapping {
        let mut s = Mapping::new();
        let sp = format!("{path}.security");
        let mut protocol = "PLAINTEXT".to_owned();
        if let Some(u) = self.cluster_key(alias, "security.protocol") {
            let v = u.value.trim().to_ascii_uppercase();
            if ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&v.as_str()) {
                protocol = v;
                s.insert("protocol".into(), protocol.to_ascii_lowercase().into());
                self.mapped(&u.key, format!("{sp}.protocol"), "");
            } else {
                self.not_mapped(
                    &u.key,
                    "not a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); MM2 \
                     would not start",
                    format!("set `{sp}.protocol`"),
                );
            }
        }
        let tls = protocol == "SSL" || protocol == "SASL_SSL";
        let sasl = protocol.starts_with("SASL_");
        if sasl {
            let sasl_map = self.sasl(alias, &sp, upper);
            if !sasl_map.is_empty() {
                s.insert("sasl".into(), Value::Mapping(sasl_map));
            }
        }
        if tls {
            self.tls(alias, &sp, upper, &mut s, sections);
        }
        // Whatever is left of the connection and security keys of this cluster.
        let mut keys: Vec<(String, String)> = Vec::new();
        for key in self.keys() {
            if let Some((a, rest)) = self.cluster_of(&key) {
                if a == alias && is_client_key(&rest) {
                    keys.push((key.clone(), rest));
                }
            } else if is_client_key(&key) && !key.contains("->") {
                // A file-wide default, unless the cluster sets its own.
                if self.used(&format!("{alias}.{key}")).is_none() {
                    keys.push((key.clone(), key.clone()));
                }
            }
        }
        for (key, rest) in keys {
            if self.touched.contains(&key) {
                continue;
            }
            let used = self.used(&key).expect("key of the file");
            self.other_security_key(alias, path, &protocol, &used, &rest, sections);
        }
        s
    }

    fn sasl(&mut self, alias: &str, sp: &str, upper: &str) -> Mapping {
        let mut m = Mapping::new();
        let path = format!("{sp}.sasl");
        let mechanism_used = self.cluster_key(alias, "sasl.mechanism");
        let mechanism = mechanism_used
            .as_ref()
            .map(|u| u.value.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "GSSAPI".to_owned());
        let supported = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];
        if !supported.contains(&mechanism.as_str()) {
            let reason = format!(
                "SASL mechanism {mechanism}{}: strait authenticates with PLAIN, SCRAM or \
                 OAUTHBEARER only (no Kerberos)",
                if mechanism_used.is_none() {
                    " (Java's default when sasl.mechanism is not set)"
                } else {
                    ""
                }
            );
            let key = mechanism_used
                .as_ref()
                .map(|u| u.key.clone())
                .or_else(|| self.cluster_key(alias, "security.protocol").map(|u| u.key))
                .unwrap_or_default();
            self.not_mapped(
                &key,
                reason,
                "give strait a SCRAM, PLAIN or OAUTHBEARER principal (or mutual TLS)",
            );
            return m;
        }
        m.insert("mechanism".into(), mechanism.clone().into());
        if let Some(u) = &mechanism_used {
            self.mapped(&u.key, format!("{path}.mechanism"), "");
        }
        let jaas_used = self.cluster_key(alias, "sasl.jaas.config");
        let Some(jaas_used) = jaas_used else {
            let username_env = format!("STRAIT_{upper}_SASL_USERNAME");
            let password_env = format!("STRAIT_{upper}_SASL_PASSWORD");
            // MM2 then reads a JAAS file (-Djava.security.auth.login.config).
            if mechanism != "OAUTHBEARER" {
                let user = self.env_var(
                    &username_env,
                    format!("the SASL user name of cluster `{alias}` (from the JAAS file MM2 was started with)"),
                );
                let pass = self.env_var(
                    &password_env,
                    format!("the SASL password of cluster `{alias}` (from the JAAS file MM2 was started with)"),
                );
                m.insert("username".into(), format!("${{env:{user}}}").into());
                m.insert("password".into(), format!("${{env:{pass}}}").into());
            }
            self.notes.push(format!(
                "cluster `{alias}` uses SASL but the file has no sasl.jaas.config: MM2 read the \
                 credentials from a JAAS file; set {username_env} and {password_env} from it"
            ));
            return m;
        };
        let username_env = self.env_base(&jaas_used, upper, "SASL_USERNAME");
        let password_env = self.env_base(&jaas_used, upper, "SASL_PASSWORD");
        let jaas = if jaas_used.value.trim_start().starts_with("${") {
            Err(
                "the whole JAAS line is a config-provider reference, so its user name and \
                 password cannot be read from it"
                    .to_owned(),
            )
        } else {
            jaas::parse(&jaas_used.value).map_err(|e| format!("the JAAS line is not valid: {e}"))
        };
        let jaas = match jaas {
            Ok(j) => j,
            Err(why) => {
                if mechanism != "OAUTHBEARER" {
                    let user = self.env_var(
                        &username_env,
                        format!(
                            "the SASL user name of cluster `{alias}` (in `{}`)",
                            jaas_used.key
                        ),
                    );
                    let pass = self.env_var(
                        &password_env,
                        format!(
                            "the SASL password of cluster `{alias}` (in `{}`)",
                            jaas_used.key
                        ),
                    );
                    m.insert("username".into(), format!("${{env:{user}}}").into());
                    m.insert("password".into(), format!("${{env:{pass}}}").into());
                }
                self.partly(
                    &jaas_used.key,
                    path.clone(),
                    why,
                    format!(
                        "set {username_env} and {password_env} where strait runs (the YAML reads \
                         them), or write them in `{path}`"
                    ),
                );
                return m;
            }
        };
        match (jaas.simple_module(), mechanism.as_str()) {
            ("PlainLoginModule" | "ScramLoginModule", m2) if m2 != "OAUTHBEARER" => {
                let mut to = Vec::new();
                let mut reasons = Vec::new();
                let mut all = true;
                match jaas.option("username") {
                    Some(user) => {
                        let user_used = Used {
                            key: jaas_used.key.clone(),
                            value: user.to_owned(),
                        };
                        let value = match self.translate(&user_used.value) {
                            Ok(t) => t.text,
                            Err(why) => {
                                all = false;
                                reasons.push(format!("user name: {why}"));
                                let name = self.env_var(
                                    &username_env,
                                    format!("the SASL user name of cluster `{alias}`"),
                                );
                                format!("${{env:{name}}}")
                            }
                        };
                        m.insert("username".into(), value.into());
                        to.push(format!("{path}.username"));
                    }
                    None => {
                        all = false;
                        reasons.push("the JAAS line has no username".to_owned());
                    }
                }
                match jaas.option("password") {
                    Some(pw) => {
                        let pw_used = Used {
                            key: jaas_used.key.clone(),
                            value: pw.to_owned(),
                        };
                        let (value, reason, ok) =
                            self.secret(&pw_used, &password_env, "SASL password");
                        all &= ok;
                        reasons.push(reason);
                        m.insert("password".into(), value.into());
                        to.push(format!("{path}.password"));
                    }
                    None => {
                        all = false;
                        reasons.push("the JAAS line has no password".to_owned());
                    }
                }
                let reason = reasons.join("; ");
                if all {
                    self.decide(&jaas_used.key, Outcome::Mapped, &to, reason, None);
                } else {
                    self.decide(
                        &jaas_used.key,
                        Outcome::NotMapped,
                        &to,
                        reason,
                        Some(format!(
                            "set the environment variables the report lists, or write `{path}` by hand"
                        )),
                    );
                }
            }
            ("OAuthBearerLoginModule", "OAUTHBEARER") => {
                self.oauthbearer(alias, &path, upper, &jaas, &jaas_used, &mut m);
            }
            (module, _) => self.not_mapped(
                &jaas_used.key,
                format!(
                    "login module `{module}` with mechanism {mechanism}: strait knows PLAIN and \
                     SCRAM user names and passwords and OAUTHBEARER tokens"
                ),
                format!("write `{path}` by hand"),
            ),
        }
        m
    }

    fn oauthbearer(
        &mut self,
        alias: &str,
        path: &str,
        upper: &str,
        jaas: &jaas::Jaas,
        jaas_used: &Used,
        m: &mut Mapping,
    ) {
        if let Some(principal) = jaas.option("unsecuredLoginStringClaim_sub") {
            let mut jwt = Mapping::new();
            jwt.insert("principal".into(), escape(principal).into());
            m.insert("unsecured_jwt".into(), Value::Mapping(jwt));
            self.mapped(
                &jaas_used.key,
                format!("{path}.unsecured_jwt.principal"),
                "Kafka's unsecured token (development brokers only)",
            );
            return;
        }
        let endpoint = self.cluster_key(alias, "sasl.oauthbearer.token.endpoint.url");
        let Some(endpoint) = endpoint else {
            self.not_mapped(
                &jaas_used.key,
                "OAUTHBEARER without sasl.oauthbearer.token.endpoint.url: a custom token \
                 callback strait cannot know",
                format!("write `{path}.oidc` by hand"),
            );
            return;
        };
        let mut oidc = Mapping::new();
        if let Some(url) = self.plain(&endpoint) {
            oidc.insert("token_endpoint_url".into(), url.into());
            self.mapped(&endpoint.key, format!("{path}.oidc.token_endpoint_url"), "");
        }
        let mut to = Vec::new();
        let mut reasons = Vec::new();
        let mut all = true;
        if let Some(id) = jaas.option("clientId") {
            match self.translate(id) {
                Ok(t) => {
                    oidc.insert("client_id".into(), t.text.into());
                    to.push(format!("{path}.oidc.client_id"));
                }
                Err(why) => {
                    all = false;
                    reasons.push(format!("client id: {why}"));
                }
            }
        }
        if let Some(secret) = jaas.option("clientSecret") {
            let used = Used {
                key: jaas_used.key.clone(),
                value: secret.to_owned(),
            };
            let (value, reason, ok) = self.secret(
                &used,
                &self.env_base(jaas_used, upper, "OIDC_CLIENT_SECRET"),
                "OIDC client secret",
            );
            all &= ok;
            reasons.push(reason);
            oidc.insert("client_secret".into(), value.into());
            to.push(format!("{path}.oidc.client_secret"));
        }
        if let Some(scope) = jaas.option("scope") {
            oidc.insert("scope".into(), escape(scope).into());
            to.push(format!("{path}.oidc.scope"));
        }
        m.insert("oidc".into(), Value::Mapping(oidc));
        let outcome = if all {
            Outcome::Mapped
        } else {
            Outcome::NotMapped
        };
        let action = (!all).then(|| "set the environment variables the report lists".to_owned());
        self.decide(&jaas_used.key, outcome, &to, reasons.join("; "), action);
        if let Some(handler) = self.cluster_key(alias, "sasl.login.callback.handler.class") {
            if simple_class(&handler.value) == "OAuthBearerLoginCallbackHandler" {
                self.not_needed(
                    &handler.key,
                    "Kafka's OIDC token callback; librdkafka fetches the tokens itself \
                     (`security.sasl.oidc`)",
                );
            }
        }
    }

    fn tls(
        &mut self,
        alias: &str,
        sp: &str,
        upper: &str,
        s: &mut Mapping,
        sections: &mut BTreeMap<&'static str, Mapping>,
    ) {
        // Trust: a PEM file is used as it is; JKS and PKCS12 stores must be converted.
        let ts = self.cluster_key(alias, "ssl.truststore.location");
        let ts_type = self.cluster_key(alias, "ssl.truststore.type");
        let ts_pw = self.cluster_key(alias, "ssl.truststore.password");
        if let Some(loc) = &ts {
            let kind = store_kind(ts_type.as_ref(), &loc.value);
            if kind == "PEM" {
                if let Some(v) = self.plain(loc) {
                    s.insert("ca_file".into(), v.into());
                    self.mapped(
                        &loc.key,
                        format!("{sp}.ca_file"),
                        "a PEM truststore is a CA file",
                    );
                }
                if let Some(pw) = &ts_pw {
                    self.not_needed(&pw.key, "a PEM truststore has no password");
                }
                if let Some(t) = &ts_type {
                    self.not_needed(&t.key, "a PEM store, which strait reads as it is");
                }
            } else {
                match self.translate(&loc.value) {
                    Ok(t) if t.references == 0 => {
                        let store = loc.value.trim().to_owned();
                        let pem = derived(&store, "ca.pem");
                        let pass = self.pass_source(ts_pw.as_ref(), upper, "TRUSTSTORE_PASSWORD");
                        s.insert("ca_file".into(), escape(&pem).into());
                        let commands = truststore_commands(&store, &kind, &pem, &pass);
                        self.partly(
                            &loc.key,
                            format!("{sp}.ca_file"),
                            format!(
                                "strait reads PEM files, not {kind} stores: `{sp}.ca_file` names \
                                 the PEM file the commands write"
                            ),
                            commands,
                        );
                        if let Some(pw) = &ts_pw {
                            self.conversion_only(pw, &loc.key, "truststore");
                        }
                    }
                    _ => self.not_mapped(
                        &loc.key,
                        "the truststore location is a reference, so strait cannot name the PEM \
                         file to convert it to",
                        format!("convert the truststore to a PEM CA file and set `{sp}.ca_file`"),
                    ),
                }
            }
            if let Some(t) = &ts_type {
                if !self.touched.contains(&t.key) {
                    self.not_needed(&t.key, "the store type, used for the conversion");
                }
            }
        }
        if let Some(certs) = self.cluster_key(alias, "ssl.truststore.certificates") {
            if let Some(v) = self.plain(&certs) {
                sections
                    .entry("client")
                    .or_default()
                    .insert("ssl.ca.pem".into(), v.into());
                self.mapped(
                    &certs.key,
                    format!(
                        "{}.client[\"ssl.ca.pem\"]",
                        sp.trim_end_matches(".security")
                    ),
                    "inline PEM CA certificates, librdkafka `ssl.ca.pem`",
                );
            }
        }

        // Identity: mutual TLS.
        let ks = self.cluster_key(alias, "ssl.keystore.location");
        let ks_type = self.cluster_key(alias, "ssl.keystore.type");
        let ks_pw = self.cluster_key(alias, "ssl.keystore.password");
        let key_pw = self.cluster_key(alias, "ssl.key.password");
        if let Some(loc) = &ks {
            let kind = store_kind(ks_type.as_ref(), &loc.value);
            if kind == "PEM" {
                if let Some(v) = self.plain(loc) {
                    s.insert("cert_file".into(), v.clone().into());
                    s.insert("key_file".into(), v.into());
                    self.decide(
                        &loc.key,
                        Outcome::Mapped,
                        &[format!("{sp}.cert_file"), format!("{sp}.key_file")],
                        "a PEM keystore holds the certificate chain and the key",
                        None,
                    );
                }
                if let Some(kp) = &key_pw {
                    let (v, reason, ok) = self.secret(
                        kp,
                        &self.env_base(kp, upper, "SSL_KEY_PASSWORD"),
                        "key password",
                    );
                    s.insert("key_password".into(), v.into());
                    let outcome = if ok {
                        Outcome::Mapped
                    } else {
                        Outcome::NotMapped
                    };
                    let action =
                        (!ok).then(|| "set the environment variable the report lists".to_owned());
                    self.decide(
                        &kp.key,
                        outcome,
                        &[format!("{sp}.key_password")],
                        reason,
                        action,
                    );
                }
                if let Some(pw) = &ks_pw {
                    self.not_needed(&pw.key, "a PEM keystore has no store password");
                }
                if let Some(t) = &ks_type {
                    self.not_needed(&t.key, "a PEM store, which strait reads as it is");
                }
            } else {
                match self.translate(&loc.value) {
                    Ok(t) if t.references == 0 => {
                        let store = loc.value.trim().to_owned();
                        let cert = derived(&store, "cert.pem");
                        let key = derived(&store, "key.pem");
                        let pass = self.pass_source(ks_pw.as_ref(), upper, "KEYSTORE_PASSWORD");
                        // Kafka uses the store password for the key when ssl.key.password is not
                        // set; the converted PEM key is encrypted with the same secret.
                        let key_source = key_pw.as_ref().or(ks_pw.as_ref());
                        let (key_value, key_pass) = match key_source {
                            Some(u) => {
                                let env = self.env_base(u, upper, "SSL_KEY_PASSWORD");
                                let (v, reason, _) = self.secret(
                                    u,
                                    &env,
                                    "private key password",
                                );
                                let to = format!("{sp}.key_password");
                                if key_pw.as_ref().is_some_and(|k| k.key == u.key) {
                                    self.mapped(&u.key, to, reason);
                                } else {
                                    self.decide(&u.key, Outcome::Mapped, &[to], reason, None);
                                }
                                let source = pass_of(&v);
                                (v, source)
                            }
                            None => {
                                let name = self.env_var(
                                    &format!("STRAIT_{upper}_SSL_KEY_PASSWORD"),
                                    format!("a pass phrase of your choice for the PEM key of cluster `{alias}` (the conversion encrypts it with it)"),
                                );
                                (format!("${{env:{name}}}"), format!("env:{name}"))
                            }
                        };
                        if let (Some(_), Some(pw)) = (&key_pw, &ks_pw) {
                            self.conversion_only(pw, &loc.key, "keystore");
                        }
                        s.insert("cert_file".into(), escape(&cert).into());
                        s.insert("key_file".into(), escape(&key).into());
                        s.insert("key_password".into(), key_value.into());
                        let commands = keystore_commands(
                            &store,
                            &kind,
                            &cert,
                            &key,
                            &pass,
                            &key_pass,
                            key_pw.is_some(),
                        );
                        self.decide(
                            &loc.key,
                            Outcome::NotMapped,
                            &[format!("{sp}.cert_file"), format!("{sp}.key_file")],
                            format!(
                                "strait reads PEM files, not {kind} stores: `cert_file` and \
                                 `key_file` name the PEM files the commands write"
                            ),
                            Some(commands),
                        );
                    }
                    _ => self.not_mapped(
                        &loc.key,
                        "the keystore location is a reference, so strait cannot name the PEM \
                         files to convert it to",
                        format!("convert the keystore to PEM files and set `{sp}.cert_file` and `{sp}.key_file`"),
                    ),
                }
            }
            if let Some(t) = &ks_type {
                if !self.touched.contains(&t.key) {
                    self.not_needed(&t.key, "the store type, used for the conversion");
                }
            }
        }
        let chain = self.cluster_key(alias, "ssl.keystore.certificate.chain");
        let inline_key = self.cluster_key(alias, "ssl.keystore.key");
        let cluster_path = sp.trim_end_matches(".security").to_owned();
        if let Some(c) = &chain {
            if let Some(v) = self.plain(c) {
                sections
                    .entry("client")
                    .or_default()
                    .insert("ssl.certificate.pem".into(), v.into());
                self.mapped(
                    &c.key,
                    format!("{cluster_path}.client[\"ssl.certificate.pem\"]"),
                    "inline PEM certificate chain, librdkafka `ssl.certificate.pem`",
                );
            }
        }
        if let Some(k) = &inline_key {
            let (v, reason, ok) = self.secret(
                k,
                &self.env_base(k, upper, "SSL_KEY_PEM"),
                "PEM private key",
            );
            sections
                .entry("client")
                .or_default()
                .insert("ssl.key.pem".into(), v.into());
            let outcome = if ok {
                Outcome::Mapped
            } else {
                Outcome::NotMapped
            };
            self.decide(
                &k.key,
                outcome,
                &[format!("{cluster_path}.client[\"ssl.key.pem\"]")],
                reason,
                (!ok).then(|| "set the environment variable the report lists".to_owned()),
            );
            if let Some(kp) = &key_pw {
                if !self.touched.contains(&kp.key) {
                    self.not_mapped(
                        &kp.key,
                        "strait takes a key password only with `key_file` (an inline key must not \
                         be encrypted)",
                        format!("write the key to a file and set `{sp}.key_file` and `{sp}.key_password`"),
                    );
                }
            }
        }
    }

    /// A store password strait does not need once the store is converted.
    fn conversion_only(&mut self, pw: &Used, location_key: &str, store: &str) {
        let mut reason = format!("used only to convert the {store} (see `{location_key}`)");
        if let Err(why) = self.translate(&pw.value) {
            reason.push_str(&format!(
                "; {why}: export the variable the commands name with the password's value"
            ));
        }
        self.not_needed(&pw.key, reason);
    }

    /// How the conversion commands get a store's password: `env:VAR` or `file:PATH` (openssl's
    /// pass-phrase sources).
    fn pass_source(&mut self, pw: Option<&Used>, upper: &str, what: &str) -> String {
        let name = format!("STRAIT_{upper}_SSL_{what}");
        match pw {
            Some(u) => match self.translate(&u.value) {
                Ok(t) if t.references > 0 => pass_of(&t.text),
                _ => format!("env:{name}"),
            },
            None => format!("env:{name}"),
        }
    }

    /// A connection or security key of the cluster that [`Self::security`] did not take.
    fn other_security_key(
        &mut self,
        alias: &str,
        path: &str,
        protocol: &str,
        used: &Used,
        rest: &str,
        sections: &mut BTreeMap<&'static str, Mapping>,
    ) {
        let key = used.key.as_str();
        let tls = protocol == "SSL" || protocol == "SASL_SSL";
        let sasl = protocol.starts_with("SASL_");
        let value = used.value.trim();
        if rest.starts_with("ssl.") && !tls {
            self.not_needed(
                key,
                format!("protocol {protocol} of `{alias}` does not use TLS; MM2 ignores it too"),
            );
            return;
        }
        if rest.starts_with("sasl.") && !sasl {
            self.not_needed(
                key,
                format!("protocol {protocol} of `{alias}` does not use SASL; MM2 ignores it too"),
            );
            return;
        }
        match rest {
            "ssl.endpoint.identification.algorithm" => {
                if value.is_empty() {
                    sections
                        .entry("client")
                        .or_default()
                        .insert("ssl.endpoint.identification.algorithm".into(), "none".into());
                    self.mapped(
                        key,
                        format!("{path}.client[\"ssl.endpoint.identification.algorithm\"]"),
                        "empty (no host name check) is `none` in librdkafka",
                    );
                } else if value.eq_ignore_ascii_case("https") {
                    self.not_needed(key, "librdkafka checks the broker's host name by default");
                } else {
                    self.not_mapped(
                        key,
                        "librdkafka knows `https` and `none` only",
                        "leave it out (https)",
                    );
                }
            }
            "ssl.protocol" | "ssl.enabled.protocols" => {
                let default = match rest {
                    "ssl.protocol" => ["TLSv1.3", "TLSv1.2", "TLS"].contains(&value),
                    _ => split_list(value)
                        .iter()
                        .all(|p| p == "TLSv1.2" || p == "TLSv1.3"),
                };
                if default {
                    self.not_needed(
                        key,
                        "librdkafka negotiates TLS 1.2 or 1.3 with OpenSSL's defaults",
                    );
                } else {
                    self.not_mapped(
                        key,
                        "librdkafka has no setting for the TLS versions; OpenSSL's defaults apply",
                        "restrict the versions on the brokers, or in OpenSSL's configuration \
                         (`MinProtocol`)",
                    );
                }
            }
            "ssl.cipher.suites" => self.not_mapped(
                key,
                "Java names cipher suites by their IANA names, librdkafka's `ssl.cipher.suites` \
                 takes OpenSSL's",
                format!("translate the list to OpenSSL names and set `{path}.client[\"ssl.cipher.suites\"]`"),
            ),
            "ssl.provider"
            | "ssl.keymanager.algorithm"
            | "ssl.trustmanager.algorithm"
            | "ssl.secure.random.implementation"
            | "ssl.truststore.type"
            | "ssl.keystore.type"
            | "ssl.truststore.password"
            | "ssl.keystore.password" => self.not_needed(
                key,
                "a setting of the JVM's TLS implementation or of a store strait does not read; \
                 librdkafka uses OpenSSL and PEM files",
            ),
            "ssl.key.password" => self.not_needed(key, "no keystore is set, so there is no key"),
            "ssl.engine.factory.class" => self.not_mapped(
                key,
                "a custom Java TLS engine has no librdkafka equivalent",
                format!("configure TLS with `{path}.security`"),
            ),
            r if r.starts_with("sasl.kerberos.") => self.not_needed(
                key,
                "a Kerberos (GSSAPI) setting; strait does not use Kerberos",
            ),
            r if r.starts_with("sasl.login.") => self.not_needed(
                key,
                "a setting of the Java login (token refresh, retries); librdkafka logs in and \
                 refreshes tokens itself",
            ),
            r if r.starts_with("sasl.oauthbearer.") => self.not_needed(
                key,
                "a setting of Java's token handling (claims, JWKS, retries); librdkafka takes the \
                 token as the provider issues it",
            ),
            "sasl.mechanism" | "sasl.jaas.config" => {
                // Taken by `sasl` unless the mechanism is not supported (reported there).
                if !self.decided(key) {
                    self.not_mapped(
                        key,
                        "goes with an unsupported SASL mechanism",
                        format!("write `{path}.security.sasl` by hand"),
                    );
                }
            }
            "security.protocol" | "bootstrap.servers" => {}
            _ => self.not_mapped(
                key,
                "a Java client security setting strait has no equivalent of",
                format!("check whether librdkafka needs one (`{path}.client`)"),
            ),
        }
    }

    /// `A.consumer.*`, `A.producer.*`, `A.admin.*`: the librdkafka pass-through sections.
    fn pass_through(
        &mut self,
        alias: &str,
        path: &str,
        upper: &str,
        sections: &mut BTreeMap<&'static str, Mapping>,
    ) {
        for key in self.keys() {
            let Some((a, rest)) = self.cluster_of(&key) else {
                continue;
            };
            if a != alias {
                continue;
            }
            let (section, name, java) = if let Some(n) = rest.strip_prefix("consumer.") {
                (Section::Consumer, "consumer", n.to_owned())
            } else if let Some(n) = rest.strip_prefix("producer.") {
                (Section::Producer, "producer", n.to_owned())
            } else if let Some(n) = rest.strip_prefix("admin.") {
                (Section::Admin, "admin", n.to_owned())
            } else {
                continue;
            };
            let used = self.used(&key).expect("key of the file");
            if is_client_key(&java) {
                // MM2 lets one client role connect differently; strait has one setting per cluster.
                let cluster = self.cluster_key(alias, &java);
                if cluster.as_ref().is_some_and(|c| c.value == used.value) {
                    self.not_needed(&key, "the same as the cluster's own setting");
                } else {
                    self.not_mapped(
                        &key,
                        format!(
                            "strait connects every client of a cluster with the same connection \
                             and security settings; this differs for the {name}"
                        ),
                        format!(
                            "set it for the whole cluster (`{path}.security`), if that is right"
                        ),
                    );
                }
                continue;
            }
            let looks_secret = ["password", "secret", "jaas", "token", "credential", ".key"]
                .iter()
                .any(|w| java.contains(w));
            let (value, secret_reason) = if looks_secret {
                let env = format!(
                    "STRAIT_{upper}_{}_{}",
                    name.to_ascii_uppercase(),
                    env_alias(&java)
                );
                let (v, reason, ok) = self.secret(&used, &env, &format!("value of `{java}`"));
                if !ok {
                    self.not_mapped(
                        &key,
                        reason,
                        "set the environment variable the report lists",
                    );
                    continue;
                }
                (v, Some(reason))
            } else {
                match self.plain(&used) {
                    Some(v) => (v, None),
                    None => continue,
                }
            };
            match clients::translate(&java, &value, section) {
                Translation::Map {
                    key: lib,
                    value,
                    note,
                } => {
                    let target = sections.entry(name).or_default();
                    let lib_key = Value::from(lib.as_str());
                    if target.contains_key(&lib_key) {
                        self.not_mapped(
                            &key,
                            format!("another key of the file already sets librdkafka's `{lib}`"),
                            "keep one of them",
                        );
                        continue;
                    }
                    target.insert(lib_key, scalar(&value));
                    let mut reason = note.unwrap_or_default();
                    if let Some(s) = secret_reason {
                        reason = if reason.is_empty() {
                            s
                        } else {
                            format!("{reason}; {s}")
                        };
                    }
                    self.mapped(&key, format!("{path}.{name}[\"{lib}\"]"), reason);
                }
                Translation::NotNeeded(reason) => self.not_needed(&key, reason),
                Translation::NotMapped { reason, action } => self.not_mapped(&key, reason, action),
            }
        }
    }
}

/// The store type: `ssl.*.type` (Java's default JKS), or PKCS12 for a `.p12`/`.pfx` file.
fn store_kind(ty: Option<&Used>, location: &str) -> String {
    match ty {
        Some(u) => u.value.trim().to_ascii_uppercase(),
        None => {
            let l = location.trim().to_ascii_lowercase();
            if l.ends_with(".p12") || l.ends_with(".pfx") {
                "PKCS12".to_owned()
            } else {
                "JKS".to_owned()
            }
        }
    }
}

/// `store` with its extension replaced: `/etc/kafka/client.jks` → `/etc/kafka/client-ca.pem`.
fn derived(store: &str, suffix: &str) -> String {
    let (dir, file) = match store.rfind('/') {
        Some(at) => (&store[..=at], &store[at + 1..]),
        None => ("", store),
    };
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    format!("{dir}{stem}-{suffix}")
}

/// openssl's pass-phrase source for a strait value: `env:VAR` or `file:PATH`.
fn pass_of(value: &str) -> String {
    if let Some(name) = value
        .strip_prefix("${env:")
        .and_then(|v| v.strip_suffix('}'))
    {
        format!("env:{name}")
    } else if let Some(path) = value
        .strip_prefix("${file:")
        .and_then(|v| v.strip_suffix('}'))
    {
        format!("file:{path}")
    } else {
        "stdin".to_owned()
    }
}

/// keytool's spelling of an openssl pass source: `:env VAR`, `:file PATH`.
fn keytool_pass(option: &str, source: &str) -> String {
    match source.split_once(':') {
        Some(("env", v)) => format!("{option}:env {v}"),
        Some(("file", v)) => format!("{option}:file {v}"),
        _ => option.to_owned(),
    }
}

fn env_hint(source: &str) -> String {
    match source.split_once(':') {
        Some(("env", v)) if v.starts_with("STRAIT_") => {
            format!("export {v} (the store's password) first; ")
        }
        _ => String::new(),
    }
}

fn truststore_commands(store: &str, kind: &str, pem: &str, pass: &str) -> String {
    let mut steps = Vec::new();
    let p12 = if kind == "PKCS12" {
        store.to_owned()
    } else {
        let p12 = derived(store, "converted.p12");
        steps.push(format!(
            "keytool -importkeystore -srckeystore {store} -srcstoretype {kind} {} -destkeystore \
             {p12} -deststoretype PKCS12 {}",
            keytool_pass("-srcstorepass", pass),
            keytool_pass("-deststorepass", pass)
        ));
        p12
    };
    steps.push(format!(
        "openssl pkcs12 -in {p12} -nokeys -passin {pass} -out {pem}"
    ));
    format!(
        "{}convert the truststore to PEM: {} (add -legacy to openssl if it reports an \
         unsupported algorithm)",
        env_hint(pass),
        steps.join(" && ")
    )
}

fn keystore_commands(
    store: &str,
    kind: &str,
    cert: &str,
    key: &str,
    pass: &str,
    key_pass: &str,
    separate_key_password: bool,
) -> String {
    let mut steps = Vec::new();
    let p12 = if kind == "PKCS12" {
        store.to_owned()
    } else {
        let p12 = derived(store, "converted.p12");
        let keypass = if separate_key_password {
            format!(
                " -srcalias ALIAS {} -destalias ALIAS",
                keytool_pass("-srckeypass", key_pass)
            )
        } else {
            String::new()
        };
        steps.push(format!(
            "keytool -importkeystore -srckeystore {store} -srcstoretype {kind} {}{keypass} \
             -destkeystore {p12} -deststoretype PKCS12 {}",
            keytool_pass("-srcstorepass", pass),
            keytool_pass("-deststorepass", pass)
        ));
        p12
    };
    steps.push(format!(
        "openssl pkcs12 -in {p12} -passin {pass} -clcerts -nokeys -out {cert}"
    ));
    steps.push(format!(
        "openssl pkcs12 -in {p12} -passin {pass} -cacerts -nokeys >> {cert}"
    ));
    steps.push(format!(
        "openssl pkcs12 -in {p12} -passin {pass} -nocerts -passout {key_pass} -out {key}"
    ));
    let alias = if separate_key_password {
        " (ALIAS: the key's alias, from `keytool -list -keystore STORE`)"
    } else {
        ""
    };
    format!(
        "{}convert the keystore to a PEM certificate chain and an encrypted PEM key: {}{alias} \
         (add -legacy to openssl if it reports an unsupported algorithm)",
        env_hint(pass),
        steps.join(" && ")
    )
}
