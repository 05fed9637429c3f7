//! No secret leaves strait: every secret of a config is a unique marker, strait runs at `debug`
//! with librdkafka's own debug output on (`debug: all`) through failures — a wrong password, an
//! unreachable cluster, a property librdkafka refuses — and the operator commands and the HTTP
//! endpoint are used; no marker (nor its base64) is in anything strait wrote or served.

use std::time::Duration;

use crate::harness::*;
use crate::secured::broad_grants;

/// Standard base64 of `bytes` without its padding (how HTTP Basic and some debug dumps carry a
/// secret), so that it is found at the start of a longer encoding too.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// `(what, marker)` pairs whose marker or base64 appears in `text`.
fn leaked<'a>(text: &str, markers: &'a [(&'a str, String)]) -> Vec<&'a str> {
    markers
        .iter()
        .filter(|(_, m)| text.contains(m.as_str()) || text.contains(&base64(m.as_bytes())))
        .map(|(what, _)| *what)
        .collect()
}

fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).unwrap()
}

#[test]
fn no_secret_reaches_a_log_a_command_output_or_the_http_endpoint() {
    let (a, b) = broad_grants();
    let uid = format!("{:012x}", random_u64() & 0xffff_ffff_ffff);
    let secured = a.secured();
    let certs = secured.certs().display().to_string();
    let key_password = std::fs::read_to_string(b.secured().certs().join("mirror-enc.password"))
        .unwrap()
        .trim()
        .to_string();
    let markers: Vec<(&str, String)> = vec![
        ("the SASL password", secured.password("mirror")),
        ("the wrong SASL password", format!("wrong-password-{uid}")),
        ("the client key's password", key_password.clone()),
        (
            "a pass-through ssl.keystore.password",
            format!("keystore-{uid}"),
        ),
        (
            "the unreachable cluster's SASL password",
            format!("unreachable-{uid}"),
        ),
        ("the bearer token", format!("bearer-token-{uid}")),
        (
            "a pass-through value librdkafka refuses",
            format!("refused-{uid}"),
        ),
        ("the OIDC client secret", format!("oidc-secret-{uid}")),
    ];
    let marker = |what: &str| markers.iter().find(|(w, _)| *w == what).unwrap().1.clone();

    let topic = unique_name("secrets");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    produce(
        &a.bootstrap(),
        &topic,
        &(0..20)
            .map(|i| OutRecord::to_partition(0, format!("r{i}")))
            .collect::<Vec<_>>(),
    );
    let debug_all = |c: ClusterConfig| c.client("debug", "all");
    let source = ClusterConfig::new(&a.secured_bootstrap(Listener::ScramSha512)).set(
        "security",
        yaml(&format!(
            "{{ protocol: sasl_ssl, ca_file: '{certs}/ca.crt', sasl: {{ mechanism: SCRAM-SHA-512, username: mirror, password: '{}' }} }}",
            marker("the SASL password")
        )),
    );
    let b_certs = b.secured().certs().display().to_string();
    let target = ClusterConfig::new(&b.secured_bootstrap(Listener::MutualTls))
        .set(
            "security",
            yaml(&format!(
                "{{ protocol: ssl, ca_file: '{b_certs}/ca.crt', cert_file: '{b_certs}/mirror.crt', key_file: '{b_certs}/mirror-enc.key', key_password: '{key_password}' }}"
            )),
        )
        .client(
            "ssl.keystore.password",
            marker("a pass-through ssl.keystore.password").as_str(),
        );
    let wrong = ClusterConfig::new(&a.secured_bootstrap(Listener::ScramSha512)).set(
        "security",
        yaml(&format!(
            "{{ protocol: sasl_ssl, ca_file: '{certs}/ca.crt', sasl: {{ mechanism: SCRAM-SHA-512, username: mirror, password: '{}' }} }}",
            marker("the wrong SASL password")
        )),
    );
    let unreachable = ClusterConfig::new("127.0.0.1:1").set(
        "security",
        yaml(&format!(
            "{{ protocol: sasl_ssl, ca_file: '{certs}/ca.crt', sasl: {{ mechanism: PLAIN, username: mirror, password: '{}' }} }}",
            marker("the unreachable cluster's SASL password")
        )),
    );
    // OIDC client credentials, sent to a token endpoint of the test's (as HTTP Basic).
    let endpoint = TokenEndpoint::start(
        "strait-leak",
        &marker("the OIDC client secret"),
        "mirror",
        Duration::from_secs(60),
    );
    let oidc = oidc_cluster(
        a,
        &endpoint,
        "strait-leak",
        &marker("the OIDC client secret"),
    );
    let mirror = |s: &str, t: &str| {
        MirrorConfig::new(s, t)
            .topics(&[&topic])
            .groups(&[])
            .replication_factor(1)
            .refresh_topics_interval("1s")
    };
    let token = marker("the bearer token");
    let config = StraitConfig::new()
        .cluster("S", debug_all(source))
        .cluster("T", debug_all(target))
        .cluster("W", debug_all(wrong))
        .cluster("U", debug_all(unreachable))
        .cluster("O", debug_all(oidc))
        .mirror(mirror("S", "T"))
        .mirror(mirror("O", "T").emit_heartbeats(false))
        .mirror(mirror("W", "T").emit_heartbeats(false))
        .mirror(mirror("U", "T").emit_heartbeats(false))
        .shutdown_timeout("10s")
        .http(HttpConfig::listen("127.0.0.1:0").bearer_token(&token));

    let mut outputs: Vec<(String, String)> = Vec::new();
    let checked = validate(&config.to_yaml(), true);
    assert_ne!(checked.code, Some(0), "W and U cannot be reached");
    outputs.push((
        "validate --connect".into(),
        format!("{}{}", checked.stdout, checked.stderr),
    ));

    // A pass-through value librdkafka refuses, with secrets around it: refused at load by
    // validate and by run, naming the key.
    let refused = config.clone().cluster(
        "T",
        ClusterConfig::new(&b.secured_bootstrap(Listener::MutualTls))
            .client(
                "ssl.endpoint.identification.algorithm",
                marker("a pass-through value librdkafka refuses").as_str(),
            )
            .client(
                "ssl.keystore.password",
                marker("a pass-through ssl.keystore.password").as_str(),
            ),
    );
    let v = validate(&refused.to_yaml(), false);
    assert_eq!(v.code, Some(3), "{}{}", v.stdout, v.stderr);
    let said = format!("{}{}", v.stdout, v.stderr);
    assert!(
        said.contains("clusters.T.client[\"ssl.endpoint.identification.algorithm\"]")
            || said.contains("clusters.T.client.ssl.endpoint.identification.algorithm"),
        "{said}"
    );
    outputs.push(("validate of a refused property".into(), said));
    let scratch = scratch_dir("secrets");
    let refused_path = scratch.path().join("refused.yaml");
    refused.write_to(&refused_path);
    let run = strait_cli(
        &["run", "--config", &refused_path.to_string_lossy()],
        Duration::from_secs(60),
    );
    assert_ne!(run.code, Some(0));
    outputs.push((
        "run with a refused property".into(),
        format!("{}{}", run.stdout, run.stderr),
    ));

    let mut strait = StraitProcess::launch(&config)
        .log_filter("debug,librdkafka=debug")
        .start();
    let mut copy = TopicReader::new(&b.bootstrap(), &format!("S.{topic}"));
    copy.wait_for_count(20, Duration::from_secs(120));
    // The OIDC mirror works: its client secret was sent (and is in no output below).
    TopicReader::new(&b.bootstrap(), &format!("O.{topic}"))
        .wait_for_count(20, Duration::from_secs(120));
    assert!(endpoint.requests().iter().any(|r| r.granted));
    // The failing mirrors have logged why: W's password refused, U not answering.
    wait_until(
        Duration::from_secs(60),
        "W's authentication refused and U's connection refused in the log",
        || {
            let log = strait.log_contents().to_ascii_lowercase();
            log.contains("authentication failed") && log.contains("connection refused")
        },
    );

    let path = strait.config_path().to_path_buf();
    // Two of the four mirrors cannot work; what status says of them is not the subject here.
    let config_arg = path.to_string_lossy().into_owned();
    for output in ["json", "table"] {
        let status = strait_cli(
            &["status", "--config", &config_arg, "--output", output],
            Duration::from_secs(120),
        );
        assert!(
            status.code.is_some() && !status.stdout.is_empty(),
            "status --output {output} did not answer: {}",
            status.stderr
        );
        outputs.push((
            format!("status --output {output}"),
            format!("{}{}", status.stdout, status.stderr),
        ));
    }
    // Whether the preflight passes is not the subject here; that it answers is.
    for output in ["json", "table"] {
        let dry = strait_cli(
            &[
                "failover",
                "--from",
                "S",
                "--to",
                "T",
                "--dry-run",
                "--config",
                &config_arg,
                "--output",
                output,
            ],
            Duration::from_secs(120),
        );
        assert!(
            dry.code.is_some() && dry.stdout.contains("target-reachable"),
            "failover --dry-run --output {output} did not answer: {}{}",
            dry.stdout,
            dry.stderr
        );
        outputs.push((
            format!("failover --dry-run --output {output}"),
            format!("{}{}", dry.stdout, dry.stderr),
        ));
    }

    let addr = strait.http_addr();
    let auth = format!("Authorization: Bearer {token}");
    for route in ["metrics", "status", "healthz", "readyz"] {
        let url = format!("http://{addr}/{route}");
        let with = curl(&url, &["-H", &auth]);
        assert_eq!(with.exit, 0, "{route}");
        outputs.push((format!("/{route}"), with.body));
        let without = curl(&url, &["-H", "Authorization: Bearer wrong", "-i"]);
        outputs.push((format!("/{route} with a wrong token"), without.body));
    }

    strait.sigterm();
    strait.wait_exit(Duration::from_secs(60));
    let log = strait.log_contents();
    assert!(
        log.contains("librdkafka"),
        "librdkafka's debug lines reached the log"
    );
    eprintln!(
        "[secrets] strait's log: {} lines, {} bytes; {} command outputs and answers",
        log.lines().count(),
        log.len(),
        outputs.len()
    );
    outputs.push(("strait's log".into(), log));
    let found: Vec<String> = outputs
        .iter()
        .flat_map(|(place, text)| {
            leaked(text, &markers)
                .into_iter()
                .map(move |what| format!("{what} in {place}"))
        })
        .collect();
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
}

#[test]
fn base64_is_standard_without_padding() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg");
    assert_eq!(base64(b"fo"), "Zm8");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}
