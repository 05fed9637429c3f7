//! The Prometheus alert rules in deploy/prometheus/: `promtool check rules` and the rule unit
//! tests (`promtool test rules alerts.test.yml`), run by deploy/prometheus/check.sh with the real
//! promtool (from PATH, or Debian's prometheus package, fetched once into a cache).

use std::process::Command;

use crate::harness::repo_root;

#[test]
fn alert_rules_are_valid_and_their_unit_tests_pass() {
    let out = Command::new("bash")
        .arg(repo_root().join("deploy/prometheus/check.sh"))
        .output()
        .expect("run deploy/prometheus/check.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "deploy/prometheus/check.sh failed:\n{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("OK: rules are valid and all rule tests pass"),
        "{stderr}"
    );
}
