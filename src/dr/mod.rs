//! Disaster recovery: what `strait status`, `translate`, `failover` and `failback` read and do.
//!
//! - [`read`]: checkpoints, heartbeats (strait's or MirrorMaker 2's) and strait's progress topic;
//! - [`translate`]: a group's position on one cluster, translated to another;
//! - [`plan`]: the plan of a failover or failback (checks, groups, partitions), as journaled;
//! - [`decide`]: the preflight checks and the plan computed from gathered facts, without I/O;
//! - [`failover`]: gathering those facts, and applying a plan with a [`journal`] so that a
//!   re-run after an interruption finishes the same plan;
//! - [`status`]: per mirror, whether it replicates, lag, heartbeat and checkpoint ages;
//! - [`error`]: what can go wrong, with its cause, and whether a cluster did not answer.
//!
//! Everything here is blocking (the commands are one-shot CLI runs).

pub mod compare;
pub mod decide;
pub mod error;
pub mod failover;
pub mod journal;
pub mod plan;
pub mod read;
pub mod status;
pub mod translate;
pub mod verify;

pub use error::DrError;

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `1m05s`, `3.2s`, `850ms`.
pub fn human_ms(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}
