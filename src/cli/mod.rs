//! Command-line interface: one file per subcommand. Each returns an [`ExitCode`] value; `main`
//! only maps it to the process exit status.

mod run;
mod validate;

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
}

const EXIT_CODES: &str = "Exit codes:
  0  success (also after a graceful shutdown on SIGTERM/SIGINT)
  1  runtime failure (see the log)
  2  invalid command line
  3  invalid or unreadable configuration file
  4  a configured cluster could not be reached
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
        /// which remote names and why the others are not.
        #[arg(long)]
        connect: bool,
    },
}

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Exit {
    match cli.command {
        Command::Run { config } => run::run(&config),
        Command::Validate { config, connect } => validate::validate(&config, connect),
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
