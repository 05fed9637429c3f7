//! Enum-valued keys (`security.protocol`, `security.sasl.mechanism`, `replication_policy.kind`,
//! `offset_syncs_location`, `provenance_header`, `sync_topic_configs`, `sync_topic_acls`,
//! `on_data_gap`, `topic_rules`): each
//! enum lists its spellings once, with an optional one-line description and its case rule, and
//! one parser reads them all and words an unknown value in one shape:
//! `unknown <what> "<value>"; expected a, b or c`.

use crate::policy::TopicRules;

use super::{
    Delivery, OffsetSyncsLocation, OnDataGap, ProvenanceHeader, SecurityProtocol, SyncMode,
};

/// How a written value is compared with the spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Case {
    /// As written.
    Exact,
    /// Ignoring ASCII case and surrounding spaces, as librdkafka reads its own enum values.
    Any,
}

/// One accepted spelling of an enum-valued key.
pub(super) struct Spelling<T> {
    pub name: &'static str,
    pub value: T,
    /// Shown after the name in the list of expected values.
    pub about: Option<&'static str>,
}

const fn spelling<T>(name: &'static str, value: T) -> Spelling<T> {
    Spelling {
        name,
        value,
        about: None,
    }
}

/// An enum-valued key's typed value.
pub(super) trait Choice: Copy + 'static {
    /// What the value names, for messages (`protocol`, `mode`).
    const WHAT: &'static str;
    const CASE: Case;
    const SPELLINGS: &'static [Spelling<Self>];

    fn parse(text: &str) -> Option<Self> {
        Self::SPELLINGS
            .iter()
            .find(|s| match Self::CASE {
                Case::Exact => s.name == text,
                Case::Any => s.name.eq_ignore_ascii_case(text.trim()),
            })
            .map(|s| s.value)
    }

    /// The spellings as written in messages, without descriptions: `a, b, c`.
    fn names() -> Vec<&'static str> {
        Self::SPELLINGS.iter().map(|s| s.name).collect()
    }

    /// `unknown <what> "<text>"; expected a, b or c`, quoting `text` as written, with a
    /// `did you mean` when one spelling is close.
    fn unknown(text: &str) -> String {
        let items: Vec<String> = Self::SPELLINGS
            .iter()
            .map(|s| match s.about {
                Some(about) => format!("{} ({about})", s.name),
                None => s.name.to_owned(),
            })
            .collect();
        let expected = match items.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        let hint = super::suggest::did_you_mean(text, Self::SPELLINGS.iter().map(|s| s.name));
        format!(
            "unknown {} \"{text}\"{hint}; expected {expected}",
            Self::WHAT
        )
    }
}

impl Choice for SecurityProtocol {
    const WHAT: &'static str = "protocol";
    const CASE: Case = Case::Any;
    const SPELLINGS: &'static [Spelling<Self>] = &[
        spelling("plaintext", SecurityProtocol::Plaintext),
        spelling("ssl", SecurityProtocol::Ssl),
        spelling("sasl_plaintext", SecurityProtocol::SaslPlaintext),
        spelling("sasl_ssl", SecurityProtocol::SaslSsl),
    ];
}

/// The SASL mechanisms strait supports (`Sasl::mechanism` holds the spelling, which is also
/// librdkafka's): a user name and password, or OAUTHBEARER tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
    OAuthBearer,
}

impl SaslMechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

impl Choice for SaslMechanism {
    const WHAT: &'static str = "SASL mechanism";
    const CASE: Case = Case::Any;
    const SPELLINGS: &'static [Spelling<Self>] = &[
        spelling("PLAIN", SaslMechanism::Plain),
        spelling("SCRAM-SHA-256", SaslMechanism::ScramSha256),
        spelling("SCRAM-SHA-512", SaslMechanism::ScramSha512),
        spelling("OAUTHBEARER", SaslMechanism::OAuthBearer),
    ];
}

/// `replication_policy.kind`; the typed result is a `ReplicationPolicy` built with its separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PolicyKind {
    Default,
    Identity,
}

impl Choice for PolicyKind {
    const WHAT: &'static str = "kind";
    const CASE: Case = Case::Exact;
    const SPELLINGS: &'static [Spelling<Self>] = &[
        Spelling {
            name: "default",
            value: PolicyKind::Default,
            about: Some("remote topics named <source><separator><topic>"),
        },
        Spelling {
            name: "identity",
            value: PolicyKind::Identity,
            about: Some("names kept"),
        },
    ];
}

impl Choice for OffsetSyncsLocation {
    const WHAT: &'static str = "location";
    const CASE: Case = Case::Exact;
    const SPELLINGS: &'static [Spelling<Self>] = &[
        spelling("source", OffsetSyncsLocation::Source),
        spelling("target", OffsetSyncsLocation::Target),
    ];
}

impl Choice for ProvenanceHeader {
    const WHAT: &'static str = "mode";
    const CASE: Case = Case::Exact;
    const SPELLINGS: &'static [Spelling<Self>] = &[
        spelling("auto", ProvenanceHeader::Auto),
        spelling("always", ProvenanceHeader::Always),
        spelling("never", ProvenanceHeader::Never),
    ];
}

impl Choice for SyncMode {
    const WHAT: &'static str = "mode";
    const CASE: Case = Case::Exact;
    const SPELLINGS: &'static [Spelling<Self>] = &[
        spelling("enforce", SyncMode::Enforce),
        spelling("report", SyncMode::Report),
        spelling("off", SyncMode::Off),
    ];
}

impl Choice for OnDataGap {
    const WHAT: &'static str = "value";
    const CASE: Case = Case::Exact;
    const SPELLINGS: &'static [Spelling<Self>] = &[
        Spelling {
            name: "continue",
            value: OnDataGap::Continue,
            about: Some("copy on from the earliest offset the source holds"),
        },
        Spelling {
            name: "stop",
            value: OnDataGap::Stop,
            about: Some("stop the partition at the gap"),
        },
    ];
}

impl Choice for TopicRules {
    const WHAT: &'static str = "rules";
    const CASE: Case = Case::Exact;
    const SPELLINGS: &'static [Spelling<Self>] = &[
        Spelling {
            name: "mm2-4.0",
            value: TopicRules::Mm2_4_0,
            about: Some("MirrorMaker 2 of Kafka 4.0 and later: `orders-internal` is replicated"),
        },
        Spelling {
            name: "mm2-3.9",
            value: TopicRules::Mm2_3_9,
            about: Some("MirrorMaker 2 of Kafka 3.9 and earlier: every `*.internal`/`*-internal` topic is skipped"),
        },
    ];
}

impl Choice for Delivery {
    const WHAT: &'static str = "value";
    const CASE: Case = Case::Exact;
    const SPELLINGS: &'static [Spelling<Self>] = &[
        Spelling {
            name: "at_least_once",
            value: Delivery::AtLeastOnce,
            about: Some("never lost; records copied since the last stored position are copied again after a crash"),
        },
        Spelling {
            name: "exactly_once",
            value: Delivery::ExactlyOnce,
            about: Some("records and positions committed in one transaction on the target"),
        },
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_follows_the_case_rule() {
        assert_eq!(
            SecurityProtocol::parse(" SASL_SSL "),
            Some(SecurityProtocol::SaslSsl)
        );
        assert_eq!(
            SaslMechanism::parse("scram-sha-256"),
            Some(SaslMechanism::ScramSha256)
        );
        assert_eq!(SyncMode::parse("report"), Some(SyncMode::Report));
        assert_eq!(SyncMode::parse("Report"), None);
        assert_eq!(OffsetSyncsLocation::parse("target "), None);
    }

    #[test]
    fn unknown_values_in_one_shape() {
        assert_eq!(
            OffsetSyncsLocation::unknown("middle"),
            "unknown location \"middle\"; expected source or target"
        );
        assert_eq!(
            SyncMode::unknown("x"),
            "unknown mode \"x\"; expected enforce, report or off"
        );
        assert_eq!(
            SyncMode::unknown("Report"),
            "unknown mode \"Report\" (did you mean `report`?); expected enforce, report or off"
        );
    }

    /// The spellings are the names the rest of strait prints and hands to librdkafka.
    #[test]
    fn spellings_match_the_enums_own_names() {
        for s in SecurityProtocol::SPELLINGS {
            assert_eq!(s.name, s.value.as_librdkafka());
        }
        for s in SaslMechanism::SPELLINGS {
            assert_eq!(s.name, s.value.as_str());
        }
        for s in SyncMode::SPELLINGS {
            assert_eq!(s.name, s.value.as_str());
        }
        for s in OnDataGap::SPELLINGS {
            assert_eq!(s.name, s.value.as_str());
        }
    }

    #[test]
    fn on_data_gap_names_both_values_with_their_meaning() {
        assert_eq!(OnDataGap::parse("stop"), Some(OnDataGap::Stop));
        assert_eq!(OnDataGap::parse("Stop"), None);
        assert_eq!(
            OnDataGap::unknown("skip"),
            "unknown value \"skip\"; expected continue (copy on from the earliest offset the \
             source holds) or stop (stop the partition at the gap)"
        );
    }
}
