//! The one child-process layer of the harness: every process a test starts (Kafka's JVMs,
//! `strait run`, MirrorMaker 2, one-shot CLI calls and Java tools) is described by a [`Launch`]
//! and runs either in the background as a [`ChildProcess`] (stdout and stderr appended to one
//! log file that survives restarts, killed on drop) or to completion with [`Launch::run`]
//! (stdout and stderr captured apart, killed at a deadline).
//!
//! Every child gets an orphan watchdog: a shell that SIGKILLs it as soon as the test process is
//! gone, even after a SIGKILL of the test runner, when no `Drop` runs. The watchdog waits on a
//! pipe only this process holds (EOF when it dies) and recognises its child by a random tag in
//! the child's environment, so a recycled pid is never hit.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use super::util::{random_u64, scratch_dir};

/// How often a wait re-checks whether the child has exited: the resolution of
/// [`Exited::since_last_signal`].
const EXIT_POLL: Duration = Duration::from_millis(10);

/// The environment variable that carries a child's watchdog tag.
const TAG_VAR: &str = "IT_HARNESS_CHILD";

/// What to run: program, arguments and extra environment (on top of the test process's own).
#[derive(Debug, Clone)]
pub struct Launch {
    label: String,
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    tail_on_panic: usize,
    dump_on_timeout: Option<i32>,
}

/// How long [`Launch::run`] waits after the signal of [`Launch::dump_on_timeout`] before it
/// kills the child (a JVM writes its thread dump in well under a second).
const DUMP_GRACE: Duration = Duration::from_secs(3);
/// Lines of stdout a [`TimedOut`] shows (the end of a thread dump, say).
const TIMED_OUT_STDOUT_LINES: usize = 120;

impl Launch {
    /// `label` names the process in failure messages (`strait`, `kafka cluster A`, ...).
    pub fn new(label: &str, program: impl AsRef<OsStr>) -> Launch {
        Launch {
            label: label.to_string(),
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            tail_on_panic: 0,
            dump_on_timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Launch {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets `key` in the child's environment (the last call for a key wins).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Launch {
        self.set_env(key.as_ref(), Some(value.as_ref()));
        self
    }

    /// Removes `key` from the child's environment, also when the test process has it.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Launch {
        self.set_env(key.as_ref(), None);
        self
    }

    /// Sets (`Some`) or removes (`None`) `key`, replacing an earlier setting of the same key.
    pub fn set_env(&mut self, key: &OsStr, value: Option<&OsStr>) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.map(OsStr::to_owned)));
    }

    /// When a [`ChildProcess`] of this launch is dropped while the test panics, print the last
    /// `lines` lines of its log (0, the default: print nothing).
    pub fn tail_on_panic(mut self, lines: usize) -> Launch {
        self.tail_on_panic = lines;
        self
    }

    /// When [`Launch::run`] reaches its deadline, send `signal` first and give the child
    /// [`DUMP_GRACE`] before the kill: `libc::SIGQUIT` makes a JVM print every thread's stack
    /// to stdout, which the [`TimedOut`] then shows (where a Java tool hung, not only that it
    /// did).
    pub fn dump_on_timeout(mut self, signal: i32) -> Launch {
        self.dump_on_timeout = Some(signal);
        self
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn command(&self, tag: &str) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).env(TAG_VAR, tag).stdin(Stdio::null());
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }

    /// Starts the program in the background with stdout and stderr appended to `log`.
    pub fn spawn(&self, log: &Path) -> std::io::Result<ChildProcess> {
        let mut p = ChildProcess {
            launch: self.clone(),
            log: log.to_path_buf(),
            scratch: None,
            running: None,
            status: None,
            started: Instant::now(),
            signals: Vec::new(),
        };
        p.spawn_again()?;
        Ok(p)
    }

    /// As [`Launch::spawn`], with the log in a scratch directory of its own that lives as long
    /// as the returned process (`<label>.log`).
    pub fn spawn_logged(&self) -> ChildProcess {
        let name = self
            .label
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        let scratch = scratch_dir(&name);
        let log = scratch.path().join(format!("{name}.log"));
        let mut p = self
            .spawn(&log)
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.command_line()));
        p.scratch = Some(scratch);
        p
    }

    /// Runs the program to completion with stdout and stderr captured apart. After `timeout`
    /// the child is killed and `Err` holds what it wrote so far.
    pub fn run(&self, timeout: Duration) -> Result<Output, TimedOut> {
        let scratch = scratch_dir("run");
        let out_path = scratch.path().join("stdout");
        let err_path = scratch.path().join("stderr");
        let tag = new_tag();
        let mut child = self
            .command(&tag)
            .stdout(File::create(&out_path).expect("create stdout file"))
            .stderr(File::create(&err_path).expect("create stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.command_line()));
        let mut watchdog = Watchdog::spawn(child.id(), &tag);
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                if let Some(signal) = self.dump_on_timeout {
                    // SAFETY: kill(2) on our own child's pid, which `child` has not reaped.
                    unsafe { libc::kill(child.id() as i32, signal) };
                    let grace = Instant::now() + DUMP_GRACE;
                    while Instant::now() < grace && child.try_wait().ok().flatten().is_none() {
                        std::thread::sleep(EXIT_POLL);
                    }
                }
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(EXIT_POLL);
        };
        watchdog.reap();
        let stdout = std::fs::read(&out_path).unwrap_or_default();
        let stderr = std::fs::read(&err_path).unwrap_or_default();
        match status {
            Some(status) => Ok(Output {
                status,
                stdout,
                stderr,
            }),
            None => Err(TimedOut {
                command: self.command_line(),
                timeout,
                stdout,
                stderr,
            }),
        }
    }
}

/// A [`Launch::run`] that did not finish in time (the child was killed).
#[derive(Debug)]
pub struct TimedOut {
    pub command: String,
    pub timeout: Duration,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stdout = String::from_utf8_lossy(&self.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        let shown = &lines[lines.len().saturating_sub(TIMED_OUT_STDOUT_LINES)..];
        write!(
            f,
            "`{}` did not finish within {:?}; stderr so far:\n{}\n--- stdout so far: {} \
             lines, the last {}:\n{}",
            self.command,
            self.timeout,
            String::from_utf8_lossy(&self.stderr),
            lines.len(),
            shown.len(),
            shown.join("\n")
        )
    }
}

/// How a [`ChildProcess`] ended, seen by a wait.
#[derive(Debug, Clone, Copy)]
pub struct Exited {
    pub status: ExitStatus,
    /// From the start of the wait to the exit.
    pub waited: Duration,
    /// From the last signal sent through [`ChildProcess::signal`] since the (re)start to the
    /// exit; `None` if none was sent.
    pub since_last_signal: Option<Duration>,
    /// From the first such signal to the exit.
    pub since_first_signal: Option<Duration>,
    /// From the (re)start to the exit.
    pub uptime: Duration,
}

impl Exited {
    /// The exit code; `None` if a signal ended the process.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        std::os::unix::process::ExitStatusExt::signal(&self.status)
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl fmt::Display for Exited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} after {:.2?}", self.status, self.uptime)?;
        if let Some(s) = self.since_last_signal {
            write!(f, ", {s:.2?} after the last signal")?;
        }
        Ok(())
    }
}

struct Running {
    child: Child,
    watchdog: Watchdog,
}

/// A process started by [`Launch::spawn`]: running, or exited and ready for
/// [`ChildProcess::restart`]. Killed (and reaped) on drop.
pub struct ChildProcess {
    launch: Launch,
    log: PathBuf,
    scratch: Option<tempfile::TempDir>,
    running: Option<Running>,
    /// Set once the child was reaped (its pid may then belong to another process).
    status: Option<ExitStatus>,
    started: Instant,
    /// Signals sent since the last (re)start, with their time.
    signals: Vec<(i32, Instant)>,
}

impl ChildProcess {
    fn spawn_again(&mut self) -> std::io::Result<()> {
        assert!(
            self.running.is_none(),
            "{} is already running",
            self.launch.label
        );
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let err = out.try_clone()?;
        let tag = new_tag();
        let child = self.launch.command(&tag).stdout(out).stderr(err).spawn()?;
        let watchdog = Watchdog::spawn(child.id(), &tag);
        self.running = Some(Running { child, watchdog });
        self.status = None;
        self.started = Instant::now();
        self.signals.clear();
        Ok(())
    }

    /// Starts the same launch again, appending to the same log. Panics unless the process has
    /// exited (wait for it, or kill it, first).
    pub fn restart(&mut self) {
        assert!(
            self.exited().is_some(),
            "restart() while {} is still running",
            self.launch.label
        );
        self.spawn_again()
            .unwrap_or_else(|e| panic!("cannot restart {}: {e}", self.launch.command_line()));
    }

    /// Changes the environment of the next [`ChildProcess::restart`] (`None` removes `key`).
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.launch.set_env(OsStr::new(key), value.map(OsStr::new));
    }

    pub fn launch(&self) -> &Launch {
        &self.launch
    }

    pub fn label(&self) -> &str {
        &self.launch.label
    }

    /// The pid of the running (or exited, not yet reaped) child.
    pub fn pid(&self) -> u32 {
        self.running
            .as_ref()
            .unwrap_or_else(|| panic!("{} is not running", self.launch.label))
            .child
            .id()
    }

    /// `Some(status)` once the process has exited (it is reaped then).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Some(running) = self.running.as_mut() {
                if let Some(status) = running.child.try_wait().expect("try_wait") {
                    self.reaped(status);
                }
            }
        }
        self.status
    }

    fn reaped(&mut self, status: ExitStatus) {
        if let Some(mut running) = self.running.take() {
            running.watchdog.reap();
        }
        self.status = Some(status);
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) and records the time. Returns false, sending
    /// nothing, if the process has exited already.
    pub fn signal(&mut self, signal: i32) -> bool {
        if self.exited().is_some() {
            return false;
        }
        let pid = self.pid();
        // SAFETY: kill(2) on our own child, which has not been reaped (a zombie's pid is not
        // reused), so the signal cannot reach another process.
        let rc = unsafe { libc::kill(pid as i32, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
        self.signals.push((signal, Instant::now()));
        true
    }

    pub fn sigterm(&mut self) -> bool {
        self.signal(libc::SIGTERM)
    }

    pub fn sigint(&mut self) -> bool {
        self.signal(libc::SIGINT)
    }

    /// SIGKILL and reap: no chance to flush or persist anything. Returns the exit status (that
    /// of an earlier exit, if the process had exited already).
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.exited() {
            return status;
        }
        let running = self.running.as_mut().expect("running");
        let _ = running.child.kill();
        let status = running.child.wait().expect("wait after SIGKILL");
        self.reaped(status);
        status
    }

    /// Waits up to `timeout` for the process to exit; `None` if it is still running then.
    pub fn exit_within(&mut self, timeout: Duration) -> Option<Exited> {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            let now = Instant::now();
            if let Some(status) = self.exited() {
                let since = |t: Option<&(i32, Instant)>| t.map(|(_, at)| now - *at);
                return Some(Exited {
                    status,
                    waited: now - start,
                    since_last_signal: since(self.signals.last()),
                    since_first_signal: since(self.signals.first()),
                    uptime: now - self.started,
                });
            }
            if now >= deadline {
                return None;
            }
            std::thread::sleep(EXIT_POLL.min(deadline - now));
        }
    }

    /// Waits for the process to exit; panics with the end of its log after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Exited {
        self.exit_within(timeout).unwrap_or_else(|| {
            panic!(
                "{} did not exit within {timeout:?}\n{}",
                self.launch.label,
                tail_of(&self.log, 40)
            )
        })
    }

    /// Graceful stop: SIGTERM, SIGKILL once `grace` has passed. Returns how it ended and
    /// whether it exited by itself (false: it had to be killed). A process that had exited
    /// already is not signalled.
    pub fn stop(&mut self, grace: Duration) -> (Exited, bool) {
        self.sigterm();
        if let Some(exited) = self.exit_within(grace) {
            return (exited, true);
        }
        eprintln!(
            "[harness] {} ignored SIGTERM for {grace:?}; SIGKILL",
            self.launch.label
        );
        self.kill();
        (self.wait_exit(Duration::ZERO), false)
    }

    /// Panics with the end of the log if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.exited() {
            panic!(
                "{} exited unexpectedly ({status})\n{}",
                self.launch.label,
                tail_of(&self.log, 60)
            );
        }
    }

    /// Everything the process wrote to stdout and stderr, all runs (lossy UTF-8).
    pub fn log_contents(&self) -> String {
        read_from(&self.log, 0)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Time since the last (re)start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The signals sent since the last (re)start, with their time.
    pub fn signals_sent(&self) -> &[(i32, Instant)] {
        &self.signals
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.kill();
        }
        if self.launch.tail_on_panic > 0 && std::thread::panicking() {
            eprintln!("{}", tail_of(&self.log, self.launch.tail_on_panic));
        }
    }
}

/// The orphan watchdog of one child: `sh` blocked reading a pipe whose write end only the test
/// process holds (Rust opens pipes close-on-exec, so no other child inherits it). When the test
/// process dies the read returns and the child is killed, if the pid is still ours.
struct Watchdog {
    shell: Child,
    /// Held, never written: closing it (by dying) is the signal.
    _pipe: ChildStdin,
}

impl Watchdog {
    fn spawn(pid: u32, tag: &str) -> Watchdog {
        let script = format!(
            "read -r _ignored; \
             if grep -qaF -- '{TAG_VAR}={tag}' /proc/{pid}/environ 2>/dev/null; then kill -9 {pid}; fi"
        );
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn watchdog shell");
        let pipe = shell.stdin.take().expect("watchdog stdin");
        Watchdog { shell, _pipe: pipe }
    }

    /// Ends the watchdog (its child is gone or about to be reaped by us).
    fn reap(&mut self) {
        let _ = self.shell.kill();
        let _ = self.shell.wait();
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.reap();
    }
}

/// A tag no other child of any test process carries.
fn new_tag() -> String {
    format!("{}-{:016x}", std::process::id(), random_u64())
}

/// The contents of `path` from byte `offset` on (lossy UTF-8); empty if it cannot be read.
pub fn read_from(path: &Path, offset: u64) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let mut buf = Vec::new();
            let _ = f.read_to_end(&mut buf);
            s = String::from_utf8_lossy(&buf).into_owned();
        }
    }
    s
}

/// The last `n` lines of a file, for failure messages.
pub fn tail_of(path: &Path, n: usize) -> String {
    let text = read_from(path, 0);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = format!("--- {} (last {n} lines) ---\n", path.display());
    for line in &lines[lines.len().saturating_sub(n)..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}
