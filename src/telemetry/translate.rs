//! `POST /translate?from=A&to=B`: offsets kept outside Kafka (Flink or Spark checkpoints,
//! databases) translated through the mirrors' offset maps, exactly as
//! `strait translate --input` does, for a program that would rather ask the running daemon than
//! run the command. The body is the command's input (a JSON array of
//! `{"topic", "partition", "offset"}` objects, or one offset per line); the answer is the
//! command's `--output json`, with the same exactness labels.
//!
//! Bounded like the rest of the endpoint: behind the bearer token, a body of at most
//! [`MAX_BODY`] read within `http.header_read_timeout`, one translation at a time (each reads the
//! offset maps from the clusters; a second request meanwhile gets 429 and `Retry-After`), and the
//! reading done on a blocking thread, off the runtime that serves `/metrics` and the probes.

use std::sync::Arc;
use std::time::Instant;

use http_body_util::BodyExt as _;
use hyper::body::{Body, Bytes};
use hyper::StatusCode;
use serde_json::json;

use crate::config::Config;
use crate::dr::translate::{ExternalOffset, Link};
use crate::dr::DrError;

/// The largest body accepted: about 20,000 offsets.
pub const MAX_BODY: u64 = 1024 * 1024;

/// What a request is answered with: a status and a JSON body.
pub struct Answer {
    pub status: StatusCode,
    pub body: serde_json::Value,
    /// 429: seconds after which to try again.
    pub retry_after: Option<u32>,
}

impl Answer {
    fn new(status: StatusCode, body: serde_json::Value) -> Answer {
        Answer {
            status,
            body,
            retry_after: None,
        }
    }

    fn error(status: StatusCode, error: impl Into<String>) -> Answer {
        Answer::new(status, json!({ "error": error.into() }))
    }
}

/// One translation at a time.
pub struct Translations {
    running: tokio::sync::Semaphore,
}

impl Default for Translations {
    fn default() -> Self {
        Translations {
            running: tokio::sync::Semaphore::new(1),
        }
    }
}

impl Translations {
    /// Reads the body (bounded in size and time) and answers. The method and the token are
    /// checked by the caller.
    pub async fn answer<B>(
        &self,
        config: &Arc<Config>,
        query: Option<&str>,
        body: B,
        read_timeout: std::time::Duration,
    ) -> Answer
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if body.size_hint().lower() > MAX_BODY {
            return too_large();
        }
        let (Some(from), Some(to)) = (param(query, "from"), param(query, "to")) else {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "POST /translate?from=<alias>&to=<alias>: both are required (the clusters of \
                 the offsets in the body, and of the translation)",
            );
        };
        let Ok(_running) = self.running.try_acquire() else {
            let mut a = Answer::error(
                StatusCode::TOO_MANY_REQUESTS,
                "a translation is already running (one at a time); try again in a moment",
            );
            a.retry_after = Some(1);
            return a;
        };
        let limited = http_body_util::Limited::new(body, MAX_BODY as usize);
        let bytes: Bytes = match tokio::time::timeout(read_timeout, limited.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
            Ok(Err(e)) => {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the body: {e}"),
                )
            }
            Err(_) => {
                return Answer::error(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the body did not arrive within http.header_read_timeout ({})",
                        humantime(read_timeout)
                    ),
                )
            }
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Answer::error(StatusCode::BAD_REQUEST, "the body is not UTF-8 text");
        };
        let offsets = match ExternalOffset::parse_all(text) {
            Ok(o) => o,
            Err(problems) => {
                return Answer::new(
                    StatusCode::BAD_REQUEST,
                    json!({
                        "error": format!("{} problem(s) in the body, nothing translated", problems.len()),
                        "problems": problems,
                    }),
                )
            }
        };
        let started = Instant::now();
        let (config, from, to) = (Arc::clone(config), from.to_string(), to.to_string());
        let count = offsets.len();
        let result = crate::runtime::blocking(move || {
            Link::load_maps(&config, &from, &to)
                .map(|link| link.translate_offsets(&offsets))
                .map(|partitions| (from, to, partitions))
        })
        .await;
        match result {
            Ok(Ok((from, to, partitions))) => {
                tracing::info!(
                    %from, %to, offsets = count,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "translated offsets for POST /translate"
                );
                Answer::new(
                    StatusCode::OK,
                    json!({
                        "from": from,
                        "to": to,
                        "source": "input",
                        "partitions": partitions,
                    }),
                )
            }
            Ok(Err(e)) => dr_error(&e),
            Err(e) => Answer::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the translation failed: {e}"),
            ),
        }
    }
}

fn too_large() -> Answer {
    Answer::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the body is larger than {MAX_BODY} bytes: split the offsets into several requests"
        ),
    )
}

/// A problem of the request (an unknown cluster, no mirror between the two) is 400; a cluster
/// that did not answer 503; any other failure of a cluster 502.
fn dr_error(e: &DrError) -> Answer {
    let status = match e {
        DrError::Usage(_) => StatusCode::BAD_REQUEST,
        e if e.is_unreachable() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    };
    let mut body = json!({ "error": crate::telemetry::error_chain(e) });
    if let Some(hint) = e.hint() {
        body["hint"] = json!(hint);
    }
    Answer::new(status, body)
}

/// A query parameter's value. Cluster aliases hold only letters, digits, `_` and `-`, so no
/// percent-decoding is needed: an encoded value names no cluster and is refused as such.
fn param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn humantime(d: std::time::Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Arc<Config> {
        let yaml = "clusters:\n  A: { bootstrap_servers: \"127.0.0.1:1\" }\n  B: { bootstrap_servers: \"127.0.0.1:2\" }\nmirrors:\n  - { source: A, target: B }\n";
        Arc::new(crate::config::from_str(yaml, "test").expect("config"))
    }

    fn ask(t: &Translations, query: &str, body: Vec<u8>) -> Answer {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(t.answer(
            &config(),
            Some(query),
            http_body_util::Full::new(Bytes::from(body)),
            std::time::Duration::from_secs(1),
        ))
    }

    #[test]
    fn requests_are_refused_with_what_is_wrong_before_any_cluster_is_asked() {
        let t = Translations::default();
        // Over 1 MiB: refused by its size.
        let big = ask(&t, "from=A&to=B", vec![b'x'; MAX_BODY as usize + 1]);
        assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
        let missing = ask(&t, "from=A", b"t 0 1".to_vec());
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        let bad = ask(&t, "from=A&to=B", b"t 0\nt x 1\n".to_vec());
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            bad.body["error"],
            "2 problem(s) in the body, nothing translated"
        );
        assert_eq!(bad.body["problems"].as_array().unwrap().len(), 2);
        let unknown = ask(&t, "from=A&to=C", b"t 0 1".to_vec());
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert!(
            unknown.body["error"]
                .as_str()
                .unwrap()
                .starts_with("no cluster `C` in the configuration"),
            "{}",
            unknown.body
        );
        // One at a time: while a translation runs, the next is told to come back.
        let running = t.running.try_acquire().unwrap();
        let busy = ask(&t, "from=A&to=B", b"t 0 1".to_vec());
        assert_eq!(busy.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(busy.retry_after, Some(1));
        drop(running);
        let again = ask(&t, "from=A&to=C", b"t 0 1".to_vec());
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn query_parameters_are_found_by_name() {
        assert_eq!(param(Some("from=A&to=B"), "from"), Some("A"));
        assert_eq!(param(Some("from=A&to=B"), "to"), Some("B"));
        assert_eq!(param(Some("to=B&from=A"), "from"), Some("A"));
        assert_eq!(param(Some("from=&to=B"), "from"), None);
        assert_eq!(param(Some("fromA&to=B"), "from"), None);
        assert_eq!(param(None, "from"), None);
    }
}
