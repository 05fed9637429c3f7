//! The command line: `strait validate` on broken files (exit 3, error names the key path),
//! `validate --connect` against live and unreachable clusters, usage errors (exit 2).

use std::net::TcpListener;
use std::time::Duration;

use crate::harness::*;

/// The mirror of a valid configuration, before any change a test makes.
fn good_mirror() -> MirrorConfig {
    MirrorConfig::new("A", "B")
        .topics(&["orders-.*"])
        .topics_exclude(&[])
        .policy(Policy::Default)
        .replication_factor(1)
        .refresh_topics_interval("2s")
}

/// A valid configuration with `mirror`, whose clusters are never contacted (no `--connect`).
fn config_with(mirror: MirrorConfig) -> StraitConfig {
    StraitConfig::new()
        .cluster("A", ClusterConfig::new("127.0.0.1:19092"))
        .cluster("B", ClusterConfig::new("127.0.0.1:29092"))
        .mirror(mirror)
        .shutdown_timeout("30s")
}

#[test]
fn validate_accepts_a_good_config() {
    let out = validate(&config_with(good_mirror()).to_yaml(), false);
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
    let cases: Vec<(&str, MirrorConfig, Vec<&str>)> = vec![
        (
            "invalid regex",
            good_mirror().topics(&["orders-("]),
            vec!["mirrors[0].topics[0]"],
        ),
        (
            "unknown cluster alias",
            good_mirror().set("target", "C"),
            vec!["mirrors[0].target"],
        ),
        (
            "mirror to itself",
            good_mirror().set("target", "A"),
            vec!["mirrors[0].target"],
        ),
        (
            "unknown key",
            good_mirror()
                .remove("topics_exclude")
                .set("topics_exclood", Vec::<String>::new()),
            vec!["mirrors[0]", "topics_exclood"],
        ),
        (
            "malformed duration",
            good_mirror().refresh_topics_interval("2 parsecs"),
            vec!["mirrors[0].refresh_topics_interval"],
        ),
    ];
    let mut failures = Vec::new();
    for (case, mirror, must_mention) in cases {
        let out = validate(&config_with(mirror).to_yaml(), false);
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
    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&format!(".*{p}.*")]).topics_exclude(&[&filtered]),
    );
    let out = validate(&config.to_yaml(), true);
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
    let config = config_with(good_mirror())
        .cluster("A", ClusterConfig::new(&format!("127.0.0.1:{port}")))
        .cluster("B", ClusterConfig::of(b));
    let out = validate(&config.to_yaml(), true);
    assert_eq!(
        out.code,
        Some(4),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
}

/// (k) `import-mm2` on the properties a real MirrorMaker 2 runs with in these tests (the
/// harness's one-way flow between the shared clusters): exit 0 with every key mapped or not
/// needed, and the YAML it writes passes `validate --connect` against the same clusters, which
/// lists the flow's topic under MM2's remote name.
#[test]
fn import_mm2_of_the_harness_properties_validates_against_the_clusters() {
    let (a, b) = shared_clusters();
    let topic = unique_name("import");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    let properties = Mm2Properties::one_way(("A", a), ("B", b)).flow("A", "B", "topics", &topic);
    let scratch = scratch_dir("import-mm2");
    let file = scratch.path().join("mm2.properties");
    std::fs::write(&file, properties.render()).expect("write mm2.properties");
    let out = strait_cli(
        &["import-mm2", &file.to_string_lossy()],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(0), "import-mm2:\n{}", out.stderr);
    assert!(
        out.stderr.contains("0 not mapped"),
        "report:\n{}",
        out.stderr
    );
    let validated = validate(&out.stdout, true);
    assert_eq!(
        validated.code,
        Some(0),
        "validate --connect of the imported YAML:\n{}\n{}\n{}",
        out.stdout,
        validated.stdout,
        validated.stderr
    );
    assert!(
        line_with_tokens(&validated.stdout, &[&topic, &format!("A.{topic}")]).is_some(),
        "{topic} listed under its remote name:\n{}",
        validated.stdout
    );
}
