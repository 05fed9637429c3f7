//! Supervision and shutdown on real clusters: a panic in the record path (a failpoint of the
//! test build) restarts the mirror and every record still arrives, in order; `shutdown_timeout`
//! bounds a SIGTERM during start-up and while the target is down; a second signal exits at once.

use std::collections::HashSet;
use std::net::TcpListener;
use std::time::Duration;

use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(120);
/// What the process may take beyond `shutdown_timeout` to exit (the deadline thread wakes on
/// time; the rest is process exit on a busy two-core machine).
const EXIT_MARGIN: Duration = Duration::from_millis(2500);

fn value(partition: i32, offset: usize) -> String {
    format!("{partition}:{offset:06}")
}

/// A local port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("pick a free port")
}

#[test]
fn a_panic_in_the_record_path_restarts_the_mirror_and_every_record_arrives_in_order() {
    const PARTITIONS: i32 = 4;
    const PER_PARTITION: usize = 2_000;
    let (a, b) = shared_clusters();
    let topic = unique_name("panic");
    create_topic(&a.bootstrap(), &topic, PARTITIONS, &[]);
    let records: Vec<OutRecord> = (0..PER_PARTITION)
        .flat_map(|o| (0..PARTITIONS).map(move |p| OutRecord::to_partition(p, value(p, o))))
        .collect();
    produce(&a.bootstrap(), &topic, &records);

    // The record path panics once, in the middle of the stream (after 3,000 of 8,000 records).
    let strait = StraitProcess::launch(&StraitConfig::a_to_b(a, b, &[&topic]))
        .env("STRAIT_FAILPOINT", "record-path-panic-after:3000")
        .start();
    let addr = strait.http_addr();
    let mut target = TopicReader::new(&b.bootstrap(), &format!("A.{topic}"));
    target.wait_until(ARRIVAL, "every source record on the target", |rs| {
        rs.iter().map(Rec::value_str).collect::<HashSet<_>>().len()
            >= PER_PARTITION * PARTITIONS as usize
    });

    let log = strait.log_contents();
    assert!(
        log.contains("failpoint record-path-panic-after:3000"),
        "the failpoint did not fire:\n{log}"
    );
    let failed = log
        .lines()
        .filter(|l| l.contains("mirror failed; stopping its tasks and restarting it"))
        .collect::<Vec<_>>();
    assert_eq!(failed.len(), 1, "one failure and restart: {failed:?}");
    assert!(
        failed[0].contains("panicked") && failed[0].contains("mirror=A->B"),
        "{}",
        failed[0]
    );
    let metrics = wait_for(ARRIVAL, "the mirror up again after its restart", || {
        let text = get_ok(&addr, "/metrics");
        (sample(&text, "strait_mirror_up", &[("mirror", "A->B")]) == Some(1.0)).then_some(text)
    });
    assert_eq!(
        sample(
            &metrics,
            "strait_mirror_restarts_total",
            &[("mirror", "A->B")]
        ),
        Some(1.0)
    );

    // Per partition: the source sequence, except that records after the restart's starting
    // point may come twice (copied before the panic, then again): at-least-once, never out of
    // order, nothing lost.
    for (p, got) in by_partition(target.records()) {
        let got: Vec<String> = got.iter().map(|r| r.value_str()).collect();
        let want: Vec<String> = (0..PER_PARTITION).map(|o| value(p, o)).collect();
        let resumed_at = got
            .windows(2)
            .position(|w| w[1] <= w[0])
            .map_or(got.len(), |i| i + 1);
        let (before, after) = got.split_at(resumed_at);
        assert_eq!(
            before,
            &want[..before.len()],
            "partition {p}: before the panic"
        );
        let from = want
            .iter()
            .position(|w| after.first() == Some(w))
            .unwrap_or(want.len());
        assert!(
            from <= before.len(),
            "partition {p}: the restart skipped records {}..{from}",
            before.len()
        );
        assert_eq!(after, &want[from..], "partition {p}: after the restart");
    }
}

#[test]
fn shutdown_timeout_bounds_a_sigterm_during_start_up() {
    let (a, _) = shared_clusters();
    let topic = unique_name("startup");
    // A target nothing answers: the mirror waits in its start-up (creating its internal topics
    // would wait for the admin request timeout, 30 s).
    let target = ClusterConfig::new(&format!("127.0.0.1:{}", closed_port()));
    let config = StraitConfig::pair(a, a)
        .cluster("B", target)
        .mirror(MirrorConfig::a_to_b(&[&topic]))
        .shutdown_timeout("4s");
    let mut strait = StraitProcess::start(&config);
    wait_until(ARRIVAL, "strait running its mirror", || {
        strait.log_contents().contains("strait running")
    });
    strait.sigterm();
    let exited = strait.wait_exit(Duration::from_secs(60));
    let took = exited.since_last_signal.expect("a signal was sent");
    assert_eq!(exited.code(), Some(0), "{exited}");
    assert!(
        took <= Duration::from_secs(4) + EXIT_MARGIN,
        "SIGTERM during start-up took {took:?} with shutdown_timeout 4s"
    );
}

#[test]
fn shutdown_timeout_bounds_a_drain_towards_a_dead_target_and_a_second_signal_aborts() {
    let (a, _) = shared_clusters();
    let [target] = clusters(["shutdown-B"]);
    let topics = [unique_name("drain"), unique_name("abort")];
    for t in &topics {
        create_topic(&a.bootstrap(), t, 1, &[]);
        produce(
            &a.bootstrap(),
            t,
            &[OutRecord::to_partition(0, "before the outage")],
        );
    }
    // One process bounded at 4 s, one at 120 s (so that only a second signal ends it soon).
    let mut bounded = StraitProcess::start(
        &StraitConfig::a_to_b(a, &target, &[&topics[0]]).shutdown_timeout("4s"),
    );
    let mut patient = StraitProcess::start(
        &StraitConfig::a_to_b(a, &target, &[&topics[1]]).shutdown_timeout("120s"),
    );
    for t in &topics {
        TopicReader::new(&target.bootstrap(), &format!("A.{t}")).wait_for_count(1, ARRIVAL);
    }

    target.kill();
    for t in &topics {
        let more: Vec<OutRecord> = (0..100)
            .map(|i| OutRecord::to_partition(0, format!("during the outage {i}")))
            .collect();
        produce(&a.bootstrap(), t, &more);
    }
    // Both hold records they cannot deliver: their producers' queues are not empty.
    for (strait, t) in [(&bounded, &topics[0]), (&patient, &topics[1])] {
        let addr = strait.http_addr();
        wait_until(ARRIVAL, &format!("records of {t} in flight"), || {
            let text = get_ok(&addr, "/metrics");
            sample(
                &text,
                "strait_client_queue_messages",
                &[("client", "A->B|producer")],
            )
            .is_some_and(|n| n > 0.0)
        });
    }

    bounded.sigterm();
    let exited = bounded.wait_exit(Duration::from_secs(60));
    let took = exited.since_last_signal.expect("a signal was sent");
    assert_eq!(exited.code(), Some(0), "{exited}");
    assert!(
        took <= Duration::from_secs(4) + EXIT_MARGIN,
        "SIGTERM with a dead target took {took:?} with shutdown_timeout 4s"
    );
    let log = bounded.log_contents();
    assert!(
        log.contains("records in flight; they will be copied again on restart")
            || log.contains("shutdown_timeout reached"),
        "the deadline was not said:\n{log}"
    );
    // librdkafka's own lines name the mirror too (its span), here the producer's complaints
    // about the dead target.
    assert!(
        log.lines()
            .any(|l| l.contains("librdkafka") && l.contains("mirror=A->B")),
        "no librdkafka line names the mirror:\n{log}"
    );

    patient.sigterm();
    wait_until(ARRIVAL, "the patient process draining", || {
        patient
            .log_contents()
            .contains("shutting down: draining in-flight records")
    });
    patient.sigterm();
    let exited = patient.wait_exit(Duration::from_secs(30));
    let took = exited.since_last_signal.expect("a signal was sent");
    assert_eq!(exited.code(), Some(130), "{exited}");
    assert!(
        took <= EXIT_MARGIN,
        "the second signal took {took:?} to end the process"
    );
}
