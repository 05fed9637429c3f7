//! `/status`: what `strait status` shows for the mirrors this process runs, from its own state
//! (the record loops' positions and lag, the last heartbeat written, each group's last
//! checkpoint). Unlike the CLI command it contacts no cluster, so it answers at once and can be
//! polled.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::health::{self, now_ms, MirrorHealth, WAITING_NOT_READY_MS, WEDGED_AFTER_MS};
use crate::config::Config;
use crate::dr::human_ms;
use crate::dr::status::{
    GroupStatus, InstanceStatus, MirrorStatus, PartitionStatus, SharingStatus, State,
};

/// Progress younger than this counts as moving (as in `strait status`).
const MOVING_WITHIN: Duration = Duration::from_secs(30);

/// Every configured mirror, in configuration order.
pub fn mirrors(config: &Config) -> Vec<MirrorStatus> {
    let known = health::all();
    config
        .mirrors
        .iter()
        .map(|m| {
            let name = m.name();
            match known.iter().find(|h| h.mirror == name) {
                Some(h) => mirror(h, now_ms()),
                None => MirrorStatus {
                    mirror: name,
                    source: m.source.clone(),
                    target: m.target.clone(),
                    state: State::Down,
                    detail: "not started yet".into(),
                    heartbeat_age_ms: None,
                    lag_records: None,
                    lag_seconds: None,
                    partitions: Vec::new(),
                    groups: Vec::new(),
                    sharing: None,
                },
            }
        })
        .collect()
}

/// One mirror's status at `now` (ms since the epoch).
pub fn mirror(h: &MirrorHealth, now: i64) -> MirrorStatus {
    let snapshot = h.partitions.lock().expect("status lock").clone();
    let mut partitions: Vec<PartitionStatus> = snapshot
        .iter()
        .map(|p| PartitionStatus {
            progress_age_ms: (p.moved_ms > 0).then(|| (now - p.moved_ms).max(0)),
            ..p.status.clone()
        })
        .collect();
    let groups = h
        .groups
        .lock()
        .expect("status lock")
        .iter()
        .map(|(group, &(at, partitions))| GroupStatus {
            group: group.clone(),
            checkpoint_age_ms: (now - at).max(0),
            partitions,
        })
        .collect();
    let heartbeat = h.last_heartbeat_ms.load(Ordering::Relaxed);
    let lag: i64 = partitions.iter().filter_map(|p| p.lag_records).sum();
    let lag_seconds = partitions
        .iter()
        .filter_map(|p| p.lag_seconds)
        .fold(None, |acc: Option<f64>, s| {
            Some(acc.map_or(s, |a| a.max(s)))
        });
    let tick = h.last_tick_ms.load(Ordering::Relaxed);
    let newest_move = snapshot.iter().map(|p| p.moved_ms).max().unwrap_or(0);
    let (state, detail) = if !h.up.load(Ordering::Relaxed) {
        (
            State::Down,
            "record path not running (starting, or restarting after a failure)".to_string(),
        )
    } else if tick > 0 && now - tick > WEDGED_AFTER_MS {
        (
            State::Stalled,
            format!("record loop has not turned for {}", human_ms(now - tick)),
        )
    } else if !h.source_reachable.load(Ordering::Relaxed) {
        (
            State::SourceUnreachable,
            format!("{} does not answer; heartbeats paused", h.source),
        )
    } else if !h.target_reachable.load(Ordering::Relaxed) {
        (
            State::TargetUnreachable,
            format!("{} does not answer", h.target),
        )
    } else if let Some(w) = h.waiting_ms(now).filter(|w| *w >= WAITING_NOT_READY_MS) {
        (
            State::TargetUnreachable,
            format!(
                "{} has not taken records for {}; waiting, nothing is dropped",
                h.target,
                human_ms(w)
            ),
        )
    } else if lag > 0 && now - newest_move > MOVING_WITHIN.as_millis() as i64 {
        (
            State::Stalled,
            format!(
                "{lag} records behind and no progress for {}",
                if newest_move > 0 {
                    human_ms(now - newest_move)
                } else {
                    "this whole run".to_string()
                }
            ),
        )
    } else if lag > 0 {
        (
            State::Replicating,
            format!("catching up: {lag} records behind"),
        )
    } else {
        (State::Replicating, "caught up".to_string())
    };
    MirrorStatus {
        mirror: h.mirror.clone(),
        source: h.source.clone(),
        target: h.target.clone(),
        state,
        detail,
        heartbeat_age_ms: (heartbeat > 0).then(|| (now - heartbeat).max(0)),
        lag_records: Some(lag),
        lag_seconds,
        sharing: sharing(h, &mut partitions),
        partitions,
        groups,
    }
}

/// This instance's share of the mirror, when several share it: its own line (the others are
/// in their own `/status`, all of them in `strait status`).
fn sharing(h: &MirrorHealth, partitions: &mut [PartitionStatus]) -> Option<SharingStatus> {
    let state = h.sharing.lock().expect("status lock").clone()?;
    for p in partitions.iter_mut() {
        p.instance = Some(state.instance.clone());
    }
    let owned: Vec<u32> = state.owned.iter().copied().collect();
    Some(SharingStatus {
        deployment: state.deployment,
        group: state.group,
        shards: state.shards,
        instances: vec![InstanceStatus {
            instance: state.instance,
            host: String::new(),
            shards: crate::mirror::shards::ranges(&owned),
            partitions: partitions.len(),
            duties: state.duties,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::health::PartitionSnapshot;

    fn snapshot(copied_to: i64, end: i64, moved_ms: i64) -> PartitionSnapshot {
        PartitionSnapshot {
            status: PartitionStatus {
                topic: "orders".into(),
                partition: 0,
                remote_topic: "S1.orders".into(),
                copied_to,
                source_end: Some(end),
                lag_records: Some(end - copied_to),
                lag_seconds: Some(if end > copied_to { 3.0 } else { 0.0 }),
                progress_age_ms: None,
                stopped: None,
                instance: None,
            },
            moved_ms,
        }
    }

    #[test]
    fn state_follows_what_the_pipelines_reported() {
        let h = health::register("S1->T1", "S1", "T1");
        let now = 1_000_000_000;
        let st = mirror(&h, now);
        assert_eq!(st.state, State::Down);

        h.up.store(true, Ordering::Relaxed);
        h.last_tick_ms.store(now - 10, Ordering::Relaxed);
        h.last_heartbeat_ms.store(now - 1500, Ordering::Relaxed);
        *h.partitions.lock().unwrap() = vec![snapshot(10, 10, now - 100)];
        h.groups.lock().unwrap().insert("g".into(), (now - 2000, 1));
        let st = mirror(&h, now);
        assert_eq!(
            (st.state, st.detail.as_str()),
            (State::Replicating, "caught up")
        );
        assert_eq!(st.heartbeat_age_ms, Some(1500));
        assert_eq!(st.partitions[0].copied_to, 10);
        assert_eq!(st.partitions[0].progress_age_ms, Some(100));
        assert_eq!(st.groups[0].checkpoint_age_ms, 2000);

        *h.partitions.lock().unwrap() = vec![snapshot(10, 25, now - 100)];
        let st = mirror(&h, now);
        assert_eq!(st.state, State::Replicating);
        assert_eq!(st.lag_records, Some(15));
        assert_eq!(st.detail, "catching up: 15 records behind");

        *h.partitions.lock().unwrap() = vec![snapshot(10, 25, now - 31_000)];
        assert_eq!(mirror(&h, now).state, State::Stalled);

        h.source_reachable.store(false, Ordering::Relaxed);
        assert_eq!(mirror(&h, now).state, State::SourceUnreachable);
        h.source_reachable.store(true, Ordering::Relaxed);
        h.target_reachable.store(false, Ordering::Relaxed);
        assert_eq!(mirror(&h, now).state, State::TargetUnreachable);

        h.last_tick_ms.store(now - 61_000, Ordering::Relaxed);
        assert_eq!(mirror(&h, now).state, State::Stalled);
    }
}
