//! `strait import-mm2`: a MirrorMaker 2 (MM2) dedicated-mode properties file in, strait's YAML
//! and a report out, one entry per key of the file: mapped (to which strait keys), not needed
//! (and why), or not mapped (why, and what to do). A pure function: no file, environment
//! variable or cluster is touched.
//!
//! It follows MM2's own reading of the file (`MirrorMakerConfig`): a flow `A->B` runs only
//! when `A->B.enabled` is true; a flow's `A->B.<key>` overrides the file's `<key>`; a
//! cluster's `A.<key>` overrides the file's connection and security keys (`bootstrap.servers`,
//! `security.protocol`, `ssl.*`, `sasl.*`); `A.consumer.*`, `A.producer.*` and `A.admin.*`
//! reach that cluster's clients. Values may reference Kafka config providers
//! (`${env:VAR}`, `${dir:/path:name}`), which become strait's `${env:VAR}` and
//! `${file:/path/name}` where strait has an equivalent. A secret written in clear never reaches
//! the YAML or the report: the YAML reads it from an environment variable the report names.

mod clients;
mod clusters;
mod flows;
mod jaas;
pub mod properties;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_yaml::{Mapping, Value};

use crate::policy::TopicRules;
use properties::Property;

pub use properties::{latin1, ParseError};

/// MM2's default `topics.exclude` up to Kafka 3.9 (a file that spells it out was written for
/// 3.9 or earlier).
const MM2_3_9_TOPICS_EXCLUDE: [&str; 3] = [r".*[\-\.]internal", r".*\.replica", r"__.*"];

/// The one MM2 default topic exclude that MM2's internal-topic rule does not cover anyway: a
/// file whose `topics.exclude` leaves it out makes MM2 replicate `*.replica` topics, which
/// strait's built-in excludes never do. With a name it excludes, to test a list with.
const REPLICA_EXCLUDE: (&str, &str) = (r".*\.replica", "orders.replica");

/// strait's built-in group excludes, each with a group name it excludes.
const GROUP_PROBES: [(&str, &str); 3] = [
    (r"console-consumer-.*", "console-consumer-12345"),
    (r"connect-.*", "connect-cluster"),
    (r"__.*", "__probe"),
];

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The MM2 version whose rules the file was written for; `None` infers it from the file.
    pub mm2_version: Option<TopicRules>,
    /// The file's name, for the header of the YAML.
    pub source_name: Option<String>,
}

/// What became of one MM2 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written to the strait keys of [`Entry::to`], with the same effect.
    Mapped,
    /// Nothing to write: strait has no such setting because it does not need one, or the key
    /// has no effect in MM2 either.
    NotNeeded,
    /// strait cannot do what the key does (or not all of it): [`Entry::action`] says what to
    /// do. Keys written in part list what was written in [`Entry::to`].
    NotMapped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Mapped => "mapped",
            Outcome::NotNeeded => "not needed",
            Outcome::NotMapped => "not mapped",
        }
    }

    /// When a key serves several clusters or mirrors, the entry shows the worst.
    fn rank(self) -> u8 {
        match self {
            Outcome::NotNeeded => 0,
            Outcome::Mapped => 1,
            Outcome::NotMapped => 2,
        }
    }
}

/// One key of the MM2 file (each line that sets a key, duplicates included).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub outcome: Outcome,
    /// The strait key paths written from it.
    pub to: Vec<String>,
    pub reason: String,
    /// What the user should do, for keys not mapped.
    pub action: Option<String>,
}

/// An environment variable the YAML reads that the MM2 file did not name: a secret that was
/// written in clear, or one MM2 read in a way strait cannot.
#[derive(Debug, Clone, Serialize)]
pub struct EnvVar {
    pub name: String,
    /// What to set it to.
    pub holds: String,
}

/// The result of an import.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    /// strait's YAML, with a header comment.
    pub yaml: String,
    /// The MM2 rules followed: `4.0` or `3.9`.
    pub mm2_version: &'static str,
    #[serde(skip)]
    pub topic_rules: TopicRules,
    /// Why those rules: the flag, or what in the file points to them.
    pub version_reason: String,
    /// The mirrors written, as `source->target`.
    pub mirrors: Vec<String>,
    /// One per key line of the file, in file order.
    pub entries: Vec<Entry>,
    /// What does not belong to one key: MM2 behaviour strait does not have, MM2 defaults that
    /// differ from strait's.
    pub notes: Vec<String>,
    /// Variables to set where strait runs, besides those the MM2 file already referenced.
    pub env: Vec<EnvVar>,
}

impl Imported {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.entries.iter().filter(|e| e.outcome == outcome).count()
    }
}

/// Reads MM2's `text` (see [`latin1`] for a file's bytes) into strait's YAML and the report.
/// Fails only when the text is not a properties file Java would read.
pub fn import_mm2(text: &str, options: &ImportOptions) -> Result<Imported, ParseError> {
    let props = properties::parse(text)?;
    let mut im = Importer::new(props);
    im.config_providers();
    let (rules, version_reason) = im.version(options.mm2_version);
    im.rules = rules;
    let aliases = im.clusters_list();
    im.aliases = aliases.clone();

    let mut clusters = Mapping::new();
    for alias in &aliases {
        let cluster = im.cluster(alias);
        clusters.insert(alias.as_str().into(), Value::Mapping(cluster));
    }
    let flows = im.flows();
    let mut mirrors = Vec::new();
    for (i, (s, t)) in flows.iter().enumerate() {
        mirrors.push(Value::Mapping(im.mirror(i, s, t)));
    }
    im.finish(&flows);

    let mut root = Mapping::new();
    root.insert("clusters".into(), Value::Mapping(clusters));
    root.insert("mirrors".into(), Value::Sequence(mirrors));
    let body = serde_yaml::to_string(&Value::Mapping(root)).unwrap_or_default();
    let version = match rules {
        TopicRules::Mm2_4_0 => "4.0",
        TopicRules::Mm2_3_9 => "3.9",
    };
    let from = options
        .source_name
        .as_deref()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let yaml = format!(
        "# strait configuration generated by `strait import-mm2` from the MirrorMaker 2 file{from}\n\
         # (MM2 {version} rules). Read the import's report before running it: it lists every MM2\n\
         # key, what it became, and what strait does differently. Every key is documented in\n\
         # config/strait.example.yaml.\n{body}"
    );
    let entries = im.entries();
    Ok(Imported {
        yaml,
        mm2_version: version,
        topic_rules: rules,
        version_reason,
        mirrors: flows.iter().map(|(s, t)| format!("{s}->{t}")).collect(),
        entries,
        notes: im.notes,
        env: im.env,
    })
}

/// A key's value as the file sets it (its last line).
#[derive(Debug, Clone)]
struct Used {
    key: String,
    value: String,
}

#[derive(Debug, Clone)]
struct Decision {
    outcome: Outcome,
    to: Vec<String>,
    reasons: Vec<String>,
    action: Option<String>,
}

/// A Kafka config provider declared in `config.providers`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Provider {
    /// `FileConfigProvider`: `${name:path:key}` is a key of a properties file.
    File,
    /// `DirectoryConfigProvider`: `${name:dir:file}` is the content of a file.
    Directory,
    /// `EnvVarConfigProvider`: `${name:VAR}`.
    Env,
    Other(String),
}

/// A value in strait's syntax, and how many provider references it had.
struct Translated {
    text: String,
    references: usize,
}

/// An MM2 `*.interval.seconds` value: a duration, off (negative), or not usable.
enum Interval {
    Every(String),
    Off,
    Invalid,
}

struct Importer {
    props: Vec<Property>,
    /// Key to the index in `props` of its last line (the one Java keeps).
    last: BTreeMap<String, usize>,
    decisions: BTreeMap<String, Decision>,
    providers: BTreeMap<String, Provider>,
    env: Vec<EnvVar>,
    notes: Vec<String>,
    rules: TopicRules,
    aliases: Vec<String>,
    /// Keys decided since the current cluster's import began.
    touched: BTreeSet<String>,
    /// Notes given once for the whole file (by tag).
    noted: BTreeSet<&'static str>,
    /// The variable a secret key was given (a file-wide key serves several clusters).
    secret_env: BTreeMap<String, String>,
}

impl Importer {
    fn new(props: Vec<Property>) -> Self {
        let last = props
            .iter()
            .enumerate()
            .map(|(i, p)| (p.key.clone(), i))
            .collect();
        Importer {
            props,
            last,
            decisions: BTreeMap::new(),
            providers: BTreeMap::new(),
            env: Vec::new(),
            notes: Vec::new(),
            rules: TopicRules::default(),
            aliases: Vec::new(),
            touched: BTreeSet::new(),
            noted: BTreeSet::new(),
            secret_env: BTreeMap::new(),
        }
    }

    fn used(&self, key: &str) -> Option<Used> {
        self.last.get(key).map(|&i| Used {
            key: key.to_owned(),
            // Kafka's ConfigDef trims every value it parses.
            value: self.props[i].value.trim().to_owned(),
        })
    }

    fn line(&self, key: &str) -> usize {
        self.last.get(key).map_or(0, |&i| self.props[i].line)
    }

    fn keys(&self) -> Vec<String> {
        self.last.keys().cloned().collect()
    }

    fn decide(
        &mut self,
        key: &str,
        outcome: Outcome,
        to: &[String],
        reason: impl Into<String>,
        action: Option<String>,
    ) {
        let reason = reason.into();
        self.touched.insert(key.to_owned());
        match self.decisions.get_mut(key) {
            Some(d) => {
                if outcome.rank() > d.outcome.rank() {
                    d.outcome = outcome;
                }
                for t in to {
                    if !d.to.contains(t) {
                        d.to.push(t.clone());
                    }
                }
                if !reason.is_empty() && !d.reasons.contains(&reason) {
                    d.reasons.push(reason);
                }
                if d.action.is_none() {
                    d.action = action;
                } else if let Some(a) = action {
                    let known = d.action.as_deref().is_some_and(|x| x.contains(&a));
                    if !known {
                        d.action = d.action.take().map(|x| format!("{x}; {a}"));
                    }
                }
            }
            None => {
                self.decisions.insert(
                    key.to_owned(),
                    Decision {
                        outcome,
                        to: to.to_vec(),
                        reasons: if reason.is_empty() {
                            Vec::new()
                        } else {
                            vec![reason]
                        },
                        action,
                    },
                );
            }
        }
    }

    fn mapped(&mut self, key: &str, to: impl Into<String>, reason: impl Into<String>) {
        self.decide(key, Outcome::Mapped, &[to.into()], reason, None);
    }

    fn not_needed(&mut self, key: &str, reason: impl Into<String>) {
        self.decide(key, Outcome::NotNeeded, &[], reason, None);
    }

    fn not_mapped(&mut self, key: &str, reason: impl Into<String>, action: impl Into<String>) {
        self.decide(key, Outcome::NotMapped, &[], reason, Some(action.into()));
    }

    /// Written to `to`, but strait does not do all the key does.
    fn partly(
        &mut self,
        key: &str,
        to: impl Into<String>,
        reason: impl Into<String>,
        action: impl Into<String>,
    ) {
        self.decide(
            key,
            Outcome::NotMapped,
            &[to.into()],
            reason,
            Some(action.into()),
        );
    }

    fn decided(&self, key: &str) -> bool {
        self.decisions.contains_key(key)
    }

    // -----------------------------------------------------------------------------------------
    // Config providers and references

    fn config_providers(&mut self) {
        let Some(list) = self.used("config.providers") else {
            return;
        };
        let names = split_list(&list.value);
        for name in &names {
            let class_key = format!("config.providers.{name}.class");
            let provider = match self.used(&class_key) {
                Some(class) => {
                    let simple = simple_class(&class.value);
                    let known_package = class.value.trim() == simple
                        || class
                            .value
                            .trim()
                            .starts_with("org.apache.kafka.common.config.provider.");
                    let provider = match simple {
                        "FileConfigProvider" if known_package => Provider::File,
                        "DirectoryConfigProvider" if known_package => Provider::Directory,
                        "EnvVarConfigProvider" if known_package => Provider::Env,
                        _ => Provider::Other(class.value.trim().to_owned()),
                    };
                    match &provider {
                        Provider::Other(class) => self.not_mapped(
                            &class_key,
                            format!(
                                "strait has no equivalent of config provider `{class}`: values \
                                 that reference `${{{name}:...}}` are not mapped"
                            ),
                            "put those values in environment variables (`${env:NAME}`) or \
                             files (`${file:PATH}`)",
                        ),
                        Provider::File => self.not_needed(
                            &class_key,
                            format!(
                                "strait reads files itself; `${{{name}:path:key}}` (a key of a \
                                 properties file) has no strait equivalent, see the keys that use it"
                            ),
                        ),
                        Provider::Directory => self.not_needed(
                            &class_key,
                            format!(
                                "`${{{name}:dir:file}}` became strait's `${{file:dir/file}}` (strait \
                                 drops one trailing newline of the file; the provider keeps it)"
                            ),
                        ),
                        Provider::Env => self.not_needed(
                            &class_key,
                            format!("`${{{name}:VAR}}` became strait's `${{env:VAR}}`"),
                        ),
                    }
                    provider
                }
                None => {
                    self.not_mapped(
                        "config.providers",
                        format!("provider `{name}` has no `{class_key}`; MM2 would not start"),
                        format!("add `{class_key}` or remove `{name}` from the list"),
                    );
                    continue;
                }
            };
            self.providers.insert(name.clone(), provider);
        }
        self.not_needed(
            "config.providers",
            "strait resolves `${env:NAME}` and `${file:PATH}` references itself; the file's \
             provider references were translated where strait has an equivalent",
        );
        for key in self.keys() {
            let Some(rest) = key.strip_prefix("config.providers.") else {
                continue;
            };
            if self.decided(&key) {
                continue;
            }
            let name = rest.split('.').next().unwrap_or_default();
            if !names.iter().any(|n| n == name) {
                self.not_needed(
                    &key,
                    format!("provider `{name}` is not listed in config.providers; MM2 loads no such provider"),
                );
            } else if rest.starts_with(&format!("{name}.param.")) {
                self.not_needed(
                    &key,
                    "a parameter of the provider (such as its allowed paths); strait reads the \
                     environment variables and files its configuration names, with no allow-list",
                );
            }
        }
    }

    /// `text` in strait's syntax: provider references translated, any other `${` escaped as
    /// `$${`. The error never quotes the value, only the provider and path of the reference.
    fn translate(&mut self, text: &str) -> Result<Translated, String> {
        let mut out = String::with_capacity(text.len());
        let mut references = 0;
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let Some(end) = after.find('}') else {
                out.push_str("$${");
                rest = after;
                continue;
            };
            let inner = &after[..end];
            rest = &after[end + 1..];
            let provider = inner
                .split_once(':')
                .and_then(|(name, tail)| self.providers.get(name).map(|p| (name, p, tail)));
            let Some((name, provider, tail)) = provider else {
                // MM2 leaves a reference to no declared provider as it is written.
                out.push_str("$${");
                out.push_str(&escape(inner));
                out.push('}');
                continue;
            };
            let (path, key) = match tail.split_once(':') {
                Some((path, key)) => (Some(path), key),
                None => (None, tail),
            };
            match provider {
                Provider::Env => {
                    if path.is_some_and(|p| !p.is_empty()) {
                        return Err(format!(
                            "`${{{name}:...}}` gives the environment-variable provider a path, \
                             which it refuses (MM2 would not start)"
                        ));
                    }
                    out.push_str(&format!("${{env:{key}}}"));
                }
                Provider::Directory => {
                    let Some(dir) = path.filter(|p| !p.is_empty()) else {
                        return Err(format!(
                            "`${{{name}:...}}` names no directory (the directory provider \
                             needs `${{{name}:DIR:FILE}}`)"
                        ));
                    };
                    let file = format!("{}/{key}", dir.trim_end_matches('/'));
                    out.push_str(&format!("${{file:{file}}}"));
                }
                Provider::File => {
                    let file = path.unwrap_or_default();
                    return Err(format!(
                        "it reads key `{key}` of the properties file `{file}` (provider \
                         `{name}`); strait's `${{file:}}` reads a whole file and has no \
                         equivalent"
                    ));
                }
                Provider::Other(class) => {
                    return Err(format!(
                        "it is resolved by config provider `{name}` ({class}), which strait \
                         does not have"
                    ));
                }
            }
            references += 1;
        }
        out.push_str(rest);
        Ok(Translated {
            text: out,
            references,
        })
    }

    /// A plain value (not a secret) in strait's syntax; when a reference cannot be followed,
    /// the key is reported not mapped and `None` returned.
    fn plain(&mut self, used: &Used) -> Option<String> {
        match self.translate(&used.value) {
            Ok(t) => Some(t.text),
            Err(why) => {
                self.not_mapped(
                    &used.key,
                    format!("the value is a config-provider reference strait cannot follow: {why}"),
                    "write the value itself, or put it in an environment variable or its own file",
                );
                None
            }
        }
    }

    /// A secret's YAML value: a translated reference, or `${env:<env_name>}` when it is written
    /// in clear (or read in a way strait cannot). Returns the value and the reason to report.
    fn secret(&mut self, used: &Used, env_name: &str, what: &str) -> (String, String, bool) {
        // A file-wide key serves every cluster from one variable.
        let cache = format!("{}\u{0}{what}", used.key);
        if let Some(name) = self.secret_env.get(&cache).cloned() {
            return (
                format!("${{env:{name}}}"),
                format!("the {what} is read from `${{env:{name}}}`: set {name} where strait runs"),
                true,
            );
        }
        let result = self.secret_uncached(used, env_name, what);
        if let Some(name) = result
            .0
            .strip_prefix("${env:")
            .and_then(|r| r.strip_suffix('}'))
            .filter(|n| self.env.iter().any(|e| e.name == *n))
        {
            self.secret_env.insert(cache, name.to_owned());
        }
        result
    }

    /// The variable name for a secret of cluster `upper` (`STRAIT_<ALIAS>_<suffix>`), or
    /// `STRAIT_<suffix>` when the key is the file's default for every cluster.
    fn env_base(&self, used: &Used, upper: &str, suffix: &str) -> String {
        if self.cluster_of(&used.key).is_some() {
            format!("STRAIT_{upper}_{suffix}")
        } else {
            format!("STRAIT_{suffix}")
        }
    }

    fn secret_uncached(
        &mut self,
        used: &Used,
        env_name: &str,
        what: &str,
    ) -> (String, String, bool) {
        match self.translate(&used.value) {
            Ok(t) if t.references > 0 => (
                t.text,
                format!("the {what} comes from a config-provider reference, translated"),
                true,
            ),
            Ok(_) => {
                let name = self.env_var(
                    env_name,
                    format!(
                        "the {what} written in clear in `{}` (line {})",
                        used.key,
                        self.line(&used.key)
                    ),
                );
                (
                    format!("${{env:{name}}}"),
                    format!(
                        "the {what} was written in clear; the YAML reads it from \
                         `${{env:{name}}}`: set {name} where strait runs"
                    ),
                    true,
                )
            }
            Err(why) => {
                let name = self.env_var(
                    env_name,
                    format!(
                        "the {what} MM2 read through `{}` (line {})",
                        used.key,
                        self.line(&used.key)
                    ),
                );
                (
                    format!("${{env:{name}}}"),
                    format!("the {what} is read through a reference strait cannot follow: {why}"),
                    false,
                )
            }
        }
    }

    /// Registers environment variable `base` (or `base_2`, ... if taken) and returns its name.
    fn env_var(&mut self, base: &str, holds: String) -> String {
        let mut name = base.to_owned();
        let mut n = 1;
        while self.env.iter().any(|e| e.name == name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        self.env.push(EnvVar {
            name: name.clone(),
            holds,
        });
        name
    }

    // -----------------------------------------------------------------------------------------
    // Version

    fn version(&mut self, chosen: Option<TopicRules>) -> (TopicRules, String) {
        if let Some(rules) = chosen {
            let v = if rules == TopicRules::Mm2_3_9 {
                "3.9"
            } else {
                "4.0"
            };
            return (rules, format!("chosen with --mm2-version {v}"));
        }
        for p in &self.props {
            let removed = [
                "topics.blacklist",
                "groups.blacklist",
                "config.properties.blacklist",
                "use.incremental.alter.configs",
                "add.source.alias.to.metrics",
            ];
            if let Some(name) = removed
                .iter()
                .find(|r| p.key == **r || p.key.ends_with(&format!(".{r}")))
            {
                return (
                    TopicRules::Mm2_3_9,
                    format!(
                        "inferred: `{}` (line {}) was removed in Kafka 4.0 ({name}); pass \
                         --mm2-version 4 if the file runs on 4.0",
                        p.key, p.line
                    ),
                );
            }
        }
        for p in &self.props {
            if p.key == "topics.exclude" || p.key.ends_with(".topics.exclude") {
                let mut list = split_list(&p.value);
                list.sort();
                let mut default: Vec<String> = MM2_3_9_TOPICS_EXCLUDE
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                default.sort();
                if list == default {
                    return (
                        TopicRules::Mm2_3_9,
                        format!(
                            "inferred: `{}` (line {}) is MM2 3.9's default list; pass \
                             --mm2-version 4 if the file runs on 4.0",
                            p.key, p.line
                        ),
                    );
                }
            }
        }
        (
            TopicRules::Mm2_4_0,
            "inferred: no key removed in Kafka 4.0 and no topics.exclude equal to the 3.9 \
             default; pass --mm2-version 3.9 if the file runs on 3.9 or earlier"
                .to_owned(),
        )
    }

    // -----------------------------------------------------------------------------------------
    // Everything else

    fn finish(&mut self, flows: &[(String, String)]) {
        let enabled: Vec<String> = flows.iter().map(|(s, t)| format!("{s}->{t}")).collect();
        for key in self.keys() {
            if self.decided(&key) {
                continue;
            }
            let used = self.used(&key).expect("key of the file");
            if let Some((s, t, rest)) = self.flow_of(&key) {
                let flow = format!("{s}->{t}");
                if !enabled.contains(&flow) {
                    if rest == "emit.heartbeats.enabled" && !java_true(&used.value) {
                        self.not_needed(
                            &key,
                            format!(
                                "it turns off MM2's heartbeat-only herder {flow}, which strait does \
                                 not have"
                            ),
                        );
                    } else {
                        self.not_needed(&key, format!("flow {flow} is not enabled"));
                    }
                } else {
                    self.unknown(&key);
                }
                continue;
            }
            if key.contains("->") {
                self.not_mapped(
                    &key,
                    "names a flow between clusters not listed in `clusters`; MM2 ignores it",
                    "check the aliases (a typo?)",
                );
                continue;
            }
            if let Some((alias, rest)) = self.cluster_of(&key) {
                if rest == "offset.storage.topic" && self.used("offset.storage.topic").is_some() {
                    self.not_needed(
                        &key,
                        "the file's own `offset.storage.topic` overrides it (MM2 applies that one \
                         to every worker, last)",
                    );
                } else if rest == "exactly.once.source.support" || rest == "offset.storage.topic" {
                    self.not_needed(&key, format!("no enabled flow writes into `{alias}`"));
                } else {
                    self.unknown(&key);
                }
                continue;
            }
            if CONNECTOR_KEYS.contains(&key.as_str())
                || key == "enabled"
                || key.starts_with("replication.policy.")
            {
                let reason = if flows.is_empty() {
                    "no flow is enabled".to_owned()
                } else {
                    "every enabled flow sets its own (`<source>-><target>.<key>`)".to_owned()
                };
                self.not_needed(&key, reason);
                continue;
            }
            if is_client_key(&key) {
                self.not_needed(&key, "every cluster sets its own");
                continue;
            }
            if is_worker_key(&key) {
                self.not_needed(
                    &key,
                    "a setting of the Kafka Connect workers that run MM2; strait is no Connect \
                     worker (it stores its positions on the target itself)",
                );
                continue;
            }
            if ["consumer.", "producer.", "admin."]
                .iter()
                .any(|p| key.starts_with(p))
            {
                self.not_needed(
                    &key,
                    "MM2 ignores client properties without a cluster alias (only \
                     `<alias>.consumer.*` and the like reach its clients)",
                );
                continue;
            }
            if key == "exactly.once.source.support" {
                self.not_needed(
                    &key,
                    "MM2 reads it per target cluster (`<alias>.exactly.once.source.support`)",
                );
                continue;
            }
            self.unknown(&key);
        }
    }

    fn unknown(&mut self, key: &str) {
        self.not_mapped(
            key,
            "not a key MM2 or strait knows (MM2 ignores unknown keys)",
            "check the key name (a typo?)",
        );
    }

    fn entries(&self) -> Vec<Entry> {
        self.props
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if self.last.get(&p.key) != Some(&i) {
                    let later = self.line(&p.key);
                    return Entry {
                        key: p.key.clone(),
                        line: p.line,
                        outcome: Outcome::NotNeeded,
                        to: Vec::new(),
                        reason: format!("set again on line {later}, which wins (as in Java)"),
                        action: None,
                    };
                }
                let d = self.decisions.get(&p.key);
                Entry {
                    key: p.key.clone(),
                    line: p.line,
                    outcome: d.map_or(Outcome::NotMapped, |d| d.outcome),
                    to: d.map(|d| d.to.clone()).unwrap_or_default(),
                    reason: d.map(|d| d.reasons.join("; ")).unwrap_or_default(),
                    action: d.and_then(|d| d.action.clone()),
                }
            })
            .collect()
    }
}

/// The connector keys of MM2's three connectors that a flow reads (the file's, or the flow's
/// own): those the import maps and those it reports.
const CONNECTOR_KEYS: &[&str] = &[
    "topics",
    "topics.exclude",
    "topics.blacklist",
    "groups",
    "groups.exclude",
    "groups.blacklist",
    "config.properties.exclude",
    "config.properties.blacklist",
    "replication.policy.class",
    "replication.policy.separator",
    "replication.policy.internal.topic.separator.enabled",
    "replication.factor",
    "heartbeats.topic.replication.factor",
    "checkpoints.topic.replication.factor",
    "offset-syncs.topic.replication.factor",
    "emit.heartbeats.enabled",
    "emit.heartbeats.interval.seconds",
    "emit.checkpoints.enabled",
    "emit.checkpoints.interval.seconds",
    "sync.group.offsets.enabled",
    "sync.group.offsets.interval.seconds",
    "sync.topic.configs.enabled",
    "sync.topic.configs.interval.seconds",
    "sync.topic.acls.enabled",
    "sync.topic.acls.interval.seconds",
    "refresh.topics.enabled",
    "refresh.topics.interval.seconds",
    "refresh.groups.enabled",
    "refresh.groups.interval.seconds",
    "emit.offset-syncs.enabled",
    "offset-syncs.topic.location",
    "offset.lag.max",
    "heartbeats.replication.enabled",
    "topic.filter.class",
    "group.filter.class",
    "config.property.filter.class",
    "use.defaults.from",
    "forwarding.admin.class",
    "consumer.poll.timeout.ms",
    "admin.timeout.ms",
    "tasks.max",
    "metric.reporters",
    "exactly.once.support",
    "transaction.boundary",
    "transaction.boundary.interval.ms",
    "use.incremental.alter.configs",
    "add.source.alias.to.metrics",
    "transforms",
    "predicates",
    "errors.tolerance",
    "errors.log.enable",
    "errors.log.include.messages",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
];

/// The connection and security keys MM2 takes per cluster (MirrorClientConfig's client keys).
fn is_client_key(key: &str) -> bool {
    key == "bootstrap.servers"
        || key == "security.protocol"
        || key.starts_with("ssl.")
        || key.starts_with("sasl.")
}

/// Kafka Connect worker settings, which MM2 hands to the workers of its herders.
fn is_worker_key(key: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "offset.storage.",
        "config.storage.",
        "status.storage.",
        "key.converter",
        "value.converter",
        "header.converter",
        "task.",
        "worker.",
        "offset.flush.",
        "dedicated.mode.",
        "rest.",
        "listeners",
        "admin.listeners",
        "scheduled.rebalance.",
        "plugin.",
        "inter.worker.",
        "connector.client.config.override.policy",
        "topic.creation.enable",
        "group.id",
        "client.id",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "rebalance.timeout.ms",
        "connect.protocol",
        "access.control.",
        "response.http.headers.config",
        "metrics.",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Java's `Boolean.parseBoolean`: true only for `true` in any case.
fn java_true(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

/// Kafka's LIST type: trimmed, split on commas with the whitespace around them; empty is none.
fn split_list(value: &str) -> Vec<String> {
    let value = value.trim();
    if value.is_empty() {
        return Vec::new();
    }
    value.split(',').map(|s| s.trim().to_owned()).collect()
}

/// The class name without its package.
fn simple_class(class: &str) -> &str {
    let class = class.trim();
    class.rsplit('.').next().unwrap_or(class)
}

/// `${` as strait's literal `$${`.
fn escape(text: &str) -> String {
    text.replace("${", "$${")
}

/// An alias or property name in an environment variable name: upper case, `_` for the rest.
fn env_alias(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Seconds as strait writes a duration: `30s`, `10m`, `1h`.
fn seconds(n: u64) -> String {
    if n % 3600 == 0 {
        format!("{}h", n / 3600)
    } else if n % 60 == 0 {
        format!("{}m", n / 60)
    } else {
        format!("{n}s")
    }
}

fn strings(items: &[String]) -> Value {
    Value::Sequence(items.iter().map(|s| Value::from(s.as_str())).collect())
}

/// A pass-through value as a YAML scalar: numbers and booleans as such, the rest as strings.
fn scalar(value: &str) -> Value {
    if let Ok(n) = value.parse::<i64>() {
        return n.into();
    }
    match value {
        "true" => true.into(),
        "false" => false.into(),
        _ => value.into(),
    }
}
