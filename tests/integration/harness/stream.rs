//! Records streaming into a source topic while a fault happens, and the exact check of what
//! arrived on the target.
//!
//! [`RecordStream`] produces at a steady rate, round robin over the partitions; record `i` goes
//! to partition `i % P` as that partition's sequence number `i / P`, with a key naming both
//! (`"<partition>:<sequence>"`), a value with binary bytes derived from them, and headers (one
//! of them without a value every 7th record). [`Follower`] reads the target while it fills and
//! tells when it holds a given prefix of every partition. [`check_copy`] compares the target
//! with the source record by record: every source record present at least once, the first
//! copies in source order, nothing altered (key, value, headers, timestamp), and counts the
//! duplicates.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext};

use super::client::{by_partition, Rec, TopicReader};

/// How long the final flush of a stream may take (a source outage leaves a backlog).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the producing thread tops up to the rate.
const TICK: Duration = Duration::from_millis(20);
/// Random bytes in each value.
const VALUE_NOISE: usize = 48;

/// The key of partition `p`'s record number `seq`.
pub fn stream_key(p: i32, seq: u64) -> String {
    format!("{p}:{seq:08}")
}

/// The value of partition `p`'s record number `seq`: its key, then bytes of all 256 values.
pub fn stream_value(p: i32, seq: u64) -> Vec<u8> {
    let mut v = format!("{}|", stream_key(p, seq)).into_bytes();
    let mut x = (u64::from(p as u32) << 40) ^ seq ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..VALUE_NOISE {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push((x >> 24) as u8);
    }
    v
}

/// The headers of partition `p`'s record number `seq`.
pub fn stream_headers(p: i32, seq: u64) -> Vec<(String, Option<Vec<u8>>)> {
    let mut h = vec![
        ("p".to_string(), Some(p.to_string().into_bytes())),
        ("seq".to_string(), Some(seq.to_string().into_bytes())),
    ];
    if seq % 7 == 0 {
        h.push(("no-value".to_string(), None));
    }
    h
}

/// `(partition, sequence)` from a stream key, `None` for anything else.
pub fn parse_stream_key(key: Option<&[u8]>) -> Option<(i32, u64)> {
    let key = std::str::from_utf8(key?).ok()?;
    let (p, seq) = key.split_once(':')?;
    Some((p.parse().ok()?, seq.parse().ok()?))
}

/// Delivery reports of the stream's producer.
#[derive(Default)]
struct Deliveries {
    acked: AtomicU64,
    failed: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Deliveries {
    fn record(&self, result: &DeliveryResult<'_>) {
        match result {
            Ok(_) => {
                self.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, m)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut errors = self.first_errors.lock().unwrap();
                if errors.len() < 10 {
                    use rdkafka::Message;
                    errors.push(format!(
                        "{e} (key {:?})",
                        m.key().map(String::from_utf8_lossy)
                    ));
                }
            }
        }
    }
}

/// What a finished [`RecordStream`] produced.
#[derive(Debug, Clone)]
pub struct StreamSummary {
    /// Records per partition, all acknowledged by the source.
    pub per_partition: Vec<u64>,
    pub total: u64,
    pub duration: Duration,
}

/// A producer thread writing [`stream_key`] records to every partition of a topic at a steady
/// rate until [`RecordStream::finish`]. Idempotent with `acks=all` and a 5-minute delivery
/// timeout, so that broker restarts and outages of the source delay records but never reorder
/// or drop them; a record that still fails fails the stream.
pub struct RecordStream {
    topic: String,
    partitions: i32,
    /// Records to produce at most.
    total: u64,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    deliveries: Arc<Deliveries>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
    started: Instant,
}

impl RecordStream {
    /// Starts producing `rate` records per second to partitions `0..partitions` of `topic`.
    pub fn start(bootstrap: &str, topic: &str, partitions: i32, rate: u64) -> RecordStream {
        RecordStream::start_bounded(bootstrap, topic, partitions, rate, u64::MAX)
    }

    /// As [`RecordStream::start`], but stops producing after `total` records (the stream is
    /// [`RecordStream::done`] then; [`RecordStream::finish`] still waits for the acks).
    pub fn start_bounded(
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        rate: u64,
        total: u64,
    ) -> RecordStream {
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let deliveries = Arc::new(Deliveries::default());
        let producer: BaseProducer<ArcDeliveries> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "300000")
            .set("queue.buffering.max.messages", "2000000")
            .set("queue.buffering.max.kbytes", "2097152")
            .create_with_context(ArcDeliveries(deliveries.clone()))
            .expect("stream producer");
        let thread = {
            let (topic, sent, stop) = (topic.to_string(), sent.clone(), stop.clone());
            std::thread::spawn(move || {
                produce_loop(&producer, &topic, partitions, rate, total, &sent, &stop)
            })
        };
        RecordStream {
            topic: topic.to_string(),
            partitions,
            total,
            sent,
            stop,
            deliveries,
            thread: Some(thread),
            started: Instant::now(),
        }
    }

    /// When the stream started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Records handed to the producer so far, per partition (acknowledged or not yet).
    pub fn sent_per_partition(&self) -> Vec<u64> {
        per_partition(self.sent.load(Ordering::SeqCst), self.partitions)
    }

    /// Whether every record of a bounded stream was handed to the producer.
    pub fn done(&self) -> bool {
        self.sent.load(Ordering::SeqCst) >= self.total
    }

    /// Records the source acknowledged so far.
    pub fn acked(&self) -> u64 {
        self.deliveries.acked.load(Ordering::Relaxed)
    }

    /// Stops producing, waits until every record is acknowledged; panics if any failed.
    pub fn finish(mut self) -> StreamSummary {
        self.stop.store(true, Ordering::SeqCst);
        let outcome = self
            .thread
            .take()
            .expect("stream thread")
            .join()
            .expect("stream thread panicked");
        let deliveries = &self.deliveries;
        let failed = deliveries.failed.load(Ordering::Relaxed);
        assert!(
            failed == 0,
            "{failed} records of the stream to {} failed: {:?}",
            self.topic,
            deliveries.first_errors.lock().unwrap()
        );
        if let Err(e) = outcome {
            panic!("stream to {}: {e}", self.topic);
        }
        let total = self.sent.load(Ordering::SeqCst);
        assert_eq!(
            deliveries.acked.load(Ordering::Relaxed),
            total,
            "acknowledged records of the stream to {}",
            self.topic
        );
        StreamSummary {
            per_partition: per_partition(total, self.partitions),
            total,
            duration: self.started.elapsed(),
        }
    }
}

impl Drop for RecordStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The producer context, shared with the [`RecordStream`] for its counters.
struct ArcDeliveries(Arc<Deliveries>);

impl ClientContext for ArcDeliveries {}

impl ProducerContext for ArcDeliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        self.0.record(result);
    }
}

fn per_partition(total: u64, partitions: i32) -> Vec<u64> {
    let n = partitions as u64;
    (0..n).map(|p| (total + n - 1 - p) / n).collect()
}

fn produce_loop(
    producer: &BaseProducer<ArcDeliveries>,
    topic: &str,
    partitions: i32,
    rate: u64,
    total: u64,
    sent: &AtomicU64,
    stop: &AtomicBool,
) -> Result<(), String> {
    let started = Instant::now();
    let mut i: u64 = 0;
    while !stop.load(Ordering::SeqCst) && i < total {
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while i < due && !stop.load(Ordering::SeqCst) {
            let p = (i % partitions as u64) as i32;
            let seq = i / partitions as u64;
            let key = stream_key(p, seq);
            let value = stream_value(p, seq);
            let mut headers = OwnedHeaders::new();
            for (k, v) in &stream_headers(p, seq) {
                headers = headers.insert(Header {
                    key: k,
                    value: v.as_deref(),
                });
            }
            let mut record = BaseRecord::to(topic)
                .partition(p)
                .key(key.as_bytes())
                .payload(value.as_slice())
                .headers(headers);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => return Err(format!("produce record {key}: {e}")),
                }
            }
            i += 1;
            sent.store(i, Ordering::SeqCst);
        }
        producer.poll(TICK);
    }
    producer
        .flush(FLUSH_TIMEOUT)
        .map_err(|e| format!("flush after {i} records: {e}"))
}

/// Reads the target topic while strait fills it and keeps, per partition, how many records of
/// the stream arrived in order (first copies): `covered[p]` means sequences `0..covered[p]` of
/// partition `p` are there. A record that skips ahead panics at once (lost or reordered).
pub struct Follower {
    reader: TopicReader,
    processed: usize,
    covered: Vec<u64>,
    duplicates: usize,
}

impl Follower {
    pub fn new(bootstrap: &str, topic: &str, partitions: i32) -> Follower {
        Follower {
            reader: TopicReader::new(bootstrap, topic),
            processed: 0,
            covered: vec![0; partitions as usize],
            duplicates: 0,
        }
    }

    /// Reads for a moment and accounts for what arrived.
    pub fn advance(&mut self) {
        self.reader.poll_for(Duration::from_millis(200));
        for r in &self.reader.records()[self.processed..] {
            let (p, seq) = parse_stream_key(r.key.as_deref()).unwrap_or_else(|| {
                panic!(
                    "{}/{} offset {}: a record that is not from the stream (key {:?})",
                    r.topic,
                    r.partition,
                    r.offset,
                    r.key.as_deref().map(String::from_utf8_lossy)
                )
            });
            assert_eq!(
                p, r.partition,
                "{}/{} offset {}: record of source partition {p}",
                r.topic, r.partition, r.offset
            );
            let covered = &mut self.covered[p as usize];
            assert!(
                seq <= *covered,
                "{}/{p} offset {}: sequence {seq} arrived while {} was the next one expected: \
                 records lost or out of order",
                r.topic,
                r.offset,
                *covered
            );
            if seq == *covered {
                *covered += 1;
            } else {
                self.duplicates += 1;
            }
        }
        self.processed = self.reader.records().len();
    }

    /// Records read so far that repeat a sequence already on the target.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// Sequences `0..covered[p]` of each partition `p` are on the target.
    pub fn covered(&self) -> &[u64] {
        &self.covered
    }

    /// Reads until the target holds at least `counts[p]` records of each partition `p`;
    /// returns how long that took; panics after `timeout` with what is missing.
    pub fn wait_covers(&mut self, counts: &[u64], timeout: Duration, what: &str) -> Duration {
        let t0 = Instant::now();
        loop {
            if self.covered.iter().zip(counts).all(|(c, want)| c >= want) {
                return t0.elapsed();
            }
            assert!(
                t0.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}: the target holds {:?} of {:?} \
                 records per partition",
                self.covered,
                counts
            );
            self.advance();
        }
    }

    /// Everything read so far.
    pub fn records(&self) -> &[Rec] {
        self.reader.records()
    }

    /// Reads the rest of the topic (up to its end offsets now) and returns every record read.
    pub fn read_to_end(mut self, timeout: Duration) -> Vec<Rec> {
        self.reader.read_to_end(timeout);
        self.reader.into_records()
    }
}

/// The outcome of [`check_copy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyReport {
    pub source_records: usize,
    pub target_records: usize,
    /// Target records that repeat a record already there (at-least-once).
    pub duplicates: usize,
    /// Source records without a copy on the target (the check panics unless 0; kept for
    /// reports).
    pub lost: usize,
}

/// The exact check of a stream's copy: the source holds exactly the stream's records
/// (`expected[p]` of partition `p`, sequence = offset); the target holds every one of them at
/// least once, the first copies of each partition in source order, and every copy (duplicates
/// too) equal to its source record in key, value, headers and timestamp. Panics with the first
/// difference; returns the counts.
pub fn check_copy(source: &[Rec], target: &[Rec], expected: &[u64]) -> CopyReport {
    let source_by_partition = by_partition(source);
    let mut want: Vec<Vec<&Rec>> = vec![Vec::new(); expected.len()];
    for (p, records) in source_by_partition {
        let slot = want
            .get_mut(p as usize)
            .unwrap_or_else(|| panic!("source partition {p} beyond the stream's partitions"));
        for (i, r) in records.iter().enumerate() {
            let key = parse_stream_key(r.key.as_deref());
            assert_eq!(
                key,
                Some((p, i as u64)),
                "source partition {p} offset {}: not the stream's record {i} (the source itself \
                 lost or reordered records)",
                r.offset
            );
        }
        *slot = records;
    }
    for (p, (records, n)) in want.iter().zip(expected).enumerate() {
        assert_eq!(
            records.len() as u64,
            *n,
            "source partition {p}: records on the source vs. produced by the stream"
        );
    }

    let mut covered = vec![0usize; expected.len()];
    let mut duplicates = 0;
    for (p, records) in by_partition(target) {
        let source = &want[p as usize];
        for r in records {
            let (kp, seq) = parse_stream_key(r.key.as_deref()).unwrap_or_else(|| {
                panic!(
                    "target partition {p} offset {}: a record that is not from the stream",
                    r.offset
                )
            });
            assert_eq!(
                kp, p,
                "target partition {p} offset {}: record of partition {kp}",
                r.offset
            );
            let seq = seq as usize;
            let original = source.get(seq).unwrap_or_else(|| {
                panic!(
                    "target partition {p} offset {}: sequence {seq} was never produced",
                    r.offset
                )
            });
            assert!(
                seq <= covered[p as usize],
                "target partition {p} offset {}: sequence {seq} before {} (lost or reordered)",
                r.offset,
                covered[p as usize]
            );
            assert_eq!(
                r.key, original.key,
                "target partition {p} offset {}: key",
                r.offset
            );
            assert_eq!(
                r.value, original.value,
                "target partition {p} offset {}: value of sequence {seq}",
                r.offset
            );
            assert_eq!(
                r.headers, original.headers,
                "target partition {p} offset {}: headers of sequence {seq}",
                r.offset
            );
            assert_eq!(
                r.timestamp, original.timestamp,
                "target partition {p} offset {}: timestamp of sequence {seq}",
                r.offset
            );
            if seq == covered[p as usize] {
                covered[p as usize] += 1;
            } else {
                duplicates += 1;
            }
        }
    }
    let lost: usize = want.iter().zip(&covered).map(|(w, c)| w.len() - c).sum();
    for (p, (w, c)) in want.iter().zip(&covered).enumerate() {
        assert_eq!(
            *c,
            w.len(),
            "partition {p}: {} of {} source records on the target, first missing: sequence {c}",
            c,
            w.len()
        );
    }
    CopyReport {
        source_records: source.len(),
        target_records: target.len(),
        duplicates,
        lost,
    }
}
