//! `strait status`: per mirror, whether it replicates, per-partition lag in records and seconds,
//! the age of the last heartbeat on the target and of the last checkpoint per group. The target
//! is read first, then the source; the verdict is made from what was read.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::config::{Config, MirrorConfig};
use crate::kafka::ADMIN_TIMEOUT;
use crate::mirror::Positions;
use crate::telemetry::error_chain;

use super::decide::heartbeat_fresh_within;
use super::read;
use super::{human_ms, now_ms, DrError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Heartbeats fresh and every partition caught up or moving.
    Replicating,
    /// Lag, and no partition made progress recently.
    Stalled,
    /// No fresh heartbeat: strait is not running this mirror, or it cannot reach the source.
    Down,
    /// The source cluster did not answer.
    SourceUnreachable,
    /// The target cluster did not answer (nothing else could be read).
    TargetUnreachable,
    /// A cluster answered with an error (authorization, unreadable topic), or a client could
    /// not be built; the detail says which and why.
    Error,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Replicating => "replicating",
            State::Stalled => "stalled",
            State::Down => "down",
            State::SourceUnreachable => "source-unreachable",
            State::TargetUnreachable => "target-unreachable",
            State::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: i32,
    pub remote_topic: String,
    /// The first source offset not yet on the target.
    pub copied_to: i64,
    /// The source's end offset (high watermark); `None` when the source is unreachable.
    pub source_end: Option<i64>,
    pub lag_records: Option<i64>,
    /// Age of the oldest record not yet copied (0 when caught up).
    pub lag_seconds: Option<f64>,
    /// When the position was last persisted.
    pub progress_age_ms: Option<i64>,
    /// Why the partition is stopped and how to resume it (`/status` of a running strait only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The instance that copies it, when several share the mirror (`deployment`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// How the instances of a deployment share a mirror.
#[derive(Debug, Clone, Serialize)]
pub struct SharingStatus {
    pub deployment: String,
    /// Their consumer group on the mirror's target.
    pub group: String,
    /// The mirror's shards (partitions of its coordination topic); 0 when not known.
    pub shards: u32,
    pub instances: Vec<InstanceStatus>,
}

/// One instance sharing a mirror.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    pub instance: String,
    /// Where it connects from, as the group coordinator sees it (empty when not known).
    pub host: String,
    /// The shards it owns, as ranges (`0-3,7`).
    pub shards: String,
    /// Source partitions it copies (of those with a stored position).
    pub partitions: usize,
    /// It runs the mirror's singleton duties (topic creation, config and ACL sync,
    /// checkpoints, group offset sync, heartbeats): the owner of shard 0.
    pub duties: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    pub group: String,
    pub checkpoint_age_ms: i64,
    pub partitions: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct MirrorStatus {
    pub mirror: String,
    pub source: String,
    pub target: String,
    pub state: State,
    pub detail: String,
    pub heartbeat_age_ms: Option<i64>,
    pub lag_records: Option<i64>,
    pub lag_seconds: Option<f64>,
    pub partitions: Vec<PartitionStatus>,
    pub groups: Vec<GroupStatus>,
    /// How the instances of a deployment share the mirror; `None`: no `deployment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharing: Option<SharingStatus>,
}

/// Progress younger than this counts as moving.
const MOVING_WITHIN: Duration = Duration::from_secs(30);

/// The status of every mirror.
pub fn status(config: &Config) -> Vec<MirrorStatus> {
    config
        .mirrors
        .iter()
        .map(|m| mirror_status(config, m))
        .collect()
}

/// What the mirror left on its target.
struct TargetReads {
    heartbeat_age_ms: Option<i64>,
    positions: Positions,
    written: read::WrittenAt,
    checkpoints: read::Checkpoints,
}

/// The source's end offsets of the mirrored partitions, and the timestamp of the oldest record
/// not yet copied where one arrived in time.
struct SourceReads {
    ends: HashMap<(String, i32), i64>,
    oldest: HashMap<(String, i32), i64>,
}

fn mirror_status(config: &Config, m: &MirrorConfig) -> MirrorStatus {
    let mut st = MirrorStatus {
        mirror: m.name(),
        source: m.source.clone(),
        target: m.target.clone(),
        state: State::Replicating,
        detail: String::new(),
        heartbeat_age_ms: None,
        lag_records: None,
        lag_seconds: None,
        partitions: Vec::new(),
        groups: Vec::new(),
        sharing: None,
    };
    let now = now_ms();
    let target = match read_target(config, m, now) {
        Ok(t) => t,
        Err(e) => {
            (st.state, st.detail) = failed(&e, &m.source, &m.target);
            return st;
        }
    };
    st.heartbeat_age_ms = target.heartbeat_age_ms;
    st.groups = group_statuses(&target.checkpoints, now);
    let source = read_source(config, m, &target.positions);
    let empty = SourceReads {
        ends: HashMap::new(),
        oldest: HashMap::new(),
    };
    let reads = source.as_ref().unwrap_or(&empty);
    st.partitions = partition_statuses(m, &target, reads, now);
    if let Some(d) = &config.deployment {
        st.sharing = Some(sharing(config, m, d, &mut st.partitions));
    }
    let lag = MirrorLag::of(m, &st.partitions);
    if source.is_ok() {
        st.lag_records = Some(lag.records);
        st.lag_seconds = lag.seconds;
    }
    (st.state, st.detail) = match &source {
        Err(e) => failed(e, &m.source, &m.target),
        Ok(_) => verdict(&Verdict {
            source: &m.source,
            heartbeat_interval: m.emit_heartbeats.then_some(m.emit_heartbeats_interval),
            heartbeat_age_ms: st.heartbeat_age_ms,
            lag_records: lag.records,
            newest_progress_age_ms: lag.newest_progress_age_ms,
        }),
    };
    st
}

/// A mirror's lag, over its data partitions: heartbeat topics are left out, since a heartbeat
/// is written every interval and its copy is stored up to a progress interval later, so their
/// lag is rarely 0 on a healthy mirror (the heartbeat age says how fresh they are).
#[derive(Debug, PartialEq)]
struct MirrorLag {
    records: i64,
    /// The oldest uncopied record's age, over the partitions that lag.
    seconds: Option<f64>,
    /// Of the lagging partition whose position was written last: whether they move.
    newest_progress_age_ms: Option<i64>,
}

impl MirrorLag {
    fn of(m: &MirrorConfig, partitions: &[PartitionStatus]) -> Self {
        let data = partitions
            .iter()
            .filter(|p| !m.replication_policy.is_heartbeats_topic(&p.topic));
        let mut lag = MirrorLag {
            records: 0,
            seconds: None,
            newest_progress_age_ms: None,
        };
        for p in data {
            lag.records += p.lag_records.unwrap_or(0);
            if let Some(s) = p.lag_seconds {
                lag.seconds = Some(lag.seconds.map_or(s, |a: f64| a.max(s)));
            }
            if p.lag_records.is_some_and(|l| l > 0) {
                if let Some(age) = p.progress_age_ms {
                    lag.newest_progress_age_ms =
                        Some(lag.newest_progress_age_ms.map_or(age, |a| a.min(age)));
                }
            }
        }
        lag
    }
}

fn read_target(config: &Config, m: &MirrorConfig, now: i64) -> Result<TargetReads, DrError> {
    let target = &config.clusters[&m.target];
    let policy = &m.replication_policy;
    let beats = read::heartbeats(target)?;
    let (positions, written) =
        read::positions(target, &policy.progress_topic(&m.source), &m.source)?;
    let (checkpoints, _) = read::checkpoints(target, &policy.checkpoints_topic(&m.source), |g| {
        m.groups.matches(g)
    })?;
    Ok(TargetReads {
        heartbeat_age_ms: beats
            .get(&(m.source.clone(), m.target.clone()))
            .map(|at| (now - at).max(0)),
        positions,
        written,
        checkpoints,
    })
}

fn read_source(
    config: &Config,
    m: &MirrorConfig,
    positions: &Positions,
) -> Result<SourceReads, DrError> {
    let source = &config.clusters[&m.source];
    let reader = read::reader(source, "status")?;
    let mut ends = HashMap::new();
    for (topic, partition) in positions.keys() {
        let high = match reader.fetch_watermarks(topic, *partition, Duration::from_secs(10)) {
            Ok((_, high)) => high,
            // A position of a partition the source does not have (any more, or ever: anyone
            // can write to the progress topic): no end, no lag, and the others still count.
            Err(e) if gone(&e) => continue,
            Err(e) => {
                return Err(DrError::kafka(
                    &m.source,
                    format!("reading the end offset of `{topic}` partition {partition}"),
                    e,
                ))
            }
        };
        ends.insert((topic.clone(), *partition), high);
    }
    let lagging: Vec<(String, i32, i64)> = positions
        .iter()
        .filter(|(tp, s)| ends.get(*tp).is_some_and(|end| *end > s.next_offset))
        .map(|((t, p), s)| (t.clone(), *p, s.next_offset))
        .collect();
    let oldest = oldest_uncopied(&reader, &lagging);
    Ok(SourceReads { ends, oldest })
}

/// The partition (or its topic) does not exist on the cluster.
fn gone(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(C::UnknownPartition | C::UnknownTopicOrPartition | C::UnknownTopic)
    )
}

/// Per group, the age of its newest checkpoint and how many partitions it has checkpoints for.
fn group_statuses(checkpoints: &read::Checkpoints, now: i64) -> Vec<GroupStatus> {
    let mut by_group: BTreeMap<String, (i64, usize)> = BTreeMap::new();
    for ((group, _, _), seen) in checkpoints {
        let e = by_group.entry(group.clone()).or_insert((i64::MIN, 0));
        e.0 = e.0.max(seen.written_ms);
        e.1 += 1;
    }
    by_group
        .into_iter()
        .map(|(group, (at, partitions))| GroupStatus {
            group,
            checkpoint_age_ms: (now - at).max(0),
            partitions,
        })
        .collect()
}

/// Per mirrored partition, sorted: how far it is copied, and (when the source answered) its
/// lag in records and seconds.
fn partition_statuses(
    m: &MirrorConfig,
    target: &TargetReads,
    source: &SourceReads,
    now: i64,
) -> Vec<PartitionStatus> {
    let mut out: Vec<PartitionStatus> = target
        .positions
        .iter()
        .map(|((topic, partition), stored)| {
            let key = (topic.clone(), *partition);
            let end = source.ends.get(&key).copied();
            let lag = end.map(|e| (e - stored.next_offset).max(0));
            let lag_seconds = match lag {
                Some(0) => Some(0.0),
                Some(_) => source
                    .oldest
                    .get(&key)
                    .map(|ts| ((now - ts).max(0) as f64) / 1000.0),
                None => None,
            };
            PartitionStatus {
                topic: topic.clone(),
                partition: *partition,
                remote_topic: m.replication_policy.format_remote_topic(&m.source, topic),
                copied_to: stored.next_offset,
                source_end: end,
                lag_records: lag,
                lag_seconds,
                progress_age_ms: target.written.get(&key).map(|at| (now - at).max(0)),
                stopped: None,
                instance: None,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    out
}

/// The instances sharing the mirror, from its group on the target (members and the shards
/// assigned them); each partition is given the instance owning its shard.
fn sharing(
    config: &Config,
    m: &MirrorConfig,
    d: &crate::config::DeploymentConfig,
    partitions: &mut [PartitionStatus],
) -> SharingStatus {
    let group = d.group(&m.source);
    let topic = m.replication_policy.shards_topic(&m.source);
    let mut status = SharingStatus {
        deployment: d.name.clone(),
        group: group.clone(),
        shards: 0,
        instances: Vec::new(),
    };
    let target = &config.clusters[&m.target];
    let members = read::reader(target, "status").and_then(|r| {
        let shards = r
            .fetch_metadata(Some(&topic), ADMIN_TIMEOUT)
            .ok()
            .and_then(|md| md.topics().first().map(|t| t.partitions().len() as u32));
        let members = crate::kafka::groups::members(r.client(), &group)
            .map_err(|e| DrError::kafka(&m.target, format!("describing group `{group}`"), e))?;
        Ok((shards.unwrap_or(0), members))
    });
    let (shards, members) = match members {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "cannot tell which instance copies what");
            return status;
        }
    };
    status.shards = shards;
    let mut owner: HashMap<u32, usize> = HashMap::new();
    for (i, member) in members.iter().enumerate() {
        let owned: Vec<u32> = member
            .assignment
            .iter()
            .flatten()
            .filter(|(t, _)| *t == topic)
            .flat_map(|(_, ps)| ps.iter().filter_map(|p| u32::try_from(*p).ok()))
            .collect();
        for s in &owned {
            owner.insert(*s, i);
        }
        status.instances.push(InstanceStatus {
            instance: member
                .client_id
                .rsplit_once("|coordination|")
                .map_or(member.client_id.as_str(), |(_, i)| i)
                .to_string(),
            host: member.host.clone(),
            shards: crate::mirror::shards::ranges(&owned),
            partitions: 0,
            duties: owned.contains(&0),
        });
    }
    if shards > 0 {
        for p in partitions.iter_mut() {
            let shard = crate::mirror::shards::shard_of(&p.topic, p.partition, shards);
            if let Some(&i) = owner.get(&shard) {
                status.instances[i].partitions += 1;
                p.instance = Some(status.instances[i].instance.clone());
            }
        }
    }
    status.instances.sort_by(|a, b| a.instance.cmp(&b.instance));
    status
}

/// What the verdict on a mirror whose clusters both answered depends on.
struct Verdict<'a> {
    source: &'a str,
    /// `None` when the mirror writes no heartbeats.
    heartbeat_interval: Option<Duration>,
    heartbeat_age_ms: Option<i64>,
    lag_records: i64,
    /// Of the partition whose position was written last.
    newest_progress_age_ms: Option<i64>,
}

fn verdict(v: &Verdict<'_>) -> (State, String) {
    if let Some(interval) = v.heartbeat_interval {
        let fresh_within = heartbeat_fresh_within(interval).as_millis() as i64;
        if v.heartbeat_age_ms.is_none_or(|a| a > fresh_within) {
            return (
                State::Down,
                match v.heartbeat_age_ms {
                    Some(age) => format!(
                        "last heartbeat {} ago: strait is not running this mirror, or cannot reach {}",
                        human_ms(age),
                        v.source
                    ),
                    None => "no heartbeat on the target: the mirror has not run".into(),
                },
            );
        }
    }
    let lag = v.lag_records;
    if lag > 0
        && v.newest_progress_age_ms
            .is_none_or(|a| a > MOVING_WITHIN.as_millis() as i64)
    {
        return (
            State::Stalled,
            format!(
                "{lag} records behind and no progress for {}",
                v.newest_progress_age_ms.map_or("ever".into(), human_ms)
            ),
        );
    }
    if lag > 0 {
        return (
            State::Replicating,
            format!("catching up: {lag} records behind"),
        );
    }
    (State::Replicating, "caught up".into())
}

/// The state of a mirror whose status could not be read completely: `source-unreachable` or
/// `target-unreachable` only when that cluster did not answer, `error` otherwise.
fn failed(e: &DrError, source: &str, target: &str) -> (State, String) {
    let chain = error_chain(e);
    match e.cluster() {
        Some(c) if e.is_unreachable() && c == target => (
            State::TargetUnreachable,
            format!("{c} did not answer: {chain}"),
        ),
        Some(c) if e.is_unreachable() && c == source => (
            State::SourceUnreachable,
            format!("{c} did not answer: {chain}"),
        ),
        _ => (State::Error, chain),
    }
}

/// The timestamp of the record at each given offset (the oldest not yet copied), read from the
/// source; partitions that deliver nothing within a few seconds are left out.
fn oldest_uncopied(
    reader: &rdkafka::consumer::BaseConsumer<crate::kafka::LogContext>,
    lagging: &[(String, i32, i64)],
) -> HashMap<(String, i32), i64> {
    let mut out = HashMap::new();
    if lagging.is_empty() {
        return out;
    }
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in lagging {
        if tpl.add_partition_offset(t, *p, Offset::Offset(*o)).is_err() {
            return out;
        }
    }
    if reader.assign(&tpl).is_err() {
        return out;
    }
    let deadline = Instant::now() + Duration::from_secs(10).min(ADMIN_TIMEOUT);
    while out.len() < lagging.len() && Instant::now() < deadline {
        if let Some(Ok(m)) = reader.poll(Duration::from_millis(200)) {
            let key = (m.topic().to_string(), m.partition());
            if let Some(ts) = m.timestamp().to_millis() {
                out.entry(key).or_insert(ts);
            }
        }
    }
    let _ = reader.unassign();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::read::ReadError;
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};

    fn partition(topic: &str, lag: i64, lag_seconds: f64, progress_age_ms: i64) -> PartitionStatus {
        PartitionStatus {
            topic: topic.into(),
            partition: 0,
            remote_topic: format!("A.{topic}"),
            copied_to: 100,
            source_end: Some(100 + lag),
            lag_records: Some(lag),
            lag_seconds: Some(lag_seconds),
            progress_age_ms: Some(progress_age_ms),
            stopped: None,
            instance: None,
        }
    }

    /// The heartbeat topics (written every second, stored a progress interval after) are not
    /// the mirror's lag; whether it moves is judged on the partitions that lag.
    #[test]
    fn mirror_lag_leaves_heartbeats_out() {
        let yaml = "clusters:\n  A: { bootstrap_servers: a:9092 }\n  B: { bootstrap_servers: b:9092 }\nmirrors: [{ source: A, target: B }]\n";
        let config = crate::config::from_str(yaml, "test").unwrap();
        let m = &config.mirrors[0];
        let caught_up = [
            partition("heartbeats", 2, 0.3, 200),
            partition("C.heartbeats", 1, 0.2, 100),
            partition("orders", 0, 0.0, 90_000),
        ];
        assert_eq!(
            MirrorLag::of(m, &caught_up),
            MirrorLag {
                records: 0,
                seconds: Some(0.0),
                newest_progress_age_ms: None,
            }
        );
        let behind = [
            partition("heartbeats", 2, 0.3, 200),
            partition("orders", 5, 4.0, 40_000),
            partition("payments", 7, 9.0, 35_000),
            partition("refunds", 0, 0.0, 1_000),
        ];
        assert_eq!(
            MirrorLag::of(m, &behind),
            MirrorLag {
                records: 12,
                seconds: Some(9.0),
                newest_progress_age_ms: Some(35_000),
            }
        );
        let stalled = verdict(&v(Some(500), 12, Some(35_000)));
        assert_eq!(stalled.0, State::Stalled, "{}", stalled.1);
    }

    fn v(heartbeat_age_ms: Option<i64>, lag: i64, progress: Option<i64>) -> Verdict<'static> {
        Verdict {
            source: "A",
            heartbeat_interval: Some(Duration::from_secs(1)),
            heartbeat_age_ms,
            lag_records: lag,
            newest_progress_age_ms: progress,
        }
    }

    #[test]
    fn verdicts() {
        let cases = [
            (v(Some(500), 0, Some(100)), State::Replicating, "caught up"),
            (v(Some(10_000), 0, None), State::Replicating, "caught up"),
            (
                v(Some(500), 7, Some(30_000)),
                State::Replicating,
                "catching up: 7 records behind",
            ),
            (
                v(Some(500), 7, Some(30_001)),
                State::Stalled,
                "7 records behind and no progress for 30.0s",
            ),
            (
                v(Some(500), 7, None),
                State::Stalled,
                "7 records behind and no progress for ever",
            ),
            (
                v(Some(10_001), 0, Some(100)),
                State::Down,
                "last heartbeat 10.0s ago: strait is not running this mirror, or cannot reach A",
            ),
            (
                v(None, 0, Some(100)),
                State::Down,
                "no heartbeat on the target: the mirror has not run",
            ),
            // A mirror without heartbeats is judged by its progress alone.
            (
                Verdict {
                    heartbeat_interval: None,
                    ..v(None, 0, None)
                },
                State::Replicating,
                "caught up",
            ),
            (
                Verdict {
                    heartbeat_interval: Some(Duration::from_secs(5)),
                    ..v(Some(15_000), 0, None)
                },
                State::Replicating,
                "caught up",
            ),
        ];
        for (input, state, detail) in cases {
            let (got, why) = verdict(&input);
            assert_eq!(
                (got, why.as_str()),
                (state, detail),
                "{:?} lag {} progress {:?}",
                input.heartbeat_age_ms,
                input.lag_records,
                input.newest_progress_age_ms
            );
        }
    }

    #[test]
    fn unreachable_only_for_the_cluster_that_did_not_answer() {
        let down = || KafkaError::MetadataFetch(RDKafkaErrorCode::AllBrokersDown);
        let denied = || KafkaError::MetadataFetch(RDKafkaErrorCode::TopicAuthorizationFailed);
        let read = |cluster: &str, source| {
            DrError::read(
                cluster,
                ReadError::Kafka {
                    topic: "heartbeats".into(),
                    source,
                },
            )
        };
        let cases = [
            (read("B", down()), State::TargetUnreachable),
            (
                DrError::kafka("B", "metadata request", down()),
                State::TargetUnreachable,
            ),
            (
                DrError::kafka("A", "reading the end offset", down()),
                State::SourceUnreachable,
            ),
            (read("B", denied()), State::Error),
            (
                DrError::kafka("A", "reading the end offset", denied()),
                State::Error,
            ),
            (
                DrError::JournalWithoutPlan { path: "j".into() },
                State::Error,
            ),
        ];
        for (e, want) in cases {
            let (state, detail) = failed(&e, "A", "B");
            assert_eq!(state, want, "{e:?}");
            assert!(detail.contains(&error_chain(&e)), "{detail}");
        }
        let (_, detail) = failed(&read("B", down()), "A", "B");
        assert!(
            detail.starts_with("B did not answer: cannot read from cluster `B`"),
            "{detail}"
        );
    }

    #[test]
    fn states_are_kebab_case() {
        for s in [
            State::Replicating,
            State::Stalled,
            State::Down,
            State::SourceUnreachable,
            State::TargetUnreachable,
            State::Error,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
