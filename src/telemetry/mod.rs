//! Logging set-up and error formatting. Log text is lowercase fragments with values in fields;
//! levels by consequence (`error`: data at risk or an operator must act; `warn`: degraded but
//! recovering; `info`: lifecycle; `debug`: per-batch detail).

pub mod events;
pub mod health;
pub mod http;
pub mod metrics;
pub mod status;
pub mod translate;

use tracing_subscriber::EnvFilter;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber. The filter comes from `STRAIT_LOG` (tracing's `EnvFilter`
/// syntax), default `info`. Logs go to stderr; stdout stays for command output.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("STRAIT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Formats an error and its sources on one line: `outer: inner: root`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
