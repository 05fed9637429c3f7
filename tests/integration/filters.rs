//! Which source topics strait replicates: include/exclude regexes (full match, excludes win),
//! internal topics and replication cycles never.
//!
//! "Never appears" cannot be observed directly, so each test creates a marker topic *after* the
//! topics that must not be replicated, and checks the target only once the marker has arrived:
//! by then strait has listed the source topics at least once after they all existed.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(60);

fn create_with_record(bootstrap: &str, topic: &str) {
    create_topic(bootstrap, topic, 1, &[]);
    produce(bootstrap, topic, &[OutRecord::to_partition(0, topic)]);
}

fn wait_for_record(bootstrap: &str, topic: &str) {
    TopicReader::new(bootstrap, topic).wait_for_count(1, ARRIVAL);
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// (b) Included topics are replicated; excluded ones, ones the include list does not fully
/// match, never appear on the target.
#[test]
fn include_and_exclude_filters() {
    let (a, b) = shared_clusters();
    let p = unique_name("filters");
    let included = [format!("{p}-in-1"), format!("{p}-in-2")];
    let not_replicated = [
        format!("{p}-in-skip-1"), // matches the include list, but also the exclude list
        format!("{p}-other"),     // not included
        format!("x{p}-in-1"),     // contains an include match, but is no full match
    ];
    for t in included.iter().chain(&not_replicated) {
        create_with_record(&a.bootstrap(), t);
    }

    let config = StraitConfig::one_way(
        a,
        b,
        MirrorConfig::a_to_b(&[&format!("{p}-in-.*"), &format!("{p}-marker")])
            .topics_exclude(&[&format!("{p}-in-skip.*")]),
    );
    let mut strait = StraitProcess::start(&config);
    for t in &included {
        wait_for_record(&b.bootstrap(), &format!("A.{t}"));
    }
    let marker = format!("{p}-marker");
    create_with_record(&a.bootstrap(), &marker);
    wait_for_record(&b.bootstrap(), &format!("A.{marker}"));
    strait.assert_running();

    let on_target = topics_containing(&b.bootstrap(), &p);
    let want = set(&[
        &format!("A.{}", included[0]),
        &format!("A.{}", included[1]),
        &format!("A.{marker}"),
    ]);
    assert_eq!(on_target, want, "topics on B for prefix {p}");
}

/// (c) Internal topics (`__x`, `x.internal`, `x-internal`) and topics that came from the target
/// (`B.<topic>`: replicating it back would be a cycle) are never replicated, even when the
/// include list matches them.
#[test]
fn internal_and_cycle_topics_are_never_replicated() {
    let (a, b) = shared_clusters();
    let p = unique_name("internal");
    let normal = format!("{p}-t");
    let never = [
        format!("__{p}-x"),
        format!("{p}-x.internal"),
        format!("{p}-x-internal"),
        format!("B.{p}-t"),
    ];
    create_with_record(&a.bootstrap(), &normal);
    for t in &never {
        create_with_record(&a.bootstrap(), t);
    }

    let mut strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&format!(".*{p}.*")]));
    wait_for_record(&b.bootstrap(), &format!("A.{normal}"));
    let marker = format!("{p}-marker");
    create_with_record(&a.bootstrap(), &marker);
    wait_for_record(&b.bootstrap(), &format!("A.{marker}"));
    strait.assert_running();

    let on_target = topics_containing(&b.bootstrap(), &p);
    let want = set(&[&format!("A.{normal}"), &format!("A.{marker}")]);
    assert_eq!(on_target, want, "topics on B for prefix {p}");
}
