//! The ceiling of bench/compare.sh: a replicator that does nothing but copy. It reads TOPIC on
//! the source from its start and produces every record (key, value, headers, timestamp, same
//! partition) to REMOTE on the target, until N records are acknowledged, then prints the rate.
//! No progress topic, no offset syncs, no checkpoints, no heartbeats, no metrics, no retries:
//! what strait's record path costs on top of its clients is strait's rate against this one.
//!
//!   null_replicator --config STRAIT.yaml --source A --target B TOPIC REMOTE N [--hold S]
//!
//! The clients are strait's own, built by `strait::kafka::record_consumer` and
//! `strait::kafka::record_producer` from the clusters of the same YAML file strait runs with
//! (its defaults, the file's pass-through properties and the forced settings: idempotent,
//! acks=all, read_committed, ...). The loop has the record loop's shape (src/mirror/record_loop):
//! polls of at most 1,024 records or 100 ms, delivery reports served after every record, a full
//! producer queue waited out in polls of 100 ms. REMOTE must exist with TOPIC's partitions.
//!
//! Prints `null_replicator <records> <seconds> <records_per_s>` (from the first record fetched
//! to the last acknowledged). With `--hold S` it then stays up, idle, for S seconds (or until
//! killed), so that the caller can read its /proc figures.
#![allow(clippy::disallowed_methods)] // a measuring tool; its clients come from strait::kafka

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::client::ClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

/// The record loop's bounds (src/mirror/record_loop/mod.rs: BATCH_RECORDS, BATCH_TIME) and its
/// wait for room in a full producer queue (copy.rs: BACKPRESSURE_POLL).
const BATCH_RECORDS: usize = 1024;
const BATCH_TIME: Duration = Duration::from_millis(100);
const BACKPRESSURE_POLL: Duration = Duration::from_millis(100);

#[derive(Parser)]
#[command(
    name = "null_replicator",
    about = "Copies N records with strait's clients and nothing else"
)]
struct Cli {
    /// The strait configuration whose clusters are used.
    #[arg(long)]
    config: PathBuf,
    /// Alias of the source cluster in the file.
    #[arg(long)]
    source: String,
    /// Alias of the target cluster in the file.
    #[arg(long)]
    target: String,
    /// The topic read on the source.
    topic: String,
    /// The topic written on the target (must exist with the same partitions).
    remote: String,
    /// Records to copy.
    n: u64,
    /// Seconds to stay up, idle, after the copy.
    #[arg(long, default_value_t = 0)]
    hold: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
}

/// Counts the acknowledged records; the first failure is printed.
#[derive(Default)]
struct Counting {
    acked: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counting {
    fn error(&self, error: KafkaError, reason: &str) {
        eprintln!("null_replicator: producer: {error}: {reason}");
    }
}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("null_replicator: delivery failed: {e}");
                }
            }
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let config = strait::config::load(&cli.config).unwrap_or_else(|e| {
        eprintln!("null_replicator: {}: {e}", cli.config.display());
        std::process::exit(2)
    });
    let cluster = |alias: &str| {
        config.clusters.get(alias).unwrap_or_else(|| {
            eprintln!("null_replicator: no cluster `{alias}` in the file");
            std::process::exit(2)
        })
    };
    let consumer = strait::kafka::record_consumer(cluster(&cli.source), "null|consumer")
        .expect("record consumer");
    let producer =
        strait::kafka::record_producer(cluster(&cli.target), "null|producer", Counting::default())
            .expect("record producer");
    let deadline = Instant::now() + Duration::from_secs(cli.timeout);
    let md = consumer
        .fetch_metadata(Some(&cli.topic), Duration::from_secs(30))
        .expect("source metadata");
    let partitions = md
        .topics()
        .iter()
        .find(|t| t.name() == cli.topic)
        .map_or(0, |t| t.partitions().len());
    assert!(partitions > 0, "no topic {} on the source", cli.topic);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(&cli.topic, p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");

    let mut sent = 0u64;
    let mut first: Option<Instant> = None;
    while producer.context().acked.load(Ordering::Relaxed) < cli.n {
        if Instant::now() > deadline {
            eprintln!(
                "null_replicator: timeout: {} of {} acknowledged",
                producer.context().acked.load(Ordering::Relaxed),
                cli.n
            );
            std::process::exit(1);
        }
        if sent >= cli.n {
            // Everything is sent: only the reports are left.
            producer.poll(BATCH_TIME);
            continue;
        }
        let until = Instant::now() + BATCH_TIME;
        for _ in 0..BATCH_RECORDS {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || sent >= cli.n {
                break;
            }
            let msg = match consumer.poll(left) {
                None => break,
                Some(Err(e)) => {
                    eprintln!("null_replicator: consumer: {e}");
                    break;
                }
                Some(Ok(m)) => m,
            };
            first.get_or_insert_with(Instant::now);
            // The record as strait builds it (src/mirror/transform.rs `outgoing`, without the
            // provenance stamp, which a two-cluster mirror does not add).
            let mut record = BaseRecord::<[u8], [u8]>::to(&cli.remote).partition(msg.partition());
            if let Some(k) = msg.key() {
                record = record.key(k);
            }
            if let Some(v) = msg.payload() {
                record = record.payload(v);
            }
            if let Some(ts) = msg.timestamp().to_millis() {
                record = record.timestamp(ts);
            }
            if let Some(headers) = msg.headers() {
                let mut owned = OwnedHeaders::new_with_capacity(headers.count());
                for h in headers.iter() {
                    owned = owned.insert(h);
                }
                record = record.headers(owned);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((e, r)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                        producer.poll(BACKPRESSURE_POLL);
                        record = r;
                    }
                    Err((e, _)) => panic!("send refused: {e}"),
                }
            }
            drop(msg);
            sent += 1;
            producer.poll(Duration::ZERO);
        }
        producer.poll(Duration::ZERO);
    }
    let secs = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    println!(
        "null_replicator {} {:.3} {:.0}",
        cli.n,
        secs,
        cli.n as f64 / secs.max(1e-9)
    );
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("null_replicator: {failed} deliveries failed");
    }
    let hold_until = Instant::now() + Duration::from_secs(cli.hold);
    while Instant::now() < hold_until {
        producer.poll(Duration::from_millis(500));
    }
}
