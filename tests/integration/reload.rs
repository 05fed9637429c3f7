//! SIGHUP reads the config file again and applies it while strait runs (docs/runbook.md,
//! "Changing the config of a running strait"): filters, throttles and duties are taken by the
//! running mirror without a pause, a setting that needs it starts the mirror again on its
//! stored positions (nothing lost, nothing copied twice), mirrors are added and removed, and a
//! file that does not validate changes nothing and is reported with every problem.
//!
//! On the shared plaintext pair, under cluster aliases of this test (`RA`, `RB`), so that its
//! heartbeats and remote topics are its own.

use std::time::Duration;

use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(60);

/// The forward mirror with `topics`: a topic refresh far longer than the test, so that a topic
/// that appears on the target was planned by the reload, not by a periodic refresh; the
/// provenance header always stamped, so that adding the reverse mirror changes nothing here.
fn forward(topics: &[&str]) -> MirrorConfig {
    MirrorConfig::new("RA", "RB")
        .topics(topics)
        .topics_exclude(&[])
        .policy(Policy::Default)
        .replication_factor(1)
        .refresh_topics_interval("10m")
        .emit_checkpoints(false)
        .set("provenance_header", "always")
}

fn hup(strait: &mut StraitProcess) {
    assert!(strait.signal(libc::SIGHUP), "strait has exited");
}

fn count(strait: &StraitProcess, line: &str) -> usize {
    strait.log_contents().matches(line).count()
}

/// Seconds into the day of a log line's timestamp (`2026-01-01T12:34:56.789012Z ...`).
fn log_seconds(line: &str) -> f64 {
    let time = &line[11..26];
    let parts: Vec<f64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

/// From the log line that says the mirror starts again for settings to the record path's
/// next start.
fn restart_pause(log: &str) -> f64 {
    let lines: Vec<&str> = log.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("settings read again need a new start"))
        .expect("the restart for settings logged");
    let started = lines[at..]
        .iter()
        .find(|l| l.contains("mirror=RA->RB") && l.contains("record path starting"))
        .expect("the record path started again");
    log_seconds(started) - log_seconds(lines[at])
}

fn metrics(strait: &StraitProcess) -> String {
    get_ok(&strait.http_addr(), "/metrics")
}

/// The total of `name`'s samples with `labels` (0 when there is none).
fn total(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text, name, labels).values().sum()
}

#[test]
fn sighup_applies_filters_throttles_duties_and_mirrors_without_a_restart_and_keeps_a_file_that_does_not_validate(
) {
    let (a, b) = shared_clusters();
    let p = unique_name("reload");
    let (one, two, back) = (format!("{p}-one"), format!("{p}-two"), format!("{p}-back"));
    // Written by a stream through the restart of step 3 (empty until then).
    let flow = format!("{p}-flow");
    create_topic(&a.bootstrap(), &one, 1, &[]);
    create_topic(&a.bootstrap(), &two, 1, &[]);
    create_topic(&a.bootstrap(), &flow, 2, &[]);
    create_topic(&b.bootstrap(), &back, 1, &[]);
    let records = |n: usize, tag: &str| -> Vec<OutRecord> {
        (0..n)
            .map(|i| OutRecord::to_partition(0, format!("{tag}-{i}")))
            .collect()
    };
    produce(&a.bootstrap(), &one, &records(300, "one"));
    produce(&a.bootstrap(), &two, &records(20, "two"));
    produce(&b.bootstrap(), &back, &records(5, "back"));

    let clusters = StraitConfig::new()
        .cluster("RA", ClusterConfig::of(a))
        .cluster("RB", ClusterConfig::of(b))
        .shutdown_timeout("30s");
    // At the start: `one` (and the empty `flow`), 10 records/s, no heartbeats.
    let start = clusters.clone().mirror(
        forward(&[&one, &flow])
            .throttle("100MiB", 10)
            .emit_heartbeats(false),
    );
    let mut strait = StraitProcess::start(&start);
    let remote_one = format!("RA.{one}");
    let mut on_b_one = TopicReader::new(&b.bootstrap(), &remote_one);
    on_b_one.wait_for_count(20, ARRIVAL);
    let pid = strait.pid();

    // 1. Live: `two` added to the filter, the throttle removed, heartbeats every 300 ms.
    let live = clusters.clone().mirror(
        forward(&[&one, &two, &flow])
            .emit_heartbeats(true)
            .emit_heartbeats_interval("300ms"),
    );
    strait.set_config(&live);
    let copied_before = end_offsets(&b.bootstrap(), &remote_one)[0];
    assert!(
        copied_before < 300,
        "the throttle of 10 records/s holds the copy back before the reload ({copied_before} of 300)"
    );
    hup(&mut strait);
    wait_until(ARRIVAL, "the reload applied", || {
        count(&strait, "settings read again taken by the running mirror") == 1
    });
    TopicReader::new(&b.bootstrap(), &format!("RA.{two}")).wait_for_count(20, ARRIVAL);
    on_b_one.wait_for_count(300, ARRIVAL);
    wait_until(ARRIVAL, "heartbeats of RA->RB counted", || {
        total(
            &metrics(&strait),
            "strait_heartbeats_total",
            &[("mirror", "RA->RB")],
        ) > 0.0
    });
    assert_eq!(
        count(&strait, "record path starting"),
        1,
        "filters, throttle and heartbeats are taken without a new start of the record path"
    );
    assert_eq!(strait.pid(), pid);
    let m = metrics(&strait);
    assert_eq!(
        total(&m, "strait_config_reloads_total", &[("result", "applied")]),
        1.0
    );
    assert_eq!(
        unlabeled_sample(&m, "strait_config_reload_errors"),
        Some(0.0)
    );

    // 2. A file with two problems: nothing changes, both are named with their key paths, and
    // the mirror goes on with the running config.
    let broken = clusters.clone().mirror(
        forward(&[&two, &flow])
            .set("offset_map_memory", "lots")
            .emit_heartbeats_interval("soon"),
    );
    strait.set_config(&broken);
    hup(&mut strait);
    wait_until(ARRIVAL, "the rejected file reported", || {
        count(&strait, "the config file does not validate") == 1
    });
    let log = strait.log_contents();
    for path in [
        "mirrors[0].offset_map_memory",
        "mirrors[0].emit_heartbeats_interval",
    ] {
        assert!(log.contains(path), "the problem at {path} is named:\n{log}");
    }
    let m = metrics(&strait);
    assert_eq!(
        unlabeled_sample(&m, "strait_config_reload_errors"),
        Some(2.0)
    );
    assert_eq!(
        total(&m, "strait_config_reloads_total", &[("result", "rejected")]),
        1.0
    );
    produce(&a.bootstrap(), &one, &records(10, "one-after-rejected"));
    on_b_one.wait_for_count(310, ARRIVAL);

    // 3. A setting that needs a new start of the mirror (offset_map_memory), `one` dropped from
    // the filter, the reverse mirror added, and a setting read only at start changed, while
    // records stream into `two`.
    let stream = RecordStream::start(&a.bootstrap(), &flow, 2, 200);
    let mut copy = Follower::new(&b.bootstrap(), &format!("RA.{flow}"), 2);
    copy.wait_covers(
        &stream.sent_per_partition(),
        ARRIVAL,
        "streamed records before the restart",
    );
    let both = clusters
        .clone()
        .shutdown_timeout("20s")
        .mirror(forward(&[&two, &flow]).set("offset_map_memory", "32MiB"))
        .mirror(
            MirrorConfig::new("RB", "RA")
                .topics(&[&back])
                .topics_exclude(&[])
                .policy(Policy::Default)
                .replication_factor(1)
                .emit_checkpoints(false)
                .set("provenance_header", "always"),
        );
    strait.set_config(&both);
    hup(&mut strait);
    TopicReader::new(&a.bootstrap(), &format!("RB.{back}")).wait_for_count(5, ARRIVAL);
    wait_until(ARRIVAL, "RA->RB started again and RB->RA started", || {
        count(&strait, "record path starting") == 3
    });
    assert_eq!(
        count(
            &strait,
            "settings read again need a new start of the mirror"
        ),
        1
    );
    let log = strait.log_contents();
    assert!(
        log.contains("apply only when strait starts again") && log.contains("shutdown_timeout"),
        "the change read only at start is reported:\n{log}"
    );
    assert_eq!(
        unlabeled_sample(&metrics(&strait), "strait_config_restart_pending"),
        Some(1.0)
    );
    // `one` is no longer replicated: records written now never reach the target.
    produce(&a.bootstrap(), &one, &records(10, "one-excluded"));
    copy.wait_covers(
        &stream.sent_per_partition(),
        ARRIVAL,
        "streamed records after the restart",
    );
    let summary = stream.finish();
    copy.wait_covers(&summary.per_partition, ARRIVAL, "every streamed record");
    assert_eq!(
        end_offsets(&b.bootstrap(), &remote_one),
        vec![310],
        "records written to `one` after it left the filter reached the target"
    );
    let source = read_all(&a.bootstrap(), &flow, ARRIVAL);
    // The provenance header strait stamps (`provenance_header: always`) is not the source's.
    let mut target = copy.read_to_end(Duration::from_secs(5));
    for r in &mut target {
        r.headers.retain(|(key, _)| key != "strait.provenance");
    }
    let report = check_copy(&source, &target, &summary.per_partition);
    eprintln!(
        "[reload] {} records over {:.0}s through a restart for settings ({:.2}s from the reload to the record path running again): {report:?}",
        summary.total,
        summary.duration.as_secs_f64(),
        restart_pause(&strait.log_contents())
    );
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(
        report.duplicates, 0,
        "a new start for settings stores the positions first: {report:?}"
    );

    // 4. The reverse mirror removed: it stops and leaves /status.
    strait.set_config(&clusters.clone().mirror(forward(&[&two, &flow])));
    hup(&mut strait);
    wait_until(ARRIVAL, "the removed mirror stopped", || {
        count(&strait, "mirror removed from the config file") == 1
    });
    let status = get_ok(&strait.http_addr(), "/status");
    assert!(
        status.contains("\"RA->RB\"") && !status.contains("\"RB->RA\""),
        "/status lists the running mirrors only: {status}"
    );
    assert_eq!(
        count(&strait, "record path starting"),
        3,
        "removing a mirror leaves the other running"
    );
    assert_eq!(strait.pid(), pid);
    strait.sigterm();
    assert!(strait.wait_exit(Duration::from_secs(60)).success());
}
