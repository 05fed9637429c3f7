//! rdkafka helpers the tests use to set up source data and to read what strait wrote: topic
//! admin, fast producing (plain and transactional), reading whole topics and following a topic
//! while it grows. Every helper takes the bootstrap address, so it works on any cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Message, Offset, Timestamp, TopicPartitionList};

use super::util::{random_u64, wait_for};

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs an rdkafka admin future to completion (the tests themselves are synchronous).
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(ADMIN_TIMEOUT))
        .operation_timeout(Some(ADMIN_TIMEOUT))
}

/// Creates `topic` (replication factor 1) with `configs`, then waits until the metadata shows
/// all partitions. Panics if the topic exists already: test topics are unique.
pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        new = new.set(k, v);
    }
    let results = block_on(admin(bootstrap).create_topics([&new], &admin_options()))
        .unwrap_or_else(|e| panic!("create topic {topic}: {e}"));
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("create topic {t} on {bootstrap}: {e}"));
    }
    wait_for(
        ADMIN_TIMEOUT,
        &format!("{topic} to show {partitions} partitions"),
        || (partition_count(bootstrap, topic) == Some(partitions as usize)).then_some(()),
    );
}

/// Deletes `topic` (the controller accepted it) without waiting until the metadata no longer
/// shows it: for a topic that something else (strait's topic sync) may create again at once,
/// where the window in which it is gone can be too short to see.
pub fn request_topic_deletion(bootstrap: &str, topic: &str) {
    let results = block_on(admin(bootstrap).delete_topics(&[topic], &admin_options()))
        .unwrap_or_else(|e| panic!("delete topic {topic}: {e}"));
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("delete topic {t} on {bootstrap}: {e}"));
    }
}

/// Deletes `topic` and waits until the metadata no longer shows it.
pub fn delete_topic(bootstrap: &str, topic: &str) {
    request_topic_deletion(bootstrap, topic);
    wait_for(ADMIN_TIMEOUT, &format!("{topic} gone"), || {
        partition_count(bootstrap, topic).is_none().then_some(())
    });
}

/// Grows `topic` to `total` partitions and waits until the metadata shows them.
pub fn add_partitions(bootstrap: &str, topic: &str, total: usize) {
    let new = NewPartitions::new(topic, total);
    let results = block_on(admin(bootstrap).create_partitions([&new], &admin_options()))
        .unwrap_or_else(|e| panic!("add partitions to {topic}: {e}"));
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("add partitions to {t}: {e}"));
    }
    wait_for(
        ADMIN_TIMEOUT,
        &format!("{topic} to show {total} partitions"),
        || (partition_count(bootstrap, topic) == Some(total)).then_some(()),
    );
}

/// Deletes the records of `topic`'s `partition` below `before` (DeleteRecords, what retention
/// does to old segments): the partition's log then starts at `before`.
pub fn delete_records(bootstrap: &str, topic: &str, partition: i32, before: i64) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(before))
        .expect("delete-records offset");
    let result = block_on(admin(bootstrap).delete_records(&tpl, &admin_options()))
        .unwrap_or_else(|e| panic!("delete records of {topic}-{partition}: {e}"));
    for e in result.elements() {
        if let Err(err) = e.error() {
            panic!("delete records of {topic}-{partition}: {err}");
        }
    }
}

/// The low watermark (log start) of `topic`'s `partition`.
pub fn log_start(bootstrap: &str, topic: &str, partition: i32) -> i64 {
    metadata_client(bootstrap)
        .fetch_watermarks(topic, partition, METADATA_TIMEOUT)
        .unwrap_or_else(|e| panic!("watermarks of {topic}-{partition}: {e}"))
        .0
}

/// One config value of a topic as the broker reports it.
pub fn topic_config(bootstrap: &str, topic: &str, key: &str) -> Option<String> {
    let results = block_on(
        admin(bootstrap).describe_configs([&ResourceSpecifier::Topic(topic)], &admin_options()),
    )
    .unwrap_or_else(|e| panic!("describe configs of {topic}: {e}"));
    let resource = results
        .into_iter()
        .next()?
        .unwrap_or_else(|e| panic!("describe configs of {topic}: {e}"));
    resource.get(key).and_then(|entry| entry.value.clone())
}

/// Replaces all topic-level overrides of `topic` with `configs` (the legacy AlterConfigs
/// request: overrides not listed are removed).
pub fn set_topic_configs(bootstrap: &str, topic: &str, configs: &[(&str, &str)]) {
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (k, v) in configs {
        alter = alter.set(k, v);
    }
    let results = block_on(admin(bootstrap).alter_configs([&alter], &admin_options()))
        .unwrap_or_else(|e| panic!("alter configs of {topic}: {e}"));
    for r in results {
        r.unwrap_or_else(|(_, e)| panic!("alter configs of {topic} on {bootstrap}: {e}"));
    }
}

/// The topic-level overrides of `topic` (configs set on the topic itself), name -> value.
pub fn topic_overrides(bootstrap: &str, topic: &str) -> BTreeMap<String, String> {
    let results = block_on(
        admin(bootstrap).describe_configs([&ResourceSpecifier::Topic(topic)], &admin_options()),
    )
    .unwrap_or_else(|e| panic!("describe configs of {topic}: {e}"));
    let resource = results
        .into_iter()
        .next()
        .expect("one resource")
        .unwrap_or_else(|e| panic!("describe configs of {topic}: {e}"));
    resource
        .entries
        .into_iter()
        .filter(|e| e.source == rdkafka::admin::ConfigSource::DynamicTopic)
        .filter_map(|e| Some((e.name, e.value?)))
        .collect()
}

/// A client for metadata and watermarks (a consumer that never joins a group).
fn metadata_client(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("allow.auto.create.topics", "false")
        .create()
        .expect("metadata client")
}

/// All topic names of the cluster. Full metadata only: a metadata request for one missing
/// topic could auto-create it on brokers that allow that.
pub fn list_topics(bootstrap: &str) -> BTreeSet<String> {
    let md = metadata_client(bootstrap)
        .fetch_metadata(None, METADATA_TIMEOUT)
        .unwrap_or_else(|e| panic!("metadata of {bootstrap}: {e}"));
    md.topics().iter().map(|t| t.name().to_string()).collect()
}

/// A metadata request for the single topic `topic` from a client that allows auto-creation (as
/// librdkafka's producers do by default): the request that creates a missing topic on brokers
/// with `auto.create.topics.enable=true`. For tests that show what such a request does; whether
/// the broker answered is not the point, so errors are ignored.
pub fn request_topic_metadata(bootstrap: &str, topic: &str) {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("allow.auto.create.topics", "true")
        .create()
        .expect("metadata client");
    let _ = client.fetch_metadata(Some(topic), METADATA_TIMEOUT);
}

/// Topic names of the cluster that contain `fragment`.
pub fn topics_containing(bootstrap: &str, fragment: &str) -> BTreeSet<String> {
    list_topics(bootstrap)
        .into_iter()
        .filter(|t| t.contains(fragment))
        .collect()
}

/// Number of partitions of `topic`, `None` if it does not exist.
pub fn partition_count(bootstrap: &str, topic: &str) -> Option<usize> {
    let md = metadata_client(bootstrap)
        .fetch_metadata(None, METADATA_TIMEOUT)
        .unwrap_or_else(|e| panic!("metadata of {bootstrap}: {e}"));
    md.topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
}

/// The end offset (high watermark) of every partition of `topic`, indexed by partition; empty
/// if the topic does not exist. A partition whose leader is not elected yet (a topic just
/// created) is asked again until it answers, within the metadata timeout.
pub fn end_offsets(bootstrap: &str, topic: &str) -> Vec<i64> {
    let client = metadata_client(bootstrap);
    let n = partition_count(bootstrap, topic).unwrap_or(0);
    (0..n as i32)
        .map(|p| {
            let deadline = Instant::now() + METADATA_TIMEOUT;
            loop {
                match client.fetch_watermarks(topic, p, METADATA_TIMEOUT) {
                    Ok((_, high)) => break high,
                    Err(e)
                        if Instant::now() < deadline
                            && matches!(
                                e.rdkafka_error_code(),
                                Some(
                                    RDKafkaErrorCode::NotLeaderForPartition
                                        | RDKafkaErrorCode::LeaderNotAvailable
                                )
                            ) =>
                    {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Err(e) => panic!("watermarks of {topic}/{p}: {e}"),
                }
            }
        })
        .collect()
}

/// A record to produce. `partition: None` lets the partitioner choose.
#[derive(Debug, Clone, Default)]
pub struct OutRecord {
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// CreateTime in ms; `None` = the producer's clock.
    pub timestamp: Option<i64>,
}

impl OutRecord {
    /// A record for `partition` with the given value and no key.
    pub fn to_partition(partition: i32, value: impl Into<Vec<u8>>) -> OutRecord {
        OutRecord {
            partition: Some(partition),
            value: Some(value.into()),
            ..OutRecord::default()
        }
    }
}

/// `(partition, offset)` or the error, once the delivery report is in.
type Delivery = Option<Result<(i32, i64), String>>;

/// Collects delivery reports by record index.
struct DeliveryLog {
    results: Mutex<Vec<Delivery>>,
}

impl ClientContext for DeliveryLog {}

impl ProducerContext for DeliveryLog {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let outcome = match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.to_string()),
        };
        self.results.lock().unwrap()[index] = Some(outcome);
    }
}

fn producer(
    bootstrap: &str,
    n: usize,
    transactional_id: Option<&str>,
) -> BaseProducer<DeliveryLog> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        // Idempotence keeps per-partition order across internal retries, so the offsets of a
        // partition follow the order of `records` (the restart tests rely on that).
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("message.timeout.ms", "60000");
    if let Some(id) = transactional_id {
        config.set("transactional.id", id);
    }
    config
        .create_with_context(DeliveryLog {
            results: Mutex::new(vec![None; n]),
        })
        .expect("producer")
}

fn send_all(
    producer: &BaseProducer<DeliveryLog>,
    topic: &str,
    records: &[OutRecord],
    first_index: usize,
) {
    for (i, r) in records.iter().enumerate() {
        let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
        for (k, v) in &r.headers {
            headers = headers.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut record: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(topic, first_index + i).headers(headers);
        if let Some(p) = r.partition {
            record = record.partition(p);
        }
        if let Some(k) = &r.key {
            record = record.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            record = record.payload(v.as_slice());
        }
        if let Some(ts) = r.timestamp {
            record = record.timestamp(ts);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("produce to {topic}: {e}"),
            }
        }
        if i % 1000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
}

fn collect_deliveries(producer: &BaseProducer<DeliveryLog>, topic: &str) -> Vec<(i32, i64)> {
    producer
        .flush(FLUSH_TIMEOUT)
        .unwrap_or_else(|e| panic!("flush to {topic}: {e}"));
    let results = std::mem::take(&mut *producer.context().results.lock().unwrap());
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| match r {
            Some(Ok(po)) => po,
            Some(Err(e)) => panic!("record {i} to {topic} failed: {e}"),
            None => panic!("record {i} to {topic}: no delivery report after flush"),
        })
        .collect()
}

/// Produces `records` (acks=all, idempotent, batched) and returns the `(partition, offset)` of
/// each, in input order.
pub fn produce(bootstrap: &str, topic: &str, records: &[OutRecord]) -> Vec<(i32, i64)> {
    let producer = producer(bootstrap, records.len(), None);
    send_all(&producer, topic, records, 0);
    collect_deliveries(&producer, topic)
}

/// Produces each batch in its own transaction and commits it (`true`) or aborts it (`false`)
/// after the records were written to the log. Returns the `(partition, offset)` of every record
/// in input order (aborted ones included: they occupy offsets too).
pub fn produce_transactions(
    bootstrap: &str,
    topic: &str,
    batches: &[(Vec<OutRecord>, bool)],
) -> Vec<(i32, i64)> {
    let total = batches.iter().map(|(b, _)| b.len()).sum();
    let id = format!("strait-it-{:016x}", random_u64());
    let producer = producer(bootstrap, total, Some(&id));
    producer
        .init_transactions(ADMIN_TIMEOUT)
        .unwrap_or_else(|e| panic!("init transactions: {e}"));
    let mut index = 0;
    for (records, commit) in batches {
        producer.begin_transaction().expect("begin transaction");
        send_all(&producer, topic, records, index);
        index += records.len();
        // Flush first, so that even the aborted records really are in the log.
        producer.flush(FLUSH_TIMEOUT).expect("flush transaction");
        if *commit {
            producer
                .commit_transaction(ADMIN_TIMEOUT)
                .expect("commit transaction");
        } else {
            producer
                .abort_transaction(ADMIN_TIMEOUT)
                .expect("abort transaction");
        }
    }
    collect_deliveries(&producer, topic)
}

/// A transaction left open: its records are in the log (past the last stable offset) until
/// [`OpenTransaction::commit`]; dropped without a commit, the broker aborts it after the
/// producer's `transaction.timeout.ms`.
pub struct OpenTransaction {
    producer: BaseProducer<DeliveryLog>,
}

impl OpenTransaction {
    /// Begins a transaction, writes `records` to `topic` and flushes them, and leaves it open.
    pub fn begin(bootstrap: &str, topic: &str, records: &[OutRecord]) -> OpenTransaction {
        let id = format!("strait-it-open-{:016x}", random_u64());
        let producer = producer(bootstrap, records.len(), Some(&id));
        producer
            .init_transactions(ADMIN_TIMEOUT)
            .unwrap_or_else(|e| panic!("init transactions: {e}"));
        producer.begin_transaction().expect("begin transaction");
        send_all(&producer, topic, records, 0);
        producer.flush(FLUSH_TIMEOUT).expect("flush transaction");
        OpenTransaction { producer }
    }

    pub fn commit(self) {
        self.producer
            .commit_transaction(ADMIN_TIMEOUT)
            .expect("commit transaction");
    }
}

/// Produces each batch in its own committed transaction, with `producers` transactional
/// producers at once (transaction `t` by producer `t % producers`; the records are not flushed
/// before each commit, which waits for the coordinator anyway). Returns the `(partition,
/// offset)` of every record in input order. For many small transactions: every commit leaves a
/// marker in the log, so each transaction ends in a gap in the offsets; concurrent producers
/// interleave their transactions.
pub fn produce_committed_transactions(
    bootstrap: &str,
    topic: &str,
    transactions: &[Vec<OutRecord>],
    producers: usize,
) -> Vec<(i32, i64)> {
    let per_producer: Vec<Vec<(i32, i64)>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..producers)
            .map(|p| {
                scope.spawn(move || {
                    let mine: Vec<&Vec<OutRecord>> =
                        transactions.iter().skip(p).step_by(producers).collect();
                    let total = mine.iter().map(|t| t.len()).sum();
                    let id = format!("strait-it-{:016x}", random_u64());
                    let producer = producer(bootstrap, total, Some(&id));
                    producer
                        .init_transactions(ADMIN_TIMEOUT)
                        .unwrap_or_else(|e| panic!("init transactions: {e}"));
                    let mut index = 0;
                    for records in mine {
                        producer.begin_transaction().expect("begin transaction");
                        send_all(&producer, topic, records, index);
                        index += records.len();
                        producer
                            .commit_transaction(ADMIN_TIMEOUT)
                            .expect("commit transaction");
                    }
                    collect_deliveries(&producer, topic)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("producer thread"))
            .collect()
    });
    // Back to input order: producer p holds transactions p, p + producers, ...
    let mut next: Vec<std::vec::IntoIter<(i32, i64)>> =
        per_producer.into_iter().map(Vec::into_iter).collect();
    transactions
        .iter()
        .enumerate()
        .flat_map(|(t, records)| {
            let from = &mut next[t % producers];
            records
                .iter()
                .map(|_| from.next().expect("a delivery per record"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A record as read back from a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Timestamp,
}

impl Rec {
    fn from_message(m: &BorrowedMessage<'_>) -> Rec {
        Rec {
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers: m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default(),
            timestamp: m.timestamp(),
        }
    }

    /// The value as UTF-8 (lossy), for the tests whose values are text.
    pub fn value_str(&self) -> String {
        String::from_utf8_lossy(self.value.as_deref().unwrap_or_default()).into_owned()
    }
}

/// Groups records by partition, keeping their order.
pub fn by_partition(records: &[Rec]) -> BTreeMap<i32, Vec<&Rec>> {
    let mut map: BTreeMap<i32, Vec<&Rec>> = BTreeMap::new();
    for r in records {
        map.entry(r.partition).or_default().push(r);
    }
    map
}

/// Follows one topic from the beginning of every partition, also once it is created later
/// and when it gains partitions. Reads committed data only. Keeps everything it has read.
pub struct TopicReader {
    bootstrap: String,
    topic: String,
    /// Replaced by a fresh consumer on every re-assignment: re-assigning a live librdkafka
    /// consumer while it fetches can trip an assertion in librdkafka 2.12
    /// (`rd_kafka_assignment_partition_stopped`).
    consumer: Option<BaseConsumer>,
    /// Next offset to read per assigned partition.
    next: Vec<i64>,
    /// Partitions whose end was reached by the last fetch (and nothing newer read since).
    eof: Vec<bool>,
    records: Vec<Rec>,
    last_metadata_check: Option<Instant>,
}

impl TopicReader {
    pub fn new(bootstrap: &str, topic: &str) -> TopicReader {
        TopicReader {
            bootstrap: bootstrap.to_string(),
            topic: topic.to_string(),
            consumer: None,
            next: Vec::new(),
            eof: Vec::new(),
            records: Vec::new(),
            last_metadata_check: None,
        }
    }

    fn new_consumer(&self) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            // A group id is needed for the consumer queue; nothing is ever committed.
            .set(
                "group.id",
                format!("strait-it-reader-{:016x}", random_u64()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false")
            .set("fetch.wait.max.ms", "100")
            .create()
            .expect("reader consumer")
    }

    /// Re-checks the partition count (at most once a second) and assigns new partitions from
    /// their beginning, the known ones from where reading stopped.
    /// `force` re-assigns even without new partitions, which restarts fetching and so yields a
    /// fresh end-of-partition event for partitions already at their end.
    fn refresh_assignment(&mut self, force: bool) {
        if !force
            && self
                .last_metadata_check
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_metadata_check = Some(Instant::now());
        let n = partition_count(&self.bootstrap, &self.topic).unwrap_or(0);
        if n == 0 || (n <= self.next.len() && !force) {
            return;
        }
        self.next.resize(n.max(self.next.len()), 0);
        self.eof = vec![false; self.next.len()];
        let mut tpl = TopicPartitionList::new();
        for (p, next) in self.next.iter().enumerate() {
            tpl.add_partition_offset(&self.topic, p as i32, Offset::Offset(*next))
                .expect("partition offset");
        }
        self.consumer = None;
        let consumer = self.new_consumer();
        consumer.assign(&tpl).expect("assign");
        self.consumer = Some(consumer);
    }

    /// Reads for up to `duration`.
    pub fn poll_for(&mut self, duration: Duration) {
        let deadline = Instant::now() + duration;
        loop {
            self.refresh_assignment(false);
            let remaining = deadline.saturating_duration_since(Instant::now());
            let Some(consumer) = &self.consumer else {
                // The topic does not exist yet.
                std::thread::sleep(remaining.min(Duration::from_millis(100)));
                if Instant::now() >= deadline {
                    return;
                }
                continue;
            };
            let polled = consumer
                .poll(remaining.min(Duration::from_millis(100)))
                .map(|r| r.map(|m| Rec::from_message(&m)));
            match polled {
                Some(Ok(rec)) => {
                    let p = rec.partition as usize;
                    self.next[p] = rec.offset + 1;
                    self.eof[p] = false;
                    self.records.push(rec);
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    if let Some(e) = self.eof.get_mut(p as usize) {
                        *e = true;
                    }
                }
                Some(Err(e)) => eprintln!("[harness] reader of {}: {e}", self.topic),
                None => {}
            }
            if Instant::now() >= deadline {
                return;
            }
        }
    }

    /// Reads until `condition(records so far)` holds; panics after `timeout`.
    pub fn wait_until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut condition: impl FnMut(&[Rec]) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if condition(&self.records) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what} (read {} records of {} so far)",
                    self.records.len(),
                    self.topic
                );
            }
            self.poll_for(Duration::from_millis(200));
        }
    }

    /// Reads until at least `n` records were read; panics after `timeout`.
    pub fn wait_for_count(&mut self, n: usize, timeout: Duration) {
        let what = format!("{n} records in {}", self.topic);
        self.wait_until(timeout, &what, |r| r.len() >= n);
    }

    /// Reads until every partition that existed at the call is read up to its current end.
    pub fn read_to_end(&mut self, timeout: Duration) {
        let ends = end_offsets(&self.bootstrap, &self.topic);
        self.refresh_assignment(true);
        let deadline = Instant::now() + timeout;
        loop {
            // A partition is done when a record at or past its end was read, or when the
            // consumer reported end-of-partition (for read_committed that is the last stable
            // offset; control records and aborted data never come back as records).
            let done = ends.iter().enumerate().all(|(p, &end)| {
                end == 0
                    || self.next.get(p).is_some_and(|&n| n >= end)
                    || self.eof.get(p) == Some(&true)
            });
            if done {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} reading {} to its end offsets {ends:?} (at {:?})",
                    self.topic, self.next
                );
            }
            self.poll_for(Duration::from_millis(100));
        }
    }

    pub fn records(&self) -> &[Rec] {
        &self.records
    }

    pub fn into_records(self) -> Vec<Rec> {
        self.records
    }
}

/// Every committed record of `topic`, read from the beginning up to the end offsets at the time
/// of the call; empty if the topic does not exist.
pub fn read_all(bootstrap: &str, topic: &str, timeout: Duration) -> Vec<Rec> {
    let mut reader = TopicReader::new(bootstrap, topic);
    reader.read_to_end(timeout);
    reader.into_records()
}

/// Commits `offsets` (topic, partition, next offset to read) for `group` on a cluster, as a
/// consumer that read up to there would (without joining the group, so it stays empty).
pub fn commit_group_offsets(bootstrap: &str, group: &str, offsets: &[(&str, i32, i64)]) {
    let consumer = group_consumer(bootstrap, group);
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, offset) in offsets {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("add partition");
    }
    consumer
        .commit(&tpl, rdkafka::consumer::CommitMode::Sync)
        .unwrap_or_else(|e| panic!("commit offsets of group {group}: {e}"));
}

/// The committed offsets of `group` for `topic` partitions `0..partitions` (None: no commit).
pub fn group_offsets(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Vec<Option<i64>> {
    let consumer = group_consumer(bootstrap, group);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = consumer
        .committed_offsets(tpl, ADMIN_TIMEOUT)
        .unwrap_or_else(|e| panic!("committed offsets of group {group}: {e}"));
    (0..partitions)
        .map(
            |p| match committed.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => Some(o),
                _ => None,
            },
        )
        .collect()
}

/// A consumer that is a live member of `group` (subscribed, polling, never committing) until
/// dropped.
pub struct ActiveMember {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ActiveMember {
    /// Joins `group` on `topic` and returns once the member has its assignment.
    pub fn join(bootstrap: &str, group: &str, topic: &str) -> ActiveMember {
        use std::sync::atomic::{AtomicBool, Ordering};
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "latest")
            .create()
            .expect("member consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut announced = false;
            while !flag.load(Ordering::SeqCst) {
                let _ = consumer.poll(Duration::from_millis(100));
                if !announced && consumer.assignment().is_ok_and(|a| a.count() > 0) {
                    let _ = ready_tx.send(());
                    announced = true;
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the member joined its group within 60 s");
        ActiveMember {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ActiveMember {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A consumer of `group` that never joins it or commits by itself: for reading and writing
/// the group's committed offsets.
fn group_consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("group consumer")
}

/// Resumes `group` on `topic` partitions `0..partitions` the way an application restarted on
/// this cluster would: from the group's committed offsets (a partition without one is an error,
/// never a silent reset), reading up to the end, then committing where it stopped. Returns the
/// records read.
pub fn resume_as_group(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Vec<Rec> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "error")
        .set("isolation.level", "read_committed")
        .create()
        .expect("group consumer");
    let starts = group_offsets(bootstrap, group, topic, partitions);
    let mut tpl = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for (p, start) in starts.iter().enumerate() {
        let p = p as i32;
        let start = start.unwrap_or_else(|| {
            panic!("group {group} has no committed offset for {topic}:{p} on {bootstrap}")
        });
        let (_, high) = consumer
            .fetch_watermarks(topic, p, ADMIN_TIMEOUT)
            .expect("watermarks");
        if start < high {
            ends.insert(p, high);
        }
        tpl.add_partition_offset(topic, p, Offset::Offset(start))
            .expect("add partition");
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    loop {
        let position = consumer.position().expect("position");
        let done = ends.iter().all(|(p, high)| {
            matches!(position.find_partition(topic, *p).map(|e| e.offset()), Some(Offset::Offset(o)) if o >= *high)
        });
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "group {group} did not reach the end of {topic} within {timeout:?}"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(Rec::from_message(&m)),
            Some(Err(e)) => panic!("group {group} reading {topic}: {e}"),
            None => {}
        }
    }
    let mut stop = TopicPartitionList::new();
    for (p, start) in starts.iter().enumerate() {
        let read_to = out
            .iter()
            .filter(|r| r.partition == p as i32)
            .map(|r| r.offset + 1)
            .max();
        let at = read_to.or(*start).expect("a start offset");
        stop.add_partition_offset(topic, p as i32, Offset::Offset(at))
            .expect("add partition");
    }
    consumer
        .commit(&stop, rdkafka::consumer::CommitMode::Sync)
        .expect("commit where the group stopped");
    out
}
