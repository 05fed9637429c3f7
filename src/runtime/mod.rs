//! Process-wide runtime concerns: the shutdown signals and the only place that starts tasks and
//! threads (clippy.toml bans the raw spawns elsewhere), so that every task has a name, runs in the
//! span of whoever started it, and is tracked by a [`TaskSet`] or said to be detached.

// The one place allowed to spawn (see clippy.toml).
#![allow(clippy::disallowed_methods)]

pub mod failpoint;
mod tasks;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use tasks::{blocking, spawn_detached, Exit, TaskSet};

/// Exit code of a second SIGTERM/SIGINT.
pub const ABORT_EXIT: i32 = 130;

/// Cancels `token` on the first SIGTERM or SIGINT and from then on bounds the shutdown: if the
/// process is still running `shutdown_timeout` later, it exits at once (code 0: everything not
/// acknowledged by then is copied again after a restart, nothing is lost). A second signal exits
/// at once with code 130, without draining.
pub fn cancel_on_signals(token: CancellationToken, shutdown_timeout: Duration) {
    spawn_detached("signals", async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .expect("install SIGINT handler");
        let signal = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal,
            shutdown_timeout = ?shutdown_timeout,
            "shutting down: draining in-flight records"
        );
        token.cancel();
        // A plain thread, so that the bound holds whatever the async runtime is doing.
        let bound = std::thread::Builder::new()
            .name("shutdown deadline".into())
            .spawn(move || {
                std::thread::sleep(shutdown_timeout);
                tracing::warn!(shutdown_timeout = ?shutdown_timeout,
                    "shutdown_timeout reached before every task stopped; exiting now: records not acknowledged yet are copied again after a restart");
                std::process::exit(0);
            });
        if let Err(e) = bound {
            tracing::error!(error = %e, "cannot start the shutdown deadline thread");
        }
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::warn!("second signal: aborting without draining; unacknowledged records will be copied again on restart");
        std::process::exit(ABORT_EXIT);
    });
}
