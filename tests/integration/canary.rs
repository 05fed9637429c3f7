//! The canary (`mirrors[].canary`, opt-in): probes written to a topic on the source every
//! interval, copied by the mirror, timed and counted on the target. A healthy mirror brings every
//! probe and none is late; a mirror held back by its throttle behind a backlog makes probes late
//! (the metric and the log say so), and once the throttle is lifted (SIGHUP) they arrive in time
//! again and all of them arrive.
//!
//! On the shared plaintext pair, under aliases of this test (`CA`, `CB`) and a canary topic of
//! its own.

use std::time::Duration;

use crate::harness::*;
use serde_yaml::Value;

const ARRIVAL: Duration = Duration::from_secs(60);

fn metrics(strait: &StraitProcess) -> String {
    get_ok(&strait.http_addr(), "/metrics")
}

fn value(text: &str, name: &str) -> f64 {
    sample(text, name, &[("mirror", "CA->CB")]).unwrap_or(0.0)
}

#[test]
fn canary_probes_are_timed_and_counted_and_late_ones_are_reported() {
    let (a, b) = shared_clusters();
    let p = unique_name("canary");
    let backlog = format!("{p}-backlog");
    let canary_topic = format!("{p}-canary");
    create_topic(&a.bootstrap(), &backlog, 1, &[]);
    let mirror = |throttled: bool| {
        let m = MirrorConfig::new("CA", "CB")
            .topics(&[&backlog])
            .topics_exclude(&[])
            .policy(Policy::Default)
            .replication_factor(1)
            .emit_checkpoints(false)
            .set(
                "canary",
                yaml_map(&[
                    ("enabled", Value::from(true)),
                    ("topic", Value::from(canary_topic.as_str())),
                    ("interval", Value::from("200ms")),
                    ("late_after", Value::from("2s")),
                ]),
            );
        if throttled {
            m.throttle("100MiB", 5)
        } else {
            m
        }
    };
    let config = |throttled: bool| {
        StraitConfig::new()
            .cluster("CA", ClusterConfig::of(a))
            .cluster("CB", ClusterConfig::of(b))
            .shutdown_timeout("30s")
            .mirror(mirror(throttled))
    };
    // 1. Held back: 5 records/s and a backlog of 1,000 records ahead of the probes.
    let records: Vec<OutRecord> = (0..1000)
        .map(|i| OutRecord::to_partition(0, format!("backlog-{i}")))
        .collect();
    produce(&a.bootstrap(), &backlog, &records);
    let mut strait = StraitProcess::start(&config(true));
    wait_until(ARRIVAL, "late canary probes counted", || {
        value(&metrics(&strait), "strait_canary_probes_late") > 0.0
    });
    assert!(strait.log_contents().contains("canary probes late"));

    // 2. The throttle lifted (SIGHUP): the backlog drains and the probes arrive in time again.
    strait.set_config(&config(false));
    assert!(strait.signal(libc::SIGHUP));
    TopicReader::new(&b.bootstrap(), &format!("CA.{backlog}")).wait_for_count(1000, ARRIVAL);
    wait_until(ARRIVAL, "no canary probe late", || {
        value(&metrics(&strait), "strait_canary_probes_late") == 0.0
    });

    // 3. Healthy: every probe sent from now on arrives, each timed; none is lost. The canary
    // topic is replicated although `topics` does not name it.
    let m = metrics(&strait);
    let (sent_1, arrived_1) = (
        value(&m, "strait_canary_probes_sent_total"),
        value(&m, "strait_canary_probes_arrived_total"),
    );
    wait_until(ARRIVAL, "10 more probes sent", || {
        value(&metrics(&strait), "strait_canary_probes_sent_total") >= sent_1 + 10.0
    });
    let sent_2 = value(&metrics(&strait), "strait_canary_probes_sent_total");
    wait_until(ARRIVAL, "the probes sent meanwhile arrived", || {
        value(&metrics(&strait), "strait_canary_probes_arrived_total")
            >= arrived_1 + (sent_2 - sent_1)
    });
    let m = metrics(&strait);
    assert_eq!(
        value(&m, "strait_canary_latency_seconds_count"),
        value(&m, "strait_canary_probes_arrived_total"),
        "every arrival timed"
    );
    assert_eq!(value(&m, "strait_canary_probes_late"), 0.0);
    assert_eq!(value(&m, "strait_canary_probes_lost_total"), 0.0);
    assert_eq!(value(&m, "strait_canary_send_failures_total"), 0.0);
    let remote = read_all(&b.bootstrap(), &format!("CA.{canary_topic}"), ARRIVAL);
    let probe: serde_json::Value = serde_json::from_str(&remote[0].value_str()).unwrap();
    assert_eq!(probe["mirror"], "CA->CB", "{probe}");
    assert_eq!(probe["seq"], 0, "{probe}");
    eprintln!(
        "[canary] {} probes sent, late behind the throttled backlog, in time after it; latency sum {:.2}s over {} arrivals",
        value(&m, "strait_canary_probes_sent_total"),
        value(&m, "strait_canary_latency_seconds_sum"),
        value(&m, "strait_canary_latency_seconds_count")
    );
    strait.sigterm();
    assert!(strait.wait_exit(Duration::from_secs(60)).success());
}
