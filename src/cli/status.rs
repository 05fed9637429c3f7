//! `strait status`: is each mirror replicating, how far behind, how fresh are heartbeats and
//! checkpoints.

use std::path::Path;

use super::output::{opt, print_json, table, Output};
use super::{load_config, Exit};
use crate::dr::human_ms;
use crate::dr::status::{self, State};

pub fn status(path: &Path, output: Output) -> Exit {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let mirrors = status::status(&config);
    match output {
        Output::Json => print_json(&serde_json::json!({ "mirrors": mirrors })),
        Output::Table => {
            for m in &mirrors {
                println!("mirror {}: {} ({})", m.mirror, m.state.as_str(), m.detail);
                println!(
                    "  lag: {} records, {}; last heartbeat on {}: {}",
                    opt(m.lag_records),
                    m.lag_seconds
                        .map_or("-".into(), |s| format!("{s:.1}s behind")),
                    m.target,
                    m.heartbeat_age_ms
                        .map_or("never".into(), |a| format!("{} ago", human_ms(a)))
                );
                if let Some(sh) = &m.sharing {
                    println!(
                        "  shared by deployment {} (group {} on {}, {} shards): {} instances",
                        sh.deployment,
                        sh.group,
                        m.target,
                        sh.shards,
                        sh.instances.len()
                    );
                    let rows: Vec<Vec<String>> = sh
                        .instances
                        .iter()
                        .map(|i| {
                            vec![
                                i.instance.clone(),
                                if i.host.is_empty() {
                                    "-".into()
                                } else {
                                    i.host.clone()
                                },
                                if i.shards.is_empty() {
                                    "-".into()
                                } else {
                                    i.shards.clone()
                                },
                                i.partitions.to_string(),
                                if i.duties { "yes" } else { "-" }.to_string(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        indent(&table(
                            &[
                                "INSTANCE",
                                "HOST",
                                "SHARDS",
                                "PARTITIONS",
                                "SINGLETON DUTIES"
                            ],
                            &rows
                        ))
                    );
                }
                if !m.partitions.is_empty() {
                    let shared = m.sharing.is_some();
                    let rows: Vec<Vec<String>> = m
                        .partitions
                        .iter()
                        .map(|p| {
                            let mut row = vec![
                                p.topic.clone(),
                                p.partition.to_string(),
                                p.remote_topic.clone(),
                                p.copied_to.to_string(),
                                opt(p.source_end),
                                opt(p.lag_records),
                                p.lag_seconds.map_or("-".into(), |s| format!("{s:.1}")),
                            ];
                            if shared {
                                row.push(p.instance.clone().unwrap_or_else(|| "-".into()));
                            }
                            row
                        })
                        .collect();
                    let mut headers = vec![
                        "TOPIC",
                        "PARTITION",
                        "REMOTE TOPIC",
                        "COPIED TO",
                        "SOURCE END",
                        "LAG",
                        "LAG SECONDS",
                    ];
                    if shared {
                        headers.push("INSTANCE");
                    }
                    print!("{}", indent(&table(&headers, &rows)));
                }
                if !m.groups.is_empty() {
                    let rows: Vec<Vec<String>> = m
                        .groups
                        .iter()
                        .map(|g| {
                            vec![
                                g.group.clone(),
                                format!("{} ago", human_ms(g.checkpoint_age_ms)),
                                g.partitions.to_string(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        indent(&table(&["GROUP", "LAST CHECKPOINT", "PARTITIONS"], &rows))
                    );
                }
            }
        }
    }
    exit_code(&mirrors.iter().map(|m| m.state).collect::<Vec<_>>())
}

/// 4 when a target did not answer (nothing could be read for its mirror), 1 when a cluster
/// answered with an error, else 0: a source that did not answer is what `status` is there to
/// show on the day of an incident.
fn exit_code(states: &[State]) -> Exit {
    if states.contains(&State::TargetUnreachable) {
        Exit::Unreachable
    } else if states.contains(&State::Error) {
        Exit::Failure
    } else {
        Exit::Ok
    }
}

pub(super) fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        use State::*;
        let cases = [
            (vec![], Exit::Ok),
            (
                vec![Replicating, Stalled, Down, SourceUnreachable],
                Exit::Ok,
            ),
            (vec![Replicating, Error], Exit::Failure),
            (vec![Error, TargetUnreachable], Exit::Unreachable),
            (vec![TargetUnreachable], Exit::Unreachable),
        ];
        for (states, want) in cases {
            assert_eq!(exit_code(&states), want, "{states:?}");
        }
    }
}
