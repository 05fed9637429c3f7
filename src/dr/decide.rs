//! The decisions of a failover or failback, without I/O: from the [`Facts`] that
//! [`failover::gather`](super::failover::gather) read from the clusters, the preflight checks
//! and the plan per group and partition. Every verdict is here, so that each one is tested
//! without a cluster.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::error::KafkaError;

use crate::kafka::groups::GroupInfo;

use super::error::did_not_answer;
use super::human_ms;
use super::plan::{Action, Check, CheckName, Command, GroupPlan, PartitionPlan, Plan, Status};
use super::translate::{Exactness, OffsetSource, PartitionOffset};
use super::DrError;

/// Everything the checks and the plan depend on, read first.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub command: Command,
    pub from: String,
    pub to: String,
    /// When the facts were complete: the plan's creation time.
    pub now_ms: i64,
    /// How many brokers the target's metadata lists.
    pub target_brokers: usize,
    /// `Live` when the source answered; `Checkpoints` when it was declared lost.
    pub source: OffsetSource,
    /// With the source declared lost (`--source-lost`): how the short probe of it went.
    /// `None` in live mode.
    pub lost_probe: Option<Probe>,
    /// The mirror `from->to`'s heartbeats on the target; `None` without such a mirror.
    pub heartbeats: Option<Heartbeats>,
    /// Checkpoint records on the target that did not decode.
    pub unreadable_checkpoints: usize,
    /// The `--groups` pattern, when one was given.
    pub group_filter: Option<String>,
    /// The selected groups, with their translated partitions.
    pub groups: Vec<GroupFacts>,
    /// When the mirror `from->to` last wrote a position (checkpoint mode reports it).
    pub newest_progress_ms: Option<i64>,
    /// The mirror `from->to`'s checkpoint interval.
    pub checkpoint_interval: Duration,
    /// The last stable offset against the high watermark of the groups' partitions (on the
    /// source only while it answers).
    pub stability: Stability,
}

/// What the watermark queries of the groups' partitions found: how many partitions were asked
/// on each cluster, and those where the last stable offset is behind the high watermark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stability {
    /// Partitions asked on the source (0 when it is lost) and on the target.
    pub source_partitions: usize,
    pub target_partitions: usize,
    /// Sorted by cluster, topic and partition.
    pub unstable: Vec<Unstable>,
    /// Watermark queries that failed, in plain words (the check warns; the plan stands).
    pub errors: Vec<String>,
}

/// A partition whose last stable offset is behind its high watermark: records a transaction
/// still open holds back from `read_committed` consumers (strait's among them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unstable {
    pub cluster: String,
    pub topic: String,
    pub partition: i32,
    pub last_stable: i64,
    pub high_watermark: i64,
}

/// The last heartbeat of the mirror `from->to` as seen on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeats {
    /// Its age when the heartbeats were read; `None` when there is none.
    pub age_ms: Option<i64>,
    /// The mirror's heartbeat interval.
    pub interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFacts {
    pub group: String,
    pub partitions: Vec<PartitionFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionFacts {
    pub offset: PartitionOffset,
    /// The group's committed offset on the target.
    pub current_to_offset: Option<i64>,
    /// The source's high watermark (live mode, topics copied forward only).
    pub source_end: Option<i64>,
}

/// How a source declared lost answered the short probe made before believing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// No answer within `timeout` (or no connection at all): the source is lost.
    Unanswered { timeout: Duration, error: String },
    /// It answered after `after`: with its metadata, or with an error a broker sent (a refused
    /// authentication, say), which shows it alive just the same.
    Answered {
        after: Duration,
        error: Option<String>,
    },
}

impl Probe {
    /// The verdict on a probe that took `after` and ended with `result`.
    pub fn of(result: Result<(), KafkaError>, after: Duration, timeout: Duration) -> Probe {
        match result {
            Ok(()) => Probe::Answered { after, error: None },
            Err(e) if did_not_answer(&e) => Probe::Unanswered {
                timeout,
                error: e.to_string(),
            },
            Err(e) => Probe::Answered {
                after,
                error: Some(e.to_string()),
            },
        }
    }
}

/// Where the groups' positions come from, given how the source answered the probe: an
/// unanswered probe stops the run (with the hint to declare the source lost), any other error
/// too, since the source answered and can be asked again.
pub fn offset_source(
    from: &str,
    to: &str,
    source_lost: bool,
    probe: Result<(), KafkaError>,
) -> Result<OffsetSource, DrError> {
    if source_lost {
        return Ok(OffsetSource::Checkpoints);
    }
    match probe {
        Ok(()) => Ok(OffsetSource::Live),
        Err(source) if did_not_answer(&source) => Err(DrError::SourceUnreachable {
            cluster: from.to_string(),
            checkpoints_on: to.to_string(),
            source: Box::new(source),
        }),
        Err(source) => Err(DrError::kafka(from, "metadata request", source)),
    }
}

/// A heartbeat younger than this shows a mirror that reaches its source.
pub fn heartbeat_fresh_within(interval: Duration) -> Duration {
    (interval * 3).max(Duration::from_secs(10))
}

/// A checkpoint older than this is stale.
pub fn checkpoint_stale_after(interval: Duration) -> Duration {
    interval * 3
}

/// The checks and the plan.
pub fn plan(facts: Facts) -> Plan {
    let mut checks = vec![target_check(&facts), source_check(&facts)];
    if let Some(h) = facts.heartbeats {
        checks.push(heartbeat_check(&facts, h));
    }
    checks.extend(unreadable_check(facts.unreadable_checkpoints));
    let groups: Vec<GroupPlan> = facts
        .groups
        .iter()
        .filter_map(|g| group_plan(g, facts.source))
        .collect();
    checks.push(groups_check(&groups, facts.group_filter.as_deref()));
    match facts.source {
        OffsetSource::Live => checks.push(live_lag_check(&facts, &groups)),
        OffsetSource::Checkpoints => {
            checks.push(lost_lag_check(&facts));
            checks.push(checkpoint_age_check(&groups, facts.checkpoint_interval));
        }
    }
    checks.extend(open_transactions_check(&facts));
    Plan {
        command: facts.command,
        from: facts.from,
        to: facts.to,
        created_ms: facts.now_ms,
        source: facts.source,
        checks,
        groups,
    }
}

fn target_check(f: &Facts) -> Check {
    Check::new(
        CheckName::TargetReachable,
        Status::Pass,
        format!("{} answered ({} broker(s))", f.to, f.target_brokers),
    )
}

fn source_check(f: &Facts) -> Check {
    let (from, to) = (&f.from, &f.to);
    match (f.source, &f.lost_probe) {
        (OffsetSource::Live, _) => Check::new(
            CheckName::Source,
            Status::Pass,
            format!("{from} answered: translating the groups' committed offsets exactly"),
        ),
        (OffsetSource::Checkpoints, Some(Probe::Answered { after, error })) => Check::new(
            CheckName::Source,
            Status::Fail,
            format!(
                "{from} answered a metadata request in {}{}: it is not lost. Fail over \
                 without --source-lost (the groups' committed offsets, translated exactly), or \
                 pass --force to use the checkpoints on {to} anyway",
                human_ms(after.as_millis() as i64),
                error
                    .as_ref()
                    .map(|e| format!(" (with an error: {e})"))
                    .unwrap_or_default()
            ),
        ),
        (OffsetSource::Checkpoints, Some(Probe::Unanswered { timeout, error })) => Check::new(
            CheckName::Source,
            Status::Warn,
            format!(
                "{from} declared lost (--source-lost) and did not answer within {} ({error}): \
                 offsets come from the checkpoints on {to}",
                human_ms(timeout.as_millis() as i64)
            ),
        ),
        (OffsetSource::Checkpoints, None) => Check::new(
            CheckName::Source,
            Status::Warn,
            format!(
                "{from} declared lost (--source-lost): offsets come from the checkpoints on {to}"
            ),
        ),
    }
}

/// With the source answering, a fresh heartbeat is what a running mirror shows. With the
/// source declared lost, the probe of the source decides (see [`source_check`]): a fresh
/// heartbeat only says that the mirror was copying until moments ago.
fn heartbeat_check(f: &Facts, h: Heartbeats) -> Check {
    let (from, to) = (&f.from, &f.to);
    let source_lost = f.source == OffsetSource::Checkpoints;
    let Some(age) = h.age_ms else {
        return Check::new(
            CheckName::Heartbeats,
            Status::Warn,
            format!(
                "no {from}->{to} heartbeat on {to} (heartbeats disabled, or the mirror never ran)"
            ),
        );
    };
    let fresh = age <= heartbeat_fresh_within(h.interval).as_millis() as i64;
    let age = human_ms(age);
    match (fresh, source_lost) {
        (true, false) => Check::new(
            CheckName::Heartbeats,
            Status::Pass,
            format!("last {from}->{to} heartbeat {age} ago"),
        ),
        (false, false) => Check::new(
            CheckName::Heartbeats,
            Status::Warn,
            format!(
                "last {from}->{to} heartbeat {age} ago: the mirror is not running or cannot reach {from}"
            ),
        ),
        (true, true) => Check::new(
            CheckName::Heartbeats,
            Status::Pass,
            format!(
                "last {from}->{to} heartbeat {age} ago: the mirror reached {from} until moments ago"
            ),
        ),
        (false, true) => Check::new(
            CheckName::Heartbeats,
            Status::Pass,
            format!("last {from}->{to} heartbeat {age} ago: consistent with {from} being lost"),
        ),
    }
}

fn unreadable_check(unreadable: usize) -> Option<Check> {
    (unreadable > 0).then(|| {
        Check::new(
            CheckName::CheckpointsReadable,
            Status::Warn,
            format!(
                "{unreadable} checkpoint records could not be decoded or held impossible \
                 offsets, and were ignored"
            ),
        )
    })
}

/// The plan of one group; `None` when nothing of it translates (it is left out).
fn group_plan(g: &GroupFacts, source: OffsetSource) -> Option<GroupPlan> {
    if g.partitions.is_empty() {
        return None;
    }
    let lag = g
        .partitions
        .iter()
        .filter_map(|p| Some((p.source_end?, p.offset.copied_to?, p.offset.from_offset)))
        .map(|(end, copied, committed)| (end - committed.max(copied)).max(0))
        .sum();
    Some(GroupPlan {
        group: g.group.clone(),
        replication_lag: (source == OffsetSource::Live).then_some(lag),
        partitions: g.partitions.iter().map(partition_plan).collect(),
    })
}

/// Set the translated offset, unless there is none or the target group is already at or past
/// it: a group is never moved backwards.
fn partition_plan(p: &PartitionFacts) -> PartitionPlan {
    let t = &p.offset;
    let current = p.current_to_offset;
    let (action, expect) = match t.to_offset {
        None => (
            Action::None,
            "no translation: nothing is committed, the consumer starts by its auto.offset.reset; check by hand".to_string(),
        ),
        Some(target) if current.is_some_and(|c| c >= target) => (
            Action::Keep,
            format!(
                "the group is already at {} on the target (never moved backwards)",
                current.unwrap_or_default()
            ),
        ),
        Some(_) => (
            Action::Set,
            match t.exactness {
                Exactness::Exact => "nothing skipped, nothing replayed".to_string(),
                Exactness::BehindReplication => {
                    "nothing skipped; records not yet copied arrive later".to_string()
                }
                Exactness::Checkpoint => format!(
                    "nothing skipped; replays what the group read after the checkpoint ({} old)",
                    human_ms(t.checkpoint_age_ms.unwrap_or(0))
                ),
                Exactness::NoData => String::new(),
            },
        ),
    };
    PartitionPlan {
        offset: t.clone(),
        current_to_offset: current,
        action,
        expect,
    }
}

fn groups_check(groups: &[GroupPlan], filter: Option<&str>) -> Check {
    if groups.is_empty() {
        return Check::new(
            CheckName::Groups,
            Status::Fail,
            match filter {
                Some(re) => format!("no consumer group matching `{re}` has offsets to translate"),
                None => "no consumer group has offsets to translate".into(),
            },
        );
    }
    let partitions: usize = groups.iter().map(|g| g.partitions.len()).sum();
    Check::new(
        CheckName::Groups,
        Status::Pass,
        format!("{} group(s), {partitions} partition(s)", groups.len()),
    )
}

fn live_lag_check(f: &Facts, groups: &[GroupPlan]) -> Check {
    let lagging: Vec<String> = groups
        .iter()
        .filter(|g| g.replication_lag.unwrap_or(0) > 0)
        .map(|g| format!("{} ({} records)", g.group, g.replication_lag.unwrap_or(0)))
        .collect();
    if lagging.is_empty() {
        return Check::new(
            CheckName::ReplicationLag,
            Status::Pass,
            "every record the groups have not read yet is on the target",
        );
    }
    Check::new(
        CheckName::ReplicationLag,
        Status::Warn,
        format!(
            "not yet on {}: {}; consumers see them once replication catches up (stop producers on {} first)",
            f.to,
            lagging.join(", "),
            f.from
        ),
    )
}

/// With the source lost the lag cannot be measured; what is known is when the mirror last
/// recorded progress.
fn lost_lag_check(f: &Facts) -> Check {
    let (from, to) = (&f.from, &f.to);
    Check::new(
        CheckName::ReplicationLag,
        Status::Warn,
        match f.newest_progress_ms {
            Some(at) => format!(
                "unknown while {from} is lost; the mirror last recorded progress {} ago: records written to {from} after that may not be on {to}",
                human_ms((f.now_ms - at).max(0)),
            ),
            None => format!("unknown while {from} is lost (no strait progress found on {to})"),
        },
    )
}

/// At most this many partitions are named in the open-transactions check; the rest counted.
const UNSTABLE_NAMED: usize = 10;

/// Records of transactions still open when the groups move: on the source they are not copied
/// (strait reads `read_committed`) until their transaction commits, and they are left behind if
/// the producers move first; on the target, `read_committed` consumers see them only once their
/// transaction commits. `None` when no partition was asked.
fn open_transactions_check(f: &Facts) -> Option<Check> {
    let s = &f.stability;
    if s.source_partitions + s.target_partitions == 0 {
        return None;
    }
    let (from, to) = (&f.from, &f.to);
    let asked = match s.source_partitions {
        0 => format!("{} partition(s) on {to}", s.target_partitions),
        n => format!(
            "{n} partition(s) on {from} and {} on {to}",
            s.target_partitions
        ),
    };
    if !s.errors.is_empty() {
        let more = s.errors.len().saturating_sub(UNSTABLE_NAMED);
        let mut named: Vec<String> = s.errors.iter().take(UNSTABLE_NAMED).cloned().collect();
        if more > 0 {
            named.push(format!("and {more} more"));
        }
        return Some(Check::new(
            CheckName::OpenTransactions,
            Status::Warn,
            format!(
                "could not compare the last stable offset with the high watermark of every \
                 partition: {}",
                named.join("; ")
            ),
        ));
    }
    if s.unstable.is_empty() {
        return Some(Check::new(
            CheckName::OpenTransactions,
            Status::Pass,
            format!(
                "no open transaction on the groups' {asked} (last stable offset = high watermark)"
            ),
        ));
    }
    let count = |cluster: &str| -> i64 {
        s.unstable
            .iter()
            .filter(|u| u.cluster == cluster)
            .map(|u| u.high_watermark - u.last_stable)
            .sum()
    };
    let mut named: Vec<String> = s
        .unstable
        .iter()
        .take(UNSTABLE_NAMED)
        .map(|u| {
            format!(
                "{} {}[{}] {} record(s) past the last stable offset {}",
                u.cluster,
                u.topic,
                u.partition,
                u.high_watermark - u.last_stable,
                u.last_stable
            )
        })
        .collect();
    if s.unstable.len() > UNSTABLE_NAMED {
        named.push(format!(
            "and {} more partition(s)",
            s.unstable.len() - UNSTABLE_NAMED
        ));
    }
    let mut consequences = Vec::new();
    if count(from) > 0 {
        consequences.push(format!(
            "the {} record(s) on {from} are not copied until their transactions commit: fail \
             over now and whatever those transactions hold is left on {from} (stop {from}'s \
             transactional producers and let their transactions end first)",
            count(from)
        ));
    }
    if count(to) > 0 {
        consequences.push(format!(
            "read_committed consumers on {to} see its {} record(s) only once their \
             transactions commit (none if they abort)",
            count(to)
        ));
    }
    Some(Check::new(
        CheckName::OpenTransactions,
        Status::Warn,
        format!(
            "open transactions on the groups' {asked}: {}; {}",
            named.join(", "),
            consequences.join("; ")
        ),
    ))
}

fn checkpoint_age_check(groups: &[GroupPlan], interval: Duration) -> Check {
    let stale_after = checkpoint_stale_after(interval).as_millis() as i64;
    let stale: Vec<String> = groups
        .iter()
        .filter_map(|g| {
            let age = g
                .partitions
                .iter()
                .filter_map(|p| p.offset.checkpoint_age_ms)
                .max()?;
            (age > stale_after).then(|| format!("{} ({})", g.group, human_ms(age)))
        })
        .collect();
    if stale.is_empty() {
        return Check::new(
            CheckName::CheckpointAge,
            Status::Pass,
            format!("every checkpoint is younger than {}", human_ms(stale_after)),
        );
    }
    Check::new(
        CheckName::CheckpointAge,
        Status::Warn,
        format!(
            "old checkpoints (records read after them are read again): {}",
            stale.join(", ")
        ),
    )
}

/// Why a group is not applied now: it has active members on the target, and Kafka refuses
/// offsets for a group with members. `None` lets applying go ahead (no members, or `--force`,
/// which tries all the same).
pub fn busy(info: &GroupInfo, target: &str, force: bool) -> Option<String> {
    (info.members > 0 && !force).then(|| {
        format!(
            "{} active member(s) on {target} (state {}): stop the group's consumers there and run again",
            info.members, info.state
        )
    })
}

/// The offsets to commit for a group whose offsets on the target are now `current`: the
/// planned `set` ones, and only where they move the group forward (it may have moved on since
/// the plan was made).
pub fn commits(g: &GroupPlan, current: &HashMap<(String, i32), i64>) -> Vec<(String, i32, i64)> {
    g.partitions
        .iter()
        .filter(|p| p.action == Action::Set)
        .filter_map(|p| {
            let target = p.offset.to_offset?;
            let key = (p.offset.to_topic.clone(), p.offset.partition);
            current
                .get(&key)
                .is_none_or(|c| *c < target)
                .then_some((key.0, key.1, target))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::RDKafkaErrorCode;

    const NOW: i64 = 1_000_000_000;

    /// A live failover A -> B of no group, heartbeats every second, checkpoints every 5 s.
    fn facts() -> Facts {
        Facts {
            command: Command::Failover,
            from: "A".into(),
            to: "B".into(),
            now_ms: NOW,
            target_brokers: 3,
            source: OffsetSource::Live,
            lost_probe: None,
            heartbeats: Some(Heartbeats {
                age_ms: Some(500),
                interval: Duration::from_secs(1),
            }),
            unreadable_checkpoints: 0,
            group_filter: None,
            groups: Vec::new(),
            newest_progress_ms: None,
            checkpoint_interval: Duration::from_secs(5),
            stability: Stability::default(),
        }
    }

    fn unstable(cluster: &str, topic: &str, partition: i32, lso: i64, hw: i64) -> Unstable {
        Unstable {
            cluster: cluster.into(),
            topic: topic.into(),
            partition,
            last_stable: lso,
            high_watermark: hw,
        }
    }

    #[test]
    fn open_transactions_are_named_per_cluster_with_what_they_hold_back() {
        // No partition asked: no check.
        assert!(!names(&plan(facts())).contains(&CheckName::OpenTransactions));
        let with = |stability: Stability| {
            let p = plan(Facts {
                stability,
                ..facts()
            });
            let c = check(&p, CheckName::OpenTransactions).clone();
            (c.status, c.detail)
        };
        let asked = Stability {
            source_partitions: 2,
            target_partitions: 2,
            ..Default::default()
        };
        assert_eq!(
            with(asked.clone()),
            (
                Status::Pass,
                "no open transaction on the groups' 2 partition(s) on A and 2 on B (last stable \
                 offset = high watermark)"
                    .to_string()
            )
        );
        let (status, detail) = with(Stability {
            unstable: vec![unstable("A", "t", 1, 40, 43)],
            ..asked.clone()
        });
        assert_eq!(status, Status::Warn);
        assert_eq!(
            detail,
            "open transactions on the groups' 2 partition(s) on A and 2 on B: A t[1] 3 record(s) \
             past the last stable offset 40; the 3 record(s) on A are not copied until their \
             transactions commit: fail over now and whatever those transactions hold is left on \
             A (stop A's transactional producers and let their transactions end first)"
        );
        let (_, detail) = with(Stability {
            unstable: vec![unstable("B", "A.t", 0, 7, 9)],
            ..asked.clone()
        });
        assert!(
            detail.ends_with(
                "B A.t[0] 2 record(s) past the last stable offset 7; read_committed consumers \
                 on B see its 2 record(s) only once their transactions commit (none if they abort)"
            ),
            "{detail}"
        );
        // Many partitions: ten named, the rest counted.
        let (_, detail) = with(Stability {
            unstable: (0..12).map(|p| unstable("A", "t", p, 0, 1)).collect(),
            ..asked.clone()
        });
        assert!(detail.contains("A t[9] 1 record(s)"), "{detail}");
        assert!(!detail.contains("A t[10]"), "{detail}");
        assert!(detail.contains("and 2 more partition(s)"), "{detail}");
        assert!(detail.contains("the 12 record(s) on A"), "{detail}");
        // A failed query warns and names the partition; the source lost: only B asked.
        let (status, detail) = with(Stability {
            errors: vec!["B A.t[0]: Broker: Unknown topic or partition".into()],
            ..asked
        });
        assert_eq!(status, Status::Warn);
        assert!(detail.ends_with("every partition: B A.t[0]: Broker: Unknown topic or partition"));
        let p = plan(Facts {
            stability: Stability {
                target_partitions: 3,
                ..Default::default()
            },
            ..lost()
        });
        assert_eq!(
            check(&p, CheckName::OpenTransactions).detail,
            "no open transaction on the groups' 3 partition(s) on B (last stable offset = high \
             watermark)"
        );
    }

    fn lost() -> Facts {
        Facts {
            source: OffsetSource::Checkpoints,
            lost_probe: Some(Probe::Unanswered {
                timeout: Duration::from_secs(3),
                error: "Meta data fetch error: BrokerTransportFailure (Local: Broker transport failure)"
                    .into(),
            }),
            heartbeats: Some(Heartbeats {
                age_ms: Some(60_000),
                interval: Duration::from_secs(1),
            }),
            ..facts()
        }
    }

    /// Partition `p` of `A.t`: committed `from_offset` on A, translated to `to_offset`.
    fn offset(p: i32, from_offset: i64, to_offset: Option<i64>, e: Exactness) -> PartitionOffset {
        PartitionOffset {
            from_topic: "t".into(),
            partition: p,
            from_offset,
            to_topic: "A.t".into(),
            to_offset,
            exactness: e,
            detail: "why".into(),
            checkpoint_age_ms: None,
            copied_to: None,
        }
    }

    fn live(p: i32, from_offset: i64, copied_to: i64, source_end: i64) -> PartitionFacts {
        PartitionFacts {
            offset: PartitionOffset {
                copied_to: Some(copied_to),
                ..offset(p, from_offset, Some(from_offset), Exactness::Exact)
            },
            current_to_offset: None,
            source_end: Some(source_end),
        }
    }

    fn from_checkpoint(p: i32, age_ms: i64) -> PartitionFacts {
        PartitionFacts {
            offset: PartitionOffset {
                checkpoint_age_ms: Some(age_ms),
                ..offset(p, 10, Some(10), Exactness::Checkpoint)
            },
            current_to_offset: None,
            source_end: None,
        }
    }

    fn group(name: &str, partitions: Vec<PartitionFacts>) -> GroupFacts {
        GroupFacts {
            group: name.into(),
            partitions,
        }
    }

    fn check(plan: &Plan, name: CheckName) -> &Check {
        plan.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name} check in {:?}", plan.checks))
    }

    fn names(plan: &Plan) -> Vec<CheckName> {
        plan.checks.iter().map(|c| c.name).collect()
    }

    #[test]
    fn the_source_probe_decides_live_checkpoints_or_stop() {
        let down = || KafkaError::MetadataFetch(RDKafkaErrorCode::BrokerTransportFailure);
        let denied = || KafkaError::MetadataFetch(RDKafkaErrorCode::ClusterAuthorizationFailed);
        assert_eq!(
            offset_source("A", "B", false, Ok(())).unwrap(),
            OffsetSource::Live
        );
        // Declared lost: the probe is not consulted (it is not even made).
        assert_eq!(
            offset_source("A", "B", true, Err(down())).unwrap(),
            OffsetSource::Checkpoints
        );
        let e = offset_source("A", "B", false, Err(down())).unwrap_err();
        assert!(
            matches!(&e, DrError::SourceUnreachable { cluster, checkpoints_on, .. }
                if cluster == "A" && checkpoints_on == "B"),
            "{e:?}"
        );
        assert!(e.is_unreachable());
        assert!(e.hint().unwrap().contains("--source-lost"));
        // The source answered with an error: no reason to declare it lost.
        let e = offset_source("A", "B", false, Err(denied())).unwrap_err();
        assert!(!e.is_unreachable(), "{e:?}");
        assert_eq!(e.cluster(), Some("A"));
    }

    #[test]
    fn target_and_source_checks() {
        let p = plan(facts());
        let t = check(&p, CheckName::TargetReachable);
        assert_eq!(
            (t.status, t.detail.as_str()),
            (Status::Pass, "B answered (3 broker(s))")
        );
        let s = check(&p, CheckName::Source);
        assert_eq!(s.status, Status::Pass);
        assert_eq!(
            s.detail,
            "A answered: translating the groups' committed offsets exactly"
        );
        assert_eq!(p.source, OffsetSource::Live);

        let p = plan(lost());
        let s = check(&p, CheckName::Source);
        assert_eq!(s.status, Status::Warn);
        assert_eq!(
            s.detail,
            "A declared lost (--source-lost) and did not answer within 3.0s (Meta data fetch \
             error: BrokerTransportFailure (Local: Broker transport failure)): offsets come from \
             the checkpoints on B"
        );
        assert_eq!(p.source, OffsetSource::Checkpoints);

        // Declared lost, but it answers: refused, whatever the heartbeats say.
        for (error, said) in [
            (None, ""),
            (
                Some("cluster authorization failed".to_string()),
                " (with an error: cluster authorization failed)",
            ),
        ] {
            let p = plan(Facts {
                lost_probe: Some(Probe::Answered {
                    after: Duration::from_millis(12),
                    error,
                }),
                ..lost()
            });
            let s = check(&p, CheckName::Source);
            assert_eq!(s.status, Status::Fail);
            assert_eq!(
                s.detail,
                format!(
                    "A answered a metadata request in 12ms{said}: it is not lost. Fail over \
                     without --source-lost (the groups' committed offsets, translated exactly), \
                     or pass --force to use the checkpoints on B anyway"
                )
            );
            assert_eq!(check(&p, CheckName::Heartbeats).status, Status::Pass);
        }
    }

    #[test]
    fn a_probe_that_got_no_answer_means_lost_any_answer_means_alive() {
        let (after, timeout) = (Duration::from_millis(40), Duration::from_secs(3));
        assert_eq!(
            Probe::of(Ok(()), after, timeout),
            Probe::Answered { after, error: None }
        );
        for code in [
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::OperationTimedOut,
            RDKafkaErrorCode::Resolve,
        ] {
            let got = Probe::of(Err(KafkaError::MetadataFetch(code)), after, timeout);
            assert!(
                matches!(got, Probe::Unanswered { timeout: t, .. } if t == timeout),
                "{code:?}: {got:?}"
            );
        }
        let got = Probe::of(
            Err(KafkaError::MetadataFetch(
                RDKafkaErrorCode::SaslAuthenticationFailed,
            )),
            after,
            timeout,
        );
        assert!(
            matches!(&got, Probe::Answered { after: a, error: Some(_) } if *a == after),
            "{got:?}"
        );
    }

    #[test]
    fn heartbeat_matrix() {
        // Fresh within max(3 intervals, 10 s): 10 s with a 1 s interval, 15 s with 5 s.
        let one = Duration::from_secs(1);
        let five = Duration::from_secs(5);
        let cases = [
            // (age, interval, source lost, status, detail starts with)
            (
                Some(0),
                one,
                false,
                Status::Pass,
                "last A->B heartbeat 0ms ago",
            ),
            (
                Some(10_000),
                one,
                false,
                Status::Pass,
                "last A->B heartbeat 10.0s ago",
            ),
            (
                Some(10_001),
                one,
                false,
                Status::Warn,
                "last A->B heartbeat 10.0s ago: the mirror is not running or cannot reach A",
            ),
            (
                Some(15_000),
                five,
                false,
                Status::Pass,
                "last A->B heartbeat",
            ),
            (
                Some(15_001),
                five,
                false,
                Status::Warn,
                "last A->B heartbeat",
            ),
            // Declared lost (and the probe got no answer): a fresh heartbeat refuses nothing.
            (
                Some(1_500),
                one,
                true,
                Status::Pass,
                "last A->B heartbeat 1.5s ago: the mirror reached A until moments ago",
            ),
            (
                Some(15_000),
                five,
                true,
                Status::Pass,
                "last A->B heartbeat 15.0s ago: the mirror reached A until moments ago",
            ),
            (
                Some(10_001),
                one,
                true,
                Status::Pass,
                "last A->B heartbeat 10.0s ago: consistent with A being lost",
            ),
            (
                None,
                one,
                false,
                Status::Warn,
                "no A->B heartbeat on B (heartbeats disabled, or the mirror never ran)",
            ),
            (None, one, true, Status::Warn, "no A->B heartbeat on B"),
        ];
        for (age_ms, interval, source_lost, status, detail) in cases {
            let f = Facts {
                heartbeats: Some(Heartbeats { age_ms, interval }),
                ..if source_lost { lost() } else { facts() }
            };
            let p = plan(f);
            let c = check(&p, CheckName::Heartbeats);
            assert_eq!(
                c.status, status,
                "{age_ms:?} {interval:?} lost={source_lost}: {c:?}"
            );
            assert!(c.detail.starts_with(detail), "{c:?}");
        }
        // No mirror A->B (failback over the reverse mirror only): no heartbeat check.
        let p = plan(Facts {
            heartbeats: None,
            ..facts()
        });
        assert!(!names(&p).contains(&CheckName::Heartbeats), "{p:?}");
    }

    #[test]
    fn unreadable_checkpoints_warn_only_when_there_are_some() {
        let p = plan(lost());
        assert!(!names(&p).contains(&CheckName::CheckpointsReadable));
        let p = plan(Facts {
            unreadable_checkpoints: 2,
            ..lost()
        });
        let c = check(&p, CheckName::CheckpointsReadable);
        assert_eq!(c.status, Status::Warn);
        assert_eq!(
            c.detail,
            "2 checkpoint records could not be decoded or held impossible offsets, and were ignored"
        );
    }

    #[test]
    fn checks_come_in_order() {
        let p = plan(Facts {
            unreadable_checkpoints: 1,
            ..lost()
        });
        assert_eq!(
            names(&p),
            [
                CheckName::TargetReachable,
                CheckName::Source,
                CheckName::Heartbeats,
                CheckName::CheckpointsReadable,
                CheckName::Groups,
                CheckName::ReplicationLag,
                CheckName::CheckpointAge
            ]
        );
        let p = plan(facts());
        assert_eq!(
            names(&p),
            [
                CheckName::TargetReachable,
                CheckName::Source,
                CheckName::Heartbeats,
                CheckName::Groups,
                CheckName::ReplicationLag
            ]
        );
    }

    #[test]
    fn no_group_matching_fails_and_groups_without_partitions_are_left_out() {
        let p = plan(facts());
        let c = check(&p, CheckName::Groups);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.detail, "no consumer group has offsets to translate");
        assert_eq!(p.failed_checks().count(), 1);

        let p = plan(Facts {
            group_filter: Some("^(?:billing-.*)$".into()),
            groups: vec![group("billing-1", Vec::new())],
            ..facts()
        });
        assert!(p.groups.is_empty());
        let c = check(&p, CheckName::Groups);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            c.detail,
            "no consumer group matching `^(?:billing-.*)$` has offsets to translate"
        );

        let p = plan(Facts {
            groups: vec![
                group("g1", vec![live(0, 5, 10, 10), live(1, 5, 10, 10)]),
                group("empty", Vec::new()),
                group("g2", vec![live(0, 7, 10, 10)]),
            ],
            ..facts()
        });
        let c = check(&p, CheckName::Groups);
        assert_eq!(
            (c.status, c.detail.as_str()),
            (Status::Pass, "2 group(s), 3 partition(s)")
        );
        let planned: Vec<&str> = p.groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(planned, ["g1", "g2"]);
        assert_eq!(p.failed_checks().count(), 0);
    }

    #[test]
    fn actions_set_keep_and_none() {
        let at = |current: Option<i64>, to_offset: Option<i64>, e: Exactness| PartitionFacts {
            offset: PartitionOffset {
                checkpoint_age_ms: (e == Exactness::Checkpoint).then_some(2_500),
                ..offset(0, 40, to_offset, e)
            },
            current_to_offset: current,
            source_end: None,
        };
        let cases = [
            // (current on the target, planned, exactness, action, expect)
            (None, Some(30), Exactness::Exact, Action::Set, "nothing skipped, nothing replayed"),
            (Some(29), Some(30), Exactness::Exact, Action::Set, "nothing skipped, nothing replayed"),
            (
                Some(30),
                Some(30),
                Exactness::Exact,
                Action::Keep,
                "the group is already at 30 on the target (never moved backwards)",
            ),
            (
                Some(31),
                Some(30),
                Exactness::Exact,
                Action::Keep,
                "the group is already at 31 on the target (never moved backwards)",
            ),
            (
                None,
                Some(30),
                Exactness::BehindReplication,
                Action::Set,
                "nothing skipped; records not yet copied arrive later",
            ),
            (
                None,
                Some(30),
                Exactness::Checkpoint,
                Action::Set,
                "nothing skipped; replays what the group read after the checkpoint (2.5s old)",
            ),
            (
                None,
                None,
                Exactness::NoData,
                Action::None,
                "no translation: nothing is committed, the consumer starts by its auto.offset.reset; check by hand",
            ),
            // No translation is never a reason to touch a group's offset on the target.
            (
                Some(5),
                None,
                Exactness::NoData,
                Action::None,
                "no translation: nothing is committed, the consumer starts by its auto.offset.reset; check by hand",
            ),
        ];
        for (current, to_offset, e, action, expect) in cases {
            let p = plan(Facts {
                groups: vec![group("g", vec![at(current, to_offset, e)])],
                ..facts()
            });
            let pp = &p.groups[0].partitions[0];
            assert_eq!(
                (pp.action, pp.expect.as_str()),
                (action, expect),
                "{current:?} -> {to_offset:?} ({e:?})"
            );
            assert_eq!(pp.current_to_offset, current);
            assert_eq!(pp.offset, at(current, to_offset, e).offset);
        }
    }

    #[test]
    fn live_lag_counts_unread_records_not_yet_copied() {
        let cases = [
            // (committed on A, copied to, source end, lag)
            (10, 20, 20, 0), // caught up
            (10, 20, 25, 5), // 5 records not copied, all unread
            (22, 20, 25, 3), // the group read 2 of the 5 not copied
            (25, 20, 25, 0), // the group read everything
            (30, 20, 25, 0), // never negative
        ];
        for (committed, copied, end, want) in cases {
            let p = plan(Facts {
                groups: vec![group("g", vec![live(0, committed, copied, end)])],
                ..facts()
            });
            assert_eq!(
                p.groups[0].replication_lag,
                Some(want),
                "{committed} {copied} {end}"
            );
            let c = check(&p, CheckName::ReplicationLag);
            if want == 0 {
                assert_eq!(c.status, Status::Pass);
                assert_eq!(
                    c.detail,
                    "every record the groups have not read yet is on the target"
                );
            } else {
                assert_eq!(c.status, Status::Warn);
                assert_eq!(
                    c.detail,
                    format!("not yet on B: g ({want} records); consumers see them once replication catches up (stop producers on A first)")
                );
            }
        }
        // Summed over partitions, listed per group; partitions translated back through the
        // reverse mirror (no copied_to) count nothing.
        let back = PartitionFacts {
            offset: offset(2, 0, Some(0), Exactness::Exact),
            current_to_offset: None,
            source_end: None,
        };
        let p = plan(Facts {
            groups: vec![
                group("g1", vec![live(0, 10, 20, 25), live(1, 0, 3, 4), back]),
                group("g2", vec![live(0, 25, 25, 25)]),
                group("g3", vec![live(0, 0, 0, 2)]),
            ],
            ..facts()
        });
        let lags: Vec<Option<i64>> = p.groups.iter().map(|g| g.replication_lag).collect();
        assert_eq!(lags, [Some(6), Some(0), Some(2)]);
        assert!(check(&p, CheckName::ReplicationLag)
            .detail
            .starts_with("not yet on B: g1 (6 records), g3 (2 records); "));
    }

    #[test]
    fn with_the_source_lost_lag_is_unknown_and_no_group_has_a_lag() {
        let p = plan(Facts {
            newest_progress_ms: Some(NOW - 65_000),
            groups: vec![group("g", vec![from_checkpoint(0, 1_000)])],
            ..lost()
        });
        assert_eq!(p.groups[0].replication_lag, None);
        let c = check(&p, CheckName::ReplicationLag);
        assert_eq!(c.status, Status::Warn);
        assert_eq!(
            c.detail,
            "unknown while A is lost; the mirror last recorded progress 1m05s ago: records written to A after that may not be on B"
        );
        let p = plan(lost());
        let c = check(&p, CheckName::ReplicationLag);
        assert_eq!(c.status, Status::Warn);
        assert_eq!(
            c.detail,
            "unknown while A is lost (no strait progress found on B)"
        );
    }

    #[test]
    fn checkpoint_age_edges() {
        // Stale after 3 checkpoint intervals: 15 s with 5 s.
        let cases = [
            (vec![0], Status::Pass),
            (vec![15_000], Status::Pass),
            (vec![15_001], Status::Warn),
            // The oldest partition of the group counts.
            (vec![1_000, 15_001], Status::Warn),
            (vec![1_000, 14_999], Status::Pass),
        ];
        for (ages, status) in cases {
            let partitions = ages
                .iter()
                .enumerate()
                .map(|(p, age)| from_checkpoint(p as i32, *age))
                .collect();
            let p = plan(Facts {
                groups: vec![group("g", partitions)],
                ..lost()
            });
            let c = check(&p, CheckName::CheckpointAge);
            assert_eq!(c.status, status, "{ages:?}: {c:?}");
            match status {
                Status::Pass => {
                    assert_eq!(c.detail, "every checkpoint is younger than 15.0s")
                }
                _ => assert_eq!(
                    c.detail,
                    "old checkpoints (records read after them are read again): g (15.0s)"
                ),
            }
        }
        // The interval is the mirror's; groups listed with their oldest checkpoint.
        let p = plan(Facts {
            checkpoint_interval: Duration::from_secs(60),
            groups: vec![
                group("fresh", vec![from_checkpoint(0, 179_000)]),
                group("old", vec![from_checkpoint(0, 200_000)]),
            ],
            ..lost()
        });
        let c = check(&p, CheckName::CheckpointAge);
        assert_eq!(c.status, Status::Warn);
        assert_eq!(
            c.detail,
            "old checkpoints (records read after them are read again): old (3m20s)"
        );
    }

    #[test]
    fn a_group_with_members_is_refused_unless_forced() {
        let info = |members| GroupInfo {
            members,
            state: "Stable".into(),
        };
        assert_eq!(
            busy(&info(2), "B", false).as_deref(),
            Some("2 active member(s) on B (state Stable): stop the group's consumers there and run again")
        );
        assert_eq!(busy(&info(2), "B", true), None);
        assert_eq!(busy(&info(0), "B", false), None);
    }

    #[test]
    fn applying_commits_only_set_offsets_that_move_the_group_forward() {
        let planned = |p: i32, to: Option<i64>, action: Action| PartitionPlan {
            offset: offset(p, 0, to, Exactness::Exact),
            current_to_offset: None,
            action,
            expect: String::new(),
        };
        let g = GroupPlan {
            group: "g".into(),
            replication_lag: None,
            partitions: vec![
                planned(0, Some(10), Action::Set),
                planned(1, Some(10), Action::Set),
                planned(2, Some(10), Action::Set),
                planned(3, Some(10), Action::Keep),
                planned(4, None, Action::None),
                planned(5, Some(10), Action::Set),
            ],
        };
        // Since the plan: partition 1 moved to 10, partition 2 past it, 5 to just before.
        let current: HashMap<(String, i32), i64> = [(1, 10), (2, 11), (3, 12), (5, 9)]
            .into_iter()
            .map(|(p, o)| (("A.t".to_string(), p), o))
            .collect();
        assert_eq!(
            commits(&g, &current),
            [("A.t".to_string(), 0, 10), ("A.t".to_string(), 5, 10)]
        );
    }

    #[test]
    fn the_plan_carries_the_request_and_the_time() {
        let p = plan(Facts {
            command: Command::Failback,
            from: "B".into(),
            to: "A".into(),
            ..facts()
        });
        assert_eq!(
            (p.command, p.from.as_str(), p.to.as_str(), p.created_ms),
            (Command::Failback, "B", "A", NOW)
        );
    }
}
