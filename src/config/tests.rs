use std::collections::HashMap;
use std::io;

use super::*;
use crate::policy::{
    SkipReason, TopicRules, DEFAULT_GROUP_EXCLUDES, DEFAULT_TOPIC_EXCLUDES,
    DEFAULT_TOPIC_EXCLUDES_3_9,
};

const TWO_CLUSTERS: &str = r#"
clusters:
  A: { bootstrap_servers: "a:9092" }
  B: { bootstrap_servers: "b:9092" }
"#;

fn no_file(path: &str) -> io::Result<String> {
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no such file: {path}"),
    ))
}

/// Loads `yaml` with a fake environment and no readable files.
fn load_env(yaml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| env.get(name).cloned();
    let resolver = Resolver {
        env: &lookup,
        read_file: &no_file,
        // Path keys (`ca_file`, ...) name files that exist: `bad_configs` has the missing ones.
        check_file: &|_| Ok(()),
    };
    from_str_with(yaml, "test.yaml", &resolver)
}

fn load_ok(yaml: &str) -> Config {
    match load_env(yaml, &[]) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// The problems as `path: message` lines.
fn problems(yaml: &str) -> Vec<String> {
    problems_env(yaml, &[])
}

fn problems_env(yaml: &str, env: &[(&str, &str)]) -> Vec<String> {
    match load_env(yaml, env) {
        Ok(config) => panic!("expected problems, got a valid config: {config:?}"),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

/// `TWO_CLUSTERS` plus one mirror A->B with `extra` lines (indented by the caller).
fn mirror(extra: &str) -> String {
    format!("{TWO_CLUSTERS}mirrors:\n  - source: A\n    target: B\n{extra}")
}

/// One cluster A with `extra` lines, plus B and a mirror A->B.
fn cluster_a(extra: &str) -> String {
    format!(
        "clusters:\n  A:\n    bootstrap_servers: \"a:9092\"\n{extra}  B:\n    bootstrap_servers: \"b:9092\"\nmirrors:\n  - {{ source: A, target: B }}\n"
    )
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Valid configurations and defaults

#[test]
fn minimal_config_gets_defaults() {
    let config = load_ok(&mirror(""));
    assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(
        config.secret_files_check_interval,
        Some(Duration::from_secs(10))
    );
    assert_eq!(config.clusters.len(), 2);
    let a = &config.clusters["A"];
    assert_eq!(a.alias, "A");
    assert_eq!(a.bootstrap_servers, "a:9092");
    assert_eq!(a.security.protocol, SecurityProtocol::Plaintext);
    assert!(a.security.ca_file.is_none() && a.security.sasl.is_none());
    assert!(a.client.is_empty() && a.consumer.is_empty());
    assert!(a.producer.is_empty() && a.admin.is_empty());

    let [m] = config.mirrors.as_slice() else {
        panic!("one mirror expected")
    };
    assert_eq!(m.name(), "A->B");
    assert_eq!(
        m.replication_policy,
        ReplicationPolicy::Default {
            separator: ".".into()
        }
    );
    assert_eq!(m.replication_factor, None);
    assert_eq!(m.refresh_topics_interval, Duration::from_secs(10));
    assert_eq!(m.throttle, Throttle::default());
    assert_eq!(m.topics.include_patterns().collect::<Vec<_>>(), [".*"]);
    assert_eq!(
        m.topics.exclude_patterns().collect::<Vec<_>>(),
        DEFAULT_TOPIC_EXCLUDES
    );
    assert_eq!(m.groups.include_patterns().collect::<Vec<_>>(), [".*"]);
    assert_eq!(
        m.groups.exclude_patterns().collect::<Vec<_>>(),
        DEFAULT_GROUP_EXCLUDES
    );
    assert!(m.topics.matches("orders"));
    assert!(!m.groups.matches("console-consumer-42"));
    assert_eq!(m.sync_topic_configs, SyncMode::Enforce);
    assert_eq!(m.sync_topic_acls, SyncMode::Enforce);
    assert_eq!(m.sync_topic_configs_interval, Duration::from_secs(30));
    assert_eq!(m.sync_topic_acls_interval, Duration::from_secs(30));
    assert!(m.topic_configs.matches("retention.ms"));
    assert!(!m.topic_configs.matches("min.insync.replicas"));
    assert!(!m
        .topic_configs
        .matches("leader.replication.throttled.replicas"));
}

#[test]
fn topic_sync_keys() {
    let config = load_ok(&mirror(
        "    sync_topic_configs: report\n    sync_topic_acls: off\n    sync_topic_configs_interval: 2m\n    topic_configs_exclude: ['retention\\..*']\n",
    ));
    let m = &config.mirrors[0];
    assert_eq!(m.sync_topic_configs, SyncMode::Report);
    assert_eq!(m.sync_topic_acls, SyncMode::Off);
    assert_eq!(m.sync_topic_configs_interval, Duration::from_secs(120));
    assert!(!m.topic_configs.matches("retention.ms"));
    assert!(!m.topic_configs.matches("min.insync.replicas"));
    assert!(m.topic_configs.matches("cleanup.policy"));
    assert_eq!(
        problems(&mirror(
            "    sync_topic_configs: always\n    sync_topic_acls_interval: 0s\n    topic_configs_exclude: ['ok', '(']\n"
        )),
        [
            "mirrors[0].sync_topic_configs: unknown mode \"always\"; expected enforce, report or off",
            "mirrors[0].topic_configs_exclude[1]: invalid regex `(`: unclosed group; patterns are Rust regexes matched against the whole name (no look-around or back-references)",
            "mirrors[0].sync_topic_acls_interval: must be greater than 0",
        ]
    );
}

#[test]
fn user_excludes_are_added_to_builtin_ones() {
    let config = load_ok(&mirror(
        "    topics: [\"orders.*\", \"payments\"]\n    topics_exclude: [\"orders-tmp\"]\n    groups: [\"app-.*\"]\n    groups_exclude: [\"app-test\"]\n",
    ));
    let m = &config.mirrors[0];
    let mut want = strings(&DEFAULT_TOPIC_EXCLUDES);
    want.push("orders-tmp".into());
    assert_eq!(m.topics.exclude_patterns().collect::<Vec<_>>(), want);
    assert_eq!(m.topics.check("orders"), Ok(()));
    assert_eq!(
        m.topics.check("orders-tmp"),
        Err(SkipReason::Excluded {
            pattern: "orders-tmp".into()
        })
    );
    assert_eq!(
        m.topics.check("orders.replica"),
        Err(SkipReason::Excluded {
            pattern: r".*\.replica".into()
        })
    );
    assert_eq!(m.topics.check("users"), Err(SkipReason::NotIncluded));
    assert!(m.groups.matches("app-1"));
    assert!(!m.groups.matches("app-test"));
    assert!(!m.groups.matches("other"));
}

#[test]
fn topic_rules_pick_the_builtin_excludes_of_that_mm2_version() {
    let config = load_ok(&mirror(
        "    topic_rules: mm2-3.9\n    topics_exclude: [\"tmp\"]\n",
    ));
    let m = &config.mirrors[0];
    assert_eq!(m.topic_rules, TopicRules::Mm2_3_9);
    let mut want = strings(&DEFAULT_TOPIC_EXCLUDES_3_9);
    want.push("tmp".into());
    assert_eq!(m.topics.exclude_patterns().collect::<Vec<_>>(), want);
    assert_eq!(
        m.topics.check("orders-internal"),
        Err(SkipReason::Excluded {
            pattern: r".*[\-\.]internal".into()
        })
    );
    let config = load_ok(&mirror(""));
    assert_eq!(config.mirrors[0].topic_rules, TopicRules::Mm2_4_0);
    assert_eq!(config.mirrors[0].topics.check("orders-internal"), Ok(()));
    assert_eq!(
        problems(&mirror("    topic_rules: mm2-3.8\n")),
        ["mirrors[0].topic_rules: unknown rules \"mm2-3.8\" (did you mean `mm2-3.9`?); expected mm2-4.0 (MirrorMaker 2 of Kafka 4.0 and later: `orders-internal` is replicated) or mm2-3.9 (MirrorMaker 2 of Kafka 3.9 and earlier: every `*.internal`/`*-internal` topic is skipped)"]
    );
}

#[test]
fn take_over_mm2_defaults_follow_the_source_alias() {
    let config = load_ok(&mirror("    take_over_mm2: { enabled: true }\n"));
    let m = &config.mirrors[0];
    let t = m.take_over_mm2.as_ref().expect("on");
    assert_eq!(
        t.offsets_topic,
        format!("mm2-offsets.{}.internal", m.source)
    );
    assert_eq!(t.connector, "MirrorSourceConnector");
    assert_eq!(t.cluster, m.source);
    assert_eq!(load_ok(&mirror("")).mirrors[0].take_over_mm2, None);
    let config = load_ok(&mirror(
        "    take_over_mm2: { enabled: true, offsets_topic: connect-offsets, connector: mm2-src, cluster: dc1 }\n",
    ));
    let t = config.mirrors[0].take_over_mm2.clone().expect("on");
    assert_eq!(
        (
            t.offsets_topic.as_str(),
            t.connector.as_str(),
            t.cluster.as_str()
        ),
        ("connect-offsets", "mm2-src", "dc1")
    );
    assert_eq!(
        problems(&mirror(
            "    take_over_mm2: { enabled: true, connector: \"\" }\n"
        )),
        ["mirrors[0].take_over_mm2.connector: is empty"]
    );
}

#[test]
fn empty_include_list_selects_nothing() {
    let config = load_ok(&mirror("    topics: []\n    groups: []\n"));
    assert!(!config.mirrors[0].topics.matches("orders"));
    assert!(!config.mirrors[0].groups.matches("app"));
}

#[test]
fn every_key_parsed() {
    let yaml = r#"
clusters:
  A:
    bootstrap_servers: " a1:9092, a2:9092 ,"
    security:
      protocol: SASL_SSL
      ca_file: certs/ca.pem
      cert_file: certs/client.pem
      key_file: certs/client.key
      key_password: "${env:KEY_PASS}"
      sasl: { mechanism: scram-sha-512, username: mirror, password: "${env:SASL_PASS}" }
    client: { "socket.keepalive.enable": true, "client.id": strait }
    consumer: { "fetch.max.bytes": 52428800, "fetch.wait.max.ms": "100" }
    producer: { "linger.ms": 5.5 }
    admin: { "request.timeout.ms": 30000 }
  B:
    bootstrap_servers: b:9092
    security: { protocol: ssl }
mirrors:
  - source: A
    target: B
    replication_policy: { kind: identity, separator: "_" }
    replication_factor: 2
    refresh_topics_interval: 1m30s
    throttle: { bytes_per_second: 50MiB, records_per_second: 10000 }
  - source: B
    target: A
    replication_policy: { separator: "-" }
    replication_factor: "3"
    throttle: { bytes_per_second: 1024 }
shutdown_timeout: 500ms
secret_files_check_interval: 2s
"#;
    let config = load_env(yaml, &[("KEY_PASS", "kp"), ("SASL_PASS", "sp")]).unwrap();
    assert_eq!(config.shutdown_timeout, Duration::from_millis(500));
    assert_eq!(
        config.secret_files_check_interval,
        Some(Duration::from_secs(2))
    );
    let off = load_ok(&format!("{}secret_files_check_interval: off\n", mirror("")));
    assert_eq!(off.secret_files_check_interval, None);
    let a = &config.clusters["A"];
    assert_eq!(a.bootstrap_servers, "a1:9092,a2:9092");
    let sec = &a.security;
    assert_eq!(sec.protocol, SecurityProtocol::SaslSsl);
    assert_eq!(sec.ca_file.as_deref(), Some("certs/ca.pem"));
    assert_eq!(sec.cert_file.as_deref(), Some("certs/client.pem"));
    assert_eq!(sec.key_file.as_deref(), Some("certs/client.key"));
    assert_eq!(sec.key_password.as_ref().map(Secret::expose), Some("kp"));
    let sasl = sec.sasl.as_ref().unwrap();
    assert_eq!(sasl.mechanism, "SCRAM-SHA-512");
    assert_eq!(sasl.username(), Some("mirror"));
    assert_eq!(sasl.secret().map(Secret::expose), Some("sp"));
    let exposed = |m: &BTreeMap<String, Secret>| -> Vec<(String, String)> {
        m.iter()
            .map(|(k, v)| (k.clone(), v.expose().to_owned()))
            .collect()
    };
    assert_eq!(
        exposed(&a.client),
        [
            ("client.id".to_owned(), "strait".to_owned()),
            ("socket.keepalive.enable".to_owned(), "true".to_owned())
        ]
    );
    assert_eq!(
        exposed(&a.consumer),
        [
            ("fetch.max.bytes".to_owned(), "52428800".to_owned()),
            ("fetch.wait.max.ms".to_owned(), "100".to_owned())
        ]
    );
    assert_eq!(
        exposed(&a.producer),
        [("linger.ms".to_owned(), "5.5".to_owned())]
    );
    assert_eq!(
        exposed(&a.admin),
        [("request.timeout.ms".to_owned(), "30000".to_owned())]
    );
    assert_eq!(
        config.clusters["B"].security.protocol,
        SecurityProtocol::Ssl
    );

    let ab = &config.mirrors[0];
    assert_eq!(
        ab.replication_policy,
        ReplicationPolicy::Identity {
            source_alias: "A".into(),
            separator: "_".into()
        }
    );
    assert_eq!(ab.replication_factor, Some(2));
    assert_eq!(ab.refresh_topics_interval, Duration::from_secs(90));
    assert_eq!(
        ab.throttle,
        Throttle {
            bytes_per_second: Some(50 * 1024 * 1024),
            records_per_second: Some(10_000)
        }
    );
    let ba = &config.mirrors[1];
    assert_eq!(ba.name(), "B->A");
    assert_eq!(
        ba.replication_policy,
        ReplicationPolicy::Default {
            separator: "-".into()
        }
    );
    assert_eq!(ba.replication_factor, Some(3));
    assert_eq!(
        ba.throttle,
        Throttle {
            bytes_per_second: Some(1024),
            records_per_second: None
        }
    );
}

#[test]
fn example_config_loads() {
    let yaml = include_str!("../../config/strait.example.yaml");
    let config = load_env(yaml, &[("PRIMARY_SASL_PASSWORD", "example-secret")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.clusters.keys().collect::<Vec<_>>(),
        ["backup", "primary"]
    );
    let primary = &config.clusters["primary"];
    assert_eq!(primary.security.protocol, SecurityProtocol::SaslSsl);
    assert_eq!(
        primary
            .security
            .sasl
            .as_ref()
            .and_then(|s| s.secret())
            .map(Secret::expose),
        Some("example-secret")
    );
    let m = &config.mirrors[0];
    assert_eq!(m.name(), "primary->backup");
    assert!(m.topics.matches("orders.eu"));
    assert!(!m.topics.matches("orders.tmp-1"));
    assert_eq!(m.replication_factor, Some(3));
    assert_eq!(m.throttle.bytes_per_second, Some(50 << 20));
    assert!(!format!("{config:?}").contains("example-secret"));
}

#[test]
fn example_config_names_every_key() {
    // Every key the loader accepts (derived from the raw serde structs) appears in the example,
    // each under its parents: the key names of its path occur as `name:` in that order.
    let yaml = include_str!("../../config/strait.example.yaml");
    let paths = key_paths::key_paths();
    assert!(paths.len() > 40, "{paths:#?}");
    let documented = |path: &str| {
        let mut from = 0;
        key_paths::segments(path).all(|name| match find_key(&yaml[from..], name) {
            Some(at) => {
                from += at + name.len();
                true
            }
            None => false,
        })
    };
    let missing: Vec<&String> = paths.iter().filter(|p| !documented(p)).collect();
    assert!(
        missing.is_empty(),
        "not documented in config/strait.example.yaml: {missing:#?}"
    );
}

/// Where `name:` first occurs in `text` as a whole key (not the end of a longer name).
fn find_key(text: &str, name: &str) -> Option<usize> {
    let pattern = format!("{name}:");
    text.match_indices(&pattern).map(|(at, _)| at).find(|&at| {
        !text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[test]
fn example_config_names_every_forced_property() {
    let yaml = include_str!("../../config/strait.example.yaml");
    for row in forced::FORCED {
        for name in row.names() {
            assert!(
                yaml.contains(&format!("`{name}`")),
                "`{name}` is forced but not listed as not allowed in the example"
            );
        }
    }
}

#[test]
fn local_config_loads() {
    let config = load_ok(include_str!("../../config/local.yaml"));
    assert_eq!(config.clusters["A"].bootstrap_servers, "127.0.0.1:19092");
    assert_eq!(config.clusters["B"].bootstrap_servers, "127.0.0.1:29092");
    let [m] = config.mirrors.as_slice() else {
        panic!("one mirror expected")
    };
    assert_eq!(m.name(), "A->B");
    assert!(m.topics.matches("anything"));
    assert_eq!(m.replication_factor, Some(1));
    assert_eq!(m.refresh_topics_interval, Duration::from_secs(5));
}

#[test]
fn debug_output_hides_secrets() {
    let yaml = r#"
clusters:
  A:
    bootstrap_servers: a:9092
    security:
      protocol: sasl_ssl
      key_file: k.pem
      cert_file: c.pem
      key_password: key-pass-1234
      sasl: { mechanism: PLAIN, username: mirror, password: "${env:PW}" }
    client: { "ssl.keystore.password": "client-secret-5678" }
  B: { bootstrap_servers: b:9092 }
mirrors: [{ source: A, target: B }]
"#;
    let config = load_env(yaml, &[("PW", "sasl-pass-9012")]).unwrap();
    let debug = format!("{config:?}");
    for secret in ["key-pass-1234", "sasl-pass-9012", "client-secret-5678"] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
    assert!(debug.contains("mirror"), "the user name is not secret");
    assert!(debug.contains("***"));
}

// ---------------------------------------------------------------------------------------------
// Interpolation

#[test]
fn interpolation_in_string_values() {
    let yaml = r#"
clusters:
  A:
    bootstrap_servers: "${env:A_HOST}:9092"
    consumer: { "client.rack": "$${not-a-reference}" }
  B: { bootstrap_servers: b:9092 }
mirrors:
  - source: A
    target: B
    topics: ["${env:TOPIC}"]
    refresh_topics_interval: "${env:REFRESH}"
"#;
    let config = load_env(
        yaml,
        &[
            ("A_HOST", "kafka-a"),
            ("TOPIC", "orders"),
            ("REFRESH", "2s"),
        ],
    )
    .unwrap();
    let a = &config.clusters["A"];
    assert_eq!(a.bootstrap_servers, "kafka-a:9092");
    assert_eq!(a.consumer["client.rack"].expose(), "${not-a-reference}");
    let m = &config.mirrors[0];
    assert!(m.topics.matches("orders"));
    assert!(!m.topics.matches("payments"));
    assert_eq!(m.refresh_topics_interval, Duration::from_secs(2));
}

#[test]
fn interpolation_errors_name_the_key_not_the_value() {
    let yaml = r#"
clusters:
  A:
    bootstrap_servers: a:9092
    security:
      protocol: sasl_plaintext
      sasl: { mechanism: PLAIN, username: "${env:USER}", password: "${file:secrets/pw}" }
    producer: { "x": "${oops}" }
  B: { bootstrap_servers: b:9092 }
mirrors: [{ source: A, target: B }]
"#;
    assert_eq!(
        problems(yaml),
        [
            "clusters.A.security.sasl.username: environment variable `USER` is not set (referenced as `${env:USER}`)",
            "clusters.A.security.sasl.password: cannot read file `secrets/pw` (referenced as `${file:secrets/pw}`): no such file: secrets/pw",
            "clusters.A.producer[\"x\"]: unknown reference `${oops}`; write `${env:NAME}` or `${file:PATH}`, or `$${` for a literal `${`",
        ]
    );
}

#[test]
fn file_references_read_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("pw");
    std::fs::write(&secret, "file-secret-3456\n").unwrap();
    let yaml = format!(
        r#"
clusters:
  A:
    bootstrap_servers: a:9092
    security:
      protocol: sasl_plaintext
      sasl: {{ mechanism: PLAIN, username: u, password: "${{file:{}}}" }}
  B: {{ bootstrap_servers: b:9092 }}
mirrors: [{{ source: A, target: B }}]
"#,
        secret.display()
    );
    let path = dir.path().join("strait.yaml");
    std::fs::write(&path, yaml).unwrap();
    let config = load(&path).unwrap();
    let sasl = config.clusters["A"].security.sasl.as_ref().unwrap();
    assert_eq!(sasl.secret().map(Secret::expose), Some("file-secret-3456"));
}

#[test]
fn unreadable_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.yaml");
    let e = load(&path).unwrap_err();
    assert_eq!(e.origin, path.display().to_string());
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].path, "");
    assert!(
        e.problems[0].message.starts_with("cannot read the file: "),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Parse errors (serde stops at the first)

#[test]
fn unknown_keys_name_key_and_path() {
    assert_eq!(
        problems("clusters:\n  A:\n    bootstrap: x\n"),
        ["clusters.A.bootstrap: unknown key `bootstrap` (did you mean `bootstrap_servers`?), expected one of `bootstrap_servers`, `security`, `client`, `consumer`, `producer`, `admin` (line 3, column 5)"]
    );
    assert_eq!(
        problems(&mirror("    topic: [x]\n")),
        ["mirrors[0].topic: unknown key `topic` (did you mean `topics`?), expected one of `source`, `target`, `topics`, `topics_exclude`, `topic_rules`, `groups`, `groups_exclude`, `replication_policy`, `replication_factor`, `refresh_topics_interval`, `watch_topics_interval`, `throttle`, `emit_heartbeats`, `emit_heartbeats_interval`, `emit_checkpoints`, `emit_checkpoints_interval`, `sync_group_offsets`, `sync_group_offsets_interval`, `emit_offset_syncs`, `offset_syncs_location`, `provenance_header`, `sync_topic_configs`, `sync_topic_configs_interval`, `topic_configs_exclude`, `sync_topic_acls`, `sync_topic_acls_interval`, `on_data_gap`, `offset_map_memory`, `delivery`, `transaction_interval`, `transaction_timeout`, `canary`, `take_over_mm2` (line 8, column 5)"]
    );
    assert_eq!(
        problems(&mirror("    replication_policy: { kind: identity, sep: x }\n")),
        ["mirrors[0].replication_policy.sep: unknown key `sep`, expected `kind` or `separator` (line 8, column 43)"]
    );
    assert_eq!(
        problems("metrics: {}\n"),
        ["metrics: unknown key `metrics`, expected one of `clusters`, `mirrors`, `shutdown_timeout`, `http`, `secret_files_check_interval`, `deployment` (line 1, column 1)"]
    );
    assert_eq!(
        problems(&mirror("http: { listen: nowhere, tls: { cert_file: c.pem }, ready_max_lag_records: -1, port: 1 }\n")),
        ["http.port: unknown key `port`, expected one of `enabled`, `listen`, `tls`, `bearer_token`, `ready_max_lag_records`, `header_read_timeout`, `max_connections` (line 8, column 80)"]
    );
    assert_eq!(
        problems(&cluster_a("    security: { protocol: ssl, ca: x }\n")),
        ["clusters.A.security.ca: unknown key `ca` (did you mean `ca_file`?), expected one of `protocol`, `ca_file`, `cert_file`, `key_file`, `key_password`, `sasl` (line 4, column 32)"]
    );
}

#[test]
fn duplicate_keys_are_rejected() {
    assert_eq!(
        problems("clusters:\n  A:\n    bootstrap_servers: x\n  A:\n    bootstrap_servers: y\n"),
        ["clusters: duplicate cluster alias \"A\" (each cluster is defined once) (line 2, column 3)"]
    );
    assert_eq!(
        problems(&cluster_a("    consumer:\n      a: 1\n      a: 2\n")),
        ["clusters.A.consumer: duplicate property \"a\" (each property is set once) (line 5, column 7)"]
    );
    assert_eq!(
        problems("clusters: {}\nclusters: {}\n"),
        ["clusters: duplicate key `clusters`; each key is set once (line 1, column 1)"]
    );
}

#[test]
fn wrong_shapes_and_syntax() {
    assert_eq!(
        problems(&mirror("    topics: orders\n")),
        ["mirrors[0].topics: invalid type: string \"orders\", expected a sequence; write a list: `[a, b]`, or one `- ` line per item (line 8, column 13)"]
    );
    assert_eq!(
        problems(&cluster_a("    consumer: { \"a\": [1] }\n")),
        ["clusters.A.consumer[\"a\"]: invalid type: sequence, expected a string, number or boolean (line 4, column 22)"]
    );
    assert_eq!(
        problems("clusters:\n  A: { bootstrap_servers: x\n"),
        ["clusters.A: the `{` at line 2 column 6 is not closed: a `}` is missing, or a `,` between its entries (line 3, column 1)"]
    );
    assert_eq!(
        problems("clusters:\n\tA: {}\n"),
        ["clusters: a tab character: YAML indents with spaces only (line 2, column 1)"]
    );
    assert_eq!(
        problems("- 1\n"),
        ["invalid type: sequence, expected a mapping; the file is a mapping of settings (`clusters:`, `mirrors:`, ...), see config/strait.example.yaml (line 1, column 1)"]
    );
    assert_eq!(
        problems("clusters:\n  A: 5\n"),
        ["clusters.A: invalid type: integer `5`, expected a mapping (line 2, column 6)"]
    );
}

// ---------------------------------------------------------------------------------------------
// Validation errors (all reported at once)

#[test]
fn invalid_regexes_with_paths() {
    let yaml = mirror(
        "    topics: [\"ok\", \"(\"]\n    topics_exclude: [\"a\", \"b\", \"[z-a]\"]\n    groups_exclude: [\"a)|(b\"]\n",
    );
    assert_eq!(
        problems(&yaml),
        [
            "mirrors[0].topics[1]: invalid regex `(`: unclosed group; patterns are Rust regexes matched against the whole name (no look-around or back-references)",
            "mirrors[0].topics_exclude[2]: invalid regex `[z-a]`: invalid character class range, the start must be <= the end; patterns are Rust regexes matched against the whole name (no look-around or back-references)",
            "mirrors[0].groups_exclude[0]: invalid regex `a)|(b`: unopened group; patterns are Rust regexes matched against the whole name (no look-around or back-references)",
        ]
    );
    let lookaround = problems(&mirror("    topics: [\"(?!tmp).*\"]\n"));
    assert_eq!(lookaround.len(), 1);
    assert!(
        lookaround[0].starts_with("mirrors[0].topics[0]: invalid regex `(?!tmp).*`: look-around"),
        "{lookaround:?}"
    );
}

#[test]
fn mirror_cluster_references() {
    let yaml = format!(
        "{TWO_CLUSTERS}mirrors:\n  - {{ source: A, target: B }}\n  - {{ source: A, target: C }}\n  - {{ source: D, target: B }}\n  - {{ source: A, target: A }}\n  - {{ source: A, target: B }}\n  - {{ target: B }}\n  - {{ source: B, target: \"\" }}\n"
    );
    assert_eq!(
        problems(&yaml),
        [
            "mirrors[1].target: unknown cluster alias \"C\"; defined: A, B",
            "mirrors[2].source: unknown cluster alias \"D\"; defined: A, B",
            "mirrors[3].target: \"A\" is also the source; a mirror copies between two different clusters",
            "mirrors[4]: duplicate mirror A->B: mirrors[0] already replicates A to B; merge the two entries (their topic and group lists can be combined)",
            "mirrors[5].source: missing: the alias of a cluster defined under `clusters`",
            "mirrors[6].target: is empty: the alias of a cluster defined under `clusters`",
        ]
    );
}

#[test]
fn at_least_one_mirror_and_cluster() {
    assert_eq!(
        problems(TWO_CLUSTERS),
        ["mirrors: no mirrors defined; add at least one, for example `mirrors: [{ source: A, target: B }]`"]
    );
    assert_eq!(
        problems(&format!("{TWO_CLUSTERS}mirrors: []\n")),
        ["mirrors: no mirrors defined; add at least one, for example `mirrors: [{ source: A, target: B }]`"]
    );
    assert_eq!(
        problems("mirrors: [{ source: A, target: B }]\n"),
        [
            "clusters: no clusters defined; define the source and target of every mirror, for example `clusters: { A: { bootstrap_servers: \"kafka-a:9092\" } }`",
            "mirrors[0].source: unknown cluster alias \"A\"; no clusters are defined",
            "mirrors[0].target: unknown cluster alias \"B\"; no clusters are defined",
        ]
    );
}

#[test]
fn bootstrap_servers_required() {
    let yaml = "clusters:\n  A: { security: { protocol: ssl } }\n  B: { bootstrap_servers: \" , \" }\nmirrors: [{ source: A, target: B }]\n";
    assert_eq!(
        problems(yaml),
        [
            "clusters.A.bootstrap_servers: missing: the brokers to connect to, for example \"kafka-1:9092,kafka-2:9092\"",
            "clusters.B.bootstrap_servers: is empty: the brokers to connect to, for example \"kafka-1:9092,kafka-2:9092\"",
        ]
    );
}

#[test]
fn cluster_aliases() {
    let yaml = "clusters:\n  us.east: { bootstrap_servers: a }\n  B: { bootstrap_servers: b }\n  west_1: { bootstrap_servers: c }\nmirrors:\n  - { source: us.east, target: B }\n  - source: B\n    target: west_1\n    replication_policy: { separator: _ }\n";
    assert_eq!(
        problems(yaml),
        [
            "clusters.us.east: invalid cluster alias \"us.east\": use only letters, digits, `_` and `-` (the alias becomes the prefix of remote topic names)",
            "mirrors[1].replication_policy.separator: separator \"_\" occurs in cluster alias \"west_1\", so remote topic names could not be traced back to their cluster; choose another separator or rename the cluster",
        ]
    );
}

#[test]
fn replication_policy_checks() {
    assert_eq!(
        problems(&mirror("    replication_policy: { kind: rename }\n")),
        ["mirrors[0].replication_policy.kind: unknown kind \"rename\"; expected default (remote topics named <source><separator><topic>) or identity (names kept)"]
    );
    assert_eq!(
        problems(&mirror("    replication_policy: { separator: \"\" }\n")),
        ["mirrors[0].replication_policy.separator: is empty; remote topics are named <source><separator><topic> (default \".\")"]
    );
    assert_eq!(
        problems(&mirror("    replication_policy: { separator: \"/\" }\n")),
        ["mirrors[0].replication_policy.separator: separator \"/\" has characters not allowed in topic names; use letters, digits, `.`, `_` or `-`"]
    );
    let config = load_ok(&mirror("    replication_policy: { kind: identity }\n"));
    assert_eq!(
        config.mirrors[0].replication_policy,
        ReplicationPolicy::Identity {
            source_alias: "A".into(),
            separator: ".".into()
        }
    );
}

#[test]
fn security_checks() {
    assert_eq!(
        problems(&cluster_a("    security: { protocol: tls }\n")),
        ["clusters.A.security.protocol: unknown protocol \"tls\"; expected plaintext, ssl, sasl_plaintext or sasl_ssl"]
    );
    assert_eq!(
        problems(&cluster_a("    security: { protocol: sasl_ssl }\n")),
        ["clusters.A.security.sasl: missing: protocol sasl_ssl needs `sasl: { mechanism, username, password }`"]
    );
    assert_eq!(
        problems(&cluster_a(
            "    security: { protocol: ssl, sasl: { mechanism: PLAIN, username: u, password: p } }\n"
        )),
        ["clusters.A.security.sasl: is set, but protocol ssl does not use SASL; set `protocol: sasl_ssl` or `protocol: sasl_plaintext`"]
    );
    assert_eq!(
        problems(&cluster_a(
            "    security: { protocol: sasl_plaintext, sasl: { mechanism: GSSAPI, password: \"\" } }\n"
        )),
        [
            "clusters.A.security.sasl.mechanism: SASL mechanism \"GSSAPI\" is not supported: strait authenticates with a user name and password or with OAUTHBEARER tokens (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)",
            "clusters.A.security.sasl.username: missing: the SASL user name",
            "clusters.A.security.sasl.password: is empty: the SASL password",
        ]
    );
    assert_eq!(
        problems(&cluster_a("    security: { protocol: ssl, cert_file: c.pem }\n")),
        ["clusters.A.security.key_file: missing: cert_file is set; a client certificate needs both cert_file and key_file"]
    );
    assert_eq!(
        problems(&cluster_a("    security: { protocol: ssl, key_file: k.pem }\n")),
        ["clusters.A.security.cert_file: missing: key_file is set; a client certificate needs both cert_file and key_file"]
    );
    assert_eq!(
        problems(&cluster_a(
            "    security: { protocol: ssl, key_password: secret-7 }\n"
        )),
        ["clusters.A.security.key_password: is set, but key_file is not"]
    );
    assert_eq!(
        problems(&cluster_a("    security: { ca_file: ca.pem }\n")),
        ["clusters.A.security.ca_file: is set, but protocol plaintext does not use TLS; set `protocol: ssl` or `protocol: sasl_ssl`"]
    );
    assert_eq!(
        problems(&cluster_a(
            "    security: { protocol: ssl, ca_file: \"\" }\n"
        )),
        ["clusters.A.security.ca_file: is empty: a path to a PEM file"]
    );
}

#[test]
fn controlled_pass_through_properties() {
    let yaml = cluster_a(
        r#"    client: { "bootstrap.servers": x, "acks": "1" }
    consumer: { "enable.auto.commit": true, "isolation.level": read_uncommitted, "group.id": g, "auto.offset.reset": latest }
    producer: { "enable.idempotence": false, "security.protocol": ssl, "linger.ms": 5 }
    admin: { "sasl.password": "admin-secret-1", "x": ~ }
"#,
    );
    assert_eq!(
        problems(&yaml),
        [
            "clusters.A.client[\"bootstrap.servers\"]: not allowed: set the cluster's `bootstrap_servers` instead",
            "clusters.A.client[\"acks\"]: not allowed: strait controls this for correctness: a record counts as replicated only when all in-sync replicas of the target have it (acks=all)",
            "clusters.A.consumer[\"enable.auto.commit\"]: not allowed: strait controls this for correctness: it commits no mirroring progress to the source; positions are stored on the target after the target acknowledged the records",
            "clusters.A.consumer[\"isolation.level\"]: not allowed: strait controls this for correctness: the offset map and checkpoints depend on which records are mirrored",
            "clusters.A.consumer[\"group.id\"]: not allowed: strait names the consumer groups it uses itself",
            "clusters.A.consumer[\"auto.offset.reset\"]: not allowed: strait controls this for correctness: a source position that fell out of range (retention ran past it) is reported as a data gap, never silently reset, and strait's own topics are always read from their start",
            "clusters.A.producer[\"enable.idempotence\"]: not allowed: strait controls this for correctness: the idempotent producer keeps retries from duplicating or reordering records",
            "clusters.A.producer[\"security.protocol\"]: not allowed: set the cluster's `security.protocol` instead",
            "clusters.A.admin[\"sasl.password\"]: not allowed: set the cluster's `security.sasl` instead",
            "clusters.A.admin[\"x\"]: has no value; expected a string, number or boolean",
        ]
    );
    // Role-specific rules apply to their role (and `client`) only.
    let config = load_ok(&cluster_a(
        "    admin: { \"enable.auto.commit\": false }\n    consumer: { \"acks\": all }\n",
    ));
    assert_eq!(
        config.clusters["A"].admin["enable.auto.commit"].expose(),
        "false"
    );
}

#[test]
fn durations_sizes_and_numbers() {
    let yaml = mirror(
        "    replication_factor: 0\n    refresh_topics_interval: 10\n    throttle: { bytes_per_second: 10 parsecs, records_per_second: -5 }\nshutdown_timeout: 0s\n",
    );
    assert_eq!(
        problems(&yaml),
        [
            "mirrors[0].replication_factor: must be between 1 and 32767, got 0; leave the key out for min(3, number of target brokers)",
            "mirrors[0].refresh_topics_interval: `10` has no unit; write for example `10s` or `10ms`",
            "mirrors[0].throttle.bytes_per_second: unknown size unit `parsecs` in `10 parsecs`; expected a size such as `50MiB`, `10MB` or `1048576` (bytes) (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
            "mirrors[0].throttle.records_per_second: must be greater than 0, got -5",
            "shutdown_timeout: must be greater than 0",
        ]
    );
    let yaml = mirror(
        "    replication_factor: 40000\n    refresh_topics_interval: 5 minutes\n    throttle: { bytes_per_second: 0, records_per_second: 1.5 }\nshutdown_timeout: true\n",
    );
    assert_eq!(
        problems(&yaml),
        [
            "mirrors[0].replication_factor: must be between 1 and 32767, got 40000; leave the key out for min(3, number of target brokers)",
            "mirrors[0].refresh_topics_interval: invalid duration `5 minutes`: the unit follows the number without a space (`5m`, not `5 m` or `5 minutes`); expected a duration such as `500ms`, `5s`, `10m` or `1h`",
            "mirrors[0].throttle.bytes_per_second: must be greater than 0; leave the key out for no limit",
            "mirrors[0].throttle.records_per_second: expected a whole number, got `1.5`",
            "shutdown_timeout: expected a duration such as `500ms`, `5s`, `10m` or `1h`",
        ]
    );
    assert_eq!(
        problems(&mirror(
            "    replication_factor: three\n    refresh_topics_interval: 0ms\n"
        )),
        [
            "mirrors[0].replication_factor: expected a whole number, got `three`",
            "mirrors[0].refresh_topics_interval: must be greater than 0",
        ]
    );
}

#[test]
fn reports_every_problem_at_once() {
    let yaml = r#"
clusters:
  A: { bootstrap_servers: "" }
  B: { bootstrap_servers: b:9092, security: { protocol: sasl_ssl } }
mirrors:
  - { source: A, target: C, topics: ["("] }
  - { source: B, target: B, refresh_topics_interval: 5 }
shutdown_timeout: forever
"#;
    let e = load_env(yaml, &[]).unwrap_err();
    let rendered = e.to_string();
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines[0], "invalid configuration in test.yaml: 7 problems");
    assert_eq!(
        &lines[1..],
        [
            "  - clusters.A.bootstrap_servers: is empty: the brokers to connect to, for example \"kafka-1:9092,kafka-2:9092\"",
            "  - clusters.B.security.sasl: missing: protocol sasl_ssl needs `sasl: { mechanism, username, password }`",
            "  - mirrors[0].target: unknown cluster alias \"C\"; defined: A, B",
            "  - mirrors[0].topics[0]: invalid regex `(`: unclosed group; patterns are Rust regexes matched against the whole name (no look-around or back-references)",
            "  - mirrors[1].target: \"B\" is also the source; a mirror copies between two different clusters",
            "  - mirrors[1].refresh_topics_interval: `5` has no unit; write for example `5s` or `5ms`",
            "  - shutdown_timeout: invalid duration `forever`; expected a duration such as `500ms`, `5s`, `10m` or `1h`",
        ]
    );
}

#[test]
fn single_problem_header() {
    let e = load_env(TWO_CLUSTERS, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid configuration in test.yaml: 1 problem\n  - mirrors: no mirrors defined; add at least one, for example `mirrors: [{ source: A, target: B }]`"
    );
}

#[test]
fn http_endpoint_defaults_and_errors() {
    let base = "clusters:\n  A: { bootstrap_servers: a:9092 }\n  B: { bootstrap_servers: b:9092 }\nmirrors: [{ source: A, target: B }]\n";
    let config = from_str(base, "test").unwrap();
    let http = config.http.expect("on by default");
    assert_eq!(http.listen.to_string(), "0.0.0.0:9464");
    assert!(http.tls.is_none() && http.bearer_token.is_none());
    assert_eq!(http.ready_max_lag_records, 100_000);
    assert_eq!(http.header_read_timeout, Duration::from_secs(10));
    assert_eq!(http.max_connections, 64);
    let set = from_str(
        &format!("{base}http: {{ header_read_timeout: 1500ms, max_connections: \"2\" }}\n"),
        "test",
    )
    .unwrap()
    .http
    .unwrap();
    assert_eq!(set.header_read_timeout, Duration::from_millis(1500));
    assert_eq!(set.max_connections, 2);
    let off = from_str(&format!("{base}http: {{ enabled: false }}\n"), "test").unwrap();
    assert!(off.http.is_none());
    let e = from_str(
        &format!("{base}http: {{ listen: nowhere, tls: {{ cert_file: c.pem }}, ready_max_lag_records: -1, header_read_timeout: 0s, max_connections: 0 }}\n"),
        "test",
    )
    .unwrap_err()
    .to_string();
    for want in [
        "http.listen: invalid address `nowhere`",
        "http.tls.key_file: missing",
        "http.ready_max_lag_records: must be 0 or more",
        "http.header_read_timeout: must be greater than 0",
        "http.max_connections: must be between 1 and 1000000, got 0",
    ] {
        assert!(e.contains(want), "{want} in {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Forced client settings (one table with the client factory)

/// Every section whose properties reach a client kind that some row of `key` forces.
fn refusing_sections(key: &str) -> Vec<forced::Section> {
    forced::Section::ALL
        .into_iter()
        .filter(|section| {
            forced::FORCED.iter().any(|row| {
                row.names().any(|n| n == key) && row.kinds.iter().any(|&k| section.feeds(k))
            })
        })
        .collect()
}

/// A value librdkafka accepts for `key` where it has one of these (validation hands every
/// property that is not refused to librdkafka).
fn valid_value(key: &str) -> &'static str {
    [
        "some-value",
        "true",
        "5",
        "all",
        "earliest",
        "read_committed",
        "classic",
        "cooperative-sticky",
    ]
    .into_iter()
    .find(|v| librdkafka::check(key, v).is_ok())
    .unwrap_or("some-value")
}

fn one_property(section: forced::Section, key: &str) -> String {
    cluster_a(&format!(
        "    {}: {{ \"{key}\": {} }}\n",
        section.key(),
        valid_value(key)
    ))
}

/// The value cluster A carries for `key` in `section`, after loading `one_property`.
fn loaded_property(section: forced::Section, key: &str) -> String {
    let config = load_ok(&one_property(section, key));
    let a = &config.clusters["A"];
    let props = match section {
        forced::Section::Client => &a.client,
        forced::Section::Consumer => &a.consumer,
        forced::Section::Producer => &a.producer,
        forced::Section::Admin => &a.admin,
    };
    props[key].expose().to_owned()
}

#[test]
fn every_forced_property_is_refused_where_it_would_reach_its_clients() {
    for row in forced::FORCED {
        for name in row.names() {
            let sections = refusing_sections(name);
            assert!(sections.contains(&forced::Section::Client), "{name}");
            for section in sections {
                assert_eq!(
                    problems(&one_property(section, name)),
                    [format!(
                        "clusters.A.{}[\"{name}\"]: not allowed: {}",
                        section.key(),
                        row.reason
                    )],
                    "{name} in {}",
                    section.key()
                );
            }
        }
    }
}

#[test]
fn forced_properties_pass_in_sections_that_do_not_reach_their_clients() {
    let mut checked = 0;
    for row in forced::FORCED {
        for name in row.names() {
            let refusing = refusing_sections(name);
            for section in forced::Section::ALL {
                if refusing.contains(&section) {
                    continue;
                }
                assert_eq!(loaded_property(section, name), valid_value(name), "{name}");
                checked += 1;
            }
        }
    }
    // Consumer-only keys in `producer` and `admin`, producer-only keys in `consumer`, ...
    assert!(checked > 20, "{checked}");
}

#[test]
fn the_two_defects_of_the_issue_are_refused() {
    // Tried as a new user would: both were accepted and then silently overridden.
    assert_eq!(
        problems(&cluster_a(
            "    consumer: { \"auto.offset.reset\": earliest }\n    producer: { \"message.timeout.ms\": 30000, \"allow.auto.create.topics\": true }\n"
        )),
        [
            "clusters.A.consumer[\"auto.offset.reset\"]: not allowed: strait controls this for correctness: a source position that fell out of range (retention ran past it) is reported as a data gap, never silently reset, and strait's own topics are always read from their start",
            "clusters.A.producer[\"message.timeout.ms\"]: not allowed: strait controls this for correctness: a record is never given up because of time; a target outage is waited out (MM2: delivery.timeout.ms = Integer.MAX_VALUE)",
            "clusters.A.producer[\"allow.auto.create.topics\"]: not allowed: strait never creates topics by asking for their metadata; it creates the topics it needs explicitly",
        ]
    );
}

#[test]
fn unforced_properties_pass_in_every_section() {
    for key in ["linger.ms", "fetch.max.bytes", "client.rack"] {
        for section in forced::Section::ALL {
            assert_eq!(loaded_property(section, key), valid_value(key), "{key}");
        }
    }
    // librdkafka matches names exactly, so a differently cased name is not the forced one;
    // librdkafka has no such property, which the loader reports with the name it has.
    assert_eq!(
        problems(&cluster_a("    producer: { \"Acks\": all }\n")),
        ["clusters.A.producer[\"Acks\"]: librdkafka has no property `Acks` (did you mean `acks`?)"]
    );
}

// ---------------------------------------------------------------------------------------------
// Enum-valued keys and defaults

#[test]
fn enum_valued_keys_share_one_message_shape() {
    assert_eq!(
        problems(&mirror(
            "    offset_syncs_location: middle\n    provenance_header: sometimes\n    sync_topic_acls: Enforce\n"
        )),
        [
            "mirrors[0].offset_syncs_location: unknown location \"middle\"; expected source or target",
            "mirrors[0].provenance_header: unknown mode \"sometimes\"; expected auto, always or never",
            "mirrors[0].sync_topic_acls: unknown mode \"Enforce\" (did you mean `enforce`?); expected enforce, report or off",
        ]
    );
    let config = load_env(
        &mirror("    offset_syncs_location: target\n    provenance_header: never\n    sync_topic_configs: \"${env:MODE}\"\n"),
        &[("MODE", "report")],
    )
    .unwrap();
    let m = &config.mirrors[0];
    assert_eq!(m.offset_syncs_location, OffsetSyncsLocation::Target);
    assert_eq!(m.provenance_header, ProvenanceHeader::Never);
    assert_eq!(m.sync_topic_configs, SyncMode::Report);
}

#[test]
fn a_minimal_config_takes_every_default_from_the_defaults_module() {
    let config = load_ok(&mirror(""));
    assert_eq!(config.shutdown_timeout, defaults::SHUTDOWN_TIMEOUT);
    let a = &config.clusters["A"];
    assert_eq!(a.security.protocol, defaults::SECURITY_PROTOCOL);
    let m = &config.mirrors[0];
    assert_eq!(
        m.topics.include_patterns().collect::<Vec<_>>(),
        defaults::TOPICS
    );
    assert_eq!(
        m.groups.include_patterns().collect::<Vec<_>>(),
        defaults::GROUPS
    );
    assert_eq!(
        m.replication_policy,
        ReplicationPolicy::Default {
            separator: defaults::REPLICATION_POLICY_SEPARATOR.into()
        }
    );
    assert_eq!(m.replication_factor, defaults::REPLICATION_FACTOR);
    assert_eq!(m.refresh_topics_interval, defaults::REFRESH_TOPICS_INTERVAL);
    assert_eq!(
        m.throttle,
        Throttle {
            bytes_per_second: defaults::THROTTLE_BYTES_PER_SECOND,
            records_per_second: defaults::THROTTLE_RECORDS_PER_SECOND,
        }
    );
    assert_eq!(m.emit_heartbeats, defaults::EMIT_HEARTBEATS);
    assert_eq!(
        m.emit_heartbeats_interval,
        defaults::EMIT_HEARTBEATS_INTERVAL
    );
    assert_eq!(m.emit_checkpoints, defaults::EMIT_CHECKPOINTS);
    assert_eq!(
        m.emit_checkpoints_interval,
        defaults::EMIT_CHECKPOINTS_INTERVAL
    );
    assert_eq!(m.sync_group_offsets, defaults::SYNC_GROUP_OFFSETS);
    assert_eq!(
        m.sync_group_offsets_interval,
        defaults::SYNC_GROUP_OFFSETS_INTERVAL
    );
    assert_eq!(m.emit_offset_syncs, defaults::EMIT_OFFSET_SYNCS);
    assert_eq!(m.offset_syncs_location, defaults::OFFSET_SYNCS_LOCATION);
    assert_eq!(m.provenance_header, defaults::PROVENANCE_HEADER);
    assert_eq!(m.sync_topic_configs, defaults::SYNC_TOPIC_CONFIGS);
    assert_eq!(
        m.sync_topic_configs_interval,
        defaults::SYNC_TOPIC_CONFIGS_INTERVAL
    );
    assert_eq!(m.sync_topic_acls, defaults::SYNC_TOPIC_ACLS);
    assert_eq!(m.offset_map_memory, defaults::OFFSET_MAP_MEMORY);
    assert_eq!(
        m.sync_topic_acls_interval,
        defaults::SYNC_TOPIC_ACLS_INTERVAL
    );
    let http = config.http.as_ref().expect("on by default");
    assert_eq!(defaults::HTTP_ENABLED, config.http.is_some());
    assert_eq!(http.listen.to_string(), defaults::HTTP_LISTEN);
    assert_eq!(
        http.ready_max_lag_records,
        defaults::HTTP_READY_MAX_LAG_RECORDS
    );
    assert_eq!(http.header_read_timeout, defaults::HTTP_HEADER_READ_TIMEOUT);
    assert_eq!(http.max_connections, defaults::HTTP_MAX_CONNECTIONS);
}

#[test]
fn forced_values_from_the_cluster_name_real_keys() {
    let paths = key_paths::key_paths();
    for row in forced::FORCED {
        if let forced::Value::Cluster { key, .. } = row.value {
            let path = format!("clusters.<alias>.{key}");
            assert!(paths.contains(&path), "{}: no key {path}", row.key);
            assert!(
                row.reason.contains(&format!(
                    "`{}`",
                    key.split('.').take(2).collect::<Vec<_>>().join(".")
                )),
                "{}: the reason should name `{key}`: {}",
                row.key,
                row.reason
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// tests/bad_configs: one broken file per case, each with the exact problems it must produce

/// The files of `tests/bad_configs`, sorted, as paths relative to the crate root (the working
/// directory of `cargo test`, which their relative file references are resolved against).
fn bad_config_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new("tests/bad_configs");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// The values after `# <tag>: ` at the start of lines of `text`.
fn tagged<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    let prefix = format!("# {tag}: ");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

/// Each file's `# expect: ` lines are exactly its problems, in order, as `path: message`; no
/// `# secret: ` value of the file occurs in any of them. `STRAIT_BAD_CONFIGS_PRINT=1` prints
/// what each file produces (for writing a new case).
#[test]
fn bad_config_files_produce_exactly_their_expected_problems() {
    let files = bad_config_files();
    assert!(files.len() >= 50, "{} bad config files", files.len());
    let print = std::env::var_os("STRAIT_BAD_CONFIGS_PRINT").is_some();
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let want = tagged(&text, "expect");
        let got: Vec<String> = match load(path) {
            Ok(_) => vec!["<loads without problems>".to_owned()],
            Err(e) => {
                assert_eq!(e.origin, path.display().to_string());
                e.problems.iter().map(ToString::to_string).collect()
            }
        };
        if print {
            println!("== {}", path.display());
            for line in &got {
                println!("# expect: {line}");
            }
        }
        if want.is_empty() || got != want {
            failures.push(format!(
                "{}:\n  want: {want:#?}\n  got:  {got:#?}",
                path.display()
            ));
        }
        for secret in tagged(&text, "secret") {
            for line in &got {
                if line.contains(secret) {
                    failures.push(format!("{}: `{secret}` shown in {line}", path.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn deployment_is_optional_and_defaults_its_keys() {
    let base = format!("{TWO_CLUSTERS}mirrors: [{{ source: A, target: B }}]\n");
    assert_eq!(
        load_ok(&base).deployment,
        None,
        "no deployment: one instance"
    );
    let config = load_env(
        &format!("{base}deployment: {{ name: dr-east, instance: \"${{env:POD}}\" }}\n"),
        &[("POD", "strait-7d9f")],
    )
    .expect("valid");
    let d = config.deployment.expect("a deployment");
    assert_eq!(d.name, "dr-east");
    assert_eq!(d.instance, "strait-7d9f");
    assert_eq!(d.shards, defaults::DEPLOYMENT_SHARDS);
    assert_eq!(d.session_timeout, defaults::DEPLOYMENT_SESSION_TIMEOUT);
    assert_eq!(d.group("A"), "strait.dr-east.A");
    let d = load_ok(&format!("{base}deployment: {{ name: x }}\n"))
        .deployment
        .unwrap();
    assert!(
        d.instance.ends_with(&format!("-{}", std::process::id())),
        "default instance name: host and process id, got {}",
        d.instance
    );
}

#[test]
fn bad_deployment_keys_are_named() {
    let base = format!("{TWO_CLUSTERS}mirrors: [{{ source: A, target: B }}]\n");
    let cases = [
        (
            "deployment: { shards: 8 }",
            vec!["deployment.name: missing: a name shared by the instances, such as `dr-east`"],
        ),
        (
            "deployment: { name: \"dr east\" }",
            vec!["deployment.name: `dr east` may hold only letters, digits, `.`, `_` and `-` (it names a consumer group)"],
        ),
        (
            "deployment: { name: d, shards: 0 }",
            vec!["deployment.shards: must be between 1 and 1000, got 0"],
        ),
        (
            "deployment: { name: d, session_timeout: 2s }",
            vec!["deployment.session_timeout: must be between 6s and 30m (the brokers' default group.min.session.timeout.ms and group.max.session.timeout.ms)"],
        ),
        (
            "deployment: { name: d, instance: \"\" }",
            vec!["deployment.instance: is empty: a name for this instance"],
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(problems(&format!("{base}{yaml}\n")), want, "{yaml}");
    }
}

#[test]
fn delivery_defaults_to_at_least_once_and_exactly_once_has_its_transaction_settings() {
    let mirror = |keys: &str| {
        let yaml = format!("{TWO_CLUSTERS}mirrors: [{{ source: A, target: B{keys} }}]\n");
        load_ok(&yaml).mirrors.remove(0)
    };
    let m = mirror("");
    assert_eq!(m.delivery, Delivery::AtLeastOnce);
    assert_eq!(m.transaction_interval, defaults::TRANSACTION_INTERVAL);
    assert_eq!(m.transaction_timeout, defaults::TRANSACTION_TIMEOUT);
    let m =
        mirror(", delivery: exactly_once, transaction_interval: 50ms, transaction_timeout: 30s");
    assert_eq!(m.delivery, Delivery::ExactlyOnce);
    assert_eq!(m.transaction_interval, Duration::from_millis(50));
    assert_eq!(m.transaction_timeout, Duration::from_secs(30));
}

#[test]
fn bad_delivery_and_transaction_settings_are_named() {
    let base = TWO_CLUSTERS;
    let cases = [
        (
            "delivery: exactly-once",
            vec!["mirrors[0].delivery: unknown value \"exactly-once\" (did you mean `exactly_once`?); expected at_least_once (never lost; records copied since the last stored position are copied again after a crash) or exactly_once (records and positions committed in one transaction on the target)"],
        ),
        (
            "transaction_interval: 5ms",
            vec!["mirrors[0].transaction_interval: must be between 10ms and 60s"],
        ),
        (
            "transaction_timeout: 1s",
            vec!["mirrors[0].transaction_timeout: must be between 5s and 15m (the brokers' default transaction.max.timeout.ms)"],
        ),
        (
            "transaction_interval: 5s, transaction_timeout: 10s",
            vec!["mirrors[0].transaction_timeout: must be at least four times transaction_interval (5000 ms): a transaction's commit waits for the target too"],
        ),
    ];
    for (keys, want) in cases {
        let yaml = format!("{base}mirrors: [{{ source: A, target: B, {keys} }}]\n");
        assert_eq!(problems(&yaml), want, "{keys}");
    }
}

#[test]
fn the_canary_is_off_by_default_and_its_settings_are_checked() {
    let mirror = |keys: &str| {
        let yaml = format!("{TWO_CLUSTERS}mirrors: [{{ source: A, target: B{keys} }}]\n");
        load_ok(&yaml).mirrors.remove(0)
    };
    assert_eq!(mirror("").canary, None);
    assert_eq!(mirror(", canary: { interval: 1s }").canary, None);
    let c = mirror(", canary: { enabled: true }").canary.expect("on");
    assert_eq!(c.topic, defaults::CANARY_TOPIC);
    assert_eq!(c.interval, defaults::CANARY_INTERVAL);
    assert_eq!(c.late_after, defaults::CANARY_LATE_AFTER);
    let yaml = format!(
        "{TWO_CLUSTERS}mirrors: [{{ source: A, target: B, canary: {{ enabled: true, topic: 'a b', interval: 0s, late_after: soon }} }}]\n"
    );
    let got = problems(&yaml);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0].starts_with("mirrors[0].canary.topic: `a b` is not a Kafka topic name"),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("mirrors[0].canary.interval: must be greater than 0"),
        "{got:?}"
    );
    assert!(
        got[2].starts_with("mirrors[0].canary.late_after:"),
        "{got:?}"
    );
}
