//! The command line: `strait validate` on broken files (exit 3, error names the key path),
//! `validate --connect` against live and unreachable clusters, usage errors (exit 2).

use std::net::TcpListener;
use std::time::Duration;

use crate::harness::*;

/// A valid configuration whose clusters are never contacted (no `--connect`).
fn config(mirror_body: &str) -> String {
    format!(
        "clusters:
  A: {{ bootstrap_servers: '127.0.0.1:19092' }}
  B: {{ bootstrap_servers: '127.0.0.1:29092' }}
mirrors:
  - source: A
{mirror_body}shutdown_timeout: 30s
"
    )
}

const GOOD_MIRROR: &str = "    target: B
    topics: ['orders-.*']
    topics_exclude: []
    replication_policy: { kind: default, separator: '.' }
    replication_factor: 1
    refresh_topics_interval: 2s
";

#[test]
fn validate_accepts_a_good_config() {
    let out = validate(&config(GOOD_MIRROR), false);
    assert_eq!(
        out.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
}

/// (i) Each broken file: exit code 3, and stderr names the offending key path.
#[test]
fn validate_rejects_bad_configs_with_key_path() {
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "invalid regex",
            config(&GOOD_MIRROR.replace("['orders-.*']", "['orders-(']")),
            vec!["mirrors[0].topics[0]"],
        ),
        (
            "unknown cluster alias",
            config(&GOOD_MIRROR.replace("target: B", "target: C")),
            vec!["mirrors[0].target"],
        ),
        (
            "mirror to itself",
            config(&GOOD_MIRROR.replace("target: B", "target: A")),
            vec!["mirrors[0].target"],
        ),
        (
            "unknown key",
            config(&GOOD_MIRROR.replace("topics_exclude:", "topics_exclood:")),
            vec!["mirrors[0]", "topics_exclood"],
        ),
        (
            "malformed duration",
            config(&GOOD_MIRROR.replace(
                "refresh_topics_interval: 2s",
                "refresh_topics_interval: 2 parsecs",
            )),
            vec!["mirrors[0].refresh_topics_interval"],
        ),
    ];
    let mut failures = Vec::new();
    for (case, yaml, must_mention) in &cases {
        let out = validate(yaml, false);
        let mentions_all = must_mention.iter().all(|m| out.stderr.contains(m));
        if out.code != Some(3) || !mentions_all {
            failures.push(format!(
                "{case}: exit {:?} (want 3), stderr must mention {must_mention:?}:\n{}",
                out.code, out.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn usage_errors_exit_2() {
    let out = strait_cli(&["frobnicate"], Duration::from_secs(30));
    assert_eq!(
        out.code,
        Some(2),
        "unknown subcommand; stderr: {}",
        out.stderr
    );
    let out = strait_cli(&["validate"], Duration::from_secs(30));
    assert_eq!(
        out.code,
        Some(2),
        "validate without --config; stderr: {}",
        out.stderr
    );
}

/// A line of `text` that has every one of `tokens` as a whole word (topic names contain each
/// other: `T` is part of `A.T`).
fn line_with_tokens<'a>(text: &'a str, tokens: &[&str]) -> Option<&'a str> {
    let is_topic_char = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    text.lines().find(|line| {
        let words: Vec<&str> = line.split(|c: char| !is_topic_char(c)).collect();
        tokens.iter().all(|t| words.contains(t))
    })
}

/// (j) `validate --connect` lists each source topic with its remote name or why it is excluded.
#[test]
fn validate_connect_explains_every_topic() {
    let (a, b) = shared_clusters();
    let p = unique_name("explain");
    let replicated = format!("{p}-t");
    let internal = format!("__{p}-x");
    let cycle = format!("B.{p}-t");
    let filtered = format!("{p}-ex");
    for t in [&replicated, &internal, &cycle, &filtered] {
        create_topic(&a.bootstrap(), t, 1, &[]);
    }
    let yaml = MirrorConfig::new(a, b, &[&format!(".*{p}.*")])
        .exclude(&[&filtered])
        .yaml();
    let out = validate(&yaml, true);
    assert_eq!(
        out.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );

    let remote = format!("A.{replicated}");
    let expectations: [(&str, &[&str], &str); 4] = [
        (&replicated, &[&replicated, &remote], "its remote name"),
        (&internal, &[&internal, "internal"], "\"internal topic\""),
        (&cycle, &[&cycle, "cycle"], "\"cycle\""),
        (&filtered, &[&filtered, "filter"], "\"filter\""),
    ];
    for (topic, tokens, what) in expectations {
        assert!(
            line_with_tokens(&out.stdout, tokens).is_some(),
            "no line for {topic} with {what} in the output of validate --connect:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("internal topic"),
        "reason \"internal topic\" missing:\n{}",
        out.stdout
    );
}

/// `validate --connect` with a cluster nobody listens on: exit code 4.
#[test]
fn validate_connect_unreachable_cluster_exits_4() {
    let (_, b) = shared_clusters();
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = format!(
        "clusters:
  A: {{ bootstrap_servers: '127.0.0.1:{port}' }}
  B: {{ bootstrap_servers: '{}' }}
mirrors:
  - source: A
{GOOD_MIRROR}shutdown_timeout: 30s
",
        b.bootstrap()
    );
    let out = validate(&yaml, true);
    assert_eq!(
        out.code,
        Some(4),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
}
