//! Remote topic naming and lineage: MM2's `DefaultReplicationPolicy` and
//! `IdentityReplicationPolicy`, including the internal-topic names of KIP-690 / KIP-949.
//!
//! The *internal separator* (used in `<alias>.checkpoints.internal`,
//! `mm2-offset-syncs.<alias>.internal` and the `.internal` suffix checks) is always the configured
//! separator. That is MM2's behaviour with `replication.policy.internal.topic.separator.enabled`
//! at its default `true`; strait has no switch to go back to the pre-3.1 `.`-only names.

/// MM2's `heartbeatsTopic()`: always `heartbeats`, whatever the separator.
pub const HEARTBEATS_TOPIC: &str = "heartbeats";

/// MM2's `replication.policy.separator` default.
pub const DEFAULT_SEPARATOR: &str = ".";

use super::filter::{DEFAULT_TOPIC_EXCLUDES, DEFAULT_TOPIC_EXCLUDES_3_9};

const CHECKPOINTS_SUFFIX: &str = "checkpoints";
const INTERNAL_SUFFIX: &str = "internal";
const OFFSET_SYNCS_PREFIX: &str = "mm2-offset-syncs";
const PROGRESS_PREFIX: &str = "strait-offsets";
const SHARDS_PREFIX: &str = "strait-shards";

/// Which MirrorMaker 2 version's topic rules a mirror follows: its internal-topic rule and its
/// default `topics.exclude` (KIP-1074 changed both in Kafka 4.0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TopicRules {
    /// Kafka 4.0 and later (the default): internal are `__`/`.`-prefixed topics, `mm2*<s>internal`
    /// topics and checkpoint topics; default excludes `mm2.*\.internal`, `.*\.replica`, `__.*`.
    #[default]
    Mm2_4_0,
    /// Kafka 3.9 and earlier: also every `*.internal` and `*-internal` topic is internal; default
    /// excludes `.*[\-\.]internal`, `.*\.replica`, `__.*`.
    Mm2_3_9,
}

impl TopicRules {
    /// MM2's default `topics.exclude` of that version; strait always applies it, the user's
    /// `topics_exclude` adds to it.
    pub fn default_topic_excludes(self) -> &'static [&'static str] {
        match self {
            TopicRules::Mm2_4_0 => &DEFAULT_TOPIC_EXCLUDES,
            TopicRules::Mm2_3_9 => &DEFAULT_TOPIC_EXCLUDES_3_9,
        }
    }

    /// The config value (`mm2-4.0`, `mm2-3.9`).
    pub fn as_str(self) -> &'static str {
        match self {
            TopicRules::Mm2_4_0 => "mm2-4.0",
            TopicRules::Mm2_3_9 => "mm2-3.9",
        }
    }
}

/// A replication policy: how remote topics are named and how a name is traced back upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationPolicy {
    /// `<source><separator><topic>` (MM2's `DefaultReplicationPolicy`).
    Default { separator: String },
    /// No rename (MM2's `IdentityReplicationPolicy`); needs the flow's source alias. Like MM2's
    /// class it extends the default policy: topics whose name ends with `heartbeats`, and all
    /// internal-topic names, follow the `Default` rules with `separator`.
    Identity {
        source_alias: String,
        separator: String,
    },
}

impl Default for ReplicationPolicy {
    /// MM2's default: `DefaultReplicationPolicy` with separator `.`.
    fn default() -> Self {
        ReplicationPolicy::Default {
            separator: DEFAULT_SEPARATOR.to_owned(),
        }
    }
}

impl ReplicationPolicy {
    /// The configured separator (also the internal separator, see the module docs).
    pub fn separator(&self) -> &str {
        match self {
            ReplicationPolicy::Default { separator } => separator,
            ReplicationPolicy::Identity { separator, .. } => separator,
        }
    }

    /// `Some(source_alias)` for the identity policy when `topic` is not heartbeat-like, i.e. when
    /// the identity rules apply instead of the default ones.
    fn identity_alias(&self, topic: &str) -> Option<&str> {
        match self {
            ReplicationPolicy::Identity { source_alias, .. } if !looks_like_heartbeat(topic) => {
                Some(source_alias)
            }
            _ => None,
        }
    }

    /// MM2's `formatRemoteTopic`: the name of `topic` from cluster `source` on the target.
    pub fn format_remote_topic(&self, source: &str, topic: &str) -> String {
        if self.identity_alias(topic).is_some() {
            return topic.to_owned();
        }
        format!("{source}{}{topic}", self.separator())
    }

    /// MM2's `topicSource`: the alias of the cluster `topic` was replicated from, or `None` for a
    /// topic that does not look remote.
    ///
    /// Default rule: split on the separator with Java `Pattern.split` semantics (trailing empty
    /// parts dropped, a leading empty part kept); fewer than two parts means not remote. So
    /// `"a."` gives `None` and `".b"` gives `Some("")`. Any local topic that contains the
    /// separator looks remote (`us.orders` seems to come from `us`).
    pub fn topic_source(&self, topic: &str) -> Option<String> {
        if let Some(alias) = self.identity_alias(topic) {
            return Some(alias.to_owned());
        }
        default_topic_source(topic, self.separator()).map(str::to_owned)
    }

    /// MM2's `upstreamTopic`: the name one hop upstream (`B.A.t` gives `A.t`), or `None` for a
    /// topic that does not look remote. The identity policy returns `topic` itself.
    pub fn upstream_topic(&self, topic: &str) -> Option<String> {
        if self.identity_alias(topic).is_some() {
            return Some(topic.to_owned());
        }
        default_upstream_topic(topic, self.separator()).map(str::to_owned)
    }

    /// MM2's `originalTopic`: follow `upstream_topic` until it stops (`C.B.A.t` gives `t`).
    pub fn original_topic(&self, topic: &str) -> String {
        if self.identity_alias(topic).is_some() {
            return topic.to_owned();
        }
        let separator = self.separator();
        let mut current = topic;
        // Each hop strips at least one separator, so this ends.
        while let Some(upstream) = default_upstream_topic(current, separator) {
            if upstream == current {
                break;
            }
            current = upstream;
        }
        current.to_owned()
    }

    /// MM2's `heartbeatsTopic()`: `heartbeats`, not affected by the separator.
    pub const fn heartbeats_topic() -> &'static str {
        HEARTBEATS_TOPIC
    }

    /// MM2's `offsetSyncsTopic(alias)`: `mm2-offset-syncs<s><alias><s>internal`.
    pub fn offset_syncs_topic(&self, alias: &str) -> String {
        let s = self.separator();
        format!("{OFFSET_SYNCS_PREFIX}{s}{alias}{s}{INTERNAL_SUFFIX}")
    }

    /// MM2's `checkpointsTopic(alias)`: `<alias><s>checkpoints<s>internal`.
    pub fn checkpoints_topic(&self, alias: &str) -> String {
        let s = self.separator();
        format!("{alias}{s}{CHECKPOINTS_SUFFIX}{s}{INTERNAL_SUFFIX}")
    }

    /// strait's own progress topic on the target for the flows from `source_alias`:
    /// `strait-offsets<s><alias><s>internal` (internal by [`Self::is_internal_topic`], so it is
    /// never mirrored onward).
    pub fn progress_topic(&self, source_alias: &str) -> String {
        let s = self.separator();
        format!("{PROGRESS_PREFIX}{s}{source_alias}{s}{INTERNAL_SUFFIX}")
    }

    /// The coordination topic on the target of the instances sharing the flows from
    /// `source_alias` (`deployment`): `strait-shards<s><alias><s>internal`, one partition per
    /// shard, never written (internal like the progress topic).
    pub fn shards_topic(&self, source_alias: &str) -> String {
        let s = self.separator();
        format!("{SHARDS_PREFIX}{s}{source_alias}{s}{INTERNAL_SUFFIX}")
    }

    /// MM2's `isHeartbeatsTopic`: the original topic is `heartbeats` (`heartbeats`,
    /// `A.heartbeats`, `B.A.heartbeats`).
    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.original_topic(topic) == HEARTBEATS_TOPIC
    }

    /// MM2's `isCheckpointsTopic`: ends with `<s>checkpoints<s>internal`.
    pub fn is_checkpoints_topic(&self, topic: &str) -> bool {
        let s = self.separator();
        topic.ends_with(&format!("{s}{CHECKPOINTS_SUFFIX}{s}{INTERNAL_SUFFIX}"))
    }

    /// MM2's `isMM2InternalTopic` under `rules`. Kafka 4.0 (KIP-1074): starts with `mm2` and ends
    /// with `<s>internal`, or is a checkpoints topic. 3.9 and earlier: ends with `<s>internal`.
    pub fn is_mm2_internal_topic(&self, topic: &str, rules: TopicRules) -> bool {
        let internal_suffix = format!("{}{INTERNAL_SUFFIX}", self.separator());
        match rules {
            TopicRules::Mm2_4_0 => {
                topic.starts_with("mm2") && topic.ends_with(&internal_suffix)
                    || self.is_checkpoints_topic(topic)
            }
            TopicRules::Mm2_3_9 => topic.ends_with(&internal_suffix),
        }
    }

    /// strait's own topics (progress, shards): `strait-offsets<s>…<s>internal` and
    /// `strait-shards<s>…<s>internal`. Internal under either rules.
    pub fn is_strait_internal_topic(&self, topic: &str) -> bool {
        let s = self.separator();
        topic.ends_with(&format!("{s}{INTERNAL_SUFFIX}"))
            && [PROGRESS_PREFIX, SHARDS_PREFIX]
                .iter()
                .any(|prefix| topic.starts_with(&format!("{prefix}{s}")))
    }

    /// MM2's `isInternalTopic` under `rules`, and strait's own topics: never replicated.
    /// Kafka 4.0 (KIP-1074): an MM2 internal topic, or a Kafka internal one (starts with `__` or
    /// `.`); "user internal" topics such as `orders-internal` are replicated. 3.9 and earlier:
    /// also any topic ending with `-internal` or `.internal`.
    pub fn is_internal_topic(&self, topic: &str, rules: TopicRules) -> bool {
        self.is_mm2_internal_topic(topic, rules)
            || self.is_strait_internal_topic(topic)
            || topic.starts_with("__")
            || topic.starts_with('.')
            || rules == TopicRules::Mm2_3_9
                && (topic.ends_with("-internal") || topic.ends_with(".internal"))
    }

    /// MM2's `MirrorSourceConnector.isCycle` for a flow into `target_alias`: does the name say
    /// that `topic` came from the target, at any hop?
    pub fn is_cycle(&self, topic: &str, target_alias: &str) -> bool {
        let mut current = topic.to_owned();
        loop {
            let Some(source) = self.topic_source(&current) else {
                return false;
            };
            if source == target_alias {
                return true;
            }
            match self.upstream_topic(&current) {
                // The identity escape: a policy that does not rename cannot tell.
                None => return false,
                Some(upstream) if upstream == current => return false,
                Some(upstream) => current = upstream,
            }
        }
    }

    /// MM2's `MirrorCheckpointTask.renameTopicPartition`: the downstream topic a checkpoint of
    /// flow `source_alias -> target_alias` names for an upstream group offset on `topic`. A topic
    /// that came from the target maps back to its original name; any other is formatted remote.
    pub fn checkpoint_topic_name(
        &self,
        source_alias: &str,
        target_alias: &str,
        topic: &str,
    ) -> String {
        if self.topic_source(topic).as_deref() == Some(target_alias) {
            self.original_topic(topic)
        } else {
            self.format_remote_topic(source_alias, topic)
        }
    }
}

/// `IdentityReplicationPolicy.looksLikeHeartbeat`.
fn looks_like_heartbeat(topic: &str) -> bool {
    topic.ends_with(HEARTBEATS_TOPIC)
}

/// `DefaultReplicationPolicy.topicSource` with Java `Pattern.split(topic)` (limit 0) semantics.
fn default_topic_source<'a>(topic: &'a str, separator: &str) -> Option<&'a str> {
    if separator.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = topic.split(separator).collect();
    // Java drops trailing empty strings (a leading one stays, the separator has positive width).
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts.len() < 2 {
        None
    } else {
        Some(parts[0])
    }
}

/// `DefaultReplicationPolicy.upstreamTopic`: drop the leading `<source><separator>`.
fn default_upstream_topic<'a>(topic: &'a str, separator: &str) -> Option<&'a str> {
    let source = default_topic_source(topic, separator)?;
    Some(&topic[source.len() + separator.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> ReplicationPolicy {
        ReplicationPolicy::default()
    }

    fn with_separator(separator: &str) -> ReplicationPolicy {
        ReplicationPolicy::Default {
            separator: separator.to_owned(),
        }
    }

    fn identity(alias: &str) -> ReplicationPolicy {
        ReplicationPolicy::Identity {
            source_alias: alias.to_owned(),
            separator: DEFAULT_SEPARATOR.to_owned(),
        }
    }

    #[test]
    fn topic_source_follows_java_split() {
        let p = default_policy();
        let cases: &[(&str, Option<&str>)] = &[
            ("a.b", Some("a")),
            ("a", None),
            ("", None),
            ("a.", None),
            ("a..", None),
            (".", None),
            ("..", None),
            (".b", Some("")),
            ("..b", Some("")),
            ("a..b", Some("a")),
            ("a.b.c", Some("a")),
            ("us.orders", Some("us")),
            ("B.A.orders", Some("B")),
        ];
        for (topic, want) in cases {
            assert_eq!(p.topic_source(topic).as_deref(), *want, "topic {topic:?}");
        }
    }

    #[test]
    fn upstream_and_original_topic() {
        let p = default_policy();
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("orders", None, "orders"),
            ("A.orders", Some("orders"), "orders"),
            ("B.A.orders", Some("A.orders"), "orders"),
            ("C.B.A.t", Some("B.A.t"), "t"),
            ("a.", None, "a."),
            (".b", Some("b"), "b"),
            ("a..b", Some(".b"), "b"),
            ("A.heartbeats", Some("heartbeats"), "heartbeats"),
        ];
        for (topic, upstream, original) in cases {
            assert_eq!(
                p.upstream_topic(topic).as_deref(),
                *upstream,
                "upstream of {topic:?}"
            );
            assert_eq!(p.original_topic(topic), *original, "original of {topic:?}");
        }
    }

    #[test]
    fn multi_hop_lineage() {
        let p = default_policy();
        assert_eq!(p.format_remote_topic("A", "orders"), "A.orders");
        assert_eq!(p.format_remote_topic("B", "A.orders"), "B.A.orders");
        assert_eq!(p.topic_source("B.A.orders").as_deref(), Some("B"));
        assert_eq!(p.upstream_topic("B.A.orders").as_deref(), Some("A.orders"));
        assert_eq!(p.original_topic("B.A.orders"), "orders");
    }

    #[test]
    fn internal_topic_names_default_separator() {
        let p = default_policy();
        assert_eq!(ReplicationPolicy::heartbeats_topic(), "heartbeats");
        assert_eq!(p.offset_syncs_topic("B"), "mm2-offset-syncs.B.internal");
        assert_eq!(p.checkpoints_topic("A"), "A.checkpoints.internal");
        assert_eq!(p.progress_topic("A"), "strait-offsets.A.internal");
        assert!(p.is_checkpoints_topic("A.checkpoints.internal"));
        assert!(!p.is_checkpoints_topic("A.checkpoints"));
        for rules in [TopicRules::Mm2_4_0, TopicRules::Mm2_3_9] {
            assert!(p.is_mm2_internal_topic("mm2-offset-syncs.B.internal", rules));
            assert!(p.is_mm2_internal_topic("mm2-offsets.A.internal", rules));
            assert!(p.is_mm2_internal_topic("A.checkpoints.internal", rules));
            assert!(!p.is_mm2_internal_topic("x-internal", rules));
        }
        // KIP-1074: only `mm2*` names (and checkpoints) are MM2's since Kafka 4.0.
        assert!(!p.is_mm2_internal_topic("orders.internal", TopicRules::Mm2_4_0));
        assert!(p.is_mm2_internal_topic("orders.internal", TopicRules::Mm2_3_9));
    }

    /// KIP-690 / KIP-949 examples: separator `__` with the internal separator enabled.
    #[test]
    fn internal_topic_names_custom_separator() {
        let p = with_separator("__");
        assert_eq!(
            p.offset_syncs_topic("CLUSTER"),
            "mm2-offset-syncs__CLUSTER__internal"
        );
        assert_eq!(
            p.checkpoints_topic("CLUSTER"),
            "CLUSTER__checkpoints__internal"
        );
        assert_eq!(
            p.progress_topic("CLUSTER"),
            "strait-offsets__CLUSTER__internal"
        );
        assert_eq!(ReplicationPolicy::heartbeats_topic(), "heartbeats");
        assert!(p.is_checkpoints_topic("CLUSTER__checkpoints__internal"));
        assert!(!p.is_checkpoints_topic("CLUSTER.checkpoints.internal"));
        let rules = TopicRules::default();
        assert!(p.is_mm2_internal_topic("mm2-offset-syncs__CLUSTER__internal", rules));
        assert!(p.is_internal_topic("CLUSTER__checkpoints__internal", rules));
        assert!(p.is_internal_topic(&p.progress_topic("A"), rules));
        assert_eq!(p.shards_topic("A"), "strait-shards__A__internal");
        assert!(p.is_internal_topic(&p.shards_topic("A"), rules));
        // 3.9's generic rules still see `.internal` (Connect topics); 4.0's do not.
        assert!(p.is_internal_topic("mm2-offsets.A.internal", TopicRules::Mm2_3_9));
        assert!(!p.is_internal_topic("mm2-offsets.A.internal", rules));
        assert_eq!(p.format_remote_topic("A", "orders"), "A__orders");
        assert_eq!(p.topic_source("A__orders").as_deref(), Some("A"));
        assert_eq!(p.topic_source("A.orders"), None);
        assert_eq!(p.topic_source("a___b").as_deref(), Some("a"));
        assert_eq!(p.upstream_topic("a___b").as_deref(), Some("_b"));
        assert_eq!(p.original_topic("B__A__orders"), "orders");
        assert!(p.is_heartbeats_topic("B__A__heartbeats"));
    }

    #[test]
    fn internal_topics() {
        let p = default_policy();
        let internal = [
            "__consumer_offsets",
            "__transaction_state",
            "mm2-offset-syncs.B.internal",
            "A.checkpoints.internal",
            "strait-offsets.A.internal",
            "strait-shards.A.internal",
            "mm2-offsets.A.internal",
            "mm2-configs.A.internal",
            ".hidden",
        ];
        let internal_in_3_9_only = ["x-internal", "x.internal", "connect-offsets.internal"];
        let not_internal = [
            "orders",
            "A.orders",
            "heartbeats",
            "internal",
            "x_internal",
            "_x",
            "strait-canary",
            "strait-offsets",
        ];
        for (rules, internal_too, not_internal_too) in [
            (TopicRules::Mm2_4_0, &[][..], &internal_in_3_9_only[..]),
            (TopicRules::Mm2_3_9, &internal_in_3_9_only[..], &[][..]),
        ] {
            for topic in internal.iter().chain(internal_too) {
                assert!(
                    p.is_internal_topic(topic, rules),
                    "{topic} should be internal ({rules:?})"
                );
            }
            for topic in not_internal.iter().chain(not_internal_too) {
                assert!(
                    !p.is_internal_topic(topic, rules),
                    "{topic} should not be internal ({rules:?})"
                );
            }
        }
    }

    #[test]
    fn heartbeats_topics() {
        let p = default_policy();
        for topic in ["heartbeats", "A.heartbeats", "B.A.heartbeats"] {
            assert!(p.is_heartbeats_topic(topic), "{topic}");
        }
        for topic in ["heartbeats.A", "myheartbeats", "A.myheartbeats", "orders"] {
            assert!(!p.is_heartbeats_topic(topic), "{topic}");
        }
    }

    /// MM2's `MirrorSourceConnectorTest.testNoCycles` truth table, flow `source -> target`.
    #[test]
    fn cycle_truth_table() {
        let p = default_policy();
        let cases = [
            ("target.topic1", true),
            ("target.source.topic1", true),
            ("source.target.topic1", true),
            ("target.source.target.topic1", true),
            ("source.target.source.topic1", true),
            ("topic1", false),
            ("source.topic1", false),
            // testIsCycleWithNullUpstreamTopic: empty source alias must not crash.
            (".b", false),
            ("a.", false),
        ];
        for (topic, cycle) in cases {
            assert_eq!(p.is_cycle(topic, "target"), cycle, "{topic}");
        }
    }

    #[test]
    fn identity_policy() {
        let p = identity("A");
        assert_eq!(p.format_remote_topic("A", "orders"), "orders");
        assert_eq!(p.format_remote_topic("A", "us.orders"), "us.orders");
        assert_eq!(p.topic_source("orders").as_deref(), Some("A"));
        assert_eq!(p.topic_source("us.orders").as_deref(), Some("A"));
        assert_eq!(p.upstream_topic("orders").as_deref(), Some("orders"));
        assert_eq!(p.original_topic("B.orders"), "B.orders");
        // Heartbeat-like topics follow the default rules.
        assert_eq!(p.format_remote_topic("A", "heartbeats"), "A.heartbeats");
        assert_eq!(p.format_remote_topic("B", "A.heartbeats"), "B.A.heartbeats");
        assert_eq!(p.topic_source("heartbeats"), None);
        assert_eq!(p.topic_source("B.heartbeats").as_deref(), Some("B"));
        assert_eq!(
            p.upstream_topic("B.A.heartbeats").as_deref(),
            Some("A.heartbeats")
        );
        assert_eq!(p.original_topic("B.A.heartbeats"), "heartbeats");
        assert!(p.is_heartbeats_topic("B.A.heartbeats"));
        assert!(p.is_heartbeats_topic("heartbeats"));
        // Internal names are the default ones.
        assert_eq!(p.offset_syncs_topic("B"), "mm2-offset-syncs.B.internal");
        assert_eq!(p.checkpoints_topic("A"), "A.checkpoints.internal");
        assert!(p.is_internal_topic("A.checkpoints.internal", TopicRules::default()));
        // No cycle prevention for data topics; heartbeats are still recognised.
        assert!(!p.is_cycle("orders", "B"));
        assert!(!p.is_cycle("B.orders", "B"));
        assert!(p.is_cycle("B.heartbeats", "B"));
        assert!(!p.is_cycle("heartbeats", "B"));
    }

    /// MM2's `MirrorCheckpointTaskTest` rename examples (flow `source1 -> target2`).
    #[test]
    fn checkpoint_topic_rename() {
        let p = default_policy();
        assert_eq!(
            p.checkpoint_topic_name("source1", "target2", "topic3"),
            "source1.topic3"
        );
        assert_eq!(
            p.checkpoint_topic_name("source1", "target2", "source6.topic7"),
            "source1.source6.topic7"
        );
        assert_eq!(
            p.checkpoint_topic_name("source1", "target2", "target2.topic3"),
            "topic3"
        );
    }
}
