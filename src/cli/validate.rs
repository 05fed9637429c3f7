//! `strait validate`: offline checks, and with `--connect` the replication plan per mirror.

use std::path::Path;
use std::sync::Arc;

use super::{load_config, runtime, Exit};
use crate::config::Config;
use crate::kafka::{self, admin};
use crate::policy::TopicDecision;
use crate::telemetry::error_chain;
use crate::topics;

pub fn validate(path: &Path, connect: bool) -> Exit {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    println!(
        "configuration {} is valid: {} cluster(s), {} mirror(s)",
        path.display(),
        config.clusters.len(),
        config.mirrors.len()
    );
    for m in &config.mirrors {
        println!("  mirror {}", m.name());
    }
    if !connect {
        return Exit::Ok;
    }
    runtime().block_on(plan_all(&config))
}

async fn plan_all(config: &Config) -> Exit {
    let mut metadata = std::collections::BTreeMap::new();
    let mut admins = std::collections::BTreeMap::new();
    for (alias, cluster) in &config.clusters {
        let client = match kafka::admin_client(cluster, &format!("validate|{alias}")) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                eprintln!("error: {}", error_chain(&e));
                return Exit::InvalidConfig;
            }
        };
        match admin::cluster_metadata(&client).await {
            Ok(md) => {
                println!(
                    "cluster {alias} ({}): reachable, {} broker(s), {} topic(s)",
                    cluster.bootstrap_servers,
                    md.broker_count,
                    md.topics.len()
                );
                metadata.insert(alias.clone(), md);
                admins.insert(alias.clone(), client);
            }
            Err(e) => {
                let said = client.inner().context().last_error().or_else(|| {
                    kafka::diagnose_connection(cluster, std::time::Duration::from_secs(2))
                });
                let hint = said
                    .as_deref()
                    .and_then(kafka::connection_hint)
                    .map(|h| format!("{h} (clusters.{alias}.security)"))
                    .unwrap_or_else(|| {
                        format!(
                            "check clusters.{alias}.bootstrap_servers and its security settings"
                        )
                    });
                eprintln!(
                    "error: cannot reach cluster `{alias}` at {}: {}{}\nhint: {hint}",
                    cluster.bootstrap_servers,
                    error_chain(&e),
                    said.map(|s| format!("\n  the client's last error: {s}"))
                        .unwrap_or_default(),
                );
                return Exit::Unreachable;
            }
        }
    }
    for m in &config.mirrors {
        println!();
        println!("mirror {}:", m.name());
        let plan = topics::plan(m, &metadata[&m.source]);
        let target = &metadata[&m.target];
        let width = plan.iter().map(|p| p.source_topic.len()).max().unwrap_or(0);
        let mut replicated = 0;
        for p in &plan {
            match &p.decision {
                TopicDecision::Replicate { remote } => {
                    replicated += 1;
                    let state = match target.topics.get(remote) {
                        Some(n) => format!("exists on {} with {n} partition(s)", m.target),
                        None => format!("will be created on {}", m.target),
                    };
                    println!(
                        "  replicate  {:width$}  -> {remote} ({} partition(s); {state})",
                        p.source_topic, p.partitions
                    );
                }
                TopicDecision::Skip(reason) => {
                    println!("  skip       {:width$}  ({reason})", p.source_topic);
                }
            }
        }
        println!(
            "  {replicated} of {} source topic(s) replicated",
            plan.len()
        );
        print_drift(m, &admins[&m.source], &admins[&m.target]).await;
    }
    Exit::Ok
}

/// Config, partition and ACL differences between each source topic and its remote topic.
async fn print_drift(
    m: &crate::config::MirrorConfig,
    source: &Arc<rdkafka::admin::AdminClient<kafka::LogContext>>,
    target: &Arc<rdkafka::admin::AdminClient<kafka::LogContext>>,
) {
    let compare = topics::sync::Compare {
        configs: true,
        acls: true,
    };
    println!(
        "  remote topics vs source (configs: {}, ACLs: {}):",
        m.sync_topic_configs.as_str(),
        m.sync_topic_acls.as_str()
    );
    match topics::sync::mirror_drift(m, source, target, compare).await {
        Ok(drift) => {
            let lines = drift.lines();
            if lines.is_empty() {
                println!("    no differences");
            }
            for line in lines {
                println!("    {line}");
            }
            for acl in &drift.refused_acls {
                println!("    not copied (WRITE is never granted on a remote topic): {acl}");
            }
            if let Some(reason) = &drift.acls_not_compared {
                println!("    ACLs not compared: {reason}");
            }
        }
        Err(e) => println!("    cannot compare: {}", error_chain(&e)),
    }
}
