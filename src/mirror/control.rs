//! The record path's control plane: the calls that wait on the network (refreshing the
//! producer's view of a remote topic, reading a source partition's watermarks and its topic's
//! id) run here, on a
//! task of the mirror, and reach the record thread by channel, so that the record thread never
//! waits on them. Routes from topic sync pass through here too: a topic that grew reaches the
//! record loop only once the producer knows its new partitions.

use std::collections::HashMap;
use std::sync::Arc;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::delivery::DeliveryContext;
use super::error::MirrorError;
use super::partitions::SourceLog;
use crate::flow::RouteSet;
use crate::kafka::{native_admin, LogContext, ADMIN_TIMEOUT};
use crate::runtime;
use crate::telemetry::events::{Event, ProducerMetadataStale, WatermarksUnavailable};

/// Requests waiting for the control plane; the record loop tries again later when it is full.
const QUEUE: usize = 64;

/// The first wait before watermarks that could not be read are read again; doubled per failure
/// up to [`WATERMARKS_RETRY_MAX`].
const WATERMARKS_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
const WATERMARKS_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// Watermarks to read again, and when.
struct Retry {
    partitions: Vec<(Arc<str>, i32)>,
    at: tokio::time::Instant,
    backoff: std::time::Duration,
}

/// What the record loop asks for.
#[derive(Debug)]
pub enum Request {
    /// Refresh the producer's metadata of this remote topic (a delivery failure may come from a
    /// stale view of it).
    RefreshMetadata(Arc<str>),
    /// The low and high watermarks of these source partitions and their topics' ids (their
    /// position fell out of range).
    Watermarks(Vec<(Arc<str>, i32)>),
}

/// The source logs asked for, per source partition (only those that could be read: the others
/// are read again until they can be).
pub type Watermarks = Vec<((Arc<str>, i32), SourceLog)>;

/// What one read of source logs found, per partition.
type Read = Vec<((Arc<str>, i32), Result<SourceLog, KafkaError>)>;

/// The record loop's end of the channels.
pub struct Handle {
    requests: mpsc::Sender<Request>,
    answers: mpsc::Receiver<Watermarks>,
    /// The routes to copy, once the producer knows their partitions.
    pub routes: watch::Receiver<RouteSet>,
}

impl Handle {
    /// Hands `request` to the control plane without waiting; `Ok(false)` when its queue is
    /// full (ask again later).
    pub fn request(&self, request: Request) -> Result<bool, MirrorError> {
        match self.requests.try_send(request) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(_)) => Ok(false),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(MirrorError::ControlGone),
        }
    }

    /// The next answer, if one is ready.
    pub fn answer(&mut self) -> Result<Option<Watermarks>, MirrorError> {
        match self.answers.try_recv() {
            Ok(a) => Ok(Some(a)),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(MirrorError::ControlGone),
        }
    }
}

/// The control plane of one mirror's record path.
pub struct ControlPlane {
    producer: Arc<BaseProducer<DeliveryContext>>,
    /// A plain consumer of the source, for watermarks.
    source: Arc<BaseConsumer<LogContext>>,
    routes_in: watch::Receiver<RouteSet>,
    routes_out: watch::Sender<RouteSet>,
    requests: mpsc::Receiver<Request>,
    answers: mpsc::Sender<Watermarks>,
}

/// The control plane and the record loop's handle on it.
pub fn channels(
    producer: Arc<BaseProducer<DeliveryContext>>,
    source: BaseConsumer<LogContext>,
    routes_in: watch::Receiver<RouteSet>,
) -> (ControlPlane, Handle) {
    let (req_tx, req_rx) = mpsc::channel(QUEUE);
    let (ans_tx, ans_rx) = mpsc::channel(QUEUE);
    let (routes_out, routes) = watch::channel(RouteSet::default());
    (
        ControlPlane {
            producer,
            source: Arc::new(source),
            routes_in,
            routes_out,
            requests: req_rx,
            answers: ans_tx,
        },
        Handle {
            requests: req_tx,
            answers: ans_rx,
            routes,
        },
    )
}

impl ControlPlane {
    /// Serves routes and requests until cancelled or until the record loop is gone.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), MirrorError> {
        // Remote topic -> partitions the record loop was given.
        let mut known: HashMap<Arc<str>, i32> = HashMap::new();
        let mut retry = Retry {
            partitions: Vec::new(),
            at: tokio::time::Instant::now(),
            backoff: WATERMARKS_RETRY,
        };
        self.routes_in.mark_changed();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                changed = self.routes_in.changed() => {
                    if changed.is_err() {
                        // Topic sync ended: its own exit is what the supervisor reports.
                        cancel.cancelled().await;
                        return Ok(());
                    }
                    let set = self.routes_in.borrow_and_update().clone();
                    for route in set.iter() {
                        let grew = known.get(&route.remote_topic).is_some_and(|&n| route.partitions > n);
                        if grew && !self.refresh(&route.remote_topic, &cancel).await {
                            return Ok(());
                        }
                    }
                    known = set.iter().map(|r| (Arc::clone(&r.remote_topic), r.partitions)).collect();
                    self.routes_out.send_replace(set);
                }
                request = self.requests.recv() => match request {
                    None => {
                        // The record loop ended: its own exit is what the supervisor reports.
                        cancel.cancelled().await;
                        return Ok(());
                    }
                    Some(Request::RefreshMetadata(remote)) => {
                        if !self.refresh(&remote, &cancel).await {
                            return Ok(());
                        }
                    }
                    Some(Request::Watermarks(partitions)) => {
                        if !self.watermarks(partitions, &mut retry, &cancel).await {
                            return Ok(());
                        }
                    }
                },
                _ = tokio::time::sleep_until(retry.at), if !retry.partitions.is_empty() => {
                    let partitions = std::mem::take(&mut retry.partitions);
                    if !self.watermarks(partitions, &mut retry, &cancel).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Reads the watermarks of `partitions` and answers those it could read; the others are
    /// read again after a backoff (until they can be: a partition waiting for them does not
    /// copy, so giving up would stall it). Returns false when cancelled or the record loop is
    /// gone.
    async fn watermarks(
        &self,
        partitions: Vec<(Arc<str>, i32)>,
        retry: &mut Retry,
        cancel: &CancellationToken,
    ) -> bool {
        let source = Arc::clone(&self.source);
        let asked = partitions.clone();
        let read = runtime::blocking(move || source_logs(&source, partitions));
        let read = tokio::select! {
            _ = cancel.cancelled() => return false,
            a = read => a,
        };
        let read = match read {
            Ok(read) => read,
            Err(e) => {
                // The read itself failed to run: every partition is read again.
                tracing::warn!(error = %e, "watermark read did not finish; reading again");
                retry.at = tokio::time::Instant::now() + retry.backoff;
                for f in asked {
                    if !retry.partitions.contains(&f) {
                        retry.partitions.push(f);
                    }
                }
                return true;
            }
        };
        let mut answer = Watermarks::new();
        let mut failed = Vec::new();
        for ((topic, p), w) in read {
            match w {
                Ok(w) => answer.push(((topic, p), w)),
                Err(e) => {
                    WatermarksUnavailable {
                        topic: &topic,
                        partition: p,
                        error: &e,
                        retry_in: retry.backoff,
                    }
                    .emit();
                    failed.push((topic, p));
                }
            }
        }
        if failed.is_empty() {
            retry.backoff = WATERMARKS_RETRY;
        } else {
            retry.at = tokio::time::Instant::now() + retry.backoff;
            retry.backoff = (retry.backoff * 2).min(WATERMARKS_RETRY_MAX);
            for f in failed {
                if !retry.partitions.contains(&f) {
                    retry.partitions.push(f);
                }
            }
        }
        if !answer.is_empty() && self.answers.send(answer).await.is_err() {
            cancel.cancelled().await;
            return false;
        }
        true
    }

    /// Asks the producer for the metadata of `remote`, so that it learns new partitions.
    /// Returns false when cancelled.
    async fn refresh(&self, remote: &Arc<str>, cancel: &CancellationToken) -> bool {
        let producer = Arc::clone(&self.producer);
        let topic = Arc::clone(remote);
        let refreshed = runtime::blocking(move || {
            producer
                .client()
                .fetch_metadata(Some(&topic), ADMIN_TIMEOUT)
                .map(|_| ())
        });
        let result = tokio::select! {
            _ = cancel.cancelled() => return false,
            r = refreshed => r,
        };
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => ProducerMetadataStale { remote, error: &e }.emit(),
            Err(e) => {
                tracing::warn!(remote = %remote, error = %e, "producer metadata refresh did not finish")
            }
        }
        true
    }
}

/// The watermarks of `partitions` and their topics' current ids, read after the watermarks (a
/// topic re-created in between shows its new id with the old log's watermarks at worst, which
/// the partition takes for a re-creation: copied again from the start, nothing skipped).
/// Without an id (the request failed, or the source has none) a partition decides from the
/// watermarks alone. Blocking.
fn source_logs(source: &BaseConsumer<LogContext>, partitions: Vec<(Arc<str>, i32)>) -> Read {
    let marks: Vec<_> = partitions
        .into_iter()
        .map(|(topic, p)| {
            let w = source.fetch_watermarks(&topic, p, ADMIN_TIMEOUT);
            ((topic, p), w)
        })
        .collect();
    let mut topics: Vec<String> = marks
        .iter()
        .filter(|(_, w)| w.is_ok())
        .map(|((t, _), _)| t.to_string())
        .collect();
    topics.sort();
    topics.dedup();
    let ids = match native_admin::describe_topic_ids(source.client(), &topics) {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the source topics' ids; judging positions out of range by the watermarks alone");
            Default::default()
        }
    };
    marks
        .into_iter()
        .map(|((topic, p), w)| {
            let log = w.map(|(low, high)| SourceLog {
                low,
                high,
                topic_id: ids.get(&*topic).cloned().flatten(),
            });
            ((topic, p), log)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rdkafka::mocking::MockCluster;
    use rdkafka::types::RDKafkaApiKey;
    use rdkafka::types::RDKafkaRespErr;

    use super::*;
    use crate::config::ClusterConfig;
    use crate::kafka;

    fn cluster(bootstrap: &str) -> ClusterConfig {
        ClusterConfig::plaintext("A", bootstrap)
    }

    /// librdkafka's mock cluster, for what a real broker does not do on demand: refusing the
    /// watermark requests a few times. The record loop gets the watermarks once they can be
    /// read; it is never left without an answer (which stalled the partition).
    #[tokio::test]
    async fn watermarks_that_cannot_be_read_are_read_again_until_they_can() {
        let mock = MockCluster::new(1).expect("mock cluster");
        mock.create_topic("orders", 1, 1).expect("topic");
        let c = cluster(&mock.bootstrap_servers());
        let producer = Arc::new(
            kafka::record_producer(
                &c,
                "test|producer",
                DeliveryContext::new(LogContext::new("test|producer")),
            )
            .expect("producer"),
        );
        let source = kafka::reader_consumer(&c, "test|watermarks").expect("consumer");
        let (_routes_tx, routes_rx) = watch::channel(RouteSet::default());
        let (control, mut handle) = channels(producer, source, routes_rx);
        let cancel = CancellationToken::new();
        let mut tasks = runtime::TaskSet::default();
        tasks.spawn("control plane", control.run(cancel.clone()));

        // Refused twice (not a retriable error for librdkafka's own retries), then answered.
        mock.request_errors(
            RDKafkaApiKey::ListOffsets,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 2],
        );
        assert!(handle
            .request(Request::Watermarks(vec![(Arc::from("orders"), 0)]))
            .expect("control plane running"));
        // The mock cluster does not answer the topic-id lookup that follows the watermarks
        // (DescribeTopics): each read waits for its 30 s request timeout, then goes on without.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let answer = loop {
            if let Some(a) = handle.answer().expect("control plane running") {
                break a;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no watermarks within 120 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(answer.len(), 1);
        let ((topic, partition), log) = &answer[0];
        assert_eq!(
            (&**topic, *partition, log.low, log.high),
            ("orders", 0, 0, 0)
        );
        cancel.cancel();
        let (_, exit) = tasks.join_next().await.expect("the task");
        assert!(
            matches!(exit, runtime::Exit::Returned(Ok(()))),
            "control plane ended with {exit:?}"
        );
    }
}
