//! `strait failover` and `strait failback`: preflight, plan, apply — journaled, safe to re-run.

use std::path::PathBuf;

use super::output::{opt, print_json, table, Output};
use super::status::indent;
use super::{load_config, Exit};
use crate::dr::failover::{self, Request};
use crate::dr::journal::{self, Entry, Journal};
use crate::dr::plan::{Command, Plan};
use crate::dr::{human_ms, now_ms};

pub struct Args {
    pub command: Command,
    pub config: PathBuf,
    pub from: String,
    pub to: String,
    pub groups: Option<String>,
    pub dry_run: bool,
    /// `--source-lost`, with the probe's timeout.
    pub source_lost: Option<std::time::Duration>,
    pub force: bool,
    pub journal: Option<PathBuf>,
    pub output: Output,
}

pub fn failover(args: Args) -> Exit {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let groups = match args.groups.as_deref().map(super::whole_name) {
        None => None,
        Some(Ok(re)) => Some(re),
        Some(Err(e)) => {
            eprintln!("error: --groups is not a valid regular expression: {e}");
            return Exit::Usage;
        }
    };
    let path = args
        .journal
        .clone()
        .unwrap_or_else(|| failover::default_journal(args.command, &args.from, &args.to));
    let json = args.output == Output::Json;

    // An earlier run of the same command: finish its plan, never start over.
    let previous = match journal::read(&path) {
        Ok(p) => p,
        Err(e) => return super::dr_error(&e),
    };
    let resumed = previous.is_some();
    let (plan, already) = match previous {
        Some(state) => {
            let plan = state.plan.expect("journal::read returns a plan");
            if plan.command != args.command || plan.from != args.from || plan.to != args.to {
                eprintln!(
                    "error: journal {} belongs to `{} --from {} --to {}`; give another --journal",
                    path.display(),
                    plan.command,
                    plan.from,
                    plan.to
                );
                return Exit::Usage;
            }
            if let Some(at) = state.completed_ms {
                let msg = format!(
                    "{} {} -> {} already completed {} ago (journal {}); nothing to do. To plan a new one, move the journal away.",
                    plan.command,
                    plan.from,
                    plan.to,
                    human_ms(now_ms() - at),
                    path.display()
                );
                if json {
                    print_json(
                        &serde_json::json!({"result": "already-completed", "journal": path, "plan": plan}),
                    );
                } else {
                    println!("{msg}");
                }
                return Exit::Ok;
            }
            eprintln!(
                "resuming the {} planned {} ago from journal {}: {} of {} group(s) already applied",
                plan.command,
                human_ms(now_ms() - plan.created_ms),
                path.display(),
                state.applied.len(),
                plan.groups.len()
            );
            (plan, state.applied)
        }
        None => {
            let req = Request {
                command: args.command,
                from: &args.from,
                to: &args.to,
                groups,
                source_lost: args.source_lost,
            };
            match failover::plan(&config, &req) {
                Ok(p) => (p, Default::default()),
                Err(e) => return super::dr_error(&e),
            }
        }
    };

    let failed: Vec<&str> = plan.failed_checks().map(|c| c.name.as_str()).collect();
    let stop_for_checks = !failed.is_empty() && !args.force && !resumed;
    if !json {
        print_plan(&plan, &already);
    }
    if stop_for_checks {
        if json {
            print_json(&serde_json::json!({"result": "preflight-failed", "plan": plan}));
        } else {
            println!(
                "\npreflight failed ({}): nothing changed. Fix the cause, or pass --force to go ahead anyway.",
                failed.join(", ")
            );
        }
        return Exit::PreflightFailed;
    }
    if args.dry_run {
        if json {
            print_json(&serde_json::json!({"result": "dry-run", "plan": plan}));
        } else {
            println!("\ndry run: nothing changed. Run again without --dry-run to apply this plan.");
        }
        return Exit::Ok;
    }

    let opened = if resumed {
        Journal::append_to(&path)
    } else {
        Journal::create(&path).and_then(|mut j| {
            j.write(&Entry::Plan {
                plan: Box::new(plan.clone()),
            })
            .map(|()| j)
        })
    };
    let mut journal_file = match opened {
        Ok(j) => j,
        Err(e) => return super::dr_error(&e),
    };
    if !json {
        println!("\napplying (journal {}):", path.display());
    }
    let result = failover::apply(
        &config,
        &plan,
        &already,
        &mut journal_file,
        args.force,
        |group, r| match r {
            Ok(n) => eprintln!("  applied  {group} ({n} partition offset(s) committed)"),
            Err(why) => eprintln!("  refused  {group}: {why}"),
        },
    );
    let outcome = match result {
        Ok(o) => o,
        Err(e) => return super::dr_error(&e),
    };
    let complete = outcome.refused.is_empty();
    if json {
        print_json(&serde_json::json!({
            "result": if complete { "applied" } else { "incomplete" },
            "journal": path,
            "plan": plan,
            "outcome": outcome,
        }));
    } else if complete {
        println!(
            "\n{} {} -> {} complete: {} group(s) applied now, {} earlier. Start the consumers on {}.",
            plan.command,
            plan.from,
            plan.to,
            outcome.applied.len(),
            outcome.already_applied.len(),
            plan.to
        );
    } else {
        println!(
            "\n{} {} -> {} incomplete: {} group(s) refused; run the same command again to finish the plan.",
            plan.command,
            plan.from,
            plan.to,
            outcome.refused.len()
        );
    }
    if complete {
        Exit::Ok
    } else {
        Exit::Incomplete
    }
}

fn print_plan(plan: &Plan, already: &std::collections::BTreeSet<String>) {
    println!(
        "{} {} -> {} (offsets from {})",
        plan.command, plan.from, plan.to, plan.source
    );
    println!("preflight:");
    for c in &plan.checks {
        println!(
            "  {}  {:<18} {}",
            c.status.label(),
            c.name.as_str(),
            c.detail
        );
    }
    if plan.groups.is_empty() {
        return;
    }
    println!("plan:");
    let mut rows = Vec::new();
    for g in &plan.groups {
        for p in &g.partitions {
            let o = &p.offset;
            rows.push(vec![
                g.group.clone(),
                format!("{}:{}", o.from_topic, o.partition),
                o.from_offset.to_string(),
                format!("{}:{}", o.to_topic, o.partition),
                opt(o.to_offset),
                opt(p.current_to_offset),
                if already.contains(&g.group) {
                    "done".into()
                } else {
                    p.action.as_str().into()
                },
                o.exactness.as_str().to_string(),
                if p.expect.is_empty() {
                    o.detail.clone()
                } else {
                    p.expect.clone()
                },
            ]);
        }
    }
    print!(
        "{}",
        indent(&table(
            &[
                "GROUP",
                &format!("ON {}", plan.from),
                "OFFSET",
                &format!("ON {}", plan.to),
                "SET TO",
                "NOW",
                "ACTION",
                "EXACTNESS",
                "EXPECT"
            ],
            &rows
        ))
    );
}
