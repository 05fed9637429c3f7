//! Hostile and bad input (issue 14, item 10):
//!
//! - every file of `tests/bad_configs` through `strait validate`: exit 3 and exactly the
//!   problems its `# expect:` lines list, no `# secret:` value shown;
//! - garbage in the internal topics (strait's progress topic, `<alias>.checkpoints.internal`,
//!   `heartbeats`, the offset-syncs topic): strait neither crashes nor trusts it; each record is
//!   skipped, counted by reason and logged by topic, partition and offset (never its bytes), and
//!   replication, checkpoints, `status`, `translate` and a failover dry run keep their exact
//!   values;
//! - a pass-through property value librdkafka refuses never shows in the output of `validate`
//!   or `run`, nor in `/status`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ::strait::records::{Checkpoint, Heartbeat, OffsetSync};
use serde_json::Value;

use crate::harness::http::samples;
use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(90);
const CLI: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Bad configuration files through the binary

fn bad_config_files() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/bad_configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn tagged<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    let prefix = format!("# {tag}: ");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

/// `strait validate --config F` on every bad configuration: exit code 3, and stderr is exactly
/// the loader's report (header, then one line per expected problem), with no secret of the file.
#[test]
fn validate_reports_every_bad_config_exactly() {
    let files = bad_config_files();
    assert!(files.len() >= 50, "{} files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let expected = tagged(&text, "expect");
        // Relative as in the unit test: the files' own relative paths resolve against the
        // repository root, the working directory of the test.
        let relative = path.strip_prefix(repo_root()).unwrap_or(path);
        let shown = relative.to_string_lossy().into_owned();
        let out = strait_cli(&["validate", "--config", &shown], Duration::from_secs(60));
        let noun = if expected.len() == 1 {
            "problem"
        } else {
            "problems"
        };
        let mut want = format!(
            "invalid configuration in {shown}: {} {noun}",
            expected.len()
        );
        for line in &expected {
            want.push_str("\n  - ");
            want.push_str(line);
        }
        if out.code != Some(3) || out.stderr.trim_end() != want || !out.stdout.is_empty() {
            failures.push(format!(
                "{shown}: exit {:?}\n--- want stderr:\n{want}\n--- got stderr:\n{}\n--- stdout:\n{}",
                out.code, out.stderr, out.stdout
            ));
        }
        for secret in tagged(&text, "secret") {
            if out.stderr.contains(secret) || out.stdout.contains(secret) {
                failures.push(format!("{shown}: `{secret}` shown"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------------------------------------
// Garbage in the internal topics

/// One garbage record, and the reason strait must reject it for (`None`: it decodes and is
/// plausible, so it is kept, and must do no harm).
struct Garbage {
    key: Vec<u8>,
    value: Vec<u8>,
    reason: Option<&'static str>,
}

fn garbage(
    key: impl Into<Vec<u8>>,
    value: impl Into<Vec<u8>>,
    reason: Option<&'static str>,
) -> Garbage {
    Garbage {
        key: key.into(),
        value: value.into(),
        reason,
    }
}

/// Writes `records` to `topic` (keyed, partitioned by key as strait's own records are) and
/// returns each one's (partition, offset) with its reason.
fn write_garbage(
    bootstrap: &str,
    topic: &str,
    records: &[Garbage],
) -> Vec<((i32, i64), Option<&'static str>)> {
    let out: Vec<OutRecord> = records
        .iter()
        .map(|g| OutRecord {
            key: Some(g.key.clone()),
            value: Some(g.value.clone()),
            ..OutRecord::default()
        })
        .collect();
    produce(bootstrap, topic, &out)
        .into_iter()
        .zip(records.iter().map(|g| g.reason))
        .collect()
}

/// Rejections by reason.
fn by_reason(written: &[((i32, i64), Option<&'static str>)]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for (_, reason) in written {
        if let Some(r) = reason {
            *out.entry(*r).or_default() += 1;
        }
    }
    out
}

/// Whether `log` has the warning for the record at `partition`/`offset` of `topic`.
fn warned(log: &str, topic: &str, (partition, offset): (i32, i64)) -> bool {
    log.lines().any(|l| {
        l.contains("WARN")
            && l.contains("skipping a record of an internal topic")
            && l.contains(topic)
            && l.contains(&format!("partition={partition}"))
            && l.contains(&format!("offset={offset} "))
    })
}

/// Bytes that cannot look like anything: a 32767-byte string length with 20 bytes behind it.
const NOISE: &[u8] = b"\x7f\xffGARBAGE-MARKER-7341\x00\x01\x02\x03\x04\x05";
/// A marker that must never reach a log line.
const MARKER: &str = "GARBAGE-MARKER-7341";

fn json_out(config: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let config = config.to_string_lossy().into_owned();
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--config", config.as_str(), "--output", "json"]);
    let out = strait_cli(&full, CLI);
    let value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "`strait {}`: {e}\nstdout:\n{}\nstderr:\n{}",
            full.join(" "),
            out.stdout,
            out.stderr
        )
    });
    (out.code, value, out.stderr)
}

/// (partition -> to_offset) of the partitions of a translation or a group's plan.
fn to_offsets(partitions: &Value) -> BTreeMap<i64, Option<i64>> {
    partitions
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| (p["partition"].as_i64().unwrap(), p["to_offset"].as_i64()))
        .collect()
}

/// The test: strait copies a topic and checkpoints a group; it is stopped; records arrive on
/// the source; garbage goes into all four internal topics (aimed at the partitions and the
/// group in use where it decodes); the readers outside the daemon (`status`, `translate`,
/// `failover --dry-run`) give the exact values; strait starts again and copies exactly the new
/// records (nothing lost, nothing twice), counts and logs every rejected record, writes new
/// checkpoints with the exact offsets and keeps writing heartbeats and offset syncs.
#[test]
fn garbage_in_internal_topics_is_skipped_counted_and_never_trusted() {
    // Clusters of its own: the `heartbeats` topic has one name for every mirror, and garbage
    // there would reach every other test (and Kafka's formatters) on shared clusters.
    let [a, b] = clusters(["hostile-A", "hostile-B"]);
    let (a, b) = (&a, &b);
    let suffix = unique_name("h").replace(['-', '_'], "");
    let (s, t) = (format!("S{suffix}"), format!("T{suffix}"));
    let topic = unique_name("hostile");
    let remote = format!("{s}.{topic}");
    let group = unique_name("hostile-group");
    let progress_topic = format!("strait-offsets.{s}.internal");
    let checkpoints_topic = format!("{s}.checkpoints.internal");
    let syncs_topic = format!("mm2-offset-syncs.{t}.internal");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    let batch = |from: usize, to: usize| -> Vec<OutRecord> {
        (from..to)
            .flat_map(|i| (0..2).map(move |p| OutRecord::to_partition(p, format!("p{p}-{i:03}"))))
            .collect()
    };
    produce(&a.bootstrap(), &topic, &batch(0, 50));
    commit_group_offsets(&a.bootstrap(), &group, &[(&topic, 0, 20), (&topic, 1, 30)]);

    let mirror = MirrorConfig::new(&s, &t)
        .topics(&[&topic])
        .topics_exclude(&[])
        .groups(&[&group])
        .replication_factor(1)
        .refresh_topics_interval("1s")
        .emit_checkpoints_interval("500ms")
        .sync_group_offsets(false)
        .set("offset_syncs_location", "source");
    let config = StraitConfig::new()
        .cluster(&s, ClusterConfig::of(a))
        .cluster(&t, ClusterConfig::of(b))
        .mirror(mirror)
        .shutdown_timeout("10s");
    let mut strait = StraitProcess::start(&config);
    let config_path = strait.config_path().to_path_buf();
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(100, ARRIVAL);
    let ours = |recs: &[Rec]| -> BTreeMap<i32, i64> {
        recs.iter()
            .filter_map(|r| Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
            .filter(|c| c.group == group && c.topic == remote)
            .map(|c| (c.partition, c.downstream_offset))
            .collect()
    };
    let mut checkpoints = TopicReader::new(&b.bootstrap(), &checkpoints_topic);
    checkpoints.wait_until(ARRIVAL, "checkpoints at 20 and 30", |recs| {
        ours(recs) == BTreeMap::from([(0, 20), (1, 30)])
    });
    // The topic's partitions: the mirror also copies A's `heartbeats` topic once another
    // test's mirror to A has written it.
    wait_seen(ARRIVAL, "status: both partitions copied to 50", || {
        let (_, st, _) = json_out(&config_path, &["status"]);
        let parts: Vec<Value> = st["mirrors"][0]["partitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["topic"] == topic.as_str())
            .cloned()
            .collect();
        if parts.len() == 2 && parts.iter().all(|p| p["copied_to"] == 50) {
            Ok(())
        } else {
            Err(st.to_string())
        }
    });
    strait.sigterm();
    assert_eq!(strait.wait_exit(Duration::from_secs(60)).code(), Some(0));
    let stopped_ms = now_ms();

    // While strait is down: 10 more records per partition.
    produce(&a.bootstrap(), &topic, &batch(50, 60));

    // Garbage. The progress topic: the keys of the partitions in use where a key decodes.
    let key = |p: i32| format!(r#"{{"source":"{s}","topic":"{topic}","partition":{p}}}"#);
    let huge = vec![0xA5_u8; 900_000];
    let progress = write_garbage(
        &b.bootstrap(),
        &progress_topic,
        &[
            garbage(Vec::new(), b"x".to_vec(), Some("undecodable")),
            garbage(NOISE, NOISE, Some("undecodable")),
            // Trusted, the stored position of partition 0 would be librdkafka's "end": the 10
            // records written while strait was down would never be copied.
            garbage(key(0), r#"{"v":1,"next_offset":-1}"#, Some("negative")),
            // Trusted, partition 1 would copy 40..50 a second time.
            garbage(
                key(1),
                r#"{"v":1,"next_offset":40,"map":[{"u":0,"d":0,"len":50}]}"#,
                Some("inconsistent"),
            ),
            garbage(key(1), r#"{"v":1,"next_offs"#, Some("undecodable")),
            garbage(
                key(0),
                r#"{"v":9,"next_offset":0}"#,
                Some("unsupported_version"),
            ),
            garbage(
                format!(r#"{{"source":"{s}","topic":"{topic}","partition":"{MARKER}"}}"#),
                r#"{"v":1,"next_offset":0}"#,
                Some("undecodable"),
            ),
            garbage(key(1), huge.clone(), Some("undecodable")),
            // Plausible, for a partition that does not exist: kept, harmless.
            garbage(
                key(99),
                r#"{"v":1,"next_offset":9223372036854775807}"#,
                None,
            ),
        ],
    );

    // Checkpoints: the group and remote topic in use where a record decodes.
    let checkpoint = |p: i32, up: i64, down: i64| Checkpoint {
        group: group.clone(),
        topic: remote.clone(),
        partition: p,
        upstream_offset: up,
        downstream_offset: down,
        metadata: String::new(),
    };
    let encode = |c: &Checkpoint| (c.encode_key().unwrap(), c.encode_value().unwrap());
    let (k0, v0) = encode(&checkpoint(0, 20, 20));
    let mut bad_version = v0.clone();
    bad_version[..2].copy_from_slice(&(-1i16).to_be_bytes());
    let (k_max, v_max) = encode(&checkpoint(0, 25, i64::MAX));
    let (k_neg, v_neg) = encode(&checkpoint(1, 35, -5));
    let mut huge_checkpoint = vec![0u8, 0u8];
    huge_checkpoint.extend(vec![0xFF_u8; 900_000]);
    let stranger = Checkpoint {
        group: format!("{group}-stranger"),
        topic: format!("{remote}-nowhere"),
        partition: 3,
        upstream_offset: 1,
        downstream_offset: 1,
        metadata: String::new(),
    };
    let (k_stranger, v_stranger) = encode(&stranger);
    let checkpoint_garbage = write_garbage(
        &b.bootstrap(),
        &checkpoints_topic,
        &[
            garbage(Vec::new(), b"x".to_vec(), Some("undecodable")),
            garbage(NOISE, NOISE, Some("undecodable")),
            garbage(k0.clone(), v0[..10].to_vec(), Some("undecodable")),
            garbage(k0.clone(), bad_version, Some("unsupported_version")),
            // Trusted, checkpoints of partition 0 would never move again (never backwards),
            // and a failover would commit i64::MAX.
            garbage(k_max, v_max, Some("beyond_log_end")),
            garbage(k_neg, v_neg, Some("negative")),
            garbage(k0.clone(), huge_checkpoint, Some("undecodable")),
            garbage(k_stranger, v_stranger, None),
        ],
    );

    // Heartbeats (a topic all tests share): only keys of this test's aliases decode.
    let heartbeat = |ts: i64| {
        let h = Heartbeat {
            source_alias: s.clone(),
            target_alias: t.clone(),
            timestamp_ms: ts,
        };
        (h.encode_key().unwrap(), h.encode_value().unwrap())
    };
    let (hk, future) = heartbeat(i64::MAX);
    let (_, before_1970) = heartbeat(-1);
    let (_, now_value) = heartbeat(now_ms());
    let mut hb_version = now_value.clone();
    hb_version[..2].copy_from_slice(&(-2i16).to_be_bytes());
    let heartbeat_garbage = write_garbage(
        &b.bootstrap(),
        "heartbeats",
        &[
            // Trusted, the mirror would look alive for ever.
            garbage(hk.clone(), future, Some("future")),
            garbage(hk.clone(), before_1970, Some("negative")),
            garbage(hk.clone(), now_value[..5].to_vec(), Some("undecodable")),
            garbage(hk.clone(), hb_version, Some("unsupported_version")),
            garbage(format!("\x00\x05{s}"), NOISE, Some("undecodable")),
        ],
    );

    // Offset syncs (strait writes them, reads none): garbage must not stop it writing more.
    let sync = OffsetSync {
        topic: topic.clone(),
        partition: 0,
        upstream_offset: -1,
        downstream_offset: i64::MAX,
    };
    write_garbage(
        &a.bootstrap(),
        &syncs_topic,
        &[
            garbage(Vec::new(), b"x".to_vec(), None),
            garbage(NOISE, NOISE, None),
            garbage(
                sync.encode_key().unwrap(),
                sync.encode_value().unwrap(),
                None,
            ),
            garbage(sync.encode_key().unwrap(), huge.clone(), None),
        ],
    );

    // `status` before strait runs again: the positions before the garbage (50, 10 behind), and
    // the last real heartbeat's age, not 0.
    let status_started_ms = now_ms();
    let (code, st, stderr) = json_out(&config_path, &["status"]);
    assert_eq!(code, Some(0), "status: {st}\n{stderr}");
    let m = &st["mirrors"][0];
    let parts = m["partitions"].as_array().unwrap();
    // The plausible position of partition 99, which does not exist: listed, without an end.
    let ghost = parts
        .iter()
        .find(|p| p["partition"] == 99)
        .expect("partition 99");
    assert!(
        ghost["source_end"].is_null() && ghost["lag_records"].is_null(),
        "{ghost}"
    );
    // This test's topic: the mirror also copies A's heartbeat topics.
    let copied: Vec<(i64, i64, i64)> = parts
        .iter()
        .filter(|p| p["topic"] == topic.as_str() && p["partition"] != 99)
        .map(|p| {
            (
                p["partition"].as_i64().unwrap(),
                p["copied_to"].as_i64().unwrap(),
                p["lag_records"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(copied, [(0, 50, 10), (1, 50, 10)], "{m}");
    // The last real heartbeat was written before strait stopped, so at least this long ago.
    let age = m["heartbeat_age_ms"].as_i64().expect("heartbeat age");
    let at_least = status_started_ms - stopped_ms;
    assert!(
        age >= at_least,
        "heartbeat age {age} ms, but strait stopped {at_least} ms before status started: a \
         garbage heartbeat was believed"
    );
    for (topic, written) in [
        (progress_topic.as_str(), &progress),
        ("heartbeats", &heartbeat_garbage),
    ] {
        for (at, reason) in written {
            if reason.is_some() {
                assert!(
                    warned(&stderr, topic, *at),
                    "status: no warning for {topic} {at:?}:\n{stderr}"
                );
            }
        }
    }
    for (at, reason) in &checkpoint_garbage {
        // `status` reads the checkpoints of the mirror's groups: a record that decodes to
        // another group is not looked at further.
        if reason.is_some() {
            assert!(
                warned(&stderr, &checkpoints_topic, *at),
                "status: no warning for {checkpoints_topic} {at:?}:\n{stderr}"
            );
        }
    }
    assert!(
        !stderr.contains(MARKER),
        "status shows record bytes:\n{stderr}"
    );

    // translate, from the positions' offset maps and from the checkpoints: the exact offsets.
    for extra in [&[][..], &["--from-checkpoints"][..]] {
        let mut args = vec!["translate", "--group", &group, "--from", &s, "--to", &t];
        args.extend(extra);
        let (code, out, stderr) = json_out(&config_path, &args);
        assert_eq!(code, Some(0), "{args:?}: {out}\n{stderr}");
        assert_eq!(
            to_offsets(&out["partitions"]),
            BTreeMap::from([(0, Some(20)), (1, Some(30))]),
            "{args:?}: {out}"
        );
    }
    // A failover dry run (live offsets): its plan moves the group to exactly 20 and 30. It may
    // refuse to go ahead (the mirror is down and 10 records behind): the plan is shown anyway.
    let (code, dry, stderr) = json_out(
        &config_path,
        &["failover", "--from", &s, "--to", &t, "--dry-run"],
    );
    assert!(
        matches!(code, Some(0) | Some(5) | Some(6)),
        "failover: exit {code:?}: {dry}\n{stderr}"
    );
    let plan = dry["plan"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == group.as_str())
        .unwrap_or_else(|| panic!("no plan for {group}: {dry}"));
    assert_eq!(
        to_offsets(&plan["partitions"]),
        BTreeMap::from([(0, Some(20)), (1, Some(30))]),
        "{dry}"
    );

    // strait again.
    strait.restart();
    // Exactly the 10 new records per partition, once each, in order.
    target.wait_for_count(120, ARRIVAL);
    target.poll_for(Duration::from_secs(3));
    for p in 0..2 {
        let got: Vec<String> = target
            .records()
            .iter()
            .filter(|r| r.partition == p)
            .map(Rec::value_str)
            .collect();
        let want: Vec<String> = (0..60).map(|i| format!("p{p}-{i:03}")).collect();
        assert_eq!(
            got, want,
            "partition {p}: nothing lost, nothing twice, in order"
        );
    }

    // Checkpoints move on: nothing holds them back.
    commit_group_offsets(&a.bootstrap(), &group, &[(&topic, 0, 40), (&topic, 1, 55)]);
    checkpoints.wait_until(ARRIVAL, "checkpoints at 40 and 55", |recs| {
        ours(recs) == BTreeMap::from([(0, 40), (1, 55)])
    });
    // Offset syncs go on: one for a record copied after the restart.
    let mut syncs = TopicReader::new(&a.bootstrap(), &syncs_topic);
    syncs.wait_until(ARRIVAL, "an offset sync past offset 50", |recs| {
        recs.iter().any(|r| {
            let (Some(k), Some(v)) = (r.key.as_deref(), r.value.as_deref()) else {
                return false;
            };
            OffsetSync::decode(k, v).is_ok_and(|o| {
                o.topic == topic
                    && o.upstream_offset >= 50
                    && o.downstream_offset == o.upstream_offset
            })
        })
    });

    // Every rejected record was counted by reason and logged by topic, partition and offset.
    let addr = strait.http_addr();
    let metrics = get_ok(&addr, "/metrics");
    for (topic, written) in [
        (&progress_topic, &progress),
        (&checkpoints_topic, &checkpoint_garbage),
    ] {
        for (reason, n) in by_reason(written) {
            assert_eq!(
                sample(
                    &metrics,
                    "strait_internal_records_rejected_total",
                    &[("topic", topic), ("reason", reason)]
                ),
                Some(n as f64),
                "{topic} {reason}"
            );
        }
        let total: f64 = samples(
            &metrics,
            "strait_internal_records_rejected_total",
            &[("topic", topic)],
        )
        .values()
        .sum();
        assert_eq!(
            total,
            by_reason(written).values().sum::<usize>() as f64,
            "{topic}"
        );
    }
    let log = strait.log_contents();
    for (topic, written) in [
        (&progress_topic, &progress),
        (&checkpoints_topic, &checkpoint_garbage),
    ] {
        for (at, reason) in written {
            assert_eq!(warned(&log, topic, *at), reason.is_some(), "{topic} {at:?}");
        }
    }
    assert!(!log.contains(MARKER), "the log shows record bytes");

    // status: replicating, caught up, heartbeats fresh again.
    let st = wait_seen(ARRIVAL, "status: replicating and caught up", || {
        let (_, out, _) = json_out(&config_path, &["status"]);
        let m = out["mirrors"][0].clone();
        if m["state"] == "replicating" && m["lag_records"] == 0 {
            Ok(m)
        } else {
            Err(m.to_string())
        }
    });
    assert!(st["heartbeat_age_ms"].as_i64().unwrap() < 10_000, "{st}");
    strait.assert_running();
}

// ---------------------------------------------------------------------------------------------
// Secrets in values librdkafka refuses

const SECRET: &str = "Hunter2-NEVER-SHOWN-5521";

/// A private key librdkafka cannot read: `rd_kafka_conf_set` takes it, creating the client
/// fails.
fn bad_key() -> String {
    format!("-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n")
}

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret:\n{text}");
    assert!(
        !text.contains("PRIVATE KEY"),
        "{what} shows the key:\n{text}"
    );
}

/// A value refused when it is set, one refused when the client is created (for the admin
/// client, then for the record path's consumer): `validate`, `validate --connect` and `run`
/// name the property and never show the value, in their output, the log, or `/status`.
#[test]
fn a_refused_property_value_never_shows_in_output_logs_or_status() {
    let (a, b) = shared_clusters();
    let topic = unique_name("secret");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    // No offset syncs: they would live on the source, which the TLS settings make unreachable.
    let mirror = MirrorConfig::a_to_b(&[&topic]).set("emit_offset_syncs", false);
    let with_source =
        |source: ClusterConfig| StraitConfig::one_way(a, b, mirror.clone()).cluster("A", source);

    // Refused when set: at load, by key path.
    let config = with_source(ClusterConfig::of(a).producer("compression.type", SECRET));
    let out = validate(&config.to_yaml(), false);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("clusters.A.producer[\"compression.type\"]: librdkafka refuses the value"),
        "{}",
        out.stderr
    );
    assert_hidden("validate", &format!("{}{}", out.stdout, out.stderr));
    let mut run = StraitProcess::start(&config);
    assert_eq!(run.wait_exit(Duration::from_secs(60)).code(), Some(3));
    assert_hidden("run", &run.log_contents());

    // Refused when the client is created: every client of the cluster (`client`).
    let tls = |c: ClusterConfig| c.set("security", yaml_map(&[("protocol", "ssl")]));
    let config = with_source(tls(ClusterConfig::of(a)).client("ssl.key.pem", bad_key()));
    let out = validate(&config.to_yaml(), false);
    assert_eq!(
        out.code,
        Some(0),
        "librdkafka takes the value when set: {}",
        out.stderr
    );
    let out = validate(&config.to_yaml(), true);
    assert_eq!(out.code, Some(3), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("cannot create the admin client for cluster `A`"),
        "{}",
        out.stderr
    );
    assert_hidden(
        "validate --connect",
        &format!("{}{}", out.stdout, out.stderr),
    );
    let mut run = StraitProcess::start(&config);
    assert_eq!(run.wait_exit(Duration::from_secs(60)).code(), Some(1));
    let log = run.log_contents();
    assert!(
        log.contains("cannot create the admin client for cluster `A`"),
        "{log}"
    );
    assert_hidden("run", &log);

    // Only the consumers (`consumer`): strait runs, the mirror fails and is restarted.
    let config = with_source(tls(ClusterConfig::of(a)).consumer("ssl.key.pem", bad_key()));
    let strait = StraitProcess::start(&config);
    let addr = strait.http_addr();
    wait_until(ARRIVAL, "the mirror failing on its consumer", || {
        strait
            .log_contents()
            .contains("cannot create the consumer client for cluster `A`")
    });
    let status = get_ok(&addr, "/status");
    assert!(status.contains("A->B"), "{status}");
    assert_hidden("/status", &status);
    assert_hidden("/metrics", &get_ok(&addr, "/metrics"));
    assert_hidden("run", &strait.log_contents());
}
