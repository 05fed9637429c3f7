//! What changed between the running configuration and the file read again (SIGHUP): mirrors
//! added and removed, each kept mirror's changed settings split into those its running tasks
//! take on the fly and those it restarts for, clusters whose settings differ, and the settings
//! that apply only when strait starts again.

use super::{Config, MirrorConfig};

/// The differences between two valid configurations.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// Mirrors only in the new configuration.
    pub added: Vec<MirrorConfig>,
    /// Mirrors (by name) only in the running one.
    pub removed: Vec<String>,
    /// Mirrors in both whose settings differ.
    pub changed: Vec<MirrorChange>,
    /// Clusters new or with other settings (their mirrors reconnect).
    pub clusters: Vec<String>,
    /// Keys that differ but apply only at the next start of strait (the running value stays).
    pub at_next_start: Vec<&'static str>,
}

/// One kept mirror's changed settings, by key.
#[derive(Debug, PartialEq)]
pub struct MirrorChange {
    pub config: MirrorConfig,
    /// Taken by the running mirror without a pause.
    pub live: Vec<&'static str>,
    /// The mirror stops (positions stored) and starts again on them to apply these.
    pub restart: Vec<&'static str>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.clusters.is_empty()
            && self.at_next_start.is_empty()
    }
}

/// The keys of a mirror that its running tasks follow: topic sync re-plans the routes at once
/// (a topic no longer replicated stops at its copied position, one newly included starts), the
/// record thread swaps its throttle, and the singleton duties (heartbeats, checkpoints, group
/// offset sync, config and ACL sync) start a new term with the new settings.
pub const LIVE_KEYS: &[&str] = &[
    "topics",
    "topic_rules",
    "groups",
    "refresh_topics_interval",
    "watch_topics_interval",
    "replication_factor",
    "throttle",
    "emit_heartbeats",
    "emit_heartbeats_interval",
    "emit_checkpoints_interval",
    "sync_group_offsets",
    "sync_group_offsets_interval",
    "sync_topic_configs",
    "sync_topic_configs_interval",
    "topic_configs_exclude",
    "sync_topic_acls",
    "sync_topic_acls_interval",
    "canary",
];

/// The keys of `old` and `new` (the same mirror) that differ, by their YAML names.
fn differing(old: &MirrorConfig, new: &MirrorConfig) -> Vec<&'static str> {
    let mut keys = Vec::new();
    macro_rules! compare {
        ($($field:ident => $key:literal),* $(,)?) => {
            $(if old.$field != new.$field { keys.push($key); })*
        };
    }
    compare!(
        topics => "topics",
        topic_rules => "topic_rules",
        groups => "groups",
        replication_policy => "replication_policy",
        replication_factor => "replication_factor",
        refresh_topics_interval => "refresh_topics_interval",
        watch_topics_interval => "watch_topics_interval",
        throttle => "throttle",
        emit_heartbeats => "emit_heartbeats",
        emit_heartbeats_interval => "emit_heartbeats_interval",
        emit_checkpoints => "emit_checkpoints",
        emit_checkpoints_interval => "emit_checkpoints_interval",
        sync_group_offsets => "sync_group_offsets",
        sync_group_offsets_interval => "sync_group_offsets_interval",
        emit_offset_syncs => "emit_offset_syncs",
        offset_syncs_location => "offset_syncs_location",
        provenance_header => "provenance_header",
        stamp_provenance => "provenance (another mirror's change)",
        sync_topic_configs => "sync_topic_configs",
        sync_topic_configs_interval => "sync_topic_configs_interval",
        topic_configs => "topic_configs_exclude",
        sync_topic_acls => "sync_topic_acls",
        sync_topic_acls_interval => "sync_topic_acls_interval",
        on_data_gap => "on_data_gap",
        offset_map_memory => "offset_map_memory",
        delivery => "delivery",
        transaction_interval => "transaction_interval",
        transaction_timeout => "transaction_timeout",
        canary => "canary",
        take_over_mm2 => "take_over_mm2",
    );
    if keys.is_empty() && old != new {
        // A field the list above does not know yet: restart, the safe way to apply it.
        keys.push("other settings");
    }
    keys
}

/// How a kept mirror's settings changed; `None` when they did not.
pub fn mirror_change(old: &MirrorConfig, new: &MirrorConfig) -> Option<MirrorChange> {
    let keys = differing(old, new);
    if keys.is_empty() {
        return None;
    }
    let (live, restart) = keys.into_iter().partition(|k| LIVE_KEYS.contains(k));
    Some(MirrorChange {
        config: new.clone(),
        live,
        restart,
    })
}

impl Config {
    /// What applying `new` to a strait running `self` changes.
    pub fn changes_to(&self, new: &Config) -> Changes {
        let mut changes = Changes::default();
        for m in &new.mirrors {
            match self.mirrors.iter().find(|o| o.name() == m.name()) {
                None => changes.added.push(m.clone()),
                Some(old) => changes.changed.extend(mirror_change(old, m)),
            }
        }
        changes.removed = self
            .mirrors
            .iter()
            .map(MirrorConfig::name)
            .filter(|name| !new.mirrors.iter().any(|m| m.name() == *name))
            .collect();
        changes.clusters = new
            .clusters
            .iter()
            .filter(|(alias, c)| self.clusters.get(*alias) != Some(c))
            .map(|(alias, _)| alias.clone())
            .collect();
        if self.http != new.http {
            changes.at_next_start.push("http");
        }
        if self.deployment != new.deployment {
            changes.at_next_start.push("deployment");
        }
        if self.shutdown_timeout != new.shutdown_timeout {
            changes.at_next_start.push("shutdown_timeout");
        }
        if self.secret_files_check_interval != new.secret_files_check_interval {
            changes.at_next_start.push("secret_files_check_interval");
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use crate::config::from_str;

    const BASE: &str = "
clusters:
  A: { bootstrap_servers: 'a:9092' }
  B: { bootstrap_servers: 'b:9092' }
mirrors:
  - { source: A, target: B, topics: ['orders.*'] }
";

    fn changes(before: &str, after: &str) -> super::Changes {
        let old = from_str(before, "old").expect("old");
        let new = from_str(after, "new").expect("new");
        old.changes_to(&new)
    }

    #[test]
    fn the_same_file_changes_nothing() {
        assert!(changes(BASE, BASE).is_empty());
    }

    #[test]
    fn filters_intervals_and_throttles_are_live_and_delivery_restarts() {
        let after = "
clusters:
  A: { bootstrap_servers: 'a:9092' }
  B: { bootstrap_servers: 'b:9092' }
mirrors:
  - source: A
    target: B
    topics: ['orders.*', 'payments']
    throttle: { records_per_second: 100 }
    emit_heartbeats_interval: 2s
    delivery: exactly_once
";
        let c = changes(BASE, after);
        assert_eq!(c.changed.len(), 1);
        let m = &c.changed[0];
        assert_eq!(m.live, ["topics", "throttle", "emit_heartbeats_interval"]);
        assert_eq!(m.restart, ["delivery"]);
        assert!(c.added.is_empty() && c.removed.is_empty() && c.clusters.is_empty());
    }

    #[test]
    fn mirrors_added_and_removed_and_a_cluster_changed_are_named() {
        let after = "
clusters:
  A: { bootstrap_servers: 'a:9093' }
  B: { bootstrap_servers: 'b:9092' }
mirrors:
  - { source: B, target: A }
http: { listen: '127.0.0.1:9999' }
";
        let c = changes(BASE, after);
        assert_eq!(
            c.added.iter().map(|m| m.name()).collect::<Vec<_>>(),
            ["B->A"]
        );
        assert_eq!(c.removed, ["A->B"]);
        assert_eq!(c.clusters, ["A"]);
        assert_eq!(c.at_next_start, ["http"]);
    }

    #[test]
    fn a_reverse_mirror_added_leaves_the_running_one_untouched() {
        let after = "
clusters:
  A: { bootstrap_servers: 'a:9092' }
  B: { bootstrap_servers: 'b:9092' }
mirrors:
  - { source: A, target: B, topics: ['orders.*'] }
  - { source: B, target: A }
";
        let c = changes(BASE, after);
        assert_eq!(c.added.len(), 1);
        assert!(c.changed.is_empty(), "{:?}", c.changed);
    }

    #[test]
    fn the_canary_is_live() {
        let after = "
clusters:
  A: { bootstrap_servers: 'a:9092' }
  B: { bootstrap_servers: 'b:9092' }
mirrors:
  - { source: A, target: B, topics: ['orders.*'], canary: { enabled: true } }
";
        let c = changes(BASE, after);
        assert_eq!(c.changed[0].live, ["canary"]);
        assert!(c.changed[0].restart.is_empty());
    }
}
