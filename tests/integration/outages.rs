//! Outages on real clusters: a target that is down for longer than a minute is waited out (the
//! record loop stays alive, so `/healthz` stays healthy and the shipped liveness probe never
//! restarts strait; `/readyz` says the mirror is not ready and why), and replication resumes by
//! itself when the target returns, with every record copied in order.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(120);
/// Longer than the wedge threshold of `/healthz` (60 s without a turn of the record loop).
const OUTAGE: Duration = Duration::from_secs(70);

fn value(partition: i32, i: usize) -> String {
    format!("{partition}:{i:06}")
}

#[test]
fn a_target_outage_longer_than_a_minute_is_waited_out_alive_but_not_ready() {
    const PARTITIONS: i32 = 2;
    const BEFORE: usize = 100;
    const DURING: usize = 3_000;
    let (a, _) = shared_clusters();
    let [target] = clusters(["outage-B"]);
    let topic = unique_name("outage");
    create_topic(&a.bootstrap(), &topic, PARTITIONS, &[]);
    let batch = |from: usize, to: usize| -> Vec<OutRecord> {
        (from..to)
            .flat_map(|i| (0..PARTITIONS).map(move |p| OutRecord::to_partition(p, value(p, i))))
            .collect()
    };
    produce(&a.bootstrap(), &topic, &batch(0, BEFORE));

    // A small producer queue, so that the outage fills it within seconds.
    let config = StraitConfig::new()
        .cluster("A", ClusterConfig::of(a))
        .cluster(
            "B",
            ClusterConfig::of(&target).producer("queue.buffering.max.messages", 500),
        )
        .mirror(
            MirrorConfig::a_to_b(&[&topic])
                .emit_heartbeats_interval("1s")
                .emit_checkpoints(false),
        );
    let strait = StraitProcess::start(&config);
    let addr = strait.http_addr();
    let remote = format!("A.{topic}");
    let mut reader = TopicReader::new(&target.bootstrap(), &remote);
    reader.wait_for_count(BEFORE * PARTITIONS as usize, ARRIVAL);
    wait_until(ARRIVAL, "/readyz ready before the outage", || {
        curl(&format!("http://{addr}/readyz"), &[]).status == 200
    });
    drop(reader);

    target.stop();
    let down = Instant::now();
    produce(&a.bootstrap(), &topic, &batch(BEFORE, BEFORE + DURING));
    wait_until(ARRIVAL, "the record loop waiting for the target", || {
        strait
            .log_contents()
            .contains("the target has not taken records for a while")
    });
    let not_ready = wait_for(ARRIVAL, "/readyz not ready during the outage", || {
        let r = curl(&format!("http://{addr}/readyz"), &[]);
        (r.status == 503).then_some(r.body)
    });
    assert!(
        not_ready.contains("target"),
        "/readyz should say the target is the problem: {not_ready}"
    );
    // Alive all along: sampled every second for longer than the wedge threshold.
    let mut samples = 0;
    while down.elapsed() < OUTAGE {
        let r = curl(&format!("http://{addr}/healthz"), &[]);
        assert_eq!(
            r.status,
            200,
            "/healthz after {:?} of target outage: {}",
            down.elapsed(),
            r.body
        );
        samples += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(samples >= 30, "only {samples} /healthz samples");
    let status = get_ok(&addr, "/status");
    assert!(
        status.contains("nothing is dropped") || status.contains("does not answer"),
        "/status should say the mirror waits for the target: {status}"
    );

    target.restart();
    let mut reader = TopicReader::new(&target.bootstrap(), &remote);
    let want = (BEFORE + DURING) * PARTITIONS as usize;
    reader.wait_until(ARRIVAL, "every record after the outage", |rs| {
        rs.iter().map(Rec::value_str).collect::<BTreeSet<_>>().len() >= want
    });
    wait_until(ARRIVAL, "/readyz ready again", || {
        curl(&format!("http://{addr}/readyz"), &[]).status == 200
    });
    // Per partition: the source order of first copies, nothing lost or altered.
    let mut duplicates = 0;
    for (p, got) in by_partition(reader.records()) {
        let mut seen = BTreeSet::new();
        let firsts: Vec<String> = got
            .iter()
            .map(|r| r.value_str())
            .filter(|v| seen.insert(v.clone()))
            .collect();
        duplicates += got.len() - firsts.len();
        let want: Vec<String> = (0..BEFORE + DURING).map(|i| value(p, i)).collect();
        assert_eq!(firsts, want, "partition {p}");
    }
    println!("target outage of {OUTAGE:?}: 0 lost, {duplicates} duplicates");
    assert!(
        !strait.log_contents().contains("mirror failed"),
        "the outage restarted the mirror:\n{}",
        strait.log_contents()
    );
}
