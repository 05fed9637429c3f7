//! Disaster recovery: what `strait status`, `translate`, `failover` and `failback` read and do.
//!
//! - [`read`]: checkpoints, heartbeats (strait's or MirrorMaker 2's) and strait's progress topic;
//! - [`translate`]: a group's position on one cluster, translated to another;
//! - [`failover`]: preflight checks, the per-group plan, and applying it with a [`journal`] so
//!   that a re-run after an interruption finishes the same plan;
//! - [`status`]: per mirror, whether it replicates, lag, heartbeat and checkpoint ages.
//!
//! Everything here is blocking (the commands are one-shot CLI runs).

pub mod failover;
pub mod journal;
pub mod read;
pub mod status;
pub mod translate;

/// What can go wrong in these commands, each mapped to an exit code by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum DrError {
    /// The command line names something the configuration does not have.
    #[error("{0}")]
    Usage(String),
    #[error("cannot create a client for cluster `{cluster}`: {detail}")]
    Client { cluster: String, detail: String },
    #[error("cluster `{cluster}` is unreachable: {detail}")]
    Unreachable { cluster: String, detail: String },
    #[error("cannot read from cluster `{cluster}`: {detail}")]
    Read { cluster: String, detail: String },
    #[error("journal {path}: {detail}")]
    Journal { path: String, detail: String },
}

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
