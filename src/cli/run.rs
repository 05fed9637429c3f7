//! `strait run`: the daemon.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{load_config, runtime, Exit};
use crate::telemetry::error_chain;

pub fn run(path: &Path) -> Exit {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    tracing::info!(config = %path.display(), mirrors = config.mirrors.len(), version = env!("CARGO_PKG_VERSION"), "starting strait");
    let rt = runtime();
    let shutdown_timeout = config.shutdown_timeout;
    let result = rt.block_on(async move {
        let cancel = CancellationToken::new();
        crate::runtime::cancel_on_signals(cancel.clone(), shutdown_timeout);
        crate::app::run(config, Some(path.to_path_buf()), cancel).await
    });
    // Blocking calls still running (a metadata request to a cluster that went away) hold
    // nothing that must be finished: do not wait for them.
    rt.shutdown_background();
    match result {
        Ok(()) => {
            tracing::info!("strait stopped");
            Exit::Ok
        }
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "strait failed");
            Exit::Failure
        }
    }
}
