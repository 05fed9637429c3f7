//! The clients of bench/scale.sh: many topics, partitions and groups set up fast, and what the
//! replicator made of them read back, each step one process (a JVM tool per topic or group
//! would take longer than the replicator it measures).
//!
//!   scale_tool create-topics BOOTSTRAP PREFIX COUNT PARTITIONS
//!       creates PREFIX00000 .. (COUNT topics of PARTITIONS partitions, replication factor 1) in
//!       requests of 50 topics, and waits until the metadata shows all of them.
//!   scale_tool fill BOOTSTRAP PREFIX RECORDS SIZE
//!       produces RECORDS records of SIZE bytes to every partition of every topic whose name
//!       starts with PREFIX (one producer, acks=all).
//!   scale_tool wait-partitions BOOTSTRAP PREFIX TOPICS RECORDS TIMEOUT_S
//!       polls (every 500 ms) until TOPICS topics whose name starts with PREFIX exist and every
//!       one of their partitions has an end offset of at least RECORDS; prints
//!       `partitions <seconds> <partitions>` (end offsets of all partitions in one ListOffsets
//!       request per broker; progress on stderr every 5 s).
//!   scale_tool commit-groups BOOTSTRAP GROUP_PREFIX COUNT TOPIC PARTITIONS OFFSET
//!       commits OFFSET for partitions 0..PARTITIONS of TOPIC for the groups GROUP_PREFIX00000 ..
//!       (COUNT of them; AlterConsumerGroupOffsets through one admin client, 128 groups in
//!       flight); prints `commit-groups <seconds> <committed> <failed>`.
//!   scale_tool checkpoints BOOTSTRAP TOPIC GROUP_PREFIX GROUPS PARTITIONS TIMEOUT_S
//!       reads the checkpoints topic TOPIC (`<source>.checkpoints.internal`) from its start until
//!       every group GROUP_PREFIX00000 .. (GROUPS of them) has a checkpoint for each of its
//!       PARTITIONS partitions; prints `checkpoints <seconds> <groups_done> <first_ts_ms>
//!       <last_ts_ms>`: the seconds since the call, the groups complete (fewer on a timeout),
//!       and the record timestamps of the first checkpoint and of the one that completed the
//!       last group (their difference is how long the replicator took for all, from its first
//!       round on).
#![allow(clippy::disallowed_methods)] // a measuring tool, independent of strait's client factory

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use clap::{Args, Parser};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

#[derive(Parser)]
#[command(name = "scale_tool", about = "Clients of bench/scale.sh")]
enum Cli {
    /// Creates COUNT topics of PARTITIONS partitions named PREFIX00000 ...
    CreateTopics(CreateArgs),
    /// Writes RECORDS records to every partition of the topics starting with PREFIX.
    Fill(FillArgs),
    /// Waits until every partition of the topics starting with PREFIX holds RECORDS records.
    WaitPartitions(WaitArgs),
    /// Commits offsets for COUNT groups.
    CommitGroups(CommitArgs),
    /// Waits until every group has a checkpoint for each partition.
    Checkpoints(CheckpointArgs),
}

#[derive(Args)]
struct CreateArgs {
    bootstrap: String,
    prefix: String,
    count: usize,
    partitions: i32,
}

#[derive(Args)]
struct FillArgs {
    bootstrap: String,
    prefix: String,
    records: u64,
    size: usize,
}

#[derive(Args)]
struct WaitArgs {
    bootstrap: String,
    prefix: String,
    topics: usize,
    records: i64,
    timeout_s: u64,
}

#[derive(Args)]
struct CommitArgs {
    bootstrap: String,
    group_prefix: String,
    count: usize,
    topic: String,
    partitions: i32,
    offset: i64,
}

#[derive(Args)]
struct CheckpointArgs {
    bootstrap: String,
    topic: String,
    group_prefix: String,
    groups: usize,
    partitions: i32,
    timeout_s: u64,
}

fn name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:05}")
}

fn consumer(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-scale-tool")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer")
}

/// The partition count of every topic whose name starts with `prefix`.
fn topics_with(c: &BaseConsumer, prefix: &str) -> BTreeMap<String, i32> {
    match c.fetch_metadata(None, Duration::from_secs(30)) {
        Ok(md) => md
            .topics()
            .iter()
            .filter(|t| t.name().starts_with(prefix) && t.error().is_none())
            .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
            .collect(),
        Err(e) => {
            eprintln!("metadata: {e}");
            BTreeMap::new()
        }
    }
}

fn create_topics(a: CreateArgs) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &a.bootstrap)
        .create()
        .expect("admin client");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(60)));
    let names: Vec<String> = (0..a.count).map(|i| name(&a.prefix, i)).collect();
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for chunk in names.chunks(50) {
        let new: Vec<NewTopic<'_>> = chunk
            .iter()
            .map(|n| NewTopic::new(n, a.partitions, TopicReplication::Fixed(1)))
            .collect();
        let results = rt
            .block_on(admin.create_topics(&new, &opts))
            .expect("create topics");
        for r in results {
            if let Err((topic, code)) = r {
                if code != RDKafkaErrorCode::TopicAlreadyExists {
                    panic!("create {topic}: {code}");
                }
            }
        }
    }
    let c = consumer(&a.bootstrap);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let have = topics_with(&c, &a.prefix);
        let ready = names
            .iter()
            .filter(|n| have.get(*n) == Some(&a.partitions))
            .count();
        if ready == names.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {ready} of {} topics in the metadata after 300 s",
            names.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "created {} topics of {} partitions in {:.1} s",
        a.count,
        a.partitions,
        started.elapsed().as_secs_f64()
    );
}

fn fill(a: FillArgs) {
    let c = consumer(&a.bootstrap);
    let topics = topics_with(&c, &a.prefix);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &a.bootstrap)
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let value = vec![b'x'; a.size];
    let started = Instant::now();
    let mut sent = 0u64;
    for (topic, partitions) in &topics {
        for p in 0..*partitions {
            for _ in 0..a.records {
                let mut rec = BaseRecord::<(), [u8]>::to(topic)
                    .partition(p)
                    .payload(&value);
                loop {
                    match producer.send(rec) {
                        Ok(()) => break,
                        Err((e, r))
                            if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) =>
                        {
                            producer.poll(Duration::from_millis(10));
                            rec = r;
                        }
                        Err((e, _)) => panic!("send to {topic}/{p}: {e}"),
                    }
                }
                sent += 1;
            }
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300)).expect("flush");
    let parts: i32 = topics.values().sum();
    eprintln!(
        "wrote {sent} records to {parts} partitions of {} topics in {:.1} s",
        topics.len(),
        started.elapsed().as_secs_f64()
    );
}

fn wait_partitions(a: WaitArgs) {
    let c = consumer(&a.bootstrap);
    let started = Instant::now();
    let timeout = Duration::from_secs(a.timeout_s);
    let mut last_report = Instant::now();
    loop {
        let topics = topics_with(&c, &a.prefix);
        let total: i32 = topics.values().sum();
        let mut done = 0usize;
        if !topics.is_empty() {
            let mut tpl = TopicPartitionList::with_capacity(total as usize);
            for (t, n) in &topics {
                for p in 0..*n {
                    tpl.add_partition_offset(t, p, Offset::End)
                        .expect("partition");
                }
            }
            // Timestamp -1 in ListOffsets: each partition's end offset, all in one request per
            // broker (a watermark query per partition would take seconds for 10,000).
            match c.offsets_for_times(tpl, Duration::from_secs(30)) {
                Ok(ends) => {
                    done = ends
                        .elements()
                        .iter()
                        .filter(|e| matches!(e.offset(), Offset::Offset(o) if o >= a.records))
                        .count();
                }
                Err(e) => eprintln!("end offsets: {e}"),
            }
        }
        if topics.len() >= a.topics && done == total as usize {
            println!("partitions {:.2} {total}", started.elapsed().as_secs_f64());
            return;
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            eprintln!(
                "[scale_tool] {:.0} s: {} of {} topics, {done} of {total} partitions complete",
                started.elapsed().as_secs_f64(),
                topics.len(),
                a.topics
            );
            last_report = Instant::now();
        }
        if started.elapsed() > timeout {
            eprintln!(
                "timeout after {timeout:?}: {} of {} topics, {done} of {total} partitions complete",
                topics.len(),
                a.topics
            );
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// AlterConsumerGroupOffsets for every group through one admin client, many in flight
/// (`strait::kafka::native_admin::alter_group_offsets`, the call strait's group offset sync
/// makes). A client per group would cost about 40 ms of CPU each in its creation alone.
fn commit_groups(a: CommitArgs) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &a.bootstrap)
        .create()
        .expect("admin client");
    let offsets: Vec<(String, i32, i64)> = (0..a.partitions)
        .map(|p| (a.topic.clone(), p, a.offset))
        .collect();
    let started = Instant::now();
    let (mut committed, mut failed) = (0usize, 0usize);
    // In slices, so that progress shows on long runs.
    let mut next = 0;
    while next < a.count {
        let end = (next + 1000).min(a.count);
        let requests: Vec<strait::kafka::native_admin::OffsetsCommit> = (next..end)
            .map(|i| (name(&a.group_prefix, i), offsets.clone()))
            .collect();
        for r in strait::kafka::native_admin::alter_group_offsets(admin.inner(), &requests) {
            match r {
                Ok(()) => committed += 1,
                Err(e) => {
                    if failed == 0 {
                        eprintln!("commit-groups: {e}");
                    }
                    failed += 1;
                }
            }
        }
        next = end;
    }
    println!(
        "commit-groups {:.2} {committed} {failed}",
        started.elapsed().as_secs_f64()
    );
}

fn checkpoints(a: CheckpointArgs) {
    let c = consumer(&a.bootstrap);
    let started = Instant::now();
    let timeout = Duration::from_secs(a.timeout_s);
    // Group -> partitions checkpointed (a bit per partition of the topic).
    let mut seen: HashMap<String, Vec<bool>> = HashMap::new();
    let (mut done, mut first_ts, mut last_ts) = (0usize, -1i64, -1i64);
    let mut assigned = false;
    let mut last_report = Instant::now();
    while done < a.groups {
        if started.elapsed() > timeout {
            eprintln!("timeout after {timeout:?}: {done} of {} groups", a.groups);
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            eprintln!(
                "[scale_tool] {:.0} s: {done} of {} groups checkpointed",
                started.elapsed().as_secs_f64(),
                a.groups
            );
            last_report = Instant::now();
        }
        if !assigned {
            let exists = c
                .fetch_metadata(Some(&a.topic), Duration::from_secs(10))
                .is_ok_and(|md| {
                    md.topics()
                        .iter()
                        .any(|t| t.name() == a.topic && !t.partitions().is_empty())
                });
            if !exists {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&a.topic, 0, Offset::Beginning)
                .expect("partition");
            c.assign(&tpl).expect("assign");
            assigned = true;
        }
        let Some(Ok(m)) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let (Some(key), Some(value)) = (m.key(), m.payload()) else {
            continue;
        };
        let Ok(cp) = strait::records::Checkpoint::decode(key, value) else {
            continue;
        };
        if !cp.group.starts_with(&a.group_prefix) || cp.partition >= a.partitions {
            continue;
        }
        let ts = m.timestamp().to_millis().unwrap_or(0);
        if first_ts < 0 {
            first_ts = ts;
        }
        let parts = seen
            .entry(cp.group)
            .or_insert_with(|| vec![false; a.partitions as usize]);
        let was_done = parts.iter().all(|b| *b);
        parts[cp.partition as usize] = true;
        if !was_done && parts.iter().all(|b| *b) {
            done += 1;
            last_ts = ts;
        }
    }
    println!(
        "checkpoints {:.2} {done} {first_ts} {last_ts}",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    match Cli::parse() {
        Cli::CreateTopics(a) => create_topics(a),
        Cli::Fill(a) => fill(a),
        Cli::WaitPartitions(a) => wait_partitions(a),
        Cli::CommitGroups(a) => commit_groups(a),
        Cli::Checkpoints(a) => checkpoints(a),
    }
}
