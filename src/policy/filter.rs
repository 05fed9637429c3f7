//! Include/exclude name filters for topics and consumer groups (MM2's `DefaultTopicFilter` and
//! `DefaultGroupFilter`).

use std::fmt;

use regex::Regex;

use super::SkipReason;

/// MM2's default `topics.exclude` since Kafka 4.0 (KIP-1074): MM2/Connect internal topics
/// (`mm2*.internal`), MM1-era `.replica` topics and Kafka's own `__` topics. strait applies these
/// (or the 3.9 ones, [`crate::policy::TopicRules`]); user excludes are added to them.
pub const DEFAULT_TOPIC_EXCLUDES: [&str; 3] = [r"mm2.*\.internal", r".*\.replica", r"__.*"];

/// MM2's default `topics.exclude` in Kafka 3.9 and earlier: every `*.internal` and `*-internal`
/// topic too.
pub const DEFAULT_TOPIC_EXCLUDES_3_9: [&str; 3] = [r".*[\-\.]internal", r".*\.replica", r"__.*"];

/// MM2's default `groups.exclude`: console consumers, Connect workers and Kafka-internal groups.
pub const DEFAULT_GROUP_EXCLUDES: [&str; 3] = [r"console-consumer-.*", r"connect-.*", r"__.*"];

/// MM2's default `config.properties.exclude`: topic configs that are about the cluster they live
/// on rather than the data (throttles, durability, timestamp validation). strait always applies
/// these; the user's `topic_configs_exclude` adds to them.
pub const DEFAULT_CONFIG_EXCLUDES: [&str; 6] = [
    r"follower\.replication\.throttled\.replicas",
    r"leader\.replication\.throttled\.replicas",
    r"message\.timestamp\.difference\.max\.ms",
    r"message\.timestamp\.type",
    r"unclean\.leader\.election\.enable",
    r"min\.insync\.replicas",
];

/// One compiled pattern with the text it was written as.
#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    /// `^(?:text)$`: a full match, like Java's `Matcher.matches`.
    regex: Regex,
}

impl Pattern {
    fn new(text: &str) -> Result<Self, regex::Error> {
        // Compile the pattern alone first so that `a)|(b`, which would be valid once wrapped,
        // is rejected, and so that the error shows the pattern as the user wrote it.
        Regex::new(text)?;
        let regex = Regex::new(&format!("^(?:{text})$"))?;
        Ok(Pattern {
            text: text.to_owned(),
            regex,
        })
    }
}

/// Which list of a [`TopicFilter`] a pattern came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternList {
    Include,
    Exclude,
}

/// A pattern that does not compile, with its position in the list it was given in.
#[derive(Debug, Clone)]
pub struct PatternError {
    pub list: PatternList,
    pub index: usize,
    pub pattern: String,
    pub error: regex::Error,
}

impl PatternError {
    /// The regex engine's reason, on one line (its `Display` spans several lines with a caret).
    pub fn reason(&self) -> String {
        match &self.error {
            regex::Error::Syntax(text) => text
                .lines()
                .rev()
                .find_map(|line| line.trim().strip_prefix("error: "))
                .unwrap_or_else(|| text.trim())
                .to_owned(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid regex `{}`: {}", self.pattern, self.reason())
    }
}

impl std::error::Error for PatternError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Include/exclude regex lists with full-match semantics (MM2 joins the items with `|` and uses
/// `Matcher.matches`). Excludes win. An empty include list matches nothing.
///
/// Patterns use the Rust `regex` syntax, which lacks Java's look-around and back-references.
#[derive(Debug, Clone)]
pub struct TopicFilter {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

/// Two filters are equal when they list the same patterns in the same order.
impl PartialEq for TopicFilter {
    fn eq(&self, other: &Self) -> bool {
        let same =
            |a: &[Pattern], b: &[Pattern]| a.iter().map(|p| &p.text).eq(b.iter().map(|p| &p.text));
        same(&self.include, &other.include) && same(&self.exclude, &other.exclude)
    }
}

impl TopicFilter {
    /// Compiles both lists. On failure returns **every** pattern that does not compile, with its
    /// list and index, so that config validation can report them all with their key paths.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, Vec<PatternError>> {
        let mut errors = Vec::new();
        let include = compile(PatternList::Include, include, &mut errors);
        let exclude = compile(PatternList::Exclude, exclude, &mut errors);
        if errors.is_empty() {
            Ok(TopicFilter { include, exclude })
        } else {
            Err(errors)
        }
    }

    /// `true` if some include pattern and no exclude pattern matches the whole `name`.
    pub fn matches(&self, name: &str) -> bool {
        self.check(name).is_ok()
    }

    /// Like [`Self::matches`], with the reason when the name does not pass: not included first,
    /// then the first exclude pattern that matches.
    pub fn check(&self, name: &str) -> Result<(), SkipReason> {
        if !self.is_included(name) {
            return Err(SkipReason::NotIncluded);
        }
        match self.excluded_by(name) {
            Some(pattern) => Err(SkipReason::Excluded {
                pattern: pattern.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// `true` if some include pattern matches the whole `name` (excludes not considered).
    pub fn is_included(&self, name: &str) -> bool {
        self.include.iter().any(|p| p.regex.is_match(name))
    }

    /// The first exclude pattern (as written) that matches the whole `name`.
    pub fn excluded_by(&self, name: &str) -> Option<&str> {
        self.exclude
            .iter()
            .find(|p| p.regex.is_match(name))
            .map(|p| p.text.as_str())
    }

    /// The include patterns as written.
    pub fn include_patterns(&self) -> impl Iterator<Item = &str> {
        self.include.iter().map(|p| p.text.as_str())
    }

    /// The exclude patterns as written (built-in ones included, when the config added them).
    pub fn exclude_patterns(&self) -> impl Iterator<Item = &str> {
        self.exclude.iter().map(|p| p.text.as_str())
    }
}

fn compile(list: PatternList, texts: &[String], errors: &mut Vec<PatternError>) -> Vec<Pattern> {
    let mut patterns = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        match Pattern::new(text) {
            Ok(p) => patterns.push(p),
            Err(error) => errors.push(PatternError {
                list,
                index,
                pattern: text.clone(),
                error,
            }),
        }
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn filter(include: &[&str], exclude: &[&str]) -> TopicFilter {
        TopicFilter::new(&strings(include), &strings(exclude)).expect("valid patterns")
    }

    fn default_topic_filter() -> TopicFilter {
        filter(&[".*"], &DEFAULT_TOPIC_EXCLUDES)
    }

    #[test]
    fn builtin_defaults_compile() {
        TopicFilter::new(&strings(&[".*"]), &strings(&DEFAULT_TOPIC_EXCLUDES)).unwrap();
        TopicFilter::new(&strings(&[".*"]), &strings(&DEFAULT_TOPIC_EXCLUDES_3_9)).unwrap();
        TopicFilter::new(&strings(&[".*"]), &strings(&DEFAULT_GROUP_EXCLUDES)).unwrap();
    }

    /// MM2's `DefaultTopicFilter` defaults since Kafka 4.0 (KIP-1074).
    #[test]
    fn default_topic_excludes() {
        let f = default_topic_filter();
        let cases: &[(&str, Result<(), &str>)] = &[
            ("orders", Ok(())),
            ("A.orders", Ok(())),
            ("heartbeats", Ok(())),
            ("internal", Ok(())),
            ("x_internal", Ok(())),
            ("connect-internal", Ok(())),
            ("orders.internal", Ok(())),
            ("mm2-offsets.A.internal", Err(r"mm2.*\.internal")),
            ("mm2-status.A.internal", Err(r"mm2.*\.internal")),
            ("orders.replica", Err(r".*\.replica")),
            ("__consumer_offsets", Err("__.*")),
        ];
        check_excludes(&f, cases);
    }

    /// MM2's `DefaultTopicFilter` defaults in Kafka 3.9.
    #[test]
    fn default_topic_excludes_3_9() {
        let f = filter(&[".*"], &DEFAULT_TOPIC_EXCLUDES_3_9);
        let cases: &[(&str, Result<(), &str>)] = &[
            ("orders", Ok(())),
            ("internal", Ok(())),
            ("x_internal", Ok(())),
            ("mm2-offsets.A.internal", Err(r".*[\-\.]internal")),
            ("connect-internal", Err(r".*[\-\.]internal")),
            ("orders.internal", Err(r".*[\-\.]internal")),
            ("orders.replica", Err(r".*\.replica")),
            ("__consumer_offsets", Err("__.*")),
        ];
        check_excludes(&f, cases);
    }

    fn check_excludes(f: &TopicFilter, cases: &[(&str, Result<(), &str>)]) {
        for (name, want) in cases {
            let got = f.check(name);
            match want {
                Ok(()) => assert_eq!(got, Ok(()), "{name}"),
                Err(p) => assert_eq!(
                    got,
                    Err(SkipReason::Excluded {
                        pattern: p.to_string()
                    }),
                    "{name}"
                ),
            }
        }
    }

    /// MM2's `DefaultGroupFilter` defaults.
    #[test]
    fn default_group_excludes() {
        let f = filter(&[".*"], &DEFAULT_GROUP_EXCLUDES);
        for group in ["app", "orders-service", "console-consumer", "connect"] {
            assert!(f.matches(group), "{group}");
        }
        for group in ["console-consumer-1234", "connect-cluster", "__strait"] {
            assert!(!f.matches(group), "{group}");
        }
    }

    #[test]
    fn full_match_semantics() {
        let f = filter(&["orders", "pay.*"], &[]);
        assert!(f.matches("orders"));
        assert!(!f.matches("orders2"));
        assert!(!f.matches("my-orders"));
        assert!(f.matches("payments"));
        assert!(!f.matches("xpayments"));
        // Alternation inside one pattern is anchored as a whole.
        let f = filter(&["a|b"], &[]);
        assert!(f.matches("a"));
        assert!(f.matches("b"));
        assert!(!f.matches("ab"));
    }

    #[test]
    fn empty_include_matches_nothing_and_excludes_win() {
        let f = filter(&[], &[]);
        assert_eq!(f.check("orders"), Err(SkipReason::NotIncluded));
        let f = filter(&["orders.*"], &["orders-tmp"]);
        assert_eq!(f.check("orders"), Ok(()));
        assert_eq!(
            f.check("orders-tmp"),
            Err(SkipReason::Excluded {
                pattern: "orders-tmp".into()
            })
        );
        assert_eq!(f.check("payments"), Err(SkipReason::NotIncluded));
        assert!(f.is_included("orders-tmp"));
        assert_eq!(f.excluded_by("orders-tmp"), Some("orders-tmp"));
    }

    #[test]
    fn reports_every_invalid_pattern() {
        let errors = TopicFilter::new(
            &strings(&["ok", "("]),
            &strings(&["a)|(b", "fine", "[z-a]"]),
        )
        .unwrap_err();
        let found: Vec<(PatternList, usize, &str)> = errors
            .iter()
            .map(|e| (e.list, e.index, e.pattern.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (PatternList::Include, 1, "("),
                (PatternList::Exclude, 0, "a)|(b"),
                (PatternList::Exclude, 2, "[z-a]"),
            ]
        );
        assert_eq!(errors[0].to_string(), "invalid regex `(`: unclosed group");
        assert!(!errors[1].reason().contains('\n'));
    }

    #[test]
    fn keeps_pattern_text() {
        let f = filter(&["a.*"], &["b"]);
        assert_eq!(f.include_patterns().collect::<Vec<_>>(), ["a.*"]);
        assert_eq!(f.exclude_patterns().collect::<Vec<_>>(), ["b"]);
    }
}
