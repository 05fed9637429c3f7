//! Progress survives restarts: after kill -9 nothing is lost (duplicates allowed, order kept),
//! after SIGTERM nothing is lost and nothing is copied twice.
//!
//! Each test streams 200,000 records over 8 partitions into the source while strait copies
//! them, interrupts strait in the middle, restarts it, and compares the target with the source
//! record by record. A record's value encodes its partition and source offset.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;

const PARTITIONS: i32 = 8;
const TOTAL: usize = 200_000;
const PER_PARTITION: usize = TOTAL / PARTITIONS as usize;
/// Records produced before strait starts; the rest is streamed while it runs.
const PRELOAD_PER_PARTITION: usize = 5_000;
/// Records per partition and produce call while streaming.
const CHUNK_PER_PARTITION: usize = 500;
/// Pause between streamed chunks: paces the source at roughly 40,000 records/s so the stream is
/// still going when strait is interrupted.
const CHUNK_PAUSE: Duration = Duration::from_millis(100);
/// Interrupt strait once this many records are on the target.
const INTERRUPT_AT: usize = 40_000;
const ALL_ARRIVE: Duration = Duration::from_secs(240);

fn value(partition: i32, offset: usize) -> String {
    format!("{partition}:{offset:08}")
}

/// Produces offsets `from..to` of every partition; asserts each record landed at the offset
/// its value names.
fn produce_range(bootstrap: &str, topic: &str, from: usize, to: usize) {
    let records: Vec<OutRecord> = (from..to)
        .flat_map(|o| (0..PARTITIONS).map(move |p| OutRecord::to_partition(p, value(p, o))))
        .collect();
    let delivered = produce(bootstrap, topic, &records);
    for (r, (p, off)) in records.iter().zip(delivered) {
        let want = String::from_utf8(r.value.clone().unwrap()).unwrap();
        assert_eq!(
            value(p, off as usize),
            want,
            "source record landed at an unexpected offset"
        );
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Interrupt {
    Kill9,
    Sigterm,
}

/// Streams [`TOTAL`] records through strait, interrupts it at [`INTERRUPT_AT`] records on the
/// target, restarts it, and returns the number of duplicates (and of records on the target at
/// the interruption) after checking that every
/// partition, with duplicates removed (keeping the first copy), equals the source sequence.
fn stream_interrupt_restart(test: &str, interrupt: Interrupt) -> (usize, usize) {
    let (a, b) = shared_clusters();
    let topic = unique_name(test);
    let remote = format!("A.{topic}");
    create_topic(&a.bootstrap(), &topic, PARTITIONS, &[]);
    produce_range(&a.bootstrap(), &topic, 0, PRELOAD_PER_PARTITION);

    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic]));
    let streaming_done = Arc::new(AtomicBool::new(false));
    let streamer = {
        let (bootstrap, topic, done) = (a.bootstrap(), topic.clone(), streaming_done.clone());
        std::thread::spawn(move || {
            let mut from = PRELOAD_PER_PARTITION;
            while from < PER_PARTITION {
                let to = (from + CHUNK_PER_PARTITION).min(PER_PARTITION);
                produce_range(&bootstrap, &topic, from, to);
                from = to;
                std::thread::sleep(CHUNK_PAUSE);
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    let mut target = TopicReader::new(&b.bootstrap(), &remote);
    target.wait_for_count(INTERRUPT_AT, ALL_ARRIVE);
    let started = Instant::now();
    let stopped_with = match interrupt {
        Interrupt::Kill9 => {
            // Kill only once strait has persisted a position for this topic, so that the
            // restart exercises resuming from stored progress (not just a copy from zero).
            wait_for_stored_position(b, &topic);
            strait.kill9();
            None
        }
        Interrupt::Sigterm => {
            strait.sigterm();
            Some(strait.wait_exit(Duration::from_secs(40)))
        }
    };
    let source_was_streaming = !streaming_done.load(Ordering::SeqCst);
    // Everything strait wrote before it went away (kill -9: whatever the broker had acked).
    target.read_to_end(ALL_ARRIVE);
    let on_target_when_stopped = target.records().len();
    eprintln!(
        "{test}: {interrupt:?} with {on_target_when_stopped} of {TOTAL} records on the target \
         (source still streaming: {source_was_streaming}), stop took {:.2}s",
        started.elapsed().as_secs_f64()
    );
    if let Some(status) = stopped_with {
        assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    }
    assert!(
        on_target_when_stopped < TOTAL,
        "strait had copied everything before it was interrupted: the test did not interrupt a stream"
    );

    strait.restart();
    streamer.join().expect("source producer thread");
    let restarted = Instant::now();
    target.wait_until(ALL_ARRIVE, "every source record on the target", |records| {
        records.len() >= TOTAL && unique_values(records) >= TOTAL
    });
    eprintln!(
        "{test}: all records arrived {:.2}s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    // Stop cleanly before the final read, so that nothing is still in flight.
    strait.sigterm();
    let status = strait.wait_exit(Duration::from_secs(40));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after the final SIGTERM"
    );
    target.read_to_end(ALL_ARRIVE);

    let mut duplicates = 0;
    for (p, records) in by_partition(target.records()) {
        let mut seen = HashSet::new();
        let mut first_copies = Vec::with_capacity(PER_PARTITION);
        for r in records {
            let v = r.value_str();
            if seen.insert(v.clone()) {
                first_copies.push(v);
            } else {
                duplicates += 1;
            }
        }
        let want: Vec<String> = (0..PER_PARTITION).map(|o| value(p, o)).collect();
        if first_copies != want {
            let at = first_copies.iter().zip(&want).position(|(g, w)| g != w);
            panic!(
                "partition {p}: {} distinct records, {} expected; first difference at index {at:?}",
                first_copies.len(),
                want.len()
            );
        }
    }
    assert_eq!(
        partition_count(&b.bootstrap(), &remote),
        Some(PARTITIONS as usize),
        "partition count of {remote}"
    );
    eprintln!("{test}: {duplicates} duplicates after {interrupt:?} and restart");
    (duplicates, on_target_when_stopped)
}

/// Waits until strait's progress topic on the target holds a position > 0 for `topic`.
fn wait_for_stored_position(b: &KafkaCluster, topic: &str) {
    let mut progress = TopicReader::new(&b.bootstrap(), "strait-offsets.A.internal");
    let needle = format!("\"topic\":\"{topic}\"");
    progress.wait_until(ALL_ARRIVE, "a stored position for the topic", |records| {
        records.iter().any(|r| {
            let key = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned();
            key.contains(&needle) && !r.value_str().contains("\"next_offset\":0}")
        })
    });
}

fn unique_values(records: &[Rec]) -> usize {
    records
        .iter()
        .map(|r| r.value.as_deref())
        .collect::<HashSet<_>>()
        .len()
}

/// (f) kill -9 in the middle of a stream: after the restart every source record is on the
/// target, in source order per partition; duplicates are allowed (at-least-once) and counted.
#[test]
fn kill9_mid_stream_loses_nothing() {
    let (duplicates, copied_before_kill) = stream_interrupt_restart("kill9", Interrupt::Kill9);
    eprintln!("kill -9: {duplicates} duplicate records ({copied_before_kill} were on the target at the kill)");
    assert!(
        duplicates < copied_before_kill,
        "the restart copied everything again: the stored position was not used"
    );
}

/// (g) SIGTERM in the middle of a stream: strait drains, persists its progress and exits 0;
/// after the restart every record is on the target exactly once.
#[test]
fn sigterm_mid_stream_no_duplicates() {
    let (duplicates, _) = stream_interrupt_restart("sigterm", Interrupt::Sigterm);
    assert_eq!(duplicates, 0, "records copied twice after a graceful stop");
}
