//! Benchmark helper: waits until the end offsets of a topic on a cluster add up to at least N,
//! polling every 100 ms, then prints the elapsed seconds. Cheap enough not to disturb what it
//! measures (unlike a JVM tool started per poll).
//!
//!   cargo run --release --example end_offsets -- BOOTSTRAP TOPIC N [TIMEOUT_S]
//!   ... BOOTSTRAP TOPIC 0 [TIMEOUT_S] --like OTHER_BOOTSTRAP OTHER_TOPIC   (per partition)
//!   ... BOOTSTRAP TOPIC N [TIMEOUT_S] --records   (N records readable read_committed: with
//!       transactions the end offsets count the commit markers too)
#![allow(clippy::disallowed_methods)] // a measuring tool, independent of strait's client factory

use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

/// The command line (positional, as bench/compare.sh and bench/throughput.sh pass it).
#[derive(Parser)]
#[command(
    name = "end_offsets",
    about = "Waits until the end offsets of a topic add up to N; prints the seconds it took"
)]
struct Cli {
    /// Bootstrap servers of the cluster.
    bootstrap: String,
    /// The topic whose end offsets are summed.
    topic: String,
    /// The sum to wait for.
    n: i64,
    /// Exit 1 after this many seconds.
    #[arg(default_value_t = 600)]
    timeout_s: u64,
    /// Instead of a sum: wait until every partition's end offset reaches the end offset the same
    /// partition of this other topic had when the call began (source and remote topic).
    #[arg(long, num_args = 2, value_names = ["BOOTSTRAP", "TOPIC"])]
    like: Option<Vec<String>>,
    /// Instead of end offsets: read the topic from its start (read_committed) and count its
    /// records, until there are N.
    #[arg(long)]
    records: bool,
}

fn main() {
    let cli = Cli::parse();
    let (topic, want) = (&cli.topic, cli.n);
    let timeout = Duration::from_secs(cli.timeout_s);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &cli.bootstrap)
        .set("group.id", "end-offsets")
        .create()
        .expect("consumer");
    let start = Instant::now();
    if cli.records {
        count_records(&cli.bootstrap, topic, want, timeout, start);
        return;
    }
    if let Some(like) = &cli.like {
        let other: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &like[0])
            .set("group.id", "end-offsets")
            .create()
            .expect("consumer");
        let want = partition_ends(&other, &like[1]);
        loop {
            let have = partition_ends(&consumer, topic);
            let behind = want
                .iter()
                .enumerate()
                .filter(|(p, w)| have.get(*p).copied().unwrap_or(0) < **w)
                .count();
            if behind == 0 && !want.is_empty() {
                println!("{:.2}", start.elapsed().as_secs_f64());
                return;
            }
            if start.elapsed() > timeout {
                eprintln!("timeout: {behind} partitions behind {want:?} after {timeout:?}");
                std::process::exit(1);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    loop {
        let total = end_offsets(&consumer, topic);
        if total >= want {
            println!("{:.2}", start.elapsed().as_secs_f64());
            return;
        }
        if start.elapsed() > timeout {
            eprintln!("timeout: {total} of {want} after {timeout:?}");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads `topic` from its start with a read_committed consumer until it has counted `want`
/// records (the topic may not exist yet: it is assigned once its metadata shows it).
fn count_records(bootstrap: &str, topic: &str, want: i64, timeout: Duration, start: Instant) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "end-offsets")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .create()
        .expect("consumer");
    let mut assigned = 0;
    let mut count = 0i64;
    while count < want {
        if start.elapsed() > timeout {
            eprintln!("timeout: {count} of {want} records after {timeout:?}");
            std::process::exit(1);
        }
        let partitions = partition_ends(&consumer, topic).len();
        if partitions > assigned {
            let mut tpl = rdkafka::TopicPartitionList::new();
            for p in 0..partitions as i32 {
                tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
                    .expect("partition");
            }
            consumer.assign(&tpl).expect("assign");
            assigned = partitions;
        }
        if assigned == 0 {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        // Counted in batches; the payloads are never looked at.
        while let Some(Ok(_)) = consumer.poll(Duration::from_millis(100)) {
            count += 1;
            if count >= want {
                break;
            }
        }
    }
    println!("{:.2}", start.elapsed().as_secs_f64());
}

fn end_offsets(consumer: &BaseConsumer, topic: &str) -> i64 {
    partition_ends(consumer, topic).iter().sum()
}

/// The end offset of each partition of `topic`, by partition number (empty when not found).
fn partition_ends(consumer: &BaseConsumer, topic: &str) -> Vec<i64> {
    let Ok(md) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) else {
        return Vec::new();
    };
    let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
        return Vec::new();
    };
    let mut ends = vec![0; t.partitions().len()];
    for p in t.partitions() {
        if let Some(end) = ends.get_mut(p.id() as usize) {
            *end = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(5))
                .map_or(0, |(_, high)| high);
        }
    }
    ends
}
