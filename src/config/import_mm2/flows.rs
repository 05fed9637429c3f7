//! The flows of the MM2 file: which become mirrors (MM2's herder rules), and each mirror's
//! keys from the flow's own settings or the file's.

use serde_yaml::{Mapping, Value};

use super::{
    escape, is_client_key, java_true, seconds, simple_class, split_list, strings, Importer,
    Interval, Outcome, Used, CONNECTOR_KEYS, GROUP_PROBES, REPLICA_EXCLUDE,
};
use crate::policy::{TopicFilter, TopicRules, DEFAULT_CONFIG_EXCLUDES, DEFAULT_GROUP_EXCLUDES};

impl Importer {
    /// The enabled flows, in the order their `enabled` lines appear, and notes on MM2's
    /// heartbeat-only herders.
    pub(super) fn flows(&mut self) -> Vec<(String, String)> {
        let global_heartbeats = self
            .used("emit.heartbeats.enabled")
            .is_none_or(|u| java_true(&u.value));
        let global_enabled = self.used("enabled");
        let mut enabled: Vec<(usize, String, String)> = Vec::new();
        let mut heartbeat_only: Vec<String> = Vec::new();
        let aliases = self.aliases.clone();
        for s in &aliases {
            for t in &aliases {
                if s == t {
                    continue;
                }
                let flow = format!("{s}->{t}");
                let flow_enabled = self.used(&format!("{flow}.enabled"));
                let pair_enabled = flow_enabled.as_ref().is_some_and(|u| java_true(&u.value));
                let pair_heartbeats = self
                    .used(&format!("{flow}.emit.heartbeats.enabled"))
                    .map_or(global_heartbeats, |u| java_true(&u.value));
                let herder = pair_enabled || pair_heartbeats;
                // The connectors' own `enabled` (the flow's, else the file's): false unless set.
                let connector = flow_enabled.as_ref().or(global_enabled.as_ref());
                let on = herder
                    && connector.is_some_and(|u| u.value.trim().eq_ignore_ascii_case("true"));
                if on {
                    let line = flow_enabled
                        .as_ref()
                        .map_or(usize::MAX, |u| self.line(&u.key));
                    enabled.push((line, s.clone(), t.clone()));
                } else {
                    if herder && pair_heartbeats {
                        heartbeat_only.push(flow.clone());
                    }
                    if let Some(u) = &flow_enabled {
                        let v = u.value.trim();
                        if v.eq_ignore_ascii_case("false") || v.eq_ignore_ascii_case("true") {
                            let extra = if heartbeat_only.contains(&flow) {
                                format!(
                                    "; MM2 still runs a herder for {flow} that only writes \
                                     heartbeats into `{t}` (unless `{flow}.emit.heartbeats.enabled \
                                     = false`): strait does not (see the notes)"
                                )
                            } else {
                                String::new()
                            };
                            self.not_needed(
                                &u.key,
                                format!(
                                    "flow {flow} is off (MM2's default too), so no mirror{extra}"
                                ),
                            );
                        } else {
                            self.not_mapped(
                                &u.key,
                                "not a boolean (true or false); MM2 would not start the flow's \
                                 connectors",
                                "write true or false",
                            );
                        }
                    }
                }
            }
        }
        if let Some(g) = &global_enabled {
            if !self.decided(&g.key) && enabled.is_empty() {
                self.not_needed(&g.key, "no flow is enabled by it");
            }
        }
        if !heartbeat_only.is_empty() {
            self.notes.push(format!(
                "MM2 runs a herder for every pair of clusters whose heartbeats are not turned off, \
                 also where the flow is not enabled; the herders of {} only write heartbeats \
                 into their target's `heartbeats` topic (which then replicates onward, e.g. as \
                 `<alias>.heartbeats`). strait writes heartbeats only for the mirrors it runs: \
                 if monitoring relies on those heartbeats, add a mirror for the flow or change \
                 the monitoring (`<source>-><target>.emit.heartbeats.enabled = false` turns the \
                 herder off in MM2)",
                heartbeat_only.join(", ")
            ));
        }
        if enabled.is_empty() && !aliases.is_empty() {
            self.notes.push(
                "no flow is enabled (`A->B.enabled = true`): no mirror was written, and strait \
                 needs at least one"
                    .to_owned(),
            );
        }
        enabled.sort_by_key(|a| a.0);
        enabled.into_iter().map(|(_, s, t)| (s, t)).collect()
    }

    /// A connector key of flow `flow`: the flow's own, else the file's.
    fn flow_key(&self, flow: &str, key: &str) -> Option<Used> {
        self.used(&format!("{flow}.{key}"))
            .or_else(|| self.used(key))
    }

    fn boolean(&mut self, used: &Used) -> Option<bool> {
        let v = used.value.trim();
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            self.not_mapped(
                &used.key,
                if v.contains("${") {
                    "a config-provider reference; strait needs the value itself here"
                } else {
                    "not a boolean (true or false); MM2 would refuse the connector config"
                },
                "write true or false",
            );
            None
        }
    }

    fn number(&mut self, used: &Used) -> Option<i64> {
        match used.value.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.not_mapped(
                    &used.key,
                    "not a whole number; MM2 would refuse the connector config",
                    "write a whole number",
                );
                None
            }
        }
    }

    fn interval(&mut self, used: &Used) -> Interval {
        match self.number(used) {
            Some(n) if n > 0 => Interval::Every(seconds(n as u64)),
            Some(n) if n < 0 => Interval::Off,
            Some(_) => {
                self.not_mapped(
                    &used.key,
                    "an interval of 0 seconds, which strait does not take",
                    "write a positive number of seconds",
                );
                Interval::Invalid
            }
            None => Interval::Invalid,
        }
    }

    pub(super) fn mirror(&mut self, i: usize, s: &str, t: &str) -> Mapping {
        let flow = format!("{s}->{t}");
        let path = format!("mirrors[{i}]");
        let mut m = Mapping::new();
        m.insert("source".into(), s.into());
        m.insert("target".into(), t.into());
        if let Some(u) = self.used(&format!("{flow}.enabled")) {
            self.mapped(&u.key, &path, format!("flow {flow} is a mirror"));
        } else if let Some(u) = self.used("enabled") {
            self.mapped(
                &u.key,
                &path,
                format!("`enabled` for every flow turns on {flow} (MM2 runs a herder for it)"),
            );
        }
        if self.rules == TopicRules::Mm2_3_9 {
            m.insert("topic_rules".into(), TopicRules::Mm2_3_9.as_str().into());
        }
        self.topic_filters(&flow, &path, &mut m);
        self.policy(&flow, &path, s, t, &mut m);
        self.replication_factors(&flow, &path, &mut m);
        self.features(&flow, &path, &mut m);
        self.offset_syncs(&flow, &path, &mut m);
        self.delivery(t, &path, &mut m);
        self.take_over(s, t, &path, &mut m);
        self.other_connector_keys(&flow);
        // Client settings per flow.
        for key in self.keys() {
            let Some(rest) = key.strip_prefix(&format!("{flow}.")) else {
                continue;
            };
            if self.decided(&key) || CONNECTOR_KEYS.contains(&rest) {
                continue;
            }
            if ["consumer.", "producer.", "admin.", "source.", "target."]
                .iter()
                .any(|p| rest.starts_with(p))
            {
                self.not_mapped(
                    &key,
                    "strait has no per-mirror client settings",
                    format!(
                        "set it under the cluster's `consumer`, `producer` or `admin` section \
                         (`clusters.{s}` or `clusters.{t}`) if it should apply to all of that \
                         cluster's clients"
                    ),
                );
            } else if is_client_key(rest) {
                self.not_mapped(
                    &key,
                    "strait sets connection and security per cluster, not per mirror",
                    format!("set it for the cluster (`clusters.{s}.security`)"),
                );
            }
        }
        m
    }

    /// Regexes strait can use, and why the others cannot be.
    fn patterns(&mut self, list: Vec<String>) -> (Vec<String>, Vec<String>) {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for p in list {
            // As strait reads it: `$${` is a literal `${`.
            let resolved = p.replace("$${", "${");
            match TopicFilter::new(&[resolved], &[]) {
                Ok(_) => ok.push(p),
                Err(errors) => bad.push(format!(
                    "`{p}` is not a Rust regex ({}; Java's look-around, back-references and \
                     possessive quantifiers have no equivalent)",
                    errors.first().map(|e| e.reason()).unwrap_or_default()
                )),
            }
        }
        (ok, bad)
    }

    fn list(&mut self, used: &Used) -> Option<Vec<String>> {
        let text = self.plain(used)?;
        Some(split_list(&text))
    }

    fn topic_filters(&mut self, flow: &str, path: &str, m: &mut Mapping) {
        // Includes.
        for (mm2, strait) in [("topics", "topics"), ("groups", "groups")] {
            let Some(u) = self.flow_key(flow, mm2) else {
                continue;
            };
            let Some(list) = self.list(&u) else { continue };
            let (ok, bad) = self.patterns(list);
            let to = format!("{path}.{strait}");
            m.insert(strait.into(), strings(&ok));
            if bad.is_empty() {
                self.mapped(&u.key, to, "");
            } else {
                self.partly(
                    &u.key,
                    to,
                    format!("left out: {} (strait would replicate less)", bad.join("; ")),
                    "rewrite those patterns in Rust regex syntax",
                );
            }
        }
        // Excludes: MM2's replace its defaults; strait's add to its built-ins. Each built-in
        // comes with a name it excludes, to find out whether the file's list excludes it too.
        let topic_builtins: Vec<&str> = self.rules.default_topic_excludes().to_vec();
        let config_probes: Vec<(&str, String)> = DEFAULT_CONFIG_EXCLUDES
            .iter()
            .map(|p| (*p, p.replace("\\.", ".")))
            .collect();
        let group_probes: Vec<(&str, String)> = GROUP_PROBES
            .iter()
            .map(|(p, n)| (*p, n.to_string()))
            .collect();
        let topic_probes = vec![(REPLICA_EXCLUDE.0, REPLICA_EXCLUDE.1.to_owned())];
        let specs = [
            ExcludeSpec {
                key: "topics.exclude",
                alias_key: "topics.blacklist",
                strait: "topics_exclude",
                builtins: &topic_builtins,
                probes: &topic_probes,
                what: "topics",
            },
            ExcludeSpec {
                key: "groups.exclude",
                alias_key: "groups.blacklist",
                strait: "groups_exclude",
                builtins: &DEFAULT_GROUP_EXCLUDES,
                probes: &group_probes,
                what: "groups",
            },
            ExcludeSpec {
                key: "config.properties.exclude",
                alias_key: "config.properties.blacklist",
                strait: "topic_configs_exclude",
                builtins: &DEFAULT_CONFIG_EXCLUDES,
                probes: &config_probes,
                what: "topic configs",
            },
        ];
        for ExcludeSpec {
            key,
            alias_key,
            strait,
            builtins,
            probes,
            what,
        } in specs
        {
            let current = self.flow_key(flow, key);
            let deprecated = self.flow_key(flow, alias_key);
            let used = match (&current, &deprecated) {
                (Some(c), Some(d)) => {
                    self.not_needed(
                        &d.key,
                        format!("`{}` is set as well, and MM2 uses that one", c.key),
                    );
                    c.clone()
                }
                (Some(c), None) => c.clone(),
                (None, Some(d)) => {
                    if self.rules == TopicRules::Mm2_4_0 {
                        self.not_mapped(
                            &d.key,
                            format!(
                                "Kafka 4.0 removed `{alias_key}` (KAFKA-17529) and ignores it, so \
                                 MM2 4.0 would not apply these excludes; neither does this import \
                                 (MM2 4.0 rules)"
                            ),
                            format!(
                                "if the excludes are meant, rename the key to `{key}` (or import \
                                 with --mm2-version 3.9)"
                            ),
                        );
                        continue;
                    }
                    d.clone()
                }
                (None, None) => continue,
            };
            let Some(list) = self.list(&used) else {
                continue;
            };
            let (ok, bad) = self.patterns(list.clone());
            let extra: Vec<String> = ok
                .iter()
                .filter(|p| !builtins.contains(&p.as_str()))
                .cloned()
                .collect();
            let to = format!("{path}.{strait}");
            if !extra.is_empty() {
                m.insert(strait.into(), strings(&extra));
            }
            let mut differences = Vec::new();
            if !bad.is_empty() {
                differences.push(format!(
                    "left out: {} — strait would replicate what these excluded",
                    bad.join("; ")
                ));
            }
            let resolved: Vec<String> = ok.iter().map(|p| p.replace("$${", "${")).collect();
            let excludes = TopicFilter::new(&[".*".to_owned()], &resolved).ok();
            let missing: Vec<&str> = probes
                .iter()
                .filter(|(_, name)| excludes.as_ref().is_none_or(|f| f.matches(name)))
                .map(|(pattern, _)| *pattern)
                .collect();
            if !missing.is_empty() {
                let listed = missing
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                differences.push(format!(
                    "this list replaces MM2's default excludes, so MM2 would include {what} \
                     matching {listed}; strait always excludes them (built in) and cannot \
                     include them"
                ));
            }
            let reason = if extra.len() < ok.len() {
                "strait adds its built-in excludes (MM2's defaults) itself; only the others are written"
            } else {
                ""
            };
            let to_written = if extra.is_empty() {
                Vec::new()
            } else {
                vec![to.clone()]
            };
            if differences.is_empty() {
                if to_written.is_empty() {
                    self.not_needed(
                        &used.key,
                        format!("the list is strait's built-in {what} excludes, which strait always applies"),
                    );
                } else {
                    self.decide(&used.key, Outcome::Mapped, &to_written, reason, None);
                }
            } else {
                let mut all = differences;
                if !reason.is_empty() {
                    all.push(reason.to_owned());
                }
                self.decide(
                    &used.key,
                    Outcome::NotMapped,
                    &to_written,
                    all.join("; "),
                    Some(
                        "check that no topic or group you need falls under the difference; \
                         rewrite left-out patterns in Rust regex syntax"
                            .to_owned(),
                    ),
                );
            }
        }
    }

    fn policy(&mut self, flow: &str, path: &str, s: &str, t: &str, m: &mut Mapping) {
        let mut p = Mapping::new();
        let to = format!("{path}.replication_policy");
        let mut identity = false;
        if let Some(u) = self.flow_key(flow, "replication.policy.class") {
            let class = u.value.trim().to_owned();
            let simple = simple_class(&class);
            let package = class.strip_suffix(simple).unwrap_or_default();
            let mm2 = package.is_empty() || package == "org.apache.kafka.connect.mirror.";
            match simple {
                "DefaultReplicationPolicy" if mm2 => {
                    p.insert("kind".into(), "default".into());
                    self.mapped(&u.key, format!("{to}.kind"), "");
                }
                "IdentityReplicationPolicy"
                    if mm2 || package == "io.strimzi.kafka.connect.mirror." =>
                {
                    identity = true;
                    p.insert("kind".into(), "identity".into());
                    let strimzi = if mm2 {
                        ""
                    } else {
                        " (Strimzi's class, which names topics as Kafka's does)"
                    };
                    self.mapped(
                        &u.key,
                        format!("{to}.kind"),
                        format!(
                            "remote topics keep their names{strimzi}; unlike MM2, strait stops \
                             records going round in circles with its provenance header \
                             (`provenance_header: auto`)"
                        ),
                    );
                }
                _ => self.not_mapped(
                    &u.key,
                    format!(
                        "replication policy `{class}` is custom code strait cannot run; the \
                         mirror uses the default policy (`{s}.<topic>` on {t})"
                    ),
                    format!(
                        "find out how the class names remote topics; strait offers `default` (with \
                         a separator) and `identity` (`{to}.kind`)"
                    ),
                ),
            }
        }
        let separator = self.flow_key(flow, "replication.policy.separator");
        if let Some(u) = &separator {
            let sep = u.value.trim().to_owned();
            if sep.is_empty() {
                self.not_mapped(&u.key, "an empty separator", "leave it out (\".\")");
            } else {
                p.insert("separator".into(), escape(&sep).into());
                let note = if identity {
                    "identity names data topics without it; heartbeat and internal topic names use it"
                } else {
                    ""
                };
                self.mapped(&u.key, format!("{to}.separator"), note);
            }
        }
        if let Some(u) = self.flow_key(flow, "replication.policy.internal.topic.separator.enabled")
        {
            if let Some(enabled) = self.boolean(&u) {
                let custom = separator
                    .as_ref()
                    .is_some_and(|s| s.value.trim() != "." && !s.value.trim().is_empty());
                if enabled || !custom {
                    self.not_needed(
                        &u.key,
                        "strait names internal topics with the separator, as MM2 does with this \
                         key true (its default)",
                    );
                } else {
                    self.not_mapped(
                        &u.key,
                        "with this false MM2 names its internal topics with `.` \
                         (`<alias>.checkpoints.internal`) whatever the separator; strait always \
                         uses the separator there",
                        "consumers of the checkpoints (RemoteClusterUtils) must read the topic \
                         name strait writes, `<alias><separator>checkpoints<separator>internal`",
                    );
                }
            }
        }
        if !p.is_empty() {
            m.insert("replication_policy".into(), Value::Mapping(p));
        }
    }

    fn replication_factors(&mut self, flow: &str, path: &str, m: &mut Mapping) {
        let to = format!("{path}.replication_factor");
        let mut rf: Option<i64> = None;
        if let Some(u) = self.flow_key(flow, "replication.factor") {
            match self.number(&u) {
                Some(n) if (1..=i64::from(i16::MAX)).contains(&n) => {
                    rf = Some(n);
                    m.insert("replication_factor".into(), n.into());
                    self.mapped(
                        &u.key,
                        &to,
                        "strait creates its own internal topics with it too",
                    );
                }
                Some(-1) => self.not_mapped(
                    &u.key,
                    "-1 (the broker's default.replication.factor): strait's default is min(3, \
                     number of target brokers) instead",
                    format!("set `{to}` to the factor the brokers would use"),
                ),
                Some(_) => {
                    self.not_mapped(&u.key, "not a replication factor", format!("set `{to}`"))
                }
                None => {}
            }
        } else {
            self.notes_once(
                "replication_factor",
                "`replication.factor` is not set: MM2 creates remote topics with 2 replicas, \
                 strait with min(3, number of target brokers); set `replication_factor: 2` to \
                 keep MM2's",
            );
        }
        for key in [
            "heartbeats.topic.replication.factor",
            "checkpoints.topic.replication.factor",
            "offset-syncs.topic.replication.factor",
        ] {
            let Some(u) = self.flow_key(flow, key) else {
                continue;
            };
            let Some(n) = self.number(&u) else { continue };
            if Some(n) == rf {
                self.mapped(
                    &u.key,
                    &to,
                    "strait creates its internal topics with the mirror's replication_factor, \
                     the same number",
                );
            } else if rf.is_none() && n == 3 {
                self.not_needed(
                    &u.key,
                    "MM2's default; strait creates internal topics with min(3, number of \
                     target brokers) replicas",
                );
            } else {
                self.not_mapped(
                    &u.key,
                    format!(
                        "strait creates its internal topics with the mirror's replication factor \
                         ({}), not a factor of their own",
                        rf.map_or("min(3, number of target brokers)".to_owned(), |r| r
                            .to_string())
                    ),
                    format!("set `{to}` if this factor should apply to every topic strait creates"),
                );
            }
        }
    }

    fn notes_once(&mut self, tag: &'static str, note: &str) {
        if self.noted.insert(tag) {
            self.notes.push(note.to_owned());
        }
    }

    fn features(&mut self, flow: &str, path: &str, m: &mut Mapping) {
        struct Feature {
            mm2: &'static str,
            /// strait's key for on/off, and its values for on and off.
            key: Option<(&'static str, Value, Value)>,
            interval: &'static str,
            mm2_default: bool,
        }
        let features = [
            Feature {
                mm2: "emit.heartbeats",
                key: Some(("emit_heartbeats", true.into(), false.into())),
                interval: "emit_heartbeats_interval",
                mm2_default: true,
            },
            Feature {
                mm2: "emit.checkpoints",
                key: Some(("emit_checkpoints", true.into(), false.into())),
                interval: "emit_checkpoints_interval",
                mm2_default: true,
            },
            Feature {
                mm2: "sync.group.offsets",
                key: Some(("sync_group_offsets", true.into(), false.into())),
                interval: "sync_group_offsets_interval",
                mm2_default: false,
            },
            Feature {
                mm2: "sync.topic.configs",
                key: Some(("sync_topic_configs", "enforce".into(), "off".into())),
                interval: "sync_topic_configs_interval",
                mm2_default: true,
            },
            Feature {
                mm2: "sync.topic.acls",
                key: Some(("sync_topic_acls", "enforce".into(), "off".into())),
                interval: "sync_topic_acls_interval",
                mm2_default: true,
            },
            Feature {
                mm2: "refresh.topics",
                key: None,
                interval: "refresh_topics_interval",
                mm2_default: true,
            },
        ];
        let mut checkpoints_on = true;
        let mut defaulted = false;
        for f in features {
            let enabled_key = format!("{}.enabled", f.mm2);
            let interval_key = format!("{}.interval.seconds", f.mm2);
            let en = self.flow_key(flow, &enabled_key);
            let iv = self.flow_key(flow, &interval_key);
            let mut on = f.mm2_default;
            let mut explicit = false;
            if let Some(u) = &en {
                match self.boolean(u) {
                    Some(b) => {
                        on = b;
                        explicit = true;
                    }
                    None => continue,
                }
            }
            let mut every = None;
            let mut off_by_interval = false;
            if let Some(u) = &iv {
                if !on {
                    self.not_needed(&u.key, format!("`{enabled_key}` is false"));
                } else {
                    match self.interval(u) {
                        Interval::Every(d) => every = Some(d),
                        Interval::Off => off_by_interval = true,
                        Interval::Invalid => {}
                    }
                }
            }
            let effective = on && !off_by_interval;
            let sync_without_checkpoints =
                f.mm2 == "sync.group.offsets" && effective && !checkpoints_on;
            match &f.key {
                Some((key, yes, no)) => {
                    let to = format!("{path}.{key}");
                    let value = if effective && !sync_without_checkpoints {
                        yes
                    } else {
                        no
                    };
                    if explicit || off_by_interval || f.mm2 == "sync.group.offsets" {
                        m.insert((*key).into(), value.clone());
                    }
                    if let Some(u) = &en {
                        if sync_without_checkpoints {
                            self.mapped(
                                &u.key,
                                &to,
                                "written false: MM2 syncs group offsets in its checkpoint tasks, \
                                 which emit.checkpoints.enabled=false turns off",
                            );
                        } else {
                            self.mapped(&u.key, &to, "");
                        }
                    } else if f.mm2 == "sync.group.offsets" {
                        self.notes_once(
                            "sync_group_offsets",
                            "`sync.group.offsets.enabled` is not set: MM2's default is false, so \
                             `sync_group_offsets: false` was written (strait's own default is true: \
                             translated offsets committed to the target's groups for failover)",
                        );
                    }
                    if off_by_interval {
                        let u = iv.as_ref().expect("interval set");
                        self.mapped(&u.key, &to, "a negative interval turns it off in MM2");
                    }
                }
                None => {
                    if !on {
                        let u = en.as_ref().expect("enabled set");
                        self.not_mapped(
                            &u.key,
                            "strait always looks for new topics and partitions",
                            format!("set a long `{path}.{}` instead", f.interval),
                        );
                    } else if let Some(u) = &en {
                        self.not_needed(
                            &u.key,
                            "strait always looks for new topics and partitions",
                        );
                    }
                    if off_by_interval {
                        let u = iv.as_ref().expect("interval set");
                        self.not_mapped(
                            &u.key,
                            "a negative interval turns topic discovery off in MM2; strait always \
                             looks for new topics and partitions",
                            format!("set a long `{path}.{}` instead", f.interval),
                        );
                    }
                }
            }
            if iv.is_none() && effective {
                defaulted = true;
            }
            if let (Some(d), Some(u)) = (every, &iv) {
                let to = format!("{path}.{}", f.interval);
                m.insert(f.interval.into(), d.into());
                self.mapped(&u.key, to, "");
            }
            if f.mm2 == "emit.checkpoints" {
                checkpoints_on = effective;
            }
        }
        if defaulted {
            self.notes_once(
                "intervals",
                "intervals the file does not set take strait's defaults, which are shorter than \
             MM2's: checkpoints and group offset sync 5s (MM2 60s), topic refresh 10s (600s), \
             topic config and ACL sync 30s (600s)",
            );
        }
        for key in ["refresh.groups.enabled", "refresh.groups.interval.seconds"] {
            if let Some(u) = self.flow_key(flow, key) {
                self.not_needed(
                    &u.key,
                    "strait lists the source's groups at every checkpoint round \
                     (`emit_checkpoints_interval`)",
                );
            }
        }
    }

    fn offset_syncs(&mut self, flow: &str, path: &str, m: &mut Mapping) {
        if let Some(u) = self.flow_key(flow, "emit.offset-syncs.enabled") {
            if let Some(b) = self.boolean(&u) {
                m.insert("emit_offset_syncs".into(), b.into());
                self.mapped(&u.key, format!("{path}.emit_offset_syncs"), "");
            }
        }
        let to = format!("{path}.offset_syncs_location");
        match self.flow_key(flow, "offset-syncs.topic.location") {
            Some(u) => match u.value.trim() {
                v @ ("source" | "target") => {
                    m.insert("offset_syncs_location".into(), v.into());
                    self.mapped(&u.key, to, "");
                }
                _ => {
                    self.not_mapped(
                        &u.key,
                        "neither `source` nor `target`; MM2 would refuse it",
                        format!("set `{to}`"),
                    );
                }
            },
            None => {
                m.insert("offset_syncs_location".into(), "source".into());
                self.notes_once(
                    "offset_syncs_location",
                    "`offset-syncs.topic.location` is not set: MM2 keeps offset syncs on the \
                     source, so `offset_syncs_location: source` was written (strait's own \
                     default, `target`, keeps the source read-only)",
                );
            }
        }
    }

    fn delivery(&mut self, target: &str, path: &str, m: &mut Mapping) {
        let Some(u) = self.used(&format!("{target}.exactly.once.source.support")) else {
            return;
        };
        match u.value.trim().to_ascii_lowercase().as_str() {
            "enabled" => {
                m.insert("delivery".into(), "exactly_once".into());
                self.mapped(
                    &u.key,
                    format!("{path}.delivery"),
                    "exactly-once into this cluster; strait reads the source read_committed \
                     itself",
                );
            }
            "preparing" | "disabled" => self.not_needed(
                &u.key,
                "exactly-once is not on yet in MM2; strait's mirrors stay at-least-once (its \
                 default)",
            ),
            _ => self.not_mapped(
                &u.key,
                "neither enabled, preparing nor disabled",
                format!("set `{path}.delivery`"),
            ),
        }
    }

    /// Where MM2's Connect worker of this flow stored its positions, for `take_over_mm2`: the
    /// file's `offset.storage.topic` (MM2 applies it to every worker, last), else the target's,
    /// else the dedicated-mode default `mm2-offsets.<source>.internal` (which needs no key).
    fn take_over(&mut self, s: &str, t: &str, path: &str, m: &mut Mapping) {
        self.notes_once(
            "take_over_mm2",
            "to go on from MM2's stored positions instead of copying every partition again, set \
             `take_over_mm2: { enabled: true }` on each mirror once MM2 is stopped \
             (docs/migrating-from-mm2.md)",
        );
        let used = self
            .used("offset.storage.topic")
            .or_else(|| self.used(&format!("{t}.offset.storage.topic")));
        let Some(used) = used else { return };
        let Some(topic) = self.plain(&used) else {
            return;
        };
        let mut take_over = Mapping::new();
        take_over.insert("enabled".into(), false.into());
        take_over.insert("offsets_topic".into(), topic.into());
        m.insert("take_over_mm2".into(), Value::Mapping(take_over));
        self.mapped(
            &used.key,
            format!("{path}.take_over_mm2.offsets_topic"),
            format!(
                "where MM2 stored the positions of {s}->{t}; set `take_over_mm2.enabled: true` \
                 when strait replaces MM2"
            ),
        );
    }

    /// Connector keys without a strait key of their own.
    fn other_connector_keys(&mut self, flow: &str) {
        for key in CONNECTOR_KEYS {
            let Some(u) = self.flow_key(flow, key) else {
                continue;
            };
            let v = u.value.trim().to_owned();
            let default_class = |expected: &str| simple_class(&v) == expected;
            match *key {
                "tasks.max" => self.not_needed(
                    &u.key,
                    "strait copies every partition of a mirror concurrently; to share a mirror \
                     between processes, see `deployment`",
                ),
                "offset.lag.max" => self.not_needed(
                    &u.key,
                    "strait translates offsets exactly with its offset maps, and writes an offset \
                     sync where the mapping changes and for the last copied record about every \
                     second",
                ),
                "consumer.poll.timeout.ms" | "admin.timeout.ms" => {
                    self.not_needed(&u.key, "a timeout of MM2's own loops; strait has its own")
                }
                "heartbeats.replication.enabled" => {
                    if v.eq_ignore_ascii_case("false") {
                        self.not_mapped(
                            &u.key,
                            "strait always replicates heartbeat topics (MM2's default)",
                            "add the heartbeat topics to `topics_exclude` if they must not be \
                             replicated",
                        );
                    } else {
                        self.not_needed(&u.key, "strait always replicates heartbeat topics");
                    }
                }
                "topic.filter.class" | "group.filter.class" | "config.property.filter.class" => {
                    let expected = match *key {
                        "topic.filter.class" => "DefaultTopicFilter",
                        "group.filter.class" => "DefaultGroupFilter",
                        _ => "DefaultConfigPropertyFilter",
                    };
                    if default_class(expected) {
                        self.not_needed(
                            &u.key,
                            "MM2's default filter, which strait's filters follow",
                        );
                    } else {
                        self.not_mapped(
                            &u.key,
                            format!("custom filter `{v}` is code strait cannot run"),
                            "express it as include and exclude regexes",
                        );
                    }
                }
                "use.defaults.from" => {
                    if v == "target" {
                        self.not_needed(
                            &u.key,
                            "strait resets a remote topic's override of a config the source \
                             leaves at its default, as MM2 does with `target`",
                        );
                    } else {
                        self.not_mapped(
                            &u.key,
                            "strait never copies the source's default config values",
                            "nothing to set",
                        );
                    }
                }
                "forwarding.admin.class" => {
                    if default_class("ForwardingAdmin") {
                        self.not_needed(&u.key, "MM2's default admin");
                    } else {
                        self.not_mapped(
                            &u.key,
                            format!("custom admin `{v}` is code strait cannot run"),
                            "create remote topics the way the class did, before strait does",
                        );
                    }
                }
                "metric.reporters" => self.not_needed(
                    &u.key,
                    "strait exposes Prometheus metrics at `/metrics` (docs/metrics.md)",
                ),
                "exactly.once.support"
                | "transaction.boundary"
                | "transaction.boundary.interval.ms" => self.not_needed(
                    &u.key,
                    "exactly-once comes from the target's `<alias>.exactly.once.source.support` \
                         (`mirrors[].delivery`); strait commits a transaction every \
                         `transaction_interval`",
                ),
                "use.incremental.alter.configs" => {
                    if v.eq_ignore_ascii_case("never") {
                        self.not_mapped(
                            &u.key,
                            "strait always changes topic configs with IncrementalAlterConfigs",
                            "use brokers that support it (Kafka 2.3+)",
                        );
                    } else {
                        self.not_needed(
                            &u.key,
                            "strait always changes topic configs with IncrementalAlterConfigs",
                        );
                    }
                }
                "add.source.alias.to.metrics" => self.not_needed(
                    &u.key,
                    "strait's metrics always carry the mirror's source and target",
                ),
                "transforms" | "predicates" => self.not_mapped(
                    &u.key,
                    "strait applies no Connect transforms: records are copied as they are",
                    "drop the transforms, or run them in a consumer of the target",
                ),
                k if k.starts_with("errors.") => self.not_needed(
                    &u.key,
                    "Connect's error handling of converters and transforms",
                ),
                _ => {}
            }
        }
    }
}

/// One MM2 exclude list (with its pre-4.0 alias) and strait's key for it.
struct ExcludeSpec<'a> {
    key: &'static str,
    alias_key: &'static str,
    strait: &'static str,
    /// strait's built-in excludes for the list (MM2's defaults).
    builtins: &'a [&'a str],
    /// Built-ins that matter, each with a name it excludes.
    probes: &'a [(&'a str, String)],
    /// What the list filters, for messages.
    what: &'static str,
}
