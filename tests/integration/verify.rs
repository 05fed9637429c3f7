//! `strait verify` against real clusters: a clean mirror passes; a record produced into a
//! remote topic by hand, records deleted on the target (as retention does) and a record altered
//! on the target are each found exactly, by topic, partition and offsets, with exit code 7.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::dr::json_cli;
use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(90);

/// `(topic, partition)` -> the partition's report in `verify -o json`.
fn reports(out: &Value) -> BTreeMap<(String, i64), Value> {
    out["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            (
                (
                    p["topic"].as_str().unwrap().to_string(),
                    p["partition"].as_i64().unwrap(),
                ),
                p.clone(),
            )
        })
        .collect()
}

fn records(partition: i32, from: usize, n: usize) -> Vec<OutRecord> {
    (from..from + n)
        .map(|i| OutRecord {
            partition: Some(partition),
            key: Some(format!("k{i}").into_bytes()),
            value: Some(format!("value {i} of partition {partition}").into_bytes()),
            headers: vec![("trace".into(), Some(format!("t{i}").into_bytes()))],
            timestamp: None,
        })
        .collect()
}

#[test]
fn verify_finds_an_extra_a_missing_and_an_altered_record_exactly_and_passes_a_clean_mirror() {
    let (a, b) = shared_clusters();
    let suffix = unique_name("x").replace(['-', '_'], "");
    let (x, y) = (format!("V{suffix}"), format!("W{suffix}"));
    let topic = unique_name("verify");
    let other = unique_name("verify-alter");
    let (remote, remote_other) = (format!("{x}.{topic}"), format!("{x}.{other}"));
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    create_topic(&a.bootstrap(), &other, 1, &[]);
    produce(&a.bootstrap(), &topic, &records(0, 0, 50));
    produce(&a.bootstrap(), &topic, &records(1, 0, 50));
    produce(&a.bootstrap(), &other, &records(0, 0, 20));
    // A group at the start of the topic: the offset map keeps every run from there (runs no
    // group needs are dropped, and verify compares record by record where the map reaches).
    let group = unique_name("verify-group");
    commit_group_offsets(&a.bootstrap(), &group, &[(&topic, 0, 0), (&topic, 1, 0)]);
    let config = StraitConfig::new()
        .cluster(&x, ClusterConfig::of(a))
        .cluster(&y, ClusterConfig::of(b))
        .mirror(
            MirrorConfig::new(&x, &y)
                .topics(&[&topic, &other])
                .groups(&[&regex::escape(&group)])
                .emit_checkpoints_interval("500ms")
                .replication_factor(1)
                .refresh_topics_interval("1s"),
        )
        .shutdown_timeout("10s");
    let mut strait = StraitProcess::start(&config);
    let config = strait.config_path().to_path_buf();
    let copied = |want: &[(&str, i64, i64)]| {
        let out = json_cli(&config, &["status"], 0);
        want.iter().all(|(t, p, n)| {
            out["mirrors"][0]["partitions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|q| q["topic"] == *t && q["partition"] == *p && q["copied_to"] == *n)
        })
    };
    wait_until(ARRIVAL, "status: everything copied", || {
        copied(&[(&topic, 0, 50), (&topic, 1, 50), (&other, 0, 20)])
    });
    wait_until(ARRIVAL, "status: the group checkpointed", || {
        json_cli(&config, &["status"], 0)["mirrors"][0]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|g| g["group"] == group)
    });
    let mirror = format!("{x}->{y}");
    let verify = |want: i32| {
        json_cli(
            &config,
            &[
                "verify",
                "--mirror",
                &mirror,
                "--topics",
                &format!("{topic}|{other}"),
            ],
            want,
        )
    };

    // A clean mirror passes.
    let clean = verify(0);
    let r = reports(&clean);
    assert_eq!(r.len(), 3, "{clean}");
    for (key, p) in &r {
        assert_eq!(p["verdict"], "match", "{key:?}: {p}");
        assert_eq!(p["counts"]["matched"], p["counts"]["source_records"], "{p}");
        assert_eq!(p["counts"]["compared"], p["counts"]["matched"], "{p}");
    }
    assert_eq!(r[&(topic.clone(), 0)]["counts"]["matched"], 50);
    assert_eq!(clean["summary"]["differ"], 0);

    // A record produced into the remote topic by hand (target offset 50 of partition 0), then
    // 10 more source records copied after it (target offsets 51..=60).
    let hand = produce(
        &b.bootstrap(),
        &remote,
        &[OutRecord::to_partition(0, "written on the target by hand")],
    );
    assert_eq!(hand, vec![(0, 50)]);
    produce(&a.bootstrap(), &topic, &records(0, 50, 10));
    wait_until(ARRIVAL, "status: the 10 more copied", || {
        copied(&[(&topic, 0, 60)])
    });
    // Partition 1's first 10 copies deleted on the target, as retention would.
    delete_records(&b.bootstrap(), &remote, 1, 10);
    strait.sigterm();
    strait.wait_exit(Duration::from_secs(30));

    // The other topic's copy re-written by hand with record 7's value changed: same offsets,
    // keys, headers and timestamps otherwise.
    let copies = read_all(&b.bootstrap(), &remote_other, ARRIVAL);
    assert_eq!(copies.len(), 20);
    delete_topic(&b.bootstrap(), &remote_other);
    create_topic(&b.bootstrap(), &remote_other, 1, &[]);
    let rewritten: Vec<OutRecord> = copies
        .iter()
        .map(|c| OutRecord {
            partition: Some(0),
            key: c.key.clone(),
            value: if c.offset == 7 {
                Some(b"tampered".to_vec())
            } else {
                c.value.clone()
            },
            headers: c.headers.clone(),
            timestamp: c.timestamp.to_millis(),
        })
        .collect();
    produce(&b.bootstrap(), &remote_other, &rewritten);

    let found = verify(7);
    let r = reports(&found);
    let extra = &r[&(topic.clone(), 0)];
    assert_eq!(extra["verdict"], "differ", "{extra}");
    assert_eq!(
        extra["differences"],
        serde_json::json!([{"kind": "extra", "source": null, "target": [50, 50]}]),
        "{extra}"
    );
    assert_eq!(extra["counts"]["matched"], 60);
    assert_eq!(extra["target_offsets"], serde_json::json!([0, 61]));
    let missing = &r[&(topic.clone(), 1)];
    assert_eq!(
        missing["differences"],
        serde_json::json!([{"kind": "missing", "source": [0, 9], "target": [0, 9]}]),
        "{missing}"
    );
    assert_eq!(missing["counts"]["missing"], 10);
    assert_eq!(missing["counts"]["matched"], 40);
    let altered = &r[&(other.clone(), 0)];
    assert_eq!(
        altered["differences"],
        serde_json::json!([{"kind": "altered", "source": [7, 7], "target": [7, 7], "fields": ["value"]}]),
        "{altered}"
    );
    assert_eq!(altered["counts"]["matched"], 19);
    assert_eq!(found["summary"]["differ"], 3);

    // The table names each difference in words, and exits 7 too.
    let cfg = config.to_string_lossy().into_owned();
    let table = strait_cli(
        &[
            "verify",
            "--config",
            &cfg,
            "--mirror",
            &mirror,
            "--topics",
            &format!("{topic}|{other}"),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(table.code, Some(7), "{table:?}");
    assert!(
        table.stdout.contains(&format!(
            "{mirror} {topic}[0]: extra: {remote} offset 50 holds a record that is no copy"
        )),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains(&format!(
            "{mirror} {topic}[1]: missing: source offsets 0..=9 copied to {remote} offsets 0..=9"
        )),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains(&format!(
            "{mirror} {other}[0]: altered: source offset 7 and its copy {remote_other} offset 7 differ in value"
        )),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("3 partition(s) differ"),
        "{}",
        table.stdout
    );
}
