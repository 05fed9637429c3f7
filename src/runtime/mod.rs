//! Process-wide runtime concerns: the shutdown signal tree and named threads.

use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGTERM or SIGINT; a second signal aborts the process at once
/// (exit code 130) without draining.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .expect("install SIGINT handler");
        tokio::select! {
            _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down: draining in-flight records"),
            _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down: draining in-flight records"),
        }
        token.cancel();
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::warn!("second signal: aborting without draining; unacknowledged records will be copied again on restart");
        std::process::exit(130);
    });
}

/// Runs `f` on a new named OS thread and returns its result to async code.
pub async fn spawn_named<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap_or_else(|e| panic!("cannot spawn thread {name}: {e}"));
    rx.await.expect("named thread panicked")
}
