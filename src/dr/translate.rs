//! Translating a consumer group's position from one cluster to another.
//!
//! Two kinds of topics carry a group's position from cluster `from` to cluster `to`:
//! - topics that the mirror `from->to` copies to `to` (forward): translated through the exact
//!   offset map that mirror persists on `to`, from the group's committed offsets read live on
//!   `from`; or, when `from` is lost (or on request), from the latest checkpoints in
//!   `<from>.checkpoints.internal` on `to` (strait's or MirrorMaker 2's);
//! - remote topics on `from` that the mirror `to->from` filled with copies of `to`'s topics
//!   (inverse, e.g. `B.orders` on A when going back from A to B): translated back to the original
//!   topic through that mirror's map, persisted on `from`.
//!
//! A translation never points past a record the group has not read: resuming there skips
//! nothing.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::config::{ClusterConfig, Config, MirrorConfig};
use crate::kafka::{self, groups, LogContext};
use crate::mirror::{Positions, Stored};
use crate::offset_map::Translation;
use crate::policy::{decide_topic, TopicDecision};
use rdkafka::consumer::Consumer;

use super::read::{self, Checkpoints};
use super::{human_ms, now_ms, DrError};

/// How a translated offset was obtained, and how far it can be trusted.
///
/// One spelling everywhere (JSON, tables, the runbook): kebab-case. Journals written before
/// used snake_case in JSON; the aliases read those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exactness {
    /// The offset of the first copied record at or after the group's committed offset: no
    /// record skipped, none replayed.
    Exact,
    /// The group has read records that are not on the target yet; the offset is the end of
    /// what has been copied (nothing skipped; the rest arrives as replication catches up).
    #[serde(alias = "behind_replication")]
    BehindReplication,
    /// From the latest checkpoint: exact when it was written; records the group read since then
    /// are read again.
    Checkpoint,
    /// No translation: the offset is older than the map kept, or nothing was copied yet.
    #[serde(alias = "no_data")]
    NoData,
}

impl Exactness {
    pub fn as_str(self) -> &'static str {
        match self {
            Exactness::Exact => "exact",
            Exactness::BehindReplication => "behind-replication",
            Exactness::Checkpoint => "checkpoint",
            Exactness::NoData => "no-data",
        }
    }
}

/// One partition of a group, translated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffset {
    /// The topic on `from` the group has consumed.
    pub from_topic: String,
    pub partition: i32,
    /// The group's committed offset on `from` (for checkpoints: the one checkpointed).
    pub from_offset: i64,
    /// The corresponding topic on `to`.
    pub to_topic: String,
    /// The offset to resume from on `to`.
    pub to_offset: Option<i64>,
    pub exactness: Exactness,
    /// Plain words: why this offset, and what it means for the consumer.
    pub detail: String,
    /// For checkpoints: how old the checkpoint is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_age_ms: Option<i64>,
    /// Forward topics read live: the first offset on `from` not yet copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_to: Option<i64>,
}

/// Where the group's position on `from` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OffsetSource {
    /// Committed offsets read on `from`, translated through the persisted offset maps.
    Live,
    /// The latest checkpoints on `to` (`from` is lost or not consulted).
    Checkpoints,
}

impl OffsetSource {
    pub fn as_str(self) -> &'static str {
        match self {
            OffsetSource::Live => "live",
            OffsetSource::Checkpoints => "checkpoints",
        }
    }
}

impl std::fmt::Display for OffsetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The clusters and mirrors named by `--from` and `--to`.
pub struct Resolved<'a> {
    pub from: &'a ClusterConfig,
    pub to: &'a ClusterConfig,
    /// The mirror `from->to`, if configured.
    pub forward: Option<&'a MirrorConfig>,
    /// The mirror `to->from`, if configured.
    pub reverse: Option<&'a MirrorConfig>,
}

/// The mirrors between two clusters and the state they persisted, loaded once for many groups.
pub struct Link<'a> {
    pub from: &'a ClusterConfig,
    pub to: &'a ClusterConfig,
    /// The mirror `from->to`, if configured.
    pub forward: Option<&'a MirrorConfig>,
    /// The mirror `to->from`, if configured.
    pub reverse: Option<&'a MirrorConfig>,
    pub source: OffsetSource,
    /// The forward mirror's positions (on `to`) and when each was written.
    forward_positions: Positions,
    pub forward_written: read::WrittenAt,
    /// The reverse mirror's positions (on `from`); empty in checkpoint mode.
    reverse_positions: Positions,
    /// Checkpoints of the forward mirror (checkpoint mode only).
    checkpoints: Checkpoints,
    /// Checkpoint records that did not decode.
    pub unreadable_checkpoints: usize,
    /// Offsets-only translation ([`Link::load_maps`]) with a `from` that did not answer: why
    /// the reverse mirror's map (kept on `from`) is missing. The forward maps, on `to`, still
    /// translate: the case of a source lost in a disaster.
    reverse_unread: Option<String>,
}

impl<'a> Link<'a> {
    /// Finds the clusters and mirrors of `from -> to` in `config`.
    pub fn resolve(config: &'a Config, from: &str, to: &str) -> Result<Resolved<'a>, DrError> {
        let cluster = |alias: &str| {
            config.clusters.get(alias).ok_or_else(|| {
                DrError::Usage(format!(
                    "no cluster `{alias}` in the configuration (clusters: {})",
                    config
                        .clusters
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        };
        let (f, t) = (cluster(from)?, cluster(to)?);
        if from == to {
            return Err(DrError::Usage(
                "--from and --to name the same cluster".into(),
            ));
        }
        let mirror = |s: &str, d: &str| {
            config
                .mirrors
                .iter()
                .find(|m| m.source == s && m.target == d)
        };
        let (forward, reverse) = (mirror(from, to), mirror(to, from));
        if forward.is_none() && reverse.is_none() {
            return Err(DrError::Usage(format!(
                "the configuration has no mirror {from}->{to} or {to}->{from}: nothing links the two clusters"
            )));
        }
        Ok(Resolved {
            from: f,
            to: t,
            forward,
            reverse,
        })
    }

    /// Loads what the mirrors persisted. In checkpoint mode `from` is not contacted.
    pub fn load(
        config: &'a Config,
        from: &str,
        to: &str,
        source: OffsetSource,
    ) -> Result<Self, DrError> {
        Self::load_with(config, from, to, source, true)
    }

    /// Loads only the offset maps, for [`Link::translate_offsets`]: the mirror `from->to`'s
    /// (on `to`) and the mirror `to->from`'s (on `from`, read only when that mirror exists).
    /// Neither cluster's topics or groups are listed.
    pub fn load_maps(config: &'a Config, from: &str, to: &str) -> Result<Self, DrError> {
        Self::load_with(config, from, to, OffsetSource::Live, false)
    }

    fn load_with(
        config: &'a Config,
        from: &str,
        to: &str,
        source: OffsetSource,
        list_source_topics: bool,
    ) -> Result<Self, DrError> {
        let Resolved {
            from: from_c,
            to: to_c,
            forward,
            reverse,
        } = Self::resolve(config, from, to)?;
        let mut link = Link {
            from: from_c,
            to: to_c,
            forward,
            reverse,
            source,
            forward_positions: Positions::new(),
            forward_written: HashMap::new(),
            reverse_positions: Positions::new(),
            checkpoints: Checkpoints::new(),
            unreadable_checkpoints: 0,
            reverse_unread: None,
        };
        if let Some(m) = forward {
            let (p, w) = read::positions(to_c, &m.replication_policy.progress_topic(from), from)?;
            link.forward_positions = p;
            link.forward_written = w;
            if source == OffsetSource::Checkpoints {
                let topic = m.replication_policy.checkpoints_topic(from);
                let (c, bad) = read::checkpoints(to_c, &topic, |_| true)?;
                link.checkpoints = c;
                link.unreadable_checkpoints = bad;
            }
        }
        if let (Some(m), OffsetSource::Live, true) = (forward, source, list_source_topics) {
            // Topics the mirror replicates but has no position for yet still belong to the
            // group's position: they translate to "no data", never silently disappear.
            let consumer = read::reader(from_c, "metadata")?;
            let metadata = consumer
                .fetch_metadata(None, kafka::ADMIN_TIMEOUT)
                .map_err(|e| DrError::kafka(&from_c.alias, "metadata request", e))?;
            for t in metadata.topics() {
                let decision = decide_topic(
                    &m.replication_policy,
                    m.topic_rules,
                    &m.topics,
                    from,
                    to,
                    t.name(),
                );
                if matches!(decision, TopicDecision::Replicate { .. }) {
                    for p in t.partitions() {
                        link.forward_positions
                            .entry((t.name().to_string(), p.id()))
                            .or_insert_with(|| Stored {
                                next_offset: 0,
                                map: Default::default(),
                                topic_id: None,
                                from_mm2: false,
                            });
                    }
                }
            }
        }
        if let (Some(m), OffsetSource::Live) = (reverse, source) {
            match read::positions(from_c, &m.replication_policy.progress_topic(to), to) {
                Ok((p, _)) => link.reverse_positions = p,
                Err(e) if !list_source_topics && e.is_unreachable() => {
                    link.reverse_unread = Some(crate::telemetry::error_chain(&e));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(link)
    }

    /// The groups that have something to translate: in live mode the groups on `from` that
    /// the mirrors' group filters accept, in checkpoint mode the groups with checkpoints.
    pub fn candidate_groups(&self) -> Result<Vec<String>, DrError> {
        let accepted = |g: &str| {
            self.forward.is_some_and(|m| m.groups.matches(g))
                || self.reverse.is_some_and(|m| m.groups.matches(g))
        };
        let mut out: Vec<String> = match self.source {
            OffsetSource::Checkpoints => self.checkpoints.keys().map(|k| k.0.clone()).collect(),
            OffsetSource::Live => {
                let admin = admin(self.from)?;
                groups::list(&admin)
                    .map_err(|e| {
                        DrError::kafka(&self.from.alias, "listing the consumer groups", e)
                    })?
                    .into_iter()
                    .filter(|g| accepted(g))
                    .collect()
            }
        };
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The replicated partitions of the forward mirror: source (topic, partition) -> target
    /// topic.
    fn forward_partitions(&self) -> BTreeMap<(String, i32), String> {
        let Some(m) = self.forward else {
            return BTreeMap::new();
        };
        self.forward_positions
            .keys()
            .map(|(t, p)| {
                (
                    (t.clone(), *p),
                    m.replication_policy
                        .format_remote_topic(&self.from.alias, t),
                )
            })
            .collect()
    }

    /// The reverse mirror's copies on `from`: remote (topic, partition) on `from` -> original
    /// topic on `to`.
    fn reverse_partitions(&self) -> BTreeMap<(String, i32), String> {
        let Some(m) = self.reverse else {
            return BTreeMap::new();
        };
        self.reverse_positions
            .keys()
            .map(|(t, p)| {
                (
                    (
                        m.replication_policy.format_remote_topic(&self.to.alias, t),
                        *p,
                    ),
                    t.clone(),
                )
            })
            .collect()
    }

    /// Translates `group`'s position on `from` to `to`, partition by partition (sorted by topic
    /// and partition). Partitions the group never committed are left out.
    pub fn translate(&self, group: &str) -> Result<Vec<PartitionOffset>, DrError> {
        let mut out = match self.source {
            OffsetSource::Checkpoints => self.translate_checkpoints(group),
            OffsetSource::Live => self.translate_live(group)?,
        };
        out.sort_by(|a, b| (&a.from_topic, a.partition).cmp(&(&b.from_topic, b.partition)));
        Ok(out)
    }

    fn translate_checkpoints(&self, group: &str) -> Vec<PartitionOffset> {
        let Some(m) = self.forward else {
            return Vec::new();
        };
        let now = now_ms();
        self.checkpoints
            .iter()
            .filter(|(k, _)| k.0 == group)
            .map(|((_, topic, partition), seen)| {
                let c = &seen.checkpoint;
                let age = (now - seen.written_ms).max(0);
                PartitionOffset {
                    from_topic: m
                        .replication_policy
                        .upstream_topic(topic)
                        .unwrap_or_else(|| topic.clone()),
                    partition: *partition,
                    from_offset: c.upstream_offset,
                    to_topic: topic.clone(),
                    to_offset: Some(c.downstream_offset),
                    exactness: Exactness::Checkpoint,
                    detail: format!(
                        "checkpoint written {} ago; records the group read after that are read again",
                        human_ms(age)
                    ),
                    checkpoint_age_ms: Some(age),
                    copied_to: None,
                }
            })
            .collect()
    }

    fn translate_live(&self, group: &str) -> Result<Vec<PartitionOffset>, DrError> {
        let forward = self.forward_partitions();
        let reverse = self.reverse_partitions();
        let wanted: Vec<(String, i32)> = forward.keys().chain(reverse.keys()).cloned().collect();
        let consumer = kafka::group_offsets_consumer(self.from, group, "cli|translate")?;
        let committed = groups::committed(&consumer, &wanted).map_err(|e| {
            DrError::kafka(
                &self.from.alias,
                format!("reading the committed offsets of group `{group}`"),
                e,
            )
        })?;
        Ok(committed
            .into_iter()
            .filter_map(|((topic, partition), u)| {
                self.translate_one(&forward, &reverse, topic, partition, u)
            })
            .collect())
    }

    /// Offsets kept outside Kafka (a Flink or Spark checkpoint, a database row), each the next
    /// offset to read of a partition on `from`, translated as a group's would be: one result per
    /// input, in input order. A partition no mirror between the two clusters copies comes back
    /// as `no-data`, saying so.
    pub fn translate_offsets(&self, offsets: &[ExternalOffset]) -> Vec<PartitionOffset> {
        let forward = self.forward_partitions();
        let reverse = self.reverse_partitions();
        offsets
            .iter()
            .map(|o| {
                self.translate_one(&forward, &reverse, o.topic.clone(), o.partition, o.offset)
                    .unwrap_or_else(|| self.not_copied(o))
            })
            .collect()
    }

    /// `u` of `topic` partition `partition` on `from`, through the forward or the reverse
    /// mirror's map; `None` when neither copies that partition.
    fn translate_one(
        &self,
        forward: &BTreeMap<(String, i32), String>,
        reverse: &BTreeMap<(String, i32), String>,
        topic: String,
        partition: i32,
        u: i64,
    ) -> Option<PartitionOffset> {
        let key = (topic, partition);
        if let Some(to_topic) = forward.get(&key) {
            let stored = &self.forward_positions[&key];
            let (to_offset, exactness, detail) = forward_offset(u, stored);
            Some(PartitionOffset {
                from_topic: key.0,
                partition,
                from_offset: u,
                to_topic: to_topic.clone(),
                to_offset,
                exactness,
                detail,
                checkpoint_age_ms: None,
                copied_to: Some(stored.next_offset),
            })
        } else if let Some(original) = reverse.get(&key) {
            let stored = &self.reverse_positions[&(original.clone(), partition)];
            let (to_offset, exactness, detail) =
                back_offset(u, stored, &self.to.alias, &self.from.alias);
            Some(PartitionOffset {
                from_topic: key.0,
                partition,
                from_offset: u,
                to_topic: original.clone(),
                to_offset,
                exactness,
                detail,
                checkpoint_age_ms: None,
                copied_to: None,
            })
        } else {
            None
        }
    }

    /// The answer for an external offset of a partition no mirror copies (yet).
    fn not_copied(&self, o: &ExternalOffset) -> PartitionOffset {
        let (from, to) = (&self.from.alias, &self.to.alias);
        let to_topic = match self.forward {
            Some(m) => m.replication_policy.format_remote_topic(from, &o.topic),
            None => o.topic.clone(),
        };
        let mirrors = match (self.forward.is_some(), self.reverse.is_some()) {
            (true, true) => format!("{from}->{to} or {to}->{from}"),
            (true, false) => format!("{from}->{to}"),
            _ => format!("{to}->{from}"),
        };
        PartitionOffset {
            from_topic: o.topic.clone(),
            partition: o.partition,
            from_offset: o.offset,
            to_topic,
            to_offset: None,
            exactness: Exactness::NoData,
            detail: match &self.reverse_unread {
                None => format!(
                    "no position of {mirrors} for this partition: it is not replicated (or \
                     nothing of it was copied yet)"
                ),
                Some(why) => format!(
                    "no position of {from}->{to} for this partition, and the map of {to}->{from} \
                     (kept on {from}) could not be read: {why}"
                ),
            },
            checkpoint_age_ms: None,
            copied_to: None,
        }
    }
}

/// An offset kept outside Kafka: the next offset to read of a partition, on the `from` cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl ExternalOffset {
    /// Reads offsets in either form `translate --input` takes: a JSON array of
    /// `{"topic", "partition", "offset"}` objects, or one offset per line, as such an object or
    /// as `topic partition offset` (separated by spaces, tabs or commas; Kafka topic names hold
    /// none of them). Blank lines and lines starting with `#` are skipped. Every bad line is
    /// reported with its number.
    pub fn parse_all(text: &str) -> Result<Vec<ExternalOffset>, Vec<String>> {
        if text.trim_start().starts_with('[') {
            let offsets: Vec<ExternalOffset> = serde_json::from_str(text).map_err(|e| {
                vec![format!(
                    "line {}: not a JSON array of {{\"topic\", \"partition\", \"offset\"}} objects: {e}",
                    e.line()
                )]
            })?;
            let problems: Vec<String> = offsets
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.problem().map(|p| format!("element {}: {p}", i + 1)))
                .collect();
            return if problems.is_empty() {
                Ok(offsets)
            } else {
                Err(problems)
            };
        }
        let (mut offsets, mut problems) = (Vec::new(), Vec::new());
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match Self::parse_line(line).and_then(|o| match o.problem() {
                Some(p) => Err(p),
                None => Ok(o),
            }) {
                Ok(o) => offsets.push(o),
                Err(e) => problems.push(format!("line {}: {e}", i + 1)),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if offsets.is_empty() {
            return Err(vec!["no offsets in the input".to_string()]);
        }
        Ok(offsets)
    }

    fn parse_line(line: &str) -> Result<ExternalOffset, String> {
        if line.starts_with('{') {
            return serde_json::from_str(line).map_err(|e| format!("not an offset object: {e}"));
        }
        let fields: Vec<&str> = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        let [topic, partition, offset] = fields[..] else {
            return Err(format!(
                "expected `topic partition offset` or a JSON object, got {} field(s): {line}",
                fields.len()
            ));
        };
        Ok(ExternalOffset {
            topic: topic.to_string(),
            partition: partition
                .parse()
                .map_err(|_| format!("partition `{partition}` is not a number"))?,
            offset: offset
                .parse()
                .map_err(|_| format!("offset `{offset}` is not a number"))?,
        })
    }

    fn problem(&self) -> Option<String> {
        if self.topic.is_empty() {
            Some("empty topic".into())
        } else if self.partition < 0 {
            Some(format!("partition {} is negative", self.partition))
        } else if self.offset < 0 {
            Some(format!("offset {} is negative", self.offset))
        } else {
            None
        }
    }
}

/// A committed offset `u` of a topic the mirror copies forward, translated through its
/// persisted map: the offset on the target, how exact it is, and why.
fn forward_offset(u: i64, stored: &Stored) -> (Option<i64>, Exactness, String) {
    match stored.map.translate(u) {
        Some(Translation::Exact(d)) => (
            Some(d),
            Exactness::Exact,
            "first copied record at or after the committed offset".to_string(),
        ),
        // Offsets up to the stored position hold no record that is not copied.
        Some(Translation::BehindReplication(d)) if u <= stored.next_offset => (
            Some(d),
            Exactness::Exact,
            "the group has read everything copied so far".to_string(),
        ),
        Some(Translation::BehindReplication(d)) => (
            Some(d),
            Exactness::BehindReplication,
            format!(
                "the group has read up to {} records not yet copied (copied up to offset {}); they arrive as replication catches up",
                u - stored.next_offset,
                stored.next_offset
            ),
        ),
        None => (None, Exactness::NoData, no_data(stored.map.is_empty())),
    }
}

/// A committed offset `d` of a remote copy on `from` that the mirror `reverse_source ->
/// reverse_target` made, translated back to the original topic through that mirror's map.
fn back_offset(
    d: i64,
    stored: &Stored,
    reverse_source: &str,
    reverse_target: &str,
) -> (Option<i64>, Exactness, String) {
    match stored.map.translate_back(d, stored.next_offset) {
        Some(u) => (
            Some(u),
            Exactness::Exact,
            format!("back to the original topic through the {reverse_source}->{reverse_target} offset map"),
        ),
        None => (None, Exactness::NoData, no_data(stored.map.is_empty())),
    }
}

fn no_data(empty: bool) -> String {
    if empty {
        "nothing copied from this partition yet".to_string()
    } else {
        "the committed offset is older than the offset map kept for this partition".to_string()
    }
}

/// An admin client of `cluster` (also used for metadata and group requests).
pub(super) fn admin(
    cluster: &ClusterConfig,
) -> Result<rdkafka::admin::AdminClient<LogContext>, DrError> {
    Ok(kafka::admin_client(cluster, "cli|admin")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offset_map::{OffsetMap, Run};

    /// Upstream 10..20 copied to 100..110, 25..30 (after a gap) to 110..115; next to copy: 30.
    fn stored(next_offset: i64) -> Stored {
        Stored {
            next_offset,
            map: OffsetMap::from_runs(vec![
                Run {
                    u: 10,
                    d: 100,
                    len: 10,
                },
                Run {
                    u: 25,
                    d: 110,
                    len: 5,
                },
            ]),
            topic_id: None,
            from_mm2: false,
        }
    }

    #[test]
    fn forward_offsets_are_exact_behind_replication_or_no_data() {
        let s = stored(30);
        let cases = [
            (12, Some(102), Exactness::Exact),
            // In the gap: the next copied record.
            (21, Some(110), Exactness::Exact),
            // Read everything copied so far.
            (30, Some(115), Exactness::Exact),
            // Read 4 records not yet copied.
            (34, Some(115), Exactness::BehindReplication),
            // Older than the map.
            (9, None, Exactness::NoData),
        ];
        for (u, want, exactness) in cases {
            let (got, e, detail) = forward_offset(u, &s);
            assert_eq!((got, e), (want, exactness), "u={u}: {detail}");
        }
        let (_, _, detail) = forward_offset(34, &s);
        assert!(
            detail.contains("up to 4 records not yet copied"),
            "{detail}"
        );
        let (_, _, detail) = forward_offset(9, &s);
        assert!(detail.contains("older than the offset map"), "{detail}");
        let empty = Stored {
            next_offset: 0,
            map: OffsetMap::default(),
            topic_id: None,
            from_mm2: false,
        };
        let (got, e, detail) = forward_offset(5, &empty);
        assert_eq!((got, e), (None, Exactness::NoData));
        assert_eq!(detail, "nothing copied from this partition yet");
    }

    #[test]
    fn back_offsets_go_through_the_inverse_map() {
        let s = stored(30);
        let cases = [
            (103, Some(13), Exactness::Exact),
            (110, Some(25), Exactness::Exact),
            // Read everything copied: resume at the first offset never copied.
            (115, Some(30), Exactness::Exact),
            (99, None, Exactness::NoData),
        ];
        for (d, want, exactness) in cases {
            let (got, e, detail) = back_offset(d, &s, "B", "A");
            assert_eq!((got, e), (want, exactness), "d={d}: {detail}");
        }
        let (_, _, detail) = back_offset(103, &s, "B", "A");
        assert_eq!(
            detail,
            "back to the original topic through the B->A offset map"
        );
    }

    #[test]
    fn external_offsets_are_read_as_a_json_array_or_line_by_line() {
        let want = vec![
            ExternalOffset {
                topic: "orders".into(),
                partition: 0,
                offset: 42,
            },
            ExternalOffset {
                topic: "payments.eu".into(),
                partition: 3,
                offset: 0,
            },
        ];
        let array = r#"[{"topic":"orders","partition":0,"offset":42},
                        {"topic":"payments.eu","partition":3,"offset":0}]"#;
        assert_eq!(ExternalOffset::parse_all(array).unwrap(), want);
        let lines = "# exported from a Flink savepoint\n\norders 0 42\n\
                     {\"topic\":\"payments.eu\",\"partition\":3,\"offset\":0}\n";
        assert_eq!(ExternalOffset::parse_all(lines).unwrap(), want);
        assert_eq!(
            ExternalOffset::parse_all("orders,0,42\npayments.eu\t3 0").unwrap(),
            want
        );

        let errors =
            ExternalOffset::parse_all("orders 0\norders x 1\norders 1 -5\nok 1 2").unwrap_err();
        assert_eq!(
            errors,
            [
                "line 1: expected `topic partition offset` or a JSON object, got 2 field(s): orders 0",
                "line 2: partition `x` is not a number",
                "line 3: offset -5 is negative",
            ]
        );
        let errors =
            ExternalOffset::parse_all(r#"[{"topic":"t","partition":-1,"offset":1}]"#).unwrap_err();
        assert_eq!(errors, ["element 1: partition -1 is negative"]);
        let errors = ExternalOffset::parse_all(r#"[{"topic":"t","partition":1}]"#).unwrap_err();
        assert!(
            errors[0].starts_with("line 1: not a JSON array"),
            "{errors:?}"
        );
        assert_eq!(
            ExternalOffset::parse_all("# nothing\n").unwrap_err(),
            ["no offsets in the input"]
        );
    }

    #[test]
    fn exactness_has_one_spelling() {
        for (e, s) in [
            (Exactness::Exact, "exact"),
            (Exactness::BehindReplication, "behind-replication"),
            (Exactness::Checkpoint, "checkpoint"),
            (Exactness::NoData, "no-data"),
        ] {
            assert_eq!(e.as_str(), s);
            assert_eq!(serde_json::to_value(e).unwrap(), s);
            let back: Exactness = serde_json::from_value(s.into()).unwrap();
            assert_eq!(back, e);
        }
        for (old, e) in [
            ("behind_replication", Exactness::BehindReplication),
            ("no_data", Exactness::NoData),
        ] {
            let back: Exactness = serde_json::from_value(old.into()).unwrap();
            assert_eq!(back, e, "{old}");
        }
        for source in [OffsetSource::Live, OffsetSource::Checkpoints] {
            assert_eq!(serde_json::to_value(source).unwrap(), source.as_str());
        }
        assert_eq!(OffsetSource::Live.as_str(), "live");
        assert_eq!(OffsetSource::Checkpoints.as_str(), "checkpoints");
    }
}
