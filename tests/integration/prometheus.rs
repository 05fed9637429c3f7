//! The shipped alert rules (deploy/prometheus/alerts.yml) in a real Prometheus server (Debian's
//! `prometheus` package) that scrapes a running strait: a real data gap and a real re-created
//! source topic make `StraitDataGap` and `StraitTopicRecreated` fire, with the labels and the
//! counts strait exports. The rule unit tests (alerts.test.yml) run on synthetic series; this
//! checks that the rules match what strait really exports.
//!
//! The rules are loaded as shipped: both alerts have no `for:` (a gap or a re-creation is final
//! when it is counted), so no duration needs shortening for the test.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::harness::prometheus::{free_port, prometheus_bin, PrometheusServer};
use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(60);
/// Scrapes and rule evaluations every second: an alert fires within a few seconds of the
/// counter appearing.
const ALERT: Duration = Duration::from_secs(60);

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// Deletes `topic` and creates it again (one partition), waiting for each step.
fn recreate_topic(bootstrap: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for r in block_on(admin.delete_topics(&[topic], &options)).expect("delete topic") {
        r.unwrap_or_else(|(t, e)| panic!("delete topic {t}: {e}"));
    }
    wait_until(ARRIVAL, "the topic deleted", || {
        !list_topics(bootstrap).contains(topic)
    });
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    wait_for(ARRIVAL, "the topic created again", || {
        match block_on(admin.create_topics([&new], &options))
            .expect("create topic")
            .into_iter()
            .next()
        {
            Some(Ok(_)) => Some(()),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => None,
            Some(Err((t, e))) => panic!("create topic {t}: {e}"),
            None => panic!("no result creating {topic}"),
        }
    });
    wait_until(ARRIVAL, "the topic's partition", || {
        partition_count(bootstrap, topic) == Some(1)
    });
}

fn records(prefix: &str, range: std::ops::Range<i64>) -> Vec<OutRecord> {
    range
        .map(|i| OutRecord::to_partition(0, format!("{prefix}{i:03}")))
        .collect()
}

#[test]
fn a_real_data_gap_and_a_re_created_topic_fire_the_shipped_alerts_in_prometheus() {
    let bin = prometheus_bin();
    assert!(
        std::process::Command::new(&bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "`{}` does not run: install Debian's prometheus package (`apt-get install prometheus`; \
         .ci/run does) or set PROMETHEUS to the binary",
        bin.display()
    );
    let (a, b) = shared_clusters();
    let gap = unique_name("prom-gap");
    let again = unique_name("prom-again");
    for t in [&gap, &again] {
        create_topic(&a.bootstrap(), t, 1, &[]);
        produce(&a.bootstrap(), t, &records("v", 0..100));
    }
    // A fixed port, so that Prometheus scrapes the same address after the restart.
    let http = format!("127.0.0.1:{}", free_port());
    let config = StraitConfig::a_to_b(a, b, &[&gap, &again]).http(HttpConfig::listen(&http));
    let mut strait = StraitProcess::start(&config);
    let mut gap_target = TopicReader::new(&b.bootstrap(), &format!("A.{gap}"));
    let mut again_target = TopicReader::new(&b.bootstrap(), &format!("A.{again}"));
    gap_target.wait_for_count(100, ARRIVAL);
    again_target.wait_for_count(100, ARRIVAL);
    strait.sigterm();
    assert_eq!(strait.wait_exit(ARRIVAL).code(), Some(0));

    // While strait is stopped: 50 offsets of `gap` deleted before they were copied, and
    // `again` deleted and created again.
    produce(&a.bootstrap(), &gap, &records("v", 100..200));
    delete_records(&a.bootstrap(), &gap, 0, 150);
    recreate_topic(&a.bootstrap(), &again);
    produce(&a.bootstrap(), &again, &records("new", 0..10));

    let rules = std::fs::read_to_string(repo_root().join("deploy/prometheus/alerts.yml"))
        .expect("deploy/prometheus/alerts.yml");
    let prometheus = PrometheusServer::start(&http, &rules);
    strait.restart();
    gap_target.wait_for_count(150, ARRIVAL);
    again_target.wait_for_count(110, ARRIVAL);

    let firing = wait_for(ALERT, "StraitDataGap firing in Prometheus", || {
        let alerts = prometheus.alerts("StraitDataGap", "firing");
        (!alerts.is_empty()).then_some(alerts)
    });
    assert_eq!(firing.len(), 1, "one gap, one partition: {firing:#?}");
    let labels = &firing[0]["labels"];
    assert_eq!(labels["mirror"], "A->B", "{labels}");
    assert_eq!(labels["reason"], "out_of_range", "{labels}");
    assert_eq!(labels["topic"], gap.as_str(), "{labels}");
    assert_eq!(labels["partition"], "0", "{labels}");
    assert_eq!(labels["severity"], "critical", "{labels}");
    assert_eq!(labels["job"], "strait", "{labels}");
    let description = firing[0]["annotations"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.contains(&format!("could not copy 50 source offset(s) of {gap}-0"))
            && description.contains("the source deleted them"),
        "{description}"
    );

    let recreated = wait_for(ALERT, "StraitTopicRecreated firing in Prometheus", || {
        let alerts = prometheus.alerts("StraitTopicRecreated", "firing");
        (!alerts.is_empty()).then_some(alerts)
    });
    assert_eq!(recreated.len(), 1, "{recreated:#?}");
    let labels = &recreated[0]["labels"];
    assert_eq!(labels["topic"], again.as_str(), "{labels}");
    assert_eq!(labels["mirror"], "A->B", "{labels}");
    assert_eq!(labels["severity"], "warning", "{labels}");
    assert!(prometheus.target_up(), "the scrape target is up");
    // No other partition stopped or data lost: the stopped-partition alert stays quiet.
    assert!(prometheus
        .alerts("StraitPartitionStopped", "pending")
        .is_empty());
    assert!(prometheus
        .alerts("StraitPartitionStopped", "firing")
        .is_empty());
}
