//! Active/active and ring topologies never loop: A->B plus B->A with the default policy (names
//! carry the source) and with the identity policy (the provenance header), and a three-cluster
//! identity ring. After the producers stop and every mirror has caught up, each cluster holds
//! its own records plus the others' exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(120);

/// Clusters (alias, cluster), mirrors (source index, target index), all over `topics`.
fn topology(
    clusters: &[(&str, &KafkaCluster)],
    mirrors: &[(usize, usize)],
    topics: &str,
    identity: bool,
) -> StraitConfig {
    let mut config = StraitConfig::new();
    for (alias, cluster) in clusters {
        config = config.cluster(alias, ClusterConfig::of(cluster));
    }
    for (s, t) in mirrors {
        let mut mirror = MirrorConfig::new(clusters[*s].0, clusters[*t].0)
            .topics(&[topics])
            .topics_exclude(&[".*heartbeats"])
            .replication_factor(1)
            .refresh_topics_interval("1s")
            .emit_checkpoints(false);
        if identity {
            mirror = mirror.policy(Policy::Identity);
        }
        config = config.mirror(mirror);
    }
    config
}

fn values(bootstrap: &str, topic: &str) -> Vec<String> {
    let mut v: Vec<String> = read_all(bootstrap, topic, ARRIVAL)
        .iter()
        .map(Rec::value_str)
        .collect();
    v.sort();
    v
}

fn produce_values(bootstrap: &str, topic: &str, tag: &str, n: usize) -> Vec<String> {
    let vals: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
    let recs: Vec<OutRecord> = vals
        .iter()
        .map(|v| OutRecord::to_partition(0, v.clone()))
        .collect();
    produce(bootstrap, topic, &recs);
    vals
}

/// `name{labels}` value per `mirror` label, from `/metrics`.
fn per_mirror(text: &str, name: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| {
            let mirror = l.split("mirror=\"").nth(1)?.split('"').next()?.to_string();
            Some((mirror, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// Waits until every partition of every mirror of `strait` reports zero lag and the loop-skip
/// counters equal `skipped` (per mirror name).
fn wait_settled(strait: &StraitProcess, skipped: &BTreeMap<String, f64>) {
    let url = format!("http://{}/metrics", strait.http_addr());
    wait_until(
        ARRIVAL,
        "every mirror caught up with the expected loop skips",
        || {
            let r = curl(&url, &[]);
            if r.status != 200 {
                return false;
            }
            let text = r.body;
            let lags_zero = text
                .lines()
                .filter(|l| l.starts_with("strait_replication_lag_records{"))
                .all(|l| l.ends_with(" 0"));
            let skips = per_mirror(&text, "strait_loop_records_skipped_total");
            lags_zero
                && skipped
                    .iter()
                    .all(|(m, n)| skips.get(m).copied().unwrap_or(0.0) == *n)
        },
    );
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn active_active_with_the_default_policy_does_not_loop() {
    let (a, b) = shared_clusters();
    let suffix = unique_name("aa").replace('-', "");
    let (p, q) = (format!("P{suffix}"), format!("Q{suffix}"));
    let topic = unique_name("aa-default");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    create_topic(&b.bootstrap(), &topic, 1, &[]);
    // The filter also matches remote names, so only cycle detection keeps them from returning.
    let filter = format!("(.*\\.)?{}", regex::escape(&topic));
    let config = topology(&[(&p, a), (&q, b)], &[(0, 1), (1, 0)], &filter, false);
    let strait = StraitProcess::start(&config);
    let on_a = produce_values(&a.bootstrap(), &topic, "a", 50);
    let on_b = produce_values(&b.bootstrap(), &topic, "b", 70);
    let mut from_b = TopicReader::new(&a.bootstrap(), &format!("{q}.{topic}"));
    let mut from_a = TopicReader::new(&b.bootstrap(), &format!("{p}.{topic}"));
    from_b.wait_for_count(70, ARRIVAL);
    from_a.wait_for_count(50, ARRIVAL);
    wait_settled(&strait, &BTreeMap::new());

    assert_eq!(values(&a.bootstrap(), &topic), sorted(on_a.clone()));
    assert_eq!(values(&b.bootstrap(), &topic), sorted(on_b.clone()));
    assert_eq!(
        values(&a.bootstrap(), &format!("{q}.{topic}")),
        sorted(on_b)
    );
    assert_eq!(
        values(&b.bootstrap(), &format!("{p}.{topic}")),
        sorted(on_a)
    );
    // Nothing came back renamed twice.
    for (cluster, other) in [(a, &p), (b, &q)] {
        let topics = topics_containing(&cluster.bootstrap(), &topic);
        assert_eq!(topics.len(), 2, "{topics:?}");
        assert!(
            !topics.iter().any(|t| t.starts_with(&format!("{other}."))),
            "{topics:?}"
        );
    }
    drop(strait);
}

#[test]
fn active_active_with_the_identity_policy_does_not_loop() {
    let (a, b) = shared_clusters();
    let suffix = unique_name("ai").replace('-', "");
    let (p, q) = (format!("P{suffix}"), format!("Q{suffix}"));
    let topic = unique_name("aa-identity");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    create_topic(&b.bootstrap(), &topic, 1, &[]);
    let config = topology(
        &[(&p, a), (&q, b)],
        &[(0, 1), (1, 0)],
        &regex::escape(&topic),
        true,
    );
    let strait = StraitProcess::start(&config);
    let on_a = produce_values(&a.bootstrap(), &topic, "a", 50);
    let on_b = produce_values(&b.bootstrap(), &topic, "b", 70);
    let mut all_a = TopicReader::new(&a.bootstrap(), &topic);
    let mut all_b = TopicReader::new(&b.bootstrap(), &topic);
    all_a.wait_for_count(120, ARRIVAL);
    all_b.wait_for_count(120, ARRIVAL);
    // Each mirror skips exactly the records that came from its target.
    let skipped = BTreeMap::from([(format!("{p}->{q}"), 70.0), (format!("{q}->{p}"), 50.0)]);
    wait_settled(&strait, &skipped);

    let everything = sorted(on_a.iter().chain(&on_b).cloned().collect());
    assert_eq!(
        values(&a.bootstrap(), &topic),
        everything,
        "A: own + B's, each once"
    );
    assert_eq!(
        values(&b.bootstrap(), &topic),
        everything,
        "B: own + A's, each once"
    );
    // Copies carry the provenance header naming where they came from; originals carry none.
    let on_b_recs = read_all(&b.bootstrap(), &topic, ARRIVAL);
    for r in &on_b_recs {
        let header: Vec<&(String, Option<Vec<u8>>)> = r
            .headers
            .iter()
            .filter(|(k, _)| k == "strait.provenance")
            .collect();
        if r.value_str().starts_with("a-") {
            assert_eq!(header.len(), 1, "{r:?}");
            assert_eq!(header[0].1.as_deref(), Some(p.as_bytes()));
        } else {
            assert!(header.is_empty(), "{r:?}");
        }
    }
    drop(strait);
}

#[test]
fn a_three_cluster_identity_ring_does_not_loop() {
    let (a, b) = shared_clusters();
    let c = KafkaCluster::start("ring-C");
    let suffix = unique_name("ring").replace('-', "");
    let (p, q, r) = (
        format!("P{suffix}"),
        format!("Q{suffix}"),
        format!("R{suffix}"),
    );
    let topic = unique_name("ring");
    for cluster in [a, b, &c] {
        create_topic(&cluster.bootstrap(), &topic, 1, &[]);
    }
    let config = topology(
        &[(&p, a), (&q, b), (&r, &c)],
        &[(0, 1), (1, 2), (2, 0)],
        &regex::escape(&topic),
        true,
    );
    let strait = StraitProcess::start(&config);
    let mut everything = produce_values(&a.bootstrap(), &topic, "a", 30);
    everything.extend(produce_values(&b.bootstrap(), &topic, "b", 20));
    everything.extend(produce_values(&c.bootstrap(), &topic, "c", 10));
    let everything = sorted(everything);
    for cluster in [a, b, &c] {
        TopicReader::new(&cluster.bootstrap(), &topic).wait_for_count(60, ARRIVAL);
    }
    // P->Q skips what started on Q (20, having gone Q->R->P); Q->R skips C's 10; R->P skips A's 30.
    let skipped = BTreeMap::from([
        (format!("{p}->{q}"), 20.0),
        (format!("{q}->{r}"), 10.0),
        (format!("{r}->{p}"), 30.0),
    ]);
    wait_settled(&strait, &skipped);
    for cluster in [a, b, &c] {
        assert_eq!(
            values(&cluster.bootstrap(), &topic),
            everything,
            "{}",
            cluster.name()
        );
    }
    drop(strait);
    c.destroy();
}

#[test]
fn a_cycle_without_the_provenance_header_is_refused_at_load() {
    let yaml = "clusters:\n  A: { bootstrap_servers: 'a:9092' }\n  B: { bootstrap_servers: 'b:9092' }\nmirrors:\n  - { source: A, target: B, replication_policy: { kind: identity } }\n  - { source: B, target: A, replication_policy: { kind: identity }, provenance_header: never }\n";
    let out = validate(yaml, false);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("mirrors: mirrors A->B, B->A form a cycle that renaming cannot break"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("mirrors[1]"), "{}", out.stderr);
}
