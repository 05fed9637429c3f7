//! Secrets rotated while strait runs (docs/security.md, "Rotating credentials"): a SCRAM password
//! changed on the broker and in the file strait reads it from, then a client certificate and key
//! rewritten and the old certificate's principal stripped of its rights, all while records
//! stream. strait notices each file change (`secret_files_check_interval`), its mirror stops as
//! on SIGTERM and starts again on new connections, and the copy ends exact: every record once.
//!
//! On the shared secured pair `SA`/`SB`, with principals of the test's own (a SCRAM user created
//! here, certificates issued here by the clusters' CA), so that other tests' principals are not
//! touched.

use std::path::Path;
use std::time::Duration;

use crate::harness::secure::{allow, grant, revoke, AclBinding, AclOperation as Op};
use crate::harness::secure::{AclResource as Res, PatternType};
use crate::harness::*;

const ARRIVAL: Duration = Duration::from_secs(120);

/// Everything on topics, groups and the cluster for `principal`.
fn all_rights(principal: &str) -> Vec<AclBinding> {
    [
        (Res::Topic, "*"),
        (Res::Group, "*"),
        (Res::Cluster, "kafka-cluster"),
    ]
    .into_iter()
    .map(|(res, name)| allow(principal, Op::All, res, name, PatternType::Literal))
    .collect()
}

/// Sets `user`'s SCRAM-SHA-512 password on `cluster` with Kafka's own `kafka-configs`
/// (ConfigCommand, over the PLAINTEXT listener where the harness is a super user).
fn set_scram_password(cluster: &KafkaCluster, user: &str, password: &str) {
    let config = format!("SCRAM-SHA-512=[iterations=4096,password={password}]");
    let out = java_tool(
        JavaMain::Class("kafka.admin.ConfigCommand"),
        &[
            "--bootstrap-server",
            &cluster.bootstrap(),
            "--alter",
            "--add-config",
            &config,
            "--entity-type",
            "users",
            "--entity-name",
            user,
        ],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "kafka-configs --alter SCRAM for {user}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Replaces `path`'s content at once, as a Kubernetes Secret volume or `mv` does.
fn replace_file(path: &Path, content: &[u8]) {
    let next = path.with_extension("next");
    std::fs::write(&next, content).unwrap();
    std::fs::rename(&next, path).unwrap();
}

/// A client certificate for `CN=<cn>` signed by the CA in `ca_dir`, written to `dir` as
/// `<cn>.crt` and `<cn>.key`.
fn issue_client_certificate(ca_dir: &Path, dir: &Path, cn: &str) {
    let script = format!(
        r#"set -euo pipefail
openssl req -newkey rsa:2048 -nodes -sha256 -keyout "{cn}.key" -out "{cn}.csr" -subj "/CN={cn}" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "{cn}.ext"
openssl x509 -req -sha256 -days 2 -in "{cn}.csr" -CA "{ca}/ca.crt" -CAkey "{ca}/ca.key" -CAcreateserial -CAserial "{cn}.srl" -out "{cn}.crt" -extfile "{cn}.ext" 2>/dev/null
rm -f "{cn}.csr" "{cn}.ext" "{cn}.srl""#,
        ca = ca_dir.display()
    );
    let status = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir)
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl could not issue a certificate");
}

/// How many log lines say that the mirror stops to start again on new connections.
fn reconnects(strait: &StraitProcess) -> usize {
    strait
        .log_contents()
        .matches("cluster settings changed: stopping the mirror")
        .count()
}

/// How many times the record path started (once at start, once after each reconnect).
fn record_path_starts(strait: &StraitProcess) -> usize {
    strait
        .log_contents()
        .matches("record path starting")
        .count()
}

#[test]
fn a_rotated_password_and_a_rotated_client_certificate_are_picked_up_from_their_files_with_nothing_lost(
) {
    let (a, b) = shared_secure_clusters();
    let id = unique_name("rot");
    let dir = scratch_dir("rotation");
    let d = dir.path();

    // The source: SCRAM-SHA-512 as a user of this test, its password in a file.
    let user = format!("{id}-scram");
    set_scram_password(a, &user, "first-password");
    grant(a, &all_rights(&format!("User:{user}")));
    let password_file = d.join("password");
    std::fs::write(&password_file, "first-password\n").unwrap();
    let a_certs = a.secured().certs().display().to_string();
    let source_security = serde_yaml::from_str::<serde_yaml::Value>(&format!(
        "{{ protocol: sasl_ssl, ca_file: '{a_certs}/ca.crt', sasl: {{ mechanism: SCRAM-SHA-512, username: '{user}', password: '${{file:{}}}' }} }}",
        password_file.display()
    ))
    .unwrap();

    // The target: mutual TLS with a certificate of this test, rewritten later in place.
    let b_certs = b.secured().certs();
    let (old_cn, new_cn) = (format!("{id}-old"), format!("{id}-new"));
    issue_client_certificate(b_certs, d, &old_cn);
    issue_client_certificate(b_certs, d, &new_cn);
    let old_rights = all_rights(&format!("User:{old_cn}"));
    grant(b, &old_rights);
    grant(b, &all_rights(&format!("User:{new_cn}")));
    let (cert, key) = (d.join("client.crt"), d.join("client.key"));
    std::fs::copy(d.join(format!("{old_cn}.crt")), &cert).unwrap();
    std::fs::copy(d.join(format!("{old_cn}.key")), &key).unwrap();
    let target_security = serde_yaml::from_str::<serde_yaml::Value>(&format!(
        "{{ protocol: ssl, ca_file: '{}/ca.crt', cert_file: '{}', key_file: '{}' }}",
        b_certs.display(),
        cert.display(),
        key.display()
    ))
    .unwrap();

    let topic = unique_name("rotated");
    create_topic(&a.bootstrap(), &topic, 2, &[]);
    let config = StraitConfig::new()
        .cluster(
            "R",
            ClusterConfig::new(&a.secured_bootstrap(Listener::ScramSha512))
                .set("security", source_security),
        )
        .cluster(
            "T",
            ClusterConfig::new(&b.secured_bootstrap(Listener::MutualTls))
                .set("security", target_security),
        )
        .mirror(
            MirrorConfig::new("R", "T")
                .topics(&[&topic])
                .groups(&[])
                .replication_factor(1)
                .refresh_topics_interval("1s")
                .emit_checkpoints(false),
        )
        .set("secret_files_check_interval", "1s");
    let strait = StraitProcess::start(&config);
    let remote = format!("R.{topic}");
    let stream = RecordStream::start(&a.bootstrap(), &topic, 2, 200);
    let mut copy = Follower::new(&b.bootstrap(), &remote, 2);
    let progress = |copy: &mut Follower, stream: &RecordStream, what: &str| {
        let sent = stream.sent_per_partition();
        copy.wait_covers(&sent, ARRIVAL, what);
    };
    progress(
        &mut copy,
        &stream,
        "the first records, with the first password",
    );

    // 1. The password changes on the broker: connections authenticated with the old one last
    // until their next re-authentication (10 s), no new one succeeds. Then the file changes.
    set_scram_password(a, &user, "second-password");
    replace_file(&password_file, b"second-password\n");
    wait_until(
        Duration::from_secs(30),
        "strait reconnects after the password file changed",
        || reconnects(&strait) == 1,
    );
    // Two re-authentication periods later every connection has proved the new password.
    let since = std::time::Instant::now();
    wait_until(
        Duration::from_secs(60),
        "two re-authentication periods with the new password",
        || since.elapsed() >= Duration::from_millis(2 * secure::REAUTH_MS),
    );
    progress(&mut copy, &stream, "records after the password rotation");

    // 2. A config that does not validate (the password file gone) is reported, and strait goes
    // on with the running settings; the file back as it was changes no setting.
    std::fs::remove_file(&password_file).unwrap();
    wait_until(
        Duration::from_secs(30),
        "the unreadable password file reported",
        || {
            strait
                .log_contents()
                .contains("the config does not validate with them")
        },
    );
    progress(
        &mut copy,
        &stream,
        "records while the password file is gone",
    );
    replace_file(&password_file, b"second-password\n");
    wait_until(
        Duration::from_secs(30),
        "the restored file seen, with nothing to reconnect",
        || {
            strait
                .log_contents()
                .contains("but no cluster's settings: nothing to reconnect")
        },
    );
    assert_eq!(reconnects(&strait), 1, "an unchanged setting reconnected");

    // 3. The client certificate and its key are rewritten; once strait reconnected, the old
    // certificate's principal loses every right on the target, so a copy that goes on proves
    // the new certificate in use.
    replace_file(
        &key,
        &std::fs::read(d.join(format!("{new_cn}.key"))).unwrap(),
    );
    replace_file(
        &cert,
        &std::fs::read(d.join(format!("{new_cn}.crt"))).unwrap(),
    );
    wait_until(
        Duration::from_secs(30),
        "strait reconnects after the certificate changed",
        || reconnects(&strait) >= 2,
    );
    // The old clients store the final positions while the mirror stops: the old certificate
    // loses its rights only once the mirror runs again on new clients (as an operator removes
    // an old credential once strait has moved off it).
    let starts = reconnects(&strait) + 1;
    wait_until(
        Duration::from_secs(60),
        "the record path running again on the new certificate",
        || record_path_starts(&strait) >= starts,
    );
    revoke(b, &old_rights);
    progress(
        &mut copy,
        &stream,
        "records after the certificate rotation, the old principal without rights",
    );

    let summary = stream.finish();
    copy.wait_covers(&summary.per_partition, ARRIVAL, "every streamed record");
    let target = copy.read_to_end(Duration::from_secs(5));
    let source = read_all(&a.bootstrap(), &topic, ARRIVAL);
    let report = check_copy(&source, &target, &summary.per_partition);
    eprintln!(
        "[rotation] {} records over {:.0}s, {} reconnects: {report:?}",
        summary.total,
        summary.duration.as_secs_f64(),
        reconnects(&strait)
    );
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(
        report.duplicates, 0,
        "a reconnect stores the positions first: {report:?}"
    );
    let log = strait.log_contents();
    for secret in ["first-password", "second-password"] {
        assert!(!log.contains(secret), "a password in strait's log");
    }
}
