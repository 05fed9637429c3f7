//! The disaster-recovery commands against real clusters: `status`, `translate`, `failover`
//! (planned, interrupted and re-run, with a source that is lost) and `failback`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(90);
const CLI: Duration = Duration::from_secs(120);

/// A configuration with clusters `x` and `y`, the mirror x->y over `topics` and groups
/// `groups`, and with `both` also y->x. Checkpoints every 500 ms; group offset sync off, so
/// that only the failover commands move target groups.
fn dr_config(
    (x, x_cluster): (&str, &KafkaCluster),
    (y, y_cluster): (&str, &KafkaCluster),
    topics: &[&str],
    groups: &[&str],
    both: bool,
) -> StraitConfig {
    let mirror = |s: &str, t: &str| {
        MirrorConfig::new(s, t)
            .topics(topics)
            .groups(groups)
            .replication_factor(1)
            .refresh_topics_interval("1s")
            .emit_checkpoints_interval("500ms")
            .sync_group_offsets(false)
    };
    let mut config = StraitConfig::new()
        .cluster(x, ClusterConfig::of(x_cluster))
        .cluster(y, ClusterConfig::of(y_cluster))
        .mirror(mirror(x, y));
    if both {
        config = config.mirror(mirror(y, x));
    }
    config.shutdown_timeout("10s")
}

/// The partitions of `topic` in a mirror's `strait status`: a mirror also copies its source's
/// `heartbeats` topic once another test's mirror has written one to that (shared) cluster.
fn topic_partitions(mirror: &Value, topic: &str) -> Vec<Value> {
    mirror["partitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["topic"] == topic)
        .cloned()
        .collect()
}

/// Runs a strait command on `config` and parses its JSON output; panics with stderr unless the
/// exit code is `want`.
pub(crate) fn json_cli(config: &Path, args: &[&str], want: i32) -> Value {
    let config = config.to_string_lossy().into_owned();
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--config", config.as_str(), "--output", "json"]);
    let out = strait_cli(&full, CLI);
    assert_eq!(
        out.code,
        Some(want),
        "`strait {}`: exit code; stdout:\n{}\nstderr:\n{}",
        full.join(" "),
        out.stdout,
        out.stderr
    );
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON output of `strait {}`: {e}\n{}",
            full.join(" "),
            out.stdout
        )
    })
}

/// (topic, partition) -> to_offset of a translate/plan partition list.
fn offsets_of(partitions: &Value) -> BTreeMap<(String, i64), Option<i64>> {
    partitions
        .as_array()
        .expect("partitions array")
        .iter()
        .map(|p| {
            (
                (
                    p["to_topic"].as_str().expect("to_topic").to_string(),
                    p["partition"].as_i64().expect("partition"),
                ),
                p["to_offset"].as_i64(),
            )
        })
        .collect()
}

/// The exact answer from the data: where the first source record at or after `committed`
/// landed on the target (by value), or the target's end when the group read everything.
fn expected_target_offset(source: &[Rec], target: &[Rec], partition: i32, committed: i64) -> i64 {
    match source
        .iter()
        .filter(|r| r.partition == partition && r.offset >= committed)
        .min_by_key(|r| r.offset)
    {
        Some(first) => {
            target
                .iter()
                .find(|r| r.partition == partition && r.value == first.value)
                .expect("the record on the target")
                .offset
        }
        None => target
            .iter()
            .filter(|r| r.partition == partition)
            .map(|r| r.offset + 1)
            .max()
            .unwrap_or(0),
    }
}

/// Asserts that `read` (what a group read after moving) holds, for partition `p`, exactly the
/// source records from `committed` on, in order: nothing skipped, nothing replayed. Returns how
/// many records it read that the group had read before the move (0 when the assert holds).
fn assert_resumed_exactly(
    read: &[Rec],
    source: &[Rec],
    p: i32,
    committed: i64,
    what: &str,
) -> usize {
    let got: Vec<String> = read
        .iter()
        .filter(|r| r.partition == p)
        .map(Rec::value_str)
        .collect();
    let want: Vec<String> = source
        .iter()
        .filter(|r| r.partition == p && r.offset >= committed)
        .map(Rec::value_str)
        .collect();
    let replayed = got.iter().filter(|v| !want.contains(v)).count();
    assert_eq!(
        got, want,
        "{what} partition {p}: nothing skipped, nothing replayed"
    );
    replayed
}

/// The preflight check `name` of a `failover --output json` result.
fn check_named<'v>(result: &'v Value, name: &str) -> &'v Value {
    result["plan"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("check {name} in the plan: {result}"))
}

fn group_plan<'v>(result: &'v Value, group: &str) -> &'v Value {
    result["plan"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["group"] == group)
        .unwrap_or_else(|| panic!("group {group} in the plan: {result}"))
}

/// Planned failover with both clusters up, on the shared clusters under unique aliases:
/// translate gives exactly the data's answer; status shows the mirror caught up and then the
/// lag of records produced while strait is stopped; a dry run changes nothing; a failover
/// interrupted (killed) after one of three groups finishes the same plan on re-run; a group with
/// an active member on the target is refused until it leaves; a completed failover re-run is a
/// no-op.
#[test]
fn translate_status_and_an_interrupted_failover_finish_exactly() {
    let (a, b) = shared_clusters();
    let suffix = unique_name("x").replace(['-', '_'], "");
    let (x, y) = (format!("P{suffix}"), format!("Q{suffix}"));
    let topic = unique_name("dr-planned");
    let remote = format!("{x}.{topic}");
    let base = unique_name("dr-group");
    let groups: Vec<String> = (0..3).map(|i| format!("{base}-{i}")).collect();
    let busy = format!("{base}-busy");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    let records: Vec<OutRecord> = (0..120)
        .map(|i| OutRecord::to_partition(i % 2, format!("v{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &records);
    // Different positions per group and partition (60 records per partition).
    for (i, g) in groups.iter().enumerate() {
        let i = i as i64;
        commit_group_offsets(
            &a.bootstrap(),
            g,
            &[(&topic, 0, 10 + 20 * i), (&topic, 1, 60 - 15 * i)],
        );
    }
    commit_group_offsets(&a.bootstrap(), &busy, &[(&topic, 0, 5), (&topic, 1, 5)]);

    let group_pattern = format!("{}-.*", regex::escape(&base));
    let config = dr_config((&x, a), (&y, b), &[&topic], &[&group_pattern], false)
        .http(HttpConfig::listen("127.0.0.1:0").bearer_token("dr-s3cret"));
    let mut strait = StraitProcess::start(&config);
    let config = strait.config_path().to_path_buf();
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(120, ARRIVAL);
    let source = read_all(&a.bootstrap(), &topic, ARRIVAL);

    // Positions are persisted once a second after the target acknowledged: wait until the
    // mirror reports every partition copied (what an operator checks before translating).
    wait_until(ARRIVAL, "status: every partition copied", || {
        let out = json_cli(&config, &["status"], 0);
        let parts = topic_partitions(&out["mirrors"][0], &topic);
        parts.len() == 2 && parts.iter().all(|p| p["copied_to"] == 60)
    });

    // translate: exact, and equal to the data's answer.
    for (i, g) in groups.iter().enumerate() {
        let i = i as i64;
        let out = json_cli(
            &config,
            &["translate", "--group", g, "--from", &x, "--to", &y],
            0,
        );
        let got = offsets_of(&out["partitions"]);
        for (p, committed) in [(0, 10 + 20 * i), (1, 60 - 15 * i)] {
            let want = expected_target_offset(&source, target.records(), p, committed);
            assert_eq!(
                got[&(remote.clone(), p as i64)],
                Some(want),
                "{g} partition {p}: {out}"
            );
        }
        for p in out["partitions"].as_array().unwrap() {
            assert_eq!(p["exactness"], "exact", "{p}");
        }
    }

    // translate --input: offsets kept outside Kafka (a Flink checkpoint, say), one per line in
    // both forms, and a partition no mirror copies; the same answers as the groups'.
    let input = strait.scratch().join("external-offsets.txt");
    let unknown = unique_name("never-mirrored");
    std::fs::write(
        &input,
        format!(
            "# from a savepoint\n{topic} 0 17\n{{\"topic\":\"{topic}\",\"partition\":1,\"offset\":60}}\n\
             {unknown},2,5\n"
        ),
    )
    .unwrap();
    let out = json_cli(
        &config,
        &[
            "translate",
            "--input",
            input.to_str().unwrap(),
            "--from",
            &x,
            "--to",
            &y,
        ],
        0,
    );
    let got: Vec<(String, i64, i64, Value, String)> = out["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["from_topic"].as_str().unwrap().to_string(),
                p["partition"].as_i64().unwrap(),
                p["from_offset"].as_i64().unwrap(),
                p["to_offset"].clone(),
                p["exactness"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want_at =
        |p: i32, o: i64| Value::from(expected_target_offset(&source, target.records(), p, o));
    assert_eq!(
        got,
        vec![
            (topic.clone(), 0, 17, want_at(0, 17), "exact".to_string()),
            (topic.clone(), 1, 60, want_at(1, 60), "exact".to_string()),
            (unknown.clone(), 2, 5, Value::Null, "no-data".to_string()),
        ],
        "{out}"
    );
    assert_eq!(
        out["partitions"][2]["detail"],
        format!(
            "no position of {x}->{y} for this partition: it is not replicated (or nothing of it \
             was copied yet)"
        )
    );
    // POST /translate on the running daemon: the same input, the same answer (behind the
    // bearer token); bad requests refused with what is wrong.
    let url = format!("http://{}/translate?from={x}&to={y}", strait.http_addr());
    let data = format!("@{}", input.display());
    let auth = "Authorization: Bearer dr-s3cret";
    let posted = curl(&url, &["-X", "POST", "-H", auth, "--data-binary", &data]);
    assert_eq!((posted.exit, posted.status), (0, 200), "{}", posted.body);
    let posted: Value = serde_json::from_str(&posted.body).unwrap();
    assert_eq!(posted, out, "POST /translate and translate --input differ");
    let unauthorized = curl(&url, &["-X", "POST", "--data-binary", &data]);
    assert_eq!(unauthorized.status, 401, "{}", unauthorized.body);
    let get = curl(&url, &["-H", auth]);
    assert_eq!(get.status, 405, "{}", get.body);
    let no_to = curl(
        &url.replace(&format!("&to={y}"), ""),
        &["-X", "POST", "-H", auth, "--data-binary", &data],
    );
    assert_eq!(no_to.status, 400, "{}", no_to.body);
    assert!(no_to.body.contains("both are required"), "{}", no_to.body);
    let unknown_cluster = curl(
        &url.replace(&format!("to={y}"), "to=nowhere"),
        &["-X", "POST", "-H", auth, "--data-binary", &data],
    );
    assert_eq!(unknown_cluster.status, 400, "{}", unknown_cluster.body);
    assert!(
        unknown_cluster.body.contains("no cluster `nowhere`"),
        "{}",
        unknown_cluster.body
    );
    let big = strait.scratch().join("big-offsets.txt");
    std::fs::write(&big, format!("{topic} 0 17\n").repeat(80_000)).unwrap();
    let too_large = curl(
        &url,
        &[
            "-X",
            "POST",
            "-H",
            auth,
            "--data-binary",
            &format!("@{}", big.display()),
        ],
    );
    assert_eq!(too_large.status, 413, "{}", too_large.body);
    let bad_body = curl(
        &url,
        &[
            "-X",
            "POST",
            "-H",
            auth,
            "--data-binary",
            &format!("{topic} 0\n{topic} 1 5\n"),
        ],
    );
    assert_eq!(bad_body.status, 400, "{}", bad_body.body);
    let bad_body: Value = serde_json::from_str(&bad_body.body).unwrap();
    assert_eq!(
        bad_body["error"],
        "1 problem(s) in the body, nothing translated"
    );
    assert!(
        bad_body["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("line 1: expected `topic partition offset`"),
        "{bad_body}"
    );

    // Bad input: every problem named by line, nothing translated.
    std::fs::write(&input, format!("{topic} 0\n{topic} zero 3\n{topic} 1 5\n")).unwrap();
    let cfg = config.to_string_lossy().into_owned();
    let bad = strait_cli(
        &[
            "translate",
            "--input",
            input.to_str().unwrap(),
            "--from",
            &x,
            "--to",
            &y,
            "--config",
            &cfg,
        ],
        CLI,
    );
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert_eq!(bad.stdout, "", "{bad:?}");
    assert!(
        bad.stderr.contains("2 problem(s), nothing translated")
            && bad
                .stderr
                .contains("line 1: expected `topic partition offset`")
            && bad
                .stderr
                .contains("line 2: partition `zero` is not a number"),
        "{bad:?}"
    );

    // status: caught up, heartbeats fresh.
    let st = wait_for(ARRIVAL, "status: replicating and caught up", || {
        let out = json_cli(&config, &["status"], 0);
        let m = out["mirrors"][0].clone();
        (m["state"] == "replicating" && m["lag_records"] == 0).then_some(m)
    });
    assert_eq!(st["mirror"], format!("{x}->{y}"));
    let parts = topic_partitions(&st, &topic);
    assert_eq!(parts.len(), 2, "{st}");
    for p in parts {
        assert_eq!(p["copied_to"], 60, "{p}");
        assert_eq!(p["source_end"], 60, "{p}");
        assert_eq!(p["lag_seconds"], 0.0, "{p}");
    }
    assert!(st["heartbeat_age_ms"].as_i64().unwrap() < 10_000, "{st}");
    // Checkpoints per group (their age is reported).
    let with_checkpoints: Vec<&str> = st["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    for g in groups.iter().chain([&busy]) {
        assert!(with_checkpoints.contains(&g.as_str()), "{g} in {st}");
    }

    // Stop strait, produce 7 more records to partition 0: status reports exactly that lag,
    // with the age of the oldest waiting record, and the mirror as down.
    strait.sigterm();
    strait.wait_exit(Duration::from_secs(60));
    let before = now_ms();
    produce(
        &a.bootstrap(),
        &topic,
        &(0..7)
            .map(|i| OutRecord::to_partition(0, format!("late{i}")))
            .collect::<Vec<_>>(),
    );
    let out = json_cli(&config, &["status"], 0);
    let m = &out["mirrors"][0];
    assert_eq!(m["lag_records"], 7, "{m}");
    let p0 = &topic_partitions(m, &topic)[0];
    assert_eq!(
        (p0["partition"].as_i64(), p0["lag_records"].as_i64()),
        (Some(0), Some(7))
    );
    let waited = p0["lag_seconds"].as_f64().expect("lag seconds");
    assert!(
        waited >= 0.0 && waited * 1000.0 <= (now_ms() - before + 1000) as f64,
        "lag seconds {waited}"
    );
    strait.restart();
    target.wait_for_count(127, ARRIVAL);
    let source = read_all(&a.bootstrap(), &topic, ARRIVAL);

    // A member of `busy` is active on the target.
    let member = ActiveMember::join(&b.bootstrap(), &busy, &remote);

    // Dry run: the plan, nothing changed, no journal.
    let scratch = scratch_dir("dr-planned");
    let journal = scratch.path().join("failover.journal");
    let journal_arg = journal.to_string_lossy().into_owned();
    let dry = json_cli(
        &config,
        &[
            "failover",
            "--from",
            &x,
            "--to",
            &y,
            "--dry-run",
            "--journal",
            &journal_arg,
        ],
        0,
    );
    assert_eq!(dry["result"], "dry-run");
    for c in dry["plan"]["checks"].as_array().unwrap() {
        assert_ne!(c["status"], "fail", "{c}");
    }
    assert!(!journal.exists(), "a dry run writes no journal");
    for g in &groups {
        assert_eq!(
            group_offsets(&b.bootstrap(), g, &remote, 2),
            vec![None, None]
        );
    }
    let planned: BTreeMap<String, BTreeMap<(String, i64), Option<i64>>> = groups
        .iter()
        .map(|g| (g.clone(), offsets_of(&group_plan(&dry, g)["partitions"])))
        .collect();
    for (i, g) in groups.iter().enumerate() {
        let i = i as i64;
        for (p, committed) in [(0, 10 + 20 * i), (1, 60 - 15 * i)] {
            let want = expected_target_offset(&source, target.records(), p, committed);
            assert_eq!(
                planned[g][&(remote.clone(), p as i64)],
                Some(want),
                "{g}:{p}"
            );
        }
    }

    // Interrupted: the process is killed after applying one group.
    let config_arg = config.to_string_lossy().into_owned();
    let mut child = StraitCli::new(&[
        "failover",
        "--from",
        &x,
        "--to",
        &y,
        "--journal",
        &journal_arg,
        "--config",
        &config_arg,
    ])
    .env("STRAIT_FAILPOINT", "failover-pause-after-groups:1")
    .spawn();
    wait_until(CLI, "one group applied in the journal", || {
        std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("\"event\":\"applied\""))
    });
    child.kill();
    let applied_first: Vec<&String> = groups
        .iter()
        .filter(|g| group_offsets(&b.bootstrap(), g, &remote, 2) != vec![None, None])
        .collect();
    assert_eq!(
        applied_first.len(),
        1,
        "exactly one group applied before the kill"
    );

    // Re-run: same plan, the busy group refused (exit 6), the others applied.
    let rerun = json_cli(
        &config,
        &[
            "failover",
            "--from",
            &x,
            "--to",
            &y,
            "--journal",
            &journal_arg,
        ],
        6,
    );
    assert_eq!(rerun["result"], "incomplete");
    assert_eq!(rerun["plan"]["created_ms"], {
        let first_line = std::fs::read_to_string(&journal).unwrap();
        let plan: Value = serde_json::from_str(first_line.lines().next().unwrap()).unwrap();
        plan["plan"]["created_ms"].clone()
    });
    assert_eq!(rerun["outcome"]["refused"][0][0], busy.as_str());
    assert_eq!(
        rerun["outcome"]["already_applied"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for g in &groups {
        let want: Vec<Option<i64>> = (0..2).map(|p| planned[g][&(remote.clone(), p)]).collect();
        assert_eq!(
            group_offsets(&b.bootstrap(), g, &remote, 2),
            want,
            "{g} on {y}"
        );
    }
    assert_eq!(
        group_offsets(&b.bootstrap(), &busy, &remote, 2),
        vec![None, None]
    );

    // The member leaves: the next re-run finishes the plan.
    drop(member);
    let done = wait_for(
        ARRIVAL,
        "the busy group applied once its member left",
        || {
            let config = config.to_string_lossy().into_owned();
            let out = strait_cli(
                &[
                    "failover",
                    "--from",
                    &x,
                    "--to",
                    &y,
                    "--journal",
                    &journal_arg,
                    "--config",
                    &config,
                    "--output",
                    "json",
                ],
                CLI,
            );
            (out.code == Some(0)).then(|| serde_json::from_str::<Value>(&out.stdout).unwrap())
        },
    );
    assert_eq!(done["result"], "applied");
    assert_eq!(done["outcome"]["applied"][0], busy.as_str());
    let busy_planned: Vec<Option<i64>> = (0..2)
        .map(|p| offsets_of(&group_plan(&done, &busy)["partitions"])[&(remote.clone(), p)])
        .collect();
    assert_eq!(
        group_offsets(&b.bootstrap(), &busy, &remote, 2),
        busy_planned
    );

    // Completed: a re-run changes nothing.
    let again = json_cli(
        &config,
        &[
            "failover",
            "--from",
            &x,
            "--to",
            &y,
            "--journal",
            &journal_arg,
        ],
        0,
    );
    assert_eq!(again["result"], "already-completed");

    // Each group resumes on the target exactly where it left off on the source.
    for (i, g) in groups.iter().enumerate() {
        let i = i as i64;
        let read = resume_as_group(&b.bootstrap(), g, &remote, 2, ARRIVAL);
        for (p, committed) in [(0, 10 + 20 * i), (1, 60 - 15 * i)] {
            assert_resumed_exactly(&read, &source, p, committed, g);
        }
    }
    drop(strait);
}

/// The DR drill on dedicated clusters (A's broker is killed and restarted): a group consumed
/// part of a stream on A; `failover --source-lost` is refused while A answers; A dies and the
/// same command, run once right after the kill, applies (the probe of A gets no answer, however
/// fresh the heartbeats); the group resumes on B with nothing skipped and nothing replayed;
/// producers move to B; A returns, strait copies B's new records to A, `failback` moves the
/// group back and it resumes on A, again with nothing skipped.
/// The failover preflight compares the last stable offset with the high watermark of the
/// groups' partitions on both clusters: a transaction open on the source (its records not
/// copied: strait reads read_committed) and one open on the target are each named with the
/// partition and the exact number of records they hold back; once both commit, the check
/// passes.
#[test]
fn failover_preflight_names_the_records_of_open_transactions() {
    let (a, b) = shared_clusters();
    let suffix = unique_name("x").replace(['-', '_'], "");
    let (x, y) = (format!("L{suffix}"), format!("M{suffix}"));
    let topic = unique_name("dr-lso");
    let remote = format!("{x}.{topic}");
    let group = unique_name("dr-lso-group");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    let records: Vec<OutRecord> = (0..20)
        .map(|i| OutRecord::to_partition(i % 2, format!("v{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &records);
    commit_group_offsets(&a.bootstrap(), &group, &[(&topic, 0, 4), (&topic, 1, 6)]);
    let config = dr_config(
        (&x, a),
        (&y, b),
        &[&topic],
        &[&regex::escape(&group)],
        false,
    );
    let strait = StraitProcess::start(&config);
    let config = strait.config_path().to_path_buf();
    wait_until(ARRIVAL, "status: every partition copied", || {
        let out = json_cli(&config, &["status"], 0);
        let parts = topic_partitions(&out["mirrors"][0], &topic);
        parts.len() == 2 && parts.iter().all(|p| p["copied_to"] == 10)
    });
    let dry_run = || {
        json_cli(
            &config,
            &["failover", "--from", &x, "--to", &y, "--dry-run"],
            0,
        )
    };
    let before = dry_run();
    assert_eq!(
        check_named(&before, "open-transactions")["status"],
        "pass",
        "{before}"
    );

    // 3 records in a transaction left open on the source's partition 1, 2 on the target's
    // partition 0 (a producer writing to the remote topic by hand).
    let on_source = OpenTransaction::begin(
        &a.bootstrap(),
        &topic,
        &(0..3)
            .map(|i| OutRecord::to_partition(1, format!("open-{i}")))
            .collect::<Vec<_>>(),
    );
    let on_target = OpenTransaction::begin(
        &b.bootstrap(),
        &remote,
        &(0..2)
            .map(|i| OutRecord::to_partition(0, format!("by-hand-{i}")))
            .collect::<Vec<_>>(),
    );
    let open = dry_run();
    let check = check_named(&open, "open-transactions");
    assert_eq!(check["status"], "warn", "{open}");
    assert_eq!(
        check["detail"],
        format!(
            "open transactions on the groups' 2 partition(s) on {x} and 2 on {y}: {x} {topic}[1] \
             3 record(s) past the last stable offset 10, {y} {remote}[0] 2 record(s) past the \
             last stable offset 10; the 3 record(s) on {x} are not copied until their \
             transactions commit: fail over now and whatever those transactions hold is left \
             on {x} (stop {x}'s transactional producers and let their transactions end first); \
             read_committed consumers on {y} see its 2 record(s) only once their transactions \
             commit (none if they abort)"
        ),
        "{open}"
    );
    // Nothing of the source's open transaction was copied: the remote topic's partition 1 is
    // stable (not in the check) at the 10 records copied before it (the harness reads
    // read_committed end offsets, librdkafka's default).
    assert_eq!(end_offsets(&b.bootstrap(), &remote), vec![10, 10]);

    // The coordinator writes the commit markers just after it answers the commit.
    on_source.commit();
    on_target.commit();
    wait_until(
        ARRIVAL,
        "open-transactions passes once both committed",
        || check_named(&dry_run(), "open-transactions")["status"] == "pass",
    );
}

#[test]
fn dr_drill_failover_with_the_source_lost_then_failback() {
    let [a, b] = clusters(["drill-A", "drill-B"]);
    let topic = unique_name("drill");
    let remote = format!("A.{topic}");
    let back = format!("B.{topic}");
    let group = unique_name("drill-group");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    let records: Vec<OutRecord> = (0..200)
        .map(|i| OutRecord::to_partition(i % 2, format!("a{i}")))
        .collect();
    produce(&a.bootstrap(), &topic, &records);
    let committed = [(0, 37i64), (1, 64i64)];
    commit_group_offsets(
        &a.bootstrap(),
        &group,
        &committed.map(|(p, o)| (topic.as_str(), p, o)),
    );
    let source = read_all(&a.bootstrap(), &topic, ARRIVAL);

    let config = dr_config(("A", &a), ("B", &b), &[&topic], &[&group], true);
    let strait = StraitProcess::start(&config);
    let config = strait.config_path().to_path_buf();
    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(200, ARRIVAL);
    // A checkpoint of the group's current position has reached B.
    wait_until(ARRIVAL, "checkpoints of the group's position on B", || {
        let out = json_cli(
            &config,
            &[
                "translate",
                "--group",
                &group,
                "--from",
                "A",
                "--to",
                "B",
                "--from-checkpoints",
            ],
            0,
        );
        let got: Vec<(i64, i64)> = out["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["partition"].as_i64().unwrap(),
                    p["from_offset"].as_i64().unwrap(),
                )
            })
            .collect();
        got == committed.map(|(p, o)| (p as i64, o)).to_vec()
    });

    // While A answers, --source-lost is refused (whatever the heartbeats say), and nothing
    // is changed.
    let alive = json_cli(
        &config,
        &["failover", "--from", "A", "--to", "B", "--source-lost"],
        5,
    );
    assert_eq!(alive["result"], "preflight-failed", "{alive}");
    let source_check = check_named(&alive, "source");
    assert_eq!(source_check["status"], "fail", "{source_check}");
    assert!(
        source_check["detail"]
            .as_str()
            .unwrap()
            .starts_with("A answered a metadata request in "),
        "{source_check}"
    );
    assert_eq!(
        group_offsets(&b.bootstrap(), &group, &remote, 2),
        vec![None, None],
        "a refused failover commits nothing on B"
    );

    // A dies; the operator runs the failover once, at once: the probe of A gets no answer,
    // so the fresh heartbeats do not hold it up.
    a.kill();
    let killed = Instant::now();
    let journal = strait.scratch().join("failover.journal");
    let applied = json_cli(
        &config,
        &[
            "failover",
            "--from",
            "A",
            "--to",
            "B",
            "--source-lost",
            "--journal",
            journal.to_str().unwrap(),
        ],
        0,
    );
    let applied_after = killed.elapsed();
    assert_eq!(applied["result"], "applied", "{applied}");
    let source_check = check_named(&applied, "source");
    assert_eq!(source_check["status"], "warn", "{source_check}");
    assert!(
        source_check["detail"]
            .as_str()
            .unwrap()
            .starts_with("A declared lost (--source-lost) and did not answer within 3.0s"),
        "{source_check}"
    );
    assert_eq!(check_named(&applied, "heartbeats")["status"], "pass");
    let plan = offsets_of(&group_plan(&applied, &group)["partitions"]);
    for (p, c) in committed {
        let want = expected_target_offset(&source, target.records(), p, c);
        assert_eq!(
            plan[&(remote.clone(), p as i64)],
            Some(want),
            "partition {p}: {applied}"
        );
    }

    // The group resumes on B: exactly the records after its position on A.
    let read = resume_as_group(&b.bootstrap(), &group, &remote, 2, ARRIVAL);
    let read_after = killed.elapsed();
    let mut replayed = 0;
    for (p, c) in committed {
        replayed += assert_resumed_exactly(&read, &source, p, c, "on B");
    }
    eprintln!(
        "[drill] SIGKILL of A -> failover applied {:.1}s, -> the group's {} records read on B \
         {:.1}s ({replayed} replayed)",
        applied_after.as_secs_f64(),
        read.len(),
        read_after.as_secs_f64()
    );

    // Producers move to B; the group reads part of their records there.
    create_topic(&b.bootstrap(), &topic, 1, &[]);
    let on_b: Vec<OutRecord> = (0..50)
        .map(|i| OutRecord::to_partition(0, format!("b{i}")))
        .collect();
    produce(&b.bootstrap(), &topic, &on_b);
    commit_group_offsets(&b.bootstrap(), &group, &[(&topic, 0, 20)]);

    // A returns; strait copies B's new records to A.
    a.restart();
    let mut copied_back = TopicReader::new(&a.bootstrap(), &back);
    copied_back.wait_for_count(50, ARRIVAL);
    // The runbook's step before failing back: the reverse mirror has caught up.
    wait_seen(ARRIVAL, "B->A caught up in `strait status`", || {
        let out = json_cli(&config, &["status"], 0);
        let caught_up =
            out["mirrors"].as_array().unwrap().iter().any(|m| {
                m["mirror"] == "B->A" && m["state"] == "replicating" && m["lag_records"] == 0
            });
        if caught_up {
            Ok(())
        } else {
            Err(out.to_string())
        }
    });

    let failback = json_cli(
        &config,
        &["failback", "--from", "B", "--to", "A", "--journal"]
            .into_iter()
            .chain([strait.scratch().join("failback.journal").to_str().unwrap()])
            .collect::<Vec<_>>(),
        0,
    );
    assert_eq!(failback["result"], "applied", "{failback}");
    eprintln!("[drill] failback: {failback}");
    let plan = offsets_of(&group_plan(&failback, &group)["partitions"]);
    // Everything of A's topic was read on B: back on A the group is at its end.
    assert_eq!(plan[&(topic.clone(), 0)], Some(100), "{failback}");
    assert_eq!(plan[&(topic.clone(), 1)], Some(100), "{failback}");
    let b20 = copied_back
        .records()
        .iter()
        .find(|r| r.value_str() == "b20")
        .expect("b20 on A")
        .offset;
    assert_eq!(plan[&(back.clone(), 0)], Some(b20), "{failback}");

    // On A, the group reads exactly what it had not read on B.
    let rest = resume_as_group(&a.bootstrap(), &group, &back, 1, ARRIVAL);
    let got: Vec<String> = rest.iter().map(Rec::value_str).collect();
    let want: Vec<String> = (20..50).map(|i| format!("b{i}")).collect();
    assert_eq!(got, want, "B's records on A after failback");
    assert!(resume_as_group(&a.bootstrap(), &group, &topic, 2, ARRIVAL).is_empty());
    drop(strait);
    a.destroy();
    b.destroy();
}
