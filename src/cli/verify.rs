//! `strait verify`: source against target, partition by partition, with a progress bar on a
//! terminal, a summary table (or `--output json`) and exit code 7 when anything differs.

use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output::{print_json, table, Output};
use super::{load_config, Exit};
use crate::dr::compare::{Difference, Kind};
use crate::dr::verify::{self, PartitionReport, Request, Verdict};

struct Bar(ProgressBar);

impl verify::Progress for Bar {
    fn start(&self, offsets: u64) {
        self.0.set_length(offsets);
        self.0.reset_elapsed();
    }
    fn advance(&self, offsets: u64) {
        self.0.inc(offsets);
    }
    fn partition(&self, name: &str) {
        self.0.set_message(name.to_string());
    }
}

pub fn verify(path: &Path, req: Request, output: Output) -> Exit {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    // Drawn on stderr only when it is a terminal (indicatif hides it otherwise).
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {per_sec} offsets ({eta} left) {msg}",
    ) {
        bar.set_style(style);
    }
    let started = Instant::now();
    let result = verify::verify(&config, &req, &Bar(bar.clone()));
    bar.finish_and_clear();
    let reports = match result {
        Ok(r) => r,
        Err(e) => return super::dr_error(&e),
    };
    let elapsed = started.elapsed();
    let records: u64 = reports.iter().map(|r| r.counts.source_records).sum();
    let differ = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Differ)
        .count();
    let per_second = records as f64 / elapsed.as_secs_f64().max(0.001);
    match output {
        Output::Json => print_json(&serde_json::json!({
            "sample": req.sample,
            "partitions": reports,
            "summary": {
                "partitions": reports.len(),
                "differ": differ,
                "skipped": reports.iter().filter(|r| r.verdict == Verdict::Skipped).count(),
                "source_records": records,
                "elapsed_ms": elapsed.as_millis() as u64,
                "records_per_second": per_second.round() as u64,
            },
        })),
        Output::Table => {
            if reports.is_empty() {
                println!("no stored position matches: nothing to verify");
            } else {
                print!("{}", summary_table(&reports));
                for r in &reports {
                    for d in &r.differences {
                        println!("{}", describe(r, d));
                    }
                    if r.differences_not_listed > 0 {
                        println!(
                            "{} {}[{}]: {} more difference(s) not listed",
                            r.mirror, r.topic, r.partition, r.differences_not_listed
                        );
                    }
                    if let Some(b) = &r.before_map {
                        let verdict = match b.target_records.cmp(&b.source_records) {
                            std::cmp::Ordering::Equal => "the same number".to_string(),
                            std::cmp::Ordering::Less => format!(
                                "{} record(s) missing on the target",
                                b.source_records - b.target_records
                            ),
                            std::cmp::Ordering::Greater => format!(
                                "{} more on the target (duplicates or records written there by \
                                 hand: not told apart without the map)",
                                b.target_records - b.source_records
                            ),
                        };
                        println!(
                            "{} {}[{}]: before the offset map (source offsets {}..{}, target \
                             {}..{}; no group needs its runs): {} source and {} target \
                             record(s), compared by count only: {verdict}",
                            r.mirror,
                            r.topic,
                            r.partition,
                            b.source_offsets.0,
                            b.source_offsets.1,
                            b.target_offsets.0,
                            b.target_offsets.1,
                            b.source_records,
                            b.target_records
                        );
                    }
                    if let Some(note) = &r.note {
                        println!("{} {}[{}]: skipped: {note}", r.mirror, r.topic, r.partition);
                    }
                }
            }
            let sample = if req.sample < 1.0 {
                format!(
                    ", the content of {:.1} % of them compared",
                    req.sample * 100.0
                )
            } else {
                String::new()
            };
            println!(
                "\n{} partition(s), {records} source record(s){sample} in {:.1}s ({:.0} records/s): {}",
                reports.len(),
                elapsed.as_secs_f64(),
                per_second,
                match differ {
                    0 => "no difference".to_string(),
                    n => format!("{n} partition(s) differ"),
                }
            );
        }
    }
    if differ > 0 {
        Exit::Differences
    } else {
        Exit::Ok
    }
}

fn summary_table(reports: &[PartitionReport]) -> String {
    let range = |r: Option<(i64, i64)>| r.map_or("-".to_string(), |(a, b)| format!("{a}..{b}"));
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let c = &r.counts;
            let mut others = Vec::new();
            for (n, what) in [
                (c.duplicates, "duplicate"),
                (c.gone_at_source, "gone at source"),
                (c.loop_skipped, "loop-skipped"),
            ] {
                if n > 0 {
                    others.push(format!("{n} {what}"));
                }
            }
            vec![
                r.mirror.clone(),
                format!("{}[{}]", r.topic, r.partition),
                range(r.source_offsets),
                range(r.target_offsets),
                c.source_records.to_string(),
                c.matched.to_string(),
                c.missing.to_string(),
                c.extra.to_string(),
                c.altered.to_string(),
                c.not_copied.to_string(),
                others.join(", "),
                r.verdict.as_str().to_string(),
            ]
        })
        .collect();
    table(
        &[
            "MIRROR",
            "PARTITION",
            "SOURCE OFFSETS",
            "TARGET OFFSETS",
            "RECORDS",
            "MATCHED",
            "MISSING",
            "EXTRA",
            "ALTERED",
            "NOT COPIED",
            "ALSO",
            "RESULT",
        ],
        &rows,
    )
}

/// One difference in plain words.
fn describe(r: &PartitionReport, d: &Difference) -> String {
    let span = |(a, b): (i64, i64)| {
        if a == b {
            format!("offset {a}")
        } else {
            format!("offsets {a}..={b}")
        }
    };
    let at = format!("{} {}[{}]", r.mirror, r.topic, r.partition);
    let source = d.source.map(span).unwrap_or_default();
    let target = d.target.map(span).unwrap_or_default();
    let remote = &r.remote_topic;
    match d.kind {
        Kind::Missing => format!(
            "{at}: missing: source {source} copied to {remote} {target}, which the target no \
             longer holds (deleted there: retention, truncation or by hand)"
        ),
        Kind::Extra => format!(
            "{at}: extra: {remote} {target} holds a record that is no copy of a source record \
             (written to the remote topic by something else than the mirror)"
        ),
        Kind::Altered => format!(
            "{at}: altered: source {source} and its copy {remote} {target} differ in {}",
            d.fields.join(", ")
        ),
        Kind::NotCopied => format!(
            "{at}: not copied: source {source} is inside the range the mirror stored as copied \
             but its offset map has no copy of it"
        ),
        Kind::Duplicate => format!(
            "{at}: duplicate: {remote} {target} is a second copy of source {source}{}",
            if r.duplicates_fail {
                " (the mirror is exactly-once: a difference)"
            } else {
                " (at-least-once copies again what it had not stored when it stopped)"
            }
        ),
    }
}
