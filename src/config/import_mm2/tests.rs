use super::*;
use crate::config::{check_offline, Delivery, OffsetSyncsLocation, SaslCredentials, SyncMode};
use crate::policy::{ReplicationPolicy, DEFAULT_GROUP_EXCLUDES};

fn import(text: &str) -> Imported {
    import_mm2(text, &ImportOptions::default()).expect("a properties file")
}

fn import_as(text: &str, rules: TopicRules) -> Imported {
    let options = ImportOptions {
        mm2_version: Some(rules),
        source_name: None,
    };
    import_mm2(text, &options).expect("a properties file")
}

/// The YAML as a value, for looking at keys.
fn yaml(i: &Imported) -> Value {
    serde_yaml::from_str(&i.yaml).expect("YAML")
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut v = v;
    for p in path {
        v = match p.parse::<usize>() {
            Ok(n) => &v[n],
            Err(_) => &v[*p],
        };
    }
    v
}

fn entry<'a>(i: &'a Imported, key: &str) -> &'a Entry {
    i.entries
        .iter()
        .rev()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no entry for {key}: {:#?}", i.entries))
}

fn outcome(i: &Imported, key: &str) -> Outcome {
    entry(i, key).outcome
}

fn not_mapped(i: &Imported) -> Vec<&str> {
    i.entries
        .iter()
        .filter(|e| e.outcome == Outcome::NotMapped)
        .map(|e| e.key.as_str())
        .collect()
}

/// The YAML passes strait's own validation (offline), and every key line has an entry.
fn valid(i: &Imported) -> crate::config::OfflineCheck {
    match check_offline(&i.yaml, "generated.yaml") {
        Ok(c) => c,
        Err(e) => panic!("generated YAML does not validate:\n{e}\n{}", i.yaml),
    }
}

/// The whole report as text, to look for secrets in.
fn report_text(i: &Imported) -> String {
    serde_json::to_string(i).expect("json")
}

const TWO: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n";

// ---------------------------------------------------------------------------------------------
// Flows, precedence and filters

#[test]
fn enabled_flows_become_mirrors_and_others_do_not() {
    let i = import(&format!("{TWO}B->A.enabled = false\n"));
    assert_eq!(i.mirrors, vec!["A->B"]);
    assert_eq!(outcome(&i, "A->B.enabled"), Outcome::Mapped);
    let off = entry(&i, "B->A.enabled");
    assert_eq!(off.outcome, Outcome::NotNeeded);
    assert!(
        off.reason.contains("only writes heartbeats"),
        "{}",
        off.reason
    );
    assert!(i.notes.iter().any(|n| n.contains("B->A")), "{:?}", i.notes);
    valid(&i);
}

#[test]
fn no_heartbeat_only_note_when_heartbeats_are_off_for_the_pair() {
    let i = import(&format!("{TWO}B->A.emit.heartbeats.enabled = false\n"));
    assert!(
        !i.notes.iter().any(|n| n.contains("herder")),
        "{:?}",
        i.notes
    );
    assert_eq!(
        outcome(&i, "B->A.emit.heartbeats.enabled"),
        Outcome::NotNeeded
    );
}

#[test]
fn a_flow_key_overrides_the_global_one_for_that_flow_only() {
    let text = "clusters = A, B, C\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nC.bootstrap.servers = c:1\n\
                A->B.enabled = true\nA->C.enabled = true\n\
                topics = t1, t2\nA->C.topics = only-c\n\
                emit.checkpoints.interval.seconds = 60\nA->B.emit.checkpoints.interval.seconds = 15\n";
    let i = import(text);
    let y = yaml(&i);
    assert_eq!(
        at(&y, &["mirrors", "0", "topics"]),
        &Value::from(vec!["t1", "t2"])
    );
    assert_eq!(
        at(&y, &["mirrors", "1", "topics"]),
        &Value::from(vec!["only-c"])
    );
    assert_eq!(
        at(&y, &["mirrors", "0", "emit_checkpoints_interval"]),
        "15s"
    );
    assert_eq!(at(&y, &["mirrors", "1", "emit_checkpoints_interval"]), "1m");
    assert_eq!(entry(&i, "topics").to, vec!["mirrors[0].topics"]);
    assert_eq!(entry(&i, "A->C.topics").to, vec!["mirrors[1].topics"]);
    valid(&i);
}

#[test]
fn a_global_key_overridden_by_every_flow_is_not_needed() {
    let i = import(&format!("{TWO}topics = x\nA->B.topics = y\n"));
    let e = entry(&i, "topics");
    assert_eq!(e.outcome, Outcome::NotNeeded);
    assert!(e.reason.contains("every enabled flow"), "{}", e.reason);
}

#[test]
fn cluster_keys_override_the_file_wide_security_defaults() {
    let text = "clusters = A, B\nbootstrap.servers = default:9092\nB.bootstrap.servers = b:9092\n\
                security.protocol = SASL_PLAINTEXT\nsasl.mechanism = PLAIN\n\
                sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"${env:PW}\";\n\
                B.security.protocol = PLAINTEXT\nconfig.providers = env\n\
                config.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider\n\
                A->B.enabled = true\n";
    let i = import(text);
    let y = yaml(&i);
    assert_eq!(
        at(&y, &["clusters", "A", "bootstrap_servers"]),
        "default:9092"
    );
    assert_eq!(at(&y, &["clusters", "B", "bootstrap_servers"]), "b:9092");
    assert_eq!(
        at(&y, &["clusters", "A", "security", "protocol"]),
        "sasl_plaintext"
    );
    assert_eq!(
        at(&y, &["clusters", "A", "security", "sasl", "password"]),
        "${env:PW}"
    );
    assert_eq!(
        at(&y, &["clusters", "B", "security", "protocol"]),
        "plaintext"
    );
    assert!(at(&y, &["clusters", "B", "security", "sasl"]).is_null());
    assert_eq!(
        entry(&i, "bootstrap.servers").to,
        vec!["clusters.A.bootstrap_servers"]
    );
    let c = valid(&i);
    assert_eq!(c.env, vec!["PW"]);
}

#[test]
fn the_clusters_own_client_sections_are_mapped_to_librdkafka_names() {
    let text = format!(
        "{TWO}A.consumer.fetch.max.wait.ms = 250\nB.producer.linger.ms = 20\nB.producer.acks = 1\n\
         A.consumer.no.such.thing = 1\nA->B.consumer.fetch.min.bytes = 1\nconsumer.fetch.min.bytes = 1\n"
    );
    let i = import(&text);
    let y = yaml(&i);
    assert_eq!(
        at(&y, &["clusters", "A", "consumer", "fetch.wait.max.ms"]),
        &Value::from(250)
    );
    assert_eq!(
        at(&y, &["clusters", "B", "producer", "linger.ms"]),
        &Value::from(20)
    );
    assert_eq!(outcome(&i, "B.producer.acks"), Outcome::NotMapped);
    assert_eq!(outcome(&i, "A.consumer.no.such.thing"), Outcome::NotMapped);
    assert_eq!(
        outcome(&i, "A->B.consumer.fetch.min.bytes"),
        Outcome::NotMapped
    );
    assert_eq!(outcome(&i, "consumer.fetch.min.bytes"), Outcome::NotNeeded);
    valid(&i);
}

#[test]
fn lists_are_split_like_kafka_lists_and_excludes_keep_only_the_users_own() {
    let text = format!(
        "{TWO}topics = a.* ,b  ,  c\ntopics.exclude = mm2.*\\\\.internal, .*\\\\.replica, __.*, tmp-.*\n\
         groups.exclude = console-consumer-.*, connect-.*, __.*\n"
    );
    let i = import(&text);
    let y = yaml(&i);
    assert_eq!(
        at(&y, &["mirrors", "0", "topics"]),
        &Value::from(vec!["a.*", "b", "c"])
    );
    assert_eq!(
        at(&y, &["mirrors", "0", "topics_exclude"]),
        &Value::from(vec!["tmp-.*"])
    );
    assert!(at(&y, &["mirrors", "0", "groups_exclude"]).is_null());
    assert_eq!(outcome(&i, "topics.exclude"), Outcome::Mapped);
    assert_eq!(outcome(&i, "groups.exclude"), Outcome::NotNeeded);
    valid(&i);
}

#[test]
fn an_exclude_list_without_mm2_defaults_is_reported_as_a_difference() {
    let i = import(&format!(
        "{TWO}topics.exclude = tmp-.*\ngroups.exclude = tmp-.*\nconfig.properties.exclude = delete\\\\.retention\\\\..*\n"
    ));
    for key in [
        "topics.exclude",
        "groups.exclude",
        "config.properties.exclude",
    ] {
        let e = entry(&i, key);
        assert_eq!(e.outcome, Outcome::NotMapped, "{key}");
        assert!(!e.to.is_empty(), "{key} is still written");
    }
    assert!(entry(&i, "topics.exclude").reason.contains(r".*\.replica"));
    assert!(entry(&i, "groups.exclude").reason.contains("connect-.*"));
    assert!(entry(&i, "config.properties.exclude")
        .reason
        .contains(r"min\.insync\.replicas"));
    valid(&i);
}

#[test]
fn patterns_rust_cannot_compile_are_left_out_and_reported() {
    let i = import(&format!("{TWO}topics = ok-.*, (?!tmp).*\n"));
    let y = yaml(&i);
    assert_eq!(
        at(&y, &["mirrors", "0", "topics"]),
        &Value::from(vec!["ok-.*"])
    );
    let e = entry(&i, "topics");
    assert_eq!(e.outcome, Outcome::NotMapped);
    assert!(e.reason.contains("(?!tmp).*"), "{}", e.reason);
    valid(&i);
}

#[test]
fn intervals_booleans_and_negative_intervals() {
    let text = format!(
        "{TWO}emit.heartbeats.interval.seconds = 5\nsync.topic.configs.enabled = false\n\
         sync.topic.configs.interval.seconds = 60\nsync.topic.acls.interval.seconds = -1\n\
         refresh.topics.interval.seconds = 3600\nemit.checkpoints.enabled = maybe\n"
    );
    let i = import(&text);
    let y = yaml(&i);
    let m = at(&y, &["mirrors", "0"]);
    assert_eq!(m["emit_heartbeats_interval"], "5s");
    assert_eq!(m["sync_topic_configs"], "off");
    assert_eq!(m["sync_topic_acls"], "off");
    assert_eq!(m["refresh_topics_interval"], "1h");
    assert_eq!(
        outcome(&i, "sync.topic.configs.interval.seconds"),
        Outcome::NotNeeded
    );
    assert_eq!(
        outcome(&i, "sync.topic.acls.interval.seconds"),
        Outcome::Mapped
    );
    assert_eq!(outcome(&i, "emit.checkpoints.enabled"), Outcome::NotMapped);
    let c = valid(&i);
    assert_eq!(c.config.mirrors[0].sync_topic_acls, SyncMode::Off);
}

#[test]
fn mm2_defaults_that_change_behaviour_are_written() {
    let i = import(TWO);
    let c = valid(&i);
    let m = &c.config.mirrors[0];
    assert!(!m.sync_group_offsets, "MM2's default is off");
    assert_eq!(m.offset_syncs_location, OffsetSyncsLocation::Source);
    assert!(i.notes.iter().any(|n| n.contains("replication.factor")));
}

#[test]
fn sync_group_offsets_goes_off_with_checkpoints() {
    let i = import(&format!(
        "{TWO}emit.checkpoints.enabled = false\nsync.group.offsets.enabled = true\n"
    ));
    let c = valid(&i);
    assert!(!c.config.mirrors[0].emit_checkpoints);
    assert!(!c.config.mirrors[0].sync_group_offsets);
}

#[test]
fn replication_policies() {
    let i = import(&format!(
        "{TWO}replication.policy.class = IdentityReplicationPolicy\n"
    ));
    let c = valid(&i);
    assert!(matches!(
        c.config.mirrors[0].replication_policy,
        ReplicationPolicy::Identity { .. }
    ));
    let i = import(&format!(
        "{TWO}replication.policy.class = org.apache.kafka.connect.mirror.DefaultReplicationPolicy\nreplication.policy.separator = _\n"
    ));
    let c = valid(&i);
    assert_eq!(c.config.mirrors[0].replication_policy.separator(), "_");
    let i = import(&format!("{TWO}replication.policy.class = com.acme.Mine\n"));
    assert_eq!(outcome(&i, "replication.policy.class"), Outcome::NotMapped);
    valid(&i);
    let i = import(&format!(
        "{TWO}replication.policy.separator = _\nreplication.policy.internal.topic.separator.enabled = false\n"
    ));
    assert_eq!(
        outcome(&i, "replication.policy.internal.topic.separator.enabled"),
        Outcome::NotMapped
    );
}

#[test]
fn internal_topic_factors_map_only_when_equal_to_the_mirrors() {
    let i = import(&format!(
        "{TWO}replication.factor = 3\ncheckpoints.topic.replication.factor = 3\nheartbeats.topic.replication.factor = 1\n"
    ));
    assert_eq!(
        outcome(&i, "checkpoints.topic.replication.factor"),
        Outcome::Mapped
    );
    assert_eq!(
        outcome(&i, "heartbeats.topic.replication.factor"),
        Outcome::NotMapped
    );
}

#[test]
fn worker_settings_and_tasks_are_not_needed_unknown_keys_are_reported() {
    let i = import(&format!(
        "{TWO}tasks.max = 4\noffset.storage.replication.factor = 3\nkey.converter = x\n\
         B.offset.flush.interval.ms = 1000\nno.such.key = 1\nA->C.enabled = true\n"
    ));
    for key in [
        "tasks.max",
        "offset.storage.replication.factor",
        "key.converter",
        "B.offset.flush.interval.ms",
    ] {
        assert_eq!(outcome(&i, key), Outcome::NotNeeded, "{key}");
    }
    assert_eq!(outcome(&i, "no.such.key"), Outcome::NotMapped);
    assert_eq!(outcome(&i, "A->C.enabled"), Outcome::NotMapped);
}

#[test]
fn every_line_has_an_entry_duplicates_included() {
    let i = import(&format!("{TWO}tasks.max = 1\ntasks.max = 2\n"));
    let lines: Vec<usize> = i.entries.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 2, 3, 4, 5, 6]);
    let first = &i.entries[4];
    assert_eq!(first.outcome, Outcome::NotNeeded);
    assert!(first.reason.contains("line 6"), "{}", first.reason);
}

#[test]
fn exactly_once_into_a_target() {
    let i = import(&format!("{TWO}B.exactly.once.source.support = enabled\n"));
    let c = valid(&i);
    assert_eq!(c.config.mirrors[0].delivery, Delivery::ExactlyOnce);
}

#[test]
fn a_custom_connect_offsets_topic_is_written_for_the_take_over() {
    let i = import(&format!("{TWO}B.offset.storage.topic = mm2-positions\n"));
    valid(&i);
    assert_eq!(outcome(&i, "B.offset.storage.topic"), Outcome::Mapped);
    let y = yaml(&i);
    assert_eq!(
        at(&y, &["mirrors", "0", "take_over_mm2", "offsets_topic"]),
        "mm2-positions"
    );
    assert_eq!(
        at(&y, &["mirrors", "0", "take_over_mm2", "enabled"]),
        &Value::from(false)
    );
    assert!(i.notes.iter().any(|n| n.contains("take_over_mm2")));
    // Without one, the take-over's defaults are MM2's dedicated-mode names.
    let i = import(TWO);
    assert!(at(&yaml(&i), &["mirrors", "0", "take_over_mm2"]).is_null());
}

// ---------------------------------------------------------------------------------------------
// Versions

#[test]
fn version_is_inferred_from_removed_keys_or_the_old_default() {
    let i = import(&format!("{TWO}topics.blacklist = tmp-.*\n"));
    assert_eq!(i.topic_rules, TopicRules::Mm2_3_9);
    assert!(
        i.version_reason.contains("topics.blacklist"),
        "{}",
        i.version_reason
    );
    assert_eq!(at(&yaml(&i), &["mirrors", "0", "topic_rules"]), "mm2-3.9");
    let c = valid(&i);
    assert_eq!(c.config.mirrors[0].topic_rules, TopicRules::Mm2_3_9);

    let i = import(&format!(
        "{TWO}topics.exclude = .*[\\\\-\\\\.]internal, .*\\\\.replica, __.*\n"
    ));
    assert_eq!(i.topic_rules, TopicRules::Mm2_3_9);
    // The list is 3.9's built-in excludes: nothing to write.
    assert!(at(&yaml(&i), &["mirrors", "0", "topics_exclude"]).is_null());
    assert_eq!(outcome(&i, "topics.exclude"), Outcome::NotNeeded);

    let i = import(TWO);
    assert_eq!(i.topic_rules, TopicRules::Mm2_4_0);
    assert!(at(&yaml(&i), &["mirrors", "0", "topic_rules"]).is_null());
}

#[test]
fn the_flag_wins_and_4_0_ignores_blacklists() {
    let i = import_as(
        &format!("{TWO}topics.blacklist = tmp-.*\n"),
        TopicRules::Mm2_4_0,
    );
    assert_eq!(i.topic_rules, TopicRules::Mm2_4_0);
    assert!(i.version_reason.contains("--mm2-version"));
    assert_eq!(outcome(&i, "topics.blacklist"), Outcome::NotMapped);
    assert!(at(&yaml(&i), &["mirrors", "0", "topics_exclude"]).is_null());
    // 4.0 rules with 3.9's default list: the `-internal` exclude is the user's now.
    let i = import_as(
        &format!("{TWO}topics.exclude = .*[\\\\-\\\\.]internal, .*\\\\.replica, __.*\n"),
        TopicRules::Mm2_4_0,
    );
    assert_eq!(
        at(&yaml(&i), &["mirrors", "0", "topics_exclude"]),
        &Value::from(vec![r".*[\-\.]internal"])
    );
}

#[test]
fn exclude_wins_over_its_deprecated_alias() {
    let i = import_as(
        &format!("{TWO}topics.exclude = a\nA->B.topics.blacklist = b\n"),
        TopicRules::Mm2_3_9,
    );
    assert_eq!(outcome(&i, "A->B.topics.blacklist"), Outcome::NotNeeded);
    assert_eq!(
        at(&yaml(&i), &["mirrors", "0", "topics_exclude"]),
        &Value::from(vec!["a"])
    );
}

#[test]
fn the_built_in_excludes_known_here_are_the_policys() {
    assert_eq!(
        TopicRules::Mm2_3_9.default_topic_excludes(),
        &MM2_3_9_TOPICS_EXCLUDE[..]
    );
    assert!(TopicRules::Mm2_4_0
        .default_topic_excludes()
        .contains(&REPLICA_EXCLUDE.0));
    assert_eq!(
        GROUP_PROBES.map(|(p, _)| p),
        DEFAULT_GROUP_EXCLUDES,
        "one probe per built-in group exclude"
    );
}

// ---------------------------------------------------------------------------------------------
// Secrets and references

const SECRET: &str = "s3cr3t-Very-Private";

#[test]
fn a_clear_password_becomes_an_environment_variable_and_is_never_printed() {
    let text = format!(
        "{TWO}A.security.protocol = SASL_SSL\nA.sasl.mechanism = SCRAM-SHA-256\n\
         A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username=\"mm2\" password=\"{SECRET}\";\n\
         A.ssl.truststore.location = /etc/kafka/ts.jks\nA.ssl.truststore.password = {SECRET}\n\
         A.ssl.keystore.location = /etc/kafka/ks.p12\nA.ssl.keystore.password = {SECRET}\n\
         B.producer.sasl.oauthbearer.client.secret = {SECRET}\n"
    );
    let i = import(&text);
    assert!(!i.yaml.contains(SECRET), "{}", i.yaml);
    assert!(!report_text(&i).contains(SECRET));
    let y = yaml(&i);
    assert_eq!(
        at(&y, &["clusters", "A", "security", "sasl", "password"]),
        "${env:STRAIT_A_SASL_PASSWORD}"
    );
    assert_eq!(
        at(&y, &["clusters", "A", "security", "key_password"]),
        "${env:STRAIT_A_SSL_KEY_PASSWORD}"
    );
    let names: Vec<&str> = i.env.iter().map(|e| e.name.as_str()).collect();
    assert!(names.contains(&"STRAIT_A_SASL_PASSWORD"), "{names:?}");
    let e = entry(&i, "A.sasl.jaas.config");
    assert_eq!(e.outcome, Outcome::Mapped);
    assert!(e.reason.contains("STRAIT_A_SASL_PASSWORD"), "{}", e.reason);
    let c = valid(&i);
    assert!(c.env.contains(&"STRAIT_A_SASL_PASSWORD".to_owned()));
    // The conversion commands name variables, never the password.
    let action = entry(&i, "A.ssl.truststore.location")
        .action
        .clone()
        .unwrap();
    assert!(action.contains("keytool -importkeystore"), "{action}");
    assert!(
        action.contains("env:STRAIT_A_SSL_TRUSTSTORE_PASSWORD"),
        "{action}"
    );
}

#[test]
fn a_file_wide_clear_password_is_one_variable_for_every_cluster() {
    let text = format!(
        "{TWO}security.protocol = SASL_PLAINTEXT\nsasl.mechanism = PLAIN\n\
         sasl.jaas.config = PlainLoginModule required username=\"u\" password=\"{SECRET}\";\n"
    );
    let i = import(&text);
    let names: Vec<&str> = i.env.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec!["STRAIT_SASL_PASSWORD"]);
    assert!(!i.yaml.contains(SECRET));
    valid(&i);
}

#[test]
fn provider_references_become_strait_references() {
    let text = format!(
        "{TWO}config.providers = env, dir, file, vault\n\
         config.providers.env.class = org.apache.kafka.common.config.provider.EnvVarConfigProvider\n\
         config.providers.dir.class = DirectoryConfigProvider\n\
         config.providers.file.class = org.apache.kafka.common.config.provider.FileConfigProvider\n\
         config.providers.vault.class = com.example.VaultConfigProvider\n\
         A.bootstrap.servers = ${{env:A_BOOTSTRAP}}\n\
         A.security.protocol = SASL_SSL\nA.sasl.mechanism = PLAIN\n\
         A.sasl.jaas.config = PlainLoginModule required username=\"${{dir:/run/secrets/:user}}\" password=\"${{file:/etc/creds.properties:pw}}\";\n\
         B.consumer.client.id = ${{vault:kv/mm2:id}}\n\
         A.admin.client.id = id-$${{x:y}}\n"
    );
    let i = import(&text);
    let y = yaml(&i);
    assert_eq!(
        at(&y, &["clusters", "A", "bootstrap_servers"]),
        "${env:A_BOOTSTRAP}"
    );
    assert_eq!(
        at(&y, &["clusters", "A", "security", "sasl", "username"]),
        "${file:/run/secrets/user}"
    );
    // A key of a properties file has no strait equivalent: an environment variable instead.
    assert_eq!(
        at(&y, &["clusters", "A", "security", "sasl", "password"]),
        "${env:STRAIT_A_SASL_PASSWORD}"
    );
    let e = entry(&i, "A.sasl.jaas.config");
    assert_eq!(e.outcome, Outcome::NotMapped);
    assert!(e.reason.contains("/etc/creds.properties"), "{}", e.reason);
    assert_eq!(
        outcome(&i, "config.providers.vault.class"),
        Outcome::NotMapped
    );
    assert_eq!(outcome(&i, "B.consumer.client.id"), Outcome::NotMapped);
    // `${x:y}` names no declared provider: MM2 keeps it as text, and so does strait (`$${`).
    assert_eq!(
        at(&y, &["clusters", "A", "admin", "client.id"]),
        "id-$$${x:y}"
    );
    let c = valid(&i);
    assert_eq!(c.env, vec!["A_BOOTSTRAP", "STRAIT_A_SASL_PASSWORD"]);
    assert!(c.files.contains(&"/run/secrets/user".to_owned()));
}

#[test]
fn oauthbearer_with_an_oidc_endpoint() {
    let text = format!(
        "{TWO}A.security.protocol = SASL_SSL\nA.sasl.mechanism = OAUTHBEARER\n\
         A.sasl.oauthbearer.token.endpoint.url = https://idp.example.com/token\n\
         A.sasl.login.callback.handler.class = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler\n\
         A.sasl.jaas.config = org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"mm2\" clientSecret=\"{SECRET}\" scope=\"kafka\";\n"
    );
    let i = import(&text);
    assert!(!i.yaml.contains(SECRET));
    assert!(!report_text(&i).contains(SECRET));
    let c = valid(&i);
    let sasl = c.config.clusters["A"].security.sasl.clone().unwrap();
    assert!(matches!(sasl.credentials, SaslCredentials::Oidc { .. }));
    assert_eq!(
        outcome(&i, "A.sasl.login.callback.handler.class"),
        Outcome::NotNeeded
    );
}

#[test]
fn kerberos_is_not_mapped() {
    let i = import(&format!(
        "{TWO}A.security.protocol = SASL_PLAINTEXT\nA.sasl.kerberos.service.name = kafka\n"
    ));
    assert_eq!(outcome(&i, "A.security.protocol"), Outcome::NotMapped);
    assert!(entry(&i, "A.security.protocol").reason.contains("GSSAPI"));
}

#[test]
fn pem_stores_are_used_as_they_are() {
    let i = import(&format!(
        "{TWO}A.security.protocol = SSL\nA.ssl.truststore.type = PEM\nA.ssl.truststore.location = /pem/ca.pem\n\
         A.ssl.keystore.type = PEM\nA.ssl.keystore.location = /pem/client.pem\nA.ssl.endpoint.identification.algorithm =\n"
    ));
    assert!(not_mapped(&i).is_empty(), "{:?}", not_mapped(&i));
    let c = valid(&i);
    let s = &c.config.clusters["A"].security;
    assert_eq!(s.ca_file.as_deref(), Some("/pem/ca.pem"));
    assert_eq!(s.cert_file.as_deref(), Some("/pem/client.pem"));
    assert_eq!(
        c.config.clusters["A"].client["ssl.endpoint.identification.algorithm"].expose(),
        "none"
    );
}

#[test]
fn tls_keys_without_a_tls_protocol_are_not_needed() {
    let i = import(&format!("{TWO}A.ssl.truststore.location = /x.jks\n"));
    assert_eq!(outcome(&i, "A.ssl.truststore.location"), Outcome::NotNeeded);
    valid(&i);
}

#[test]
fn a_malformed_escape_is_an_error_with_its_line() {
    let e = import_mm2("clusters = A\nx = \\u00g1\n", &ImportOptions::default()).unwrap_err();
    assert_eq!(e.line, 2);
}

// ---------------------------------------------------------------------------------------------
// Fixtures: realistic MM2 files

fn fixture(name: &str) -> Imported {
    let text = match name {
        "oneway" => include_str!("../../../tests/fixtures/mm2/oneway.properties"),
        "active-active-identity" => {
            include_str!("../../../tests/fixtures/mm2/active-active-identity.properties")
        }
        "sasl-ssl-scram" => include_str!("../../../tests/fixtures/mm2/sasl-ssl-scram.properties"),
        "legacy-3.9" => include_str!("../../../tests/fixtures/mm2/legacy-3.9.properties"),
        "hub-custom-separator" => {
            include_str!("../../../tests/fixtures/mm2/hub-custom-separator.properties")
        }
        "tuning-custom-policy" => {
            include_str!("../../../tests/fixtures/mm2/tuning-custom-policy.properties")
        }
        _ => unreachable!("{name}"),
    };
    let i = import(text);
    let lines = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#') && !t.starts_with('!')
        })
        .count();
    assert!(i.entries.len() <= lines && !i.entries.is_empty(), "{name}");
    i
}

#[test]
fn fixture_oneway() {
    let i = fixture("oneway");
    let c = valid(&i);
    assert_eq!(i.mirrors, vec!["A->B"]);
    assert_eq!(i.topic_rules, TopicRules::Mm2_4_0);
    let m = &c.config.mirrors[0];
    assert_eq!(m.replication_factor, Some(1));
    assert_eq!(m.emit_checkpoints_interval, Duration::from_secs(1));
    assert_eq!(m.sync_group_offsets_interval, Duration::from_secs(1));
    assert_eq!(m.refresh_topics_interval, Duration::from_secs(2));
    assert_eq!(m.sync_topic_configs_interval, Duration::from_secs(5));
    assert!(m.sync_group_offsets);
    assert_eq!(m.sync_topic_acls, SyncMode::Off);
    assert!(m.topics.matches("orders"));
    assert!(not_mapped(&i).is_empty(), "{:?}", not_mapped(&i));
    assert_eq!(outcome(&i, "tasks.max"), Outcome::NotNeeded);
    assert_eq!(
        outcome(&i, "B.offset.flush.interval.ms"),
        Outcome::NotNeeded
    );
    assert_eq!(outcome(&i, "groups.exclude"), Outcome::NotNeeded);
    assert!(i.notes.iter().any(|n| n.contains("B->A")));
}

#[test]
fn fixture_active_active_identity() {
    let i = fixture("active-active-identity");
    let c = valid(&i);
    assert_eq!(i.mirrors, vec!["dc1->dc2", "dc2->dc1"]);
    for m in &c.config.mirrors {
        assert!(matches!(
            m.replication_policy,
            ReplicationPolicy::Identity { .. }
        ));
        assert!(m.topics.matches("orders.created"));
        assert!(!m.topics.matches("inventory"));
        assert_eq!(m.emit_checkpoints_interval, Duration::from_secs(30));
        assert_eq!(m.offset_syncs_location, OffsetSyncsLocation::Target);
        assert!(m.groups.matches("app-billing") && !m.groups.matches("batch"));
        // The loop is broken by strait's provenance header (MM2 would loop).
        assert!(m.stamp_provenance);
    }
    assert!(!c.config.mirrors[0].topics.matches("orders.dc2-local"));
    assert!(c.config.mirrors[1].topics.matches("orders.dc2-local"));
    assert!(not_mapped(&i).is_empty(), "{:?}", not_mapped(&i));
    assert_eq!(
        outcome(&i, "dedicated.mode.enable.internal.rest"),
        Outcome::NotNeeded
    );
}

#[test]
fn fixture_sasl_ssl_scram_with_providers_and_jks() {
    let i = fixture("sasl-ssl-scram");
    assert!(!i.yaml.contains("K3y-S3cret!"));
    assert!(!report_text(&i).contains("K3y-S3cret!"));
    let c = valid(&i);
    assert_eq!(i.mirrors, vec!["prod->dr"]);
    let prod = &c.config.clusters["prod"];
    assert_eq!(
        prod.security.sasl.as_ref().unwrap().mechanism,
        "SCRAM-SHA-512"
    );
    assert_eq!(
        prod.security.sasl.as_ref().unwrap().username(),
        Some("mm2-prod")
    );
    assert_eq!(
        prod.security.ca_file.as_deref(),
        Some("/etc/kafka/secrets/prod.truststore-ca.pem")
    );
    let dr = &c.config.clusters["dr"];
    assert_eq!(
        dr.security.cert_file.as_deref(),
        Some("/etc/kafka/secrets/dr.keystore-cert.pem")
    );
    assert_eq!(
        c.config.mirrors[0].sync_topic_acls_interval,
        Duration::from_secs(600)
    );
    let y = yaml(&i);
    assert_eq!(
        at(&y, &["clusters", "dr", "security", "sasl", "password"]),
        "${env:DR_SASL_PASSWORD}"
    );
    assert_eq!(
        at(&y, &["clusters", "prod", "security", "sasl", "password"]),
        "${env:STRAIT_PROD_SASL_PASSWORD}"
    );
    let mut missing = not_mapped(&i);
    missing.sort();
    assert_eq!(
        missing,
        vec![
            "dr.ssl.keystore.location",
            "dr.ssl.truststore.location",
            "prod.sasl.jaas.config",
            "prod.ssl.truststore.location",
        ]
    );
    // The dir provider's password feeds the conversion as a file.
    let action = entry(&i, "dr.ssl.keystore.location")
        .action
        .clone()
        .unwrap();
    assert!(
        action.contains("-srcstorepass:file /run/secrets/dr/keystore-password"),
        "{action}"
    );
    assert!(
        action.contains("-passout env:STRAIT_DR_SSL_KEY_PASSWORD"),
        "{action}"
    );
    assert!(entry(&i, "prod.ssl.truststore.password")
        .reason
        .contains("stores.properties"));
    assert_eq!(
        outcome(&i, "dr->prod.emit.heartbeats.enabled"),
        Outcome::NotNeeded
    );
    assert!(
        !i.notes.iter().any(|n| n.contains("herder")),
        "{:?}",
        i.notes
    );
}

#[test]
fn fixture_legacy_3_9() {
    let i = fixture("legacy-3.9");
    assert_eq!(i.topic_rules, TopicRules::Mm2_3_9);
    let c = valid(&i);
    let m = &c.config.mirrors[0];
    assert_eq!(m.topic_rules, TopicRules::Mm2_3_9);
    assert!(!m.topics.matches("test-orders"));
    assert!(!m.topics.matches("orders-internal"));
    assert!(m.topics.matches("orders"));
    assert!(!m.groups.matches("tmp-1"));
    assert!(!m.topic_configs.matches("retention.bytes"));
    assert_eq!(m.emit_heartbeats_interval, Duration::from_secs(5));
    assert_eq!(m.refresh_topics_interval, Duration::from_secs(300));
    assert_eq!(m.replication_factor, Some(2));
    assert!(not_mapped(&i).is_empty(), "{:?}", not_mapped(&i));
    assert_eq!(outcome(&i, "topics.blacklist"), Outcome::Mapped);
    assert_eq!(
        outcome(&i, "use.incremental.alter.configs"),
        Outcome::NotNeeded
    );
    // Read with 4.0's rules, the blacklists are what 4.0 ignores.
    let text = include_str!("../../../tests/fixtures/mm2/legacy-3.9.properties");
    let i = import_as(text, TopicRules::Mm2_4_0);
    let mut missing = not_mapped(&i);
    missing.sort();
    assert_eq!(
        missing,
        vec![
            "config.properties.blacklist",
            "groups.blacklist",
            "topics.blacklist"
        ]
    );
    valid(&i);
}

#[test]
fn fixture_hub_with_custom_separator() {
    let i = fixture("hub-custom-separator");
    let c = valid(&i);
    assert_eq!(
        i.mirrors,
        vec![
            "east->central",
            "west->central",
            "central->east",
            "central->west"
        ]
    );
    let ms = &c.config.mirrors;
    for m in ms {
        assert_eq!(m.replication_policy.separator(), "_");
        assert_eq!(m.refresh_topics_interval, Duration::from_secs(60));
    }
    assert_eq!(
        ms[0]
            .replication_policy
            .format_remote_topic("east", "orders"),
        "east_orders"
    );
    assert!(ms[1].topics.matches("returns.2024") && !ms[0].topics.matches("returns.2024"));
    assert_eq!(ms[1].emit_checkpoints_interval, Duration::from_secs(15));
    assert_eq!(ms[0].emit_checkpoints_interval, Duration::from_secs(60));
    assert!(ms[0].sync_group_offsets && !ms[2].sync_group_offsets);
    assert!(!ms[0].emit_heartbeats && ms[2].emit_heartbeats);
    assert!(ms[2].topics.matches("reference-data") && !ms[2].topics.matches("orders"));
    assert!(not_mapped(&i).is_empty(), "{:?}", not_mapped(&i));
    // Heartbeats are off file-wide: no heartbeat-only herders.
    assert!(
        !i.notes.iter().any(|n| n.contains("herder")),
        "{:?}",
        i.notes
    );
}

#[test]
fn fixture_tuning_with_custom_policy() {
    let i = fixture("tuning-custom-policy");
    assert!(!i.yaml.contains("pl4in-Secret-Pw"));
    assert!(!report_text(&i).contains("pl4in-Secret-Pw"));
    let c = valid(&i);
    let src = &c.config.clusters["src"];
    assert_eq!(src.consumer["fetch.wait.max.ms"].expose(), "200");
    assert_eq!(src.consumer["fetch.min.bytes"].expose(), "1048576");
    let tgt = &c.config.clusters["tgt"];
    assert_eq!(
        tgt.producer["queue.buffering.max.kbytes"].expose(),
        "131072"
    );
    assert_eq!(tgt.producer["compression.type"].expose(), "zstd");
    assert_eq!(tgt.admin["socket.timeout.ms"].expose(), "60000");
    assert_eq!(c.config.mirrors[0].delivery, Delivery::ExactlyOnce);
    assert!(matches!(
        c.config.mirrors[0].replication_policy,
        ReplicationPolicy::Default { .. }
    ));
    let mut missing = not_mapped(&i);
    missing.sort();
    assert_eq!(
        missing,
        vec![
            "heartbeats.replication.enabled",
            "replication.policy.class",
            "src->tgt.producer.linger.ms",
            "src.consumer.auto.offset.reset",
            "topics.regex.flavour",
        ]
    );
    assert_eq!(outcome(&i, "bootstrap.servers"), Outcome::NotNeeded);
    let names: Vec<&str> = i.env.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec!["STRAIT_SASL_PASSWORD"]);
}

use std::time::Duration;
