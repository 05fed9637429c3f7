//! What this process knows about each of its mirrors, kept up to date by their telemetry events:
//! whether the record path runs, how far it lags, whether the clusters answer, when its loop last
//! turned (a loop that stops turning is wedged), and the positions, heartbeat and checkpoints
//! that `/status` shows. `/healthz`, `/readyz` and `/status` judge from this alone; they never
//! contact a cluster.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use serde::Serialize;

use crate::dr::status::PartitionStatus;

/// One replicated partition as the record loop last saw it: what `/status` shows of it
/// (`progress_age_ms` is filled in when asked), and when its position last moved (ms since the
/// epoch; 0: not in this run).
#[derive(Debug, Clone)]
pub struct PartitionSnapshot {
    pub status: PartitionStatus,
    pub moved_ms: i64,
}

/// One mirror's state, updated by its pipelines.
#[derive(Debug)]
pub struct MirrorHealth {
    pub mirror: String,
    pub source: String,
    pub target: String,
    pub up: AtomicBool,
    pub lag_records: AtomicI64,
    pub source_reachable: AtomicBool,
    pub target_reachable: AtomicBool,
    /// When the record loop last turned (ms since the epoch); 0 before it started.
    pub last_tick_ms: AtomicI64,
    /// Since when the record loop waits for room in the target producer's queue (ms since the
    /// epoch); 0: not waiting.
    pub waiting_since_ms: AtomicI64,
    /// When the last heartbeat was written (ms since the epoch); 0: none yet.
    pub last_heartbeat_ms: AtomicI64,
    pub partitions: Mutex<Vec<PartitionSnapshot>>,
    /// Group -> (when its checkpoints were last current, ms since the epoch; partitions).
    pub groups: Mutex<BTreeMap<String, (i64, usize)>>,
    /// This instance's share of the mirror, when several instances share it (`deployment`).
    pub sharing: Mutex<Option<SharingState>>,
}

/// This instance's share of a mirror that several instances share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharingState {
    pub deployment: String,
    pub instance: String,
    /// The consumer group of the instances, on the mirror's target.
    pub group: String,
    /// The mirror's shards (partitions of its coordination topic).
    pub shards: u32,
    /// The shards this instance owns.
    pub owned: std::collections::BTreeSet<u32>,
    /// This instance runs the mirror's singleton duties (topic creation, config and ACL sync,
    /// checkpoints, group offset sync, heartbeats).
    pub duties: bool,
}

static MIRRORS: LazyLock<Mutex<BTreeMap<String, Arc<MirrorHealth>>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// A record loop that has not turned for this long is wedged.
pub const WEDGED_AFTER_MS: i64 = 60_000;
/// A record loop that has waited this long for room in the target producer's queue makes its
/// mirror not ready (the target does not take records: down, unreachable or refusing).
pub const WAITING_NOT_READY_MS: i64 = 5_000;

/// The state of `mirror` (`source->target`), created on first use.
pub fn register(mirror: &str, source: &str, target: &str) -> Arc<MirrorHealth> {
    let mut all = MIRRORS.lock().expect("health lock");
    Arc::clone(all.entry(mirror.to_string()).or_insert_with(|| {
        Arc::new(MirrorHealth {
            mirror: mirror.to_string(),
            source: source.to_string(),
            target: target.to_string(),
            up: AtomicBool::new(false),
            lag_records: AtomicI64::new(0),
            source_reachable: AtomicBool::new(true),
            target_reachable: AtomicBool::new(true),
            last_tick_ms: AtomicI64::new(0),
            waiting_since_ms: AtomicI64::new(0),
            last_heartbeat_ms: AtomicI64::new(0),
            partitions: Mutex::new(Vec::new()),
            groups: Mutex::new(BTreeMap::new()),
            sharing: Mutex::new(None),
        })
    }))
}

/// Forgets `mirror` (removed from the config): /readyz and /status no longer count it.
pub fn unregister(mirror: &str) {
    MIRRORS.lock().expect("health lock").remove(mirror);
}

/// Every registered mirror, by name.
pub fn all() -> Vec<Arc<MirrorHealth>> {
    MIRRORS
        .lock()
        .expect("health lock")
        .values()
        .cloned()
        .collect()
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl MirrorHealth {
    pub fn tick(&self) {
        self.last_tick_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// How long the record loop has waited for the target to take records, if it waits (ms).
    pub fn waiting_ms(&self, now: i64) -> Option<i64> {
        let since = self.waiting_since_ms.load(Ordering::Relaxed);
        (since > 0).then(|| now - since)
    }
}

/// The verdict for one mirror.
#[derive(Debug, Clone, Serialize)]
pub struct MirrorVerdict {
    pub mirror: String,
    pub up: bool,
    pub wedged: bool,
    pub lag_records: i64,
    pub source_reachable: bool,
    pub target_reachable: bool,
    pub ready: bool,
    pub reason: String,
}

/// Judges every mirror against `max_lag` records.
pub fn verdicts(max_lag: u64) -> Vec<MirrorVerdict> {
    let now = now_ms();
    all()
        .iter()
        .map(|h| {
            let up = h.up.load(Ordering::Relaxed);
            let tick = h.last_tick_ms.load(Ordering::Relaxed);
            let wedged = up && tick > 0 && now - tick > WEDGED_AFTER_MS;
            let lag = h.lag_records.load(Ordering::Relaxed);
            let reachable = h.source_reachable.load(Ordering::Relaxed);
            let target = h.target_reachable.load(Ordering::Relaxed);
            let reason = if !up {
                "record path not running (starting, or restarting after a failure)".to_string()
            } else if wedged {
                format!("record loop has not turned for {} s", (now - tick) / 1000)
            } else if !reachable {
                "source cluster unreachable".to_string()
            } else if !target {
                "target cluster unreachable".to_string()
            } else if let Some(w) = h.waiting_ms(now).filter(|w| *w >= WAITING_NOT_READY_MS) {
                format!(
                    "target has not taken records for {} s (waiting; nothing is dropped)",
                    w / 1000
                )
            } else if lag > max_lag as i64 {
                format!("lag {lag} records > ready_max_lag_records {max_lag}")
            } else {
                "ok".to_string()
            };
            MirrorVerdict {
                mirror: h.mirror.clone(),
                up,
                wedged,
                lag_records: lag,
                source_reachable: reachable,
                target_reachable: target,
                ready: reason == "ok",
                reason,
            }
        })
        .collect()
}
