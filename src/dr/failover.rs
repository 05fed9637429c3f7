//! Failover and failback: the facts a plan depends on, read from the clusters, and applying
//! the plan.
//!
//! Failover `A -> B` moves consumer groups from A to B; failback `B -> A` is the same operation
//! in the other direction once A is back (the mirror `B->A` and the inverse of `A->B` give the
//! offsets). [`gather`] does all the reading; [`decide`] makes the checks and
//! the plan from it; [`apply`] commits each group's planned offsets on the target, group by
//! group, recording each step in a [`journal`](super::journal) first read back by a re-run.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use serde::Serialize;

use crate::config::{ClusterConfig, Config, MirrorConfig};
use crate::kafka::{self, groups, ADMIN_TIMEOUT};
use crate::telemetry::error_chain;

use super::decide::{self, Facts, GroupFacts, Heartbeats, PartitionFacts};
use super::journal::{Entry, Journal};
use super::plan::{Command, Plan};
use super::read;
use super::translate::{admin, Link, OffsetSource, PartitionOffset, Resolved};
use super::{now_ms, DrError};

/// How long the target and the source get to answer the first metadata request.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// What the operator asked for.
pub struct Request<'a> {
    pub command: Command,
    pub from: &'a str,
    pub to: &'a str,
    pub groups: Option<regex::Regex>,
    /// `--source-lost`: the source is declared lost, and gets this long to answer a probe
    /// that would show it is not.
    pub source_lost: Option<Duration>,
}

/// Runs the preflight checks and builds the plan. Errors only when the target cannot be read,
/// the source does not answer without being declared lost, or the request names unknown
/// clusters; everything else becomes a failed check.
pub fn plan(config: &Config, req: &Request<'_>) -> Result<Plan, DrError> {
    gather(config, req).map(decide::plan)
}

/// Reads everything the plan depends on: whether the target and the source answer, the
/// heartbeats, what the mirrors persisted, and per selected group its translated partitions,
/// its offsets on the target and (live) the source's end offsets.
pub fn gather(config: &Config, req: &Request<'_>) -> Result<Facts, DrError> {
    let Resolved {
        from: from_c,
        to: to_c,
        forward,
        ..
    } = Link::resolve(config, req.from, req.to)?;

    // The target answers.
    let target_brokers = kafka::admin::probe(&admin(to_c)?, PROBE_TIMEOUT)
        .map_err(|e| DrError::kafka(&to_c.alias, "metadata request", e))?;

    match req.source_lost {
        None => {
            let probe = kafka::admin::probe(&admin(from_c)?, PROBE_TIMEOUT).map(|_| ());
            let source = decide::offset_source(&from_c.alias, &to_c.alias, false, probe)?;
            gather_groups(config, req, forward, source, target_brokers)
        }
        // Declared lost: a short probe of the source (its answer, not its heartbeats' age)
        // says whether it is, made while the checkpoints are read so that it costs no time.
        Some(timeout) => {
            let from_admin = admin(from_c)?;
            std::thread::scope(|scope| {
                let probe = scope.spawn(|| {
                    let started = Instant::now();
                    let answer = kafka::admin::probe(&from_admin, timeout).map(|_| ());
                    decide::Probe::of(answer, started.elapsed(), timeout)
                });
                let facts = gather_groups(
                    config,
                    req,
                    forward,
                    OffsetSource::Checkpoints,
                    target_brokers,
                );
                let probe = probe.join().expect("the source probe does not panic");
                facts.map(|f| Facts {
                    lost_probe: Some(probe),
                    ..f
                })
            })
        }
    }
}

/// The rest of [`gather`], once it is known where the offsets come from.
fn gather_groups(
    config: &Config,
    req: &Request<'_>,
    forward: Option<&MirrorConfig>,
    source: OffsetSource,
    target_brokers: usize,
) -> Result<Facts, DrError> {
    let (from_c, to_c) = (&config.clusters[req.from], &config.clusters[req.to]);
    let heartbeats = match forward {
        Some(m) => {
            let beats = read::heartbeats(to_c)?;
            let last = beats.get(&(from_c.alias.clone(), to_c.alias.clone()));
            let read_at = now_ms();
            Some(Heartbeats {
                age_ms: last.map(|at| (read_at - at).max(0)),
                interval: m.emit_heartbeats_interval,
            })
        }
        None => None,
    };

    let link = Link::load(config, req.from, req.to, source)?;
    let selected: Vec<String> = link
        .candidate_groups()?
        .into_iter()
        .filter(|g| req.groups.as_ref().is_none_or(|re| re.is_match(g)))
        .collect();
    let ends = match source {
        OffsetSource::Live => Some(read::reader(from_c, "end-offsets")?),
        OffsetSource::Checkpoints => None,
    };
    let mut groups = Vec::new();
    for group in selected {
        let translated = link.translate(&group)?;
        if translated.is_empty() {
            continue;
        }
        let current = current_offsets(to_c, &group, &translated)?;
        let mut partitions = Vec::new();
        for offset in translated {
            let source_end = match (&ends, offset.copied_to) {
                (Some(c), Some(_)) => Some(
                    c.fetch_watermarks(&offset.from_topic, offset.partition, ADMIN_TIMEOUT)
                        .map_err(|e| {
                            DrError::kafka(
                                &from_c.alias,
                                format!(
                                    "reading the end offset of `{}` partition {}",
                                    offset.from_topic, offset.partition
                                ),
                                e,
                            )
                        })?
                        .1,
                ),
                _ => None,
            };
            partitions.push(PartitionFacts {
                current_to_offset: current
                    .get(&(offset.to_topic.clone(), offset.partition))
                    .copied(),
                source_end,
                offset,
            });
        }
        groups.push(GroupFacts { group, partitions });
    }

    let stability = stability(from_c, to_c, source, &groups)?;
    Ok(Facts {
        command: req.command,
        from: req.from.to_string(),
        to: req.to.to_string(),
        now_ms: now_ms(),
        target_brokers,
        source,
        lost_probe: None,
        heartbeats,
        unreadable_checkpoints: link.unreadable_checkpoints,
        group_filter: req.groups.as_ref().map(|re| re.to_string()),
        groups,
        newest_progress_ms: link.forward_written.values().max().copied(),
        checkpoint_interval: forward
            .map_or(Duration::from_secs(5), |m| m.emit_checkpoints_interval),
        stability,
    })
}

/// The last stable offset against the high watermark of every partition the groups' plans
/// touch: on the source while it answers (`from_topic`), on the target where something was
/// copied (`to_topic`). A failed query is reported in the result, not as an error: the check
/// warns, the plan stands.
fn stability(
    from_c: &ClusterConfig,
    to_c: &ClusterConfig,
    source: OffsetSource,
    groups: &[GroupFacts],
) -> Result<decide::Stability, DrError> {
    let mut on_source = BTreeSet::new();
    let mut on_target = BTreeSet::new();
    for p in groups.iter().flat_map(|g| &g.partitions) {
        on_source.insert((p.offset.from_topic.clone(), p.offset.partition));
        if p.offset.to_offset.is_some() {
            on_target.insert((p.offset.to_topic.clone(), p.offset.partition));
        }
    }
    if source != OffsetSource::Live {
        on_source.clear();
    }
    let mut out = decide::Stability {
        source_partitions: on_source.len(),
        target_partitions: on_target.len(),
        ..Default::default()
    };
    for (cluster, partitions) in [(from_c, on_source), (to_c, on_target)] {
        if partitions.is_empty() {
            continue;
        }
        let committed = read::reader(cluster, "last-stable-offsets")?;
        let uncommitted = kafka::high_watermark_consumer(cluster, "cli|high-watermarks")?;
        for (topic, partition) in partitions {
            let high = |c: &rdkafka::consumer::BaseConsumer<kafka::LogContext>| {
                c.fetch_watermarks(&topic, partition, ADMIN_TIMEOUT)
                    .map(|(_, high)| high)
            };
            match (high(&committed), high(&uncommitted)) {
                (Ok(last_stable), Ok(high_watermark)) if high_watermark > last_stable => {
                    out.unstable.push(decide::Unstable {
                        cluster: cluster.alias.clone(),
                        topic,
                        partition,
                        last_stable,
                        high_watermark,
                    })
                }
                (Ok(_), Ok(_)) => {}
                (Err(e), _) | (_, Err(e)) => out.errors.push(format!(
                    "{} {topic}[{partition}]: {}",
                    cluster.alias,
                    error_chain(&e)
                )),
            }
        }
    }
    out.unstable.sort();
    Ok(out)
}

/// The target group's committed offsets for the translated partitions.
fn current_offsets(
    to: &ClusterConfig,
    group: &str,
    translated: &[PartitionOffset],
) -> Result<HashMap<(String, i32), i64>, DrError> {
    let consumer = kafka::group_offsets_consumer(to, group, "cli|target-offsets")?;
    let wanted: Vec<(String, i32)> = translated
        .iter()
        .map(|t| (t.to_topic.clone(), t.partition))
        .collect();
    groups::committed(&consumer, &wanted).map_err(|e| committed_error(to, group, e))
}

fn committed_error(cluster: &ClusterConfig, group: &str, e: rdkafka::error::KafkaError) -> DrError {
    DrError::kafka(
        &cluster.alias,
        format!("reading the committed offsets of group `{group}`"),
        e,
    )
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
    already: &BTreeSet<String>,
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
    let pause_after = crate::runtime::failpoint::armed("failover-pause-after-groups");
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
        let info = groups::describe(&to_admin, &g.group)
            .map_err(|e| DrError::kafka(&to.alias, format!("describing group `{}`", g.group), e))?;
        if let Some(reason) = info.and_then(|i| decide::busy(&i, &to.alias, force)) {
            progress(&g.group, Err(&reason));
            refuse(&mut outcome, journal, reason)?;
            continue;
        }
        let consumer = kafka::group_offsets_consumer(to, &g.group, "cli|failover")?;
        let wanted: Vec<(String, i32)> = g
            .partitions
            .iter()
            .map(|p| (p.offset.to_topic.clone(), p.offset.partition))
            .collect();
        let now =
            groups::committed(&consumer, &wanted).map_err(|e| committed_error(to, &g.group, e))?;
        let commit = decide::commits(g, &now);
        if let Err(e) = groups::commit(&consumer, &commit) {
            let reason = format!("{} refused the offsets: {}", to.alias, error_chain(&e));
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
        if pause_after == Some(outcome.applied.len() as u64) {
            pause_forever();
        }
    }
    if outcome.refused.is_empty() {
        journal.write(&Entry::Completed { at_ms: now_ms() })?;
    }
    Ok(outcome)
}

/// The failpoint `failover-pause-after-groups` (tests only, see `runtime::failpoint`): stop
/// applying and wait to be killed, so that tests can interrupt a failover at a known point.
fn pause_forever() -> ! {
    eprintln!("failpoint: paused after applying the configured number of groups");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// The default journal path for `command` from `from` to `to`, in the working directory.
pub fn default_journal(command: Command, from: &str, to: &str) -> PathBuf {
    Path::new(&format!("strait-{command}-{from}-to-{to}.journal")).to_path_buf()
}
