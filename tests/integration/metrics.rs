//! The HTTP endpoint against real clusters, scraped with a real HTTP client (curl): exact
//! record and byte counts and lag back to zero on `/metrics`; `/readyz` flipping while the target
//! broker is down; TLS with mutual authentication and a bearer token.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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

/// Makes a CA, a server certificate for 127.0.0.1 and a client certificate with openssl.
fn make_certs(dir: &Path) {
    let script = r#"
set -euo pipefail
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=strait-test-ca 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca 2>/dev/null
for who in server client; do
  openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj /CN=$who 2>/dev/null
  if [ $who = server ]; then usage=serverAuth; san="subjectAltName=IP:127.0.0.1"; else usage=clientAuth; san="subjectAltName=DNS:client"; fi
  printf '%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$san" "$usage" > $who.ext
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.pem -days 2 -extfile $who.ext 2>/dev/null
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
            ),
    );
    let strait = StraitProcess::start(&config);
    let url = format!("https://{}/metrics", strait.http_addr());
    let (ca, cert, key) = (path("ca.pem"), path("client.pem"), path("client.key"));
    let auth = "Authorization: Bearer s3cret";

    let ok = curl(
        &url,
        &["--cacert", &ca, "--cert", &cert, "--key", &key, "-H", auth],
    );
    assert_eq!((ok.exit, ok.status), (0, 200), "{}", ok.body);
    assert!(ok.body.contains("strait_build_info{version=\""));

    // Without the token: 401. The probes stay open.
    let no_token = curl(&url, &["--cacert", &ca, "--cert", &cert, "--key", &key]);
    assert_eq!(no_token.status, 401);
    let wrong = curl(
        &url,
        &[
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            "-H",
            "Authorization: Bearer nope",
        ],
    );
    assert_eq!(wrong.status, 401);
    let health = url.replace("/metrics", "/healthz");
    assert_eq!(
        curl(&health, &["--cacert", &ca, "--cert", &cert, "--key", &key]).status,
        200
    );

    // Without a client certificate the TLS handshake is refused (no HTTP response at all).
    let no_cert = curl(&url, &["--cacert", &ca, "-H", auth]);
    assert_ne!(
        no_cert.exit, 0,
        "a client without a certificate got through"
    );
    assert_eq!(no_cert.status, 0);
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
    drop(strait);
}
