//! The HTTP endpoint against real clusters, scraped with a real HTTP client (curl): exact
//! record and byte counts and lag back to zero on `/metrics`; `/readyz` flipping while the target
//! broker is down; TLS with mutual authentication and a bearer token. Its hardening, with curl
//! and raw sockets: request bodies and methods other than GET and HEAD refused, clients that
//! send nothing or their headers too slowly disconnected after `http.header_read_timeout`,
//! connections beyond `http.max_connections` closed at once and counted.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(90);

#[test]
fn metrics_count_every_record_and_byte_and_lag_returns_to_zero() {
    let (a, b) = shared_clusters();
    let topic = unique_name("metrics");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    // Known sizes: key `k<i>` and value of 100 + i % 7 bytes.
    let records: Vec<OutRecord> = (0..300)
        .map(|i| OutRecord {
            partition: Some(i % 2),
            key: Some(format!("k{i}").into_bytes()),
            value: Some(vec![b'x'; 100 + (i as usize % 7)]),
            ..OutRecord::default()
        })
        .collect();
    let bytes_of = |p: i32| -> f64 {
        records
            .iter()
            .filter(|r| r.partition == Some(p))
            .map(|r| r.key.as_ref().unwrap().len() + r.value.as_ref().unwrap().len())
            .sum::<usize>() as f64
    };
    produce(&a.bootstrap(), &topic, &records);
    // A transactional topic ends with a commit marker that is never delivered: its lag must
    // still return to zero.
    let txn = unique_name("metrics-txn");
    create_topic(&a.bootstrap(), &txn, 1, &[]);
    let batch = |tag: &str| -> Vec<OutRecord> {
        (0..5)
            .map(|i| OutRecord::to_partition(0, format!("{tag}-{i}")))
            .collect()
    };
    produce_transactions(
        &a.bootstrap(),
        &txn,
        &[(batch("c"), true), (batch("x"), false), (batch("d"), true)],
    );

    let strait = StraitProcess::start(&StraitConfig::a_to_b(a, b, &[&topic, &txn]));
    let base = format!("http://{}", strait.http_addr());
    let mut target = TopicReader::new(&b.bootstrap(), &format!("A.{topic}"));
    target.wait_for_count(300, ARRIVAL);

    // /status comes from the process's own state (no cluster is asked, it answers at once): the
    // acknowledged positions and lag the record loop last measured. Once every position is at
    // its source's end (for the transactional topic: past its final commit marker, which is
    // never delivered), the lag on /metrics, measured in the same pass, is zero too.
    let txn_end = *end_offsets(&a.bootstrap(), &txn).first().expect("txn end");
    let want: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::from([
        ((topic.clone(), 0), (150, 0)),
        ((topic.clone(), 1), (150, 0)),
        ((txn.clone(), 0), (txn_end, 0)),
    ]);
    let status = wait_for(
        ARRIVAL,
        "every position at its source's end on /status",
        || {
            let r = curl(&format!("{base}/status"), &["--max-time", "2"]);
            assert_eq!(r.status, 200, "{}", r.body);
            let status: serde_json::Value = serde_json::from_str(&r.body).expect("status JSON");
            let m = status["mirrors"][0].clone();
            // Only this test's topics: `heartbeats` passes every mirror's topic filter, and other
            // tests' mirrors write one to the shared cluster A.
            let got: BTreeMap<(String, i64), (i64, i64)> = m["partitions"]
                .as_array()
                .expect("partitions")
                .iter()
                .filter(|p| p["topic"] == topic.as_str() || p["topic"] == txn.as_str())
                .map(|p| {
                    (
                        (
                            p["topic"].as_str().unwrap().to_string(),
                            p["partition"].as_i64().unwrap(),
                        ),
                        (
                            p["copied_to"].as_i64().unwrap(),
                            p["lag_records"].as_i64().unwrap_or(-1),
                        ),
                    )
                })
                .collect();
            (got == want).then_some(m)
        },
    );
    assert_eq!(status["mirror"], "A->B");
    assert_eq!(status["state"], "replicating", "{status}");
    assert!(status["heartbeat_age_ms"].as_i64().is_some(), "{status}");

    let text = wait_for(ARRIVAL, "exact counts and zero lag on /metrics", || {
        let r = curl(&format!("{base}/metrics"), &[]);
        assert_eq!(r.status, 200, "{}", r.body);
        let txn_done = sample(
            &r.body,
            "strait_records_replicated_total",
            &[("topic", txn.as_str())],
        ) == Some(10.0)
            && sample(
                &r.body,
                "strait_replication_lag_records",
                &[("topic", txn.as_str())],
            ) == Some(0.0);
        let ok = txn_done
            && (0..2).all(|p| {
                let l = [
                    ("topic", topic.as_str()),
                    ("partition", if p == 0 { "0" } else { "1" }),
                ];
                sample(&r.body, "strait_records_replicated_total", &l) == Some(150.0)
                    && sample(&r.body, "strait_replication_lag_records", &l) == Some(0.0)
            });
        ok.then_some(r.body)
    });
    for p in 0..2 {
        let ps = p.to_string();
        let l = [("topic", topic.as_str()), ("partition", ps.as_str())];
        assert_eq!(
            sample(&text, "strait_bytes_replicated_total", &l),
            Some(bytes_of(p)),
            "partition {p} bytes"
        );
        assert_eq!(
            sample(&text, "strait_replication_lag_seconds", &l),
            Some(0.0)
        );
        assert!(sample(&text, "strait_record_age_seconds", &l).is_some());
    }
    let mirror = [("mirror", "A->B")];
    assert!(sample(&text, "strait_replication_latency_seconds_count", &mirror).unwrap() >= 300.0);
    assert_eq!(sample(&text, "strait_mirror_up", &mirror), Some(1.0));
    assert!(text.contains("strait_build_info{version=\""));
    assert!(text.contains("process_resident_memory_bytes "));

    assert_eq!(curl(&format!("{base}/healthz"), &[]).status, 200);
    let ready = wait_for(ARRIVAL, "/readyz 200", || {
        let r = curl(&format!("{base}/readyz"), &[]);
        (r.status == 200).then_some(r.body)
    });
    assert!(ready.contains("\"ready\":true"), "{ready}");
    assert_eq!(curl(&format!("{base}/nothing"), &[]).status, 404);
    drop(strait);
}

/// `/readyz` answers 503 while the target broker is stopped and 200 again once it is back.
#[test]
fn readyz_flips_while_the_target_broker_is_down() {
    let (a, _) = shared_clusters();
    let target = KafkaCluster::start("ready-B");
    let topic = unique_name("ready");
    create_topic(&a.bootstrap(), &topic, 1, &[]);
    produce(&a.bootstrap(), &topic, &[OutRecord::to_partition(0, "one")]);
    let strait = StraitProcess::start(&StraitConfig::a_to_b(a, &target, &[&topic]));
    let url = format!("http://{}/readyz", strait.http_addr());
    TopicReader::new(&target.bootstrap(), &format!("A.{topic}")).wait_for_count(1, ARRIVAL);
    let until = |want: u16| {
        wait_for(ARRIVAL, &format!("/readyz {want}"), || {
            let r = curl(&url, &[]);
            (r.status == want).then_some(r.body)
        })
    };
    until(200);
    target.stop();
    let down = until(503);
    assert!(down.contains("target cluster unreachable"), "{down}");
    // /status answers from strait's own state at once, also while the target is down.
    let status = curl(&url.replace("/readyz", "/status"), &["--max-time", "2"]);
    assert_eq!(
        status.status, 200,
        "curl exit {}: {}",
        status.exit, status.body
    );
    let status: serde_json::Value = serde_json::from_str(&status.body).expect("status JSON");
    let m = &status["mirrors"][0];
    assert_eq!(m["state"], "target-unreachable", "{m}");
    assert!(
        m["partitions"].as_array().is_some_and(|ps| ps
            .iter()
            .any(|p| p["topic"] == topic.as_str() && p["copied_to"] == 1)),
        "{m}"
    );
    target.restart();
    until(200);
    drop(strait);
    target.destroy();
}

/// Makes a CA, a server certificate for 127.0.0.1 and a client certificate with openssl, and a
/// second CA with a client certificate of its own (`foreign-client`).
fn make_certs(dir: &Path) {
    let script = r#"
set -euo pipefail
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=strait-test-ca 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca 2>/dev/null
for who in server client foreign-client; do
  openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj /CN=$who 2>/dev/null
  if [ $who = server ]; then usage=serverAuth; san="subjectAltName=IP:127.0.0.1"; else usage=clientAuth; san="subjectAltName=DNS:client"; fi
  if [ $who = foreign-client ]; then ca=other-ca; else ca=ca; fi
  printf '%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$san" "$usage" > $who.ext
  openssl x509 -req -in $who.csr -CA $ca.pem -CAkey $ca.key -CAcreateserial -out $who.pem -days 2 -extfile $who.ext 2>/dev/null
done
"#;
    let status = Command::new("bash")
        .args(["-c", script])
        .current_dir(dir)
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl certificate generation failed");
}

#[test]
fn tls_endpoint_with_mutual_tls_and_a_bearer_token() {
    let (a, b) = shared_clusters();
    let topic = unique_name("tls");
    let certs = scratch_dir("tls");
    make_certs(certs.path());
    let path = |f: &str| certs.path().join(f).to_string_lossy().into_owned();
    let file = |f: &str| certs.path().join(f);
    let config = StraitConfig::a_to_b(a, b, &[&topic]).http(
        HttpConfig::listen("127.0.0.1:0")
            .bearer_token("s3cret")
            .tls(
                &file("server.pem"),
                &file("server.key"),
                Some(&file("ca.pem")),
            )
            .set("header_read_timeout", "1s"),
    );
    let strait = StraitProcess::start(&config);
    let addr = strait.http_addr();
    let url = format!("https://{addr}/metrics");
    let status_url = format!("https://{addr}/status");
    let (ca, cert, key) = (path("ca.pem"), path("client.pem"), path("client.key"));
    let mtls = ["--cacert", ca.as_str(), "--cert", &cert, "--key", &key];
    let with = |extra: &[&str]| -> Vec<String> {
        mtls.iter().chain(extra).map(|s| (*s).to_string()).collect()
    };
    let get = |url: &str, extra: &[&str]| {
        let args = with(extra);
        curl(url, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let auth = "Authorization: Bearer s3cret";

    let ok = get(&url, &["-H", auth]);
    assert_eq!((ok.exit, ok.status), (0, 200), "{}", ok.body);
    assert!(ok.body.contains("strait_build_info{version=\""));
    let ok = get(&status_url, &["-H", auth]);
    assert_eq!((ok.exit, ok.status), (0, 200), "{}", ok.body);
    assert!(ok.body.starts_with("{\"mirrors\":"), "{}", ok.body);

    // Without the token, with a shorter one, with one of the same length differing in its last
    // byte, and with the right token under another scheme: 401 on both guarded paths, and
    // nothing of them in the answer. The probes stay open.
    for u in [&url, &status_url] {
        for (what, extra) in [
            ("no token", vec![]),
            ("a shorter token", vec!["-H", "Authorization: Bearer nope"]),
            (
                "a wrong token of the same length",
                vec!["-H", "Authorization: Bearer s3creX"],
            ),
            (
                "the token as Basic",
                vec!["-H", "Authorization: Basic s3cret"],
            ),
        ] {
            let r = get(u, &extra);
            assert_eq!((r.exit, r.status), (0, 401), "{u} with {what}: {}", r.body);
            assert_eq!(r.body, "bearer token required\n", "{u} with {what}");
        }
    }
    let health = url.replace("/metrics", "/healthz");
    assert_eq!(get(&health, &[]).status, 200);

    // Without a client certificate the TLS handshake is refused (no HTTP response at all).
    let no_cert = curl(&url, &["--cacert", &ca, "-H", auth]);
    assert_ne!(
        no_cert.exit, 0,
        "a client without a certificate got through"
    );
    assert_eq!(no_cert.status, 0);
    // A client certificate from another CA is refused alike; the same client with a certificate
    // from the configured CA got through above.
    let foreign = curl(
        &url,
        &[
            "--cacert",
            &ca,
            "--cert",
            &path("foreign-client.pem"),
            "--key",
            &path("foreign-client.key"),
            "-H",
            auth,
        ],
    );
    assert_ne!(
        foreign.exit, 0,
        "a client certificate from a foreign CA got through: {}",
        foreign.body
    );
    assert_eq!(foreign.status, 0);
    // A client that does not trust strait's CA refuses the server.
    let untrusted = curl(
        &url,
        &[
            "--cacert",
            &path("other-ca.pem"),
            "--cert",
            &cert,
            "--key",
            &key,
            "-H",
            auth,
        ],
    );
    assert_eq!(
        untrusted.exit, 60,
        "curl: peer certificate cannot be authenticated"
    );
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = curl(&url.replace("https://", "http://"), &[]);
    assert_ne!(plain.status, 200);

    // A client that connects and never starts the TLS handshake is disconnected once
    // header_read_timeout (1 s here) has passed, not before, and long before the default 10 s.
    let since = Instant::now();
    let mut silent = connect(&addr);
    let (sent, closed_after) = read_until_closed(&mut silent, since);
    assert!(sent.is_empty(), "{sent:?}");
    assert_closed_after_the_timeout(closed_after, Duration::from_secs(1));
    drop(strait);
}

/// A strait whose clusters nobody listens on: only its HTTP endpoint (`http`) is of use.
fn endpoint_only(http: HttpConfig) -> StraitProcess {
    let config = StraitConfig::new()
        .cluster("A", ClusterConfig::new("127.0.0.1:1"))
        .cluster("B", ClusterConfig::new("127.0.0.1:2"))
        .mirror(MirrorConfig::a_to_b(&["endpoint-only"]))
        .shutdown_timeout("5s")
        .http(http);
    StraitProcess::start(&config)
}

/// A connection to strait's endpoint whose reads give up after 30 s, so that no test hangs.
fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    s
}

/// Whether a read or write error means the peer closed the connection.
fn closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
    )
}

/// Reads until strait closes the connection (end of stream, or a reset): what it sent, and
/// when it closed, counted from `since`. Panics if it is still open after 30 s.
fn read_until_closed(s: &mut TcpStream, since: Instant) -> (Vec<u8>, Duration) {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, since.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if closed(&e) => return (got, since.elapsed()),
            Err(e) => panic!(
                "connection still open after {:?} ({e}); received {:?}",
                since.elapsed(),
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

fn assert_closed_after_the_timeout(closed_after: Duration, timeout: Duration) {
    assert!(
        closed_after >= timeout && closed_after < Duration::from_secs(8),
        "closed after {closed_after:?}, want {timeout:?} or a little more"
    );
}

/// Status line and headers (lower-cased) of a raw HTTP/1.1 response, and its body.
fn split_response(raw: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    (head.to_ascii_lowercase(), body.to_string())
}

/// Only GET and HEAD without a body are answered: a body is refused (413) without being read,
/// another method gets 405 with `Allow`. A client that sends nothing, or its headers a byte at
/// a time, or keeps a connection open after its answer, is disconnected after
/// `http.header_read_timeout`.
#[test]
fn http_endpoint_refuses_bodies_and_other_methods_and_disconnects_slow_clients() {
    let timeout = Duration::from_secs(1);
    let strait = endpoint_only(HttpConfig::listen("127.0.0.1:0").set("header_read_timeout", "1s"));
    let addr = strait.http_addr();
    let url = format!("http://{addr}/healthz");

    assert_eq!(curl(&url, &[]).status, 200);
    assert_eq!(curl(&url, &["--head"]).status, 200);
    for (what, extra) in [
        ("POST with a body", vec!["--data-binary", "x"]),
        ("GET with a body", vec!["-X", "GET", "--data-binary", "x"]),
        (
            "a chunked body",
            vec!["-H", "Transfer-Encoding: chunked", "--data-binary", "x"],
        ),
    ] {
        let r = curl(&url, &extra);
        assert_eq!((r.exit, r.status), (0, 413), "{what}: {}", r.body);
        assert_eq!(r.body, "request bodies are not accepted\n", "{what}");
    }
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let r = curl(&url, &["-X", method, "--include"]);
        assert_eq!((r.exit, r.status), (0, 405), "{method}: {}", r.body);
        let lower = r.body.to_ascii_lowercase();
        assert!(
            lower.contains("\r\nallow: get, head\r\n"),
            "{method}: {}",
            r.body
        );
    }

    // The refusal comes before the body: strait answers 413 and closes although 999,997 of the
    // announced 1,000,000 bytes were never sent.
    let mut s = connect(&addr);
    s.write_all(b"POST /metrics HTTP/1.1\r\nHost: strait\r\nContent-Length: 1000000\r\n\r\nabc")
        .expect("send");
    let (raw, _) = read_until_closed(&mut s, Instant::now());
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("http/1.1 413 "), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert_eq!(body, "request bodies are not accepted\n");

    // POST /translate takes a body, but only within the timeout: a body that stops after 3 of
    // its 100 bytes is answered 408 and the connection closed.
    let since = Instant::now();
    let mut s = connect(&addr);
    s.write_all(
        b"POST /translate?from=A&to=B HTTP/1.1\r\nHost: strait\r\nContent-Length: 100\r\n\r\nabc",
    )
    .expect("send");
    let (raw, closed_after) = read_until_closed(&mut s, since);
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("http/1.1 408 "), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert_eq!(
        body,
        "{\"error\":\"the body did not arrive within http.header_read_timeout (1.0s)\"}"
    );
    assert_closed_after_the_timeout(closed_after, timeout);
    // Other methods on /translate: 405 with `Allow: POST`.
    let r = curl(&format!("http://{addr}/translate"), &["--include"]);
    assert_eq!(r.status, 405, "{}", r.body);
    assert!(
        r.body.to_ascii_lowercase().contains("\r\nallow: post\r\n"),
        "{}",
        r.body
    );

    // Sends nothing.
    let since = Instant::now();
    let mut silent = connect(&addr);
    let (sent, closed_after) = read_until_closed(&mut silent, since);
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
    assert_closed_after_the_timeout(closed_after, timeout);

    // Sends its headers a byte every 200 ms: the bytes do not extend the time it has.
    let since = Instant::now();
    let mut slow = connect(&addr);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: strait\r\nX-Slow: ")
        .expect("send");
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    let mut buf = [0u8; 1024];
    let closed_after = loop {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "a client trickling its headers is still connected"
        );
        if let Err(e) = slow.write_all(b"a") {
            assert!(closed(&e), "{e}");
            break since.elapsed();
        }
        match slow.read(&mut buf) {
            Ok(0) => break since.elapsed(),
            Ok(n) => panic!("answered: {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) if closed(&e) => break since.elapsed(),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "{e}"
            ),
        }
    };
    assert_closed_after_the_timeout(closed_after, timeout);

    // Kept alive after an answer, then idle: closed after the timeout too.
    let mut idle = connect(&addr);
    let since = Instant::now();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: strait\r\n\r\n")
        .expect("send");
    let (raw, closed_after) = read_until_closed(&mut idle, since);
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert_eq!(body, "{\"status\":\"ok\"}");
    assert_closed_after_the_timeout(closed_after, timeout);
    drop(strait);
}

/// With `http.max_connections: 2` and two connections open, a third is closed at once without
/// a byte and counted in `strait_http_connections_refused_total`; the two open ones are still
/// served, and new connections are once they close.
#[test]
fn http_endpoint_refuses_connections_beyond_max_connections() {
    let strait = endpoint_only(
        HttpConfig::listen("127.0.0.1:0")
            .set("max_connections", 2)
            // Far longer than the test: the held connections stay open until it drops them.
            .set("header_read_timeout", "5m"),
    );
    let addr = strait.http_addr();
    let mut held: Vec<TcpStream> = (0..2).map(|_| connect(&addr)).collect();
    // strait takes connections in the order they were made: the two above hold both slots.
    let since = Instant::now();
    let mut extra = connect(&addr);
    let (sent, closed_after) = read_until_closed(&mut extra, since);
    assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
    assert!(
        closed_after < Duration::from_secs(10),
        "the connection beyond the limit was closed only after {closed_after:?}"
    );

    // A held connection is served, and /metrics counts the one refused.
    let mut first = held.remove(0);
    first
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: strait\r\nConnection: close\r\n\r\n")
        .expect("send");
    let (raw, _) = read_until_closed(&mut first, Instant::now());
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert_eq!(
        unlabeled_sample(&body, "strait_http_connections_refused_total"),
        Some(1.0),
        "{body}"
    );
    assert!(
        strait
            .log_contents()
            .contains("http endpoint refusing connections"),
        "no warning in strait's log"
    );

    // Once the held connections are closed, new ones are served again.
    drop(held);
    wait_for(Duration::from_secs(30), "/healthz served again", || {
        (curl(&format!("http://{addr}/healthz"), &[]).status == 200).then_some(())
    });
    drop(strait);
}
