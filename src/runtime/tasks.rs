//! Starting tasks and threads: named, in the span of the caller, and tracked.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use tokio::task::{Id, JoinHandle, JoinSet};
use tracing::Instrument;

/// How a tracked task ended.
#[derive(Debug)]
pub enum Exit<T> {
    /// It returned.
    Returned(T),
    /// It panicked, with this message.
    Panicked(String),
    /// It was aborted.
    Aborted,
}

/// A set of named tasks that are started, watched and stopped together (one mirror's tasks).
pub struct TaskSet<T> {
    set: JoinSet<T>,
    names: HashMap<Id, String>,
}

impl<T: Send + 'static> Default for TaskSet<T> {
    fn default() -> Self {
        TaskSet {
            set: JoinSet::new(),
            names: HashMap::new(),
        }
    }
}

impl<T: Send + 'static> TaskSet<T> {
    /// Runs `future` as the task `name`, in the current span.
    pub fn spawn(
        &mut self,
        name: impl Into<String>,
        future: impl Future<Output = T> + Send + 'static,
    ) {
        let handle = self.set.spawn(future.instrument(tracing::Span::current()));
        self.names.insert(handle.id(), name.into());
    }

    /// Runs the blocking `f` as the task `name` on the blocking pool, in the current span.
    pub fn spawn_blocking(
        &mut self,
        name: impl Into<String>,
        f: impl FnOnce() -> T + Send + 'static,
    ) {
        let span = tracing::Span::current();
        let handle = self.set.spawn_blocking(move || span.in_scope(f));
        self.names.insert(handle.id(), name.into());
    }

    /// Runs `f` as the task `name` on a dedicated OS thread of that name (for a loop that lives
    /// as long as the set), in the current span; its result or its panic is the task's exit.
    pub fn spawn_thread(
        &mut self,
        name: impl Into<String>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<()> {
        let name = name.into();
        let span = tracing::Span::current();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let result = span.in_scope(|| catch_unwind(AssertUnwindSafe(f)));
                let _ = tx.send(result);
            })?;
        self.spawn(name, async move {
            match rx.await {
                Ok(Ok(value)) => value,
                // The panic was reported by the panic hook already; carry it on to the set.
                Ok(Err(panic)) => resume_unwind(panic),
                Err(_) => resume_unwind(Box::new("the thread ended without a result")),
            }
        });
        Ok(())
    }

    /// Waits for the next task to end; `None` when none is left.
    pub async fn join_next(&mut self) -> Option<(String, Exit<T>)> {
        let joined = self.set.join_next_with_id().await?;
        Some(match joined {
            Ok((id, value)) => (self.name(id), Exit::Returned(value)),
            Err(e) => {
                let name = self.name(e.id());
                if e.is_panic() {
                    (name, Exit::Panicked(panic_message(e.into_panic())))
                } else {
                    (name, Exit::Aborted)
                }
            }
        })
    }

    /// Aborts every task still running (threads are not interrupted: they end when they see
    /// their cancellation).
    pub fn abort_all(&mut self) {
        self.set.abort_all();
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The names of the tasks still running.
    pub fn running(&self) -> Vec<String> {
        let mut names: Vec<String> = self.names.values().cloned().collect();
        names.sort();
        names
    }

    fn name(&mut self, id: Id) -> String {
        self.names
            .remove(&id)
            .unwrap_or_else(|| "unnamed task".to_string())
    }
}

/// Runs `future` as a task nobody waits for (the signal handler, one HTTP connection), in the
/// current span.
pub fn spawn_detached<F>(name: &str, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let span = tracing::info_span!(parent: tracing::Span::current(), "task", name);
    tokio::spawn(future.instrument(span))
}

/// Runs the blocking `f` on the blocking pool, in the current span.
pub fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
}

fn panic_message(panic: Box<dyn Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(s) => *s,
        Err(panic) => match panic.downcast::<&'static str>() {
            Ok(s) => s.to_string(),
            Err(_) => "a panic without a message".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_thread_and_task_end_as_panicked_with_their_names() {
        let mut set: TaskSet<u32> = TaskSet::default();
        set.spawn("returns", async { 7 });
        set.spawn_thread("thread panics", || panic!("boom in a thread"))
            .unwrap();
        set.spawn("task panics", async { panic!("boom in a task") });
        let mut seen = Vec::new();
        while let Some((name, exit)) = set.join_next().await {
            seen.push(match exit {
                Exit::Returned(v) => format!("{name}: returned {v}"),
                Exit::Panicked(m) => format!("{name}: panicked: {m}"),
                Exit::Aborted => format!("{name}: aborted"),
            });
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                "returns: returned 7",
                "task panics: panicked: boom in a task",
                "thread panics: panicked: boom in a thread",
            ]
        );
        assert!(set.is_empty());
    }
}
