//! `strait status`: per mirror, whether it replicates, per-partition lag in records and seconds,
//! the age of the last heartbeat on the target and of the last checkpoint per group.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::config::{Config, MirrorConfig};
use crate::kafka::ADMIN_TIMEOUT;

use super::read;
use super::translate::human_ms;
use super::{now_ms, DrError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Heartbeats fresh and every partition caught up or moving.
    Replicating,
    /// Lag, and no partition made progress recently.
    Stalled,
    /// No fresh heartbeat: strait is not running this mirror, or it cannot reach the source.
    Down,
    /// The source cluster does not answer.
    SourceUnreachable,
    /// The target cluster does not answer (nothing else could be read).
    TargetUnreachable,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Replicating => "replicating",
            State::Stalled => "stalled",
            State::Down => "down",
            State::SourceUnreachable => "source-unreachable",
            State::TargetUnreachable => "target-unreachable",
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
}

/// Progress younger than this counts as moving.
const MOVING_WITHIN: Duration = Duration::from_secs(30);

/// The status of every mirror (or only those whose name `source->target` is in `only`).
pub fn status(config: &Config) -> Vec<MirrorStatus> {
    config
        .mirrors
        .iter()
        .map(|m| mirror_status(config, m))
        .collect()
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
    };
    match fill(config, m, &mut st) {
        Ok(()) => {}
        Err(DrError::Unreachable { cluster, detail } | DrError::Read { cluster, detail })
            if cluster == m.target =>
        {
            st.state = State::TargetUnreachable;
            st.detail = format!("{cluster}: {detail}");
        }
        Err(e) => {
            st.state = State::TargetUnreachable;
            st.detail = e.to_string();
        }
    }
    st
}

fn fill(config: &Config, m: &MirrorConfig, st: &mut MirrorStatus) -> Result<(), DrError> {
    let source = &config.clusters[&m.source];
    let target = &config.clusters[&m.target];
    let now = now_ms();
    let policy = &m.replication_policy;

    let beats = read::heartbeats(target)?;
    st.heartbeat_age_ms = beats
        .get(&(m.source.clone(), m.target.clone()))
        .map(|at| (now - at).max(0));
    let (positions, written) =
        read::positions(target, &policy.progress_topic(&m.source), &m.source)?;
    let (checkpoints, _) = read::checkpoints(target, &policy.checkpoints_topic(&m.source), |g| {
        m.groups.matches(g)
    })?;
    let mut by_group: BTreeMap<String, (i64, usize)> = BTreeMap::new();
    for ((group, _, _), seen) in &checkpoints {
        let e = by_group.entry(group.clone()).or_insert((i64::MIN, 0));
        e.0 = e.0.max(seen.written_ms);
        e.1 += 1;
    }
    st.groups = by_group
        .into_iter()
        .map(|(group, (at, partitions))| GroupStatus {
            group,
            checkpoint_age_ms: (now - at).max(0),
            partitions,
        })
        .collect();

    // Source end offsets and the age of the oldest record not yet copied.
    let reader = read::reader(source, "status")?;
    let mut source_ok = true;
    let mut ends: HashMap<(String, i32), i64> = HashMap::new();
    for (topic, partition) in positions.keys() {
        match reader.fetch_watermarks(topic, *partition, Duration::from_secs(10)) {
            Ok((_, high)) => {
                ends.insert((topic.clone(), *partition), high);
            }
            Err(e) => {
                source_ok = false;
                st.detail = format!("{} unreachable: {e}", m.source);
                break;
            }
        }
    }
    let lagging: Vec<(String, i32, i64)> = positions
        .iter()
        .filter(|(tp, s)| ends.get(*tp).is_some_and(|end| *end > s.next_offset))
        .map(|((t, p), s)| (t.clone(), *p, s.next_offset))
        .collect();
    let oldest = if source_ok {
        oldest_uncopied(&reader, &lagging)
    } else {
        HashMap::new()
    };
    for ((topic, partition), stored) in &positions {
        let key = (topic.clone(), *partition);
        let end = ends.get(&key).copied();
        let lag = end.map(|e| (e - stored.next_offset).max(0));
        let lag_seconds = match lag {
            Some(0) => Some(0.0),
            Some(_) => oldest
                .get(&key)
                .map(|ts| ((now - ts).max(0) as f64) / 1000.0),
            None => None,
        };
        st.partitions.push(PartitionStatus {
            topic: topic.clone(),
            partition: *partition,
            remote_topic: policy.format_remote_topic(&m.source, topic),
            copied_to: stored.next_offset,
            source_end: end,
            lag_records: lag,
            lag_seconds,
            progress_age_ms: written.get(&key).map(|at| (now - at).max(0)),
        });
    }
    st.partitions
        .sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    if source_ok {
        st.lag_records = Some(st.partitions.iter().filter_map(|p| p.lag_records).sum());
        st.lag_seconds = st
            .partitions
            .iter()
            .filter_map(|p| p.lag_seconds)
            .fold(None, |acc: Option<f64>, s| {
                Some(acc.map_or(s, |a| a.max(s)))
            });
    }

    // The verdict.
    let fresh_within = (m.emit_heartbeats_interval * 3).max(Duration::from_secs(10));
    let heartbeat_fresh = st
        .heartbeat_age_ms
        .is_some_and(|a| a <= fresh_within.as_millis() as i64);
    let newest_progress = st.partitions.iter().filter_map(|p| p.progress_age_ms).min();
    let lag = st.lag_records.unwrap_or(0);
    (st.state, st.detail) = if !source_ok {
        (State::SourceUnreachable, std::mem::take(&mut st.detail))
    } else if m.emit_heartbeats && !heartbeat_fresh {
        (
            State::Down,
            match st.heartbeat_age_ms {
                Some(age) => format!(
                    "last heartbeat {} ago: strait is not running this mirror, or cannot reach {}",
                    human_ms(age),
                    m.source
                ),
                None => "no heartbeat on the target: the mirror has not run".into(),
            },
        )
    } else if lag > 0 && newest_progress.is_none_or(|a| a > MOVING_WITHIN.as_millis() as i64) {
        (
            State::Stalled,
            format!(
                "{lag} records behind and no progress for {}",
                newest_progress.map_or("ever".into(), human_ms)
            ),
        )
    } else if lag > 0 {
        (
            State::Replicating,
            format!("catching up: {lag} records behind"),
        )
    } else {
        (State::Replicating, "caught up".into())
    };
    Ok(())
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
