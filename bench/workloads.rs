//! Benchmark workloads that need a client in the loop (bench/compare.sh runs them against strait
//! and against MirrorMaker 2 alike):
//!
//!   workloads latency SRC TOPIC DST REMOTE RATE SECONDS SIZE PARTITIONS WARMUP_SECONDS
//!       produce RATE records/s of SIZE bytes to TOPIC on SRC for WARMUP_SECONDS (not measured)
//!       and then SECONDS (round-robin over PARTITIONS) while reading REMOTE on DST from its
//!       end; end-to-end latency of each measured record
//!       = arrival on the target minus its producer timestamp (CreateTime, kept by both
//!       replicators). Prints `latency <count> <missing> <p50_ms> <p99_ms> <max_ms>`, and on
//!       stderr the seconds of the measured stream with records over 250 ms.
//!
//!   workloads replay SRC TOPIC DST REMOTE GROUP RATE SECONDS PARTITIONS
//!       produce RATE records/s for SECONDS (each value is its own source offset); halfway, the
//!       consumer group GROUP reads TOPIC on SRC from the start to the current end and commits.
//!       After the stream, wait until the replicator has committed GROUP's translated offsets on
//!       DST and they have stopped moving, resume there and compare the first record read per
//!       partition with the committed source offset. Prints `replay <replayed> <skipped>
//!       <max_replayed_per_partition> <untranslated_partitions>` (partitions for which the
//!       replicator committed no offset within 2 minutes after the stream: a consumer there
//!       would start from its auto.offset.reset).
//!
//!   workloads freshness SRC TOPIC DST REMOTE TIMEOUT_S
//!       creates TOPIC (one partition) on SRC, produces one record to it at once and waits until
//!       REMOTE on DST holds it (end offset polled every 50 ms). Prints `freshness <seconds>`:
//!       from the creation's acknowledgement to the record's arrival (exit 1 on a timeout). No
//!       JVM tool in between, whose start-up alone would take a second of the measured time.
#![allow(clippy::disallowed_methods)] // a measuring tool, independent of strait's client factory

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;

use clap::{Args, Parser};

/// The command line (positional, as bench/compare.sh passes it).
#[derive(Parser)]
#[command(
    name = "workloads",
    about = "Benchmark workloads with a client in the loop"
)]
enum Cli {
    /// End-to-end latency of a steady stream (see the file header).
    Latency(LatencyArgs),
    /// Records replayed or skipped by a group resumed at its translated offsets.
    Replay(ReplayArgs),
    /// A new topic's first record on the target (see the file header).
    Freshness(FreshnessArgs),
}

#[derive(Args)]
struct FreshnessArgs {
    /// Bootstrap servers of the source cluster.
    src: String,
    /// The topic created on the source.
    topic: String,
    /// Bootstrap servers of the target cluster.
    dst: String,
    /// The replicated topic on the target.
    remote: String,
    /// Exit 1 after this many seconds.
    timeout_s: u64,
}

#[derive(Args)]
struct LatencyArgs {
    /// Bootstrap servers of the source cluster.
    src: String,
    /// Topic produced to on the source.
    topic: String,
    /// Bootstrap servers of the target cluster.
    dst: String,
    /// The replicated topic read on the target.
    remote: String,
    /// Records per second.
    rate: u64,
    /// Seconds of the measured stream.
    seconds: u64,
    /// Record size in bytes.
    size: usize,
    /// Partitions of the topic (records go round-robin).
    partitions: i32,
    /// Seconds of the same stream before the measured one, not measured.
    warmup_seconds: u64,
}

#[derive(Args)]
struct ReplayArgs {
    /// Bootstrap servers of the source cluster.
    src: String,
    /// Topic produced to on the source.
    topic: String,
    /// Bootstrap servers of the target cluster.
    dst: String,
    /// The replicated topic on the target.
    remote: String,
    /// The consumer group that commits halfway on the source.
    group: String,
    /// Records per second.
    rate: u64,
    /// Seconds of the stream.
    seconds: u64,
    /// Partitions of the topic.
    partitions: i32,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("consumer")
}

fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "0")
        .set("acks", "all")
        .create()
        .expect("producer")
}

/// Produces `rate` records/s for `seconds`, partition i % partitions; `value(partition, n)`
/// builds the value of the n-th record of a partition. Calls `halfway` once in the middle.
fn produce_steady(
    bootstrap: &str,
    topic: &str,
    rate: u64,
    seconds: u64,
    partitions: i32,
    mut value: impl FnMut(i32, i64) -> Vec<u8>,
    mut halfway: impl FnMut(),
) -> u64 {
    let producer = producer(bootstrap);
    let total = rate * seconds;
    let start = Instant::now();
    let mut counts = vec![0i64; partitions as usize];
    let mut sent = 0u64;
    let mut half_done = false;
    while sent < total {
        // Records due by now.
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due {
            let p = (sent % partitions as u64) as i32;
            let v = value(p, counts[p as usize]);
            let mut rec = BaseRecord::<(), [u8]>::to(topic)
                .partition(p)
                .payload(&v)
                .timestamp(now_ms());
            loop {
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        producer.poll(Duration::from_millis(1));
                        rec = r;
                    }
                }
            }
            counts[p as usize] += 1;
            sent += 1;
        }
        producer.poll(Duration::ZERO);
        if !half_done && sent >= total / 2 {
            half_done = true;
            halfway();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    sent
}

fn partition_list(
    topic: &str,
    offsets: impl IntoIterator<Item = (i32, Offset)>,
) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (p, o) in offsets {
        tpl.add_partition_offset(topic, p, o).unwrap();
    }
    tpl
}

fn at(offsets: &BTreeMap<i32, i64>) -> impl Iterator<Item = (i32, Offset)> + '_ {
    offsets.iter().map(|(p, o)| (*p, Offset::Offset(*o)))
}

fn assign_all(c: &BaseConsumer, topic: &str, partitions: i32, offset: impl Fn(i32) -> Offset) {
    let tpl = partition_list(topic, (0..partitions).map(|p| (p, offset(p))));
    c.assign(&tpl).expect("assign");
}

fn percentile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[idx]
}

fn latency(args: LatencyArgs) {
    let LatencyArgs {
        ref src,
        ref topic,
        ref dst,
        ref remote,
        rate,
        seconds,
        size,
        partitions,
        warmup_seconds: warmup,
    } = args;
    let marker = format!("lat-{}", now_ms());
    let reader = consumer(dst, &format!("bench-latency-reader-{marker}"));
    assign_all(&reader, remote, partitions, |_| Offset::End);
    // Let the reader settle on the end before the first record is produced.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        reader.poll(Duration::from_millis(50));
    }
    let done = Arc::new(AtomicBool::new(false));
    let producer_thread = {
        let (src, topic, marker, done) = (
            src.clone(),
            topic.clone(),
            marker.clone(),
            Arc::clone(&done),
        );
        std::thread::spawn(move || {
            // Warm-up: the same stream, not measured (fresh topics, JIT and page cache).
            if warmup > 0 {
                let mut warm = b"warmup".to_vec();
                warm.resize(size, b'x');
                produce_steady(
                    &src,
                    &topic,
                    rate,
                    warmup,
                    partitions,
                    |_, _| warm.clone(),
                    || {},
                );
            }
            let mut filler = marker.into_bytes();
            filler.resize(size, b'x');
            let n = produce_steady(
                &src,
                &topic,
                rate,
                seconds,
                partitions,
                |_, _| filler.clone(),
                || {},
            );
            done.store(true, Ordering::SeqCst);
            n
        })
    };
    let mut latencies = Vec::with_capacity((rate * seconds) as usize);
    // Records slower than 250 ms, by the second of the measured stream they were produced in
    // (counted from its first record's timestamp): (count, slowest).
    let mut stalls: BTreeMap<i64, (u64, i64)> = BTreeMap::new();
    let mut first_ts: Option<i64> = None;
    let mut done_at: Option<Instant> = None;
    loop {
        if let Some(Ok(m)) = reader.poll(Duration::from_millis(10)) {
            let arrived = now_ms();
            if m.payload()
                .is_some_and(|p| p.starts_with(marker.as_bytes()))
            {
                if let Some(ts) = m.timestamp().to_millis() {
                    latencies.push(arrived - ts);
                    let first = *first_ts.get_or_insert(ts);
                    if arrived - ts > 250 {
                        let second = (ts - first).max(0) / 1000;
                        let slow = stalls.entry(second).or_insert((0u64, 0i64));
                        slow.0 += 1;
                        slow.1 = slow.1.max(arrived - ts);
                    }
                }
            }
        }
        if done.load(Ordering::SeqCst) && done_at.is_none() {
            done_at = Some(Instant::now());
        }
        let expected = rate * seconds;
        if latencies.len() as u64 >= expected
            || done_at.is_some_and(|d| d.elapsed() > Duration::from_secs(120))
        {
            break;
        }
    }
    let produced = producer_thread.join().unwrap();
    let stall_text: Vec<String> = stalls
        .iter()
        .map(|(sec, (n, max))| format!("{sec}s:{n}x<={max}ms"))
        .collect();
    eprintln!(
        "records over 250 ms, by second produced: {}",
        stall_text.join(" ")
    );
    latencies.sort_unstable();
    println!(
        "latency {} {} {} {} {}",
        latencies.len(),
        produced.saturating_sub(latencies.len() as u64),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(-1)
    );
}

fn committed(c: &BaseConsumer, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    match c.committed_offsets(tpl, Duration::from_secs(10)) {
        Ok(list) => list
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

fn replay(args: ReplayArgs) {
    let ReplayArgs {
        ref src,
        ref topic,
        ref dst,
        ref remote,
        ref group,
        rate,
        seconds,
        partitions,
    } = args;
    let mut source_commit: BTreeMap<i32, i64> = BTreeMap::new();
    {
        let (src_c, topic_c, group_c) = (src.clone(), topic.clone(), group.clone());
        let source_commit = &mut source_commit;
        produce_steady(
            src,
            topic,
            rate,
            seconds,
            partitions,
            |_, n| n.to_string().into_bytes(),
            move || {
                // The group reads from the start to the current end and commits there.
                let c = consumer(&src_c, &group_c);
                let mut ends = BTreeMap::new();
                for p in 0..partitions {
                    let (_, high) = c
                        .fetch_watermarks(&topic_c, p, Duration::from_secs(10))
                        .expect("watermarks");
                    ends.insert(p, high);
                }
                assign_all(&c, &topic_c, partitions, |_| Offset::Beginning);
                let mut next: BTreeMap<i32, i64> = (0..partitions).map(|p| (p, 0)).collect();
                while next.iter().any(|(p, o)| *o < ends[p]) {
                    if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                        if m.offset() < ends[&m.partition()] {
                            next.insert(m.partition(), m.offset() + 1);
                        }
                    }
                }
                c.commit(&partition_list(&topic_c, at(&next)), CommitMode::Sync)
                    .expect("commit");
                *source_commit = next;
            },
        );
    }
    // The replicator's translated offsets for the group on the target, once they stop moving.
    // Every partition translated and unchanged for 3 polls 5 s apart; after 2 minutes, whatever
    // is translated once it has stopped moving (the rest count as untranslated).
    let watcher = consumer(dst, group);
    let started = Instant::now();
    let mut last = BTreeMap::new();
    let mut stable = 0;
    loop {
        std::thread::sleep(Duration::from_secs(5));
        let now = committed(&watcher, remote, partitions);
        if !now.is_empty() && now == last {
            stable += 1;
        } else {
            stable = 0;
        }
        last = now;
        let complete = last.len() == partitions as usize;
        if (stable >= 3 && (complete || started.elapsed() > Duration::from_secs(120)))
            || started.elapsed() > Duration::from_secs(300)
        {
            break;
        }
    }
    drop(watcher);
    let untranslated = partitions as usize - last.len();
    let reader = consumer(dst, &format!("{group}-check"));
    reader
        .assign(&partition_list(remote, at(&last)))
        .expect("assign");
    let mut first: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while first.len() < last.len() && Instant::now() < deadline {
        if let Some(Ok(m)) = reader.poll(Duration::from_millis(100)) {
            let source_offset: i64 = std::str::from_utf8(m.payload().unwrap_or_default())
                .ok()
                .and_then(|s| s.parse().ok())
                .expect("value is the source offset");
            first.entry(m.partition()).or_insert(source_offset);
        }
    }
    let (mut replayed, mut skipped, mut max_replayed) = (0i64, 0i64, 0i64);
    for (p, translated) in &last {
        let want = source_commit[p];
        let Some(&got) = first.get(p) else {
            eprintln!("partition {p}: nothing to read after the translated offset {translated}");
            continue;
        };
        if got <= want {
            replayed += want - got;
            max_replayed = max_replayed.max(want - got);
        } else {
            skipped += got - want;
        }
    }
    println!("replay {replayed} {skipped} {max_replayed} {untranslated}");
}

fn freshness(args: FreshnessArgs) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &args.src)
        .create()
        .expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let topic = NewTopic::new(&args.topic, 1, TopicReplication::Fixed(1));
    let created = rt
        .block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .expect("create topic");
    for r in created {
        r.unwrap_or_else(|(t, code)| panic!("create {t}: {code}"));
    }
    let t0 = Instant::now();
    let producer = producer(&args.src);
    let mut rec = BaseRecord::<(), [u8]>::to(&args.topic)
        .partition(0)
        .payload(b"fresh");
    // The new partition's leader may not be known to the producer for a moment.
    loop {
        match producer.send(rec) {
            Ok(()) => break,
            Err((_, r)) => {
                producer.poll(Duration::from_millis(10));
                rec = r;
            }
        }
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    let reader = consumer(&args.dst, "bench-freshness");
    let timeout = Duration::from_secs(args.timeout_s);
    loop {
        // Metadata first: a watermark query for a topic that does not exist yet only errs.
        let exists = reader
            .fetch_metadata(Some(&args.remote), Duration::from_secs(5))
            .is_ok_and(|md| {
                md.topics()
                    .iter()
                    .any(|t| t.name() == args.remote && !t.partitions().is_empty())
            });
        if exists {
            if let Ok((_, high)) = reader.fetch_watermarks(&args.remote, 0, Duration::from_secs(5))
            {
                if high >= 1 {
                    println!("freshness {:.3}", t0.elapsed().as_secs_f64());
                    return;
                }
            }
        }
        if t0.elapsed() > timeout {
            eprintln!("freshness: no record on {} after {timeout:?}", args.remote);
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() {
    match Cli::parse() {
        Cli::Latency(args) => latency(args),
        Cli::Replay(args) => replay(args),
        Cli::Freshness(args) => freshness(args),
    }
}
