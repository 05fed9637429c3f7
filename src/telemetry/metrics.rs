//! Prometheus metrics (docs/metrics.md lists each with its meaning). One process-wide registry;
//! the pipelines hold handles to their own series and remove per-partition series when a
//! partition stops being replicated here, so label sets stay bounded.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use prometheus::core::Collector;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Seconds buckets for replication and checkpoint latency: 1 ms .. ~2 min.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// (topic, partition) -> end offset.
type EndOffsets = HashMap<(String, i32), i64>;

pub struct Metrics {
    registry: Registry,
    pub records_replicated: IntCounterVec,
    pub bytes_replicated: IntCounterVec,
    pub record_age: GaugeVec,
    pub lag_records: IntGaugeVec,
    pub lag_seconds: GaugeVec,
    pub replication_latency: HistogramVec,
    pub data_gaps: IntCounterVec,
    pub topic_recreated: IntCounterVec,
    pub permission_missing: IntGaugeVec,
    pub partitions_stopped: IntGaugeVec,
    pub throttle_wait: prometheus::CounterVec,
    pub loop_skipped: IntCounterVec,
    pub produce_errors: IntCounterVec,
    pub fetch_errors: IntCounterVec,
    pub mirror_up: IntGaugeVec,
    pub mirror_restarts: IntCounterVec,
    pub partitions_assigned: IntGaugeVec,
    pub source_reachable: IntGaugeVec,
    pub heartbeats: IntCounterVec,
    pub heartbeat_last: GaugeVec,
    pub checkpoints: IntCounterVec,
    pub checkpoint_latency: HistogramVec,
    pub checkpoint_last: GaugeVec,
    pub checkpoint_age: GaugeVec,
    pub failover_replay: IntGaugeVec,
    pub checkpoint_untranslatable: IntGaugeVec,
    pub offset_map_runs: IntGaugeVec,
    pub offset_map_bytes: IntGaugeVec,
    pub offset_map_runs_dropped: IntCounterVec,
    pub group_sync_skipped: IntGaugeVec,
    pub client_queue_messages: IntGaugeVec,
    pub client_queue_bytes: IntGaugeVec,
    pub client_broker_rtt: GaugeVec,
    pub build_info: IntGaugeVec,
    pub remote_topic_drift: IntGaugeVec,
    pub remote_topic_changes: IntCounterVec,
    pub internal_records_rejected: IntCounterVec,
    pub ready: IntGauge,
    pub http_connections_refused: IntCounter,
    pub offset_syncs_failed: IntCounterVec,
    pub target_log_resets: IntCounterVec,
    pub secret_file_reloads: IntCounterVec,
    pub config_reloads: IntCounterVec,
    pub canary_sent: IntCounterVec,
    pub canary_arrived: IntCounterVec,
    pub canary_late: IntGaugeVec,
    pub canary_lost: IntCounterVec,
    pub canary_send_failed: IntCounterVec,
    pub canary_latency: HistogramVec,
    pub canary_last_arrival: GaugeVec,
    pub config_reload_errors: IntGauge,
    pub config_reload_last_success: prometheus::Gauge,
    pub config_restart_pending: IntGauge,
    pub shards_owned: IntGaugeVec,
    pub singleton_duties: IntGaugeVec,
    pub shard_handovers: IntCounterVec,
    pub transactions: IntCounterVec,
    pub transaction_records_aborted: IntCounterVec,
    pub transaction_seconds: HistogramVec,
    /// Source end offsets (last stable offset) per (topic, partition) from the record
    /// consumers' librdkafka statistics, keyed by client name.
    source_ends: Mutex<HashMap<String, EndOffsets>>,
}

fn reg<C: Collector + Clone + 'static>(r: &Registry, c: C) -> C {
    r.register(Box::new(c.clone()))
        .expect("metric names are unique");
    c
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        let part = &["mirror", "topic", "partition"];
        let mirror = &["mirror"];
        let group = &["mirror", "group"];
        let m = Metrics {
            records_replicated: reg(&r, IntCounterVec::new(Opts::new("strait_records_replicated_total", "Records acknowledged by the target"), part).unwrap()),
            bytes_replicated: reg(&r, IntCounterVec::new(Opts::new("strait_bytes_replicated_total", "Key and value bytes of the records acknowledged by the target"), part).unwrap()),
            record_age: reg(&r, GaugeVec::new(Opts::new("strait_record_age_seconds", "Wall clock minus the source timestamp of the last record fetched"), part).unwrap()),
            lag_records: reg(&r, IntGaugeVec::new(Opts::new("strait_replication_lag_records", "Source end offset minus the first source offset not yet acknowledged by the target"), part).unwrap()),
            lag_seconds: reg(&r, GaugeVec::new(Opts::new("strait_replication_lag_seconds", "Age of the oldest source record not yet acknowledged by the target; with nothing in flight an upper bound, the age of the last acknowledged record (0 when caught up)"), part).unwrap()),
            replication_latency: reg(&r, HistogramVec::new(HistogramOpts::new("strait_replication_latency_seconds", "Acknowledgement time minus the source record timestamp").buckets(LATENCY_BUCKETS.to_vec()), mirror).unwrap()),
            data_gaps: reg(&r, IntCounterVec::new(Opts::new("strait_data_gap_offsets_total", "Source offsets that could not be copied, by reason and source partition"), &["mirror", "reason", "topic", "partition"]).unwrap()),
            permission_missing: reg(&r, IntGaugeVec::new(Opts::new("strait_permission_missing", "1 while strait's principal lacks a permission a feature of the mirror needs (the log names the principal, operation, resource and cluster, and how to grant it); the series goes once it is granted"), &["mirror", "cluster", "operation", "resource_type", "resource"]).unwrap()),
            topic_recreated: reg(&r, IntCounterVec::new(Opts::new("strait_topic_recreated_total", "Times a source topic was found deleted and created again under its name (its topic id changed); its new log is copied from its first offset"), &["mirror", "topic"]).unwrap()),
            partitions_stopped: reg(&r, IntGaugeVec::new(Opts::new("strait_partitions_stopped", "Source partitions stopped until strait restarts: a record the target refuses for good, or a data gap with on_data_gap: stop (/status says which and why)"), mirror).unwrap()),
            throttle_wait: reg(&r, prometheus::CounterVec::new(Opts::new("strait_throttle_wait_seconds_total", "Time the record path waited for the throttle"), mirror).unwrap()),
            loop_skipped: reg(&r, IntCounterVec::new(Opts::new("strait_loop_records_skipped_total", "Records not copied because their provenance header lists the target cluster (they would loop)"), mirror).unwrap()),
            produce_errors: reg(&r, IntCounterVec::new(Opts::new("strait_produce_errors_total", "Failed deliveries to the target by error code (retried unless permanent)"), &["mirror", "code"]).unwrap()),
            fetch_errors: reg(&r, IntCounterVec::new(Opts::new("strait_fetch_errors_total", "Source consumer errors by error code (retried)"), &["mirror", "code"]).unwrap()),
            mirror_up: reg(&r, IntGaugeVec::new(Opts::new("strait_mirror_up", "1 while the mirror's record path runs, 0 while it starts or restarts after a failure"), mirror).unwrap()),
            mirror_restarts: reg(&r, IntCounterVec::new(Opts::new("strait_mirror_restarts_total", "Times a task of the mirror failed or panicked and the mirror was restarted"), mirror).unwrap()),
            partitions_assigned: reg(&r, IntGaugeVec::new(Opts::new("strait_partitions_assigned", "Source partitions the mirror replicates"), mirror).unwrap()),
            source_reachable: reg(&r, IntGaugeVec::new(Opts::new("strait_source_reachable", "1 if the source answered the last heartbeat probe"), mirror).unwrap()),
            heartbeats: reg(&r, IntCounterVec::new(Opts::new("strait_heartbeats_total", "Heartbeats written to the target"), mirror).unwrap()),
            heartbeat_last: reg(&r, GaugeVec::new(Opts::new("strait_heartbeat_last_timestamp_seconds", "Unix time of the last heartbeat written"), mirror).unwrap()),
            checkpoints: reg(&r, IntCounterVec::new(Opts::new("strait_checkpoints_total", "Checkpoint records written"), mirror).unwrap()),
            checkpoint_latency: reg(&r, HistogramVec::new(HistogramOpts::new("strait_checkpoint_latency_seconds", "From the start of a checkpoint round to the checkpoint's acknowledgement").buckets(LATENCY_BUCKETS.to_vec()), mirror).unwrap()),
            checkpoint_last: reg(&r, GaugeVec::new(Opts::new("strait_checkpoint_last_timestamp_seconds", "Unix time the group's checkpoints were last current: every partition of the group checkpointed at its committed offset's translation (written, or already there)"), group).unwrap()),
            checkpoint_age: reg(&r, GaugeVec::new(Opts::new("strait_checkpoint_age_seconds", "Seconds since the group's checkpoints were last current (grows while a committed offset cannot be translated)"), group).unwrap()),
            failover_replay: reg(&r, IntGaugeVec::new(Opts::new("strait_failover_replay_records", "Records the group committed on the source since its previous checkpoint: what a failover from checkpoints would replay"), group).unwrap()),
            checkpoint_untranslatable: reg(&r, IntGaugeVec::new(Opts::new("strait_checkpoint_untranslatable_partitions", "Partitions of the group whose committed offset is older than the offset map: no checkpoint for them, and the group's checkpoint age grows"), group).unwrap()),
            offset_map_runs: reg(&r, IntGaugeVec::new(Opts::new("strait_offset_map_runs", "Runs in the mirror's offset maps (one per gap in the source offsets, e.g. per transaction)"), mirror).unwrap()),
            offset_map_bytes: reg(&r, IntGaugeVec::new(Opts::new("strait_offset_map_bytes", "Heap bytes of the mirror's offset maps, held to offset_map_memory"), mirror).unwrap()),
            offset_map_runs_dropped: reg(&r, IntCounterVec::new(Opts::new("strait_offset_map_runs_dropped_total", "Offset map runs dropped for lack of room although a group might need them, by reason (memory: offset_map_memory; record_size: more than a progress record holds)"), &["mirror", "reason"]).unwrap()),
            group_sync_skipped: reg(&r, IntGaugeVec::new(Opts::new("strait_group_offset_sync_skipped", "1 while group offset sync skips the group because it has active members on the target"), group).unwrap()),
            client_queue_messages: reg(&r, IntGaugeVec::new(Opts::new("strait_client_queue_messages", "Messages waiting in the librdkafka producer's queues (0 for consumers)"), &["client"]).unwrap()),
            client_queue_bytes: reg(&r, IntGaugeVec::new(Opts::new("strait_client_queue_bytes", "Bytes waiting in the librdkafka producer's queues (0 for consumers)"), &["client"]).unwrap()),
            client_broker_rtt: reg(&r, GaugeVec::new(Opts::new("strait_client_broker_rtt_seconds", "Average request round-trip time to the broker"), &["client", "broker"]).unwrap()),
            build_info: reg(&r, IntGaugeVec::new(Opts::new("strait_build_info", "strait's version"), &["version"]).unwrap()),
            remote_topic_drift: reg(&r, IntGaugeVec::new(Opts::new("strait_remote_topic_drift", "Differences between source topics and their remote topics found by the last sync round, by kind (config entries, missing ACLs, topics with more partitions on the target); left after enforcing"), &["mirror", "kind"]).unwrap()),
            remote_topic_changes: reg(&r, IntCounterVec::new(Opts::new("strait_remote_topic_changes_total", "Changes made to remote topics to match their source, by kind (config entries set or reset, ACLs created)"), &["mirror", "kind"]).unwrap()),
            internal_records_rejected: reg(&r, IntCounterVec::new(Opts::new("strait_internal_records_rejected_total", "Records of strait's and MM2's internal topics (progress, checkpoints, heartbeats) skipped when read because they do not decode or hold impossible values, by topic and reason"), &["topic", "reason"]).unwrap()),
            ready: reg(&r, IntGauge::new("strait_ready", "1 when /readyz answers 200").unwrap()),
            http_connections_refused: reg(&r, IntCounter::new("strait_http_connections_refused_total", "Connections to the HTTP endpoint closed as soon as accepted because http.max_connections were already open").unwrap()),
            offset_syncs_failed: reg(&r, IntCounterVec::new(Opts::new("strait_offset_syncs_failed_total", "MM2 offset syncs that could not be written (records are copied regardless)"), &["mirror"]).unwrap()),
            target_log_resets: reg(&r, IntCounterVec::new(Opts::new("strait_target_log_resets_total", "Times a remote partition's log on the target went back below what strait had written (remote topic deleted and re-created, or truncated): replicated records were lost on the target"), &["mirror", "topic"]).unwrap()),
            canary_sent: reg(&r, IntCounterVec::new(Opts::new("strait_canary_probes_sent_total", "Canary probes written to the canary topic on the source"), mirror).unwrap()),
            canary_arrived: reg(&r, IntCounterVec::new(Opts::new("strait_canary_probes_arrived_total", "Canary probes read back from the canary's remote topic on the target"), mirror).unwrap()),
            canary_late: reg(&r, IntGaugeVec::new(Opts::new("strait_canary_probes_late", "Canary probes sent more than canary.late_after ago and not yet on the target"), mirror).unwrap()),
            canary_lost: reg(&r, IntCounterVec::new(Opts::new("strait_canary_probes_lost_total", "Canary probes not on the target ten times canary.late_after after they were sent (then no longer waited for)"), mirror).unwrap()),
            canary_send_failed: reg(&r, IntCounterVec::new(Opts::new("strait_canary_send_failures_total", "Canary probes the source did not acknowledge"), mirror).unwrap()),
            canary_latency: reg(&r, HistogramVec::new(HistogramOpts::new("strait_canary_latency_seconds", "From a canary probe's write to the source until it was read on the target").buckets(LATENCY_BUCKETS.to_vec()), mirror).unwrap()),
            canary_last_arrival: reg(&r, GaugeVec::new(Opts::new("strait_canary_last_arrival_timestamp_seconds", "When the last canary probe was read on the target"), mirror).unwrap()),
            config_reloads: reg(&r, IntCounterVec::new(Opts::new("strait_config_reloads_total", "Times the config file was read again on SIGHUP, by result (applied: valid, its changes applied; unchanged: valid, nothing to apply; rejected: it does not validate, the running config stays)"), &["result"]).unwrap()),
            config_reload_errors: reg(&r, IntGauge::new("strait_config_reload_errors", "Problems found in the config file at the last SIGHUP (0 after a reload that applied: the running config is the file's)").unwrap()),
            config_reload_last_success: reg(&r, prometheus::Gauge::new("strait_config_reload_last_success_timestamp_seconds", "When the config file was last read and applied (the start counts)").unwrap()),
            config_restart_pending: reg(&r, IntGauge::new("strait_config_restart_pending", "1 when the config file read at the last SIGHUP changes settings that apply only at the next start of strait (http, deployment, shutdown_timeout, secret_files_check_interval)").unwrap()),
            secret_file_reloads: reg(&r, IntCounterVec::new(Opts::new("strait_secret_file_reloads_total", "Times a change in a file the config reads (a secret, certificate or key) was acted on, by result (applied: the config read again and the mirrors of changed clusters reconnecting; rejected: the config read again did not validate, the running settings stay)"), &["result"]).unwrap()),
            shards_owned: reg(&r, IntGaugeVec::new(Opts::new("strait_shards_owned", "Shards of the mirror this instance owns, when several instances share it (deployment); its source partitions are those of these shards"), mirror).unwrap()),
            singleton_duties: reg(&r, IntGaugeVec::new(Opts::new("strait_singleton_duties", "1 while this instance runs the mirror's singleton duties (topic creation, config and ACL sync, checkpoints, group offset sync, heartbeats): the owner of shard 0, or the only instance"), mirror).unwrap()),
            shard_handovers: reg(&r, IntCounterVec::new(Opts::new("strait_shard_handovers_total", "Shards this instance gained or let go, by kind (gained; released: after storing their positions; lost: the group had already given them to another instance, e.g. after a network cut longer than the session timeout)"), &["mirror", "kind"]).unwrap()),
            transactions: reg(&r, IntCounterVec::new(Opts::new("strait_transactions_total", "Exactly-once mirrors: transactions on the target by result (committed; aborted: a record or the commit failed, its records are copied again in the next one)"), &["mirror", "result"]).unwrap()),
            transaction_records_aborted: reg(&r, IntCounterVec::new(Opts::new("strait_transaction_aborted_records_total", "Exactly-once mirrors: records of aborted transactions, copied again (never seen by read_committed consumers; they are also in strait_records_replicated_total)"), mirror).unwrap()),
            transaction_seconds: reg(&r, HistogramVec::new(HistogramOpts::new("strait_transaction_seconds", "Exactly-once mirrors: time from a transaction's begin to its commit (what read_committed consumers of the target wait at most for a record, beyond its copy)").buckets(vec![0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]), mirror).unwrap()),
            source_ends: Mutex::new(HashMap::new()),
            registry: r,
        };
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        #[cfg(target_os = "linux")]
        {
            let pc = prometheus::process_collector::ProcessCollector::for_self();
            let _ = m.registry.register(Box::new(pc));
        }
        m
    }

    /// The text exposition of every metric, with ages computed now.
    pub fn render(&self) -> String {
        let now = now_seconds();
        for mf in self.checkpoint_last.collect() {
            for metric in mf.get_metric() {
                // By name: the exposition sorts labels, the vector's order is declaration order.
                let labels: HashMap<&str, &str> = metric
                    .get_label()
                    .iter()
                    .map(|l| (l.name(), l.value()))
                    .collect();
                self.checkpoint_age
                    .with(&labels)
                    .set((now - metric.get_gauge().value()).max(0.0));
            }
        }
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        String::from_utf8(buf).expect("UTF-8 exposition")
    }

    /// Forgets a partition's series (it is no longer replicated by this process).
    pub fn remove_partition(&self, mirror: &str, topic: &str, partition: i32) {
        let p = partition.to_string();
        let labels = [mirror, topic, p.as_str()];
        let _ = self.records_replicated.remove_label_values(&labels);
        let _ = self.bytes_replicated.remove_label_values(&labels);
        let _ = self.record_age.remove_label_values(&labels);
        let _ = self.lag_records.remove_label_values(&labels);
        let _ = self.lag_seconds.remove_label_values(&labels);
    }

    /// Forgets a group's series (it has no checkpoints from this mirror any more).
    pub fn remove_group(&self, mirror: &str, group: &str) {
        let labels = [mirror, group];
        let _ = self.checkpoint_last.remove_label_values(&labels);
        let _ = self.checkpoint_age.remove_label_values(&labels);
        let _ = self.failover_replay.remove_label_values(&labels);
        let _ = self.checkpoint_untranslatable.remove_label_values(&labels);
        let _ = self.group_sync_skipped.remove_label_values(&labels);
    }

    /// Records librdkafka statistics of one client.
    pub fn client_stats(&self, client: &str, stats: &rdkafka::Statistics) {
        self.client_queue_messages
            .with_label_values(&[client])
            .set(stats.msg_cnt as i64);
        self.client_queue_bytes
            .with_label_values(&[client])
            .set(stats.msg_size as i64);
        for broker in stats.brokers.values() {
            if broker.nodeid < 0 {
                continue; // bootstrap and internal pseudo-brokers
            }
            if let Some(rtt) = &broker.rtt {
                if rtt.cnt > 0 {
                    self.client_broker_rtt
                        .with_label_values(&[client, &broker.nodename])
                        .set(rtt.avg as f64 / 1_000_000.0);
                }
            }
        }
        if client.ends_with("|consumer") {
            let mut ends = HashMap::new();
            for (topic, t) in &stats.topics {
                for (p, part) in &t.partitions {
                    if *p >= 0 && part.ls_offset >= 0 {
                        ends.insert((topic.clone(), *p), part.ls_offset);
                    }
                }
            }
            self.source_ends
                .lock()
                .expect("ends lock")
                .insert(client.to_string(), ends);
        }
    }

    /// The source end offset (last stable offset) of a partition as the record consumer
    /// `client` last saw it.
    pub fn source_end(&self, client: &str, topic: &str, partition: i32) -> Option<i64> {
        self.source_ends
            .lock()
            .expect("ends lock")
            .get(client)?
            .get(&(topic.to_string(), partition))
            .copied()
    }
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

pub fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A librdkafka error code as a bounded label value.
pub fn code_label(e: &rdkafka::error::KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(c) => format!("{c:?}"),
        None => "other".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_forgets_partitions() {
        let m = metrics();
        m.records_replicated
            .with_label_values(&["T1->T2", "orders", "3"])
            .inc_by(5);
        m.checkpoint_last
            .with_label_values(&["T1->T2", "g"])
            .set(now_seconds() - 10.0);
        let text = m.render();
        assert!(text.contains(
            "strait_records_replicated_total{mirror=\"T1->T2\",partition=\"3\",topic=\"orders\"} 5"
        ));
        let age = text
            .lines()
            .find(|l| l.starts_with("strait_checkpoint_age_seconds{group=\"g\",mirror=\"T1->T2\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .expect("age line");
        assert!((9.0..30.0).contains(&age), "{age}");
        assert!(text.contains("strait_build_info{version="));
        m.remove_partition("T1->T2", "orders", 3);
        m.remove_group("T1->T2", "g");
        let text = m.render();
        assert!(!text.contains("topic=\"orders\""));
        assert!(!text.contains("group=\"g\""));
    }
}
