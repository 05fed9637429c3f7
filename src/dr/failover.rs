//! Failover and failback: preflight checks, a plan per group and partition, and applying it.
//!
//! Failover `A -> B` moves consumer groups from A to B; failback `B -> A` is the same operation
//! in the other direction once A is back (the mirror `B->A` and the inverse of `A->B` give the
//! offsets). Applying commits each group's planned offsets on the target, group by group,
//! recording each step in a [`journal`](super::journal) first read back by a re-run.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rdkafka::consumer::Consumer;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::kafka::{self, groups, ADMIN_TIMEOUT};
use crate::telemetry::error_chain;

use super::journal::{Entry, Journal};
use super::read;
use super::translate::{
    admin, human_ms, unreachable, Exactness, Link, PartitionOffset, Resolved, Source,
};
use super::{now_ms, DrError};

/// pass / warn / fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

/// What applying does to one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Commit `to_offset`.
    Set,
    /// The target group is already at or past `to_offset`: left as is (never moved backwards).
    Keep,
    /// No translation: nothing is committed; the consumer starts by its `auto.offset.reset`.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionPlan {
    #[serde(flatten)]
    pub offset: PartitionOffset,
    /// The group's committed offset on the target now.
    pub current_to_offset: Option<i64>,
    pub action: Action,
    /// Replay or loss to expect, in plain words.
    pub expect: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPlan {
    pub group: String,
    /// Records on `from` past the group's position that are not on `to` yet (live mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_lag: Option<i64>,
    pub partitions: Vec<PartitionPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// `failover` or `failback`.
    pub command: String,
    pub from: String,
    pub to: String,
    pub created_ms: i64,
    /// `live` (committed offsets read on `from`) or `checkpoints`.
    pub source: String,
    pub checks: Vec<Check>,
    pub groups: Vec<GroupPlan>,
}

impl Plan {
    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }
}

/// What the operator asked for.
pub struct Request<'a> {
    pub command: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub groups: Option<regex::Regex>,
    pub source_lost: bool,
}

/// Runs the preflight checks and builds the plan. Errors only when the target cannot be read
/// (or the request names unknown clusters); everything else becomes a failed check.
pub fn plan(config: &Config, req: &Request<'_>) -> Result<Plan, DrError> {
    let mut checks = Vec::new();
    let Resolved {
        from: from_c,
        to: to_c,
        forward,
        ..
    } = Link::resolve(config, req.from, req.to)?;

    // 1. The target answers.
    let to_admin = admin(to_c)?;
    let brokers = to_admin
        .inner()
        .fetch_metadata(Some("__strait_probe"), Duration::from_secs(15))
        .map_err(|e| unreachable(to_c, e))?
        .brokers()
        .len();
    checks.push(Check {
        name: "target reachable".into(),
        status: Status::Pass,
        detail: format!("{} answered ({brokers} broker(s))", to_c.alias),
    });

    // 2. The source: reachable, or declared lost.
    let source = if req.source_lost {
        checks.push(Check {
            name: "source".into(),
            status: Status::Warn,
            detail: format!(
                "{} declared lost (--source-lost): offsets come from the checkpoints on {}",
                from_c.alias, to_c.alias
            ),
        });
        Source::Checkpoints
    } else {
        let probe = admin(from_c)?
            .inner()
            .fetch_metadata(Some("__strait_probe"), Duration::from_secs(15))
            .map(|_| ());
        if let Err(e) = probe {
            return Err(DrError::Unreachable {
                cluster: from_c.alias.clone(),
                detail: format!(
                    "{}; if {} is lost, run again with --source-lost to fail over from the checkpoints on {}",
                    error_chain(&e),
                    from_c.alias,
                    to_c.alias
                ),
            });
        }
        checks.push(Check {
            name: "source".into(),
            status: Status::Pass,
            detail: format!(
                "{} answered: translating the groups' committed offsets exactly",
                from_c.alias
            ),
        });
        Source::Live
    };

    // 3. Heartbeats of the mirror from -> to, seen on the target.
    if let Some(m) = forward {
        let beats = read::heartbeats(to_c)?;
        let fresh_within = (m.emit_heartbeats_interval * 3).max(Duration::from_secs(10));
        let check = match beats.get(&(from_c.alias.clone(), to_c.alias.clone())) {
            None => Check {
                name: "heartbeats".into(),
                status: Status::Warn,
                detail: format!(
                    "no {}->{} heartbeat on {} (heartbeats disabled, or the mirror never ran)",
                    from_c.alias, to_c.alias, to_c.alias
                ),
            },
            Some(&at) => {
                let age = (now_ms() - at).max(0);
                let fresh = age <= fresh_within.as_millis() as i64;
                match (fresh, req.source_lost) {
                    (true, false) => Check {
                        name: "heartbeats".into(),
                        status: Status::Pass,
                        detail: format!("last {}->{} heartbeat {} ago", from_c.alias, to_c.alias, human_ms(age)),
                    },
                    (false, false) => Check {
                        name: "heartbeats".into(),
                        status: Status::Warn,
                        detail: format!(
                            "last {}->{} heartbeat {} ago: the mirror is not running or cannot reach {}",
                            from_c.alias, to_c.alias, human_ms(age), from_c.alias
                        ),
                    },
                    (true, true) => Check {
                        name: "heartbeats".into(),
                        status: Status::Fail,
                        detail: format!(
                            "the mirror reached {} {} ago (last heartbeat): {} does not look lost; \
                             fail over without --source-lost, or pass --force if you are sure",
                            from_c.alias, human_ms(age), from_c.alias
                        ),
                    },
                    (false, true) => Check {
                        name: "heartbeats".into(),
                        status: Status::Pass,
                        detail: format!(
                            "last {}->{} heartbeat {} ago: consistent with {} being lost",
                            from_c.alias, to_c.alias, human_ms(age), from_c.alias
                        ),
                    },
                }
            }
        };
        checks.push(check);
    }

    // 4. The plan itself.
    let link = Link::load(config, req.from, req.to, source)?;
    if link.unreadable_checkpoints > 0 {
        checks.push(Check {
            name: "checkpoints readable".into(),
            status: Status::Warn,
            detail: format!(
                "{} checkpoint records could not be decoded and were ignored",
                link.unreadable_checkpoints
            ),
        });
    }
    let selected: Vec<String> = link
        .candidate_groups()?
        .into_iter()
        .filter(|g| req.groups.as_ref().is_none_or(|re| re.is_match(g)))
        .collect();
    let ends = if source == Source::Live {
        Some(read::reader(from_c, "end-offsets")?)
    } else {
        None
    };
    let mut group_plans = Vec::new();
    for group in &selected {
        let translated = link.translate(group)?;
        if translated.is_empty() {
            continue;
        }
        let current = current_offsets(to_c, group, &translated)?;
        let mut lag = 0;
        let mut partitions = Vec::new();
        for t in translated {
            if let (Some(c), Some(copied)) = (&ends, t.copied_to) {
                let (_, high) = c
                    .fetch_watermarks(&t.from_topic, t.partition, ADMIN_TIMEOUT)
                    .map_err(|e| unreachable(from_c, e))?;
                lag += (high - t.from_offset.max(copied)).max(0);
            }
            let now = current.get(&(t.to_topic.clone(), t.partition)).copied();
            let (action, expect) = decide(&t, now);
            partitions.push(PartitionPlan {
                offset: t,
                current_to_offset: now,
                action,
                expect,
            });
        }
        group_plans.push(GroupPlan {
            group: group.clone(),
            replication_lag: ends.as_ref().map(|_| lag),
            partitions,
        });
    }

    // 5. Checks on the plan: groups found, lag, checkpoint age.
    if group_plans.is_empty() {
        checks.push(Check {
            name: "groups".into(),
            status: Status::Fail,
            detail: match &req.groups {
                Some(re) => format!("no consumer group matching `{re}` has offsets to translate"),
                None => "no consumer group has offsets to translate".into(),
            },
        });
    } else {
        let partitions: usize = group_plans.iter().map(|g| g.partitions.len()).sum();
        checks.push(Check {
            name: "groups".into(),
            status: Status::Pass,
            detail: format!("{} group(s), {partitions} partition(s)", group_plans.len()),
        });
    }
    let lagging: Vec<String> = group_plans
        .iter()
        .filter(|g| g.replication_lag.unwrap_or(0) > 0)
        .map(|g| format!("{} ({} records)", g.group, g.replication_lag.unwrap_or(0)))
        .collect();
    if source == Source::Live {
        checks.push(if lagging.is_empty() {
            Check {
                name: "replication lag".into(),
                status: Status::Pass,
                detail: "every record the groups have not read yet is on the target".into(),
            }
        } else {
            Check {
                name: "replication lag".into(),
                status: Status::Warn,
                detail: format!(
                    "not yet on {}: {}; consumers see them once replication catches up (stop producers on {} first)",
                    to_c.alias,
                    lagging.join(", "),
                    from_c.alias
                ),
            }
        });
    } else {
        let every = forward.map_or(Duration::from_secs(5), |m| m.emit_checkpoints_interval);
        let stale_after = (every * 3).as_millis() as i64;
        let stale: Vec<String> = group_plans
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
        let newest_progress = link.forward_written.values().max().copied();
        checks.push(match newest_progress {
            Some(at) => Check {
                name: "replication lag".into(),
                status: Status::Warn,
                detail: format!(
                    "unknown while {} is lost; the mirror last recorded progress {} ago: records written to {} after that may not be on {}",
                    from_c.alias,
                    human_ms((now_ms() - at).max(0)),
                    from_c.alias,
                    to_c.alias
                ),
            },
            None => Check {
                name: "replication lag".into(),
                status: Status::Warn,
                detail: format!("unknown while {} is lost (no strait progress found on {})", from_c.alias, to_c.alias),
            },
        });
        checks.push(if stale.is_empty() {
            Check {
                name: "checkpoint age".into(),
                status: Status::Pass,
                detail: format!("every checkpoint is younger than {}", human_ms(stale_after)),
            }
        } else {
            Check {
                name: "checkpoint age".into(),
                status: Status::Warn,
                detail: format!(
                    "old checkpoints (records read after them are read again): {}",
                    stale.join(", ")
                ),
            }
        });
    }

    Ok(Plan {
        command: req.command.to_string(),
        from: req.from.to_string(),
        to: req.to.to_string(),
        created_ms: now_ms(),
        source: match source {
            Source::Live => "live".into(),
            Source::Checkpoints => "checkpoints".into(),
        },
        checks,
        groups: group_plans,
    })
}

/// The target group's committed offsets for the translated partitions.
fn current_offsets(
    to: &crate::config::ClusterConfig,
    group: &str,
    translated: &[PartitionOffset],
) -> Result<HashMap<(String, i32), i64>, DrError> {
    let consumer = kafka::group_offsets_consumer(to, group, "cli|target-offsets").map_err(|e| {
        DrError::Client {
            cluster: to.alias.clone(),
            detail: error_chain(&e),
        }
    })?;
    let wanted: Vec<(String, i32)> = translated
        .iter()
        .map(|t| (t.to_topic.clone(), t.partition))
        .collect();
    groups::committed(&consumer, &wanted).map_err(|e| unreachable(to, e))
}

fn decide(t: &PartitionOffset, current: Option<i64>) -> (Action, String) {
    let Some(target) = t.to_offset else {
        return (
            Action::None,
            "no translation: nothing is committed, the consumer starts by its auto.offset.reset; check by hand".into(),
        );
    };
    if current.is_some_and(|c| c >= target) {
        return (
            Action::Keep,
            format!(
                "the group is already at {} on the target (never moved backwards)",
                current.unwrap_or_default()
            ),
        );
    }
    let expect = match t.exactness {
        Exactness::Exact => "nothing skipped, nothing replayed".to_string(),
        Exactness::BehindReplication => {
            "nothing skipped; records not yet copied arrive later".to_string()
        }
        Exactness::Checkpoint => format!(
            "nothing skipped; replays what the group read after the checkpoint ({} old)",
            human_ms(t.checkpoint_age_ms.unwrap_or(0))
        ),
        Exactness::NoData => String::new(),
    };
    (Action::Set, expect)
}

/// How applying ended.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    pub applied: Vec<String>,
    pub already_applied: Vec<String>,
    /// (group, reason)
    pub refused: Vec<(String, String)>,
}

/// Applies `plan` to its target, skipping groups the journal already has; each step is
/// journaled before the next. `progress` is told about each group as it is done.
pub fn apply(
    config: &Config,
    plan: &Plan,
    already: &std::collections::BTreeSet<String>,
    journal: &mut Journal,
    force: bool,
    mut progress: impl FnMut(&str, Result<usize, &str>),
) -> Result<Outcome, DrError> {
    let to = config
        .clusters
        .get(&plan.to)
        .ok_or_else(|| DrError::Usage(format!("no cluster `{}` in the configuration", plan.to)))?;
    let to_admin = admin(to)?;
    let mut outcome = Outcome::default();
    let pause_after = failpoint_pause_after();
    for g in &plan.groups {
        if already.contains(&g.group) {
            outcome.already_applied.push(g.group.clone());
            continue;
        }
        let refuse = |outcome: &mut Outcome, journal: &mut Journal, reason: String| {
            journal.write(&Entry::Refused {
                group: g.group.clone(),
                at_ms: now_ms(),
                reason: reason.clone(),
            })?;
            outcome.refused.push((g.group.clone(), reason));
            Ok::<(), DrError>(())
        };
        let info = groups::describe(&to_admin, &g.group).map_err(|e| unreachable(to, e))?;
        if let Some(info) = info.filter(|i| i.members > 0) {
            let reason = format!(
                "{} active member(s) on {} (state {}): stop the group's consumers there and run again{}",
                info.members,
                to.alias,
                info.state,
                if force { "; Kafka refuses offsets for a group with members, even with --force" } else { "" }
            );
            if !force {
                progress(&g.group, Err(&reason));
                refuse(&mut outcome, journal, reason)?;
                continue;
            }
        }
        let consumer =
            kafka::group_offsets_consumer(to, &g.group, "cli|failover").map_err(|e| {
                DrError::Client {
                    cluster: to.alias.clone(),
                    detail: error_chain(&e),
                }
            })?;
        let wanted: Vec<(String, i32)> = g
            .partitions
            .iter()
            .map(|p| (p.offset.to_topic.clone(), p.offset.partition))
            .collect();
        let now = groups::committed(&consumer, &wanted).map_err(|e| unreachable(to, e))?;
        // Never backwards, also if the group moved on since the plan was made.
        let commit: Vec<(String, i32, i64)> = g
            .partitions
            .iter()
            .filter(|p| p.action == Action::Set)
            .filter_map(|p| {
                let target = p.offset.to_offset?;
                let key = (p.offset.to_topic.clone(), p.offset.partition);
                now.get(&key)
                    .is_none_or(|c| *c < target)
                    .then_some((key.0, key.1, target))
            })
            .collect();
        if let Err(e) = groups::commit(&consumer, &commit) {
            let reason = format!("{} refused the offsets: {e}", to.alias);
            progress(&g.group, Err(&reason));
            refuse(&mut outcome, journal, reason)?;
            continue;
        }
        journal.write(&Entry::Applied {
            group: g.group.clone(),
            at_ms: now_ms(),
            offsets: commit.clone(),
        })?;
        progress(&g.group, Ok(commit.len()));
        outcome.applied.push(g.group.clone());
        if pause_after == Some(outcome.applied.len()) {
            pause_forever();
        }
    }
    if outcome.refused.is_empty() {
        journal.write(&Entry::Completed { at_ms: now_ms() })?;
    }
    Ok(outcome)
}

/// Test hook: `STRAIT_FAILPOINT=failover-pause-after-groups:N` stops applying (and waits to be
/// killed) after N groups, so that tests can interrupt a failover at a known point.
fn failpoint_pause_after() -> Option<usize> {
    std::env::var("STRAIT_FAILPOINT")
        .ok()?
        .strip_prefix("failover-pause-after-groups:")?
        .parse()
        .ok()
}

fn pause_forever() -> ! {
    eprintln!("failpoint: paused after applying the configured number of groups");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// The default journal path for `command` from `from` to `to`, in the working directory.
pub fn default_journal(command: &str, from: &str, to: &str) -> std::path::PathBuf {
    Path::new(&format!("strait-{command}-{from}-to-{to}.journal")).to_path_buf()
}
