//! Command-line interface: one file per subcommand. Each returns an [`Exit`] value; `main`
//! only maps it to the process exit status.

mod failover;
mod import_mm2;
mod output;
mod run;
mod status;
mod translate;
mod validate;
mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// Process exit codes, for scripts and automation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success (also after a graceful shutdown on SIGTERM/SIGINT).
    Ok = 0,
    /// A runtime failure (see the log).
    Failure = 1,
    /// Invalid command line (clap's own code).
    Usage = 2,
    /// The configuration file is invalid or unreadable.
    InvalidConfig = 3,
    /// A configured cluster could not be reached.
    Unreachable = 4,
    /// failover/failback: a preflight check failed; nothing was changed.
    PreflightFailed = 5,
    /// failover/failback: some groups were not applied; run the same command again.
    Incomplete = 6,
    /// verify: the target differs from the source.
    Differences = 7,
    /// import-mm2: the configuration was generated, but some MM2 keys are not (fully) mapped.
    NotAllMapped = 8,
}

const EXIT_CODES: &str = "Exit codes:
  0  success (also after a graceful shutdown on SIGTERM/SIGINT)
  1  runtime failure (see the log)
  2  invalid command line
  3  invalid or unreadable configuration file (import-mm2: the MM2 file cannot be read, or
     the configuration generated from it does not validate)
  4  a configured cluster could not be reached
  5  failover/failback: a preflight check failed, nothing was changed
  6  failover/failback: some groups were refused; run the same command again to finish
  7  verify: the target differs from the source (each difference is listed)
  8  import-mm2: the configuration was written, but some MM2 keys are not (fully) mapped
     (the report says why and what to do)
  130 aborted by a second SIGTERM/SIGINT during shutdown";

#[derive(Debug, Parser)]
#[command(name = "strait", version, about = "Cross-cluster Apache Kafka replication (MirrorMaker 2 compatible)",
    after_help = EXIT_CODES)]
pub struct Cli {
    /// Log format on stderr. The level filter comes from STRAIT_LOG (default `info`).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the replication daemon.
    #[command(after_help = EXIT_CODES)]
    Run {
        /// The YAML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Check a configuration file; with --connect also show what each mirror would replicate.
    #[command(after_help = EXIT_CODES)]
    Validate {
        /// The YAML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Connect to the clusters and list, per mirror, which source topics are replicated under
        /// which remote names and why the others are not, and how existing remote topics differ
        /// from their source (configs, partitions, ACLs).
        #[arg(long)]
        connect: bool,
    },
    /// Show, per mirror, whether it replicates, its lag in records and seconds, and the age of
    /// the last heartbeat and of each group's last checkpoint.
    #[command(after_help = EXIT_CODES)]
    Status {
        /// The YAML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, short, value_enum, default_value = "table")]
        output: output::Output,
    },
    /// Translate a consumer group's offsets from one cluster to another, per partition, with
    /// how exact each one is (the RemoteClusterUtils equivalent); or, with --input, offsets kept
    /// outside Kafka (Flink or Spark checkpoints, databases).
    #[command(after_help = EXIT_CODES)]
    Translate {
        /// The YAML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// The consumer group.
        #[arg(long, short, required_unless_present = "input")]
        group: Option<String>,
        /// Offsets on --from to translate instead of a group's, each the next offset to read of
        /// a partition: a JSON array of {"topic", "partition", "offset"} objects, or one per
        /// line as such an object or as `topic partition offset`. `-` reads stdin.
        #[arg(long, conflicts_with_all = ["group", "from_checkpoints"])]
        input: Option<PathBuf>,
        /// The cluster alias the group consumed on.
        #[arg(long)]
        from: String,
        /// The cluster alias to translate to.
        #[arg(long)]
        to: String,
        /// Use the latest checkpoints on --to instead of reading the group's committed offsets
        /// on --from (for when --from is unreachable; this is what RemoteClusterUtils does).
        #[arg(long)]
        from_checkpoints: bool,
        #[arg(long, short, value_enum, default_value = "table")]
        output: output::Output,
    },
    /// Compare each replicated partition's source records with their copies on the target,
    /// over the range the mirror stored as copied, through its offset map: counts, and a digest
    /// of key, value, headers and timestamp of every record (or of a sample).
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// The YAML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Only this mirror, as `SOURCE->TARGET` (default: every mirror).
        #[arg(long)]
        mirror: Option<String>,
        /// Only source topics whose whole name matches this regular expression.
        #[arg(long)]
        topics: Option<String>,
        /// Compare the content of this fraction of the records (0 < FRACTION <= 1; the same
        /// records every run); the others are only checked to be where the map puts them.
        #[arg(long, default_value = "1", value_parser = parse_fraction)]
        sample: f64,
        #[arg(long, short, value_enum, default_value = "table")]
        output: output::Output,
    },
    /// Move consumer groups from a cluster to its backup: preflight checks, a plan per group and
    /// partition, then commit the planned offsets on the target (journaled; re-running finishes
    /// an interrupted run).
    #[command(after_help = EXIT_CODES)]
    Failover(FailoverArgs),
    /// Translate a MirrorMaker 2 properties file (dedicated mode, `connect-mirror-maker.sh`)
    /// into a strait configuration, with a report of what became of every key.
    ///
    /// The YAML goes to stdout (or --output), the report to stderr: each MM2 key of the file
    /// is mapped (to which strait keys), not needed (and why: Connect worker settings,
    /// `tasks.max`, ...), or not mapped (why, and what to do). The flows `A->B.enabled = true`
    /// become mirrors; per-flow keys override the file's; `A.` keys set cluster A. Config
    /// provider references become `${env:NAME}` and `${file:PATH}`; a secret written in clear
    /// is replaced by an `${env:...}` reference the report names, and never printed. JKS and
    /// PKCS12 stores get the keytool/openssl commands that convert them to PEM files.
    ///
    /// The generated configuration is then validated as `strait validate` does, without
    /// needing the environment variables or files it references (those are listed).
    #[command(after_help = EXIT_CODES)]
    ImportMm2 {
        /// The MM2 properties file (as given to connect-mirror-maker.sh).
        file: PathBuf,
        /// The MM2 release the file was written for: its topic rules (Kafka 4.0's KIP-1074, or
        /// 3.9's) and keys (3.9 still reads `topics.blacklist` and the like). Default: inferred
        /// from the file (3.9 if it uses a key removed in 4.0 or spells out 3.9's default
        /// `topics.exclude`, else 4).
        #[arg(long, value_enum, value_name = "4|3.9")]
        mm2_version: Option<import_mm2::Mm2Version>,
        /// Write the YAML to this file instead of stdout (refused if it exists, unless --force).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Overwrite --output if it exists.
        #[arg(long, requires = "output")]
        force: bool,
        /// The report's format on stderr.
        #[arg(long, value_enum, default_value = "text")]
        report: import_mm2::Report,
    },
    /// Move consumer groups back to the old primary once it has returned (same steps as failover;
    /// the reverse mirror and its offset maps give the offsets).
    #[command(after_help = EXIT_CODES)]
    Failback(FailbackArgs),
}

#[derive(Debug, clap::Args)]
pub struct MoveArgs {
    /// The YAML configuration file.
    #[arg(long, short)]
    config: PathBuf,
    /// The cluster the groups leave.
    #[arg(long)]
    from: String,
    /// The cluster the groups move to.
    #[arg(long)]
    to: String,
    /// Only groups whose whole name matches this regular expression (default: every group the
    /// mirrors' group filters accept).
    #[arg(long)]
    groups: Option<String>,
    /// Show the checks and the plan, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Go ahead although a preflight check failed, and try groups with active members.
    #[arg(long)]
    force: bool,
    /// The journal file (default `strait-<command>-<from>-to-<to>.journal` in the working
    /// directory).
    #[arg(long)]
    journal: Option<PathBuf>,
    #[arg(long, short, value_enum, default_value = "table")]
    output: output::Output,
}

#[derive(Debug, clap::Args)]
pub struct FailoverArgs {
    #[command(flatten)]
    common: MoveArgs,
    /// The --from cluster is lost: translate from the checkpoints on --to. The source is
    /// probed first (one metadata request with --probe-timeout): if it answers, the failover is
    /// refused unless --force, whatever its heartbeats say.
    #[arg(long)]
    source_lost: bool,
    /// How long a source declared lost gets to answer the probe (e.g. `3s`, `500ms`).
    #[arg(long, default_value = "3s", value_parser = crate::config::parse_duration, requires = "source_lost")]
    probe_timeout: std::time::Duration,
}

#[derive(Debug, clap::Args)]
pub struct FailbackArgs {
    #[command(flatten)]
    common: MoveArgs,
}

fn move_args(
    command: crate::dr::plan::Command,
    a: MoveArgs,
    source_lost: Option<std::time::Duration>,
) -> failover::Args {
    failover::Args {
        command,
        config: a.config,
        from: a.from,
        to: a.to,
        groups: a.groups,
        dry_run: a.dry_run,
        source_lost,
        force: a.force,
        journal: a.journal,
        output: a.output,
    }
}

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Exit {
    match cli.command {
        Command::Run { config } => run::run(&config),
        Command::Validate { config, connect } => validate::validate(&config, connect),
        Command::Status { config, output } => status::status(&config, output),
        Command::Translate {
            config,
            group,
            input,
            from,
            to,
            from_checkpoints,
            output,
        } => match (group, input) {
            (Some(group), _) => {
                translate::translate(&config, &group, &from, &to, from_checkpoints, output)
            }
            (None, Some(input)) => translate::translate_input(&config, &input, &from, &to, output),
            (None, None) => unreachable!("clap requires --group or --input"),
        },
        Command::Verify {
            config,
            mirror,
            topics,
            sample,
            output,
        } => {
            let topics = match topics.as_deref().map(whole_name) {
                None => None,
                Some(Ok(re)) => Some(re),
                Some(Err(e)) => {
                    eprintln!("error: --topics: {e}");
                    return Exit::Usage;
                }
            };
            verify::verify(
                &config,
                crate::dr::verify::Request {
                    mirror,
                    topics,
                    sample,
                },
                output,
            )
        }
        Command::Failover(a) => failover::failover(move_args(
            crate::dr::plan::Command::Failover,
            a.common,
            a.source_lost.then_some(a.probe_timeout),
        )),
        Command::ImportMm2 {
            file,
            mm2_version,
            output,
            force,
            report,
        } => import_mm2::import_mm2(import_mm2::Args {
            file,
            mm2_version,
            output,
            force,
            report,
        }),
        Command::Failback(a) => failover::failover(move_args(
            crate::dr::plan::Command::Failback,
            a.common,
            None,
        )),
    }
}

/// A regular expression that must match a whole name.
fn whole_name(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        Ok(f) => Err(format!(
            "{f} is not in (0, 1]: give e.g. 0.01 for 1 % of the records"
        )),
        Err(_) => Err(format!(
            "`{text}` is not a number (e.g. 0.01 for 1 % of the records)"
        )),
    }
}

/// Prints an error of the operator commands (its whole chain, then what to do) and picks its
/// exit code: 4 only when a cluster did not answer.
fn dr_error(e: &crate::dr::DrError) -> Exit {
    use crate::dr::DrError;
    let chain = crate::telemetry::error_chain(e);
    match e.hint() {
        Some(hint) => eprintln!("error: {chain}; {hint}"),
        None => eprintln!("error: {chain}"),
    }
    match e {
        DrError::Usage(_) => Exit::Usage,
        e if e.is_unreachable() => Exit::Unreachable,
        _ => Exit::Failure,
    }
}

/// Loads the configuration or prints why not (every problem, with its key path).
fn load_config(path: &std::path::Path) -> Result<crate::config::Config, Exit> {
    crate::config::load(path).map_err(|e| {
        eprintln!("{e}");
        Exit::InvalidConfig
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}
