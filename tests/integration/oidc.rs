//! OAUTHBEARER with OpenID Connect (`security.sasl.oidc`, librdkafka's
//! `sasl.oauthbearer.method=oidc`): strait's clients fetch their tokens from the provider's
//! token endpoint with the client credentials (HTTP Basic, `grant_type=client_credentials`, the
//! scope), refresh them before they expire, and the brokers accept them.
//!
//! The provider is a token endpoint in this test that issues unsigned JWTs, which the secured
//! test clusters' OAUTHBEARER listener accepts (Kafka's unsecured validator). What is proven is
//! strait's side: the configuration, the token requests and their refresh, and their use on
//! both clusters; a signature check is the broker's business.

use std::time::Duration;

use crate::harness::*;
use crate::secured::broad_grants;

const ARRIVAL: Duration = Duration::from_secs(120);
/// Short-lived tokens, so that the stream outlives several of them (librdkafka fetches a new
/// one at 80 % of the lifetime).
const TOKEN_LIFETIME: Duration = Duration::from_secs(12);

/// Records stream from one cluster to the other with OIDC tokens on both sides, across several
/// token lifetimes: every record arrives once, in order; every token request carries the
/// client credentials and the scope; tokens are fetched again before they expire; no
/// authentication trouble is logged once running; and `validate --connect` with a wrong client
/// secret fails naming the cluster, with the endpoint's 401 as the cause.
#[test]
fn oidc_client_credentials_fetch_and_refresh_tokens_on_both_clusters() {
    let (a, b) = broad_grants();
    // `User:mirror` has the broad grants on both clusters: the token's subject is it.
    let endpoint = TokenEndpoint::start("strait-client", "oidc-secret-1", "mirror", TOKEN_LIFETIME);
    let topic = unique_name("oidc");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    // Both clusters through OIDC; the source with `source_secret`.
    let clusters = |source_secret: &str| {
        StraitConfig::new()
            .cluster(
                "OA",
                oidc_cluster(a, &endpoint, "strait-client", source_secret),
            )
            .cluster(
                "OB",
                oidc_cluster(b, &endpoint, "strait-client", "oidc-secret-1"),
            )
    };
    let config = clusters("oidc-secret-1").mirror(
        MirrorConfig::new("OA", "OB")
            .topics(&[&topic])
            .groups(&[])
            .replication_factor(1)
            .refresh_topics_interval("1s"),
    );
    let strait = StraitProcess::start(&config);
    let stream = RecordStream::start(&a.bootstrap(), &topic, 2, 200);
    // What start-up logs is not the subject (a short-lived reader closed while its coordinator
    // connection authenticates logs a transport failure): the log is checked from half a token
    // lifetime on, before the first refresh (at 80 % of it).
    wait_until(
        Duration::from_secs(90),
        "half a token lifetime of streaming",
        || stream.started().elapsed() >= TOKEN_LIFETIME / 2,
    );
    let checked_from = log_time_now();
    let lifetimes = 2;
    wait_until(
        Duration::from_secs(90),
        "two token lifetimes of streaming",
        || stream.started().elapsed() >= TOKEN_LIFETIME * lifetimes,
    );
    let summary = stream.finish();
    let mut copy = TopicReader::new(&b.bootstrap(), &format!("OA.{topic}"));
    copy.wait_for_count(summary.total as usize, ARRIVAL);
    copy.read_to_end(ARRIVAL);
    let source = read_all(&a.bootstrap(), &topic, ARRIVAL);
    let report = check_copy(&source, copy.records(), &summary.per_partition);
    let requests = endpoint.requests();
    eprintln!(
        "[oidc] {} records over {:.0}s: {report:?}; {} token requests",
        summary.total,
        summary.duration.as_secs_f64(),
        requests.len()
    );
    assert_eq!((report.lost, report.duplicates), (0, 0), "{report:?}");

    assert!(!requests.is_empty(), "no token was requested");
    for r in &requests {
        assert!(r.granted, "a token request without the credentials: {r:?}");
        assert!(
            r.body.split('&').any(|p| p == "scope=kafka"),
            "the scope is sent: {r:?}"
        );
    }
    let first = requests[0].at;
    let refreshed = requests
        .iter()
        .filter(|r| r.at.duration_since(first) >= TOKEN_LIFETIME)
        .count();
    assert!(
        refreshed > 0,
        "tokens fetched again after their lifetime: {requests:?}"
    );
    let log = strait.log_contents();
    let trouble: Vec<&str> = warnings_since(&log, &checked_from)
        .into_iter()
        .filter(|l| {
            // (Broker addresses name the protocol: `sasl_plaintext://...` is not trouble.)
            let l = l.to_ascii_lowercase().replace("sasl_plaintext://", "");
            ["auth", "sasl", "token", "oidc"]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    assert!(
        trouble.is_empty(),
        "authentication warnings or errors:\n{}",
        trouble.join("\n")
    );
    assert!(
        !log.contains("oidc-secret-1"),
        "the client secret is in the log"
    );
    drop(strait);

    // A wrong client secret: the endpoint refuses it and `validate --connect` says which
    // cluster could not be reached, without the secret.
    let before = endpoint.requests().len();
    let wrong = clusters("oidc-wrong-2")
        .mirror(MirrorConfig::new("OA", "OB").topics(&[&topic]).groups(&[]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strait.yaml");
    wrong.write_to(&path);
    let out = strait_cli(
        &["validate", "--config", path.to_str().unwrap(), "--connect"],
        Duration::from_secs(120),
    );
    let text = format!("{}{}", out.stdout, out.stderr);
    eprintln!("[oidc] wrong secret:\n{text}");
    assert_ne!(out.code, Some(0), "{text}");
    assert!(text.contains("OA"), "the refusal names the cluster: {text}");
    assert!(
        !text.contains("oidc-wrong-2"),
        "the secret is shown: {text}"
    );
    let refused = endpoint.requests()[before..]
        .iter()
        .filter(|r| !r.granted)
        .count();
    assert!(refused > 0, "the wrong secret reached the endpoint");
}
