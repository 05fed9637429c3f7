//! `strait translate`: a group's offsets on one cluster, translated to another — the
//! `RemoteClusterUtils.translateOffsets` equivalent for applications in any language.

use std::path::Path;

use super::output::{opt, print_json, table, Output};
use super::{load_config, Exit};
use crate::dr::translate::{ExternalOffset, Link, OffsetSource, PartitionOffset};

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
                print!("{}", offsets_table(from, to, &partitions));
            }
        }
    }
    Exit::Ok
}

/// `strait translate --input FILE`: offsets kept outside Kafka, translated through the mirrors'
/// offset maps (the groups of neither cluster are read).
pub fn translate_input(path: &Path, input: &Path, from: &str, to: &str, output: Output) -> Exit {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let text = if input == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map(|_| text)
    } else {
        std::fs::read_to_string(input)
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read --input {}: {e}", input.display());
            return Exit::Usage;
        }
    };
    let offsets = match ExternalOffset::parse_all(&text) {
        Ok(o) => o,
        Err(problems) => {
            eprintln!(
                "error: --input {}: {} problem(s), nothing translated",
                input.display(),
                problems.len()
            );
            for p in problems {
                eprintln!("  - {p}");
            }
            return Exit::Usage;
        }
    };
    let translated = match Link::load_maps(&config, from, to) {
        Ok(link) => link.translate_offsets(&offsets),
        Err(e) => return super::dr_error(&e),
    };
    match output {
        Output::Json => print_json(&serde_json::json!({
            "from": from,
            "to": to,
            "source": "input",
            "partitions": translated,
        })),
        Output::Table => print!("{}", offsets_table(from, to, &translated)),
    }
    Exit::Ok
}

fn offsets_table(from: &str, to: &str, partitions: &[PartitionOffset]) -> String {
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
    table(
        &[
            &format!("TOPIC ON {from}"),
            "PARTITION",
            "OFFSET",
            &format!("TOPIC ON {to}"),
            "OFFSET",
            "EXACTNESS",
            "DETAIL",
        ],
        &rows,
    )
}
