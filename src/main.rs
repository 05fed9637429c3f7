//! The `strait` binary: parse the command line, set up logging, run, map to an exit code.

use clap::Parser;

fn main() {
    let cli = match strait::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 2 } else { 0 });
        }
    };
    strait::telemetry::init_logging(cli.log_format);
    let exit = strait::cli::dispatch(cli);
    std::process::exit(exit as i32);
}
