//! What `/healthz` and `/readyz` judge: per mirror, whether its record path runs, how far it
//! lags, whether its source answers, and when its loop last turned (a loop that stops turning is
//! wedged).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use serde::Serialize;

/// One mirror's health, updated lock-free by its pipelines.
#[derive(Debug)]
pub struct MirrorHealth {
    pub up: AtomicBool,
    pub lag_records: AtomicI64,
    pub source_reachable: AtomicBool,
    pub target_reachable: AtomicBool,
    /// When the record loop last turned (ms since the epoch); 0 before it started.
    pub last_tick_ms: AtomicI64,
}

static MIRRORS: LazyLock<Mutex<BTreeMap<String, Arc<MirrorHealth>>>> =
    LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// A record loop that has not turned for this long is wedged.
pub const WEDGED_AFTER_MS: i64 = 60_000;

/// The health handle of `mirror` (created on first use).
pub fn mirror(mirror: &str) -> Arc<MirrorHealth> {
    let mut all = MIRRORS.lock().expect("health lock");
    Arc::clone(all.entry(mirror.to_string()).or_insert_with(|| {
        Arc::new(MirrorHealth {
            up: AtomicBool::new(false),
            lag_records: AtomicI64::new(0),
            source_reachable: AtomicBool::new(true),
            target_reachable: AtomicBool::new(true),
            last_tick_ms: AtomicI64::new(0),
        })
    }))
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl MirrorHealth {
    pub fn tick(&self) {
        self.last_tick_ms.store(now_ms(), Ordering::Relaxed);
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
    let all = MIRRORS.lock().expect("health lock");
    all.iter()
        .map(|(name, h)| {
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
            } else if lag > max_lag as i64 {
                format!("lag {lag} records > ready_max_lag_records {max_lag}")
            } else {
                "ok".to_string()
            };
            MirrorVerdict {
                mirror: name.clone(),
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
