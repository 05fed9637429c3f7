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

/// (c) Internal topics (`__x`, `.x`, `mm2-x.internal`, checkpoint topics) and topics that came
/// from the target (`B.<topic>`: replicating it back would be a cycle) are never replicated,
/// even when the include list matches them. Under the default `topic_rules` (MM2 of Kafka 4.0,
/// KIP-1074) "user internal" topics `x.internal` and `x-internal` are replicated; under
/// `mm2-3.9` they are not, as MM2 3.9 skipped them.
#[test]
fn internal_and_cycle_topics_are_never_replicated_by_the_rules_of_either_mm2_version() {
    let (a, b) = shared_clusters();
    for (rules, prefix) in [("mm2-4.0", "internal4"), ("mm2-3.9", "internal39")] {
        let p = unique_name(prefix);
        let normal = format!("{p}-t");
        let user_internal = [format!("{p}-x.internal"), format!("{p}-x-internal")];
        let never = [
            format!("__{p}-x"),
            format!(".{p}-x"),
            format!("mm2-{p}.internal"),
            format!("{p}.checkpoints.internal"),
            format!("B.{p}-t"),
        ];
        create_with_record(&a.bootstrap(), &normal);
        for t in never.iter().chain(&user_internal) {
            create_with_record(&a.bootstrap(), t);
        }

        let config = StraitConfig::one_way(
            a,
            b,
            MirrorConfig::a_to_b(&[&format!(".*{p}.*")]).set("topic_rules", rules),
        );
        let mut strait = StraitProcess::start(&config);
        wait_for_record(&b.bootstrap(), &format!("A.{normal}"));
        let replicated_too: Vec<String> = match rules {
            "mm2-4.0" => user_internal.iter().map(|t| format!("A.{t}")).collect(),
            _ => Vec::new(),
        };
        for t in &replicated_too {
            wait_for_record(&b.bootstrap(), t);
        }
        let marker = format!("{p}-marker");
        create_with_record(&a.bootstrap(), &marker);
        wait_for_record(&b.bootstrap(), &format!("A.{marker}"));
        strait.assert_running();
        drop(strait);

        let on_target = topics_containing(&b.bootstrap(), &p);
        let mut want = set(&[&format!("A.{normal}"), &format!("A.{marker}")]);
        want.extend(replicated_too);
        assert_eq!(on_target, want, "topics on B for prefix {p} under {rules}");
    }
}
