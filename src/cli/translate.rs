//! `strait translate`: a group's offsets on one cluster, translated to another — the
//! `RemoteClusterUtils.translateOffsets` equivalent for applications in any language.

use std::path::Path;

use super::output::{opt, print_json, table, Output};
use super::{load_config, Exit};
use crate::dr::translate::{Link, OffsetSource};

pub fn translate(
    path: &Path,
    group: &str,
    from: &str,
    to: &str,
    from_checkpoints: bool,
    output: Output,
) -> Exit {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let source = if from_checkpoints {
        OffsetSource::Checkpoints
    } else {
        OffsetSource::Live
    };
    let result = Link::load(&config, from, to, source).and_then(|link| link.translate(group));
    let partitions = match result {
        Ok(p) => p,
        Err(e) => return super::dr_error(&e),
    };
    match output {
        Output::Json => print_json(&serde_json::json!({
            "group": group,
            "from": from,
            "to": to,
            "source": source,
            "partitions": partitions,
        })),
        Output::Table => {
            if partitions.is_empty() {
                println!(
                    "group `{group}` has no committed offsets on {from} for topics replicated to {to}{}",
                    if from_checkpoints { " (no checkpoints)" } else { "" }
                );
            } else {
                let rows: Vec<Vec<String>> = partitions
                    .iter()
                    .map(|p| {
                        vec![
                            p.from_topic.clone(),
                            p.partition.to_string(),
                            p.from_offset.to_string(),
                            p.to_topic.clone(),
                            opt(p.to_offset),
                            p.exactness.as_str().to_string(),
                            p.detail.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(
                        &[
                            &format!("TOPIC ON {from}"),
                            "PARTITION",
                            "OFFSET",
                            &format!("TOPIC ON {to}"),
                            "OFFSET",
                            "EXACTNESS",
                            "DETAIL"
                        ],
                        &rows
                    )
                );
            }
        }
    }
    Exit::Ok
}
