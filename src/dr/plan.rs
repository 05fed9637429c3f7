//! The plan of a failover or failback as it is shown, serialized to JSON and journaled: the
//! preflight checks, and per group and partition the offset to commit on the target and what
//! applying does with it. Data only; [`decide`](super::decide) computes it, the
//! [`journal`](super::journal) stores it, [`failover`](super::failover) applies it.
//!
//! The JSON field names and values are an interface (scripts read `--output json`; journals
//! written by earlier versions are read back): old spellings stay readable through aliases.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::translate::{OffsetSource, PartitionOffset};

/// Which operator command made the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    /// Groups leave a cluster for its backup.
    Failover,
    /// Groups return to the old primary once it is back.
    Failback,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Failover => "failover",
            Command::Failback => "failback",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// pass / warn / fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    /// As the preflight table prints it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// The preflight checks, in the order they are made. Journals written before the names were
/// kebab-case spelled them with spaces; the aliases read those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckName {
    /// The target answered.
    #[serde(alias = "target reachable")]
    TargetReachable,
    /// The source answered, or was declared lost.
    Source,
    /// Age of the last heartbeat of the mirror `from->to` on the target.
    Heartbeats,
    /// Checkpoint records that did not decode.
    #[serde(alias = "checkpoints readable")]
    CheckpointsReadable,
    /// Groups with offsets to translate.
    Groups,
    /// Records the groups have not read that are not on the target yet.
    #[serde(alias = "replication lag")]
    ReplicationLag,
    /// With the source lost: how old the checkpoints are.
    #[serde(alias = "checkpoint age")]
    CheckpointAge,
    /// Records past the last stable offset (open transactions) of the groups' partitions, on
    /// the source and on the target.
    OpenTransactions,
}

impl CheckName {
    /// The name as JSON, the preflight table and the runbook spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::TargetReachable => "target-reachable",
            CheckName::Source => "source",
            CheckName::Heartbeats => "heartbeats",
            CheckName::CheckpointsReadable => "checkpoints-readable",
            CheckName::Groups => "groups",
            CheckName::ReplicationLag => "replication-lag",
            CheckName::CheckpointAge => "checkpoint-age",
            CheckName::OpenTransactions => "open-transactions",
        }
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: CheckName,
    pub status: Status,
    pub detail: String,
}

impl Check {
    pub fn new(name: CheckName, status: Status, detail: impl Into<String>) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
        }
    }
}

/// What applying does to one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Commit `to_offset`.
    Set,
    /// The target group is already at or past `to_offset`: left as is (never moved backwards).
    Keep,
    /// No translation: nothing is committed; the consumer starts by its `auto.offset.reset`.
    None,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Set => "set",
            Action::Keep => "keep",
            Action::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionPlan {
    #[serde(flatten)]
    pub offset: PartitionOffset,
    /// The group's committed offset on the target now.
    pub current_to_offset: Option<i64>,
    pub action: Action,
    /// Replay or loss to expect, in plain words.
    pub expect: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPlan {
    pub group: String,
    /// Records on `from` past the group's position that are not on `to` yet (live mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_lag: Option<i64>,
    pub partitions: Vec<PartitionPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub command: Command,
    pub from: String,
    pub to: String,
    pub created_ms: i64,
    /// Where the groups' positions on `from` come from.
    pub source: OffsetSource,
    pub checks: Vec<Check>,
    pub groups: Vec<GroupPlan>,
}

impl Plan {
    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dr::translate::Exactness;

    fn plan() -> Plan {
        Plan {
            command: Command::Failback,
            from: "B".into(),
            to: "A".into(),
            created_ms: 7,
            source: OffsetSource::Live,
            checks: vec![Check::new(
                CheckName::TargetReachable,
                Status::Pass,
                "A answered",
            )],
            groups: vec![GroupPlan {
                group: "g".into(),
                replication_lag: Some(0),
                partitions: vec![PartitionPlan {
                    offset: PartitionOffset {
                        from_topic: "t".into(),
                        partition: 0,
                        from_offset: 3,
                        to_topic: "B.t".into(),
                        to_offset: None,
                        exactness: Exactness::NoData,
                        detail: "nothing copied".into(),
                        checkpoint_age_ms: None,
                        copied_to: Some(0),
                    },
                    current_to_offset: None,
                    action: Action::None,
                    expect: String::new(),
                }],
            }],
        }
    }

    #[test]
    fn json_keeps_its_field_names_with_one_spelling_per_value() {
        let json = serde_json::to_value(plan()).unwrap();
        assert_eq!(json["command"], "failback");
        assert_eq!(json["source"], "live");
        assert_eq!(json["checks"][0]["name"], "target-reachable");
        assert_eq!(json["checks"][0]["status"], "pass");
        let p = &json["groups"][0]["partitions"][0];
        assert_eq!(p["exactness"], "no-data");
        assert_eq!(p["action"], "none");
        assert_eq!(p["from_topic"], "t");
        assert_eq!(p["to_offset"], serde_json::Value::Null);
        assert_eq!(json["groups"][0]["replication_lag"], 0);
        let back: Plan = serde_json::from_value(json).unwrap();
        assert_eq!(back, plan());
    }

    #[test]
    fn check_names_print_as_they_serialize() {
        for name in [
            CheckName::TargetReachable,
            CheckName::Source,
            CheckName::Heartbeats,
            CheckName::CheckpointsReadable,
            CheckName::Groups,
            CheckName::ReplicationLag,
            CheckName::CheckpointAge,
            CheckName::OpenTransactions,
        ] {
            assert_eq!(serde_json::to_value(name).unwrap(), name.as_str());
        }
        for command in [Command::Failover, Command::Failback] {
            assert_eq!(serde_json::to_value(command).unwrap(), command.as_str());
        }
    }

    #[test]
    fn plans_journaled_with_the_old_spellings_still_load() {
        let old = r#"{"command":"failover","from":"A","to":"B","created_ms":1,"source":"checkpoints",
            "checks":[{"name":"target reachable","status":"pass","detail":""},
                      {"name":"checkpoints readable","status":"warn","detail":""},
                      {"name":"replication lag","status":"warn","detail":""},
                      {"name":"checkpoint age","status":"pass","detail":""},
                      {"name":"heartbeats","status":"pass","detail":""}],
            "groups":[{"group":"g","partitions":[
                {"from_topic":"t","partition":0,"from_offset":5,"to_topic":"A.t","to_offset":null,
                 "exactness":"no_data","detail":"","current_to_offset":null,"action":"none","expect":""},
                {"from_topic":"t","partition":1,"from_offset":5,"to_topic":"A.t","to_offset":4,
                 "exactness":"behind_replication","detail":"","current_to_offset":null,"action":"set","expect":""}]}]}"#;
        let plan: Plan = serde_json::from_str(old).unwrap();
        assert_eq!(plan.command, Command::Failover);
        assert_eq!(plan.source, OffsetSource::Checkpoints);
        let names: Vec<CheckName> = plan.checks.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                CheckName::TargetReachable,
                CheckName::CheckpointsReadable,
                CheckName::ReplicationLag,
                CheckName::CheckpointAge,
                CheckName::Heartbeats
            ]
        );
        let exactness: Vec<Exactness> = plan.groups[0]
            .partitions
            .iter()
            .map(|p| p.offset.exactness)
            .collect();
        assert_eq!(exactness, [Exactness::NoData, Exactness::BehindReplication]);
    }
}
