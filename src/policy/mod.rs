//! Pure replication rules, no I/O: remote topic naming (MM2's `DefaultReplicationPolicy` and
//! `IdentityReplicationPolicy`), internal-topic and cycle detection, topic/group filters, and the
//! per-topic replication decision. Depends on nothing else in the crate.

mod filter;
pub mod graph;
mod replication;

pub use filter::{
    PatternError, PatternList, TopicFilter, DEFAULT_CONFIG_EXCLUDES, DEFAULT_GROUP_EXCLUDES,
    DEFAULT_TOPIC_EXCLUDES, DEFAULT_TOPIC_EXCLUDES_3_9,
};
pub use replication::{ReplicationPolicy, TopicRules, DEFAULT_SEPARATOR, HEARTBEATS_TOPIC};

/// Why a source topic is or is not replicated by a mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicDecision {
    /// Replicated under `remote` on the target.
    Replicate { remote: String },
    /// Skipped, with the reason.
    Skip(SkipReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// MM2's internal-topic rule of the mirror's [`TopicRules`] (`__*`, `.*`, `mm2*.internal`,
    /// checkpoints; in 3.9 also `*.internal`, `*-internal`), or one of strait's own topics.
    Internal,
    /// The topic came from the target cluster (its name says so through the policy).
    Cycle,
    /// No include pattern matched.
    NotIncluded,
    /// An exclude pattern matched (the pattern as written).
    Excluded { pattern: String },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Internal => f.write_str("internal topic"),
            SkipReason::Cycle => f.write_str("cycle: the topic came from the target cluster"),
            SkipReason::NotIncluded => f.write_str("filter: matches no include pattern"),
            SkipReason::Excluded { pattern } => write!(f, "filter: excluded by `{pattern}`"),
        }
    }
}

/// MM2's `shouldReplicateTopic` for one flow `source -> target`, with the reason when not.
///
/// Order of checks: internal, cycle, then filters (heartbeat topics pass the include filter, as
/// in MM2 with `heartbeats.replication.enabled=true`, but the excludes still apply). `rules`
/// picks the internal-topic rule; the filter carries the matching built-in excludes.
pub fn decide_topic(
    policy: &ReplicationPolicy,
    rules: TopicRules,
    filter: &TopicFilter,
    source_alias: &str,
    target_alias: &str,
    topic: &str,
) -> TopicDecision {
    if policy.is_internal_topic(topic, rules) {
        return TopicDecision::Skip(SkipReason::Internal);
    }
    if policy.is_cycle(topic, target_alias) {
        return TopicDecision::Skip(SkipReason::Cycle);
    }
    let passed = if policy.is_heartbeats_topic(topic) {
        match filter.excluded_by(topic) {
            Some(pattern) => Err(SkipReason::Excluded {
                pattern: pattern.to_owned(),
            }),
            None => Ok(()),
        }
    } else {
        filter.check(topic)
    };
    match passed {
        Ok(()) => TopicDecision::Replicate {
            remote: policy.format_remote_topic(source_alias, topic),
        },
        Err(reason) => TopicDecision::Skip(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn filter(include: &[&str], user_excludes: &[&str]) -> TopicFilter {
        let mut exclude = strings(&DEFAULT_TOPIC_EXCLUDES);
        exclude.extend(strings(user_excludes));
        TopicFilter::new(&strings(include), &exclude).unwrap()
    }

    fn replicate(remote: &str) -> TopicDecision {
        TopicDecision::Replicate {
            remote: remote.to_owned(),
        }
    }

    fn skip(reason: SkipReason) -> TopicDecision {
        TopicDecision::Skip(reason)
    }

    fn check_table(
        policy: &ReplicationPolicy,
        filter: &TopicFilter,
        cases: &[(&str, TopicDecision)],
    ) {
        check_table_under(TopicRules::default(), policy, filter, cases);
    }

    fn check_table_under(
        rules: TopicRules,
        policy: &ReplicationPolicy,
        filter: &TopicFilter,
        cases: &[(&str, TopicDecision)],
    ) {
        for (topic, want) in cases {
            assert_eq!(
                &decide_topic(policy, rules, filter, "source", "target", topic),
                want,
                "topic {topic:?}"
            );
        }
    }

    #[test]
    fn default_policy_truth_table() {
        let policy = ReplicationPolicy::default();
        let all = filter(&[".*"], &[]);
        check_table(
            &policy,
            &all,
            &[
                // MM2 testNoCycles.
                ("target.topic1", skip(SkipReason::Cycle)),
                ("target.source.topic1", skip(SkipReason::Cycle)),
                ("source.target.topic1", skip(SkipReason::Cycle)),
                ("target.source.target.topic1", skip(SkipReason::Cycle)),
                ("source.target.source.topic1", skip(SkipReason::Cycle)),
                ("topic1", replicate("source.topic1")),
                ("source.topic1", replicate("source.source.topic1")),
                // Internal, whatever the filters say.
                ("__consumer_offsets", skip(SkipReason::Internal)),
                ("mm2-offset-syncs.B.internal", skip(SkipReason::Internal)),
                ("A.checkpoints.internal", skip(SkipReason::Internal)),
                ("strait-offsets.A.internal", skip(SkipReason::Internal)),
                ("mm2-offsets.source.internal", skip(SkipReason::Internal)),
                ("mm2-status.source.internal", skip(SkipReason::Internal)),
                (".hidden", skip(SkipReason::Internal)),
                // KIP-1074: "user internal" topics are replicated since Kafka 4.0.
                ("x-internal", replicate("source.x-internal")),
                ("orders.internal", replicate("source.orders.internal")),
                ("strait-canary", replicate("source.strait-canary")),
                // Internal beats cycle.
                ("target.checkpoints.internal", skip(SkipReason::Internal)),
                // Built-in excludes.
                (
                    "orders.replica",
                    skip(SkipReason::Excluded {
                        pattern: r".*\.replica".into(),
                    }),
                ),
                // Heartbeats from anywhere but the target.
                ("heartbeats", replicate("source.heartbeats")),
                ("other.heartbeats", replicate("source.other.heartbeats")),
                ("target.heartbeats", skip(SkipReason::Cycle)),
            ],
        );
    }

    /// Kafka 3.9's rules: every `*.internal` / `*-internal` topic is internal, and the old default
    /// excludes apply.
    #[test]
    fn mm2_3_9_truth_table() {
        let policy = ReplicationPolicy::default();
        let mut exclude = strings(&DEFAULT_TOPIC_EXCLUDES_3_9);
        exclude.push("none".into());
        let all = TopicFilter::new(&strings(&[".*"]), &exclude).unwrap();
        check_table_under(
            TopicRules::Mm2_3_9,
            &policy,
            &all,
            &[
                ("topic1", replicate("source.topic1")),
                ("x-internal", skip(SkipReason::Internal)),
                ("orders.internal", skip(SkipReason::Internal)),
                ("mm2-offsets.source.internal", skip(SkipReason::Internal)),
                ("A.checkpoints.internal", skip(SkipReason::Internal)),
                ("strait-offsets.A.internal", skip(SkipReason::Internal)),
                ("__consumer_offsets", skip(SkipReason::Internal)),
                ("x_internal", replicate("source.x_internal")),
                (
                    "orders.replica",
                    skip(SkipReason::Excluded {
                        pattern: r".*\.replica".into(),
                    }),
                ),
            ],
        );
    }

    #[test]
    fn heartbeats_bypass_include_but_not_exclude() {
        let policy = ReplicationPolicy::default();
        let some = filter(&["orders.*"], &["X\\.heartbeats"]);
        check_table(
            &policy,
            &some,
            &[
                ("orders", replicate("source.orders")),
                ("payments", skip(SkipReason::NotIncluded)),
                ("heartbeats", replicate("source.heartbeats")),
                ("Y.heartbeats", replicate("source.Y.heartbeats")),
                (
                    "X.heartbeats",
                    skip(SkipReason::Excluded {
                        pattern: "X\\.heartbeats".into(),
                    }),
                ),
                ("myheartbeats", skip(SkipReason::NotIncluded)),
            ],
        );
    }

    #[test]
    fn custom_separator_truth_table() {
        let policy = ReplicationPolicy::Default {
            separator: "__".into(),
        };
        let all = filter(&[".*"], &[]);
        check_table(
            &policy,
            &all,
            &[
                ("topic1", replicate("source__topic1")),
                // `.` is an ordinary character with this separator.
                ("target.topic1", replicate("source__target.topic1")),
                ("target__topic1", skip(SkipReason::Cycle)),
                ("source__target__topic1", skip(SkipReason::Cycle)),
                ("mm2-offset-syncs__B__internal", skip(SkipReason::Internal)),
                ("A__checkpoints__internal", skip(SkipReason::Internal)),
                ("strait-offsets__A__internal", skip(SkipReason::Internal)),
                ("target__heartbeats", skip(SkipReason::Cycle)),
                ("heartbeats", replicate("source__heartbeats")),
            ],
        );
    }

    #[test]
    fn identity_policy_truth_table() {
        let policy = ReplicationPolicy::Identity {
            source_alias: "source".into(),
            separator: ".".into(),
        };
        let all = filter(&[".*"], &[]);
        check_table(
            &policy,
            &all,
            &[
                ("topic1", replicate("topic1")),
                // No cycle prevention by name for data topics (MM2 behaviour).
                ("target.topic1", replicate("target.topic1")),
                ("heartbeats", replicate("source.heartbeats")),
                ("target.heartbeats", skip(SkipReason::Cycle)),
                ("__consumer_offsets", skip(SkipReason::Internal)),
                ("A.checkpoints.internal", skip(SkipReason::Internal)),
            ],
        );
    }

    #[test]
    fn skip_reasons_display() {
        assert_eq!(SkipReason::Internal.to_string(), "internal topic");
        assert_eq!(
            SkipReason::Excluded {
                pattern: "__.*".into()
            }
            .to_string(),
            "filter: excluded by `__.*`"
        );
    }
}
