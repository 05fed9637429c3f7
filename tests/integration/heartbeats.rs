//! Heartbeats (issue: offset syncs, checkpoints and heartbeats): MM2-format records in
//! `heartbeats` on each target, replicated onward as `<alias>.heartbeats`, never back to where
//! they came from.

use std::time::{Duration, Instant};

use ::strait::records::Heartbeat;

use crate::harness::*;

const DEADLINE: Duration = Duration::from_secs(90);

fn decode(r: &Rec) -> Heartbeat {
    Heartbeat::decode(
        r.key.as_deref().expect("heartbeat key"),
        r.value.as_deref().expect("heartbeat value"),
    )
    .expect("a heartbeat record")
}

/// A→B and B→A with heartbeats every 300 ms: each target gets `heartbeats` records keyed by its
/// own flow, stamped with the wall clock and increasing; A's heartbeats reach B as
/// `A.heartbeats`; B's heartbeats, replicated to A as `B.heartbeats`, never come back to B.
#[test]
fn heartbeats_are_emitted_and_replicated_onward_without_cycles() {
    let (a, b) = shared_clusters();
    let prefix = unique_name("hb");
    let started_ms = chrono_now_ms();
    let pattern = format!("{prefix}-.*");
    let mirror = |source: &str, target: &str| {
        MirrorConfig::new(source, target)
            .topics(&[&pattern])
            .replication_factor(1)
            .refresh_topics_interval("1s")
            .emit_heartbeats_interval("300ms")
    };
    let config = StraitConfig::pair(a, b)
        .mirror(mirror("A", "B"))
        .mirror(mirror("B", "A"));
    let strait = StraitProcess::start(&config);

    // (1) B's `heartbeats` holds at least 3 records of flow A->B, stamped within the run and
    // increasing, with the record timestamp equal to the value's (as MM2 writes them).
    let mut on_b = TopicReader::new(&b.bootstrap(), "heartbeats");
    let flow = |recs: &[Rec], src: &str, tgt: &str| -> Vec<(Heartbeat, i64)> {
        recs.iter()
            .map(|r| (decode(r), r.timestamp.to_millis().unwrap_or(-1)))
            .filter(|(h, _)| {
                h.source_alias == src && h.target_alias == tgt && h.timestamp_ms >= started_ms
            })
            .collect()
    };
    on_b.wait_until(DEADLINE, "3 heartbeats of A->B on B", |recs| {
        flow(recs, "A", "B").len() >= 3
    });
    let ab = flow(on_b.records(), "A", "B");
    let now = chrono_now_ms();
    for w in ab.windows(2) {
        assert!(
            w[0].0.timestamp_ms < w[1].0.timestamp_ms,
            "heartbeat times increase: {ab:?}"
        );
    }
    for (h, record_ts) in &ab {
        assert!(h.timestamp_ms <= now, "heartbeat from the future: {h:?}");
        assert_eq!(
            *record_ts, h.timestamp_ms,
            "record timestamp equals the heartbeat's"
        );
    }

    // (2) A's `heartbeats` (written by B->A) reach B as `A.heartbeats`, unchanged.
    let mut onward = TopicReader::new(&b.bootstrap(), "A.heartbeats");
    onward.wait_until(
        DEADLINE,
        "B->A heartbeats replicated to B as A.heartbeats",
        |recs| !flow(recs, "B", "A").is_empty(),
    );

    // (3) B's heartbeats reach A as `B.heartbeats`, and A->B never sends them back to B.
    let t0 = Instant::now();
    wait_until(DEADLINE, "B.heartbeats on A", || {
        list_topics(&a.bootstrap()).contains("B.heartbeats")
    });
    // Let at least two more refresh rounds of A->B run with `B.heartbeats` present on A; the
    // marker is fresh A->B heartbeats emitted after that point.
    let marker_ms = chrono_now_ms() + 2_500;
    on_b.wait_until(DEADLINE, "A->B heartbeats 2.5 s later", |recs| {
        flow(recs, "A", "B")
            .iter()
            .any(|(h, _)| h.timestamp_ms > marker_ms)
    });
    // B's own heartbeats back on B through A->B: `A.B.heartbeats` (or longer). Other tests'
    // mirrors, with other aliases for the same shared clusters, name their copies otherwise.
    let cyclic: Vec<String> = topics_containing(&b.bootstrap(), "heartbeats")
        .into_iter()
        .filter(|t| t.starts_with("A.B."))
        .collect();
    assert!(
        cyclic.is_empty(),
        "heartbeats went round a cycle: {cyclic:?}"
    );
    eprintln!(
        "heartbeats: {} A->B heartbeats seen; cycle check after {:.1}s",
        ab.len(),
        t0.elapsed().as_secs_f64()
    );
    drop(strait);
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}
