//! `strait verify`: each replicated partition's source records against their copies on the
//! target, over the range the mirror has stored as copied, through its offset map. The reading
//! is here; the verdicts are [`super::compare`]'s.
//!
//! The range of a partition: from the oldest source offset its offset map still holds (or the
//! source's log start, if later) to the stored position, the first offset not yet copied (or the
//! source's last stable offset, if lower). On the target, from where the map puts the first of
//! those records to just after where it puts the last. Both sides are read `read_committed`, as
//! the mirror reads the source and as consumers read the target; transaction markers and
//! compaction gaps are in no run of the map and are never differences.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message, Timestamp};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::config::{ClusterConfig, Config, Delivery, MirrorConfig};
use crate::kafka::read::ReadError;
use crate::kafka::{LogContext, ADMIN_TIMEOUT};
use crate::offset_map::Run;
use crate::policy::graph;

use super::compare::{self, Content, Counts, Difference, Rec};
use super::{read, DrError};

/// A partition that delivers nothing for this long, before its end, fails the verification.
const STALL_DEADLINE: Duration = Duration::from_secs(30);

pub struct Request {
    /// Only this mirror (`A->B`).
    pub mirror: Option<String>,
    /// Only source topics whose whole name matches.
    pub topics: Option<regex::Regex>,
    /// The fraction of records whose content is compared (the others: presence only).
    pub sample: f64,
}

/// What the reading reports while it goes.
pub trait Progress {
    /// The partitions are known: how many source offsets they span in all.
    fn start(&self, offsets: u64);
    /// `offsets` more of them were read.
    fn advance(&self, offsets: u64);
    /// The partition being read.
    fn partition(&self, name: &str);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every record in the range found as it should be.
    Match,
    /// At least one difference.
    Differ,
    /// Nothing to compare (see `note`).
    Skipped,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::Differ => "differ",
            Verdict::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PartitionReport {
    pub mirror: String,
    pub topic: String,
    pub partition: i32,
    pub remote_topic: String,
    /// Source offsets compared: `[from, to)`.
    pub source_offsets: Option<(i64, i64)>,
    /// Target offsets compared: `[from, to)`.
    pub target_offsets: Option<(i64, i64)>,
    pub counts: Counts,
    pub differences: Vec<Difference>,
    /// Differences not listed (beyond the first 1000 of the partition).
    pub differences_not_listed: u64,
    /// Whether duplicates count as differences (exactly-once mirrors).
    pub duplicates_fail: bool,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The records before the offset map, compared by count only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_map: Option<BeforeMap>,
}

/// The stretch of a partition before its offset map's first run: the map drops the runs no
/// group's committed offset needs (a partition no group has committed on keeps only its last
/// run), so where those records went is not known record by record. Their numbers are
/// compared: fewer on the target is a difference (records missing); more is one only for an
/// exactly-once mirror (at-least-once copies again what it had not stored when it stopped, and
/// such duplicates cannot be told from records written by hand without the map).
#[derive(Debug, Clone, Serialize)]
pub struct BeforeMap {
    /// Source `[from, to)`, target `[from, to)`.
    pub source_offsets: (i64, i64),
    pub target_offsets: (i64, i64),
    pub source_records: u64,
    pub target_records: u64,
}

impl BeforeMap {
    fn differs(&self, duplicates_fail: bool) -> bool {
        self.target_records < self.source_records
            || (duplicates_fail && self.target_records > self.source_records)
    }
}

/// One partition to read.
struct Plan<'a> {
    mirror: &'a MirrorConfig,
    source: &'a ClusterConfig,
    target: &'a ClusterConfig,
    topic: String,
    partition: i32,
    remote_topic: String,
    runs: Vec<Run>,
    /// Source `[from, to)`, target `[from, to)`.
    source_range: (i64, i64),
    target_range: (i64, i64),
    /// Source and target offsets before the map's first run, to count.
    before_map: Option<((i64, i64), (i64, i64))>,
}

/// Verifies every selected partition, one after the other.
pub fn verify(
    config: &Config,
    req: &Request,
    progress: &dyn Progress,
) -> Result<Vec<PartitionReport>, DrError> {
    let mirrors: Vec<&MirrorConfig> = config
        .mirrors
        .iter()
        .filter(|m| req.mirror.as_ref().is_none_or(|n| *n == m.name()))
        .collect();
    if mirrors.is_empty() {
        let names: Vec<String> = config.mirrors.iter().map(MirrorConfig::name).collect();
        return Err(DrError::Usage(format!(
            "no mirror {} in the configuration (mirrors: {})",
            req.mirror.as_deref().unwrap_or_default(),
            names.join(", ")
        )));
    }
    let mut reports = Vec::new();
    let mut plans = Vec::new();
    for m in mirrors {
        let (source, target) = (&config.clusters[&m.source], &config.clusters[&m.target]);
        let (positions, _) = read::positions(
            target,
            &m.replication_policy.progress_topic(&m.source),
            &m.source,
        )?;
        let mut keys: Vec<&(String, i32)> = positions
            .keys()
            .filter(|(t, _)| req.topics.as_ref().is_none_or(|re| re.is_match(t)))
            .collect();
        keys.sort();
        let source_reader = read::reader(source, "verify-watermarks")?;
        let target_reader = read::reader(target, "verify-watermarks")?;
        for (topic, partition) in keys {
            let stored = &positions[&(topic.clone(), *partition)];
            let remote_topic = m.replication_policy.format_remote_topic(&m.source, topic);
            let skipped = |note: String| PartitionReport {
                mirror: m.name(),
                topic: topic.clone(),
                partition: *partition,
                remote_topic: remote_topic.clone(),
                source_offsets: None,
                target_offsets: None,
                counts: Counts::default(),
                differences: Vec::new(),
                differences_not_listed: 0,
                duplicates_fail: m.delivery == Delivery::ExactlyOnce,
                verdict: Verdict::Skipped,
                note: Some(note),
                before_map: None,
            };
            let runs: Vec<Run> = stored.map.runs().collect();
            let (Some(first), Some(_)) = (runs.first(), runs.last()) else {
                reports.push(skipped(
                    "no offset map: nothing copied yet, or its history was dropped".into(),
                ));
                continue;
            };
            let (low, stable) = watermarks(&source_reader, source, topic, *partition)?;
            let from = first.u.max(low);
            let to = stored.next_offset.min(stable);
            let Some((target_from, target_to)) = target_span(&runs, from, to) else {
                reports.push(skipped(format!(
                    "the source holds none of the copied records any more (its log starts at \
                     {low}, the map ends before)"
                )));
                continue;
            };
            let (target_low, target_stable) =
                watermarks(&target_reader, target, &remote_topic, *partition)?;
            let before_map =
                (from > low).then_some(((low, from), (target_low.min(target_from), target_from)));
            plans.push(Plan {
                mirror: m,
                source,
                target,
                topic: topic.clone(),
                partition: *partition,
                remote_topic,
                runs,
                source_range: (from, to),
                target_range: (target_from, target_to.min(target_stable)),
                before_map,
            });
        }
    }
    progress.start(
        plans
            .iter()
            .map(|p| {
                let before = p.before_map.map_or(0, |((a, b), _)| b - a);
                (p.source_range.1 - p.source_range.0 + before).max(0) as u64
            })
            .sum(),
    );
    for plan in plans {
        progress.partition(&format!(
            "{} {}[{}]",
            plan.mirror.name(),
            plan.topic,
            plan.partition
        ));
        reports.push(verify_partition(&plan, req.sample, progress)?);
    }
    Ok(reports)
}

/// The log start and the last stable offset of a partition.
fn watermarks(
    reader: &BaseConsumer<LogContext>,
    cluster: &ClusterConfig,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), DrError> {
    reader
        .fetch_watermarks(topic, partition, ADMIN_TIMEOUT)
        .map_err(|e| {
            DrError::kafka(
                &cluster.alias,
                format!("reading the watermarks of `{topic}` partition {partition}"),
                e,
            )
        })
}

/// Where the map puts source offsets `[from, to)` on the target: `[first, last + 1)`.
fn target_span(runs: &[Run], from: i64, to: i64) -> Option<(i64, i64)> {
    let first = runs
        .iter()
        .find(|r| r.u + r.len > from && r.u < to)
        .map(|r| r.d + (from - r.u).max(0))?;
    let last = runs
        .iter()
        .rev()
        .find(|r| r.u < to && r.u + r.len > from)
        .map(|r| r.d + (to.min(r.u + r.len) - r.u))?;
    Some((first, last))
}

fn verify_partition(
    plan: &Plan<'_>,
    sample: f64,
    progress: &dyn Progress,
) -> Result<PartitionReport, DrError> {
    let source_consumer = read::reader(plan.source, "verify-source")?;
    let target_consumer = read::reader(plan.target, "verify-target")?;
    let sampled = |u: i64| sample >= 1.0 || in_sample(plan.partition, u, sample);
    let mut read_to = plan.source_range.0;
    let source = Reader::new(
        &source_consumer,
        plan.source,
        &plan.topic,
        plan.partition,
        plan.source_range,
    )?
    .map(|r| {
        r.map(|(msg_offset, rec)| {
            progress.advance((msg_offset + 1 - read_to).max(0) as u64);
            read_to = msg_offset + 1;
            rec
        })
    });
    let target_alias = plan.mirror.target.as_str();
    let source = source.map(|r| {
        r.map(|raw| Rec {
            offset: raw.offset,
            loop_skipped: raw.visited(target_alias),
            content: sampled(raw.offset).then(|| raw.content()),
        })
    });
    let target = Reader::new(
        &target_consumer,
        plan.target,
        &plan.remote_topic,
        plan.partition,
        plan.target_range,
    )?
    .map(|r| {
        r.map(|(_, raw)| Rec {
            offset: raw.offset,
            loop_skipped: false,
            content: compare::source_of(&plan.runs, raw.offset)
                .is_none_or(&sampled)
                .then(|| raw.content()),
        })
    });
    let outcome = compare::compare(&plan.runs, source, target)?;
    progress.advance((plan.source_range.1 - read_to).max(0) as u64);
    let duplicates_fail = plan.mirror.delivery == Delivery::ExactlyOnce;
    let before_map = match plan.before_map {
        None => None,
        Some((source_offsets, target_offsets)) => {
            let count = |consumer, cluster, topic, range| -> Result<u64, DrError> {
                let mut n = 0;
                for r in Reader::new(consumer, cluster, topic, plan.partition, range)? {
                    r?;
                    n += 1;
                }
                Ok(n)
            };
            let source_records = count(&source_consumer, plan.source, &plan.topic, source_offsets)?;
            progress.advance((source_offsets.1 - source_offsets.0).max(0) as u64);
            let target_records = count(
                &target_consumer,
                plan.target,
                &plan.remote_topic,
                target_offsets,
            )?;
            Some(BeforeMap {
                source_offsets,
                target_offsets,
                source_records,
                target_records,
            })
        }
    };
    let verdict = if outcome.counts.failures(duplicates_fail) > 0
        || before_map
            .as_ref()
            .is_some_and(|b| b.differs(duplicates_fail))
    {
        Verdict::Differ
    } else {
        Verdict::Match
    };
    Ok(PartitionReport {
        mirror: plan.mirror.name(),
        topic: plan.topic.clone(),
        partition: plan.partition,
        remote_topic: plan.remote_topic.clone(),
        source_offsets: Some(plan.source_range),
        target_offsets: Some(plan.target_range),
        counts: outcome.counts,
        differences: outcome.differences,
        differences_not_listed: outcome.differences_dropped,
        duplicates_fail,
        verdict,
        note: None,
        before_map,
    })
}

/// Whether the record at `offset` of `partition` is in a sample of `fraction`: the same records
/// every run (a hash of the partition and offset, not a random draw).
fn in_sample(partition: i32, offset: i64, fraction: f64) -> bool {
    // splitmix64's finalizer.
    let mut z = (offset as u64) ^ ((partition as u64) << 48);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z as f64) < fraction * (u64::MAX as f64)
}

/// A record as read, before the decision what of it to compare.
struct Raw {
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    timestamp: Timestamp,
    provenance: Option<Vec<u8>>,
}

impl Raw {
    fn of(msg: &BorrowedMessage<'_>) -> Raw {
        let mut headers = Vec::new();
        let mut provenance = None;
        if let Some(hs) = msg.headers() {
            for h in hs.iter() {
                if h.key == graph::PROVENANCE_HEADER {
                    provenance = Some(h.value.unwrap_or_default().to_vec());
                } else {
                    headers.push((h.key.to_string(), h.value.map(<[u8]>::to_vec)));
                }
            }
        }
        Raw {
            offset: msg.offset(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            headers,
            timestamp: msg.timestamp(),
            provenance,
        }
    }

    fn visited(&self, target: &str) -> bool {
        self.provenance
            .as_deref()
            .is_some_and(|v| graph::visited(v, target))
    }

    fn content(&self) -> Content {
        // A null and an empty key or value differ: a marker byte first.
        let opt = |b: &Option<Vec<u8>>| -> Vec<u8> {
            match b {
                None => vec![0],
                Some(v) => {
                    let mut out = Vec::with_capacity(v.len() + 1);
                    out.push(1);
                    out.extend_from_slice(v);
                    out
                }
            }
        };
        let mut header_parts: Vec<Vec<u8>> = Vec::with_capacity(self.headers.len() * 2);
        for (k, v) in &self.headers {
            header_parts.push(k.as_bytes().to_vec());
            header_parts.push(opt(v));
        }
        let refs: Vec<&[u8]> = header_parts.iter().map(Vec::as_slice).collect();
        Content {
            key: compare::digest(&[&opt(&self.key)]),
            value: compare::digest(&[&opt(&self.value)]),
            headers: compare::digest(&refs),
            timestamp: match self.timestamp {
                Timestamp::CreateTime(t) => Some(t),
                Timestamp::LogAppendTime(_) | Timestamp::NotAvailable => None,
            },
        }
    }
}

/// The records of one partition in `[from, to)`, in order.
struct Reader<'c> {
    consumer: &'c BaseConsumer<LogContext>,
    cluster: &'c ClusterConfig,
    topic: &'c str,
    partition: i32,
    to: i64,
    next: i64,
    last_progress: Instant,
}

impl<'c> Reader<'c> {
    fn new(
        consumer: &'c BaseConsumer<LogContext>,
        cluster: &'c ClusterConfig,
        topic: &'c str,
        partition: i32,
        (from, to): (i64, i64),
    ) -> Result<Reader<'c>, DrError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(from))
            .and_then(|()| consumer.assign(&tpl))
            .map_err(|e| {
                DrError::kafka(
                    &cluster.alias,
                    format!("reading `{topic}` partition {partition} from offset {from}"),
                    e,
                )
            })?;
        Ok(Reader {
            consumer,
            cluster,
            topic,
            partition,
            to,
            next: from,
            last_progress: Instant::now(),
        })
    }

    /// The position the consumer has reached: past transaction markers too.
    fn reached(&self) -> Option<i64> {
        let list = self.consumer.position().ok()?;
        let elem = list.find_partition(self.topic, self.partition)?;
        match elem.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        }
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<(i64, Raw), DrError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.next >= self.to {
                return None;
            }
            match self.consumer.poll(Duration::from_millis(200)) {
                Some(Ok(msg)) => {
                    self.last_progress = Instant::now();
                    if msg.offset() >= self.to {
                        self.next = self.to;
                        return None;
                    }
                    self.next = msg.offset() + 1;
                    return Some(Ok((msg.offset(), Raw::of(&msg))));
                }
                // A failed fetch is retried by librdkafka; the stall deadline ends it.
                Some(Err(e)) => {
                    tracing::debug!(topic = self.topic, partition = self.partition, error = %e, "verify: read error");
                }
                None => {}
            }
            if self.reached().is_some_and(|p| p >= self.to) {
                self.next = self.to;
                return None;
            }
            if self.last_progress.elapsed() > STALL_DEADLINE {
                return Some(Err(DrError::read(
                    &self.cluster.alias,
                    ReadError::Timeout {
                        topic: format!("{}` partition `{}", self.topic, self.partition),
                        remaining: self.to - self.next,
                    },
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_span_covers_the_copied_records_of_the_range() {
        let runs = [Run { u: 0, d: 0, len: 5 }, Run { u: 6, d: 7, len: 4 }];
        assert_eq!(target_span(&runs, 0, 10), Some((0, 11)));
        assert_eq!(target_span(&runs, 2, 8), Some((2, 9)));
        // The log start past the first run; the position inside the gap.
        assert_eq!(target_span(&runs, 5, 6), None);
        assert_eq!(target_span(&runs, 3, 6), Some((3, 5)));
        assert_eq!(target_span(&runs, 10, 12), None);
    }

    #[test]
    fn the_sample_is_the_same_every_run_and_about_its_fraction() {
        let n = (0..100_000).filter(|&o| in_sample(3, o, 0.1)).count();
        assert!((9_000..11_000).contains(&n), "{n}");
        let again = (0..100_000).filter(|&o| in_sample(3, o, 0.1)).count();
        assert_eq!(n, again);
        assert!((0..1000).all(|o| in_sample(0, o, 1.0)));
    }
}
