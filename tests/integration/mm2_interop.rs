//! Interoperability with a real Apache MirrorMaker 2 (dedicated mode, Kafka 4.1.1): MM2 mirrors
//! a topic and a consumer group from cluster A to cluster B, and strait's decoders
//! ([`strait::records`]) read the checkpoints, offset syncs and heartbeats MM2 wrote exactly as
//! Kafka's own Java formatters (`org.apache.kafka.connect.mirror.formatters.*`) do, record for
//! record; the values also mean what MM2 promises (the group's committed offsets, offsets of
//! records with the same content).
//!
//! MM2 runs with its own cluster aliases (`M<hex>` for A, `N<hex>` for B), never `A`/`B`, so
//! its topics (`M….<topic>`, `M….checkpoints.internal` and the Connect topics on B,
//! `mm2-offset-syncs.N….internal` on A) and heartbeats (source alias `M…`) stay out of the way
//! of the other tests sharing the clusters. [`run_mm2_oneway`] is the reusable set-up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ::strait::records::{Checkpoint, Heartbeat, OffsetSync};
use rdkafka::Timestamp;

use crate::harness::mm2::MM2_STOP_TIMEOUT;
use crate::harness::*;

/// Budget for MM2's first replicated record: JVM start, herder start, joining its Connect
/// group as leader, connector and task start (2 cores shared with brokers and other tests).
const FIRST_RECORD: Duration = Duration::from_secs(90);
/// Budget for each later condition, once records flow.
const CONVERGE: Duration = Duration::from_secs(60);
/// Reading a topic to its end offsets.
const READ: Duration = Duration::from_secs(30);

/// Partitions of the mirrored topic.
pub const PARTITIONS: i32 = 2;
/// Records produced to each partition before MM2 starts.
pub const RECORDS_PER_PARTITION: i64 = 50;
/// The group's committed offset per partition on A (also before MM2 starts).
pub const COMMITTED: [i64; PARTITIONS as usize] = [20, 35];
/// The topic MM2 (and strait) write heartbeats to, on the target.
pub const HEARTBEATS: &str = "heartbeats";

/// What [`run_mm2_oneway`] set up and MM2 mirrors: cluster A under the alias `source_alias`,
/// cluster B under `target_alias`.
#[derive(Debug, Clone)]
pub struct Mm2Setup {
    /// MM2's alias of cluster A (`M` + 8 hex digits).
    pub source_alias: String,
    /// MM2's alias of cluster B (`N` + 8 hex digits).
    pub target_alias: String,
    /// The mirrored topic on A: [`PARTITIONS`] partitions of [`RECORDS_PER_PARTITION`] records,
    /// values `p<partition>-<offset>`.
    pub topic: String,
    /// `<source_alias>.<topic>` on B.
    pub remote_topic: String,
    /// The mirrored consumer group, committed at [`COMMITTED`] on A.
    pub group: String,
    /// `<source_alias>.checkpoints.internal` on B.
    pub checkpoints_topic: String,
    /// `mm2-offset-syncs.<target_alias>.internal` on A (MM2's default location: the source).
    pub offset_syncs_topic: String,
    /// The MM2 properties it runs with.
    pub properties: Mm2Properties,
    /// From MM2's start to its first record in `remote_topic`.
    pub first_record_after: Duration,
    /// From MM2's start to checkpoints for both partitions in `checkpoints_topic`.
    pub first_checkpoints_after: Duration,
}

/// MM2 dedicated-mode properties for the one-way flow `source_alias -> target_alias`, restricted
/// to `topic` and `group`, with the test-speed settings of [`Mm2Properties::one_way`].
fn mm2_properties(
    a: &KafkaCluster,
    b: &KafkaCluster,
    source_alias: &str,
    target_alias: &str,
    topic: &str,
    group: &str,
) -> Mm2Properties {
    let (m, n) = (source_alias, target_alias);
    Mm2Properties::one_way((m, a), (n, b))
        .flow(m, n, "topics", topic)
        .flow(m, n, "groups", group)
        .flow(m, n, "heartbeats.replication.enabled", "false")
}

fn decode_checkpoint(r: &Rec) -> Option<Checkpoint> {
    Checkpoint::decode(r.key.as_deref()?, r.value.as_deref()?).ok()
}

fn decode_offset_sync(r: &Rec) -> Option<OffsetSync> {
    OffsetSync::decode(r.key.as_deref()?, r.value.as_deref()?).ok()
}

fn decode_heartbeat(r: &Rec) -> Option<Heartbeat> {
    Heartbeat::decode(r.key.as_deref()?, r.value.as_deref()?).ok()
}

/// The value of the record at `offset` of partition `partition` on A before MM2 starts.
fn source_value(partition: i32, offset: i64) -> String {
    format!("p{partition}-{offset}")
}

/// Sets up a topic and a consumer group on the shared cluster A, starts MirrorMaker 2
/// (dedicated mode, A -> B under fresh aliases) and waits until MM2 has mirrored all records and
/// written checkpoints for both partitions, heartbeats and offset syncs.
///
/// MM2 keeps running (emitting heartbeats and checkpoints every second) until the returned
/// process is stopped or dropped.
pub fn run_mm2_oneway(test: &str) -> (Mm2Process, Mm2Setup) {
    let (a, b) = shared_clusters();
    let suffix = random_u64() as u32;
    let source_alias = format!("M{suffix:08x}");
    let target_alias = format!("N{suffix:08x}");
    let topic = unique_name(test);
    let group = unique_name(&format!("{test}-group"));

    create_topic(&a.bootstrap(), &topic, PARTITIONS, &[]);
    let records: Vec<OutRecord> = (0..PARTITIONS)
        .flat_map(|p| {
            (0..RECORDS_PER_PARTITION).map(move |o| OutRecord::to_partition(p, source_value(p, o)))
        })
        .collect();
    let delivered = produce(&a.bootstrap(), &topic, &records);
    let want: Vec<(i32, i64)> = (0..PARTITIONS)
        .flat_map(|p| (0..RECORDS_PER_PARTITION).map(move |o| (p, o)))
        .collect();
    assert_eq!(delivered, want, "produced offsets on A");
    let commits: Vec<(&str, i32, i64)> = (0..PARTITIONS)
        .map(|p| (topic.as_str(), p, COMMITTED[p as usize]))
        .collect();
    commit_group_offsets(&a.bootstrap(), &group, &commits);

    let properties = mm2_properties(a, b, &source_alias, &target_alias, &topic, &group);
    let mut setup = Mm2Setup {
        remote_topic: format!("{source_alias}.{topic}"),
        checkpoints_topic: format!("{source_alias}.checkpoints.internal"),
        offset_syncs_topic: format!("mm2-offset-syncs.{target_alias}.internal"),
        source_alias,
        target_alias,
        topic,
        group,
        properties,
        first_record_after: Duration::ZERO,
        first_checkpoints_after: Duration::ZERO,
    };
    let mut mm2 = Mm2Process::start(&setup.properties);
    let t0 = Instant::now();
    let total = (PARTITIONS as i64 * RECORDS_PER_PARTITION) as usize;

    // 1. The records, in `<M>.<topic>` on B.
    let mut remote = TopicReader::new(&b.bootstrap(), &setup.remote_topic);
    remote.wait_until(FIRST_RECORD, "MM2's first mirrored record", |recs| {
        mm2.assert_running();
        !recs.is_empty()
    });
    setup.first_record_after = t0.elapsed();
    remote.wait_until(CONVERGE, "all records mirrored", |recs| {
        mm2.assert_running();
        recs.len() >= total
    });
    let all_records_after = t0.elapsed();

    // 2. A checkpoint of the group for each partition, in `<M>.checkpoints.internal` on B.
    let mut checkpoints = TopicReader::new(&b.bootstrap(), &setup.checkpoints_topic);
    let (group, remote_topic) = (setup.group.clone(), setup.remote_topic.clone());
    checkpoints.wait_until(CONVERGE, "checkpoints for both partitions", |recs| {
        mm2.assert_running();
        let partitions: BTreeSet<i32> = recs
            .iter()
            .filter_map(decode_checkpoint)
            .filter(|c| c.group == group && c.topic == remote_topic)
            .map(|c| c.partition)
            .collect();
        partitions.len() == PARTITIONS as usize
    });
    setup.first_checkpoints_after = t0.elapsed();

    // 3. Heartbeats of the flow, in `heartbeats` on B (shared with every other test).
    let mut heartbeats = TopicReader::new(&b.bootstrap(), HEARTBEATS);
    let source_alias = setup.source_alias.clone();
    heartbeats.wait_until(CONVERGE, "heartbeats of MM2's flow", |recs| {
        mm2.assert_running();
        recs.iter()
            .filter_map(decode_heartbeat)
            .any(|h| h.source_alias == source_alias)
    });
    let heartbeats_after = t0.elapsed();

    // 4. Offset syncs of the topic, in `mm2-offset-syncs.<N>.internal` on A.
    let mut syncs = TopicReader::new(&a.bootstrap(), &setup.offset_syncs_topic);
    let topic = setup.topic.clone();
    syncs.wait_until(CONVERGE, "offset syncs of the topic", |recs| {
        mm2.assert_running();
        recs.iter()
            .filter_map(decode_offset_sync)
            .any(|o| o.topic == topic)
    });
    eprintln!(
        "[mm2_interop] MM2 ({} -> {}) after start: first record {:.1}s, all {total} records \
         {:.1}s, checkpoints of both partitions {:.1}s, heartbeats {:.1}s, offset syncs {:.1}s",
        setup.source_alias,
        setup.target_alias,
        setup.first_record_after.as_secs_f64(),
        all_records_after.as_secs_f64(),
        setup.first_checkpoints_after.as_secs_f64(),
        heartbeats_after.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    (mm2, setup)
}

/// The values of a Java `toString()` of the form `Name{k1=v1, k2=v2, ..., kn=vn}`, in key order.
/// A value runs up to `, <next key>=`; the last one up to the closing brace.
fn java_fields<'a>(line: &'a str, name: &str, keys: &[&str]) -> Option<Vec<&'a str>> {
    let mut rest = line
        .strip_prefix(name)?
        .strip_prefix('{')?
        .strip_suffix('}')?;
    let mut values = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        rest = rest.strip_prefix(key)?.strip_prefix('=')?;
        match keys.get(i + 1) {
            Some(next) => {
                let at = rest.find(&format!(", {next}="))?;
                values.push(&rest[..at]);
                rest = &rest[at + 2..];
            }
            None => values.push(rest),
        }
    }
    Some(values)
}

/// A Java `TopicPartition.toString()`: `topic-partition`.
fn java_topic_partition(s: &str) -> Option<(String, i32)> {
    let (topic, partition) = s.rsplit_once('-')?;
    Some((topic.to_string(), partition.parse().ok()?))
}

/// Parses `Checkpoint.toString()` (Kafka 4.1.1).
fn parse_java_checkpoint(line: &str) -> Option<Checkpoint> {
    let f = java_fields(
        line,
        "Checkpoint",
        &[
            "consumerGroupId",
            "topicPartition",
            "upstreamOffset",
            "downstreamOffset",
            "metadata",
        ],
    )?;
    let (topic, partition) = java_topic_partition(f[1])?;
    Some(Checkpoint {
        group: f[0].to_string(),
        topic,
        partition,
        upstream_offset: f[2].parse().ok()?,
        downstream_offset: f[3].parse().ok()?,
        metadata: f[4].to_string(),
    })
}

/// Parses `OffsetSync.toString()`.
fn parse_java_offset_sync(line: &str) -> Option<OffsetSync> {
    let f = java_fields(
        line,
        "OffsetSync",
        &["topicPartition", "upstreamOffset", "downstreamOffset"],
    )?;
    let (topic, partition) = java_topic_partition(f[0])?;
    Some(OffsetSync {
        topic,
        partition,
        upstream_offset: f[1].parse().ok()?,
        downstream_offset: f[2].parse().ok()?,
    })
}

/// Parses `Heartbeat.toString()`.
fn parse_java_heartbeat(line: &str) -> Option<Heartbeat> {
    let f = java_fields(
        line,
        "Heartbeat",
        &["sourceClusterAlias", "targetClusterAlias", "timestamp"],
    )?;
    Some(Heartbeat {
        source_alias: f[0].to_string(),
        target_alias: f[1].to_string(),
        timestamp_ms: f[2].parse().ok()?,
    })
}

/// Runs Kafka's ConsoleConsumer with MM2's `formatter` over each partition of `topic` that
/// `records` (read by rdkafka up to the end offsets at some moment) came from, as many records
/// as rdkafka read there, and pairs every record with the line Java printed for it.
fn java_lines_for<'r>(
    bootstrap: &str,
    topic: &str,
    formatter: &str,
    records: &'r [Rec],
) -> Vec<(&'r Rec, String)> {
    let mut paired = Vec::with_capacity(records.len());
    for (partition, recs) in by_partition(records) {
        let lines = java_formatted_partition(bootstrap, topic, partition, formatter, recs.len());
        assert_eq!(
            lines.len(),
            recs.len(),
            "{formatter} printed {} lines for the {} records of {topic}-{partition}",
            lines.len(),
            recs.len()
        );
        paired.extend(recs.into_iter().zip(lines));
    }
    paired
}

/// Key, value, headers and timestamp: what MM2 copies of a record.
#[derive(Debug, PartialEq)]
struct Content<'a> {
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: &'a [(String, Option<Vec<u8>>)],
    timestamp: Timestamp,
}

fn content(r: &Rec) -> Content<'_> {
    Content {
        key: r.key.as_deref(),
        value: r.value.as_deref(),
        headers: &r.headers,
        timestamp: r.timestamp,
    }
}

#[test]
fn strait_reads_mirror_maker_2_checkpoints_offset_syncs_and_heartbeats_as_java_does() {
    let test_start = Instant::now();
    let (a, b) = shared_clusters();
    let (mut mm2, s) = run_mm2_oneway("mm2-interop");
    let (m, n) = (s.source_alias.as_str(), s.target_alias.as_str());

    // Snapshots up to the end offsets of now (MM2 keeps writing heartbeats and checkpoints).
    let source = read_all(&a.bootstrap(), &s.topic, READ);
    let remote = read_all(&b.bootstrap(), &s.remote_topic, READ);
    let checkpoint_recs = read_all(&b.bootstrap(), &s.checkpoints_topic, READ);
    let sync_recs = read_all(&a.bootstrap(), &s.offset_syncs_topic, READ);
    let heartbeat_recs = read_all(&b.bootstrap(), HEARTBEATS, READ);

    // The data: copied 1:1, every record at its source offset with its key, value, headers
    // and timestamp (a clean run of MM2 has no reason for duplicates or gaps).
    let at = |recs: &[Rec]| -> BTreeMap<(i32, i64), Rec> {
        recs.iter()
            .map(|r| ((r.partition, r.offset), r.clone()))
            .collect()
    };
    let (source_at, remote_at) = (at(&source), at(&remote));
    assert_eq!(
        source_at.len(),
        (PARTITIONS as i64 * RECORDS_PER_PARTITION) as usize
    );
    for ((p, o), r) in &source_at {
        assert_eq!(r.value_str(), source_value(*p, *o), "source record {p}/{o}");
    }
    assert_eq!(
        remote_at.keys().collect::<Vec<_>>(),
        source_at.keys().collect::<Vec<_>>(),
        "{} holds the source offsets of every partition, no more",
        s.remote_topic
    );
    for (po, r) in &remote_at {
        assert_eq!(content(r), content(&source_at[po]), "record {po:?} on B");
    }

    // Java's formatters over the same records, three JVMs in parallel.
    let (java_checkpoints, java_syncs, java_heartbeats) = std::thread::scope(|sc| {
        let c = sc.spawn(|| {
            java_lines_for(
                &b.bootstrap(),
                &s.checkpoints_topic,
                "CheckpointFormatter",
                &checkpoint_recs,
            )
        });
        let o = sc.spawn(|| {
            java_lines_for(
                &a.bootstrap(),
                &s.offset_syncs_topic,
                "OffsetSyncFormatter",
                &sync_recs,
            )
        });
        let h = java_lines_for(
            &b.bootstrap(),
            HEARTBEATS,
            "HeartbeatFormatter",
            &heartbeat_recs,
        );
        (
            c.join().expect("CheckpointFormatter run"),
            o.join().expect("OffsetSyncFormatter run"),
            h,
        )
    });

    // Checkpoints: the topic is MM2's alone (unique alias), and it mirrors one group only.
    let mut checkpoints = Vec::new();
    for (r, line) in &java_checkpoints {
        let ours = decode_checkpoint(r)
            .unwrap_or_else(|| panic!("strait cannot decode checkpoint record {}", r.offset));
        let java = parse_java_checkpoint(line)
            .unwrap_or_else(|| panic!("unexpected CheckpointFormatter line: {line}"));
        assert_eq!(
            ours, java,
            "checkpoint at offset {}: strait vs Java",
            r.offset
        );
        checkpoints.push(ours);
    }
    eprintln!(
        "[mm2_interop] {} checkpoints, all equal to Java's; first: {:?}",
        checkpoints.len(),
        java_checkpoints.first().map(|(_, l)| l)
    );
    let mut latest: BTreeMap<i32, &Checkpoint> = BTreeMap::new();
    for c in &checkpoints {
        assert_eq!(c.group, s.group, "checkpoint of another group: {c:?}");
        assert_eq!(c.topic, s.remote_topic, "checkpoint topic: {c:?}");
        assert!((0..PARTITIONS).contains(&c.partition), "{c:?}");
        let p = c.partition;
        assert_eq!(
            c.upstream_offset, COMMITTED[p as usize],
            "upstream offset is the group's commit on A: {c:?}"
        );
        assert_eq!(c.metadata, "", "the commit had no metadata: {c:?}");
        // Where the record the group would read next (upstream offset U) sits on B: resuming at
        // the checkpoint must not skip it, so downstream <= that position.
        let next = source_value(p, c.upstream_offset);
        let position = remote
            .iter()
            .find(|r| r.partition == p && r.value_str() == next)
            .unwrap_or_else(|| panic!("record {next} not on B"))
            .offset;
        assert!(
            (0..=position).contains(&c.downstream_offset),
            "downstream offset within [0, {position}] (where {next} is on B): {c:?}"
        );
        latest.insert(p, c);
    }
    assert_eq!(
        latest.keys().copied().collect::<Vec<_>>(),
        (0..PARTITIONS).collect::<Vec<_>>(),
        "checkpoints for every partition"
    );

    // Offset syncs: MM2's alone too; each maps a record on A to the same record on B.
    let mut syncs = Vec::new();
    for (r, line) in &java_syncs {
        let ours = decode_offset_sync(r)
            .unwrap_or_else(|| panic!("strait cannot decode offset sync record {}", r.offset));
        let java = parse_java_offset_sync(line)
            .unwrap_or_else(|| panic!("unexpected OffsetSyncFormatter line: {line}"));
        assert_eq!(
            ours, java,
            "offset sync at offset {}: strait vs Java",
            r.offset
        );
        syncs.push(ours);
    }
    eprintln!(
        "[mm2_interop] {} offset syncs, all equal to Java's: {:?}",
        syncs.len(),
        syncs
            .iter()
            .map(|o| format!(
                "{}:{}->{}",
                o.partition, o.upstream_offset, o.downstream_offset
            ))
            .collect::<Vec<_>>()
    );
    assert!(!syncs.is_empty(), "offset syncs");
    for o in &syncs {
        assert_eq!(o.topic, s.topic, "offset sync of the source topic: {o:?}");
        let upstream = source_at
            .get(&(o.partition, o.upstream_offset))
            .unwrap_or_else(|| panic!("no record on A at the upstream offset of {o:?}"));
        let downstream = remote_at
            .get(&(o.partition, o.downstream_offset))
            .unwrap_or_else(|| panic!("no record on B at the downstream offset of {o:?}"));
        assert_eq!(
            content(downstream),
            content(upstream),
            "offset sync {o:?} maps a record to the same record"
        );
    }

    // Heartbeats: a shared topic. Java prints every record; compare each record of MM2's flow,
    // recognised by strait's decoding or by Java's line, at the same offsets.
    let prefix = format!("Heartbeat{{sourceClusterAlias={m}, ");
    let mut heartbeats: Vec<(Heartbeat, i64)> = Vec::new();
    for (r, line) in &java_heartbeats {
        let ours = decode_heartbeat(r).filter(|h| h.source_alias == m);
        if ours.is_none() && !line.starts_with(&prefix) {
            continue;
        }
        let java = parse_java_heartbeat(line)
            .unwrap_or_else(|| panic!("unexpected HeartbeatFormatter line: {line}"));
        assert_eq!(
            ours.as_ref(),
            Some(&java),
            "heartbeat at offset {}: strait vs Java",
            r.offset
        );
        heartbeats.push((java, r.timestamp.to_millis().unwrap_or(-1)));
    }
    eprintln!(
        "[mm2_interop] {} of {} heartbeats on B are MM2's, all equal to Java's",
        heartbeats.len(),
        java_heartbeats.len()
    );
    assert!(!heartbeats.is_empty(), "MM2's heartbeats on B");
    for (h, record_ts) in &heartbeats {
        assert_eq!(h.target_alias, n, "heartbeat of the flow {m}->{n}: {h:?}");
        assert_eq!(
            *record_ts, h.timestamp_ms,
            "record timestamp equals the heartbeat's"
        );
    }
    for w in heartbeats.windows(2) {
        assert!(
            w[0].0.timestamp_ms < w[1].0.timestamp_ms,
            "heartbeat times increase: {:?} then {:?}",
            w[0].0,
            w[1].0
        );
    }

    // MM2 syncs the group's offsets on B to its latest checkpoints (the group is absent there).
    let mut checkpoint_reader = TopicReader::new(&b.bootstrap(), &s.checkpoints_topic);
    let mut synced = Vec::new();
    checkpoint_reader.wait_until(
        CONVERGE,
        "the group's offsets on B at its latest checkpoints",
        |recs| {
            let mut newest: BTreeMap<i32, i64> = BTreeMap::new();
            for c in recs.iter().filter_map(decode_checkpoint) {
                newest.insert(c.partition, c.downstream_offset);
            }
            synced = group_offsets(&b.bootstrap(), &s.group, &s.remote_topic, PARTITIONS);
            synced
                == (0..PARTITIONS)
                    .map(|p| newest.get(&p).copied())
                    .collect::<Vec<_>>()
        },
    );
    eprintln!("[mm2_interop] the group's offsets on B: {synced:?}");

    // MM2 stayed in its lane: under its aliases only the expected topics exist.
    let starting = |bootstrap: &str, prefix: &str| -> BTreeSet<String> {
        list_topics(bootstrap)
            .into_iter()
            .filter(|t| t.starts_with(prefix))
            .collect()
    };
    assert_eq!(
        starting(&b.bootstrap(), &format!("{m}.")),
        BTreeSet::from([s.remote_topic.clone(), s.checkpoints_topic.clone()]),
        "topics of alias {m} on B"
    );
    let on_a: BTreeSet<String> = list_topics(&a.bootstrap())
        .into_iter()
        .filter(|t| t.contains(m) || t.contains(n))
        .collect();
    assert_eq!(
        on_a,
        BTreeSet::from([s.offset_syncs_topic.clone()]),
        "MM2's topics on A"
    );

    // strait's operator commands read MM2's deployment as MM2's own tools would: `translate`
    // from the checkpoints (RemoteClusterUtils' answer), `status` with MM2's heartbeats and
    // checkpoints.
    let scratch = scratch_dir("mm2-cli");
    let config = scratch.path().join("strait.yaml");
    StraitConfig::new()
        .cluster(m, ClusterConfig::of(a))
        .cluster(n, ClusterConfig::of(b))
        .mirror(
            MirrorConfig::new(m, n)
                .topics(&[&s.topic])
                .groups(&[&s.group]),
        )
        .write_to(&config);
    let config = config.to_string_lossy().into_owned();
    let out = strait_cli(
        &[
            "translate",
            "--config",
            &config,
            "--group",
            &s.group,
            "--from",
            m,
            "--to",
            n,
            "--from-checkpoints",
            "--output",
            "json",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let translated: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let got: Vec<(i64, i64, Option<i64>)> = translated["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            assert_eq!(p["to_topic"], s.remote_topic.as_str());
            assert_eq!(p["exactness"], "checkpoint");
            (
                p["partition"].as_i64().unwrap(),
                p["from_offset"].as_i64().unwrap(),
                p["to_offset"].as_i64(),
            )
        })
        .collect();
    let want: Vec<(i64, i64, Option<i64>)> = (0..PARTITIONS)
        .map(|p| (p as i64, COMMITTED[p as usize], synced[p as usize]))
        .collect();
    assert_eq!(got, want, "strait translate on MM2's checkpoints");
    let out = strait_cli(
        &["status", "--config", &config, "--output", "json"],
        Duration::from_secs(60),
    );
    let status: serde_json::Value = serde_json::from_str(&out.stdout).expect("status JSON");
    let mirror = &status["mirrors"][0];
    assert!(
        mirror["heartbeat_age_ms"]
            .as_i64()
            .is_some_and(|a| a < 30_000),
        "MM2's heartbeats seen by strait status: {mirror}"
    );
    let groups = mirror["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{mirror}");
    assert_eq!(groups[0]["group"], s.group.as_str());
    assert_eq!(groups[0]["partitions"], PARTITIONS);

    let t0 = Instant::now();
    let (status, graceful) = mm2.stop();
    eprintln!(
        "[mm2_interop] MM2 stopped after SIGTERM in {:.1}s ({status}); test took {:.1}s",
        t0.elapsed().as_secs_f64(),
        test_start.elapsed().as_secs_f64()
    );
    assert!(
        graceful,
        "MM2 did not stop within {MM2_STOP_TIMEOUT:?} of SIGTERM"
    );
}
